// Package peers starts real VPN daemons from Debian (xl2tpd, l2tpns,
// FreeRADIUS, SoftEther, pptpd, pptp-linux) inside the network namespaces
// of a lab, so that
// interop tests can talk to them. Each function writes a private
// configuration into the test's temporary directory, starts the daemon
// with the lab (which stops it by PID at cleanup), waits — bounded — for a
// real readiness signal (a log line, the UDP port bound inside the
// namespace) and returns a handle with the daemon's address, credentials
// and log.
//
// The recipes and quirks of each daemon are in ../../../shared/INTEROP.md.
// The machine's kernel has no PPP, so the PPP side of xl2tpd (pppd) always
// fails; l2tpns and SoftEther do PPP in user space and work end to end.
// pptpd and pptp-linux get pppstdio (this package's pppstdio command,
// vpdn's PPP engine on a pty) in place of pppd and work end to end too.
//
// A test uses it like this (the peer on 198.18.0.2, vpdn or the test on
// 198.18.0.1):
//
//	lab := nstest.New(t)
//	cli, srv := lab.NS("cli"), lab.NS("srv")
//	lab.Link(cli, srv, netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("198.18.0.2/24"))
//	rad := peers.FreeRADIUS(t, lab, srv) // accepts peers.LabUser
//	lns := peers.L2TPNS(t, lab, srv, netip.MustParseAddr("198.18.0.2"), rad)
//	// dial lns.AddrPort() (198.18.0.2:1701) from cli, then check lns.Log()
//
// Every function skips the test when its daemon is not installed (fails
// it with VPDN_REQUIRE_PEERS=1) and fails it when the daemon is not ready
// in time, printing the daemon's log.
//
// Use the handles' sockets from a namespace without ending an OS thread:
// nstest's NS.Do ends its thread, and Linux then SIGKILLs every process
// the lab forked from that thread (the lab sets Pdeathsig, which is per
// thread). This package forks its daemons from a thread of its own that
// never ends, so they survive NS.Do; a tshark capture started by the lab
// does not.
//
// It is for tests only. It takes the lab through the small Lab and NS
// interfaces, which *nstest.Lab and *nstest.NS satisfy, so that this
// package does not import the namespace harness (internal/archtest allows
// that import only from test files).
package peers

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lab is what a peer needs of the namespace lab: something that starts a
// process and stops it, by PID, at cleanup. *nstest.Lab satisfies it.
type Lab interface {
	Start(cmd *exec.Cmd) error
}

// NS is what a peer needs of one network namespace. *nstest.NS satisfies
// it. Commands made by Command run inside the namespace in their own
// process group.
type NS interface {
	Command(name string, args ...string) *exec.Cmd
	Run(timeout time.Duration, name string, args ...string) ([]byte, error)
}

// RequireEnv names the environment variable that turns a missing peer
// binary from a skip into a failure (CI sets it where the packages of
// .ci/peers-packages.txt are installed).
const RequireEnv = "VPDN_REQUIRE_PEERS"

// sbinDirs are searched after $PATH: daemons live in sbin, which a
// non-login root shell may not have in its path.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// lookPath finds a binary by absolute path, in $PATH or in sbinDirs.
func lookPath(name string) (string, error) {
	if filepath.IsAbs(name) {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("peers: %s is not an executable file", name)
		}
		return name, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("peers: %s is not installed", name)
}

// Require skips the test unless every binary (a name looked up in $PATH
// and the sbin directories, or an absolute path) is installed. With
// VPDN_REQUIRE_PEERS=1 a missing binary fails the test instead.
func Require(tb testing.TB, binaries ...string) {
	tb.Helper()
	var missing []string
	for _, b := range binaries {
		if _, err := lookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("peers: not installed: %s (see .ci/peers-packages.txt)", strings.Join(missing, ", "))
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s (%s=1)", msg, RequireEnv)
	}
	tb.Skip(msg)
}

// User is a PPP credential a peer accepts.
type User struct {
	Name, Password string
	// Reply lists attributes a RADIUS server sends in the user's
	// Access-Accept ("Acct-Interim-Interval = 5"); peers without RADIUS
	// ignore them.
	Reply []string
}

// LabUser is the account every peer of this package accepts unless told
// otherwise.
var LabUser = User{Name: "labuser", Password: "labpass"}

// Daemon is what every peer handle has: where it listens, where its files
// are, and its log.
type Daemon struct {
	Name    string        // which peer: "xl2tpd-lns", "l2tpns", ...
	Addr    netip.Addr    // the address it serves on
	Port    uint16        // its main UDP port
	Dir     string        // its private configuration and state directory
	LogPath string        // its main log file
	PID     int           // the PID of the daemon (for SoftEther, of its watchdog parent)
	Startup time.Duration // from the first exec to ready

	extraLogs []string // further files (glob patterns) Log includes after LogPath
	cmd       *exec.Cmd
}

// Stop ends the daemon before the test does: SIGTERM to its process
// group, SIGKILL after a few seconds, and waits for every process of the
// group. Its log stays readable.
func (d *Daemon) Stop() error {
	if d.cmd == nil || d.cmd.ProcessState != nil {
		return nil
	}
	return stopGroup(d.cmd, 3*time.Second)
}

// AddrPort returns the UDP address the daemon serves on.
func (d *Daemon) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(d.Addr, d.Port)
}

// Log returns the daemon's log so far (the main log, then any others,
// each under a header line).
func (d *Daemon) Log() string {
	var b strings.Builder
	paths := []string{d.LogPath}
	for _, g := range d.extraLogs {
		m, _ := filepath.Glob(g)
		paths = append(paths, m...)
	}
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(&b, "(%s: %v)\n", p, err)
			continue
		}
		if i > 0 {
			fmt.Fprintf(&b, "==> %s <==\n", p)
		}
		b.Write(data)
	}
	return b.String()
}

// LogLines returns the lines of Log that contain substr.
func (d *Daemon) LogLines(substr string) []string {
	var out []string
	for _, l := range strings.Split(d.Log(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// WaitLog waits up to timeout for a log line containing substr and
// returns the first such line.
func (d *Daemon) WaitLog(substr string, timeout time.Duration) (string, error) {
	var line string
	ok := poll(timeout, func() bool {
		if l := d.LogLines(substr); len(l) > 0 {
			line = l[0]
			return true
		}
		return false
	})
	if !ok {
		return "", fmt.Errorf("peers: %s logged no %q within %v", d.Name, substr, timeout)
	}
	return line, nil
}

// Running reports whether the daemon's process still runs.
func (d *Daemon) Running() bool {
	return alive(d.PID)
}

// pollInterval is how often readiness conditions are checked.
const pollInterval = 50 * time.Millisecond

// poll checks cond until it holds or timeout passes; it reports whether
// cond held. It is the only way this package waits for a daemon.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// procState returns the state letter of /proc/PID/stat ('R', 'S', 'Z',
// ...) and the process group, or ok=false when there is no such process.
func procState(pid int) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may contain anything; the
	// fields after the last ')' are: state ppid pgrp ...
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pgrp, true
}

// alive reports whether pid is a process that has not exited (a zombie
// has exited).
func alive(pid int) bool {
	st, _, ok := procState(pid)
	return ok && st != 'Z' && st != 'X'
}

// groupAlive reports whether any live process is in process group pgid.
func groupAlive(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, pg, ok := procState(pid)
		if ok && pg == pgid && st != 'Z' && st != 'X' {
			return true
		}
	}
	return false
}

// start runs cmd through the lab (which forks it from a thread that never
// exits, see nstest.Lab.Start), with
// stdout and stderr appended to logPath, and records it in d. At cleanup,
// before the lab's own (cleanups run last-registered first), it stops the
// whole process group and waits for every member: the lab waits only for
// the process it started, and a daemon's children (SoftEther's server
// process) could otherwise outlive the namespace for seconds.
func start(tb testing.TB, lab Lab, d *Daemon, cmd *exec.Cmd, logPath string) {
	tb.Helper()
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("peers: %v", err)
	}
	// The child has its own copy of the descriptor; ours is not needed.
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := lab.Start(cmd); err != nil {
		tb.Fatalf("peers: starting %s: %v", strings.Join(cmd.Args, " "), err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState != nil {
			return // already stopped by this package (stopGroup)
		}
		if err := stopGroup(cmd, 3*time.Second); err != nil {
			tb.Error(err)
		}
	})
	d.cmd, d.PID = cmd, cmd.Process.Pid
}

// stopGroup ends the process group that cmd leads (a daemon and the
// children it forked): SIGTERM, then SIGKILL after grace. It waits for cmd
// itself and, bounded, for every other member of the group. Only for
// commands that this package started and must stop before the lab's
// cleanup (the lab then sees them finished and leaves them alone).
func stopGroup(cmd *exec.Cmd, grace time.Duration) error {
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	if poll(grace, func() bool { return !groupAlive(pgid) }) {
		return nil
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	if poll(grace, func() bool { return !groupAlive(pgid) }) {
		return nil
	}
	return fmt.Errorf("peers: process group %d survives SIGKILL", pgid)
}

// waitReady polls cond until it holds, failing the test with the
// daemon's log when the timeout passes or the daemon exits first.
func waitReady(tb testing.TB, d *Daemon, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	exited := false
	ok := poll(timeout, func() bool {
		if cond() {
			return true
		}
		if !alive(d.PID) {
			exited = !cond()
			return true
		}
		return false
	})
	switch {
	case exited:
		tb.Fatalf("peers: %s exited before %s; its log:\n%s", d.Name, what, d.Log())
	case !ok:
		tb.Fatalf("peers: %s: no %s within %v; its log:\n%s", d.Name, what, timeout, d.Log())
	}
}

// logHas returns a condition that holds once the daemon's log contains
// substr.
func logHas(d *Daemon, substr string) func() bool {
	return func() bool { return strings.Contains(d.Log(), substr) }
}

// UDPBound reports whether something in ns has UDP port bound on addr or
// on a wildcard address, according to ss(8) run inside the namespace.
func UDPBound(ns NS, addr netip.Addr, port uint16) bool {
	out, err := ns.Run(5*time.Second, "ss", "-H", "-n", "-l", "-u")
	if err != nil {
		return false
	}
	return ssHasListener(string(out), addr, port)
}

// TCPListening is UDPBound for a listening TCP socket.
func TCPListening(ns NS, addr netip.Addr, port uint16) bool {
	out, err := ns.Run(5*time.Second, "ss", "-H", "-n", "-l", "-t")
	if err != nil {
		return false
	}
	return ssHasListener(string(out), addr, port)
}

// ssHasListener looks through `ss -H -n -l` output (State Recv-Q Send-Q
// Local Peer ...) for a local address that is addr or a wildcard, with
// the given port.
func ssHasListener(out string, addr netip.Addr, port uint16) bool {
	suffix := ":" + strconv.Itoa(int(port))
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		host, ok := strings.CutSuffix(f[3], suffix)
		if !ok {
			continue
		}
		host, _, _ = strings.Cut(host, "%") // "0.0.0.0%lo"
		switch host {
		case "*", "0.0.0.0", "[::]":
			return true
		}
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && a.Unmap() == addr.Unmap() {
			return true
		}
	}
	return false
}

// labRange is the only range the peers may be given (DESIGN.md: underlay
// 198.18.x.x, pools and inner networks 198.19.x.x).
var labRange = netip.MustParsePrefix("198.18.0.0/15")

// checkLab fails the test unless every address is an IPv4 address inside
// 198.18.0.0/15.
func checkLab(tb testing.TB, addrs ...netip.Addr) {
	tb.Helper()
	for _, a := range addrs {
		if !a.Is4() || !labRange.Contains(a) {
			tb.Fatalf("peers: %s is outside the lab range %s", a, labRange)
		}
	}
}

// writeFile writes a configuration file and fails the test on error.
func writeFile(tb testing.TB, path, content string, perm os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		tb.Fatalf("peers: %v", err)
	}
}

// mustDir creates a directory (and its parents).
func mustDir(tb testing.TB, path string) string {
	tb.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		tb.Fatalf("peers: %v", err)
	}
	return path
}
