"use strict";
// Anti-CSRF through supertokens-node 15.2.3. Its default for a same-site app is NONE (01-sessions
// checks that no anti-csrf token is issued); this file sets antiCsrf: "VIA_TOKEN", where the core
// issues the token (CDI 3.0 enableAntiCsrf) and checks it on refresh. Shared sessiond.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const { Browser, uid, ok } = require("../../node/lib/client");

const ctx = setup({ antiCsrf: "VIA_TOKEN" });

describe("supertokens-node 15.2.3 with antiCsrf VIA_TOKEN", () => {
    test("the anti-csrf token: issued at sign-in, in the token, required on non-GET requests", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("csrf"));
        const csrf = login.headers.get("anti-csrf");
        assert.ok(csrf && csrf.length >= 20, `anti-csrf header: ${csrf}`);
        assert.equal(b.accessPayload.antiCsrfToken, csrf, "the access token carries it");

        ok(await b.get("/me"), "GET: no anti-CSRF check");
        const none = await b.post("/me");
        assert.equal(none.status, 401, none.text);
        assert.deepEqual(none.json, { message: "try refresh token" });
        const wrong = await b.post("/me", undefined, { antiCsrf: "wrong-" + csrf });
        assert.equal(wrong.status, 401, wrong.text);
        ok(await b.post("/me", undefined, { antiCsrf: csrf }), "POST with the right token");
        ok(await b.post("/me-checked", undefined, { antiCsrf: csrf }), "POST with the right token and checkDatabase");
    });

    test("refresh needs the anti-csrf token; without it the session survives; with it a new token is issued", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("csrf-refresh"));
        const csrf = login.headers.get("anti-csrf");
        const without = await b.clone().refresh();
        assert.equal(without.status, 401, without.text);
        assert.deepEqual(without.json, { message: "unauthorised" });
        assert.equal(ctx.app.events.filter((e) => e.kind === "TOKEN_THEFT_DETECTED").length, 0, "not theft");
        const r = await b.refresh({ antiCsrf: csrf });
        ok(r, "refresh with the anti-csrf token");
        const next = r.headers.get("anti-csrf");
        assert.ok(next && next !== csrf, "a new anti-csrf token");
        assert.equal(b.accessPayload.antiCsrfToken, next);
        ok(await b.post("/me-checked", undefined, { antiCsrf: next }), "the new token works");
        assert.equal((await b.post("/me", undefined, { antiCsrf: csrf })).status, 401, "the old one does not");
    });

    test("header transfer needs no anti-csrf token", async () => {
        const [b] = await new Browser(ctx.app.url, { mode: "header" }).signIn(uid("csrf-hdr"));
        ok(await b.post("/me"), "POST without anti-csrf");
        ok(await b.refresh(), "refresh without anti-csrf");
        ok(await b.post("/me-checked"), "POST with checkDatabase");
    });

    compatibilityCheck(ctx);
});
