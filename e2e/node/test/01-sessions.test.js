"use strict";
// Core session lifecycle through supertokens-node 24.0.3 with sessiond as the core (shared instance).

const { setup, compatibilityCheck, capture } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const jose = require("jose");
const Session = require("supertokens-node/recipe/session");
const { Querier } = require("supertokens-node/lib/build/querier");
const { Browser, uid, ok } = require("../lib/client");
const { admin, requestCount, jwks } = require("../lib/sessiond");

const ctx = setup();
const DAY_MS = 24 * 3600 * 1000;

describe("sessions: create, verify, refresh, information, data, payload, revocation", () => {
    test("CDI version: sessiond offers 5.4 and the SDK negotiated 5.4", async () => {
        const b = new Browser(ctx.app.url);
        ok(await b.login(uid("cdi")), "login"); // first core call → GET /apiversion
        assert.equal(Querier.apiVersion, "5.4", "the SDK's process-wide negotiated CDI version");
        const r = await admin(ctx.sd, "GET", "/apiversion");
        assert.equal(r.status, 200);
        assert.match(r.headers.get("content-type"), /^application\/json/);
        assert.ok(Array.isArray(r.json.versions) && r.json.versions.includes("5.4"), r.text);
    });

    test("createNewSession with cookie transfer: cookies, front token, v5 access token", async () => {
        const userId = uid("alice");
        const b = new Browser(ctx.app.url);
        const t0 = Date.now();
        const r = await b.login(userId, { role: "admin", nested: { a: [1, 2] } }, { cart: [] });
        ok(r, "login");
        assert.equal(r.headers.get("st-access-token"), null, "no header tokens in cookie mode");
        assert.equal(r.headers.get("st-refresh-token"), null);
        assert.equal(r.headers.get("anti-csrf"), null, "no anti-csrf token when anti-csrf is off (the core omits it)");

        // The refresh cookie's expiry is the core's refreshToken.expiry (100 days by default).
        b.assertSessionCookies(r, t0);

        const header = b.accessHeader;
        assert.equal(header.alg, "RS256");
        assert.equal(header.typ, "JWT");
        assert.equal(header.version, "5");
        assert.match(header.kid, /^d-/, "dynamic signing key by default");

        const p = b.accessPayload;
        assert.equal(p.sub, userId);
        assert.equal(p.rsub, userId);
        assert.equal(p.tId, "public");
        assert.equal(p.sessionHandle, r.json.handle);
        assert.equal(p.iss, ctx.app.issuer, "the SDK's iss is stored and echoed");
        assert.equal(p.role, "admin");
        assert.deepEqual(p.nested, { a: [1, 2] });
        assert.equal(p.exp - p.iat, 3600, "default access-token lifetime");
        assert.ok(p.iat * 1000 <= Date.now() && p.iat * 1000 >= t0 - 2000, "iat is now and not in the future");
        assert.equal(typeof p.refreshTokenHash1, "string");
        assert.equal(p.parentRefreshTokenHash1, null);
        assert.equal(p.antiCsrfToken, null);
        for (const k of ["stt", "aud", "nbf", "jti"]) assert.ok(!(k in p), `no ${k} claim`);

        // Front token: uid, ate = accessToken.expiry (ms) = exp*1000, up = payload.
        const ft = b.frontTokenDecoded;
        assert.equal(ft.uid, userId);
        assert.equal(ft.ate, p.exp * 1000);
        assert.deepEqual(ft.up, p);

        // The access token verifies independently against sessiond's JWKS.
        const { payload } = await jose.jwtVerify(b.accessToken, jose.createLocalJWKSet(await jwks(ctx.sd)));
        assert.equal(payload.sessionHandle, r.json.handle);

        // And the app sees the session.
        const me = await b.get("/me");
        ok(me, "/me");
        assert.equal(me.json.userId, userId);
        assert.equal(me.json.recipeUserId, userId);
        assert.equal(me.json.tenantId, "public");
        assert.equal(me.json.handle, r.json.handle);
        assert.equal(me.json.payload.role, "admin");
    });

    test("createNewSession with header transfer (st-auth-mode: header), then refresh by header", async () => {
        const userId = uid("hdr");
        const [b, r] = await new Browser(ctx.app.url, { mode: "header" }).signIn(userId, { k: "v" });
        assert.deepEqual(r.setCookies, [], "no cookies in header mode");
        assert.ok(b.headerTokens.access && b.headerTokens.refresh, "st-access-token and st-refresh-token headers");
        assert.match(r.headers.get("access-control-expose-headers"), /st-access-token/);
        assert.equal(b.frontTokenDecoded.uid, userId);
        assert.equal(b.accessPayload.k, "v");

        const me = await b.get("/me");
        ok(me, "/me with Authorization: Bearer");
        assert.equal(me.json.userId, userId);

        const unauth = await new Browser(ctx.app.url, { mode: "header" }).get("/me");
        assert.equal(unauth.status, 401, "no token → 401");

        const oldAccess = b.headerTokens.access;
        const oldRefresh = b.headerTokens.refresh;
        const rr = await b.refresh();
        ok(rr, "refresh with Authorization: Bearer <refresh token>");
        assert.notEqual(b.headerTokens.access, oldAccess);
        assert.notEqual(b.headerTokens.refresh, oldRefresh);
        assert.equal(b.accessPayload.sessionHandle, me.json.handle);
        assert.equal(b.accessPayload.k, "v", "payload survives refresh");
        ok(await b.get("/me"), "/me after refresh");
    });

    test("getSession verifies locally against sessiond's JWKS: no /recipe/session/verify calls", async () => {
        const [b] = await new Browser(ctx.app.url).signIn(uid("local"));
        ok(await b.get("/me"), "warm-up /me"); // the SDK may fetch the JWKS here

        const verify0 = await requestCount(ctx.sd, "POST", "/recipe/session/verify");
        const jwks0 = await requestCount(ctx.sd, "GET", "/.well-known/jwks.json");
        for (let i = 0; i < 10; i++) ok(await b.get("/me"), `/me #${i}`);
        assert.equal(await requestCount(ctx.sd, "POST", "/recipe/session/verify"), verify0, "no core verify for plain getSession");
        assert.equal(await requestCount(ctx.sd, "GET", "/.well-known/jwks.json"), jwks0, "JWKS served from the SDK cache");

        // checkDatabase: true does go to the core, once per request.
        for (let i = 0; i < 3; i++) {
            const r = await b.get("/me-checked");
            ok(r, `/me-checked #${i}`);
            assert.deepEqual(r.setCookies, [], "an up-to-date token is not re-issued");
        }
        assert.equal(await requestCount(ctx.sd, "POST", "/recipe/session/verify"), verify0 + 3);
    });

    test("refresh API (POST /auth/session/refresh) rotates both tokens; the session continues", async () => {
        const userId = uid("refresh");
        const [b, login] = await new Browser(ctx.app.url).signIn(userId, { role: "r1" });
        const before = { at: b.accessToken, rt: b.refreshToken, p: b.accessPayload };

        const r = await b.refresh();
        ok(r, "refresh");
        assert.equal(r.headers.get("anti-csrf"), null, "no anti-csrf token when anti-csrf is off");
        assert.notEqual(b.accessToken, before.at, "new access token");
        assert.notEqual(b.refreshToken, before.rt, "new refresh token");
        const p = b.accessPayload;
        assert.equal(p.sessionHandle, before.p.sessionHandle);
        assert.equal(p.sub, userId);
        assert.equal(p.rsub, userId);
        assert.equal(p.tId, "public", "refreshed token carries tId (the SDK takes the tenant from it)");
        assert.equal(p.role, "r1");
        assert.equal(p.iss, ctx.app.issuer);
        assert.match(b.accessHeader.kid, /^d-/);
        assert.equal(b.frontTokenDecoded.ate, p.exp * 1000);
        assert.ok(!("stt" in p));

        const me = await b.get("/me");
        ok(me, "/me after refresh");
        assert.equal(me.json.handle, login.json.handle);
        ok(await b.get("/me-checked"), "/me-checked after refresh");
        ok(await b.refresh(), "second refresh");
        ok(await b.get("/me"), "/me after second refresh");
    });

    test("getSessionInformation returns the session as stored in sessiond", async () => {
        const userId = uid("info");
        const b = new Browser(ctx.app.url);
        const t0 = Date.now();
        const r = await b.login(userId, { plan: "free" }, { secret: "db-only", n: 1 });
        ok(r, "login");
        const info = await Session.getSessionInformation(r.json.handle);
        assert.ok(info, "session found");
        assert.equal(info.sessionHandle, r.json.handle);
        assert.equal(info.userId, userId);
        assert.equal(info.recipeUserId.getAsString(), userId);
        assert.equal(info.tenantId, "public");
        assert.deepEqual(info.sessionDataInDatabase, { secret: "db-only", n: 1 });
        assert.deepEqual(info.customClaimsInAccessTokenPayload, { plan: "free", iss: ctx.app.issuer });
        assert.ok(Math.abs(info.timeCreated - t0) < 5000, `timeCreated ${info.timeCreated} (ms) is now`);
        assert.ok(Math.abs(info.expiry - (t0 + 100 * DAY_MS)) < 120000, `expiry ${info.expiry} (ms) is in 100 days`);
        assert.ok(!("secret" in b.accessPayload), "database data is not in the token");

        assert.equal(await Session.getSessionInformation("no-such-handle-" + process.pid), undefined);
    });

    test("updateSessionDataInDatabase replaces the session data", async () => {
        const [b, r] = await new Browser(ctx.app.url).signIn(uid("data"), {}, { a: 1, b: 2 });
        const d = await b.post("/data", { c: 3, list: ["x"] });
        ok(d, "POST /data");
        assert.deepEqual(d.json.data, { c: 3, list: ["x"] }, "replaced, not merged");
        const g = await b.get("/data");
        ok(g, "GET /data");
        assert.deepEqual(g.json.data, { c: 3, list: ["x"] });
        assert.deepEqual((await Session.getSessionInformation(r.json.handle)).sessionDataInDatabase, { c: 3, list: ["x"] });

        // The offline variant by handle, and an unknown handle.
        assert.equal(await Session.updateSessionDataInDatabase(r.json.handle, { d: 4 }), true);
        assert.deepEqual((await b.get("/data")).json.data, { d: 4 });
        assert.equal(await Session.updateSessionDataInDatabase("no-such-handle-" + process.pid, { d: 4 }), false);
    });

    test("mergeIntoAccessTokenPayload regenerates the access token with the same expiry", async () => {
        const userId = uid("merge");
        const [b, r] = await new Browser(ctx.app.url).signIn(userId, { role: "user", keep: true });
        const before = { at: b.accessToken, p: b.accessPayload };

        const m = await b.post("/merge", { plan: "pro", role: null });
        ok(m, "POST /merge");
        assert.notEqual(b.accessToken, before.at, "a new access token was set");
        const p = b.accessPayload;
        assert.equal(p.plan, "pro");
        assert.ok(!("role" in p), "null removes a claim");
        assert.equal(p.keep, true);
        assert.equal(p.iss, ctx.app.issuer);
        assert.equal(p.exp, before.p.exp, "same expiry");
        assert.equal(p.sessionHandle, before.p.sessionHandle);
        assert.equal(p.refreshTokenHash1, before.p.refreshTokenHash1);
        assert.equal(b.frontTokenDecoded.up.plan, "pro");
        assert.equal(m.json.payload.plan, "pro");

        const me = await b.get("/me");
        ok(me, "/me with the regenerated token");
        assert.equal(me.json.payload.plan, "pro");
        const info = await Session.getSessionInformation(r.json.handle);
        assert.deepEqual(info.customClaimsInAccessTokenPayload, { keep: true, plan: "pro", iss: ctx.app.issuer });

        // It is stored: a refreshed token carries it too.
        ok(await b.refresh(), "refresh");
        assert.equal(b.accessPayload.plan, "pro");
        assert.ok(!("role" in b.accessPayload));

        // The offline variant (PUT /recipe/jwt/data) changes the stored payload; a checkDatabase verify
        // then hands out an up-to-date token.
        assert.equal(await Session.mergeIntoAccessTokenPayload(r.json.handle, { tier: 3 }), true);
        assert.equal((await Session.getSessionInformation(r.json.handle)).customClaimsInAccessTokenPayload.tier, 3);
        const checked = await b.get("/me-checked");
        ok(checked, "/me-checked");
        assert.equal(checked.json.payload.tier, 3, "checkDatabase verify returns the stored payload");
        assert.equal(b.accessPayload.tier, 3, "and a re-issued access token was set");
        ok(await b.refresh(), "refresh");
        assert.equal(b.accessPayload.tier, 3);
        assert.equal(await Session.mergeIntoAccessTokenPayload("no-such-handle-" + process.pid, { tier: 3 }), false);
    });

    test("checkDatabase: a revoked session is rejected at once, plain verifySession still accepts the token", async () => {
        const [b, r] = await new Browser(ctx.app.url).signIn(uid("checkdb"));
        ok(await b.get("/me-checked"), "/me-checked before revocation");

        assert.equal(await Session.revokeSession(r.json.handle), true);
        const kept = b.snapshot();

        const plain = await b.get("/me");
        ok(plain, "plain verifySession trusts the unexpired JWT (no core call)");
        const checked = await b.get("/me-checked");
        assert.equal(checked.status, 401, checked.text);
        assert.deepEqual(checked.json, { message: "unauthorised" });

        b.restore(kept);
        const rr = await b.refresh();
        assert.equal(rr.status, 401, "refreshing a revoked session fails: " + rr.text);
        assert.deepEqual(rr.json, { message: "unauthorised" });
        assert.equal(await Session.revokeSession(r.json.handle), false, "already revoked");
    });

    test("revokeSession from the session object (POST /logout) and the SDK signout API", async () => {
        const [b, r] = await new Browser(ctx.app.url).signIn(uid("logout"));
        const kept = b.snapshot();
        const out = await b.post("/logout", {});
        ok(out, "POST /logout");
        assert.equal(b.accessToken, undefined, "access cookie cleared");
        assert.equal(b.refreshToken, undefined, "refresh cookie cleared");
        assert.equal(await Session.getSessionInformation(r.json.handle), undefined);
        b.restore(kept);
        assert.equal((await b.get("/me-checked")).status, 401);
        assert.equal((await b.refresh()).status, 401);

        const [c, r2] = await new Browser(ctx.app.url).signIn(uid("signout"));
        const so = await c.post("/auth/signout", {});
        ok(so, "POST /auth/signout");
        assert.deepEqual(so.json, { status: "OK" });
        assert.equal(c.accessToken, undefined);
        assert.equal(await Session.getSessionInformation(r2.json.handle), undefined);
    });

    test("getAllSessionHandlesForUser and revokeAllSessionsForUser (across tenants and for tenant public)", async () => {
        const bob = uid("bob");
        const carol = uid("carol");
        const bobs = [new Browser(ctx.app.url), new Browser(ctx.app.url), new Browser(ctx.app.url)];
        const handles = [];
        for (const b of bobs) {
            const r = await b.login(bob);
            ok(r, "login bob");
            handles.push(r.json.handle);
        }
        const c = new Browser(ctx.app.url);
        const rc = await c.login(carol);
        ok(rc, "login carol");

        assert.deepEqual((await Session.getAllSessionHandlesForUser(bob)).sort(), [...handles].sort());
        assert.deepEqual((await Session.getAllSessionHandlesForUser(bob, true, "public")).sort(), [...handles].sort());
        assert.deepEqual(await Session.getAllSessionHandlesForUser(carol), [rc.json.handle]);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(uid("nobody")), []);

        // Revoking one leaves the rest.
        assert.equal(await Session.revokeSession(handles[0]), true);
        assert.deepEqual((await Session.getAllSessionHandlesForUser(bob)).sort(), handles.slice(1).sort());

        const revoked = await Session.revokeAllSessionsForUser(bob);
        assert.deepEqual([...revoked].sort(), handles.slice(1).sort());
        assert.deepEqual(await Session.getAllSessionHandlesForUser(bob), []);
        for (const b of bobs) assert.equal((await b.get("/me-checked")).status, 401);
        ok(await c.get("/me-checked"), "carol is unaffected");

        // revokeMultipleSessions: unknown handles are simply not in the answer.
        const d1 = new Browser(ctx.app.url);
        const d2 = new Browser(ctx.app.url);
        const h1 = (await d1.login(uid("multi"))).json.handle;
        const h2 = (await d2.login(uid("multi"))).json.handle;
        const multi = await Session.revokeMultipleSessions([h1, h2, "no-such-handle-" + process.pid]);
        assert.deepEqual([...multi].sort(), [h1, h2].sort());
        assert.equal((await d1.get("/me-checked")).status, 401);
        assert.equal((await d2.get("/me-checked")).status, 401);

        // Tenant-scoped variant: POST /public/recipe/session/remove.
        const revokedCarol = await Session.revokeAllSessionsForUser(carol, true, "public");
        assert.deepEqual(revokedCarol, [rc.json.handle]);
        assert.equal((await c.get("/me-checked")).status, 401);
        assert.deepEqual(await Session.revokeAllSessionsForUser(carol), []);
    });

    test("a non-public tenant: /<tenantId>/recipe/session, tId claim, tenant-scoped listing and revocation", async () => {
        const userId = uid("mt");
        const pub = new Browser(ctx.app.url);
        const t1 = new Browser(ctx.app.url);
        const rp = await pub.login(userId);
        ok(rp, "login public");
        const rt = await t1.login(userId, { x: 1 }, {}, { tenantId: "tenant1" });
        ok(rt, "login tenant1");
        assert.equal(rt.json.tenantId, "tenant1");
        assert.equal(t1.accessPayload.tId, "tenant1");
        const me = await t1.get("/me");
        ok(me, "/me tenant1");
        assert.equal(me.json.tenantId, "tenant1");
        ok(await t1.get("/me-checked"), "/me-checked tenant1");
        ok(await t1.refresh(), "refresh tenant1");
        assert.equal(t1.accessPayload.tId, "tenant1", "the refreshed token keeps the tenant");
        const me2 = await t1.get("/me-checked");
        ok(me2, "/me-checked tenant1 after refresh");
        assert.equal(me2.json.tenantId, "tenant1");
        assert.equal((await Session.getSessionInformation(rt.json.handle)).tenantId, "tenant1");

        const all = [rp.json.handle, rt.json.handle].sort();
        assert.deepEqual((await Session.getAllSessionHandlesForUser(userId)).sort(), all, "across all tenants");
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId, true, "tenant1"), [rt.json.handle]);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId, true, "public"), [rp.json.handle]);
        assert.deepEqual(await Session.revokeAllSessionsForUser(userId, true, "tenant1"), [rt.json.handle]);
        assert.equal((await t1.get("/me-checked")).status, 401);
        ok(await pub.get("/me-checked"), "the public-tenant session is untouched");
        assert.deepEqual(await Session.revokeAllSessionsForUser(userId), [rp.json.handle]);
    });

    test("user ids with spaces, plus signs, unicode and URL metacharacters survive every call", async () => {
        const userId = `Üser +1 ${process.pid}@example.com/x?a=b&c=%20#frag`;
        const [b, r] = await new Browser(ctx.app.url).signIn(userId, { name: "Zoë" }, { note: "ü+ &" });
        assert.equal(r.json.userId, userId);
        assert.equal(b.accessPayload.sub, userId);
        assert.equal(b.accessPayload.name, "Zoë");
        const me = await b.get("/me-checked");
        ok(me, "/me-checked");
        assert.equal(me.json.userId, userId);
        ok(await b.refresh(), "refresh");
        assert.equal(b.accessPayload.sub, userId);
        const info = await Session.getSessionInformation(r.json.handle);
        assert.equal(info.userId, userId);
        assert.deepEqual(info.sessionDataInDatabase, { note: "ü+ &" });
        // GET /recipe/session/user?userId=… (URLSearchParams encodes a space as "+")
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [r.json.handle]);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId, false, "public"), [r.json.handle]);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId.replace(/ /g, "+")), [], "a different user");
        assert.deepEqual(await Session.revokeAllSessionsForUser(userId, false), [r.json.handle]);
        assert.equal((await b.get("/me-checked")).status, 401);
    });

    test("the SDK debug log shows v5 tokens were parsed", () => {
        const debug = capture.entries.filter((e) => e.source === "debug").map((e) => e.text);
        assert.ok(debug.some((t) => t.includes("version from header: 5")), "parseJWTWithoutSignatureVerification saw version 5");
    });

    compatibilityCheck(ctx);
});
