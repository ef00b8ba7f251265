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
const { GRACE_S, pastGrace } = cases;

const ctx = setup({ sessiond: { args: ["--refresh-grace", String(GRACE_S)] } });
const thefts = () => cases.thefts(ctx);

describe("supertokens-node 15.2.3: refresh-token reuse (own sessiond: --refresh-grace 2)", () => {
    test("replaying a superseded refresh token after the grace window: theft, 401, the session is revoked", async () => {
        const userId = uid("victim");
        const b = new Browser(ctx.app.url);
        const login = await b.login(userId);
        ok(login, "login");
        const handle = login.json.handle;
        const stolen = b.snapshot(); // the first refresh token, copied by an attacker
        ok(await b.refresh(), "refresh 1");
        ok(await b.get("/me"), "/me after refresh 1");
        ok(await b.refresh(), "refresh 2");
        ok(await b.get("/me-checked"), "/me-checked after refresh 2");
        const theftsBefore = thefts().length;
        await pastGrace();

        const attacker = new Browser(ctx.app.url).restore(stolen);
        const r = await attacker.refresh();
        assert.equal(r.status, 401, r.text);
        assert.deepEqual(r.json, { message: "token theft detected" });
        assert.equal(attacker.refreshToken, undefined, "the SDK cleared the attacker's cookies");
        const t = thefts().slice(theftsBefore);
        assert.equal(t.length, 1, "the SDK raised TOKEN_THEFT_DETECTED once");
        assert.deepEqual(t[0].payload, { userId, sessionHandle: handle }, "15.2.3's theft payload, from sessiond's answer");

        // The SDK's theft handler revoked the session: gone for the legitimate client too.
        assert.equal(await Session.getSessionInformation(handle), undefined);
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), []);
        assert.equal((await b.clone().get("/me-checked")).status, 401);
        const victimRefresh = await b.clone().refresh();
        assert.equal(victimRefresh.status, 401, victimRefresh.text);
        assert.deepEqual(victimRefresh.json, { message: "unauthorised" });
    });

    test("within the grace window, a stale tab's refresh token gets the current successor, not theft", () => cases.staleTabGetsTheSuccessor(ctx));

    test("two tabs refreshing the same token at once both succeed with one successor", async () => {
        const userId = uid("tabs");
        const tab1 = new Browser(ctx.app.url);
        const login = await tab1.login(userId);
        ok(login, "login");
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

    test("a refresh token that was never issued is unauthorised, not theft", async () => {
        const b = new Browser(ctx.app.url);
        ok(await b.login(uid("forged")), "login");
        const rt = b.cookies.get("sRefreshToken");
        const i = Math.floor(rt.value.length / 2);
        rt.value = rt.value.slice(0, i) + (rt.value[i] === "A" ? "B" : "A") + rt.value.slice(i + 1);
        const theftsBefore = thefts().length;
        const r = await b.refresh();
        assert.equal(r.status, 401, r.text);
        assert.deepEqual(r.json, { message: "unauthorised" });
        assert.equal(thefts().length, theftsBefore);
    });

    test("header transfer: replaying a superseded refresh token after the grace window is theft as well", () => cases.headerReplayIsTheft(ctx, Session));

    compatibilityCheck(ctx);
});
