"""Autobahn|Python (Twisted) over RawSocket: a pub/sub and an RPC round trip.

    /usr/bin/python3 rawsocket_twisted.py <rs://host:port | unix:///path> <json|msgpack|cbor>

The same checks as rawsocket_asyncio.py (join, pubsub, rpc, leave), on
Twisted's reactor with autobahn.twisted.rawsocket. It does not import
wamplib, which selects asyncio.
"""

import faulthandler
import json
import os
import sys
import random
from pathlib import Path
from urllib.parse import urlparse

import txaio

txaio.use_twisted()

from autobahn.twisted.rawsocket import WampRawSocketClientFactory  # noqa: E402
from autobahn.twisted.wamp import ApplicationSession  # noqa: E402
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer  # noqa: E402
from autobahn.wamp.types import CallResult, ComponentConfig, PublishOptions  # noqa: E402
from twisted.internet import defer, reactor  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, UNIXClientEndpoint  # noqa: E402

REALM = "realm1"
STEP_TIMEOUT = 5.0
PAYLOAD = json.loads((Path(__file__).resolve().parent.parent / "testdata" / "payload.json").read_text("utf-8"))
FAILED = []


def report(name, err=None):
    if err is None:
        print("ok %s" % name, flush=True)
    else:
        FAILED.append(name)
        print("FAIL %s: %s" % (name, str(err).replace("\n", " | ")), flush=True)


def diff(want, got, where="$"):
    """Strict structural comparison (bool is not int, int is not float)."""
    if type(want) is not type(got):
        return "%s: want %s %r, got %s %r" % (where, type(want).__name__, want, type(got).__name__, got)
    if isinstance(want, list):
        if len(want) != len(got):
            return "%s: want %d items, got %d" % (where, len(want), len(got))
        for i, (a, b) in enumerate(zip(want, got)):
            d = diff(a, b, "%s[%d]" % (where, i))
            if d:
                return d
        return None
    if isinstance(want, dict):
        if sorted(want) != sorted(got):
            return "%s: want keys %r, got %r" % (where, sorted(want), sorted(got))
        for k in want:
            d = diff(want[k], got[k], "%s.%s" % (where, k))
            if d:
                return d
        return None
    return None if want == got else "%s: want %r, got %r" % (where, want, got)


def check_payload(want, args, kwargs, what):
    d = diff(want["args"], list(args), "args") or diff(want["kwargs"], dict(kwargs), "kwargs")
    if d:
        raise AssertionError("%s: %s" % (what, d))


class Session(ApplicationSession):
    def __init__(self, config, joined, left):
        super().__init__(config)
        self.joined, self.left, self.reason = joined, left, None

    def onJoin(self, details):
        self.joined.callback(self)

    def onLeave(self, details):
        self.reason = details.reason
        self.disconnect()

    def onDisconnect(self):
        if not self.joined.called:
            self.joined.errback(RuntimeError("transport closed before join"))
        if not self.left.called:
            self.left.callback(self.reason)


def serializer_for(name):
    return {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}[name]()


def within(d, what):
    d.addTimeout(STEP_TIMEOUT, reactor)

    def explain(f):
        if f.check(defer.TimeoutError):
            raise TimeoutError("waiting %.1fs for %s" % (STEP_TIMEOUT, what))
        return f

    return d.addErrback(explain)


@defer.inlineCallbacks
def connect(url, serializer):
    joined, left = defer.Deferred(), defer.Deferred()
    holder = {}

    def make_session():
        holder["s"] = Session(ComponentConfig(realm=REALM), joined, left)
        holder["s"].left_deferred = left
        return holder["s"]

    factory = WampRawSocketClientFactory(make_session, serializer=serializer_for(serializer))
    u = urlparse(url)
    if u.scheme == "unix":
        endpoint = UNIXClientEndpoint(reactor, u.path)
    else:
        endpoint = TCP4ClientEndpoint(reactor, u.hostname, u.port)
    yield within(endpoint.connect(factory), "connect to %s" % url)
    session = yield within(joined, "WELCOME (%s over rawsocket)" % serializer)
    return session


@defer.inlineCallbacks
def main(url, serializer):
    full = PAYLOAD["full"]
    prefix = "com.example.conformance.rstw.%s.%d.%x" % (serializer, os.getpid(), random.getrandbits(32))
    try:
        a = yield connect(url, serializer)
        b = yield connect(url, serializer)
        report("join")
    except Exception as e:  # noqa: BLE001
        report("join", e)
        return

    try:
        got = defer.Deferred()
        yield within(b.subscribe(lambda *args, **kwargs: got.callback((args, kwargs)), prefix + ".topic"), "SUBSCRIBED")
        yield within(a.publish(prefix + ".topic", *full["args"], options=PublishOptions(acknowledge=True),
                               **full["kwargs"]), "PUBLISHED")
        args, kwargs = yield within(got, "EVENT")
        check_payload(full, args, kwargs, "event payload")
        report("pubsub")
    except Exception as e:  # noqa: BLE001
        report("pubsub", e)

    try:
        yield within(b.register(lambda *args, **kwargs: CallResult(*args, **kwargs), prefix + ".echo"), "REGISTERED")
        res = yield within(a.call(prefix + ".echo", *full["args"], **full["kwargs"]), "RESULT")
        if isinstance(res, CallResult):
            args, kwargs = list(res.results), dict(res.kwresults)
        else:
            args, kwargs = ([] if res is None else [res]), {}
        check_payload(full, args, kwargs, "result payload")
        report("rpc")
    except Exception as e:  # noqa: BLE001
        report("rpc", e)

    try:
        for s in (a, b):
            s.leave()
            reason = yield within(s.left_deferred, "GOODBYE reply and close")
            if reason != "wamp.close.goodbye_and_out":
                raise AssertionError("router's GOODBYE reply reason %r" % (reason,))
        report("leave")
    except Exception as e:  # noqa: BLE001
        report("leave", e)


def run(url, serializer):
    def done(_):
        reactor.stop()

    def failed(f):
        report("main", f.getErrorMessage())
        reactor.stop()

    main(url, serializer).addCallbacks(done, failed)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("json", "msgpack", "cbor"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    faulthandler.dump_traceback_later(40, exit=True)
    reactor.callWhenRunning(run, *sys.argv[1:])
    reactor.run()
    sys.exit(1 if FAILED else 0)
