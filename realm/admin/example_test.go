package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/realm/admin"
)

// A router embedded in a Go program serves its admin routes on a listener of its own (here a
// test server; in production a loopback address). Readiness depends on the checks given.
func Example() {
	rt := realm.NewRouter(nil, realm.New(realm.Config{Name: "realm1"}, nil))
	defer rt.Shutdown(0)

	srv := httptest.NewServer(admin.Handler(rt, admin.Options{Checks: []admin.Check{{
		Name:  "history_store",
		Check: func(context.Context) error { return errors.New("not connected") }, // e.g. store.Ping
	}}}))
	defer srv.Close()

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d %s", path, resp.StatusCode, body)
	}
	// Output:
	// /healthz 200 {"status":"ok"}
	// /readyz 503 {"ready":false,"checks":{"history_store":"not connected"},"not_ready":["history_store"]}
}
