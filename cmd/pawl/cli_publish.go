package main

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// publishCommand is `pawl publish TOPIC [ARGS...]`.
func publishCommand(args []string, stderr io.Writer) int {
	f := newClientFlags("publish", "TOPIC [ARGS...] [flags]",
		"Publishes one event to TOPIC. Each argument is JSON when it parses as JSON, else a string.", true, stderr)
	var (
		acknowledge, excludeMe, discloseMe, retain bool
		timeout                                    time.Duration
		eligible, exclude                          = listFlag{commas: true}, listFlag{commas: true}
		eligibleAuthID, excludeAuthID              = listFlag{commas: true}, listFlag{commas: true}
		eligibleAuthRole, excludeAuthRole          = listFlag{commas: true}, listFlag{commas: true}
	)
	f.fs.BoolVar(&acknowledge, "acknowledge", false, "wait for the broker to acknowledge the publication (errors then exit 1)")
	f.fs.BoolVar(&excludeMe, "exclude-me", true, "exclude this session from the receivers (WAMP's default; -exclude-me=false to include it)")
	f.fs.BoolVar(&discloseMe, "disclose-me", false, "disclose this session's ID, authid and authrole to the subscribers")
	f.fs.BoolVar(&retain, "retain", false, "keep the event as the topic's retained event")
	f.fs.DurationVar(&timeout, "timeout", 10*time.Second, "most time to wait for the acknowledgement")
	f.fs.Var(&eligible, "eligible", "only these session `IDs` receive the event (repeat or comma-separate)")
	f.fs.Var(&exclude, "exclude", "these session `IDs` do not receive the event")
	f.fs.Var(&eligibleAuthID, "eligible-authid", "only sessions with these `authids` receive the event")
	f.fs.Var(&excludeAuthID, "exclude-authid", "sessions with these `authids` do not receive the event")
	f.fs.Var(&eligibleAuthRole, "eligible-authrole", "only sessions with these `authroles` receive the event")
	f.fs.Var(&excludeAuthRole, "exclude-authrole", "sessions with these `authroles` do not receive the event")
	positional, after, _, err := f.parse(args)
	if err != nil {
		return f.fail(err)
	}
	positional = append(positional, after...)
	if len(positional) == 0 {
		return f.fail(usagef("missing TOPIC"))
	}
	topic := wamp.URI(positional[0])
	pubArgs, kwargs, err := f.payloadOf(positional[1:])
	if err != nil {
		return f.fail(err)
	}
	opts := client.PublishOptions{Acknowledge: acknowledge, DiscloseMe: discloseMe, Retain: retain,
		EligibleAuthID: eligibleAuthID.values, ExcludeAuthID: excludeAuthID.values,
		EligibleAuthRole: eligibleAuthRole.values, ExcludeAuthRole: excludeAuthRole.values}
	if f.isSet("exclude-me") {
		opts.ExcludeMe = client.Bool(excludeMe)
	}
	if opts.Eligible, err = sessionIDs("-eligible", eligible.values); err != nil {
		return f.fail(err)
	}
	if opts.Exclude, err = sessionIDs("-exclude", exclude.values); err != nil {
		return f.fail(err)
	}

	c, err := f.dial(context.Background())
	if err != nil {
		return f.fail(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.PublishWith(ctx, topic, opts, pubArgs, kwargs); err != nil {
		return f.fail(err)
	}
	return exitOK
}

// sessionIDs parses session IDs given on the command line; nil when none were given.
func sessionIDs(flagName string, values []string) ([]wamp.ID, error) {
	if values == nil {
		return nil, nil
	}
	ids := make([]wamp.ID, 0, len(values))
	for _, v := range values {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 || id > 1<<53 {
			return nil, usagef("%s %q: want a session ID (an integer from 1 to 2^53)", flagName, v)
		}
		ids = append(ids, wamp.ID(id))
	}
	return ids, nil
}
