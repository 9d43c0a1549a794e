'use strict';
// autobahn.js caller for the cluster test: it calls, on one Pawl node, procedures an
// Autobahn|Python callee registered on another node.
//
//   node cluster_caller.js <ws-url> <json|msgpack|cbor>
//
// Prints "ok <check>" / "FAIL <check>: <detail>" per check.

const lib = require('./lib');
const autobahn = require('autobahn');

const describe = (e) => (e instanceof autobahn.Error ? `${e.error} ${JSON.stringify(e.args)}` : String(e && e.stack || e));

// Opens a session with when.js promises (autobahn.js's default): only they carry
// progressive call results; ES6 promises have no progress.
function open(url, serializerName) {
  const connection = new autobahn.Connection({
    url,
    realm: 'realm1',
    serializers: [lib.makeSerializer(serializerName)],
    max_retries: 0,
    retry_if_unreachable: false,
  });
  const opened = new Promise((resolve, reject) => {
    connection.onopen = (session) => resolve(session);
    connection.onclose = (reason, details) => {
      reject(new Error(`connection closed before join: ${reason} ${JSON.stringify(details)}`));
      return true;
    };
  });
  connection.open();
  return lib.withTimeout(opened, lib.STEP_TIMEOUT_MS, 'join').then((session) => ({ connection, session }));
}

async function main() {
  const [url, serializer, mode] = process.argv.slice(2);
  const results = new lib.Results();
  lib.hardTimeout(60000, results);
  const peer = await open(url, serializer);
  peer.connection.onclose = () => true;
  const s = peer.session;

  if (mode === 'until-node-dies') {
    // A call the callee never answers: the test kills the callee's node meanwhile.
    const d = s.call('com.cluster.slow', [], {}, {});
    results.ok('calling');
    await results.check('canceled_when_node_died', async () => {
      try {
        await lib.withTimeout(d, 20000, 'the call to a dead node');
        throw new Error('the call returned');
      } catch (e) {
        lib.assert(e instanceof autobahn.Error && e.error === 'wamp.error.canceled', describe(e));
      }
    });
    peer.connection.close();
    process.exit(results.failed ? 1 : 0);
  }

  await results.check('cross_node_call_with_disclosure', async () => {
    const res = await lib.withTimeout(s.call('com.cluster.echo', ['hi', 2], {}, { disclose_me: true }),
      lib.STEP_TIMEOUT_MS, 'echo');
    const [args, caller, role] = res;
    lib.assert(JSON.stringify(args) === '["hi",2]', `args ${JSON.stringify(args)}`);
    lib.assert(caller === s.id, `caller ${caller}, my session ${s.id}`);
    lib.assert(role === 'anonymous', `caller_authrole ${role}`);
  });

  await results.check('cross_node_progressive_results', async () => {
    const seen = [];
    const p = s.call('com.cluster.progress', [3], {}, { receive_progress: true });
    // autobahn.js passes progressive results to the third argument of then().
    const res = await lib.withTimeout(p.then(null, null, (r) => seen.push(r)), lib.STEP_TIMEOUT_MS, 'progress');
    lib.assert(res === 'done', `final ${JSON.stringify(res)}`);
    lib.assert(JSON.stringify(seen) === '[0,1,2]', `progressive results ${JSON.stringify(seen)}`);
  });

  await results.check('cross_node_timeout', async () => {
    try {
      await lib.withTimeout(s.call('com.cluster.slow', [], {}, { timeout: 300 }), lib.STEP_TIMEOUT_MS, 'timeout');
      throw new Error('slow call returned');
    } catch (e) {
      lib.assert(e instanceof autobahn.Error && e.error === 'wamp.error.timeout', describe(e));
    }
  });

  await results.check('cross_node_cancel_kill', async () => {
    // kill: the CANCEL crosses to the callee's node, which interrupts the Python callee; its
    // ERROR is the caller's answer, back across nodes.
    const d = s.call('com.cluster.slow', [], {}, {});
    await lib.sleep(200);
    d.cancel({ mode: 'kill' });
    try {
      await lib.withTimeout(d, lib.STEP_TIMEOUT_MS, 'cancel');
      throw new Error('canceled call returned');
    } catch (e) {
      lib.assert(e instanceof autobahn.Error && e.error === 'wamp.error.canceled' &&
        e.args[0] === 'interrupted by callee', describe(e));
    }
  });

  await results.check('cross_node_cancel_killnowait', async () => {
    // killnowait: the callee is interrupted as well; autobahn.js settles the call itself.
    const d = s.call('com.cluster.slow', [], {}, {});
    await lib.sleep(200);
    d.cancel({ mode: 'killnowait' });
    try {
      await lib.withTimeout(d, lib.STEP_TIMEOUT_MS, 'cancel');
      throw new Error('canceled call returned');
    } catch (e) {
      lib.assert(e instanceof autobahn.Error && e.error === 'Cancelled', describe(e));
    }
  });

  peer.connection.close();
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL crashed: ${describe(e)}`);
  process.exit(2);
});
