// Package version tells which Pawl this is, from the build information Go records in every
// binary: the module version of a tagged release, or the VCS revision of a build from a
// checkout. WELCOME's agent and "pawl version" report it.
package version

import (
	"runtime/debug"
	"sync"
)

// Module is Pawl's module path.
const Module = "github.com/pawl-wamp/pawl"

// Devel is reported when the build information says nothing better: a test binary, or a
// build from a source tree without version control.
const Devel = "(devel)"

// Version is Pawl's version in the running binary: the main module's version when the binary
// is Pawl's own (pawl, built from a tagged module or a checkout), or the version of the Pawl
// dependency when Pawl is a library of another program.
var Version = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Devel
	}
	return fromBuildInfo(bi)
})

// fromBuildInfo reads Pawl's version from build information.
func fromBuildInfo(bi *debug.BuildInfo) string {
	mod := &bi.Main
	if mod.Path != Module {
		mod = nil
		for _, dep := range bi.Deps {
			if dep.Path == Module {
				mod = dep
				break
			}
		}
		if mod == nil {
			return Devel
		}
		if mod.Replace != nil { // a local replacement: its version, if it has one
			if mod.Replace.Version != "" {
				return mod.Replace.Version
			}
			return Devel
		}
	}
	if mod.Version != "" && mod.Version != Devel {
		return mod.Version // go install …@v1.2.3, or a checkout's pseudo-version (Go 1.24+)
	}
	// A checkout built without a version stamp: name its revision.
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return Devel
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return Devel + " " + rev
}

// Agent is how the router names itself in WELCOME: "pawl/<version>".
func Agent() string { return "pawl/" + Version() }
