package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the configuration reference in README.md and the JSON golden files in testdata/json")

const (
	refBegin = "<!-- BEGIN CONFIG REFERENCE -->\n"
	refEnd   = "<!-- END CONFIG REFERENCE -->"
)

// TestReferenceInREADME keeps the README's configuration reference equal to
// the one generated from the command table.
func TestReferenceInREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, refBegin), strings.Index(s, refEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", strings.TrimSpace(refBegin), refEnd)
	}
	want := Reference()
	got := s[i+len(refBegin) : j]
	if got == want {
		return
	}
	if *update {
		s = s[:i+len(refBegin)] + want + s[j:]
		if err := os.WriteFile("../README.md", []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md's configuration reference is out of date; run: go test ./config -run TestReferenceInREADME -update")
}
