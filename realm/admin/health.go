package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Check is one condition of readiness, e.g. "the listeners are serving" or "the history store
// answers".
type Check struct {
	Name string
	// Check returns nil when ready, else what is wrong. It must honour ctx: /readyz gives all
	// checks together CheckTimeout.
	Check func(ctx context.Context) error
}

// CheckTimeout bounds how long /readyz waits for its checks.
const CheckTimeout = 2 * time.Second

// healthz answers that the process is alive: it serves HTTP, nothing more.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is /readyz's JSON body: every check's result, "ok" or what is wrong.
type readiness struct {
	Ready    bool              `json:"ready"`
	Checks   map[string]string `json:"checks"`
	NotReady []string          `json:"not_ready,omitempty"`
}

// readyz runs every check at once and answers 200 when all pass, else 503 naming those that
// failed and why.
func readyz(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), CheckTimeout)
		defer cancel()
		errs := make([]error, len(checks))
		done := make(chan struct{})
		for i, c := range checks {
			go func() {
				defer func() { done <- struct{}{} }()
				errs[i] = c.Check(ctx)
			}()
		}
		for range checks {
			<-done
		}
		body := readiness{Ready: true, Checks: make(map[string]string, len(checks))}
		for i, c := range checks {
			if errs[i] != nil {
				body.Ready = false
				body.Checks[c.Name] = errs[i].Error()
				body.NotReady = append(body.NotReady, c.Name)
				continue
			}
			body.Checks[c.Name] = "ok"
		}
		status := http.StatusOK
		if !body.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
