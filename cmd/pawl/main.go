// Command pawl is the Pawl WAMP router.
//
//	pawl                 run the router with the embedded default config (same as "pawl serve")
//	pawl serve [flags]   run the router
//	pawl config          print the embedded default config
//	pawl hash-secret     print a config entry storing a secret read from stdin
//	pawl version         print the version
//	pawl publish|subscribe|call|register   a WAMP client for the shell (cli*.go)
//
// "pawl -h" lists the commands (commands.go); "pawl COMMAND -h" lists a command's flags.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command args name (serve when args starts with a flag or is empty) and
// returns the process's exit status: 0 success, 1 failure, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	} else if len(args) > 0 && isHelpFlag(args[0]) {
		name, args = "help", nil
	}
	c, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "pawl: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	return c.run(args, stdout, stderr)
}
