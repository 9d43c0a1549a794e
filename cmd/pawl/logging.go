package main

import (
	"io"
	"log/slog"
	"net"
)

// newLogger builds the router's logger from log.level and log.format. level, when not nil,
// holds the level so that a reload can change it.
func newLogger(c LogConfig, out io.Writer, level *slog.LevelVar) *slog.Logger {
	if level == nil {
		level = new(slog.LevelVar)
	}
	l, _ := parseLevel(c.Level) // validated when the config was loaded
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: uniformAttr}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// uniformAttr writes values one way whatever the handler: durations as Go writes them
// ("1.5s"; slog's JSON handler would write nanoseconds), and network addresses as
// "host:port" (JSON would write a *net.TCPAddr as an object), so that every address the
// router logs — the peer of a WebSocket request (a string), of a session (a net.Addr), of a
// listener — reads the same.
func uniformAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		return slog.String(a.Key, a.Value.Duration().String())
	case slog.KindAny:
		if addr, ok := a.Value.Any().(net.Addr); ok { // its String is nil-safe: "<nil>"
			return slog.String(a.Key, addr.String())
		}
	}
	return a
}
