package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
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

	stdout, stderr := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := client.Command(bin, "dial", "--server", "198.18.0.2", "--user", "user1", "--password", "pass1",
		"--ipv6", "--ipv6-default-route", "--timeout", "20s")
	dial.Stdout, dial.Stderr = stdout, stderr
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	defer func() {
		dial.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { dial.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			dial.Process.Kill()
		}
	}()
	var slaac string
	deadline := time.Now().Add(30 * time.Second)
	for slaac == "" {
		if time.Now().After(deadline) {
			out, _ := client.IP("-6", "addr")
			t.Fatalf("no SLAAC address on the client:\n%s\ndial: %s%s\nLNS log:\n%s", out, stdout, stderr, tail(lnsD.logs.String(), 40))
		}
		time.Sleep(200 * time.Millisecond)
		out, _ := client.IP("-6", "-o", "addr", "show", "dev", "Vp1")
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "2001:db8:100:0:") {
				slaac = strings.TrimSuffix(f, "/64")
			}
		}
	}
	if out, err := client.IP("-6", "route", "show", "default"); err != nil || !strings.Contains(string(out), "dev Vp1") {
		t.Errorf("no default route through Vp1: %v %s", err, out)
	}
	if out, err := lns.IP("-6", "route", "show", "2001:db8:100::/64"); err != nil || !strings.Contains(string(out), "dev Vi1") {
		t.Errorf("LNS: no route to the session's /64 through Vi1: %v %s", err, out)
	}
	// The kernel may hold the address tentative for a moment (DAD).
	var ping []byte
	var err error
	for i := 0; i < 10; i++ {
		if ping, err = client.Run(10*time.Second, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-I", slaac, "2001:db8:ff::1"); err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ping6 from %s to the LNS: %v\n%s", slaac, err, ping)
	}
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
	capture.Stop()
	if capture == nil {
		return
	}
	for filter, what := range map[string]string{"ipv6cp": "IPv6CP", "icmpv6.type == 134": "Router Advertisement",
		"icmpv6.type == 133": "Router Solicitation", "icmpv6.type == 129": "echo reply"} {
		pkts, err := nstest.Decode(capture.Path, filter, "frame.number")
		if err != nil || len(pkts) == 0 {
			t.Errorf("capture: no %s (%s): %v", what, filter, err)
		}
	}
	if bad, err := nstest.Problems(capture.Path); err != nil || len(bad) > 0 {
		t.Errorf("tshark finds problems: %v\n%s", err, strings.Join(bad, "\n"))
	}
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
