package websocket

import "crypto/tls"

// TLSState is the TLS state of the connection (for channel bindings), or nil without TLS.
func (c *Conn) TLSState() *tls.ConnectionState {
	if r := c.Request(); r != nil {
		return r.TLS
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		state := tc.ConnectionState()
		return &state
	}
	return nil
}
