'use strict';
// autobahn.js in Node over its RawSocket transport: a pub/sub and an RPC round trip.
//
//   node rawsocket_checks.js <rs://host:port | unix:///path>
//
// autobahn.js's RawSocket transport speaks JSON only. Two sessions join over RawSocket: B
// subscribes and registers an echo, A publishes the "full" payload (B must get it exactly)
// and calls the echo. Prints "ok <check>" / "FAIL <check>: <detail>" for join, pubsub, rpc
// and leave.

const autobahn = require('autobahn');
const lib = require('./lib');

function transportFor(url) {
  const u = new URL(url);
  if (u.protocol === 'unix:') {
    return { type: 'rawsocket', path: u.pathname };
  }
  return { type: 'rawsocket', host: u.hostname, port: Number(u.port) };
}

function connect(url) {
  const connection = new autobahn.Connection({
    transports: [transportFor(url)],
    realm: 'realm1',
    use_es6_promises: true,
    max_retries: 0,
    retry_if_unreachable: false,
  });
  const opened = new Promise((resolve, reject) => {
    connection.onopen = (session) => resolve(session);
    connection.onclose = (reason, details) => {
      reject(new Error(`connection closed before join: ${reason} ${JSON.stringify(details)}`));
      return true;
    };
  });
  connection.open();
  return lib.withTimeout(opened, 5000, 'join over rawsocket').then((session) => ({ connection, session }));
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: node rawsocket_checks.js <rs://host:port | unix:///path>');
    process.exit(2);
  }
  const results = new lib.Results();
  lib.hardTimeout(30000, results);
  const full = lib.PAYLOAD.full;
  const prefix = lib.uniquePrefix('rsjs');
  const peers = {};

  await results.check('join', async () => {
    peers.a = await connect(url);
    peers.b = await connect(url);
  });
  if (!peers.a || !peers.b) process.exit(1);
  const a = peers.a.session;
  const b = peers.b.session;

  await results.check('pubsub', async () => {
    let got;
    const event = new Promise((resolve) => { got = resolve; });
    await lib.withTimeout(b.subscribe(`${prefix}.topic`, (args, kwargs) => got({ args, kwargs })), 5000, 'SUBSCRIBED');
    await lib.withTimeout(a.publish(`${prefix}.topic`, full.args, full.kwargs, { acknowledge: true }), 5000, 'PUBLISHED');
    const e = await lib.withTimeout(event, 5000, 'EVENT');
    lib.assertPayload(full, e, 'event payload');
  });

  await results.check('rpc', async () => {
    await lib.registerEcho(b, `${prefix}.echo`);
    const res = await lib.withTimeout(a.call(`${prefix}.echo`, full.args, full.kwargs), 5000, 'RESULT');
    lib.assertPayload(full, lib.asResult(res), 'result payload');
  });

  await results.check('leave', async () => {
    for (const p of [peers.a, peers.b]) {
      const closed = new Promise((resolve) => {
        p.connection.onclose = (reason) => { resolve(reason); return true; };
      });
      p.connection.close();
      await lib.withTimeout(closed, 5000, 'close after GOODBYE');
    }
  });
  process.exit(results.failed ? 1 : 0);
}

main();
