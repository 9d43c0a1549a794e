'use strict';
// Shared helpers for the autobahn.js conformance drivers.
//
// Output protocol (read by the Go tests): one line per check on stdout,
// "ok <name>" or "FAIL <name>: <detail>"; the process exits non-zero if any
// check failed or the hard timeout fired.

const path = require('path');
const autobahn = require('autobahn');

const REALM = 'realm1';
const PAYLOAD = require(path.join(__dirname, '..', 'testdata', 'payload.json'));

// How long a single wait (join, event, call result) may take before the
// check is reported as failed.
const STEP_TIMEOUT_MS = 5000;

function usage(script, extra) {
  return `usage: node ${path.basename(script)} <ws-url> <json|msgpack|cbor>${extra || ''}`;
}

function makeSerializer(name) {
  switch (name) {
    case 'json':
      return new autobahn.serializer.JSONSerializer();
    case 'msgpack':
      if (!autobahn.serializer.MsgpackSerializer) {
        throw new Error('autobahn.js has no msgpack serializer (is msgpack5 installed?)');
      }
      return new autobahn.serializer.MsgpackSerializer();
    case 'cbor':
      if (!autobahn.serializer.CBORSerializer) {
        throw new Error('autobahn.js has no CBOR serializer (is the npm cbor package installed?)');
      }
      return new autobahn.serializer.CBORSerializer();
    default:
      throw new Error(`unknown serializer ${name}`);
  }
}

// Installs a hard deadline: whatever is pending, the process ends.
function hardTimeout(ms, results) {
  setTimeout(() => {
    console.log(`FAIL hard_timeout: script still running after ${ms} ms`);
    results.failed = true;
    process.exit(3);
  }, ms);
}

class Results {
  constructor() {
    this.failed = false;
  }

  ok(name) {
    console.log(`ok ${name}`);
  }

  fail(name, detail) {
    this.failed = true;
    console.log(`FAIL ${name}: ${String(detail).replace(/\n/g, ' | ')}`);
  }

  // Runs one named check; an exception (or rejection) fails that check only.
  async check(name, fn) {
    try {
      await fn();
      this.ok(name);
    } catch (e) {
      this.fail(name, describeError(e));
    }
  }
}

function describeError(e) {
  if (e instanceof autobahn.Error) {
    return `WAMP error ${e.error} args=${show(e.args)} kwargs=${show(e.kwargs)}`;
  }
  if (e instanceof Error) {
    return e.message;
  }
  return show(e);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Opens one WAMP session (anonymous, realm1) with exactly one serializer
// offered, so the router must pick that subprotocol.
function connect(url, serializerName) {
  const connection = new autobahn.Connection({
    url,
    realm: REALM,
    serializers: [makeSerializer(serializerName)],
    use_es6_promises: true,
    max_retries: 0,
    retry_if_unreachable: false,
    // Application errors thrown on purpose by the test callees are expected;
    // anything else is printed to stderr for the Go test's log.
    on_user_error: (err, message) => {
      if (!(err instanceof autobahn.Error)) console.error(message, err);
    },
  });
  const opened = new Promise((resolve, reject) => {
    connection.onopen = (session) => resolve(session);
    connection.onclose = (reason, details) => {
      reject(new Error(`connection closed before join: ${reason} ${JSON.stringify(details)}`));
      return true; // do not retry
    };
  });
  connection.open();
  return withTimeout(opened, STEP_TIMEOUT_MS, `join (${serializerName})`).then((session) => {
    const protocol = session._socket && session._socket.info && session._socket.info.protocol;
    if (protocol && protocol !== `wamp.2.${serializerName}`) {
      throw new Error(`negotiated subprotocol ${protocol}, want wamp.2.${serializerName}`);
    }
    return { connection, session };
  }, (e) => {
    try { connection.close(); } catch (_) { /* already closed */ }
    throw e;
  });
}

// Leaves the realm (GOODBYE) and waits, bounded, until the transport is
// closed. Resolves with autobahn's close reason ("closed" for a clean close)
// and the reason URI of the router's GOODBYE reply.
function disconnect(peer) {
  const closed = new Promise((resolve) => {
    peer.connection.onclose = (reason, details) => {
      resolve({ reason, goodbye: details && details.reason });
      return true; // do not retry
    };
  });
  peer.connection.close();
  return withTimeout(closed, STEP_TIMEOUT_MS, 'GOODBYE reply and transport close');
}

// A queue of events for one subscription, so a check can wait for the next
// event or assert that none arrived.
class EventQueue {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next(ms, what) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), ms, what);
  }

  get length() {
    return this.items.length;
  }
}

async function subscribeQueue(session, topic) {
  const queue = new EventQueue();
  await withTimeout(session.subscribe(topic, (args, kwargs, details) => {
    queue.push({ args: args || [], kwargs: kwargs || {}, details });
  }), STEP_TIMEOUT_MS, `SUBSCRIBED for ${topic}`);
  return queue;
}

// Registers an endpoint that returns its arguments unchanged.
function registerEcho(session, procedure) {
  return withTimeout(session.register(procedure, (args, kwargs) => new autobahn.Result(args, kwargs)),
    STEP_TIMEOUT_MS, `REGISTERED for ${procedure}`);
}

// Normalises a call result: autobahn.js returns a bare value when the RESULT
// has exactly one positional argument and no keyword arguments.
function asResult(res) {
  if (res instanceof autobahn.Result) return { args: res.args || [], kwargs: res.kwargs || {} };
  return { args: [res], kwargs: {} };
}

// show renders a value for a message; BigInts (which JSON.stringify refuses) as 123n.
function show(v) {
  return JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

// Strict structural comparison. Returns null when equal, otherwise a
// description of the first difference. The one allowance: the npm cbor
// decoder gives an integer beyond Number.MAX_SAFE_INTEGER (such as 2^53) as a
// BigInt, which holds it exactly, where JSON and msgpack5 give a Number; an
// integral Number is equal to the BigInt of the same value.
function diff(want, got, where) {
  where = where || '$';
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const kw = kind(want);
  const kg = kind(got);
  if (kw === 'number' && kg === 'bigint' && Number.isInteger(want) && !Number.isSafeInteger(want)) {
    return BigInt(want) === got ? null : `${where}: want ${want}, got ${got}n`;
  }
  if (kw !== kg) return `${where}: want ${kw} ${show(want)}, got ${kg} ${show(got)}`;
  if (kw === 'array') {
    if (want.length !== got.length) return `${where}: want array of length ${want.length}, got ${got.length}: ${show(got)}`;
    for (let i = 0; i < want.length; i++) {
      const d = diff(want[i], got[i], `${where}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (kw === 'object') {
    const wk = Object.keys(want).sort();
    const gk = Object.keys(got).sort();
    if (show(wk) !== show(gk)) return `${where}: want keys ${show(wk)}, got ${show(gk)}`;
    for (const k of wk) {
      const d = diff(want[k], got[k], `${where}.${k}`);
      if (d) return d;
    }
    return null;
  }
  if (!Object.is(want, got)) return `${where}: want ${show(want)}, got ${show(got)}`;
  return null;
}

function assertPayload(want, got, what) {
  const d = diff(want.args, got.args, 'args') || diff(want.kwargs, got.kwargs, 'kwargs');
  if (d) throw new Error(`${what}: ${d}`);
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// Topic and procedure names unique to this run, so concurrent or repeated
// runs against a shared router (PAWL_CONFORMANCE_URL) cannot interfere.
function uniquePrefix(tag) {
  const rand = Math.floor(Math.random() * 1e9).toString(36);
  return `com.example.conformance.${tag}.${process.pid}.${rand}`;
}

module.exports = {
  autobahn,
  PAYLOAD,
  STEP_TIMEOUT_MS,
  Results,
  assert,
  assertPayload,
  asResult,
  connect,
  diff,
  disconnect,
  hardTimeout,
  makeSerializer,
  registerEcho,
  sleep,
  subscribeQueue,
  uniquePrefix,
  usage,
  withTimeout,
};
