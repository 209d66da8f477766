package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// remoteCallIDs returns the Remote call ids (the clients' Call IDs) of the
// PPTP sessions `show vpdn session all` lists.
func remoteCallIDs(d *served) map[uint16]bool {
	ids := map[uint16]bool{}
	for _, m := range remoteCallRE.FindAllStringSubmatch(d.show("show", "vpdn", "session", "all"), -1) {
		if v, err := strconv.ParseUint(m[1], 10, 16); err == nil {
			ids[uint16(v)] = true
		}
	}
	return ids
}

var remoteCallRE = regexp.MustCompile(`Remote call id is (\d+)`)

// TestPPTPBehindNAT: three PPTP clients behind one NAT (one public
// address) are up at once on one hub. Their control connections are three
// TCP connections from the same address, masqueraded by nftables; their
// GRE carries no ports, so the hub tells the calls apart by its own Call ID
// in the GRE key and the peer address, and answers each call on the
// client's Call ID.
//
// This kernel has no nf_conntrack_pptp, the helper with which Linux NATs
// PPTP (it follows the control connection and maps Call IDs). The NAT
// here does what that helper does for the return path with stateless
// nftables rules: GRE leaving a client is rewritten to the public address;
// GRE arriving on it is sent to the client whose Call ID its key names.
// The test learns each client's Call ID from the hub's show output (the
// helper would read it off the Outgoing-Call-Request), so the clients are
// started one after the other; then all three carry traffic at once.
func TestPPTPBehindNAT(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	nat, hub := lab.NS("nat"), lab.NS("hub")
	lab.Link(nat, hub, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	const clients = 3
	pcs := natClients(t, lab, nat, clients)
	rules := `table ip vpdnnat {
	chain raw {
		type filter hook prerouting priority raw
		ip protocol gre notrack
	}
	chain gre_in {
		type filter hook prerouting priority mangle
	}
	chain gre_out {
		type filter hook postrouting priority filter
		ip protocol gre ip saddr 198.18.8.0/21 ip saddr set 198.18.0.1
	}
	chain masq {
		type nat hook postrouting priority srcnat
		ip protocol tcp ip saddr 198.18.8.0/21 masquerade
	}
}
`
	nft := func(args ...string) {
		t.Helper()
		if out, err := nat.Run(5*time.Second, "nft", args...); err != nil {
			t.Fatalf("nft %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	path := filepath.Join(t.TempDir(), "nat.nft")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	nft("-f", path)

	b, err := os.ReadFile("../../config/testdata/docs/004-pptp-hub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := "hostname PPTP_HUB\nvpdn pptp listen 198.18.0.2\n" + strings.ReplaceAll(string(b), "192.168.2.", "198.19.2.")
	for i := 2; i <= clients; i++ {
		cfg += fmt.Sprintf("username user%d password pass%d\n", i, i)
	}
	hubD := serveIn(t, lab, hub, "PPTP_HUB", cfg)
	hubD.waitUp(t)

	known := map[uint16]bool{}
	addrs := make([]string, clients)
	upRE := regexp.MustCompile(`Dialer1 is up: address (198\.19\.2\.\d+)`)
	for i, pc := range pcs {
		user, pass := "cisco2", "cisco2"
		if i > 0 {
			user, pass = fmt.Sprintf("user%d", i+1), fmt.Sprintf("pass%d", i+1)
		}
		out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		dial := pc.Command(bin, "dial", "--protocol", "pptp", "--mppe", "required", "--server", "198.18.0.2",
			"--user", user, "--password", pass, "--route", "198.19.2.0/24")
		dial.Stdout, dial.Stderr = out, errOut
		if err := lab.Start(dial); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("client %d stdout:\n%s\nstderr:\n%s", i+1, out, errOut)
			}
		})
		// The call is placed over TCP, through the masquerade; its Call ID
		// is the one the hub has not seen before.
		var id uint16
		waitFor(t, fmt.Sprintf("the hub to see client %d's call", i+1), func() bool {
			for c := range remoteCallIDs(hubD) {
				if !known[c] {
					id = c
					return true
				}
			}
			return false
		})
		known[id] = true
		// GRE to the public address whose key is this client's Call ID goes
		// to this client (offset 48 bits into the GRE header: the Call ID of
		// RFC 2637 §4.1).
		nft("add", "rule", "ip", "vpdnnat", "gre_in", "ip", "daddr", "198.18.0.1", "ip", "protocol", "gre",
			"@th,48,16", strconv.Itoa(int(id)), "ip", "daddr", "set", fmt.Sprintf("198.18.%d.2", 11+i))
		waitFor(t, fmt.Sprintf("client %d to report its address", i+1), func() bool {
			m := upRE.FindStringSubmatch(out.String())
			if m != nil {
				addrs[i] = m[1]
			}
			return m != nil
		})
		t.Logf("client %d (Call ID %d): %s", i+1, id, lastLine(out.String()))
	}

	// All three at once: the hub lists three calls from the one public
	// address, and each client reaches the hub's inside while the others do.
	ses := hubD.show("show", "vpdn", "session", "all")
	if n := strings.Count(ses, "Internet Address is 198.18.0.1"); n != clients {
		t.Errorf("hub lists %d calls from 198.18.0.1, want %d:\n%s", n, clients, ses)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Errorf("two clients got address %s", a)
		}
		seen[a] = true
	}
	var wg sync.WaitGroup
	errs := make([]error, clients)
	outs := make([][]byte, clients)
	for i, pc := range pcs {
		wg.Go(func() {
			outs[i], errs[i] = pc.Run(30*time.Second, "ping", "-c", "20", "-i", "0.2", "-W", "2", "198.19.2.2")
		})
	}
	wg.Wait()
	for i := range pcs {
		if errs[i] != nil || !strings.Contains(string(outs[i]), " 0% packet loss") {
			t.Errorf("client %d ping: %v\n%s", i+1, errs[i], outs[i])
		}
	}
	// Each call's acks come back through the NAT: the hub's Remote Nr moves.
	if m := regexp.MustCompile(`Remote Nr (\d+)`).FindAllStringSubmatch(hubD.show("show", "vpdn", "session", "all"), -1); len(m) != clients {
		t.Errorf("Remote Nr on %d calls, want %d", len(m), clients)
	} else {
		for _, r := range m {
			if r[1] == "0" {
				t.Errorf("a call's Remote Nr is 0 after pings: the client's acks do not reach the hub")
			}
		}
	}
	for i, pc := range pcs {
		transferTCP(t, pc, hub, fmt.Sprintf("198.19.2.2:%d", 5100+i), 1<<20)
	}
	if out, err := nat.Run(5*time.Second, "nft", "list", "chain", "ip", "vpdnnat", "gre_in"); err == nil {
		t.Logf("the NAT's return path:\n%s", out)
	}
}

// natClients makes n client namespaces, pc1 to pcN, each on its own LAN
// 198.18.(11+i).0/24 behind nat and routed through it to the underlay
// 198.18.0.0/24, and turns forwarding on in nat (its NAT rules are the
// caller's).
func natClients(t *testing.T, lab *nstest.Lab, nat *nstest.NS, n int) []*nstest.NS {
	t.Helper()
	var pcs []*nstest.NS
	for i := range n {
		pc := lab.NS(fmt.Sprintf("pc%d", i+1))
		lan := fmt.Sprintf("198.18.%d.", 11+i)
		lab.Link(pc, nat, mustPrefix(lan+"2/24"), mustPrefix(lan+"1/24"))
		pc.Route(mustPrefix("198.18.0.0/24"), netip.MustParseAddr(lan+"1"))
		pcs = append(pcs, pc)
	}
	if out, err := nat.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatalf("sysctl: %v %s", err, out)
	}
	return pcs
}
