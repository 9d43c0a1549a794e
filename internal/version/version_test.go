package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123"}}
	dirty := append(append([]debug.BuildSetting(nil), rev...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	cases := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged release", debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.2.3"}}, "v1.2.3"},
		{"checkout with a pseudo-version", debug.BuildInfo{Main: debug.Module{Path: Module,
			Version: "v0.0.0-20261203100000-0123456789ab+dirty"}, Settings: dirty}, "v0.0.0-20261203100000-0123456789ab+dirty"},
		{"checkout without a version stamp", debug.BuildInfo{Main: debug.Module{Path: Module, Version: Devel}, Settings: rev},
			"(devel) 0123456789ab"},
		{"modified checkout", debug.BuildInfo{Main: debug.Module{Path: Module, Version: Devel}, Settings: dirty},
			"(devel) 0123456789ab+dirty"},
		{"no version control", debug.BuildInfo{Main: debug.Module{Path: Module, Version: Devel}}, Devel},
		{"a library of another program", debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v9.9.9"},
			Deps: []*debug.Module{{Path: "golang.org/x/sys", Version: "v0.1.0"}, {Path: Module, Version: "v0.4.0"}}}, "v0.4.0"},
		{"replaced by a local copy", debug.BuildInfo{Main: debug.Module{Path: "example.com/app"},
			Deps: []*debug.Module{{Path: Module, Version: "v0.4.0", Replace: &debug.Module{Path: "../pawl"}}}}, Devel},
		{"not in the binary", debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}}, Devel},
	}
	for _, c := range cases {
		if got := fromBuildInfo(&c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
