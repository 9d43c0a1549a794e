"""Autobahn|Python peer for the cross-client test (cross_client_test.go).

    /usr/bin/python3 cross_peer.py <ws-url> <json|msgpack|cbor> <me> <prefix> <peer,peer,...>

Same protocol as js/cross_peer.js: register <me>.echo, subscribe
<me>.from.<other>, publish "ready", wait for "go", call every other peer's
echo and publish to <other>.from.<me>, wait for every other peer's event,
publish "done", wait for "finish", leave.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import asyncio  # noqa: E402

import wamplib as w  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402

# Waits on the Go orchestrator, which itself waits on the slowest peer.
PHASE_TIMEOUT = 20.0


async def main(url, serializer, me, prefix, peer_list):
    others = [p for p in peer_list.split(",") if p and p != me]
    cross = w.PAYLOAD["cross"]
    results = w.Results()
    state = {}
    inbox = {}

    async def join():
        state["peer"] = await w.connect(url, serializer)
        s = state["peer"].session
        state["go"] = await w.subscribe_queue(s, prefix + ".go")
        state["finish"] = await w.subscribe_queue(s, prefix + ".finish")
        for other in others:
            inbox[other] = await w.subscribe_queue(s, "%s.%s.from.%s" % (prefix, me, other))
        await w.register_echo(s, "%s.%s.echo" % (prefix, me))
        await w.within(s.publish(prefix + ".ready", me, options=PublishOptions(acknowledge=True)), "PUBLISHED for ready")
        await w.within(state["go"].items.get(), '"go" from the orchestrator', PHASE_TIMEOUT)

    if not await results.check("join", join):
        sys.exit(1)
    session = state["peer"].session

    for other in others:
        async def call_other(other=other):
            res = await w.within(session.call("%s.%s.echo" % (prefix, other), *cross["args"], **cross["kwargs"]),
                                 "RESULT from %s" % other)
            w.assert_payload(cross, *w.as_result(res), "result from %s" % other)

        async def publish_to_other(other=other):
            pub = await w.within(session.publish("%s.%s.from.%s" % (prefix, other, me), *cross["args"],
                                                 options=PublishOptions(acknowledge=True), **cross["kwargs"]),
                                 "PUBLISHED")
            if pub is None or not w.is_wamp_id(pub.id):
                raise AssertionError("no publication id: %r" % (pub,))

        await results.check("call_%s" % other, call_other)
        await results.check("publish_to_%s" % other, publish_to_other)

    for other in others:
        async def event_from_other(other=other):
            args, kwargs, _ = await w.within(inbox[other].items.get(), "EVENT from %s" % other, PHASE_TIMEOUT)
            w.assert_payload(cross, args, kwargs, "event from %s" % other)

        await results.check("event_from_%s" % other, event_from_other)

    async def finish():
        await w.within(session.publish(prefix + ".done", me, options=PublishOptions(acknowledge=True)), "PUBLISHED for done")
        await w.within(state["finish"].items.get(), '"finish" from the orchestrator', PHASE_TIMEOUT)

    await results.check("finish", finish)

    async def leave():
        reason = await w.disconnect(state["peer"])
        if reason != "wamp.close.goodbye_and_out":
            raise AssertionError("router's GOODBYE reply reason %r" % (reason,))

    await results.check("leave", leave)
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 6 or sys.argv[2] not in ("json", "msgpack", "cbor"):
        print("usage: %s <ws-url> <json|msgpack|cbor> <me> <prefix> <peer,peer,...>" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    w.hard_timeout(50)
    asyncio.run(main(*sys.argv[1:]))
