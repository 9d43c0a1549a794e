'use strict';
// Survives a router restart: autobahn.js's Connection, with its own automatic reconnection,
// joins, and after the router is stopped (SIGTERM) and started again on the same port joins
// again by itself. Each join registers a procedure and calls it, so the session is known to
// work. Prints "open N" after the Nth working join, "close <reason> <details.reason>
// will_retry=<bool>" on every close, and "ok reconnected" once it has joined twice.
//
// usage: node restart.js <ws-url> <json|msgpack>

const { autobahn, makeSerializer } = require('./lib');

const [url, serializerName] = process.argv.slice(2);
if (!url || !serializerName) {
  console.error('usage: node restart.js <ws-url> <json|msgpack>');
  process.exit(2);
}
setTimeout(() => {
  console.log('FAIL hard_timeout: still running after 45 s');
  process.exit(3);
}, 45000);

const connection = new autobahn.Connection({
  url,
  realm: 'realm1',
  serializers: [makeSerializer(serializerName)],
  use_es6_promises: true,
  // autobahn.js's defaults (max_retries 15, initial_retry_delay 1.5 s) would work too;
  // shorter delays keep the test fast.
  max_retries: -1,
  initial_retry_delay: 0.2,
  max_retry_delay: 1,
});

let opens = 0;
connection.onopen = async (session) => {
  const n = ++opens;
  try {
    const procedure = `com.example.conformance.restart.js.${process.pid}.${n}`;
    await session.register(procedure, () => n);
    const res = await session.call(procedure);
    if (res !== n) throw new Error(`call returned ${JSON.stringify(res)}, want ${n}`);
  } catch (e) {
    console.log(`FAIL open_${n}: ${e && (e.error || e.message) || e}`);
    process.exit(1);
  }
  console.log(`open ${n}`);
  if (n === 2) {
    console.log('ok reconnected');
    process.exit(0);
  }
};
connection.onclose = (reason, details) => {
  console.log(`close ${reason} ${details && details.reason} will_retry=${details && details.will_retry}`);
  // returning nothing keeps autobahn.js retrying
};
connection.open();
