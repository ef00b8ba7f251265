// Starts and stops `sessiond serve` for a test, and runs the `sessiond` CLI against it.
"use strict";

const { spawn, execFile } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");

const BIN = process.env.SESSIOND_BIN;

/**
 * Starts `sessiond serve` on a free loopback port (JSON logs, an API key).
 * Options: store (URL; default a fresh SQLite file), args (more flags).
 * Resolves to { url, apiKey, stop(), cli(args) }.
 */
async function startSessiond({ store, args = [] } = {}) {
  if (!BIN) throw new Error("SESSIOND_BIN is not set (run through e2e/browser/run.sh)");
  const dir = fs.mkdtempSync(path.join(process.env.E2E_WORK_DIR || os.tmpdir(), "sessiond-"));
  const apiKey = `e2e-browser-${crypto.randomBytes(16).toString("hex")}`;
  const full = [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--store",
    store || `sqlite://${path.join(dir, "s.db")}`,
    "--api-key",
    apiKey,
    "--log-format",
    "json",
    ...args,
  ];
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("SESSIOND_")) delete env[k];
  const child = spawn(BIN, full, { env, stdio: ["ignore", "ignore", "pipe"] });
  const log = fs.createWriteStream(path.join(process.env.E2E_LOG_DIR || dir, `sessiond-${child.pid}.log`));
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("sessiond did not start within 30 s")), 30000);
    readline.createInterface({ input: child.stderr }).on("line", (line) => {
      log.write(line + "\n");
      try {
        const rec = JSON.parse(line);
        if (rec.message === "sessiond listening" && rec.addr) {
          clearTimeout(timer);
          resolve(rec.addr);
        }
      } catch {}
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sessiond exited with ${code} during start-up`));
    });
  });
  const url = `http://${addr}`;
  return {
    url,
    apiKey,
    /** Runs the sessiond CLI against this server; resolves to {code, stdout, stderr}. */
    cli(args) {
      return new Promise((resolve) => {
        execFile(BIN, [...args, "--url", url, "--api-key", apiKey], { env }, (err, stdout, stderr) =>
          resolve({ code: err ? err.code : 0, stdout, stderr }),
        );
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

module.exports = { startSessiond };
