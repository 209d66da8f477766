package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// vpdnBinary builds the vpdn binary once per test run.
func vpdnBinary(t *testing.T) string { return nstest.GoBuild(t, ".") }

const lnsConfig = `hostname lns
vpdn enable
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 terminate-from hostname lac
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
ip local pool P 198.19.1.10 198.19.1.200
`

// TestServeInNamespace: vpdn serve starts inside a network namespace,
// answers show running-config over its control socket (client run inside
// the namespace too), reloads on SIGHUP, keeps the old configuration when
// the new one is broken, and exits cleanly on SIGTERM.
func TestServeInNamespace(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	ns := lab.NS("lns")
	other := lab.NS("lac")
	lab.Link(ns, other, mustPrefix("198.18.0.2/24"), mustPrefix("198.18.0.1/24"))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "lns.cfg")
	sock := filepath.Join(dir, "vpdn.sock")
	os.WriteFile(cfg, []byte(lnsConfig), 0o644)

	var logs nstest.SyncBuffer
	serve := ns.Command(bin, "serve", "-c", cfg, "--socket", sock)
	serve.Stderr = &logs
	if err := lab.Start(serve); err != nil {
		t.Fatal(err)
	}
	show := func(args ...string) (string, error) {
		out, err := ns.Run(10*time.Second, bin, append(args, "--socket="+sock)...)
		return string(out), err
	}
	waitFor(t, "daemon to answer", func() bool { _, err := show("show", "version"); return err == nil })

	out, err := show("show", "running-config")
	if err != nil || !strings.Contains(out, "hostname lns\n") || !strings.Contains(out, "vpdn-group LNS\n accept-dialin\n  protocol l2tp\n") {
		t.Fatalf("show running-config: %v\n%s", err, out)
	}
	// The environment variable works as well as the flag.
	envShow := exec.Command("ip", "netns", "exec", ns.Name, bin, "show", "run")
	envShow.Env = append(os.Environ(), "VPDN_SOCKET="+sock)
	if out, err := envShow.CombinedOutput(); err != nil || !strings.Contains(string(out), "hostname lns") {
		t.Fatalf("VPDN_SOCKET: %v\n%s", err, out)
	}

	// SIGHUP with a good file: the change shows.
	os.WriteFile(cfg, []byte(strings.Replace(lnsConfig, "hostname lns", "hostname lns-b", 1)), 0o644)
	serve.Process.Signal(syscall.SIGHUP)
	waitFor(t, "SIGHUP reload", func() bool { out, _ := show("show", "run"); return strings.Contains(out, "hostname lns-b") })

	// SIGHUP with a broken file: refused, logged, old config kept.
	os.WriteFile(cfg, []byte(lnsConfig+"interface Virtual-Template1\n ip mtu 10\n"), 0o644)
	serve.Process.Signal(syscall.SIGHUP)
	waitFor(t, "refusal in the log", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if !strings.Contains(logs.String(), "lns.cfg:16: invalid input") {
		t.Errorf("log lacks FILE:LINE of the error:\n%s", logs.String())
	}
	if out, _ := show("show", "run"); !strings.Contains(out, "hostname lns-b") {
		t.Fatalf("old configuration lost after a broken reload:\n%s", out)
	}
	// vpdn reload says the same, with exit status 1.
	if out, err := show("reload"); err == nil || !strings.Contains(out, "stays in force") {
		t.Fatalf("vpdn reload of a broken file: %v\n%s", err, out)
	}

	// SIGTERM: clean exit, socket removed.
	serve.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- serve.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("vpdn serve exited with %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("vpdn serve did not exit on SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if !strings.Contains(logs.String(), "vpdn stopped") {
		t.Errorf("no clean-stop log line:\n%s", logs.String())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
