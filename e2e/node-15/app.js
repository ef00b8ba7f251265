"use strict";
// The backend under test, on supertokens-node 15.2.3 (CDI 3.0): e2e/node/lib/sdk-app.js (the same
// routes and event recording as e2e/node/app.js) given this directory's SDK. See that file for the
// routes.
//
//   const app = await startApp({ connectionURI, apiKey, antiCsrf: "VIA_TOKEN" | undefined });
//
// 15.x specifics: createNewSession takes the user id as a string; `debug` is not an init option
// there (lib/capture.js enables the SDK's debug namespace); no POST /jwt.

const { startSdkApp, sdkModules, API_BASE_PATH } = require("../node/lib/sdk-app");

const sdk = {
    ...sdkModules(require), // from this directory's node_modules
    appName: "sessiond-e2e-15",
    loginUserId: (userId) => userId,
};

const startApp = (options) => startSdkApp(sdk, options);

module.exports = { startApp, API_BASE_PATH };
