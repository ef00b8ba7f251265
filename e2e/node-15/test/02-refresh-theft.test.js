"use strict";
// Refresh-token reuse through supertokens-node 15.2.3. Own sessiond with --refresh-grace 2: within
// the grace window sessiond hands any superseded refresh token the current successor (a retried
// request, a stale tab), so a replay is theft only after it.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const Session = require("supertokens-node/recipe/session");
const { Browser, uid, ok } = require("../../node/lib/client");
const cases = require("../../node/lib/refresh-cases");

const ctx = setup(cases.GRACE_SETUP);
const thefts = () => cases.thefts(ctx);

describe("supertokens-node 15.2.3: refresh-token reuse (own sessiond: --refresh-grace 2)", () => {
    test("replaying a superseded refresh token after the grace window: theft, 401, the session is revoked", () =>
        cases.replayAfterGraceIsTheft(ctx, Session, (payload, { userId, handle }) =>
            assert.deepEqual(payload, { userId, sessionHandle: handle }, "15.2.3's theft payload, from sessiond's answer")
        ));

    test("within the grace window, a stale tab's refresh token gets the current successor, not theft", () => cases.staleTabGetsTheSuccessor(ctx));

    test("two tabs refreshing the same token at once both succeed with one successor", async () => {
        const userId = uid("tabs");
        const [tab1, login] = await new Browser(ctx.app.url).signIn(userId);
        const tab2 = tab1.clone();
        const rt0 = tab1.refreshToken;
        const theftsBefore = thefts().length;
        const [r1, r2] = await Promise.all([tab1.refresh(), tab2.refresh()]);
        ok(r1, "tab 1 refresh");
        ok(r2, "tab 2 refresh");
        assert.notEqual(tab1.refreshToken, rt0, "rotated");
        assert.equal(tab1.refreshToken, tab2.refreshToken, "one successor");
        ok(await tab1.get("/me-checked"), "tab 1");
        ok(await tab2.get("/me-checked"), "tab 2");
        assert.equal(thefts().length, theftsBefore);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [login.json.handle]);
    });

    test("a refresh token that was never issued is unauthorised, not theft", () => cases.forgedTokenIsUnauthorised(ctx));

    test("header transfer: replaying a superseded refresh token after the grace window is theft as well", () => cases.headerReplayIsTheft(ctx, Session));

    compatibilityCheck(ctx);
});
