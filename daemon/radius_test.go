package daemon

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/aaa/radius"
	"github.com/vpdn/vpdn/config"
)

// TestRadiusConfig: the radius-server defaults fill what a server leaves
// unset, group radius holds every server in order, named groups their
// members, and the NAS identity comes from the hostname and the source
// interface.
func TestRadiusConfig(t *testing.T) {
	res, err := config.Parse("t", `hostname lns1
radius server A
 address ipv4 198.18.0.11
 key 7 03105E1812062F4B1F5B4A
 retransmit 0
radius server B
 address ipv4 198.18.0.12 auth-port 11812 acct-port 11813
 timeout 9
radius-server host 198.18.0.13 key hostkey
radius-server key globalkey
radius-server timeout 2
radius-server retransmit 4
radius-server deadtime 3
aaa group server radius CORP
 server name B
 server-private 198.18.0.14 key priv
ip radius source-interface Loopback0
interface Loopback0
 ip address 198.18.0.1 255.255.255.255
`)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := radiusConfig(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Groups) != 2 || rc.Groups[0].Name != "radius" || rc.Groups[1].Name != "CORP" {
		t.Fatalf("groups %+v", rc.Groups)
	}
	all := rc.Groups[0].Servers
	want := []radius.ServerConfig{
		{Name: "A", Addr: mustAddr("198.18.0.11"), Secret: "testing123", Timeout: 2 * time.Second, Retransmit: 0},
		{Name: "B", Addr: mustAddr("198.18.0.12"), AuthPort: 11812, AcctPort: 11813, Secret: "globalkey", Timeout: 9 * time.Second, Retransmit: 4},
		{Addr: mustAddr("198.18.0.13"), Secret: "hostkey", Timeout: 2 * time.Second, Retransmit: 4},
	}
	if len(all) != len(want) {
		t.Fatalf("group radius %+v", all)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("server %d: %+v, want %+v", i, all[i], want[i])
		}
	}
	corp := rc.Groups[1].Servers
	if len(corp) != 2 || corp[0].Name != "B" || corp[1].Addr != mustAddr("198.18.0.14") || corp[1].Secret != "priv" {
		t.Errorf("CORP %+v", corp)
	}
	if rc.Deadtime != 3*time.Minute || rc.Source != mustAddr("198.18.0.1") || rc.NAS.IP != rc.Source || rc.NAS.Identifier != "lns1" {
		t.Errorf("deadtime %v source %v NAS %+v", rc.Deadtime, rc.Source, rc.NAS)
	}
}

// TestRadiusShowsRender: the show layouts with a live and a dead server.
func TestRadiusShowsRender(t *testing.T) {
	st := []radius.ServerStats{
		{Name: "A", Address: "198.18.0.11", AuthPort: 1812, AcctPort: 1813, Groups: []string{"radius"}, AuthRequests: 5, Accepts: 3, Rejects: 1,
			Retransmissions: 1, Drops: map[string]uint64{"missing_message_authenticator": 2}, RTTAverage: 4 * time.Millisecond},
		{Address: "198.18.0.12", AuthPort: 1812, AcctPort: 1813, Dead: true, DeadLeft: 90 * time.Second, DeadCount: 1, Timeouts: 1, AuthRequests: 4, Drops: map[string]uint64{}},
	}
	s := renderAAAServers(st, &radius.AccountingStats{Records: 2, Pending: 1})
	for _, w := range []string{"RADIUS: id 1, priority 1, host 198.18.0.11, auth-port 1812, acct-port 1813", "Server name: A",
		"State: current UP", "Authen: request 5, timeouts 0, retransmission 1", "Response: accept 3, reject 1, challenge 0",
		"Response: dropped 2, time 4ms", "RADIUS: id 2", "State: current DEAD, dead time left 1m30s",
		"Accounting spool: 2 sessions, 0 octets, 1 with records pending"} {
		if !strings.Contains(s, w) {
			t.Errorf("show aaa servers lacks %q:\n%s", w, s)
		}
	}
	r := renderRadiusStatistics(st, &radius.AccountingStats{Records: 3, Retries: 4}, &radius.DynAuthStats{DisconnectRequests: 2, DisconnectACKs: 1, DisconnectNAKs: 1, Drops: map[string]uint64{"bad_authenticator": 5}})
	for _, w := range []string{"Requests sent:          9          0          9", "Access Accepts:          3",
		"missing_message_authenticator:          2", "Number of Radius timeouts:          1",
		"Retransmissions:          1          4          5", "Accounting spool records:          3",
		"Disconnect req/ACK/NAK:          2          1          1", "dropped bad_authenticator:          5"} {
		if !strings.Contains(r, w) {
			t.Errorf("show radius statistics lacks %q:\n%s", w, r)
		}
	}
	if !strings.Contains(renderAAAServers(nil, nil), "No RADIUS servers") {
		t.Error("empty show aaa servers")
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestAccountingLists: a list's first method decides (a server group, or
// local), none and unusable lists give no accounting.
func TestAccountingLists(t *testing.T) {
	res, err := config.Parse("t", `aaa new-model
radius-server host 198.18.0.2 key k
aaa group server radius CORP
 server 198.18.0.2
aaa accounting network default start-stop group radius local
aaa accounting network STOPS stop-only group CORP
aaa accounting network MEM start-stop local
aaa accounting network OFF none
`)
	if err != nil {
		t.Fatal(err)
	}
	got := accountingLists(res.Config)
	want := map[string]acctMethod{"default": {group: "radius"}, "STOPS": {group: "CORP", stopOnly: true}, "MEM": {local: true}}
	if len(got) != len(want) {
		t.Errorf("lists %+v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %+v, want %+v", k, got[k], v)
		}
	}
}
