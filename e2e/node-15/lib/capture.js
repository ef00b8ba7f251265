"use strict";
// Captures everything supertokens-node 15.2.3 could print during a test file: console.*, process
// warnings, and the SDK's debug log. 15.x has no `debug` init option: its logger writes through its
// own copy of the `debug` package when the "com.supertokens" namespace is enabled, which this file
// does (as DEBUG=com.supertokens would). Nothing is echoed unless E2E_VERBOSE=1; the capture is
// written to $E2E_LOG_DIR/<test file>.log when the process exits. Load it before the SDK.

const fs = require("node:fs");
const path = require("node:path");
const util = require("node:util");

const entries = []; // { source: "console.warn" | "debug" | "process.warning" | ..., text }
const verbose = process.env.E2E_VERBOSE === "1";

for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
    const orig = console[level].bind(console);
    console[level] = (...args) => {
        entries.push({ source: `console.${level}`, text: util.format(...args) });
        if (verbose) orig(...args);
    };
}

process.on("warning", (w) => {
    entries.push({ source: "process.warning", text: `${w.name}: ${w.message}` });
});

// The SDK's private copy of `debug` (supertokens-node/node_modules/debug, or a hoisted one).
const sdkRoot = path.dirname(require.resolve("supertokens-node"));
const debugMod = require(require.resolve("debug", { paths: [sdkRoot] }));
debugMod.log = (...args) => {
    entries.push({ source: "debug", text: util.format(...args) });
    if (verbose) process.stderr.write(util.format(...args) + "\n");
};
debugMod.enable("com.supertokens");

process.on("exit", () => {
    const dir = process.env.E2E_LOG_DIR;
    if (!dir) return;
    const name = path.basename(process.argv[1] || "unknown") + ".log";
    try {
        fs.writeFileSync(path.join(dir, name), entries.map((e) => `[${e.source}] ${e.text}`).join("\n") + "\n");
    } catch (_) {
        /* best effort */
    }
});

// What would count as the SDK complaining about the core it talks to. (15.2.3's only such error:
// "The running SuperTokens core version is not compatible with this NodeJS SDK".)
const COMPAT_RE = /not compatible|incompatib|compatibility|upgrade the supertokens core|core version|please use core/i;
// console.warn/error/process warnings must not mention versions at all.
const LOUD_VERSION_RE = /version|compatib/i;

function problems() {
    const bad = [];
    for (const e of entries) {
        if (COMPAT_RE.test(e.text)) bad.push(e);
        else if (e.source !== "debug" && LOUD_VERSION_RE.test(e.text)) bad.push(e);
    }
    return bad;
}

module.exports = { entries, problems, COMPAT_RE };
