package config

import (
	"net/netip"
	"strings"
	"testing"
)

// TestCryptoModel: document 004's hub is read into the model the daemon
// uses.
func TestCryptoModel(t *testing.T) {
	res, err := LoadFile("testdata/docs/004-crypto-map-hub-two-spokes.cfg")
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config.Crypto
	if len(c.Policies) != 1 || c.Policies[0].Hash != "md5" || c.Policies[0].Group != 5 || c.Policies[0].Auth != "pre-share" {
		t.Fatalf("policies %+v", c.Policies[0])
	}
	if len(c.Keys) != 2 || c.Keys[1].Key.Value != "cisco456" || c.Keys[1].Prefix() != netip.MustParsePrefix("172.16.2.3/32") {
		t.Fatalf("keys %+v", c.Keys)
	}
	ts := c.TransformSetByName("Trans_HUB1_SP1")
	if ts == nil || ts.ESP != "esp-aes" || ts.KeyBits != 256 || ts.Auth != "esp-md5-hmac" || ts.Transforms() != "esp-256-aes esp-md5-hmac" {
		t.Fatalf("transform set %+v", ts)
	}
	e := c.MapEntries("HUB_SPOKEs", false)
	if len(e) != 1 || len(e[0].Peers) != 2 || e[0].MatchACL != "TO_Spokes" || e[0].ReverseRoute != "static" {
		t.Fatalf("map %+v", e)
	}
	acl := res.Config.AccessListByName("TO_Spokes")
	if acl == nil || len(acl.Entries) != 2 {
		t.Fatalf("acl %+v", acl)
	}
	a := acl.Entries[1]
	if !a.Matches(1, netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("2.2.2.9"), 0, 0) || a.Matches(1, netip.MustParseAddr("10.0.1.7"), netip.MustParseAddr("2.2.2.9"), 0, 0) {
		t.Fatal("ACE match")
	}
	if p, ok := a.Dst.Prefix(); !ok || p != netip.MustParsePrefix("2.2.2.0/24") {
		t.Fatalf("prefix %v", p)
	}
	if res.Config.Interfaces[0].CryptoMap != "HUB_SPOKEs" {
		t.Fatal("interface crypto map")
	}
}

// TestCryptoBroken: bad crypto configurations are refused at their line
// with what was expected.
func TestCryptoBroken(t *testing.T) {
	const ok = "crypto isakmp policy 1\n authentication pre-share\ncrypto isakmp key k address 198.18.0.2\ncrypto ipsec transform-set T esp-aes esp-sha-hmac\ncrypto map M 10 ipsec-isakmp\n set peer 198.18.0.2\n set transform-set T\n match address A\nip access-list extended A\n permit ip 198.19.1.0 0.0.0.255 198.19.2.0 0.0.0.255\ninterface eth0\n ip address 198.18.0.1 255.255.255.0\n crypto map M\n"
	if _, err := Parse("ok", ok); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name, text string
		line       int
		want       []string
	}{
		{"des", "crypto isakmp policy 1\n encryption des\n", 2, []string{"single DES", "expected 3des or aes"}},
		{"aes bits", "crypto isakmp policy 1\n encryption aes 200\n", 2, []string{"128, 192 or 256"}},
		{"rsa-sig", "crypto isakmp policy 1\n authentication rsa-sig\n", 1, []string{"needs a crypto pki trustpoint", "pre-share"}},
		{"rsa-encr", "crypto isakmp policy 1\n authentication rsa-encr\n", 2, []string{"not supported yet", "pre-share or rsa-sig"}},
		{"no auth", "crypto isakmp policy 1\n hash sha\n", 1, []string{"rsa-sig", "expected authentication pre-share"}},
		{"group 1", "crypto isakmp policy 1\n group 1\n", 2, []string{"group 1 is not supported", "expected 2, 5, 14, 19 or 20"}},
		{"hash", "crypto isakmp policy 1\n hash sha512\n", 2, []string{"invalid input", "sha256"}},
		{"key masked", "crypto isakmp key 0 <removed> address 198.18.0.2\n", 1, []string{"mask"}},
		{"key type 5", "crypto isakmp key 5 abc address 198.18.0.2\n", 1, []string{"key type 5"}},
		{"key no address", "crypto isakmp key abc 198.18.0.2\n", 1, []string{"invalid input", "address"}},
		{"esp-des", "crypto ipsec transform-set T esp-des esp-sha-hmac\n", 1, []string{"esp-des", "not supported"}},
		{"esp-aes alone", "crypto ipsec transform-set T esp-aes 256\n", 1, []string{"without integrity"}},
		{"gcm with hmac", "crypto ipsec transform-set T esp-gcm 256 esp-sha-hmac\n", 1, []string{"carries its own integrity"}},
		{"gcm 192", "crypto ipsec transform-set T esp-gcm 192\n", 1, []string{"128 or 256"}},
		{"mode", "crypto ipsec transform-set T esp-3des esp-sha-hmac\n mode tunel\n", 2, []string{"invalid input"}},
		{"manual", "crypto map M 10 ipsec-manual\n", 1, []string{"manual keys"}},
		{"pfs", "crypto map M 10 ipsec-isakmp\n set pfs group1\n", 2, []string{"group 1 is not supported"}},
		{"pfs word", "crypto map M 10 ipsec-isakmp\n set pfs five\n", 2, []string{"expected group2"}},
		{"missing ts", strings.Replace(ok, " set transform-set T\n", " set transform-set X\n", 1), 5, []string{"transform set \"X\" does not exist", "expected one of: T"}},
		{"missing map", strings.Replace(ok, " crypto map M\n", " crypto map N\n", 1), 13, []string{"crypto map N does not exist"}},
		{"gre", "ip access-list extended G\n permit gre any any\n", 2, []string{"not supported yet", "GRE over IPsec"}},
		{"port on ip", "ip access-list extended G\n permit ip any eq 5 any\n", 2, []string{"ports need tcp or udp"}},
		{"bad port", "ip access-list extended G\n permit udp any eq 70000 any\n", 2, []string{"expected a port number"}},
		{"bad proto", "access-list 101 permit foo any any\n", 1, []string{"expected ip, tcp, udp"}},
		{"standard", "access-list 10 permit any\n", 1, []string{"not supported yet", "standard access lists"}},
		{"wildcard", strings.Replace(ok, "0.0.0.255 198.19.2.0", "0.255.0.255 198.19.2.0", 1), 10, []string{"contiguous wildcards"}},
		{"ezvpn remote other", "crypto ipsec client ezvpn E\n backup B track 1\n", 2, []string{"not supported yet", "Easy VPN remote"}},
		{"map client accounting", "crypto map M client accounting list L\n", 1, []string{"not supported yet", "client authentication list"}},
		{"xauth other", "crypto isakmp xauth retransmit 3\n", 1, []string{"not supported yet", "crypto isakmp xauth timeout"}},
		{"group pfs", "crypto isakmp client configuration group G\n pfs\n", 2, []string{"not supported yet"}},
		{"group include-local-lan", "crypto isakmp client configuration group G\n include-local-lan\n", 2, []string{"not supported yet"}},
		{"group banner", "crypto isakmp client configuration group G\n banner ^Hello\n", 2, []string{"multi-line banners are not supported yet"}},
		{"group key type", "crypto isakmp client configuration group G\n key 5 abc\n", 2, []string{"key type 5"}},
		{"group pool", "crypto isakmp client configuration group G\n pool P\n", 1, []string{"pool P does not exist"}},
		{"group acl", "ip local pool P 198.19.5.1 198.19.5.9\ncrypto isakmp client configuration group G\n acl S\n", 2, []string{"acl S does not exist"}},
		{"auth list", strings.Replace(ok, "interface eth0", "aaa new-model\ncrypto map M client authentication list XA\ninterface eth0", 1), 12, []string{"no such list", "aaa authentication login XA"}},
		{"auth no new-model", strings.Replace(ok, "interface eth0", "aaa authentication login XA local\ncrypto map M client authentication list XA\ninterface eth0", 1), 12, []string{"aaa new-model"}},
		{"author list", strings.Replace(ok, "interface eth0", "crypto map M isakmp authorization list GA\ninterface eth0", 1), 11, []string{"no such list", "aaa authorization network GA"}},
		{"address without group", strings.Replace(ok, "interface eth0", "crypto map M client configuration address respond\ninterface eth0", 1), 11, []string{"no crypto isakmp client configuration group"}},
		{"client settings no map", "crypto isakmp client configuration group G\ncrypto map Z client configuration address respond\n", 2, []string{"crypto map Z: client settings for a crypto map that does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) { firstError(t, "c.cfg", tc.text, tc.line, tc.want...) })
	}
}

// firstError checks that text (of file) is refused with its first error
// at line, naming each of want, and returns that error.
func firstError(t *testing.T, file, text string, line int, want ...string) *Error {
	t.Helper()
	_, err := Parse(file, text)
	if err == nil {
		t.Fatal("accepted; expected an error")
	}
	first := err.(ErrorList)[0]
	if first.Line != line {
		t.Errorf("line %d, want %d: %v", first.Line, line, first)
	}
	for _, w := range want {
		if !strings.Contains(first.Msg, w) {
			t.Errorf("error %q lacks %q", first.Msg, w)
		}
	}
	return first
}

// TestCryptoWarnings: what IOS accepts but leaves disabled warns.
func TestCryptoWarnings(t *testing.T) {
	res, err := LoadFile("testdata/docs/004-multiple-crypto-map-hub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w.Msg, "access list VPN3348-TRAFFIC does not exist")
	}
	if !found {
		t.Fatalf("no warning for the missing ACL: %v", res.Warnings)
	}
	e := res.Config.Crypto.MapEntries("hq-vpn", true)
	if len(e) != 3 || e[0].Seq != 30 || e[2].Seq != 3348 || e[0].Profile != "Spokes_VPN_Profile" {
		t.Fatalf("dynamic map %+v", e)
	}
}

// ezvpnServer is an Easy VPN server in IOS words.
const ezvpnServer = `aaa new-model
aaa authentication login XAUTH local
aaa authorization network GROUPS local
username alice password 0 s3cret
ip local pool EZPOOL 198.19.5.10 198.19.5.20
ip access-list extended SPLIT
 permit ip 198.19.2.0 0.0.0.255 any
crypto isakmp policy 10
 encryption aes 256
 authentication pre-share
 group 14
crypto isakmp key 0 wildkey address 0.0.0.0 0.0.0.0
crypto isakmp xauth timeout 30
crypto isakmp client configuration group VPNGROUP
 key 0 groupkey
 pool EZPOOL
 dns 198.19.2.53 198.19.2.54
 wins 198.19.2.55
 domain example.test
 acl SPLIT
 save-password
 max-users 10
 banner ^Welcome to vpdn^
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto dynamic-map DYN 10
 set transform-set TS
 reverse-route
crypto map CMAP client authentication list XAUTH
crypto map CMAP isakmp authorization list GROUPS
crypto map CMAP client configuration address respond
crypto map CMAP 10 ipsec-isakmp dynamic DYN
interface eth0
 ip address 198.18.0.2 255.255.255.0
 crypto map CMAP
`

func TestEzVPNModel(t *testing.T) {
	res, err := Parse("ez.cfg", ezvpnServer)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %v", w)
	}
	c := res.Config.Crypto
	g := c.ClientGroupByName("VPNGROUP")
	if g == nil || g.Key.Value != "groupkey" || g.Pool != "EZPOOL" || len(g.DNS) != 2 || len(g.WINS) != 1 || g.Domain != "example.test" ||
		g.ACL != "SPLIT" || !g.SavePassword || g.MaxUsers != 10 || g.Banner != "Welcome to vpdn" {
		t.Fatalf("group %+v", g)
	}
	mc := c.MapClient("CMAP")
	if mc == nil || mc.AuthList != "XAUTH" || mc.AuthorList != "GROUPS" || mc.Address != "respond" || c.XAuthTimeout != 30 {
		t.Fatalf("map client %+v, xauth timeout %d", mc, c.XAuthTimeout)
	}
	if len(res.Config.AAA.Login) != 1 || res.Config.AAA.Login[0].Name != "XAUTH" {
		t.Fatalf("login lists %+v", res.Config.AAA.Login)
	}
	out := res.Config.String()
	for _, l := range []string{"aaa authentication login XAUTH local", "crypto isakmp client configuration group VPNGROUP", " banner ^Welcome to vpdn^",
		"crypto map CMAP client configuration address respond", "crypto isakmp xauth timeout 30", " dns 198.19.2.53 198.19.2.54"} {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("printed config lacks %q:\n%s", l, out)
		}
	}
	res2, err := Parse("again.cfg", out)
	if err != nil || res2.Config.String() != out {
		t.Fatalf("not a fixed point: %v", err)
	}
	res4, err := Parse("radius.cfg", strings.Replace(ezvpnServer, "aaa authorization network GROUPS local", "radius-server host 198.18.0.9 key k\naaa authorization network GROUPS group radius", 1))
	if err != nil || len(res4.Warnings) != 0 {
		t.Fatalf("a RADIUS authorization list: %v %v", err, res4.Warnings)
	}
	// Groups held by RADIUS: no local group is needed for client
	// configuration address; an authorization list of none still warns.
	res5, err := Parse("radius.cfg", strings.Replace(ezvpnServer+"no crypto isakmp client configuration group VPNGROUP\n",
		"aaa authorization network GROUPS local", "radius-server host 198.18.0.9 key k\naaa authorization network GROUPS group radius local", 1))
	if err != nil || len(res5.Warnings) != 0 {
		t.Fatalf("RADIUS-held groups only: %v %v", err, res5.Warnings)
	}
	res6, err := Parse("none.cfg", strings.Replace(ezvpnServer, "aaa authorization network GROUPS local", "aaa authorization network GROUPS none", 1))
	if err != nil || len(res6.Warnings) != 1 || !strings.Contains(res6.Warnings[0].Msg, "neither local nor a server group") {
		t.Fatalf("an authorization list of none: %v %v", err, res6.Warnings)
	}
	// no forms remove what they set.
	if _, err := Parse("no.cfg", ezvpnServer+"no crypto isakmp client configuration group VPNGROUP\n"); err == nil || !strings.Contains(err.Error(), "no crypto isakmp client configuration group") {
		t.Fatalf("removing the group left the address setting valid: %v", err)
	}
	res3, err := Parse("no.cfg", ezvpnServer+"no crypto isakmp client configuration group VPNGROUP\nno crypto map CMAP client configuration address respond\n")
	if err != nil || res3.Config.Crypto.MapClient("CMAP").Address != "" || len(res3.Config.Crypto.ClientGroups) != 0 {
		t.Fatalf("no forms: %v", err)
	}
}

// TestCryptoLocalAddress: `crypto map NAME local-address IF` is kept (the
// last one of a map wins), printed back, and removed by its no form.
func TestCryptoLocalAddress(t *testing.T) {
	const base = "crypto map M 10 ipsec-isakmp\n set peer 198.18.0.2\ninterface Loopback0\n ip address 198.18.9.1 255.255.255.255\n"
	res, err := Parse("la", base+"crypto map M local-address GigabitEthernet0/1\ncrypto map M local-address Loopback0\ncrypto map N local-address eth2\n")
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config.Crypto
	if n := c.LocalAddress("M"); n == nil || n.String() != "Loopback0" || len(c.LocalAddresses) != 2 {
		t.Fatalf("local addresses %+v", c.LocalAddresses)
	}
	if c.LocalAddress("X") != nil || (*Crypto)(nil).LocalAddress("M") != nil {
		t.Fatal("a map without local-address has one")
	}
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "local-address") {
			t.Errorf("warning %q", w.Msg)
		}
	}
	text := res.Config.String()
	if !strings.Contains(text, "crypto map M local-address Loopback0\n") || !strings.Contains(text, "crypto map N local-address eth2\n") {
		t.Fatalf("printed:\n%s", text)
	}
	again, err := Parse("again", text)
	if err != nil || again.Config.String() != text {
		t.Fatalf("round trip: %v\n%s", err, again.Config.String())
	}
	res, err = Parse("no", base+"crypto map M local-address Loopback0\nno crypto map M local-address Loopback0\n")
	if err != nil || res.Config.Crypto.LocalAddress("M") != nil {
		t.Fatalf("no form: %v %+v", err, res.Config.Crypto.LocalAddresses)
	}
}
