"use strict";
// A recording HTTP forwarder on 127.0.0.1, put between the SDK and sessiond to see exactly which
// paths and headers the SDK sends (connectionURI = proxy.url + basePath).
// No dependencies beyond node itself: e2e/node-15 uses this file too.

const http = require("node:http");

async function startRecordingProxy(targetUrl) {
    const target = new URL(targetUrl);
    const requests = [];
    const server = http.createServer((req, res) => {
        const rec = { method: req.method, path: req.url, headers: { ...req.headers } };
        requests.push(rec);
        const up = http.request(
            { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
            (upRes) => {
                rec.status = upRes.statusCode;
                res.writeHead(upRes.statusCode, upRes.headers);
                upRes.pipe(res);
            }
        );
        up.on("error", (err) => {
            rec.error = String(err);
            res.destroy(err);
        });
        req.pipe(up);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close: () =>
            new Promise((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

module.exports = { startRecordingProxy };
