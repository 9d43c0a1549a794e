// Package httpbridge lets backends that cannot hold a WebSocket open (PHP-FPM, shell scripts,
// serverless functions) take part in WAMP with plain HTTP requests, in the request and
// response formats of Crossbar.io's HTTP bridge, so that clients written for it work unchanged.
//
// Services that receive HTTP requests are mounted on paths of a listener (Bridge.Handler):
//
//   - publisher: POST {"topic", "args", "kwargs", "options"} publishes (acknowledged) and
//     answers {"id": publication};
//   - caller: POST {"procedure", "args", "kwargs", "options"} calls and answers
//     {"args", "kwargs"}, or the WAMP error as {"error", "args", "kwargs"};
//   - webhook: any POST body is published to a configured topic as
//     {"headers": {name: [values]}, "body": text}, optionally checked against a GitHub-style
//     X-Hub-Signature-256.
//
// Services that send HTTP requests run in the background (Bridge.Forwarder, Bridge.Callee):
//
//   - subscriber forwarding: the events of a topic or pattern are POSTed to a URL as
//     {"args", "kwargs"}, through a bounded queue with retries and backoff;
//   - callee forwarding: a procedure whose every INVOCATION is a POST
//     {"procedure", "args", "kwargs", "details"} and whose response is the RESULT or ERROR.
//
// Each service acts through one long-lived in-process session (realm.Router.ServiceClient)
// with the service's authrole, so the realm authorizes every request exactly as it would a
// WAMP session of that role. Requests may be signed (Crossbar's scheme: key, timestamp, seq,
// nonce and an HMAC-SHA256 over them and the body); Pawl adds replay protection: a timestamp
// window, and each (key, nonce) accepted once within it.
//
// Every refusal is a JSON body {"error": uri-or-code, "args": [message], "kwargs": {}} with the
// HTTP status that says what went wrong.
package httpbridge
