'use strict';
// autobahn.js authentication and authorization checks against a pawl router started with
// a generated configuration (see auth_test.go).
//
//   node auth_checks.js <ws-or-wss-url> <json|msgpack> <params.json>
//
// params.json names the principals and their secrets, and (for wss://) the CA file of the
// router's self-signed certificate. Prints "ok <check>" / "FAIL <check>: <detail>".

const fs = require('fs');
const https = require('https');
const nacl = require('tweetnacl');
const lib = require('./lib.js');
const { autobahn, assert, withTimeout, STEP_TIMEOUT_MS } = lib;

function serializerFor(name) {
  return name === 'json' ? new autobahn.serializer.JSONSerializer() : new autobahn.serializer.MsgpackSerializer();
}

// Opens a session with the given auth options. Resolves {connection, session, details} on
// join, or {abort: {reason, message}} when the router refuses.
function open(url, serializer, params, auth) {
  const transport = { type: 'websocket', url };
  if (url.startsWith('wss://')) {
    transport.agent = new https.Agent({ ca: fs.readFileSync(params.ca) });
  }
  const connection = new autobahn.Connection({
    transports: [transport],
    realm: params.realm,
    serializers: [serializerFor(serializer)],
    use_es6_promises: true,
    max_retries: 0,
    retry_if_unreachable: false,
    authmethods: auth.authmethods,
    authid: auth.authid,
    authextra: auth.authextra,
    onchallenge: auth.onchallenge,
    on_user_error: (err, message) => {
      if (!(err instanceof autobahn.Error)) console.error(message, err);
    },
  });
  const result = new Promise((resolve) => {
    connection.onopen = (session, details) => resolve({ connection, session, details });
    connection.onclose = (reason, details) => {
      resolve({ abort: { reason: details && details.reason, message: details && details.message, closeReason: reason } });
      return true;
    };
  });
  connection.open();
  return withTimeout(result, STEP_TIMEOUT_MS * 2, `join (${JSON.stringify(auth.authmethods)})`);
}

function close(peer) {
  if (!peer || !peer.connection) return Promise.resolve();
  const closed = new Promise((resolve) => {
    peer.connection.onclose = () => {
      resolve();
      return true;
    };
  });
  peer.connection.close();
  return withTimeout(closed, STEP_TIMEOUT_MS, 'close');
}

function ticketAuth(authid, ticket) {
  return {
    authmethods: ['ticket'],
    authid,
    onchallenge: (session, method) => {
      assert(method === 'ticket', `challenge for ${method}`);
      return ticket;
    },
  };
}

function craAuth(authid, secret) {
  return {
    authmethods: ['wampcra'],
    authid,
    onchallenge: (session, method, extra) => {
      assert(method === 'wampcra', `challenge for ${method}`);
      let key = secret;
      if (extra.salt) {
        key = autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen);
      }
      return autobahn.auth_cra.sign(key, extra.challenge);
    },
  };
}

function cryptosignAuth(authid, seedHex) {
  const pair = nacl.sign.keyPair.fromSeed(Buffer.from(seedHex, 'hex'));
  return {
    authmethods: ['cryptosign'],
    authid,
    authextra: { pubkey: autobahn.auth_cryptosign.public_key(pair) },
    onchallenge: (session, method, extra) => {
      assert(method === 'cryptosign', `challenge for ${method}`);
      return autobahn.auth_cryptosign.sign_challenge(pair, extra);
    },
  };
}

async function login(url, serializer, params, auth, want) {
  const peer = await open(url, serializer, params, auth);
  assert(!peer.abort, `refused: ${JSON.stringify(peer.abort)}`);
  const d = peer.details;
  for (const [k, v] of Object.entries(want)) {
    assert(d[k] === v, `WELCOME.${k} = ${JSON.stringify(d[k])}, want ${JSON.stringify(v)} (${JSON.stringify(d)})`);
  }
  return peer;
}

async function refused(url, serializer, params, auth, reason) {
  const peer = await open(url, serializer, params, auth);
  if (!peer.abort) {
    await close(peer);
    throw new Error(`joined, want ABORT ${reason}`);
  }
  assert(peer.abort.reason === reason, `ABORT ${peer.abort.reason} (${peer.abort.message}), want ${reason}`);
}

async function expectError(promise, uri, what) {
  try {
    await withTimeout(promise, STEP_TIMEOUT_MS, what);
  } catch (e) {
    if (e instanceof autobahn.Error) {
      assert(e.error === uri, `${what}: ${e.error}, want ${uri}`);
      return;
    }
    throw e;
  }
  throw new Error(`${what}: succeeded, want ${uri}`);
}

async function main() {
  const [url, serializer, paramsFile] = process.argv.slice(2);
  if (!url || !['json', 'msgpack'].includes(serializer) || !paramsFile) {
    console.error(lib.usage(__filename, ' <params.json>'));
    process.exit(2);
  }
  const params = JSON.parse(fs.readFileSync(paramsFile, 'utf8'));
  const results = new lib.Results();
  lib.hardTimeout(50000, results);
  const p = params;
  const peers = [];
  const keep = (peer) => {
    peers.push(peer);
    return peer;
  };
  const welcome = (authid, authmethod) => ({ authid, authrole: 'user', authmethod, authprovider: 'static' });

  await results.check('ticket', async () => {
    await close(await login(url, serializer, p, ticketAuth(p.ticket.authid, p.ticket.secret), welcome(p.ticket.authid, 'ticket')));
  });
  await results.check('wampcra', async () => {
    await close(await login(url, serializer, p, craAuth(p.wampcra.authid, p.wampcra.secret), welcome(p.wampcra.authid, 'wampcra')));
  });
  await results.check('wampcra_salted', async () => {
    await close(await login(url, serializer, p, craAuth(p.wampcra_salted.authid, p.wampcra_salted.secret),
      welcome(p.wampcra_salted.authid, 'wampcra')));
  });
  await results.check('cryptosign', async () => {
    await close(await login(url, serializer, p, cryptosignAuth(p.cryptosign.authid, p.cryptosign.privkey),
      welcome(p.cryptosign.authid, 'cryptosign')));
  });
  await results.check('cryptosign_by_key', async () => {
    await close(await login(url, serializer, p, cryptosignAuth(undefined, p.cryptosign.privkey),
      welcome(p.cryptosign.authid, 'cryptosign')));
  });
  await results.check('ticket_wrong_secret', async () => {
    await refused(url, serializer, p, ticketAuth(p.ticket.authid, 'guess'), 'wamp.error.authentication_failed');
  });
  await results.check('wampcra_wrong_secret', async () => {
    await refused(url, serializer, p, craAuth(p.wampcra.authid, 'guess'), 'wamp.error.authentication_failed');
    await refused(url, serializer, p, craAuth(p.wampcra_salted.authid, 'guess'), 'wamp.error.authentication_failed');
  });
  await results.check('cryptosign_wrong_key', async () => {
    await refused(url, serializer, p, cryptosignAuth(p.cryptosign.authid, p.unknown_privkey), 'wamp.error.authentication_failed');
    await refused(url, serializer, p, cryptosignAuth(undefined, p.unknown_privkey), 'wamp.error.no_such_principal');
  });
  await results.check('unknown_authid', async () => {
    await refused(url, serializer, p, ticketAuth('nobody', p.ticket.secret), 'wamp.error.no_such_principal');
  });
  await results.check('no_matching_auth_method', async () => {
    await refused(url, serializer, p, { authmethods: ['anonymous'] }, 'wamp.error.no_matching_auth_method');
  });

  let user;
  let backend;
  await results.check('permissions_allowed', async () => {
    user = keep(await login(url, serializer, p, ticketAuth(p.ticket.authid, p.ticket.secret), welcome(p.ticket.authid, 'ticket')));
    backend = keep(await login(url, serializer, p, ticketAuth(p.backend.authid, p.backend.secret),
      { authid: p.backend.authid, authrole: 'backend' }));
    const prefix = lib.uniquePrefix('auth.js');
    const proc = `com.example.open.${prefix}.echo`;
    await withTimeout(user.session.register(proc, (args) => args[0]), STEP_TIMEOUT_MS, 'REGISTERED');
    const res = await withTimeout(user.session.call(proc, ['hi']), STEP_TIMEOUT_MS, 'RESULT');
    assert(res === 'hi', `call result ${JSON.stringify(res)}`);
  });
  if (user && backend) {
    await results.check('permission_denied_call', async () => {
      await expectError(user.session.call('com.example.secret.proc', []), 'wamp.error.not_authorized', 'CALL');
    });
    await results.check('permission_denied_register', async () => {
      await expectError(user.session.register('com.example.secret.proc', () => 1), 'wamp.error.not_authorized', 'REGISTER');
    });
    await results.check('permission_denied_subscribe', async () => {
      await expectError(user.session.subscribe('com.example.secret.news', () => {}), 'wamp.error.not_authorized', 'SUBSCRIBE');
    });
    await results.check('permission_denied_publish', async () => {
      const events = await lib.subscribeQueue(backend.session, 'com.example.secret.news');
      const allowed = await lib.subscribeQueue(backend.session, 'com.example.open.news');
      await expectError(user.session.publish('com.example.secret.news', ['leak'], {}, { acknowledge: true }),
        'wamp.error.not_authorized', 'PUBLISH');
      user.session.publish('com.example.secret.news', ['leak, unacknowledged']);
      // An allowed event published after the denied ones arrives; the denied ones, which
      // would have come first (one publisher, one subscriber session), never do.
      await withTimeout(user.session.publish('com.example.open.news', ['ok'], {}, { acknowledge: true }), STEP_TIMEOUT_MS, 'PUBLISHED');
      const ev = await allowed.next(STEP_TIMEOUT_MS, 'the allowed EVENT');
      assert(ev.args[0] === 'ok', `allowed event ${JSON.stringify(ev.args)}`);
      assert(events.length === 0, `the denied publication reached a subscriber: ${JSON.stringify(events.items)}`);
    });
  }
  for (const peer of peers) {
    await close(peer).catch(() => {});
  }
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL driver: ${e && e.stack ? e.stack.replace(/\n/g, ' | ') : e}`);
  process.exit(1);
});
