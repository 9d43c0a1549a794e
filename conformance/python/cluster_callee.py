"""Autobahn|Python callee for the cluster test: it registers on one Pawl node and serves the
calls an autobahn.js caller makes on another node.

    /usr/bin/python3 cluster_callee.py <ws-url> <json|msgpack>

Prints "ok registered" once its procedures are registered, then serves until stdin closes.
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wamplib as w  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import RegisterOptions  # noqa: E402


async def main():
    url, serializer = sys.argv[1], sys.argv[2]
    w.hard_timeout(120)
    peer = await w.connect(url, serializer)
    s = peer.session

    def echo(*args, **kwargs):
        details = kwargs.pop("details")
        return [list(args), details.caller, details.caller_authrole]

    async def progress(n, details=None):
        for i in range(n):
            if details.progress:
                details.progress(i)
            await asyncio.sleep(0.01)
        return "done"

    async def slow(details=None):
        print("ok invoked", flush=True)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            # Answering the INTERRUPT: with mode kill this ERROR is the caller's answer.
            print("ok interrupted", flush=True)
            raise ApplicationError("wamp.error.canceled", "interrupted by callee")
        return "late"

    await s.register(echo, "com.cluster.echo", options=RegisterOptions(details_arg="details"))
    await s.register(progress, "com.cluster.progress", options=RegisterOptions(details_arg="details"))
    await s.register(slow, "com.cluster.slow", options=RegisterOptions(details_arg="details"))
    print("ok registered", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes stdin
    await w.disconnect(peer)


if __name__ == "__main__":
    asyncio.run(main())
