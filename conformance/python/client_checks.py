"""Autobahn|Python conformance checks for one serializer.

    /usr/bin/python3 client_checks.py <ws-url> <json|msgpack|cbor>

Two sessions (A, B) use the given serializer, a third (C) uses another one
(JSON, or MessagePack when the given one is JSON) for the mixed-serializer checks. Prints "ok <check>" / "FAIL <check>:
<detail>" per check and exits non-zero if anything failed.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wamplib as w  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402

ERROR_URI = "com.example.error.bad"
# After the other subscriber got an event, how long the publisher waits to be
# sure it does not get one too.
QUIET = 0.5


async def expect_call_error(session, procedure, send, want_uri, want_payload):
    try:
        res = await w.within(session.call(procedure, *send["args"], **send["kwargs"]), "ERROR")
    except ApplicationError as e:
        if e.error != want_uri:
            raise AssertionError("error URI %s, want %s" % (e.error, want_uri))
        if want_payload is not None:
            w.assert_payload(want_payload, e.args, e.kwargs, "error payload")
        return
    raise AssertionError("call succeeded with %r, want error %s" % (res, want_uri))


def register_failing(session, procedure):
    def fail(*args, **kwargs):
        raise ApplicationError(ERROR_URI, *args, **kwargs)

    return w.within(session.register(fail, procedure), "REGISTERED for %s" % procedure)


async def main(url, serializer):
    other = "msgpack" if serializer == "json" else "json"
    results = w.Results()
    full = w.PAYLOAD["full"]
    prefix = w.unique_prefix("py.%s" % serializer)
    peers = {}

    async def join():
        peers["a"] = await w.connect(url, serializer)
        peers["b"] = await w.connect(url, serializer)
        for name in ("a", "b"):
            s = peers[name].session
            if not w.is_wamp_id(s.session_id):
                raise AssertionError("session id %r is not a WAMP id" % s.session_id)
            roles = s._router_roles or {}
            for role in ("broker", "dealer"):
                if role not in roles:
                    raise AssertionError("WELCOME did not announce the %s role: %r" % (role, roles))
        if peers["a"].session.session_id == peers["b"].session.session_id:
            raise AssertionError("two sessions got the same session id")

    await results.check("join", join)
    if "a" not in peers or "b" not in peers:
        await finish(results, peers)
        return
    a = peers["a"].session
    b = peers["b"].session

    async def pubsub_all_types():
        topic = prefix + ".types"
        events = await w.subscribe_queue(b, topic)
        a.publish(topic, *full["args"], **full["kwargs"])
        args, kwargs, _ = await events.next()
        w.assert_payload(full, args, kwargs, "event payload")

    await results.check("pubsub_all_types", pubsub_all_types)

    async def publish_acknowledge():
        topic = prefix + ".ack"
        events = await w.subscribe_queue(b, topic)
        pub = await w.within(a.publish(topic, 1, n=1, options=PublishOptions(acknowledge=True)), "PUBLISHED")
        if pub is None or not w.is_wamp_id(pub.id):
            raise AssertionError("PUBLISHED carried no valid publication id: %r" % (pub,))
        _, _, details = await events.next()
        if details.publication != pub.id:
            raise AssertionError("EVENT publication id %r differs from PUBLISHED id %r" % (details.publication, pub.id))

    await results.check("publish_acknowledge", publish_acknowledge)

    # Both A (the publisher) and B subscribe; B's event proves the publication
    # was dispatched, so silence at A afterwards is meaningful.
    self_topic = prefix + ".self"
    queues = {}

    async def exclude_me_default():
        queues["a"] = await w.subscribe_queue(a, self_topic)
        queues["b"] = await w.subscribe_queue(b, self_topic)
        a.publish(self_topic, "default")
        args, _, _ = await queues["b"].next("EVENT at the other subscriber")
        if args != ["default"]:
            raise AssertionError("other subscriber got %r" % (args,))
        await asyncio.sleep(QUIET)
        if not queues["a"].items.empty():
            raise AssertionError("publisher received its own event without exclude_me=false: %r"
                                 % (queues["a"].items.get_nowait(),))

    await results.check("exclude_me_default", exclude_me_default)

    async def exclude_me_false():
        if "a" not in queues or "b" not in queues:
            raise AssertionError("subscriptions from exclude_me_default missing")
        while not queues["a"].items.empty():
            queues["a"].items.get_nowait()
        a.publish(self_topic, *full["args"], options=PublishOptions(exclude_me=False), **full["kwargs"])
        args, kwargs, _ = await queues["a"].next("own EVENT with exclude_me=false")
        w.assert_payload(full, args, kwargs, "own event payload")
        args, kwargs, _ = await queues["b"].next("EVENT at the other subscriber")
        w.assert_payload(full, args, kwargs, "other subscriber payload")

    await results.check("exclude_me_false", exclude_me_false)

    async def call_roundtrip():
        proc = prefix + ".echo"
        await w.register_echo(b, proc)
        res = await w.within(a.call(proc, *full["args"], **full["kwargs"]), "RESULT")
        w.assert_payload(full, *w.as_result(res), "call result")

    await results.check("call_roundtrip", call_roundtrip)

    async def call_application_error():
        proc = prefix + ".fail"
        await register_failing(b, proc)
        await expect_call_error(a, proc, full, ERROR_URI, full)

    await results.check("call_application_error", call_application_error)

    async def call_no_such_procedure():
        await expect_call_error(a, prefix + ".missing", {"args": [1], "kwargs": {}},
                                "wamp.error.no_such_procedure", None)

    await results.check("call_no_such_procedure", call_no_such_procedure)

    # Mixed serializers: A speaks `serializer`, C speaks `other`.
    async def mixed_join():
        peers["c"] = await w.connect(url, other)

    if await results.check("mixed_join", mixed_join):
        c = peers["c"].session

        async def mixed_event_to_other():
            topic = prefix + ".mixed.to"
            events = await w.subscribe_queue(c, topic)
            a.publish(topic, *full["args"], **full["kwargs"])
            args, kwargs, _ = await events.next()
            w.assert_payload(full, args, kwargs, "event %s->%s" % (serializer, other))

        async def mixed_event_from_other():
            topic = prefix + ".mixed.from"
            events = await w.subscribe_queue(a, topic)
            c.publish(topic, *full["args"], **full["kwargs"])
            args, kwargs, _ = await events.next()
            w.assert_payload(full, args, kwargs, "event %s->%s" % (other, serializer))

        async def mixed_call_to_other():
            proc = prefix + ".mixed.echo_other"
            await w.register_echo(c, proc)
            res = await w.within(a.call(proc, *full["args"], **full["kwargs"]), "RESULT")
            w.assert_payload(full, *w.as_result(res), "call %s->%s" % (serializer, other))

        async def mixed_call_from_other():
            proc = prefix + ".mixed.echo_self"
            await w.register_echo(a, proc)
            res = await w.within(c.call(proc, *full["args"], **full["kwargs"]), "RESULT")
            w.assert_payload(full, *w.as_result(res), "call %s->%s" % (other, serializer))

        async def mixed_error_to_other():
            proc = prefix + ".mixed.fail"
            await register_failing(c, proc)
            await expect_call_error(a, proc, full, ERROR_URI, full)

        async def mixed_binary_and_integers():
            # Binary values and integers at the edges of 64 bits, both ways between the two
            # serializers: JSON's "\u0000"+base64, MessagePack's bin and CBOR's byte strings
            # all arrive as bytes, and integers stay exact integers.
            values = [b"\x00\x01\xfe\xff", 2**64 - 1, -(2**63), 2**53, -1, {"blob": b"\x00x"}]
            for sender, receiver, what in ((a, c, "%s->%s" % (serializer, other)),
                                           (c, a, "%s->%s" % (other, serializer))):
                topic = prefix + ".mixed.binary." + what
                events = await w.subscribe_queue(receiver, topic)
                sender.publish(topic, *values)
                args, _, _ = await events.next()
                if list(args) != values or [type(v) for v in args] != [type(v) for v in values]:
                    raise AssertionError("event %s: got %r, want %r" % (what, args, values))

        await results.check("mixed_event_to_other", mixed_event_to_other)
        await results.check("mixed_binary_and_integers", mixed_binary_and_integers)
        await results.check("mixed_event_from_other", mixed_event_from_other)
        await results.check("mixed_call_to_other", mixed_call_to_other)
        await results.check("mixed_call_from_other", mixed_call_from_other)
        await results.check("mixed_error_to_other", mixed_error_to_other)

    await finish(results, peers)


async def finish(results, peers):
    async def leave():
        if not peers:
            raise AssertionError("no session to leave")
        reasons = await asyncio.gather(*(w.disconnect(p) for p in peers.values()))
        for reason in reasons:
            if reason != "wamp.close.goodbye_and_out":
                raise AssertionError("router's GOODBYE reply reason %r, want wamp.close.goodbye_and_out" % (reason,))

    await results.check("leave", leave)
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("json", "msgpack", "cbor"):
        print("usage: %s <ws-url> <json|msgpack|cbor>" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    w.hard_timeout(50)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
