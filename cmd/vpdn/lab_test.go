package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabConfigsFromAnyDirectory: run from a directory that has no
// examples/ (as a user who built vpdn and went elsewhere), the lab still
// writes both configurations, identical to the repository's files, into
// its own directory.
func TestLabConfigsFromAnyDirectory(t *testing.T) {
	var want [2][]byte
	for i, name := range labConfigNames {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = b
	}
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	paths, err := labConfigs(dir, "")
	if err != nil {
		t.Fatalf("labConfigs from another directory: %v", err)
	}
	for i, p := range paths {
		if filepath.Dir(p) != dir || filepath.Base(p) != labConfigNames[i] {
			t.Errorf("config %d written to %s, want %s in %s", i, p, labConfigNames[i], dir)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want[i]) {
			t.Errorf("%s differs from examples/%s", p, labConfigNames[i])
		}
	}
}

// TestLabConfigsFromDir: --examples DIR reads DIR's files, and a missing
// or broken one fails at once, naming the file and why.
func TestLabConfigsFromDir(t *testing.T) {
	if _, err := labConfigs(t.TempDir(), filepath.Join("..", "..", "examples")); err != nil {
		t.Fatalf("--examples ../../examples: %v", err)
	}
	empty := t.TempDir()
	_, err := labConfigs(t.TempDir(), empty)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(empty, "lab-lns.cfg")) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--examples of an empty directory: %v; want lab-lns.cfg not found", err)
	}
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "lab-lns.cfg"), []byte("hostname LNS\n"), 0o644)
	os.WriteFile(filepath.Join(broken, "lab-client.cfg"), []byte("hostname client\nvpdn-grup X\n"), 0o644)
	_, err = labConfigs(t.TempDir(), broken)
	if err == nil || !strings.Contains(err.Error(), "lab-client.cfg") || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("--examples with a broken lab-client.cfg: %v; want its line named", err)
	}
}

func TestMissingLabTools(t *testing.T) {
	lookIn := func(have ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, h := range have {
				if h == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	if err := missingLabTools(lookIn("ip", "ping", "sysctl")); err != nil {
		t.Errorf("all present: %v", err)
	}
	cases := []struct {
		have      []string
		want, not []string
	}{
		{[]string{"ip"}, []string{"ping (Debian package iputils-ping)", "sysctl (Debian package procps)", "apt-get install iputils-ping procps"}, []string{"iproute2"}},
		{[]string{"ping", "sysctl"}, []string{"ip (Debian package iproute2)", "apt-get install iproute2"}, []string{"procps", "iputils"}},
		{nil, []string{"iproute2", "iputils-ping", "procps"}, nil},
	}
	for _, c := range cases {
		err := missingLabTools(lookIn(c.have...))
		if err == nil {
			t.Errorf("with only %v: no error", c.have)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("with only %v: %q lacks %q", c.have, err, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(err.Error(), n) {
				t.Errorf("with only %v: %q names %q, which is there", c.have, err, n)
			}
		}
	}
}
