"use strict";
// The capture (e2e/node/lib/sdk-capture.js) for supertokens-node 15.2.3. 15.x has no `debug` init
// option: its logger writes through its own copy of the `debug` package when the "com.supertokens"
// namespace is enabled, which this file does (as DEBUG=com.supertokens would). (15.2.3's only
// complaint about the core: "The running SuperTokens core version is not compatible with this
// NodeJS SDK".) Load it before the SDK: { entries, problems, COMPAT_RE }.

const path = require("node:path");
const { installCapture } = require("../../node/lib/sdk-capture");

module.exports = installCapture({
    sdkRoot: path.dirname(require.resolve("supertokens-node")),
    enableDebugNamespace: "com.supertokens",
});
