package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/pawl-wamp/pawl/transport/websocket"
)

// startPprof serves Go's profiler on addr (keep it on loopback): for measuring the router
// under load (go tool pprof http://ADDR/debug/pprof/profile).
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := websocket.NewHTTPServer(mux, websocket.HTTPTimeouts{})
	go srv.Serve(ln)
	log.Info("profiler listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() { srv.Close() }, nil
}
