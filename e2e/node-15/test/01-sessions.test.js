"use strict";
// The session lifecycle through supertokens-node 15.2.3, which speaks CDI 3.0, with sessiond as its
// core (shared instance, traffic recorded by a proxy).

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const jose = require("jose");
const Session = require("supertokens-node/recipe/session");
const { Querier } = require("supertokens-node/lib/build/querier");
const { version, cdiSupported } = require("supertokens-node/lib/build/version");
const { Browser, uid, ok } = require("../../node/lib/client");
const { admin, jwks } = require("../../node/lib/sessiond");

const ctx = setup();
const DAY_MS = 24 * 3600 * 1000;
// Core calls the proxy saw since `mark`, as "METHOD /path" (query dropped).
const mark = () => ctx.proxy.requests.length;
const callsSince = (m) => ctx.proxy.requests.slice(m).map((r) => `${r.method} ${r.path.split("?")[0]}`);
const count = (calls, what) => calls.filter((c) => c === what).length;

describe("supertokens-node 15.2.3 (CDI 3.0): sign-in, verify, refresh, data, payload, revoke, sign-out", () => {
    test("CDI negotiation: 15.2.3 supports only 3.0, sessiond offers it, and 3.0 is what the SDK uses", async () => {
        assert.equal(version, "15.2.3");
        assert.deepEqual(cdiSupported, ["3.0"]);
        const r = await admin(ctx.sd, "GET", "/apiversion");
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.versions.includes("3.0"), r.text);
        const b = new Browser(ctx.app.url);
        ok(await b.login(uid("cdi")), "login"); // the first core call negotiates
        assert.equal(Querier.apiVersion, "3.0", "the SDK's process-wide negotiated CDI version");
        assert.equal(ctx.proxy.requests[0].path, "/apiversion", "negotiated before the first call");
    });

    test("sign-in: createNewSession with cookie transfer sets HttpOnly cookies, a front token and a v5 access token", async () => {
        const userId = uid("alice");
        const b = new Browser(ctx.app.url);
        const m = mark();
        const t0 = Date.now();
        const r = await b.login(userId, { role: "user", nested: { a: [1, 2] } }, { cart: [] });
        ok(r, "login");
        assert.deepEqual(callsSince(m), ["POST /public/recipe/session"]);
        assert.equal(r.headers.get("st-access-token"), null, "no header tokens in cookie mode");
        assert.equal(r.headers.get("anti-csrf"), null, "anti-CSRF is NONE by default for a same-site app");

        const { at } = b.assertSessionCookies(r, t0);
        assert.equal(String(at.attrs.samesite).toLowerCase(), "lax");

        const header = b.accessHeader;
        assert.equal(header.alg, "RS256");
        assert.equal(header.version, "5");
        assert.match(header.kid, /^d-/, "dynamic signing key by default");
        const p = b.accessPayload;
        assert.equal(p.sub, userId);
        assert.equal(p.tId, "public");
        assert.equal(p.sessionHandle, r.json.handle);
        assert.equal(p.role, "user");
        assert.deepEqual(p.nested, { a: [1, 2] });
        assert.equal(typeof p.refreshTokenHash1, "string");
        assert.equal(p.exp - p.iat, 3600);

        const ft = b.frontTokenDecoded;
        assert.equal(ft.uid, userId);
        assert.equal(ft.ate, p.exp * 1000);
        assert.equal(ft.up.role, "user");

        // Independently: the token verifies against sessiond's JWKS.
        const { payload } = await jose.jwtVerify(b.accessToken, jose.createLocalJWKSet(await jwks(ctx.sd)));
        assert.equal(payload.sessionHandle, r.json.handle);
        assert.equal(r.json.userId, userId);
        assert.equal(r.json.tenantId, "public");
    });

    test("verify: local verification asks sessiond nothing; checkDatabase asks once per request", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("verify"), { v: 1 });
        let m = mark();
        for (let i = 0; i < 5; i++) {
            const me = await b.get("/me");
            ok(me, `/me #${i}`);
            assert.equal(me.json.handle, login.json.handle);
            assert.equal(me.json.payload.v, 1);
        }
        const local = callsSince(m);
        assert.equal(count(local, "POST /recipe/session/verify"), 0, `no verify call: ${local}`);
        assert.ok(count(local, "GET /.well-known/jwks.json") <= 1, `the JWKS is fetched at most once: ${local}`);
        m = mark();
        for (let i = 0; i < 3; i++) ok(await b.get("/me-checked"), `/me-checked #${i}`);
        assert.equal(count(callsSince(m), "POST /recipe/session/verify"), 3);

        // A forged token: refused locally, 401 try refresh.
        const forged = b.clone();
        const tok = forged.cookies.get("sAccessToken");
        tok.value = tok.value.slice(0, -6) + (tok.value.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
        const r = await forged.get("/me");
        assert.equal(r.status, 401, r.text);
        assert.deepEqual(r.json, { message: "try refresh token" });
    });

    test("refresh: new tokens (rotation), the same session, and the old refresh token is superseded", async () => {
        const userId = uid("refresh");
        const [b, login] = await new Browser(ctx.app.url).signIn(userId, { keep: "me" });
        const at0 = b.accessToken;
        const rt0 = b.refreshToken;
        const m = mark();
        const r = await b.refresh();
        ok(r, "refresh");
        assert.deepEqual(callsSince(m), ["POST /recipe/session/refresh"]);
        assert.notEqual(b.accessToken, at0, "new access token");
        assert.notEqual(b.refreshToken, rt0, "new refresh token");
        assert.equal(b.accessPayload.sessionHandle, login.json.handle);
        assert.equal(b.accessPayload.keep, "me", "custom claims carried over");
        assert.ok(ctx.app.events.some((e) => e.kind === "REFRESH_OK" && e.handle === login.json.handle));

        // 15.2.3 would send a token carrying parentRefreshTokenHash1 to the core on every verify (the Java
        // core's first-use promotion). sessiond has no promotion (a grace window instead) and leaves the
        // claim null, so the new token verifies locally at once.
        assert.equal(b.accessPayload.parentRefreshTokenHash1, null);
        const m2 = mark();
        const me = await b.get("/me");
        ok(me, "/me after refresh");
        assert.equal(me.json.handle, login.json.handle);
        assert.equal(count(callsSince(m2), "POST /recipe/session/verify"), 0, "verified locally");
        ok(await b.get("/me-checked"), "/me-checked after refresh");
        ok(await b.refresh(), "second refresh");
        ok(await b.get("/me-checked"), "/me-checked after the second refresh");
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [login.json.handle], "still one session");
    });

    test("header transfer: tokens in st-access-token/st-refresh-token, Authorization: Bearer, refresh by header", async () => {
        const [b, login] = await new Browser(ctx.app.url, { mode: "header" }).signIn(uid("hdr"));
        assert.ok(b.accessToken && b.refreshToken, "tokens came in headers");
        assert.equal(login.headers.getSetCookie().length, 0, "no cookies in header mode");
        ok(await b.get("/me"), "/me by Bearer");
        ok(await b.get("/me-checked"), "/me-checked by Bearer");
        const at0 = b.accessToken;
        ok(await b.refresh(), "refresh by Bearer");
        assert.notEqual(b.accessToken, at0);
        const me = await b.get("/me-checked");
        ok(me, "/me-checked after refresh");
        assert.equal(me.json.handle, login.json.handle);
    });

    test("session data in the database: update and read through the session and by handle", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("data"), {}, { cart: [] });
        const handle = login.json.handle;
        let r = await b.get("/data");
        ok(r, "GET /data");
        assert.deepEqual(r.json.data, { cart: [] });
        const m = mark();
        r = await b.post("/data", { cart: ["apple"], n: 1 });
        ok(r, "POST /data");
        assert.deepEqual(r.json.data, { cart: ["apple"], n: 1 });
        assert.ok(callsSince(m).includes("PUT /recipe/session/data"));
        assert.equal(await Session.updateSessionDataInDatabase(handle, { by: "handle" }), true);
        const info = await Session.getSessionInformation(handle);
        assert.deepEqual(info.sessionDataInDatabase, { by: "handle" });
        assert.equal(info.sessionHandle, handle);
        assert.equal(info.userId, login.json.userId);
        assert.equal(info.tenantId, "public");
        assert.ok(info.expiry > Date.now() + 99 * DAY_MS && info.timeCreated <= Date.now());
        assert.equal(await Session.updateSessionDataInDatabase("no-such-handle", {}), false);
    });

    test("access-token payload: mergeIntoAccessTokenPayload in a request and by handle", async () => {
        const userId = uid("merge");
        const [b] = await new Browser(ctx.app.url).signIn(userId, { role: "user", gone: "soon" });
        const before = b.accessPayload;
        const m = mark();
        const r = await b.post("/merge", { role: "admin", gone: null, added: { x: 1 } });
        ok(r, "merge");
        assert.ok(callsSince(m).includes("POST /recipe/session/regenerate"));
        const after = b.accessPayload;
        assert.equal(after.role, "admin");
        assert.deepEqual(after.added, { x: 1 });
        assert.ok(!("gone" in after), "null removes a claim");
        assert.equal(after.sub, userId);
        assert.equal(after.rsub, userId, "sessiond keeps its own rsub (15.2.3 echoes it as user data)");
        assert.equal(after.exp, before.exp, "regenerate keeps the expiry");
        assert.equal(after.sessionHandle, before.sessionHandle);
        assert.equal(b.frontTokenDecoded.up.role, "admin", "the front token follows");
        const me = await b.get("/me");
        ok(me, "/me with the regenerated token");
        assert.equal(me.json.payload.role, "admin");

        // By handle (PUT /recipe/jwt/data): the stored payload changes, and a database check re-issues
        // the access token with it.
        const handle = before.sessionHandle;
        assert.equal(await Session.mergeIntoAccessTokenPayload(handle, { tier: "gold" }), true);
        const info = await Session.getSessionInformation(handle);
        assert.equal(info.customClaimsInAccessTokenPayload.tier, "gold");
        assert.equal(info.customClaimsInAccessTokenPayload.role, "admin");
        const checked = await b.get("/me-checked");
        ok(checked, "/me-checked");
        assert.equal(checked.json.payload.tier, "gold");
        assert.equal(b.accessPayload.tier, "gold", "the browser got the re-issued token");
    });

    test("revoke: revokeSession, revokeMultipleSessions, logout; getAllSessionHandlesForUser, revokeAllSessionsForUser", async () => {
        const userId = uid("revoke");
        const tabs = [new Browser(ctx.app.url), new Browser(ctx.app.url), new Browser(ctx.app.url), new Browser(ctx.app.url)];
        const handles = [];
        for (const t of tabs) {
            const r = await t.login(userId);
            ok(r, "login");
            handles.push(r.json.handle);
        }
        assert.deepEqual((await Session.getAllSessionHandlesForUser(userId)).sort(), [...handles].sort());

        assert.equal(await Session.revokeSession(handles[0]), true);
        assert.equal(await Session.revokeSession(handles[0]), false, "already gone");
        assert.equal(await Session.getSessionInformation(handles[0]), undefined);
        const gone = await tabs[0].clone().get("/me-checked");
        assert.equal(gone.status, 401, gone.text);
        assert.deepEqual(gone.json, { message: "unauthorised" });
        ok(await tabs[0].get("/me"), "a plain (local) verify still accepts the token until it expires");

        ok(await tabs[1].post("/logout"), "POST /logout (session.revokeSession())");
        assert.equal(await Session.getSessionInformation(handles[1]), undefined);
        assert.equal((await tabs[1].get("/me-checked")).status, 401);

        assert.deepEqual(await Session.revokeMultipleSessions([handles[2], "no-such-handle"]), [handles[2]]);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [handles[3]]);
        assert.deepEqual(await Session.revokeAllSessionsForUser(userId), [handles[3]]);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), []);
        const refresh = await tabs[3].refresh();
        assert.equal(refresh.status, 401, refresh.text);
        assert.deepEqual(refresh.json, { message: "unauthorised" });
    });

    test("sign-out: POST /auth/signout revokes the session and clears the cookies", async () => {
        const userId = uid("signout");
        const [b, login] = await new Browser(ctx.app.url).signIn(userId);
        const kept = b.clone();
        const m = mark();
        const r = await b.post("/auth/signout");
        ok(r, "POST /auth/signout");
        assert.deepEqual(r.json, { status: "OK" });
        assert.ok(callsSince(m).includes("POST /recipe/session/remove"));
        assert.equal(b.cookies.get("sAccessToken"), undefined, "access cookie cleared");
        assert.equal(b.cookies.get("sRefreshToken"), undefined, "refresh cookie cleared");
        assert.equal(r.headers.get("front-token"), "remove");
        assert.equal(await Session.getSessionInformation(login.json.handle), undefined);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), []);
        assert.equal((await kept.get("/me-checked")).status, 401, "the old cookies no longer pass a database check");
        assert.equal((await kept.refresh()).status, 401, "nor refresh");
    });

    compatibilityCheck(ctx);
});
