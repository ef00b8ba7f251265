"use strict";
// Per-file set-up for the supertokens-node 15.2.3 suite. Every test file runs in its own process
// (node --test), so each gets its own supertokens.init. The SDK talks to sessiond through a
// recording proxy, so tests can check what 15.2.3 puts on the wire (paths, cdi-version, api-key).
// sessiond and proxy helpers are e2e/node's (node built-ins only).

const capture = require("./capture"); // must come before the SDK is loaded
const assert = require("node:assert/strict");
const { test, before, after } = require("node:test");
const { startSessiond, sharedSessiond } = require("../../node/lib/sessiond");
const { startRecordingProxy } = require("../../node/lib/proxy");
const { startApp } = require("../app");

// ctx is filled in by the `before` hook: ctx.sd (sessiond), ctx.proxy, ctx.app.
// options: sessiond: undefined → the shared instance from run.sh; an object → startSessiond(options)
//          antiCsrf: passed to Session.init
function setup(options = {}) {
    const ctx = {};
    before(async () => {
        ctx.sd = options.sessiond ? await startSessiond(options.sessiond) : await sharedSessiond();
        ctx.proxy = await startRecordingProxy(ctx.sd.url);
        ctx.app = await startApp({ connectionURI: ctx.proxy.url, apiKey: ctx.sd.apiKey, antiCsrf: options.antiCsrf });
    });
    after(async () => {
        if (ctx.app) await ctx.app.close();
        if (ctx.proxy) await ctx.proxy.close();
        if (ctx.sd) await ctx.sd.stop();
    });
    return ctx;
}

// Last test of every file: CDI 3.0 on every core call, and the SDK printed nothing about versions or
// compatibility and hit no error it did not handle.
function compatibilityCheck(ctx) {
    test("CDI 3.0 on every core call; no compatibility warnings (console, process warnings, debug log); no unhandled errors", () => {
        const reqs = ctx.proxy.requests;
        assert.ok(reqs.length > 0, "the SDK called sessiond");
        const versionCalls = reqs.filter((r) => r.path.split("?")[0] === "/apiversion");
        assert.equal(versionCalls.length, 1, "the SDK asked for /apiversion once per process");
        for (const r of reqs) {
            assert.equal(r.status, 200, `${r.method} ${r.path} answered ${r.status}`);
            const p = r.path.split("?")[0];
            if (p === "/apiversion") {
                assert.equal(r.headers["cdi-version"], undefined, "no cdi-version on /apiversion");
                assert.equal(r.headers["api-key"], ctx.sd.apiKey);
            } else if (p === "/.well-known/jwks.json" && r.headers["api-key"] === undefined) {
                // jose's fetch for local verification: no SDK headers
                assert.equal(r.headers["cdi-version"], undefined);
            } else {
                assert.equal(r.headers["cdi-version"], "3.0", `${r.method} ${r.path} sent cdi-version 3.0`);
                assert.equal(r.headers["api-key"], ctx.sd.apiKey, `${r.method} ${r.path} sent the api-key`);
            }
        }
        const debugLines = capture.entries.filter((e) => e.source === "debug");
        assert.ok(debugLines.length > 0, "the SDK debug log was enabled and captured");
        assert.deepEqual(capture.problems(), []);
        const loud = capture.entries.filter((e) => ["console.warn", "console.error", "process.warning"].includes(e.source));
        assert.deepEqual(loud, [], "nothing was written to console.warn/console.error or emitted as a process warning");
        assert.deepEqual(
            ctx.app.events.filter((e) => e.kind === "APP_ERROR"),
            [],
            "no request failed with an error the SDK did not handle"
        );
    });
}

module.exports = { setup, compatibilityCheck, capture };
