package main

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestCheckConfigDocuments: check-config accepts every document fixture
// verbatim (exit 0, normalized output) and refuses broken variants with
// FILE:LINE: errors and exit status 1.
func TestCheckConfigDocuments(t *testing.T) {
	bin := vpdnBinary(t)
	files, _ := filepath.Glob("../../config/testdata/docs/*.cfg")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		out, err := exec.Command(bin, "check-config", f).Output()
		if err != nil {
			t.Errorf("check-config %s: %v", f, err)
			continue
		}
		if !strings.HasSuffix(string(out), "end\n") {
			t.Errorf("check-config %s printed no normalized configuration:\n%s", f, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.cfg")
	os.WriteFile(bad, []byte("vpdn enable\nvpdn-group A\n accept-dialin\n  protocol l2tp\n  virtual-template 9\n"), 0o644)
	cmd := exec.Command(bin, "check-config", bad)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("broken config: exit %v, want 1\n%s", err, out)
	}
	if !strings.Contains(string(out), bad+":5: vpdn-group A: virtual-template 9 names no interface") {
		t.Fatalf("broken config message:\n%s", out)
	}
}

func TestHelpEverywhere(t *testing.T) {
	bin := vpdnBinary(t)
	for _, sub := range []string{"", "serve", "show", "clear", "crypto", "debug", "undebug", "check-config", "reload", "version"} {
		args := []string{"--help"}
		if sub != "" {
			args = []string{sub, "--help"}
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "usage") {
			t.Errorf("vpdn %s --help: %v\n%s", sub, err, out)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "vpdn ") {
		t.Errorf("version: %v %s", err, out)
	}
	if err := exec.Command(bin, "nonsense").Run(); err == nil {
		t.Error("unknown subcommand accepted")
	}
	out, _ = exec.Command(bin, "show", "run", "--socket", filepath.Join(t.TempDir(), "none.sock")).CombinedOutput()
	if !strings.Contains(string(out), "cannot reach the vpdn daemon") {
		t.Errorf("no daemon: %s", out)
	}
}

func TestSplitFlags(t *testing.T) {
	w, s, j, err := splitFlags([]string{"vpdn", "--json", "session", "--socket", "/x", "all"})
	if err != nil || strings.Join(w, " ") != "vpdn session all" || s != "/x" || !j {
		t.Fatalf("%v %q %v %v", w, s, j, err)
	}
	if _, _, _, err := splitFlags([]string{"--bogus"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
}
