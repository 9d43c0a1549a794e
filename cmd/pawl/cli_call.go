package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// callCommand is `pawl call PROCEDURE [ARGS...]`: the result as {"args", "kwargs"} on stdout;
// a WAMP error as {"error", "args", "kwargs"} on stderr with exit code 1 (4 for a timeout).
func callCommand(args []string, stdout, stderr io.Writer) int {
	f := newClientFlags("call", "PROCEDURE [ARGS...] [flags]",
		`Calls PROCEDURE and prints its result as one JSON line on stdout: {"args":[...],"kwargs":{...}}.
A WAMP error goes to stderr as {"error":"URI","args":[...],"kwargs":{...}} (exit 1; exit 4 when
the call timed out). Each argument is JSON when it parses as JSON, else a string.`, true, stderr)
	var (
		timeout    time.Duration
		discloseMe bool
		progress   bool
	)
	f.fs.DurationVar(&timeout, "timeout", 0, "cancel the call after this long, at the dealer too (exit 4; 0: no limit)")
	f.fs.BoolVar(&discloseMe, "disclose-me", false, "disclose this session's ID, authid and authrole to the callee")
	f.fs.BoolVar(&progress, "progress", false, `ask for progressive results and print each as a line with "progress":true before the final one`)
	positional, after, _, err := f.parse(args)
	if err != nil {
		return f.fail(err)
	}
	positional = append(positional, after...)
	if len(positional) == 0 {
		return f.fail(usagef("missing PROCEDURE"))
	}
	if timeout < 0 {
		return f.fail(usagef("-timeout %v: want 0 or more", timeout))
	}
	procedure := wamp.URI(positional[0])
	callArgs, kwargs, err := f.payloadOf(positional[1:])
	if err != nil {
		return f.fail(err)
	}

	c, err := f.dial(context.Background())
	if err != nil {
		return f.fail(err)
	}
	defer c.Close()
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	opts := client.CallOptions{Options: wamp.Dict{}}
	if discloseMe {
		opts.Options["disclose_me"] = true
	}
	if progress {
		// Progressive results arrive on the client's reader, one at a time, before the final one.
		opts.OnProgress = func(r *client.Result) {
			if line, err := payloadJSON(r.Args, r.Kwargs, wamp.Dict{"progress": true}); err == nil {
				stdout.Write(line)
			}
		}
	}
	res, err := c.CallWith(ctx, procedure, callArgs, kwargs, opts)
	if err != nil {
		return f.fail(err)
	}
	line, err := payloadJSON(res.Args, res.Kwargs, nil)
	if err != nil {
		fmt.Fprintf(stderr, "pawl call: the result is not printable as JSON: %v\n", err)
		return exitWAMPError
	}
	stdout.Write(line)
	return exitOK
}
