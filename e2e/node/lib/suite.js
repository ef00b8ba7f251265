"use strict";
// Set-up for this suite's test files: lib/sdk-suite.js (shared with e2e/node-15) with this
// directory's capture and app. Every test file runs in its own process (node --test), so each one
// gets its own supertokens.init and its own app.
//
//   const ctx = setup({ sessiond?, antiCsrf?, session?, basePath?, proxy? });  // see lib/sdk-suite.js
//   compatibilityCheck(ctx, { allowAppErrors? });                              // the last test of a file

const capture = require("./capture"); // must come before the SDK is loaded
const { makeSuite } = require("./sdk-suite");
const { startApp } = require("../app");

module.exports = { ...makeSuite({ capture, startApp }), capture };
