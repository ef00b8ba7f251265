"use strict";
// The small backend both Node suites test: the SuperTokens Session recipe only, with sessiond as its
// core. It is written once, for whichever supertokens-node the caller loaded: e2e/node/app.js passes
// 24.0.3's modules, e2e/node-15/app.js 15.2.3's (each from its own node_modules), plus the few
// things the two versions do differently (`sdk` below). This file itself loads no npm package.
//
//   const app = await startSdkApp(sdk, { connectionURI, apiKey, antiCsrf: "VIA_TOKEN" | undefined, session: {…more Session.init config} });
//   app.url            → http://127.0.0.1:<port>   (the SDK's apiDomain and websiteDomain)
//   app.events         → what the SDK reported from refreshes (REFRESH_OK, TOKEN_THEFT_DETECTED, …)
//                        and APP_ERROR for anything it did not handle
//   await app.close();
//
// supertokens.init is process-wide, so a process runs one app. node --test runs every test file
// in its own process, which gives each file its own configuration.
//
// Routes (besides the SDK's own POST /auth/session/refresh and POST /auth/signout):
//   POST /login        {userId, payload?, data?, tenantId?}
//                      → Session.createNewSession(req, res, tenantId || "public", sdk.loginUserId(userId), payload, data)
//   GET|POST /me       verifySession()                        → the session as the SDK sees it
//   GET|POST /me-checked  verifySession({ checkDatabase: true })
//   POST /merge        {…}  session.mergeIntoAccessTokenPayload(…)
//   POST /data         {…}  session.updateSessionDataInDatabase(…)
//   GET /data          session.getSessionDataFromDatabase()
//   POST /logout       session.revokeSession()
//   and whatever sdk.routes adds (24.0.3: POST /jwt)
//
// sdk: { express, supertokens, Session, middleware, errorHandler, verifySession
//                               (the SDK's modules: sdkModules(require) with the suite's own require)
//        appName, initOptions?  (more supertokens.init options, e.g. { debug })
//        loginUserId(userId)    (what createNewSession takes as the user: a string, or a RecipeUserId)
//        viewExtras?(session)   (more fields for the session view)
//        routes?(app, handle) } (more routes; handle(fn) passes a rejection to the error handlers)

const http = require("node:http");

const API_BASE_PATH = "/auth";

// express and the SDK modules the app uses, loaded with `req`: pass the calling suite's `require`, so
// that they come from that suite's node_modules (its own supertokens-node version).
function sdkModules(req) {
    const { middleware, errorHandler } = req("supertokens-node/framework/express");
    return {
        express: req("express"),
        supertokens: req("supertokens-node"),
        Session: req("supertokens-node/recipe/session"),
        middleware,
        errorHandler,
        verifySession: req("supertokens-node/recipe/session/framework/express").verifySession,
    };
}

async function startSdkApp(sdk, { connectionURI, apiKey, antiCsrf, session = {} } = {}) {
    const { express, supertokens, Session, middleware, errorHandler, verifySession } = sdk;
    const events = [];
    const server = http.createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}`;

    const sessionView = (s) => ({
        handle: s.getHandle(),
        userId: s.getUserId(),
        ...(sdk.viewExtras ? sdk.viewExtras(s) : {}),
        tenantId: s.getTenantId(),
        payload: s.getAccessTokenPayload(),
        accessToken: s.getAccessToken(),
    });

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
    // Unset: the SDK's default, NONE for a same-site app (VIA_CUSTOM_HEADER only with SameSite=None).
    if (antiCsrf !== undefined) sessionConfig.antiCsrf = antiCsrf;

    supertokens.init({
        framework: "express",
        ...(sdk.initOptions || {}),
        supertokens: { connectionURI, apiKey },
        appInfo: { appName: sdk.appName, apiDomain: url, websiteDomain: url, apiBasePath: API_BASE_PATH },
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
            const s = await Session.createNewSession(
                req,
                res,
                tenantId || "public",
                sdk.loginUserId(userId),
                payload || {},
                data || {}
            );
            res.json(sessionView(s));
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
    if (sdk.routes) sdk.routes(app, handle);

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

module.exports = { startSdkApp, sdkModules, API_BASE_PATH };
