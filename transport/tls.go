package transport

import "crypto/tls"

// TLSState is the TLS state of the connection (for channel bindings), or nil without TLS.
func (c *Conn) TLSState() *tls.ConnectionState {
	if c.request != nil {
		return c.request.TLS
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		state := tc.ConnectionState()
		return &state
	}
	return nil
}
