package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/examples"
)

// vpdn lab builds document 002's topology in network namespaces (a remote
// client reaching the head office's LNS across the Internet):
//
//	client ──198.18.1.0/24── internet ──198.18.2.0/24── lns ──198.19.100.0/24── server
//	(vpdn, Virtual-PPP1)      (router)                   (vpdn, Virtual-Template1)
//
// starts vpdn on the client and the LNS with lab-client.cfg and
// lab-lns.cfg (built into the binary from examples/, written to the lab's
// temporary directory), pings the server through the tunnel, moves data,
// prints the show outputs and tears everything down (--keep leaves it up).
// Only 198.18.0.0/15 is used; the host's interfaces are not touched.
//
// Whatever the lab needs is checked before it starts (programs,
// configurations), and a daemon that exits ends the wait for the tunnel at
// once with its log: nothing missing is reported only after a timeout.

const labPrefix = "vpdnlab-"

type labNS struct{ name string }

func (n labNS) ip(args ...string) error {
	out, err := exec.Command("ip", append([]string{"-n", n.name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (n labNS) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

func (n labNS) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// labTool is a program the lab runs and the Debian package that has it.
type labTool struct{ name, pkg string }

// labTools are the programs the lab runs besides vpdn itself.
var labTools = []labTool{
	{"ip", "iproute2"},       // namespaces, veths, addresses, routes
	{"ping", "iputils-ping"}, // the ping through the tunnel
	{"sysctl", "procps"},     // IP forwarding in the router and the LNS
}

// missingLabTools names every program of labTools that lookPath (exec.LookPath
// outside tests) does not find, with its package, or returns nil.
func missingLabTools(lookPath func(string) (string, error)) error {
	var missing, pkgs []string
	for _, t := range labTools {
		if _, err := lookPath(t.name); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.name, t.pkg))
			pkgs = append(pkgs, t.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("not found in PATH: %s; install with: apt-get install %s",
		strings.Join(missing, ", "), strings.Join(pkgs, " "))
}

// labConfigNames are the lab's configurations, the LNS's first.
var labConfigNames = [2]string{"lab-lns.cfg", "lab-client.cfg"}

// labConfigs writes the lab's configurations into dir and returns their
// paths, the LNS's first: the ones built into the binary, or with from set
// (--examples) the ones in that directory. Each is read and validated now,
// so that a missing or broken file fails the lab before anything starts.
func labConfigs(dir, from string) ([2]string, error) {
	var paths [2]string
	for i, name := range labConfigNames {
		var (
			b   []byte
			err error
		)
		src := "built-in " + name
		if from == "" {
			b, err = fs.ReadFile(examples.Lab, name)
		} else {
			src = filepath.Join(from, name)
			b, err = os.ReadFile(src)
		}
		if err != nil {
			return paths, fmt.Errorf("lab configuration: %w", err)
		}
		if _, err := config.Parse(src, string(b)); err != nil {
			return paths, fmt.Errorf("lab configuration: %w", err)
		}
		paths[i] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[i], b, 0o600); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// labProc is a process the lab started; done is closed once it has exited,
// and err is then its exit status.
type labProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *labProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

type lab struct {
	dir   string
	bin   string
	nss   []labNS
	procs []*labProc
}

func (l *lab) ns(tag string) (labNS, error) {
	n := labNS{labPrefix + tag}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		return n, fmt.Errorf("ip netns add %s: %v: %s", n.name, err, out)
	}
	l.nss = append(l.nss, n)
	return n, n.ip("link", "set", "lo", "up")
}

func (l *lab) link(a, b labNS, devA, devB, addrA, addrB string) error {
	if out, err := exec.Command("ip", "link", "add", devA, "netns", a.name, "type", "veth", "peer", "name", devB, "netns", b.name).CombinedOutput(); err != nil {
		return fmt.Errorf("veth %s-%s: %v: %s", devA, devB, err, out)
	}
	for _, s := range [][]string{{a.name, addrA, devA}, {b.name, addrB, devB}} {
		n := labNS{s[0]}
		if err := n.ip("addr", "add", s[1], "dev", s[2]); err != nil {
			return err
		}
		if err := n.ip("link", "set", s[2], "up"); err != nil {
			return err
		}
	}
	return nil
}

func (l *lab) start(n labNS, logName string, args ...string) (*labProc, error) {
	c := n.cmd(l.bin, args...)
	f, err := os.Create(filepath.Join(l.dir, logName))
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	c.Stdout, c.Stderr = f, f
	return l.spawn(c)
}

// spawn starts c and watches for its exit, so that the lab can tell at once
// when a daemon it waits for has died.
func (l *lab) spawn(c *exec.Cmd) (*labProc, error) {
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &labProc{cmd: c, done: make(chan struct{})}
	go func() { p.err = c.Wait(); close(p.done) }()
	l.procs = append(l.procs, p)
	return p, nil
}

// died reports a daemon that exited before the tunnel came up, with its log.
func (l *lab) died(who string, p *labProc, logName string) error {
	logs, _ := os.ReadFile(filepath.Join(l.dir, logName))
	return fmt.Errorf("vpdn on the %s exited (%v) before the tunnel came up; its log:\n%s", who, p.err, logs)
}

// teardown stops every process by PID (SIGTERM, then SIGKILL) and deletes
// the namespaces, which removes their veths and TUNs.
func (l *lab) teardown() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		p := l.procs[i]
		if p.exited() {
			continue
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	for _, n := range l.nss {
		exec.Command("ip", "netns", "delete", n.name).Run()
	}
}

func runLab(args []string) int {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	keep := fs.Bool("keep", false, "leave the lab up (namespaces vpdnlab-*); run vpdn lab --down to remove it")
	down := fs.Bool("down", false, "remove a lab left up by --keep")
	fromDir := fs.String("examples", "", "read lab-lns.cfg and lab-client.cfg from this directory instead of the built-in ones")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := missingLabTools(exec.LookPath); err != nil {
		fmt.Fprintf(os.Stderr, "vpdn lab: %v\n", err)
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "vpdn lab: needs root (it creates network namespaces)")
		return 1
	}
	if *down {
		labDown()
		return 0
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), labPrefix) {
		fmt.Fprintln(os.Stderr, "vpdn lab: a lab is already up (namespaces vpdnlab-*); remove it with vpdn lab --down")
		return 1
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn lab: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "vpdn-lab")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn lab: %v\n", err)
		return 1
	}
	cfgs, err := labConfigs(dir, *fromDir)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "vpdn lab: %v\n", err)
		return 1
	}
	l := &lab{dir: dir, bin: bin}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = l.run(ctx, cfgs)
	if *keep && err == nil {
		fmt.Printf("\nThe lab is up (logs in %s). Explore with, e.g.:\n", dir)
		fmt.Printf("  ip netns exec %sclient ping 198.19.100.10\n", labPrefix)
		fmt.Printf("  vpdn show vpdn --socket %s\n", filepath.Join(dir, "lns.sock"))
		fmt.Printf("  curl -s http://127.0.0.1:9180/metrics   (from: ip netns exec %slns)\n", labPrefix)
		fmt.Println("Remove it with: vpdn lab --down")
		return 0 // the daemons run on in their own process groups
	}
	fmt.Println("\n== teardown")
	l.teardown()
	os.RemoveAll(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vpdn lab: %v\n", err)
		return 1
	}
	fmt.Println("lab removed: no namespace, interface or process left")
	return 0
}

func labDown() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, labPrefix) {
			continue
		}
		// Stop what runs in it, by PID, then delete it.
		pids, _ := exec.Command("ip", "netns", "pids", name).Output()
		for _, p := range strings.Fields(string(pids)) {
			var pid int
			fmt.Sscan(p, &pid)
			if pid > 1 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		time.Sleep(time.Second)
		exec.Command("ip", "netns", "delete", name).Run()
		fmt.Println("removed", name)
	}
}

func (l *lab) run(ctx context.Context, cfgs [2]string) error {
	step := func(s string) { fmt.Printf("\n== %s\n", s) }
	step("building the topology: a remote client, an Internet router, the head-office LNS, a server behind it (198.18.0.0/15 only)")
	client, err := l.ns("client")
	if err != nil {
		return err
	}
	inet, err := l.ns("internet")
	if err != nil {
		return err
	}
	lns, err := l.ns("lns")
	if err != nil {
		return err
	}
	server, err := l.ns("server")
	if err != nil {
		return err
	}
	for _, e := range []error{
		l.link(client, inet, "eth0", "cl0", "198.18.1.2/24", "198.18.1.1/24"),
		l.link(lns, inet, "eth0", "hq0", "198.18.2.2/24", "198.18.2.1/24"),
		l.link(lns, server, "eth1", "eth0", "198.19.100.1/24", "198.19.100.10/24"),
		client.ip("route", "add", "198.18.2.0/24", "via", "198.18.1.1"),
		lns.ip("route", "add", "198.18.1.0/24", "via", "198.18.2.1"),
		server.ip("route", "add", "198.19.0.0/16", "via", "198.19.100.1"),
	} {
		if e != nil {
			return e
		}
	}
	for _, n := range []labNS{inet, lns} {
		if out, err := n.run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return fmt.Errorf("ip_forward in %s: %v %s", n.name, err, out)
		}
	}
	fmt.Println("client 198.18.1.2 -- internet -- 198.18.2.2 LNS 198.19.100.1 -- 198.19.100.10 server")

	step("starting vpdn: the LNS (" + cfgs[0] + ") and the client (" + cfgs[1] + ")")
	lnsSock, clientSock := filepath.Join(l.dir, "lns.sock"), filepath.Join(l.dir, "client.sock")
	lnsP, err := l.start(lns, "lns.log", "serve", "-c", cfgs[0], "--socket", lnsSock)
	if err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // the LNS binds before the client dials; the client would redial anyway
	clientP, err := l.start(client, "client.log", "serve", "-c", cfgs[1], "--socket", clientSock)
	if err != nil {
		return err
	}
	deadline := time.After(30 * time.Second)
	for {
		out, _ := client.run(5*time.Second, "ip", "-4", "-o", "addr", "show", "dev", "Vp1")
		if strings.Contains(out, " inet ") {
			f := strings.Fields(out)
			fmt.Printf("Virtual-PPP1 is up: %s %s %s\n", f[3], f[4], f[5])
			break
		}
		select {
		case <-lnsP.done:
			return l.died("LNS", lnsP, "lns.log")
		case <-clientP.done:
			return l.died("client", clientP, "client.log")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			logs, _ := os.ReadFile(filepath.Join(l.dir, "client.log"))
			return fmt.Errorf("the tunnel did not come up in 30 s; client log:\n%s", logs)
		case <-time.After(200 * time.Millisecond):
		}
	}

	step("ping the office server through the tunnel")
	out, err := client.run(20*time.Second, "ping", "-c", "5", "-i", "0.2", "-W", "2", "198.19.100.10")
	fmt.Print(out)
	if err != nil {
		return fmt.Errorf("ping failed: %v", err)
	}

	step("TCP transfer to the office server: 50 MB")
	sink := server.cmd(l.bin, "lab-transfer", "--listen", "198.19.100.10:5201")
	var sinkOut bytes.Buffer
	sink.Stdout, sink.Stderr = &sinkOut, &sinkOut
	sinkP, err := l.spawn(sink)
	if err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	out, err = client.run(120*time.Second, l.bin, "lab-transfer", "--connect", "198.19.100.10:5201", "--bytes", "52428800")
	fmt.Print(out)
	if err != nil {
		return fmt.Errorf("transfer failed: %v", err) // teardown stops the sink
	}
	<-sinkP.done
	fmt.Print(sinkOut.String())
	if sinkP.err != nil {
		return fmt.Errorf("transfer failed on the server: %v", sinkP.err)
	}

	for _, s := range []struct {
		ns   labNS
		sock string
		cmd  string
	}{
		{lns, lnsSock, "show vpdn"},
		{lns, lnsSock, "show caller user l2tpuser"},
		{lns, lnsSock, "show interfaces virtual-access 1"},
		{lns, lnsSock, "show ip local pool"},
		{client, clientSock, "show vpdn"},
		{client, clientSock, "show interfaces virtual-ppp 1"},
	} {
		step(strings.TrimPrefix(s.ns.name, labPrefix) + "# " + s.cmd)
		out, _ := s.ns.run(10*time.Second, l.bin, append(strings.Fields(s.cmd), "--socket", s.sock)...)
		fmt.Print(out)
	}
	return nil
}

// runLabTransfer is the hidden helper of vpdn lab: a TCP sink or source
// that checks what crossed (SHA-256) and reports the rate.
func runLabTransfer(args []string) int {
	fs := flag.NewFlagSet("lab-transfer", flag.ContinueOnError)
	listen := fs.String("listen", "", "receive one connection on ADDR:PORT")
	connect := fs.String("connect", "", "send to ADDR:PORT")
	n := fs.Int64("bytes", 50<<20, "bytes to send")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case *listen != "":
		ln, err := net.Listen("tcp4", *listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer ln.Close()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(60 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(120 * time.Second))
		h := sha256.New()
		m, err := io.Copy(h, c)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("server received %d bytes, sha256 %s\n", m, hex.EncodeToString(h.Sum(nil))[:16])
		return 0
	case *connect != "":
		c, err := net.DialTimeout("tcp4", *connect, 10*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c.SetDeadline(time.Now().Add(120 * time.Second))
		h := sha256.New()
		src := io.TeeReader(io.LimitReader(zeroSource{}, *n), h)
		start := time.Now()
		m, err := io.Copy(c, src)
		c.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		el := time.Since(start)
		fmt.Printf("client sent %d bytes in %v (%.0f Mbit/s), sha256 %s\n", m, el.Truncate(time.Millisecond), float64(m*8)/el.Seconds()/1e6, hex.EncodeToString(h.Sum(nil))[:16])
		return 0
	}
	fmt.Fprintln(os.Stderr, errors.New("lab-transfer: --listen or --connect"))
	return 2
}

// zeroSource yields a repeating pattern (not all zeros, so nothing
// compresses it along the way).
type zeroSource struct{}

func (zeroSource) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return len(p), nil
}
