"use strict";
// Start/stop sessiond processes and talk to its non-CDI endpoints (/metrics, /sessiond/v1/...).
//
// The shared instance comes from run.sh (SESSIOND_URL + SESSIOND_API_KEY). A test file that needs
// different server settings starts its own instance with startSessiond({ args: [...] }); it needs
// SESSIOND_BIN, which run.sh always exports.
//
// No dependencies beyond node itself: e2e/node-15 and e2e/browser use this file too.

const { spawn, execFile } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { killOnExit, stopChild } = require("./child");
const { parseJson } = require("./client");

const DEFAULT_API_KEY = "e2e-node-api-key-0123456789-abcdefghijklmnop";

function sessiondBin() {
    const bin = process.env.SESSIOND_BIN;
    if (!bin) {
        throw new Error("SESSIOND_BIN is not set: run the suite through its run.sh, or export SESSIOND_BIN");
    }
    return bin;
}

// Start `sessiond serve` on a free loopback port with a fresh SQLite store. Killed when this process
// exits, if the test has not stopped it.
// Options: args (extra CLI flags), listen (address, default 127.0.0.1:0), dir (reuse a data dir),
//          store (a store URL instead of the SQLite file), apiKey, logDir (where sessiond-<pid>.log
//          goes; default the data dir).
async function startSessiond(opts = {}) {
    const apiKey = opts.apiKey || DEFAULT_API_KEY;
    // Under run.sh's work directory (removed after a passing run, kept after a failing one).
    const dir = opts.dir || fs.mkdtempSync(path.join(process.env.E2E_WORK_DIR || os.tmpdir(), "sessiond-"));
    const listen = opts.listen || "127.0.0.1:0";
    const args = [
        "serve",
        "--listen",
        listen,
        "--store",
        opts.store || `sqlite://${path.join(dir, "s.db")}`,
        "--api-key",
        apiKey,
        "--log-format",
        "json",
        ...(opts.args || []),
    ];
    // Do not let settings from the caller's environment leak into the server.
    const env = { ...process.env };
    for (const k of Object.keys(env)) {
        if (k.startsWith("SESSIOND_")) delete env[k];
    }
    const child = killOnExit(spawn(sessiondBin(), args, { env, stdio: ["ignore", "ignore", "pipe"] }));
    const logPath = path.join(opts.logDir || dir, `sessiond-${child.pid}.log`);
    const logStream = fs.createWriteStream(logPath);
    const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

    const addr = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sessiond did not start within 30 s; log: ${logPath}`)), 30000);
        const rl = readline.createInterface({ input: child.stderr });
        rl.on("line", (line) => {
            logStream.write(line + "\n");
            try {
                const rec = JSON.parse(line);
                if (rec.message === "sessiond listening" && rec.addr) {
                    clearTimeout(timer);
                    resolve(rec.addr);
                }
            } catch (_) {
                /* not JSON: keep it in the log only */
            }
        });
        exited.then(({ code, signal }) => {
            clearTimeout(timer);
            reject(new Error(`sessiond exited early (code ${code}, signal ${signal}); log: ${logPath}`));
        });
    });

    const url = `http://${addr}`;
    return {
        url,
        addr,
        apiKey,
        dir,
        logPath,
        pid: child.pid,
        exited,
        stop: () => stopChild(child),
        // Runs the sessiond CLI against this server; resolves to { code, stdout, stderr }.
        cli: (cliArgs) =>
            new Promise((resolve) => {
                execFile(sessiondBin(), [...cliArgs, "--url", url, "--api-key", apiKey], { env }, (err, stdout, stderr) =>
                    resolve({ code: err ? err.code : 0, stdout, stderr })
                );
            }),
    };
}

// The instance started by run.sh, or (when a test file is run on its own) one started for this process.
let shared;
async function sharedSessiond() {
    if (shared) return shared;
    if (process.env.SESSIOND_URL) {
        shared = { url: process.env.SESSIOND_URL, apiKey: process.env.SESSIOND_API_KEY || DEFAULT_API_KEY, async stop() {} };
    } else {
        shared = await startSessiond();
    }
    return shared;
}

async function admin(sd, method, p, body) {
    const res = await fetch(sd.url + p, {
        method,
        headers: { "api-key": sd.apiKey, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: parseJson(text) };
}

// Prometheus text → { 'name{labels}': value }
async function metrics(sd) {
    const r = await admin(sd, "GET", "/metrics");
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`);
    const out = {};
    for (const line of r.text.split("\n")) {
        if (!line || line.startsWith("#")) continue;
        const i = line.lastIndexOf(" ");
        out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
    return out;
}

// Sum of sessiond_http_requests_total over all series whose route/method match.
async function requestCount(sd, method, route) {
    const m = await metrics(sd);
    let n = 0;
    for (const [k, v] of Object.entries(m)) {
        if (!k.startsWith("sessiond_http_requests_total{")) continue;
        if (k.includes(`method="${method}"`) && k.includes(`route="${route}"`)) n += v;
    }
    return n;
}

async function jwks(sd) {
    const res = await fetch(sd.url + "/.well-known/jwks.json");
    if (res.status !== 200) throw new Error(`jwks answered ${res.status}`);
    return res.json();
}

module.exports = { startSessiond, sharedSessiond, admin, metrics, requestCount, jwks, DEFAULT_API_KEY };
