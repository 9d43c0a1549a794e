'use strict';
// autobahn.js peer for the cross-client test (cross_client_test.go).
//
//   node cross_peer.js <ws-url> <json|msgpack> <me> <prefix> <peer,peer,...>
//
// Protocol, all under <prefix>:
//   registers  <me>.echo, subscribes <me>.from.<other> for every other peer,
//   publishes  ready [me]          and waits for "go",
//   then for every other peer: calls <other>.echo and publishes to
//   <other>.from.<me> (both with the "cross" payload), waits for the events
//   from every other peer, publishes done [me], waits for "finish", leaves.
// Prints "ok <check>" / "FAIL <check>: <detail>"; exits non-zero on failure.

const lib = require('./lib.js');
const { assert, assertPayload, asResult, withTimeout, STEP_TIMEOUT_MS } = lib;

// Waits on the Go orchestrator, which itself waits on the slowest peer.
const PHASE_TIMEOUT_MS = 20000;

async function main() {
  const [url, serializer, me, prefix, peerList] = process.argv.slice(2);
  if (!url || !['json', 'msgpack'].includes(serializer) || !me || !prefix || !peerList) {
    console.error(lib.usage(__filename, ' <me> <prefix> <peer,peer,...>'));
    process.exit(2);
  }
  const others = peerList.split(',').filter((p) => p && p !== me);
  const cross = lib.PAYLOAD.cross;
  const results = new lib.Results();
  lib.hardTimeout(50000, results);

  let peer;
  const inbox = {};
  let goQueue;
  let finishQueue;
  await results.check('join', async () => {
    peer = await lib.connect(url, serializer);
    goQueue = await lib.subscribeQueue(peer.session, `${prefix}.go`);
    finishQueue = await lib.subscribeQueue(peer.session, `${prefix}.finish`);
    for (const other of others) {
      inbox[other] = await lib.subscribeQueue(peer.session, `${prefix}.${me}.from.${other}`);
    }
    await lib.registerEcho(peer.session, `${prefix}.${me}.echo`);
    await withTimeout(peer.session.publish(`${prefix}.ready`, [me], {}, { acknowledge: true }),
      STEP_TIMEOUT_MS, 'PUBLISHED for ready');
    await goQueue.next(PHASE_TIMEOUT_MS, '"go" from the orchestrator');
  });
  if (!peer || !peer.session.isOpen) {
    process.exit(1);
  }
  const session = peer.session;

  for (const other of others) {
    await results.check(`call_${other}`, async () => {
      const res = await withTimeout(session.call(`${prefix}.${other}.echo`, cross.args, cross.kwargs),
        STEP_TIMEOUT_MS, `RESULT from ${other}`);
      assertPayload(cross, asResult(res), `result from ${other}`);
    });
    await results.check(`publish_to_${other}`, async () => {
      const pub = await withTimeout(
        session.publish(`${prefix}.${other}.from.${me}`, cross.args, cross.kwargs, { acknowledge: true }),
        STEP_TIMEOUT_MS, 'PUBLISHED');
      assert(pub && Number.isInteger(pub.id), `no publication id: ${JSON.stringify(pub)}`);
    });
  }
  for (const other of others) {
    await results.check(`event_from_${other}`, async () => {
      const ev = await inbox[other].next(PHASE_TIMEOUT_MS, `EVENT from ${other}`);
      assertPayload(cross, ev, `event from ${other}`);
    });
  }

  await results.check('finish', async () => {
    await withTimeout(session.publish(`${prefix}.done`, [me], {}, { acknowledge: true }),
      STEP_TIMEOUT_MS, 'PUBLISHED for done');
    await finishQueue.next(PHASE_TIMEOUT_MS, '"finish" from the orchestrator');
  });

  await results.check('leave', async () => {
    const c = await lib.disconnect(peer);
    assert(c.goodbye === 'wamp.close.goodbye_and_out', `router's GOODBYE reply reason: ${JSON.stringify(c.goodbye)}`);
  });
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL script: ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : e}`);
  process.exit(1);
});
