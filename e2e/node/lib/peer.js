"use strict";
// A second backend in its own process. supertokens.init is process-wide, so a test that needs two
// apps with different connectionURIs (e.g. …/appid-a and …/appid-b) runs the second one in a child
// process: lib/peer-main.js, which calls the same startApp() as the test process does.
//
//   const peer = await startPeerApp({ connectionURI, apiKey, name: "app-b" });
//   peer.url                   → http://127.0.0.1:<port> (its express app, routes as in app.js)
//   const report = await peer.close();
//   report.problems, report.loud, report.debugLines, report.appErrors → what lib/capture.js and the
//   app saw in the child, for the same "no compatibility warnings" check as the test process.

const { spawn } = require("node:child_process");
const path = require("node:path");
const readline = require("node:readline");
const { killOnExit } = require("./child");

async function startPeerApp({ connectionURI, apiKey, antiCsrf, session, name = "peer" }) {
    const child = spawn(process.execPath, [path.join(__dirname, "peer-main.js")], {
        env: {
            ...process.env,
            E2E_PEER_CONFIG: JSON.stringify({ connectionURI, apiKey, antiCsrf, session }),
            E2E_CAPTURE_NAME: `${path.basename(process.argv[1] || "test")}.${name}`,
        },
        stdio: ["pipe", "pipe", "inherit"],
    });
    killOnExit(child);
    const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

    // The child writes JSON lines on stdout: {"url": …} once it listens, {"report": …} when asked to stop.
    const lines = [];
    const waiters = [];
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
        let msg;
        try {
            msg = JSON.parse(line);
        } catch (_) {
            return; // console output echoed under E2E_VERBOSE=1
        }
        if (msg === null || typeof msg !== "object") return;
        lines.push(msg);
        for (const w of waiters.splice(0)) w();
    });
    const next = (key, what) =>
        new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`peer app ${name}: no ${what} within 20 s`)), 20000);
            const check = () => {
                const msg = lines.find((m) => m[key] !== undefined);
                if (msg) {
                    clearTimeout(timer);
                    resolve(msg[key]);
                } else {
                    waiters.push(check);
                }
            };
            check();
            exited.then(({ code, signal }) => {
                clearTimeout(timer);
                reject(new Error(`peer app ${name} exited (code ${code}, signal ${signal}) before its ${what}`));
            });
        });

    const url = await next("url", "start-up line");
    let report;
    return {
        url,
        name,
        // Ends the child: it reports what it captured, closes its server and exits.
        async close() {
            if (report) return report;
            child.stdin.end();
            report = await next("report", "report");
            const { code } = await exited;
            if (code !== 0) throw new Error(`peer app ${name} exited with code ${code}`);
            return report;
        },
    };
}

module.exports = { startPeerApp };
