"use strict";
// A small backend that uses only the SuperTokens Session recipe, with sessiond as its core.
//
//   const app = await startApp({ connectionURI, apiKey, antiCsrf: "VIA_TOKEN" | undefined, session: {…more Session.init config} });
//   app.url            → http://127.0.0.1:<port>   (the SDK's apiDomain and websiteDomain)
//   app.events         → what the SDK reported (e.g. TOKEN_THEFT_DETECTED from the refresh API)
//   await app.close();
//
// supertokens.init is process-wide, so a process runs one app. node --test runs every test file
// in its own process, which gives each file its own configuration.
//
// Routes (besides the SDK's own POST /auth/session/refresh and POST /auth/signout):
//   POST /login        {userId, payload?, data?, tenantId?}
//                      → Session.createNewSession(req, res, tenantId || "public", recipeUserId, payload, data)
//   GET|POST /me       verifySession()                        → the session as the SDK sees it
//   GET|POST /me-checked  verifySession({ checkDatabase: true })
//   POST /merge        {…}  session.mergeIntoAccessTokenPayload(…)
//   POST /data         {…}  session.updateSessionDataInDatabase(…)
//   GET /data          session.getSessionDataFromDatabase()
//   POST /logout       session.revokeSession()
//   POST /jwt          {payload, validitySeconds, useStaticSigningKey?} → Session.createJWT(…)

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
        recipeUserId: session.getRecipeUserId().getAsString(),
        tenantId: session.getTenantId(),
        payload: session.getAccessTokenPayload(),
        accessToken: session.getAccessToken(),
    };
}

async function startApp({ connectionURI, apiKey, antiCsrf, session = {}, debug = true } = {}) {
    const events = [];
    const server = http.createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}`;

    const sessionConfig = {
        cookieSecure: false,
        ...session,
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
    // Anti-CSRF is off unless asked for: the SDK's default for same-site cookies is NONE (spec §6).
    if (antiCsrf !== undefined) sessionConfig.antiCsrf = antiCsrf;

    supertokens.init({
        framework: "express",
        debug,
        supertokens: { connectionURI, apiKey },
        appInfo: {
            appName: "sessiond-e2e",
            apiDomain: url,
            websiteDomain: url,
            apiBasePath: API_BASE_PATH,
        },
        recipeList: [Session.init(sessionConfig)],
        telemetry: false,
    });

    const app = express();
    app.use(express.json());
    app.use(middleware());

    app.post("/login", async (req, res, next) => {
        try {
            const { userId, payload, data, tenantId } = req.body || {};
            const session = await Session.createNewSession(
                req,
                res,
                tenantId || "public",
                supertokens.convertToRecipeUserId(userId),
                payload || {},
                data || {}
            );
            res.json(sessionView(session));
        } catch (err) {
            next(err);
        }
    });

    const me = (req, res) => res.json(sessionView(req.session));
    app.get("/me", verifySession(), me);
    app.post("/me", verifySession(), me);
    app.get("/me-checked", verifySession({ checkDatabase: true }), me);
    app.post("/me-checked", verifySession({ checkDatabase: true }), me);

    app.post("/merge", verifySession(), async (req, res, next) => {
        try {
            await req.session.mergeIntoAccessTokenPayload(req.body);
            res.json(sessionView(req.session));
        } catch (err) {
            next(err);
        }
    });

    app.post("/data", verifySession(), async (req, res, next) => {
        try {
            await req.session.updateSessionDataInDatabase(req.body);
            res.json({ data: await req.session.getSessionDataFromDatabase() });
        } catch (err) {
            next(err);
        }
    });

    app.get("/data", verifySession(), async (req, res, next) => {
        try {
            res.json({ data: await req.session.getSessionDataFromDatabase() });
        } catch (err) {
            next(err);
        }
    });

    app.post("/logout", verifySession(), async (req, res, next) => {
        try {
            await req.session.revokeSession();
            res.json({ status: "OK" });
        } catch (err) {
            next(err);
        }
    });

    app.post("/jwt", async (req, res, next) => {
        try {
            const { payload, validitySeconds, useStaticSigningKey } = req.body || {};
            res.json(await Session.createJWT(payload, validitySeconds, useStaticSigningKey));
        } catch (err) {
            next(err);
        }
    });

    app.use(errorHandler());
    // Anything the SDK did not handle (e.g. the core being unreachable) ends up here.
    app.use((err, req, res, _next) => {
        events.push({ kind: "APP_ERROR", message: String(err && err.message) });
        res.status(500).json({ message: String(err && err.message) });
    });

    server.on("request", app);

    return {
        url,
        events,
        apiBasePath: API_BASE_PATH,
        issuer: url + API_BASE_PATH,
        close: () =>
            new Promise((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

module.exports = { startApp, API_BASE_PATH };
