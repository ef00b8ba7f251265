"use strict";
// Two apps on one sessiond, each with its own signing keys and JWKS (/appid-<id>/.well-known/jwks.json).
// supertokens-node is a process-wide singleton, so app A is this process's SDK and app B runs in a
// child process (lib/peer.js) with connectionURI …/appid-<b>. Both talk to the shared sessiond.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test, before, after } = require("node:test");
const { decodeProtectedHeader } = require("jose");
const { Browser, sleep, uid, ok } = require("../lib/client");
const { admin, requestCount } = require("../lib/sessiond");
const { startPeerApp } = require("../lib/peer");

const APP_A = "/appid-e2e-node-a";
const APP_B = "/appid-e2e-node-b";
const ctx = setup({ basePath: APP_A });
const kidOf = (token) => decodeProtectedHeader(token).kid;

async function appJwks(appPath) {
    // As the SDK fetches it for local verification: no headers.
    const res = await fetch(ctx.sd.url + appPath + "/.well-known/jwks.json");
    assert.equal(res.status, 200, `${appPath}/.well-known/jwks.json`);
    const kids = (await res.json()).keys.map((k) => k.kid);
    assert.ok(kids.length > 0, `${appPath} publishes keys`);
    return kids;
}

describe("two apps, each with its own keys: app A in this process, app B in a child process", () => {
    let peer;
    let peerReport;
    before(async () => {
        peer = await startPeerApp({ connectionURI: ctx.sd.url + APP_B, apiKey: ctx.sd.apiKey, name: "app-b" });
    });
    after(async () => {
        if (peer && !peerReport) await peer.close();
    });

    test("A's tokens fail in B (local and checkDatabase), the JWKS share no kid, a key reset in A leaves B alone", async () => {
        const userId = uid("two-apps");

        // A session in app A works in A.
        const a = new Browser(ctx.app.url);
        const loginA = await a.login(userId, { app: "a" });
        ok(loginA, "login in A");
        ok(await a.get("/me"), "A: /me (local verification)");
        ok(await a.get("/me-checked"), "A: /me-checked");

        // A session in app B works in B.
        const b = new Browser(peer.url);
        const loginB = await b.login(userId, { app: "b" });
        ok(loginB, "login in B");
        ok(await b.get("/me"), "B: /me (local verification)");
        ok(await b.get("/me-checked"), "B: /me-checked");
        assert.notEqual(loginA.json.handle, loginB.json.handle);

        // The two JWKS have no kid in common; each app's tokens are signed by its own keys.
        const kidsA = await appJwks(APP_A);
        const kidsB = await appJwks(APP_B);
        assert.deepEqual(kidsA.filter((k) => kidsB.includes(k)), [], `no common kid: A ${kidsA} / B ${kidsB}`);
        assert.ok(kidsA.includes(kidOf(a.accessToken)), "A's token is signed by a key of A's JWKS");
        assert.ok(kidsB.includes(kidOf(b.accessToken)), "B's token is signed by a key of B's JWKS");

        // A's tokens presented to B's backend (same user id, same sessiond).
        const intruder = new Browser(peer.url).restore(a.snapshot());
        const verifiesBefore = await requestCount(ctx.sd, "POST", "/recipe/session/verify");
        const local = await intruder.get("/me");
        assert.equal(local.status, 401, `B: /me with A's token: ${local.text}`);
        assert.deepEqual(local.json, { message: "try refresh token" });
        const checked = await intruder.get("/me-checked");
        assert.equal(checked.status, 401, `B: /me-checked with A's token: ${checked.text}`);
        assert.deepEqual(checked.json, { message: "try refresh token" });
        assert.equal(
            await requestCount(ctx.sd, "POST", "/recipe/session/verify"),
            verifiesBefore,
            "B's SDK refused A's token by its own JWKS, without asking sessiond (also with checkDatabase)"
        );
        const refreshInB = await new Browser(peer.url).restore(a.snapshot()).refresh();
        assert.equal(refreshInB.status, 401, `B: refresh with A's refresh token: ${refreshInB.text}`);
        assert.deepEqual(refreshInB.json, { message: "unauthorised" }, "unknown to B: unauthorised, not theft");
        // ... and none of that touched A's session.
        ok(await a.get("/me-checked"), "A: still signed in");

        // A key reset in app A.
        const reset = await admin(ctx.sd, "POST", `${APP_A}/sessiond/v1/keys/reset`);
        assert.equal(reset.status, 200, reset.text);
        const kidsAAfter = await appJwks(APP_A);
        assert.deepEqual(kidsAAfter.filter((k) => kidsA.includes(k)), [], "A's keys were all replaced");
        assert.deepEqual((await appJwks(APP_B)).sort(), [...kidsB].sort(), "B's JWKS is unchanged");
        const aChecked = await a.get("/me-checked");
        assert.equal(aChecked.status, 401, `A: sessiond refuses A's pre-reset token: ${aChecked.text}`);

        // B's session is untouched: verify, refresh, verify the new token.
        ok(await b.get("/me"), "B after A's reset: /me");
        ok(await b.get("/me-checked"), "B after A's reset: /me-checked");
        const refreshed = await b.refresh();
        ok(refreshed, "B after A's reset: refresh");
        assert.ok(kidsB.includes(kidOf(b.accessToken)), "B's new token is signed by B's unchanged keys");
        const me = await b.get("/me-checked");
        ok(me, "B after A's reset and a refresh: /me-checked");
        assert.equal(me.json.handle, loginB.json.handle);
        assert.equal(me.json.payload.app, "b");

        // A recovers by refreshing (pre-reset refresh tokens still refresh), onto its new keys. The SDK
        // refetches A's JWKS for the unknown kid once its 500 ms cool-down has passed.
        ok(await a.refresh(), "A: refresh after the reset");
        assert.ok(kidsAAfter.includes(kidOf(a.accessToken)), "A's new token is signed by A's new keys");
        await sleep(600);
        const aMe = await a.get("/me-checked");
        ok(aMe, "A: signed in again");
        assert.equal(aMe.json.handle, loginA.json.handle);

        // App B's process logged nothing about versions or compatibility and had no unhandled errors.
        peerReport = await peer.close();
        assert.ok(peerReport.debugLines > 0, "B's SDK debug log was captured");
        assert.deepEqual(peerReport.problems, []);
        assert.deepEqual(peerReport.loud, []);
        assert.deepEqual(peerReport.appErrors, []);
    });

    compatibilityCheck(ctx);
});
