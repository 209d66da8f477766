package show

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fixNow(t *testing.T) {
	Now = func() time.Time { return t0 }
	t.Cleanup(func() { Now = time.Now })
}

// doc001 is document 001's PPTP tunnel server: one control connection and
// one call whose user PPP has not named yet, with 001's numbers.
func doc001() VPDN {
	return VPDN{
		Tunnels: []Tunnel{{Protocol: PPTP, LocalID: 13, RemoteID: 13, RemoteName: "198.18.2.41", State: "estabd",
			StateName: "established", RemoteAddress: "198.18.2.41", RemotePort: 1136, Sessions: 1, Role: "PNS",
			LastChange: t0.Add(-66 * time.Second)}},
		Sessions: []Session{{Protocol: PPTP, LocalID: 13, RemoteID: 0, TunnelID: 13, RemoteName: "198.18.2.41",
			RemoteAddress: "198.18.2.41", Interface: "Vi3", State: "estabd", StateName: "established",
			LastChange: t0.Add(-66 * time.Second), UniqueID: 1,
			Counters: Counters{PacketsIn: 10, BytesIn: 448, PacketsOut: 10, BytesOut: 332},
			Flow:     &FlowControl{Sent: 11, Received: 10, PeerAck: 10, PeerWindow: 16}}},
	}
}

// TestPPTPRenderings pins the PPTP section in the cases the mixed
// snapshot of TestRenderings does not show: document 001's call with no
// user yet, a control connection without calls, a raised flow alarm, an
// L2TP tunnel without sessions beside PPTP calls.
func TestPPTPRenderings(t *testing.T) {
	fixNow(t)
	noCalls := VPDN{Tunnels: []Tunnel{{Protocol: PPTP, LocalID: 4, NoRemoteID: true, RemoteName: "198.18.3.7",
		State: "estabd", StateName: "established", RemoteAddress: "198.18.3.7", RemotePort: 49190, Group: "PPTP-IN",
		Role: "PNS", LastChange: t0.Add(-5 * time.Second)}}}
	alarm := doc001()
	alarm.Sessions[0].User = "cisco2"
	alarm.Sessions[0].Flow.Alarm, alarm.Sessions[0].Flow.Alarms = true, 2
	alarm.Sessions[0].Counters.OutOfOrder = 3
	mixed := snapshot()
	mixed.Sessions = mixed.Sessions[1:] // the L2TP tunnel has no session left
	mixed.Tunnels[0].Sessions = 0
	for _, c := range []struct {
		name string
		f    func(*strings.Builder)
	}{
		{"pptp-doc001.txt", func(b *strings.Builder) {
			v := doc001()
			WriteVPDN(b, v)
			b.WriteString("--- show vpdn session all\n")
			WriteSessions(b, v, true)
		}},
		{"pptp-nocalls.txt", func(b *strings.Builder) {
			WriteVPDN(b, noCalls)
			b.WriteString("--- show vpdn session\n")
			WriteSessions(b, noCalls, false)
			b.WriteString("--- show vpdn tunnel\n")
			WriteTunnels(b, noCalls, false)
			b.WriteString("--- show vpdn tunnel all\n")
			WriteTunnels(b, noCalls, true)
		}},
		{"pptp-alarm.txt", func(b *strings.Builder) { WriteSessions(b, alarm, true) }},
		{"mixed-l2tp-idle.txt", func(b *strings.Builder) {
			WriteVPDN(b, mixed)
			b.WriteString("--- show vpdn session\n")
			WriteSessions(b, mixed, false)
		}},
	} {
		var b strings.Builder
		c.f(&b)
		golden(t, c.name, b.String())
	}

	// The L2TP-only commands say nothing of PPTP, however many calls.
	var b strings.Builder
	WriteL2Tun(&b, doc001())
	WriteL2TunTunnels(&b, doc001(), true)
	if strings.Contains(b.String(), "PPTP") || strings.Contains(b.String(), "198.18.2.41") {
		t.Errorf("show l2tun shows PPTP:\n%s", b.String())
	}
}

// TestPPTPTables checks the columns row by row: the remote ID of a PPTP
// tunnel is N/A, a missing group or user leaves no trailing blanks in the
// tunnel table, and long names are cut to their column.
func TestPPTPTables(t *testing.T) {
	fixNow(t)
	for _, c := range []struct {
		name string
		t    Tunnel
		want string
	}{
		{"no remote ID", Tunnel{LocalID: 1, NoRemoteID: true, RemoteName: "r", State: "estabd", RemoteAddress: "198.18.0.9",
			RemotePort: 1723, Sessions: 2, Group: "g"}, "1     N/A   r             estabd 198.18.0.9      1723  2        g"},
		{"remote ID kept", Tunnel{LocalID: 13, RemoteID: 13, State: "estabd"}, "13    13                  estabd                 0     0"},
		{"long names cut", Tunnel{LocalID: 65535, NoRemoteID: true, RemoteName: "a-very-long-host-name", State: "wait",
			Group: "a-very-long-group-name"}, "65535 N/A   a-very-long-h wait                   0     0        a-very-long-gro"},
	} {
		var b strings.Builder
		writeOtherTunnels(&b, []Tunnel{c.t})
		rows := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(rows) != 2 || rows[1] != c.want {
			t.Errorf("%s: row\n%q, want\n%q", c.name, rows[len(rows)-1], c.want)
		}
	}
	var b strings.Builder
	writeOtherSessions(&b, []Session{{LocalID: 13, TunnelID: 13, Interface: "Vi3", State: "estabd", LastChange: t0}})
	if want := "13    0     13    Vi3                   estabd  00:00:00 0\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("a call without a user:\n%q, want the row\n%q", b.String(), want)
	}
}

// TestPPTPJSON pins the JSON of the mixed snapshot: PPTP fields present
// on PPTP entries only, and the conventions of docs/show-json.md.
func TestPPTPJSON(t *testing.T) {
	v := snapshot()
	goldenJSON(t, "vpdn.json", v)
	b, _ := json.Marshal(v)
	for _, want := range []string{`"no_remote_id":true`, `"flow_control":{"sent_seq":11,`, `"peer_window":16`,
		`"created":"2026-12-01T09:55:46Z"`, `"local_address":"198.18.1.1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	l, _ := json.Marshal(v.Filter(L2TP))
	for _, absent := range []string{"no_remote_id", "flow_control", "created", "local_address"} {
		if strings.Contains(string(l), absent) {
			t.Errorf("L2TP JSON has %s: %s", absent, l)
		}
	}
}

// TestPPTPUsers pins show users, show caller user and show interfaces
// virtual-access for a PPTP call with MPPE (CCP open), beside an L2TP one.
func TestPPTPUsers(t *testing.T) {
	fixNow(t)
	us := []User{
		{Interface: "Vi1", LongName: "Virtual-Access1", Hardware: "Virtual Access interface", Template: "Virtual-Template1",
			User: "alice", Service: "PPPoVPDN", Protocol: L2TP, Up: true, LocalAddr: "198.19.0.1", PeerAddr: "198.19.1.5",
			Auth: "CHAP (<--)", ConnectedAt: t0.Add(-time.Hour)},
		{Interface: "Vi3", LongName: "Virtual-Access3", Hardware: "Virtual Access interface", Template: "Virtual-Template1",
			Unnumbered: "Loopback1", User: "cisco2", Service: "PPPoVPDN", Protocol: PPTP, Up: true, LocalAddr: "198.19.2.2",
			PeerAddr: "198.19.2.5", Auth: "MS CHAP V2 (<--)", ConnectedAt: t0.Add(-253 * time.Second), CCP: true,
			Counters: Counters{PacketsIn: 101, BytesIn: 2932, PacketsOut: 78, BytesOut: 3770}},
	}
	var b strings.Builder
	WriteUsers(&b, us)
	b.WriteString("--- show caller user cisco2\n")
	WriteCallerUser(&b, us[1:])
	b.WriteString("--- show interfaces virtual-access 3\n")
	WriteInterface(&b, us[1])
	golden(t, "users-pptp.txt", b.String())
	goldenJSON(t, "users-pptp.json", us)
	j, _ := json.Marshal(us[0])
	if strings.Contains(string(j), "ccp") {
		t.Errorf("an L2TP user without CCP has it in its JSON: %s", j)
	}
}

func doc001MPPE() []MPPE {
	return []MPPE{
		// Document 001's interface, 40 bits stateless, after its peer
		// changed key once.
		{Interface: "Vi3", LongName: "Virtual-Access3", Engine: "software", Bits: 40, Stateless: true,
			PacketsDecrypted: 1, RxKeyChanges: 1},
		{Interface: "Vi4", LongName: "Virtual-Access4", Engine: "software", Bits: 128, PacketsEncrypted: 123456,
			PacketsDecrypted: 4095, ResetsSent: 2, ResetsReceived: 1, NextTxCoherency: 0x0e40, NextRxCoherency: 0xfff,
			TxKeyChanges: 482, RxKeyChanges: 15, RxDropped: 9, RxOutOfOrder: 4, RxMissed: 7},
	}
}

// TestMPPE pins show ppp mppe virtual-access: 001's layout with vpdn's
// "software encryption", both modes, wide numbers, and nothing for none.
func TestMPPE(t *testing.T) {
	ms := doc001MPPE()
	var b strings.Builder
	WriteMPPE(&b, ms)
	golden(t, "mppe.txt", b.String())
	goldenJSON(t, "mppe.json", ms)
	b.Reset()
	WriteMPPE(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no interface: %q", b.String())
	}
}

// mppeLink stands for what the daemon holds of an MPPE session: the
// keys beside the counters. mppeSnapshot is the copy the daemon makes.
type mppeLink struct {
	sendKey, recvKey [16]byte
	bits             int
	stateless        bool
	txCount, rxCount uint16
	tx, rx, rekeys   uint64
}

func mppeSnapshot(l mppeLink) MPPE {
	return MPPE{Interface: "Vi7", LongName: "Virtual-Access7", Engine: "software", Bits: l.bits, Stateless: l.stateless,
		PacketsEncrypted: l.tx, PacketsDecrypted: l.rx, NextTxCoherency: l.txCount, NextRxCoherency: l.rxCount,
		TxKeyChanges: l.rekeys, RxKeyChanges: l.rekeys}
}

// TestMPPENoKeys: keys are part of no snapshot and no output. The MPPE
// type (and every snapshot type) has no field that can hold bytes, and a
// snapshot built from a link with known keys shows them in no form in its
// text or its JSON.
func TestMPPENoKeys(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[MPPE](), reflect.TypeFor[VPDN](), reflect.TypeFor[User]()} {
		checkNoBytes(t, typ, typ.Name())
	}
	var l mppeLink
	for i := range l.sendKey {
		l.sendKey[i], l.recvKey[i] = byte(0xa0+i), byte(0x5b^i*7)
	}
	l.bits, l.stateless, l.txCount, l.rxCount, l.tx, l.rx, l.rekeys = 128, true, 0x21, 0x22, 34, 35, 34
	m := mppeSnapshot(l)
	var b strings.Builder
	WriteMPPE(&b, []MPPE{m})
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][16]byte{l.sendKey, l.recvKey} {
		forms := []string{string(k[:]), hex.EncodeToString(k[:]), strings.ToUpper(hex.EncodeToString(k[:])),
			base64.StdEncoding.EncodeToString(k[:]), strings.Trim(strings.Join(strings.Fields(fmt.Sprint(k[:])), ","), "[]"),
			hex.EncodeToString(k[:4]), fmt.Sprint(k[:4])}
		for _, out := range []string{b.String(), string(j)} {
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("key %x shows as %q in:\n%s", k, f, out)
				}
			}
		}
	}
}

// checkNoBytes fails if typ has, at any depth, a field that could carry
// key bytes: a byte slice or array, a map, an interface or a string whose
// name says key or secret.
func checkNoBytes(t *testing.T, typ reflect.Type, path string) {
	t.Helper()
	switch typ.Kind() {
	case reflect.Pointer, reflect.Slice:
		if typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8 {
			t.Errorf("%s is a byte slice", path)
			return
		}
		checkNoBytes(t, typ.Elem(), path+"[]")
	case reflect.Array:
		t.Errorf("%s is an array", path)
	case reflect.Map, reflect.Interface:
		t.Errorf("%s is a %s", path, typ.Kind())
	case reflect.Struct:
		if typ == reflect.TypeFor[time.Time]() {
			return
		}
		for f := range typ.Fields() {
			n := strings.ToLower(f.Name)
			if f.Type.Kind() == reflect.String && (strings.Contains(n, "key") || strings.Contains(n, "secret")) {
				t.Errorf("%s.%s names a key", path, f.Name)
			}
			checkNoBytes(t, f.Type, path+"."+f.Name)
		}
	}
}
