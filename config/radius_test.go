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
