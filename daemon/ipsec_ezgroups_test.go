package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/vpdn/vpdn/aaa/radius/radiustest"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// ezRadiusCfg is ezServerCfg with its group held by RADIUS: the
// authorization list asks the server first, then the local groups (of
// which there is none for VPNGROUP).
var ezRadiusCfg = strings.NewReplacer(
	"aaa authorization network GROUPS local\n",
	"aaa authorization network GROUPS group radius local\nradius server R\n address ipv4 198.18.0.9 auth-port 1812 acct-port 1813\n key 0 testing123\n",
	"crypto isakmp client configuration group VPNGROUP\n key 0 groupkey\n pool EZPOOL\n dns 198.19.2.53\n domain example.test\n acl SPLIT\n banner ^Welcome^\n",
	"crypto isakmp client configuration group LOCALGRP\n key 0 localkey\n pool EZPOOL\n",
).Replace(ezServerCfg)

// ezGroupServer is a RADIUS server holding group VPNGROUP.
func ezGroupServer() *radiustest.Server {
	return &radiustest.Server{Secret: []byte("testing123"), Users: map[string]string{"VPNGROUP": "cisco"},
		Reply: func(user string, req, resp *radius.Packet) {
			for _, p := range []string{"ipsec:key-exchange=ike", "ipsec:tunnel-password=groupkey", "ipsec:addr-pool=EZPOOL",
				"ipsec:dns-servers=198.19.2.53 198.19.2.54", "ipsec:default-domain=radius.test", "ipsec:split-include=SPLIT",
				"ipsec:banner=From RADIUS", "ipsec:firewall=are-u-there"} {
				radiustest.AddCiscoAVPair(resp, p)
			}
		}}
}

func groupRequests(srv *radiustest.Server, name string) int {
	n := 0
	for _, p := range srv.Requests() {
		if rfc2865.UserName_GetString(p) == name {
			n++
		}
	}
	return n
}

// TestInMemoryEzVPNRadiusGroup: an Easy VPN server whose group is held
// by RADIUS: the client's first aggressive-mode message starts the
// lookup (User-Name the group, password cisco) and is dropped; its
// retransmission finds the key; mode-config gives the address from the
// pool RADIUS names, RADIUS's DNS servers, domain and banner, the split
// networks of the ACL it names; the unknown AV-pair is counted. A group
// the server rejects is refused (and asked for once while the reject is
// remembered); a flood of random group names is bounded in RADIUS
// requests and cache entries.
func TestInMemoryEzVPNRadiusGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if strings.Contains(ezRadiusCfg, "group VPNGROUP") {
			t.Fatalf("config edit failed:\n%s", ezRadiusCfg)
		}
		nw := memnet.New(33)
		srv := ezGroupServer()
		serveRadius(t, nw, "198.18.0.9:1812", srv)
		hub := newMemDaemon(t, nw, ezRadiusCfg)
		alice := newEzClient(t, nw, "198.18.0.1", "alice", "s3cret")
		alice.connect(t)
		waitFor(t, "alice's SA", func() bool { return alice.find(ike.EventChildUp) != nil })
		mc := alice.find(ike.EventModeConfig).Config
		if mc.Address != netip.MustParseAddr("198.19.5.10") || len(mc.DNS) != 2 || mc.DNS[1] != netip.MustParseAddr("198.19.2.54") ||
			mc.DefaultDomain != "radius.test" || mc.Banner != "From RADIUS" ||
			len(mc.SplitInclude) != 1 || mc.SplitInclude[0] != netip.MustParsePrefix("198.19.2.0/24") {
			t.Fatalf("mode-config %+v", mc)
		}
		if n := groupRequests(srv, "VPNGROUP"); n != 1 {
			t.Errorf("%d lookups of VPNGROUP, want 1", n)
		}
		p := srv.Requests()[0]
		if pw := rfc2865.UserPassword_GetString(p); pw != "cisco" {
			t.Errorf("User-Password %q", pw)
		}
		detail := hub.show(t, "crypto isakmp sa detail", false).Text
		if !strings.Contains(detail, "Group: VPNGROUP, XAuth user: alice, assigned address: 198.19.5.10") {
			t.Errorf("show crypto isakmp sa detail:\n%s", detail)
		}
		svc := hub.d.ipsecServices()[0]
		if st, _ := svc.ez.groups.snapshot(); st.Found != 1 || st.BadPairs != 1 || st.Waiting < 1 {
			t.Errorf("stats %+v", st)
		}
		m := metricsText(t, hub.d)
		for _, want := range []string{`vpdn_ezvpn_radius_groups_total{result="found"} 1`, `vpdn_ezvpn_radius_groups_total{result="bad-avpair"} 1`,
			"vpdn_ezvpn_radius_group_cache_entries 1"} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
		}

		// A group the server does not hold: refused, asked for once
		// while its reject is remembered. The local group LOCALGRP is
		// not reached: the server's reject decides.
		eve := newEzClientGroup(t, nw, "198.18.0.3", "bob", "hunter2", "NOSUCH", "guess")
		eve.connect(t)
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if eve.find(ike.EventPhase1Up) != nil || eve.find(ike.EventModeConfig) != nil {
			t.Fatal("a group RADIUS rejects got an SA")
		}
		if n := groupRequests(srv, "NOSUCH"); n != 1 {
			t.Errorf("%d lookups of NOSUCH, want 1", n)
		}
		local := newEzClientGroup(t, nw, "198.18.0.4", "bob", "hunter2", "LOCALGRP", "localkey")
		local.connect(t)
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if local.find(ike.EventPhase1Up) != nil {
			t.Error("a local group behind a RADIUS reject got an SA")
		}

		// A flood of random group names for 20 s: RADIUS sees at most the
		// burst and the rate's worth, the cache holds at most its bound,
		// and alice's group stays served.
		before := len(srv.Requests())
		peer := netip.MustParseAddr("198.18.0.7")
		for sec := range 20 {
			for i := range 200 {
				id := isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDKeyID, Data: fmt.Appendf(nil, "rnd-%d-%d", sec, i)})
				if k := svc.key(peer, id); k != nil {
					t.Fatalf("a random group got key %q", k)
				}
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		sent := len(srv.Requests()) - before
		if max := ezGroupBurst + 20*ezGroupRate + 1; sent > max || sent < 20*ezGroupRate {
			t.Errorf("the flood made %d RADIUS requests (want %d to %d)", sent, 20*ezGroupRate, max)
		}
		st, n := svc.ez.groups.snapshot()
		if n > ezGroupMaxEntries || st.Throttled < 3000 {
			t.Errorf("after the flood: %d entries, stats %+v", n, st)
		}
		id := isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDKeyID, Data: []byte("VPNGROUP")})
		if k := svc.key(netip.MustParseAddr("198.18.0.1"), id); string(k) != "groupkey" {
			t.Errorf("VPNGROUP's key after the flood: %q", k)
		}
	})
}

// TestInMemoryEzVPNRadiusGroupFallback: a silent RADIUS server: the
// lookup fails and the list's next method, local, finds the group.
func TestInMemoryEzVPNRadiusGroupFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(34)
		cfg := strings.Replace(ezRadiusCfg, "group LOCALGRP\n key 0 localkey", "group VPNGROUP\n key 0 groupkey", 1)
		hub := newMemDaemon(t, nw, cfg)
		alice := newEzClient(t, nw, "198.18.0.1", "alice", "s3cret")
		alice.connect(t)
		waitFor(t, "alice's SA", func() bool { return alice.find(ike.EventChildUp) != nil })
		if mc := alice.find(ike.EventModeConfig).Config; mc.Address != netip.MustParseAddr("198.19.5.10") || len(mc.DNS) != 0 {
			t.Fatalf("mode-config %+v", mc)
		}
		if st, _ := hub.d.ipsecServices()[0].ez.groups.snapshot(); st.Failed < 1 || st.Found != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestInMemoryEzVPNRadiusGroupMainMode: a main-mode client (its key by
// address, its group name the identity of MM5): the group is looked up
// while XAuth's answer waits, and mode-config finds it.
func TestInMemoryEzVPNRadiusGroupMainMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(35)
		srv := ezGroupServer()
		serveRadius(t, nw, "198.18.0.9:1812", srv)
		hub := newMemDaemon(t, nw, strings.Replace(ezRadiusCfg, "crypto ipsec transform-set", "crypto isakmp key 0 groupkey address 0.0.0.0 0.0.0.0\ncrypto ipsec transform-set", 1))
		alice := newEzClientMode(t, nw, "198.18.0.1", "alice", "s3cret", "VPNGROUP", "groupkey", false)
		alice.connect(t)
		waitFor(t, "alice's SA", func() bool { return alice.find(ike.EventChildUp) != nil || alice.find(ike.EventPhase1Down) != nil })
		if alice.find(ike.EventChildUp) == nil {
			t.Fatalf("no SA; stats %+v", hub.d.ipsecServices()[0].node.Stats())
		}
		if mc := alice.find(ike.EventModeConfig).Config; mc.Address != netip.MustParseAddr("198.19.5.10") || mc.DefaultDomain != "radius.test" {
			t.Fatalf("mode-config %+v", mc)
		}
		if n := groupRequests(srv, "VPNGROUP"); n != 1 {
			t.Errorf("%d lookups of VPNGROUP, want 1", n)
		}
	})
}

// TestEzGroupCacheBounds: the cache never holds more than its bound of
// entries; pending lookups are not evicted; once every entry is pending,
// no lookup starts; expired answers are forgotten.
func TestEzGroupCacheBounds(t *testing.T) {
	c := newEzGroupCache()
	now := time.Unix(1e9, 0)
	for i := range 3 * ezGroupMaxEntries {
		now = now.Add(time.Second) // the rate allows every lookup
		k := ezGroupKey{"radius", fmt.Sprint("g", i)}
		if !c.reserve(k, now) {
			t.Fatalf("lookup %d refused", i)
		}
		c.done(k, ezGroupRejected, nil, now)
		if _, n := c.snapshot(); n > ezGroupMaxEntries {
			t.Fatalf("%d entries", n)
		}
	}
	if st, _ := c.get(ezGroupKey{"radius", fmt.Sprint("g", 3*ezGroupMaxEntries-1)}, now); st != ezGroupRejected {
		t.Errorf("the newest answer is %v", st)
	}
	if st, _ := c.get(ezGroupKey{"radius", "g0"}, now); st != ezGroupMiss {
		t.Errorf("the oldest answer is %v", st)
	}
	now = now.Add(ezGroupRejectTTL)
	if st, _ := c.get(ezGroupKey{"radius", fmt.Sprint("g", 3*ezGroupMaxEntries-1)}, now); st != ezGroupMiss {
		t.Errorf("an expired reject is %v", st)
	}
	// In-flight bound: the lookups that never end hold their slots.
	c = newEzGroupCache()
	started := 0
	for i := range 100 {
		now = now.Add(time.Second)
		if c.reserve(ezGroupKey{"radius", fmt.Sprint("p", i)}, now) {
			started++
		}
	}
	if started != ezGroupMaxInflight {
		t.Errorf("%d lookups in flight, want %d", started, ezGroupMaxInflight)
	}
}
