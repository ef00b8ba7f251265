"use strict";
// Short-lived access tokens and a short refresh grace window: this file starts its own sessiond
// with --access-token-ttl 3 --refresh-grace 1.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const { Browser, sleep, uid, ok } = require("../lib/client");
const { requestCount } = require("../lib/sessiond");

const ctx = setup({ sessiond: { args: ["--access-token-ttl", "3", "--refresh-grace", "1"] } });
const TRY_REFRESH = { message: "try refresh token" };

async function waitUntilExpired(b) {
    const expMs = b.accessPayload.exp * 1000;
    await sleep(Math.max(0, expMs - Date.now() + 150));
}

describe("expiry (own sessiond: --access-token-ttl 3 --refresh-grace 1)", () => {
    for (const mode of ["cookie", "header"]) {
        test(`${mode} transfer: expired access token → 401 try refresh → refresh → works again`, async () => {
            const [b, login] = await new Browser(ctx.app.url, { mode }).signIn(uid(`expiry-${mode}`), { k: 1 });
            const p0 = b.accessPayload;
            assert.equal(p0.exp - p0.iat, 3, "--access-token-ttl 3");
            assert.equal(b.frontTokenDecoded.ate, p0.exp * 1000);
            ok(await b.get("/me"), "/me while fresh");

            await waitUntilExpired(b);
            const v0 = await requestCount(ctx.sd, "POST", "/recipe/session/verify");
            const expired = await b.get("/me");
            assert.equal(expired.status, 401, expired.text);
            assert.deepEqual(expired.json, TRY_REFRESH);
            const expiredChecked = await b.get("/me-checked");
            assert.equal(expiredChecked.status, 401, expiredChecked.text);
            assert.deepEqual(expiredChecked.json, TRY_REFRESH);
            assert.equal(await requestCount(ctx.sd, "POST", "/recipe/session/verify"), v0, "decided locally: exp has passed");
            assert.ok(b.accessToken && b.refreshToken, "try-refresh does not clear the tokens");

            const r = await b.refresh();
            ok(r, "refresh with an expired access token");
            const p1 = b.accessPayload;
            assert.ok(p1.exp > p0.exp, "a new expiry");
            assert.equal(p1.exp - p1.iat, 3);
            assert.equal(p1.sessionHandle, login.json.handle);
            assert.equal(p1.k, 1);
            const me = await b.get("/me");
            ok(me, "/me after refresh");
            assert.equal(me.json.handle, login.json.handle);
            ok(await b.get("/me-checked"), "/me-checked after refresh");
        });
    }

    test("the session (refresh token) outlives many access tokens", async () => {
        const [b, login] = await new Browser(ctx.app.url).signIn(uid("long"));
        await waitUntilExpired(b);
        assert.equal((await b.get("/me")).status, 401);
        const info = await Session.getSessionInformation(login.json.handle);
        assert.ok(info, "the session is still there after its access token expired");
        assert.ok(info.expiry > Date.now() + 24 * 3600 * 1000);
        ok(await b.refresh(), "refresh");
        ok(await b.get("/me"), "/me");
    });

    test("mergeIntoAccessTokenPayload after the access token expired: regenerate accepts it, no new token", async () => {
        const userId = uid("regen-expired");
        const session = await Session.createNewSessionWithoutRequestResponse(
            "public",
            supertokens.convertToRecipeUserId(userId),
            { a: 1 }
        );
        const tokens = session.getAllSessionTokensDangerously();
        const exp = session.getAccessTokenPayload().exp;
        await sleep(Math.max(0, exp * 1000 - Date.now() + 150));

        // The session object still holds the (now expired) access token: POST /recipe/session/regenerate.
        await session.mergeIntoAccessTokenPayload({ b: 2 });
        assert.equal(session.getAccessToken(), tokens.accessToken, "no new access token for an expired one");
        assert.equal(session.getAccessTokenPayload().b, 2, "merged into the in-memory payload");
        const info = await Session.getSessionInformation(session.getHandle());
        assert.deepEqual(info.customClaimsInAccessTokenPayload, { a: 1, b: 2, iss: ctx.app.issuer }, "stored in sessiond");

        const refreshed = await Session.refreshSessionWithoutRequestResponse(tokens.refreshToken);
        assert.equal(refreshed.getAccessTokenPayload().b, 2, "the next access token carries the update");
        assert.equal(refreshed.getAccessTokenPayload().a, 1);
        const verified = await Session.getSessionWithoutRequestResponse(refreshed.getAccessToken(), undefined, {
            checkDatabase: true,
        });
        assert.equal(verified.getHandle(), session.getHandle());
    });

    test("after the grace window, replaying the parent refresh token is token theft", async () => {
        const userId = uid("grace");
        const [b, login] = await new Browser(ctx.app.url).signIn(userId);
        const old = b.snapshot();
        ok(await b.refresh(), "refresh");
        ok(await b.get("/me"), "/me with the new token");
        await sleep(1600); // --refresh-grace 1
        const r = await new Browser(ctx.app.url).restore(old).refresh();
        assert.equal(r.status, 401, r.text);
        assert.deepEqual(r.json, { message: "token theft detected" });
        const thefts = ctx.app.events.filter((e) => e.kind === "TOKEN_THEFT_DETECTED");
        assert.equal(thefts.length, 1);
        assert.equal(thefts[0].payload.sessionHandle, login.json.handle);
        assert.equal(await Session.getSessionInformation(login.json.handle), undefined);
        assert.equal((await b.refresh()).status, 401, "the legitimate client is signed out too");
    });

    compatibilityCheck(ctx);
});
