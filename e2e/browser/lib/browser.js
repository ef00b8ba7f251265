// Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work on
// these machines).
"use strict";

const { chromium } = require("playwright-core");

const EXECUTABLE = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Launches headless Chromium with the flags a sandboxed, offline machine needs. */
async function launch() {
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** The cookies of `context` for `url`, by name. */
async function cookieMap(context, url) {
  const out = {};
  for (const c of await context.cookies(url)) out[c.name] = c;
  return out;
}

/** Signs in through the demo's /login form; resolves once the browser is on the dashboard. */
async function signIn(page, base, user, password) {
  await page.goto(`${base}/login`);
  await page.fill("#login input[name=user]", user);
  await page.fill("#login input[name=password]", password);
  await Promise.all([page.waitForURL(`${base}/dashboard`), page.click("#login button")]);
}

/** fetch() from inside the page (same origin, cookies included); resolves to {status, body}. */
async function pageFetch(page, path, init = {}) {
  return page.evaluate(
    async ([p, i]) => {
      const r = await fetch(p, { credentials: "same-origin", ...i });
      const text = await r.text();
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: r.status, body };
    },
    [path, init],
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { launch, cookieMap, signIn, pageFetch, sleep };
