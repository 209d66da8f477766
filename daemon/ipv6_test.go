package daemon

import (
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc3162"
	"layeh.com/radius/rfc4818"

	"github.com/vpdn/vpdn/aaa/radius/radiustest"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport/memnet"
)

// memLACv6 is memLAC asking for IPv6 (SLAAC and a default route).
var memLACv6 = strings.Replace(memLAC, " ip address negotiated\n", " ip address negotiated\n ipv6 enable\n ipv6 address autoconfig default\n", 1)

func fakeRoute(h *netif.FakeHost, dev, dst string, gw netip.Addr) bool {
	return slices.ContainsFunc(h.AllRoutes(), func(r netif.FakeRoute) bool {
		return r.Dev == dev && r.Dst == netip.MustParsePrefix(dst) && r.Gateway == gw
	})
}

func fakeAddrIn(h *netif.FakeHost, dev, prefix string) (netip.Addr, bool) {
	as, _ := h.Addrs(dev)
	for _, a := range as {
		if netip.MustParsePrefix(prefix).Contains(a.Addr()) {
			return a.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// TestInMemoryIPv6RadiusPrefixes: RADIUS returns Framed-IPv6-Prefix and
// Delegated-IPv6-Prefix; the template has no ipv6 commands. The session
// runs IPv6CP because the authorization asks for IPv6: the LNS routes the
// prefix through Vi1 and the delegated prefix to the client's link-local
// address, and advertises the prefix; the LAC forms its address from it
// and routes ::/0 to the LNS. show caller user says so.
func TestInMemoryIPv6RadiusPrefixes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		srv := &radiustest.Server{Secret: []byte("testing123"), Users: map[string]string{"alice": "wonderland"},
			Reply: func(user string, req, resp *radius.Packet) {
				_, p6, _ := net.ParseCIDR("2001:db8:1::/64")
				_, d6, _ := net.ParseCIDR("2001:db8:2::/56")
				rfc3162.FramedIPv6Prefix_Add(resp, p6)
				rfc4818.DelegatedIPv6Prefix_Add(resp, d6)
			}}
		serveRadius(t, nw, "198.18.0.9:1812", srv)
		serveRadius(t, nw, "198.18.0.9:1813", srv)
		lns := newMemDaemon(t, nw, memRadiusLNS+"aaa accounting network default start-stop group radius\n",
			func(o *Options) { o.AcctSpoolDir = t.TempDir() })
		lac := newMemDaemon(t, nw, memLACv6)
		bringUpMem(t, lns, lac)
		time.Sleep(5 * time.Second) // a solicited advertisement waits up to 3 s
		synctest.Wait()
		addr, ok := fakeAddrIn(lac.host, "Vp1", "2001:db8:1::/64")
		if !ok {
			as, _ := lac.host.Addrs("Vp1")
			t.Fatalf("no SLAAC address on Vp1: %v", as)
		}
		var lacLL netip.Addr
		if a, ok := fakeAddrIn(lac.host, "Vp1", "fe80::/64"); ok {
			lacLL = a
		}
		lnsLL, _ := fakeAddrIn(lns.host, "Vi1", "fe80::/64")
		if !lacLL.IsValid() || !lnsLL.IsValid() {
			t.Fatalf("link-local addresses: LAC %v LNS %v", lacLL, lnsLL)
		}
		if !fakeRoute(lns.host, "Vi1", "2001:db8:1::/64", netip.Addr{}) || !fakeRoute(lns.host, "Vi1", "2001:db8:2::/56", lacLL) {
			t.Fatalf("LNS routes %v", lns.host.AllRoutes())
		}
		if !fakeRoute(lac.host, "Vp1", "::/0", lnsLL) {
			t.Fatalf("LAC routes %v", lac.host.AllRoutes())
		}
		u := lns.show(t, "caller user alice", false).Text
		for _, want := range []string{
			"PPP: LCP Open, CHAP (<--), IPCP, IPV6CP",
			"Link-local " + lnsLL.String() + ", remote " + lacLL.String(),
			"Prefix 2001:db8:1::/64 (Framed-IPv6-Prefix), advertised and routed, applied",
			"Delegated 2001:db8:2::/56 routed via " + lacLL.String() + ", applied; offered by DHCPv6-PD",
		} {
			if !strings.Contains(u, want) {
				t.Errorf("show caller user lacks %q:\n%s", want, u)
			}
		}
		// The accounting Start carries both prefixes (RFC 3162 §2.3,
		// RFC 4818 §3 allow them in Accounting-Request).
		var start *radius.Packet
		for _, p := range srv.Requests() {
			if p.Code == radius.CodeAccountingRequest && rfc2866.AcctStatusType_Get(p) == rfc2866.AcctStatusType_Value_Start {
				start = p
			}
		}
		if start == nil {
			t.Fatal("no accounting Start")
		}
		if got := rfc3162.FramedIPv6Prefix_Get(start); got == nil || got.String() != "2001:db8:1::/64" {
			t.Errorf("Start's Framed-IPv6-Prefix %v", got)
		}
		if got := rfc4818.DelegatedIPv6Prefix_Get(start); got == nil || got.String() != "2001:db8:2::/56" {
			t.Errorf("Start's Delegated-IPv6-Prefix %v", got)
		}
		if v := lac.d.rt.Load().access.Sessions()[0].View().IPv6; v == nil || !slices.Contains(v.Addrs, addr) {
			t.Errorf("LAC's session view %+v lacks its address %s", v, addr)
		}

	})
}

// TestInMemoryIPv6Pool: ipv6 enable and peer default ipv6 pool on the
// template: the session's /64 comes from the pool and goes back to it
// when the session ends; show caller user's JSON carries it.
func TestInMemoryIPv6Pool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		cfg := memLNS + " ipv6 enable\n ipv6 nd ra interval 30\n peer default ipv6 pool V6\nipv6 local pool V6 2001:db8:100::/48 64\n"
		lns := newMemDaemon(t, nw, cfg)
		lac := newMemDaemon(t, nw, memLACv6)
		bringUpMem(t, lns, lac)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if _, ok := fakeAddrIn(lac.host, "Vp1", "2001:db8:100::/64"); !ok {
			as, _ := lac.host.Addrs("Vp1")
			t.Fatalf("no address from the pool's first /64 on Vp1: %v", as)
		}
		if !fakeRoute(lns.host, "Vi1", "2001:db8:100::/64", netip.Addr{}) {
			t.Fatalf("LNS routes %v", lns.host.AllRoutes())
		}
		j := string(lns.show(t, "caller user alice", true).Data)
		for _, want := range []string{`"prefix":"2001:db8:100::/64"`, `"prefix_source":"pool V6"`, `"applied":true`} {
			if !strings.Contains(j, want) {
				t.Errorf("JSON lacks %s:\n%s", want, j)
			}
		}
		if out := lns.show(t, "ipv6 local pool", false).Text; !strings.Contains(out, "V6") || !strings.Contains(out, "2001:db8:100::/48") ||
			!strings.Contains(out, "65535       1") {
			t.Fatalf("show ipv6 local pool:\n%s", out)
		}
		// A reload that keeps the pool keeps its object and lease; one
		// that widens it reserves the live session's /64 in the new pool,
		// where it goes back at the end.
		reload := func(text string) {
			t.Helper()
			if err := os.WriteFile(lns.d.opts.ConfigPath, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := lns.do("reload"); !r.OK {
				t.Fatalf("reload: %+v", r)
			}
		}
		reload(cfg + "hostname lns-b\n")
		if st := lns.d.svc.Load().v6pools["V6"].Stats(); st.InUse != 1 {
			t.Fatalf("after a reload that keeps the pool: %+v", st)
		}
		cfg = strings.Replace(cfg, "2001:db8:100::/48", "2001:db8:100::/44", 1)
		reload(cfg)
		if st := lns.d.svc.Load().v6pools["V6"].Stats(); st.InUse != 1 || st.Prefix.Bits() != 44 {
			t.Fatalf("after a reload that widens the pool: %+v", st)
		}
		if r := lns.do("clear", "interface", "virtual-access", "1"); !r.OK {
			t.Fatalf("clear: %+v", r)
		}
		for i := 0; lns.host.Device("Vi1") != nil && i < 60; i++ {
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if st := lns.d.svc.Load().v6pools["V6"].Stats(); st.InUse != 0 {
			t.Fatalf("the /64 was not given back: %+v", st)
		}
	})
}
