package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18183", "address to serve WebSocket on (any path)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "floorrouter:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorrouter:", err)
		os.Exit(1)
	}
	r, err := newReactor()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorrouter:", err)
		os.Exit(1)
	}
	go r.acceptLoop(ln)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		ln.Close()
		r.stop()
	}()
	slog.Info("floorrouter serving", "listen", ln.Addr().String())
	if err := r.run(); err != nil {
		fmt.Fprintln(os.Stderr, "floorrouter:", err)
	}
}
