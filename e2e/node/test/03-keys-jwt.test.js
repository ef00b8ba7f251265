"use strict";
// Signing-key rotation with live sessions, and POST /recipe/jwt (Session.createJWT) checked
// independently with jose against sessiond's /.well-known/jwks.json. Shared sessiond instance.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const jose = require("jose");
const Session = require("supertokens-node/recipe/session");
const { Browser, sleep, uid, ok } = require("../lib/client");
const { admin, jwks } = require("../lib/sessiond");

const ctx = setup();
const PRIVATE_JWK_PARAMS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

describe("signing keys: JWKS, rotation with live sessions, POST /recipe/jwt", () => {
    test("JWKS: served without an api-key, RSA public keys only, all six fields", async () => {
        const res = await fetch(ctx.sd.url + "/.well-known/jwks.json"); // no headers at all, like jose in the SDK
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type"), /^application\/json/);
        const { keys } = await res.json();
        assert.ok(keys.length >= 2, "a dynamic and a static key");
        for (const k of keys) {
            assert.equal(k.kty, "RSA");
            assert.equal(k.alg, "RS256");
            assert.equal(k.use, "sig");
            assert.equal(typeof k.kid, "string");
            assert.match(k.n, /^[A-Za-z0-9_-]+$/);
            assert.match(k.e, /^[A-Za-z0-9_-]+$/);
            assert.ok(Buffer.from(k.n, "base64url").length * 8 >= 2048, "RSA >= 2048 bits");
            for (const p of PRIVATE_JWK_PARAMS) assert.ok(!(p in k), `no private parameter ${p}`);
        }
        assert.ok(keys.some((k) => k.kid.startsWith("d-")), "a dynamic (d-) key");
        assert.ok(keys.some((k) => !k.kid.startsWith("d-")), "a static (non d-) key");
    });

    test("key rotation with live sessions: old tokens keep verifying, new sessions use the new kid", async () => {
        const a = new Browser(ctx.app.url);
        const la = await a.login(uid("before-rotation"));
        ok(la, "login A");
        ok(await a.get("/me"), "A verifies (the SDK caches the JWKS)");
        const oldKid = a.accessHeader.kid;

        const rot = await admin(ctx.sd, "POST", "/sessiond/v1/keys/rotate");
        assert.equal(rot.status, 200, rot.text);
        const newKid = rot.json.key.kid;
        assert.match(newKid, /^d-/);
        assert.notEqual(newKid, oldKid);
        const kids = (await jwks(ctx.sd)).keys.map((k) => k.kid);
        assert.ok(kids.includes(oldKid) && kids.includes(newKid), `JWKS has both kids: ${kids}`);

        ok(await a.get("/me"), "A still verifies locally after rotation");
        ok(await a.get("/me-checked"), "A still verifies in sessiond after rotation");

        // jose refetches a JWKS for an unknown kid only after a 500 ms cooldown since its last fetch.
        await sleep(600);
        const b = new Browser(ctx.app.url);
        const lb = await b.login(uid("after-rotation"));
        ok(lb, "login B");
        assert.equal(b.accessHeader.kid, newKid, "new session signed by the new key");
        ok(await b.get("/me"), "B verifies locally (the SDK refetched the JWKS for the new kid)");
        ok(await b.get("/me-checked"), "B verifies in sessiond");

        const aOld = a.clone();
        ok(await a.refresh(), "A refreshes");
        assert.equal(a.accessHeader.kid, newKid, "A's refreshed token uses the new key");
        ok(await a.get("/me"), "A after refresh");
        assert.equal(aOld.accessHeader.kid, oldKid);
        ok(await aOld.get("/me"), "A's old-key access token still verifies after new-key tokens are in use");

        // Both tokens still verify independently against the published JWKS.
        const set = jose.createLocalJWKSet(await jwks(ctx.sd));
        await jose.jwtVerify(a.accessToken, set);
        await jose.jwtVerify(b.accessToken, set);
    });

    test("Session.createJWT (POST /recipe/jwt): verifies with jose against sessiond's JWKS, claims as asked", async () => {
        const t0 = Math.floor(Date.now() / 1000);
        const r = await new Browser(ctx.app.url).post("/jwt", {
            payload: { scope: "read:all", nested: { a: [1, "x"] }, sub: "svc-1" },
            validitySeconds: 600,
        });
        ok(r, "POST /jwt");
        assert.equal(r.json.status, "OK", r.text);
        const token = r.json.jwt;

        const remote = jose.createRemoteJWKSet(new URL(ctx.sd.url + "/.well-known/jwks.json"));
        const { payload, protectedHeader } = await jose.jwtVerify(token, remote, {
            issuer: ctx.app.issuer,
            algorithms: ["RS256"],
        });
        assert.equal(protectedHeader.alg, "RS256");
        assert.equal(protectedHeader.typ, "JWT");
        assert.ok(protectedHeader.kid, "kid present");
        assert.ok(!protectedHeader.kid.startsWith("d-"), "static key by default (useStaticSigningKey defaults to true)");
        assert.equal(payload.iss, ctx.app.issuer, "the SDK's iss (apiDomain + apiBasePath)");
        assert.equal(payload.scope, "read:all");
        assert.deepEqual(payload.nested, { a: [1, "x"] });
        assert.equal(payload.sub, "svc-1");
        assert.equal(payload.exp - payload.iat, 600);
        assert.ok(Math.abs(payload.iat - t0) <= 5, `iat ${payload.iat} is now`);
    });

    test("Session.createJWT with useStaticSigningKey=false is signed by the current dynamic key", async () => {
        const r = await new Browser(ctx.app.url).post("/jwt", { payload: { x: 1 }, validitySeconds: 60, useStaticSigningKey: false });
        ok(r, "POST /jwt");
        assert.equal(r.json.status, "OK", r.text);
        const { payload, protectedHeader } = await jose.jwtVerify(r.json.jwt, jose.createLocalJWKSet(await jwks(ctx.sd)));
        assert.match(protectedHeader.kid, /^d-/);
        assert.equal(payload.x, 1);
        assert.equal(payload.exp - payload.iat, 60);
    });

    test("Session.createJWT: the SDK's 100-year default is the longest validity; longer is refused with 400", async () => {
        const HUNDRED_YEARS_S = 100 * 365 * 24 * 3600;
        // Without a validity the SDK asks for 3153600000 s (100 years): sessiond's cap.
        const dflt = await Session.createJWT({ long: true });
        assert.equal(dflt.status, "OK");
        const claims = (await jose.jwtVerify(dflt.jwt, jose.createLocalJWKSet(await jwks(ctx.sd)))).payload;
        assert.equal(claims.exp - claims.iat, HUNDRED_YEARS_S);
        const r = await new Browser(ctx.app.url).post("/jwt", { payload: { long: true }, validitySeconds: HUNDRED_YEARS_S });
        ok(r, "POST /jwt");
        assert.equal(r.json.status, "OK", r.text);
        const { payload } = await jose.jwtVerify(r.json.jwt, jose.createLocalJWKSet(await jwks(ctx.sd)));
        assert.equal(payload.exp - payload.iat, HUNDRED_YEARS_S);
        assert.equal(payload.iss, ctx.app.issuer);
        // One second more than the cap (README: `validity` 1 s to 100 years) is 400 INVALID_INPUT,
        // which the SDK raises as an error.
        await assert.rejects(Session.createJWT({ long: true }, HUNDRED_YEARS_S + 1), (err) => {
            assert.match(err.message, /\/recipe\/jwt' with status code: 400/);
            assert.match(err.message, /INVALID_INPUT/);
            return true;
        });
    });

    test("the SDK's own JWKS endpoint (GET /auth/jwt/jwks.json, fetched through the querier) matches sessiond's", async () => {
        const r = await new Browser(ctx.app.url).get("/auth/jwt/jwks.json");
        ok(r, "GET /auth/jwt/jwks.json");
        const direct = await jwks(ctx.sd);
        const norm = (keys) => keys.map((k) => JSON.stringify(k, Object.keys(k).sort())).sort();
        assert.deepEqual(norm(r.json.keys), norm(direct.keys));
        assert.match(r.headers.get("cache-control"), /max-age=\d+/);
    });

    compatibilityCheck(ctx);
});
