package wsapp_test

import "github.com/pawl-wamp/pawl/internal/wstest"

// rawFrame builds a client frame by hand: fin, rsv bits, opcode, masked or not.
func rawFrame(fin bool, rsv, opcode byte, masked bool, payload []byte) []byte {
	return wstest.RawFrame(fin, rsv, opcode, masked, payload)
}
