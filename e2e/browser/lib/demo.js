// Starts and stops the sessiond-demo binary for a test, on a free loopback port.
"use strict";

const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { killOnExit, stopChild } = require("../../node/lib/child");

const BIN = process.env.SESSIOND_DEMO_BIN;
const LOG_DIR = process.env.E2E_LOG_DIR || require("node:os").tmpdir();

/** A fresh cookie key: 32 random bytes, unpadded base64url (what `sessiond cookie-key` prints). */
function newKey() {
  return crypto.randomBytes(32).toString("base64url");
}

const USERS = ["alice:alice-pw:admin", "bob:bob-pw", "carol:carol-pw"];

/**
 * Starts the demo with `args` (plus a key and the three users unless given).
 * Resolves to { url, port, key, stop() }. The URL uses the host name `localhost`, where
 * Chromium accepts `Secure` and `__Host-` cookies over plain HTTP.
 */
async function startDemo(args = [], { key = newKey(), users = USERS, name = "demo" } = {}) {
  if (!BIN) throw new Error("SESSIOND_DEMO_BIN is not set (run through e2e/browser/run.sh)");
  const full = ["--listen", "127.0.0.1:0", `--cookie-key=${key}`, ...args];
  for (const u of users) full.push("--user", u);
  const logPath = path.join(LOG_DIR, `${name}-${process.pid}-${Date.now()}.log`);
  const log = fs.openSync(logPath, "a");
  const child = killOnExit(spawn(BIN, full, { stdio: ["ignore", "pipe", log] }));
  const port = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`demo did not start; see ${logPath}`)), 15000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with ${code}; see ${logPath}: ${fs.readFileSync(logPath, "utf8")}`));
    });
  });
  return {
    port,
    key,
    url: `http://localhost:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      await stopChild(child, 3000);
      fs.closeSync(log);
    },
  };
}

module.exports = { startDemo, newKey, USERS };
