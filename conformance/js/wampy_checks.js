'use strict';
// wampy.js (npm wampy 8.0.2) conformance checks: a fourth client implementation, over
// WebSocket with one serializer, in Node with the ws package as its WebSocket (wampy's
// documented way in Node). ws offers permessage-deflate, so every check also runs over a
// compressed connection: the payloads are large enough to be compressed both ways.
//
//     node wampy_checks.js <ws-url> <json|msgpack|cbor>
//
// Prints "ok <check>" / "FAIL <check>: <detail>" per check (see lib.js).

const { Wampy } = require('wampy');
const { JsonSerializer } = require('wampy/JsonSerializer.js');
const { MsgpackSerializer } = require('wampy/MsgpackSerializer.js');
const { CborSerializer } = require('wampy/CborSerializer.js');
const WebSocket = require('ws');
const lib = require('./lib');

// Every socket wampy opens, to see what was negotiated.
const sockets = [];
class RecordingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
}

function serializerFor(name) {
  switch (name) {
    case 'json':
      return new JsonSerializer();
    case 'msgpack':
      return new MsgpackSerializer();
    case 'cbor':
      return new CborSerializer();
  }
  throw new Error(`unknown serializer ${name}`);
}

// 4 KiB of text: above ws's and the router's thresholds, so the messages are compressed.
const BIG = 'the quick brown fox jumps over the lazy dog. '.repeat(92);
const ARGS = ['hello', 42, { k: 'v', list: [1, 2, 3] }, BIG];
const KWARGS = { x: 1.5, flag: true, text: BIG };

async function open(url, serializer) {
  const w = new Wampy(url, {
    realm: 'realm1',
    ws: RecordingWebSocket,
    serializer: serializerFor(serializer),
    autoReconnect: false,
  });
  await lib.withTimeout(w.connect(), lib.STEP_TIMEOUT_MS, 'WELCOME');
  return w;
}

function assertPayload(got, what) {
  const d = lib.diff(ARGS, got.argsList, 'args') || lib.diff(KWARGS, got.argsDict, 'kwargs');
  if (d) throw new Error(`${what}: ${d}`);
}

async function main(url, serializer) {
  const results = new lib.Results();
  lib.hardTimeout(40000, results);
  const prefix = lib.uniquePrefix(`wampy.${serializer}`);
  let a;
  let b;

  await results.check('join', async () => {
    a = await open(url, serializer);
    b = await open(url, serializer);
    for (const ws of sockets) {
      lib.assert(ws.protocol === `wamp.2.${serializer}`, `negotiated subprotocol ${ws.protocol}`);
    }
  });
  await results.check('deflate_negotiated', async () => {
    lib.assert(sockets.length === 2, `${sockets.length} sockets`);
    for (const ws of sockets) {
      lib.assert(/permessage-deflate/.test(ws.extensions), `extensions in use: ${JSON.stringify(ws.extensions)}`);
    }
  });
  await results.check('pubsub_roundtrip', async () => {
    const topic = `${prefix}.topic`;
    let got;
    const event = new Promise((resolve) => { got = resolve; });
    await a.subscribe(topic, (e) => got(e));
    await lib.withTimeout(b.publish(topic, { argsList: ARGS, argsDict: KWARGS }, { acknowledge: true }),
      lib.STEP_TIMEOUT_MS, 'PUBLISHED');
    assertPayload(await lib.withTimeout(event, lib.STEP_TIMEOUT_MS, 'EVENT'), 'event');
  });
  await results.check('call_roundtrip', async () => {
    const proc = `${prefix}.echo`;
    await a.register(proc, (inv) => ({ argsList: inv.argsList, argsDict: inv.argsDict }));
    const res = await lib.withTimeout(b.call(proc, { argsList: ARGS, argsDict: KWARGS }), lib.STEP_TIMEOUT_MS, 'RESULT');
    assertPayload(res, 'result');
  });
  await results.check('call_no_such_procedure', async () => {
    try {
      await lib.withTimeout(b.call(`${prefix}.missing`), lib.STEP_TIMEOUT_MS, 'ERROR');
    } catch (e) {
      const uri = e.errorUri || e.error || (e.details && e.details.error) || e.message;
      lib.assert(String(uri).includes('wamp.error.no_such_procedure'), `error ${uri}`);
      return;
    }
    throw new Error('call succeeded');
  });
  await results.check('leave', async () => {
    await lib.withTimeout(Promise.all([a.disconnect(), b.disconnect()]), lib.STEP_TIMEOUT_MS, 'GOODBYE');
  });
  process.exit(results.failed ? 1 : 0);
}

if (process.argv.length !== 4 || !['json', 'msgpack', 'cbor'].includes(process.argv[3])) {
  console.error(lib.usage(__filename));
  process.exit(2);
}
main(process.argv[2], process.argv[3]);
