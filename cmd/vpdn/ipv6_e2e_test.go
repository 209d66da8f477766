package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// ipv6LNS is l2tpIPsecLNS's remote-access LNS without its crypto map,
// with IPv6 on the sessions of Virtual-Template1: each a /64 of an ipv6
// local pool (2001:db8::/32, the documentation prefix, exists only inside
// the test's namespaces).
var ipv6LNS = l2tpIPsecLNS[:strings.Index(l2tpIPsecLNS, "crypto isakmp")] + `interface Virtual-Template1
 ipv6 enable
 ipv6 nd ra interval 10
 peer default ipv6 pool V6
ipv6 local pool V6 2001:db8:100::/48 64
`

// TestIPv6InNamespaces: vpdn dial --ipv6 --ipv6-default-route against a
// vpdn LNS. IPv6CP opens, the LNS advertises the pool's first /64 in user
// space, the client forms its address by SLAAC and routes ::/0 through the
// session; ping6 from that address to an address of the LNS's host passes;
// a packet from a source outside the session's prefix is dropped as
// spoofed-source; tshark finds IPv6CP and the Router Advertisement and
// nothing malformed in the L2TP underlay.
func TestIPv6InNamespaces(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	client, lns := lab.NS("client"), lab.NS("lns")
	_, lnsDev := lab.Link(client, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	// An address of the LNS's host to ping (lo: on no link of the lab).
	lns.MustIP("-6", "addr", "add", "2001:db8:ff::1/128", "dev", "lo")
	capture := lab.Capture(lns, lnsDev, "udp port 1701")
	lnsD := serveIn(t, lab, lns, "LNS", ipv6LNS)
	t.Cleanup(func() { lnsD.stop() })
	lnsD.waitUp(t)

	slaac, _ := dialIPv6(t, lab, bin, client, lnsD, "2001:db8:100:0:", "--user", "user1", "--password", "pass1", "--ipv6", "--ipv6-default-route")
	if out, err := client.IP("-6", "route", "show", "default"); err != nil || !strings.Contains(string(out), "dev Vp1") {
		t.Errorf("no default route through Vp1: %v %s", err, out)
	}
	if out, err := lns.IP("-6", "route", "show", "2001:db8:100::/64"); err != nil || !strings.Contains(string(out), "dev Vi1") {
		t.Errorf("LNS: no route to the session's /64 through Vi1: %v %s", err, out)
	}
	ping6(t, client, slaac, "2001:db8:ff::1")
	u := lnsD.show("show", "caller", "user", "user1")
	for _, want := range []string{"IPCP, IPV6CP", "Prefix 2001:db8:100::/64 (pool V6), advertised and routed, applied"} {
		if !strings.Contains(u, want) {
			t.Errorf("show caller user lacks %q:\n%s", want, u)
		}
	}
	// A source outside the session's prefix: the LNS drops it.
	before := spoofed(lnsD)
	client.MustIP("-6", "addr", "add", "2001:db8:bad::1/128", "dev", "Vp1", "nodad")
	client.Run(5*time.Second, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", "-I", "2001:db8:bad::1", "2001:db8:ff::1")
	if after := spoofed(lnsD); after < before+2 {
		t.Errorf("spoofed-source drops %d -> %d, want 2 more\n%s", before, after, lnsD.show("show", "vpdn", "session", "all"))
	}
	checkIPv6Capture(t, capture, nil)
}

// checkIPv6Capture stops the capture and checks that tshark finds IPv6CP,
// Router Solicitations and Advertisements, echo replies, what more (a
// display filter and what it is) says, and nothing malformed.
func checkIPv6Capture(t *testing.T, capture *nstest.Capture, more map[string]string) {
	t.Helper()
	capture.Stop()
	if capture == nil {
		return
	}
	want := map[string]string{"ipv6cp": "IPv6CP", "icmpv6.type == 134": "Router Advertisement",
		"icmpv6.type == 133": "Router Solicitation", "icmpv6.type == 129": "echo reply"}
	for k, v := range more {
		want[k] = v
	}
	for filter, what := range want {
		pkts, err := nstest.Decode(capture.Path, filter, "frame.number")
		if err != nil || len(pkts) == 0 {
			t.Errorf("capture: no %s (%s): %v", what, filter, err)
		}
	}
	if bad, err := nstest.Problems(capture.Path); err != nil || len(bad) > 0 {
		t.Errorf("tshark finds problems: %v\n%s", err, strings.Join(bad, "\n"))
	}
}

// dialIPv6 runs vpdn dial with args (and the server, 198.18.0.2) in
// client until the session ends with the test, and waits (bounded) for an
// address starting with prefix on Vp1. It returns the address and the
// dial's log.
func dialIPv6(t *testing.T, lab *nstest.Lab, bin string, client *nstest.NS, lnsD *served, prefix string, args ...string) (string, *nstest.SyncBuffer) {
	t.Helper()
	stdout, stderr := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := client.Command(bin, append([]string{"dial", "--server", "198.18.0.2", "--timeout", "20s", "--log-level", "info"}, args...)...)
	dial.Stdout, dial.Stderr = stdout, stderr
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dial.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { dial.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			dial.Process.Kill()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := client.IP("-6", "-o", "addr", "show", "dev", "Vp1")
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, prefix) {
				return strings.TrimSuffix(f, "/64"), stderr
			}
		}
		if time.Now().After(deadline) {
			out, _ := client.IP("-6", "addr")
			t.Fatalf("no SLAAC address in %s on the client:\n%s\ndial: %s%s\nLNS log:\n%s", prefix, out, stdout, stderr, tail(lnsD.logs.String(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ping6 pings dst from src in ns; the kernel may hold a new address
// tentative for a moment (DAD), so it tries a few times.
func ping6(t *testing.T, ns *nstest.NS, src, dst string) {
	t.Helper()
	var out []byte
	var err error
	for range 10 {
		if out, err = ns.Run(10*time.Second, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-I", src, dst); err == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("ping6 from %s to %s: %v\n%s", src, dst, err, out)
}

// TestIPv6RADIUSInNamespaces: FreeRADIUS gives the user a
// Framed-IPv6-Prefix and a Delegated-IPv6-Prefix; the template has no ipv6
// commands. The session runs IPv6CP because the authorization asks: the
// client's address comes from the Framed-IPv6-Prefix by SLAAC, the
// delegated prefix is routed on the LNS to the client's link-local
// address and handed to vpdn dial --ipv6-pd by DHCPv6; show caller user
// says both are applied; tshark finds the DHCPv6 Reply and nothing
// malformed.
func TestIPv6RADIUSInNamespaces(t *testing.T) {
	lab, bin, client, _, lnsD := newRadiusLab(t, radiusLNS, func(lab *nstest.Lab, lns *nstest.NS) *peers.FreeRADIUSPeer {
		return peers.FreeRADIUSSigning(t, lab, lns, peers.User{Name: "raduser", Password: "radpass",
			Reply: []string{"Framed-IPv6-Prefix = 2001:db8:1::/64", "Delegated-IPv6-Prefix = 2001:db8:2::/56"}})
	})
	lns := lnsD.ns
	lns.MustIP("-6", "addr", "add", "2001:db8:ff::1/128", "dev", "lo")
	lnsDev := ""
	if out, err := lns.IP("-o", "-4", "addr", "show", "to", "198.18.0.2"); err == nil {
		if f := strings.Fields(string(out)); len(f) > 1 {
			lnsDev = f[1]
		}
	}
	capture := lab.Capture(lns, lnsDev, "udp port 1701")
	slaac, log := dialIPv6(t, lab, bin, client, lnsD, "2001:db8:1:0:", "--user", "raduser", "--password", "radpass", "--auth", "chap",
		"--ipv6", "--ipv6-default-route", "--ipv6-pd")
	ping6(t, client, slaac, "2001:db8:ff::1")
	waitFor(t, "the delegation in the client's log", func() bool { return strings.Contains(log.String(), "2001:db8:2::/56") })
	if out, err := lns.IP("-6", "route", "show", "2001:db8:2::/56"); err != nil || !strings.Contains(string(out), "via fe80::") || !strings.Contains(string(out), "dev Vi1") {
		t.Errorf("LNS: no route to the delegated prefix via the client's link-local address: %v %s", err, out)
	}
	u := lnsD.show("show", "caller", "user", "raduser")
	for _, want := range []string{"IPCP, IPV6CP", "Prefix 2001:db8:1::/64 (Framed-IPv6-Prefix), advertised and routed, applied",
		"Delegated 2001:db8:2::/56 routed via fe80::", "offered by DHCPv6-PD"} {
		if !strings.Contains(u, want) {
			t.Errorf("show caller user lacks %q:\n%s", want, u)
		}
	}
	checkIPv6Capture(t, capture, map[string]string{"dhcpv6.msgtype == 7": "DHCPv6 Reply"})
}

// spoofed is the LNS's spoofed-source drop count (show vpdn session all).
func spoofed(s *served) int {
	total := 0
	for _, line := range strings.Split(s.show("show", "vpdn", "session", "all"), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "spoofed source:"); ok {
			var n int
			fmt.Sscan(strings.TrimSpace(rest), &n)
			total += n
		}
	}
	return total
}
