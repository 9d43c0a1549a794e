package wamp

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	roles := Dict{"roles": Dict{"caller": Dict{}}}
	for _, tc := range []struct {
		name string
		m    Message
		want string // "" for valid, else a substring of the error
	}{
		{"hello", &Hello{Realm: "realm1", Details: roles}, ""},
		{"hello without roles", &Hello{Realm: "realm1", Details: Dict{}}, "roles"},
		{"hello bad realm", &Hello{Realm: "bad realm", Details: roles}, "Realm"},
		{"hello authmethods", &Hello{Realm: "r", Details: Dict{"roles": Dict{}, "authmethods": List{"ticket", 1}}}, "authmethods"},
		{"hello roles type", &Hello{Realm: "r", Details: Dict{"roles": List{}}}, "roles"},
		{"goodbye empty reason", &Goodbye{Details: Dict{}, Reason: ""}, "Reason"},
		{"abort message", &Abort{Details: Dict{"message": 5}, Reason: ErrNoSuchRealm}, "message"},
		{"error uri", &Error{RequestType: TypeCall, Request: 1, Details: Dict{}, Error: "a..b"}, "ERROR.Error"},
		{"publish", &Publish{Request: 1, Options: Dict{"acknowledge": true, "x_custom": "anything"}, Topic: "com.t"}, ""},
		{"publish empty topic", &Publish{Request: 1, Options: Dict{}, Topic: ""}, ""},            // the broker or dealer answers ERROR wamp.error.invalid_uri
		{"publish topic with space", &Publish{Request: 1, Options: Dict{}, Topic: "com. t"}, ""}, // the broker or dealer answers ERROR wamp.error.invalid_uri
		{"publish exclude zero", &Publish{Request: 1, Options: Dict{"exclude": List{int64(0)}}, Topic: "t"}, "exclude"},
		{"publish exclude float", &Publish{Request: 1, Options: Dict{"exclude": List{1.0}}, Topic: "t"}, "exclude"},
		{"publish exclude []any", &Publish{Request: 1, Options: Dict{"exclude": []any{int64(3)}}, Topic: "t"}, ""},
		{"publish eligible_authid []string", &Publish{Request: 1, Options: Dict{"eligible_authid": []string{"a"}}, Topic: "t"}, ""},
		{"publish forward_for item", &Publish{Request: 1, Options: Dict{"forward_for": List{"x"}}, Topic: "t"}, "forward_for"},
		{"publish forward_for session", &Publish{Request: 1, Options: Dict{"forward_for": List{Dict{"session": "s"}}}, Topic: "t"}, "forward_for"},
		{"publish enc_serializer", &Publish{Request: 1, Options: Dict{"enc_serializer": "xml"}, Topic: "t"}, "enc_serializer"},
		{"publish ppt_scheme", &Publish{Request: 1, Options: Dict{"ppt_scheme": 1}, Topic: "t"}, "ppt_scheme"},
		{"subscribe prefix pattern", &Subscribe{Request: 1, Options: Dict{"match": "prefix"}, Topic: "com.myapp."}, ""},
		{"subscribe wildcard pattern", &Subscribe{Request: 1, Options: Dict{"match": "wildcard"}, Topic: "com..update"}, ""},
		{"subscribe exact with empty component", &Subscribe{Request: 1, Options: Dict{}, Topic: "com..update"}, ""}, // the broker or dealer answers ERROR wamp.error.invalid_uri
		{"subscribe bad match", &Subscribe{Request: 1, Options: Dict{"match": "regex"}, Topic: "t"}, "match"},
		{"unsubscribed details", &Unsubscribed{Details: Dict{"subscription": "x"}}, "subscription"},
		{"event publisher", &Event{Subscription: 1, Publication: 2, Details: Dict{"publisher": int64(5)}}, ""},
		{"event publisher negative", &Event{Subscription: 1, Publication: 2, Details: Dict{"publisher": int64(-5)}}, "publisher"},
		{"event topic uri", &Event{Subscription: 1, Publication: 2, Details: Dict{"topic": "bad topic"}}, "topic"},
		{"call", &Call{Request: 1, Options: Dict{"timeout": int64(0), "receive_progress": true}, Procedure: "com.p"}, ""},
		{"call negative timeout", &Call{Request: 1, Options: Dict{"timeout": int64(-1)}, Procedure: "com.p"}, "timeout"},
		{"call float timeout", &Call{Request: 1, Options: Dict{"timeout": 1.5}, Procedure: "com.p"}, "timeout"},
		{"call disclose_me", &Call{Request: 1, Options: Dict{"disclose_me": "yes"}, Procedure: "com.p"}, "disclose_me"},
		{"call empty procedure", &Call{Request: 1, Options: Dict{}, Procedure: ""}, ""}, // the broker or dealer answers ERROR wamp.error.invalid_uri
		{"cancel mode", &Cancel{Request: 1, Options: Dict{"mode": "maybe"}}, "mode"},
		{"interrupt mode", &Interrupt{Request: 1, Options: Dict{"mode": "kill"}}, ""},
		{"result progress", &Result{Request: 1, Details: Dict{"progress": 1}}, "progress"},
		{"register", &Register{Request: 1, Options: Dict{"invoke": "roundrobin", "concurrency": int64(2)}, Procedure: "com.p"}, ""},
		{"register wildcard", &Register{Request: 1, Options: Dict{"match": "wildcard"}, Procedure: "com..p"}, ""},
		{"register invoke", &Register{Request: 1, Options: Dict{"invoke": "all"}, Procedure: "com.p"}, "invoke"},
		{"register concurrency zero", &Register{Request: 1, Options: Dict{"concurrency": int64(0)}, Procedure: "com.p"}, "concurrency"},
		{"register disclose_caller", &Register{Request: 1, Options: Dict{"disclose_caller": 1}, Procedure: "com.p"}, "disclose_caller"},
		{"register bad match", &Register{Request: 1, Options: Dict{"match": 1}, Procedure: "com.p"}, "match"},
		{"unregistered reason", &Unregistered{Details: Dict{"reason": 5}}, "reason"},
		{"invocation caller", &Invocation{Request: 1, Registration: 2, Details: Dict{"caller": "me"}}, "caller"},
		{"yield progress", &Yield{Request: 1, Options: Dict{"progress": true}}, ""},
		{"challenge", &Challenge{AuthMethod: "ticket", Extra: Dict{}}, ""},
		{"nil", nil, "nil message"},
	} {
		err := Validate(tc.m)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: no error, want one containing %q", tc.name, tc.want)
		case tc.want != "" && !errors.Is(err, ErrInvalid):
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}
}

func BenchmarkValidatePublish(b *testing.B) {
	m, err := JSON.Decode([]byte(benchPublishJSON))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(m); err != nil {
			b.Fatal(err)
		}
	}
}
