//go:build !race

package exampletest

// raceEnabled: the tests run with -race; RunDemo builds the example with it too.
const raceEnabled = false
