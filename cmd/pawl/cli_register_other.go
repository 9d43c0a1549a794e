//go:build !unix

package main

import "os/exec"

// ownProcessGroup does nothing where there are no process groups: canceling kills the
// command itself only.
func ownProcessGroup(*exec.Cmd) {}
