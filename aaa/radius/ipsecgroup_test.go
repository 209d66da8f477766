package radius

import (
	"net/netip"
	"reflect"
	"testing"
	"testing/synctest"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/vpdn/vpdn/aaa/radius/radiustest"
	"github.com/vpdn/vpdn/transport/memnet"
)

// TestParseIPsecGroup: the ipsec Cisco-AVPairs of a group answer, good,
// malformed and unknown; a problem pair changes nothing else.
func TestParseIPsecGroup(t *testing.T) {
	a := netip.MustParseAddr
	cases := []struct {
		name  string
		pairs []string
		want  IPsecGroup
		probs []AVPairProblem
	}{
		{"full group", []string{"ipsec:tunnel-password=groupkey", "ipsec:key-exchange=ike", "ipsec:addr-pool=EZPOOL",
			"ipsec:dns-servers=198.19.2.53 198.19.2.54", "ipsec:wins-servers=198.19.2.55", "ipsec:default-domain=example.test",
			"ipsec:split-include=SPLIT", "ipsec:save-password=1", "ipsec:banner=Welcome home", "ipsec:max-users=5"},
			IPsecGroup{Key: "groupkey", Pool: "EZPOOL", DNS: []netip.Addr{a("198.19.2.53"), a("198.19.2.54")}, WINS: []netip.Addr{a("198.19.2.55")},
				Domain: "example.test", SplitACL: "SPLIT", SavePassword: true, Banner: "Welcome home", MaxUsers: 5}, nil},
		{"optional separator and commas", []string{"ipsec:tunnel-password*k=ey", "ipsec:dns-servers=198.19.2.53,198.19.2.54"},
			IPsecGroup{Key: "k=ey", DNS: []netip.Addr{a("198.19.2.53"), a("198.19.2.54")}}, nil},
		{"unknown attribute and protocol", []string{"ipsec:tunnel-password=k", "ipsec:firewall=on", "ip:addr-pool=X", "shell:priv-lvl=15"},
			IPsecGroup{Key: "k"}, []AVPairProblem{{"ipsec:firewall=on", AVPairUnknown}, {"ip:addr-pool=X", AVPairUnknown}, {"shell:priv-lvl=15", AVPairUnknown}}},
		{"malformed values", []string{"ipsec:tunnel-password=", "ipsec:dns-servers=1.2.3.4 5.6.7.8 9.9.9.9", "ipsec:wins-servers=2001:db8::1",
			"ipsec:max-users=0", "ipsec:max-users=x", "ipsec:save-password=yes", "ipsec:addr-pool=A B", "ipsec:key-exchange=manual", "ipsec", "ipsec:=x", "ipsec:banner"},
			IPsecGroup{}, []AVPairProblem{{"ipsec:tunnel-password=", AVPairMalformed}, {"ipsec:dns-servers=1.2.3.4 5.6.7.8 9.9.9.9", AVPairMalformed},
				{"ipsec:wins-servers=2001:db8::1", AVPairMalformed}, {"ipsec:max-users=0", AVPairMalformed}, {"ipsec:max-users=x", AVPairMalformed},
				{"ipsec:save-password=yes", AVPairMalformed}, {"ipsec:addr-pool=A B", AVPairMalformed}, {"ipsec:key-exchange=manual", AVPairMalformed},
				{"ipsec", AVPairUnknown}, {"ipsec:=x", AVPairMalformed}, {"ipsec:banner", AVPairMalformed}}},
		{"later pair wins", []string{"ipsec:addr-pool=A", "ipsec:addr-pool=B"}, IPsecGroup{Pool: "B"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, probs := ParseIPsecGroup(tc.pairs)
			if !reflect.DeepEqual(g, tc.want) {
				t.Errorf("group %+v, want %+v", g, tc.want)
			}
			if !reflect.DeepEqual(probs, tc.probs) {
				t.Errorf("problems %v, want %v", probs, tc.probs)
			}
		})
	}
	many := make([]string, maxAVPairs+1)
	for i := range many {
		many[i] = "ipsec:key-exchange=ike"
	}
	if _, probs := ParseIPsecGroup(many); len(probs) != 1 || probs[0].Reason != AVPairTooMany {
		t.Errorf("%d pairs: problems %v", len(many), probs)
	}
}

// TestIPsecGroupLookup: the lookup is an Access-Request for the group's
// name with password "cisco" and Service-Type Outbound-User; an Accept's
// Cisco-AVPairs are the group, a malformed Cisco attribute is a problem
// and no failure, a Reject is no such group, a silent server an error.
func TestIPsecGroupLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		f.users["VPNGROUP"] = IPsecGroupPassword
		f.accept = func(req, resp *radius.Packet) {
			radiustest.AddCiscoAVPair(resp, "ipsec:tunnel-password=groupkey")
			radiustest.AddCiscoAVPair(resp, "ipsec:addr-pool=EZPOOL")
			radiustest.AddCiscoAVPair(resp, "ipsec:inacl=101")
			resp.Add(rfc2865.VendorSpecific_Type, radius.Attribute{0, 0, 0, 9, 1, 9, 'x'})
		}
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		g := c.Group("radius")
		ans, err := g.IPsecGroup(t.Context(), "VPNGROUP", netip.MustParseAddr("198.18.0.1"))
		if err != nil || !ans.Found {
			t.Fatalf("answer %+v, err %v", ans, err)
		}
		if ans.Group.Key != "groupkey" || ans.Group.Pool != "EZPOOL" || len(ans.Problems) != 2 ||
			ans.Problems[0] != (AVPairProblem{"ipsec:inacl=101", AVPairUnknown}) || ans.Problems[1].Reason != AVPairMalformed {
			t.Fatalf("answer %+v", ans)
		}
		p := f.received()[0]
		if rfc2865.UserName_GetString(p) != "VPNGROUP" || rfc2865.ServiceType_Get(p) != rfc2865.ServiceType_Value_OutboundUser ||
			rfc2865.CallingStationID_GetString(p) != "198.18.0.1" || p.Get(rfc2865.FramedProtocol_Type) != nil {
			t.Errorf("request attributes %v", p.Attributes)
		}
		if ans, err := g.IPsecGroup(t.Context(), "NOGROUP", netip.Addr{}); err != nil || ans.Found {
			t.Errorf("unknown group: %+v %v", ans, err)
		}
		if _, err := g.IPsecGroup(t.Context(), "", netip.Addr{}); err == nil {
			t.Error("empty group name: no error")
		}
		f.mode.Store(int32(fakeSilent))
		if _, err := g.IPsecGroup(t.Context(), "VPNGROUP", netip.Addr{}); err == nil {
			t.Error("a silent server gave no error")
		}
	})
}

// FuzzParseIPsecGroup: no pair text panics the group parser, and what it
// keeps is bounded.
func FuzzParseIPsecGroup(f *testing.F) {
	f.Add("ipsec:tunnel-password=k", "ipsec:dns-servers=198.19.2.53 198.19.2.54")
	f.Add("ipsec:max-users=9", "ipsec:banner*x")
	f.Fuzz(func(t *testing.T, a, b string) {
		g, _ := ParseIPsecGroup([]string{a, b})
		if len(g.DNS) > 2 || len(g.WINS) > 2 || len(g.Banner) > 200 || len(g.Key) > 128 {
			t.Fatalf("group %+v", g)
		}
	})
}
