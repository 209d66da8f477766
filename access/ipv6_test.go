package access_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/pool"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/link6"
)

// ipv6 is an IPv6 UDP packet from src to dst.
func ipv6(src, dst string) []byte {
	p := make([]byte, 48)
	p[0], p[6], p[7] = 0x60, 17, 64
	binary.BigEndian.PutUint16(p[4:], 8)
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	return p
}

func hasRoute(h *netif.FakeHost, dev string, dst netip.Prefix, gw netip.Addr) bool {
	return slices.ContainsFunc(h.AllRoutes(), func(r netif.FakeRoute) bool { return r.Dev == dev && r.Dst == dst && r.Gateway == gw })
}

func hasAddr(h *netif.FakeHost, dev string, a netip.Prefix) bool {
	as, _ := h.Addrs(dev)
	return slices.Contains(as, a)
}

// v6PoolServer is an LNS at 198.18.0.1 whose sessions take /64s of the
// ipv6 local pool V6 (2001:db8:100::/48); mod adjusts its config.
func v6PoolServer(t *testing.T, nw *memnet.Network, mod func(*access.Config)) (*node, *pool.PrefixPool) {
	v6, err := pool.NewPrefixPool("V6", netip.MustParsePrefix("2001:db8:100::/48"), 64)
	if err != nil {
		t.Fatal(err)
	}
	server := newNodeCfg(t, nw, "198.18.0.1", newLeases(), localAAA{"alice", "wonderland"}, func(c *access.Config) {
		c.AssignPrefix = func(string, string) (netip.Prefix, func(), error) {
			pf, err := v6.Allocate()
			return pf, func() { v6.Release(pf) }, err
		}
		if mod != nil {
			mod(c)
		}
	})
	return server, v6
}

// v6PoolProfile is the server profile with IPv6 from the pool V6.
func v6PoolProfile() access.Profile {
	sp := *serverProfile
	sp.IPv6 = &access.IPv6Profile{Enabled: true, Pool: "V6", RAInterval: 30 * time.Second, RALifetime: 1800 * time.Second}
	return sp
}

// TestIPv6Pool: a Virtual-Template with ipv6 enable and an ipv6 local
// pool; a client asking for IPv6. IPv6CP opens, the server's Virtual-Access
// gets its link-local address and a route to the session's /64, the server
// advertises it (at once and when solicited), the client forms its address
// by SLAAC and routes ::/0 to the server's link-local address; the source
// check takes the client's addresses and drops others; the /64 goes back
// to the pool at the end.
func TestIPv6Pool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		server, v6 := v6PoolServer(t, nw, nil)
		client := newNode(t, nw, "198.18.0.2", nil)
		sp := v6PoolProfile()
		cp := *clientProfile
		cp.IPv6 = &access.IPv6Profile{Enabled: true, SLAAC: true, DefaultRoute: true}
		ss, cs, _, _ := callWith(t, server, client, &sp, &cp)
		<-server.ups
		<-client.ups
		// The client's solicitation is answered at least
		// MIN_DELAY_BETWEEN_RAS (3 s) after the advertisement the
		// server sent when IPv6 came up (RFC 4861 §6.2.6).
		time.Sleep(5 * time.Second)
		synctest.Wait()
		sv, cv := ss.View(), cs.View()
		if sv.IPv6 == nil || cv.IPv6 == nil {
			t.Fatalf("no IPv6: server %+v client %+v", sv.IPv6, cv.IPv6)
		}
		s6, c6 := sv.IPv6, cv.IPv6
		prefix := netip.MustParsePrefix("2001:db8:100::/64")
		if !s6.Applied || s6.Prefix != prefix || s6.PrefixSource != "pool V6" || s6.LinkLocal != c6.PeerLL || s6.PeerLL != c6.LinkLocal {
			t.Fatalf("server IPv6 %+v\nclient %+v", s6, c6)
		}
		if !hasAddr(server.host, "Vi1", netip.PrefixFrom(s6.LinkLocal, 64)) || !hasRoute(server.host, "Vi1", prefix, netip.Addr{}) {
			as, _ := server.host.Addrs("Vi1")
			t.Fatalf("Vi1: %v %v; %+v", as, server.host.AllRoutes(), s6)
		}
		slaac, _ := link6.SLAAC(prefix, c6.LocalID)
		if !slices.Contains(c6.Addrs, slaac) || !hasAddr(client.host, "Vp1", netip.PrefixFrom(slaac, 64)) ||
			!hasRoute(client.host, "Vp1", netip.MustParsePrefix("::/0"), s6.LinkLocal) {
			t.Fatalf("client: %+v, host %v", c6, client.host.Links())
		}
		if s6.RAsSent < 1 || c6.RAsReceived < 1 {
			t.Fatalf("ND counts: server %+v client %+v", s6, c6)
		}
		vi, vp := server.host.Device("Vi1"), client.host.Device("Vp1")
		// A solicitation from the client's host is answered.
		vp.Inject(link6.AppendRS(nil, c6.LinkLocal))
		time.Sleep(4 * time.Second)
		synctest.Wait()
		s6b, c6b := ss.View().IPv6, cs.View().IPv6
		if s6b.RSsReceived != s6.RSsReceived+1 || s6b.RAsSent != s6.RAsSent+1 || c6b.RAsReceived != c6.RAsReceived+1 {
			t.Fatalf("solicited: server %+v client %+v", s6b, c6b)
		}
		if len(vi.Outbound) != 0 {
			t.Fatal("the solicitation reached the server's kernel")
		}
		// Periodic advertisements: one per interval.
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if n := ss.View().IPv6.RAsSent; n != s6b.RAsSent+2 {
			t.Fatalf("%d advertisements after two intervals, %d before", n, s6b.RAsSent)
		}

		for _, c := range []struct {
			src  string
			pass bool
		}{{slaac.String(), true}, {c6.LinkLocal.String(), true}, {"2001:db8:100:0:1::9", true},
			{"2001:db8:100:1::9", false}, {"fe80::1", false}, {"2001:db8:ffff::1", false}} {
			vp.Inject(ipv6(c.src, "2001:db8:ff::1"))
			synctest.Wait()
			if got := len(vi.Outbound) == 1; got != c.pass {
				t.Errorf("from %s: delivered %v, want %v", c.src, got, c.pass)
			}
			if got := len(vi.Outbound) == 1; got {
				<-vi.Outbound
			}
		}
		if d := ss.View().Counters.SpoofDrops; d != 3 {
			t.Errorf("%d spoofed-source drops, want 3", d)
		}
		// A malformed solicitation (hop limit 64) is dropped and counted,
		// not answered.
		before := ss.View().IPv6.RAsSent
		bad := link6.AppendRS(nil, c6.LinkLocal)
		bad[7] = 64
		vp.Inject(bad)
		synctest.Wait()
		if v := ss.View().IPv6; v.NDDropped != 1 || v.RAsSent != before {
			t.Fatalf("bad RS: %+v", v)
		}
		if d := server.acc.NDDrops(); d["hop-limit"] != 1 {
			t.Fatalf("ND drops %v", d)
		}
		// No delegated prefix: DHCPv6 answers NoPrefixAvail.
		sol := link6.DHCPMessage{Type: link6.DHCPSolicit, XID: [3]byte{5, 5, 5}, ClientID: []byte{0, 3, 0, 1, 2, 2}, RapidCommit: true, IAPD: []link6.IAPD{{IAID: 1}}}
		vp.Inject(link6.AppendUDP(nil, c6.LinkLocal, link6.AllDHCPServers, link6.DHCPClientPort, link6.DHCPServerPort, link6.AppendDHCP(nil, &sol)))
		synctest.Wait()
		if len(vp.Outbound) != 1 {
			t.Fatalf("%d answers to a Solicit", len(vp.Outbound))
		}
		d, _ := link6.ParseUDP(<-vp.Outbound)
		if r, err := link6.ParseDHCP(d.Payload); err != nil || len(r.IAPD) != 1 || !r.IAPD[0].HasStatus || r.IAPD[0].Status != link6.DHCPStatusNoPrefixAvail {
			t.Fatalf("answer %+v %v", r, err)
		}
		// A flood of solicitations: each is answered-or-held, or dropped
		// as a flood when too many wait for the runner; none is lost
		// uncounted, and at most one advertisement is held.
		rsBefore := ss.View().IPv6.RSsReceived
		for range 50 {
			vp.Inject(link6.AppendRS(nil, c6.LinkLocal))
		}
		synctest.Wait()
		if got := ss.View().IPv6.RSsReceived - rsBefore + server.acc.NDDrops()["flood"]; got != 50 {
			t.Fatalf("50 solicitations: %d received, %d dropped as a flood", ss.View().IPv6.RSsReceived-rsBefore, server.acc.NDDrops()["flood"])
		}
		if st := v6.Stats(); st.InUse != 1 {
			t.Fatalf("pool %+v", st)
		}
		cs.Close(access.CauseAdmin, "clear")
		<-client.ends
		<-server.ends
		<-ss.Done()
		if st := v6.Stats(); st.InUse != 0 {
			t.Fatalf("the /64 was not given back: %+v", st)
		}
	})
}

// v6AAA authorizes alice with a Framed-IPv6-Prefix and a
// Delegated-IPv6-Prefix, as a RADIUS server would.
type v6AAA struct{ localAAA }

func (a v6AAA) Authenticate(ctx context.Context, r *aaa.Request) (*aaa.Result, error) {
	res, err := a.localAAA.Authenticate(ctx, r)
	if res != nil && res.Accept {
		res.Authz.IPv6Prefixes = []netip.Prefix{netip.MustParsePrefix("2001:db8:7:1::/64")}
		res.Authz.DelegatedPrefix = []netip.Prefix{netip.MustParsePrefix("2001:db8:7:100::/56")}
	}
	return res, err
}

// v6Client calls a server of serverProfile authenticating with auth from
// a client asking for IPv6 and, with pd, delegated prefixes (DHCPv6
// without Rapid Commit: Solicit, Advertise, Request, Reply), and waits for
// both ends and the solicited advertisement (3 s after the first at most).
func v6Client(t *testing.T, auth aaa.Authenticator, pd bool) (server, client *node, ss, cs *access.Session) {
	t.Helper()
	nw := memnet.New(1)
	server = newNodeAuth(t, nw, "198.18.0.1", newLeases(), auth)
	client = newNode(t, nw, "198.18.0.2", nil)
	cp := *clientProfile
	cp.IPv6 = &access.IPv6Profile{Enabled: true, SLAAC: true, PD: pd}
	ss, cs, _, _ = callWith(t, server, client, serverProfile, &cp)
	<-server.ups
	<-client.ups
	time.Sleep(5 * time.Second)
	synctest.Wait()
	return server, client, ss, cs
}

// TestIPv6FromAuthorization: a template without ipv6 enable; the
// authorization's IPv6 prefixes make the session run IPv6CP, advertise the
// Framed-IPv6-Prefix and route the delegated prefix to the client's
// link-local address.
func TestIPv6FromAuthorization(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client, ss, cs := v6Client(t, v6AAA{localAAA{"alice", "wonderland"}}, false)
		s6, c6 := ss.View().IPv6, cs.View().IPv6
		if s6 == nil || c6 == nil || !s6.Applied || s6.PrefixSource != "Framed-IPv6-Prefix" {
			t.Fatalf("server %+v client %+v", s6, c6)
		}
		if !hasRoute(server.host, "Vi1", netip.MustParsePrefix("2001:db8:7:1::/64"), netip.Addr{}) ||
			!hasRoute(server.host, "Vi1", netip.MustParsePrefix("2001:db8:7:100::/56"), c6.LinkLocal) {
			t.Fatalf("routes %v", server.host.AllRoutes())
		}
		slaac, _ := link6.SLAAC(netip.MustParsePrefix("2001:db8:7:1::/64"), c6.LocalID)
		if !slices.Contains(c6.Addrs, slaac) {
			t.Fatalf("client addresses %v", c6.Addrs)
		}

		// A host behind the client, in the delegated prefix, may send.
		vi, vp := server.host.Device("Vi1"), client.host.Device("Vp1")
		vp.Inject(ipv6("2001:db8:7:1a0::5", "2001:db8:ff::1"))
		synctest.Wait()
		if len(vi.Outbound) != 1 {
			t.Fatal("a source in the delegated prefix was dropped")
		}
		<-vi.Outbound

		// DHCPv6 prefix delegation (RFC 8415): the client's host asks.
		clientID := []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		ask := func(m link6.DHCPMessage) (link6.DHCPMessage, bool) {
			t.Helper()
			m.ClientID = clientID
			vp.Inject(link6.AppendUDP(nil, c6.LinkLocal, link6.AllDHCPServers, link6.DHCPClientPort, link6.DHCPServerPort, link6.AppendDHCP(nil, &m)))
			synctest.Wait()
			if len(vi.Outbound) != 0 {
				t.Fatal("a DHCPv6 message reached the server's kernel")
			}
			if len(vp.Outbound) == 0 {
				return link6.DHCPMessage{}, false
			}
			d, err := link6.ParseUDP(<-vp.Outbound)
			if err != nil || d.Src != s6.LinkLocal || d.Dst != c6.LinkLocal || d.DstPort != link6.DHCPClientPort {
				t.Fatalf("answer %+v %v", d, err)
			}
			r, err := link6.ParseDHCP(d.Payload)
			if err != nil || r.XID != m.XID || string(r.ClientID) != string(clientID) {
				t.Fatalf("answer %+v %v", r, err)
			}
			return r, true
		}
		r, ok := ask(link6.DHCPMessage{Type: link6.DHCPSolicit, XID: [3]byte{1, 1, 1}, RapidCommit: true, IAPD: []link6.IAPD{{IAID: 9}}})
		if !ok || r.Type != link6.DHCPReply || !r.RapidCommit || len(r.IAPD) != 1 || r.IAPD[0].IAID != 9 ||
			len(r.IAPD[0].Prefixes) != 1 || r.IAPD[0].Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:7:100::/56") {
			t.Fatalf("Solicit with Rapid Commit: %+v %v", r, ok)
		}
		serverID := r.ServerID
		if r, ok := ask(link6.DHCPMessage{Type: link6.DHCPSolicit, XID: [3]byte{2, 2, 2}, IAPD: []link6.IAPD{{IAID: 9}}}); !ok || r.Type != link6.DHCPAdvertise {
			t.Fatalf("Solicit: %+v", r)
		}
		if _, ok := ask(link6.DHCPMessage{Type: link6.DHCPRenew, XID: [3]byte{3, 3, 3}, ServerID: []byte{0, 4, 9, 9}, IAPD: []link6.IAPD{{IAID: 9}}}); ok {
			t.Fatal("a Renew for another server was answered")
		}
		if r, ok := ask(link6.DHCPMessage{Type: link6.DHCPRenew, XID: [3]byte{4, 4, 4}, ServerID: serverID, IAPD: []link6.IAPD{{IAID: 9}}}); !ok ||
			r.Type != link6.DHCPReply || len(r.IAPD) != 1 || len(r.IAPD[0].Prefixes) != 1 {
			t.Fatalf("Renew: %+v", r)
		}
		if v := ss.View().IPv6; v.DHCPIn != 3 || v.DHCPOut != 3 || server.acc.NDDrops()["dhcp-server-id"] != 1 {
			t.Fatalf("DHCPv6 counts %+v, drops %v", v, server.acc.NDDrops())
		}
	})
}

// TestIPv6DelegationClient: the client side of DHCPv6 prefix delegation:
// Solicit, the server's Advertise, Request, Reply; the delegated prefix
// is the client's, not routed back to the server.
func TestIPv6DelegationClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		server, client, ss, cs := v6Client(t, v6AAA{localAAA{"alice", "wonderland"}}, true)
		s6, c6 := ss.View().IPv6, cs.View().IPv6
		if len(c6.Delegated) != 1 || c6.Delegated[0] != netip.MustParsePrefix("2001:db8:7:100::/56") || c6.DHCPOut != 2 || c6.DHCPIn != 2 {
			t.Fatalf("client's delegation: %+v", c6)
		}
		if s6.DHCPIn != 2 || s6.DHCPOut != 2 {
			t.Fatalf("server's DHCPv6 counts: %+v", s6)
		}
		if hasRoute(client.host, "Vp1", netip.MustParsePrefix("2001:db8:7:100::/56"), s6.LinkLocal) {
			t.Fatal("the client routes its delegated prefix to the server")
		}
		if d := server.acc.NDDrops(); d["dhcp-server-id"]+d["dhcp-type"] != 0 {
			t.Fatalf("drops %v", d)
		}
	})
}

// TestIPv6NotAuthorized: without ipv6 enable and without IPv6 in the
// authorization, the server refuses the client's IPv6CP and IPv4 alone
// comes up.
func TestIPv6NotAuthorized(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, ss, cs := v6Client(t, localAAA{"alice", "wonderland"}, false)
		if ss.View().IPv6 != nil || cs.View().IPv6 != nil || !cs.View().Up {
			t.Fatalf("server %+v client %+v", ss.View().IPv6, cs.View().IPv6)
		}
	})
}
