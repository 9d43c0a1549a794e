package authn

import (
	"strings"
	"testing"

	"github.com/pawl-wamp/pawl/wamp"
)

func TestParseDynamicAnswer(t *testing.T) {
	if a, err := parseDynamicAnswer("user", "joe"); err != nil || a.role != "user" || a.authID != "joe" || a.provider != "dynamic" {
		t.Errorf("string answer: %+v %v", a, err)
	}
	a, err := parseDynamicAnswer(wamp.Dict{"role": "r", "authid": "other", "provider": "ldap", "secret": "s",
		"pubkeys": wamp.List{strings.Repeat("01", 32)}}, "joe")
	if err != nil || a.authID != "other" || a.provider != "ldap" || a.cra == nil || len(a.pubkeys) != 1 {
		t.Errorf("dict answer: %+v %v", a, err)
	}
	for _, bad := range []any{nil, 3, wamp.Dict{}, wamp.Dict{"role": "r", "pubkey": "zz"}, wamp.Dict{"role": "r", "stored_key": "x"}} {
		if _, err := parseDynamicAnswer(bad, "joe"); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
