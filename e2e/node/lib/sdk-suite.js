"use strict";
// Per-file set-up shared by both Node suites: each one's lib/suite.js calls makeSuite with its own
// capture (loaded before the SDK) and its own app.js's startApp. Every test file runs in its own
// process (node --test), so each one gets its own supertokens.init and its own app.

const assert = require("node:assert/strict");
const { test, before, after } = require("node:test");
const { startSessiond, sharedSessiond } = require("./sessiond");
const { startRecordingProxy } = require("./proxy");

function makeSuite({ capture, startApp }) {
    // ctx is filled in by the `before` hook: ctx.sd (sessiond), ctx.proxy (with options.proxy), ctx.app.
    // options: sessiond: undefined → the shared instance from run.sh; an object → startSessiond(options)
    //          antiCsrf, session: passed to Session.init
    //          basePath: appended to sessiond's URL in connectionURI (e.g. "/appid-x")
    //          proxy: true → the SDK talks to sessiond through a recording proxy (ctx.proxy.requests)
    function setup(options = {}) {
        const ctx = {};
        before(async () => {
            ctx.sd = options.sessiond ? await startSessiond(options.sessiond) : await sharedSessiond();
            if (options.proxy) ctx.proxy = await startRecordingProxy(ctx.sd.url);
            ctx.app = await startApp({
                connectionURI: (ctx.proxy ? ctx.proxy.url : ctx.sd.url) + (options.basePath || ""),
                apiKey: ctx.sd.apiKey,
                antiCsrf: options.antiCsrf,
                session: options.session,
            });
        });
        after(async () => {
            if (ctx.app) await ctx.app.close();
            if (ctx.proxy) await ctx.proxy.close();
            if (ctx.sd) await ctx.sd.stop();
        });
        return ctx;
    }

    // Last test of every file: the SDK printed nothing about versions/compatibility, and (unless the
    // file expects some) the app saw no unhandled errors. `title` and `wire` (assertions run first,
    // e.g. on ctx.proxy.requests) let a suite check more in the same test.
    function compatibilityCheck(ctx, { allowAppErrors = false, title, wire } = {}) {
        title = title || "the SDK logged no compatibility or version warnings (console, process warnings, debug log)";
        test(title, () => {
            if (wire) wire(ctx);
            const debugLines = capture.entries.filter((e) => e.source === "debug");
            assert.ok(debugLines.length > 0, "the SDK debug log was enabled and captured");
            assert.deepEqual(capture.problems(), []);
            const loud = capture.entries.filter((e) => ["console.warn", "console.error", "process.warning"].includes(e.source));
            assert.deepEqual(loud, [], "nothing was written to console.warn/console.error or emitted as a process warning");
            if (!allowAppErrors) {
                assert.deepEqual(
                    ctx.app.events.filter((e) => e.kind === "APP_ERROR"),
                    [],
                    "no request failed with an error the SDK did not handle"
                );
            }
        });
    }

    return { setup, compatibilityCheck };
}

module.exports = { makeSuite };
