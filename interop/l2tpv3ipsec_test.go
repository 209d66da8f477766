package interop

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// softEtherL2TPv3Setup turns on SoftEther's "EtherIP / L2TPv3 over IPsec"
// server beside its L2TP/IPsec one, and bridges every such client (ID
// "*": whatever IKE identity it shows) into hub LAB as the lab user.
const softEtherL2TPv3Setup = `IPsecEnable /L2TP:yes /L2TPRAW:yes /ETHERIP:yes /PSK:%[1]s /DEFAULTHUB:%[2]s
EtherIpClientAdd * /HUB:%[2]s /USERNAME:%[3]s /PASSWORD:%[4]s
`

// l2tpv3IPsecPE is vpdn configured as a Cisco router is for SoftEther's
// "EtherIP / L2TPv3 over IPsec": a dynamic Ethernet xconnect to the
// server over UDP 1701, protected by a transport-mode crypto map (IKEv1
// main mode with the pre-shared key). SoftEther's L2TPv3 over UDP (its
// "YAMAHA" mode, Proto_L2TP.c) sends data with no cookie and no
// L2-Specific Sublayer and ignores the cookie we would assign: the
// l2tp-class assigns none (cookie size 0), and without sequencing vpdn
// asks for no sublayer. The pseudowire-class's ip local interface is the
// crypto map's: the pseudowire shares L2TP's ESP-protected socket.
const l2tpv3IPsecPE = `hostname vpdn-pe
l2tp-class SOFTETHER
 cookie size 0
pseudowire-class SOFTETHER
 encapsulation l2tpv3
 protocol l2tpv3 SOFTETHER
 ip protocol udp
 ip local interface Ethernet0/0
crypto isakmp policy 10
 encr aes 256
 hash sha
 authentication pre-share
 group 14
crypto isakmp policy 20
 encr aes 256
 hash sha
 authentication pre-share
 group 2
crypto isakmp key %[1]s address %[2]s
crypto ipsec transform-set L2TPV3 esp-aes 256 esp-sha-hmac
 mode transport
crypto map SOFTETHER 10 ipsec-isakmp
 set peer %[2]s
 set transform-set L2TPV3
 match address L2TPV3-IPSEC
ip access-list extended L2TPV3-IPSEC
 permit udp host %[3]s eq 1701 host %[2]s eq 1701
interface Ethernet0/0
 ip address %[3]s 255.255.255.0
 crypto map SOFTETHER
interface GigabitEthernet0/1
 no ip address
 linux-device %[4]s
 xconnect %[2]s 1 encapsulation l2tpv3 pw-class SOFTETHER
`

// TestL2TPv3IPsecToSoftEther is issue 11's and 14's independent L2TPv3
// peer: vpdn, configured as a Cisco router, brings up IKEv1 (main mode,
// pre-shared key) and transport-mode ESP with SoftEther's "EtherIP /
// L2TPv3 over IPsec" server, and an L2TPv3 control connection and a
// dynamic Ethernet pseudowire over UDP 1701 inside it. The pseudowire
// bridges a LAN host's segment into SoftEther's virtual hub, where
// SecureNAT's virtual host (198.19.30.1) lives: the LAN host resolves it
// by ARP and pings it. vpdn sits behind an nftables masquerade, which
// forces NAT-T (UDP 4500): SoftEther 5.01's raw ESP is broken
// (INTEROP.md). tshark, decrypting the ESP with the keys of `show crypto
// ipsec sa --json --secrets`, finds the L2TPv3 control messages and data
// inside and nothing malformed on vpdn's side.
func TestL2TPv3IPsecToSoftEther(t *testing.T) {
	peers.Require(t, peers.SoftEtherServerBin, peers.SoftEtherCmdBin, "nft", "ping")
	lab := nstest.New(t)
	host, pe, nat, sb := lab.NS("host"), lab.NS("pe"), lab.NS("nat"), lab.NS("sb")
	p := netip.MustParsePrefix
	// The LAN host is on SecureNAT's network, outside its DHCP range.
	_, peLAN := lab.Link(host, pe, p("198.19.30.5/24"), p("198.19.31.254/24"))
	pe.MustIP("addr", "flush", "dev", peLAN)
	peWAN, _ := lab.Link(pe, nat, p("198.18.21.2/24"), p("198.18.21.1/24"))
	natOut, _ := lab.Link(nat, sb, p("198.18.0.1/24"), p("198.18.0.2/24"))
	pe.Route(p("198.18.0.0/24"), netip.MustParseAddr("198.18.21.1"))
	if out, err := nat.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatalf("sysctl: %v %s", err, out)
	}
	nat.Masquerade(natOut, netip.Prefix{})

	se := peers.SoftEther(t, lab, sb, netip.MustParseAddr("198.18.0.2"))
	if out, err := se.VPNCmd(fmt.Sprintf(softEtherL2TPv3Setup, se.PSK, se.Hub, se.User.Name, se.User.Password)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	capture := lab.Capture(pe, peWAN, "udp port 500 or udp port 4500 or udp port 1701 or ip proto 50")

	bin := nstest.GoBuild(t, "../cmd/vpdn")
	logs, sock, stop := vpdnServe(t, lab, pe, bin, fmt.Sprintf(l2tpv3IPsecPE, se.PSK, "198.18.0.2", "198.18.21.2", peLAN))
	show := func(words ...string) string {
		out, _ := pe.Run(10*time.Second, bin, append(words, "--socket", sock)...)
		return string(out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("SoftEther log:\n%s", se.Log())
		}
	})
	waitLine(t, "the pseudowire up", 60*time.Second, func() bool {
		return strings.Contains(show("show", "xconnect", "all"), "UP     pri")
	})
	var up bool
	for i := 0; i < 30 && !up; i++ {
		// SoftEther joins the hub on the first frame it gets (an IPC
		// session per pseudowire): the first pings may be lost.
		_, err := host.Run(5*time.Second, "ping", "-c", "1", "-W", "1", se.Gateway.String())
		up = err == nil
	}
	if !up {
		t.Fatalf("no ping across the pseudowire to SecureNAT's %v\n%s\n%s", se.Gateway, show("show", "l2tp", "session", "all"), logs)
	}
	if out, err := host.Run(30*time.Second, "ping", "-c", "10", "-i", "0.2", "-W", "2", se.Gateway.String()); err != nil {
		t.Fatalf("ping %v: %v\n%s", se.Gateway, err, out)
	}
	if out, _ := host.IP("neigh", "show", se.Gateway.String()); !strings.Contains(string(out), "lladdr") {
		t.Errorf("no ARP entry for SecureNAT's host: %s", out)
	}
	sess := show("show", "l2tp", "session", "all")
	tun := show("show", "l2tun", "tunnel", "all")
	sa := show("show", "crypto", "ipsec", "sa")
	for _, want := range []string{"Session is L2TP signaled", "type is Ethernet, name is GigabitEthernet0/1", "Session vcid is 1"} {
		if !strings.Contains(sess, want) {
			t.Errorf("show l2tp session all lacks %q:\n%s", want, sess)
		}
	}
	if !strings.Contains(tun, "Protocol version 3 (L2TPv3)") {
		t.Errorf("show l2tun tunnel all:\n%s", tun)
	}
	if !strings.Contains(sa, "Transport UDP-Encaps") {
		t.Errorf("show crypto ipsec sa: not transport mode in UDP:\n%s", sa)
	}
	t.Logf("vpdn:\n%s\n%s\n%s", sess, tun, sa)
	var seLines []string
	for _, l := range strings.Split(se.Log(), "\n") {
		if strings.Contains(l, "L2TPv3") || strings.Contains(l, "EtherIP") {
			seLines = append(seLines, l)
		}
	}
	t.Logf("SoftEther:\n%s", strings.Join(seLines, "\n"))
	// SoftEther put the pseudowire into the hub as the EtherIpClientAdd
	// user, naming vpdn by the Vendor Name of its SCCRQ.
	if l := strings.Join(seLines, "\n"); !strings.Contains(l, `L2TPv3 module to the Virtual Hub "LAB" succeeded`) || !strings.Contains(l, `"L2TPv3 Client - vpdn"`) {
		t.Errorf("SoftEther's log does not show the L2TPv3 session joining hub LAB")
	}
	var sas []softEtherSA
	raw := show("show", "crypto", "ipsec", "sa", "--json", "--secrets")
	if err := json.Unmarshal([]byte(raw), &sas); err != nil || len(sas) == 0 {
		t.Fatalf("show crypto ipsec sa --json --secrets: %v\n%s", err, raw)
	}
	if err := stop(); err != nil {
		t.Errorf("vpdn: %v", err)
	}
	if capture == nil {
		return
	}
	capture.Stop()
	if bad, err := nstest.Problems(capture.Path); err != nil || len(bad) > 0 {
		t.Errorf("tshark: %v %v", err, bad)
	}
	// Nothing of L2TP leaves in clear: all of it is in ESP over UDP 4500.
	clear, _ := nstest.Decode(capture.Path, "l2tp")
	esp, _ := nstest.Decode(capture.Path, "udp.port == 4500 && esp")
	if len(clear) != 0 || len(esp) < 20 {
		t.Errorf("capture: %d ESP in UDP 4500, %d L2TP in clear", len(esp), len(clear))
	}
	if sas[0].Keys == nil {
		t.Logf("capture not decrypted: no keys in %s", raw)
		return
	}
	count, err := tsharkESPCount(capture.Path, "198.18.21.2", "198.18.0.2", sas...)
	if err != nil {
		t.Fatal(err)
	}
	ctl, data, bad := count("l2tp.avp.message_type"), count("l2tp.sid"), count("_ws.malformed || _ws.expert.severity >= error")
	t.Logf("capture at vpdn, decrypted: %d L2TPv3 control messages, %d data packets, %d malformed", ctl, data, bad)
	if ctl < 6 || data < 10 || bad != 0 { // -1: tshark failed
		t.Errorf("decrypted capture: %d control messages, %d data packets, %d malformed or in error", ctl, data, bad)
	}
}

// softEtherSA is what the test reads of `show crypto ipsec sa --json
// --secrets`: the SPIs and the keys tshark decrypts with.
type softEtherSA struct {
	SPIIn  uint32 `json:"spi_in"`
	SPIOut uint32 `json:"spi_out"`
	Keys   *struct {
		EncIn   string `json:"enc_in"`
		AuthIn  string `json:"auth_in"`
		EncOut  string `json:"enc_out"`
		AuthOut string `json:"auth_out"`
	} `json:"keys"`
}

// tsharkESPCount returns a counter of the packets of the capture at path
// matching a display filter, tshark decrypting the ESP (AES-CBC with
// HMAC-SHA-1-96, the transform set of l2tpv3IPsecPE) of sas between local
// and peer, and decoding UDP 1701 inside it as L2TP (version 3 with no
// cookie and no sublayer, as SoftEther speaks it); -1 when tshark fails.
func tsharkESPCount(path, local, peer string, sas ...softEtherSA) (func(filter string) int, error) {
	uat := func(src, dst string, spi uint32, enc, key string) string {
		return fmt.Sprintf(`uat:esp_sa:"IPv4","%s","%s","0x%08x","AES-CBC [RFC3602]","0x%s","HMAC-SHA-1-96 [RFC2404]","0x%s"`, src, dst, spi, enc, key)
	}
	args := []string{"-r", path, "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE",
		"-o", "l2tp.cookie_size:Detect", "-o", "l2tp.l2_specific:None"}
	for _, sa := range sas {
		if sa.Keys == nil {
			return nil, fmt.Errorf("interop: SA %#x without keys", sa.SPIIn)
		}
		args = append(args, "-o", uat(local, peer, sa.SPIOut, sa.Keys.EncOut, sa.Keys.AuthOut),
			"-o", uat(peer, local, sa.SPIIn, sa.Keys.EncIn, sa.Keys.AuthIn))
	}
	return func(filter string) int {
		out, err := exec.Command("tshark", append(args, "-Y", filter)...).Output()
		if err != nil {
			return -1
		}
		return strings.Count(string(out), "\n")
	}, nil
}
