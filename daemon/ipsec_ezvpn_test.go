package daemon

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/esp"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// ezServerCfg is an Easy VPN server: XAuth against local users, group
// VPNGROUP with a pool of two addresses, split include of 198.19.2.0/24,
// a dynamic map without ACL.
const ezServerCfg = `hostname hub
aaa new-model
aaa authentication login XAUTH local
aaa authorization network GROUPS local
username alice password 0 s3cret
username bob password 0 hunter2
username carol password 0 pw3
ip local pool EZPOOL 198.19.5.10 198.19.5.11
ip access-list extended SPLIT
 permit ip 198.19.2.0 0.0.0.255 any
crypto isakmp policy 10
 encryption aes 256
 authentication pre-share
 group 14
no crypto isakmp aggressive-mode disable
crypto isakmp client configuration group VPNGROUP
 key 0 groupkey
 pool EZPOOL
 dns 198.19.2.53
 domain example.test
 acl SPLIT
 banner ^Welcome^
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto dynamic-map DYN 10
 set transform-set TS
crypto map CMAP client authentication list XAUTH
crypto map CMAP isakmp authorization list GROUPS
crypto map CMAP client configuration address respond
crypto map CMAP 10 ipsec-isakmp dynamic DYN
interface Ethernet0/0
 ip address 198.18.0.2 255.255.255.0
 crypto map CMAP
`

// ezClient is a proto-level Easy VPN client on the in-memory network.
type ezClient struct {
	node   *ike.Node
	mu     sync.Mutex
	events []ike.Event
}

func (c *ezClient) find(k ike.EventKind) *ike.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.events {
		if c.events[i].Kind == k {
			e := c.events[i]
			return &e
		}
	}
	return nil
}

func newEzClient(t *testing.T, nw *memnet.Network, addr, user, password string) *ezClient {
	t.Helper()
	return newEzClientGroup(t, nw, addr, user, password, "VPNGROUP", "groupkey")
}

// newEzClientGroup is newEzClient of group with its key.
func newEzClientGroup(t *testing.T, nw *memnet.Network, addr, user, password, group, key string) *ezClient {
	t.Helper()
	return newEzClientMode(t, nw, addr, user, password, group, key, true)
}

// newEzClientMode is newEzClientGroup in aggressive or main mode (the
// group name then its identity in MM5).
func newEzClientMode(t *testing.T, nw *memnet.Network, addr, user, password, group, key string, aggressive bool) *ezClient {
	t.Helper()
	local := netip.AddrPortFrom(netip.MustParseAddr(addr), 500)
	b, err := nw.ListenUDP(local)
	if err != nil {
		t.Fatal(err)
	}
	c := &ezClient{}
	c.node, err = ike.New(ike.Config{Local: local, Clock: clock.Real,
		Send:       func(p []byte, to netip.AddrPort) { b.WriteTo(p, to) },
		OnEvent:    func(e ike.Event) { c.mu.Lock(); c.events = append(c.events, e); c.mu.Unlock() },
		Policies:   []ike.Policy{{Priority: 1, Encryption: ike.CipherAES, KeyBits: 256, Hash: ike.HashSHA1, Group: ike.Group14}},
		Key:        func(netip.Addr, []byte) []byte { return []byte(key) },
		Aggressive: aggressive, GroupID: group,
		XAuthCredentials:  func(netip.Addr) (string, string) { return user, password },
		RequestModeConfig: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go b.ServeBatch(c.node.HandlePacket, nil)
	t.Cleanup(func() { c.node.Close(); b.Close() })
	return c
}

func (c *ezClient) connect(t *testing.T) {
	t.Helper()
	pol := &ike.Phase2Policy{TransformSets: []ike.TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}},
		Remote: ike.Selector{Prefix: netip.MustParsePrefix("198.19.2.0/24")}}
	if err := c.node.Initiate(netip.MustParseAddrPort("198.18.0.2:500"), pol); err != nil {
		t.Fatal(err)
	}
}

// TestInMemoryEzVPN: a vpdn Easy VPN server and proto-level clients:
// XAuth against local users, an address from the pool, traffic both ways
// through the client's SA (the reverse route and the client's SPD line),
// show crypto session and isakmp sa detail with the user and address, a
// wrong password refused, the pool exhausted refused, and the address
// released when the client deletes its IKE SA.
func TestInMemoryEzVPN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(31)
		hub := newMemDaemon(t, nw, ezServerCfg)
		hub.do("debug", "crypto", "isakmp")
		raw, err := nw.ListenIP(50, netip.MustParseAddr("198.18.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		espIn := make(chan []byte, 4)
		go raw.ServeBatch(func(b []byte, _ netip.AddrPort) { espIn <- bytes.Clone(b) }, nil)
		t.Cleanup(func() { raw.Close() })

		alice := newEzClient(t, nw, "198.18.0.1", "alice", "s3cret")
		alice.connect(t)
		waitFor(t, "alice's SA", func() bool { return alice.find(ike.EventChildUp) != nil })
		child := alice.find(ike.EventChildUp).Child
		mc := alice.find(ike.EventModeConfig).Config
		if mc.Address != netip.MustParseAddr("198.19.5.10") || child.Local.Prefix != netip.MustParsePrefix("198.19.5.10/32") ||
			len(mc.SplitInclude) != 1 || mc.SplitInclude[0] != netip.MustParsePrefix("198.19.2.0/24") || mc.DefaultDomain != "example.test" ||
			mc.Banner != "Welcome" || len(mc.DNS) != 1 {
			t.Fatalf("mode-config %+v, child %v -> %v", mc, child.Local, child.Remote)
		}
		// The hub's network reaches alice through her SA: the reverse
		// route brings it to the crypto TUN, her SPD line to her SA.
		if rs, _ := hub.host.Routes("crypto0"); !strings.Contains(strings.Join(routeDsts(rs), " "), "198.19.5.10/32") {
			t.Fatalf("no reverse route for alice: %v", rs)
		}
		in, out, err := espConfigs(child)
		if err != nil {
			t.Fatal(err)
		}
		opener, _ := esp.NewOpener(in)
		sealer, _ := esp.NewSealer(out)
		toAlice := udpPacket("198.19.2.1", "198.19.5.10", 40)
		inject(hub.host.Device("crypto0"), toAlice)
		var got []byte
		select {
		case pkt := <-espIn:
			got, _, err = opener.Open(pkt)
			if err != nil {
				t.Fatalf("alice cannot open the hub's ESP: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no ESP to alice")
		}
		if !bytes.Equal(got, toAlice) {
			t.Fatalf("alice got %x, want %x", got, toAlice)
		}
		fromAlice := udpPacket("198.19.5.10", "198.19.2.1", 50)
		sealed, err := sealer.Seal(nil, fromAlice, esp.NextHeaderIPv4)
		if err != nil {
			t.Fatal(err)
		}
		raw.WriteTo(sealed, netip.MustParseAddrPort("198.18.0.2:0"))
		synctest.Wait()
		if p := outbound(hub.host.Device("crypto0")); !bytes.Equal(p, fromAlice) {
			t.Fatalf("the hub got %x from alice", p)
		}

		sess := hub.show(t, "crypto session detail", false).Text
		for _, want := range []string{"Username: alice", "Group: VPNGROUP", "Assigned address: 198.19.5.10", "Session status: UP-ACTIVE",
			"IPSEC FLOW: permit ip 198.19.2.0/255.255.255.0 198.19.5.10/255.255.255.255"} {
			if !strings.Contains(sess, want) {
				t.Errorf("show crypto session detail lacks %q:\n%s", want, sess)
			}
		}
		detail := hub.show(t, "crypto isakmp sa detail", false).Text
		for _, want := range []string{"Group: VPNGROUP, XAuth user: alice, assigned address: 198.19.5.10", " CX"} {
			if !strings.Contains(detail, want) {
				t.Errorf("show crypto isakmp sa detail lacks %q:\n%s", want, detail)
			}
		}
		if n := poolInUse(hub, "EZPOOL"); n != 1 {
			t.Errorf("pool in use %d, want 1", n)
		}
		if r := hub.d.Do(context.Background(), &control.Request{Verb: "show", Words: strings.Fields("crypto ipsec client ezvpn")}); !r.OK || r.Text != "" {
			t.Errorf("show crypto ipsec client ezvpn on a server: %+v", r)
		}

		// A quick mode for a network outside the group's split include
		// is refused.
		wide := &ike.Phase2Policy{TransformSets: []ike.TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}},
			Remote: ike.Selector{Prefix: netip.MustParsePrefix("198.19.0.0/16")}}
		if err := alice.node.Initiate(netip.MustParseAddrPort("198.18.0.2:500"), wide); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the wide quick mode refused", func() bool { return alice.find(ike.EventChildFailed) != nil })
		if f := alice.find(ike.EventChildFailed); f.Notify != isakmp.NotifyInvalidIDInformation {
			t.Errorf("the wide quick mode failed with %+v", f)
		}

		// A wrong password: refused, no address taken.
		mallory := newEzClient(t, nw, "198.18.0.3", "bob", "wrong")
		mallory.connect(t)
		waitFor(t, "bob refused", func() bool { return mallory.find(ike.EventPhase1Down) != nil })
		if e := mallory.find(ike.EventXAuth); e == nil || e.Reason != "rejected" {
			t.Errorf("bob's XAuth event %+v", e)
		}
		if n := poolInUse(hub, "EZPOOL"); n != 1 {
			t.Errorf("after a refused user the pool has %d in use", n)
		}
		// A reload that rebuilds the pools (not IPsec) keeps alice's
		// address out of the new ones.
		os.WriteFile(hub.d.opts.ConfigPath, []byte(strings.Replace(ezServerCfg, "username carol", "username dave password 0 x\nusername carol", 1)), 0o644)
		if err := hub.d.Reload(); err != nil {
			t.Fatal(err)
		}
		if n := poolInUse(hub, "EZPOOL"); n != 1 {
			t.Errorf("after a reload the pool has %d in use, want alice's", n)
		}
		// bob with his password takes the second address; carol finds
		// the pool exhausted and is told so by a deleted SA.
		bob := newEzClient(t, nw, "198.18.0.4", "bob", "hunter2")
		bob.connect(t)
		waitFor(t, "bob's SA", func() bool { return bob.find(ike.EventChildUp) != nil })
		carol := newEzClient(t, nw, "198.18.0.5", "carol", "pw3")
		carol.connect(t)
		waitFor(t, "carol refused", func() bool { return carol.find(ike.EventPhase1Down) != nil })
		if carol.find(ike.EventChildUp) != nil || carol.find(ike.EventModeConfig) != nil {
			t.Error("carol got an address from an exhausted pool")
		}
		// alice leaves: her address goes back, her route and SA go.
		alice.node.DeletePeer(netip.MustParseAddr("198.18.0.2"))
		waitFor(t, "alice's address released", func() bool { return poolInUse(hub, "EZPOOL") == 1 })
		waitFor(t, "alice's SA gone", func() bool {
			return !strings.Contains(hub.show(t, "crypto ipsec sa peer 198.18.0.1", false).Text, "current outbound spi")
		})
		if rs, _ := hub.host.Routes("crypto0"); strings.Contains(strings.Join(routeDsts(rs), " "), "198.19.5.10/32") {
			t.Errorf("alice's reverse route stayed: %v", rs)
		}
		// carol tries again and gets alice's old address.
		carol2 := newEzClient(t, nw, "198.18.0.6", "carol", "pw3")
		carol2.connect(t)
		waitFor(t, "carol's SA", func() bool { return carol2.find(ike.EventChildUp) != nil })
		if a := carol2.find(ike.EventModeConfig).Config.Address; a != netip.MustParseAddr("198.19.5.10") {
			t.Errorf("carol got %v", a)
		}
	})
}

func routeDsts(rs []netif.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Dst.String())
	}
	return out
}

func poolInUse(m *memDaemon, name string) int {
	for _, st := range m.d.svc.Load().pools.Stats() {
		if st.Name == name {
			return int(st.InUse)
		}
	}
	return -1
}

// TestInMemoryEzVPNProfile: the Easy VPN server's settings in an isakmp
// profile that matches the group, given to the whole crypto map (`crypto
// map NAME isakmp-profile P`; interop's test gives it through the entry's
// IPsec profile): the client gets XAuth, its address and its SA as with
// the crypto map's client settings, and show crypto isakmp sa detail
// names the profile and its keepalive's D capability.
func TestInMemoryEzVPNProfile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := strings.NewReplacer(
			"crypto map CMAP client authentication list XAUTH\ncrypto map CMAP isakmp authorization list GROUPS\ncrypto map CMAP client configuration address respond\n",
			"crypto map CMAP isakmp-profile EZ\n",
			"crypto ipsec transform-set", "crypto isakmp profile EZ\n description Easy VPN clients\n keepalive 20 retry 5\n match identity group VPNGROUP\n client configuration group VPNGROUP\n client configuration address respond\n client authentication list XAUTH\ncrypto ipsec transform-set",
		).Replace(ezServerCfg)
		if strings.Contains(cfg, "client authentication list XAUTH\ncrypto map") || !strings.Contains(cfg, "crypto map CMAP isakmp-profile EZ") {
			t.Fatalf("config edit failed:\n%s", cfg)
		}
		nw := memnet.New(32)
		hub := newMemDaemon(t, nw, cfg)
		alice := newEzClient(t, nw, "198.18.0.1", "alice", "s3cret")
		alice.connect(t)
		waitFor(t, "alice's SA", func() bool { return alice.find(ike.EventChildUp) != nil })
		if mc := alice.find(ike.EventModeConfig).Config; mc.Address != netip.MustParseAddr("198.19.5.10") || mc.DefaultDomain != "example.test" {
			t.Fatalf("mode-config %+v", mc)
		}
		detail := hub.show(t, "crypto isakmp sa detail", false).Text
		for _, want := range []string{"Group: VPNGROUP, XAuth user: alice, assigned address: 198.19.5.10", " CDX", "Profile: EZ"} {
			if !strings.Contains(detail, want) {
				t.Errorf("show crypto isakmp sa detail lacks %q:\n%s", want, detail)
			}
		}
		// A wrong password is refused through the profile's list.
		mallory := newEzClient(t, nw, "198.18.0.3", "alice", "wrong")
		mallory.connect(t)
		waitFor(t, "mallory refused", func() bool {
			e := mallory.find(ike.EventXAuth)
			return e != nil && e.Reason != "accepted"
		})
		if mallory.find(ike.EventChildUp) != nil {
			t.Fatal("a wrong password got an SA")
		}
	})
}
