package main

import (
	"bytes"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pawl-wamp/pawl/cluster"
	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/session"
	"github.com/pawl-wamp/pawl/transport/rawsocket"
	"github.com/pawl-wamp/pawl/transport/websocket"
	"github.com/pawl-wamp/pawl/transport/wsapp"
)

//go:embed default.yaml
var defaultConfig []byte

// Config is the router's configuration file.
type Config struct {
	Listeners []ListenerConfig `yaml:"listeners"`
	Realms    []realm.Config   `yaml:"realms"`
	Limits    Limits           `yaml:"limits"`
	Log       LogConfig        `yaml:"log"`

	// DataDir holds the router's files (the event history database); default "data".
	DataDir string `yaml:"data_dir"`
	// HistoryStore chooses the event history store (see history.go).
	HistoryStore HistoryStoreConfig `yaml:"history_store"`
	// Bridge forwards events and invocations to HTTP endpoints (bridge.go).
	Bridge BridgeConfig `yaml:"bridge"`
	// Admin is the admin listener: metrics, health, status (see admin.go).
	Admin AdminConfig `yaml:"admin"`
	// Cluster makes this router one node of several serving the same realms, on NATS
	// (cluster.go). Absent: a single node, with no NATS code at all.
	Cluster *cluster.Config `yaml:"cluster"`
}

// ListenerConfig is one listener with its WAMP endpoint: WebSocket (HTTP), which serves
// RawSocket on the same port too, or RawSocket alone, on TCP or a Unix socket.
type ListenerConfig struct {
	// Type is "websocket" (the default) or "rawsocket".
	Type string `yaml:"type"`
	// Listen is the host:port to listen on (TCP).
	Listen string `yaml:"listen"`
	// Unix is the path of a Unix socket to listen on instead (type rawsocket).
	Unix string `yaml:"unix"`
	// UnixMode is the Unix socket's permission bits, in octal ("0660"): connecting takes
	// write permission. Empty: 0777 less the process's umask.
	UnixMode string `yaml:"unix_mode"`
	// UnixGroup is the Unix socket's group, a name or numeric id; the router's user must
	// belong to it. Empty: the router's group.
	UnixGroup  string           `yaml:"unix_group"`
	unixAccess unixSocketAccess // parsed by validate
	// RawSocket, on a WebSocket listener, also serves WAMP over RawSocket on its port: a
	// connection whose first octet is 0x7F (default true).
	RawSocket      *bool    `yaml:"rawsocket"`
	Path           string   `yaml:"path"`
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxMessageSize overrides limits.max_message_size for this listener.
	MaxMessageSize int64 `yaml:"max_message_size"`

	// TLS serves wss:// on this listener.
	TLS *TLSConfig `yaml:"tls"`
	// MaxSessions bounds the sessions on this listener; further connections get HTTP 503.
	MaxSessions int `yaml:"max_sessions"`
	// Bridge lists the HTTP bridge services (publisher, caller, webhook) on this listener's
	// paths (bridge.go).
	Bridge []httpbridge.ServiceConfig `yaml:"bridge"`

	// TrustedProxies are reverse proxies (addresses, CIDR prefixes) whose Forwarded /
	// X-Forwarded-* headers give the client's address, host and scheme.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AllowedHosts are further Host names a loopback listener answers to (DNS rebinding).
	AllowedHosts   []string       `yaml:"allowed_hosts"`
	trustedProxies []netip.Prefix // parsed by validate

	// Deflate configures permessage-deflate on this listener (off when absent).
	Deflate DeflateConfig `yaml:"deflate"`
}

// DeflateConfig is a listener's permessage-deflate (RFC 7692) setting: see
// websocket.DeflateOptions.
type DeflateConfig struct {
	Enabled bool `yaml:"enabled"`
	// MinSize is the smallest message compressed, in bytes (default 128).
	MinSize int `yaml:"min_size"`
	// Level is the compression level, 1 (fastest, the default) to 9 (smallest), or -2
	// (Huffman coding only).
	Level int `yaml:"level"`
	// ServerMaxWindowBits (8 to 15, default 15) is the largest LZ77 window the router
	// compresses with; below 15 it compresses Huffman-only and tells clients they may
	// inflate with that small a window.
	ServerMaxWindowBits int `yaml:"server_max_window_bits"`
	// ClientMaxWindowBits (8 to 15, default 15) is the window the router asks clients to
	// compress with, when they say they can.
	ClientMaxWindowBits int `yaml:"client_max_window_bits"`
}

// options is the transport's view of the setting.
func (d DeflateConfig) options() websocket.DeflateOptions {
	return websocket.DeflateOptions{Enabled: d.Enabled, MinSize: d.MinSize, Level: d.Level,
		ServerMaxWindowBits: d.ServerMaxWindowBits, ClientMaxWindowBits: d.ClientMaxWindowBits}
}

// validate checks the setting's ranges (0: the default).
func (d DeflateConfig) validate() error {
	if d.Level != 0 && (d.Level < -2 || d.Level > 9) {
		return fmt.Errorf("deflate level %d: want 1 to 9, or -2", d.Level)
	}
	if d.MinSize < 0 {
		return fmt.Errorf("deflate min_size %d is negative", d.MinSize)
	}
	for _, w := range []struct {
		name string
		bits int
	}{{"server_max_window_bits", d.ServerMaxWindowBits}, {"client_max_window_bits", d.ClientMaxWindowBits}} {
		if w.bits != 0 && (w.bits < 8 || w.bits > 15) {
			return fmt.Errorf("deflate %s %d: want 8 to 15", w.name, w.bits)
		}
	}
	return nil
}

// TLSConfig is a listener's certificate and key (PEM files) and lowest TLS version.
type TLSConfig struct {
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	MinVersion string `yaml:"min_version"` // "1.2" (default) or "1.3"
}

// Limits bound what one peer may cost the router.
type Limits struct {
	MaxMessageSize int64         `yaml:"max_message_size"`
	MaxFragments   int           `yaml:"max_fragments"`
	QueueMessages  int           `yaml:"queue_messages"`
	QueueBytes     int           `yaml:"queue_bytes"`
	PingInterval   time.Duration `yaml:"ping_interval"`
	PongTimeout    time.Duration `yaml:"pong_timeout"`
	IdleAfter      time.Duration `yaml:"idle_after"` // 0: the default (1s); negative: readers never park
	WriteTimeout   time.Duration `yaml:"write_timeout"`
	WriteDelay     time.Duration `yaml:"write_delay"`
	HelloTimeout   time.Duration `yaml:"hello_timeout"`
	AuthTimeout    time.Duration `yaml:"auth_timeout"`
	ShutdownGrace  time.Duration `yaml:"shutdown_grace"`
	// HTTP server timeouts (0: the default, negative: none): the request headers, the whole
	// request, and an idle keep-alive connection between requests.
	HTTPReadHeaderTimeout time.Duration `yaml:"http_read_header_timeout"`
	HTTPReadTimeout       time.Duration `yaml:"http_read_timeout"`
	HTTPIdleTimeout       time.Duration `yaml:"http_idle_timeout"`
}

// httpTimeouts are the limits of every HTTP server the router starts.
func (l Limits) httpTimeouts() websocket.HTTPTimeouts {
	return websocket.HTTPTimeouts{ReadHeader: l.HTTPReadHeaderTimeout, Read: l.HTTPReadTimeout, Idle: l.HTTPIdleTimeout}
}

// LogConfig chooses the log level and format.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// loadConfig reads a YAML config, or the embedded default when path is empty. Unknown keys
// are errors, so that a typo does not silently fall back to a default.
func loadConfig(path string) (*Config, error) {
	data := defaultConfig
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", displayName(path), err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayName(path), err)
	}
	return &cfg, nil
}

func displayName(path string) string {
	if path == "" {
		return "(embedded default)"
	}
	return path
}

func (c *Config) validate() error {
	if len(c.Listeners) == 0 {
		return errors.New("no listeners")
	}
	if c.Cluster != nil {
		if err := c.Cluster.Validate(); err != nil {
			return err
		}
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		switch {
		case l.Listen == "" && l.Unix == "":
			return fmt.Errorf("listener %d: listen address (or unix socket path) missing", i)
		case l.Listen != "" && l.Unix != "":
			return fmt.Errorf("listener %d: listen and unix both set; a listener has one socket", i)
		}
		switch l.Type {
		case "", "websocket":
			l.Type = "websocket"
			if l.Unix != "" {
				return fmt.Errorf("listener %s: unix sockets serve type rawsocket only", l.name())
			}
			if l.Path == "" {
				l.Path = "/ws"
			}
		case "rawsocket":
			if l.RawSocket != nil || l.Path != "" || len(l.AllowedOrigins) > 0 || len(l.TrustedProxies) > 0 || len(l.AllowedHosts) > 0 || len(l.Bridge) > 0 {
				return fmt.Errorf("listener %s: rawsocket, path, allowed_origins, trusted_proxies, allowed_hosts and bridge are for type websocket (HTTP)", l.name())
			}
		default:
			return fmt.Errorf("listener %s: type %q: want websocket or rawsocket", l.name(), l.Type)
		}
		if (l.UnixMode != "" || l.UnixGroup != "") && l.Unix == "" {
			return fmt.Errorf("listener %s: unix_mode and unix_group are for unix sockets", l.name())
		}
		access, err := parseUnixSocketAccess(l.UnixMode, l.UnixGroup)
		if err != nil {
			return fmt.Errorf("listener %s: %w", l.name(), err)
		}
		l.unixAccess = access
		proxies, err := wsapp.ParseIPList(l.TrustedProxies)
		if err != nil {
			return fmt.Errorf("listener %s: trusted_proxies: %w", l.name(), err)
		}
		l.trustedProxies = proxies
		if l.MaxSessions < 0 {
			return fmt.Errorf("listener %s: max_sessions %d is negative", l.name(), l.MaxSessions)
		}
		if err := l.Deflate.validate(); err != nil {
			return fmt.Errorf("listener %s: %w", l.name(), err)
		}
		if t := l.TLS; t != nil {
			if l.Unix != "" {
				return fmt.Errorf("listener %s: tls is for TCP listeners", l.name())
			}
			if t.Cert == "" || t.Key == "" {
				return fmt.Errorf("listener %s: tls needs both cert and key", l.name())
			}
			if _, err := t.minVersion(); err != nil {
				return fmt.Errorf("listener %s: %w", l.name(), err)
			}
		}
	}
	if len(c.Realms) == 0 {
		return errors.New("no realms")
	}
	seen := map[string]bool{}
	for _, r := range c.Realms {
		if r.Name == "" {
			return errors.New("a realm has no name")
		}
		if seen[string(r.Name)] {
			return fmt.Errorf("realm %q defined twice", r.Name)
		}
		seen[string(r.Name)] = true
		if err := r.Validate(); err != nil {
			return err
		}
	}
	if err := c.validateHistory(); err != nil {
		return err
	}
	if err := c.validateBridge(); err != nil {
		return err
	}
	if err := c.Admin.validate(); err != nil {
		return err
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		return err
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log.level %q: %w", s, err)
	}
	return l, nil
}

// name is how the listener is called in messages: its address or unix socket path.
func (l *ListenerConfig) name() string {
	if l.Unix != "" {
		return "unix:" + l.Unix
	}
	return l.Listen
}

// servesRawSocket reports whether the listener serves RawSocket (alone, or on its WebSocket
// port).
func (l *ListenerConfig) servesRawSocket() bool {
	return l.Type == "rawsocket" || l.RawSocket == nil || *l.RawSocket
}

// rawSocketOptions turns the limits and a listener's settings into RawSocket endpoint options.
func (c *Config) rawSocketOptions(l ListenerConfig, log *slog.Logger) realm.RawSocketEndpointOptions {
	ws := c.endpointOptions(l, log)
	t := ws.Transport
	return realm.RawSocketEndpointOptions{
		Transport: rawsocket.Options{
			MaxMessageSize:  int(min(t.MaxMessageSize, rawsocket.MaxLength)),
			PingInterval:    t.PingInterval,
			PongTimeout:     t.PongTimeout,
			KeepIdleReaders: t.IdleAfter < 0,
			WriteTimeout:    t.WriteTimeout,
			QueueMessages:   t.QueueMessages,
			QueueBytes:      t.QueueBytes,
			MaxConnections:  l.MaxSessions,
			Logger:          log,
		},
		Session: ws.Session,
	}
}

// endpointOptions turns the limits and a listener's settings into endpoint options.
func (c *Config) endpointOptions(l ListenerConfig, log *slog.Logger) realm.EndpointOptions {
	maxSize := c.Limits.MaxMessageSize
	if l.MaxMessageSize > 0 {
		maxSize = l.MaxMessageSize
	}
	return realm.EndpointOptions{
		Transport: websocket.Options{
			AllowedOrigins: l.AllowedOrigins,
			TrustedProxies: l.trustedProxies,
			AllowedHosts:   l.allowedHosts(),
			MaxMessageSize: maxSize,
			MaxFragments:   c.Limits.MaxFragments,
			PingInterval:   c.Limits.PingInterval,
			PongTimeout:    c.Limits.PongTimeout,
			IdleAfter:      c.Limits.IdleAfter,
			WriteTimeout:   c.Limits.WriteTimeout,
			WriteDelay:     c.Limits.WriteDelay,
			QueueMessages:  c.Limits.QueueMessages,
			QueueBytes:     c.Limits.QueueBytes,
			MaxConnections: l.MaxSessions,
			Deflate:        l.Deflate.options(),
		},
		Session: session.HostOptions{HelloTimeout: c.Limits.HelloTimeout, AuthTimeout: c.Limits.AuthTimeout, Logger: log},
	}
}

// allowedHosts are the Host names a loopback listener answers to beyond the loopback ones:
// allowed_hosts, and the name in its listen address (listen: myrouter.local:8080).
func (l ListenerConfig) allowedHosts() []string {
	hosts := slices.Clone(l.AllowedHosts)
	if h, _, err := net.SplitHostPort(l.Listen); err == nil && h != "" && net.ParseIP(h) == nil {
		hosts = append(hosts, h)
	}
	return hosts
}

func (t *TLSConfig) minVersion() (uint16, error) {
	switch t.MinVersion {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tls.min_version %q: want 1.2 or 1.3", t.MinVersion)
}

// serverTLS loads the certificate and key of a TLS listener.
func (t *TLSConfig) serverTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	minVersion, err := t.minVersion()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minVersion}, nil
}
