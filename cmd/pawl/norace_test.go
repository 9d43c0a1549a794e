//go:build !race

package main

// raceEnabled: the tests run with -race, and build the pawl binary with -race too.
const raceEnabled = false
