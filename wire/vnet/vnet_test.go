package vnet

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/vpdn/vpdn/internal/csum"
)

// naiveSum is RFC 1071 §4.1 as written: 16-bit words, carries folded at
// the end. It is the independent check of Sum and Fold.
func naiveSum(b []byte) uint16 {
	var s uint32
	for len(b) > 1 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// naiveTCPValid verifies a TCP checksum from scratch.
func naiveTCPValid(pkt []byte) bool {
	var ph, tcp []byte
	if pkt[0]>>4 == 4 { // RFC 9293 §3.1
		tcp = pkt[int(pkt[0]&0xf)*4:]
		ph = append(append(ph, pkt[12:20]...), 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	} else { // RFC 8200 §8.1
		tcp = pkt[40:]
		ph = append(append(ph, pkt[8:40]...), 0, 0, byte(len(tcp)>>8), byte(len(tcp)), 0, 0, 0, 6)
	}
	return naiveSum(append(ph, tcp...)) == 0xffff
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

func TestHdrCodec(t *testing.T) {
	tests := []struct {
		hex string
		h   Hdr
	}{
		{"00000000000000000000", Hdr{}},
		// A TSO4 super-packet as the kernel hands it out: NEEDS_CSUM,
		// TCPV4, hdr_len 52 (0x34), gso_size 1448 (0x5a8), csum at 20+16.
		{"010134 00a8 05 1400 1000", Hdr{Flags: 1, GSOType: GSOTCPv4, HdrLen: 52, GSOSize: 1448, CsumStart: 20, CsumOffset: 16}},
		{"01043c00a0052800 1000", Hdr{Flags: 1, GSOType: GSOTCPv6, HdrLen: 60, GSOSize: 1440, CsumStart: 40, CsumOffset: 16}},
		{"0284ffffffffffffffff", Hdr{Flags: FlagDataValid, GSOType: GSOTCPv6 | GSOECN, HdrLen: 0xffff, GSOSize: 0xffff, CsumStart: 0xffff, CsumOffset: 0xffff}},
	}
	for _, tc := range tests {
		b, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(tc.hex), []byte(" "), nil)))
		if err != nil {
			t.Fatal(err)
		}
		if littleEndian() {
			h, err := Decode(b)
			if err != nil || h != tc.h {
				t.Errorf("Decode(%s) = %+v, %v; want %+v", tc.hex, h, err, tc.h)
			}
		}
		got := tc.h.Append(nil)
		back, err := Decode(got)
		if err != nil || back != tc.h || len(got) != HdrLen {
			t.Errorf("round trip of %+v: %x -> %+v, %v", tc.h, got, back, err)
		}
		if littleEndian() && !bytes.Equal(got, b) {
			t.Errorf("Append(%+v) = %x, want %x", tc.h, got, b)
		}
	}
	for n := range HdrLen {
		if _, err := Decode(make([]byte, n)); !errors.Is(err, ErrShort) {
			t.Errorf("Decode of %d octets: %v", n, err)
		}
	}
	if !(Hdr{GSOType: GSOTCPv4}).IsGSO() || (Hdr{Flags: FlagNeedsCsum}).IsGSO() {
		t.Error("IsGSO")
	}
}

type tcpOpts struct {
	v6         bool
	src, dst   byte
	sport      uint16
	seq, ack   uint32
	flags      byte
	win        uint16
	options    []byte
	payload    []byte
	id         uint16
	ttl        byte
	noChecksum bool
}

// tcpPacket builds an IPv4 or IPv6 TCP segment with valid checksums.
func tcpPacket(o tcpOpts) []byte {
	thl := 20 + len(o.options)
	var p []byte
	if o.v6 {
		p = make([]byte, 40, 40+thl+len(o.payload))
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(thl+len(o.payload)))
		p[6], p[7] = 6, 64
		p[8], p[9], p[23] = 0x20, 0x01, o.src
		p[24], p[25], p[39] = 0x20, 0x01, o.dst
	} else {
		p = make([]byte, 20, 20+thl+len(o.payload))
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(20+thl+len(o.payload)))
		binary.BigEndian.PutUint16(p[4:], o.id)
		p[6] = 0x40 // DF
		p[8], p[9] = 64, 6
		if o.ttl != 0 {
			p[8] = o.ttl
		}
		copy(p[12:], []byte{198, 19, 0, o.src, 198, 19, 1, o.dst})
		binary.BigEndian.PutUint16(p[10:], ^naiveSum(p[:20]))
	}
	tcp := make([]byte, thl)
	sport := o.sport
	if sport == 0 {
		sport = 40000
	}
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], o.seq)
	binary.BigEndian.PutUint32(tcp[8:], o.ack)
	tcp[12] = byte(thl/4) << 4
	tcp[13] = o.flags
	win := o.win
	if win == 0 {
		win = 502
	}
	binary.BigEndian.PutUint16(tcp[14:], win)
	copy(tcp[20:], o.options)
	p = append(append(p, tcp...), o.payload...)
	if !o.noChecksum {
		iphl := 20
		if o.v6 {
			iphl = 40
		}
		binary.BigEndian.PutUint16(p[iphl+16:], 0)
		var ps uint64
		if o.v6 {
			ps = csum.PseudoSum(6, p[8:24], p[24:40], len(p)-40)
		} else {
			ps = csum.PseudoSum(6, p[12:16], p[16:20], len(p)-20)
		}
		binary.BigEndian.PutUint16(p[iphl+16:], ^csum.Fold(csum.Sum(p[iphl:], ps)))
	}
	return p
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

var tsOpt = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // NOP NOP timestamps

// superPacket is what a TSO TUN read returns: the TCP checksum field holds
// the pseudo-header sum (without length), as with CHECKSUM_PARTIAL.
func superPacket(v6 bool, pay []byte, flags byte) (Hdr, []byte) {
	pkt := tcpPacket(tcpOpts{v6: v6, seq: 1000, ack: 77, flags: flags, options: tsOpt, payload: pay, id: 0xfffe, noChecksum: true})
	h := Hdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: 52, GSOSize: 1000, CsumStart: 20, CsumOffset: 16}
	if v6 {
		h.GSOType, h.HdrLen, h.CsumStart = GSOTCPv6, 72, 40
	}
	// Not the real partial sum: segmentation must not depend on it.
	binary.BigEndian.PutUint16(pkt[h.CsumStart+16:], 0xbeef)
	return h, pkt
}

func TestSegmentKnownAnswer(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		pay := payload(2500, 3)
		h, pkt := superPacket(v6, pay, flagACK|flagPSH|flagFIN|flagCWR)
		orig := append([]byte(nil), pkt...)
		p, err := PlanTCP(h, pkt, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.N != 3 || p.SegSize != 1000 || p.HdrLen != int(h.CsumStart)+32 {
			t.Fatalf("plan %+v", p)
		}
		wantFlags := []byte{flagACK | flagCWR, flagACK, flagACK | flagPSH | flagFIN}
		var got []byte
		for i := range p.N {
			dst := make([]byte, p.SegLen(i)+5)
			n := p.Segment(dst, pkt, i)
			seg := dst[:n]
			if want := []int{1052, 1052, 552}[i] + int(h.CsumStart) - 20; n != want {
				t.Fatalf("v6=%v segment %d: %d octets, want %d", v6, i, n, want)
			}
			iphl := int(h.CsumStart)
			if v6 {
				if int(binary.BigEndian.Uint16(seg[4:])) != n-40 {
					t.Errorf("segment %d: payload length %d", i, binary.BigEndian.Uint16(seg[4:]))
				}
			} else {
				if int(binary.BigEndian.Uint16(seg[2:])) != n {
					t.Errorf("segment %d: total length %d", i, binary.BigEndian.Uint16(seg[2:]))
				}
				if id := binary.BigEndian.Uint16(seg[4:]); id != 0xfffe+uint16(i) {
					t.Errorf("segment %d: ID %#x", i, id)
				}
				if naiveSum(seg[:20]) != 0xffff {
					t.Errorf("segment %d: bad IPv4 header checksum", i)
				}
			}
			if s := binary.BigEndian.Uint32(seg[iphl+4:]); s != 1000+uint32(i)*1000 {
				t.Errorf("segment %d: seq %d", i, s)
			}
			if f := seg[iphl+13]; f != wantFlags[i] {
				t.Errorf("segment %d: flags %#x, want %#x", i, f, wantFlags[i])
			}
			if !bytes.Equal(seg[iphl+20:iphl+32], tsOpt) {
				t.Errorf("segment %d: options %x", i, seg[iphl+20:iphl+32])
			}
			if !naiveTCPValid(seg) {
				t.Errorf("v6=%v segment %d: bad TCP checksum", v6, i)
			}
			got = append(got, seg[p.HdrLen:]...)
		}
		if !bytes.Equal(got, pay) {
			t.Fatal("segments do not add up to the payload")
		}
		if !bytes.Equal(pkt, orig) {
			t.Fatal("Segment changed the super-packet")
		}
		// An MTU below headers+gso_size makes smaller segments.
		p, err = PlanTCP(h, pkt, p.HdrLen+700)
		if err != nil || p.SegSize != 700 || p.N != 4 || p.SegLen(3) != p.HdrLen+400 {
			t.Fatalf("plan with maxLen: %+v %v", p, err)
		}
	}
}

func TestPlanTCPBad(t *testing.T) {
	h4, p4 := superPacket(false, payload(3000, 1), flagACK)
	h6, p6 := superPacket(true, payload(3000, 1), flagACK)
	mod := func(b []byte, f func([]byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	tests := []struct {
		name   string
		h      Hdr
		pkt    []byte
		maxLen int
		err    error
	}{
		{"udp gso", Hdr{GSOType: GSOUDPL4, GSOSize: 1000, CsumStart: 20, CsumOffset: 6}, p4, 0, ErrGSOType},
		{"none", Hdr{}, p4, 0, ErrGSOType},
		{"v4 type on v6", h4, p6, 0, ErrIPHeader},
		{"v6 type on v4", h6, p4, 0, ErrIPHeader},
		{"short", h4, p4[:19], 0, ErrIPHeader},
		{"empty", h4, nil, 0, ErrIPHeader},
		{"ip options", h4, mod(p4, func(b []byte) { b[0] = 0x46 }), 0, ErrIPHeader},
		{"udp", h4, mod(p4, func(b []byte) { b[9] = 17 }), 0, ErrIPHeader},
		{"csum start", Hdr{GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: 24, CsumOffset: 16}, p4, 0, ErrIPHeader},
		{"v6 ext header", h6, mod(p6, func(b []byte) { b[6] = 0 }), 0, ErrIPHeader},
		{"gso size 0", Hdr{GSOType: GSOTCPv4, CsumStart: 20, CsumOffset: 16}, p4, 0, ErrGSOSize},
		{"csum offset", Hdr{GSOType: GSOTCPv4, GSOSize: 1000, CsumStart: 20, CsumOffset: 6}, p4, 0, ErrTCPHeader},
		{"no tcp header", h4, p4[:30], 0, ErrTCPHeader},
		{"data offset 4", h4, mod(p4, func(b []byte) { b[32] = 0x40 }), 0, ErrTCPHeader},
		{"data offset past end", h4, mod(p4[:50], func(b []byte) { b[32] = 0xf0 }), 0, ErrTCPHeader},
		{"syn", h4, mod(p4, func(b []byte) { b[33] |= flagSYN }), 0, ErrGSOFlags},
		{"rst", h4, mod(p4, func(b []byte) { b[33] |= flagRST }), 0, ErrGSOFlags},
		{"no payload", h4, p4[:52], 0, ErrNoPayload},
		{"mtu below headers", h4, p4, 52, ErrSegmentLen},
	}
	for _, tc := range tests {
		if _, err := PlanTCP(tc.h, tc.pkt, tc.maxLen); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		want := tcpPacket(tcpOpts{v6: v6, seq: 5, flags: flagACK | flagPSH, payload: payload(333, 9)})
		pkt := append([]byte(nil), want...)
		iphl := 20
		ps := csum.PseudoSum(6, pkt[12:16], pkt[16:20], len(pkt)-20)
		if v6 {
			iphl = 40
			ps = csum.PseudoSum(6, pkt[8:24], pkt[24:40], len(pkt)-40)
		}
		// CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum.
		binary.BigEndian.PutUint16(pkt[iphl+16:], csum.Fold(ps))
		if err := CompleteChecksum(pkt, iphl, 16); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pkt, want) || !naiveTCPValid(pkt) {
			t.Fatalf("v6=%v: completed %x, want %x", v6, pkt[iphl+16:iphl+18], want[iphl+16:iphl+18])
		}
	}
	for _, tc := range []struct{ n, start, off int }{{10, 9, 0}, {10, 0, 9}, {10, -1, 2}, {10, 2, -1}, {0, 0, 0}} {
		if err := CompleteChecksum(make([]byte, tc.n), tc.start, tc.off); !errors.Is(err, ErrCsumRange) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}
