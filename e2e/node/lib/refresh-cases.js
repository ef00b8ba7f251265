"use strict";
// Refresh-token scenarios that read the same through any supertokens-node: both suites' 02-refresh-theft
// files run them (each under its own test title) against an app set up with `setup(GRACE_SETUP)`
// (its own sessiond with `--refresh-grace GRACE_S`). Within the grace window
// sessiond hands any superseded refresh token the current successor (a retried request, a stale tab),
// so a replay is theft only after it.
//
// No dependencies beyond node itself; `Session` is the caller's supertokens-node/recipe/session.

const assert = require("node:assert/strict");
const { Browser, sleep, uid, ok } = require("./client");

const GRACE_S = 2;
const GRACE_SETUP = { sessiond: { args: ["--refresh-grace", String(GRACE_S)] } };
const pastGrace = () => sleep(GRACE_S * 1000 + 300);
const thefts = (ctx) => ctx.app.events.filter((e) => e.kind === "TOKEN_THEFT_DETECTED");

// Replaying a superseded refresh token after the grace window: the SDK reports token theft (once,
// with the payload `checkPayload(payload, { userId, handle })` asserts: it differs between SDK
// versions) and its theft handler revokes the session, for the legitimate client too.
async function replayAfterGraceIsTheft(ctx, Session, checkPayload) {
    const userId = uid("victim");
    const [b, login] = await new Browser(ctx.app.url).signIn(userId);
    const handle = login.json.handle;
    const stolen = b.snapshot(); // refresh token generation 0, copied by an attacker

    // The legitimate client refreshes twice. Within sessiond's grace window any superseded token is
    // still honoured (a retry of a lost response, a stale tab); after it, a replay is theft.
    ok(await b.refresh(), "refresh 1");
    ok(await b.get("/me"), "/me after refresh 1");
    ok(await b.refresh(), "refresh 2");
    ok(await b.get("/me"), "/me after refresh 2");
    ok(await b.get("/me-checked"), "/me-checked after refresh 2");
    const theftsBefore = thefts(ctx).length;
    await pastGrace();

    const attacker = new Browser(ctx.app.url).restore(stolen);
    const r = await attacker.refresh();
    assert.equal(r.status, 401, r.text);
    assert.deepEqual(r.json, { message: "token theft detected" });
    assert.equal(attacker.refreshToken, undefined, "the SDK cleared the attacker's tokens");

    const t = thefts(ctx).slice(theftsBefore);
    assert.equal(t.length, 1, "the SDK raised TOKEN_THEFT_DETECTED once");
    checkPayload(t[0].payload, { userId, handle });

    // The SDK's theft handler revoked the session: it is gone for everyone.
    assert.equal(await Session.getSessionInformation(handle), undefined);
    assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), []);
    const victimChecked = await b.clone().get("/me-checked");
    assert.equal(victimChecked.status, 401, "the victim's access token is rejected by a database check");
    const victimRefresh = await b.clone().refresh();
    assert.equal(victimRefresh.status, 401, "the victim's current refresh token no longer works");
    assert.deepEqual(victimRefresh.json, { message: "unauthorised" });
}

// A refresh token that was never issued (one character of a real one flipped, or not a token at
// all) is unauthorised, not theft.
async function forgedTokenIsUnauthorised(ctx) {
    const [b] = await new Browser(ctx.app.url).signIn(uid("forged"));
    const rt = b.cookies.get("sRefreshToken");
    const theftsBefore = thefts(ctx).length;
    // Flip one character of the secret part.
    const i = Math.floor(rt.value.length / 2);
    rt.value = rt.value.slice(0, i) + (rt.value[i] === "A" ? "B" : "A") + rt.value.slice(i + 1);
    const r = await b.refresh();
    assert.equal(r.status, 401, r.text);
    assert.deepEqual(r.json, { message: "unauthorised" });
    assert.equal(thefts(ctx).length, theftsBefore);
    const garbage = new Browser(ctx.app.url);
    garbage.cookies.set("sRefreshToken", { name: "sRefreshToken", value: "not-a-token", path: "/auth/session/refresh", attrs: {} });
    const g = await garbage.refresh();
    assert.equal(g.status, 401, g.text);
    assert.deepEqual(g.json, { message: "unauthorised" });
    assert.equal(thefts(ctx).length, theftsBefore);
}

// Within the grace window, a token two generations old gets the current successor, not theft.
async function staleTabGetsTheSuccessor(ctx) {
    const [b] = await new Browser(ctx.app.url).signIn(uid("stale-tab"));
    const staleTab = b.clone(); // a tab that slept through two refreshes
    ok(await b.refresh(), "refresh 1");
    ok(await b.refresh(), "refresh 2");
    const theftsBefore = thefts(ctx).length;
    ok(await staleTab.refresh(), "the stale tab's refresh");
    assert.equal(staleTab.refreshToken, b.refreshToken, "it got the current refresh token");
    ok(await staleTab.get("/me-checked"), "the stale tab is signed in");
    ok(await b.get("/me-checked"), "the other tab still is");
    assert.equal(thefts(ctx).length, theftsBefore, "no theft");
}

// Header transfer: replaying a superseded refresh token after the grace window is theft, and the
// SDK's theft handler revokes the session.
async function headerReplayIsTheft(ctx, Session) {
    const [b, login] = await new Browser(ctx.app.url, { mode: "header" }).signIn(uid("hdr-theft"));
    const stolen = b.snapshot();
    ok(await b.refresh(), "refresh 1");
    ok(await b.refresh(), "refresh 2");
    await pastGrace();
    const r = await new Browser(ctx.app.url, { mode: "header" }).restore(stolen).refresh();
    assert.equal(r.status, 401, r.text);
    assert.deepEqual(r.json, { message: "token theft detected" });
    assert.equal(await Session.getSessionInformation(login.json.handle), undefined);
}

module.exports = {
    GRACE_SETUP,
    thefts,
    replayAfterGraceIsTheft,
    forgedTokenIsUnauthorised,
    staleTabGetsTheSuccessor,
    headerReplayIsTheft,
};
