'use strict';
// autobahn.js peer for the cluster test (cmd/pawl cluster_process_test.go): connected to
// one node of a Pawl cluster, it exchanges events with a peer on another node.
//
//   node cluster_peer.js <ws-url> <json|msgpack> <me> <other>
//
// Subscribes com.cluster.<me>, then publishes [me, i] (acknowledged) to com.cluster.<other>
// every 100 ms until an event from <other> has arrived and 10 more were sent, so that the
// other side hears it too whenever it subscribed. Prints "ok received <args>" and leaves;
// exits non-zero when nothing came within 20 s.

const lib = require('./lib.js');

async function main() {
  const [url, serializer, me, other] = process.argv.slice(2);
  if (!url || !me || !other) {
    console.error('usage: node cluster_peer.js <ws-url> <json|msgpack> <me> <other>');
    process.exit(2);
  }
  const timer = setTimeout(() => { console.log('FAIL no event from ' + other + ' within 20s'); process.exit(1); }, 20000);
  const peer = await lib.connect(url, serializer);
  const session = peer.session;
  let got = null;
  await session.subscribe(`com.cluster.${me}`, (args) => { if (!got && args && args[0] === other) got = args; });
  let after = 0;
  for (let i = 0; after < 10; i++) {
    await session.publish(`com.cluster.${other}`, [me, i], {}, { acknowledge: true });
    if (got) after++;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log('ok received ' + JSON.stringify(got));
  clearTimeout(timer);
  await lib.disconnect(peer);
  process.exit(0);
}

main().catch((err) => { console.log('FAIL ' + (err && err.stack || err)); process.exit(1); });
