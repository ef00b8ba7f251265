const cap = require("./lib/capture");
const { startSessiond, requestCount, metrics } = require("./lib/sessiond");
const { startApp } = require("./app");
const { Browser } = require("./lib/client");
const out = (...a) => process.stdout.write(a.map(x => typeof x === "string" ? x : JSON.stringify(x)).join(" ") + "\n");
(async () => {
  const sd = await startSessiond();
  const app = await startApp({ connectionURI: sd.url, apiKey: sd.apiKey });
  const b = new Browser(app.url);
  let r = await b.login("alice", {role: "admin"}, {cart: []});
  const s0 = b.snapshot();
  r = await b.refresh(); out(r.status, b.accessPayload);
  const s1 = b.snapshot();
  r = await b.refresh(); out(r.status, b.accessPayload.refreshTokenHash1);
  // replay parent within grace
  const p = b.clone().restore(s1); r = await p.refresh(); out("parent replay", r.status, r.text, app.events.slice(-1));
  const g = b.clone().restore(s0); r = await g.refresh(); out("grandparent replay", r.status, r.text, app.events.slice(-1));
  r = await b.get("/me-checked"); out("me-checked", r.status, r.text.slice(0,100));
  r = await b.get("/me"); out("me", r.status, r.text.slice(0,100));
  await app.close(); await sd.stop();
})().catch(e => { process.stdout.write(String(e.stack)); process.exit(1); });
