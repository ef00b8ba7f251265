"use strict";
// Anti-CSRF VIA_TOKEN (must be configured explicitly: the SDK's default for same-site cookies is NONE).
// Shared sessiond instance; this process's app uses Session.init({ antiCsrf: "VIA_TOKEN" }).

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const { Browser, uid, ok } = require("../lib/client");
const { requestCount } = require("../lib/sessiond");

const ctx = setup({ antiCsrf: "VIA_TOKEN" });
const TRY_REFRESH = { message: "try refresh token" };
const UNAUTHORISED = { message: "unauthorised" };

function wrongToken(t) {
    return t.slice(0, -1) + (t.endsWith("a") ? "b" : "a");
}

describe("anti-CSRF VIA_TOKEN", () => {
    test("createNewSession returns an anti-csrf token that the access token carries", async () => {
        const [b, r] = await new Browser(ctx.app.url).signIn(uid("csrf-create"));
        const anti = r.headers.get("anti-csrf");
        assert.ok(anti && anti.length >= 16, `anti-csrf response header: ${anti}`);
        assert.match(r.headers.get("access-control-expose-headers"), /anti-csrf/);
        assert.equal(b.accessPayload.antiCsrfToken, anti);
        assert.equal(b.frontTokenDecoded.up.antiCsrfToken, anti);
    });

    test("verifySession on a non-GET request: missing or wrong anti-csrf header → 401 try refresh, correct → 200", async () => {
        const [b] = await new Browser(ctx.app.url).signIn(uid("csrf-verify"));
        const anti = b.antiCsrf;

        const missing = await b.post("/me", {}, { antiCsrf: null });
        assert.equal(missing.status, 401, missing.text);
        assert.deepEqual(missing.json, TRY_REFRESH);
        const wrong = await b.post("/me", {}, { antiCsrf: wrongToken(anti) });
        assert.equal(wrong.status, 401, wrong.text);
        assert.deepEqual(wrong.json, TRY_REFRESH);
        ok(await b.post("/me", {}, { antiCsrf: anti }), "POST /me with the right anti-csrf header");
        ok(await b.get("/me", { antiCsrf: null }), "GET is not anti-csrf checked");

        // With checkDatabase the check happens locally and again in sessiond.
        const wrongChecked = await b.post("/me-checked", {}, { antiCsrf: wrongToken(anti) });
        assert.equal(wrongChecked.status, 401, wrongChecked.text);
        assert.deepEqual(wrongChecked.json, TRY_REFRESH);
        const v0 = await requestCount(ctx.sd, "POST", "/recipe/session/verify");
        ok(await b.post("/me-checked", {}, { antiCsrf: anti }), "POST /me-checked with the right anti-csrf header");
        assert.equal(await requestCount(ctx.sd, "POST", "/recipe/session/verify"), v0 + 1);
    });

    test("refresh with anti-csrf: missing or wrong header → 401, correct → 200 with a new anti-csrf token", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("csrf-refresh"));
        const anti0 = b.antiCsrf;
        const kept = b.snapshot();

        const missing = await b.refresh({ antiCsrf: null });
        assert.equal(missing.status, 401, missing.text);
        assert.deepEqual(missing.json, UNAUTHORISED);

        b.restore(kept);
        const wrong = await b.refresh({ antiCsrf: wrongToken(anti0) });
        assert.equal(wrong.status, 401, wrong.text);
        assert.deepEqual(wrong.json, UNAUTHORISED);
        assert.equal(ctx.app.events.filter((e) => e.kind === "TOKEN_THEFT_DETECTED").length, 0, "not theft");

        // A failed anti-csrf check does not end the session: the real client can still refresh.
        b.restore(kept);
        const good = await b.refresh({ antiCsrf: anti0 });
        ok(good, "refresh with the right anti-csrf header");
        const anti1 = good.headers.get("anti-csrf");
        assert.ok(anti1, "a new anti-csrf token is issued on refresh");
        assert.equal(b.accessPayload.antiCsrfToken, anti1);
        assert.equal(b.accessPayload.sessionHandle, login.json.handle);

        ok(await b.post("/me", {}, { antiCsrf: anti1 }), "POST /me with the new anti-csrf token");
        assert.notEqual(anti1, anti0, "the anti-csrf token rotates with the refresh token");
        const staleMe = await b.post("/me", {}, { antiCsrf: anti0 });
        assert.equal(staleMe.status, 401, "the previous anti-csrf token no longer matches: " + staleMe.text);
        ok(await b.post("/me-checked", {}, { antiCsrf: anti1 }), "POST /me-checked with the new anti-csrf token");

        // And the next refresh needs the new token.
        const kept2 = b.snapshot();
        const stale = await b.refresh({ antiCsrf: anti0 });
        assert.equal(stale.status, 401, stale.text);
        b.restore(kept2);
        ok(await b.refresh({ antiCsrf: anti1 }), "refresh with the current anti-csrf token");
    });

    test("header transfer needs no anti-csrf token even with VIA_TOKEN", async () => {
        const [b, r] = await new Browser(ctx.app.url, { mode: "header" }).signIn(uid("csrf-header"));
        assert.equal(r.headers.get("anti-csrf"), null, "no anti-csrf token for header-based sessions");
        assert.equal(b.accessPayload.antiCsrfToken, null);
        ok(await b.post("/me", {}, { antiCsrf: null }), "POST /me without anti-csrf");
        ok(await b.refresh({ antiCsrf: null }), "refresh without anti-csrf");
        ok(await b.post("/me-checked", {}, { antiCsrf: null }), "POST /me-checked after refresh");
    });

    compatibilityCheck(ctx);
});
