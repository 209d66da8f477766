package config

import (
	"strings"
	"testing"
)

const manualPW = `pseudowire-class PW
 encapsulation l2tpv3
 protocol none
 ip local interface GigabitEthernet1/0
 ip tos value 184
 ip ttl 17
 ip dfbit set
 ip protocol udp
 sequencing both
!
interface GigabitEthernet1/0
 ip address 198.18.5.1 255.255.255.0
 linux-device eth1
!
interface GigabitEthernet0/0
 no ip address
 linux-device pw0 tap
 xconnect 198.18.9.1 1 encapsulation l2tpv3 manual pw-class PW
  l2tp id 1 2
  l2tp cookie local 8 100 200
  l2tp cookie remote 4 44119
`

func TestL2TPv3Manual(t *testing.T) {
	res, err := Parse("pw.cfg", manualPW)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	pc := c.PWClassByName("PW")
	if pc.IPProtocol != "udp" || *pc.TOSValue != 184 || pc.TTL != 17 || !pc.DFBitSet || pc.Sequencing != "both" {
		t.Fatalf("%+v", pc)
	}
	var x *Xconnect
	var ifc *Interface
	for _, i := range c.Interfaces {
		if i.Xconnect != nil {
			x, ifc = i.Xconnect, i
		}
	}
	if !ifc.LinuxTAP || ifc.LinuxDevice != "pw0" || x.LocalSession != 1 || x.RemoteSession != 2 ||
		*x.LocalCookie != (Cookie{Size: 8, Low: 100, High: 200}) || *x.RemoteCookie != (Cookie{Size: 4, Low: 44119}) {
		t.Fatalf("%+v %+v", ifc, x)
	}
	// What prints parses back the same.
	again, err := Parse("again.cfg", c.String())
	if err != nil || again.Config.String() != c.String() {
		t.Fatalf("print/parse: %v\n%s", err, c.String())
	}
}

func TestL2TPv3Refused(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"dynamic", "manual pw-class PW", "protocol none has static sessions only"},
		{"protocol-l2tpv3", " protocol none", "protocol l2tpv3 signals sessions with a control connection"},
		{"no-l2tp-class", " protocol none", `l2tp-class "C" does not exist`},
		{"encapsulation", " encapsulation l2tpv3", "expected encapsulation l2tpv3"},
		{"cookie-size", "  l2tp cookie remote 4 44119", "l2tp cookie: expected SIZE 4 LOW or SIZE 8 LOW HIGH"},
		{"no-ids", "  l2tp id 1 2", "xconnect manual needs session IDs"},
		{"ip-protocol", " ip protocol udp", "ip protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := manualPW
			switch tc.name {
			case "dynamic":
				text = strings.Replace(text, "manual pw-class PW", "pw-class PW", 1)
				text = text[:strings.Index(text, "  l2tp id")]
			case "protocol-l2tpv3":
				text = strings.Replace(text, " protocol none", " protocol l2tpv3 C", 1)
			case "no-l2tp-class":
				text = strings.Replace(text, " protocol none", " protocol l2tpv3 C", 1)
				text = strings.Replace(text, "manual pw-class PW", "pw-class PW", 1)
				text = text[:strings.Index(text, "  l2tp id")]
			case "encapsulation":
				text = strings.Replace(text, " encapsulation l2tpv3", " encapsulation l2tpv2\n protocol none", 1)
				text = strings.Replace(text, " protocol none\n ip local", " ip local", 1)
			case "cookie-size":
				text = strings.Replace(text, "  l2tp cookie remote 4 44119", "  l2tp cookie remote 6 1 2", 1)
			case "no-ids":
				text = strings.Replace(text, "  l2tp id 1 2\n", "", 1)
			case "ip-protocol":
				text = strings.Replace(text, " ip protocol udp", " ip protocol gre", 1)
			}
			_, err := Parse("bad.cfg", text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestL2TPv3VLANSubinterface(t *testing.T) {
	const cfg = `pseudowire-class PW
 encapsulation l2tpv3
 protocol none
interface GigabitEthernet0/0
 linux-device eth1
interface GigabitEthernet0/0.10
 encapsulation dot1Q 10
 xconnect 198.18.9.1 1 encapsulation l2tpv3 manual pw-class PW
  l2tp id 1 2
`
	res, err := Parse("vlan.cfg", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sub *Interface
	for _, i := range res.Config.Interfaces {
		if i.Dot1Q != 0 {
			sub = i
		}
	}
	if sub == nil || sub.Dot1Q != 10 {
		t.Fatalf("%+v", sub)
	}
	if dev, tap := res.Config.LinuxDeviceOf(sub); dev != "eth1" || tap {
		t.Fatalf("device %q %v: the parent's expected", dev, tap)
	}
	if again, err := Parse("again.cfg", res.Config.String()); err != nil || again.Config.String() != res.Config.String() {
		t.Fatalf("print/parse: %v", err)
	}
	for _, tc := range []struct{ edit, want string }{
		{strings.Replace(cfg, " encapsulation dot1Q 10\n", "", 1), "expected encapsulation dot1Q VLAN"},
		{strings.Replace(cfg, "interface GigabitEthernet0/0.10", "interface GigabitEthernet0/1", 1), "expected an Ethernet subinterface"},
		{strings.Replace(cfg, "dot1Q 10", "dot1Q 4095", 1), "dot1Q 4095"},
		{strings.Replace(cfg, " linux-device eth1\n", " linux-device eth1\n xconnect 198.18.9.1 2 encapsulation l2tpv3 manual pw-class PW\n  l2tp id 3 4\n", 1), "not both"},
	} {
		if _, err := Parse("bad.cfg", tc.edit); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// TestL2TPClassCookieSize: `cookie size` takes 0, 4 or 8 and nothing else;
// `no cookie size` returns to the default.
func TestL2TPClassCookieSize(t *testing.T) {
	for _, tc := range []struct {
		lines string
		want  int // -1: default (nil)
		err   string
	}{
		{" cookie size 8\n", 8, ""}, {" cookie size 0\n", 0, ""}, {" cookie size 4\n", 4, ""},
		{" cookie size 8\n no cookie size\n", -1, ""}, {"", -1, ""},
		{" cookie size 6\n", 0, "cookie size 6: expected 0, 4 or 8"},
		{" cookie size 9\n", 0, "cookie size"}, {" cookie size\n", 0, "cookie size"},
		{" cookie size x\n", 0, "cookie size"},
	} {
		c, err := Parse("t.cfg", "l2tp-class C\n"+tc.lines)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want %q", tc.lines, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.lines, err)
		}
		got := -1
		if cs := c.Config.L2TPClassByName("C").CookieSize; cs != nil {
			got = *cs
		}
		if got != tc.want {
			t.Errorf("%q: cookie size %d, want %d", tc.lines, got, tc.want)
		}
	}
}

// TestTOSReflect: `ip tos reflect` is accepted beside `ip tos value` (the
// value stays for what carries no IP packet), printed back, and undone by
// its no form.
func TestTOSReflect(t *testing.T) {
	text := strings.Replace(manualPW, " ip tos value 184\n", " ip tos value 184\n ip tos reflect\n", 1)
	r, err := Parse("t.cfg", text)
	if err != nil {
		t.Fatal(err)
	}
	pc := r.Config.PWClassByName("PW")
	if !pc.TOSReflect || pc.TOSValue == nil || *pc.TOSValue != 184 {
		t.Fatalf("class %+v", pc)
	}
	r, err = Parse("t.cfg", text+"pseudowire-class PW\n no ip tos reflect\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Config.PWClassByName("PW").TOSReflect {
		t.Fatal("no ip tos reflect left it on")
	}
}
