package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// SASLprep prepares a username or password as RFC 4013 (the SASLprep profile of stringprep)
// says, as WAMP-SCRAM requires: characters "commonly mapped to nothing" are removed, non-ASCII
// spaces become U+0020, the result is normalized to NFKC, and control, private-use, surrogate,
// non-character and other prohibited code points are refused. (The bidirectional-text checks
// of RFC 3454 section 6 are not applied.) ASCII strings without control characters come back
// unchanged.
func SASLprep(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("saslprep: invalid UTF-8")
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c < 0x20 || c == 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return s, nil
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case mappedToNothing(r):
		case nonASCIISpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	out := norm.NFKC.String(b.String())
	for _, r := range out {
		if prohibited(r) {
			return "", fmt.Errorf("saslprep: prohibited character %U", r)
		}
	}
	return out, nil
}

// mappedToNothing is RFC 3454 table B.1.
func mappedToNothing(r rune) bool {
	switch r {
	case 0x00AD, 0x034F, 0x1806, 0x180B, 0x180C, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF:
		return true
	}
	return r >= 0xFE00 && r <= 0xFE0F
}

// nonASCIISpace is RFC 3454 table C.1.2.
func nonASCIISpace(r rune) bool {
	switch r {
	case 0x00A0, 0x1680, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200B
}

// prohibited covers RFC 3454 tables C.1.2 and C.2 to C.9.
func prohibited(r rune) bool {
	switch {
	case nonASCIISpace(r),
		unicode.Is(unicode.Cc, r),                      // C.2.1, C.2.2 (controls)
		unicode.Is(unicode.Co, r),                      // C.3 private use
		unicode.Is(unicode.Cs, r),                      // C.5 surrogates
		r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE, // C.4 non-characters
		r >= 0xFFF9 && r <= 0xFFFD,                         // C.6
		r >= 0x2FF0 && r <= 0x2FFB,                         // C.7
		r == 0x0340, r == 0x0341, r == 0x200E, r == 0x200F, // C.8
		r >= 0x202A && r <= 0x202E, r >= 0x206A && r <= 0x206F,
		r == 0xE0001, r >= 0xE0020 && r <= 0xE007F, // C.9
		r == 0x06DD, r == 0x070F, r == 0x180E, // C.2.2 format controls
		r >= 0x2028 && r <= 0x2029, r >= 0x2061 && r <= 0x2063,
		r >= 0x1D173 && r <= 0x1D17A:
		return true
	}
	return false
}
