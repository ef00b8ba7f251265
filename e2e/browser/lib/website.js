// The "website": another origin (another port) that serves the demo's /app/ page and its
// scripts, so the page and the API it calls are cross-origin, as in a real deployment.
"use strict";

const http = require("node:http");

/** Serves GET /app/* by fetching it from the API set with setApi(). Resolves to
 * { url, setApi(base), stop() }. */
async function startWebsite() {
  let apiBase = null;
  const server = http.createServer(async (req, res) => {
    if (req.method !== "GET" || !req.url.startsWith("/app/") || !apiBase) {
      res.statusCode = 404;
      return res.end("not here");
    }
    try {
      const upstream = await fetch(apiBase + req.url.split("?")[0]);
      res.statusCode = upstream.status;
      res.setHeader("content-type", upstream.headers.get("content-type") || "text/plain");
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch (e) {
      res.statusCode = 502;
      res.end(String(e));
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://localhost:${server.address().port}`,
    setApi(base) {
      apiBase = base.replace("localhost", "127.0.0.1");
    },
    stop: () => new Promise((r) => server.close(r)),
  };
}

module.exports = { startWebsite };
