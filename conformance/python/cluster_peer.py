"""Autobahn|Python peer for the cluster test (cmd/pawl cluster_process_test.go): connected
to one node of a Pawl cluster, it exchanges events with a peer on another node.

    /usr/bin/python3 cluster_peer.py <ws-url> <json|msgpack|cbor> <me> <other>

Same protocol as js/cluster_peer.js: subscribe com.cluster.<me>, publish [me, i]
(acknowledged) to com.cluster.<other> every 100 ms until an event from <other> has arrived
and 10 more were sent; print "ok received <args>"; exit non-zero after 20 s without one.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import asyncio  # noqa: E402
import json  # noqa: E402

import wamplib as w  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402


async def main(url, serializer, me, other):
    peer = await w.connect(url, serializer)
    s = peer.session
    got = {}

    def on_event(*args, **kwargs):
        if "args" not in got and args and args[0] == other:
            got["args"] = list(args)

    await w.within(s.subscribe(on_event, "com.cluster." + me), "SUBSCRIBED")
    after, i = 0, 0
    while after < 10:
        await w.within(s.publish("com.cluster." + other, me, i, options=PublishOptions(acknowledge=True)), "PUBLISHED")
        if "args" in got:
            after += 1
        i += 1
        await asyncio.sleep(0.1)
    print("ok received " + json.dumps(got["args"]), flush=True)
    s.leave()
    await asyncio.sleep(0.1)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 20))
    except Exception as e:  # noqa: BLE001
        print("FAIL %r" % (e,), flush=True)
        sys.exit(1)
