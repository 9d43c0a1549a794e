package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"

	"github.com/pawl-wamp/pawl/internal/version"
)

// command is one of pawl's subcommands. Adding a subcommand is adding one entry to commands.
type command struct {
	name    string
	args    string // what follows "pawl NAME" in the usage
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
	client  bool // a WAMP client command: listed in its own group
}

// commands are pawl's subcommands, in the order "pawl -h" lists them.
var commands []command

func init() { // in init: the help command lists commands, which holds it
	commands = []command{
		{"serve", "[-config FILE] [-listen HOST:PORT] [-realm NAME] [-allow-origin ORIGIN]... [-pprof ADDR] [-admin HOST:PORT]",
			"run the router (the default command)", serveCommand, false},
		{"config", "", "print the embedded default configuration", configCommand, false},
		{"hash-secret", "-method ticket|wampcra|scram|cryptosign [-authid ID] [-role ROLE] < secret",
			"print a principal entry storing the secret (hashed) for the config file",
			func(args []string, stdout, stderr io.Writer) int {
				return hashSecretCommand(args, os.Stdin, stdout, stderr)
			}, false},
		{"version", "", "print the version", versionCommand, false},
		{"help", "", "print this help", helpCommand, false},

		{"publish", "TOPIC [ARGS...]", "publish an event",
			func(args []string, _, stderr io.Writer) int { return publishCommand(args, stderr) }, true},
		{"subscribe", "TOPIC", "print events as JSON lines", subscribeCommand, true},
		{"call", "PROCEDURE [ARGS...]", "call and print the result as JSON", callCommand, true},
		{"register", "PROCEDURE -- CMD [ARGS...]", "run CMD for each call",
			func(args []string, _, stderr io.Writer) int { return registerCommand(args, stderr) }, true},
	}
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// usage lists the commands: the router's, then the WAMP client's.
func usage(w io.Writer) {
	fmt.Fprint(w, "Pawl is a WAMP v2 router.\n\nUsage:\n  pawl [COMMAND] [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		if !c.client {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
	}
	tw.Flush()
	fmt.Fprint(w, "\nAs a WAMP client (-url, -realm, authentication and TLS flags: see 'pawl COMMAND -h'):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range commands {
		if c.client {
			fmt.Fprintf(tw, "  pawl %s %s\t%s\n", c.name, c.args, c.summary)
		}
	}
	tw.Flush()
	fmt.Fprint(w, "\nSynopsis:\n")
	for _, c := range commands {
		if c.args != "" && !c.client {
			fmt.Fprintf(w, "  pawl %s %s\n", c.name, c.args)
		}
	}
	fmt.Fprint(w, `
"pawl COMMAND -h" lists a command's flags. With no command and no flags, pawl serves WAMP on
ws://127.0.0.1:8080/ws, realm "realm1", anonymous access.
`)
}

// newFlagSet is a command's flag set; its -h prints "Usage: pawl NAME ARGS" and the flags.
func newFlagSet(c string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		cmd, _ := lookupCommand(c)
		fmt.Fprintf(fs.Output(), "Usage: pawl %s %s\n\n%s.\n\nFlags:\n", c, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a command's flags; done is true when the command should exit with status.
func parseFlags(fs *flag.FlagSet, args []string) (status int, done bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "pawl %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2, true
	}
	return 0, false
}

func helpCommand(_ []string, stdout, _ io.Writer) int {
	usage(stdout)
	return 0
}

func configCommand(args []string, stdout, stderr io.Writer) int {
	if status, done := parseFlags(newFlagSet("config", stderr), args); done {
		return status
	}
	stdout.Write(defaultConfig)
	return 0
}

// versionCommand prints "pawl VERSION (GO-VERSION OS/ARCH)"; VERSION is the module version
// from the binary's build information (see internal/version).
func versionCommand(args []string, stdout, stderr io.Writer) int {
	if status, done := parseFlags(newFlagSet("version", stderr), args); done {
		return status
	}
	fmt.Fprintf(stdout, "pawl %s (%s %s/%s)\n", version.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
