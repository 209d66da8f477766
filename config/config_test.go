package config

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDocumentFixtures parses every in-scope configuration of the reference
// documents, laid out as IOS prints it, and checks that printing is a fixed
// point of parsing.
func TestDocumentFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/docs/*.cfg")
	if len(files) < 15 {
		t.Fatalf("found %d fixtures, expected the documents' configurations", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := LoadFile(f)
			if err != nil {
				t.Fatalf("%v", err)
			}
			checkFixedPoint(t, res.Config)
		})
	}
}

func checkFixedPoint(t *testing.T, c *Config) {
	t.Helper()
	out1 := c.String()
	res2, err := Parse("printed", out1)
	if err != nil {
		t.Fatalf("printed configuration does not parse: %v\n%s", err, out1)
	}
	out2 := res2.Config.String()
	if out1 != out2 {
		t.Fatalf("print is not a fixed point:\n--- first\n%s\n--- second\n%s", out1, out2)
	}
}

var wantRe = regexp.MustCompile(`^! want: (\d+): (.*)$`)

// TestRefusedFixtures: configurations of later work are refused with a
// precise "not supported yet" error at the right line.
func TestRefusedFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/refused/*.cfg")
	if len(files) == 0 {
		t.Fatal("no refused fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, _ := os.ReadFile(f)
			var wantLine int
			var wantParts []string
			for _, l := range strings.Split(string(b), "\n") {
				if m := wantRe.FindStringSubmatch(l); m != nil {
					wantLine, _ = strconv.Atoi(m[1])
					wantParts = strings.Split(m[2], ": ")
				}
			}
			first := firstError(t, f, string(b), wantLine, wantParts...)
			if !strings.Contains(first.Msg, "not supported yet") {
				t.Errorf("error %q does not say \"not supported yet\"", first.Msg)
			}
			if !strings.HasPrefix(first.Error(), f+":") {
				t.Errorf("error %q does not start with FILE:", first.Error())
			}
		})
	}
}

const base = `username u password 0 p
vpdn enable
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
ip local pool P 198.19.1.1 198.19.1.100
`

// TestBrokenVariants: each broken variant of a good configuration is
// refused with an error naming the line and saying what was expected.
func TestBrokenVariants(t *testing.T) {
	if _, err := Parse("base", base); err != nil {
		t.Fatalf("base config: %v", err)
	}
	cases := []struct {
		name string
		text string
		line int
		want []string
	}{
		{"unknown command", base + "vpdn-grup X\n", 14, []string{`unknown command "vpdn-grup X"`, `did you mean "vpdn-group"`}},
		{"unknown in submode", "interface Loopback0\n ip adress 198.19.0.1 255.255.255.255\n", 2, []string{`invalid input at "adress"`, "expected"}},
		{"bad address", "interface Loopback0\n ip address 198.19.0.300 255.255.255.255\n", 2, []string{"invalid input", "IPv4 address"}},
		{"bad mask", "interface Loopback0\n ip address 198.19.0.1 255.0.255.0\n", 2, []string{"invalid input", "mask"}},
		{"pool reversed", "ip local pool P 198.19.1.100 198.19.1.1\n", 1, []string{"start 198.19.1.100 is above end 198.19.1.1", "expected START <= END"}},
		{"pool overlap", "ip local pool P 198.19.1.1 198.19.1.100\nip local pool P 198.19.1.50 198.19.1.150\n", 2, []string{"overlaps"}},
		{"ipv6 pool assign 56", "ipv6 local pool V6 2001:db8::/48 56\n", 1, []string{"assigned length 56 is not supported yet", "expected 64"}},
		{"ipv6 pool host bits", "ipv6 local pool V6 2001:db8::1/48 64\n", 1, []string{"expected 2001:db8::/48"}},
		{"ipv6 pool too wide", "ipv6 local pool V6 2001::/16 64\n", 1, []string{"more than 2^32", "/32 or longer"}},
		{"ipv6 pool v4", "ipv6 local pool V6 198.19.0.0/16 64\n", 1, []string{"invalid input", "IPv6 prefix"}},
		{"ipv6 nd prefix /48", "interface Virtual-Template1\n ipv6 nd prefix 2001:db8::/48\n", 2, []string{"expected a /64 prefix"}},
		{"ipv6 nd lifetimes reversed", "interface Virtual-Template1\n ipv6 nd prefix default 100 200\n", 2, []string{"PREFERRED <= VALID"}},
		{"ipv6 ra interval 2", "interface Virtual-Template1\n ipv6 nd ra interval 2\n", 2, []string{"invalid input"}},
		{"ipv6 unknown pool", base + "interface Virtual-Template1\n peer default ipv6 pool NOPE\n", 15, []string{"peer default ipv6 pool NOPE: no such pool"}},
		{"ipv6 on Loopback", "interface Loopback1\n ipv6 enable\n", 2, []string{"Virtual-Template, Virtual-PPP and Dialer interfaces only", "not yet"}},
		{"ipv6 nd on Virtual-PPP", "interface Virtual-PPP1\n ipv6 enable\n ipv6 nd ra suppress\n", 2, []string{"apply to Virtual-Template"}},
		{"autoconfig on Virtual-Template", "interface Virtual-Template1\n ipv6 address autoconfig\n", 1, []string{"apply to Virtual-PPP and Dialer"}},
		{"ipv6 with shared access", "vpdn virtual-access shared\ninterface Virtual-Template1\n ipv6 enable\n", 3, []string{"not supported yet", "shared"}},
		{"dhcp client pd on Virtual-Template", "interface Virtual-Template1\n ipv6 dhcp client pd PD\n", 1, []string{"apply to Virtual-PPP and Dialer"}},
		{"pools overlap", "ip local pool P 198.19.1.1 198.19.1.100\nip local pool Q 198.19.1.50 198.19.1.150\n", 2, []string{"overlaps pool P"}},
		{"missing template", strings.Replace(base, "  virtual-template 1", "  virtual-template 7", 1), 6, []string{"virtual-template 7 names no interface", "Virtual-Template7"}},
		{"missing pw-class", "interface Virtual-PPP1\n ip address negotiated\n pseudowire 198.18.0.2 1 pw-class nope\n", 3, []string{`pw-class "nope" does not exist`}},
		{"duplicate pseudowire", "pseudowire-class pw\n encapsulation l2tpv2\n protocol l2tpv2\ninterface Virtual-PPP1\n ip address negotiated\n pseudowire 198.18.0.2 1 pw-class pw\ninterface Virtual-PPP2\n ip address negotiated\n pseudowire 198.18.0.2 1 pw-class pw\n", 9, []string{"already used by Virtual-PPP1"}},
		{"duplicate accept", base + "vpdn-group LNS2\n accept-dialin\n  protocol any\n  virtual-template 1\n", 14, []string{"accepts l2tp tunnels from any host, as vpdn-group LNS"}},
		{"no protocol", "vpdn-group G\n accept-dialin\n  virtual-template 1\ninterface Virtual-Template1\n", 3, []string{"has no protocol"}},
		{"both roles", "vpdn-group G\n accept-dialin\n  protocol l2tp\n  virtual-template 1\n request-dialin\n  protocol l2tp\n initiate-to ip 198.18.0.2\ninterface Virtual-Template1\n", 1, []string{"both accept-dialin and request-dialin"}},
		{"no initiate-to", "vpdn-group G\n request-dialin\n  protocol l2tp\n", 1, []string{"expected initiate-to ip ADDRESS"}},
		{"hidden without password", "l2tp-class c\n hidden\n", 1, []string{"hidden needs a password"}},
		{"range", "l2tp-class c\n retransmit retries 2\n", 2, []string{"a number from 5 to 1000"}},
		{"encap mismatch", "pseudowire-class pw\n encapsulation l2tpv2\n protocol l2tpv3\n", 3, []string{"expected the same version"}},
		{"no without form", "no interface Loopback0\n", 1, []string{`has no "no" form`}},
		{"not supported", "router ospf 1\n network 198.19.0.0 0.0.255.255 area 0\n", 1, []string{"not supported yet", "FRR"}},
		{"encapsulation", "interface Loopback0\n encapsulation hdlc\n", 2, []string{"expected encapsulation ppp"}},
		{"auth twice", "interface Virtual-Template1\n ppp authentication chap chap\n", 2, []string{"listed twice"}},
		{"type7 garbage", "username u password 7 zz\n", 1, []string{"type 7 password"}},
		{"undefined list", "aaa new-model\ninterface Virtual-Template1\n ppp authentication chap MYLIST\n", 3, []string{`list "MYLIST" is not defined`}},
		{"radius without servers", "aaa new-model\naaa authentication ppp default group radius\n", 2, []string{"no RADIUS server is configured", "radius server NAME"}},
		{"undefined server group", "aaa new-model\naaa authorization network default group CORP\n", 2, []string{`server group "CORP" is not defined`}},
		{"radius server without address", "radius server R1\n key k\n", 1, []string{"radius server R1 has no address"}},
		{"radius server without key", "radius server R1\n address ipv4 198.18.0.2\n", 1, []string{"radius server R1 has no key"}},
		{"radius host without key", "radius-server host 198.18.0.2\n", 1, []string{"radius-server host 198.18.0.2 has no key"}},
		{"radius key type 5", "radius-server key 5 abc\n", 1, []string{"key type 5 is not supported"}},
		{"radius key type 7 garbage", "radius server R1\n address ipv4 198.18.0.2\n key 7 zz\n", 3, []string{"type 7 password"}},
		{"radius port range", "radius-server host 198.18.0.2 auth-port 0 key k\n", 1, []string{"invalid input"}},
		{"radius timeout range", "radius-server timeout 0\n", 1, []string{"a number from 1 to 1000"}},
		{"radius deadtime range", "radius-server deadtime 1441\n", 1, []string{"a number from 0 to 1440"}},
		{"group member unknown", "aaa group server radius CORP\n server name R9\n", 2, []string{"server name R9 names no radius server"}},
		{"group member no host", "radius-server key k\naaa group server radius CORP\n server 198.18.0.9\n", 3, []string{"server 198.18.0.9 names no radius-server host"}},
		{"group named radius", "aaa group server radius radius\n", 1, []string{"names the group of every RADIUS server"}},
		{"server-private without key", "aaa group server radius CORP\n server-private 198.18.0.9\n", 2, []string{"expected auth-port or acct-port or timeout or retransmit or key"}},
		{"negotiated on loopback", "interface Loopback0\n ip address negotiated\n", 2, []string{"needs a PPP interface"}},
		{"route host bits", "ip route 198.19.1.1 255.255.255.0 198.18.0.2\n", 1, []string{"bits outside the mask", "198.19.1.0"}},
		{"dialer pool without group", "interface Dialer1\n ip address negotiated\n dialer pool 3\n dialer vpdn\n", 3, []string{"pool-member 3"}},
		{"virtual-access", "interface Virtual-Access3\n", 1, []string{"cloned from a Virtual-Template"}},
		{"bad interface", "interface Virtual-Template\n", 1, []string{"invalid input", "interface name"}},
		{"ambiguous", "i\n", 1, []string{"ambiguous"}},
		{"nul byte", "hostname a\x00b\n", 1, []string{"NUL"}},
		{"no ppp alone", "interface Virtual-Template1\n no ppp\n", 2, []string{"incomplete command", "no ppp {pap"}},
		{"white space only, then an error", "\v\u00a0\nvpdn-grup X\n", 2, []string{"unknown command"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("test.cfg", c.text)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.text)
			}
			el := err.(ErrorList)
			first := el[0]
			if first.Line != c.line {
				t.Errorf("error on line %d, want %d: %v", first.Line, c.line, el)
			}
			if !strings.HasPrefix(first.Error(), "test.cfg:"+strconv.Itoa(c.line)+": ") {
				t.Errorf("error %q is not FILE:LINE: ...", first.Error())
			}
			for _, w := range c.want {
				if !strings.Contains(first.Msg, w) {
					t.Errorf("error %q lacks %q", first.Msg, w)
				}
			}
		})
	}
}

// TestAbbreviations: keywords accept unambiguous prefixes, case-insensitively,
// and print in full.
func TestAbbreviations(t *testing.T) {
	in := `VPDN ENABLE
vpdn-g LNS
 accept
  prot l2tp
  virtual-t 1
 terminate hostname lac1
 l2tp tun pass 0 s3cret
 no l2tp tun auth
int virtual-t1
 ip unn lo0
 peer def ip addr pool P
 ppp auth ms-chap-v2 ms-chap chap callin
 ppp chap host lns
int lo0
 ip addr 198.19.0.1 255.255.255.255
ip local pool P 198.19.1.1 198.19.1.10
`
	res, err := Parse("abbrev", in)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	g := c.Group("LNS")
	if g == nil || g.Accept == nil || g.Accept.Protocol != ProtoL2TP || g.Accept.VirtualTemplate != 1 || g.TerminateFrom != "lac1" {
		t.Fatalf("group: %+v", g)
	}
	if g.TunnelAuth == nil || *g.TunnelAuth || g.TunnelPassword.Value != "s3cret" {
		t.Fatalf("tunnel auth: %+v", g)
	}
	vt := c.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"})
	if vt == nil || vt.Unnumbered == nil || vt.Unnumbered.String() != "Loopback0" {
		t.Fatalf("vt: %+v", vt)
	}
	if got := strings.Join(vt.PPPAuth.Protocols, ","); got != "ms-chap-v2,ms-chap,chap" || !vt.PPPAuth.Callin {
		t.Fatalf("auth: %+v", vt.PPPAuth)
	}
	out := c.String()
	for _, want := range []string{"vpdn-group LNS\n accept-dialin\n  protocol l2tp\n  virtual-template 1\n", "interface Virtual-Template1\n ip unnumbered Loopback0\n", "ppp authentication ms-chap-v2 ms-chap chap callin\n", " no l2tp tunnel authentication\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkFixedPoint(t, c)
}

// TestNoForms: "no" removes what the positive form set.
func TestNoForms(t *testing.T) {
	in := base + `interface Virtual-Template1
 no peer default ip address
 no ppp authentication
vpdn-group LNS
 no terminate-from hostname x
no vpdn enable
no ip local pool P
`
	res, err := Parse("no", in)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	vt := c.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"})
	if !vt.PeerDefault.None || vt.PPPAuth != nil || c.VPDN.Enabled || c.PoolByName("P") != nil {
		t.Fatalf("no forms not applied: %+v %+v", vt, c)
	}
	checkFixedPoint(t, c)
}

// TestIPv6Commands: the IPv6 commands of a Virtual-Template and the IPv6
// pool, their model, their no forms, and a printed form that parses back.
func TestIPv6Commands(t *testing.T) {
	in := base + `ipv6 local pool V6 2001:db8::/48 64
ipv6 local pool GONE 2001:db8:1::/48 64
no ipv6 local pool GONE
interface Virtual-Template1
 ipv6 enable
 ipv6 nd ra interval 30
 ipv6 nd ra lifetime 600
 ipv6 nd ra suppress
 no ipv6 nd ra suppress
 ipv6 nd prefix default 3600 1800
 ipv6 nd prefix 2001:db8:ff::/64
 peer default ipv6 pool V6
`
	res, err := Parse("v6", in)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	v := c.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"}).IPv6
	if !v.Enable || v.RAInterval != 30 || v.RALifetime == nil || *v.RALifetime != 600 || v.RASuppress ||
		*v.Valid != 3600 || *v.Preferred != 1800 || v.Prefix != netip.MustParsePrefix("2001:db8:ff::/64") || v.PeerPool != "V6" {
		t.Fatalf("ipv6 %+v", v)
	}
	if len(c.IP.IPv6Pools) != 1 || c.IPv6PoolByName("V6").Prefix != netip.MustParsePrefix("2001:db8::/48") {
		t.Fatalf("pools %+v", c.IP.IPv6Pools)
	}
	checkFixedPoint(t, c)
	res, err = Parse("v6 no", in+"interface Virtual-Template1\n no ipv6 enable\n no ipv6 nd prefix default\n no peer default ipv6 pool V6\n")
	if err != nil {
		t.Fatal(err)
	}
	v = res.Config.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"}).IPv6
	if v.Enable || v.Valid != nil || v.PeerPool != "" {
		t.Fatalf("no forms: %+v", v)
	}
}

// TestVerifyUnicast: strict and loose uRPF, and the no form that turns
// vpdn's default (strict on a Virtual-Template) off; each prints and
// parses back the same.
func TestVerifyUnicast(t *testing.T) {
	for in, want := range map[string]string{
		" ip verify unicast source reachable-via rx\n":  "rx",
		" ip verify unicast source reachable-via any\n": "any",
		" no ip verify unicast source reachable-via\n":  "none",
		"": "",
	} {
		res, err := Parse("urpf", base+"interface Virtual-Template1\n"+in)
		if err != nil {
			t.Fatal(err)
		}
		vt := res.Config.Interface(IfName{Kind: IfVirtualTemplate, Number: "1"})
		if vt.VerifyUnicast != want {
			t.Errorf("%q: %q, want %q", in, vt.VerifyUnicast, want)
		}
		checkFixedPoint(t, res.Config)
	}
}

// TestSubmodeFallback: a command of an enclosing mode leaves the submode,
// as IOS does, whatever the indentation.
func TestSubmodeFallback(t *testing.T) {
	in := "vpdn-group A\naccept-dialin\nprotocol l2tp\nvirtual-template 1\nlocal name lns\ninterface Virtual-Template1\nexit\nvpdn-group B\n request-dialin\n protocol l2tp\n initiate-to ip 198.18.0.2\n exit\n exit\nvpdn enable\n"
	res, err := Parse("fallback", in)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Config.Group("A")
	if a.LocalName != "lns" || a.Accept.VirtualTemplate != 1 {
		t.Fatalf("group A: %+v", a)
	}
	if b := res.Config.Group("B"); len(b.InitiateTo) != 1 || b.Request.Protocol != ProtoL2TP {
		t.Fatalf("group B: %+v", b)
	}
	if !res.Config.VPDN.Enabled {
		t.Fatal("vpdn enable lost")
	}
}

func TestWarnings(t *testing.T) {
	res, err := LoadFile("testdata/docs/004-l2tpv2-lac9.cfg")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, `read as "ip unnumbered Loopback0"`) && w.Line == 19 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no warning about ip address loopback0 on line 19: %v", res.Warnings)
	}
}

func TestInterfaceNames(t *testing.T) {
	good := map[string]string{
		"ethernet0/0": "Ethernet0/0", "Ethernet0 / 0": "Ethernet0/0", "FastEthernet 0/0": "FastEthernet0/0",
		"GigabitEthernet0/0": "GigabitEthernet0/0", "gi0/0": "GigabitEthernet0/0", "Gi1/0.100": "GigabitEthernet1/0.100",
		"loopback1": "Loopback1", "loopback 1": "Loopback1", "lo0": "Loopback0", "Virtual-Template1": "Virtual-Template1",
		"virtual-t 2": "Virtual-Template2", "virtual-ppp 1": "Virtual-PPP1", "virtual-PPP 1": "Virtual-PPP1", "Vp1": "Virtual-PPP1",
		"Vi3": "Virtual-Access3", "Dialer1": "Dialer1", "di1": "Dialer1",
		"eth0": "eth0", "veth-lns": "veth-lns", "lo": "lo", "ens3": "ens3", "br0.10": "br0.10",
	}
	for in, want := range good {
		n, err := ParseInterfaceName(in)
		if err != nil || n.String() != want {
			t.Errorf("ParseInterfaceName(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "virtual-ppp", "Loopback", "Loopback1/0", "a b", "thisnameiswaytoolong0", "eth0/1/x", "et h0", "bad$name"} {
		if n, err := ParseInterfaceName(bad); err == nil {
			t.Errorf("ParseInterfaceName(%q) = %v, want error", bad, n)
		}
	}
	if n, _ := ParseInterfaceName("Virtual-Access3"); n.Short() != "Vi3" {
		t.Errorf("short name %q", n.Short())
	}
}

// TestCommandTable: every spec compiles, renders, and every command has help.
func TestCommandTable(t *testing.T) {
	for _, c := range commandTable {
		if c.help == "" {
			t.Errorf("%s: no help text", c.spec)
		}
		if c.apply == nil && c.later == "" {
			t.Errorf("%s: neither apply nor later", c.spec)
		}
		if strings.Contains(c.syntax(), "?") || len(c.elem.leadingKeywords()) == 0 {
			t.Errorf("spec %q renders as %q", c.spec, c.syntax())
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/docs/*.cfg")
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(string(b))
	}
	f.Add(base)
	f.Add(profileHub)
	f.Add("interface Virtual-PPP1\n pseudowire 198.18.0.2 1 pw-class x sequencing both\n")
	f.Add("interface Virtual-Template1\n no ppp\n no ppp chap\n no ip\n")
	f.Add("ipv6 local pool V6 2001:db8::/48 64\ninterface Virtual-Template1\n ipv6 enable\n ipv6 nd prefix default 9 8\n no ipv6 nd prefix 2001:db8:1::/64\n peer default ipv6 pool V6\ninterface Virtual-PPP1\n ipv6 address autoconfig default\n ipv6 dhcp client pd PD rapid-commit\n")
	f.Add("crypto key import rsa K pem url file:/nonexistent.pem\ncrypto pki trustpoint TP\n enrollment terminal\n revocation-check none\ncrypto pki certificate chain TP\n certificate ca 01\n  30820102 0304\n  \tquit\n certificate 02\n  3082\n  quit\ncrypto isakmp policy 1\n authentication rsa-sig\n")
	if b, err := os.ReadFile("testdata/radius/lns-radius.cfg"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		res, err := Parse("fuzz", text)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		out1 := res.Config.String()
		res2, err := Parse("printed", out1)
		if err != nil {
			t.Fatalf("printed config does not parse: %v\ninput:\n%q\nprinted:\n%s", err, text, out1)
		}
		if out2 := res2.Config.String(); out1 != out2 {
			t.Fatalf("not a fixed point:\n%s\n---\n%s", out1, out2)
		}
		// The JSON form reads back to the same configuration. JSON strings
		// are UTF-8: bytes that are not are written as U+FFFD (lossy, as
		// docs/json.md says), so only valid text must round-trip.
		if !utf8.ValidString(text) {
			return
		}
		b1, err := json.Marshal(res.Config)
		if err != nil {
			t.Fatalf("JSON: %v\ninput:\n%q", err, text)
		}
		var c Config
		if err := json.Unmarshal(b1, &c); err != nil {
			t.Fatalf("JSON does not read back: %v\n%s", err, b1)
		}
		if b2, _ := json.Marshal(&c); !bytes.Equal(b1, b2) || c.String() != out1 {
			t.Fatalf("JSON round trip changed the configuration:\n%s\n---\n%s", b1, b2)
		}
	})
}

func TestDiff(t *testing.T) {
	a, _ := Parse("a", base)
	b, err := Parse("b", strings.Replace(base, "ppp authentication chap", "ppp authentication pap", 1)+"ip route 198.19.9.0 255.255.255.0 198.18.0.9\n")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Diff(a.Config, b.Config), "|")
	want := "~ interface Virtual-Template1|+ ip route 198.19.9.0 255.255.255.0 198.18.0.9"
	if got != want {
		t.Fatalf("diff = %q, want %q", got, want)
	}
	if d := Diff(a.Config, a.Config); len(d) != 0 {
		t.Fatalf("self diff = %v", d)
	}
}

// TestInertCommandsWarn: a command accepted without effect yet says so,
// with its line, instead of being silently ignored.
func TestInertCommandsWarn(t *testing.T) {
	res, err := Parse("inert.cfg", base+"service internal\n")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range res.Warnings {
		if w.Line == 14 && strings.Contains(w.Msg, `"service internal" is accepted but has no effect yet`) && strings.Contains(w.Msg, "IOS services") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no warning for an inert command: %v", res.Warnings)
	}
	// static-rtt sets the PPTP acknowledgement timeout: no warning.
	res, err = Parse("rtt.cfg", base+"vpdn-group LNS\n pptp flow-control static-rtt 300\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "static-rtt") {
			t.Errorf("static-rtt warns: %v", w)
		}
	}
	if g := res.Config.VPDN.Groups[0]; g.PPTPStaticRTT != 300 {
		t.Errorf("static-rtt %d", g.PPTPStaticRTT)
	}
	// A plain LNS uses only commands the daemon acts on: virtual-template
	// clones every Virtual-Access, so it is not inert.
	res, err = Parse("lns.cfg", base)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "no effect") {
			t.Errorf("warning for a command that has an effect: %v", w)
		}
	}
	for _, c := range commandTable {
		if c.inert != "" && c.later != "" {
			t.Errorf("%s: both refused and inert", c.spec)
		}
	}
}
