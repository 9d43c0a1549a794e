//go:build race

package main

// raceBuild: the tests run with -race, so the pawl binary they build gets it too.
const raceBuild = true
