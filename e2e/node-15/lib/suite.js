"use strict";
// Per-file set-up for the supertokens-node 15.2.3 suite: e2e/node/lib/sdk-suite.js with this
// directory's capture and app. Every test file runs in its own process (node --test), so each gets
// its own supertokens.init. The SDK always talks to sessiond through a recording proxy, so tests can
// check what 15.2.3 puts on the wire (paths, cdi-version, api-key).

const capture = require("./capture"); // must come before the SDK is loaded
const assert = require("node:assert/strict");
const { makeSuite } = require("../../node/lib/sdk-suite");
const { startApp } = require("../app");

const suite = makeSuite({ capture, startApp });

// ctx is filled in by the `before` hook: ctx.sd (sessiond), ctx.proxy, ctx.app.
// options: sessiond: undefined → the shared instance from run.sh; an object → startSessiond(options)
//          antiCsrf: passed to Session.init
const setup = (options = {}) => suite.setup({ ...options, proxy: true });

// What 15.2.3 sent: /apiversion once, then CDI 3.0 and the api-key on every core call.
function cdi30OnTheWire(ctx) {
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
}

// Last test of every file: CDI 3.0 on every core call, and the SDK printed nothing about versions or
// compatibility and hit no error it did not handle.
const compatibilityCheck = (ctx) =>
    suite.compatibilityCheck(ctx, {
        title: "CDI 3.0 on every core call; no compatibility warnings (console, process warnings, debug log); no unhandled errors",
        wire: cdi30OnTheWire,
    });

module.exports = { setup, compatibilityCheck, capture };
