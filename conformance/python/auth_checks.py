"""Autobahn|Python authentication and authorization checks against a pawl router started
with a generated configuration (see auth_test.go).

    /usr/bin/python3 auth_checks.py <ws-or-wss-url> <json|msgpack> <params.json>

params.json names the principals and their secrets, and (for wss://) the CA file of the
router's self-signed certificate. Prints "ok <check>" / "FAIL <check>: <detail>".

Logins go through Autobahn's own authenticators (autobahn.wamp.auth.create_authenticator):
ticket, wampcra (salted and not), scram (argon2id-13, which needs python3-argon2 and
python3-passlib) and cryptosign (python3-nacl).
"""

import asyncio
import json
import ssl
import sys
from urllib.parse import urlparse

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import Session  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.auth import create_authenticator  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions  # noqa: E402

import wamplib  # noqa: E402
from wamplib import Results, within, serializer_for  # noqa: E402


class Refused(Exception):
    def __init__(self, reason, message):
        super().__init__("%s: %s" % (reason, message))
        self.reason = reason
        self.message = message


class _AuthSession(Session):
    """Joins with the authenticators added before connecting; reports join and close."""

    def __init__(self, config, joined, closed):
        super().__init__(config)
        self._joined = joined
        self._closed = closed

    def onUserError(self, fail, msg):
        if isinstance(getattr(fail, "value", None), ApplicationError):
            return
        super().onUserError(fail, msg)

    def on_join(self, details):
        if not self._joined.done():
            self._joined.set_result(details)

    def on_leave(self, details):
        if not self._joined.done():
            self._joined.set_exception(Refused(details.reason, details.message))
        self.disconnect()

    def on_disconnect(self):
        if not self._joined.done():
            self._joined.set_exception(RuntimeError("transport closed before join"))
        if not self._closed.done():
            self._closed.set_result(None)


class Peer:
    def __init__(self, session, details):
        self.session = session
        self.details = details


async def open_session(url, serializer, params, authenticator):
    loop = asyncio.get_running_loop()
    joined = loop.create_future()
    closed = loop.create_future()
    holder = {}

    def make_session():
        s = _AuthSession(ComponentConfig(realm=params["realm"]), joined, closed)
        s.add_authenticator(authenticator)
        s.closed_future = closed
        holder["session"] = s
        return s

    factory = WampWebSocketClientFactory(make_session, url=url, serializers=[serializer_for(serializer)])
    parsed = urlparse(url)
    ssl_ctx = None
    if parsed.scheme == "wss":
        ssl_ctx = ssl.create_default_context(cafile=params["ca"])
    await within(loop.create_connection(factory, parsed.hostname, parsed.port, ssl=ssl_ctx), "TCP connect")
    details = await within(joined, "WELCOME", timeout=15)
    return Peer(holder["session"], details)


async def close(peer):
    if peer is None:
        return
    if peer.session.is_attached():
        peer.session.leave()
    await within(peer.session.closed_future, "close")


async def login(url, serializer, params, authenticator, want):
    peer = await open_session(url, serializer, params, authenticator)
    d = peer.details
    for k, v in want.items():
        got = getattr(d, k)
        if got != v:
            await close(peer)
            raise AssertionError("WELCOME %s = %r, want %r (%r)" % (k, got, v, d))
    return peer


async def refused(url, serializer, params, authenticator, reason):
    try:
        peer = await open_session(url, serializer, params, authenticator)
    except Refused as e:
        if e.reason != reason:
            raise AssertionError("ABORT %s (%s), want %s" % (e.reason, e.message, reason))
        return
    await close(peer)
    raise AssertionError("joined, want ABORT %s" % reason)


async def expect_error(awaitable, uri, what):
    try:
        await within(awaitable, what)
    except ApplicationError as e:
        if e.error != uri:
            raise AssertionError("%s: %s, want %s" % (what, e.error, uri))
        return
    raise AssertionError("%s: succeeded, want %s" % (what, uri))


def welcome(authid, authmethod, authrole="user"):
    return {"authid": authid, "authrole": authrole, "authmethod": authmethod, "authprovider": "static"}


async def main():
    if len(sys.argv) != 4 or sys.argv[2] not in ("json", "msgpack"):
        print("usage: auth_checks.py <ws-url> <json|msgpack> <params.json>", file=sys.stderr)
        sys.exit(2)
    url, serializer = sys.argv[1], sys.argv[2]
    with open(sys.argv[3], encoding="utf-8") as f:
        p = json.load(f)
    wamplib.hard_timeout(55)
    results = Results()
    peers = []

    def ticket(authid, secret):
        return create_authenticator("ticket", authid=authid, ticket=secret)

    def cra(authid, secret):
        return create_authenticator("wampcra", authid=authid, secret=secret)

    def scram(authid, password):
        return create_authenticator("scram", authid=authid, password=password)

    def cryptosign(authid, privkey):
        if authid is None:
            return create_authenticator("cryptosign", privkey=privkey)
        return create_authenticator("cryptosign", authid=authid, privkey=privkey)

    async def c_ticket():
        await close(await login(url, serializer, p, ticket(p["ticket"]["authid"], p["ticket"]["secret"]),
                                welcome(p["ticket"]["authid"], "ticket")))

    async def c_wampcra():
        await close(await login(url, serializer, p, cra(p["wampcra"]["authid"], p["wampcra"]["secret"]),
                                welcome(p["wampcra"]["authid"], "wampcra")))

    async def c_wampcra_salted():
        await close(await login(url, serializer, p, cra(p["wampcra_salted"]["authid"], p["wampcra_salted"]["secret"]),
                                welcome(p["wampcra_salted"]["authid"], "wampcra")))

    async def c_scram():
        # Autobahn names the method "scram" (the router answers in kind) and checks the
        # router's server signature in WELCOME before it joins.
        peer = await login(url, serializer, p, scram(p["scram"]["authid"], p["scram"]["password"]),
                           welcome(p["scram"]["authid"], "scram"))
        extra = peer.details.authextra or {}
        if not str(extra.get("verifier", "")).startswith("v="):
            raise AssertionError("WELCOME authextra %r has no verifier" % extra)
        await close(peer)

    async def c_cryptosign():
        await close(await login(url, serializer, p, cryptosign(p["cryptosign"]["authid"], p["cryptosign"]["privkey"]),
                                welcome(p["cryptosign"]["authid"], "cryptosign")))

    async def c_cryptosign_by_key():
        await close(await login(url, serializer, p, cryptosign(None, p["cryptosign"]["privkey"]),
                                welcome(p["cryptosign"]["authid"], "cryptosign")))

    async def c_ticket_wrong():
        await refused(url, serializer, p, ticket(p["ticket"]["authid"], "guess"), "wamp.error.authentication_failed")

    async def c_wampcra_wrong():
        await refused(url, serializer, p, cra(p["wampcra"]["authid"], "guess"), "wamp.error.authentication_failed")
        await refused(url, serializer, p, cra(p["wampcra_salted"]["authid"], "guess"), "wamp.error.authentication_failed")

    async def c_scram_wrong():
        await refused(url, serializer, p, scram(p["scram"]["authid"], "guess"), "wamp.error.authentication_failed")

    async def c_cryptosign_wrong():
        await refused(url, serializer, p, cryptosign(p["cryptosign"]["authid"], p["unknown_privkey"]),
                      "wamp.error.authentication_failed")
        await refused(url, serializer, p, cryptosign(None, p["unknown_privkey"]), "wamp.error.no_such_principal")

    async def c_unknown_authid():
        await refused(url, serializer, p, ticket("nobody", p["ticket"]["secret"]), "wamp.error.no_such_principal")
        await refused(url, serializer, p, scram("nobody", "x"), "wamp.error.no_such_principal")

    async def c_no_matching():
        await refused(url, serializer, p, create_authenticator("anonymous"), "wamp.error.no_matching_auth_method")

    for name, fn in [("ticket", c_ticket), ("wampcra", c_wampcra), ("wampcra_salted", c_wampcra_salted),
                     ("scram", c_scram), ("cryptosign", c_cryptosign), ("cryptosign_by_key", c_cryptosign_by_key),
                     ("ticket_wrong_secret", c_ticket_wrong), ("wampcra_wrong_secret", c_wampcra_wrong),
                     ("scram_wrong_password", c_scram_wrong), ("cryptosign_wrong_key", c_cryptosign_wrong),
                     ("unknown_authid", c_unknown_authid), ("no_matching_auth_method", c_no_matching)]:
        await results.check(name, fn)

    state = {}

    async def c_allowed():
        state["user"] = await login(url, serializer, p, ticket(p["ticket"]["authid"], p["ticket"]["secret"]),
                                    welcome(p["ticket"]["authid"], "ticket"))
        peers.append(state["user"])
        state["backend"] = await login(url, serializer, p, ticket(p["backend"]["authid"], p["backend"]["secret"]),
                                       welcome(p["backend"]["authid"], "ticket", "backend"))
        peers.append(state["backend"])
        proc = "com.example.open.%s.echo" % wamplib.unique_prefix("auth.py")
        await within(state["user"].session.register(lambda x: x, proc), "REGISTERED")
        res = await within(state["user"].session.call(proc, "hi"), "RESULT")
        if res != "hi":
            raise AssertionError("call result %r" % res)

    ok = await results.check("permissions_allowed", c_allowed)
    if ok:
        user, backend = state["user"].session, state["backend"].session

        async def c_call():
            await expect_error(user.call("com.example.secret.proc"), "wamp.error.not_authorized", "CALL")

        async def c_register():
            await expect_error(user.register(lambda: 1, "com.example.secret.proc"), "wamp.error.not_authorized", "REGISTER")

        async def c_subscribe():
            await expect_error(user.subscribe(lambda *a: None, "com.example.secret.news"), "wamp.error.not_authorized",
                               "SUBSCRIBE")

        async def c_publish():
            denied = await wamplib.subscribe_queue(backend, "com.example.secret.news")
            allowed = await wamplib.subscribe_queue(backend, "com.example.open.news")
            await expect_error(user.publish("com.example.secret.news", "leak", options=PublishOptions(acknowledge=True)),
                               "wamp.error.not_authorized", "PUBLISH")
            user.publish("com.example.secret.news", "leak, unacknowledged")
            # An allowed event published after the denied ones arrives; the denied ones,
            # which would have come first (one publisher, one subscriber session), never do.
            await within(user.publish("com.example.open.news", "ok", options=PublishOptions(acknowledge=True)), "PUBLISHED")
            args, _, _ = await allowed.next("the allowed EVENT")
            if args != ["ok"]:
                raise AssertionError("allowed event %r" % args)
            if not denied.items.empty():
                raise AssertionError("the denied publication reached a subscriber: %r" % denied.items.get_nowait())

        for name, fn in [("permission_denied_call", c_call), ("permission_denied_register", c_register),
                         ("permission_denied_subscribe", c_subscribe), ("permission_denied_publish", c_publish)]:
            await results.check(name, fn)
    for peer in peers:
        try:
            await close(peer)
        except Exception:  # noqa: BLE001 - best effort
            pass
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
