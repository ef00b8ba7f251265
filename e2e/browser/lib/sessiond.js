// Starts and stops `sessiond serve` for a test, and runs the `sessiond` CLI against it: e2e/node's
// sessiond helper (node built-ins only), with this suite's API key prefix and its log in E2E_LOG_DIR.
"use strict";

const crypto = require("node:crypto");
const sessiond = require("../../node/lib/sessiond");

/**
 * Starts `sessiond serve` on a free loopback port (JSON logs, an API key).
 * Options: store (URL; default a fresh SQLite file), args (more flags).
 * Resolves to { url, apiKey, stop(), cli(args) }.
 */
function startSessiond({ store, args = [] } = {}) {
  return sessiond.startSessiond({
    store,
    args,
    apiKey: `e2e-browser-${crypto.randomBytes(16).toString("hex")}`,
    logDir: process.env.E2E_LOG_DIR,
  });
}

module.exports = { startSessiond };
