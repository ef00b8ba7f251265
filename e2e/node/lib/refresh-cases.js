"use strict";
// Refresh-token scenarios that read the same through any supertokens-node: both suites' 02-refresh-theft
// files run them (each under its own test title) against an app set up with
// `setup({ sessiond: { args: ["--refresh-grace", String(GRACE_S)] } })`. Within the grace window
// sessiond hands any superseded refresh token the current successor (a retried request, a stale tab),
// so a replay is theft only after it.
//
// No dependencies beyond node itself; `Session` is the caller's supertokens-node/recipe/session.

const assert = require("node:assert/strict");
const { Browser, sleep, uid, ok } = require("./client");

const GRACE_S = 2;
const pastGrace = () => sleep(GRACE_S * 1000 + 300);
const thefts = (ctx) => ctx.app.events.filter((e) => e.kind === "TOKEN_THEFT_DETECTED");

// Within the grace window, a token two generations old gets the current successor, not theft.
async function staleTabGetsTheSuccessor(ctx) {
    const b = new Browser(ctx.app.url);
    const login = await b.login(uid("stale-tab"));
    ok(login, "login");
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
    const b = new Browser(ctx.app.url, { mode: "header" });
    const login = await b.login(uid("hdr-theft"));
    ok(login, "login");
    const stolen = b.snapshot();
    ok(await b.refresh(), "refresh 1");
    ok(await b.refresh(), "refresh 2");
    await pastGrace();
    const r = await new Browser(ctx.app.url, { mode: "header" }).restore(stolen).refresh();
    assert.equal(r.status, 401, r.text);
    assert.deepEqual(r.json, { message: "token theft detected" });
    assert.equal(await Session.getSessionInformation(login.json.handle), undefined);
}

module.exports = { GRACE_S, pastGrace, thefts, staleTabGetsTheSuccessor, headerReplayIsTheft };
