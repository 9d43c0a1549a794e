// Command pawl is the Pawl WAMP router.
//
//	pawl                 run the router with the embedded default config (same as "pawl serve")
//	pawl serve [flags]   run the router
//	pawl config          print the embedded default config
//	pawl hash-secret     print a config entry storing a secret read from stdin
//	pawl version         print the version
//	pawl publish|subscribe|call|register   a WAMP client for the shell (cli*.go)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pawl-wamp/pawl/realm"
	"github.com/pawl-wamp/pawl/wamp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCommand(args, stderr)
	case "config":
		stdout.Write(defaultConfig)
		return 0
	case "hash-secret":
		return hashSecretCommand(args, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, realm.Agent)
		return 0
	case "publish":
		return publishCommand(args, stderr)
	case "subscribe":
		return subscribeCommand(args, stdout, stderr)
	case "call":
		return callCommand(args, stdout, stderr)
	case "register":
		return registerCommand(args, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "pawl: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  pawl [serve] [-config FILE] [-listen HOST:PORT] [-realm NAME]
  pawl config     print the embedded default configuration
  pawl hash-secret -method ticket|wampcra|scram|cryptosign [-authid ID] [-role ROLE] < secret
                  print a principal entry storing the secret (hashed) for the config file
  pawl version    print the version

As a WAMP client (see 'pawl COMMAND -h'; -url, -realm, authentication and TLS flags):
  pawl publish TOPIC [ARGS...]               publish an event
  pawl subscribe TOPIC                       print events as JSON lines
  pawl call PROCEDURE [ARGS...]              call and print the result as JSON
  pawl register PROCEDURE -- CMD [ARGS...]   run CMD for each call

With no flags, pawl serves WAMP on ws://127.0.0.1:8080/ws, realm "realm1", anonymous access.
`)
}

func serveCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: the embedded config, see 'pawl config')")
	listen := fs.String("listen", "", "listen `address` host:port for the first listener (port 0 picks a free port)")
	realmName := fs.String("realm", "", "serve one anonymous realm of this `name` instead of the configured realms")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback `address` (e.g. 127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "pawl:", err)
		return 1
	}
	if *listen != "" {
		cfg.Listeners[0].Listen = *listen
	}
	if *realmName != "" {
		cfg.Realms = []realm.Config{{Name: wamp.URI(*realmName)}}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		stopPprof, err := startPprof(*pprofAddr, newLogger(cfg.Log, stderr))
		if err != nil {
			fmt.Fprintln(stderr, "pawl: pprof:", err)
			return 1
		}
		defer stopPprof()
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "pawl:", err)
		return 1
	}
	return 0
}
