package show

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func snapshot() VPDN {
	return VPDN{
		Tunnels: []Tunnel{
			{Protocol: L2TP, LocalID: 903, RemoteID: 52567, LocalName: "lns", RemoteName: "lac1", State: "est", StateName: "established",
				RemoteAddress: "198.18.0.2", RemotePort: 1701, Sessions: 1, Group: "FROM-LAC1", Role: "LNS", LastChange: t0.Add(-90 * time.Second),
				Control: ControlCounters{Sent: 4, Received: 5, ZLBSent: 2, CWND: 3, PeerWindow: 16}},
			{Protocol: PPTP, LocalID: 17168, NoRemoteID: true, RemoteName: "198.18.1.9", State: "estabd", StateName: "established",
				RemoteAddress: "198.18.1.9", RemotePort: 1136, LocalAddress: "198.18.1.1", Sessions: 1, Group: "1", Role: "PNS",
				LastChange: t0.Add(-253 * time.Second), Created: t0.Add(-254 * time.Second),
				Control: ControlCounters{Sent: 3, Received: 4, HellosSent: 2}},
		},
		Sessions: []Session{
			{Protocol: L2TP, LocalID: 41, RemoteID: 7, TunnelID: 903, RemoteTunnelID: 52567, RemoteName: "lac1", RemoteAddress: "198.18.0.2",
				User: "alice", Interface: "Vi1", State: "est", StateName: "established", LastChange: t0.Add(-80 * time.Second), UniqueID: 3,
				Counters: Counters{PacketsIn: 10, BytesIn: 1000, PacketsOut: 12, BytesOut: 1400, Spoofed: 1}},
			{Protocol: PPTP, LocalID: 55592, RemoteID: 0, TunnelID: 17168, RemoteName: "198.18.1.9", RemoteAddress: "198.18.1.9",
				User: "cisco2", Interface: "Vi3", State: "estabd", StateName: "established", LastChange: t0.Add(-253 * time.Second),
				UniqueID: 6, Counters: Counters{PacketsIn: 10, BytesIn: 448, PacketsOut: 10, BytesOut: 332},
				Flow: &FlowControl{Sent: 11, Received: 10, PeerAck: 10, PeerWindow: 16, Unacked: 1, RTTMillis: 40,
					AckTimeoutMillis: 500}},
		},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./show -update rewrites it):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestRenderings pins the IOS layouts: show vpdn merges the carriers (an
// L2TP section, then PPTP's, as document 004's hub prints it), and the
// L2TP-only commands leave PPTP out.
func TestRenderings(t *testing.T) {
	Now = func() time.Time { return t0 }
	defer func() { Now = time.Now }()
	v := snapshot()
	for _, c := range []struct {
		name string
		f    func(*strings.Builder)
	}{
		{"vpdn.txt", func(b *strings.Builder) { WriteVPDN(b, v) }},
		{"vpdn-session.txt", func(b *strings.Builder) { WriteSessions(b, v, false) }},
		{"vpdn-session-all.txt", func(b *strings.Builder) { WriteSessions(b, v, true) }},
		{"vpdn-tunnel-all.txt", func(b *strings.Builder) { WriteTunnels(b, v, true) }},
		{"l2tun.txt", func(b *strings.Builder) { WriteL2Tun(b, v) }},
		{"pptp-only.txt", func(b *strings.Builder) { WriteVPDN(b, v.Filter(PPTP)) }},
		{"empty.txt", func(b *strings.Builder) { WriteVPDN(b, VPDN{}) }},
	} {
		var b strings.Builder
		c.f(&b)
		golden(t, c.name, b.String())
	}
	var b strings.Builder
	WriteL2TunSessions(&b, v, false)
	if strings.Contains(b.String(), "cisco2") {
		t.Error("show l2tun session lists a PPTP session")
	}
}

// TestJSON: snake_case names, IOS words, lists present when empty.
func TestJSON(t *testing.T) {
	var v VPDN
	v.Normalize()
	b, _ := json.Marshal(v)
	if string(b) != `{"tunnels":[],"sessions":[]}` {
		t.Fatalf("empty snapshot: %s", b)
	}
	b, _ = json.Marshal(snapshot())
	for _, want := range []string{`"state":"est"`, `"remote_name":"lac1"`, `"spoofed_source":1`, `"local_id":903`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("JSON has a null: %s", b)
	}
}

// TestUsers pins show users and show caller user.
func TestUsers(t *testing.T) {
	Now = func() time.Time { return t0 }
	defer func() { Now = time.Now }()
	us := []User{{Interface: "Vi1", LongName: "Virtual-Access1", Hardware: "Virtual Access interface", Template: "Virtual-Template1",
		Unnumbered: "Loopback0", User: "alice", Service: "PPPoVPDN", Protocol: L2TP, Up: true, LocalAddr: "198.19.0.1",
		PeerAddr: "198.19.1.5", Auth: "CHAP (<--)", ConnectedAt: t0.Add(-time.Hour)}}
	var b strings.Builder
	WriteUsers(&b, us)
	WriteCallerUser(&b, us)
	WriteInterface(&b, us[0])
	golden(t, "users.txt", b.String())
}

// goldenJSON compares the indented JSON of v with testdata/name.
func goldenJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("%s has a null: %s", name, b)
	}
	golden(t, name, string(b)+"\n")
}

// TestL2TPJSON pins the JSON of an L2TP-only snapshot: fields added for
// other carriers must not show in it.
func TestL2TPJSON(t *testing.T) {
	goldenJSON(t, "l2tp.json", snapshot().Filter(L2TP))
}

// TestL2TPCounters pins show l2tp counters, text and JSON.
func TestL2TPCounters(t *testing.T) {
	c := L2TPCounters{Tunnels: 1026, HalfOpenTunnels: 16, Sessions: 100, HalfOpenSessions: 2048,
		Drops: []Counter{{"bad-header", 3}, {"no-tunnel", 0}, {"half-open-session-evicted", 132952},
			{"tunnel-limit", 3974}, {"bad-avp", 1}, {"hidden-avp-no-random-vector", 1}, {"out-of-window", 2}},
		Timeouts: []Counter{{"session-setup-timeout", 2048}, {"no-session-timeout", 1024}}}
	var b strings.Builder
	WriteL2TPCounters(&b, c)
	golden(t, "l2tp-counters.txt", b.String())
	goldenJSON(t, "l2tp-counters.json", c)
}
