package config

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestRadiusModel: every RADIUS command lands in the model, prints back
// as it was written (keys as secrets, in their type), and the printed
// form is a fixed point; the inert commands warn.
func TestRadiusModel(t *testing.T) {
	res, err := LoadFile("testdata/radius/lns-radius.cfg")
	if err != nil {
		t.Fatal(err)
	}
	checkFixedPoint(t, res.Config)
	r := res.Config.AAA.RADIUS
	if r == nil {
		t.Fatal("no RADIUS section")
	}
	s := r.RadiusServerByName("R1")
	if s == nil || s.Addr != netip.MustParseAddr("198.18.0.11") || s.AuthPort != 1812 || s.AcctPort != 1813 ||
		s.Key != (Secret{Type: 7, Value: "0822455D0A16"}) || s.Timeout != 3 || s.Retransmit != 2 {
		t.Errorf("radius server R1: %+v", s)
	}
	if len(r.Hosts) != 1 || r.Hosts[0].Key != (Secret{Value: "testing123"}) || r.Hosts[0].Retransmit != -1 {
		t.Errorf("hosts %+v", r.Hosts)
	}
	if r.Key != (Secret{Value: "globalkey"}) || r.Timeout != 2 || r.Retransmit != 0 || r.Deadtime != 5 {
		t.Errorf("defaults %+v", r)
	}
	if r.SourceInterface == nil || r.SourceInterface.String() != "Loopback0" {
		t.Errorf("source interface %v", r.SourceInterface)
	}
	g := r.GroupByName("CORP")
	if g == nil || len(g.Members) != 3 || g.Members[0].Server != "R1" || g.Members[1].Host != netip.MustParseAddr("198.18.0.12") ||
		g.Members[2].Private == nil || g.Members[2].Private.Key != (Secret{Value: "priv"}) || g.Members[2].Private.AuthPort != 11812 {
		t.Errorf("group %+v", g)
	}
	if r.DynamicAuthor == nil || len(r.DynamicAuthor.Clients) != 1 || r.DynamicAuthor.Port != 3799 || r.AccountingUpdate != 10 {
		t.Errorf("dynamic-author %+v, update %d", r.DynamicAuthor, r.AccountingUpdate)
	}
	var inert int
	for _, w := range res.Warnings {
		if strings.Contains(w.Msg, "later work") {
			inert++
		}
	}
	if inert != 0 { // accounting and dynamic-author have effect now
		t.Errorf("%d later-work warnings: %v", inert, res.Warnings)
	}
	b, err := json.Marshal(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.AAA.RADIUS, r) {
		t.Errorf("JSON round trip:\n%+v\n%+v", back.AAA.RADIUS, r)
	}
}

// TestRadiusNoForms: the no forms undo their commands.
func TestRadiusNoForms(t *testing.T) {
	text := `radius-server host 198.18.0.2 key k
radius-server key k
radius-server timeout 9
radius-server retransmit 1
radius-server deadtime 3
radius server R
 address ipv4 198.18.0.3
 key k
 timeout 4
 retransmit 0
 no timeout
 no retransmit
aaa group server radius G
 server name R
 server 198.18.0.2
 no server name R
radius-server host 198.18.0.4 key k
no radius-server host 198.18.0.4
no radius-server timeout
no radius-server retransmit
no radius-server deadtime
`
	res, err := Parse("t", text)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Config.AAA.RADIUS
	if len(r.Hosts) != 1 || r.Timeout != 0 || r.Retransmit != -1 || r.Deadtime != 0 {
		t.Errorf("%+v", r)
	}
	if s := r.RadiusServerByName("R"); s.Timeout != 0 || s.Retransmit != -1 {
		t.Errorf("server %+v", s)
	}
	if g := r.GroupByName("G"); len(g.Members) != 1 || g.Members[0].Host != netip.MustParseAddr("198.18.0.2") {
		t.Errorf("group %+v", g.Members)
	}
}

// TestAccountingConfig: accounting lists, ppp accounting and the
// dynamic-author keys land in the model and print back; a ppp accounting
// list that is not defined, and a dynamic-author client without any key,
// are refused with their lines.
func TestAccountingConfig(t *testing.T) {
	text := `aaa new-model
radius-server host 198.18.0.2 key k
aaa accounting network default start-stop group radius
aaa accounting network STOPS stop-only group radius
aaa accounting network OFF none
aaa accounting system default start-stop group radius
aaa accounting update periodic 5
aaa server radius dynamic-author
 client 198.18.0.5
 client 198.18.0.6 server-key 0 own
 server-key 7 0822455D0A16
 port 1700
interface Virtual-Template1
 ppp accounting STOPS
`
	res, err := Parse("t", text)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Config
	checkFixedPoint(t, c)
	if len(c.AAA.Accounting) != 3 || c.AAA.Accounting[1].Record != "stop-only" || c.AAA.Accounting[1].Methods[0] != "group radius" ||
		c.AAA.Accounting[2].Record != "none" || len(c.AAA.Accounting[2].Methods) != 0 {
		t.Errorf("lists %+v", c.AAA.Accounting)
	}
	if sa := c.AAA.SystemAccounting; len(sa) != 1 || sa[0].Name != "default" || sa[0].Record != "start-stop" || len(sa[0].Methods) != 1 || sa[0].Methods[0] != "group radius" {
		t.Errorf("system accounting %+v", sa)
	}
	da := c.AAA.RADIUS.DynamicAuthor
	if len(da.Clients) != 2 || !da.Clients[0].Key.IsZero() || da.Clients[1].Key != (Secret{Value: "own"}) ||
		da.Key != (Secret{Type: 7, Value: "0822455D0A16"}) || da.Port != 1700 || c.AAA.RADIUS.AccountingUpdate != 5 {
		t.Errorf("dynamic-author %+v", da)
	}
	if ifc := c.Interfaces[0]; ifc.PPPAcctList != "STOPS" {
		t.Errorf("ppp accounting %q", ifc.PPPAcctList)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %v", w)
	}
	for bad, want := range map[string]string{
		"interface Virtual-Template1\n ppp accounting NOPE\n":                                       "t:1: interface Virtual-Template1: ppp accounting NOPE: no such list",
		"aaa server radius dynamic-author\n client 198.18.0.5\n":                                    "t:2: aaa server radius dynamic-author: client 198.18.0.5 has no key",
		"aaa accounting system default start-stop\n":                                                "t:1: aaa accounting system default start-stop: incomplete command",
		"radius-server host 198.18.0.2 key k\naaa accounting system default stop-only group NOPE\n": `t:2: aaa accounting system default: server group "NOPE" is not defined`,
		"aaa accounting update\n":                                                                   "t:1: aaa accounting update: expected newinfo, periodic N, or both",
		"aaa accounting update periodic 0\n":                                                        "t:1:",
	} {
		if _, err := Parse("t", bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
	// aaa accounting update: one line sets both, and prints back as it
	// was written; the no form clears both.
	for _, tc := range []struct {
		line     string
		newinfo  bool
		periodic int
	}{
		{"aaa accounting update newinfo", true, 0},
		{"aaa accounting update newinfo periodic 10", true, 10},
		{"aaa accounting update periodic 3", false, 3},
	} {
		res, err := Parse("t", "aaa accounting update periodic 5\n"+tc.line+"\n")
		if err != nil {
			t.Fatal(err)
		}
		r := res.Config.AAA.RADIUS
		if r.AccountingNewInfo != tc.newinfo || r.AccountingUpdate != tc.periodic || !strings.Contains(res.Config.String(), tc.line+"\n") {
			t.Errorf("%s: newinfo %v periodic %d\n%s", tc.line, r.AccountingNewInfo, r.AccountingUpdate, res.Config)
		}
		checkFixedPoint(t, res.Config)
		res, err = Parse("t", tc.line+"\nno aaa accounting update\n")
		if err != nil || res.Config.AAA.RADIUS.AccountingNewInfo || res.Config.AAA.RADIUS.AccountingUpdate != 0 {
			t.Errorf("%s, then no: %v %+v", tc.line, err, res.Config.AAA.RADIUS)
		}
	}
}
