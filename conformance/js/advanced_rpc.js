'use strict';
// autobahn.js checks of the dealer's advanced RPC profile, for one serializer.
//
//   node advanced_rpc.js <ws-url> <json|msgpack>
//
// Session A is the caller (and the meta API observer), B and C are callees;
// all three speak the given serializer. Every session's serializer is tapped,
// so checks can assert the exact WAMP messages the router sent (INVOCATION
// details, ERROR after CANCEL, ...) besides what the autobahn.js API reports.
// Prints "ok <check>" / "FAIL <check>: <detail>" per check and exits non-zero
// if anything failed. See conformance/README.md for what autobahn.js can and
// cannot express here.

const lib = require('./lib.js');
const { autobahn, assert, asResult, diff, withTimeout, sleep, STEP_TIMEOUT_MS } = lib;

// WAMP message types.
const T = {
  HELLO: 1, WELCOME: 2, ERROR: 8, CALL: 48, CANCEL: 49, RESULT: 50,
  REGISTER: 64, REGISTERED: 65, INVOCATION: 68, INTERRUPT: 69, YIELD: 70,
};

const DEALER_FEATURES = [
  'progressive_call_results', 'progressive_call_invocations', 'call_timeout', 'call_canceling',
  'caller_identification', 'pattern_based_registration', 'shared_registration', 'registration_meta_api',
];

// How long a callee that is to be canceled or timed out takes to answer.
const SLOW_MS = 1000;
// The CALL timeout; far below SLOW_MS.
const TIMEOUT_MS = 200;
// How long to wait for a message that must not come.
const QUIET_MS = 300;
// Accepted ISO 8601 UTC timestamp in wamp.registration.get / on_create.
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function clone(v) {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

// Wire records every WAMP message one session sends and receives, as the
// serializer sees it.
class Wire {
  constructor() {
    this.entries = [];
    this.waiters = [];
  }

  record(dir, msg) {
    const entry = { dir, msg: clone(msg), t: Date.now() };
    this.entries.push(entry);
    this.waiters = this.waiters.filter((w) => {
      if (this.entries.length - 1 < w.since || !w.pred(entry)) return true;
      w.resolve(entry);
      return false;
    });
  }

  // Index of the next message to be recorded; pass it as `since`.
  mark() {
    return this.entries.length;
  }

  find(pred, since = 0) {
    return this.entries.slice(since).filter(pred);
  }

  wait(pred, since, what, ms = STEP_TIMEOUT_MS) {
    const found = this.entries.slice(since).find(pred);
    if (found) return Promise.resolve(found);
    return withTimeout(new Promise((resolve) => this.waiters.push({ pred, since, resolve })), ms, what);
  }
}

// Message predicates.
const incoming = (type, test) => (e) => e.dir === 'in' && e.msg[0] === type && (!test || test(e.msg));
const outgoing = (type, test) => (e) => e.dir === 'out' && e.msg[0] === type && (!test || test(e.msg));

function tapSerializer(serializer, wire) {
  const serialize = serializer.serialize.bind(serializer);
  const unserialize = serializer.unserialize.bind(serializer);
  serializer.serialize = (obj) => {
    wire.record('out', obj);
    return serialize(obj);
  };
  serializer.unserialize = (payload) => {
    const msg = unserialize(payload);
    wire.record('in', msg);
    return msg;
  };
}

function makeSerializer(name) {
  if (name === 'json') return new autobahn.serializer.JSONSerializer();
  if (name === 'msgpack') return new autobahn.serializer.MsgpackSerializer();
  throw new Error(`unknown serializer ${name}`);
}

// Opens a session with autobahn.js's default (when.js) deferreds: only they
// carry progressive call results (d.notify); ES6 promises have no progress.
function open(url, serializerName, name) {
  const wire = new Wire();
  const serializer = makeSerializer(serializerName);
  tapSerializer(serializer, wire);
  const connection = new autobahn.Connection({
    url,
    realm: 'realm1',
    serializers: [serializer],
    max_retries: 0,
    retry_if_unreachable: false,
    on_user_error: (err, message) => {
      if (!(err instanceof autobahn.Error)) console.error(name, message, err);
    },
    on_internal_error: (err, message) => console.error(name, 'internal error:', message, err),
  });
  const peer = { name, connection, wire, session: null, closed: null };
  const opened = new Promise((resolve, reject) => {
    connection.onopen = (session) => resolve(session);
    connection.onclose = (reason, details) => {
      peer.closed = { reason, details };
      reject(new Error(`${name}: connection closed before join: ${reason} ${JSON.stringify(details)}`));
      return true;
    };
  });
  connection.open();
  return withTimeout(opened, STEP_TIMEOUT_MS, `join of ${name}`).then((session) => {
    peer.session = session;
    connection.onclose = (reason, details) => {
      peer.closed = { reason, details };
      return true;
    };
    return peer;
  });
}

function leave(peer) {
  const closed = new Promise((resolve) => {
    peer.connection.onclose = (reason, details) => {
      resolve({ reason, goodbye: details && details.reason });
      return true;
    };
  });
  peer.connection.close();
  return withTimeout(closed, STEP_TIMEOUT_MS, `GOODBYE of ${peer.name}`);
}

function assertOpen(...peers) {
  for (const p of peers) {
    assert(!p.closed && p.session.isOpen, `session ${p.name} is no longer open: ${JSON.stringify(p.closed)}`);
  }
}

function assertEqual(want, got, what) {
  const d = diff(want, got, what);
  if (d) throw new Error(d);
}

// The request ID of the CALL just sent for `procedure`.
function lastCallRequest(peer, procedure) {
  const calls = peer.wire.find(outgoing(T.CALL, (m) => m[3] === procedure));
  assert(calls.length > 0, `no CALL for ${procedure} on the wire`);
  return calls[calls.length - 1].msg[1];
}

// Runs one check like Results.check and tells whether it passed, for checks
// that build on an earlier one.
async function passed(results, name, fn) {
  let ok = true;
  await results.check(name, async () => {
    try {
      await fn();
    } catch (e) {
      ok = false;
      throw e;
    }
  });
  return ok;
}

async function register(peer, procedure, endpoint, options) {
  return withTimeout(peer.session.register(procedure, endpoint, options), STEP_TIMEOUT_MS, `REGISTERED for ${procedure}`);
}

function call(peer, procedure, args, kwargs, options) {
  return withTimeout(peer.session.call(procedure, args, kwargs, options), STEP_TIMEOUT_MS, `answer to CALL ${procedure}`);
}

// Calls a meta procedure and returns its single positional result.
async function meta(peer, procedure, ...args) {
  return asResult(await call(peer, procedure, args)).args[0];
}

async function expectError(promise, uri, what) {
  let res;
  try {
    res = await withTimeout(promise, STEP_TIMEOUT_MS, what);
  } catch (e) {
    if (!(e instanceof autobahn.Error)) throw e;
    assert(e.error === uri, `${what}: error ${e.error} ${JSON.stringify(e.args)}, want ${uri}`);
    return e;
  }
  throw new Error(`${what}: succeeded with ${JSON.stringify(res)}, want error ${uri}`);
}

// A registration whose endpoint answers ["finished", procedure] after SLOW_MS.
async function registerSlow(peer, procedure, options) {
  return register(peer, procedure,
    () => new Promise((resolve) => setTimeout(() => resolve(new autobahn.Result(['finished', procedure])), SLOW_MS)), options);
}

async function main() {
  const [url, serializer] = process.argv.slice(2);
  if (!url || !['json', 'msgpack'].includes(serializer)) {
    console.error(lib.usage(__filename));
    process.exit(2);
  }
  const results = new lib.Results();
  lib.hardTimeout(50000, results);
  const prefix = lib.uniquePrefix(`jsadv.${serializer}`);
  let a;
  let b;
  let c;

  await results.check('join', async () => {
    a = await open(url, serializer, 'A');
    b = await open(url, serializer, 'B');
    c = await open(url, serializer, 'C');
  });
  if (!a || !b || !c) {
    await finish(results, [a, b, c]);
    return;
  }
  const welcome = (peer) => peer.wire.find(incoming(T.WELCOME))[0].msg[2];

  await results.check('dealer_features', async () => {
    const features = (((welcome(a).roles || {}).dealer || {}).features) || {};
    const missing = DEALER_FEATURES.filter((f) => features[f] !== true);
    assert(missing.length === 0, `WELCOME roles.dealer.features lacks ${missing.join(', ')}: ${JSON.stringify(features)}`);
  });

  // --- progressive call results -------------------------------------------
  const progressProc = `${prefix}.progress`;
  let progressReg;
  await results.check('progressive_results', async () => {
    progressReg = await register(b, progressProc, async (args, kwargs, details) => {
      if (!details.progress) return new autobahn.Result(['final', 0], { progressive: false });
      for (let i = 1; i <= 3; i++) {
        details.progress([i, `step ${i}`], { step: i });
        await sleep(10);
      }
      return new autobahn.Result(['final', 3], { progressive: true });
    });
    const seen = [];
    const bMark = b.wire.mark();
    const aMark = a.wire.mark();
    const p = a.session.call(progressProc, [], {}, { receive_progress: true });
    const req = lastCallRequest(a, progressProc);
    // when.js: the third argument of then() receives the progress updates.
    const final = await withTimeout(p.then(null, null, (r) => seen.push(['progress', clone(asResult(r))])),
      STEP_TIMEOUT_MS, 'progressive RESULTs and the final RESULT');
    seen.push(['final', clone(asResult(final))]);
    assertEqual([
      ['progress', { args: [1, 'step 1'], kwargs: { step: 1 } }],
      ['progress', { args: [2, 'step 2'], kwargs: { step: 2 } }],
      ['progress', { args: [3, 'step 3'], kwargs: { step: 3 } }],
      ['final', { args: ['final', 3], kwargs: { progressive: true } }],
    ], seen, 'caller saw');
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === progressReg.id), bMark, 'INVOCATION');
    assert(inv.msg[3].receive_progress === true, `INVOCATION details ${JSON.stringify(inv.msg[3])} lack receive_progress=true`);
    const answers = a.wire.find(incoming(T.RESULT, (m) => m[1] === req), aMark).map((e) => e.msg);
    assertEqual([
      [T.RESULT, req, { progress: true }, [1, 'step 1'], { step: 1 }],
      [T.RESULT, req, { progress: true }, [2, 'step 2'], { step: 2 }],
      [T.RESULT, req, { progress: true }, [3, 'step 3'], { step: 3 }],
      [T.RESULT, req, {}, ['final', 3], { progressive: true }],
    ], answers, 'RESULT messages at the caller');
  });

  await results.check('progressive_results_not_requested', async () => {
    assert(progressReg, 'registration from progressive_results missing');
    const bMark = b.wire.mark();
    const aMark = a.wire.mark();
    const res = asResult(await call(a, progressProc, [], {}));
    assertEqual({ args: ['final', 0], kwargs: { progressive: false } }, res, 'result');
    const req = lastCallRequest(a, progressProc);
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === progressReg.id), bMark, 'INVOCATION');
    assert(!('receive_progress' in inv.msg[3]), `INVOCATION details ${JSON.stringify(inv.msg[3])} carry receive_progress`);
    const answers = a.wire.find(incoming(T.RESULT, (m) => m[1] === req), aMark);
    assert(answers.length === 1, `caller got ${answers.length} RESULTs: ${JSON.stringify(answers.map((e) => e.msg))}`);
  });

  // --- call timeout --------------------------------------------------------
  const slowProc = `${prefix}.slow`;
  let slowReg;
  const slowOk = await passed(results, 'call_timeout', async () => {
    slowReg = await registerSlow(b, slowProc);
    const start = Date.now();
    await expectError(a.session.call(slowProc, [], {}, { timeout: TIMEOUT_MS }), 'wamp.error.timeout', 'call with timeout');
    const took = Date.now() - start;
    assert(took >= TIMEOUT_MS - 5 && took < SLOW_MS, `timeout error after ${took} ms, want about ${TIMEOUT_MS} ms`);
  });

  // autobahn.js callees do not announce call_canceling and cannot handle
  // INTERRUPT, so the dealer must not interrupt them; the late YIELD must be
  // dropped quietly.
  await results.check('call_timeout_no_interrupt', async () => {
    assert(slowOk, 'call_timeout failed');
    const req = lastCallRequest(a, slowProc);
    const inv = b.wire.find(incoming(T.INVOCATION, (m) => m[2] === slowReg.id)).pop();
    assert(inv, 'the callee got no INVOCATION');
    await b.wire.wait(outgoing(T.YIELD, (m) => m[1] === inv.msg[1]), 0, "the callee's late YIELD");
    await sleep(QUIET_MS);
    const interrupts = b.wire.find(incoming(T.INTERRUPT));
    assert(interrupts.length === 0, `callee without call_canceling got ${JSON.stringify(interrupts.map((e) => e.msg))}`);
    const answers = a.wire.find((e) => e.dir === 'in' && (e.msg[0] === T.RESULT || e.msg[0] === T.ERROR) && e.msg[e.msg[0] === T.ERROR ? 2 : 1] === req);
    assertEqual([[T.ERROR, T.CALL, req, {}, 'wamp.error.timeout']], answers.map((e) => e.msg.slice(0, 5)), 'answers to the timed-out CALL');
    assertOpen(a, b);
  });

  await results.check('call_timeout_forwarded', async () => {
    const proc = `${prefix}.fwd`;
    const reg = await register(b, proc, () => new Promise((resolve) => setTimeout(() => resolve('late but fine'), 2 * TIMEOUT_MS)),
      { forward_timeout: true });
    const bMark = b.wire.mark();
    const res = await call(a, proc, [], {}, { timeout: TIMEOUT_MS });
    assertEqual('late but fine', res, 'result past the forwarded timeout');
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === reg.id), bMark, 'INVOCATION');
    assert(inv.msg[3].timeout === TIMEOUT_MS, `INVOCATION details ${JSON.stringify(inv.msg[3])}, want timeout ${TIMEOUT_MS}`);
  });

  // --- call canceling ------------------------------------------------------
  const cancelProc = `${prefix}.cancelable`;
  let cancelReg;
  await results.check('slow_callee', async () => {
    cancelReg = await registerSlow(b, cancelProc);
  });

  // One canceled call: `cancelOptions` undefined means call.cancel() without
  // arguments. The callee (autobahn.js) has no call_canceling, so for every
  // mode the dealer does not interrupt it and drops its late YIELD.
  // autobahn.js 22.11.1 settles a call canceled with skip or killnowait by
  // itself (rejects it with Error("Cancelled")) and forgets the request; an
  // ERROR for it would make autobahn.js drop its connection as a protocol
  // violation. Pawl serves it as it expects: no ERROR after such a CANCEL.
  // With kill the call stays pending in autobahn.js, and the dealer answers
  // wamp.error.canceled at once (the callee cannot be interrupted).
  async function cancelCheck(cancelOptions) {
    assert(cancelReg, 'registration of the cancelable procedure failed');
    const aMark = a.wire.mark();
    const bMark = b.wire.mark();
    const p = a.session.call(cancelProc, [], {});
    const req = lastCallRequest(a, cancelProc);
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === cancelReg.id), bMark, 'INVOCATION');
    const kill = cancelOptions && cancelOptions.mode === 'kill';
    p.cancel(cancelOptions);
    const cancelMsg = a.wire.find(outgoing(T.CANCEL, (m) => m[1] === req), aMark);
    assertEqual([[T.CANCEL, req, cancelOptions || {}]], cancelMsg.map((e) => e.msg), 'CANCEL sent');
    let err;
    try {
      const res = await withTimeout(p, STEP_TIMEOUT_MS, 'the canceled call to settle');
      throw new Error(`canceled call resolved with ${JSON.stringify(res)}`);
    } catch (e) {
      err = e;
    }
    assert(err instanceof autobahn.Error, `canceled call rejected with ${err}`);
    const wantLocal = kill ? 'wamp.error.canceled' : 'Cancelled';
    assert(err.error === wantLocal, `canceled call rejected with ${err.error}, want ${wantLocal}`);
    const yieldMsg = await b.wire.wait(outgoing(T.YIELD, (m) => m[1] === inv.msg[1]), bMark, "the callee's late YIELD");
    await sleep(QUIET_MS);
    const interrupts = b.wire.find(incoming(T.INTERRUPT), bMark);
    assert(interrupts.length === 0, `callee without call_canceling got ${JSON.stringify(interrupts.map((e) => e.msg))}`);
    const answers = a.wire.find((e) => e.dir === 'in' && ((e.msg[0] === T.RESULT && e.msg[1] === req) || (e.msg[0] === T.ERROR && e.msg[2] === req)), aMark);
    if (kill) {
      assert(answers.length === 1, `caller got ${answers.length} answers to the canceled CALL: ${JSON.stringify(answers.map((e) => e.msg))}`);
      assertEqual([T.ERROR, T.CALL, req, {}, 'wamp.error.canceled'], answers[0].msg.slice(0, 5), 'ERROR for the canceled CALL');
      assert(answers[0].t <= yieldMsg.t, 'the caller got the ERROR after the callee\'s YIELD; it must not wait for the callee');
    } else {
      assert(answers.length === 0, `autobahn.js settled the call itself but the router still answered: ${JSON.stringify(answers.map((e) => e.msg))}`);
    }
    assertOpen(a, b);
    // The callee is free again: a new call goes through.
    const res = asResult(await withTimeout(a.session.call(cancelProc, [], {}), STEP_TIMEOUT_MS + SLOW_MS, 'a call after the cancel'));
    assertEqual(['finished', cancelProc], res.args, 'result after the cancel');
  }

  await results.check('cancel_skip', () => cancelCheck({ mode: 'skip' }));
  await results.check('cancel_killnowait', () => cancelCheck({ mode: 'killnowait' }));
  await results.check('cancel_kill', () => cancelCheck({ mode: 'kill' }));
  await results.check('cancel_default', () => cancelCheck(undefined));

  // --- caller identification ----------------------------------------------
  const who = (args, kwargs, details) => new autobahn.Result([details.caller === undefined ? null : details.caller,
    details.caller_authid === undefined ? null : details.caller_authid,
    details.caller_authrole === undefined ? null : details.caller_authrole]);
  const whoProc = `${prefix}.who`;
  let whoReg;
  const wantCaller = () => [a.session.id, welcome(a).authid, welcome(a).authrole];

  await results.check('caller_disclosure', async () => {
    whoReg = await register(b, whoProc, who);
    const bMark = b.wire.mark();
    const res = asResult(await call(a, whoProc, [], {}, { disclose_me: true }));
    assertEqual(wantCaller(), res.args, 'caller, caller_authid, caller_authrole');
    assert(typeof res.args[1] === 'string' && typeof res.args[2] === 'string', `authid/authrole not strings: ${JSON.stringify(res.args)}`);
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === whoReg.id), bMark, 'INVOCATION');
    assert(inv.msg[3].caller === a.session.id, `INVOCATION details ${JSON.stringify(inv.msg[3])}`);
  });

  await results.check('caller_not_disclosed', async () => {
    assert(whoReg, 'registration from caller_disclosure missing');
    const bMark = b.wire.mark();
    const res = asResult(await call(a, whoProc, [], {}));
    assertEqual([null, null, null], res.args, 'caller details without disclose_me');
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === whoReg.id), bMark, 'INVOCATION');
    for (const k of ['caller', 'caller_authid', 'caller_authrole']) {
      assert(!(k in inv.msg[3]), `INVOCATION details ${JSON.stringify(inv.msg[3])} carry ${k}`);
    }
  });

  await results.check('caller_disclosure_registration', async () => {
    const proc = `${prefix}.whoall`;
    await register(b, proc, who, { disclose_caller: true });
    const res = asResult(await call(a, proc, [], {}));
    assertEqual(wantCaller(), res.args, 'caller details with disclose_caller');
  });

  // --- pattern-based registrations ----------------------------------------
  const named = (name) => (args, kwargs, details) => new autobahn.Result([name, details.procedure]);

  async function expectReached(uri, reg, name) {
    const bMark = b.wire.mark();
    const res = asResult(await call(a, uri, [], {}));
    assertEqual([name, uri], res.args, `call ${uri} reached`);
    const inv = await b.wire.wait(incoming(T.INVOCATION, (m) => m[2] === reg.id), bMark, `INVOCATION for ${uri}`);
    if (reg.options.match && reg.options.match !== 'exact') {
      assert(inv.msg[3].procedure === uri, `INVOCATION details ${JSON.stringify(inv.msg[3])}, want procedure ${uri}`);
    }
  }

  await results.check('pattern_prefix', async () => {
    const reg = await register(b, `${prefix}.pfx`, named('prefix'), { match: 'prefix' });
    reg.options = { match: 'prefix' };
    await expectReached(`${prefix}.pfx.a`, reg, 'prefix');
    await expectReached(`${prefix}.pfx.a.b.c`, reg, 'prefix');
    // The spec's prefix match is on the URI string, not on components.
    await expectReached(`${prefix}.pfx-sub`, reg, 'prefix');
    await expectReached(`${prefix}.pfx`, reg, 'prefix');
    await expectError(a.session.call(`${prefix}.pf`, []), 'wamp.error.no_such_procedure', 'a URI the prefix does not cover');
    await expectError(a.session.call(`${prefix}.other.pfx`, []), 'wamp.error.no_such_procedure', 'a URI the prefix does not cover');
  });

  await results.check('pattern_wildcard', async () => {
    const reg = await register(b, `${prefix}.wc..get`, named('wildcard'), { match: 'wildcard' });
    reg.options = { match: 'wildcard' };
    await expectReached(`${prefix}.wc.x.get`, reg, 'wildcard');
    await expectReached(`${prefix}.wc.other.get`, reg, 'wildcard');
    await expectError(a.session.call(`${prefix}.wc.x.set`, []), 'wamp.error.no_such_procedure', 'a URI the wildcard does not match');
    await expectError(a.session.call(`${prefix}.wc.x.get.more`, []), 'wamp.error.no_such_procedure', 'a URI with more components');
  });

  await results.check('pattern_precedence', async () => {
    const p = `${prefix}.prec`;
    const regs = {};
    for (const [uri, match, name] of [
      [`${p}.a.b`, 'exact', 'exact'],
      [`${p}.a`, 'prefix', 'long-prefix'],
      [p, 'prefix', 'short-prefix'],
      [`${p}..b`, 'wildcard', 'wildcard'],
    ]) {
      regs[name] = await register(b, uri, named(name), { match });
      regs[name].options = { match };
    }
    await expectReached(`${p}.a.b`, regs.exact, 'exact');
    await expectReached(`${p}.a.c`, regs['long-prefix'], 'long-prefix');
    await expectReached(`${p}.a.b.c`, regs['long-prefix'], 'long-prefix');
    await expectReached(`${p}.z.b`, regs['short-prefix'], 'short-prefix');
  });

  // --- shared registration -------------------------------------------------
  const rrProc = `${prefix}.rr`;
  let rrOk = false;
  await results.check('shared_roundrobin', async () => {
    const regB = await register(b, rrProc, () => 'B', { invoke: 'roundrobin' });
    const regC = await register(c, rrProc, () => 'C', { invoke: 'roundrobin' });
    assert(regB.id === regC.id, `the two callees got registrations ${regB.id} and ${regC.id}, want one shared registration`);
    rrOk = true;
    const seq = [];
    for (let i = 0; i < 6; i++) seq.push(await call(a, rrProc, [], {}));
    const first = seq[0];
    const second = first === 'B' ? 'C' : 'B';
    assertEqual([first, second, first, second, first, second], seq, 'round-robin sequence');
  });

  await results.check('shared_policy_conflict', async () => {
    assert(rrOk, 'shared registration from shared_roundrobin missing');
    await expectError(a.session.register(rrProc, () => 'A', { invoke: 'random' }), 'wamp.error.procedure_already_exists',
      'REGISTER with invoke=random');
    await expectError(a.session.register(rrProc, () => 'A'), 'wamp.error.procedure_already_exists',
      'REGISTER with invoke=single');
    await expectError(b.session.register(rrProc, () => 'B', { invoke: 'roundrobin' }), 'wamp.error.procedure_already_exists',
      'a second REGISTER by the same callee');
  });

  await metaChecks(results, prefix, a, b, c);
  await finish(results, [a, b, c]);
}

// --- registration meta API -------------------------------------------------
async function metaChecks(results, prefix, a, b, c) {
  const mp = `${prefix}.meta`;
  const uris = { exact: `${mp}.shared`, prefix: `${mp}.pfx`, wildcard: `${mp}..w` };
  const ids = {};
  const regs = {};
  const events = { items: [], push(e) { this.items.push(e); } };
  const topics = ['on_create', 'on_register', 'on_unregister', 'on_delete'];
  let before;
  let created;

  // Meta events about this run's registrations, in arrival order.
  const ours = () => events.items.filter((e) => Object.values(ids).includes(e.topic === 'on_create' ? (e.args[1] || {}).id : e.args[1]));
  let consumed = 0;
  // Waits (bounded) until n events about this run's registrations are in.
  async function waitOurs(n) {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (ours().length < n && Date.now() < deadline) await sleep(20);
  }
  // The details.created of our i-th event, if it is an on_create.
  const createdOf = (i) => {
    const e = ours()[i];
    return e && e.topic === 'on_create' && e.args[1] && typeof e.args[1] === 'object' ? e.args[1].created : undefined;
  };
  async function expectEvents(want, what) {
    await waitOurs(consumed + want.length);
    const got = ours().slice(consumed, consumed + want.length);
    consumed += got.length;
    assertEqual(want, got.map((e) => [e.topic, e.args]), what);
  }

  const setup = await passed(results, 'meta_events_register', async () => {
    for (const t of topics) {
      await withTimeout(a.session.subscribe(`wamp.registration.${t}`, (args) => events.push({ topic: t, args: args || [] })),
        STEP_TIMEOUT_MS, `SUBSCRIBED to wamp.registration.${t}`);
    }
    before = await meta(a, 'wamp.registration.list');
    regs.exactB = await register(b, uris.exact, () => 'B', { invoke: 'roundrobin' });
    ids.exact = regs.exactB.id;
    // on_create carries the registration's details (meta_get compares them
    // with wamp.registration.get's).
    await waitOurs(2);
    created = createdOf(0);
    assert(typeof created === 'string' && ISO_UTC.test(created),
      `on_create details.created ${JSON.stringify(created)} is not an ISO 8601 UTC time (events ${JSON.stringify(ours())})`);
    await expectEvents([
      ['on_create', [b.session.id, { id: ids.exact, created, uri: uris.exact, match: 'exact', invoke: 'roundrobin' }]],
      ['on_register', [b.session.id, ids.exact]],
    ], 'events for the first REGISTER');
    regs.exactC = await register(c, uris.exact, () => 'C', { invoke: 'roundrobin' });
    assert(regs.exactC.id === ids.exact, 'the second callee got another registration');
    await expectEvents([['on_register', [c.session.id, ids.exact]]], 'events for the second REGISTER of a shared registration');
    regs.prefix = await register(b, uris.prefix, () => 'P', { match: 'prefix' });
    ids.prefix = regs.prefix.id;
    regs.wildcard = await register(b, uris.wildcard, () => 'W', { match: 'wildcard' });
    ids.wildcard = regs.wildcard.id;
    await waitOurs(consumed + 4);
    await expectEvents([
      ['on_create', [b.session.id, { id: ids.prefix, created: createdOf(consumed), uri: uris.prefix, match: 'prefix', invoke: 'single' }]],
      ['on_register', [b.session.id, ids.prefix]],
      ['on_create', [b.session.id, { id: ids.wildcard, created: createdOf(consumed + 2), uri: uris.wildcard, match: 'wildcard', invoke: 'single' }]],
      ['on_register', [b.session.id, ids.wildcard]],
    ], 'events for the pattern REGISTERs');
  });

  const need = () => assert(setup, 'meta_events_register failed');

  await results.check('meta_list', async () => {
    need();
    const after = await meta(a, 'wamp.registration.list');
    assertEqual(['exact', 'prefix', 'wildcard'], Object.keys(after).sort(), 'keys of wamp.registration.list');
    for (const k of ['exact', 'prefix', 'wildcard']) {
      const added = after[k].filter((id) => !before[k].includes(id));
      assertEqual([ids[k]], added, `new ${k} registrations`);
    }
    const all = [...after.exact, ...after.prefix, ...after.wildcard];
    assert(!all.includes(UNUSED_ID), `the ID the checks use as unknown, ${UNUSED_ID}, is registered`);
    // Every listed registration is a client's: no meta procedure appears.
    for (const k of ['exact', 'prefix', 'wildcard']) {
      for (const id of after[k]) {
        const d = await meta(a, 'wamp.registration.get', id);
        assert(d.match === k, `registration ${id} listed under ${k} has match ${d.match}`);
        assert(!d.uri.startsWith('wamp.'), `wamp.registration.list lists ${d.uri}`);
      }
    }
  });

  await results.check('meta_lookup', async () => {
    need();
    assertEqual(ids.exact, await meta(a, 'wamp.registration.lookup', uris.exact), 'lookup of the exact URI');
    assertEqual(ids.exact, await meta(a, 'wamp.registration.lookup', uris.exact, { match: 'exact' }), 'lookup with match=exact');
    assertEqual(ids.prefix, await meta(a, 'wamp.registration.lookup', uris.prefix, { match: 'prefix' }), 'lookup with match=prefix');
    assertEqual(ids.wildcard, await meta(a, 'wamp.registration.lookup', uris.wildcard, { match: 'wildcard' }), 'lookup with match=wildcard');
    assertEqual(null, await meta(a, 'wamp.registration.lookup', uris.prefix), 'exact lookup of a prefix-only URI');
    assertEqual(null, await meta(a, 'wamp.registration.lookup', `${uris.prefix}.x`, { match: 'prefix' }), 'prefix lookup of a URI under the prefix');
    assertEqual(null, await meta(a, 'wamp.registration.lookup', `${mp}.none`), 'lookup of an unregistered URI');
    assertEqual(null, await meta(a, 'wamp.registration.lookup', 'wamp.registration.list'), 'lookup of a meta procedure');
  });

  await results.check('meta_match', async () => {
    need();
    assertEqual(ids.exact, await meta(a, 'wamp.registration.match', uris.exact), 'match of the exact URI');
    assertEqual(ids.prefix, await meta(a, 'wamp.registration.match', `${uris.prefix}.x.y`), 'match under the prefix');
    assertEqual(ids.wildcard, await meta(a, 'wamp.registration.match', `${mp}.any.w`), 'match of the wildcard');
    assertEqual(null, await meta(a, 'wamp.registration.match', `${mp}.any.v`), 'match of an unmatched URI');
    assertEqual(null, await meta(a, 'wamp.registration.match', 'wamp.registration.list'), 'match of a meta procedure');
  });

  await results.check('meta_get', async () => {
    need();
    const want = { id: ids.exact, created, uri: uris.exact, match: 'exact', invoke: 'roundrobin' };
    assertEqual(want, await meta(a, 'wamp.registration.get', ids.exact), 'get of the shared registration');
    const p = await meta(a, 'wamp.registration.get', ids.prefix);
    assert(ISO_UTC.test(p.created), `created ${JSON.stringify(p.created)}`);
    assertEqual({ id: ids.prefix, created: p.created, uri: uris.prefix, match: 'prefix', invoke: 'single' }, p, 'get of the prefix registration');
    const unknown = UNUSED_ID;
    await expectError(a.session.call('wamp.registration.get', [unknown]), 'wamp.error.no_such_registration', 'get of an unknown ID');
  });

  await results.check('meta_list_callees', async () => {
    need();
    const got = await meta(a, 'wamp.registration.list_callees', ids.exact);
    assertEqual([b.session.id, c.session.id].sort(), [...got].sort(), 'callees of the shared registration');
    assertEqual([b.session.id], await meta(a, 'wamp.registration.list_callees', ids.wildcard), 'callees of the wildcard registration');
    await expectError(a.session.call('wamp.registration.list_callees', [UNUSED_ID]), 'wamp.error.no_such_registration', 'list_callees of an unknown ID');
  });

  await results.check('meta_count_callees', async () => {
    need();
    assertEqual(2, await meta(a, 'wamp.registration.count_callees', ids.exact), 'count of the shared registration');
    assertEqual(1, await meta(a, 'wamp.registration.count_callees', ids.prefix), 'count of the prefix registration');
    await expectError(a.session.call('wamp.registration.count_callees', [UNUSED_ID]), 'wamp.error.no_such_registration', 'count_callees of an unknown ID');
  });

  await results.check('meta_events_unregister', async () => {
    need();
    await withTimeout(b.session.unregister(regs.exactB), STEP_TIMEOUT_MS, 'UNREGISTERED');
    await expectEvents([['on_unregister', [b.session.id, ids.exact]]], 'events for the first UNREGISTER of the shared registration');
    assertEqual(1, await meta(a, 'wamp.registration.count_callees', ids.exact), 'count after one callee left');
    assertEqual([c.session.id], await meta(a, 'wamp.registration.list_callees', ids.exact), 'callees after one left');
    await withTimeout(c.session.unregister(regs.exactC), STEP_TIMEOUT_MS, 'UNREGISTERED');
    await expectEvents([
      ['on_unregister', [c.session.id, ids.exact]],
      ['on_delete', [c.session.id, ids.exact]],
    ], 'events for the last UNREGISTER');
    await withTimeout(b.session.unregister(regs.prefix), STEP_TIMEOUT_MS, 'UNREGISTERED');
    await expectEvents([
      ['on_unregister', [b.session.id, ids.prefix]],
      ['on_delete', [b.session.id, ids.prefix]],
    ], 'events for the UNREGISTER of the prefix registration');
    await expectError(a.session.call('wamp.registration.get', [ids.exact]), 'wamp.error.no_such_registration', 'get of a deleted registration');
    assertEqual(null, await meta(a, 'wamp.registration.lookup', uris.exact), 'lookup of a deleted registration');
    const list = await meta(a, 'wamp.registration.list');
    assert(!list.exact.includes(ids.exact) && !list.prefix.includes(ids.prefix), `deleted registrations still listed: ${JSON.stringify(list)}`);
    assert(list.wildcard.includes(ids.wildcard), `the wildcard registration is no longer listed: ${JSON.stringify(list)}`);
    await sleep(QUIET_MS);
    const extra = ours().slice(consumed);
    assert(extra.length === 0, `unexpected meta events: ${JSON.stringify(extra)}`);
  });
}

// A registration ID nothing holds: the checks also assert that it is not in
// wamp.registration.list.
const UNUSED_ID = 2 ** 53 - 12345;

async function finish(results, peers) {
  await results.check('leave', async () => {
    const open = peers.filter(Boolean);
    assert(open.length > 0, 'no session to leave');
    for (const p of open) assert(!p.closed, `session ${p.name} closed before the end: ${JSON.stringify(p.closed)}`);
    const closes = await Promise.all(open.map((p) => leave(p)));
    for (const c of closes) {
      assert(c.reason === 'closed', `transport was not closed cleanly: ${JSON.stringify(c)}`);
      assert(c.goodbye === 'wamp.close.goodbye_and_out', `router's GOODBYE reply reason: ${JSON.stringify(c.goodbye)}`);
    }
  });
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL script: ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : e}`);
  process.exit(1);
});
