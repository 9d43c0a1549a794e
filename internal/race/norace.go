//go:build !race

// Package race says whether the race detector is on: allocation and memory pins skip under it,
// as it changes both.
package race

// Enabled is true when built with -race.
const Enabled = false
