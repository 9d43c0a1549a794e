package main

// What the client subcommands (publish, subscribe, call, register) share: the connection,
// authentication and TLS flags, argument parsing, exit codes and JSON output. Each subcommand
// has its own file (cli_publish.go, ...); they use only the Go client's public API.

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pawl-wamp/pawl/client"
	"github.com/pawl-wamp/pawl/wamp"
	"github.com/pawl-wamp/pawl/wamp/auth"
)

// Exit codes of the client subcommands, documented in the README ("pawl from the shell").
const (
	exitOK         = 0
	exitWAMPError  = 1 // the router or a callee answered with an ERROR
	exitUsage      = 2 // bad flags or arguments: nothing was sent
	exitConnection = 3 // could not connect or join (refused, TLS, authentication), or the session was lost
	exitTimeout    = 4 // --timeout passed (or the call timed out at the dealer: wamp.error.timeout)
)

// Defaults of --url and --realm when neither the flag nor PAWL_URL / PAWL_REALM is set.
const (
	defaultClientURL   = "ws://127.0.0.1:8080/ws"
	defaultClientRealm = "realm1"
)

// Environment variables the client subcommands read. The secret ones are never accepted as
// flags (a flag value shows in ps output) and are removed from the environment of the
// commands `pawl register` runs.
const (
	envURL        = "PAWL_URL"
	envRealm      = "PAWL_REALM"
	envAuthID     = "PAWL_AUTHID"
	envTicket     = "PAWL_TICKET"
	envSecret     = "PAWL_SECRET"
	envPassword   = "PAWL_PASSWORD"
	envPrivateKey = "PAWL_PRIVATE_KEY"
)

var secretEnv = []string{envTicket, envSecret, envPassword, envPrivateKey}

// serializerCandidates are the serializer names the help lists when this build knows them.
var serializerCandidates = []string{"json", "msgpack", "cbor", "ubjson"}

// clientFlags are the flags every client subcommand takes, plus the payload flags of the ones
// that send arguments.
type clientFlags struct {
	fs     *flag.FlagSet
	name   string // "publish", ...
	stderr io.Writer

	url, realm, serializer string
	connectTimeout         time.Duration

	authID, authRole, authExtra                          string
	authMethods                                          listFlag
	ticketFile, secretFile, passwordFile, privateKeyFile string
	channelBinding                                       string
	caFile                                               string
	insecure                                             bool

	payload   bool // the subcommand sends arguments: --kwargs, -k, --string
	kwargs    string
	kv        listFlag
	asStrings bool
}

// listFlag is a flag that may be repeated; each value may also be a comma-separated list
// when the flag says so.
type listFlag struct {
	values []string
	commas bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }
func (l *listFlag) Set(v string) error {
	if l.commas {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				l.values = append(l.values, part)
			}
		}
		return nil
	}
	l.values = append(l.values, v)
	return nil
}

// newClientFlags makes the flag set of a client subcommand. synopsis is the usage line after
// "pawl NAME"; about explains the subcommand; payload adds --kwargs, -k and --string.
func newClientFlags(name, synopsis, about string, payload bool, stderr io.Writer) *clientFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &clientFlags{fs: fs, name: name, stderr: stderr, payload: payload}
	f.authMethods.commas = true
	fs.StringVar(&f.url, "url", envOr(envURL, defaultClientURL), "router `URL`: ws://, wss://, rs://, rss://, tcp://, tcps:// or unix:///path (env "+envURL+")")
	fs.StringVar(&f.realm, "realm", envOr(envRealm, defaultClientRealm), "`realm` to join (env "+envRealm+")")
	fs.StringVar(&f.serializer, "serializer", "json", "serializer: "+strings.Join(knownSerializers(), ", "))
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 10*time.Second, "most time to connect and join")
	fs.StringVar(&f.authID, "authid", os.Getenv(envAuthID), "authid sent in HELLO (env "+envAuthID+")")
	fs.StringVar(&f.authRole, "authrole", "", "authrole asked for in HELLO")
	fs.Var(&f.authMethods, "authmethod", "authentication `methods` to offer, in order (repeat or comma-separate; default: those a secret is given for: cryptosign, wamp-scram, wampcra, ticket)")
	fs.StringVar(&f.authExtra, "authextra", "", "HELLO authextra as a JSON object")
	fs.StringVar(&f.ticketFile, "ticket-file", "", "read the ticket from this `file` (or env "+envTicket+")")
	fs.StringVar(&f.secretFile, "secret-file", "", "read the wampcra secret from this `file` (or env "+envSecret+")")
	fs.StringVar(&f.passwordFile, "password-file", "", "read the wamp-scram password from this `file` (or env "+envPassword+")")
	fs.StringVar(&f.privateKeyFile, "private-key-file", "", "read the cryptosign private key (hex seed) from this `file` (or env "+envPrivateKey+")")
	fs.StringVar(&f.channelBinding, "channel-binding", "", "bind cryptosign or wamp-scram to the TLS connection: tls-unique or tls-exporter")
	fs.StringVar(&f.caFile, "ca-file", "", "trust the CA certificates in this PEM `file` for wss://")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the router's TLS certificate (testing only)")
	if payload {
		fs.StringVar(&f.kwargs, "kwargs", "", "keyword arguments as a JSON object")
		fs.Var(&f.kv, "k", "a keyword argument `key=value` (repeatable; the value is parsed like ARGS)")
		fs.BoolVar(&f.asStrings, "string", false, "take every argument and -k value as a string, never as JSON")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pawl %s %s\n\n%s\n\nFlags (before or after the arguments; -- ends them):\n", name, synopsis, about)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Secrets are read only from the environment or files, never from flags: PAWL_TICKET,
PAWL_SECRET (wampcra), PAWL_PASSWORD (wamp-scram), PAWL_PRIVATE_KEY (cryptosign).
Exit codes: 0 ok, 1 WAMP error, 2 usage, 3 connection or authentication failure, 4 timeout.
`)
	}
	return f
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func knownSerializers() []string {
	var out []string
	for _, name := range serializerCandidates {
		if _, ok := wamp.CodecNamed(name); ok {
			out = append(out, name)
		}
	}
	return out
}

// usageError is a mistake on the command line: it is printed with a hint and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// secretFlags are flag names people try for secrets; they get a pointer to the safe ways:
// the environment variable and the file flag.
var secretFlags = map[string][2]string{
	"ticket":      {envTicket, "-ticket-file"},
	"secret":      {envSecret, "-secret-file"},
	"password":    {envPassword, "-password-file"},
	"private-key": {envPrivateKey, "-private-key-file"},
}

// negativeNumber tells a negative number argument ("-5", "-1.5e3") from a flag.
var negativeNumber = regexp.MustCompile(`^-[0-9]`)

// parse parses flags anywhere among the arguments (Go's flag package stops at the first
// argument). It returns the arguments before "--" and those after it; dashDash reports
// whether "--" was there.
func (f *clientFlags) parse(args []string) (before, after []string, dashDash bool, err error) {
	var flagArgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return before, args[i+1:], true, f.parseFlags(flagArgs)
		}
		if len(a) < 2 || a[0] != '-' || negativeNumber.MatchString(a) {
			before = append(before, a)
			continue
		}
		flagArgs = append(flagArgs, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if safe, ok := secretFlags[name]; ok {
			return nil, nil, false, usagef("flag -%s: secrets are never taken from flags (ps would show them); set %s or use %s", name, safe[0], safe[1])
		}
		if hasValue {
			continue
		}
		if fl := f.fs.Lookup(name); fl != nil && !isBoolFlag(fl) && i+1 < len(args) {
			flagArgs = append(flagArgs, args[i+1])
			i++
		}
	}
	return before, nil, false, f.parseFlags(flagArgs)
}

func (f *clientFlags) parseFlags(flagArgs []string) error {
	// Parse quietly: a mistake gets one line and a hint, not the whole usage.
	f.fs.SetOutput(io.Discard)
	err := f.fs.Parse(flagArgs)
	f.fs.SetOutput(f.stderr)
	if errors.Is(err, flag.ErrHelp) {
		f.fs.Usage()
		return err
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if _, ok := wamp.CodecNamed(f.serializer); !ok {
		return usagef("-serializer %q: want one of %s", f.serializer, strings.Join(knownSerializers(), ", "))
	}
	return nil
}

func isBoolFlag(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// isSet reports whether a flag was given on the command line.
func (f *clientFlags) isSet(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == name {
			set = true
		}
	})
	return set
}

// fail prints err the way its exit code calls for and returns that code.
func (f *clientFlags) fail(err error) int {
	var ue *usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(f.stderr, "pawl %s: %s\nRun 'pawl %s -h' for usage.\n", f.name, ue.msg, f.name)
		return exitUsage
	}
	code := exitCodeOf(err)
	var ae *wamp.ApplicationError
	if code != exitConnection && errors.As(err, &ae) {
		// A WAMP error is printed as one JSON object, so scripts can read it.
		line, jerr := jsonLine(wamp.Dict{"error": string(ae.URI), "args": listOrEmpty(ae.Args), "kwargs": dictOrEmpty(ae.Kwargs)})
		if jerr == nil {
			f.stderr.Write(line)
			return code
		}
	}
	fmt.Fprintf(f.stderr, "pawl %s: %v\n", f.name, err)
	return code
}

// exitCodeOf classifies the error of a request.
func exitCodeOf(err error) int {
	var ae *wamp.ApplicationError
	var ce *connectError
	switch {
	case errors.As(err, &ce), errors.Is(err, client.ErrClosed):
		return exitConnection
	case errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	case errors.As(err, &ae):
		if ae.URI == wamp.ErrTimeout {
			return exitTimeout
		}
		return exitWAMPError
	}
	return exitConnection
}

// connectError marks a failure to connect or join, or the loss of the session: exit 3.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// dial connects and joins with what the flags and environment say.
func (f *clientFlags) dial(ctx context.Context) (*client.Client, error) {
	opts, err := f.clientOptions()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.connectTimeout)
	defer cancel()
	c, err := client.Dial(ctx, f.url, wamp.URI(f.realm), opts)
	if err != nil {
		return nil, &connectError{fmt.Errorf("cannot join realm %s at %s: %w", f.realm, f.url, err)}
	}
	return c, nil
}

func (f *clientFlags) clientOptions() (client.Options, error) {
	opts := client.Options{
		Serializer:  f.serializer,
		AuthID:      f.authID,
		AuthMethods: f.authMethods.values,
		Logger:      slog.New(slog.NewTextHandler(f.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if f.authRole != "" {
		opts.HelloDetails = wamp.Dict{"authrole": f.authRole}
	}
	if f.authExtra != "" {
		extra, err := jsonObject(f.authExtra)
		if err != nil {
			return opts, usagef("-authextra: %v", err)
		}
		opts.AuthExtra = extra
	}
	var err error
	cr := &opts.Credentials
	if cr.Ticket, err = secretFrom(f.ticketFile, "-ticket-file", envTicket); err != nil {
		return opts, err
	}
	if cr.Secret, err = secretFrom(f.secretFile, "-secret-file", envSecret); err != nil {
		return opts, err
	}
	if cr.Password, err = secretFrom(f.passwordFile, "-password-file", envPassword); err != nil {
		return opts, err
	}
	key, err := secretFrom(f.privateKeyFile, "-private-key-file", envPrivateKey)
	if err != nil {
		return opts, err
	}
	if key != "" {
		var pk ed25519.PrivateKey
		if pk, err = auth.ParsePrivateKey(strings.TrimSpace(key)); err != nil {
			return opts, usagef("cryptosign private key: %v (want 32 or 64 bytes of hex)", err)
		}
		cr.PrivateKey = pk
	}
	switch f.channelBinding {
	case "", auth.ChannelTLSUnique, auth.ChannelTLSExporter:
		cr.ChannelBinding = f.channelBinding
	default:
		return opts, usagef("-channel-binding %q: want %s or %s", f.channelBinding, auth.ChannelTLSUnique, auth.ChannelTLSExporter)
	}
	if f.caFile != "" || f.insecure {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.insecure}
		if f.caFile != "" {
			pem, err := os.ReadFile(f.caFile)
			if err != nil {
				return opts, usagef("-ca-file: %v", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return opts, usagef("-ca-file %s: no PEM certificate in it", f.caFile)
			}
		}
		opts.TLSConfig = cfg
	}
	return opts, nil
}

// secretFrom reads a secret from a file (its first line) or else from an environment variable.
func secretFrom(file, flagName, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("%s: %v", flagName, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", usagef("%s %s: empty", flagName, file)
	}
	return line, nil
}

// payloadOf turns the command-line arguments and the --kwargs and -k flags into a payload.
func (f *clientFlags) payloadOf(args []string) (wamp.List, wamp.Dict, error) {
	list := wamp.List{}
	for _, a := range args {
		list = append(list, f.value(a))
	}
	kwargs := wamp.Dict{}
	if f.kwargs != "" {
		d, err := jsonObject(f.kwargs)
		if err != nil {
			return nil, nil, usagef("-kwargs: %v", err)
		}
		kwargs = d
	}
	for _, kv := range f.kv.values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, usagef("-k %q: want key=value", kv)
		}
		kwargs[k] = f.value(v)
	}
	return list, kwargs, nil
}

// value is a command-line value: JSON when it parses as JSON (42, true, null, "x", [1],
// {"a":1}), else the text itself; always the text with --string.
func (f *clientFlags) value(s string) any {
	if f.asStrings {
		return s
	}
	if v, err := wamp.DecodeJSONValue([]byte(s)); err == nil {
		return v
	}
	return s
}

// jsonObject parses a JSON object.
func jsonObject(s string) (wamp.Dict, error) {
	v, err := wamp.DecodeJSONValue([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	d, ok := v.(wamp.Dict)
	if !ok {
		return nil, fmt.Errorf("want a JSON object, got %s", s)
	}
	return d, nil
}

// jsonLine encodes v as WAMP's JSON (integers exact, binary as "\u0000"+base64) with the keys
// of every object sorted, as encoding/json and jq -S do, plus a newline.
func jsonLine(v any) ([]byte, error) {
	out, err := appendSortedJSON(nil, v, 0)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func appendSortedJSON(dst []byte, v any, depth int) ([]byte, error) {
	if depth > 100 {
		return dst, errors.New("value nested too deeply")
	}
	enc := wamp.JSON.(wamp.ValueEncoder)
	switch x := v.(type) {
	case wamp.Dict:
		return appendSortedJSON(dst, map[string]any(x), depth)
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = enc.EncodeValue(dst, k); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = appendSortedJSON(dst, x[k], depth+1); err != nil {
				return dst, fmt.Errorf("key %q: %w", k, err)
			}
		}
		return append(dst, '}'), nil
	case wamp.List:
		return appendSortedJSON(dst, []any(x), depth)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendSortedJSON(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return enc.EncodeValue(dst, v)
}

// payloadJSON is {"args": [...], "kwargs": {...}} with both always present, plus extra keys.
func payloadJSON(args wamp.List, kwargs wamp.Dict, extra wamp.Dict) ([]byte, error) {
	d := wamp.Dict{"args": listOrEmpty(args), "kwargs": dictOrEmpty(kwargs)}
	for k, v := range extra {
		d[k] = v
	}
	return jsonLine(d)
}

func listOrEmpty(l wamp.List) wamp.List {
	if l == nil {
		return wamp.List{}
	}
	return l
}

func dictOrEmpty(d wamp.Dict) wamp.Dict {
	if d == nil {
		return wamp.Dict{}
	}
	return d
}
