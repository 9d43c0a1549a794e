package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pawl-wamp/pawl/realm/httpbridge"
	"github.com/pawl-wamp/pawl/wamp"
)

// BridgeConfig lists the HTTP bridge services that send requests: subscribers forward events
// to URLs, callees serve procedures with URLs. The services that receive requests are listed
// per listener (ListenerConfig.Bridge).
type BridgeConfig struct {
	Subscribers []httpbridge.SubscriberConfig `yaml:"subscribers"`
	Callees     []httpbridge.CalleeConfig     `yaml:"callees"`
}

// validateBridge checks every bridge service, its realm, and that no two handlers of a
// listener share a path.
func (c *Config) validateBridge() error {
	realms := map[wamp.URI]bool{}
	for _, r := range c.Realms {
		realms[r.Name] = true
	}
	known := func(what string, r wamp.URI) error {
		if !realms[r] {
			return fmt.Errorf("%s: realm %q is not configured", what, r)
		}
		return nil
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		paths := map[string]bool{l.Path: true}
		for j := range l.Bridge {
			s := &l.Bridge[j]
			if err := s.Validate(); err != nil {
				return fmt.Errorf("listener %s: %w", l.Listen, err)
			}
			if paths[s.Path] {
				return fmt.Errorf("listener %s: path %s is used twice", l.Listen, s.Path)
			}
			paths[s.Path] = true
			if err := known("listener "+l.Listen+": bridge service "+s.Path, s.Realm); err != nil {
				return err
			}
		}
	}
	for i := range c.Bridge.Subscribers {
		s := &c.Bridge.Subscribers[i]
		if err := s.Validate(); err != nil {
			return err
		}
		if err := known("bridge subscriber "+string(s.Topic), s.Realm); err != nil {
			return err
		}
	}
	for i := range c.Bridge.Callees {
		s := &c.Bridge.Callees[i]
		if err := s.Validate(); err != nil {
			return err
		}
		if err := known("bridge callee "+string(s.Procedure), s.Realm); err != nil {
			return err
		}
	}
	return nil
}

// startForwarders starts the subscriber and callee forwarders.
func (c *Config) startForwarders(b *httpbridge.Bridge) error {
	for _, s := range c.Bridge.Subscribers {
		if _, err := b.Forwarder(s); err != nil {
			return err
		}
	}
	for _, s := range c.Bridge.Callees {
		if _, err := b.Callee(s); err != nil {
			return err
		}
	}
	return nil
}

// bridgeHandlers makes the handlers of a listener's bridge services (path → handler) and logs
// their URLs; wsURL is the listener's WebSocket URL.
func bridgeHandlers(b *httpbridge.Bridge, l ListenerConfig, wsURL string, log *slog.Logger) (map[string]http.Handler, error) {
	base := "http" + strings.TrimPrefix(strings.TrimSuffix(wsURL, l.Path), "ws")
	handlers := map[string]http.Handler{}
	for _, s := range l.Bridge {
		h, err := b.Handler(s)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Listen, err)
		}
		handlers[s.Path] = h
		log.Info("http bridge", "type", s.Type, "url", base+s.Path, "realm", s.Realm, "authrole", s.Role,
			"signed", len(s.Keys) > 0)
	}
	return handlers, nil
}
