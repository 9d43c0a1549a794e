'use strict';
// autobahn.js conformance checks for one serializer.
//
//   node client_checks.js <ws-url> <json|msgpack|cbor>
//
// Two sessions (A, B) use the given serializer, a third (C) uses the other
// one for the mixed-serializer checks. Prints "ok <check>" / "FAIL <check>:
// <detail>" per check and exits non-zero if anything failed.

const lib = require('./lib.js');
const { autobahn, assert, assertPayload, asResult, withTimeout, STEP_TIMEOUT_MS } = lib;

const ERROR_URI = 'com.example.error.bad';
const MAX_ID = 2 ** 53;
// After the other subscriber got an event, how long the publisher waits to be
// sure it does not get one too.
const QUIET_MS = 500;

function isWampId(id) {
  return Number.isInteger(id) && id >= 1 && id <= MAX_ID;
}

async function main() {
  const [url, serializer] = process.argv.slice(2);
  if (!url || !['json', 'msgpack', 'cbor'].includes(serializer)) {
    console.error(lib.usage(__filename));
    process.exit(2);
  }
  const other = serializer === 'json' ? 'msgpack' : 'json';
  const results = new lib.Results();
  lib.hardTimeout(50000, results);

  const full = lib.PAYLOAD.full;
  const prefix = lib.uniquePrefix(`js.${serializer}`);
  let a;
  let b;
  let c;

  await results.check('join', async () => {
    a = await lib.connect(url, serializer);
    b = await lib.connect(url, serializer);
    for (const peer of [a, b]) {
      assert(isWampId(peer.session.id), `session id ${peer.session.id} is not a WAMP id`);
      const f = peer.session.features;
      assert(f && f.publisher && f.subscriber, `WELCOME did not announce the broker role: ${JSON.stringify(f)}`);
      assert(f.caller && f.callee, `WELCOME did not announce the dealer role: ${JSON.stringify(f)}`);
    }
    assert(a.session.id !== b.session.id, 'two sessions got the same session id');
  });
  if (!a || !b) {
    await finish(results, [a, b]);
    return;
  }

  await results.check('pubsub_all_types', async () => {
    const topic = `${prefix}.types`;
    const events = await lib.subscribeQueue(b.session, topic);
    a.session.publish(topic, full.args, full.kwargs);
    const ev = await events.next(STEP_TIMEOUT_MS, 'EVENT');
    assertPayload(full, ev, 'event payload');
  });

  await results.check('publish_acknowledge', async () => {
    const topic = `${prefix}.ack`;
    const events = await lib.subscribeQueue(b.session, topic);
    const pub = await withTimeout(a.session.publish(topic, [1], { n: 1 }, { acknowledge: true }),
      STEP_TIMEOUT_MS, 'PUBLISHED');
    assert(pub && isWampId(pub.id), `PUBLISHED carried no valid publication id: ${JSON.stringify(pub)}`);
    const ev = await events.next(STEP_TIMEOUT_MS, 'EVENT');
    assert(ev.details.publication === pub.id,
      `EVENT publication id ${ev.details.publication} differs from PUBLISHED id ${pub.id}`);
  });

  // Both A (the publisher) and B subscribe; B's event proves the publication
  // was dispatched, so silence at A afterwards is meaningful.
  const selfTopic = `${prefix}.self`;
  let selfA;
  let selfB;
  await results.check('exclude_me_default', async () => {
    selfA = await lib.subscribeQueue(a.session, selfTopic);
    selfB = await lib.subscribeQueue(b.session, selfTopic);
    a.session.publish(selfTopic, ['default'], {});
    const ev = await selfB.next(STEP_TIMEOUT_MS, 'EVENT at the other subscriber');
    assert(ev.args[0] === 'default', `other subscriber got ${JSON.stringify(ev.args)}`);
    await lib.sleep(QUIET_MS);
    assert(selfA.length === 0, `publisher received its own event without exclude_me=false: ${JSON.stringify(selfA.items.map((e) => e.args))}`);
  });

  await results.check('exclude_me_false', async () => {
    assert(selfA && selfB, 'subscriptions from exclude_me_default missing');
    selfA.items.length = 0;
    a.session.publish(selfTopic, full.args, full.kwargs, { exclude_me: false });
    const own = await selfA.next(STEP_TIMEOUT_MS, 'own EVENT with exclude_me=false');
    assertPayload(full, own, 'own event payload');
    const ev = await selfB.next(STEP_TIMEOUT_MS, 'EVENT at the other subscriber');
    assertPayload(full, ev, 'other subscriber payload');
  });

  await results.check('call_roundtrip', async () => {
    const proc = `${prefix}.echo`;
    await lib.registerEcho(b.session, proc);
    const res = asResult(await withTimeout(a.session.call(proc, full.args, full.kwargs), STEP_TIMEOUT_MS, 'RESULT'));
    assertPayload(full, res, 'call result');
  });

  await results.check('call_application_error', async () => {
    const proc = `${prefix}.fail`;
    await withTimeout(b.session.register(proc, (args, kwargs) => {
      throw new autobahn.Error(ERROR_URI, args, kwargs);
    }), STEP_TIMEOUT_MS, 'REGISTERED');
    await expectCallError(a.session, proc, full, ERROR_URI, full);
  });

  await results.check('call_no_such_procedure', async () => {
    await expectCallError(a.session, `${prefix}.missing`, { args: [1], kwargs: {} }, 'wamp.error.no_such_procedure', null);
  });

  // Mixed serializers: A speaks `serializer`, C speaks `other`.
  await results.check('mixed_join', async () => {
    c = await lib.connect(url, other);
  });
  if (c) {
    await results.check('mixed_event_to_other', async () => {
      const topic = `${prefix}.mixed.to`;
      const events = await lib.subscribeQueue(c.session, topic);
      a.session.publish(topic, full.args, full.kwargs);
      assertPayload(full, await events.next(STEP_TIMEOUT_MS, 'EVENT'), `event ${serializer}->${other}`);
    });
    await results.check('mixed_event_from_other', async () => {
      const topic = `${prefix}.mixed.from`;
      const events = await lib.subscribeQueue(a.session, topic);
      c.session.publish(topic, full.args, full.kwargs);
      assertPayload(full, await events.next(STEP_TIMEOUT_MS, 'EVENT'), `event ${other}->${serializer}`);
    });
    await results.check('mixed_call_to_other', async () => {
      const proc = `${prefix}.mixed.echo_other`;
      await lib.registerEcho(c.session, proc);
      const res = asResult(await withTimeout(a.session.call(proc, full.args, full.kwargs), STEP_TIMEOUT_MS, 'RESULT'));
      assertPayload(full, res, `call ${serializer}->${other}`);
    });
    await results.check('mixed_call_from_other', async () => {
      const proc = `${prefix}.mixed.echo_self`;
      await lib.registerEcho(a.session, proc);
      const res = asResult(await withTimeout(c.session.call(proc, full.args, full.kwargs), STEP_TIMEOUT_MS, 'RESULT'));
      assertPayload(full, res, `call ${other}->${serializer}`);
    });
    await results.check('mixed_error_to_other', async () => {
      const proc = `${prefix}.mixed.fail`;
      await withTimeout(c.session.register(proc, (args, kwargs) => {
        throw new autobahn.Error(ERROR_URI, args, kwargs);
      }), STEP_TIMEOUT_MS, 'REGISTERED');
      await expectCallError(a.session, proc, full, ERROR_URI, full);
    });
  }

  await finish(results, [a, b, c]);
}

async function expectCallError(session, proc, send, wantURI, wantPayload) {
  let res;
  try {
    res = await withTimeout(session.call(proc, send.args, send.kwargs), STEP_TIMEOUT_MS, 'ERROR');
  } catch (e) {
    if (!(e instanceof autobahn.Error)) throw e;
    assert(e.error === wantURI, `error URI ${e.error}, want ${wantURI}`);
    if (wantPayload) assertPayload(wantPayload, { args: e.args, kwargs: e.kwargs }, 'error payload');
    return;
  }
  throw new Error(`call succeeded with ${JSON.stringify(res)}, want error ${wantURI}`);
}

async function finish(results, peers) {
  await results.check('leave', async () => {
    const open = peers.filter(Boolean);
    assert(open.length > 0, 'no session to leave');
    const closes = await Promise.all(open.map((p) => lib.disconnect(p)));
    for (const c of closes) {
      assert(c.reason === 'closed', `transport was not closed cleanly: ${JSON.stringify(c)}`);
      assert(c.goodbye === 'wamp.close.goodbye_and_out', `router's GOODBYE reply reason: ${JSON.stringify(c.goodbye)}, want wamp.close.goodbye_and_out`);
    }
  });
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL script: ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : e}`);
  process.exit(1);
});
