"""Autobahn|Python checks of the dealer's advanced RPC profile, for one serializer.

    /usr/bin/python3 advanced_rpc.py <ws-url> <json|msgpack>

Session A is the caller (and the meta API observer), B and C are callees; all
three speak the given serializer. Every session's serializer is tapped, so
checks can assert the exact WAMP messages the router sent (INVOCATION details,
INTERRUPT options, ...) besides what the Autobahn|Python API reports. Prints
"ok <check>" / "FAIL <check>: <detail>" per check and exits non-zero if
anything failed. See conformance/README.md for what Autobahn|Python can and
cannot express here.
"""

import asyncio
import copy
import os
import re
import sys
import time
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wamplib as w  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp import message  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import CallOptions, CallResult, ComponentConfig, RegisterOptions  # noqa: E402

# WAMP message types.
WELCOME, ERROR, CALL, CANCEL, RESULT = 2, 8, 48, 49, 50
REGISTER, INVOCATION, INTERRUPT, YIELD = 64, 68, 69, 70

DEALER_FEATURES = [
    "progressive_call_results", "progressive_call_invocations", "call_timeout", "call_canceling",
    "caller_identification", "pattern_based_registration", "shared_registration", "registration_meta_api",
]

# How long a callee that is to be canceled or timed out takes to answer.
SLOW = 1.0
# The CALL timeout, in ms as on the wire; far below SLOW.
TIMEOUT_MS = 200
# How long to wait for a message that must not come.
QUIET = 0.3
# A registration ID nothing holds (the checks assert it is not listed).
UNUSED_ID = 2**53 - 12345
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class Entry:
    def __init__(self, direction, msg):
        self.dir = direction
        self.msg = msg
        self.t = time.monotonic()

    def __repr__(self):
        return "%s %r" % (self.dir, self.msg)


class Wire:
    """Every WAMP message one session sends and receives, as its serializer
    sees it. `rewrite_out`, when set, may change an outgoing message first."""

    def __init__(self):
        self.entries = []
        self.rewrite_out = None

    def record(self, direction, msg):
        self.entries.append(Entry(direction, copy.deepcopy(msg)))

    def mark(self):
        return len(self.entries)

    def find(self, pred, since=0):
        return [e for e in self.entries[since:] if pred(e)]

    async def wait(self, pred, since, what, timeout=w.STEP_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(pred, since)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError("waiting %.1fs for %s" % (timeout, what))
            await asyncio.sleep(0.01)


def incoming(mtype, test=None):
    return lambda e: e.dir == "in" and e.msg[0] == mtype and (test is None or test(e.msg))


def outgoing(mtype, test=None):
    return lambda e: e.dir == "out" and e.msg[0] == mtype and (test is None or test(e.msg))


def answers_to(req):
    """RESULT or ERROR messages answering CALL request `req`."""
    return lambda e: e.dir == "in" and ((e.msg[0] == RESULT and e.msg[1] == req)
                                        or (e.msg[0] == ERROR and e.msg[1] == CALL and e.msg[2] == req))


def tapped_serializer(name, wire):
    ser = w.serializer_for(name)
    inner = ser._serializer
    serialize, unserialize = inner.serialize, inner.unserialize

    def tapped_serialize(obj):
        if wire.rewrite_out is not None:
            obj = wire.rewrite_out(obj)
        wire.record("out", obj)
        return serialize(obj)

    def tapped_unserialize(payload):
        msgs = unserialize(payload)
        for m in msgs:
            wire.record("in", m)
        return msgs

    inner.serialize = tapped_serialize
    inner.unserialize = tapped_unserialize
    return ser


class TappedPeer(w.Peer):
    def __init__(self, name, session, protocol, serializer, wire):
        super().__init__(session, protocol, serializer)
        self.name = name
        self.wire = wire

    def welcome(self):
        return self.wire.find(incoming(WELCOME))[0].msg[2]


async def open_peer(url, serializer, name):
    """Like wamplib.connect, with the serializer tapped."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()
    closed = loop.create_future()
    holder = {}
    wire = Wire()

    def make_session():
        holder["session"] = w._Session(ComponentConfig(realm=w.REALM), joined, closed)
        holder["session"].closed_future = closed
        return holder["session"]

    factory = WampWebSocketClientFactory(make_session, url=url, serializers=[tapped_serializer(serializer, wire)])
    parsed = urlparse(url)
    _, protocol = await w.within(loop.create_connection(factory, parsed.hostname, parsed.port), "TCP connect")
    await w.within(joined, "WELCOME for %s" % name)
    return TappedPeer(name, holder["session"], protocol, serializer, wire)


def assert_equal(want, got, what):
    d = w.diff(want, got, what)
    if d:
        raise AssertionError(d)


def assert_attached(*peers):
    for p in peers:
        if not p.session.is_attached():
            raise AssertionError("session %s is no longer attached" % p.name)


def last_call_request(peer, procedure):
    calls = peer.wire.find(outgoing(CALL, lambda m: m[3] == procedure))
    if not calls:
        raise AssertionError("no CALL for %s on the wire" % procedure)
    return calls[-1].msg[1]


async def register(peer, fn, procedure, **options):
    return await w.within(peer.session.register(fn, procedure, options=RegisterOptions(**options)),
                          "REGISTERED for %s" % procedure)


async def meta(peer, procedure, *args):
    """Calls a meta procedure and returns its single positional result, read
    from the RESULT message (Autobahn|Python turns a RESULT [null] into None,
    like an empty RESULT)."""
    mark = peer.wire.mark()
    fut = peer.session.call(procedure, *args)
    req = last_call_request(peer, procedure)
    await w.within(fut, "answer to %s" % procedure)
    got = peer.wire.find(answers_to(req), mark)[0].msg
    if got[0] != RESULT or len(got) != 4 or type(got[3]) is not list or len(got[3]) != 1:
        raise AssertionError("%s answered %r, want a RESULT with one positional result" % (procedure, got))
    return got[3][0]


async def expect_error(awaitable, uri, what):
    try:
        res = await w.within(awaitable, what)
    except ApplicationError as e:
        if e.error != uri:
            raise AssertionError("%s: error %s %r, want %s" % (what, e.error, list(e.args), uri))
        return e
    raise AssertionError("%s: succeeded with %r, want error %s" % (what, res, uri))


class Check:
    """Runs checks and remembers which passed, for checks building on others."""

    def __init__(self, results):
        self.results = results
        self.passed = set()

    async def __call__(self, name, fn):
        if await self.results.check(name, fn):
            self.passed.add(name)

    def need(self, name):
        if name not in self.passed:
            raise AssertionError("%s failed" % name)


async def main(url, serializer):
    results = w.Results()
    check = Check(results)
    prefix = w.unique_prefix("pyadv.%s" % serializer)
    peers = {}

    async def join():
        for name in ("a", "b", "c"):
            peers[name] = await open_peer(url, serializer, name.upper())

    await check("join", join)
    if len(peers) != 3:
        await finish(results, peers)
        return
    a, b, c = peers["a"], peers["b"], peers["c"]

    async def dealer_features():
        features = a.welcome().get("roles", {}).get("dealer", {}).get("features", {})
        missing = [f for f in DEALER_FEATURES if features.get(f) is not True]
        if missing:
            raise AssertionError("WELCOME roles.dealer.features lacks %s: %r" % (", ".join(missing), features))
        # What Autobahn|Python itself makes of them (it has no
        # progressive_call_invocations attribute).
        parsed = a.session._router_roles["dealer"]
        for f in DEALER_FEATURES:
            if f != "progressive_call_invocations" and getattr(parsed, f) is not True:
                raise AssertionError("Autobahn|Python parsed dealer feature %s as %r" % (f, getattr(parsed, f)))

    await check("dealer_features", dealer_features)

    # --- progressive call results -----------------------------------------
    progress_proc = prefix + ".progress"
    state = {}

    async def progressive(details=None):
        if details.progress is None:
            return CallResult("final", 0, progressive=False)
        for i in (1, 2, 3):
            details.progress(i, "step %d" % i, step=i)
            await asyncio.sleep(0.01)
        return CallResult("final", 3, progressive=True)

    async def progressive_results():
        state["progress_reg"] = await register(b, progressive, progress_proc, details_arg="details")
        seen = []
        a_mark, b_mark = a.wire.mark(), b.wire.mark()
        res = await w.within(a.session.call(progress_proc, options=CallOptions(
            on_progress=lambda *args, **kwargs: seen.append(["progress", list(args), kwargs]))), "final RESULT")
        seen.append(["final"] + list(w.as_result(res)))
        assert_equal([
            ["progress", [1, "step 1"], {"step": 1}],
            ["progress", [2, "step 2"], {"step": 2}],
            ["progress", [3, "step 3"], {"step": 3}],
            ["final", ["final", 3], {"progressive": True}],
        ], seen, "caller saw")
        req = last_call_request(a, progress_proc)
        inv = await b.wire.wait(incoming(INVOCATION, lambda m: m[2] == state["progress_reg"].id), b_mark, "INVOCATION")
        if inv.msg[3].get("receive_progress") is not True:
            raise AssertionError("INVOCATION details %r lack receive_progress=true" % (inv.msg[3],))
        assert_equal([
            [RESULT, req, {"progress": True}, [1, "step 1"], {"step": 1}],
            [RESULT, req, {"progress": True}, [2, "step 2"], {"step": 2}],
            [RESULT, req, {"progress": True}, [3, "step 3"], {"step": 3}],
            [RESULT, req, {}, ["final", 3], {"progressive": True}],
        ], [e.msg for e in a.wire.find(answers_to(req), a_mark)], "RESULT messages at the caller")

    await check("progressive_results", progressive_results)

    async def progressive_results_not_requested():
        check.need("progressive_results")
        a_mark, b_mark = a.wire.mark(), b.wire.mark()
        res = await w.within(a.session.call(progress_proc), "RESULT")
        assert_equal([["final", 0], {"progressive": False}], list(w.as_result(res)), "result")
        req = last_call_request(a, progress_proc)
        inv = await b.wire.wait(incoming(INVOCATION, lambda m: m[2] == state["progress_reg"].id), b_mark, "INVOCATION")
        if "receive_progress" in inv.msg[3]:
            raise AssertionError("INVOCATION details %r carry receive_progress" % (inv.msg[3],))
        got = a.wire.find(answers_to(req), a_mark)
        if len(got) != 1:
            raise AssertionError("caller got %d answers: %r" % (len(got), got))

    await check("progressive_results_not_requested", progressive_results_not_requested)

    # --- the slow callee: timeouts and cancels ----------------------------
    # log[tag] records what the callee's handler went through for the call
    # tagged `tag`; on INTERRUPT Autobahn|Python cancels the handler's task.
    log = {}

    async def slow(tag, on_interrupt, details=None):
        log[tag] = ["started"]
        try:
            await asyncio.sleep(SLOW)
        except asyncio.CancelledError:
            log[tag].append("interrupted")
            if on_interrupt == "result":
                return CallResult("finished anyway", tag)
            raise ApplicationError("wamp.error.canceled", "interrupted by callee", tag=tag)
        log[tag].append("finished")
        return CallResult("finished", tag)

    slow_proc = prefix + ".slow"

    async def setup_slow():
        state["slow_reg"] = await register(b, slow, slow_proc, details_arg="details")

    await check("slow_callee", setup_slow)

    async def start_slow(tag, on_interrupt="error", options=None):
        """Calls the slow procedure; returns the future, the CALL and INVOCATION
        request IDs and the wire marks from before the call."""
        check.need("slow_callee")
        a_mark, b_mark = a.wire.mark(), b.wire.mark()
        fut = a.session.call(slow_proc, tag, on_interrupt, options=options)
        req = last_call_request(a, slow_proc)
        inv = await b.wire.wait(incoming(INVOCATION, lambda m: m[2] == state["slow_reg"].id and m[4][0] == tag),
                                b_mark, "INVOCATION")
        return fut, req, inv.msg[1], a_mark, b_mark

    async def interrupted(tag, inv_req, b_mark, mode, reason):
        """The callee got exactly one INTERRUPT, with this mode and reason, and
        its handler was canceled."""
        got = await b.wire.wait(incoming(INTERRUPT, lambda m: m[1] == inv_req), b_mark, "INTERRUPT")
        assert_equal([INTERRUPT, inv_req, {"mode": mode, "reason": reason}], got.msg, "INTERRUPT")
        await b.wire.wait(outgoing(ERROR, lambda m: m[2] == inv_req), b_mark, "the callee's ERROR")
        assert_equal(["started", "interrupted"], log.get(tag), "what the callee's handler went through")
        assert_equal(1, len(b.wire.find(incoming(INTERRUPT), b_mark)), "INTERRUPTs at the callee")

    async def not_interrupted(tag, inv_req, b_mark):
        # The callee's answer, or an INTERRUPT it must not get.
        await b.wire.wait(lambda e: outgoing(YIELD, lambda m: m[1] == inv_req)(e) or incoming(INTERRUPT)(e),
                          b_mark, "the callee's late YIELD", timeout=w.STEP_TIMEOUT + SLOW)
        found = b.wire.find(incoming(INTERRUPT), b_mark)
        if found:
            raise AssertionError("callee was interrupted: %r" % found)
        assert_equal(["started", "finished"], log.get(tag), "what the callee's handler went through")

    async def only_answer(req, a_mark, want):
        """After a quiet period, the caller got exactly one answer to `req`
        (the callee's late answer was dropped), whose first five elements are
        `want`."""
        await asyncio.sleep(QUIET)
        got = a.wire.find(answers_to(req), a_mark)
        assert_equal([want], [e.msg[:5] for e in got], "answers to the CALL at the caller")
        return got[0]

    def dealer_error(entry):
        """The caller's ERROR is the dealer's own, not the callee's (which carries kwargs.tag)."""
        kwargs = entry.msg[6] if len(entry.msg) > 6 else {}
        if "tag" in kwargs:
            raise AssertionError("the caller got the callee's answer %r, want the dealer's" % (entry.msg,))

    async def call_timeout():
        start = time.monotonic()
        fut, req, inv_req, a_mark, b_mark = await start_slow("timeout", options=CallOptions(timeout=TIMEOUT_MS))
        state["timeout"] = (req, inv_req, a_mark, b_mark)
        sent = a.wire.find(outgoing(CALL, lambda m: m[1] == req))[0].msg
        assert_equal(TIMEOUT_MS, sent[2].get("timeout"), "CALL option timeout")
        await expect_error(fut, "wamp.error.timeout", "call with timeout")
        took = time.monotonic() - start
        if not (TIMEOUT_MS / 1000 - 0.005 <= took < SLOW):
            raise AssertionError("timeout error after %.3f s, want about %.3f s" % (took, TIMEOUT_MS / 1000))

    await check("call_timeout", call_timeout)

    async def call_timeout_interrupt():
        check.need("call_timeout")
        req, inv_req, a_mark, b_mark = state["timeout"]
        await interrupted("timeout", inv_req, b_mark, "killnowait", "wamp.error.timeout")
        dealer_error(await only_answer(req, a_mark, [ERROR, CALL, req, {}, "wamp.error.timeout"]))
        assert_attached(a, b)

    await check("call_timeout_interrupt", call_timeout_interrupt)

    # Autobahn|Python's only cancel API is Future.cancel(), which sends CANCEL
    # without a mode (the dealer's default, killnowait). The explicit modes are
    # sent as the library's own message.Cancel(request, mode=...) on the
    # session's transport, the call's future staying pending.
    def send_cancel(req, mode):
        a.session._transport.send(message.Cancel(req, mode=mode))

    async def after_cancel():
        """The callee is free again: a new call goes through."""
        res = await w.within(a.session.call(slow_proc, "after", "error"), "a call after the cancel", w.STEP_TIMEOUT + SLOW)
        assert_equal([["finished", "after"], {}], list(w.as_result(res)), "result after the cancel")
        assert_attached(a, b)

    async def cancel_skip():
        fut, req, inv_req, a_mark, b_mark = await start_slow("skip")
        send_cancel(req, "skip")
        e = await expect_error(fut, "wamp.error.canceled", "call canceled with mode skip")
        if "tag" in e.kwargs:
            raise AssertionError("the caller got the callee's answer %r" % (e,))
        error = a.wire.find(incoming(ERROR, lambda m: m[2] == req), a_mark)[0]
        await not_interrupted("skip", inv_req, b_mark)
        late = b.wire.find(outgoing(YIELD, lambda m: m[1] == inv_req), b_mark)[0]
        if error.t > late.t:
            raise AssertionError("the caller got the ERROR after the callee's YIELD; skip must not wait for the callee")
        dealer_error(await only_answer(req, a_mark, [ERROR, CALL, req, {}, "wamp.error.canceled"]))
        await after_cancel()

    await check("cancel_skip", cancel_skip)

    async def cancel_killnowait():
        fut, req, inv_req, a_mark, b_mark = await start_slow("killnowait")
        send_cancel(req, "killnowait")
        e = await expect_error(fut, "wamp.error.canceled", "call canceled with mode killnowait")
        if "tag" in e.kwargs:
            raise AssertionError("the caller got the callee's answer %r; killnowait must not wait for it" % (e,))
        await interrupted("killnowait", inv_req, b_mark, "killnowait", "wamp.error.canceled")
        dealer_error(await only_answer(req, a_mark, [ERROR, CALL, req, {}, "wamp.error.canceled"]))
        await after_cancel()

    await check("cancel_killnowait", cancel_killnowait)

    async def cancel_kill():
        fut, req, inv_req, a_mark, b_mark = await start_slow("kill")
        send_cancel(req, "kill")
        e = await expect_error(fut, "wamp.error.canceled", "call canceled with mode kill")
        assert_equal([["interrupted by callee"], {"tag": "kill"}], [list(e.args), e.kwargs],
                     "the caller's error must be the callee's answer")
        await interrupted("kill", inv_req, b_mark, "kill", "wamp.error.canceled")
        await only_answer(req, a_mark, [ERROR, CALL, req, {}, "wamp.error.canceled"])
        await after_cancel()

    await check("cancel_kill", cancel_kill)

    async def cancel_kill_result():
        fut, req, inv_req, a_mark, b_mark = await start_slow("kill-result", "result")
        send_cancel(req, "kill")
        res = await w.within(fut, "the callee's answer after INTERRUPT")
        assert_equal([["finished anyway", "kill-result"], {}], list(w.as_result(res)),
                     "with mode kill the callee's result goes to the caller")
        got = await b.wire.wait(incoming(INTERRUPT, lambda m: m[1] == inv_req), b_mark, "INTERRUPT")
        assert_equal([INTERRUPT, inv_req, {"mode": "kill", "reason": "wamp.error.canceled"}], got.msg, "INTERRUPT")
        assert_equal(["started", "interrupted"], log.get("kill-result"), "what the callee's handler went through")
        await only_answer(req, a_mark, [RESULT, req, {}, ["finished anyway", "kill-result"]])
        await after_cancel()

    await check("cancel_kill_result", cancel_kill_result)

    async def cancel_default():
        fut, req, inv_req, a_mark, b_mark = await start_slow("default")
        fut.cancel()
        sent = await a.wire.wait(outgoing(CANCEL, lambda m: m[1] == req), a_mark, "CANCEL")
        assert_equal([CANCEL, req, {}], sent.msg, "CANCEL sent by Future.cancel()")
        if not fut.cancelled():
            raise AssertionError("the future was not cancelled")
        await a.wire.wait(answers_to(req), a_mark, "ERROR for the canceled CALL")
        await interrupted("default", inv_req, b_mark, "killnowait", "wamp.error.canceled")
        dealer_error(await only_answer(req, a_mark, [ERROR, CALL, req, {}, "wamp.error.canceled"]))
        await after_cancel()

    await check("cancel_default", cancel_default)

    # --- caller identification --------------------------------------------
    # Autobahn|Python 22.7.1 has no disclose_me (CallOptions, message.Call) nor
    # disclose_caller (RegisterOptions, message.Register): the driver adds the
    # option to the outgoing CALL / REGISTER at the serializer and checks what
    # the library's CallDetails report.
    who_proc = prefix + ".who"
    who_all_proc = prefix + ".whoall"

    def add_disclosure(msg):
        if msg[0] == CALL and msg[3] == who_proc and len(msg) > 4 and list(msg[4]) == ["disclose"]:
            msg[2]["disclose_me"] = True
        if msg[0] == REGISTER and msg[3] == who_all_proc:
            msg[2]["disclose_caller"] = True
        return msg

    a.wire.rewrite_out = add_disclosure
    b.wire.rewrite_out = add_disclosure

    def who(*args, details=None):
        return CallResult(details.caller, details.caller_authid, details.caller_authrole)

    def want_caller():
        return [a.session.session_id, a.welcome().get("authid"), a.welcome().get("authrole")]

    async def caller_disclosure():
        state["who_reg"] = await register(b, who, who_proc, details_arg="details")
        b_mark = b.wire.mark()
        res = await w.within(a.session.call(who_proc, "disclose"), "RESULT")
        req = last_call_request(a, who_proc)
        assert_equal(True, a.wire.find(outgoing(CALL, lambda m: m[1] == req))[0].msg[2].get("disclose_me"), "CALL disclose_me")
        got, _ = w.as_result(res)
        assert_equal(want_caller(), got, "caller, caller_authid, caller_authrole")
        if type(got[1]) is not str or type(got[2]) is not str:
            raise AssertionError("authid/authrole not strings: %r" % (got,))
        inv = await b.wire.wait(incoming(INVOCATION, lambda m: m[2] == state["who_reg"].id), b_mark, "INVOCATION")
        assert_equal(a.session.session_id, inv.msg[3].get("caller"), "INVOCATION details.caller")

    await check("caller_disclosure", caller_disclosure)

    async def caller_not_disclosed():
        check.need("caller_disclosure")
        b_mark = b.wire.mark()
        res = await w.within(a.session.call(who_proc, "plain"), "RESULT")
        assert_equal([None, None, None], w.as_result(res)[0], "caller details without disclose_me")
        inv = await b.wire.wait(incoming(INVOCATION, lambda m: m[2] == state["who_reg"].id), b_mark, "INVOCATION")
        for k in ("caller", "caller_authid", "caller_authrole"):
            if k in inv.msg[3]:
                raise AssertionError("INVOCATION details %r carry %s" % (inv.msg[3], k))

    await check("caller_not_disclosed", caller_not_disclosed)

    async def caller_disclosure_registration():
        await register(b, who, who_all_proc, details_arg="details")
        sent = b.wire.find(outgoing(REGISTER, lambda m: m[3] == who_all_proc))[0].msg
        assert_equal(True, sent[2].get("disclose_caller"), "REGISTER disclose_caller")
        res = await w.within(a.session.call(who_all_proc), "RESULT")
        assert_equal(want_caller(), w.as_result(res)[0], "caller details with disclose_caller")

    await check("caller_disclosure_registration", caller_disclosure_registration)

    # --- pattern-based registrations --------------------------------------
    def named(name):
        def endpoint(details=None):
            return CallResult(name, details.procedure)
        return endpoint

    async def expect_reached(uri, reg, match, name):
        b_mark = b.wire.mark()
        res = await w.within(a.session.call(uri), "RESULT for %s" % uri)
        assert_equal([[name, uri], {}], list(w.as_result(res)), "call %s reached" % uri)
        inv = await b.wire.wait(incoming(INVOCATION, lambda m: m[2] == reg.id), b_mark, "INVOCATION for %s" % uri)
        if match != "exact":
            assert_equal(uri, inv.msg[3].get("procedure"), "INVOCATION details.procedure")

    async def pattern_prefix():
        reg = await register(b, named("prefix"), prefix + ".pfx", match="prefix", details_arg="details")
        await expect_reached(prefix + ".pfx.a", reg, "prefix", "prefix")
        await expect_reached(prefix + ".pfx.a.b.c", reg, "prefix", "prefix")
        # The spec's prefix match is on the URI string, not on components.
        await expect_reached(prefix + ".pfx-sub", reg, "prefix", "prefix")
        await expect_reached(prefix + ".pfx", reg, "prefix", "prefix")
        await expect_error(a.session.call(prefix + ".pf"), "wamp.error.no_such_procedure", "a URI the prefix does not cover")
        await expect_error(a.session.call(prefix + ".other.pfx"), "wamp.error.no_such_procedure", "a URI the prefix does not cover")

    await check("pattern_prefix", pattern_prefix)

    async def pattern_wildcard():
        reg = await register(b, named("wildcard"), prefix + ".wc..get", match="wildcard", details_arg="details")
        await expect_reached(prefix + ".wc.x.get", reg, "wildcard", "wildcard")
        await expect_reached(prefix + ".wc.other.get", reg, "wildcard", "wildcard")
        await expect_error(a.session.call(prefix + ".wc.x.set"), "wamp.error.no_such_procedure", "a URI the wildcard does not match")
        await expect_error(a.session.call(prefix + ".wc.x.get.more"), "wamp.error.no_such_procedure", "a URI with more components")

    await check("pattern_wildcard", pattern_wildcard)

    async def pattern_precedence():
        p = prefix + ".prec"
        regs = {}
        for uri, match, name in ((p + ".a.b", "exact", "exact"), (p + ".a", "prefix", "long-prefix"),
                                 (p, "prefix", "short-prefix"), (p + "..b", "wildcard", "wildcard")):
            regs[name] = (await register(b, named(name), uri, match=match, details_arg="details"), match)
        await expect_reached(p + ".a.b", *regs["exact"], "exact")
        await expect_reached(p + ".a.c", *regs["long-prefix"], "long-prefix")
        await expect_reached(p + ".a.b.c", *regs["long-prefix"], "long-prefix")
        await expect_reached(p + ".z.b", *regs["short-prefix"], "short-prefix")

    await check("pattern_precedence", pattern_precedence)

    # --- shared registration ----------------------------------------------
    rr_proc = prefix + ".rr"

    async def shared_roundrobin():
        reg_b = await register(b, lambda: "B", rr_proc, invoke="roundrobin")
        reg_c = await register(c, lambda: "C", rr_proc, invoke="roundrobin")
        if reg_b.id != reg_c.id:
            raise AssertionError("the callees got registrations %r and %r, want one shared registration" % (reg_b.id, reg_c.id))
        seq = []
        for _ in range(6):
            seq.append(await w.within(a.session.call(rr_proc), "RESULT"))
        first = seq[0]
        second = "C" if first == "B" else "B"
        assert_equal([first, second] * 3, seq, "round-robin sequence")

    await check("shared_roundrobin", shared_roundrobin)

    async def shared_policy_conflict():
        check.need("shared_roundrobin")
        await expect_error(a.session.register(lambda: "A", rr_proc, options=RegisterOptions(invoke="random")),
                           "wamp.error.procedure_already_exists", "REGISTER with invoke=random")
        await expect_error(a.session.register(lambda: "A", rr_proc),
                           "wamp.error.procedure_already_exists", "REGISTER with invoke=single")
        await expect_error(b.session.register(lambda: "B", rr_proc, options=RegisterOptions(invoke="roundrobin")),
                           "wamp.error.procedure_already_exists", "a second REGISTER by the same callee")

    await check("shared_policy_conflict", shared_policy_conflict)

    await meta_checks(check, prefix, a, b, c)
    await finish(results, peers)


# --- registration meta API ------------------------------------------------
async def meta_checks(check, prefix, a, b, c):
    mp = prefix + ".meta"
    uris = {"exact": mp + ".shared", "prefix": mp + ".pfx", "wildcard": mp + "..w"}
    ids = {}
    regs = {}
    events = []
    st = {"consumed": 0}
    topics = ("on_create", "on_register", "on_unregister", "on_delete")

    def ours():
        """Meta events about this run's registrations, in arrival order."""
        out = []
        for topic, args in events:
            reg_id = (args[1] or {}).get("id") if topic == "on_create" and len(args) > 1 and isinstance(args[1], dict) \
                else (args[1] if len(args) > 1 else None)
            if reg_id in ids.values():
                out.append([topic, args])
        return out

    async def expect_events(want, what):
        deadline = time.monotonic() + w.STEP_TIMEOUT
        while len(ours()) < st["consumed"] + len(want) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        got = ours()[st["consumed"]:st["consumed"] + len(want)]
        st["consumed"] += len(got)
        assert_equal(want, got, what)

    def created_of(i):
        got = ours()
        if len(got) > i and got[i][0] == "on_create" and isinstance(got[i][1][1], dict):
            return got[i][1][1].get("created")
        return None

    async def meta_events_register():
        for t in topics:
            def handler(*args, topic=t):
                events.append([topic, list(args)])
            await w.within(a.session.subscribe(handler, "wamp.registration." + t), "SUBSCRIBED to " + t)
        st["before"] = await meta(a, "wamp.registration.list")
        regs["exact_b"] = await register(b, lambda: "B", uris["exact"], invoke="roundrobin")
        ids["exact"] = regs["exact_b"].id
        deadline = time.monotonic() + w.STEP_TIMEOUT
        while len(ours()) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        created = created_of(0)
        if type(created) is not str or not ISO_UTC.match(created):
            raise AssertionError("on_create details.created %r is not an ISO 8601 UTC time (events %r)" % (created, ours()))
        st["created"] = created
        await expect_events([
            ["on_create", [b.session.session_id, {"id": ids["exact"], "created": created, "uri": uris["exact"],
                                                  "match": "exact", "invoke": "roundrobin"}]],
            ["on_register", [b.session.session_id, ids["exact"]]],
        ], "events for the first REGISTER")
        regs["exact_c"] = await register(c, lambda: "C", uris["exact"], invoke="roundrobin")
        if regs["exact_c"].id != ids["exact"]:
            raise AssertionError("the second callee got another registration")
        await expect_events([["on_register", [c.session.session_id, ids["exact"]]]],
                            "events for the second REGISTER of a shared registration")
        regs["prefix"] = await register(b, lambda: "P", uris["prefix"], match="prefix")
        ids["prefix"] = regs["prefix"].id
        regs["wildcard"] = await register(b, lambda: "W", uris["wildcard"], match="wildcard")
        ids["wildcard"] = regs["wildcard"].id
        deadline = time.monotonic() + w.STEP_TIMEOUT
        while len(ours()) < st["consumed"] + 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        n = st["consumed"]
        await expect_events([
            ["on_create", [b.session.session_id, {"id": ids["prefix"], "created": created_of(n), "uri": uris["prefix"],
                                                  "match": "prefix", "invoke": "single"}]],
            ["on_register", [b.session.session_id, ids["prefix"]]],
            ["on_create", [b.session.session_id, {"id": ids["wildcard"], "created": created_of(n + 2),
                                                  "uri": uris["wildcard"], "match": "wildcard", "invoke": "single"}]],
            ["on_register", [b.session.session_id, ids["wildcard"]]],
        ], "events for the pattern REGISTERs")

    await check("meta_events_register", meta_events_register)

    def need():
        check.need("meta_events_register")

    async def meta_list():
        need()
        after = await meta(a, "wamp.registration.list")
        assert_equal(["exact", "prefix", "wildcard"], sorted(after), "keys of wamp.registration.list")
        for k in ("exact", "prefix", "wildcard"):
            added = [i for i in after[k] if i not in st["before"][k]]
            assert_equal([ids[k]], added, "new %s registrations" % k)
        listed = after["exact"] + after["prefix"] + after["wildcard"]
        if UNUSED_ID in listed:
            raise AssertionError("the ID the checks use as unknown, %d, is registered" % UNUSED_ID)
        # Every listed registration is a client's: no meta procedure appears.
        for k in ("exact", "prefix", "wildcard"):
            for i in after[k]:
                d = await meta(a, "wamp.registration.get", i)
                if d["match"] != k:
                    raise AssertionError("registration %d listed under %s has match %s" % (i, k, d["match"]))
                if d["uri"].startswith("wamp."):
                    raise AssertionError("wamp.registration.list lists %s" % d["uri"])

    await check("meta_list", meta_list)

    async def meta_lookup():
        need()
        lookup = "wamp.registration.lookup"
        assert_equal(ids["exact"], await meta(a, lookup, uris["exact"]), "lookup of the exact URI")
        assert_equal(ids["exact"], await meta(a, lookup, uris["exact"], {"match": "exact"}), "lookup with match=exact")
        assert_equal(ids["prefix"], await meta(a, lookup, uris["prefix"], {"match": "prefix"}), "lookup with match=prefix")
        assert_equal(ids["wildcard"], await meta(a, lookup, uris["wildcard"], {"match": "wildcard"}), "lookup with match=wildcard")
        assert_equal(None, await meta(a, lookup, uris["prefix"]), "exact lookup of a prefix-only URI")
        assert_equal(None, await meta(a, lookup, uris["prefix"] + ".x", {"match": "prefix"}), "prefix lookup of a URI under the prefix")
        assert_equal(None, await meta(a, lookup, mp + ".none"), "lookup of an unregistered URI")
        assert_equal(None, await meta(a, lookup, "wamp.registration.list"), "lookup of a meta procedure")

    await check("meta_lookup", meta_lookup)

    async def meta_match():
        need()
        match = "wamp.registration.match"
        assert_equal(ids["exact"], await meta(a, match, uris["exact"]), "match of the exact URI")
        assert_equal(ids["prefix"], await meta(a, match, uris["prefix"] + ".x.y"), "match under the prefix")
        assert_equal(ids["wildcard"], await meta(a, match, mp + ".any.w"), "match of the wildcard")
        assert_equal(None, await meta(a, match, mp + ".any.v"), "match of an unmatched URI")
        assert_equal(None, await meta(a, match, "wamp.registration.list"), "match of a meta procedure")

    await check("meta_match", meta_match)

    async def meta_get():
        need()
        want = {"id": ids["exact"], "created": st["created"], "uri": uris["exact"], "match": "exact", "invoke": "roundrobin"}
        assert_equal(want, await meta(a, "wamp.registration.get", ids["exact"]), "get of the shared registration")
        p = await meta(a, "wamp.registration.get", ids["prefix"])
        if not ISO_UTC.match(str(p.get("created"))):
            raise AssertionError("created %r" % (p.get("created"),))
        assert_equal({"id": ids["prefix"], "created": p["created"], "uri": uris["prefix"], "match": "prefix",
                      "invoke": "single"}, p, "get of the prefix registration")
        await expect_error(a.session.call("wamp.registration.get", UNUSED_ID), "wamp.error.no_such_registration",
                           "get of an unknown ID")

    await check("meta_get", meta_get)

    async def meta_list_callees():
        need()
        got = await meta(a, "wamp.registration.list_callees", ids["exact"])
        assert_equal(sorted([b.session.session_id, c.session.session_id]), sorted(got), "callees of the shared registration")
        assert_equal([b.session.session_id], await meta(a, "wamp.registration.list_callees", ids["wildcard"]),
                     "callees of the wildcard registration")
        await expect_error(a.session.call("wamp.registration.list_callees", UNUSED_ID), "wamp.error.no_such_registration",
                           "list_callees of an unknown ID")

    await check("meta_list_callees", meta_list_callees)

    async def meta_count_callees():
        need()
        assert_equal(2, await meta(a, "wamp.registration.count_callees", ids["exact"]), "count of the shared registration")
        assert_equal(1, await meta(a, "wamp.registration.count_callees", ids["prefix"]), "count of the prefix registration")
        await expect_error(a.session.call("wamp.registration.count_callees", UNUSED_ID), "wamp.error.no_such_registration",
                           "count_callees of an unknown ID")

    await check("meta_count_callees", meta_count_callees)

    async def meta_events_unregister():
        need()
        await w.within(regs["exact_b"].unregister(), "UNREGISTERED")
        await expect_events([["on_unregister", [b.session.session_id, ids["exact"]]]],
                            "events for the first UNREGISTER of the shared registration")
        assert_equal(1, await meta(a, "wamp.registration.count_callees", ids["exact"]), "count after one callee left")
        assert_equal([c.session.session_id], await meta(a, "wamp.registration.list_callees", ids["exact"]), "callees after one left")
        await w.within(regs["exact_c"].unregister(), "UNREGISTERED")
        await expect_events([
            ["on_unregister", [c.session.session_id, ids["exact"]]],
            ["on_delete", [c.session.session_id, ids["exact"]]],
        ], "events for the last UNREGISTER")
        await w.within(regs["prefix"].unregister(), "UNREGISTERED")
        await expect_events([
            ["on_unregister", [b.session.session_id, ids["prefix"]]],
            ["on_delete", [b.session.session_id, ids["prefix"]]],
        ], "events for the UNREGISTER of the prefix registration")
        await expect_error(a.session.call("wamp.registration.get", ids["exact"]), "wamp.error.no_such_registration",
                           "get of a deleted registration")
        assert_equal(None, await meta(a, "wamp.registration.lookup", uris["exact"]), "lookup of a deleted registration")
        listed = await meta(a, "wamp.registration.list")
        if ids["exact"] in listed["exact"] or ids["prefix"] in listed["prefix"]:
            raise AssertionError("deleted registrations still listed: %r" % (listed,))
        if ids["wildcard"] not in listed["wildcard"]:
            raise AssertionError("the wildcard registration is no longer listed: %r" % (listed,))
        await asyncio.sleep(QUIET)
        extra = ours()[st["consumed"]:]
        if extra:
            raise AssertionError("unexpected meta events: %r" % (extra,))

    await check("meta_events_unregister", meta_events_unregister)


async def finish(results, peers):
    async def leave():
        if not peers:
            raise AssertionError("no session to leave")
        for p in peers.values():
            if not p.session.is_attached():
                raise AssertionError("session %s closed before the end" % p.name)
        reasons = await asyncio.gather(*(w.disconnect(p) for p in peers.values()))
        for reason in reasons:
            if reason != "wamp.close.goodbye_and_out":
                raise AssertionError("router's GOODBYE reply reason %r, want wamp.close.goodbye_and_out" % (reason,))

    await results.check("leave", leave)
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("json", "msgpack"):
        print("usage: %s <ws-url> <json|msgpack>" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    w.hard_timeout(50)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
