"use strict";
// What goes over the wire, recorded by a forwarding proxy between the SDK and (shared) sessiond, with
// a connectionURI that has a base path (http://proxy/appid-<appId>). The SDK never adds the app id
// itself, so every core call, including the JWKS fetch for local verification, must go below that path.

const { setup, compatibilityCheck } = require("../lib/suite");
const assert = require("node:assert/strict");
const { describe, test } = require("node:test");
const Session = require("supertokens-node/recipe/session");
const { Querier } = require("supertokens-node/lib/build/querier");
const { Browser, uid, ok } = require("../lib/client");

const APP_PATH = "/appid-e2e-node";
const ctx = setup({ basePath: APP_PATH, proxy: true });

describe("connectionURI with /appid-<appId>, traffic recorded by a proxy", () => {
    test("connectionURI …/appid-<appId>: sessions, local verification, refresh and admin calls work", async () => {
        const userId = uid("appid");
        const [b, login] = await new Browser(ctx.app.url).signIn(userId, { app: true });
        ok(await b.get("/me"), "/me (JWKS from …/appid-e2e-node/.well-known/jwks.json)");
        ok(await b.get("/me-checked"), "/me-checked");
        ok(await b.refresh(), "refresh");
        ok(await b.get("/me"), "/me after refresh");
        ok(await b.post("/merge", { more: 1 }), "merge");
        ok(await b.post("/data", { d: 1 }), "data");
        const info = await Session.getSessionInformation(login.json.handle);
        assert.equal(info.userId, userId);
        assert.deepEqual(info.sessionDataInDatabase, { d: 1 });
        assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [login.json.handle]);
        assert.deepEqual(await Session.revokeAllSessionsForUser(userId), [login.json.handle]);
        assert.equal((await b.get("/me-checked")).status, 401);
    });

    test("on the wire: every core call is under the app path, answered 200; cdi-version 5.4 and api-key as the spec says", () => {
        const reqs = ctx.proxy.requests;
        const paths = reqs.map((r) => `${r.method} ${r.path.split("?")[0]}`);
        for (const expected of [
            `GET ${APP_PATH}/apiversion`,
            `GET ${APP_PATH}/user/id`,
            `POST ${APP_PATH}/public/recipe/session`,
            `GET ${APP_PATH}/.well-known/jwks.json`,
            `POST ${APP_PATH}/recipe/session/verify`,
            `POST ${APP_PATH}/recipe/session/refresh`,
            `POST ${APP_PATH}/recipe/session/regenerate`,
            `PUT ${APP_PATH}/recipe/session/data`,
            `GET ${APP_PATH}/recipe/session`,
            `GET ${APP_PATH}/recipe/session/user`,
            `POST ${APP_PATH}/recipe/session/remove`,
        ]) {
            assert.ok(paths.includes(expected), `${expected} was called; saw:\n${paths.join("\n")}`);
        }
        for (const r of reqs) {
            assert.ok(r.path.startsWith(APP_PATH + "/"), `${r.method} ${r.path} is under ${APP_PATH}`);
            assert.equal(r.status, 200, `${r.method} ${r.path} answered ${r.status}`);
            const p = r.path.split("?")[0].slice(APP_PATH.length);
            if (p === "/.well-known/jwks.json" && r.headers["api-key"] === undefined) {
                // jose's fetch for local verification: no headers at all
                assert.equal(r.headers["cdi-version"], undefined);
            } else if (p === "/apiversion") {
                assert.equal(r.headers["cdi-version"], undefined, "no cdi-version on /apiversion");
                assert.equal(r.headers["api-key"], ctx.sd.apiKey);
            } else {
                assert.equal(r.headers["cdi-version"], "5.4", `${r.method} ${r.path} sent cdi-version 5.4`);
                assert.equal(r.headers["api-key"], ctx.sd.apiKey);
            }
        }
        assert.equal(paths.filter((p) => p.endsWith("/apiversion")).length, 1, "negotiated once per process");
        assert.equal(Querier.apiVersion, "5.4");
        assert.equal(
            reqs.filter((r) => r.path.startsWith(APP_PATH + "/.well-known/jwks.json") && r.headers["api-key"] === undefined).length,
            1,
            "the SDK fetched the JWKS for local verification once, without headers"
        );
    });

    compatibilityCheck(ctx);
});
