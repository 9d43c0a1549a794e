package auth

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
)

// TLS channel binding types (RFC 5929, RFC 9266).
const (
	// ChannelTLSUnique is the first Finished message of a TLS 1.2 handshake (TLS 1.3 has none).
	ChannelTLSUnique = "tls-unique"
	// ChannelTLSExporter is 32 bytes of exported keying material with the label
	// "EXPORTER-Channel-Binding" and no context: the binding for TLS 1.3 (RFC 9266).
	ChannelTLSExporter = "tls-exporter"
)

// ErrNoChannelBinding: the connection offers no data for the requested channel binding.
var ErrNoChannelBinding = errors.New("channel binding unavailable on this connection")

// ChannelBinding returns the channel binding data of a TLS connection for a binding type.
func ChannelBinding(state *tls.ConnectionState, kind string) ([]byte, error) {
	switch kind {
	case ChannelTLSUnique, ChannelTLSExporter:
	default:
		return nil, fmt.Errorf("channel binding %q not supported (want %s or %s)", kind, ChannelTLSUnique, ChannelTLSExporter)
	}
	if state == nil || !state.HandshakeComplete {
		return nil, fmt.Errorf("%s: %w (not TLS)", kind, ErrNoChannelBinding)
	}
	if kind == ChannelTLSUnique {
		if len(state.TLSUnique) == 0 {
			return nil, fmt.Errorf("%s: %w (TLS 1.3 has no tls-unique; use %s)", kind, ErrNoChannelBinding, ChannelTLSExporter)
		}
		return append([]byte(nil), state.TLSUnique...), nil
	}
	data, err := state.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", kind, ErrNoChannelBinding, err)
	}
	return data, nil
}

// CryptosignChannelID turns channel binding data into the 32-byte channel ID cryptosign XORs
// with its challenge: SHA-256 of the data, as autobahn computes it.
func CryptosignChannelID(data []byte) []byte {
	sum := sha256.Sum256(data)
	return sum[:]
}
