"use strict";
// Child-process side of lib/peer.js: one app (supertokens.init with the connectionURI it was given),
// its URL on stdout, and, when stdin ends, what lib/capture.js saw.

const capture = require("./capture"); // before the SDK is loaded
const { startApp } = require("../app");

async function main() {
    const config = JSON.parse(process.env.E2E_PEER_CONFIG);
    const app = await startApp(config);
    process.stdout.write(JSON.stringify({ url: app.url }) + "\n");
    process.stdin.on("end", async () => {
        const report = {
            problems: capture.problems(),
            loud: capture.entries.filter((e) => ["console.warn", "console.error", "process.warning"].includes(e.source)),
            debugLines: capture.entries.filter((e) => e.source === "debug").length,
            appErrors: app.events.filter((e) => e.kind === "APP_ERROR"),
        };
        await app.close();
        process.stdout.write(JSON.stringify({ report }) + "\n", () => process.exit(0));
    });
    process.stdin.resume();
}

main().catch((err) => {
    process.stderr.write(`peer app failed: ${err && err.stack}\n`);
    process.exit(1);
});
