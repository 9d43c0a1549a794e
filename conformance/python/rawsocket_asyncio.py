"""Autobahn|Python (asyncio) over RawSocket: a pub/sub and an RPC round trip.

    /usr/bin/python3 rawsocket_asyncio.py <rs://host:port | unix:///path> <json|msgpack|cbor>

Two sessions join over RawSocket with the given serializer: B subscribes and
registers an echo, A publishes the "full" payload (B must get it exactly) and
calls the echo (the result must be the payload). Prints "ok <check>" /
"FAIL <check>: <detail>" for join, pubsub, rpc and leave.
"""

import asyncio
import os
import sys
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wamplib as w  # noqa: E402
from autobahn.asyncio.rawsocket import WampRawSocketClientFactory, WampRawSocketClientProtocol  # noqa: E402
from autobahn.wamp.serializer import CBORSerializer  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions  # noqa: E402


class ClientProtocol(WampRawSocketClientProtocol):
    """Autobahn|Python 22.7's asyncio RawSocket protocol keeps its transport details in
    _transport_details but the session reads transport_details on WELCOME (the Twisted one
    has the property): without it no session ever joins. This client-side fix adds it."""

    @property
    def transport_details(self):
        return self._transport_details


def serializer_for(name):
    if name == "cbor":
        return CBORSerializer()
    return w.serializer_for(name)


async def connect(url, serializer):
    """Joins realm1 over RawSocket; returns a wamplib.Peer."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()
    closed = loop.create_future()
    holder = {}

    def make_session():
        holder["session"] = w._Session(ComponentConfig(realm=w.REALM), joined, closed)
        holder["session"].closed_future = closed
        return holder["session"]

    factory = WampRawSocketClientFactory(make_session, serializer=serializer_for(serializer))
    factory.protocol = ClientProtocol
    u = urlparse(url)
    if u.scheme == "unix":
        connecting = loop.create_unix_connection(factory, u.path)
    else:
        connecting = loop.create_connection(factory, u.hostname, u.port)
    _, protocol = await w.within(connecting, "connect to %s" % url)
    await w.within(joined, "WELCOME (%s over rawsocket)" % serializer)
    return w.Peer(holder["session"], protocol, serializer)


async def main(url, serializer):
    results = w.Results()
    full = w.PAYLOAD["full"]
    prefix = w.unique_prefix("rs.%s" % serializer)
    peers = {}

    async def join():
        peers["a"] = await connect(url, serializer)
        peers["b"] = await connect(url, serializer)

    if not await results.check("join", join):
        sys.exit(1)
    a, b = peers["a"].session, peers["b"].session

    async def pubsub():
        events = await w.subscribe_queue(b, prefix + ".topic")
        await w.within(a.publish(prefix + ".topic", *full["args"], options=PublishOptions(acknowledge=True),
                                 **full["kwargs"]), "PUBLISHED")
        args, kwargs, _ = await events.next()
        w.assert_payload(full, args, kwargs, "event payload")

    async def rpc():
        await w.register_echo(b, prefix + ".echo")
        res = await w.within(a.call(prefix + ".echo", *full["args"], **full["kwargs"]), "RESULT")
        w.assert_payload(full, *w.as_result(res), "result payload")

    await results.check("pubsub", pubsub)
    await results.check("rpc", rpc)

    async def leave():
        for name in ("a", "b"):
            reason = await w.disconnect(peers[name])
            if reason != "wamp.close.goodbye_and_out":
                raise AssertionError("router's GOODBYE reply reason %r" % (reason,))

    await results.check("leave", leave)
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("json", "msgpack", "cbor"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    w.hard_timeout(40)
    asyncio.run(main(*sys.argv[1:]))
