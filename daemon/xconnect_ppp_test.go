package daemon

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/control"
	l2tpproto "github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// Document 004's L2TPv3 LNS/LAC pair ("Configure for L2TPv3") with its
// addresses mapped: 55.1.1.3 -> 198.18.1.3, 77.1.1.7 -> 198.18.1.7,
// Loopback0 3.3.3.3 -> 198.19.3.3, the LAC's 7.7.7.7 (the LNS lends it:
// peer default ip address, as its show caller user says "remote 7.7.7.7")
// -> 198.19.7.7, 192.168.1.0/24 -> 198.19.1.0/24, 172.30.1.0/24 ->
// 198.19.30.0/24. The document's l2tp-classes (client.inint.class on the
// LNS, client.init.class on the LAC) are not defined in it: IOS defaults.
// extra goes into each pseudowire-class (ip protocol udp).
func doc004V3LNS(extra string) string {
	return `hostname LNS
username LAC password 0 cisco123
pseudowire-class client.init.pw
 encapsulation l2tpv3
 protocol l2tpv3 client.inint.class
 ip local interface Ethernet0/1
` + extra + `interface Ethernet0/1
 ip address 198.18.1.3 255.255.255.0
interface Virtual-PPP1
 ip unnumbered Loopback0
 ppp authentication ms-chap-v2
 pseudowire 198.18.1.7 1 pw-class client.init.pw
interface Loopback0
 ip address 198.19.3.3 255.255.255.255
interface Virtual-PPP1
 ip unnumbered Loopback0
 peer default ip address 198.19.7.7
 ppp authentication ms-chap-v2
 pseudowire 198.18.1.7 1 pw-class client.init.pw
ip route 198.19.30.0 255.255.255.0 Virtual-PPP1
`
}

func doc004V3LAC(extra string) string {
	return `hostname LAC
username LNS password 0 cisco123
pseudowire-class pwclass2
 encapsulation l2tpv3
 protocol l2tpv3 client.init.class
 ip local interface Ethernet0/0
` + extra + `interface Ethernet0/0
 ip address 198.18.1.7 255.255.255.0
interface Virtual-PPP1
 ip address negotiated
 ppp authentication ms-chap-v2
 no cdp enable
 pseudowire 198.18.1.3 1 pw-class pwclass2
ip route 198.19.1.0 255.255.255.0 Virtual-PPP1
`
}

// TestInMemoryPPPPseudowire: document 004's L2TPv3 LNS and LAC, each a
// Virtual-PPP over a dynamic L2TPv3 session of pseudowire type PPP, over
// IP and over UDP: MS-CHAPv2 both ways, IPCP lends the LAC its address,
// the static routes through Virtual-PPP1 are installed, IP crosses, and
// show caller user / show vpdn / show l2tp session say so.
func TestInMemoryPPPPseudowire(t *testing.T) {
	for _, udp := range []bool{false, true} {
		name, extra := "ip", ""
		if udp {
			name, extra = "udp", " ip protocol udp\n"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(1)
				la, ca := netip.MustParseAddr("198.18.1.3"), netip.MustParseAddr("198.18.1.7")
				lns := newMemDaemon(t, nw, doc004V3LNS(extra), func(o *Options) { o.Binds = nw.Host(la) })
				lac := newMemDaemon(t, nw, doc004V3LAC(extra), func(o *Options) { o.Binds = nw.Host(ca) })
				up := func(m *memDaemon) bool {
					r := m.d.Do(t.Context(), &control.Request{Verb: "show", Words: []string{"caller", "user", map[*memDaemon]string{lns: "LAC", lac: "LNS"}[m]}})
					return r.OK && strings.Contains(r.Text, "IPCP")
				}
				for i := 0; !up(lns) || !up(lac); i++ {
					if i == 90 {
						t.Fatalf("not up:\n%s\n%s\n%s", lns.show(t, "l2tp session all", false).Text,
							lac.show(t, "l2tp session all", false).Text, lac.show(t, "users", false).Text)
					}
					time.Sleep(time.Second)
				}
				synctest.Wait()
				if addrs, _ := lac.host.Addrs("Vp1"); len(addrs) != 1 || addrs[0].Addr() != netip.MustParseAddr("198.19.7.7") {
					t.Fatalf("LAC Vp1 addresses %v", addrs)
				}
				if rs, _ := lac.host.Routes("Vp1"); !strings.Contains(fmtRoutes(rs), "198.19.1.0/24") {
					t.Errorf("LAC Vp1 routes %v", rs)
				}
				if rs, _ := lns.host.Routes("Vp1"); !strings.Contains(fmtRoutes(rs), "198.19.30.0/24") {
					t.Errorf("LNS Vp1 routes %v", rs)
				}
				cu := lns.show(t, "caller user LAC", false).Text
				for _, want := range []string{"User: LAC, line Vp1, service PPP\n", "LCP Open", "MS CHAP V2", "IPCP",
					"Local 198.19.3.3, remote 198.19.7.7"} {
					if !strings.Contains(cu, want) {
						t.Errorf("LNS show caller user LAC lacks %q:\n%s", want, cu)
					}
				}
				// IP from the LAC's network to the LNS's, through Vp1.
				vp := lac.host.Device("Vp1")
				lvp := lns.host.Device("Vp1")
				p := udpPacket("198.19.7.7", "198.19.1.1", 64)
				if err := vp.Inject(vnetPacket(vp, p)); err != nil {
					t.Fatal(err)
				}
				select {
				case g := <-lvp.Outbound:
					if got := stripVnet(lvp, g); string(got) != string(p) {
						t.Fatalf("LNS got %x", got)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no packet across")
				}
				synctest.Wait()
				// The control connection cleared on the LAC: both PPP
				// sessions end with it, and the dial loop brings the
				// pseudowire and PPP up again.
				var tuns []show.Tunnel
				if err := json.Unmarshal(lac.show(t, "l2tun tunnel", true).Data, &tuns); err != nil || len(tuns) != 1 {
					t.Fatalf("tunnels: %v %+v", err, tuns)
				}
				if r := lac.do("clear", "l2tun", "tunnel", "id", strconv.FormatUint(uint64(tuns[0].LocalID), 10)); !r.OK {
					t.Fatalf("clear: %+v", r)
				}
				for i := 0; ; i++ {
					var again []show.Tunnel
					_ = json.Unmarshal(lac.show(t, "l2tun tunnel", true).Data, &again)
					if len(again) == 1 && again[0].LocalID != tuns[0].LocalID && up(lns) && up(lac) {
						break
					}
					if i == 120 {
						t.Fatalf("not up again after clear: %+v\n%s", again, lac.show(t, "l2tp session all", false).Text)
					}
					time.Sleep(time.Second)
				}
				synctest.Wait()
				for _, m := range []*memDaemon{lns, lac} {
					s := m.show(t, "l2tp session all", false).Text
					if !strings.Contains(s, "PPP") || !strings.Contains(s, "Session is L2TP signaled") {
						t.Errorf("show l2tp session all:\n%s", s)
					}
					if v := m.show(t, "vpdn", false).Text; !strings.Contains(v, "1, Vp1") || !strings.Contains(v, "sessions 1") {
						t.Errorf("show vpdn:\n%s", v)
					}
				}
			})
		})
	}
}

// TestInMemoryPPPPseudowireWrongType: a Virtual-PPP whose VCID the peer
// has configured as an Ethernet xconnect: the peer refuses the ICRQ with
// CDN result 14 (RFC 3931 §5.4.2, unsupported PW type), and the
// Virtual-PPP stays down with that error.
func TestInMemoryPPPPseudowireWrongType(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		r5a, r9a := netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("198.18.1.9")
		r5 := newMemDaemon(t, nw, memDynPE("R5", "198.18.1.5", "198.18.1.9", ""), func(o *Options) { o.Binds = nw.Host(r5a) })
		r9 := newMemDaemon(t, nw, `hostname R9
l2tp-class L2TP_CTL
 digest secret 0 s3cret hash sha
pseudowire-class L2TP_Class
 encapsulation l2tpv3
 protocol l2tpv3 L2TP_CTL
 ip local interface GigabitEthernet1/0
interface GigabitEthernet1/0
 ip address 198.18.1.9 255.255.255.0
interface Virtual-PPP1
 ip address negotiated
 pseudowire 198.18.1.5 7 pw-class L2TP_Class
`, func(o *Options) { o.Binds = nw.Host(r9a) })
		for i := 0; ; i++ {
			s := r9.show(t, "l2tp session all", false).Text
			if strings.Contains(s, "unsupported PW type") || strings.Contains(s, "not supported") {
				break
			}
			if i == 90 {
				t.Fatalf("no CDN 14:\n%s\n%s", s, r5.show(t, "l2tp session all", false).Text)
			}
			time.Sleep(time.Second)
		}
		if r9.host.Device("Vp1") != nil {
			t.Error("Vp1 is up")
		}
	})
}

// TestV3PPPMTU: the Virtual-PPP MTU of a PPP pseudowire keeps the outer
// packet within 1500 octets for each transport, cookie and sublayer.
func TestV3PPPMTU(t *testing.T) {
	c4 := l2tp.Cookie4(55111)
	for _, tc := range []struct {
		udp, l2ss bool
		cookie    l2tp.Cookie
		want      int
	}{
		{false, false, l2tp.Cookie{}, 1472},
		{false, false, c4, 1468},
		{true, false, c4, 1456},
		{true, true, c4, 1452},
	} {
		if got := v3PPPMTU(tc.udp, l2tpproto.PWInfo{RemoteCookie: tc.cookie, L2SS: tc.l2ss}); got != tc.want {
			t.Errorf("udp %v l2ss %v cookie %d: %d, want %d", tc.udp, tc.l2ss, tc.cookie.Len(), got, tc.want)
		}
	}
}
