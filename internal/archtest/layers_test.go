// Package archtest enforces the layering of ../../../shared/DESIGN.md: arrows
// point down only. It reads `go list -deps` and fails on any import that
// points up a layer or sideways where the design forbids it.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/vpdn/vpdn"

// allowed maps a layer (a path prefix below the module) to the layers it may
// import. A package not named here may import nothing of ours.
var allowed = map[string][]string{
	"cmd":       {"daemon", "control", "config", "internal/version", "internal/debug", "loadgen", "examples"},
	"daemon":    {"control", "config", "proto", "wire", "aaa", "pool", "dataplane", "netif", "transport", "internal/version", "internal/debug"},
	"control":   {"config", "internal/version"},
	"config":    {},
	"proto":     {"wire", "aaa", "pool", "internal/debug"},
	"aaa":       {"pool", "wire"},
	"pool":      {},
	"dataplane": {"wire", "transport", "netif"},
	"loadgen":   {"proto", "wire", "aaa", "transport", "pool"},
	"netif":     {},
	"transport": {},
	"wire":      {},
	// The example configurations, embedded for vpdn lab: data, no code.
	"examples": {},
	// Test-only packages may use anything below the daemon.
	"internal/nstest":  {},
	"internal/peers":   {},
	"internal/debug":   {},
	"internal/version": {},
}

// layerOf returns the layer key of a package path inside the module.
func layerOf(rel string) string {
	for _, two := range []string{"internal/nstest", "internal/peers", "internal/debug", "internal/version", "internal/archtest"} {
		if rel == two || strings.HasPrefix(rel, two+"/") {
			return two
		}
	}
	first, _, _ := strings.Cut(rel, "/")
	return first
}

func permitted(from, to string) bool {
	lf, lt := layerOf(from), layerOf(to)
	if lf == lt {
		// Same layer: wire/l2tp must not import wire/ppp and so on, but a
		// package may import its own subpackages.
		return strings.HasPrefix(to, from+"/") || lf == "cmd" || lf == "daemon" || lf == "proto"
	}
	for _, a := range allowed[lf] {
		if lt == a {
			return true
		}
	}
	return false
}

type pkg struct {
	path    string
	imports []string
	test    bool
}

func goList(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkgs = append(pkgs, pkg{path: f[0], imports: f[1:]})
	}
	return pkgs
}

// TestLayering checks the direct imports of every package of the module,
// as seen by `go list -deps` of the whole tree (non-test builds).
func TestLayering(t *testing.T) {
	pkgs := goList(t, "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	checked := 0
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.path, module+"/")
		if !ok {
			continue
		}
		checked++
		for _, imp := range p.imports {
			irel, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if l := layerOf(irel); l == "internal/nstest" || l == "internal/peers" {
				t.Errorf("%s imports %s: the namespace harness is for tests only", rel, irel)
				continue
			}
			if !permitted(rel, irel) {
				t.Errorf("%s imports %s: layer %q may not import layer %q (see DESIGN.md)", rel, irel, layerOf(rel), layerOf(irel))
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages of the module seen; go list output looks wrong", checked)
	}
}

// TestWireIsPure checks that codec packages do no I/O and no logging: they
// may not import net, os, log, log/slog, fmt's printing aside, nor anything
// that starts goroutines on its own.
func TestWireIsPure(t *testing.T) {
	forbidden := []string{"net", "os", "log", "log/slog", "syscall", "golang.org/x/sys/unix", "time"}
	pkgs := goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./wire/...")
	for _, p := range pkgs {
		for _, imp := range p.imports {
			for _, f := range forbidden {
				if imp == f {
					t.Errorf("%s imports %s: wire packages are codecs only", p.path, imp)
				}
			}
		}
	}
}

// TestPermittedTable pins the rules themselves so a loosening is deliberate.
func TestPermittedTable(t *testing.T) {
	cases := []struct {
		from, to string
		want     bool
	}{
		{"wire/l2tp", "wire/ppp", false},
		{"wire/l2tp", "config", false},
		{"dataplane", "proto/l2tp", false},
		{"dataplane", "wire/l2tp", true},
		{"proto/l2tp", "wire/l2tp", true},
		{"proto/l2tp", "transport", false},
		{"proto/ppp", "aaa", true},
		{"config", "proto/l2tp", false},
		{"daemon", "proto/ppp", true},
		{"cmd/vpdn", "daemon", true},
		{"cmd/vpdn", "proto/l2tp", false},
		{"control", "daemon", false},
		{"netif", "dataplane", false},
		{"daemon", "internal/peers", false},
		{"cmd/vpdn", "examples", true},
		{"daemon", "examples", false},
		{"examples", "config", false},
	}
	for _, c := range cases {
		if got := permitted(c.from, c.to); got != c.want {
			t.Errorf("permitted(%s -> %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
