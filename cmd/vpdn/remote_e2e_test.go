package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

const raLNS = `hostname LNS
aaa new-model
aaa authentication ppp default local
aaa authorization network default local
username lac1 password 0 lacpass
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group REMOTE
 accept-dialin
  protocol l2tp
  virtual-template 1
 terminate-from hostname LAC
 l2tp tunnel password 0 tunnelpw
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 ip mtu 1400
 ip tcp adjust-mss 1360
 peer default ip address pool REMOTE
 ppp authentication chap
ip local pool REMOTE 198.19.1.10 198.19.1.20
`

const raLAC = `hostname LAC
vpdn l2tp listen 198.18.0.1:1701
l2tp-class lns
 authentication
 password 0 tunnelpw
pseudowire-class pw
 encapsulation l2tpv2
 protocol l2tpv2 lns
interface Virtual-PPP1
 ip address negotiated
 ppp chap hostname lac1
 ppp chap password 0 lacpass
 pseudowire 198.18.0.2 1 pw-class pw
ip route 198.19.0.0 255.255.255.0 Virtual-PPP1
`

// TestRemoteAccessInNamespaces: a vpdn LAC (client-initiated, Virtual-PPP
// with a pseudowire, document 001) and a vpdn LNS (Virtual-Template) in two
// namespaces: the tunnel comes up, CHAP authenticates, IPCP hands out a pool
// address, Vp1 and Vi1 appear, pings cross the tunnel, and after SIGTERM no
// interface is left behind.
func TestRemoteAccessInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	lac, lns := lab.NS("lac"), lab.NS("lns")
	dev, lnsDev := lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lab.SegmentOnWire(lns, lnsDev) // the capture sees the LNS's trains as a wire carries them
	capture := lab.Capture(lac, dev, "udp port 1701")
	lnsD, lacD := serveIn(t, lab, lns, "LNS", raLNS), serveIn(t, lab, lac, "LAC", raLAC)
	waitFor(t, "Vp1 with a pool address on the LAC", func() bool {
		out, _ := lac.IP("-4", "addr", "show", "dev", "Vp1")
		return strings.Contains(string(out), "inet 198.19.1.")
	})
	out, err := lac.Run(15*time.Second, "ping", "-c", "3", "-W", "2", "198.19.0.1")
	if err != nil {
		t.Fatalf("ping across the tunnel: %v\n%s", err, out)
	}
	t.Logf("ping: %s", lastLine(string(out)))
	if s := lnsD.show("show", "vpdn"); !strings.Contains(s, " est ") || !strings.Contains(s, "REMOTE") {
		t.Errorf("LNS show vpdn:\n%s", s)
	}
	if s := lacD.show("show", "vpdn"); !strings.Contains(s, " est ") {
		t.Errorf("LAC show vpdn:\n%s", s)
	}
	if out, _ := lns.IP("-4", "addr", "show", "dev", "Vi1"); !strings.Contains(string(out), "198.19.0.1 peer 198.19.1.") {
		t.Errorf("Vi1 on the LNS: %s", out)
	}
	if out, _ := lac.IP("route", "show", "198.19.0.0/24"); !strings.Contains(string(out), "dev Vp1") {
		t.Errorf("ip route ... Virtual-PPP1 not installed: %s", out)
	}
	for _, c := range []struct {
		d     *served
		words []string
		want  []string
	}{
		{lnsD, []string{"show", "vpdn", "session"}, []string{"lac1, Vi1", " est "}},
		{lacD, []string{"show", "vpdn", "session"}, []string{"1, Vp1", " est "}},
		{lnsD, []string{"show", "caller", "user", "lac1"}, []string{"User: lac1, line Vi1, service PPPoVPDN", "PPP: LCP Open, CHAP (<--), IPCP", "IP: Local 198.19.0.1, remote 198.19.1."}},
		{lnsD, []string{"show", "interfaces", "virtual-access", "1"}, []string{"Virtual-Access1 is up, line protocol is up", "Using address of Loopback0 (198.19.0.1)", "cloned from Virtual-Template1"}},
		{lnsD, []string{"show", "users"}, []string{"Vi1", "lac1", "PPPoVPDN"}},
		{lnsD, []string{"show", "ip", "local", "pool"}, []string{"REMOTE", "198.19.1.10"}},
	} {
		s := c.d.show(c.words...)
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s lacks %q:\n%s", strings.Join(c.words, " "), w, s)
			}
		}
	}

	// A TCP transfer across the tunnel: 20 MB from the LAC's network to a
	// server on the LNS, checked end to end.
	transferTCP(t, lac, lns, "198.19.0.1:5001", 20<<20)
	// And the other way, to the LAC's pool address: TCP super-packets
	// read from Vi1 leave as segment trains, merged again on Vp1.
	transferTCP(t, lns, lac, vp1Addr(t, lac)+":5004", 20<<20)

	// clear interface virtual-access 1: the session ends and the LAC redials.
	if s := lnsD.show("clear", "interface", "virtual-access", "1"); !strings.Contains(s, "cleared") {
		t.Errorf("clear interface: %s", s)
	}
	waitFor(t, "the LAC to redial after clear interface", func() bool {
		out, _ := lac.Run(5*time.Second, "ping", "-c", "1", "-W", "1", "198.19.0.1")
		return strings.Contains(string(out), "1 received")
	})
	if err := lacD.stop(); err != nil {
		t.Errorf("LAC exit: %v", err)
	}
	if err := lnsD.stop(); err != nil {
		t.Errorf("LNS exit: %v", err)
	}
	for _, c := range []struct {
		ns  *nstest.NS
		dev string
	}{{lac, "Vp1"}, {lns, "Vi1"}} {
		if out, err := c.ns.IP("link", "show", c.dev); err == nil {
			t.Errorf("%s left behind: %s", c.dev, out)
		}
	}
	if capture != nil {
		capture.Stop()
		bad, err := nstest.Problems(capture.Path)
		if err != nil || len(bad) > 0 {
			t.Errorf("tshark: %v %v", bad, err)
		}
		ppp, _ := nstest.Decode(capture.Path, "lcp || chap || pap || ipcp")
		// What the wire carries: the TCP transfers left as segment trains
		// (UDP GSO), cut by the kernel into datagrams within the veth's
		// MTU, each one L2TP data message.
		data, _ := nstest.Decode(capture.Path, "l2tp.type == 0")
		big, _ := nstest.Decode(capture.Path, "frame.len > 1514")
		if len(data) < 10000 || len(big) > 0 {
			t.Errorf("capture: %d L2TP data messages, %d frames beyond 1514 octets: %v", len(data), len(big), big[:min(len(big), 5)])
		}
		t.Logf("capture: %d PPP control packets, %d L2TP data messages, no malformed packet", len(ppp), len(data))
	}
}

// vp1Addr returns the IPv4 address IPCP gave Vp1 in ns.
func vp1Addr(t *testing.T, ns *nstest.NS) string {
	t.Helper()
	out, _ := ns.IP("-4", "-o", "addr", "show", "dev", "Vp1")
	f := strings.Fields(string(out))
	for i, w := range f {
		if w == "inet" && i+1 < len(f) {
			return strings.Split(f[i+1], "/")[0]
		}
	}
	t.Fatalf("no address on Vp1: %s", out)
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// transferTCP sends n bytes from a client in from to a server in to (addr)
// and checks that the server received exactly them (SHA-256).
func transferTCP(t *testing.T, from, to *nstest.NS, addr string, n int) {
	t.Helper()
	transferTCPFrom(t, from, to, netip.Addr{}, addr, n)
}

// transferTCPFrom is transferTCP from the source address src (the zero
// Addr: the kernel's choice), as IOS's "source" picks an address inside a
// crypto ACL.
func transferTCPFrom(t *testing.T, from, to *nstest.NS, src netip.Addr, addr string, n int) {
	t.Helper()
	var ln net.Listener
	if err := to.Do(func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		m, err := io.Copy(h, c)
		got <- fmt.Sprintf("%d %x %v", m, h.Sum(nil), err)
	}()
	data := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	sum := sha256.Sum256(data)
	start := time.Now()
	err := from.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		if src.IsValid() {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		_, err = c.Write(data)
		return err
	})
	if err != nil {
		t.Fatalf("TCP transfer: %v", err)
	}
	res := <-got
	want := fmt.Sprintf("%d %x <nil>", n, sum)
	if res != want {
		t.Fatalf("TCP transfer: server got %q, want %q", res, want)
	}
	el := time.Since(start)
	t.Logf("TCP transfer: %d MB in %v (%.0f Mbit/s)", n>>20, el.Truncate(time.Millisecond), float64(n*8)/el.Seconds()/1e6)
}

// TestDialInNamespaces: vpdn dial (document 002's client fields, no
// configuration file) against a vpdn LNS: it prints the assigned address,
// traffic crosses, and SIGTERM clears the session and removes Vp1.
func TestDialInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	pc, lns := lab.NS("pc"), lab.NS("lns")
	lab.Link(pc, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lnsD := serveIn(t, lab, lns, "LNS", raLNS)
	lnsD.waitUp(t)
	out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := pc.Command(bin, "dial", "--server", "198.18.0.2", "--user", "lac1", "--password", "lacpass",
		"--tunnel-name", "LAC", "--tunnel-password", "tunnelpw", "--auth", "chap", "--route", "198.19.0.0/24")
	dial.Stdout, dial.Stderr = out, errOut
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("dial stdout:\n%s\ndial stderr:\n%s", out, errOut)
		}
	}()
	waitFor(t, "vpdn dial to report the address", func() bool { return strings.Contains(out.String(), "Virtual-PPP1 is up: address 198.19.1.") })
	t.Logf("vpdn dial: %s", lastLine(out.String()))
	if r, err := pc.IP("route", "show", "198.19.0.0/24"); err != nil || !strings.Contains(string(r), "dev Vp1") {
		t.Errorf("--route not installed: %s", r)
	}
	if p, err := pc.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "198.19.0.1"); err != nil {
		t.Fatalf("ping: %v\n%s", err, p)
	}
	transferTCP(t, pc, lns, "198.19.0.1:5002", 4<<20)
	dial.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- dial.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("vpdn dial exited with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("vpdn dial did not exit on SIGTERM")
	}
	if !strings.Contains(out.String(), "disconnected") {
		t.Errorf("no disconnect message: %s", out)
	}
	if l, err := pc.IP("link", "show", "Vp1"); err == nil {
		t.Errorf("Vp1 left behind: %s", l)
	}
	waitFor(t, "the LNS to see the session end", func() bool {
		return strings.Contains(lnsD.show("show", "vpdn", "session"), "No active L2TP sessions")
	})
	if l, err := lns.IP("link", "show", "Vi1"); err == nil {
		t.Errorf("Vi1 left behind on the LNS: %s", l)
	}
}

// TestLabCommand runs `vpdn lab` (the README's "run it" command) and checks
// that it connects, moves data intact and removes everything. It runs in a
// directory without examples/: the lab's configurations are built in.
func TestLabCommand(t *testing.T) {
	if err := nstest.Available(); err != nil {
		if os.Getenv("VPDN_REQUIRE_NETNS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := vpdnBinary(t)
	cmd := exec.Command(bin, "lab")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vpdn lab: %v\n%s", err, out)
	}
	for _, want := range []string{"Virtual-PPP1 is up", "0% packet loss", "server received 52428800 bytes", "l2tpuser, Vi1", "lab removed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("vpdn lab output lacks %q:\n%s", want, out)
		}
	}
	if l, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(l), "vpdnlab-") {
		t.Errorf("lab namespaces left behind: %s", l)
	}
}

// TestLabFailsAtOnceWhenADaemonDies: an LNS that cannot start (its listen
// address is on no interface of its namespace) ends the lab with the LNS's
// log, not with the 30-second wait for the tunnel.
func TestLabFailsAtOnceWhenADaemonDies(t *testing.T) {
	if err := nstest.Available(); err != nil {
		if os.Getenv("VPDN_REQUIRE_NETNS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := vpdnBinary(t)
	dir := t.TempDir()
	for _, name := range []string{"lab-lns.cfg", "lab-client.cfg"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "lab-lns.cfg" {
			b = []byte(strings.Replace(string(b), "vpdn l2tp listen 198.18.2.2:1701", "vpdn l2tp listen 198.18.9.9:1701", 1))
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	out, err := exec.Command(bin, "lab", "--examples", dir).CombinedOutput()
	if err == nil {
		t.Fatalf("vpdn lab with an LNS that cannot bind succeeded:\n%s", out)
	}
	for _, want := range []string{"vpdn on the LNS exited", "198.18.9.9"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("vpdn lab output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "did not come up in 30 s") {
		t.Errorf("the lab waited for the tunnel although the LNS had exited:\n%s", out)
	}
	if l, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(l), "vpdnlab-") {
		t.Errorf("lab namespaces left behind: %s", l)
	}
}

// TestSharedAccessInNamespaces: with vpdn virtual-access shared, the LNS
// carries the session on vpdn0 with a host route to the peer (no Vi1
// TUN); traffic crosses the same way and shutdown removes vpdn0.
func TestSharedAccessInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	lac, lns := lab.NS("lac"), lab.NS("lns")
	lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lnsD := serveIn(t, lab, lns, "LNS", raLNS+"vpdn virtual-access shared\n")
	lacD := serveIn(t, lab, lac, "LAC", raLAC)
	waitFor(t, "Vp1 on the LAC", func() bool {
		out, _ := lac.IP("-4", "addr", "show", "dev", "Vp1")
		return strings.Contains(string(out), "inet 198.19.1.")
	})
	if out, err := lac.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "198.19.0.1"); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	if out, _ := lns.IP("route", "show", "dev", "vpdn0"); !strings.Contains(string(out), "198.19.1.") {
		t.Errorf("no host route to the peer on vpdn0: %s", out)
	}
	if _, err := lns.IP("link", "show", "Vi1"); err == nil {
		t.Error("a Vi1 TUN exists in shared mode")
	}
	transferTCP(t, lac, lns, "198.19.0.1:5003", 4<<20)
	// From the shared interface to the session: super-packets read from
	// vpdn0 find their session by destination address.
	transferTCP(t, lns, lac, vp1Addr(t, lac)+":5005", 4<<20)
	if s := lnsD.show("show", "interfaces", "virtual-access", "1"); !strings.Contains(s, "Virtual-Access1 is up") {
		t.Errorf("show interfaces virtual-access 1:\n%s", s)
	}
	lacD.stop()
	lnsD.stop()
	if out, err := lns.IP("link", "show", "vpdn0"); err == nil {
		t.Errorf("vpdn0 left behind: %s", out)
	}
}

// labAddrs maps document 004's addresses into the lab range.
var labAddrs = strings.NewReplacer(
	"55.1.1.3", "198.18.0.2", // the LNS's underlay address
	"3.3.3.3", "198.19.3.3", // the LNS's Loopback0
	"7.7.7.7", "198.19.7.7", // the LAC's Loopback0
	"172.30.1.0", "198.19.172.0", // the network behind the LAC
	"192.168.1.0", "198.19.168.0", // the office network behind the LNS
)

// TestDocument004Configurations runs document 004's "L2TPv2 configuration
// via interface virtual-ppp" as written in the fixtures, with only the
// addresses mapped into the lab range and the hostnames the document's
// prompts show: tunnel authentication with the tunnel password, mutual
// MS-CHAPv2 where each side answers with the password of `username
// <the other>`, the LAC's own unnumbered address accepted by an LNS with
// "no peer default ip address", and show caller user as the document
// prints it.
func TestDocument004Configurations(t *testing.T) {
	lab := nstest.New(t)
	lac, lns := lab.NS("lac"), lab.NS("lns")
	lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	read := func(name string) string {
		b, err := os.ReadFile("../../config/testdata/docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return labAddrs.Replace(string(b))
	}
	lnsD := serveIn(t, lab, lns, "LNS", "hostname LNS\nvpdn l2tp listen 198.18.0.2:1701\n"+read("004-l2tpv2-lns-vppp.cfg"))
	serveIn(t, lab, lac, "LAC", "hostname LAC\nvpdn l2tp listen 198.18.0.1:1701\n"+read("004-l2tpv2-lac-vppp.cfg"))
	waitFor(t, "Vp1 with the LAC's Loopback0 address", func() bool {
		out, _ := lac.IP("-4", "addr", "show", "dev", "Vp1")
		return strings.Contains(string(out), "inet 198.19.7.7 peer 198.19.3.3")
	})
	if out, err := lac.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "198.19.3.3"); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	out := lnsD.show("show", "caller", "user", "LAC")
	for _, want := range []string{"User: LAC, line Vi1, service PPPoVPDN", "PPP: LCP Open, MS CHAP V2 (<-->), IPCP", "IP: Local 198.19.3.3, remote 198.19.7.7"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("show caller user LAC lacks %q:\n%s", want, out)
		}
	}
	// Each side installs its routes when its own IPCP opens, which need
	// not be when the other's did: wait for them rather than look once.
	waitFor(t, "ip route 192.168.1.0 255.255.255.0 Virtual-PPP1 (mapped) on the LAC", func() bool {
		r, _ := lac.IP("route", "show", "198.19.168.0/24")
		return strings.Contains(string(r), "dev Vp1")
	})
	// The LNS's ip route 172.30.1.0 255.255.255.0 7.7.7.7 (mapped) resolves
	// through Vi1 once the session is up.
	waitFor(t, "the LNS's static route to the LAC's network via Vi1", func() bool {
		r, _ := lns.IP("route", "show", "198.19.172.0/24")
		return strings.Contains(string(r), "via 198.19.7.7 dev Vi1")
	})
}
