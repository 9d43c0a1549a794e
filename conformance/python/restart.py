"""Survives a router restart: an Autobahn|Python Component, with its own automatic
reconnection, joins, and after the router is stopped (SIGTERM) and started again on the same
port joins again by itself. Each join registers a procedure and calls it, so the session is
known to work. Prints "open N" after the Nth working join, "leave <reason>" on every leave,
and "ok reconnected" once it has joined twice.

usage: /usr/bin/python3 restart.py <ws-url> <json|msgpack>
"""

import asyncio
import os
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.component import Component  # noqa: E402

from wamplib import hard_timeout  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    url, serializer = sys.argv[1], sys.argv[2]
    hard_timeout(45)
    component = Component(
        transports=[{
            "type": "websocket",
            "url": url,
            "serializers": [serializer],
            # Autobahn|Python's defaults reconnect too; shorter delays keep the test fast.
            "max_retries": -1,
            "initial_retry_delay": 0.2,
            "max_retry_delay": 1,
        }],
        realm="realm1",
    )
    opens = 0

    @component.on_join
    async def joined(session, details):
        nonlocal opens
        opens += 1
        n = opens
        procedure = "com.example.conformance.restart.py.%d.%d" % (os.getpid(), n)
        try:
            await session.register(lambda: n, procedure)
            res = await session.call(procedure)
            if res != n:
                raise RuntimeError("call returned %r, want %d" % (res, n))
        except Exception as e:  # noqa: BLE001 - reported to the Go test
            print("FAIL open_%d: %s" % (n, e), flush=True)
            os._exit(1)
        print("open %d" % n, flush=True)
        if n == 2:
            print("ok reconnected", flush=True)
            os._exit(0)

    @component.on_leave
    async def left(session, details):
        print("leave %s" % details.reason, flush=True)

    # autobahn.asyncio.component.run() uses asyncio.coroutine, gone since Python 3.11:
    # start the component on a loop of our own.
    txaio.start_logging(level="warn")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    txaio.config.loop = loop
    done = component.start(loop=loop)
    loop.run_until_complete(done)
    print("FAIL component_ended: the component stopped reconnecting", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
