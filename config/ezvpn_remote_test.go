package config

import (
	"net/netip"
	"strings"
	"testing"
)

// doc004EzVPNRemote is document 004's "Easy VPN in client mode" with its
// addresses moved into 198.18.0.0/15 and without `ip nat inside` (vpdn
// translates the inside networks of mode client by itself, as IOS's
// automatically created NAT does).
const doc004EzVPNRemote = `hostname R7
crypto ipsec client ezvpn EZVPN-CLIENT
 connect auto
 group VPN-CLIENT-GROUP key vpnclientcisco
 mode client
 peer 198.18.77.2
 username cisco password cisco
 xauth userid mode local
interface Ethernet0/0
 ip address 198.18.16.7 255.255.255.0
 crypto ipsec client ezvpn EZVPN-CLIENT
interface Ethernet0/2
 ip address 198.19.2.7 255.255.255.0
 crypto ipsec client ezvpn EZVPN-CLIENT inside
`

func TestEzVPNRemoteDoc004(t *testing.T) {
	res, err := Parse("r7.cfg", doc004EzVPNRemote)
	if err != nil {
		t.Fatal(err)
	}
	e := res.Config.Crypto.EzVPNClientByName("EZVPN-CLIENT")
	if e == nil || e.Connect != "auto" || e.Group != "VPN-CLIENT-GROUP" || e.Key.Value != "vpnclientcisco" || e.Mode != "client" ||
		len(e.Peers) != 1 || e.Peers[0] != netip.MustParseAddr("198.18.77.2") || e.User != "cisco" || e.Password.Value != "cisco" || !e.XAuthLocal || e.Line != 2 {
		t.Fatalf("remote %+v", e)
	}
	ifc, in := res.Config.Interfaces[0], res.Config.Interfaces[1]
	if ifc.EzVPN != "EZVPN-CLIENT" || ifc.EzVPNInside || ifc.EzVPNLine != 11 || in.EzVPN != "EZVPN-CLIENT" || !in.EzVPNInside {
		t.Fatalf("interfaces %+v %+v", ifc, in)
	}
	// The printed form parses to the same.
	again, err := Parse("again.cfg", res.Config.ForShow(true).String())
	if err != nil {
		t.Fatal(err)
	}
	if again.Config.String() != res.Config.String() {
		t.Errorf("round trip:\n%s\n---\n%s", res.Config, again.Config)
	}
	// Network extension and a backup peer.
	nem := strings.NewReplacer(" mode client\n", " mode network-extension\n", " peer 198.18.77.2\n", " peer 198.18.77.2\n peer 198.18.77.3\n").Replace(doc004EzVPNRemote)
	res, err = Parse("nem.cfg", nem)
	if err != nil {
		t.Fatal(err)
	}
	e = res.Config.Crypto.EzVPNClientByName("EZVPN-CLIENT")
	if e.Mode != "network-extension" || len(e.Peers) != 2 || e.Peers[1] != netip.MustParseAddr("198.18.77.3") || !res.Config.Interfaces[1].EzVPNInside {
		t.Fatalf("network extension: %+v %+v", e, res.Config.Interfaces[1])
	}
}

func TestEzVPNRemoteBroken(t *testing.T) {
	ok := strings.Replace(doc004EzVPNRemote, "interface Ethernet0/2\n ip address 198.19.2.7 255.255.255.0\n crypto ipsec client ezvpn EZVPN-CLIENT inside\n", "", 1)
	inside := "interface Ethernet0/2\n crypto ipsec client ezvpn EZVPN-CLIENT inside\n"
	for _, tc := range []struct {
		name, text string
		line       int
		want       []string
	}{
		{"no group", strings.Replace(ok, " group VPN-CLIENT-GROUP key vpnclientcisco\n", "", 1), 2, []string{"no group", "expected group NAME key KEY"}},
		{"no peer", strings.Replace(ok, " peer 198.18.77.2\n", "", 1), 2, []string{"no peer", "expected peer A"}},
		{"no user", strings.Replace(ok, " username cisco password cisco\n", "", 1), 2, []string{"no username"}},
		{"key type 6", strings.Replace(ok, "key vpnclientcisco", "key 6 vpnclientcisco", 1), 4, []string{"key type 6 is not supported", "expected 0"}},
		{"network-plus", strings.Replace(ok, " mode client\n", " mode network-plus\n", 1), 5, []string{"network-plus is not supported yet", "mode network-extension"}},
		{"xauth interactive", strings.Replace(ok, "mode local", "mode interactive", 1), 8, []string{"only local is supported yet"}},
		{"bad peer", strings.Replace(ok, "peer 198.18.77.2", "peer 198.18.77", 1), 6, []string{"invalid input"}},
		{"unknown remote", strings.Replace(ok, " crypto ipsec client ezvpn EZVPN-CLIENT\n", " crypto ipsec client ezvpn OTHER\n", 1), 11, []string{"Easy VPN remote OTHER does not exist"}},
		{"inside without address", ok + inside, 13, []string{"needs an ip address"}},
		{"inside without outside", strings.Replace(strings.Replace(ok, " mode client\n", " mode network-extension\n", 1), " crypto ipsec client ezvpn EZVPN-CLIENT\n", "", 1) + "interface Ethernet0/2\n ip address 198.19.2.7 255.255.255.0\n crypto ipsec client ezvpn EZVPN-CLIENT inside\n", 2, []string{"no outside interface"}},
		{"nem without inside", strings.Replace(ok, " mode client\n", " mode network-extension\n", 1), 2, []string{"no inside interface"}},
		{"two outside", ok + "interface Ethernet0/1\n ip address 198.18.17.7 255.255.255.0\n crypto ipsec client ezvpn EZVPN-CLIENT\n", 14, []string{"already has outside interface Ethernet0/0"}},
		{"with crypto map", strings.Replace(ok, " crypto ipsec client ezvpn EZVPN-CLIENT\n", " crypto map M\n crypto ipsec client ezvpn EZVPN-CLIENT\n", 1), 11, []string{"crypto map M does not exist"}},
		{"other setting", strings.Replace(ok, " connect auto\n", " virtual-interface 1\n", 1), 3, []string{"not supported yet", "mode client|network-extension"}},
		{"too many peers", strings.Replace(ok, " peer 198.18.77.2\n", strings.Repeat(" peer 198.18.77.2\n", 1)+" peer 198.18.77.3\n peer 198.18.77.4\n peer 198.18.77.5\n peer 198.18.77.6\n peer 198.18.77.7\n peer 198.18.77.8\n peer 198.18.77.9\n peer 198.18.77.10\n peer 198.18.77.11\n peer 198.18.77.12\n", 1), 16, []string{"at most 10 peers"}},
	} {
		t.Run(tc.name, func(t *testing.T) { firstError(t, "c.cfg", tc.text, tc.line, tc.want...) })
	}
}
