"use strict";
// Child processes the tests start (sessiond, a peer app, the browser suite's demo): never left behind
// when a test file dies before its `after` hook, and stopped politely first.
//
// No dependencies beyond node itself: e2e/node-15 and e2e/browser use this file too.

// Every child passed to killOnExit that is still running; SIGKILLed when this process exits.
const live = new Set();
process.on("exit", () => {
    for (const child of live) {
        try {
            child.kill("SIGKILL");
        } catch (_) {
            /* already gone */
        }
    }
});

function killOnExit(child) {
    live.add(child);
    child.once("exit", () => live.delete(child));
    return child;
}

const running = (child) => child.exitCode === null && child.signalCode === null;

// SIGTERM, then SIGKILL if the child has not exited within graceMs; resolves once it is gone.
async function stopChild(child, graceMs = 5000) {
    if (!running(child)) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(t);
}

module.exports = { killOnExit, stopChild };
