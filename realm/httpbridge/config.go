package httpbridge

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pawl-wamp/pawl/wamp"
)

// Service types that receive HTTP requests.
const (
	TypePublisher = "publisher"
	TypeCaller    = "caller"
	TypeWebhook   = "webhook"
)

// Defaults of ServiceConfig and the forwarders.
const (
	DefaultMaxBody         = 1 << 20 // bytes
	DefaultTimestampWindow = 5 * time.Minute
	DefaultMaxNonces       = 100_000
	DefaultCallTimeout     = 30 * time.Second
	DefaultQueue           = 1000
	DefaultRetries         = 5
	DefaultRetryDelay      = 200 * time.Millisecond
	DefaultMaxRetryDelay   = 10 * time.Second
	DefaultRequestTimeout  = 10 * time.Second
	DefaultConcurrency     = 16
	DefaultMaxInFlight     = 1024
)

// ServiceConfig is one service mounted on a path of a listener (listeners[].bridge in the
// router's configuration). The zero values of the optional fields are the defaults above.
type ServiceConfig struct {
	// Path the service answers on, e.g. /publish (next to the listener's WebSocket path).
	Path string `yaml:"path"`
	// Type is publisher, caller or webhook.
	Type string `yaml:"type"`
	// Realm and Role: the service's session joins Realm with authrole Role, and the realm's
	// authorization applies to every request as to a WAMP session of that role.
	Realm wamp.URI `yaml:"realm"`
	Role  string   `yaml:"role"`
	// AuthID of the service's session (default "pawl.bridge" + Path).
	AuthID string `yaml:"authid"`

	// Keys, when set, require signed requests: key → secret (Crossbar's scheme).
	Keys map[string]string `yaml:"keys"`
	// TimestampWindow: a signed request's timestamp may be this far from the router's clock
	// (default 5m). Each (key, nonce) is accepted once within it.
	TimestampWindow time.Duration `yaml:"timestamp_window"`
	// MaxNonces is this service's share of the nonces the bridge remembers for all its signed
	// services (default 100000); beyond the total, signed requests are refused with 503 until
	// older ones leave their window.
	MaxNonces int `yaml:"max_nonces"`

	// MaxBody is the largest request body in bytes (default 1 MiB); larger: 413.
	MaxBody int64 `yaml:"max_body"`
	// MaxInFlight bounds the requests this service works on at once (default 1024); beyond it
	// a request is refused at once with 503 and Retry-After, so a flood of slow calls cannot
	// pile up goroutines and pending calls without limit.
	MaxInFlight int `yaml:"max_in_flight"`
	// CORSOrigins, when set, answers browsers from these origins ("*" for any) with CORS
	// headers and preflight responses. Empty: no CORS headers (same-origin pages only).
	CORSOrigins []string `yaml:"cors_origins"`

	// Timeout (caller) bounds a call: a request's options.timeout (ms) may ask for less
	// (default 30s).
	Timeout time.Duration `yaml:"timeout"`

	// Topic (webhook) receives each request as {"headers", "body"}.
	Topic wamp.URI `yaml:"topic"`
	// GitHubSecret (webhook), when set, requires X-Hub-Signature-256: sha256=HMAC(secret, body).
	GitHubSecret string `yaml:"github_secret"`
}

// Validate checks a service's settings and fills in the defaults.
func (c *ServiceConfig) Validate() error {
	if c.Path == "" || !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("bridge service: path %q must start with /", c.Path)
	}
	where := "bridge service " + c.Path
	switch c.Type {
	case TypePublisher, TypeCaller:
	case TypeWebhook:
		if c.Topic == "" {
			return fmt.Errorf("%s: a webhook needs a topic", where)
		}
		if !wamp.ValidURI(c.Topic, false, false) {
			return fmt.Errorf("%s: topic %q is not a valid URI", where, c.Topic)
		}
	default:
		return fmt.Errorf("%s: type %q: want publisher, caller or webhook", where, c.Type)
	}
	if c.Type != TypeWebhook && (c.Topic != "" || c.GitHubSecret != "") {
		return fmt.Errorf("%s: topic and github_secret are for webhooks", where)
	}
	if c.Type != TypeCaller && c.Timeout != 0 {
		return fmt.Errorf("%s: timeout is for callers", where)
	}
	if err := validateSession(where, c.Realm, c.Role); err != nil {
		return err
	}
	for k, s := range c.Keys {
		if k == "" || s == "" {
			return fmt.Errorf("%s: keys need a non-empty key and secret", where)
		}
	}
	if c.TimestampWindow < 0 || c.MaxNonces < 0 || c.MaxBody < 0 || c.Timeout < 0 || c.MaxInFlight < 0 {
		return fmt.Errorf("%s: timestamp_window, max_nonces, max_body, max_in_flight and timeout must not be negative", where)
	}
	if c.AuthID == "" {
		c.AuthID = "pawl.bridge" + c.Path
	}
	if c.TimestampWindow == 0 {
		c.TimestampWindow = DefaultTimestampWindow
	}
	if c.MaxNonces == 0 {
		c.MaxNonces = DefaultMaxNonces
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Timeout == 0 && c.Type == TypeCaller {
		c.Timeout = DefaultCallTimeout
	}
	return nil
}

// SubscriberConfig forwards the events of a topic or pattern to an HTTP endpoint
// (bridge.subscribers in the router's configuration).
type SubscriberConfig struct {
	Realm  wamp.URI `yaml:"realm"`
	Role   string   `yaml:"role"`
	AuthID string   `yaml:"authid"` // default "pawl.bridge.subscriber"
	// Topic and Match (exact, prefix or wildcard) select the events.
	Topic wamp.URI `yaml:"topic"`
	Match string   `yaml:"match"`
	// URL receives each event as a POST {"args", "kwargs"} (Crossbar's format), with headers
	// Pawl-Topic and Pawl-Publication. A 2xx answer delivers it.
	URL string `yaml:"url"`
	// Queue bounds the events waiting for delivery (default 1000); beyond it events are
	// dropped, counted and logged.
	Queue int `yaml:"queue"`
	// Retries after a failed attempt (connection error, timeout, 408, 429, 5xx), waiting
	// RetryDelay, then twice that, up to MaxRetryDelay (defaults 5, 200ms, 10s). -1: none.
	Retries       int           `yaml:"retries"`
	RetryDelay    time.Duration `yaml:"retry_delay"`
	MaxRetryDelay time.Duration `yaml:"max_retry_delay"`
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// Workers is how many POSTs may be in flight at once (default 1: events arrive in the
	// order they were published; more: faster to a slow endpoint, in no particular order).
	Workers int `yaml:"workers"`
	// Headers are added to every POST (e.g. Authorization for the target).
	Headers map[string]string `yaml:"headers"`
	// Secret, when set, signs every POST as GitHub signs its webhooks, so the endpoint can
	// check it came from the router: X-Hub-Signature-256: sha256=hex(HMAC-SHA256(secret, body)).
	Secret string `yaml:"secret"`
}

// Validate checks a subscriber's settings and fills in the defaults.
func (c *SubscriberConfig) Validate() error {
	where := fmt.Sprintf("bridge subscriber %s", c.Topic)
	if err := validateSession(where, c.Realm, c.Role); err != nil {
		return err
	}
	if c.Match == "" {
		c.Match = wamp.MatchExact
	}
	if !wamp.ValidPattern(c.Topic, c.Match, false) {
		return fmt.Errorf("%s: topic %q is not a valid %s pattern", where, c.Topic, c.Match)
	}
	if err := validateURL(where, c.URL); err != nil {
		return err
	}
	if c.Queue < 0 || c.RetryDelay < 0 || c.MaxRetryDelay < 0 || c.Timeout < 0 || c.Retries < -1 || c.Workers < 0 {
		return fmt.Errorf("%s: queue, retry_delay, max_retry_delay, timeout and workers must not be negative", where)
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.AuthID == "" {
		c.AuthID = "pawl.bridge.subscriber"
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	switch c.Retries {
	case 0:
		c.Retries = DefaultRetries
	case -1:
		c.Retries = 0
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultRequestTimeout
	}
	return nil
}

// CalleeConfig registers a procedure whose invocations are POSTed to an HTTP endpoint
// (bridge.callees in the router's configuration).
type CalleeConfig struct {
	Realm  wamp.URI `yaml:"realm"`
	Role   string   `yaml:"role"`
	AuthID string   `yaml:"authid"` // default "pawl.bridge.callee"
	// Procedure and Match (exact, prefix or wildcard) are registered.
	Procedure wamp.URI `yaml:"procedure"`
	Match     string   `yaml:"match"`
	// URL receives each invocation as a POST {"procedure", "args", "kwargs", "details"}. A 2xx
	// JSON answer {"args", "kwargs"} is the RESULT; {"error": uri, "args", "kwargs"} (any
	// status) is an ERROR; anything else is wamp.error.runtime_error.
	URL string `yaml:"url"`
	// Timeout bounds one POST (default 30s); the caller's own timeout may end it earlier.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is the most invocations running at once (default 16); further calls wait in
	// the dealer's queue for this callee.
	Concurrency int `yaml:"concurrency"`
	// Headers are added to every POST.
	Headers map[string]string `yaml:"headers"`
	// Secret, when set, signs every POST: X-Hub-Signature-256 as for subscribers.
	Secret string `yaml:"secret"`
}

// Validate checks a callee's settings and fills in the defaults.
func (c *CalleeConfig) Validate() error {
	where := fmt.Sprintf("bridge callee %s", c.Procedure)
	if err := validateSession(where, c.Realm, c.Role); err != nil {
		return err
	}
	if c.Match == "" {
		c.Match = wamp.MatchExact
	}
	if !wamp.ValidPattern(c.Procedure, c.Match, false) {
		return fmt.Errorf("%s: procedure %q is not a valid %s pattern", where, c.Procedure, c.Match)
	}
	if err := validateURL(where, c.URL); err != nil {
		return err
	}
	if c.Timeout < 0 || c.Concurrency < 0 {
		return fmt.Errorf("%s: timeout and concurrency must not be negative", where)
	}
	if c.AuthID == "" {
		c.AuthID = "pawl.bridge.callee"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultCallTimeout
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	return nil
}

func validateSession(where string, realm wamp.URI, role string) error {
	if realm == "" {
		return fmt.Errorf("%s: realm missing", where)
	}
	if role == "" {
		return fmt.Errorf("%s: role missing (the authrole the realm authorizes its requests as)", where)
	}
	return nil
}

func validateURL(where, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: url: %w", where, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: url %q: want http:// or https:// with a host", where, raw)
	}
	return nil
}

var errNoSession = errors.New("the service's session is not joined (yet); retry shortly")
