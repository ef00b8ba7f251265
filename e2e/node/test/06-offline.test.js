"use strict";
// Proof that getSession verifies locally: stop sessiond, requests with a valid access token still
// pass verifySession(), while anything that needs the core fails. Then restart sessiond on the same
// address and store: the session is still there. This file starts (and restarts) its own sessiond.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const Session = require("supertokens-node/recipe/session");
const { Browser, uid, ok } = require("../lib/client");
const { startSessiond } = require("../lib/sessiond");

const ctx = setup({ sessiond: {} });

describe("local verification with sessiond stopped (own sessiond, restarted)", () => {
    test("with sessiond stopped, verifySession() still accepts valid access tokens (local JWT verification)", async () => {
        const userId = uid("offline");
        const b = new Browser(ctx.app.url);
        const hb = new Browser(ctx.app.url, { mode: "header" });
        const login = await b.login(userId, { role: "r" });
        ok(login, "login (cookie)");
        ok(await hb.login(userId), "login (header)");
        ok(await b.get("/me"), "/me while sessiond is up (the SDK fetches and caches the JWKS)");

        const first = ctx.sd;
        await first.stop();
        const down = await fetch(first.url + "/.well-known/jwks.json").then(
            () => "up",
            () => "down"
        );
        assert.equal(down, "down", "sessiond is really gone");

        for (let i = 0; i < 3; i++) {
            const me = await b.get("/me");
            ok(me, `/me #${i} with sessiond down`);
            assert.equal(me.json.userId, userId);
            assert.equal(me.json.payload.role, "r");
        }
        ok(await hb.get("/me"), "/me (header transfer) with sessiond down");

        // Anything that needs the core fails while it is down.
        const checked = await b.get("/me-checked");
        assert.equal(checked.status, 500, "checkDatabase needs the core: " + checked.text);
        assert.match(checked.json.message, /No SuperTokens core available|ECONNREFUSED|fetch failed/);
        const kept = b.snapshot();
        const refresh = await b.refresh();
        assert.equal(refresh.status, 500, "refresh needs the core: " + refresh.text);
        b.restore(kept);

        // Same address, same SQLite store: everything is back, the session survived.
        ctx.sd = await startSessiond({ listen: first.addr, dir: first.dir, apiKey: first.apiKey });
        ok(await b.get("/me-checked"), "/me-checked after the restart");
        ok(await b.refresh(), "refresh after the restart");
        ok(await b.get("/me"), "/me after refresh");
        const info = await Session.getSessionInformation(login.json.handle);
        assert.equal(info.userId, userId);
    });

    compatibilityCheck(ctx, { allowAppErrors: true });
});
