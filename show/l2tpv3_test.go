package show

import (
	"strings"
	"testing"
	"time"
)

// r5 is document 004's R5 after its pseudowire came up.
func r5() []PWSession {
	return []PWSession{{LocalID: 1, RemoteID: 2, VCID: 1, Interface: "Gi0/0", CircuitName: "GigabitEthernet0/0",
		CircuitType: "Ethernet", Device: "veth-r5", State: "est", StateName: "established",
		LastChange: Now().Add(-3 * time.Second), UniqueID: 1, CircuitUp: true, LocalCircuitUp: true, RemoteCircuitUp: true,
		RemoteAddress: "198.18.9.9", LocalAddress: "198.18.5.5", Transport: "IP protocol 115", Manual: true, Locally: true,
		TOS: -1, LocalCookie: "00 00 D7 47", RemoteCookie: "00 00 AF 57", Sequencing: "off",
		Counters: Counters{PacketsOut: 1130, PacketsIn: 1982, BytesOut: 151213, BytesIn: 197759}, CookieDrops: 2}}
}

func TestPWShows(t *testing.T) {
	fixed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := Now
	Now = func() time.Time { return fixed }
	defer func() { Now = old }()
	var b strings.Builder
	WriteL2TPSessions(&b, VPDN{}, r5(), false)
	b.WriteString("----\n")
	WriteL2TPSessions(&b, VPDN{}, r5(), true)
	b.WriteString("----\n")
	WriteXconnect(&b, r5())
	b.WriteString("----\n")
	WriteL2TunTunnelsV3(&b, VPDN{}, r5(), false)
	golden(t, "l2tpv3-r5.txt", b.String())
	goldenJSON(t, "l2tpv3-r5.json", PWSessionsJSON{L2TPv2: []Session{}, L2TPv3: r5()})
	// Document 004's lines.
	for _, want := range []string{"Session is manually signaled", "IP protocol 115", "1          2          n/a        1, Gi0/0",
		"Session Layer 2 circuit, type is Ethernet, name is GigabitEthernet0/0", "1130 Packets sent, 1982 received",
		"local cookie, size 4 bytes, value 00 00 D7 47", "Total tunnels 0 sessions 1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q", want)
		}
	}
	// Without L2TPv3 sessions the L2TPv2 rendering is unchanged.
	var b1, b2 strings.Builder
	WriteL2TPSessions(&b1, VPDN{}, nil, true)
	WriteL2TunSessions(&b2, VPDN{}, true)
	if b1.String() != b2.String() {
		t.Fatal("v2-only output changed")
	}
}

// TestPWSignaledShows: a dynamic (L2TP signaled) pseudowire and its
// L2TPv3 control connection, as show l2tp session all, show l2tun tunnel
// all and their JSON render them.
func TestPWSignaledShows(t *testing.T) {
	fixed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := Now
	Now = func() time.Time { return fixed }
	defer func() { Now = old }()
	pw := r5()
	pw[0].Manual, pw[0].TunnelID, pw[0].RemoteTunnelID = false, 3405691582, 2882400001
	pw[0].LocalID, pw[0].RemoteID, pw[0].VCID = 2166136261, 16777619, 100
	v := VPDN{Tunnels: []Tunnel{{Protocol: L2TP, LocalID: 3405691582, RemoteID: 2882400001, LocalName: "R5",
		RemoteName: "R9", RemoteVendor: "vpdn", State: "est", StateName: "established", RemoteAddress: "198.18.9.9",
		Sessions: 1, Group: "CTL", Role: "LAC", LastChange: fixed.Add(-time.Minute), Created: fixed.Add(-time.Minute),
		Version: 3, RouterID: "198.18.9.9", Digest: "sha1",
		Control: ControlCounters{Sent: 6, Received: 7, ZLBSent: 2, ZLBReceived: 1, HellosSent: 1, CWND: 4, PeerWindow: 16}}}}
	v.Normalize()
	var b strings.Builder
	WriteL2TPSessions(&b, v, pw, true)
	b.WriteString("----\n")
	WriteL2TunTunnelsV3(&b, v, pw, true)
	b.WriteString("----\n")
	WriteL2TunTunnelsV3(&b, v, pw, false)
	golden(t, "l2tpv3-signaled.txt", b.String())
	goldenJSON(t, "l2tpv3-signaled.json", struct {
		Tunnels  []Tunnel    `json:"tunnels"`
		Sessions []PWSession `json:"l2tpv3"`
	}{v.Tunnels, pw})
	for _, want := range []string{"Session is L2TP signaled", "tunnel id 3405691582", "remote tunnel id 2882400001",
		"Protocol version 3 (L2TPv3), remote router ID 198.18.9.9", "Control message authentication is sha1",
		"3405691582 2882400001 R9"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q:\n%s", want, b.String())
		}
	}
}
