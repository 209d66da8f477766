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

// served is a `vpdn serve` running in a namespace for a test.
type served struct {
	name string
	ns   *nstest.NS
	bin  string
	sock string
	logs *nstest.SyncBuffer
	cmd  *exec.Cmd
}

// serveIn writes cfg and starts `vpdn serve` with it in ns (stopped by the
// lab at cleanup if the test does not stop it); its log is printed when
// the test fails.
func serveIn(t *testing.T, lab *nstest.Lab, ns *nstest.NS, name, cfg string, args ...string) *served {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &served{name: name, ns: ns, bin: vpdnBinary(t), sock: filepath.Join(dir, name+".sock"), logs: &nstest.SyncBuffer{}}
	s.cmd = ns.Command(s.bin, append([]string{"serve", "-c", path, "--socket", s.sock}, args...)...)
	s.cmd.Stderr = s.logs
	if err := lab.Start(s.cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", name, s.logs)
		}
	})
	return s
}

// show runs a CLI command against this daemon, inside its namespace.
func (s *served) show(words ...string) string {
	out, _ := s.ns.Run(10*time.Second, s.bin, append(words, "--socket", s.sock)...)
	return string(out)
}

// waitUp waits (bounded) until the daemon answers on its socket.
func (s *served) waitUp(t *testing.T) {
	t.Helper()
	waitFor(t, s.name+" to answer", func() bool { return strings.Contains(s.show("show", "version"), "vpdn") })
}

// stop sends SIGTERM and waits (bounded) for the exit status.
func (s *served) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- s.cmd.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(15 * time.Second):
		return os.ErrDeadlineExceeded
	}
}
