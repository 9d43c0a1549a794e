"""Autobahn|Python asks the router for a small permessage-deflate window.

    /usr/bin/python3 deflate_window.py <ws-url> <ask> <want server bits> <want client bits>

The client offers permessage-deflate, with server_max_window_bits=<ask> unless <ask> is 0,
and accepts a client_max_window_bits from the router; the router must answer with the window
bits wanted. Autobahn inflates with a 2^N-byte zlib window but
into one growing buffer, where zlib lets a back-reference reach past the window; so every
compressed message the router sends is inflated again here, strictly: in 64-byte steps, where a
reference farther back than the window fails ("invalid distance too far back"). The payloads
repeat 1 KiB of text, so an LZ77 compressor would refer 1,024 bytes back.
Prints "ok <check>" / "FAIL <check>: <detail>" and exits non-zero on failure.
"""

import asyncio
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wamplib as w  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402
from autobahn.websocket.compress import PerMessageDeflateOffer  # noqa: E402


def far_back_payload():
    """4 KiB: 1 KiB of varied text, four times."""
    text = ""
    i = 0
    while len(text) < 1024:
        text += "%d:%x," % (i, i * i * 2654435761)
        i += 1
    return text[:1024] * 4


def strict_inflate(compressed, bits):
    """Inflates one permessage-deflate message keeping only a 2^bits-byte window."""
    d = zlib.decompressobj(-bits)
    out, rest = b"", compressed + b"\x00\x00\xff\xff"
    while rest:
        out += d.decompress(rest, 64)
        rest = d.unconsumed_tail
    return out


class StrictWindow:
    """Wraps the negotiated PerMessageDeflate's inflating: each compressed message the router
    sends is also inflated strictly within the agreed window."""

    def __init__(self, pmd, bits):
        self.bits, self.checked, self.errors, self.parts = bits, 0, [], []
        start, data, end = pmd.start_decompress_message, pmd.decompress_message_data, pmd.end_decompress_message

        def start_message():
            self.parts = []
            return start()

        def message_data(chunk):
            self.parts.append(chunk)
            return data(chunk)

        def end_message():
            compressed = b"".join(self.parts)
            try:
                strict_inflate(compressed, self.bits)
                self.checked += 1
            except zlib.error as e:
                self.errors.append(str(e))
            return end()

        pmd.start_decompress_message = start_message
        pmd.decompress_message_data = message_data
        pmd.end_decompress_message = end_message

    def assert_clean(self):
        if self.errors:
            raise AssertionError("the router's compressed messages reach past a %d-bit window: %s" % (self.bits, self.errors))
        if self.checked == 0:
            raise AssertionError("no compressed message from the router was seen")


async def main(url, ask, server_bits, want_client_bits):
    results = w.Results()
    offer = PerMessageDeflateOffer(accept_max_window_bits=True, request_max_window_bits=ask)
    peers = {}
    payload = far_back_payload()

    async def join():
        peers["a"] = await w.connect(url, "json", offer=offer)

    if not await results.check("join", join):
        sys.exit(1)
    peer = peers["a"]
    session = peer.session

    async def event_far_back():
        topic = w.unique_prefix("window") + ".topic"
        queue = await w.subscribe_queue(session, topic)
        await w.within(session.publish(topic, payload, options=PublishOptions(acknowledge=True, exclude_me=False)),
                       "PUBLISHED")
        args, _, _ = await queue.next()
        if args != [payload]:
            raise AssertionError("event payload differs (%d bytes)" % len(str(args)))
        strict["window"].assert_clean()

    async def call_far_back():
        procedure = w.unique_prefix("window") + ".echo"
        await w.register_echo(session, procedure)
        res = await w.within(session.call(procedure, payload), "RESULT")
        if w.as_result(res) != ([payload], {}):
            raise AssertionError("result differs")
        strict["window"].assert_clean()

    async def meta_extensions():
        details = await w.within(session.call("wamp.session.get", session.session_id), "wamp.session.get")
        got = details.get("transport", {}).get("websocket_extensions_in_use")
        if got != ["permessage-deflate"]:
            raise AssertionError("transport details list extensions %r, want ['permessage-deflate']" % (got,))

    strict = {}

    async def negotiated():
        exts = peer.protocol.websocket_extensions_in_use or []
        if len(exts) != 1:
            raise AssertionError("extensions in use %r, want permessage-deflate" % (exts,))
        pmd = exts[0]
        if pmd.server_max_window_bits != server_bits:
            raise AssertionError("server_max_window_bits %d, want %d" % (pmd.server_max_window_bits, server_bits))
        if pmd.client_max_window_bits != want_client_bits:
            raise AssertionError("client_max_window_bits %d, want %d" % (pmd.client_max_window_bits, want_client_bits))
        strict["window"] = StrictWindow(pmd, server_bits)

    if not await results.check("negotiated", negotiated):
        sys.exit(1)
    await results.check("event_far_back", event_far_back)
    await results.check("call_far_back", call_far_back)
    await results.check("meta_extensions", meta_extensions)

    async def leave():
        reason = await w.disconnect(peer)
        if reason != "wamp.close.goodbye_and_out":
            raise AssertionError("GOODBYE reason %r" % (reason,))

    await results.check("leave", leave)
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    w.hard_timeout(30)
    asyncio.run(main(sys.argv[1], *(int(a) for a in sys.argv[2:])))
