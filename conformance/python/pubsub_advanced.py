"""Autobahn|Python checks of the broker's advanced pub/sub profile and the session,
subscription and testament meta APIs, for one serializer.

    /usr/bin/python3 pubsub_advanced.py <ws-url> <json|msgpack>
    /usr/bin/python3 pubsub_advanced.py --history-publish <ws-url> <json|msgpack> <topic>
    /usr/bin/python3 pubsub_advanced.py --history-read <ws-url> <json|msgpack> <topic>

The router must keep an event history for topics under "com.example.conformance."
(pubsub_advanced_test.go starts it so). The --history-* modes are the two halves of the
history-after-restart check. Prints "ok <check>" / "FAIL <check>: <detail>" per check and
exits non-zero if anything failed.

Autobahn|Python 22.7 has no disclose_me option for PUBLISH; publisher_disclosure sends that
one PUBLISH with the option added to the message Autobahn builds.
"""

import asyncio
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wamplib as w  # noqa: E402
from autobahn.wamp import message  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import PublishOptions, SubscribeOptions  # noqa: E402

BROKER_FEATURES = [
    "pattern_based_subscription", "subscriber_blackwhite_listing", "publisher_exclusion",
    "publisher_identification", "event_retention", "event_history", "payload_passthru_mode",
    "session_meta_api", "subscription_meta_api", "testament_meta_api",
]
QUIET = 0.3
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# The raw WELCOME details of the last session opened (Autobahn|Python parses the roles
# into objects that know only the features it knows).
_last_welcome = {}
_serializer_for = w.serializer_for


def _tapped_serializer(name):
    ser = _serializer_for(name)
    unserialize = ser._serializer.unserialize

    def tap(payload):
        msgs = unserialize(payload)
        for m in msgs:
            if isinstance(m, list) and m and m[0] == 2:
                _last_welcome["details"] = m[2]
        return msgs

    ser._serializer.unserialize = tap
    return ser


w.serializer_for = _tapped_serializer


class _PublishDisclosed(message.Publish):
    """A PUBLISH with disclose_me, which Autobahn|Python 22.7 cannot ask for."""

    def marshal(self):
        m = super().marshal()
        m[2]["disclose_me"] = True
        return m


async def connect(url, serializer):
    peer = await w.connect(url, serializer)
    peer.welcome = _last_welcome.pop("details", {})
    peer.id = peer.session.session_id
    peer.leave_details = None
    on_leave = peer.session.onLeave

    def record(details):
        peer.leave_details = details
        return on_leave(details)

    peer.session.onLeave = record
    return peer


class Events:
    """The events of one subscription."""

    def __init__(self):
        self.items = asyncio.Queue()
        self.sub = None

    def handler(self, *args, **kwargs):
        details = kwargs.pop("details", None)
        self.items.put_nowait((list(args), kwargs, details))

    async def next(self, what="EVENT"):
        return await w.within(self.items.get(), what)

    async def next_about(self, session_id, what):
        while True:
            args, kwargs, details = await self.next(what)
            if args and (args[0] == session_id or (isinstance(args[0], dict) and args[0].get("session") == session_id)):
                return args, kwargs, details

    async def none(self):
        await asyncio.sleep(QUIET)
        if not self.items.empty():
            raise AssertionError("unexpected event %r" % (self.items.get_nowait(),))

    def clear(self):
        while not self.items.empty():
            self.items.get_nowait()


async def subscribe(peer, topic, **options):
    ev = Events()
    ev.sub = await w.within(peer.session.subscribe(ev.handler, topic, options=SubscribeOptions(details_arg="details", **options)),
                            "SUBSCRIBED for %s" % topic)
    return ev


async def publish(peer, topic, *args, **kwargs):
    options = kwargs.pop("options", {})
    return await w.within(peer.session.publish(topic, *args, options=PublishOptions(acknowledge=True, **options), **kwargs),
                          "PUBLISHED for %s" % topic)


async def call(peer, proc, *args, **kwargs):
    return await w.within(peer.session.call(proc, *args, **kwargs), "RESULT of %s" % proc)


async def expect_error(peer, proc, uri, *args, **kwargs):
    try:
        res = await call(peer, proc, *args, **kwargs)
    except ApplicationError as e:
        if e.error != uri:
            raise AssertionError("%s: error %s, want %s" % (proc, e.error, uri))
        return
    raise AssertionError("%s returned %r, want error %s" % (proc, res, uri))


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


async def main(url, serializer):
    results = w.Results()
    prefix = w.unique_prefix("py.pubsub.%s" % serializer)
    peers = {}

    async def join():
        for name in ("a", "b", "c"):
            peers[name] = await connect(url, serializer)

    await results.check("join", join)
    if len(peers) < 3:
        return results
    a, b, c = peers["a"], peers["b"], peers["c"]
    info = {}
    for name, p in peers.items():
        info[name] = await call(a, "wamp.session.get", p.id)

    async def broker_features():
        features = a.welcome.get("roles", {}).get("broker", {}).get("features", {})
        missing = [f for f in BROKER_FEATURES if features.get(f) is not True]
        check(not missing, "WELCOME roles.broker.features lacks %s: %r" % (", ".join(missing), features))
        parsed = a.session._router_roles["broker"]
        for f in ("pattern_based_subscription", "subscriber_blackwhite_listing", "publisher_identification",
                  "event_retention", "event_history", "session_meta_api", "subscription_meta_api"):
            check(getattr(parsed, f) is True, "Autobahn|Python parsed broker feature %s as %r" % (f, getattr(parsed, f)))

    await results.check("broker_features", broker_features)

    # --- pattern-based subscriptions ---------------------------------------------
    exact_q = await subscribe(b, prefix + ".pattern.x.update")
    prefix_q = await subscribe(b, prefix + ".pattern", match="prefix")
    wild_q = await subscribe(b, prefix + ".pattern..update", match="wildcard")

    async def prefix_subscription():
        await publish(a, prefix + ".pattern-other", "p")
        args, _, details = await prefix_q.next()
        check(details.topic == prefix + ".pattern-other", "details.topic %r" % details.topic)
        check(args == ["p"], "args %r" % args)

    async def wildcard_subscription():
        await publish(a, prefix + ".pattern.y.update", "w")
        _, _, details = await wild_q.next()
        check(details.topic == prefix + ".pattern.y.update", "details.topic %r" % details.topic)
        _, _, pdetails = await prefix_q.next()
        check(pdetails.publication == details.publication, "different publication IDs")
        await publish(a, prefix + ".pattern.y.update.more", "too long")
        await prefix_q.next()
        await wild_q.none()

    async def event_per_subscription():
        await publish(a, prefix + ".pattern.x.update", "all")
        evs = [await exact_q.next(), await prefix_q.next(), await wild_q.next()]
        pubs = {d.publication for _, _, d in evs}
        check(len(pubs) == 1, "publication IDs %r" % pubs)
        check(len({exact_q.sub.id, prefix_q.sub.id, wild_q.sub.id}) == 3, "the three subscriptions share IDs")
        check(evs[0][2].topic is None or evs[0][2].topic == prefix + ".pattern.x.update", "exact topic %r" % evs[0][2].topic)

    await results.check("prefix_subscription", prefix_subscription)
    await results.check("wildcard_subscription", wildcard_subscription)
    await results.check("event_per_subscription", event_per_subscription)

    # --- subscriber black- and whitelisting ----------------------------------------
    list_topic = prefix + ".listing"
    b_q = await subscribe(b, list_topic)
    c_q = await subscribe(c, list_topic)

    async def listed(options, want):
        await publish(a, list_topic, "listed", options=options)
        await publish(a, list_topic, "marker")
        for name, q in (("b", b_q), ("c", c_q)):
            args, _, _ = await q.next()
            if name in want:
                check(args == ["listed"], "%s did not receive the event" % name)
                args, _, _ = await q.next()
            check(args == ["marker"], "%s received an event it was not listed for" % name)

    async def exclude_authrole():
        await listed({"exclude_authrole": ["anonymous"]}, [])
        await listed({"exclude_authrole": ["admin"]}, ["b", "c"])

    async def eligible_authrole():
        await listed({"eligible_authrole": ["anonymous"]}, ["b", "c"])
        await listed({"eligible_authrole": ["admin"]}, [])

    async def eligible_and_exclude():
        await listed({"eligible": [b.id, c.id], "exclude": [b.id]}, ["c"])
        await listed({"eligible": [b.id, c.id], "eligible_authid": [info["b"]["authid"]]}, ["b"])
        await listed({"eligible_authrole": ["anonymous"], "exclude_authid": [info["b"]["authid"], info["c"]["authid"]]}, [])

    await results.check("exclude", lambda: listed({"exclude": [b.id]}, ["c"]))
    await results.check("exclude_authid", lambda: listed({"exclude_authid": [info["c"]["authid"]]}, ["b"]))
    await results.check("exclude_authrole", exclude_authrole)
    await results.check("eligible", lambda: listed({"eligible": [c.id]}, ["c"]))
    await results.check("eligible_authid", lambda: listed({"eligible_authid": [info["b"]["authid"]]}, ["b"]))
    await results.check("eligible_authrole", eligible_authrole)
    await results.check("eligible_and_exclude", eligible_and_exclude)

    # --- publisher identification ----------------------------------------------------
    async def publisher_disclosure():
        session = a.session
        msg = _PublishDisclosed(request=session._request_id_gen.next(), topic=list_topic, args=["who"])
        session._transport.send(msg)
        args, _, details = await b_q.next()
        await c_q.next()
        check(args == ["who"], "args %r" % args)
        check(details.publisher == a.id, "publisher %r, want %r" % (details.publisher, a.id))
        check(details.publisher_authid == info["a"]["authid"], "publisher_authid %r" % details.publisher_authid)
        check(details.publisher_authrole == "anonymous", "publisher_authrole %r" % details.publisher_authrole)
        await publish(a, list_topic, "anonymous")
        _, _, plain = await b_q.next()
        await c_q.next()
        check(plain.publisher is None, "publisher disclosed without disclose_me: %r" % plain.publisher)

    await results.check("publisher_disclosure", publisher_disclosure)

    # --- event retention ---------------------------------------------------------------
    async def retained_event():
        topic = prefix + ".retained"
        await publish(a, topic, 1, options={"retain": True})
        await publish(a, topic, 2, latest=True, options={"retain": True})
        await publish(a, topic, 3)
        q = await subscribe(b, topic, get_retained=True)
        args, kwargs, details = await q.next("the retained EVENT")
        check(details.retained is True, "details.retained %r" % details.retained)
        d = w.diff({"args": [2], "kwargs": {"latest": True}}, {"args": args, "kwargs": kwargs})
        check(not d, "retained payload: %s" % d)
        await q.none()
        plain = await subscribe(c, topic)
        await plain.none()

    async def retained_listing():
        topic = prefix + ".retained.private"
        await publish(a, topic, "for c", options={"retain": True, "eligible_authid": [info["c"]["authid"]]})
        bq = await subscribe(b, topic, get_retained=True)
        cq = await subscribe(c, topic, get_retained=True)
        args, _, details = await cq.next("the retained EVENT")
        check(args == ["for c"] and details.retained is True, "retained %r %r" % (args, details))
        await bq.none()

    await results.check("retained_event", retained_event)
    await results.check("retained_listing", retained_listing)

    # --- subscription meta API ------------------------------------------------------------
    meta_topic = prefix + ".meta"
    created = await subscribe(a, "wamp.subscription.on_create")
    subscribed = await subscribe(a, "wamp.subscription.on_subscribe")
    unsubscribed = await subscribe(a, "wamp.subscription.on_unsubscribe")
    deleted = await subscribe(a, "wamp.subscription.on_delete")
    meta = {}

    async def subscription_on_create():
        q = await subscribe(b, meta_topic)
        meta["sub"] = q.sub
        meta["qs"] = [(b, q)]
        args, _, _ = await created.next_about(b.id, "on_create")
        d = args[1]
        check(d["id"] == q.sub.id and d["uri"] == meta_topic and d["match"] == "exact" and ISO_UTC.match(d["created"]),
              "on_create details %r" % d)
        args, _, _ = await subscribed.next_about(b.id, "on_subscribe")
        check(args[1] == q.sub.id, "on_subscribe %r" % args)
        meta["qs"].append((c, await subscribe(c, meta_topic)))
        await subscribed.next_about(c.id, "on_subscribe of c")

    async def subscription_list():
        lists = await call(a, "wamp.subscription.list")
        check(meta["sub"].id in lists["exact"], "exact %r lacks %r" % (lists["exact"], meta["sub"].id))
        check(prefix_q.sub.id in lists["prefix"] and wild_q.sub.id in lists["wildcard"], "lists %r" % lists)

    async def subscription_lookup():
        check(await call(a, "wamp.subscription.lookup", meta_topic) == meta["sub"].id, "exact lookup")
        check(await call(a, "wamp.subscription.lookup", prefix + ".pattern", {"match": "prefix"}) == prefix_q.sub.id, "prefix lookup")
        check(await call(a, "wamp.subscription.lookup", prefix + ".nothing") is None, "lookup of nothing")

    async def subscription_match():
        ids = await call(a, "wamp.subscription.match", prefix + ".pattern.x.update")
        want = sorted([exact_q.sub.id, prefix_q.sub.id, wild_q.sub.id])
        check(sorted(ids) == want, "match %r, want %r" % (ids, want))

    async def subscription_get():
        d = await call(a, "wamp.subscription.get", meta["sub"].id)
        check(d["id"] == meta["sub"].id and d["uri"] == meta_topic and d["match"] == "exact" and ISO_UTC.match(d["created"]),
              "get %r" % d)
        await expect_error(a, "wamp.subscription.get", "wamp.error.no_such_subscription", 999999999)

    async def subscription_list_subscribers():
        ids = await call(a, "wamp.subscription.list_subscribers", meta["sub"].id)
        check(sorted(ids) == sorted([b.id, c.id]), "subscribers %r" % ids)

    async def subscription_count_subscribers():
        n = await call(a, "wamp.subscription.count_subscribers", meta["sub"].id)
        check(n == 2, "count %r" % n)

    async def subscription_on_delete():
        for peer, q in meta["qs"]:
            await w.within(q.sub.unsubscribe(), "UNSUBSCRIBED")
            args, _, _ = await unsubscribed.next_about(peer.id, "on_unsubscribe")
            check(args[1] == meta["sub"].id, "on_unsubscribe %r" % args)
        args, _, _ = await deleted.next_about(c.id, "on_delete")
        check(args[1] == meta["sub"].id, "on_delete %r" % args)

    for name, fn in (("subscription_on_create", subscription_on_create), ("subscription_list", subscription_list),
                     ("subscription_lookup", subscription_lookup), ("subscription_match", subscription_match),
                     ("subscription_get", subscription_get), ("subscription_list_subscribers", subscription_list_subscribers),
                     ("subscription_count_subscribers", subscription_count_subscribers),
                     ("subscription_on_delete", subscription_on_delete)):
        await results.check(name, fn)

    # --- event history -----------------------------------------------------------------------
    async def history_get_events():
        topic = prefix + ".history"
        pubs = []
        for i in (1, 2, 3):
            pubs.append((await publish(a, topic, i, n=i)).id)
        q = await subscribe(b, topic)
        evs = await call(b, "wamp.subscription.get_events", q.sub.id)
        check(isinstance(evs, list) and len(evs) == 3, "get_events %r" % (evs,))
        for i, ev in enumerate(evs):
            check(ev["publication"] == pubs[i] and ev["subscription"] == q.sub.id and ev["args"] == [i + 1] and
                  ev["kwargs"] == {"n": i + 1} and isinstance(ev["timestamp"], str), "event %d: %r" % (i, ev))
        limited = await call(b, "wamp.subscription.get_events", q.sub.id, limit=2)
        check([e["publication"] for e in limited] == pubs[:2], "limit 2: %r" % limited)
        last = await call(b, "wamp.subscription.get_events", q.sub.id, reverse=True, limit=1)
        check([e["publication"] for e in last] == pubs[2:], "reverse: %r" % last)
        after = await call(b, "wamp.subscription.get_events", q.sub.id, after_publication=pubs[0])
        check([e["publication"] for e in after] == pubs[1:], "after_publication: %r" % after)
        by_time = await call(b, "wamp.subscription.get_events", q.sub.id, from_time=evs[1]["timestamp"])
        check(len(by_time) >= 2 and by_time[-1]["publication"] == pubs[2], "from_time: %r" % by_time)

    await results.check("history_get_events", history_get_events)

    # --- session meta API -------------------------------------------------------------------------
    joins = await subscribe(a, "wamp.session.on_join")
    leaves = await subscribe(a, "wamp.session.on_leave")
    extra = {}

    async def session_on_join():
        d = extra["d"] = await connect(url, serializer)
        args, _, _ = await joins.next_about(d.id, "on_join")
        det = args[0]
        check(det["authrole"] == "anonymous" and det["authmethod"] == "anonymous" and isinstance(det["authid"], str) and
              isinstance(det["authprovider"], str), "on_join details %r" % det)

    async def session_count():
        check(await call(a, "wamp.session.count") == 4, "count, want 4")
        check(await call(a, "wamp.session.count", ["anonymous"]) == 4, "count of anonymous")
        check(await call(a, "wamp.session.count", ["admin"]) == 0, "count of admin")

    async def session_list():
        ids = await call(a, "wamp.session.list")
        for p in (a, b, c, extra["d"]):
            check(p.id in ids, "list %r lacks %r" % (ids, p.id))
        check(await call(a, "wamp.session.list", ["admin"]) == [], "list of admin")

    async def session_get():
        d = extra["d"]
        det = await call(a, "wamp.session.get", d.id)
        check(det["session"] == d.id and det["authrole"] == "anonymous" and det["authmethod"] == "anonymous", "get %r" % det)
        await expect_error(a, "wamp.session.get", "wamp.error.no_such_session", 1)

    async def session_kill():
        d = extra["d"]
        authid = (await call(a, "wamp.session.get", d.id))["authid"]
        await call(a, "wamp.session.kill", d.id, reason="com.example.conformance.kicked", message="bye")
        await w.within(d.session.closed_future, "the killed session to close")
        ld = d.leave_details
        check(ld is not None and ld.reason == "com.example.conformance.kicked" and ld.message == "bye",
              "the killed session saw %r" % (ld,))
        args, kwargs, _ = await leaves.next_about(d.id, "on_leave")
        check(args[1] == authid and args[2] == "anonymous", "on_leave %r" % args)
        check(kwargs.get("reason") == "com.example.conformance.kicked", "on_leave reason %r" % kwargs)
        await expect_error(a, "wamp.session.kill", "wamp.error.no_such_session", a.id)

    async def session_on_leave():
        e = await connect(url, serializer)
        await w.disconnect(e)
        args, _, _ = await leaves.next_about(e.id, "on_leave")
        check(len(args) == 3 and args[2] == "anonymous", "on_leave %r" % args)

    async def session_kill_by_authid():
        e = await connect(url, serializer)
        authid = (await call(a, "wamp.session.get", e.id))["authid"]
        killed = await call(a, "wamp.session.kill_by_authid", authid)
        check(killed == [e.id], "killed %r, want [%r]" % (killed, e.id))
        await w.within(e.session.closed_future, "the killed session to close")
        check(e.leave_details.reason == "wamp.close.killed", "reason %r" % e.leave_details.reason)

    for name, fn in (("session_on_join", session_on_join), ("session_count", session_count),
                     ("session_list", session_list), ("session_get", session_get), ("session_kill", session_kill),
                     ("session_on_leave", session_on_leave), ("session_kill_by_authid", session_kill_by_authid)):
        await results.check(name, fn)

    # --- testaments --------------------------------------------------------------------------------
    async def testament_killed_client():
        topic = prefix + ".testament"
        wills = await subscribe(a, topic)
        child = await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "--testament-child", url, serializer, topic,
            stdout=asyncio.subprocess.PIPE, env=os.environ.copy())
        try:
            line = (await w.within(child.stdout.readline(), "the child to add its testaments")).decode().strip()
            check(line.startswith("ready "), "child said %r" % line)
            child_id = int(line[6:])
            await wills.none()
        finally:
            if child.returncode is None:
                child.kill()  # SIGKILL: no GOODBYE, no close frame
            await child.wait()
        args1, _, _ = await wills.next("the detached testament")
        args2, kwargs2, details2 = await wills.next("the destroyed testament")
        check(args1 == ["detached"] and args2 == ["destroyed"], "order %r %r" % (args1, args2))
        check(kwargs2 == {"who": "child"} and details2.publisher == child_id, "testament %r %r" % (kwargs2, details2))
        args, _, _ = await leaves.next_about(child_id, "on_leave of the killed child")
        check(args[2] == "anonymous", "on_leave %r" % args)

    await results.check("testament_killed_client", testament_killed_client)

    async def session_kill_by_authrole():
        f = await connect(url, serializer)
        n = await call(a, "wamp.session.kill_by_authrole", "anonymous")
        check(n == 3, "killed %r, want 3 (b, c, f)" % n)
        for p in (b, c, f):
            await w.within(p.session.closed_future, "a killed session to close")
        seen = set()
        while len(seen) < 3:
            args, _, _ = await leaves.next("on_leave of the sessions killed by authrole")
            if args[0] in (b.id, c.id, f.id):
                seen.add(args[0])
        check(await call(a, "wamp.session.count") == 1, "sessions other than the caller remain")

    async def session_kill_all():
        g = await connect(url, serializer)
        await asyncio.sleep(QUIET)
        leaves.clear()
        n = await call(a, "wamp.session.kill_all", message="everyone out")
        check(n == 1, "killed %r, want 1" % n)
        await w.within(g.session.closed_future, "the killed session to close")
        check(g.leave_details.message == "everyone out", "killed session saw %r" % (g.leave_details,))
        await leaves.none()  # kill_all publishes no on_leave

    async def leave():
        reason = await w.disconnect(a)
        check(reason == "wamp.close.goodbye_and_out", "GOODBYE reason %r" % reason)

    await results.check("session_kill_by_authrole", session_kill_by_authrole)
    await results.check("session_kill_all", session_kill_all)
    await results.check("leave", leave)
    return results


async def testament_child(url, serializer, topic):
    peer = await connect(url, serializer)
    s = peer.session
    await s.call("wamp.session.add_testament", topic, ["destroyed"], {"who": "child"},
                 publish_options={"disclose_me": True})
    await s.call("wamp.session.add_testament", topic, ["detached"], {}, scope="detached")
    print("ready %d" % peer.id, flush=True)
    await asyncio.sleep(3600)


async def history_phase(mode, url, serializer, topic):
    results = w.Results()
    name = "history_publish" if mode == "--history-publish" else "history_after_restart"

    async def run():
        peer = await connect(url, serializer)
        try:
            if mode == "--history-publish":
                for i in (1, 2, 3):
                    await publish(peer, topic, "event %d" % i, i=i)
                return
            q = await subscribe(peer, topic)
            evs = await call(peer, "wamp.subscription.get_events", q.sub.id)
            got = [[e["args"][0], e["kwargs"]["i"]] for e in evs]
            want = [["event 1", 1], ["event 2", 2], ["event 3", 3]]
            check(got == want, "history after restart %r" % got)
        finally:
            await w.disconnect(peer)

    await results.check(name, run)
    return results


def run():
    argv = sys.argv[1:]
    w.hard_timeout(50)
    if argv and argv[0] == "--testament-child":
        asyncio.run(testament_child(*argv[1:4]))
        return 0
    if argv and argv[0] in ("--history-publish", "--history-read"):
        results = asyncio.run(history_phase(argv[0], *argv[1:4]))
        return 1 if results.failed else 0
    if len(argv) != 2 or argv[1] not in ("json", "msgpack"):
        print(__doc__, file=sys.stderr)
        return 2
    results = asyncio.run(main(*argv))
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(run())
