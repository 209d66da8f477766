package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/esp"
)

// clearBind is UDP 1701 for the ESPBind tests: it keeps what is written
// to it in clear and serves the datagrams queued in rx.
type clearBind struct {
	espSink
	local netip.AddrPort
	rx    []struct {
		b    []byte
		from netip.AddrPort
	}
}

func (c *clearBind) LocalAddr() netip.AddrPort { return c.local }
func (c *clearBind) ServeBatch(h func([]byte, netip.AddrPort), flush func()) error {
	for _, d := range c.rx {
		h(d.b, d.from)
	}
	return nil
}

var (
	lnsAddr  = netip.MustParseAddr("198.18.0.1")
	natAddr  = netip.MustParseAddr("198.18.9.1")
	natPeer1 = netip.AddrPortFrom(natAddr, 4500)
	natPeer2 = netip.AddrPortFrom(natAddr, 1024)
)

type espBindSide struct {
	plane      *Plane
	b          *ESPBind
	clear      *clearBind
	raw, udp   *espSink
	acquired   []netip.AddrPort
	delivered  [][]byte
	deliveredF []netip.AddrPort
}

func newESPBindSide(t testing.TB) *espBindSide {
	s := &espBindSide{plane: New(Config{}), clear: &clearBind{local: netip.AddrPortFrom(lnsAddr, 1701)}, raw: &espSink{}, udp: &espSink{}}
	t.Cleanup(s.plane.Close)
	s.b = s.plane.NewESPBind(ESPBindConfig{Inner: s.clear, Acquire: func(p netip.AddrPort) { s.acquired = append(s.acquired, p) }})
	return s
}

func (s *espBindSide) deliver(b []byte, from netip.AddrPort) {
	s.delivered = append(s.delivered, bytes.Clone(b))
	s.deliveredF = append(s.deliveredF, from)
}

// transportPair is the SA pair of the LNS with a client behind a NAT
// (UDP-encapsulated, the peer known by its NAT-T address and port) and
// the client's mirror of it (the LNS known by its address and port 1701).
func transportPair(t testing.TB, gcm bool, spi uint32, natPeer netip.AddrPort) (lns, client TransportSAConfig) {
	a, b := espPair(t, gcm)
	a.In.SPI, b.Out.SPI = spi, spi
	a.Out.SPI, b.In.SPI = spi+1, spi+1
	sel := func(a netip.Addr) ESPSelector {
		return ESPSelector{Prefix: netip.PrefixFrom(a, 32), Proto: 17, Port: 1701}
	}
	a.UDP, b.UDP = true, true
	a.Peer, b.Peer = natPeer, netip.AddrPortFrom(lnsAddr, 4500)
	a.Local, a.Remote = sel(lnsAddr), sel(netip.MustParseAddr("198.19.9.2"))
	b.Local, b.Remote = a.Remote, a.Local
	return TransportSAConfig{ESPSAConfig: a, L2TPPeer: natPeer},
		TransportSAConfig{ESPSAConfig: b, L2TPPeer: netip.AddrPortFrom(lnsAddr, 1701)}
}

// install adds c with the side's ESP binds.
func (s *espBindSide) install(t testing.TB, c TransportSAConfig) *TransportSA {
	c.Raw, c.UDPBind = s.raw, s.udp
	x, err := s.b.Install(c)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestESPBindTransport: L2TP/IPsec through the ESPBind: an L2TP datagram
// to a client is sealed as UDP inside ESP to its NAT-T address and port,
// the client's side opens it and hands the datagram to L2TP as from the
// LNS's port 1701; two clients behind one NAT stay apart by their NAT-T
// ports; tampered and replayed ESP and clear text from a protected peer
// are dropped and counted, and a protected peer without an SA is not
// spoken to in clear.
func TestESPBindTransport(t *testing.T) {
	for _, gcm := range []bool{false, true} {
		lns := newESPBindSide(t)
		c1, c2 := newESPBindSide(t), newESPBindSide(t)
		c1.clear.local = netip.MustParseAddrPort("198.19.9.2:1701")
		c2.clear.local = c1.clear.local
		l1, k1 := transportPair(t, gcm, 0x1000, natPeer1)
		l2, k2 := transportPair(t, gcm, 0x2000, natPeer2)
		for _, x := range []struct {
			s *espBindSide
			c TransportSAConfig
		}{{lns, l1}, {lns, l2}, {c1, k1}, {c2, k2}} {
			x.s.install(t, x.c)
		}
		if _, err := lns.b.Install(l1); err == nil {
			t.Fatal("the same SPI installed twice")
		}
		msg := []byte("\xc8\x02\x00\x14\x00\x01\x00\x00\x00\x00\x00\x00 L2TP")
		if err := lns.b.WriteTo(msg, natPeer2); err != nil {
			t.Fatal(err)
		}
		if lns.udp.sent != 1 || lns.udp.to != natPeer2 || lns.clear.sent != 0 {
			t.Fatalf("gcm=%v: sent %d ESP to %v, %d clear", gcm, lns.udp.sent, lns.udp.to, lns.clear.sent)
		}
		wire := lns.udp.last()
		if spi := binary.BigEndian.Uint32(wire); spi != 0x2001 {
			t.Fatalf("SPI %#x, want the client 2 SA's", spi)
		}
		if c1.b.Input(bytes.Clone(wire), c1.deliver) {
			t.Fatal("client 1 took client 2's SPI")
		}
		if !c2.b.Input(bytes.Clone(wire), c2.deliver) || len(c2.delivered) != 1 || !bytes.Equal(c2.delivered[0], msg) ||
			c2.deliveredF[0] != netip.AddrPortFrom(lnsAddr, 1701) {
			t.Fatalf("gcm=%v: client 2 got %q from %v", gcm, c2.delivered, c2.deliveredF)
		}
		// The client answers; the LNS sees it from the client's NAT-T
		// address and port.
		c2.b.WriteTo([]byte("reply"), netip.AddrPortFrom(lnsAddr, 1701))
		if c2.udp.to != netip.AddrPortFrom(lnsAddr, 4500) {
			t.Fatalf("client sent to %v", c2.udp.to)
		}
		lns.b.Input(c2.udp.last(), lns.deliver)
		c1.b.WriteTo([]byte("one"), netip.AddrPortFrom(lnsAddr, 1701))
		lns.b.Input(c1.udp.last(), lns.deliver)
		if len(lns.delivered) != 2 || string(lns.delivered[0]) != "reply" || lns.deliveredF[0] != natPeer2 ||
			string(lns.delivered[1]) != "one" || lns.deliveredF[1] != natPeer1 {
			t.Fatalf("LNS got %q from %v", lns.delivered, lns.deliveredF)
		}
		// Replayed and tampered.
		c2.b.Input(bytes.Clone(wire), c2.deliver)
		lns.b.WriteTo(msg, natPeer2)
		bad := lns.udp.last()
		bad[len(bad)-3] ^= 1
		c2.b.Input(bad, c2.deliver)
		st := c2.b.Lookup(0x2001).Stats()
		if len(c2.delivered) != 1 || st.In.ReplayFailed != 1 || st.In.VerifyFailed != 1 || st.RecvErrors != 2 {
			t.Fatalf("after a replay and a tampered packet: delivered %d, %+v", len(c2.delivered), st)
		}
		// Clear text from a protected peer is dropped; from others
		// served.
		lns.b.SetProtect(func(a netip.Addr) bool { return a == natAddr })
		lns.clear.rx = append(lns.clear.rx[:0], struct {
			b    []byte
			from netip.AddrPort
		}{msg, natPeer1}, struct {
			b    []byte
			from netip.AddrPort
		}{msg, netip.MustParseAddrPort("198.18.7.7:1701")})
		var served []netip.AddrPort
		lns.b.ServeBatch(func(b []byte, from netip.AddrPort) { served = append(served, from) }, nil)
		if len(served) != 1 || served[0].Addr() == natAddr || lns.b.Stats().Cleartext != 1 || lns.plane.Drops()["esp-cleartext"] != 1 {
			t.Fatalf("served %v, stats %+v", served, lns.b.Stats())
		}
		// A protected peer with no SA: nothing in clear, one Acquire a
		// second.
		other := netip.AddrPortFrom(natAddr, 3000)
		lns.b.WriteTo(msg, other)
		lns.b.WriteTo(msg, other)
		if lns.clear.sent != 0 || lns.b.Stats().NoSA != 2 || len(lns.acquired) != 1 || lns.acquired[0] != other {
			t.Fatalf("no SA: clear %d, %+v, acquired %v", lns.clear.sent, lns.b.Stats(), lns.acquired)
		}
		if _, ok := lns.b.acquired.Load(other); !ok {
			t.Fatal("no Acquire record for a peer asked for")
		}
		lo, _ := transportPair(t, gcm, 0x4000, other)
		lns.install(t, lo)
		if _, ok := lns.b.acquired.Load(other); ok {
			t.Fatal("the Acquire record outlived the peer's SA")
		}
		lns.b.Remove(0x4000)
		// Unprotected peers are spoken to in clear.
		lns.b.WriteTo(msg, netip.MustParseAddrPort("198.18.7.7:1701"))
		if lns.clear.sent != 1 {
			t.Fatal("an unprotected peer not sent to in clear")
		}
		// Rekeyed: the newer SA of a peer takes over, the older one's
		// removal leaves it in place; removing the last falls back.
		l1b, k1b := transportPair(t, gcm, 0x3000, natPeer1)
		lns.install(t, l1b)
		c1.install(t, k1b)
		lns.b.WriteTo(msg, natPeer1)
		if spi := binary.BigEndian.Uint32(lns.udp.last()); spi != 0x3001 {
			t.Fatalf("after rekey: SPI %#x", spi)
		}
		lns.b.Remove(0x1000)
		lns.b.WriteTo(msg, natPeer1)
		if spi := binary.BigEndian.Uint32(lns.udp.last()); spi != 0x3001 {
			t.Fatalf("after removing the old SA: SPI %#x", spi)
		}
		if lns.b.Remove(0x3000) == nil || len(lns.b.SAs()) != 1 {
			t.Fatal("remove")
		}
	}
}

// TestESPBindInboundFirst: a transport-mode successor installed inbound
// only (the responder before QM3) opens the client's datagrams but does
// not carry the LNS's until Activate; removing the active SA falls back
// to the newest other active one, never to an inbound-only one.
func TestESPBindInboundFirst(t *testing.T) {
	lns, c := newESPBindSide(t), newESPBindSide(t)
	c.clear.local = netip.MustParseAddrPort("198.19.9.2:1701")
	l1, k1 := transportPair(t, true, 0x1000, natPeer1)
	lns.install(t, l1)
	c.install(t, k1)
	l2, k2 := transportPair(t, true, 0x2000, natPeer1)
	l2.InboundOnly = true
	lns.install(t, l2)
	c.install(t, k2)
	c.b.WriteTo([]byte("hello"), netip.AddrPortFrom(lnsAddr, 1701))
	if spi := binary.BigEndian.Uint32(c.udp.last()); spi != 0x2000 {
		t.Fatalf("client sent on %#x", spi)
	}
	if !lns.b.Input(c.udp.last(), lns.deliver) || len(lns.delivered) != 1 || lns.deliveredF[0] != natPeer1 {
		t.Fatalf("LNS got %q from %v", lns.delivered, lns.deliveredF)
	}
	lns.b.WriteTo([]byte("ack"), natPeer1)
	if spi := binary.BigEndian.Uint32(lns.udp.last()); spi != 0x1001 {
		t.Fatalf("before QM3 the LNS sent on %#x, want the old SA's", spi)
	}
	l3, _ := transportPair(t, true, 0x3000, natPeer1)
	l3.InboundOnly = true
	lns.install(t, l3)
	lns.b.SetProtect(func(a netip.Addr) bool { return a == natAddr })
	lns.b.Remove(0x1000) // the old SA expires before its successor is active
	lns.b.WriteTo([]byte("ack"), natPeer1)
	if lns.b.Stats().NoSA != 1 || lns.clear.sent != 0 {
		t.Fatalf("with only inbound-only SAs left: %+v, %d in clear", lns.b.Stats(), lns.clear.sent)
	}
	if lns.b.Activate(0x2000) == nil || lns.b.Activate(0x7777) != nil {
		t.Fatal("Activate")
	}
	lns.b.WriteTo([]byte("ack"), natPeer1)
	if spi := binary.BigEndian.Uint32(lns.udp.last()); spi != 0x2001 {
		t.Fatalf("after Activate: SPI %#x", spi)
	}
}

// TestESPBindPolicy: what comes out of a transport SA must be UDP to our
// L2TP port from the peer's negotiated port.
func TestESPBindPolicy(t *testing.T) {
	lns, c := newESPBindSide(t), newESPBindSide(t)
	l, k := transportPair(t, false, 0x1000, natPeer1)
	lns.install(t, l)
	sa, err := NewESPSA(k.ESPSAConfig)
	if err != nil {
		t.Fatal(err)
	}
	var out [200]byte
	for _, tc := range []struct {
		name string
		nh   uint8
		seg  []byte
	}{
		{"not UDP", 6, make([]byte, 20)},
		{"short", esp.NextHeaderUDP, []byte{6, 165, 6}},
		{"other port", esp.NextHeaderUDP, []byte{6, 165, 0, 53, 0, 8, 0, 0}},
		{"other source port", esp.NextHeaderUDP, []byte{0, 9, 6, 165, 0, 8, 0, 0}},
		{"bad length", esp.NextHeaderUDP, []byte{6, 165, 6, 165, 0, 99, 0, 0}},
	} {
		before := lns.plane.Drops()["esp-policy"]
		sealed, err := sa.sealer.Seal(out[:0], tc.seg, tc.nh)
		if err != nil {
			t.Fatal(err)
		}
		if !lns.b.Input(sealed, lns.deliver) || len(lns.delivered) != 0 || lns.plane.Drops()["esp-policy"] != before+1 {
			t.Errorf("%s: delivered %d, drops %v", tc.name, len(lns.delivered), lns.plane.Drops())
		}
	}
	_ = c
}

// TestESPBindAllocs: sealing and opening L2TP in transport mode allocate
// nothing per packet.
func TestESPBindAllocs(t *testing.T) {
	lns, c := newESPBindSide(t), newESPBindSide(t)
	c.clear.local = netip.MustParseAddrPort("198.19.9.2:1701")
	l, k := transportPair(t, true, 0x1000, natPeer1)
	lns.install(t, l)
	c.install(t, k)
	msg := make([]byte, 1400)
	var wire [2000]byte
	n := 0
	deliver := func(b []byte, from netip.AddrPort) { n++ }
	allocs := testing.AllocsPerRun(1000, func() {
		lns.b.WriteTo(msg, natPeer1)
		m := copy(wire[:], lns.udp.buf[:lns.udp.n])
		c.b.Input(wire[:m], deliver)
	})
	if allocs != 0 || n < 1000 {
		t.Fatalf("%.1f allocations per packet, %d delivered", allocs, n)
	}
}

func BenchmarkESPBindSeal(b *testing.B) {
	lns := newESPBindSide(b)
	l, _ := transportPair(b, true, 0x1000, natPeer1)
	lns.install(b, l)
	msg := make([]byte, 1400)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		lns.b.WriteTo(msg, natPeer1)
	}
}

// TestESPBindTrain: a train of L2TP datagrams (a cut super-packet) leaves
// as a train of ESP packets of one size through the ESP socket's
// SegmentSender, each opening to its datagram in order; unprotected
// peers' trains go to the clear bind's.
func TestESPBindTrain(t *testing.T) {
	for _, gcm := range []bool{false, true} {
		lns, c := newESPBindSide(t), newESPBindSide(t)
		c.clear.local = netip.MustParseAddrPort("198.19.9.2:1701")
		l, k := transportPair(t, gcm, 0x1000, natPeer1)
		seg := &segSink{}
		l.UDPBind = seg
		if _, err := lns.b.Install(l); err != nil {
			t.Fatal(err)
		}
		c.install(t, k)
		snd := lns.b.NewSegmentSender()
		train := make([]byte, 0, 5000)
		for i := range 4 {
			d := bytes.Repeat([]byte{byte(i + 1)}, 1000)
			if i == 3 {
				d = d[:300]
			}
			train = append(train, d...)
		}
		if err := snd.WriteSegments(train, 1000, natPeer1); err != nil {
			t.Fatal(err)
		}
		if seg.to != natPeer1 || len(seg.trains) != 1 {
			t.Fatalf("gcm=%v: %d trains to %v", gcm, len(seg.trains), seg.to)
		}
		got, stride := seg.trains[0], seg.strides[0]
		for off := 0; off < len(got); off += stride {
			c.b.Input(bytes.Clone(got[off:min(off+stride, len(got))]), c.deliver)
		}
		if len(c.delivered) != 4 || len(c.delivered[3]) != 300 || c.delivered[2][0] != 3 {
			t.Fatalf("gcm=%v: delivered %d datagrams", gcm, len(c.delivered))
		}
		allocs := testing.AllocsPerRun(100, func() { snd.WriteSegments(train, 1000, natPeer1) })
		if allocs != 0 {
			t.Errorf("gcm=%v: %.1f allocations per train", gcm, allocs)
		}
	}
}

// segSink is a Segmenter bind that keeps the trains sent.
type segSink struct {
	espSink
	trains  [][]byte
	strides []int
}

func (s *segSink) NewSegmentSender() transport.SegmentSender { return s }
func (s *segSink) WriteSegments(b []byte, seg int, to netip.AddrPort) error {
	if len(s.trains) < 2 {
		s.trains = append(s.trains, bytes.Clone(b))
		s.strides = append(s.strides, seg)
	}
	s.to = to
	return nil
}

// FuzzESPBindInput: what an authenticated peer seals (any next header, any
// segment) and arbitrary octets claiming one of the bind's SPIs never
// panic Input; a datagram reaches L2TP only when it is UDP to the bind's
// port from the negotiated port, with a length inside the segment, and
// then it is exactly the datagram the UDP header delimits.
func FuzzESPBindInput(f *testing.F) {
	f.Add(uint8(17), []byte{6, 165, 6, 165, 0, 12, 0, 0, 1, 2, 3, 4}, false)
	f.Add(uint8(17), []byte{6, 165, 6, 165, 0, 99, 0, 0}, false)
	f.Add(uint8(6), []byte{6, 165, 6, 165, 0, 8, 0, 0}, false)
	f.Add(uint8(17), []byte{0, 0, 0, 0x11, 0, 0, 0, 1, 9, 9}, true)
	f.Fuzz(func(t *testing.T, nh uint8, seg []byte, raw bool) {
		lns := newESPBindSide(t)
		l, k := transportPair(t, false, 0x1000, natPeer1)
		lns.install(t, l)
		sa, err := NewESPSA(k.ESPSAConfig)
		if err != nil {
			t.Fatal(err)
		}
		var pkt []byte
		if raw {
			pkt = append([]byte{0, 0, 0x10, 0}, seg...)
		} else if pkt, err = sa.sealer.Seal(nil, seg, nh); err != nil {
			return
		}
		lns.b.Input(pkt, lns.deliver)
		if len(lns.delivered) == 0 {
			return
		}
		if raw || nh != 17 || len(seg) < 8 || binary.BigEndian.Uint16(seg[0:2]) != 1701 || binary.BigEndian.Uint16(seg[2:4]) != 1701 {
			t.Fatalf("delivered %x from next header %d segment %x", lns.delivered[0], nh, seg)
		}
		if n := int(binary.BigEndian.Uint16(seg[4:6])); !bytes.Equal(lns.delivered[0], seg[8:n]) || lns.deliveredF[0] != natPeer1 {
			t.Fatalf("delivered %x from %v, want %x", lns.delivered[0], lns.deliveredF[0], seg[8:n])
		}
	})
}
