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
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// vpdn lab builds document 002's topology in network namespaces:
//
//	client ──198.18.1.0/24── internet ──198.18.2.0/24── lns ──198.19.100.0/24── server
//	(vpdn, Virtual-PPP1)      (router)                   (vpdn, Virtual-Template1)
//
// starts vpdn on the client and the LNS with examples/lab-client.cfg and
// examples/lab-lns.cfg, pings the server through the tunnel, moves data,
// prints the show outputs and tears everything down (--keep leaves it up).
// Only 198.18.0.0/15 is used; the host's interfaces are not touched.

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

type lab struct {
	dir   string
	bin   string
	nss   []labNS
	procs []*exec.Cmd
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

func (l *lab) start(n labNS, logName string, args ...string) (*exec.Cmd, error) {
	c := n.cmd(l.bin, args...)
	f, err := os.Create(filepath.Join(l.dir, logName))
	if err != nil {
		return nil, err
	}
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		return nil, err
	}
	l.procs = append(l.procs, c)
	return c, nil
}

// teardown stops every process by PID (SIGTERM, then SIGKILL) and deletes
// the namespaces, which removes their veths and TUNs.
func (l *lab) teardown() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		c := l.procs[i]
		if c.Process == nil {
			continue
		}
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
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
	examples := fs.String("examples", "examples", "the directory with lab-lns.cfg and lab-client.cfg")
	if err := fs.Parse(args); err != nil {
		return 2
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
	l := &lab{dir: dir, bin: bin}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = l.run(ctx, *examples)
	if *keep && err == nil {
		fmt.Printf("\nThe lab is up (logs in %s). Explore with, e.g.:\n", dir)
		fmt.Printf("  ip netns exec %sclient ping 198.19.100.10\n", labPrefix)
		fmt.Printf("  vpdn show vpdn --socket %s\n", filepath.Join(dir, "lns.sock"))
		fmt.Printf("  curl -s http://127.0.0.1:9180/metrics   (from: ip netns exec %slns)\n", labPrefix)
		fmt.Println("Remove it with: vpdn lab --down")
		for _, c := range l.procs {
			c.Process.Release()
		}
		return 0
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

func (l *lab) run(ctx context.Context, examples string) error {
	step := func(s string) { fmt.Printf("\n== %s\n", s) }
	step("building the topology of document 002 (198.18.0.0/15 only)")
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

	step("starting vpdn: the LNS (" + filepath.Join(examples, "lab-lns.cfg") + ") and the client (" + filepath.Join(examples, "lab-client.cfg") + ")")
	lnsSock, clientSock := filepath.Join(l.dir, "lns.sock"), filepath.Join(l.dir, "client.sock")
	if _, err := l.start(lns, "lns.log", "serve", "-c", filepath.Join(examples, "lab-lns.cfg"), "--socket", lnsSock); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // the LNS binds before the client dials; the client would redial anyway
	if _, err := l.start(client, "client.log", "serve", "-c", filepath.Join(examples, "lab-client.cfg"), "--socket", clientSock); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := client.run(5*time.Second, "ip", "-4", "-o", "addr", "show", "dev", "Vp1")
		if strings.Contains(out, " inet ") {
			f := strings.Fields(out)
			fmt.Printf("Virtual-PPP1 is up: %s %s %s\n", f[3], f[4], f[5])
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logs, _ := os.ReadFile(filepath.Join(l.dir, "client.log"))
			return fmt.Errorf("the tunnel did not come up; client log:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
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
	if err := sink.Start(); err != nil {
		return err
	}
	l.procs = append(l.procs, sink)
	time.Sleep(300 * time.Millisecond)
	out, err = client.run(120*time.Second, l.bin, "lab-transfer", "--connect", "198.19.100.10:5201", "--bytes", "52428800")
	fmt.Print(out)
	sink.Wait()
	fmt.Print(sinkOut.String())
	if err != nil {
		return fmt.Errorf("transfer failed: %v", err)
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
