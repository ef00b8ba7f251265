"use strict";
// Session.init({ useDynamicAccessTokenSigningKey: false }): sessions are signed by the static key.
// The SDK rejects (try refresh) any token whose kid kind ("d-" or not) does not match this setting,
// so create, refresh, regenerate and verify must all use the static key. Shared sessiond instance.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const jose = require("jose");
const { Browser, uid, ok } = require("../lib/client");
const { admin, jwks } = require("../lib/sessiond");

const ctx = setup({ session: { useDynamicAccessTokenSigningKey: false } });

describe("static signing key (useDynamicAccessTokenSigningKey: false)", () => {
    test("useDynamicAccessTokenSigningKey=false: every token is signed by the static (non d-) key", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("static"), { s: 1 });
        const kid = b.accessHeader.kid;
        assert.ok(!kid.startsWith("d-"), `static kid: ${kid}`);
        assert.ok((await jwks(ctx.sd)).keys.some((k) => k.kid === kid), "published in the JWKS");
        await jose.jwtVerify(b.accessToken, jose.createLocalJWKSet(await jwks(ctx.sd)));
        ok(await b.get("/me"), "/me");

        ok(await b.post("/merge", { m: 2 }), "merge (regenerate)");
        assert.equal(b.accessHeader.kid, kid, "regenerated with the static key");
        ok(await b.get("/me"), "/me after merge");

        ok(await b.refresh(), "refresh");
        assert.equal(b.accessHeader.kid, kid, "refreshed with the static key");
        ok(await b.get("/me"), "/me after refresh");
        ok(await b.get("/me-checked"), "/me-checked after refresh");

        // Rotating the dynamic key does not touch static-key sessions.
        const rot = await admin(ctx.sd, "POST", "/sessiond/v1/keys/rotate");
        assert.equal(rot.status, 200, rot.text);
        ok(await b.get("/me"), "/me after a dynamic-key rotation");
        ok(await b.refresh(), "refresh after a dynamic-key rotation");
        assert.equal(b.accessHeader.kid, kid);
        ok(await b.get("/me"), "/me");
    });

    compatibilityCheck(ctx);
});
