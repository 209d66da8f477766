package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// l2tpIPsecLNS is an LNS behind document 004's "L2TPv2 over IPSec" crypto
// map, for remote-access clients: the transport-mode transform set of the
// document, and a dynamic map (the clients' addresses are not known, and
// behind a NAT not even theirs) whose ACL protects udp 1701 of the LNS.
const l2tpIPsecLNS = `hostname LNS
username user1 password pass1
username user2 password pass2
username user3 password pass3
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group L2TP
 accept-dialin
  protocol l2tp
  virtual-template 1
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication ms-chap-v2
ip local pool P 198.19.1.10 198.19.1.200
crypto isakmp policy 10
 encr aes 256
 hash sha
 authentication pre-share
 group 14
crypto isakmp key l2tpsecret address 0.0.0.0 0.0.0.0
crypto isakmp nat keepalive 10
crypto ipsec transform-set ESP-AES256-SHA1 esp-aes 256 esp-sha-hmac
 mode transport
crypto dynamic-map L2TP_DYN 10
 set transform-set ESP-AES256-SHA1
 match address L2TP_TRAFFIC
crypto map L2TP_VPN 10 ipsec-isakmp dynamic L2TP_DYN
ip access-list extended L2TP_TRAFFIC
 permit udp host 198.18.0.2 eq 1701 any
interface Ethernet0/1
 ip address 198.18.0.2 255.255.255.0
 crypto map L2TP_VPN
`

// TestL2TPIPsecBehindNAT is issue 14's L2TP/IPsec case: three `vpdn dial
// --ipsec-psk` clients in three namespaces behind one nftables masquerade
// (one public address) up at once on a vpdn LNS behind an L2TP/IPsec
// crypto map, each with its own IKE SA, transport-mode ESP SA (UDP
// encapsulated, told apart by the NAT-T port) and L2TP tunnel; pings and a
// TCP transfer on each concurrently; tshark decrypts the ESP with the
// negotiated keys and finds L2TP inside, nothing malformed. Then a
// client with a wrong key fails with a clear error and exit status, and
// clear-text L2TP to the protected LNS is dropped and counted.
func TestL2TPIPsecBehindNAT(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	nat, lns := lab.NS("nat"), lab.NS("lns")
	natDev, lnsDev := lab.Link(nat, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	const clients = 3
	pcs := natClients(t, lab, nat, clients)
	nat.Masquerade(natDev, mustPrefix("198.18.8.0/21"))
	// ESP in UDP 4500 leaves in UDP_SEGMENT trains: cut on the wire for
	// the capture to see packets (the capture's own end is cut by
	// Capture).
	lab.SegmentOnWire(nat, natDev)
	capture := lab.Capture(lns, lnsDev, "udp port 500 or udp port 4500 or udp port 1701 or ip proto 50")
	lnsD := serveIn(t, lab, lns, "LNS", l2tpIPsecLNS)
	lnsD.waitUp(t)

	upRE := regexp.MustCompile(`Virtual-PPP1 is up: address (198\.19\.1\.\d+)`)
	addrs := make([]string, clients)
	outs := make([]*nstest.SyncBuffer, clients)
	for i, pc := range pcs {
		out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		outs[i] = out
		dial := pc.Command(bin, "dial", "--server", "198.18.0.2", "--ipsec-psk", "l2tpsecret", "--auth", "ms-chap-v2",
			"--user", fmt.Sprintf("user%d", i+1), "--password", fmt.Sprintf("pass%d", i+1), "--route", "198.19.0.0/24")
		dial.Stdout, dial.Stderr = out, errOut
		if err := lab.Start(dial); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("client %d stdout:\n%s\nstderr:\n%s", i+1, out, errOut)
			}
		})
	}
	// All three come up at once (IKE, ESP, L2TP, PPP, IPCP).
	for i := range pcs {
		waitFor(t, fmt.Sprintf("client %d to report its address", i+1), func() bool {
			m := upRE.FindStringSubmatch(outs[i].String())
			if m != nil {
				addrs[i] = m[1]
			}
			return m != nil
		})
		t.Logf("client %d: %s", i+1, lastLine(outs[i].String()))
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
	pings := make([][]byte, clients)
	for i, pc := range pcs {
		wg.Go(func() {
			pings[i], errs[i] = pc.Run(30*time.Second, "ping", "-c", "20", "-i", "0.2", "-W", "2", "198.19.0.1")
		})
		wg.Go(func() { transferTCP(t, pc, lns, fmt.Sprintf("198.19.0.1:%d", 5200+i), 1<<20) })
	}
	wg.Wait()
	for i := range pcs {
		if errs[i] != nil || !strings.Contains(string(pings[i]), " 0% packet loss") {
			t.Errorf("client %d ping: %v\n%s", i+1, errs[i], pings[i])
		}
	}

	ipsec := lnsD.show("show", "crypto", "ipsec", "sa")
	t.Logf("LNS: show crypto ipsec sa:\n%s", ipsec)
	if n := strings.Count(ipsec, "in use settings ={Transport UDP-Encaps, }"); n != 2*clients {
		t.Errorf("show crypto ipsec sa: %d transport UDP-encapsulated SAs (in and out), want %d", n, 2*clients)
	}
	var sas []ipsecSA
	raw := lnsD.show("show", "crypto", "ipsec", "sa", "--json", "--secrets")
	if err := json.Unmarshal([]byte(raw), &sas); err != nil || len(sas) != clients {
		t.Fatalf("show crypto ipsec sa --json --secrets: %v (%d SAs)\n%s", err, len(sas), raw)
	}
	ports := map[uint16]bool{}
	for _, sa := range sas {
		if sa.Peer != "198.18.0.1" || sa.Encaps == 0 || sa.Decaps == 0 || sa.Keys == nil {
			t.Errorf("SA %#x: peer %s port %d, encaps %d decaps %d", sa.SPIIn, sa.Peer, sa.PeerPort, sa.Encaps, sa.Decaps)
		}
		ports[sa.PeerPort] = true
	}
	if len(ports) != clients {
		t.Errorf("the SAs' NAT-T ports %v: not %d distinct", ports, clients)
	}
	isakmp := lnsD.show("show", "crypto", "isakmp", "sa")
	t.Logf("LNS: show crypto isakmp sa:\n%s", isakmp)
	if strings.Count(isakmp, "QM_IDLE") != clients {
		t.Errorf("show crypto isakmp sa: want %d QM_IDLE", clients)
	}
	sess := lnsD.show("show", "vpdn", "session")
	t.Logf("LNS: show vpdn session:\n%s", sess)
	if n := strings.Count(sess, "est"); n < clients {
		t.Errorf("show vpdn session: %d established sessions, want %d", n, clients)
	}

	// Clear-text L2TP to the protected LNS (an SCCRQ header from a host
	// with no SA) is dropped and counted.
	before := dropCount(lnsD.show("show", "l2tp", "counters"), "ipsec-cleartext")
	sccrq := []byte("\xc8\x02\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x00")
	if err := pcs[0].Do(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.18.0.2:1701")))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(sccrq)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the clear-text datagram to be counted", func() bool {
		return dropCount(lnsD.show("show", "l2tp", "counters"), "ipsec-cleartext") > before
	})

	if capture != nil {
		capture.Stop()
		if bad, err := nstest.Problems(capture.Path); err != nil || len(bad) > 0 {
			t.Errorf("tshark: %v %v", err, bad)
		}
		count := tsharkESP(t, capture.Path, "198.18.0.2", "198.18.0.1", "HMAC-SHA-1-96 [RFC2404]", sas...)
		espN, l2tpN := count("esp"), count("esp && l2tp")
		good, badICV := count("esp.icv_good == 1"), count("esp.icv_bad == 1")
		malformed := count("_ws.malformed || _ws.expert.severity >= error")
		t.Logf("tshark decrypting with the negotiated keys: %d ESP packets, %d with L2TP inside; ICVs good %d, bad %d", espN, l2tpN, good, badICV)
		if espN < 100 || l2tpN < espN/2 || badICV != 0 || malformed != 0 {
			t.Errorf("decrypted capture: esp %d l2tp %d icv good %d bad %d malformed %d", espN, l2tpN, good, badICV, malformed)
		}
	}
}

// dropCount reads one reason's count from show vpdn drops.
func dropCount(out, reason string) int {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == reason {
			var n int
			fmt.Sscan(f[len(f)-1], &n)
			return n
		}
	}
	return 0
}

// TestL2TPIPsecWrongKey: a client whose pre-shared key is not the
// server's fails with IOS's "Death by retransmission P1" in MM_KEY_EXCH,
// a message naming --ipsec-psk and exit status 3.
func TestL2TPIPsecWrongKey(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	pc, lns := lab.NS("pc"), lab.NS("lns")
	lab.Link(pc, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lnsD := serveIn(t, lab, lns, "LNS", l2tpIPsecLNS)
	lnsD.waitUp(t)
	out, err := pc.Run(120*time.Second, bin, "dial", "--server", "198.18.0.2", "--ipsec-psk", "not-the-key",
		"--user", "user1", "--password", "pass1", "--timeout", "110s")
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	t.Logf("vpdn dial with a wrong key (exit %d):\n%s", code, out)
	if code != exitIPsec || !strings.Contains(string(out), "Death by retransmission P1 in MM_KEY_EXCH") || !strings.Contains(string(out), "--ipsec-psk") {
		t.Errorf("want exit %d and a message naming the key; got %d", exitIPsec, code)
	}
}

// TestDocument004L2TPOverIPsec runs document 004's "L2TPv2 over IPSec" as
// written: its LAC and LNS (the Virtual-PPP pair) with the crypto maps of
// the section, transport mode over raw ESP, addresses mapped into the lab
// range. The LAC's first SCCRQ starts IKE (dropped, as IOS drops while
// negotiating) and L2TP comes up inside ESP; pings cross; both sides show
// their SA pair in use as {Transport, }; on the wire no L2TP goes in
// clear, and tshark, given the keys, finds it inside the ESP.
func TestDocument004L2TPOverIPsec(t *testing.T) {
	lab := nstest.New(t)
	lac, lns := lab.NS("lac"), lab.NS("lns")
	_, lnsDev := lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	read := func(name string) string {
		b, err := os.ReadFile("../../config/testdata/docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(labAddrs.Replace(string(b)), "77.1.1.7", "198.18.0.1")
	}
	capture := lab.Capture(lns, lnsDev, "udp port 500 or udp port 4500 or udp port 1701 or ip proto 50")
	lnsD := serveIn(t, lab, lns, "LNS", "hostname LNS\nvpdn l2tp listen 198.18.0.2:1701\n"+read("004-l2tpv2-lns-vppp.cfg")+read("004-l2tp-over-ipsec-lns.cfg"))
	lacD := serveIn(t, lab, lac, "LAC", "hostname LAC\nvpdn l2tp listen 198.18.0.1:1701\n"+read("004-l2tpv2-lac-vppp.cfg")+read("004-l2tp-over-ipsec-lac.cfg"))
	waitFor(t, "Vp1 with the LAC's Loopback0 address", func() bool {
		out, _ := lac.IP("-4", "addr", "show", "dev", "Vp1")
		return strings.Contains(string(out), "inet 198.19.7.7 peer 198.19.3.3")
	})
	if out, err := lac.Run(15*time.Second, "ping", "-c", "5", "-i", "0.2", "-W", "2", "198.19.3.3"); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	for name, d := range map[string]*served{"LNS": lnsD, "LAC": lacD} {
		out := d.show("show", "crypto", "ipsec", "sa")
		if strings.Count(out, "in use settings ={Transport, }") != 2 || strings.Contains(out, "#pkts encaps: 0") {
			t.Errorf("%s: show crypto ipsec sa:\n%s", name, out)
		}
	}
	t.Logf("LNS: show crypto ipsec sa:\n%s", lnsD.show("show", "crypto", "ipsec", "sa"))
	var sas []ipsecSA
	raw := lnsD.show("show", "crypto", "ipsec", "sa", "--json", "--secrets")
	if err := json.Unmarshal([]byte(raw), &sas); err != nil || len(sas) != 1 || sas[0].Keys == nil {
		t.Fatalf("show crypto ipsec sa --json --secrets: %v\n%s", err, raw)
	}
	if capture != nil {
		capture.Stop()
		if bad, err := nstest.Problems(capture.Path); err != nil || len(bad) > 0 {
			t.Errorf("tshark: %v %v", err, bad)
		}
		sa := sas[0]
		count := tsharkESP(t, capture.Path, "198.18.0.2", "198.18.0.1", "HMAC-SHA-1-96 [RFC2404]", sa)
		espN, inside, clear := count("esp"), count("esp && l2tp"), count("l2tp && !esp")
		badICV := count("esp.icv_bad == 1")
		t.Logf("tshark: %d ESP packets, %d with L2TP inside, %d L2TP in clear, %d bad ICVs", espN, inside, clear, badICV)
		if espN < 10 || inside != espN || clear != 0 || badICV != 0 {
			t.Errorf("capture: esp %d, l2tp inside %d, l2tp in clear %d, bad ICVs %d", espN, inside, clear, badICV)
		}
	}
}

// TestL2TPIPsecBothBehindNAT is the case Windows reports as error 809: the
// client behind a masquerade and the LNS behind a port-forward (DNAT of
// UDP 500, 4500 and 1701 on a public address). NAT-D finds both NATs,
// IKE floats to 4500, ESP goes UDP-encapsulated with keepalives, and the
// LNS takes the client's selectors naming its public address.
func TestL2TPIPsecBothBehindNAT(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	pc, natc, nats, lns := lab.NS("pc"), lab.NS("natc"), lab.NS("nats"), lab.NS("lns")
	lab.Link(pc, natc, mustPrefix("198.18.11.2/24"), mustPrefix("198.18.11.1/24"))
	outC, _ := lab.Link(natc, nats, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.3/24"))
	lab.Link(nats, lns, mustPrefix("198.18.30.1/24"), mustPrefix("198.18.30.2/24"))
	pc.Route(mustPrefix("198.18.0.0/24"), netip.MustParseAddr("198.18.11.1"))
	lns.Route(mustPrefix("198.18.0.0/24"), netip.MustParseAddr("198.18.30.1"))
	for _, ns := range []*nstest.NS{natc, nats} {
		if out, err := ns.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			t.Fatalf("sysctl: %v %s", err, out)
		}
	}
	natc.Masquerade(outC, netip.Prefix{})
	nats.NFT("table ip vpdnnat {\n\tchain portfwd {\n\t\ttype nat hook prerouting priority dstnat\n\t\tip daddr 198.18.0.3 udp dport { 500, 1701, 4500 } dnat to 198.18.30.2\n\t}\n}\n")
	lnsD := serveIn(t, lab, lns, "LNS", strings.ReplaceAll(l2tpIPsecLNS, "198.18.0.2", "198.18.30.2"))
	lnsD.waitUp(t)
	out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := pc.Command(bin, "dial", "--server", "198.18.0.3", "--ipsec-psk", "l2tpsecret", "--user", "user1", "--password", "pass1",
		"--route", "198.19.0.0/24")
	dial.Stdout, dial.Stderr = out, errOut
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("client stdout:\n%s\nstderr:\n%s", out, errOut)
		}
	})
	waitFor(t, "the client to report its address", func() bool { return strings.Contains(out.String(), "Virtual-PPP1 is up") })
	t.Logf("client: %s", lastLine(out.String()))
	if o, err := pc.Run(30*time.Second, "ping", "-c", "10", "-i", "0.2", "-W", "2", "198.19.0.1"); err != nil {
		t.Fatalf("ping: %v\n%s", err, o)
	}
	transferTCP(t, pc, lns, "198.19.0.1:5300", 1<<20)
	ipsec := lnsD.show("show", "crypto", "ipsec", "sa")
	if strings.Count(ipsec, "in use settings ={Transport UDP-Encaps, }") != 2 || !strings.Contains(ipsec, "current_peer 198.18.0.1 port") {
		t.Errorf("LNS: show crypto ipsec sa:\n%s", ipsec)
	}
	if isakmp := lnsD.show("show", "crypto", "isakmp", "sa", "detail"); !strings.Contains(isakmp, "N") {
		t.Errorf("LNS: show crypto isakmp sa detail without NAT-T:\n%s", isakmp)
	}
}
