'use strict';
// autobahn.js in Node negotiates permessage-deflate with the router.
//
//     node deflate_checks.js <ws-url> <json|msgpack|cbor>
//
// autobahn.js opens its socket with the ws package and passes it no perMessageDeflate option,
// so ws's client default applies: it offers "permessage-deflate; client_max_window_bits". The
// checks see the extension from both sides: the router's meta API (wamp.session.get lists the
// session's transport's websocket_extensions_in_use) and ws's socket (its negotiated
// extensions); then a large event and call result go through the compressed connection.
// Prints "ok <check>" / "FAIL <check>: <detail>" per check (see lib.js).

const path = require('path');

// Every socket autobahn.js opens, to see what ws negotiated: autobahn requires 'ws' when it
// connects, so it gets this subclass from the module cache.
const sockets = [];
const wsPath = require.resolve('ws', { paths: [path.dirname(require.resolve('autobahn'))] });
const WebSocket = require(wsPath);
class RecordingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
}
require.cache[wsPath].exports = RecordingWebSocket;

const lib = require('./lib');

async function main(url, serializer) {
  const results = new lib.Results();
  lib.hardTimeout(30000, results);
  const text = 'the quick brown fox jumps over the lazy dog; '.repeat(400); // 18 KiB
  let peer;
  await results.check('join', async () => {
    peer = await lib.connect(url, serializer);
  });
  if (!peer) process.exit(1);
  const session = peer.session;

  await results.check('deflate_router_side', async () => {
    const details = await lib.withTimeout(session.call('wamp.session.get', [session.id]),
      lib.STEP_TIMEOUT_MS, 'wamp.session.get');
    const got = details && details.transport && details.transport.websocket_extensions_in_use;
    const d = lib.diff(['permessage-deflate'], got);
    if (d) throw new Error(`the router lists the session's extensions as ${JSON.stringify(got)}: ${d}`);
  });
  await results.check('deflate_client_side', async () => {
    if (sockets.length !== 1) throw new Error(`${sockets.length} ws sockets recorded, want 1`);
    const ext = sockets[0].extensions;
    if (!/^permessage-deflate/.test(ext)) throw new Error(`ws negotiated extensions ${JSON.stringify(ext)}`);
  });
  await results.check('large_event_and_result', async () => {
    const prefix = lib.uniquePrefix('deflate');
    const queue = await lib.subscribeQueue(session, `${prefix}.topic`);
    await lib.withTimeout(session.publish(`${prefix}.topic`, [text], {}, { acknowledge: true, exclude_me: false }),
      lib.STEP_TIMEOUT_MS, 'PUBLISHED');
    const e = await queue.next(lib.STEP_TIMEOUT_MS, 'EVENT');
    if (e.args[0] !== text) throw new Error(`event payload differs (${String(e.args[0]).length} chars)`);
    await lib.registerEcho(session, `${prefix}.echo`);
    const res = lib.asResult(await lib.withTimeout(session.call(`${prefix}.echo`, [text]), lib.STEP_TIMEOUT_MS, 'RESULT'));
    if (res.args[0] !== text) throw new Error(`result differs (${String(res.args[0]).length} chars)`);
  });
  await results.check('leave', async () => {
    const closed = await lib.disconnect(peer);
    if (closed.goodbye !== 'wamp.close.goodbye_and_out') throw new Error(`GOODBYE reply ${JSON.stringify(closed)}`);
  });
  process.exit(results.failed ? 1 : 0);
}

if (process.argv.length !== 4) {
  console.error(lib.usage(__filename));
  process.exit(2);
}
main(process.argv[2], process.argv[3]);
