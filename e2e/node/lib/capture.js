"use strict";
// The capture (lib/sdk-capture.js) for supertokens-node 24.0.3, which turns its debug log on with
// `supertokens.init({ debug: true })` (app.js does). Load it before the SDK: { entries, problems, COMPAT_RE }.

const path = require("node:path");
const { installCapture } = require("./sdk-capture");

module.exports = installCapture({ sdkRoot: path.dirname(require.resolve("supertokens-node")) });
