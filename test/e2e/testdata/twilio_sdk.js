#!/usr/bin/env node
// Twilio's Node helper library (npm "twilio") against https://api.twilio.com
// served on loopback. Driven by test/e2e/sdk_python_test.go (TestSDKNode),
// with the library found through NODE_PATH; never run against the real Twilio.
//
// Reads one JSON object on stdin (port, cafile, account_sid, token, to, from,
// body), prints one JSON object with what each operation gave the client:
// create, fetch, list (To, one per page), a Twilio error (21211) and a 404.
//
// The library's own https.Agent connects to 127.0.0.1:<port> when asked for
// api.twilio.com:443 (TLS server name and Host stay api.twilio.com); any other
// host is refused, so nothing leaves the machine.
"use strict";

const fs = require("fs");
const twilio = require("twilio");

const HOST = "api.twilio.com";
const RELAYED = ["content-type", "twilio-request-id", "twilio-request-duration", "twilio-concurrent-requests"];

function readStdin() {
  return JSON.parse(fs.readFileSync(0, "utf8"));
}

async function main() {
  const cfg = readStdin();
  const rc = new twilio.RequestClient({ ca: fs.readFileSync(cfg.cafile), timeout: 30000 });
  const agent = rc.axios.defaults.httpsAgent;
  const connect = agent.createConnection.bind(agent);
  agent.createConnection = (opts, cb) => {
    if (opts.host !== HOST || Number(opts.port) !== 443) {
      throw new Error(`e2e: refusing to connect to ${opts.host}:${opts.port}`);
    }
    return connect({ ...opts, host: "127.0.0.1", port: cfg.port, servername: HOST }, cb);
  };
  // The last answer's status and headers, as the library saw them.
  let last = null;
  rc.axios.interceptors.response.use((resp) => {
    const headers = {};
    for (const k of RELAYED) {
      if (resp.headers[k] !== undefined) headers[k] = String(resp.headers[k]);
    }
    last = { status: resp.status, headers };
    return resp;
  });
  const client = twilio(cfg.account_sid, cfg.token, { httpClient: rc });
  const plain = (v) => JSON.parse(JSON.stringify(v));
  const failure = (e) => ({
    raised: true, status: e.status, code: e.code, message: e.message, moreInfo: e.moreInfo, details: e.details ?? null,
  });
  const out = { library: require("twilio/package.json").version };

  const m = await client.messages.create({ to: cfg.to, from: cfg.from, body: cfg.body });
  out.create = { ...last, resource: plain(m.toJSON()) };
  const f = await client.messages(m.sid).fetch();
  out.fetch = { ...last, resource: plain(f.toJSON()) };
  const listed = await client.messages.list({ to: cfg.to, pageSize: 1, limit: 5 });
  out.list = { resources: listed.map((x) => plain(x.toJSON())) };
  try {
    await client.messages.create({ to: "+15005550001", from: cfg.from, body: cfg.body });
    out.error = { raised: false };
  } catch (e) {
    out.error = failure(e);
  }
  try {
    await client.messages("SM" + "0".repeat(31) + "1").fetch();
    out.not_found = { raised: false };
  } catch (e) {
    out.not_found = failure(e);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
