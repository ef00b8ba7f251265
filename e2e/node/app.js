"use strict";
// The backend under test, on supertokens-node 24.0.3: lib/sdk-app.js (routes, event recording,
// shared with e2e/node-15) given this directory's SDK. See lib/sdk-app.js for the routes.
//
//   const app = await startApp({ connectionURI, apiKey, antiCsrf: "VIA_TOKEN" | undefined, session: {…more Session.init config} });
//
// 24.0.3 specifics: createNewSession takes a RecipeUserId, the session view has recipeUserId, the
// SDK's debug log is the `debug` init option, and POST /jwt {payload, validitySeconds,
// useStaticSigningKey?} → Session.createJWT(…).

const { startSdkApp, sdkModules, API_BASE_PATH } = require("./lib/sdk-app");

const modules = sdkModules(require); // from this directory's node_modules
const { supertokens, Session } = modules;
const sdk = {
    ...modules,
    appName: "sessiond-e2e",
    initOptions: { debug: true },
    loginUserId: (userId) => supertokens.convertToRecipeUserId(userId),
    viewExtras: (session) => ({ recipeUserId: session.getRecipeUserId().getAsString() }),
    routes: (app, handle) => {
        app.post(
            "/jwt",
            handle(async (req, res) => {
                const { payload, validitySeconds, useStaticSigningKey } = req.body || {};
                res.json(await Session.createJWT(payload, validitySeconds, useStaticSigningKey));
            })
        );
    },
};

const startApp = (options) => startSdkApp(sdk, options);

module.exports = { startApp, API_BASE_PATH };
