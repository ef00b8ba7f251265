"use strict";
// Captures everything the SDK could print during a test file: console.*, process warnings, and the
// SDK's own debug output (the `debug` package under the "com.supertokens" namespace). Shared by both
// Node suites; each one's lib/capture.js calls installCapture with its own SDK's directory (and
// turns the debug namespace on where the SDK has no init option for it). Nothing is echoed unless
// E2E_VERBOSE=1; the full capture is written to $E2E_LOG_DIR/<test file>.log when the process exits.

const fs = require("node:fs");
const path = require("node:path");
const util = require("node:util");

// What would count as the SDK complaining about the core it talks to.
const COMPAT_RE = /not compatible|incompatib|compatibility|upgrade the supertokens core|core version|please use core/i;
// console.warn/error/process warnings must not mention versions at all.
const LOUD_VERSION_RE = /version|compatib/i;

// sdkRoot: the directory of the supertokens-node that will be loaded (path.dirname(require.resolve(…))).
// enableDebugNamespace: a `debug` namespace to enable here, as DEBUG=<namespace> would.
function installCapture({ sdkRoot, enableDebugNamespace } = {}) {
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
    const debugMod = require(require.resolve("debug", { paths: [sdkRoot] }));
    debugMod.log = (...args) => {
        entries.push({ source: "debug", text: util.format(...args) });
        if (verbose) process.stderr.write(util.format(...args) + "\n");
    };
    if (enableDebugNamespace) debugMod.enable(enableDebugNamespace);

    process.on("exit", () => {
        const dir = process.env.E2E_LOG_DIR;
        if (!dir) return;
        const name = (process.env.E2E_CAPTURE_NAME || path.basename(process.argv[1] || "unknown")) + ".log";
        try {
            fs.writeFileSync(path.join(dir, name), entries.map((e) => `[${e.source}] ${e.text}`).join("\n") + "\n");
        } catch (_) {
            /* best effort */
        }
    });

    function problems() {
        const bad = [];
        for (const e of entries) {
            if (COMPAT_RE.test(e.text)) bad.push(e);
            else if (e.source !== "debug" && LOUD_VERSION_RE.test(e.text)) bad.push(e);
        }
        return bad;
    }

    return { entries, problems, COMPAT_RE };
}

module.exports = { installCapture, COMPAT_RE };
