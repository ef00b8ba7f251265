"use strict";
// A small backend on supertokens-node 15.2.3 (CDI 3.0): the Session recipe only, with sessiond as
// its core. The same routes as e2e/node/app.js, written against the 15.x API (user ids are
// strings; `debug` is not an init option there, lib/capture.js enables the SDK's debug namespace).
//
//   const app = await startApp({ connectionURI, apiKey, antiCsrf: "VIA_TOKEN" | undefined });
//   app.url      → http://127.0.0.1:<port> (the SDK's apiDomain and websiteDomain)
//   app.events   → what the SDK reported from refreshes (REFRESH_OK, TOKEN_THEFT_DETECTED, …)
//                  and APP_ERROR for anything it did not handle
//
// Routes (besides the SDK's POST /auth/session/refresh and POST /auth/signout):
//   POST /login        {userId, payload?, data?, tenantId?} → Session.createNewSession(req, res, tenantId, userId, payload, data)
//   GET|POST /me       verifySession()
//   GET|POST /me-checked  verifySession({ checkDatabase: true })
//   POST /merge        session.mergeIntoAccessTokenPayload(body)
//   POST /data         session.updateSessionDataInDatabase(body);  GET /data
//   POST /logout       session.revokeSession()

const http = require("node:http");
const express = require("express");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const { middleware, errorHandler } = require("supertokens-node/framework/express");
const { verifySession } = require("supertokens-node/recipe/session/framework/express");

const API_BASE_PATH = "/auth";

function sessionView(session) {
    return {
        handle: session.getHandle(),
        userId: session.getUserId(),
        tenantId: session.getTenantId(),
        payload: session.getAccessTokenPayload(),
        accessToken: session.getAccessToken(),
    };
}

async function startApp({ connectionURI, apiKey, antiCsrf } = {}) {
    const events = [];
    const server = http.createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}`;

    const sessionConfig = {
        cookieSecure: false,
        override: {
            // Record what the SDK decided, without changing it.
            functions: (orig) => ({
                ...orig,
                refreshSession: async (input) => {
                    try {
                        const s = await orig.refreshSession(input);
                        events.push({ kind: "REFRESH_OK", handle: s.getHandle() });
                        return s;
                    } catch (err) {
                        if (Session.Error.isErrorFromSuperTokens(err)) {
                            events.push({ kind: err.type, payload: err.payload, message: err.message });
                        }
                        throw err;
                    }
                },
            }),
        },
    };
    // Unset: the SDK's default, NONE for a same-site app (VIA_CUSTOM_HEADER only with SameSite=None).
    if (antiCsrf !== undefined) sessionConfig.antiCsrf = antiCsrf;

    supertokens.init({
        framework: "express",
        supertokens: { connectionURI, apiKey },
        appInfo: { appName: "sessiond-e2e-15", apiDomain: url, websiteDomain: url, apiBasePath: API_BASE_PATH },
        recipeList: [Session.init(sessionConfig)],
        telemetry: false,
    });

    const app = express();
    app.use(express.json());
    app.use(middleware());
    const handle = (fn) => async (req, res, next) => {
        try {
            await fn(req, res);
        } catch (err) {
            next(err);
        }
    };

    app.post(
        "/login",
        handle(async (req, res) => {
            const { userId, payload, data, tenantId } = req.body || {};
            const session = await Session.createNewSession(req, res, tenantId || "public", userId, payload || {}, data || {});
            res.json(sessionView(session));
        })
    );
    const me = (req, res) => res.json(sessionView(req.session));
    app.get("/me", verifySession(), me);
    app.post("/me", verifySession(), me);
    app.get("/me-checked", verifySession({ checkDatabase: true }), me);
    app.post("/me-checked", verifySession({ checkDatabase: true }), me);
    app.post(
        "/merge",
        verifySession(),
        handle(async (req, res) => {
            await req.session.mergeIntoAccessTokenPayload(req.body);
            res.json(sessionView(req.session));
        })
    );
    app.post(
        "/data",
        verifySession(),
        handle(async (req, res) => {
            await req.session.updateSessionDataInDatabase(req.body);
            res.json({ data: await req.session.getSessionDataFromDatabase() });
        })
    );
    app.get(
        "/data",
        verifySession(),
        handle(async (req, res) => res.json({ data: await req.session.getSessionDataFromDatabase() }))
    );
    app.post(
        "/logout",
        verifySession(),
        handle(async (req, res) => {
            await req.session.revokeSession();
            res.json({ status: "OK" });
        })
    );

    app.use(errorHandler());
    // Anything the SDK did not handle (e.g. a core answer it could not read) ends up here.
    app.use((err, req, res, _next) => {
        events.push({ kind: "APP_ERROR", message: String(err && err.message) });
        res.status(500).json({ message: String(err && err.message) });
    });
    server.on("request", app);

    return {
        url,
        events,
        issuer: url + API_BASE_PATH,
        close: () =>
            new Promise((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

module.exports = { startApp, API_BASE_PATH };
