package session

import "github.com/pawl-wamp/pawl/wamp"

// Describe describes a session as the WAMP meta API does (wamp.session.get,
// wamp.session.on_join) and as dynamic authorizers get it: its ID, identity and transport.
func Describe(s *Session) wamp.Dict {
	d := wamp.Dict{
		"session":      s.ID,
		"authid":       s.AuthID,
		"authrole":     s.AuthRole,
		"authmethod":   s.AuthMethod,
		"authprovider": s.AuthProvider,
	}
	pd := s.Peer().Details()
	transport := wamp.Dict{"type": pd.Transport}
	if s.Codec != nil {
		transport["serializer"] = s.Codec.Name()
	}
	if pd.Protocol != "" {
		transport["protocol"] = pd.Protocol
	}
	if pd.RemoteAddr != nil {
		transport["peer"] = pd.RemoteAddr.String()
	}
	if len(pd.Extensions) > 0 {
		// Crossbar.io's name for them in its transport details.
		exts := make(wamp.List, len(pd.Extensions))
		for i, e := range pd.Extensions {
			exts[i] = e
		}
		transport["websocket_extensions_in_use"] = exts
	}
	d["transport"] = transport
	return d
}
