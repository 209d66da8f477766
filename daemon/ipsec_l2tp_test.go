package daemon

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/proto/ike"
)

// transportService is an ipsecService with only what the transport-mode
// policy code reads: the entries of crypto map name in cfg.
func transportService(t *testing.T, cfg, name string) *ipsecService {
	t.Helper()
	res, err := config.Parse("t", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &ipsecService{local: netip.MustParseAddr("198.18.0.2")}
	s.entries = resolveEntries(res.Config, name)
	s.tpols = transportPols(s.entries)
	if !l2tpIPsecWanted(res.Config) {
		t.Fatal("l2tpIPsecWanted: false for a transport-mode crypto map")
	}
	return s
}

const transportBase = `crypto isakmp key k address 0.0.0.0 0.0.0.0
crypto ipsec transform-set T esp-aes 256 esp-sha-hmac
 mode transport
crypto ipsec transform-set U esp-aes esp-sha-hmac
`

func sel(s string, proto uint8, port uint16) ike.Selector {
	return ike.Selector{Prefix: netip.MustParsePrefix(s), Proto: proto, Port: port}
}

// TestTransportPolicy: which peers a transport-mode crypto map protects
// and which quick modes it accepts: document 004's static entry (its peer
// only, udp 1701 between the two hosts, deny lines first-match), a dynamic
// map with an ACL and one without (any peer, any selectors), a client
// behind a NAT naming its private address and an LNS behind a
// port-forward named by its public one; tunnel-mode sets are left out of
// the responder's policy.
func TestTransportPolicy(t *testing.T) {
	static := transportService(t, transportBase+`crypto map M 10 ipsec-isakmp
 set peer 198.18.0.7
 set transform-set T
 match address L2TP
ip access-list extended L2TP
 deny udp host 198.18.0.2 eq 1701 host 198.18.0.9
 permit udp host 198.18.0.2 eq 1701 host 198.18.0.7 eq 1701
 permit udp host 198.18.0.2 eq 1701 host 198.18.0.9
interface Ethernet0/0
 ip address 198.18.0.2 255.255.255.0
 crypto map M
`, "M")
	dynACL := transportService(t, transportBase+`crypto dynamic-map D 10
 set transform-set T U
 match address L2TP
crypto map M 10 ipsec-isakmp dynamic D
ip access-list extended L2TP
 permit udp host 198.18.0.2 eq 1701 any
interface Ethernet0/0
 ip address 198.18.0.2 255.255.255.0
 crypto map M
`, "M")
	dynAny := transportService(t, transportBase+`crypto dynamic-map D 10
 set transform-set T
crypto map M 10 ipsec-isakmp dynamic D
interface Ethernet0/0
 ip address 198.18.0.2 255.255.255.0
 crypto map M
`, "M")
	for _, tc := range []struct {
		name    string
		s       *ipsecService
		addr    string
		protect bool
	}{
		{"static: its peer", static, "198.18.0.7", true},
		{"static: denied first", static, "198.18.0.9", false},
		{"static: not in the ACL", static, "198.18.0.8", false},
		{"dynamic with ACL: anyone", dynACL, "198.18.5.5", true},
		{"dynamic without ACL: anyone", dynAny, "198.18.5.5", true},
	} {
		if got := protects(tc.s.tpols, netip.MustParseAddr(tc.addr)); got != tc.protect {
			t.Errorf("%s: protects(%s) = %v", tc.name, tc.addr, got)
		}
	}
	lns := sel("198.18.0.2/32", 17, 1701)
	for _, tc := range []struct {
		name          string
		s             *ipsecService
		peer          string
		local, remote ike.Selector
		ok            bool
	}{
		{"static: document 004's LAC", static, "198.18.0.7", lns, sel("198.18.0.7/32", 17, 1701), true},
		{"static: another peer", static, "198.18.0.8", lns, sel("198.18.0.8/32", 17, 1701), false},
		{"static: another port", static, "198.18.0.7", lns, sel("198.18.0.7/32", 17, 53), false},
		{"static: no IDs (the hosts)", static, "198.18.0.7", sel("198.18.0.2/32", 0, 0), sel("198.18.0.7/32", 0, 0), true},
		{"static: a network", static, "198.18.0.7", lns, sel("198.18.0.0/24", 17, 1701), false},
		{"dynamic: a client behind a NAT (its private address)", dynACL, "198.18.9.1", lns, sel("198.19.9.2/32", 17, 1701), true},
		{"dynamic: an LNS behind a port-forward (its public address)", dynACL, "198.18.9.1", sel("198.18.0.3/32", 17, 1701), sel("198.19.9.2/32", 17, 1701), true},
		{"dynamic: TCP", dynACL, "198.18.9.1", sel("198.18.0.2/32", 6, 1701), sel("198.19.9.2/32", 6, 1701), false},
		{"dynamic without ACL: anything", dynAny, "198.18.9.1", sel("198.18.0.0/16", 0, 0), sel("0.0.0.0/0", 0, 0), true},
	} {
		pol := tc.s.transportPhase2(netip.AddrPortFrom(netip.MustParseAddr(tc.peer), 4500), tc.local, tc.remote)
		if (pol != nil) != tc.ok {
			t.Errorf("%s: policy %v, want ok=%v", tc.name, pol, tc.ok)
			continue
		}
		if pol == nil {
			continue
		}
		for _, ts := range pol.TransformSets {
			if !ts.Transport {
				t.Errorf("%s: tunnel-mode set %s offered", tc.name, ts.Name)
			}
		}
		if pol.Local != tc.local || pol.Remote != tc.remote {
			t.Errorf("%s: selectors %v %v", tc.name, pol.Local, pol.Remote)
		}
	}
	if n := len(dynACL.transportPhase2(netip.MustParseAddrPort("198.18.9.1:4500"), lns, sel("198.19.9.2/32", 17, 1701)).TransformSets); n != 1 {
		t.Errorf("dynamic map with sets T (transport) and U (tunnel): %d sets offered", n)
	}
	// A crypto map without transport mode leaves L2TP's bind alone.
	res, err := config.Parse("t", strings.ReplaceAll(transportBase, " mode transport\n", "")+"crypto map M 10 ipsec-isakmp\n set peer 198.18.0.7\n set transform-set T\n match address A\nip access-list extended A\n permit ip any any\ninterface Ethernet0/0\n ip address 198.18.0.2 255.255.255.0\n crypto map M\n")
	if err != nil {
		t.Fatal(err)
	}
	if l2tpIPsecWanted(res.Config) {
		t.Error("l2tpIPsecWanted: true for a tunnel-mode crypto map")
	}
}

// TestL2TPWantedForL2TPv3IPsec: an L2TPv3 pseudowire over UDP under a
// transport-mode crypto map (a router facing SoftEther's "L2TPv3 over
// IPsec") serves L2TP's socket, the ESP-protected one, without a
// vpdn-group; over IP/115, or without transport mode, it does not.
func TestL2TPWantedForL2TPv3IPsec(t *testing.T) {
	cmap := "crypto map M 10 ipsec-isakmp\n set peer 198.18.0.7\n set transform-set T\n match address A\n" +
		"ip access-list extended A\n permit udp host 198.18.0.2 eq 1701 host 198.18.0.7 eq 1701\n" +
		"interface Ethernet0/0\n ip address 198.18.0.2 255.255.255.0\n crypto map M\n"
	pw := func(proto string) string {
		return "l2tp-class C\n cookie size 0\npseudowire-class P\n encapsulation l2tpv3\n protocol l2tpv3 C\n" + proto +
			"interface GigabitEthernet0/1\n linux-device lan0\n xconnect 198.18.0.7 1 encapsulation l2tpv3 pw-class P\n"
	}
	for _, tc := range []struct {
		name, cfg string
		want      bool
	}{
		{"udp, transport mode", transportBase + cmap + pw(" ip protocol udp\n"), true},
		{"ip 115, transport mode", transportBase + cmap + pw(""), false},
		{"udp, tunnel mode", strings.ReplaceAll(transportBase, " mode transport\n", "") + cmap + pw(" ip protocol udp\n"), false},
		{"udp, no crypto map", pw(" ip protocol udp\n"), false},
	} {
		res, err := config.Parse("t", tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := l2tpWanted(res.Config); got != tc.want {
			t.Errorf("%s: l2tpWanted %v, want %v", tc.name, got, tc.want)
		}
	}
}
