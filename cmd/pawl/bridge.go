package main

import (
	"fmt"
	"log/slog"
	"net/http"

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

// mountBridge mounts a listener's bridge services on its mux and logs their URLs.
func mountBridge(mux *http.ServeMux, b *httpbridge.Bridge, l ListenerConfig, scheme, addr string, log *slog.Logger) error {
	httpScheme := "http://"
	if scheme == "wss://" {
		httpScheme = "https://"
	}
	for _, s := range l.Bridge {
		h, err := b.Handler(s)
		if err != nil {
			return err
		}
		mux.Handle(s.Path, h)
		log.Info("http bridge", "type", s.Type, "url", httpScheme+addr+s.Path, "realm", s.Realm, "authrole", s.Role,
			"signed", len(s.Keys) > 0)
	}
	return nil
}
