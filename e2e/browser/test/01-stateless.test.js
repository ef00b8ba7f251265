// Stateless cookie sessions (seed 003) in a real browser: the sessiond demo app in Chromium,
// with the production cookie defaults (Secure, __Host- prefix), which Chromium accepts on
// http://localhost.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const jose = require("jose");

const { startDemo } = require("../lib/demo");
const { launch, cookieMap, signIn, pageFetch, sleep } = require("../lib/browser");

const COOKIE = "__Host-user_session";
const ADMIN_COOKIE = "__Host-admin_session";

let browser;
let demo;

before(async () => {
  browser = await launch();
  demo = await startDemo([], { name: "stateless" });
});

after(async () => {
  await demo?.stop();
  await browser?.close();
});

async function newPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  return { context, page };
}

test("login sets an HttpOnly, Secure, SameSite=Lax, __Host- cookie that scripts cannot see", async () => {
  const { context, page } = await newPage();
  await signIn(page, demo.url, "bob", "bob-pw");
  const c = (await cookieMap(context, demo.url))[COOKIE];
  assert.ok(c, "the session cookie is set");
  assert.equal(c.httpOnly, true);
  assert.equal(c.secure, true);
  assert.equal(c.sameSite, "Lax");
  assert.equal(c.path, "/");
  assert.equal(c.domain, "localhost", "host-only: no Domain attribute");
  assert.ok(c.expires > Date.now() / 1000 + 6 * 86400, "kept for the 7-day absolute lifetime");
  assert.equal(await page.evaluate(() => document.cookie), "", "document.cookie cannot see it");
  assert.equal(await page.textContent("#user"), "bob");
  assert.equal(await page.textContent("#theme"), "light");
  await context.close();
});

test("a wrong password is 401 and sets no cookie", async () => {
  const { context, page } = await newPage();
  await page.goto(`${demo.url}/login`);
  await page.fill("#login input[name=user]", "bob");
  await page.fill("#login input[name=password]", "nope");
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${demo.url}/login` && r.request().method() === "POST"),
    page.click("#login button"),
  ]);
  assert.equal(resp.status(), 401);
  assert.deepEqual(await context.cookies(demo.url), []);
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(page.url(), `${demo.url}/login`, "no session: redirected to /login");
  await context.close();
});

test("prefs deep-merge, /api/me reports the PayloadInterface, clear keeps an empty cookie", async () => {
  const { context, page } = await newPage();
  await signIn(page, demo.url, "carol", "carol-pw");
  let r = await pageFetch(page, "/api/prefs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ theme: "dark" }),
  });
  assert.equal(r.status, 200);
  r = await pageFetch(page, "/api/prefs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prefs: { font: "mono", lang: null } }),
  });
  assert.equal(r.status, 200);
  const me = await pageFetch(page, "/api/me");
  assert.equal(me.status, 200);
  assert.deepEqual(me.body.payload, { userId: "carol", role: "user", prefs: { theme: "dark", font: "mono" } });
  assert.equal(me.body.expired, false);
  assert.equal(me.body.error, null);
  assert.equal(typeof me.body.exp, "number");
  assert.equal(typeof me.body.iat, "number");
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(await page.textContent("#theme"), "dark");

  r = await pageFetch(page, "/api/clear", { method: "POST" });
  assert.equal(r.status, 200);
  assert.ok((await cookieMap(context, demo.url))[COOKIE], "the cookie stays");
  const cleared = await pageFetch(page, "/api/me");
  assert.deepEqual(cleared.body.payload, {});
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(page.url(), `${demo.url}/login`, "an empty session is not signed in");
  await context.close();
});

test("logout deletes the cookie", async () => {
  const { context, page } = await newPage();
  await signIn(page, demo.url, "bob", "bob-pw");
  await Promise.all([page.waitForURL(`${demo.url}/`), page.click("#logout")]);
  assert.equal((await cookieMap(context, demo.url))[COOKIE], undefined);
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(page.url(), `${demo.url}/login`);
  await context.close();
});

test("a tampered cookie is no session", async () => {
  const { context, page } = await newPage();
  await signIn(page, demo.url, "bob", "bob-pw");
  const c = (await cookieMap(context, demo.url))[COOKIE];
  const v = c.value.split("");
  const i = v.length - 40;
  v[i] = v[i] === "A" ? "B" : "A";
  await context.addCookies([{ ...c, value: v.join("") }]);
  const me = await pageFetch(page, "/api/me");
  assert.equal(me.status, 401);
  assert.equal(me.body.error, "TOKEN_TAMPERED");
  assert.equal(me.body.payload, null);
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(page.url(), `${demo.url}/login`);
  await context.close();
});

test("a form posted from another origin on the same host gets 403 and changes nothing", async () => {
  // The attacker's page: another port on the same host (same site, other origin), so
  // SameSite=Lax still sends the cookie and only the Origin check stops it.
  const evil = http.createServer((req, res) => {
    res.setHeader("content-type", "text/html");
    const target = req.url === "/prefs" ? "/api/clear" : "/logout";
    res.end(`<!doctype html><form id="f" method="post" action="${demo.url}${target}">
      <input name="theme" value="pwned"></form><script>document.getElementById("f").submit()</script>`);
  });
  await new Promise((r) => evil.listen(0, "127.0.0.1", r));
  const evilUrl = `http://localhost:${evil.address().port}`;
  try {
    const { context, page } = await newPage();
    await signIn(page, demo.url, "bob", "bob-pw");
    const before = (await cookieMap(context, demo.url))[COOKIE].value;
    for (const path of ["/logout", "/prefs"]) {
      const attacker = await context.newPage();
      const [resp] = await Promise.all([
        attacker.waitForResponse((r) => r.url().startsWith(demo.url) && r.request().method() === "POST"),
        attacker.goto(`${evilUrl}${path}`),
      ]);
      assert.equal(resp.status(), 403, `${path}: refused`);
      const headers = resp.request().headers();
      assert.equal(headers.origin, evilUrl, "the browser sent the attacker's origin");
      assert.match(await resp.text(), /CROSS_ORIGIN_REQUEST/);
      await attacker.close();
    }
    const after = (await cookieMap(context, demo.url))[COOKIE];
    assert.equal(after.value, before, "the cookie is unchanged");
    const me = await pageFetch(page, "/api/me");
    assert.equal(me.body.payload.userId, "bob");
    await context.close();
  } finally {
    evil.close();
  }
});

test("both named sessions coexist", async () => {
  const { context, page } = await newPage();
  await signIn(page, demo.url, "alice", "alice-pw");
  await page.goto(`${demo.url}/login`);
  await page.fill("#admin-login input[name=user]", "alice");
  await page.fill("#admin-login input[name=password]", "alice-pw");
  await Promise.all([page.waitForURL(`${demo.url}/admin`), page.click("#admin-login button")]);
  const jar = await cookieMap(context, demo.url);
  assert.ok(jar[COOKIE] && jar[ADMIN_COOKIE], "both cookies");
  assert.ok(jar[ADMIN_COOKIE].expires < jar[COOKIE].expires + 1, "each with its own settings");
  assert.equal(await page.textContent("#admin"), "alice");
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(await page.textContent("#user"), "alice");
  await context.close();
});

test("an independent JOSE library holding the key reads the cookie; its forged and expired tokens are refused", async () => {
  const { context, page } = await newPage();
  await signIn(page, demo.url, "bob", "bob-pw");
  const cookie = (await cookieMap(context, demo.url))[COOKIE];
  const key = Buffer.from(demo.key, "base64url");
  const header = jose.decodeProtectedHeader(cookie.value);
  assert.deepEqual(Object.keys(header).sort(), ["alg", "enc", "kid"]);
  assert.equal(header.alg, "dir");
  assert.equal(header.enc, "A256GCM");
  const { payload } = await jose.jwtDecrypt(cookie.value, key);
  assert.equal(payload.userId, "bob");
  assert.deepEqual(payload.prefs, { theme: "light", lang: "en" });
  assert.ok(payload.exp > payload.iat && payload.auth_time <= payload.iat);
  const forged = await new jose.EncryptJWT({ ...payload, role: "admin" })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: header.kid })
    .encrypt(new Uint8Array(32).fill(7));
  const now = Math.floor(Date.now() / 1000);
  const expired = await new jose.EncryptJWT({
    ...payload,
    iat: now - 8 * 86400,
    exp: now - 8 * 86400 + 1800,
    auth_time: now - 8 * 86400,
  })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: header.kid })
    .encrypt(key);
  const minted = await new jose.EncryptJWT({ ...payload, role: "minted" })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: header.kid })
    .encrypt(key);
  const withValue = async (value) => {
    await context.addCookies([{ ...cookie, value }]);
    return pageFetch(page, "/api/me");
  };
  let me = await withValue(forged);
  assert.equal(me.status, 401, "another key");
  assert.notEqual(me.body.error, null);
  me = await withValue(expired);
  assert.equal(me.status, 401, "expired");
  assert.equal(me.body.expired, true);
  await page.goto(`${demo.url}/dashboard`);
  assert.equal(page.url(), `${demo.url}/login`, "past the absolute lifetime: no refresh");
  me = await withValue(minted);
  assert.equal(me.status, 200, "a token the key holder minted is a standard JWE");
  assert.equal(me.body.payload.role, "minted");
  await context.close();
});

test("signed mode: the payload is a JWS any JOSE library verifies with the key", async () => {
  const signed = await startDemo(["--signed"], { name: "signed" });
  try {
    const { context, page } = await newPage();
    await signIn(page, signed.url, "bob", "bob-pw");
    const cookie = (await cookieMap(context, signed.url))[COOKIE];
    const { payload, protectedHeader } = await jose.jwtVerify(cookie.value, Buffer.from(signed.key, "base64url"));
    assert.equal(protectedHeader.alg, "HS256");
    assert.equal(payload.userId, "bob");
    await context.close();
  } finally {
    await signed.stop();
  }
});

test("expired sessions are refreshed by the callback within the absolute lifetime, not after it; disabled users go to /login", async () => {
  // Tokens live 2 s, sessions 12 s (times in tokens are whole seconds). The steps before the
  // last refresh take about 6 s; the margin keeps a busy machine from ending bob's session early.
  const short = await startDemo(["--expires-in", "2", "--absolute-lifetime", "12"], { name: "short" });
  try {
    const bob = await newPage();
    const carol = await newPage();
    const admin = await newPage();
    await signIn(bob.page, short.url, "bob", "bob-pw");
    const bobSignedIn = Date.now(); // bob's session started before this
    await signIn(carol.page, short.url, "carol", "carol-pw");
    const first = (await cookieMap(bob.context, short.url))[COOKIE].value;

    await sleep(2300);
    let me = await pageFetch(bob.page, "/api/me");
    assert.equal(me.status, 401);
    assert.equal(me.body.expired, true, "expired, and /api/me does not refresh");
    await bob.page.goto(`${short.url}/dashboard`);
    assert.equal(bob.page.url(), `${short.url}/dashboard`, "the dashboard refreshed it");
    const second = (await cookieMap(bob.context, short.url))[COOKIE].value;
    assert.notEqual(second, first, "a new cookie");
    me = await pageFetch(bob.page, "/api/me");
    assert.equal(me.status, 200);

    // The administrator disables carol; she keeps her token until it expires.
    await admin.page.goto(`${short.url}/login`);
    await admin.page.fill("#admin-login input[name=user]", "alice");
    await admin.page.fill("#admin-login input[name=password]", "alice-pw");
    await Promise.all([admin.page.waitForURL(`${short.url}/admin`), admin.page.click("#admin-login button")]);
    await carol.page.goto(`${short.url}/dashboard`);
    await Promise.all([admin.page.waitForURL(`${short.url}/admin`), admin.page.click("#disable-carol")]);
    assert.match(await admin.page.content(), /carol \(user\) disabled/);
    await sleep(2300);
    await carol.page.goto(`${short.url}/dashboard`);
    assert.equal(carol.page.url(), `${short.url}/login`, "disabled: sent to /login at the next refresh");

    // bob keeps refreshing until the absolute lifetime, then no more.
    await bob.page.goto(`${short.url}/dashboard`);
    assert.equal(bob.page.url(), `${short.url}/dashboard`);
    assert.ok(Date.now() - bobSignedIn < 11000, "the last refresh came well inside the lifetime");
    await sleep(Math.max(0, bobSignedIn + 12000 + 1500 - Date.now()));
    await bob.page.goto(`${short.url}/dashboard`);
    assert.equal(bob.page.url(), `${short.url}/login`, "past the absolute lifetime");
    for (const p of [bob, carol, admin]) await p.context.close();
  } finally {
    await short.stop();
  }
});
