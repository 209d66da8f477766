// Package nstest is the namespace test harness: it builds small networks of
// Linux network namespaces joined by veth pairs, runs functions and
// processes inside them, captures traffic with tshark when it is installed,
// and always tears everything down — when the test passes, fails or panics,
// and, for namespaces a killed test run left behind, on the next run.
//
// It enforces the lab rule: every address it assigns or routes is inside
// 198.18.0.0/15 (underlay 198.18.x.x, inner networks 198.19.x.x).
//
// It is for tests only (internal/archtest forbids importing it elsewhere).
package nstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// LabRange is the only address range the harness will configure.
var LabRange = netip.MustParsePrefix("198.18.0.0/15")

// namePrefix marks namespaces and links made by this package; the PID of
// the test process follows it, so stale ones can be recognised.
const namePrefix = "vpt"

// Lab is a set of namespaces and links owned by one test.
type Lab struct {
	tb     testing.TB
	id     string
	mu     sync.Mutex
	nss    []*NS
	procs  []*exec.Cmd
	seq    int
	closed bool
}

// NS is one network namespace.
type NS struct {
	lab  *Lab
	Name string // the `ip netns` name
	Tag  string // the short name the test gave it
}

// Available reports whether namespace tests can run here: root and the
// ip(8) tool. The error says what is missing.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("nstest: namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("nstest: namespace tests need ip(8) from iproute2")
	}
	return nil
}

// New returns an empty lab. It skips the test when namespaces cannot be
// made here, unless VPDN_REQUIRE_NETNS=1 (CI sets it), which turns the skip
// into a failure so that a CI run cannot silently test nothing.
func New(tb testing.TB) *Lab {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv("VPDN_REQUIRE_NETNS") == "1" {
			tb.Fatalf("%v (VPDN_REQUIRE_NETNS=1)", err)
		}
		tb.Skip(err)
	}
	reapStale(tb)
	l := &Lab{tb: tb, id: strconv.Itoa(os.Getpid())}
	tb.Cleanup(l.Close)
	return l
}

// reapStale deletes namespaces left by test processes that no longer run.
func reapStale(tb testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // its owner still runs
		}
		tb.Logf("nstest: removing stale namespace %s", name)
		exec.Command("ip", "netns", "delete", name).Run()
	}
}

func (l *Lab) next() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return l.seq
}

// NS creates a namespace with its loopback up. tag is for humans.
func (l *Lab) NS(tag string) *NS {
	l.tb.Helper()
	name := fmt.Sprintf("%s%s-%d-%s", namePrefix, l.id, l.next(), tag)
	if len(name) > 64 {
		name = name[:64]
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		l.tb.Fatalf("nstest: ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{lab: l, Name: name, Tag: tag}
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	ns.MustIP("link", "set", "lo", "up")
	return ns
}

// CheckLabAddr fails unless p lies inside 198.18.0.0/15.
func CheckLabAddr(p netip.Prefix) error {
	if !p.Addr().Is4() || !LabRange.Contains(p.Addr()) || p.Bits() < LabRange.Bits() {
		return fmt.Errorf("nstest: %s is outside the lab range %s", p, LabRange)
	}
	return nil
}

// Link joins a and b with a veth pair, assigns addrA and addrB (both must be
// inside 198.18.0.0/15) and brings both ends up. It returns the device
// names inside a and inside b.
func (l *Lab) Link(a, b *NS, addrA, addrB netip.Prefix) (devA, devB string) {
	l.tb.Helper()
	for _, p := range []netip.Prefix{addrA, addrB} {
		if err := CheckLabAddr(p); err != nil {
			l.tb.Fatal(err)
		}
	}
	n := l.next()
	devA, devB = fmt.Sprintf("v%sa%d", l.id, n), fmt.Sprintf("v%sb%d", l.id, n)
	if len(devA) > 15 {
		devA, devB = devA[len(devA)-15:], devB[len(devB)-15:]
	}
	if out, err := exec.Command("ip", "link", "add", devA, "netns", a.Name, "type", "veth", "peer", "name", devB, "netns", b.Name).CombinedOutput(); err != nil {
		l.tb.Fatalf("nstest: creating veth %s-%s: %v: %s", devA, devB, err, out)
	}
	a.MustIP("addr", "add", addrA.String(), "dev", devA)
	b.MustIP("addr", "add", addrB.String(), "dev", devB)
	a.MustIP("link", "set", devA, "up")
	b.MustIP("link", "set", devB, "up")
	return devA, devB
}

// IP runs `ip ARGS...` inside the namespace.
func (ns *NS) IP(args ...string) ([]byte, error) {
	return exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput()
}

// MustIP runs `ip ARGS...` inside the namespace and fails the test on error.
func (ns *NS) MustIP(args ...string) {
	ns.lab.tb.Helper()
	if out, err := ns.IP(args...); err != nil {
		ns.lab.tb.Fatalf("nstest: ip -n %s %s: %v: %s", ns.Tag, strings.Join(args, " "), err, out)
	}
}

// Route adds a route inside the namespace; dst and gw must be lab addresses.
func (ns *NS) Route(dst netip.Prefix, gw netip.Addr) {
	ns.lab.tb.Helper()
	if err := CheckLabAddr(dst); err != nil {
		ns.lab.tb.Fatal(err)
	}
	if err := CheckLabAddr(netip.PrefixFrom(gw, 32)); err != nil {
		ns.lab.tb.Fatal(err)
	}
	ns.MustIP("route", "add", dst.String(), "via", gw.String())
}

// Do runs fn on an OS thread that has entered the namespace. Afterwards the
// thread returns to its original namespace and to the scheduler; if that
// fails, it stays locked and exits with the goroutine, so no goroutine ever
// runs in the wrong namespace by accident. Sockets and devices fn creates
// stay in the namespace.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			errc <- fmt.Errorf("nstest: %w", err)
			return
		}
		defer orig.Close()
		f, err := os.Open(filepath.Join("/run/netns", ns.Name))
		if err != nil {
			errc <- fmt.Errorf("nstest: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("nstest: setns %s: %w", ns.Name, err)
			return
		}
		defer func() {
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("nstest: panic in %s: %v", ns.Tag, r)
			}
		}()
		errc <- fn()
	}()
	return <-errc
}

// Command returns a command that runs inside the namespace. Start it with
// Start so that the lab stops it at the end.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// The lab's commands carry Pdeathsig (SIGKILL, so that nothing outlives a
// crashed test binary), which Linux ties to the OS thread that forked the
// child, not to the process: when that thread exits, the child is killed.
// A Go thread exits when a goroutine locked to it returns without
// unlocking. So every command is forked from one thread that is locked for
// the life of the test binary and never exits.
var spawner struct {
	once sync.Once
	jobs chan func()
}

// onSpawner runs f on the spawner thread and waits for it.
func onSpawner(f func()) {
	spawner.once.Do(func() {
		spawner.jobs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the binary
			for job := range spawner.jobs {
				job()
			}
		}()
	})
	done := make(chan struct{})
	spawner.jobs <- func() { defer close(done); f() }
	<-done
}

// Start starts cmd (forked from the spawner thread) and registers it to be
// stopped, by PID, at cleanup.
func (l *Lab) Start(cmd *exec.Cmd) error {
	var err error
	onSpawner(func() { err = cmd.Start() })
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.procs = append(l.procs, cmd)
	l.mu.Unlock()
	return nil
}

// Run runs a command inside the namespace with a timeout and returns its
// combined output.
func (ns *NS) Run(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, timeout, err)
	}
	return buf.Bytes(), err
}

// NFT loads an nftables ruleset (nft -f) into the namespace.
func (ns *NS) NFT(rules string) {
	tb := ns.lab.tb
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "rules.nft")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		tb.Fatal(err)
	}
	if out, err := ns.Run(5*time.Second, "nft", "-f", path); err != nil {
		tb.Fatalf("nstest: nft in %s: %v %s", ns.Tag, err, out)
	}
}

// MasqueradePorts are the source ports the namespace NATs of Masquerade
// give: a range no tshark dissector claims as its UDP or TCP port, so
// that a capture decodes what the port at the other end says (a NAT once
// mapped IKE's 4500 to 1153, ANSI C12.22's port, and tshark called every
// NAT-T packet a malformed C12.22 message).
const MasqueradePorts = "42000-43999"

// Masquerade source-NATs what leaves the namespace through dev (from
// from, when valid) to dev's address, TCP and UDP ports renumbered into
// MasqueradePorts, as a home router does.
func (ns *NS) Masquerade(dev string, from netip.Prefix) {
	match := ""
	if from.IsValid() {
		match = "ip saddr " + from.String() + " "
	}
	ns.NFT(fmt.Sprintf(`table ip nstestnat {
	chain masq {
		type nat hook postrouting priority srcnat
		%smeta l4proto { tcp, udp } oifname %q masquerade to :%s
		%soifname %q masquerade
	}
}
`, match, dev, MasqueradePorts, match, dev))
}

// stop ends a process group: SIGTERM, then SIGKILL after a grace period.
func stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
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
}

// Close stops every process and deletes every namespace of the lab (which
// also deletes the veth pairs in them). Tests need not call it: New
// registers it with t.Cleanup, which runs even when the test panics.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	procs, nss := l.procs, l.nss
	l.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		stop(procs[i], 3*time.Second)
	}
	for _, ns := range nss {
		if out, err := exec.Command("ip", "netns", "delete", ns.Name).CombinedOutput(); err != nil {
			l.tb.Logf("nstest: deleting namespace %s: %v: %s", ns.Name, err, out)
		}
	}
}

// Capture is a running tshark capture.
type Capture struct {
	Path string
	cmd  *exec.Cmd
}

// TsharkAvailable reports whether tshark is installed.
func TsharkAvailable() bool {
	_, err := exec.LookPath("tshark")
	return err == nil
}

// SegmentOnWire turns UDP segmentation offload off on dev. A sender with
// UDP GSO (vpdn's data plane) hands a veth 64 KB trains of datagrams, and
// the veth passes them on whole, to its peer and to captures: one giant
// datagram where a wire carries many. Without the feature, the kernel cuts
// the trains into datagrams before they leave dev. Capture does it on its
// device; for a capture to see both directions as a wire would, call it
// for the far end of the link too.
func (l *Lab) SegmentOnWire(ns *NS, dev string) {
	l.tb.Helper()
	if out, err := ns.Command("ethtool", "-K", dev, "tx-udp-segmentation", "off").CombinedOutput(); err != nil {
		l.tb.Logf("nstest: ethtool -K %s tx-udp-segmentation off: %v %s (captures may show segment trains as one datagram)", dev, err, out)
	}
}

// Capture starts tshark on dev inside ns, writing to a file in the test's
// temporary directory, with an optional capture filter. It returns nil
// (and logs) when tshark is not installed. The capture is stopped at
// cleanup if the test does not stop it first.
func (l *Lab) Capture(ns *NS, dev, filter string) *Capture {
	l.tb.Helper()
	if !TsharkAvailable() {
		l.tb.Logf("nstest: tshark not installed; no capture of %s", dev)
		return nil
	}
	path := filepath.Join(l.tb.TempDir(), fmt.Sprintf("%s-%s.pcap", ns.Tag, dev))
	// tshark writes pcap files as root only when told its file is fine.
	f, err := os.Create(path)
	if err != nil {
		l.tb.Fatal(err)
	}
	f.Close()
	l.SegmentOnWire(ns, dev)
	args := []string{"-i", dev, "-w", path, "-F", "pcap", "-q"}
	if filter != "" {
		args = append(args, "-f", filter)
	}
	cmd := ns.Command("tshark", args...)
	stderr := &SyncBuffer{}
	cmd.Stderr = stderr
	if err := l.Start(cmd); err != nil {
		l.tb.Fatalf("nstest: starting tshark: %v", err)
	}
	// tshark says "Capturing on ..." before its dumpcap child has opened the
	// device; dumpcap's "Capture started." is the reliable signal (waiting
	// for the first lost packets showed it: captures with no packet).
	// tshark loads all its dissectors first: a second or two on a quiet
	// machine, more than 10 s on a busy one (CI's), hence the bound.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), "Capture started") {
		if time.Now().After(deadline) {
			l.tb.Fatalf("nstest: tshark did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Capture{Path: path, cmd: cmd}
}

// Stop ends the capture and waits for the file to be complete.
func (c *Capture) Stop() {
	if c == nil {
		return
	}
	// dumpcap reads the kernel's packet ring in blocks that are retired on
	// a timer; give the last block time to arrive before SIGINT, which
	// makes tshark flush and exit.
	time.Sleep(700 * time.Millisecond)
	if c.cmd.ProcessState == nil {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// Decode runs tshark over the capture with a display filter and returns
// one summary line per matching packet.
func Decode(path, displayFilter string, fields ...string) ([]string, error) {
	return decode(path, displayFilter, nil, fields...)
}

func decode(path, displayFilter string, extra []string, fields ...string) ([]string, error) {
	args := []string{"-r", path, "-n", "-o", "tcp.desegment_tcp_streams:FALSE", "-o", "tcp.analyze_sequence_numbers:FALSE"}
	args = append(args, extra...)
	if displayFilter != "" {
		args = append(args, "-Y", displayFilter)
	}
	if len(fields) > 0 {
		args = append(args, "-T", "fields")
		for _, f := range fields {
			args = append(args, "-e", f)
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command("tshark", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark -r %s: %v: %s", path, err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// Problems returns the packets tshark finds malformed or flags with an
// expert error. TCP carried inside a tunnel is neither reassembled nor
// sequence-analysed (see Decode): a retransmission of the inner stream is
// the carried connection's business, and reassembling it across
// retransmissions makes tshark report overlaps as malformed.
//
// The payload of the tests' transfers is arbitrary bytes, which tshark's
// heuristic dissectors for TCP and UDP payloads sometimes take for a
// protocol of theirs and then call malformed (a 20 MB transfer once
// decoded as a broken Thrift message): those protocols are turned off,
// so what is checked is what vpdn builds, down to the inner TCP and UDP
// headers.
func Problems(path string) ([]string, error) {
	return decode(path, "_ws.malformed || _ws.expert.severity >= error", payloadHeuristics())
}

// ProblemsWith is Problems with extra tshark arguments, such as the
// preferences a protocol cannot detect on its own (L2TPv3's cookie size
// and L2-Specific Sublayer: "-o", "l2tp.cookie_size:4 Byte Cookie").
func ProblemsWith(path string, extra ...string) ([]string, error) {
	return decode(path, "_ws.malformed || _ws.expert.severity >= error", append(payloadHeuristics(), extra...))
}

// DecodeWith is Decode with extra tshark arguments (see ProblemsWith).
func DecodeWith(path, displayFilter string, extra []string, fields ...string) ([]string, error) {
	return decode(path, displayFilter, extra, fields...)
}

var heuristics struct {
	once sync.Once
	args []string
}

// payloadHeuristics returns tshark arguments that disable every protocol
// tshark may guess on a TCP or UDP payload.
func payloadHeuristics() []string {
	heuristics.once.Do(func() {
		out, err := exec.Command("tshark", "-G", "heuristic-decodes").Output()
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && (f[0] == "tcp" || f[0] == "udp") && !seen[f[1]] {
				seen[f[1]] = true
				heuristics.args = append(heuristics.args, "--disable-protocol", f[1])
			}
		}
	})
	return heuristics.args
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (a process, a
// logger) and readers: for collecting output that tests inspect.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var builds struct {
	mu   sync.Mutex
	bins map[string]string
}

// GoBuild builds the Go command in directory pkgDir (relative to the test's
// package) once per test binary and returns the path of the executable.
// Processes that must live in a namespace (a daemon that creates TUN
// devices from its own threads) run from it.
func GoBuild(tb testing.TB, pkgDir string) string {
	tb.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		tb.Fatal(err)
	}
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if p, ok := builds.bins[abs]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "vpdn-build")
	if err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(abs))
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = abs
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("nstest: go build %s: %v\n%s", pkgDir, err, b)
	}
	if builds.bins == nil {
		builds.bins = map[string]string{}
	}
	builds.bins[abs] = out
	return out
}
