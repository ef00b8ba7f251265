// Server-backed sessions in a real browser: the unmodified SuperTokens frontend SDK
// (supertokens-web-js 0.16, its bundle/ scripts) on a website origin calling the demo's API on
// another port, with sessions kept in process (embedded, SQLite) or by a sessiond service
// (remote). Access tokens live 2 s and the refresh grace window is 1 s, so refreshes and theft
// happen within the test.
"use strict";

const { describe, test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { startDemo } = require("../lib/demo");
const { startSessiond } = require("../lib/sessiond");
const { startWebsite } = require("../lib/website");
const { launch, sleep } = require("../lib/browser");

const TTL = ["--access-token-ttl", "2", "--refresh-grace", "1"];

for (const backend of ["embedded", "remote"]) {
  describe(`server-backed sessions, ${backend}`, () => {
    let browser, sd, demo, site, csrfDemo;

    async function startDemoFor(extra, name) {
      if (backend === "embedded") {
        return startDemo(
          ["--sessions", "embedded", "--store", sd.store, "--algorithm", "EdDSA", ...TTL, "--website-origin", site.url, ...extra],
          { name },
        );
      }
      return startDemo(
        ["--sessions", "remote", "--sessiond-url", sd.url, "--sessiond-api-key", sd.apiKey, "--website-origin", site.url, ...extra],
        { name },
      );
    }

    before(async () => {
      browser = await launch();
      site = await startWebsite();
      if (backend === "embedded") {
        // The demo keeps sessions itself; a sessiond on the same SQLite file lets the CLI reach them.
        const dir = fs.mkdtempSync(path.join(process.env.E2E_WORK_DIR || os.tmpdir(), "demo-"));
        const store = `sqlite://${path.join(dir, "demo.db")}`;
        demo = null;
        sd = { store };
        demo = await startDemoFor([], "embedded");
        Object.assign(sd, await startSessiond({ store, args: ["--algorithm", "EdDSA", ...TTL] }), { store });
      } else {
        sd = await startSessiond({ args: TTL });
        demo = await startDemoFor([], "remote");
      }
      csrfDemo = await startDemoFor(["--anti-csrf", "via-token"], `${backend}-via-token`);
    });

    after(async () => {
      await csrfDemo?.stop();
      await demo?.stop();
      await sd?.stop?.();
      await site?.stop();
      await browser?.close();
    });

    /** A page of the website, loaded with the SDK and pointed at `api`. */
    async function openApp(context, { api = demo.url, mode = "cookie" } = {}) {
      site.setApi(api);
      const page = await context.newPage();
      await page.goto(`${site.url}/app/?api=${encodeURIComponent(api)}&mode=${mode}`);
      await page.waitForFunction(() => window.demo !== undefined);
      return page;
    }

    async function signedIn(user, password, opts = {}) {
      const context = await browser.newContext();
      const page = await openApp(context, opts);
      const r = await page.evaluate(([u, p]) => demo.signIn(u, p), [user, password]);
      assert.equal(r.status, 200);
      assert.equal(r.body.status, "OK", JSON.stringify(r.body));
      return { context, page };
    }

    const call = (page, method, p, body) => page.evaluate(([m, q, b]) => demo.call(m, q, b), [method, p, body]);

    test("sign-in sets the cookies with their attributes and exposes front-token", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      const all = await context.cookies();
      const access = all.find((c) => c.name === "sAccessToken");
      const refresh = all.find((c) => c.name === "sRefreshToken");
      assert.ok(access && refresh, JSON.stringify(all.map((c) => c.name)));
      for (const c of [access, refresh]) {
        assert.equal(c.httpOnly, true);
        assert.equal(c.secure, true);
        assert.equal(c.sameSite, "Lax");
        assert.equal(c.domain, "localhost");
      }
      assert.equal(access.path, "/");
      assert.equal(refresh.path, "/auth/session/refresh");
      // The SDK read the exposed front-token across origins and keeps it on the website.
      assert.match(await page.evaluate(() => document.cookie), /sFrontToken=/);
      assert.doesNotMatch(await page.evaluate(() => document.cookie), /sAccessToken/);
      assert.equal(await page.evaluate(() => demo.exists()), true);
      const payload = await page.evaluate(() => demo.payload());
      assert.equal(payload.role, "user");
      assert.equal(payload.sub, "bob");
      const me = await call(page, "GET", "/api/me");
      assert.equal(me.status, 200);
      assert.equal(me.body.userId, "bob");
      assert.equal(me.body.accessTokenPayload.role, "user");
      await context.close();
    });

    test("an expired access token is refreshed by the SDK and the call succeeds", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      const refreshes = [];
      page.on("response", (r) => r.url().endsWith("/auth/session/refresh") && refreshes.push(r.status()));
      const before = (await context.cookies()).find((c) => c.name === "sAccessToken").value;
      await sleep(2600);
      const me = await call(page, "GET", "/api/me");
      assert.equal(me.status, 200);
      assert.ok(refreshes.includes(200), `refreshed: ${refreshes}`);
      const after = (await context.cookies()).find((c) => c.name === "sAccessToken").value;
      assert.notEqual(after, before);
      await context.close();
    });

    test("two tabs refreshing at once end with one session and no theft", async () => {
      const { context, page } = await signedIn("carol", "carol-pw");
      const other = await openApp(context);
      await sleep(2600);
      const [a, b] = await Promise.all([call(page, "GET", "/api/me"), call(other, "GET", "/api/me")]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const strict = await call(page, "GET", "/api/me/strict");
      assert.equal(strict.status, 200, "the session was not revoked");
      const devices = await call(page, "GET", "/api/sessions");
      assert.equal(devices.body.sessions.filter((s) => s.current).length, 1);
      await context.close();
    });

    test("a refresh token replayed from outside the browser after rotation is theft; the browser is signed out", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      const old = (await context.cookies()).find((c) => c.name === "sRefreshToken").value;
      await sleep(2600);
      assert.equal((await call(page, "GET", "/api/me")).status, 200, "the browser rotated its refresh token");
      await sleep(1300); // past the 1 s grace window
      const replay = await fetch(`${demo.url}/auth/session/refresh`, {
        method: "POST",
        headers: { cookie: `sRefreshToken=${old}`, rid: "session" },
      });
      assert.equal(replay.status, 401);
      assert.deepEqual(await replay.json(), { message: "token theft detected" });
      assert.equal(replay.headers.get("front-token"), "remove");
      const strict = await call(page, "GET", "/api/me/strict");
      assert.equal(strict.status, 401);
      assert.equal(await page.evaluate(() => demo.exists()), false, "signed out");
      await context.close();
    });

    test("revoking the session with the sessiond CLI: the next store-checked call is 401 with front-token: remove", async () => {
      const { context, page } = await signedIn("carol", "carol-pw");
      const handle = (await call(page, "GET", "/api/me")).body.sessionHandle;
      const cli = await sd.cli(["session", "delete", handle]);
      assert.equal(cli.code, 0, cli.stderr);
      // Wait for the response itself: reading its headers in a "response" listener raced the assertion.
      const strictResponse = page.waitForResponse((r) => r.url().endsWith("/api/me/strict"));
      const strict = await call(page, "GET", "/api/me/strict");
      assert.equal(strict.status, 401);
      const r = await strictResponse;
      assert.deepEqual([r.status(), (await r.allHeaders())["front-token"]], [401, "remove"]);
      assert.equal(await page.evaluate(() => demo.exists()), false);
      await context.close();
    });

    test("an invalid claim is 403", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      const r = await call(page, "GET", "/api/admin");
      assert.equal(r.status, 403);
      assert.equal(r.body.message, "invalid claim");
      assert.deepEqual(r.body.claimValidationErrors, [
        { id: "role", reason: { message: "wrong value", expectedValue: "admin", actualValue: "user" } },
      ]);
      await context.close();
      const admin = await signedIn("alice", "alice-pw");
      assert.equal((await call(admin.page, "GET", "/api/admin")).status, 200);
      await admin.context.close();
    });

    test("merging into the access-token payload reaches the SDK", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      const r = await call(page, "POST", "/api/me/payload", { theme: "dark" });
      assert.equal(r.status, 200);
      assert.equal(r.body.accessTokenPayload.theme, "dark");
      assert.equal((await page.evaluate(() => demo.payload())).theme, "dark");
      await context.close();
    });

    test("VIA_CUSTOM_HEADER refuses a request without the header", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      // `superTokensDoNotDoInterception` makes the SDK leave the request alone: no `rid`.
      const raw = await page.evaluate(async (api) => {
        const r = await fetch(`${api}/api/me/payload?superTokensDoNotDoInterception`, {
          method: "POST",
          credentials: "include",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        return { status: r.status, body: await r.json() };
      }, demo.url);
      assert.equal(raw.status, 401);
      assert.deepEqual(raw.body, { message: "try refresh token" });
      assert.equal((await call(page, "POST", "/api/me/payload", {})).status, 200, "the SDK sends rid");
      await context.close();
    });

    test("VIA_TOKEN refuses a request without the anti-csrf token", async () => {
      const context = await browser.newContext();
      const page = await openApp(context, { api: csrfDemo.url });
      const signIn = await page.evaluate(() => demo.signIn("bob", "bob-pw"));
      assert.equal(signIn.body.status, "OK");
      const raw = await page.evaluate(async (api) => {
        const r = await fetch(`${api}/api/me/payload?superTokensDoNotDoInterception`, {
          method: "POST",
          credentials: "include",
          headers: { "content-type": "application/json", rid: "anti-csrf" },
          body: "{}",
        });
        return { status: r.status, body: await r.json() };
      }, csrfDemo.url);
      assert.equal(raw.status, 401);
      assert.deepEqual(raw.body, { message: "try refresh token" });
      const ok = await call(page, "POST", "/api/me/payload", {});
      assert.equal(ok.status, 200, "the SDK echoes the anti-csrf token");
      assert.match(await page.evaluate(() => document.cookie), /sAntiCsrf=/);
      await context.close();
    });

    test("header mode works end to end", async () => {
      const { context, page } = await signedIn("carol", "carol-pw", { mode: "header" });
      const names = (await context.cookies()).map((c) => c.name);
      assert.ok(!names.includes("sAccessToken"), `no session cookies: ${names}`);
      const jar = await page.evaluate(() => document.cookie);
      assert.match(jar, /st-access-token=/);
      assert.match(jar, /st-refresh-token=/);
      assert.equal((await call(page, "GET", "/api/me")).body.userId, "carol");
      await sleep(2600);
      assert.equal((await call(page, "GET", "/api/me/strict")).status, 200, "refreshed in header mode");
      await page.evaluate(() => demo.signOut());
      assert.equal(await page.evaluate(() => demo.exists()), false);
      assert.doesNotMatch(await page.evaluate(() => document.cookie), /st-access-token=[^;]/);
      await context.close();
    });

    test("sign-out clears everything", async () => {
      const { context, page } = await signedIn("bob", "bob-pw");
      await page.evaluate(() => demo.signOut());
      const session = ["sAccessToken", "sRefreshToken", "sFrontToken", "sAntiCsrf", "st-access-token", "st-refresh-token"];
      const left = (await context.cookies()).filter((c) => session.includes(c.name) && c.value !== "");
      assert.deepEqual(left.map((c) => c.name), [], "no session cookie left");
      assert.doesNotMatch(await page.evaluate(() => document.cookie), /sFrontToken=/);
      assert.equal(await page.evaluate(() => demo.exists()), false);
      assert.equal((await call(page, "GET", "/api/me")).status, 401);
      await context.close();
    });

    test("sign out other devices ends the other browser context's session", async () => {
      const laptop = await signedIn("alice", "alice-pw");
      const phone = await signedIn("alice", "alice-pw");
      const list = await call(laptop.page, "GET", "/api/sessions");
      assert.ok(list.body.sessions.length >= 2);
      const mine = list.body.sessions.find((s) => s.current);
      assert.match(mine.userAgent, /Chrome/);
      assert.equal(mine.ip, "127.0.0.1");
      const r = await call(laptop.page, "POST", "/api/sessions/revoke-others");
      assert.ok(r.body.revoked.length >= 1);
      assert.equal((await call(phone.page, "GET", "/api/me/strict")).status, 401);
      assert.equal(await phone.page.evaluate(() => demo.exists()), false);
      assert.equal((await call(laptop.page, "GET", "/api/me/strict")).status, 200);
      await laptop.context.close();
      await phone.context.close();
    });
  });
}
