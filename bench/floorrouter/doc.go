// Command floorrouter measures the floor under a router's CPU per call on this machine. It is
// not a router: it answers only the WAMP messages of pawlbench's rpc scenario (HELLO,
// REGISTER, CALL, YIELD, GOODBYE, over WebSocket with JSON), with nothing a router needs
// beyond moving those bytes — no realm, no authorization, no meta API, no limits, no
// keepalive, no decoding beyond finding a message's type, its request ID and where its
// arguments begin.
//
// It does each call's system calls in the cheapest way there is: one thread reads every
// socket from one level-triggered epoll wait (no goroutine parks or wakes, no read that
// finds a socket empty), handles what each read brought, and only then writes, once per
// socket with something to send. So the INVOCATIONs that all ready callers' reads produce
// reach the callee in one write, and the RESULTs of all the YIELDs one read of the callee
// brings go out with one write per caller. It allocates nothing per call.
//
// bench/compare.sh runs it as a third "router" when ROUTERS names it (ROUTERS="pawl nexus
// floor", rpc scenario, JSON over WebSocket only): its CPU per call, as a ratio against
// nexus's in the same run, is the lowest ratio any router could reach in that run — a
// call's read of the CALL and write of the RESULT on its caller's own socket cannot be
// shared with another caller's.
//
//	floorrouter -listen 127.0.0.1:18183
package main
