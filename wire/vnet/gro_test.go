package vnet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func newCoalescer() *Coalescer {
	var c Coalescer
	c.Init(make([]byte, HdrLen+MaxIPLen))
	return &c
}

// segs returns n in-order segments of 1000 payload octets from seq 1000.
func segs(v6 bool, n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, tcpPacket(tcpOpts{v6: v6, seq: 1000 + uint32(i)*1000, ack: 77, flags: flagACK, options: tsOpt, payload: payload(1000, byte(i)), id: uint16(i)}))
	}
	return out
}

func TestCoalesceInOrder(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		c := newCoalescer()
		in := segs(v6, 5)
		// A shorter last segment with PSH ends the super-packet.
		last := tcpPacket(tcpOpts{v6: v6, seq: 6000, ack: 77, flags: flagACK | flagPSH, options: tsOpt, payload: payload(300, 5), id: 5})
		in = append(in, last)
		if !c.Start(in[0]) {
			t.Fatal("Start refused a candidate")
		}
		for i, p := range in[1:] {
			if !c.Add(p) {
				t.Fatalf("v6=%v: segment %d not merged", v6, i+1)
			}
		}
		if c.Add(segs(v6, 7)[6]) {
			t.Fatal("merged after PSH")
		}
		out := c.Finish()
		h, err := Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		pkt := out[HdrLen:]
		iphl := 20
		want := Hdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: 52, GSOSize: 1000, CsumStart: 20, CsumOffset: 16}
		if v6 {
			iphl, want.GSOType, want.HdrLen, want.CsumStart = 40, GSOTCPv6, 72, 40
		}
		if h != want {
			t.Fatalf("header %+v, want %+v", h, want)
		}
		if len(pkt) != iphl+32+5300 {
			t.Fatalf("length %d", len(pkt))
		}
		if v6 && int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-40 ||
			!v6 && (int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) || naiveSum(pkt[:20]) != 0xffff) {
			t.Fatal("IP length or header checksum")
		}
		if pkt[iphl+13] != flagACK|flagPSH {
			t.Fatalf("flags %#x", pkt[iphl+13])
		}
		// Segmenting it again gives back the segments, checksums and all
		// (the IPv4 IDs are the first one's plus the index, as sent).
		p, err := PlanTCP(h, pkt, 0)
		if err != nil || p.N != 6 {
			t.Fatalf("replan: %+v %v", p, err)
		}
		for i := range p.N {
			seg := make([]byte, p.SegLen(i))
			p.Segment(seg, pkt, i)
			if !bytes.Equal(seg, in[i]) {
				t.Fatalf("v6=%v: segment %d comes back as\n%x, want\n%x", v6, i, seg, in[i])
			}
		}
		// The TCP checksum field holds the pseudo-header sum: completing
		// it gives the checksum of the merged packet.
		if err := CompleteChecksum(pkt, iphl, 16); err != nil || !naiveTCPValid(pkt) {
			t.Fatalf("completed checksum invalid: %v", err)
		}
	}
}

func TestCoalesceRefuses(t *testing.T) {
	base := tcpOpts{seq: 1000, ack: 77, flags: flagACK, options: tsOpt, payload: payload(1000, 0)}
	next := func(f func(*tcpOpts)) []byte {
		o := base
		o.seq, o.payload = 2000, payload(1000, 1)
		f(&o)
		return tcpPacket(o)
	}
	first := tcpPacket(base)
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"gap", next(func(o *tcpOpts) { o.seq = 2001 })},
		{"retransmission", next(func(o *tcpOpts) { o.seq = 1000 })},
		{"out of order (before)", next(func(o *tcpOpts) { o.seq = 0 })},
		{"other source", next(func(o *tcpOpts) { o.src = 9 })},
		{"other port", next(func(o *tcpOpts) { o.sport = 1 })},
		{"other ack", next(func(o *tcpOpts) { o.ack = 78 })},
		{"other window", next(func(o *tcpOpts) { o.win = 1 })},
		{"other ttl", next(func(o *tcpOpts) { o.ttl = 3 })},
		{"other options", next(func(o *tcpOpts) { o.options = []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2} })},
		{"no options", next(func(o *tcpOpts) { o.options = nil })},
		{"larger", next(func(o *tcpOpts) { o.payload = payload(1001, 1) })},
		{"fin", next(func(o *tcpOpts) { o.flags |= flagFIN })},
		{"syn", next(func(o *tcpOpts) { o.flags = flagSYN | flagACK })},
		{"rst", next(func(o *tcpOpts) { o.flags = flagRST | flagACK })},
		{"cwr", next(func(o *tcpOpts) { o.flags |= flagCWR })},
		{"pure ack", next(func(o *tcpOpts) { o.payload = nil })},
		{"ipv6", next(func(o *tcpOpts) { o.v6 = true })},
		{"bad checksum", func() []byte { p := next(func(*tcpOpts) {}); p[60] ^= 1; return p }()},
		{"fragment", func() []byte { p := next(func(*tcpOpts) {}); p[6] = 0x20; return p }()},
		{"length mismatch", func() []byte { p := next(func(*tcpOpts) {}); return append(p, 0) }()},
		{"not tcp", func() []byte { p := next(func(*tcpOpts) {}); p[9] = 17; return p }()},
		{"short", first[:30]},
	}
	for _, tc := range tests {
		c := newCoalescer()
		if !c.Start(first) {
			t.Fatal("Start")
		}
		if c.Add(tc.pkt) {
			t.Errorf("%s: merged", tc.name)
		}
		if c.Segments() != 1 || !bytes.Equal(c.Finish()[HdrLen:], first) || !bytes.Equal(c.Finish()[:HdrLen], make([]byte, HdrLen)) {
			t.Errorf("%s: single segment changed", tc.name)
		}
	}
	// A first segment with a bad checksum is never merged into.
	bad := append([]byte(nil), first...)
	bad[60] ^= 1
	c := newCoalescer()
	if !c.Start(bad) || c.Add(next(func(*tcpOpts) {})) {
		t.Error("merged into a segment with a bad checksum")
	}
	// Nothing follows a short segment.
	c.Start(first)
	if !c.Add(next(func(o *tcpOpts) { o.payload = payload(10, 1) })) {
		t.Fatal("short segment not merged")
	}
	if c.Add(tcpPacket(tcpOpts{seq: 2010, ack: 77, flags: flagACK, options: tsOpt, payload: payload(10, 1)})) {
		t.Error("merged after a short segment")
	}
	// Non-candidates do not start.
	for _, p := range [][]byte{next(func(o *tcpOpts) { o.flags = flagSYN }), next(func(o *tcpOpts) { o.payload = nil }), nil, {0x45}} {
		if c.Start(p) || !c.Empty() || IsCandidate(p) {
			t.Errorf("Start(%x) accepted", p)
		}
	}
	var empty Coalescer
	empty.Init(make([]byte, HdrLen+MaxIPLen))
	if empty.Add(first) {
		t.Error("Add on an empty coalescer")
	}
}

func TestCoalesceSizeLimit(t *testing.T) {
	c := newCoalescer()
	n := 0
	for i, p := range segs(false, 80) {
		if i == 0 {
			c.Start(p)
			continue
		}
		if !c.Add(p) {
			break
		}
		n = i + 1
	}
	if out := c.Finish(); len(out)-HdrLen > MaxIPLen || n != 65 {
		t.Fatalf("%d segments, %d octets", n, len(out)-HdrLen)
	}
}

func TestSameFlow(t *testing.T) {
	a := tcpPacket(tcpOpts{seq: 1, flags: flagACK, payload: payload(10, 0)})
	b := tcpPacket(tcpOpts{seq: 99, flags: flagSYN})
	if !SameFlow(a, b) {
		t.Error("same flow not recognised")
	}
	for _, o := range []tcpOpts{{sport: 1}, {src: 1}, {v6: true}} {
		if SameFlow(a, tcpPacket(o)) {
			t.Errorf("%+v: recognised as the same flow", o)
		}
	}
	a6, b6 := tcpPacket(tcpOpts{v6: true, seq: 1}), tcpPacket(tcpOpts{v6: true, seq: 5, flags: flagFIN})
	if !SameFlow(a6, b6) || SameFlow(a6, tcpPacket(tcpOpts{v6: true, sport: 3})) {
		t.Error("IPv6 flows")
	}
	if SameFlow(nil, a) || SameFlow(a[:10], a) {
		t.Error("short packets")
	}
}
