// Package archtest enforces the layering of vpdn (ARCHITECTURE.md): arrows
// point down only. It reads `go list`, test files included, and fails on
// any import that points up a layer or sideways where the design forbids
// it, on protocol state machines that reach for the network or the
// operating system, and on codecs that do I/O or start goroutines.
package archtest

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vpdn/vpdn"

// allowed maps a layer (a path prefix below the module) to the layers it may
// import, top to bottom. A package not named here may import nothing of
// ours.
var allowed = map[string][]string{
	"cmd":       {"daemon", "control", "config", "internal/version", "internal/debug", "loadgen", "examples", "transport"},
	"daemon":    {"control", "show", "config", "carrier", "access", "proto", "wire", "aaa", "pool", "vif", "dataplane", "netif", "transport", "internal/clock", "internal/version", "internal/debug", "internal/escape", "internal/type7"},
	"control":   {"config", "internal/version"},
	"show":      {"internal/escape"},
	"config":    {"internal/type7"},
	"loadgen":   {"carrier", "access", "proto", "wire", "aaa", "pool", "vif", "dataplane", "netif", "transport", "internal/clock", "internal/csum"},
	"carrier":   {"access", "proto", "wire", "aaa", "dataplane", "transport", "internal/clock"},
	"access":    {"proto", "wire", "aaa", "pool", "vif", "dataplane", "transport", "internal/clock", "internal/escape"},
	"proto":     {"wire", "aaa", "pool", "internal/debug", "internal/clock"},
	"aaa":       {"pool", "wire", "internal/escape", "internal/type7"},
	"pool":      {},
	"vif":       {"netif"},
	"dataplane": {"wire", "transport", "netif", "internal/clock", "internal/csum"},
	"netif":     {},
	"transport": {},
	// The codecs share one Internet checksum.
	"wire":     {"internal/csum"},
	"examples": {},
	// Test-only packages may use anything below the daemon.
	"internal/nstest": {},
	// pppstdio, the pppd stand-in of the PPTP interop tests, runs vpdn's
	// PPP engine on a TUN.
	"internal/peers":   {"proto", "wire", "aaa", "netif"},
	"internal/debug":   {},
	"internal/version": {},
	"internal/clock":   {},
	"internal/escape":  {},
	"internal/type7":   {},
	"internal/csum":    {},
	// Certificates for tests (in memory).
	"internal/testpki": {},
}

// protoAllowed narrows the proto layer per package: a state machine names
// what it stands on. Tests may add testAllowed.
var protoAllowed = map[string][]string{
	"proto/l2tp": {"wire/l2tp", "internal/clock"},
	"proto/ppp":  {"wire/ppp", "wire/mppe", "aaa", "aaa/mschap", "internal/clock"},
	"proto/pptp": {"wire/pptp", "internal/clock"},
	// IKEv1 stands on the ISAKMP codec only: no ESP (the data plane takes
	// its ChildSA), no sockets.
	"proto/ike": {"wire/isakmp", "internal/clock"},
}

// testAllowed are what the tests of a layer may import beyond its own
// rules: the in-memory fakes of the layers below, the namespace harness
// and the real peers. proto and wire tests stay in memory.
var testAllowed = map[string][]string{
	"proto": {"transport/memnet", "internal/testpki"},
	"wire":  {},
	"*":     {"internal/nstest", "internal/peers", "internal/testpki", "transport/memnet", "netif", "vif", "aaa", "pool", "transport", "dataplane", "access", "carrier", "proto", "wire", "internal/clock", "internal/debug"},
}

func init() {
	// The daemon's benchmark drives an in-memory LNS with the load
	// generator (BenchmarkInMemoryLNS).
	testAllowed["daemon"] = append(append([]string(nil), testAllowed["*"]...), "loadgen")
}

// noIO are the packages of the standard library (and x/sys) a protocol
// state machine may not import, in its code or its tests: it talks to the
// network through a small interface and gets its time from a clock.
var noIO = []string{"net", "os", "os/exec", "syscall", "golang.org/x/sys/unix"}

var layerNames = []string{"internal/nstest", "internal/peers", "internal/debug", "internal/version", "internal/archtest", "internal/clock", "internal/escape", "internal/type7", "internal/csum"}

// layerOf returns the layer key of a package path inside the module.
func layerOf(rel string) string {
	for _, two := range layerNames {
		if rel == two || strings.HasPrefix(rel, two+"/") {
			return two
		}
	}
	first, _, _ := strings.Cut(rel, "/")
	return first
}

func permitted(from, to string) bool {
	if to == from || strings.HasPrefix(to, from+"/") {
		return true // its own subpackages
	}
	if strings.HasPrefix(from, to+"/") {
		return true // a subpackage may import its parent (memnet, transport)
	}
	lf, lt := layerOf(from), layerOf(to)
	if lf == lt {
		// Same layer: wire/l2tp must not import wire/ppp and so on.
		return lf == "cmd" || lf == "daemon"
	}
	if lf == "proto" {
		if list, ok := protoAllowed[from]; ok {
			return slices.ContainsFunc(list, func(a string) bool { return to == a || strings.HasPrefix(to, a+"/") })
		}
	}
	return slices.Contains(allowed[lf], lt)
}

// permittedInTest is permitted, widened for the tests of from.
func permittedInTest(from, to string) bool {
	if permitted(from, to) {
		return true
	}
	lf := layerOf(from)
	extra, ok := testAllowed[lf]
	if !ok {
		extra = testAllowed["*"]
	}
	for _, a := range extra {
		if to == a || strings.HasPrefix(to, a+"/") || layerOf(to) == a {
			return true
		}
	}
	return false
}

type pkg struct {
	path               string
	dir                string
	imports, testImps  []string
	goFiles, testFiles []string
}

func goList(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f",
		"{{.ImportPath}}\t{{.Dir}}\t{{join .Imports \" \"}}\t{{join .TestImports \" \"}} {{join .XTestImports \" \"}}\t{{join .GoFiles \" \"}}\t{{join .TestGoFiles \" \"}} {{join .XTestGoFiles \" \"}}",
		"./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 6 {
			continue
		}
		pkgs = append(pkgs, pkg{path: f[0], dir: f[1], imports: strings.Fields(f[2]), testImps: strings.Fields(f[3]),
			goFiles: strings.Fields(f[4]), testFiles: strings.Fields(f[5])})
	}
	if len(pkgs) < 20 {
		t.Fatalf("only %d packages of the module seen; go list output looks wrong", len(pkgs))
	}
	return pkgs
}

func ours(path string) (string, bool) { return strings.CutPrefix(path, module+"/") }

// TestLayering checks the imports of every package of the module, its
// tests' included.
func TestLayering(t *testing.T) {
	for _, p := range goList(t) {
		rel, ok := ours(p.path)
		if !ok {
			continue
		}
		for _, imp := range p.imports {
			irel, ok := ours(imp)
			if !ok {
				continue
			}
			if l := layerOf(irel); l == "internal/nstest" || l == "internal/peers" || l == "internal/testpki" {
				t.Errorf("%s imports %s: the namespace harness, the peers and the test certificates are for tests only", rel, irel)
				continue
			}
			if !permitted(rel, irel) {
				t.Errorf("%s imports %s: layer %q may not import %q (ARCHITECTURE.md)", rel, irel, layerOf(rel), irel)
			}
		}
		for _, imp := range p.testImps {
			irel, ok := ours(imp)
			if !ok || irel == rel {
				continue
			}
			if !permittedInTest(rel, irel) {
				t.Errorf("tests of %s import %s: not allowed in tests of layer %q", rel, irel, layerOf(rel))
			}
		}
	}
}

// TestProtoHasNoIO: state machines, and their tests, reach neither the
// network nor the operating system: they are driven through interfaces,
// with a clock, in memory.
func TestProtoHasNoIO(t *testing.T) {
	for _, p := range goList(t) {
		rel, _ := ours(p.path)
		if layerOf(rel) != "proto" {
			continue
		}
		for _, imp := range append(p.imports, p.testImps...) {
			if slices.Contains(noIO, imp) {
				t.Errorf("%s imports %s: protocol state machines do no I/O of their own", rel, imp)
			}
		}
	}
}

// TestWireIsPure: codecs do no I/O and no logging, and neither they nor
// their tests start goroutines or processes.
func TestWireIsPure(t *testing.T) {
	forbidden := []string{"net", "os", "log", "log/slog", "syscall", "golang.org/x/sys/unix", "time", "os/exec"}
	for _, p := range goList(t) {
		rel, _ := ours(p.path)
		if layerOf(rel) != "wire" {
			continue
		}
		for _, imp := range p.imports {
			if slices.Contains(forbidden, imp) {
				t.Errorf("%s imports %s: wire packages are codecs only", rel, imp)
			}
		}
		for _, imp := range p.testImps {
			if imp == "os/exec" {
				t.Errorf("tests of %s import os/exec", rel)
			}
		}
		for _, f := range append(p.goFiles, p.testFiles...) {
			for _, pos := range goStatements(t, filepath.Join(p.dir, f)) {
				t.Errorf("%s: a goroutine in a wire package", pos)
			}
		}
	}
}

// goStatements returns the positions of the go statements in a file.
func goStatements(t *testing.T, path string) []string {
	fs := token.NewFileSet()
	f, err := parser.ParseFile(fs, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			out = append(out, fs.Position(g.Pos()).String())
		}
		return true
	})
	return out
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
		{"dataplane", "access", false},
		{"proto/l2tp", "wire/l2tp", true},
		{"proto/l2tp", "wire/ppp", false},
		{"proto/l2tp", "aaa", false},
		{"proto/l2tp", "transport", false},
		{"proto/ppp", "aaa", true},
		{"proto/ppp", "wire/l2tp", false},
		{"proto/pptp", "wire/pptp", true},
		{"proto/pptp", "wire/l2tp", false},
		{"proto/ike", "wire/isakmp", true},
		{"proto/ike", "internal/clock", true},
		{"proto/ike", "wire/esp", false},
		{"proto/ike", "wire/l2tp", false},
		{"proto/ike", "transport", false},
		{"wire/isakmp", "wire/l2tp", false},
		{"wire/isakmp", "internal/clock", false},
		{"proto/pptp", "internal/clock", true},
		{"proto/ppp", "internal/clock", true},
		{"config", "proto/l2tp", false},
		{"daemon", "proto/ppp", true},
		{"daemon", "carrier/l2tpv2", true},
		{"cmd/vpdn", "daemon", true},
		{"cmd/vpdn", "proto/l2tp", false},
		{"control", "daemon", false},
		{"netif", "dataplane", false},
		{"daemon", "internal/peers", false},
		{"access", "proto/ppp", true},
		{"access", "proto/l2tp", true},
		{"access", "carrier/l2tpv2", false},
		{"access", "config", false},
		{"access", "daemon", false},
		{"carrier/l2tpv2", "access", true},
		{"carrier/l2tpv2", "config", false},
		{"carrier/l2tpv2", "vif", false},
		{"vif", "netif", true},
		{"vif", "dataplane", false},
		{"show", "proto/l2tp", false},
		{"show", "access", false},
		{"loadgen", "carrier/l2tpv2", true},
		{"loadgen", "daemon", false},
		{"transport/memnet", "transport", true},
		{"transport", "transport/memnet", true},
		{"transport/memnet", "netif", false},
		{"internal/clock", "wire/ppp", false},
		{"wire/ppp", "internal/clock", false},
		// ESP is a codec: a crypto stage the data plane runs, whose SAs
		// the control plane (IKE) installs; it stands on nothing of ours.
		{"wire/esp", "wire/mppe", false},
		{"wire/esp", "wire/l2tp", false},
		{"wire/esp", "internal/clock", false},
		{"wire/esp", "transport", false},
		{"dataplane", "wire/esp", true},
		{"proto/ppp", "wire/esp", false},
		{"proto/l2tp", "wire/esp", false},
	}
	for _, c := range cases {
		if got := permitted(c.from, c.to); got != c.want {
			t.Errorf("permitted(%s -> %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"proto/l2tp", "transport/memnet", true},
		{"proto/l2tp", "internal/nstest", false},
		{"proto/ppp", "internal/nstest", false},
		{"wire/l2tp", "transport/memnet", false},
		{"wire/esp", "transport/memnet", false},
		{"wire/esp", "internal/nstest", false},
		{"dataplane", "internal/nstest", true},
		{"access", "transport/memnet", true},
		{"dataplane", "daemon", false},
	} {
		if got := permittedInTest(c.from, c.to); got != c.want {
			t.Errorf("permittedInTest(%s -> %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
