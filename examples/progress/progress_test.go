package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/internal/exampletest"
	"github.com/pawl-wamp/pawl/wamp"
)

func start(t *testing.T) string {
	t.Helper()
	stepTime = 5 * time.Millisecond
	return exampletest.Start(t, run)
}

func dial(t *testing.T, ctx context.Context, url, serializer string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, url, realmName, client.Options{Serializer: serializer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Every step is reported, in order, before the final result; a caller that does not ask for
// progress gets just the result.
func TestProgressToTheEnd(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, serializer := range []string{"json", "msgpack"} {
		c := dial(t, ctx, url, serializer)
		var steps []int64
		res, err := c.CallWith(ctx, longJob, wamp.List{4}, nil, client.CallOptions{OnProgress: func(r *client.Result) {
			step, _ := wamp.AsInt64(r.Args[0])
			percent, _ := r.Kwargs.Int("percent")
			if percent != step*25 {
				t.Errorf("step %d reported %d%%", step, percent)
			}
			steps = append(steps, step)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) != 4 || steps[0] != 1 || steps[3] != 4 {
			t.Fatalf("progress %v", steps)
		}
		if n, _ := wamp.AsInt64(res.Args[1]); res.Args[0] != "done" || n != 4 {
			t.Fatalf("result %v", res.Args)
		}
		res, err = c.Call(ctx, longJob, nil, wamp.List{2}, nil)
		if err != nil || res.Args[0] != "done" {
			t.Fatalf("call without progress: %v %v", res, err)
		}
	}
}

// A caller that cancels stops the job: with mode kill the job's own answer says where it
// stopped; with killnowait (the default) the caller returns at once, and the session carries on.
func TestCancelFromTheCaller(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dial(t, ctx, url, "json")

	jobCtx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	var reported []int64
	_, err := c.CallWith(jobCtx, longJob, wamp.List{10000}, nil, client.CallOptions{
		CancelMode: "kill",
		OnProgress: func(r *client.Result) {
			step, _ := wamp.AsInt64(r.Args[0])
			reported = append(reported, step)
			if step == 3 {
				stopJob()
			}
		},
	})
	var ae *wamp.ApplicationError
	if !errors.As(err, &ae) || ae.URI != wamp.ErrCanceled || len(ae.Args) != 1 {
		t.Fatalf("canceled call: %v", err)
	}
	msg, _ := ae.Args[0].(string)
	if !strings.HasPrefix(msg, "job stopped after ") || !strings.HasSuffix(msg, " of 10000 steps") || len(reported) < 3 {
		t.Fatalf("the job said %q after %d progress reports", msg, len(reported))
	}

	// killnowait: the caller does not wait for the job's answer.
	jobCtx2, stopJob2 := context.WithCancel(ctx)
	_, err = c.CallWith(jobCtx2, longJob, wamp.List{10000}, nil, client.CallOptions{
		OnProgress: func(r *client.Result) {
			if step, _ := wamp.AsInt64(r.Args[0]); step == 2 {
				stopJob2()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killnowait: %v", err)
	}
	// The session is still fine for the next job.
	if res, err := c.Call(ctx, longJob, nil, wamp.List{1}, nil); err != nil || res.Args[0] != "done" {
		t.Fatalf("next call: %v %v", res, err)
	}
}

func TestDemo(t *testing.T) {
	url := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if err := demo(ctx, url, &out); err != nil {
		t.Fatal(err)
	}
	want := "progress 1/5 (20%)\nprogress 2/5 (40%)\nprogress 3/5 (60%)\nprogress 4/5 (80%)\nprogress 5/5 (100%)\n" +
		"result: [done 5]\nprogress 1/100\nprogress 2/100\nprogress 3/100\ncanceling\n"
	if !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "canceled: wamp.error.canceled [job stopped after ") {
		t.Fatalf("demo printed:\n%s", out.String())
	}
}

// The demo runs on a port of its own: 8080 need not be free.
func TestDemoOnFreePort(t *testing.T) {
	if out := exampletest.RunDemo(t, "-step", "20ms"); !strings.Contains(out, "result: [done 5]\n") {
		t.Fatalf("demo printed:\n%s", out)
	}
}
