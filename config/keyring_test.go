package config

import (
	"net/netip"
	"strings"
	"testing"
)

// profileHub is a crypto-map hub whose spokes come through two isakmp
// profiles, each with its keyring, and an Easy VPN group through a
// third.
const profileHub = `aaa new-model
aaa authentication login XAUTH local
aaa authorization network GROUPS local
ip local pool EZPOOL 198.19.5.10 198.19.5.20
crypto keyring KR-A
 description spoke A
 pre-shared-key address 198.18.1.2 key 0 keyA
crypto keyring KR-B
 pre-shared-key address 198.18.2.0 255.255.255.0 key 7 0822455D0A16
 pre-shared-key hostname spoke-b.example key keyBH
crypto isakmp policy 10
 authentication pre-share
crypto isakmp client configuration group EZGROUP
 key 0 groupkey
 pool EZPOOL
crypto isakmp profile PA
 keyring KR-A
 match identity address 198.18.1.2 255.255.255.255
 keepalive 10 retry 3
crypto isakmp profile PB
 keyring KR-B
 match identity address 198.18.2.0 255.255.255.0
 match identity host spoke-b.example
 self-identity user-fqdn hub@example
 local-address eth0
 initiate mode aggressive
crypto isakmp profile EZ
 match identity group EZGROUP
 client authentication list XAUTH
 isakmp authorization list GROUPS
 client configuration address respond
 client configuration group EZGROUP
crypto ipsec transform-set T esp-aes esp-sha-hmac
crypto ipsec profile IP
 set transform-set T
 set isakmp-profile EZ
crypto dynamic-map DYN 10
 set profile IP
crypto map M 10 ipsec-isakmp
 set peer 198.18.1.2
 set isakmp-profile PA
 set transform-set T
 match address A
crypto map M 20 ipsec-isakmp
 set peer 198.18.2.2
 set transform-set T
 match address B
crypto map M 30 ipsec-isakmp dynamic DYN
crypto map M isakmp-profile PB
ip access-list extended A
 permit ip 198.19.1.0 0.0.0.255 198.19.11.0 0.0.0.255
ip access-list extended B
 permit ip 198.19.1.0 0.0.0.255 198.19.12.0 0.0.0.255
interface eth0
 ip address 198.18.0.1 255.255.0.0
 crypto map M
`

func TestKeyringProfileModel(t *testing.T) {
	res, err := Parse("hub.cfg", profileHub)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "profile") || strings.Contains(w.Msg, "keyring") {
			t.Errorf("warning: %v", w)
		}
	}
	c := res.Config.Crypto
	kb := c.KeyringByName("KR-B")
	if kb == nil || len(kb.Keys) != 2 || kb.Keys[0].Prefix() != netip.MustParsePrefix("198.18.2.0/24") || kb.Keys[0].Key.Type != 7 || kb.Keys[1].Hostname != "spoke-b.example" {
		t.Fatalf("keyring KR-B %+v", kb)
	}
	pa := c.ISAKMPProfileByName("PA")
	if pa == nil || pa.Keyrings[0] != "KR-A" || pa.Matches[0].Prefix() != netip.MustParsePrefix("198.18.1.2/32") || pa.Keepalive.Seconds != 10 || pa.Keepalive.Retry != 3 {
		t.Fatalf("profile PA %+v", pa)
	}
	pb := c.ISAKMPProfileByName("PB")
	if pb == nil || len(pb.Matches) != 2 || pb.Matches[1].Kind != "host" || pb.LocalAddress != "eth0" || pb.SelfIdentity == nil || pb.SelfIdentity.Value != "hub@example" || !pb.InitiateAggressive {
		t.Fatalf("profile PB %+v", pb)
	}
	ez := c.ISAKMPProfileByName("EZ")
	if ez == nil || ez.AuthList != "XAUTH" || ez.AuthorList != "GROUPS" || ez.ConfigAddress != "respond" || ez.ClientGroup != "EZGROUP" || ez.Matches[0].String() != "group EZGROUP" {
		t.Fatalf("profile EZ %+v", ez)
	}
	// Which profile each entry takes: its own, its IPsec profile's, the
	// map's.
	e := c.MapEntries("M", false)
	if got := c.EntryISAKMPProfile("M", e[0]); got != "PA" {
		t.Errorf("entry 10: %q", got)
	}
	if got := c.EntryISAKMPProfile("M", e[1]); got != "PB" {
		t.Errorf("entry 20: %q", got)
	}
	if got := c.EntryISAKMPProfile("M", c.MapEntries("DYN", true)[0]); got != "EZ" {
		t.Errorf("dynamic entry: %q", got)
	}
	// 0.0.0.0 alone is any address (document 004's DVTI hub).
	any := &ProfileMatch{Kind: "address", Addr: netip.IPv4Unspecified()}
	if any.Prefix().Bits() != 0 {
		t.Error("match identity address 0.0.0.0")
	}
	// Printed and read back, the same.
	again, err := Parse("again", res.Config.String())
	if err != nil {
		t.Fatalf("printed config: %v\n%s", err, res.Config.String())
	}
	if again.Config.String() != res.Config.String() {
		t.Errorf("round trip differs:\n%s\n---\n%s", res.Config.String(), again.Config.String())
	}
}

func TestKeyringProfileBroken(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
		want       []string
	}{
		{"unknown keyring", "crypto isakmp profile P\n keyring NOPE\n match identity address 198.18.0.2\n", 1, []string{"keyring NOPE does not exist"}},
		{"unknown map profile", "crypto isakmp policy 1\n authentication pre-share\ncrypto map M 10 ipsec-isakmp\n set isakmp-profile NOPE\n", 3, []string{"no such isakmp profile"}},
		{"unknown ipsec profile's", "crypto ipsec profile IP\n set isakmp-profile NOPE\n", 1, []string{"crypto ipsec profile IP", "no such isakmp profile"}},
		{"unknown whole-map profile", "crypto map M isakmp-profile NOPE\n", 1, []string{"no such isakmp profile"}},
		{"virtual-template", "crypto isakmp profile P\n virtual-template 1\n", 2, []string{"later work", "crypto map"}},
		{"vrf", "crypto isakmp profile P\n vrf RED\n", 2, []string{"not supported yet"}},
		{"self-identity other", "crypto isakmp profile P\n self-identity dn\n", 2, []string{"invalid input"}},
		{"match user", "crypto isakmp profile P\n match identity user alice\n", 2, []string{"not supported yet"}},
		{"profile ca", "crypto isakmp profile P\n ca trust-point TP\n", 1, []string{"ca trust-point TP: no such trustpoint", "(none defined)"}},
		{"keyring type 6", "crypto keyring K\n pre-shared-key address 198.18.0.2 key 6 abc\n", 2, []string{"key type 6"}},
		{"keyring masked", "crypto keyring K\n pre-shared-key address 198.18.0.2 key 0 <removed>\n", 2, []string{"mask"}},
		{"keyring no key", "crypto keyring K\n pre-shared-key address 198.18.0.2 cisco\n", 2, []string{"invalid input"}},
		{"keyring local-address", "crypto keyring K\n local-address 300.1.1.1\n pre-shared-key address 198.18.0.2 key k\n", 1, []string{"local-address 300.1.1.1"}},
		{"profile group", "crypto isakmp profile P\n match identity group G\n client configuration group NOPE\n", 1, []string{"client configuration group NOPE does not exist"}},
		{"profile auth list", "aaa new-model\ncrypto isakmp profile P\n match identity group G\n client authentication list XA\n", 2, []string{"no such list", "aaa authentication login XA"}},
	} {
		t.Run(tc.name, func(t *testing.T) { firstError(t, "c.cfg", tc.text, tc.line, tc.want...) })
	}
}

// TestProfileWarnings: an incomplete profile and two profiles matching
// the same identity are accepted (as IOS does) with a warning at the
// line.
func TestProfileWarnings(t *testing.T) {
	res, err := Parse("w.cfg", "crypto keyring K\n pre-shared-key address 198.18.0.2 key k\ncrypto isakmp profile EMPTY\n keyring K\ncrypto isakmp profile P1\n match identity address 198.18.0.0 255.255.255.0\ncrypto isakmp profile P2\n match identity address 198.18.0.0 255.255.255.0\n")
	if err != nil {
		t.Fatal(err)
	}
	var incomplete, overlap bool
	for _, w := range res.Warnings {
		incomplete = incomplete || (w.Line == 3 && strings.Contains(w.Msg, "no match identity"))
		overlap = overlap || (w.Line == 8 && strings.Contains(w.Msg, "also profile P1's"))
	}
	if !incomplete || !overlap {
		t.Fatalf("warnings %v", res.Warnings)
	}
}
