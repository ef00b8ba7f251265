"use strict";
// A tiny "browser" for the tests: node's fetch plus a cookie jar (cookie transfer) or the
// SuperTokens frontend's header handling (header transfer). It does what supertokens-web-js would do,
// but nothing automatically: no auto-refresh and (unless asked) no anti-csrf header.

// No dependencies beyond node itself: e2e/node-15 uses this file too.

const assert = require("node:assert/strict");

// A JWT's header or payload, decoded without verification.
const decodeSegment = (token, i) => JSON.parse(Buffer.from(token.split(".")[i], "base64url").toString("utf8"));
const decodeJwt = (token) => decodeSegment(token, 1);
const decodeProtectedHeader = (token) => decodeSegment(token, 0);

// A response body as JSON, or undefined when it is not JSON.
function parseJson(text) {
    try {
        return JSON.parse(text);
    } catch (_) {
        return undefined;
    }
}

function parseSetCookie(line) {
    const parts = line.split(";").map((s) => s.trim());
    const eq = parts[0].indexOf("=");
    const c = { name: parts[0].slice(0, eq), value: decodeURIComponent(parts[0].slice(eq + 1)), path: "/", attrs: {} };
    for (const p of parts.slice(1)) {
        const i = p.indexOf("=");
        const k = (i < 0 ? p : p.slice(0, i)).toLowerCase();
        const v = i < 0 ? true : p.slice(i + 1);
        c.attrs[k] = v;
        if (k === "path") c.path = v;
    }
    let expired = false;
    if (c.attrs["max-age"] !== undefined && Number(c.attrs["max-age"]) <= 0) expired = true;
    if (c.attrs.expires !== undefined && Date.parse(c.attrs.expires) <= Date.now()) expired = true;
    c.expired = expired;
    return c;
}

class Browser {
    // mode: "cookie" (default) or "header"
    constructor(baseUrl, { mode = "cookie", autoAntiCsrf = false } = {}) {
        this.baseUrl = baseUrl;
        this.mode = mode;
        this.autoAntiCsrf = autoAntiCsrf;
        this.cookies = new Map(); // name → parsed cookie
        this.headerTokens = {}; // header mode: access, refresh
        this.frontToken = undefined;
        this.antiCsrf = undefined;
    }

    get accessToken() {
        return this.mode === "cookie" ? this.cookies.get("sAccessToken")?.value : this.headerTokens.access;
    }
    get refreshToken() {
        return this.mode === "cookie" ? this.cookies.get("sRefreshToken")?.value : this.headerTokens.refresh;
    }
    get accessPayload() {
        return decodeJwt(this.accessToken);
    }
    get accessHeader() {
        return decodeProtectedHeader(this.accessToken);
    }
    get frontTokenDecoded() {
        return this.frontToken ? JSON.parse(Buffer.from(this.frontToken, "base64").toString("utf8")) : undefined;
    }

    // Copy of the whole client state (a second tab, or tokens kept for a replay).
    snapshot() {
        return JSON.parse(
            JSON.stringify({
                cookies: [...this.cookies.entries()],
                headerTokens: this.headerTokens,
                frontToken: this.frontToken,
                antiCsrf: this.antiCsrf,
            })
        );
    }
    restore(s) {
        s = JSON.parse(JSON.stringify(s));
        this.cookies = new Map(s.cookies);
        this.headerTokens = s.headerTokens;
        this.frontToken = s.frontToken;
        this.antiCsrf = s.antiCsrf;
        return this;
    }
    clone() {
        const b = new Browser(this.baseUrl, { mode: this.mode, autoAntiCsrf: this.autoAntiCsrf });
        return b.restore(this.snapshot());
    }

    // opts: body (JSON), headers, antiCsrf (string to send, null to send none, undefined → per autoAntiCsrf)
    async request(method, path, opts = {}) {
        const headers = { ...(opts.headers || {}) };
        if (opts.body !== undefined) headers["content-type"] = "application/json";
        const isRefresh = path.startsWith("/auth/session/refresh");
        if (this.mode === "cookie") {
            const cookie = [...this.cookies.values()]
                .filter((c) => path.startsWith(c.path))
                .map((c) => `${c.name}=${encodeURIComponent(c.value)}`)
                .join("; ");
            if (cookie) headers.cookie = cookie;
            // What supertokens-web-js sends: without it the SDK's default for a new session is header transfer.
            headers["st-auth-mode"] = "cookie";
        } else {
            headers["st-auth-mode"] = "header";
            const tok = isRefresh ? this.headerTokens.refresh : this.headerTokens.access;
            if (tok) headers.authorization = `Bearer ${tok}`;
        }
        const anti = opts.antiCsrf !== undefined ? opts.antiCsrf : this.autoAntiCsrf ? this.antiCsrf : null;
        if (anti) headers["anti-csrf"] = anti;

        const res = await fetch(this.baseUrl + path, {
            method,
            headers,
            body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
            redirect: "manual",
        });
        this._absorb(res);
        const text = await res.text();
        return { status: res.status, headers: res.headers, setCookies: res.headers.getSetCookie(), text, json: parseJson(text) };
    }

    _absorb(res) {
        for (const line of res.headers.getSetCookie()) {
            const c = parseSetCookie(line);
            if (c.expired || c.value === "") this.cookies.delete(c.name);
            else this.cookies.set(c.name, c);
        }
        const at = res.headers.get("st-access-token");
        if (at !== null) {
            if (at === "") delete this.headerTokens.access;
            else this.headerTokens.access = at;
        }
        const rt = res.headers.get("st-refresh-token");
        if (rt !== null) {
            if (rt === "") delete this.headerTokens.refresh;
            else this.headerTokens.refresh = rt;
        }
        const ft = res.headers.get("front-token");
        if (ft !== null) this.frontToken = ft === "remove" ? undefined : ft;
        const ac = res.headers.get("anti-csrf");
        if (ac !== null) this.antiCsrf = ac === "remove" ? undefined : ac;
    }

    get(path, opts) {
        return this.request("GET", path, opts);
    }
    post(path, body, opts = {}) {
        return this.request("POST", path, { ...opts, body });
    }
    login(userId, payload, data, opts = {}) {
        return this.post("/login", { userId, payload, data, tenantId: opts.tenantId }, opts);
    }
    // The session cookies a cookie-transfer sign-in at t0 (Date.now()) set with its response r: both
    // there, HttpOnly, on their paths, the refresh cookie expiring with the core's default refresh-token
    // lifetime (100 days). Returns { at, rt }.
    assertSessionCookies(r, t0) {
        const at = this.cookies.get("sAccessToken");
        const rt = this.cookies.get("sRefreshToken");
        assert.ok(at && rt, `both cookies set: ${JSON.stringify(r.setCookies)}`);
        assert.equal(at.path, "/");
        assert.equal(rt.path, "/auth/session/refresh");
        assert.ok(at.attrs.httponly && rt.attrs.httponly, "cookies are HttpOnly");
        const rtExpiry = Date.parse(rt.attrs.expires);
        const days100 = 100 * 24 * 3600 * 1000;
        assert.ok(Math.abs(rtExpiry - (t0 + days100)) < 120000, `refresh cookie expires ${rt.attrs.expires} (100 days)`);
        return { at, rt };
    }
    // login(...), which must answer 200: [this browser, the login response].
    async signIn(...args) {
        const r = await this.login(...args);
        ok(r, "login");
        return [this, r];
    }
    refresh(opts) {
        return this.request("POST", "/auth/session/refresh", opts);
    }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A fresh user id (prefix, process, random), so test files never see each other's sessions.
const uid = (p) => `${p}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

// Assert that a response of Browser (or any { status, text }) is 200, saying what was asked.
const ok = (r, what) => assert.equal(r.status, 200, `${what}: HTTP ${r.status} ${r.text}`);

module.exports = { Browser, parseSetCookie, parseJson, sleep, uid, ok };
