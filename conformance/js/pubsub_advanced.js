'use strict';
// autobahn.js checks of the broker's advanced pub/sub profile and the session,
// subscription and testament meta APIs, for one serializer.
//
//   node pubsub_advanced.js <ws-url> <json|msgpack>
//   node pubsub_advanced.js --history-publish <ws-url> <json|msgpack> <topic>
//   node pubsub_advanced.js --history-read <ws-url> <json|msgpack> <topic>
//
// The router must keep an event history for topics under
// "com.example.conformance." (pubsub_advanced_test.go starts it so). The
// --history-* modes are the two halves of the history-after-restart check,
// run before and after the Go test restarts the router. Prints
// "ok <check>" / "FAIL <check>: <detail>" per check and exits non-zero if
// anything failed.

const { spawn } = require('child_process');
const readline = require('readline');
const lib = require('./lib.js');

const { autobahn, assert, diff, withTimeout, sleep, STEP_TIMEOUT_MS } = lib;

const BROKER_FEATURES = [
  'pattern_based_subscription', 'subscriber_blackwhite_listing', 'publisher_exclusion',
  'publisher_identification', 'event_retention', 'event_history', 'payload_passthru_mode',
  'session_meta_api', 'subscription_meta_api', 'testament_meta_api',
];
// How long to wait for an event that must not come (after a marker event
// that proves the publication was dispatched).
const QUIET_MS = 300;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

// connect opens a session and records the router's WELCOME details, which
// autobahn.js does not keep.
async function connect(url, serializer) {
  const realMake = autobahn.serializer[serializer === 'json' ? 'JSONSerializer' : 'MsgpackSerializer'];
  let welcome = null;
  const Tapped = function () {
    const s = new realMake();
    const unserialize = s.unserialize.bind(s);
    s.unserialize = (payload) => {
      const msg = unserialize(payload);
      if (!welcome && Array.isArray(msg) && msg[0] === 2) welcome = msg[2];
      return msg;
    };
    return s;
  };
  const key = serializer === 'json' ? 'JSONSerializer' : 'MsgpackSerializer';
  autobahn.serializer[key] = Tapped;
  try {
    const peer = await lib.connect(url, serializer);
    peer.welcome = welcome;
    peer.closed = new Promise((resolve) => {
      peer.connection.onclose = (reason, details) => {
        resolve({ reason, details });
        return true;
      };
    });
    return peer;
  } finally {
    autobahn.serializer[key] = realMake;
  }
}

async function call(peer, proc, args, kwargs) {
  return withTimeout(peer.session.call(proc, args || [], kwargs || {}), STEP_TIMEOUT_MS, `RESULT of ${proc}`);
}

async function expectError(peer, proc, args, kwargs, uri) {
  try {
    const res = await call(peer, proc, args, kwargs);
    throw new Error(`${proc} returned ${JSON.stringify(res)}, want error ${uri}`);
  } catch (e) {
    if (!(e instanceof autobahn.Error)) throw e;
    assert(e.error === uri, `${proc}: error ${e.error}, want ${uri}`);
  }
}

async function subscribe(peer, topic, options) {
  const queue = new EventQueueWithSub();
  queue.sub = await withTimeout(peer.session.subscribe(topic, (args, kwargs, details) => {
    queue.push({ args: args || [], kwargs: kwargs || {}, details });
  }, options || {}), STEP_TIMEOUT_MS, `SUBSCRIBED for ${topic}`);
  return queue;
}

// The events of one subscription (as lib.js's queue, with its Subscription).
class EventQueueWithSub {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.sub = null;
  }

  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next(what) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), STEP_TIMEOUT_MS, what || 'EVENT');
  }

  // Waits for the next event whose predicate holds, dropping the others.
  async nextWhere(pred, what) {
    for (;;) {
      const ev = await this.next(what);
      if (pred(ev)) return ev;
    }
  }

  async none(ms) {
    await sleep(ms);
    assert(this.items.length === 0, `unexpected event ${JSON.stringify(this.items[0] && this.items[0].args)}`);
  }
}

function publishAck(peer, topic, args, kwargs, options) {
  return withTimeout(peer.session.publish(topic, args || [], kwargs || {}, Object.assign({ acknowledge: true }, options || {})),
    STEP_TIMEOUT_MS, `PUBLISHED for ${topic}`);
}

const about = (id) => (ev) => ev.args[0] === id || (ev.args[0] && ev.args[0].session === id);

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--testament-child') return testamentChild(argv.slice(1));
  if (argv[0] === '--history-publish' || argv[0] === '--history-read') return historyPhase(argv[0], argv.slice(1));
  const [url, serializer] = argv;
  if (!url || !['json', 'msgpack'].includes(serializer)) {
    console.error(lib.usage(__filename));
    process.exit(2);
  }
  const results = new lib.Results();
  lib.hardTimeout(50000, results);
  const prefix = lib.uniquePrefix(`js.pubsub.${serializer}`);
  const peers = {};

  await results.check('join', async () => {
    for (const name of ['a', 'b', 'c']) peers[name] = await connect(url, serializer);
  });
  if (!peers.a || !peers.b || !peers.c) return finish(results, peers);
  const { a, b, c } = peers;
  const info = {};
  for (const name of ['a', 'b', 'c']) {
    info[name] = await call(a, 'wamp.session.get', [peers[name].session.id]).catch(() => ({}));
  }

  await results.check('broker_features', async () => {
    const features = ((a.welcome.roles || {}).broker || {}).features || {};
    const missing = BROKER_FEATURES.filter((f) => features[f] !== true);
    assert(missing.length === 0, `WELCOME roles.broker.features lacks ${missing.join(', ')}: ${JSON.stringify(features)}`);
  });

  // --- pattern-based subscriptions ------------------------------------------
  const exactQ = await subscribe(b, `${prefix}.pattern.x.update`);
  const prefixQ = await subscribe(b, `${prefix}.pattern`, { match: 'prefix' });
  const wildQ = await subscribe(b, `${prefix}.pattern..update`, { match: 'wildcard' });
  await results.check('prefix_subscription', async () => {
    await publishAck(a, `${prefix}.pattern-other`, ['p']);
    const ev = await prefixQ.next();
    assert(ev.details.topic === `${prefix}.pattern-other`, `details.topic ${ev.details.topic}`);
    assert(ev.args[0] === 'p', `args ${JSON.stringify(ev.args)}`);
  });
  await results.check('wildcard_subscription', async () => {
    await publishAck(a, `${prefix}.pattern.y.update`, ['w']);
    const ev = await wildQ.next();
    assert(ev.details.topic === `${prefix}.pattern.y.update`, `details.topic ${ev.details.topic}`);
    const pev = await prefixQ.next(); // the prefix subscription matches too
    assert(pev.details.publication === ev.details.publication, 'different publication IDs');
    await publishAck(a, `${prefix}.pattern.y.update.more`, ['too long']);
    await prefixQ.next();
    await wildQ.none(QUIET_MS);
  });
  await results.check('event_per_subscription', async () => {
    await publishAck(a, `${prefix}.pattern.x.update`, ['all']);
    const evs = [await exactQ.next(), await prefixQ.next(), await wildQ.next()];
    const pubs = new Set(evs.map((e) => e.details.publication));
    assert(pubs.size === 1, `publication IDs ${[...pubs]}`);
    const subs = new Set([exactQ.sub.id, prefixQ.sub.id, wildQ.sub.id]);
    assert(subs.size === 3, 'the three subscriptions share IDs');
  });

  // --- subscriber black- and whitelisting -----------------------------------
  const listTopic = `${prefix}.listing`;
  const bQ = await subscribe(b, listTopic);
  const cQ = await subscribe(c, listTopic);
  // listed publishes with options, then a marker everyone gets, and checks
  // who received the listed event.
  async function listed(options, want) {
    await publishAck(a, listTopic, ['listed'], {}, options);
    await publishAck(a, listTopic, ['marker']);
    for (const [name, q] of [['b', bQ], ['c', cQ]]) {
      let ev = await q.next();
      if (want.includes(name)) {
        assert(ev.args[0] === 'listed', `${name} did not receive the event`);
        ev = await q.next();
      }
      assert(ev.args[0] === 'marker', `${name} received an event it was not listed for`);
    }
  }
  const bId = b.session.id;
  const cId = c.session.id;
  await results.check('exclude', () => listed({ exclude: [bId] }, ['c']));
  await results.check('exclude_authid', () => listed({ exclude_authid: [info.c.authid] }, ['b']));
  await results.check('exclude_authrole', async () => {
    await listed({ exclude_authrole: ['anonymous'] }, []);
    await listed({ exclude_authrole: ['admin'] }, ['b', 'c']);
  });
  await results.check('eligible', () => listed({ eligible: [cId] }, ['c']));
  await results.check('eligible_authid', () => listed({ eligible_authid: [info.b.authid] }, ['b']));
  await results.check('eligible_authrole', async () => {
    await listed({ eligible_authrole: ['anonymous'] }, ['b', 'c']);
    await listed({ eligible_authrole: ['admin'] }, []);
  });
  await results.check('eligible_and_exclude', async () => {
    await listed({ eligible: [bId, cId], exclude: [bId] }, ['c']);
    await listed({ eligible: [bId, cId], eligible_authid: [info.b.authid] }, ['b']);
    await listed({ eligible_authrole: ['anonymous'], exclude_authid: [info.b.authid, info.c.authid] }, []);
  });

  // --- publisher identification ---------------------------------------------
  await results.check('publisher_disclosure', async () => {
    await publishAck(a, listTopic, ['who'], {}, { disclose_me: true });
    const ev = await bQ.next();
    await cQ.next();
    assert(ev.details.publisher === a.session.id, `publisher ${ev.details.publisher}, want ${a.session.id}`);
    assert(ev.details.publisher_authid === info.a.authid, `publisher_authid ${ev.details.publisher_authid}`);
    assert(ev.details.publisher_authrole === 'anonymous', `publisher_authrole ${ev.details.publisher_authrole}`);
    await publishAck(a, listTopic, ['anonymous']);
    const plain = await bQ.next();
    await cQ.next();
    assert(plain.details.publisher === undefined, `publisher disclosed without disclose_me: ${plain.details.publisher}`);
  });

  // --- event retention -------------------------------------------------------
  await results.check('retained_event', async () => {
    const topic = `${prefix}.retained`;
    await publishAck(a, topic, [1], {}, { retain: true });
    await publishAck(a, topic, [2], { latest: true }, { retain: true });
    await publishAck(a, topic, [3]); // not retained
    const q = await subscribe(b, topic, { get_retained: true });
    const ev = await q.next('the retained EVENT');
    assert(ev.details.retained === true, `details.retained ${ev.details.retained}`);
    const d = diff({ args: [2], kwargs: { latest: true } }, { args: ev.args, kwargs: ev.kwargs });
    assert(!d, `retained payload: ${d}`);
    await q.none(QUIET_MS);
    const plain = await subscribe(c, topic);
    await plain.none(QUIET_MS);
  });
  await results.check('retained_listing', async () => {
    const topic = `${prefix}.retained.private`;
    await publishAck(a, topic, ['for c'], {}, { retain: true, eligible_authid: [info.c.authid] });
    const bq = await subscribe(b, topic, { get_retained: true });
    const cq = await subscribe(c, topic, { get_retained: true });
    const ev = await cq.next('the retained EVENT');
    assert(ev.args[0] === 'for c' && ev.details.retained === true, `retained ${JSON.stringify(ev)}`);
    await bq.none(QUIET_MS);
  });

  // --- subscription meta API ---------------------------------------------------
  const metaTopic = `${prefix}.meta`;
  const created = await subscribe(a, 'wamp.subscription.on_create');
  const subscribed = await subscribe(a, 'wamp.subscription.on_subscribe');
  const unsubscribed = await subscribe(a, 'wamp.subscription.on_unsubscribe');
  const deleted = await subscribe(a, 'wamp.subscription.on_delete');
  let metaSub;
  const metaQs = [];
  await results.check('subscription_on_create', async () => {
    const q = await subscribe(b, metaTopic);
    metaQs.push([b, bId, q]);
    metaSub = q.sub;
    const ev = await created.nextWhere(about(b.session.id), 'on_create');
    const d = ev.args[1];
    assert(d.id === metaSub.id && d.uri === metaTopic && d.match === 'exact' && ISO_UTC.test(d.created),
      `on_create details ${JSON.stringify(d)}`);
    const s = await subscribed.nextWhere(about(b.session.id), 'on_subscribe');
    assert(s.args[1] === metaSub.id, `on_subscribe ${JSON.stringify(s.args)}`);
    metaQs.push([c, cId, await subscribe(c, metaTopic)]);
    await subscribed.nextWhere(about(c.session.id), 'on_subscribe of c');
  });
  await results.check('subscription_list', async () => {
    const lists = await call(a, 'wamp.subscription.list');
    assert(lists.exact.includes(metaSub.id), `exact ${JSON.stringify(lists.exact)} lacks ${metaSub.id}`);
    assert(lists.prefix.includes(prefixQ.sub.id) && lists.wildcard.includes(wildQ.sub.id), `lists ${JSON.stringify(lists)}`);
  });
  await results.check('subscription_lookup', async () => {
    assert(await call(a, 'wamp.subscription.lookup', [metaTopic]) === metaSub.id, 'exact lookup');
    assert(await call(a, 'wamp.subscription.lookup', [`${prefix}.pattern`, { match: 'prefix' }]) === prefixQ.sub.id, 'prefix lookup');
    const none = await call(a, 'wamp.subscription.lookup', [`${prefix}.nothing`]);
    assert(none === null || none === undefined, `lookup of nothing: ${none}`);
  });
  await results.check('subscription_match', async () => {
    const ids = await call(a, 'wamp.subscription.match', [`${prefix}.pattern.x.update`]);
    const want = [exactQ.sub.id, prefixQ.sub.id, wildQ.sub.id].sort((x, y) => x - y);
    assert(JSON.stringify([...ids].sort((x, y) => x - y)) === JSON.stringify(want), `match ${JSON.stringify(ids)}, want ${want}`);
  });
  await results.check('subscription_get', async () => {
    const d = await call(a, 'wamp.subscription.get', [metaSub.id]);
    assert(d.id === metaSub.id && d.uri === metaTopic && d.match === 'exact' && ISO_UTC.test(d.created), `get ${JSON.stringify(d)}`);
    await expectError(a, 'wamp.subscription.get', [999999999], {}, 'wamp.error.no_such_subscription');
  });
  await results.check('subscription_list_subscribers', async () => {
    const ids = await call(a, 'wamp.subscription.list_subscribers', [metaSub.id]);
    assert(ids.length === 2 && ids.includes(bId) && ids.includes(cId), `subscribers ${JSON.stringify(ids)}`);
  });
  await results.check('subscription_count_subscribers', async () => {
    const n = await call(a, 'wamp.subscription.count_subscribers', [metaSub.id]);
    assert(n === 2, `count ${n}`);
  });
  await results.check('subscription_on_delete', async () => {
    for (const [peer, id, q] of metaQs) {
      await withTimeout(peer.session.unsubscribe(q.sub), STEP_TIMEOUT_MS, 'UNSUBSCRIBED');
      const ev = await unsubscribed.nextWhere(about(id), 'on_unsubscribe');
      assert(ev.args[1] === metaSub.id, `on_unsubscribe ${JSON.stringify(ev.args)}`);
    }
    const ev = await deleted.nextWhere(about(cId), 'on_delete');
    assert(ev.args[1] === metaSub.id, `on_delete ${JSON.stringify(ev.args)}`);
  });

  // --- event history -----------------------------------------------------------
  await results.check('history_get_events', async () => {
    const topic = `${prefix}.history`;
    const pubs = [];
    for (let i = 1; i <= 3; i++) pubs.push((await publishAck(a, topic, [i], { n: i })).id);
    const q = await subscribe(b, topic);
    const all = await call(b, 'wamp.subscription.get_events', [q.sub.id]);
    assert(Array.isArray(all) && all.length === 3, `get_events: ${JSON.stringify(all)}`);
    all.forEach((ev, i) => {
      assert(ev.publication === pubs[i] && ev.subscription === q.sub.id && ev.args[0] === i + 1 && ev.kwargs.n === i + 1,
        `event ${i}: ${JSON.stringify(ev)}`);
      assert(typeof ev.timestamp === 'string' && !Number.isNaN(Date.parse(ev.timestamp)), `timestamp ${ev.timestamp}`);
    });
    const limited = await call(b, 'wamp.subscription.get_events', [q.sub.id], { limit: 2 });
    assert(limited.map((e) => e.publication).join() === pubs.slice(0, 2).join(), `limit 2: ${JSON.stringify(limited)}`);
    const last = await call(b, 'wamp.subscription.get_events', [q.sub.id], { reverse: true, limit: 1 });
    assert(last.length === 1 && last[0].publication === pubs[2], `reverse: ${JSON.stringify(last)}`);
    const after = await call(b, 'wamp.subscription.get_events', [q.sub.id], { after_publication: pubs[0] });
    assert(after.map((e) => e.publication).join() === pubs.slice(1).join(), `after_publication: ${JSON.stringify(after)}`);
    const byTime = await call(b, 'wamp.subscription.get_events', [q.sub.id], { from_time: all[1].timestamp });
    assert(byTime.length >= 2 && byTime[byTime.length - 1].publication === pubs[2], `from_time: ${JSON.stringify(byTime)}`);
  });

  // --- session meta API ------------------------------------------------------------
  const joins = await subscribe(a, 'wamp.session.on_join');
  const leaves = await subscribe(a, 'wamp.session.on_leave');
  let d;
  await results.check('session_on_join', async () => {
    d = await connect(url, serializer);
    const ev = await joins.nextWhere(about(d.session.id), 'on_join');
    const det = ev.args[0];
    assert(det.authrole === 'anonymous' && det.authmethod === 'anonymous' && typeof det.authid === 'string' &&
      typeof det.authprovider === 'string', `on_join details ${JSON.stringify(det)}`);
  });
  await results.check('session_count', async () => {
    const n = await call(a, 'wamp.session.count');
    assert(n === 4, `count ${n}, want 4`);
    assert(await call(a, 'wamp.session.count', [['anonymous']]) === 4, 'count of anonymous');
    assert(await call(a, 'wamp.session.count', [['admin']]) === 0, 'count of admin');
  });
  await results.check('session_list', async () => {
    const ids = await call(a, 'wamp.session.list');
    for (const p of [a, b, c, d]) assert(ids.includes(p.session.id), `list ${JSON.stringify(ids)} lacks ${p.session.id}`);
    const none = await call(a, 'wamp.session.list', [['admin']]);
    assert(Array.isArray(none) && none.length === 0, `list of admin ${JSON.stringify(none)}`);
  });
  await results.check('session_get', async () => {
    const det = await call(a, 'wamp.session.get', [d.session.id]);
    assert(det.session === d.session.id && det.authrole === 'anonymous' && det.authmethod === 'anonymous',
      `get ${JSON.stringify(det)}`);
    await expectError(a, 'wamp.session.get', [1], {}, 'wamp.error.no_such_session');
  });
  await results.check('session_kill', async () => {
    const dId = d.session.id; // autobahn.js forgets it on GOODBYE
    const dAuthid = (await call(a, 'wamp.session.get', [dId])).authid;
    await call(a, 'wamp.session.kill', [dId], { reason: 'com.example.conformance.kicked', message: 'bye' });
    const closed = await withTimeout(d.closed, STEP_TIMEOUT_MS, 'the killed session to close');
    assert(closed.details.reason === 'com.example.conformance.kicked' && closed.details.message === 'bye',
      `the killed session saw ${JSON.stringify(closed.details)}`);
    const ev = await leaves.nextWhere(about(dId), 'on_leave');
    assert(ev.args[1] === dAuthid && ev.args[2] === 'anonymous', `on_leave ${JSON.stringify(ev.args)}`);
    assert(ev.kwargs.reason === 'com.example.conformance.kicked', `on_leave reason ${JSON.stringify(ev.kwargs)}`);
    await expectError(a, 'wamp.session.kill', [a.session.id], {}, 'wamp.error.no_such_session');
  });
  await results.check('session_on_leave', async () => {
    const e = await connect(url, serializer);
    const id = e.session.id;
    await lib.disconnect(e);
    const ev = await leaves.nextWhere(about(id), 'on_leave');
    assert(ev.args.length === 3 && ev.args[2] === 'anonymous', `on_leave ${JSON.stringify(ev.args)}`);
  });
  await results.check('session_kill_by_authid', async () => {
    const e = await connect(url, serializer);
    const eId = e.session.id;
    const authid = (await call(a, 'wamp.session.get', [eId])).authid;
    const killed = await call(a, 'wamp.session.kill_by_authid', [authid]);
    assert(Array.isArray(killed) && killed.length === 1 && killed[0] === eId, `killed ${JSON.stringify(killed)}, want [${eId}]`);
    const closed = await withTimeout(e.closed, STEP_TIMEOUT_MS, 'the killed session to close');
    assert(closed.details.reason === 'wamp.close.killed', `reason ${JSON.stringify(closed.details)}`);
  });

  // --- testaments --------------------------------------------------------------
  await results.check('testament_killed_client', async () => {
    const topic = `${prefix}.testament`;
    const wills = await subscribe(a, topic);
    const child = spawn(process.execPath, [__filename, '--testament-child', url, serializer, topic],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal || code)));
    const ready = new Promise((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('ready ')) resolve(Number(line.slice(6)));
        else reject(new Error(`child: ${line}`));
      });
      child.on('exit', () => reject(new Error('child exited before it was ready')));
    });
    const childId = await withTimeout(ready, STEP_TIMEOUT_MS, 'the child to add its testaments');
    await wills.none(QUIET_MS);
    child.kill('SIGKILL');
    assert(await exited === 'SIGKILL', 'child not killed');
    const first = await wills.next('the detached testament');
    const second = await wills.next('the destroyed testament');
    assert(first.args[0] === 'detached' && second.args[0] === 'destroyed', `order ${first.args} ${second.args}`);
    assert(second.kwargs.who === 'child' && second.details.publisher === childId, `testament ${JSON.stringify(second)}`);
    const leave = await leaves.nextWhere(about(childId), 'on_leave of the killed child');
    assert(leave.args[2] === 'anonymous', `on_leave ${JSON.stringify(leave.args)}`);
  });

  await results.check('session_kill_by_authrole', async () => {
    const f = await connect(url, serializer);
    const fId = f.session.id;
    const n = await call(a, 'wamp.session.kill_by_authrole', ['anonymous']);
    assert(n === 3, `killed ${n}, want 3 (b, c, f)`);
    for (const p of [b, c, f]) await withTimeout(p.closed, STEP_TIMEOUT_MS, 'a killed session to close');
    const left = new Set();
    while (left.size < 3) {
      const ev = await leaves.next('on_leave of the sessions killed by authrole');
      if ([bId, cId, fId].includes(ev.args[0])) left.add(ev.args[0]);
    }
    assert(await call(a, 'wamp.session.count') === 1, 'sessions other than the caller remain');
  });
  await results.check('session_kill_all', async () => {
    const g = await connect(url, serializer);
    await sleep(QUIET_MS);
    leaves.items.length = 0; // what came before
    const n = await call(a, 'wamp.session.kill_all', [], { message: 'everyone out' });
    assert(n === 1, `killed ${n}, want 1`);
    const closed = await withTimeout(g.closed, STEP_TIMEOUT_MS, 'the killed session to close');
    assert(closed.details.message === 'everyone out', `killed session saw ${JSON.stringify(closed.details)}`);
    await leaves.none(QUIET_MS); // kill_all publishes no on_leave
  });

  await results.check('leave', async () => {
    const r = await lib.disconnect(a);
    assert(r.goodbye === 'wamp.close.goodbye_and_out', `GOODBYE reason ${r.goodbye}`);
  });
  finish(results, {});
}

// The testament child: adds a detached and a destroyed testament, says it is
// ready, and waits to be killed.
async function testamentChild([url, serializer, topic]) {
  const peer = await lib.connect(url, serializer);
  const s = peer.session;
  await s.call('wamp.session.add_testament', [topic, ['destroyed'], { who: 'child' }], { publish_options: { disclose_me: true } });
  await s.call('wamp.session.add_testament', [topic, ['detached'], {}], { scope: 'detached' });
  console.log(`ready ${s.id}`);
  setInterval(() => {}, 1000);
}

// The two halves of the history-after-restart check.
async function historyPhase(mode, [url, serializer, topic]) {
  const results = new lib.Results();
  lib.hardTimeout(30000, results);
  const check = mode === '--history-publish' ? 'history_publish' : 'history_after_restart';
  let peer;
  await results.check(check, async () => {
    peer = await connect(url, serializer);
    if (mode === '--history-publish') {
      for (let i = 1; i <= 3; i++) await publishAck(peer, topic, [`event ${i}`], { i });
      return;
    }
    const q = await subscribe(peer, topic);
    const evs = await call(peer, 'wamp.subscription.get_events', [q.sub.id]);
    const got = evs.map((e) => [e.args[0], e.kwargs.i]);
    const want = [['event 1', 1], ['event 2', 2], ['event 3', 3]];
    assert(JSON.stringify(got) === JSON.stringify(want), `history after restart ${JSON.stringify(got)}`);
  });
  if (peer) await lib.disconnect(peer).catch(() => {});
  process.exit(results.failed ? 1 : 0);
}

function finish(results, peers) {
  for (const p of Object.values(peers)) {
    try { if (p && p.connection) p.connection.close(); } catch (_) { /* closed */ }
  }
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL main: ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : e}`);
  process.exit(1);
});
