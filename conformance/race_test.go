//go:build race

package conformance

// raceEnabled is true when the tests run with -race; pawl is then built with
// -race as well.
const raceEnabled = true
