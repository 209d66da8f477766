package link6

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var (
	routerLL = netip.MustParseAddr("fe80::1111:2222:3333:4444")
	hostLL   = netip.MustParseAddr("fe80::aaaa:bbbb:cccc:dddd")
)

func sampleRA() *RA {
	return &RA{CurHopLimit: 64, RouterLifetime: 1800, MTU: 1460, Prefixes: []PrefixInfo{
		{Prefix: netip.MustParsePrefix("2001:db8:1:2::/64"), OnLink: true, Autonomous: true, Valid: 2592000, Preferred: 604800},
	}}
}

func TestRARoundTrip(t *testing.T) {
	pkt := AppendRA(nil, routerLL, AllNodes, sampleRA())
	m, err := Parse(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeRouterAdvertisement || m.Src != routerLL || m.Dst != AllNodes {
		t.Fatalf("got %+v", m)
	}
	if !reflect.DeepEqual(&m.RA, sampleRA()) {
		t.Fatalf("RA %+v, want %+v", m.RA, *sampleRA())
	}
}

// TestRAFixture checks the encoder against an advertisement written out
// by hand from RFC 4861 §4.2 and §4.6.
func TestRAFixture(t *testing.T) {
	want := strings.Join([]string{
		"60000000 0038 3a ff", // version, payload 56, ICMPv6, hop limit 255
		"fe800000000000001111222233334444",
		"ff020000000000000000000000000001",
		"86 00 ????",                             // type 134, code 0, checksum
		"40 00 0708 00000000 00000000",           // hop limit 64, no M/O, lifetime 1800
		"05 01 0000 000005b4",                    // MTU 1460
		"03 04 40 c0 00278d00 00093a80 00000000", // /64, L|A, 30 d, 7 d
		"20010db8000100020000000000000000",
	}, "")
	want = strings.ReplaceAll(want, " ", "")
	got := hex.EncodeToString(AppendRA(nil, routerLL, AllNodes, sampleRA()))
	if len(got) != len(want) {
		t.Fatalf("length %d, want %d\n%s", len(got)/2, len(want)/2, got)
	}
	for i := range want {
		if want[i] != '?' && want[i] != got[i] {
			t.Fatalf("differs at octet %d:\n got %s\nwant %s", i/2, got, want)
		}
	}
}

func TestRSRoundTrip(t *testing.T) {
	m, err := Parse(AppendRS(nil, hostLL))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeRouterSolicitation || m.Src != hostLL || m.Dst != AllRouters {
		t.Fatalf("got %+v", m)
	}
	if !IsND(AppendRS(nil, hostLL)) {
		t.Fatal("IsND false for an RS")
	}
}

func TestParseBad(t *testing.T) {
	rs := AppendRS(nil, hostLL)
	ra := AppendRA(nil, routerLL, AllNodes, sampleRA())
	mod := func(b []byte, f func(b []byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	// resum recomputes the checksum after a change that is not the one
	// under test.
	resum := func(b []byte) []byte {
		b[42], b[43] = 0, 0
		return finish(b, 0)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		err  error
	}{
		{"empty", nil, ErrShort},
		{"header only", rs[:40], ErrShort},
		{"truncated RS", rs[:46], ErrShort},
		{"payload length beyond packet", ra[:len(ra)-8], ErrShort},
		{"RA shorter than 16", mod(ra, func(b []byte) []byte { b[5] = 12; return resum(b[:52]) }), ErrShort},
		{"IPv4", mod(rs, func(b []byte) []byte { b[0] = 0x45; return b }), ErrNotND},
		{"UDP", mod(rs, func(b []byte) []byte { b[6] = 17; return b }), ErrNotND},
		{"echo request", mod(rs, func(b []byte) []byte { b[40] = 128; return resum(b) }), ErrNotND},
		{"hop limit 64", mod(ra, func(b []byte) []byte { b[7] = 64; return b }), ErrHopLimit},
		{"hop limit 254 RS", mod(rs, func(b []byte) []byte { b[7] = 254; return b }), ErrHopLimit},
		{"wrong checksum", mod(ra, func(b []byte) []byte { b[43] ^= 1; return b }), ErrChecksum},
		{"changed prefix", mod(ra, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum},
		{"code 1", mod(rs, func(b []byte) []byte { b[41] = 1; return resum(b) }), ErrCode},
		{"option length 0", mod(ra, func(b []byte) []byte { b[57] = 0; return resum(b) }), ErrOption},
		{"option beyond message", mod(ra, func(b []byte) []byte { b[57] = 9; return resum(b) }), ErrOption},
		{"RA from global source", mod(ra, func(b []byte) []byte { b[8] = 0x20; return resum(b) }), ErrSource},
		{"RS from :: with SLLA", func() []byte {
			b := append(AppendRS(nil, netip.IPv6Unspecified()), OptSourceLinkLayer, 1, 1, 2, 3, 4, 5, 6)
			b[5] = 16
			return resum(b)
		}(), ErrUnspecSLL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.pkt); !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
}

func TestPrefixBounds(t *testing.T) {
	ra := &RA{}
	for i := range MaxPrefixes + 3 {
		ra.Prefixes = append(ra.Prefixes, PrefixInfo{Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i)}), 64)})
	}
	m, err := Parse(AppendRA(nil, routerLL, AllNodes, ra))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.RA.Prefixes) != MaxPrefixes || m.RA.MorePrefixes != 3 {
		t.Fatalf("kept %d, more %d", len(m.RA.Prefixes), m.RA.MorePrefixes)
	}
}

func TestSLAAC(t *testing.T) {
	id := [8]byte{0x02, 0, 0, 0, 0, 0, 0, 0x42}
	a, ok := SLAAC(netip.MustParsePrefix("2001:db8:7::/64"), id)
	if !ok || a != netip.MustParseAddr("2001:db8:7:0:200::42") {
		t.Fatalf("SLAAC %v %v", a, ok)
	}
	if _, ok := SLAAC(netip.MustParsePrefix("2001:db8::/48"), id); ok {
		t.Fatal("SLAAC from a /48")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(AppendRS(nil, hostLL))
	f.Add(AppendRA(nil, routerLL, AllNodes, sampleRA()))
	f.Add([]byte{0x60, 0, 0, 8, 0, 8, 58, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if len(m.RA.Prefixes) > MaxPrefixes {
			t.Fatalf("%d prefixes kept", len(m.RA.Prefixes))
		}
		if !IsND(b) {
			t.Fatal("parsed but IsND false")
		}
		if m.Type != TypeRouterAdvertisement {
			return
		}
		// What we parsed encodes to an advertisement that parses the same.
		m2, err := Parse(AppendRA(nil, m.Src, m.Dst, &m.RA))
		if err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		m.RA.MorePrefixes = 0
		if !reflect.DeepEqual(m.RA, m2.RA) {
			t.Fatalf("round trip %+v != %+v", m.RA, m2.RA)
		}
	})
}
