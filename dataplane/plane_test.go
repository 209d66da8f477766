package dataplane

import (
	"bytes"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/ppp"
)

// pair returns two planes joined by test binds, one L2TPv2 session between
// them, each attached to a fake device of its own.
func pair(t *testing.T, seq bool) (a, b *Plane, sa, sb *Session, da, db *netif.Fake) {
	wa, wb := newTestBind(addrA, false), newTestBind(addrB, false)
	a, b = New(Config{}), New(Config{})
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	wa.peer = b.NewPort(wb, L2TPv2Decoder{}, nil)
	wb.peer = a.NewPort(wa, L2TPv2Decoder{}, nil)
	da, db = netif.NewFake("Vi1", 16), netif.NewFake("Vp1", 16)
	sa = l2tpSession([2]uint16{100, 200}, [2]uint16{300, 400}, addrB, wa, seq)
	sb = l2tpSession([2]uint16{300, 400}, [2]uint16{100, 200}, addrA, wb, seq)
	mustAdd(t, a, sa)
	mustAdd(t, b, sb)
	if err := a.Add(sa); err == nil {
		t.Fatal("duplicate session installed")
	}
	mustAttach(t, a, sa, Attachment{Device: da, Framing: pppFraming})
	mustAttach(t, b, sb, Attachment{Device: db, Framing: pppFraming})
	return
}

func TestBackToBack(t *testing.T) {
	for _, seq := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			_, _, sa, sb, da, db := pair(t, seq)
			for i := range 10 {
				p := ipv4Packet("198.19.0.1", "198.19.1.10", 100+i)
				da.Inject(p)
				synctest.Wait()
				if got := <-db.Outbound; !bytes.Equal(got, p) {
					t.Fatalf("seq=%v: packet %d arrived as %x", seq, i, got)
				}
				q := ipv4Packet("198.19.1.10", "198.19.0.1", 50)
				db.Inject(q)
				synctest.Wait()
				if got := <-da.Outbound; !bytes.Equal(got, q) {
					t.Fatalf("reverse packet %d arrived as %x", i, got)
				}
			}
			for _, s := range []*Session{sa, sb} {
				if c := s.Counters(); c.TxPkts != 10 || c.RxPkts != 10 {
					t.Fatalf("counters %+v", c)
				}
			}
		})
	}
}

// TestControlFramesAndDrops: control messages go to the control plane,
// PPP control frames to OnFrame, WriteFrame encapsulates; bad packets are
// dropped and counted by reason.
func TestControlFramesAndDrops(t *testing.T) {
	var ctrl [][]byte
	w := newTestBind(addrA, true)
	p := New(Config{})
	defer p.Close()
	pt := p.NewPort(w, L2TPv2Decoder{}, func(b []byte, from netip.AddrPort) { ctrl = append(ctrl, append([]byte(nil), b...)) })
	var frames []ppp.Protocol
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, w, false)
	s.OnFrame = func(frame []byte) {
		pr, _, _ := ppp.ParseFrame(frame)
		frames = append(frames, pr)
	}
	mustAdd(t, p, s)

	zlb := l2tp.AppendZLB(nil, 1, 0, 0)
	pt.HandlePacket(zlb, addrB)
	if len(ctrl) != 1 || !bytes.Equal(ctrl[0], zlb) {
		t.Fatalf("control: %x", ctrl)
	}
	lcp := l2tpMsg(1, 2, false, 0, []byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 4})
	pt.HandlePacket(lcp, addrB)
	if len(frames) != 1 || frames[0] != ppp.ProtoLCP {
		t.Fatalf("frames %v", frames)
	}
	if err := s.WriteFrame([]byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 4}); err != nil {
		t.Fatal(err)
	}
	got := w.sent[0]
	h, err := l2tp.ParseHeader(got)
	if err != nil || h.TunnelID != 3 || h.SessionID != 4 || h.IsControl() {
		t.Fatalf("sent header %+v %v", h, err)
	}
	if pr, info, _ := ppp.ParseFrame(h.Payload(got)); pr != ppp.ProtoLCP || !bytes.Equal(info, []byte{9, 1, 0, 4}) {
		t.Fatalf("sent frame %x", h.Payload(got))
	}

	cases := []struct {
		pkt    []byte
		from   netip.AddrPort
		reason DropReason
	}{
		{[]byte{0}, addrB, DropShort},
		{[]byte{0x40, 0x02, 0x00, 0xff, 0, 1, 0, 2}, addrB, DropBadHeader},
		{l2tpMsg(1, 2, false, 0, []byte{0xff, 0x03}), addrB, DropBadPPP},
		{l2tpMsg(1, 2, false, 0, ipFrame(ipv4Packet("198.19.1.2", "198.19.0.1", 1))), addrB, DropNotAttached},
		{l2tpMsg(1, 9, false, 0, ipFrame(ipv4Packet("198.19.1.2", "198.19.0.1", 1))), addrB, DropUnknownSession},
		{lcp, addrC, DropWrongPeer},
	}
	for _, c := range cases {
		before := p.drops[c.reason].Load()
		pt.HandlePacket(c.pkt, c.from)
		if p.drops[c.reason].Load() != before+1 {
			t.Errorf("%x from %v: not dropped as %s; drops %v", c.pkt, c.from, c.reason, p.Drops())
		}
	}
	if len(frames) != 1 {
		t.Fatal("a frame from a stranger reached the session")
	}
	p.Remove(s)
	pt.HandlePacket(lcp, addrB)
	if len(frames) != 1 || p.Len() != 0 {
		t.Fatal("a removed session still receives")
	}
}

// TestWrongPeer is defect 1 of issue 9: a data message that carries a live
// session's IDs is accepted only from the session's peer; from anywhere
// else it does not reach the session's interface.
func TestWrongPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, _, sb, _, db := pair(t, false)
		pt := b.NewPort(sb.Bind, L2TPv2Decoder{}, nil)
		msg := l2tpMsg(300, 400, false, 0, ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 20)))
		for _, from := range []netip.AddrPort{addrC, netip.AddrPortFrom(addrA.Addr(), 1702)} {
			pt.HandlePacket(msg, from)
		}
		synctest.Wait()
		if len(db.Outbound) != 0 || b.Drops()["wrong-peer"] != 2 || sb.Counters().RxPkts != 0 {
			t.Fatalf("delivered %d, drops %v", len(db.Outbound), b.Drops())
		}
		pt.HandlePacket(msg, addrA)
		if len(db.Outbound) != 1 {
			t.Fatal("the peer's packet was not delivered")
		}
	})
}

// TestSpoofedSource is defect 2 of issue 9: a session may send IP only
// from the sources it owns — its negotiated address, its framed routes —
// not from another session's address, nor the server's own.
func TestSpoofedSource(t *testing.T) {
	w := newTestBind(addrA, false)
	p := New(Config{})
	defer p.Close()
	pt := p.NewPort(w, L2TPv2Decoder{}, nil)
	s1 := l2tpSession([2]uint16{1, 1}, [2]uint16{9, 1}, addrB, w, false)
	mustAdd(t, p, s1)
	p.Attach(s1, Attachment{Device: nil, Framing: pppFraming, PeerAddrs: []netip.Addr{netip.MustParseAddr("198.19.1.1")},
		Sources: NewSources([]netip.Addr{netip.MustParseAddr("198.19.1.1")}, []netip.Prefix{netip.MustParsePrefix("198.19.64.0/24")})})
	shared := netif.NewFake("vpdn0", 16)
	if err := p.SetShared(shared); err != nil {
		t.Fatal(err)
	}
	defer p.ClearShared()

	for _, c := range []struct {
		src  string
		pass bool
	}{
		{"198.19.1.1", true},   // its own address
		{"198.19.64.9", true},  // a framed route
		{"198.19.1.2", false},  // another session's address
		{"198.19.0.1", false},  // the LNS's own
		{"198.19.65.1", false}, // outside its routes
		{"0.0.0.0", false},
	} {
		before := len(shared.Outbound)
		pt.HandlePacket(l2tpMsg(1, 1, false, 0, ipFrame(ipv4Packet(c.src, "198.19.0.1", 8))), addrB)
		if got := len(shared.Outbound) > before; got != c.pass {
			t.Errorf("source %s: delivered %v, want %v", c.src, got, c.pass)
		}
	}
	if d := p.Drops()["spoofed-source"]; d != 4 || s1.Counters().SpoofDrops != 4 {
		t.Fatalf("spoofed drops %d (session %d), want 4", d, s1.Counters().SpoofDrops)
	}
	v6 := make([]byte, 40)
	v6[0] = 0x60
	pt.HandlePacket(l2tpMsg(1, 1, false, 0, append([]byte{0xff, 0x03, 0x00, 0x57}, v6...)), addrB)
	if p.Drops()["spoofed-source"] != 5 {
		t.Fatal("IPv6 from a source the session does not own was delivered")
	}
}

// TestOneSequenceSpace is defect 3 of issue 9: with sequencing on, the PPP
// link's control frames and IP take their Ns from one counter, so a peer
// that checks Ns never sees an LCP echo behind the IP it already has.
func TestOneSequenceSpace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(addrA, true)
		p := New(Config{})
		defer p.Close()
		s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, w, true)
		mustAdd(t, p, s)
		dev := netif.NewFake("Vi1", 16)
		mustAttach(t, p, s, Attachment{Device: dev, Framing: pppFraming})
		echo := []byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0}
		for range 3 {
			dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
			synctest.Wait()
			s.WriteFrame(echo)
		}
		var ns []uint16
		for _, d := range w.take() {
			h, err := l2tp.ParseHeader(d)
			if err != nil || !h.HasSequence() {
				t.Fatalf("%x: %v", d, err)
			}
			ns = append(ns, h.Ns)
		}
		for i, n := range ns {
			if n != uint16(i) {
				t.Fatalf("Ns of the session's frames %v, want 0, 1, 2, ...", ns)
			}
		}
	})
}

// TestCountersCountEverything is defect 4 of issue 9: the session's
// counters count every frame of its data channel — IP both ways and PPP
// control frames — not the control frames alone.
func TestCountersCountEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, _, sb, da, db := pair(t, false)
		sb.OnFrame = nil
		for range 5 {
			da.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 1000))
		}
		synctest.Wait()
		for range 5 {
			<-db.Outbound
		}
		sb.WriteFrame([]byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 4})
		c := sb.Counters()
		if c.RxPkts != 5 || c.RxBytes != 5*(4+1020) || c.TxPkts != 1 || c.TxBytes != 8 {
			t.Fatalf("counters %+v", c)
		}
		_ = b
	})
}

func TestSequencingDropsOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, _, sb, _, db := pair(t, true)
		pt := b.NewPort(sb.Bind, L2TPv2Decoder{}, nil)
		frame := ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		for _, ns := range []uint16{5, 6, 4, 7} { // 4 is late: dropped
			pt.HandlePacket(l2tpMsg(300, 400, true, ns, frame), addrA)
		}
		if n := len(db.Outbound); n != 3 {
			t.Fatalf("%d packets delivered, want 3", n)
		}
		if d := b.Drops()["out-of-order"]; d != 1 || sb.Counters().SeqDrops != 1 {
			t.Fatalf("out-of-order drops %d", d)
		}
	})
}

// TestAttachDetach: a session installed before its network layer is up
// drops IP; attached, IP flows with the final framing; detached, its
// device is no longer read.
func TestAttachDetach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(addrA, true)
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(w, L2TPv2Decoder{}, nil)
		s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, w, false)
		mustAdd(t, p, s)
		msg := l2tpMsg(1, 2, false, 0, ipFrame(ipv4Packet("198.19.1.2", "198.19.0.1", 5)))
		pt.HandlePacket(msg, addrB)
		if p.Drops()["not-attached"] != 1 {
			t.Fatal("IP before IPCP was not dropped")
		}
		dev := netif.NewFake("Vi1", 4)
		mustAttach(t, p, s, Attachment{Device: dev, Framing: ppp.Framing{AddressControl: true, ACFC: true, PFC: true}, MTU: 1400})
		pt.HandlePacket(msg, addrB)
		if len(dev.Outbound) != 1 {
			t.Fatal("IP after Attach not delivered")
		}
		dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 10))
		synctest.Wait()
		sent := w.take()
		h, _ := l2tp.ParseHeader(sent[0])
		if got := h.Payload(sent[0]); got[0] != 0x21 {
			t.Fatalf("ACFC+PFC framing not used: % x", got[:4])
		}
		dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 2000))
		synctest.Wait()
		if p.Drops()["too-big"] != 1 {
			t.Fatal("a packet over the MTU was sent")
		}
		p.Detach(s)
		dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 10))
		synctest.Wait()
		if len(w.take()) != 0 {
			t.Fatal("a detached device is still read")
		}
		pt.HandlePacket(msg, addrB)
		if p.Drops()["not-attached"] != 2 {
			t.Fatal("IP after Detach was not dropped")
		}
	})
}

func TestSharedDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(addrA, true)
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(w, L2TPv2Decoder{}, nil)
		shared := netif.NewFake("vpdn0", 16)
		if err := p.SetShared(shared); err != nil {
			t.Fatal(err)
		}
		s1 := l2tpSession([2]uint16{1, 1}, [2]uint16{10, 11}, addrB, w, false)
		s2 := l2tpSession([2]uint16{1, 2}, [2]uint16{10, 12}, addrB, w, false)
		mustAdd(t, p, s1)
		mustAdd(t, p, s2)
		mustAttach(t, p, s1, Attachment{Framing: pppFraming, PeerAddrs: []netip.Addr{netip.MustParseAddr("198.19.1.1")}})
		mustAttach(t, p, s2, Attachment{Framing: pppFraming, PeerAddrs: []netip.Addr{netip.MustParseAddr("198.19.1.2")}})
		shared.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 20))
		shared.Inject(ipv4Packet("198.19.0.1", "198.19.1.1", 20))
		shared.Inject(ipv4Packet("198.19.0.1", "198.19.9.9", 20)) // nobody's
		synctest.Wait()
		if p.Drops()["no-session"] != 1 {
			t.Fatal("the packet for nobody was not dropped")
		}
		pt.HandlePacket(l2tpMsg(1, 2, false, 0, ipFrame(ipv4Packet("198.19.1.2", "198.19.0.1", 5))), addrB)
		if got := <-shared.Outbound; len(got) != 25 {
			t.Fatalf("shared receive %x", got)
		}
		sent := w.take()
		if len(sent) != 2 {
			t.Fatalf("%d datagrams sent, want 2", len(sent))
		}
		if h, _ := l2tp.ParseHeader(sent[0]); h.SessionID != 12 {
			t.Fatalf("first packet to session %d, want 12", h.SessionID)
		}
		p.Detach(s2)
		shared.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 20))
		synctest.Wait()
		if p.Drops()["no-session"] != 2 {
			t.Fatal("a detached session's address still routed")
		}
		p.ClearShared()
	})
}

// TestZeroAllocs: an established session forwards an IP packet in either
// direction without allocating, source check and sequencing included.
func TestZeroAllocs(t *testing.T) {
	under := &nullBind{}
	p := New(Config{})
	defer p.Close()
	pt := p.NewPort(under, L2TPv2Decoder{}, nil)
	dev := &nullDev{}
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, true)
	mustAdd(t, p, s)
	s.att.Store(&attachment{Attachment: Attachment{Device: dev, Framing: pppFraming, MSS: 1360,
		Sources: NewSources([]netip.Addr{netip.MustParseAddr("198.19.1.10")}, []netip.Prefix{netip.MustParsePrefix("198.19.64.0/18")})}})
	ip := ipv4Packet("198.19.1.10", "198.19.0.1", 1000)
	msg := l2tpMsg(1, 2, false, 0, ipFrame(ip))
	if n := testing.AllocsPerRun(1000, func() { pt.HandlePacket(msg, addrB) }); n != 0 {
		t.Errorf("receive path: %.1f allocations per packet", n)
	}
	buf := make([]byte, Headroom+MaxPacket)
	att := s.att.Load()
	if n := testing.AllocsPerRun(1000, func() {
		copy(buf[Headroom:], ip)
		p.sendPacket(s, att, buf, len(ip))
	}); n != 0 {
		t.Errorf("transmit path: %.1f allocations per packet", n)
	}
	frame := []byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0}
	if n := testing.AllocsPerRun(1000, func() { s.WriteFrame(frame) }); n != 0 {
		t.Errorf("control frames: %.1f allocations per frame", n)
	}
	if dev.n == 0 || under.n == 0 {
		t.Fatal("nothing forwarded")
	}
}

func BenchmarkReceive(b *testing.B) {
	under := &nullBind{}
	p := New(Config{})
	defer p.Close()
	pt := p.NewPort(under, L2TPv2Decoder{}, nil)
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, false)
	p.Add(s)
	s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}, Framing: pppFraming,
		Sources: NewSources([]netip.Addr{netip.MustParseAddr("198.19.1.10")}, nil)}})
	msg := l2tpMsg(1, 2, false, 0, ipFrame(ipv4Packet("198.19.1.10", "198.19.0.1", 1400)))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		pt.HandlePacket(msg, addrB)
	}
}

func BenchmarkTransmit(b *testing.B) {
	under := &nullBind{}
	p := New(Config{})
	defer p.Close()
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, false)
	p.Add(s)
	s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}, Framing: pppFraming}})
	att := s.att.Load()
	ip := ipv4Packet("198.19.0.1", "198.19.1.10", 1400)
	buf := make([]byte, Headroom+MaxPacket)
	copy(buf[Headroom:], ip)
	b.SetBytes(int64(len(ip)))
	b.ReportAllocs()
	for b.Loop() {
		p.sendPacket(s, att, buf, len(ip))
	}
}

// BenchmarkCopyBaseline is the baseline of the per-packet benchmarks: one
// copy of the same 1400-byte IP packet, the least any forwarding can do.
func BenchmarkCopyBaseline(b *testing.B) {
	src := ipv4Packet("198.19.0.1", "198.19.1.10", 1400)
	dst := make([]byte, len(src)+Headroom)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(dst[Headroom:], src)
	}
}

func FuzzHandlePacket(f *testing.F) {
	frame := ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 40))
	f.Add(l2tpMsg(1, 2, false, 0, frame))
	f.Add(l2tpMsg(1, 2, true, 7, frame))
	f.Add([]byte{0x42, 0x02, 0, 8, 0, 1, 0, 2, 0xc0, 0x21})
	f.Fuzz(func(t *testing.T, b []byte) {
		under := &nullBind{}
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(under, L2TPv2Decoder{}, func([]byte, netip.AddrPort) {})
		s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, true)
		s.OnFrame = func([]byte) {}
		p.Add(s)
		s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}, Framing: pppFraming, MSS: 1200,
			Sources: NewSources([]netip.Addr{netip.MustParseAddr("198.19.0.1")}, nil)}})
		pt.HandlePacket(b, addrB)
	})
}
