"use strict";
// Refresh-token rotation: theft detection on replay, and concurrent refreshes ("two tabs").
// Own sessiond with --refresh-grace 2: within the grace window sessiond hands every superseded refresh
// token the current successor (a retry or a stale tab), so a replay is theft only after it.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const Session = require("supertokens-node/recipe/session");
const { Browser, uid, ok } = require("../lib/client");
const cases = require("../lib/refresh-cases");

const ctx = setup(cases.GRACE_SETUP);
const thefts = () => cases.thefts(ctx);

describe("refresh-token rotation: theft detection and concurrent refreshes (own sessiond: --refresh-grace 2)", () => {
    test("replaying an old refresh token after refreshes: the SDK reports token theft and the session is gone", () =>
        cases.replayAfterGraceIsTheft(ctx, Session, (payload, { userId, handle }) => {
            assert.equal(payload.sessionHandle, handle);
            assert.equal(payload.userId, userId);
            assert.equal(payload.recipeUserId.getAsString(), userId);
        }));

    test("within the grace window, a token two generations old gets the current successor, not theft", () => cases.staleTabGetsTheSuccessor(ctx));

    test("a refresh token that was never issued is UNAUTHORISED, not theft", () => cases.forgedTokenIsUnauthorised(ctx));

    test("two tabs refreshing concurrently with the same refresh token both succeed, no theft", async () => {
        const userId = uid("tabs");
        const [tab1, login] = await new Browser(ctx.app.url).signIn(userId, { tabs: 2 });
        const tab2 = tab1.clone(); // same cookie jar contents, as two tabs of one browser
        const rt0 = tab1.refreshToken;
        const theftsBefore = thefts().length;

        const [r1, r2] = await Promise.all([tab1.refresh(), tab2.refresh()]);
        ok(r1, "tab 1 refresh");
        ok(r2, "tab 2 refresh");
        assert.equal(tab1.refreshToken, tab2.refreshToken, "both got the same successor refresh token");
        assert.notEqual(tab1.refreshToken, rt0, "rotated");
        assert.equal(thefts().length, theftsBefore, "no theft detected");

        for (const [name, tab] of [["tab 1", tab1], ["tab 2", tab2]]) {
            const me = await tab.get("/me");
            ok(me, `${name} /me`);
            assert.equal(me.json.handle, login.json.handle);
            ok(await tab.get("/me-checked"), `${name} /me-checked`);
        }

        // The rotation continues normally from the shared successor ...
        ok(await tab1.refresh(), "tab 1 refreshes again");
        // ... and the other tab, still holding that successor (now the parent), retries within the grace window.
        ok(await tab2.refresh(), "tab 2 refreshes the parent within the grace window");
        assert.equal(tab2.refreshToken, tab1.refreshToken, "same successor again");
        ok(await tab1.get("/me-checked"), "tab 1 still signed in");
        ok(await tab2.get("/me-checked"), "tab 2 still signed in");
        assert.equal(thefts().length, theftsBefore, "still no theft");
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [login.json.handle]);
    });

    test("many concurrent refreshes of one token (four tabs) all succeed with one successor", async () => {
        const [tab, login] = await new Browser(ctx.app.url).signIn(uid("tabs4"));
        const tabs = [tab, tab.clone(), tab.clone(), tab.clone()];
        const theftsBefore = thefts().length;
        const rs = await Promise.all(tabs.map((t) => t.refresh()));
        rs.forEach((r, i) => ok(r, `tab ${i} refresh`));
        assert.equal(new Set(tabs.map((t) => t.refreshToken)).size, 1, "one successor");
        assert.equal(thefts().length, theftsBefore);
        for (const t of tabs) ok(await t.get("/me-checked"), "/me-checked");
    });

    test("header transfer: replaying an old refresh token is theft as well", () => cases.headerReplayIsTheft(ctx, Session));

    compatibilityCheck(ctx);
});
