"""Shared helpers for the Autobahn|Python conformance drivers.

Output protocol (read by the Go tests): one line per check on stdout,
"ok <name>" or "FAIL <name>: <detail>"; the process exits non-zero if any
check failed or the hard timeout fired.

Run with Debian's /usr/bin/python3 (python3-autobahn, python3-msgpack, python3-cbor2).
"""

import asyncio
import faulthandler
import json
import os
import random
import sys
import traceback
from pathlib import Path
from urllib.parse import urlparse

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer  # noqa: E402
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateResponseAccept  # noqa: E402
from autobahn.wamp.types import CallResult, ComponentConfig, SubscribeOptions  # noqa: E402

REALM = "realm1"
PAYLOAD = json.loads((Path(__file__).resolve().parent.parent / "testdata" / "payload.json").read_text("utf-8"))

# How long a single wait (join, event, call result) may take before the check
# is reported as failed.
STEP_TIMEOUT = 5.0

MAX_ID = 2**53


def serializer_for(name):
    """A serializer by name: json, msgpack, cbor, or one of them + ".batched" (several WAMP
    messages per WebSocket message); a "+deflate" suffix is for connect() and ignored here."""
    name, _, _ = name.partition("+")
    base, _, batched = name.partition(".")
    if batched not in ("", "batched"):
        raise ValueError("unknown serializer %r" % name)
    batched = batched == "batched"
    if base == "json":
        return JsonSerializer(batched=batched)
    if base == "msgpack":
        return MsgPackSerializer(batched=batched)
    if base == "cbor":
        return CBORSerializer(batched=batched)
    raise ValueError("unknown serializer %r" % name)


def serializer_names():
    """Every serializer name the drivers accept (see serializer_for)."""
    return [b + v + d for b in ("json", "msgpack", "cbor") for v in ("", ".batched") for d in ("", "+deflate")]


def hard_timeout(seconds):
    """Ends the process, whatever it is doing, after `seconds`."""
    sys.stdout.flush()
    faulthandler.dump_traceback_later(seconds, exit=True)


class Results:
    def __init__(self):
        self.failed = False

    def ok(self, name):
        print("ok %s" % name, flush=True)

    def fail(self, name, detail):
        self.failed = True
        print("FAIL %s: %s" % (name, str(detail).replace("\n", " | ")), flush=True)

    async def check(self, name, fn):
        """Runs one named check; an exception fails that check only."""
        try:
            await fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.fail(name, describe_error(e))
            traceback.print_exc(file=sys.stderr)
            return False
        self.ok(name)
        return True


def describe_error(e):
    if isinstance(e, ApplicationError):
        return "WAMP error %s args=%r kwargs=%r" % (e.error, list(e.args), e.kwargs)
    if isinstance(e, asyncio.TimeoutError):
        return "timed out: %s" % (e.args[0] if e.args else "no detail")
    return "%s: %s" % (type(e).__name__, e)


async def within(awaitable, what, timeout=STEP_TIMEOUT):
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise asyncio.TimeoutError("waiting %.1fs for %s" % (timeout, what)) from None


class _Session(ApplicationSession):
    """Joins on connect (anonymous) and reports join / close via futures."""

    def __init__(self, config, joined, closed):
        super().__init__(config)
        self._joined = joined
        self._closed = closed
        self.goodbye_reason = None

    def onUserError(self, fail, msg):
        # Application errors raised on purpose by the test callees are
        # expected; anything else goes to stderr for the Go test's log.
        if isinstance(getattr(fail, "value", None), ApplicationError):
            return
        super().onUserError(fail, msg)

    def onJoin(self, details):
        if not self._joined.done():
            self._joined.set_result(details)

    def onLeave(self, details):
        self.goodbye_reason = details.reason
        if not self._joined.done():
            self._joined.set_exception(RuntimeError("session left before join: %s %s" % (details.reason, details.message)))
        self.disconnect()

    def onDisconnect(self):
        if not self._joined.done():
            self._joined.set_exception(RuntimeError("transport closed before join"))
        if not self._closed.done():
            self._closed.set_result(self.goodbye_reason)


class Peer:
    def __init__(self, session, protocol, serializer):
        self.session = session
        self.protocol = protocol
        self.serializer = serializer


async def connect(url, serializer, offer=None):
    """Opens one WAMP session on realm1 offering exactly one serializer; with offer (a
    PerMessageDeflateOffer), offering permessage-deflate as it says."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()
    closed = loop.create_future()
    holder = {}

    def make_session():
        holder["session"] = _Session(ComponentConfig(realm=REALM), joined, closed)
        holder["session"].closed_future = closed
        return holder["session"]

    factory = WampWebSocketClientFactory(make_session, url=url, serializers=[serializer_for(serializer)])
    name, _, deflate = serializer.partition("+")
    if offer is not None:
        deflate = "deflate"
    if deflate:
        # Offer permessage-deflate as Autobahn|Python does when asked to compress, and
        # accept the router's answer (both sides without context takeover).
        factory.setProtocolOptions(
            perMessageCompressionOffers=[offer or PerMessageDeflateOffer(accept_max_window_bits=True)],
            perMessageCompressionAccept=lambda response: PerMessageDeflateResponseAccept(response))
    parsed = urlparse(url)
    _, protocol = await within(loop.create_connection(factory, parsed.hostname, parsed.port), "TCP connect")
    await within(joined, "WELCOME (%s)" % serializer)
    in_use = protocol.websocket_protocol_in_use
    if in_use != "wamp.2.%s" % name:
        raise AssertionError("negotiated subprotocol %r, want wamp.2.%s" % (in_use, name))
    extensions = [str(e.__class__.__name__) for e in (protocol.websocket_extensions_in_use or [])]
    if bool(deflate) != ("PerMessageDeflate" in extensions):
        raise AssertionError("extensions in use %r with %r" % (extensions, serializer))
    return Peer(holder["session"], protocol, serializer)


async def disconnect(peer):
    """Sends GOODBYE and waits (bounded) for the close; returns the router's GOODBYE reason."""
    session = peer.session
    if session.is_attached():
        session.leave()
    return await within(session.closed_future, "GOODBYE reply and transport close")


class EventQueue:
    """Events of one subscription, so a check can wait for the next one or
    assert that none arrived."""

    def __init__(self):
        self.items = asyncio.Queue()

    def handler(self, *args, **kwargs):
        details = kwargs.pop("details", None)
        self.items.put_nowait((list(args), kwargs, details))

    async def next(self, what="EVENT"):
        return await within(self.items.get(), what)


async def subscribe_queue(session, topic):
    queue = EventQueue()
    await within(session.subscribe(queue.handler, topic, options=SubscribeOptions(details_arg="details")),
                 "SUBSCRIBED for %s" % topic)
    return queue


async def register_echo(session, procedure):
    def echo(*args, **kwargs):
        return CallResult(*args, **kwargs)

    await within(session.register(echo, procedure), "REGISTERED for %s" % procedure)


def as_result(res):
    """Autobahn returns a bare value for a RESULT with one positional argument
    and no keyword arguments, None for an empty RESULT, else a CallResult."""
    if isinstance(res, CallResult):
        return list(res.results), dict(res.kwresults)
    if res is None:
        return [], {}
    return [res], {}


def diff(want, got, where="$"):
    """Strict structural comparison (bool is not int, int is not float).
    Returns None when equal, else a description of the first difference."""
    if type(want) is not type(got):
        return "%s: want %s %r, got %s %r" % (where, type(want).__name__, want, type(got).__name__, got)
    if isinstance(want, list):
        if len(want) != len(got):
            return "%s: want list of length %d, got %d: %r" % (where, len(want), len(got), got)
        for i, (w, g) in enumerate(zip(want, got)):
            d = diff(w, g, "%s[%d]" % (where, i))
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
    if want != got:
        return "%s: want %r, got %r" % (where, want, got)
    return None


def assert_payload(want, args, kwargs, what):
    d = diff(want["args"], list(args), "args") or diff(want["kwargs"], dict(kwargs), "kwargs")
    if d:
        raise AssertionError("%s: %s" % (what, d))


def unique_prefix(tag):
    """Topic/procedure names unique to this run, so runs sharing a router
    (PAWL_CONFORMANCE_URL) cannot interfere."""
    return "com.example.conformance.%s.%d.%x" % (tag, os.getpid(), random.getrandbits(32))


def is_wamp_id(value):
    return type(value) is int and 1 <= value <= MAX_ID
