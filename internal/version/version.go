// Package version reports the build's version.
package version

import "runtime/debug"

// Version is set at link time (-ldflags "-X ...version.Version=v1.2.3");
// otherwise it is derived from the module's VCS information.
var Version = ""

// String returns the version, the VCS revision when known, and the Go
// version the binary was built with.
func String() string {
	v := Version
	rev, dirty, gov := "", false, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		gov = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if v == "" {
		v = "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	s := "vpdn " + v
	if rev != "" {
		s += " (" + rev
		if dirty {
			s += "-dirty"
		}
		s += ")"
	}
	if gov != "" {
		s += " " + gov
	}
	return s
}
