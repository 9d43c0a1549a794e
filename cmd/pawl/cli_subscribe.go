package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// subscribeCommand is `pawl subscribe TOPIC`: one JSON line per event on stdout,
// {"args", "details", "kwargs", "publication", "topic"}, until SIGINT/SIGTERM or --count.
func subscribeCommand(args []string, stdout, stderr io.Writer) int {
	f := newClientFlags("subscribe", "TOPIC [flags]",
		`Prints each event of TOPIC as one JSON line on stdout:
  {"args":[...],"details":{...},"kwargs":{...},"publication":ID,"topic":"..."}
until interrupted (SIGINT or SIGTERM: GOODBYE, exit 0) or --count events arrived.`, false, stderr)
	var (
		match       string
		count       int
		timeout     time.Duration
		getRetained bool
		quiet       bool
	)
	f.fs.StringVar(&match, "match", "exact", "topic matching: exact, prefix or wildcard")
	f.fs.IntVar(&count, "count", 0, "exit 0 after this many events (0: run until interrupted)")
	f.fs.DurationVar(&timeout, "timeout", 0, "stop after this long; exit 4 if -count events have not arrived by then (0: no limit)")
	f.fs.BoolVar(&getRetained, "get-retained", false, "first receive the topic's retained event, if any")
	f.fs.BoolVar(&quiet, "quiet", false, "do not say on stderr when the subscription is in place")
	positional, after, _, err := f.parse(args)
	if err != nil {
		return f.fail(err)
	}
	positional = append(positional, after...)
	switch {
	case len(positional) != 1:
		return f.fail(usagef("want exactly one TOPIC, got %d arguments", len(positional)))
	case match != "exact" && match != "prefix" && match != "wildcard":
		return f.fail(usagef("-match %q: want exact, prefix or wildcard", match))
	case count < 0:
		return f.fail(usagef("-count %d: want 0 or more", count))
	}
	topic := wamp.URI(positional[0])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// When the reader of stdout goes away (`pawl subscribe t | head -n 1`), a write fails with
	// EPIPE instead of the signal killing pawl, so that it can still say GOODBYE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	c, err := f.dial(ctx)
	if err != nil {
		return f.fail(err)
	}
	defer c.Close()

	out := bufio.NewWriter(stdout)
	var (
		mu       sync.Mutex
		seen     int
		writeErr error
	)
	enough := make(chan struct{})
	handler := func(e *client.Event) {
		mu.Lock()
		defer mu.Unlock()
		if (count > 0 && seen >= count) || writeErr != nil {
			return // the last event asked for was printed; the session is closing
		}
		line, err := jsonLine(wamp.Dict{"topic": string(e.Topic()), "publication": e.Publication,
			"args": listOrEmpty(e.Args), "kwargs": dictOrEmpty(e.Kwargs), "details": dictOrEmpty(e.Details)})
		if err != nil {
			fmt.Fprintf(stderr, "pawl subscribe: event %d not printable as JSON: %v\n", e.Publication, err)
			return
		}
		out.Write(line)
		if writeErr = out.Flush(); writeErr != nil {
			close(enough)
			return
		}
		seen++
		if count > 0 && seen == count {
			close(enough)
		}
	}
	subCtx, cancel := context.WithTimeout(ctx, f.connectTimeout)
	sub, err := c.SubscribeWith(subCtx, topic, handler, client.SubscribeOptions{Match: match, GetRetained: getRetained})
	cancel()
	if err != nil {
		return f.fail(err)
	}
	if !quiet {
		fmt.Fprintf(stderr, "pawl subscribe: subscribed to %s (%s match, subscription %d) on realm %s at %s\n",
			topic, match, sub.ID, f.realm, f.url)
	}

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-enough:
		mu.Lock()
		err := writeErr
		mu.Unlock()
		switch {
		case errors.Is(err, syscall.EPIPE): // the reader has had enough, as with --count
		case err != nil:
			fmt.Fprintf(stderr, "pawl subscribe: writing an event: %v\n", err)
			return exitConnection
		}
		return exitOK
	case <-ctx.Done(): // SIGINT or SIGTERM: the deferred Close says GOODBYE
		return exitOK
	case <-expired:
		if count > 0 {
			mu.Lock()
			got := seen
			mu.Unlock()
			fmt.Fprintf(stderr, "pawl subscribe: %d of %d events within %v\n", got, count, timeout)
			return exitTimeout
		}
		return exitOK
	case <-c.Done():
		return f.fail(&connectError{fmt.Errorf("session ended: %w", c.Err())})
	}
}
