package link6

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func sampleReply() *DHCPMessage {
	return &DHCPMessage{Type: DHCPReply, XID: [3]byte{1, 2, 3}, ClientID: []byte{0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18},
		ServerID: []byte{0, 4, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, RapidCommit: true,
		IAPD: []IAPD{{IAID: 7, T1: 302400, T2: 483840, Prefixes: []IAPrefix{{Preferred: 604800, Valid: 2592000, Prefix: netip.MustParsePrefix("2001:db8:2::/56")}}}}}
}

func TestDHCPRoundTrip(t *testing.T) {
	m := sampleReply()
	got, err := ParseDHCP(AppendDHCP(nil, m))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, m) {
		t.Fatalf("got %+v\nwant %+v", got, *m)
	}
}

// TestDHCPFixture: a Solicit for prefix delegation with Rapid Commit, as
// RFC 8415 §21.21 and §21.22 lay out the options.
func TestDHCPFixture(t *testing.T) {
	h := strings.ReplaceAll("01 abcdef"+
		" 0001 0006 0003 0001 0a0b"+ // Client Identifier: DUID-LL, hardware type 1 (shortened)
		" 000e 0000"+ // Rapid Commit
		" 0019 0029 00000001 00000000 00000000"+ // IA_PD IAID 1, T1 T2 0
		" 001a 0019 00000000 00000000 38 20010db8000200000000000000000000", " ", "") // IA Prefix hint /56
	b, _ := hex.DecodeString(h)
	m, err := ParseDHCP(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != DHCPSolicit || m.XID != [3]byte{0xab, 0xcd, 0xef} || !m.RapidCommit || len(m.IAPD) != 1 || m.IAPD[0].IAID != 1 ||
		len(m.IAPD[0].Prefixes) != 1 || m.IAPD[0].Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:2::/56") {
		t.Fatalf("%+v", m)
	}
	if got := hex.EncodeToString(AppendDHCP(nil, &m)); got != h {
		t.Fatalf("re-encoded\n %s\nwant %s", got, h)
	}
}

func TestDHCPBad(t *testing.T) {
	good := AppendDHCP(nil, sampleReply())
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrDHCPShort},
		{"three octets", []byte{1, 2, 3}, ErrDHCPShort},
		{"option header cut", append([]byte{1, 0, 0, 0}, 0, 1, 0), ErrDHCPOption},
		{"option beyond", []byte{1, 0, 0, 0, 0, 1, 0, 9, 1}, ErrDHCPOption},
		{"truncated message", good[:len(good)-3], ErrDHCPOption},
		{"DUID of 1 octet", []byte{1, 0, 0, 0, 0, 1, 0, 1, 7}, ErrDUID},
		{"DUID of 131 octets", append([]byte{1, 0, 0, 0, 0, 1, 0, 131}, make([]byte, 131)...), ErrDUID},
		{"IA_PD of 11", append([]byte{1, 0, 0, 0, 0, 25, 0, 11}, make([]byte, 11)...), ErrDHCPOption},
		{"IA Prefix /129", append([]byte{1, 0, 0, 0, 0, 25, 0, 41}, append(make([]byte, 12), append([]byte{0, 26, 0, 25, 0, 0, 0, 0, 0, 0, 0, 0, 129}, make([]byte, 16)...)...)...), ErrDHCPOption},
		{"status code of 1", []byte{1, 0, 0, 0, 0, 13, 0, 1, 0}, ErrDHCPOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseDHCP(tc.b); !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestUDP(t *testing.T) {
	payload := AppendDHCP(nil, sampleReply())
	pkt := AppendUDP(nil, hostLL, AllDHCPServers, DHCPClientPort, DHCPServerPort, payload)
	if !IsDHCPTo(pkt, DHCPServerPort) || IsDHCPTo(pkt, DHCPClientPort) {
		t.Fatal("IsDHCPTo")
	}
	d, err := ParseUDP(pkt)
	if err != nil || d.Src != hostLL || d.Dst != AllDHCPServers || d.SrcPort != DHCPClientPort || string(d.Payload) != string(payload) {
		t.Fatalf("%+v %v", d, err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), pkt...)) }
	for _, tc := range []struct {
		name string
		pkt  []byte
		err  error
	}{
		{"short", pkt[:47], ErrDHCPShort},
		{"payload length beyond", pkt[:len(pkt)-1], ErrDHCPShort},
		{"UDP length beyond", mod(func(b []byte) []byte { b[45] += 40; return b }), ErrDHCPShort},
		{"TCP", mod(func(b []byte) []byte { b[6] = 6; return b }), ErrNotDHCP},
		{"bad checksum", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrUDPChecksum},
		{"no checksum", mod(func(b []byte) []byte { b[46], b[47] = 0, 0; return b }), ErrUDPChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseUDP(tc.pkt); !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func FuzzParseDHCP(f *testing.F) {
	f.Add(AppendDHCP(nil, sampleReply()))
	f.Add([]byte{1, 0, 0, 0, 0, 25, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseDHCP(b)
		if err != nil {
			return
		}
		if len(m.IAPD) > MaxIAPD {
			t.Fatalf("%d IA_PDs", len(m.IAPD))
		}
		for _, ia := range m.IAPD {
			if len(ia.Prefixes) > MaxIAPrefixes {
				t.Fatalf("%d prefixes", len(ia.Prefixes))
			}
		}
		m2, err := ParseDHCP(AppendDHCP(nil, &m))
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, m, m2)
		}
	})
}

func FuzzParseUDP(f *testing.F) {
	f.Add(AppendUDP(nil, hostLL, AllDHCPServers, DHCPClientPort, DHCPServerPort, []byte{1, 2, 3, 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseUDP(b)
		if err != nil {
			return
		}
		again, err := ParseUDP(AppendUDP(nil, d.Src, d.Dst, d.SrcPort, d.DstPort, d.Payload))
		if err != nil || string(again.Payload) != string(d.Payload) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
