package daemon

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3162"
	"layeh.com/radius/rfc4818"

	"github.com/vpdn/vpdn/aaa/radius/radiustest"
	"github.com/vpdn/vpdn/transport/memnet"
)

// memRadiusLNS is memLNS authenticating through a RADIUS server on the
// in-memory network.
const memRadiusLNS = `hostname lns
aaa new-model
aaa authentication ppp default group radius
aaa authorization network default group radius
radius server R
 address ipv4 198.18.0.9 auth-port 1812 acct-port 1813
 key 0 testing123
vpdn enable
vpdn l2tp listen 198.18.0.1:1701
ip local pool P 198.19.1.1 198.19.1.10
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 terminate-from hostname lac
 l2tp tunnel password 0 s3cret
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
`

// serveRadius serves srv on addr of nw until the test ends.
func serveRadius(t *testing.T, nw *memnet.Network, addr string, srv *radiustest.Server) {
	t.Helper()
	c, err := nw.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go c.ServeBatch(func(b []byte, from netip.AddrPort) {
		if out, ok := srv.Handle(b); ok {
			_ = c.WriteTo(out, from)
		}
	}, nil)
}

// bringUpMem waits, bounded, for the LAC's Vp1 and the LNS's Vi1.
func bringUpMem(t *testing.T, lns, lac *memDaemon) {
	t.Helper()
	for i := 0; lac.host.Device("Vp1") == nil || lns.host.Device("Vi1") == nil; i++ {
		if i > 60 {
			t.Fatalf("no session: LAC links %v, LNS links %v", lac.host.Links(), lns.host.Links())
		}
		time.Sleep(time.Second)
	}
	synctest.Wait()
}

// TestInMemoryRadiusAuthz: the attributes of a RADIUS Access-Accept that
// shape the session are applied on the LNS: Framed-IP-Address is the
// peer's address, Framed-MTU caps the Virtual-Access's MTU,
// Framed-IP-Netmask routes the client's network (IOS: a static route to
// Framed-IP-Address under the mask), Framed-Route routes through the
// session; the IPv6 prefixes show in show caller user, marked not applied
// (the LAC runs no IPv6CP: it rejects the protocol).
// A Framed-MTU above the link's MTU (1460: 1500 less L2TP's overhead) or
// below IPv4's minimum changes nothing.
func TestInMemoryRadiusAuthz(t *testing.T) {
	cases := []struct {
		name    string
		mtu     uint32
		wantMTU int
	}{
		{"mtu 1400", 1400, 1400},
		{"mtu above the link's", 9000, 1460},
		{"mtu below 68", 60, 1460},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(1)
				srv := &radiustest.Server{Secret: []byte("testing123"), Users: map[string]string{"alice": "wonderland"},
					Reply: func(user string, req, resp *radius.Packet) {
						rfc2865.FramedIPAddress_Set(resp, net.IPv4(198, 19, 7, 5))
						rfc2865.FramedIPNetmask_Set(resp, net.IPv4(255, 255, 255, 0))
						rfc2865.FramedMTU_Set(resp, rfc2865.FramedMTU(tc.mtu))
						rfc2865.FramedRoute_AddString(resp, "198.19.50.0/24 0.0.0.0 1")
						_, p6, _ := net.ParseCIDR("2001:db8:1::/64")
						_, d6, _ := net.ParseCIDR("2001:db8:2::/56")
						rfc3162.FramedIPv6Prefix_Add(resp, p6)
						rfc4818.DelegatedIPv6Prefix_Add(resp, d6)
					}}
				serveRadius(t, nw, "198.18.0.9:1812", srv)
				lns := newMemDaemon(t, nw, memRadiusLNS)
				lac := newMemDaemon(t, nw, memLAC)
				bringUpMem(t, lns, lac)
				if addrs, _ := lac.host.Addrs("Vp1"); len(addrs) != 1 || addrs[0].Addr() != netip.MustParseAddr("198.19.7.5") {
					t.Fatalf("Vp1 addresses %v (want Framed-IP-Address)", addrs)
				}
				l, ok := lns.host.Link("Vi1")
				if !ok || l.MTU != tc.wantMTU {
					t.Errorf("Vi1 MTU %d, want %d", l.MTU, tc.wantMTU)
				}
				rs, _ := lns.host.Routes("Vi1")
				got := routeDsts(rs)
				for _, want := range []string{"198.19.7.0/24", "198.19.50.0/24"} {
					if !slices.Contains(got, want) {
						t.Errorf("Vi1 routes %v lack %s", got, want)
					}
				}
				u := lns.show(t, "caller user alice", false).Text
				for _, want := range []string{
					"IP: Local 198.19.0.1, remote 198.19.7.5",
					"Framed: MTU " + strconv.Itoa(tc.wantMTU) + ", routes 198.19.50.0/24 198.19.7.0/24",
					"IPv6: prefix 2001:db8:1::/64, delegated 2001:db8:2::/56 (not applied: IPV6CP not open)",
				} {
					if !strings.Contains(u, want) {
						t.Errorf("show caller user lacks %q:\n%s", want, u)
					}
				}
			})
		})
	}
}

// TestInMemoryLocalAuthRadiusAuthz: a user authenticated locally is
// authorized by RADIUS (an authorization-only Access-Request, Service-Type
// Authorize Only, no password) and the Accept's attributes are applied.
func TestInMemoryLocalAuthRadiusAuthz(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		srv := &radiustest.Server{Secret: []byte("testing123"),
			Access: func(req *radius.Packet) *radius.Packet {
				if rfc2865.ServiceType_Get(req) != 17 || req.Get(rfc2865.CHAPPassword_Type) != nil || rfc2865.UserName_GetString(req) != "alice" {
					return req.Response(radius.CodeAccessReject)
				}
				resp := req.Response(radius.CodeAccessAccept)
				rfc2865.FramedIPAddress_Set(resp, net.IPv4(198, 19, 7, 9))
				rfc2865.FramedRoute_AddString(resp, "198.19.60.0/24")
				return resp
			}}
		serveRadius(t, nw, "198.18.0.9:1812", srv)
		cfg := strings.Replace(memRadiusLNS, "aaa authentication ppp default group radius\n", "aaa authentication ppp default local\nusername alice password 0 wonderland\n", 1)
		lns := newMemDaemon(t, nw, cfg)
		lac := newMemDaemon(t, nw, memLAC)
		bringUpMem(t, lns, lac)
		if addrs, _ := lac.host.Addrs("Vp1"); len(addrs) != 1 || addrs[0].Addr() != netip.MustParseAddr("198.19.7.9") {
			t.Fatalf("Vp1 addresses %v (want RADIUS's Framed-IP-Address)", addrs)
		}
		if rs, _ := lns.host.Routes("Vi1"); !slices.Contains(routeDsts(rs), "198.19.60.0/24") {
			t.Errorf("Vi1 routes %v", routeDsts(rs))
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d RADIUS requests, want the one authorization", n)
		}
	})
}

// TestInMemoryCoAInterim: a CoA-Request naming the session by User-Name
// and NAS-Port changes its Acct-Interim-Interval: Interim-Updates reach
// the accounting server at the new interval, show caller user shows it,
// and a Framed-Pool in a CoA gets a NAK with Error-Cause 401.
func TestInMemoryCoAInterim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		srv := &radiustest.Server{Secret: []byte("testing123"), Users: map[string]string{"alice": "wonderland"}}
		serveRadius(t, nw, "198.18.0.9:1812", srv)
		serveRadius(t, nw, "198.18.0.9:1813", srv)
		cfg := memRadiusLNS + "aaa accounting network default start-stop group radius\naaa server radius dynamic-author\n client 198.18.0.9 server-key 0 coasecret\n"
		lns := newMemDaemon(t, nw, cfg, func(o *Options) { o.AcctSpoolDir = t.TempDir() })
		lac := newMemDaemon(t, nw, memLAC)
		bringUpMem(t, lns, lac)
		interims := func() int {
			n := 0
			for _, p := range srv.Requests() {
				if p.Code == radius.CodeAccountingRequest && rfc2866.AcctStatusType_Get(p) == rfc2866.AcctStatusType_Value_InterimUpdate {
					n++
				}
			}
			return n
		}
		if n := interims(); n != 0 {
			t.Fatalf("%d Interim-Updates before the CoA", n)
		}
		coa, err := nw.Listen(netip.MustParseAddrPort("198.18.0.9:40000"))
		if err != nil {
			t.Fatal(err)
		}
		defer coa.Close()
		answers := make(chan *radius.Packet, 4)
		go coa.ServeBatch(func(b []byte, _ netip.AddrPort) {
			if p, err := radius.Parse(b, []byte("coasecret")); err == nil {
				answers <- p
			}
		}, nil)
		send := func(id byte, attrs func(p *radius.Packet)) *radius.Packet {
			t.Helper()
			p := radius.New(radius.CodeCoARequest, []byte("coasecret"))
			p.Identifier = id
			attrs(p)
			b, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := coa.WriteTo(b, netip.MustParseAddrPort("198.18.0.1:3799")); err != nil {
				t.Fatal(err)
			}
			select {
			case a := <-answers:
				return a
			case <-time.After(10 * time.Second):
				t.Fatal("no answer to the CoA-Request")
			}
			return nil
		}
		ack := send(1, func(p *radius.Packet) {
			rfc2865.UserName_SetString(p, "alice")
			rfc2865.NASPort_Set(p, 1)
			rfc2869.AcctInterimInterval_Set(p, 60)
		})
		if ack.Code != radius.CodeCoAACK {
			t.Fatalf("answer %v", ack.Code)
		}
		if u := lns.show(t, "caller user alice", false).Text; !strings.Contains(u, "00:01:00  -         Accounting interim") {
			t.Errorf("show caller user:\n%s", u)
		}
		time.Sleep(150 * time.Second)
		synctest.Wait()
		if n := interims(); n != 2 {
			t.Errorf("%d Interim-Updates in 150 s at 60 s, want 2", n)
		}
		nak := send(2, func(p *radius.Packet) {
			rfc2865.UserName_SetString(p, "alice")
			p.Add(88, radius.Attribute("P2")) // Framed-Pool
		})
		if nak.Code != radius.CodeCoANAK || binary.BigEndian.Uint32(nak.Get(101)) != 401 {
			t.Errorf("Framed-Pool CoA: %v %x", nak.Code, nak.Get(101))
		}
	})
}
