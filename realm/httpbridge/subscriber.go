package httpbridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
)

// Forwarder POSTs the events of a topic or pattern to an HTTP endpoint. Events wait in a
// bounded queue for the delivery goroutines (Workers, default one), so the router never waits
// for the endpoint: when the endpoint is down or slow, events are retried with backoff until
// the queue is full, and then dropped — each drop and each final failure counted and logged.
type Forwarder struct {
	b      *Bridge
	cfg    SubscriberConfig
	keeper *keeper
	queue  chan delivery
	// Drops and failures are logged at most every 10s each, with how many were left out.
	dropLog, failLog throttledLog

	delivered, retries, failed, dropped atomic.Int64
}

// delivery is one event on its way to the endpoint.
type delivery struct {
	topic       wamp.URI
	publication wamp.ID
	body        []byte
}

// ForwarderStats are a forwarder's counters.
type ForwarderStats struct {
	Delivered int64 // events the endpoint accepted (2xx)
	Retries   int64 // further attempts after failed ones
	Failed    int64 // events given up: retries exhausted, or a 4xx answer
	Dropped   int64 // events dropped: the queue was full (or the bridge closed)
}

// Forwarder starts forwarding the events of cfg.Topic to cfg.URL. cfg is validated (and its
// defaults filled in) first.
func (b *Bridge) Forwarder(cfg SubscriberConfig) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Forwarder{b: b, cfg: cfg, queue: make(chan delivery, cfg.Queue)}
	log := b.log.With("bridge", "subscriber", "topic", cfg.Topic, "url", cfg.URL)
	f.dropLog = throttledLog{log: log, interval: 10 * time.Second}
	f.failLog = throttledLog{log: log, interval: 10 * time.Second}
	f.keeper = newKeeper(b.rt, cfg.Realm, cfg.Role, cfg.AuthID, log, f.subscribe)
	b.startKeeper(f.keeper)
	for range cfg.Workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			f.deliver(b.ctx)
		}()
	}
	return f, nil
}

// Joined is closed once the forwarder's session has subscribed for the first time (or the
// bridge closed before it could).
func (f *Forwarder) Joined() <-chan struct{} { return f.keeper.joined }

// Stats returns the forwarder's counters.
func (f *Forwarder) Stats() ForwarderStats {
	return ForwarderStats{Delivered: f.delivered.Load(), Retries: f.retries.Load(),
		Failed: f.failed.Load(), Dropped: f.dropped.Load()}
}

func (f *Forwarder) subscribe(ctx context.Context, c *client.Client) error {
	_, err := c.SubscribeWith(ctx, f.cfg.Topic, f.enqueue, client.SubscribeOptions{Match: f.cfg.Match})
	return err
}

// enqueue runs on the session's event goroutine: it never waits.
func (f *Forwarder) enqueue(e *client.Event) {
	args, kwargs := e.Args, e.Kwargs
	if args == nil {
		args = wamp.List{}
	}
	if kwargs == nil {
		kwargs = wamp.Dict{}
	}
	body, err := wamp.EncodeJSONValue(wamp.Dict{"args": args, "kwargs": kwargs})
	if err != nil {
		f.failed.Add(1)
		f.b.stats.Failed.Add(1)
		f.failLog.warn("http bridge: event not forwarded: it cannot be encoded as JSON", "publication", e.Publication, "err", err)
		return
	}
	topic := e.Topic()
	if t, ok := e.Details.String("topic"); ok {
		topic = wamp.URI(t)
	}
	select {
	case f.queue <- delivery{topic: topic, publication: e.Publication, body: body}:
	default:
		f.dropped.Add(1)
		f.b.stats.Dropped.Add(1)
		f.dropLog.warn("http bridge: event dropped: the forwarding queue is full (the endpoint is down or too slow)",
			"queue", f.cfg.Queue, "dropped_total", f.dropped.Load())
	}
}

// deliver sends queued events one after the other until ctx ends (each worker runs one);
// what is still queued then is counted as dropped.
func (f *Forwarder) deliver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for { // count what is left (with several workers, each takes some)
				select {
				case <-f.queue:
					f.dropped.Add(1)
					f.b.stats.Dropped.Add(1)
				default:
					return
				}
			}
		case d := <-f.queue:
			f.send(ctx, d)
		}
	}
}

// send POSTs one event, retrying with exponential backoff.
func (f *Forwarder) send(ctx context.Context, d delivery) {
	delay := f.cfg.RetryDelay
	for attempt := 0; ; attempt++ {
		retry, err := f.post(ctx, d)
		if err == nil {
			f.delivered.Add(1)
			f.b.stats.Forwarded.Add(1)
			return
		}
		if !retry || attempt >= f.cfg.Retries || ctx.Err() != nil {
			f.failed.Add(1)
			f.b.stats.Failed.Add(1)
			f.failLog.warn("http bridge: event not forwarded", "publication", d.publication, "attempts", attempt+1,
				"err", err, "failed_total", f.failed.Load())
			return
		}
		f.retries.Add(1)
		f.b.stats.Retries.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, f.cfg.MaxRetryDelay)
	}
}

// post makes one attempt; retry says whether another may succeed.
func (f *Forwarder) post(ctx context.Context, d delivery) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.cfg.URL, bytes.NewReader(d.body))
	if err != nil {
		return false, err
	}
	for k, v := range f.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if f.cfg.Secret != "" {
		req.Header.Set("X-Hub-Signature-256", githubSignature(f.cfg.Secret, d.body))
	}
	req.Header.Set("Pawl-Topic", string(d.topic))
	req.Header.Set("Pawl-Publication", strconv.FormatUint(uint64(d.publication), 10))
	resp, err := f.b.client.Do(req)
	if err != nil {
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("the endpoint answered %s", resp.Status)
	default:
		return false, fmt.Errorf("the endpoint refused the event: %s", resp.Status)
	}
}
