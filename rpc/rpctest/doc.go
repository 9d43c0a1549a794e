// Package rpctest is the contract every rpc.Dealer must pass: DealerContract runs the dealer's
// whole observable behaviour — registration, shared registration and its invocation
// policies, call routing and answers, progressive results and invocations, the three cancel
// modes, timeouts, caller disclosure, concurrency limits and the call queue, callers and
// callees leaving mid-call, meta events — and a concurrent stress of yields, cancels,
// timeouts and departures racing each other, against a dealer the caller builds, through
// real router sessions over fake in-memory peers (internal/fakepeer). The in-process dealer
// runs it in rpc's tests; a clustered one runs the same suite.
package rpctest
