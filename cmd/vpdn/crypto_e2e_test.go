package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// crypto004 is one of document 004's crypto-map configurations with its
// addresses mapped into the lab range (underlay 198.18.1.x, protected
// networks 198.19.x.0/24).
func crypto004(t *testing.T, name, extra string) string {
	t.Helper()
	b, err := os.ReadFile("../../config/testdata/docs/" + name + ".cfg")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("192.168.1.1", "198.18.1.1", "172.16.1.2", "198.18.1.2", "172.16.2.3", "198.18.1.3",
		"172.16.1.1 ", "198.18.1.2 ", "10.0.0.0", "198.19.0.0", "1.1.1.0", "198.19.1.0", "2.2.2.0", "198.19.2.0")
	return "hostname " + strings.TrimPrefix(name, "004-") + "\n" + r.Replace(string(b)) + extra
}

// TestCryptoMapInNamespaces: document 004's crypto-map hub (after the
// second spoke was added) and its two spokes, as written, each a `vpdn
// serve` in its own namespace, with real TUNs and raw ESP between them:
// pings between the protected networks (the first packet starts IKE and
// is lost, as the document's 80 percent shows), a TCP transfer with
// matching bytes, show crypto isakmp sa with QM_IDLE, show crypto ipsec
// sa with its counters moving; tshark finds nothing malformed.
func TestCryptoMapInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	hub, sp1, sp2 := lab.NS("hub"), lab.NS("sp1"), lab.NS("sp2")
	dev1, _ := lab.Link(hub, sp1, mustPrefix("198.18.1.1/24"), mustPrefix("198.18.1.2/24"))
	dev2, sp2dev := lab.Link(hub, sp2, mustPrefix("198.18.2.1/32"), mustPrefix("198.18.1.3/32"))
	hub.MustIP("route", "add", "198.18.1.3/32", "dev", dev2)
	sp2.MustIP("route", "add", "198.18.1.1/32", "dev", sp2dev)
	for ns, a := range map[*nstest.NS]string{hub: "198.19.0.1/24", sp1: "198.19.1.1/24", sp2: "198.19.2.1/24"} {
		ns.MustIP("addr", "add", a, "dev", "lo")
		ns.MustIP("link", "set", "lo", "up")
	}
	capture := lab.Capture(hub, dev1, "udp port 500 or udp port 4500 or ip proto 50")
	iface := func(addr, m string) string {
		return "interface Ethernet0/0\n ip address " + addr + " 255.255.255.0\n crypto map " + m + "\n"
	}
	hubD := serveIn(t, lab, hub, "hub", crypto004(t, "004-crypto-map-hub-two-spokes", ""))
	sp1D := serveIn(t, lab, sp1, "spoke1", crypto004(t, "004-crypto-map-spoke1", ""))
	sp2D := serveIn(t, lab, sp2, "spoke2", crypto004(t, "004-crypto-map-spoke2", iface("198.18.1.3", "SP2_HUB")))
	for _, s := range []*served{hubD, sp1D, sp2D} {
		s.waitUp(t)
	}
	_ = dev2
	// HUB#ping 1.1.1.1 source 10.0.0.1
	if out, err := hub.Run(30*time.Second, "ping", "-c", "5", "-i", "0.5", "-W", "2", "-I", "198.19.0.1", "198.19.1.1"); err != nil {
		t.Fatalf("ping spoke 1: %v\n%s", err, out)
	}
	// Spoke2 pings the hub's network: spoke 2 initiates.
	if out, err := sp2.Run(30*time.Second, "ping", "-c", "5", "-i", "0.5", "-W", "2", "-I", "198.19.2.1", "198.19.0.1"); err != nil {
		t.Fatalf("ping from spoke 2: %v\n%s", err, out)
	}
	if out, err := hub.Run(10*time.Second, "ping", "-c", "3", "-W", "2", "-I", "198.19.0.1", "198.19.2.1"); err != nil {
		t.Fatalf("ping spoke 2: %v\n%s", err, out)
	}
	transferTCPFrom(t, sp1, hub, netip.MustParseAddr("198.19.1.1"), "198.19.0.1:5014", 4<<20)

	isakmp := hubD.show("show", "crypto", "isakmp", "sa")
	if !strings.Contains(isakmp, "198.18.1.2") || !strings.Contains(isakmp, "198.18.1.3") || strings.Count(isakmp, "QM_IDLE") != 2 {
		t.Errorf("hub: show crypto isakmp sa:\n%s", isakmp)
	}
	t.Logf("hub: show crypto isakmp sa:\n%s", isakmp)
	ipsec := sp1D.show("show", "crypto", "ipsec", "sa")
	t.Logf("spoke 1: show crypto ipsec sa:\n%s", ipsec)
	for _, want := range []string{"Crypto map tag: SP1_HUB, local addr 198.18.1.2", "(198.19.1.0/255.255.255.0/256/0)", "current_peer 198.18.1.1 port 500", "esp-256-aes esp-md5-hmac"} {
		if !strings.Contains(ipsec, want) {
			t.Errorf("spoke 1: show crypto ipsec sa lacks %q", want)
		}
	}
	if strings.Contains(ipsec, "#pkts encaps: 0") || strings.Contains(ipsec, "#pkts decaps: 0") {
		t.Errorf("spoke 1: the counters did not move")
	}
	// The hub's keys with spoke 1 (admin role: --secrets), for tshark.
	var sas []ipsecSA
	raw := hubD.show("show", "crypto", "ipsec", "sa", "peer", "198.18.1.2", "--json", "--secrets")
	if err := json.Unmarshal([]byte(raw), &sas); err != nil || len(sas) == 0 || sas[0].Keys == nil || len(sas[0].Keys.EncIn) != 64 {
		t.Fatalf("show crypto ipsec sa --json --secrets: %v\n%s", err, raw)
	}
	if plain := hubD.show("show", "crypto", "ipsec", "sa", "--json"); strings.Contains(plain, sas[0].Keys.EncIn) {
		t.Fatal("keys shown without --secrets")
	}
	if capture != nil {
		capture.Stop()
		bad, err := nstest.Problems(capture.Path)
		if err != nil || len(bad) > 0 {
			t.Errorf("tshark: %v %v", err, bad)
		}
		esp, _ := nstest.Decode(capture.Path, "esp")
		isa, _ := nstest.Decode(capture.Path, "isakmp")
		if len(esp) < 10 || len(isa) < 9 {
			t.Errorf("capture: %d ESP, %d ISAKMP packets", len(esp), len(isa))
		}
		// tshark decrypts the ESP with the negotiated keys (both
		// directions), checks every ICV and finds the pings and the TCP
		// transfer inside, nothing malformed.
		count := tsharkESP(t, capture.Path, "198.18.1.1", "198.18.1.2", "HMAC-MD5-96 [RFC2403]", sas[0])
		icmp, tcp := count("esp && icmp && ip.src == 198.19.0.1"), count("esp && tcp && ip.src == 198.19.1.1")
		good, badICV := count("esp.icv_good == 1"), count("esp.icv_bad == 1")
		malformed := count("esp && (_ws.malformed || _ws.expert.severity >= error)")
		t.Logf("tshark decrypting with the negotiated keys: %d echo packets, %d TCP segments inside ESP; ICVs good %d, bad %d", icmp, tcp, good, badICV)
		if icmp == 0 || tcp < 100 || good < len(esp)/2 || badICV != 0 || malformed != 0 {
			t.Errorf("decrypted capture: icmp %d tcp %d icv good %d bad %d malformed %d (of %d ESP)", icmp, tcp, good, badICV, malformed, len(esp))
		}
	}
	for _, s := range []*served{hubD, sp1D, sp2D} {
		if err := s.stop(); err != nil {
			t.Errorf("%s: exit %v", s.name, err)
		}
	}
}

// ipsecSA is one SA pair of `show crypto ipsec sa --json --secrets`: what
// the tests check and what tshark needs to decrypt it.
type ipsecSA struct {
	Peer     string `json:"peer"`
	PeerPort uint16 `json:"peer_port"`
	SPIIn    uint32 `json:"spi_in"`
	SPIOut   uint32 `json:"spi_out"`
	Encaps   uint64 `json:"pkts_encaps"`
	Decaps   uint64 `json:"pkts_decaps"`
	Keys     *struct {
		EncIn   string `json:"enc_in"`
		AuthIn  string `json:"auth_in"`
		EncOut  string `json:"enc_out"`
		AuthOut string `json:"auth_out"`
	} `json:"keys"`
}

// tsharkESP returns a counter of the packets in the capture at path that
// match a display filter, tshark decrypting ESP (AES-CBC, with the HMAC
// its ESP SA table calls auth, e.g. "HMAC-SHA-1-96 [RFC2404]") with the
// keys of sas, the SA pairs between local and peer.
func tsharkESP(t *testing.T, path, local, peer, auth string, sas ...ipsecSA) func(filter string) int {
	t.Helper()
	uat := func(src, dst string, spi uint32, enc, key string) string {
		return fmt.Sprintf(`uat:esp_sa:"IPv4","%s","%s","0x%08x","AES-CBC [RFC3602]","0x%s","%s","0x%s"`, src, dst, spi, enc, auth, key)
	}
	args := []string{"-r", path, "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}
	for _, sa := range sas {
		args = append(args, "-o", uat(local, peer, sa.SPIOut, sa.Keys.EncOut, sa.Keys.AuthOut),
			"-o", uat(peer, local, sa.SPIIn, sa.Keys.EncIn, sa.Keys.AuthIn))
	}
	return func(filter string) int {
		t.Helper()
		out, err := exec.Command("tshark", append(args, "-Y", filter)...).Output()
		if err != nil {
			t.Fatalf("tshark -Y %s: %v", filter, err)
		}
		return strings.Count(string(out), "\n")
	}
}
