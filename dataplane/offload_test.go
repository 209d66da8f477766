package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/internal/csum"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// tcpSeg builds an IPv4 TCP segment with a valid checksum.
func tcpSeg(src, dst string, sport uint16, seq uint32, flags byte, payload []byte) []byte {
	p := make([]byte, 40, 40+len(payload))
	p[0], p[6], p[8], p[9] = 0x45, 0x40, 64, 6
	binary.BigEndian.PutUint16(p[2:], uint16(40+len(payload)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], csum.Checksum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], 5201)
	binary.BigEndian.PutUint32(p[24:], seq)
	binary.BigEndian.PutUint32(p[28:], 1)
	p[32], p[33] = 0x50, flags
	binary.BigEndian.PutUint16(p[34:], 1000)
	p = append(p, payload...)
	binary.BigEndian.PutUint16(p[36:], ^csum.Fold(csum.Sum(p[20:], csum.PseudoSum(6, p[12:16], p[16:20], len(p)-20))))
	return p
}

func tcpValid(p []byte) bool {
	return csum.Fold(csum.Sum(p[20:], csum.PseudoSum(6, p[12:16], p[16:20], len(p)-20))) == 0xffff && csum.Checksum(p[:20]) == 0
}

func bulk(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 13)
	}
	return b
}

// gsoRead is what a TSO TUN read returns for pay: a virtio_net_hdr and
// one TCP super-packet whose checksum field holds a partial sum.
func gsoRead(dst string, pay []byte, gso uint16) []byte {
	pkt := tcpSeg("198.19.0.1", dst, 40000, 1000, 0x18, pay)
	h := vnet.Hdr{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, HdrLen: 40, GSOSize: gso, CsumStart: 20, CsumOffset: 16}
	return append(h.Append(nil), pkt...)
}

// offloadPair is pair with devices that have offloads and a train-aware
// bind on A; B is fed by hand through a Receiver of ptB.
func offloadPair(t *testing.T, seq bool, mtu int) (a, b *Plane, sa, sb *Session, da, db *netif.Fake, w *testBind, ptB *Port) {
	w = newTestBind(addrA, true)
	a, b = New(Config{}), New(Config{})
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	da, db = netif.NewFakeOffload("Vp1", 64), netif.NewFakeOffload("Vi1", 64)
	sa = l2tpSession([2]uint16{100, 200}, [2]uint16{300, 400}, addrB, testSegmentBind{w}, seq)
	bb := &nullBind{}
	sb = l2tpSession([2]uint16{300, 400}, [2]uint16{100, 200}, addrA, bb, seq)
	mustAdd(t, a, sa)
	mustAdd(t, b, sb)
	mustAttach(t, a, sa, Attachment{Device: da, Framing: pppFraming, MTU: mtu})
	mustAttach(t, b, sb, Attachment{Device: db, Framing: pppFraming})
	ptB = b.NewPort(bb, L2TPv2Decoder{}, nil)
	return
}

// TestOffloadBackToBack: a TCP super-packet read from A's TUN leaves as a
// train of L2TP datagrams, one per MTU-sized segment with its own Ns, and
// B's Receiver writes them to its TUN as one super-packet again.
func TestOffloadBackToBack(t *testing.T) {
	for _, tc := range []struct {
		seq, noGSO bool
		mtu, gso   int
		segs       int
	}{
		{false, false, 0, 1000, 10},
		{true, false, 0, 1000, 10},
		{false, true, 0, 1000, 10},
		{true, false, 540, 1000, 20}, // the MTU cuts smaller segments
	} {
		synctest.Test(t, func(t *testing.T) {
			_, _, sa, sb, da, db, w, ptB := offloadPair(t, tc.seq, tc.mtu)
			w.noGSO = tc.noGSO
			pay := bulk(10000)
			da.Inject(gsoRead("198.19.1.10", pay, uint16(tc.gso)))
			synctest.Wait()
			dgrams := w.take()
			if len(dgrams) != tc.segs {
				t.Fatalf("%+v: %d datagrams", tc, len(dgrams))
			}
			if !tc.noGSO && len(w.trains) != 1 || tc.noGSO && len(w.trains) != 0 {
				t.Fatalf("%+v: %d trains", tc, len(w.trains))
			}
			rx := ptB.NewReceiver()
			var got []byte
			for i, d := range dgrams {
				h, err := l2tp.ParseHeader(d)
				if err != nil || h.TunnelID != 300 || h.SessionID != 400 || h.HasSequence() != tc.seq || tc.seq && h.Ns != uint16(i) {
					t.Fatalf("%+v: datagram %d header %+v %v", tc, i, h, err)
				}
				_, ip, _ := ppp.ParseFrame(h.Payload(d))
				if tc.mtu != 0 && len(ip) > tc.mtu || !tcpValid(ip) {
					t.Fatalf("%+v: segment %d: %d octets, checksums valid %v", tc, i, len(ip), tcpValid(ip))
				}
				got = append(got, ip[40:]...)
				rx.HandlePacket(d, addrA)
			}
			if !bytes.Equal(got, pay) {
				t.Fatalf("%+v: segments do not carry the payload", tc)
			}
			if len(db.Outbound) != 0 {
				t.Fatal("written before Flush")
			}
			rx.Flush()
			out := <-db.Outbound
			h, _ := vnet.Decode(out)
			if h.GSOType != vnet.GSOTCPv4 || int(h.GSOSize) != len(pay)/tc.segs || !bytes.Equal(out[vnet.HdrLen+40:], pay) || len(db.Outbound) != 0 {
				t.Fatalf("%+v: wrote %+v, %d octets", tc, h, len(out))
			}
			// Counted: the frames' length, PPP header included.
			if c := sa.Counters(); c.TxPkts != uint64(tc.segs) || c.TxBytes != uint64(len(pay)+44*tc.segs) {
				t.Fatalf("%+v: tx counters %+v", tc, c)
			}
			if c := sb.Counters(); c.RxPkts != uint64(tc.segs) {
				t.Fatalf("%+v: rx counters %+v", tc, c)
			}
		})
	}
}

// TestOffloadSinglePackets: a packet with a partial checksum is completed
// before it leaves; a bad virtio header is dropped and counted; without a
// Receiver, packets for an offload device get a zero header.
func TestOffloadSinglePackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _, _, sb, da, db, w, ptB := offloadPair(t, false, 0)
		want := tcpSeg("198.19.0.1", "198.19.1.10", 40000, 5, 0x18, bulk(100))
		partial := append([]byte(nil), want...)
		binary.BigEndian.PutUint16(partial[36:], csum.Fold(csum.PseudoSum(6, partial[12:16], partial[16:20], len(partial)-20)))
		da.Inject(append(vnet.Hdr{Flags: vnet.FlagNeedsCsum, CsumStart: 20, CsumOffset: 16}.Append(nil), partial...))
		bad := gsoRead("198.19.1.10", bulk(3000), 1000)
		bad[1] = vnet.GSOUDPL4
		da.Inject(bad)
		da.Inject([]byte{1, 2, 3}) // shorter than the header
		synctest.Wait()
		d := w.take()
		if len(d) != 1 || a.Drops()["short"] != 1 || a.Drops()["bad-offload"] != 1 {
			t.Fatalf("%d sent, drops %v", len(d), a.Drops())
		}
		h, _ := l2tp.ParseHeader(d[0])
		if _, ip, _ := ppp.ParseFrame(h.Payload(d[0])); !bytes.Equal(ip, want) {
			t.Fatalf("sent %x, want %x", ip, want)
		}
		ptB.HandlePacket(d[0], addrA)
		if out := <-db.Outbound; !bytes.Equal(out, append(make([]byte, vnet.HdrLen), want...)) {
			t.Fatalf("wrote %x", out)
		}
		if sb.Counters().RxPkts != 1 {
			t.Fatal("rx counter")
		}
	})
}

// TestReceiverOrder: the Receiver merges only in-order segments of one
// flow, keeps flows apart, and never lets a packet overtake what is held
// of its own flow.
func TestReceiverOrder(t *testing.T) {
	_, b, _, sb, _, db, _, ptB := offloadPair(t, false, 0)
	rx := ptB.NewReceiver()
	msg := func(ip []byte) []byte { return l2tpMsg(300, 400, false, 0, ipFrame(ip)) }
	seg := func(sport uint16, seq uint32, flags byte, n int) []byte {
		return tcpSeg("198.19.0.1", "198.19.1.10", sport, seq, flags, bulk(n))
	}
	in := [][]byte{
		seg(1, 0, 0x10, 100),
		seg(2, 0, 0x10, 100), // another flow
		seg(1, 100, 0x10, 100),
		seg(2, 300, 0x10, 100),                      // a gap in flow 2: not merged
		seg(1, 200, 0x11, 100),                      // FIN: flow 1 written first, then this
		ipv4Packet("198.19.0.1", "198.19.1.10", 30), // UDP: at once
		seg(2, 400, 0x10, 100),
	}
	for _, p := range in {
		rx.HandlePacket(msg(p), addrA)
	}
	rx.Flush()
	var out []vnet.Hdr
	var pkts [][]byte
	for len(db.Outbound) > 0 {
		o := <-db.Outbound
		h, _ := vnet.Decode(o)
		out = append(out, h)
		pkts = append(pkts, o[vnet.HdrLen:])
	}
	if len(pkts) != 5 {
		t.Fatalf("%d writes", len(pkts))
	}
	// The gap in flow 2 sends its first segment out alone; flow 1's FIN
	// comes right behind its two merged segments; the UDP packet goes at
	// once; Flush writes flow 2's two segments after the gap.
	want := []struct {
		gso bool
		pkt []byte
		n   int
	}{{false, in[1], 140}, {true, nil, 240}, {false, in[4], 140}, {false, in[5], 50}, {true, nil, 240}}
	for i, w := range want {
		if (out[i].GSOType == vnet.GSOTCPv4) != w.gso || len(pkts[i]) != w.n || w.pkt != nil && !bytes.Equal(pkts[i], w.pkt) {
			t.Errorf("write %d: %+v, %d octets", i, out[i], len(pkts[i]))
		}
	}
	if binary.BigEndian.Uint16(pkts[1][20:]) != 1 || binary.BigEndian.Uint32(pkts[4][24:]) != 300 {
		t.Error("merged the wrong segments")
	}
	if b.Drops()["device-write"] != 0 || sb.Counters().RxPkts != 7 {
		t.Errorf("drops %v counters %+v", b.Drops(), sb.Counters())
	}
}

// TestSharedOffload: on a shared device with offloads, a super-packet
// finds its session by destination address.
func TestSharedOffload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(addrA, true)
		p := New(Config{})
		defer p.Close()
		shared := netif.NewFakeOffload("vpdn0", 16)
		if err := p.SetShared(shared); err != nil {
			t.Fatal(err)
		}
		defer p.ClearShared()
		bind := testSegmentBind{w}
		s1 := l2tpSession([2]uint16{1, 1}, [2]uint16{10, 11}, addrB, bind, false)
		s2 := l2tpSession([2]uint16{1, 2}, [2]uint16{10, 12}, addrB, bind, false)
		mustAdd(t, p, s1)
		mustAdd(t, p, s2)
		mustAttach(t, p, s1, Attachment{Framing: pppFraming, PeerAddrs: []netip.Addr{netip.MustParseAddr("198.19.1.1")}})
		mustAttach(t, p, s2, Attachment{Framing: pppFraming, PeerAddrs: []netip.Addr{netip.MustParseAddr("198.19.1.2")}})
		shared.Inject(gsoRead("198.19.1.2", bulk(3000), 1000))
		synctest.Wait()
		d := w.take()
		if len(d) != 3 {
			t.Fatalf("%d segments sent", len(d))
		}
		for _, m := range d {
			if h, _ := l2tp.ParseHeader(m); h.SessionID != 12 {
				t.Fatalf("segment to session %d", h.SessionID)
			}
		}
		// Received data for a session on the shared device, through a
		// Receiver, is coalesced too.
		rx := p.NewPort(bind, L2TPv2Decoder{}, nil).NewReceiver()
		for i := range 3 {
			ip := tcpSeg("198.19.1.2", "198.19.0.1", 7, uint32(i*500), 0x10, bulk(500))
			rx.HandlePacket(l2tpMsg(1, 2, false, 0, ipFrame(ip)), addrB)
		}
		rx.Flush()
		if out := <-shared.Outbound; len(out) != vnet.HdrLen+40+1500 || out[1] != vnet.GSOTCPv4 {
			t.Fatalf("shared receive: %d octets, type %d", len(out), out[1])
		}
	})
}

// TestOffloadZeroAllocs: segmenting and sending a super-packet, and
// receiving and coalescing segments, allocate nothing.
func TestOffloadZeroAllocs(t *testing.T) {
	under := &nullBind{}
	p := New(Config{})
	defer p.Close()
	dev := &offDev{}
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, true)
	mustAdd(t, p, s)
	s.att.Store(&attachment{Attachment: Attachment{Device: dev, Framing: pppFraming, MSS: 1360, MTU: 1400}})
	att := s.att.Load()
	tx := newTxState(p)
	tx.sender(under)
	tx.train = make([]byte, trainBuf)
	read := gsoRead("198.19.1.10", bulk(60000), 1360)
	h, _ := vnet.Decode(read)
	pkt := read[vnet.HdrLen:]
	if n := testing.AllocsPerRun(100, func() { p.sendGSO(tx, s, att, h, pkt) }); n != 0 {
		t.Errorf("transmit: %.1f allocations per super-packet", n)
	}
	pt := p.NewPort(under, L2TPv2Decoder{}, nil)
	rx := pt.NewReceiver()
	var msgs [][]byte
	for i := range 40 {
		ip := tcpSeg("198.19.1.10", "198.19.0.1", 9, uint32(i*1000), 0x10, bulk(1000))
		msgs = append(msgs, l2tpMsg(1, 2, false, 0, ipFrame(ip)))
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, m := range msgs {
			rx.HandlePacket(m, addrB)
		}
		rx.Flush()
	}); n != 0 {
		t.Errorf("receive: %.1f allocations per batch", n)
	}
	if n := testing.AllocsPerRun(100, func() { pt.HandlePacket(msgs[0], addrB) }); n != 0 {
		t.Errorf("receive without a Receiver: %.1f allocations", n)
	}
	if dev.n == 0 || s.Counters().TxPkts == 0 {
		t.Fatal("nothing forwarded")
	}
}

func BenchmarkTransmitGSO(b *testing.B) {
	under := &nullBind{}
	p := New(Config{})
	defer p.Close()
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, false)
	p.Add(s)
	s.att.Store(&attachment{Attachment: Attachment{Device: &offDev{}, Framing: pppFraming, MTU: 1400}})
	att := s.att.Load()
	tx := newTxState(p)
	read := gsoRead("198.19.1.10", bulk(64000), 1360)
	h, _ := vnet.Decode(read)
	b.SetBytes(64000)
	b.ReportAllocs()
	for b.Loop() {
		p.sendGSO(tx, s, att, h, read[vnet.HdrLen:])
	}
}

func BenchmarkReceiveGRO(b *testing.B) {
	under := &nullBind{}
	p := New(Config{})
	defer p.Close()
	s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, under, false)
	p.Add(s)
	s.att.Store(&attachment{Attachment: Attachment{Device: &offDev{}, Framing: pppFraming}})
	rx := p.NewPort(under, L2TPv2Decoder{}, nil).NewReceiver()
	var msgs [][]byte
	for i := range 46 {
		ip := tcpSeg("198.19.1.10", "198.19.0.1", 9, uint32(i*1360), 0x10, bulk(1360))
		msgs = append(msgs, l2tpMsg(1, 2, false, 0, ipFrame(ip)))
	}
	b.SetBytes(46 * 1360)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			rx.HandlePacket(m, addrB)
		}
		rx.Flush()
	}
}

// FuzzOffload: whatever a TUN with offloads hands out (header and packet)
// is segmented or dropped without panicking, every datagram sent carries
// an IP packet within the MTU; and whatever datagrams arrive, a Receiver
// writes only packets it was given, whole or merged, within 64 KiB.
func FuzzOffload(f *testing.F) {
	read := gsoRead("198.19.1.10", bulk(3000), 1000)
	f.Add(read[:vnet.HdrLen], read[vnet.HdrLen:], true)
	read = gsoRead("198.19.1.10", bulk(100), 0)
	f.Add(read[:vnet.HdrLen], read[vnet.HdrLen:], false)
	f.Add(make([]byte, vnet.HdrLen), ipv4Packet("198.19.0.1", "198.19.1.10", 10), false)
	f.Fuzz(func(t *testing.T, hb, pkt []byte, seq bool) {
		h, err := vnet.Decode(hb)
		if err != nil || len(pkt) == 0 || len(pkt) > MaxPacket || h.IsGSO() && h.GSOSize < 200 {
			return // tiny segments: covered by wire/vnet's fuzzer, slow here
		}
		w := newTestBind(addrA, true)
		p := New(Config{})
		defer p.Close()
		dev := &offDev{}
		s := l2tpSession([2]uint16{1, 2}, [2]uint16{3, 4}, addrB, testSegmentBind{w}, seq)
		p.Add(s)
		s.att.Store(&attachment{Attachment: Attachment{Device: dev, Framing: pppFraming, MTU: 1400, MSS: 1360}})
		att := s.att.Load()
		tx := newTxState(p)
		buf := make([]byte, Headroom+MaxPacket)
		n := copy(buf[Headroom:], pkt)
		if h.IsGSO() {
			p.sendGSO(tx, s, att, h, buf[Headroom:Headroom+n])
		} else {
			p.sendPacket(s, att, buf, n)
		}
		rx := p.NewPort(w, L2TPv2Decoder{}, nil).NewReceiver()
		for _, d := range w.take() {
			hd, err := l2tp.ParseHeader(d)
			if err != nil {
				t.Fatalf("sent a bad L2TP header: %v", err)
			}
			_, ip, err := ppp.ParseFrame(hd.Payload(d))
			if err != nil || len(ip) > 1400 {
				t.Fatalf("sent %d octets of IP, MTU 1400 (%v)", len(ip), err)
			}
			// Back in through a Receiver, as the peer would.
			rx.HandlePacket(l2tpMsg(1, 2, seq, hd.Ns, hd.Payload(d)), addrB)
		}
		rx.Flush()
	})
}

// BenchmarkCopySumBaseline64K is the baseline of the offload benchmarks:
// one copy and one checksum of 64,000 octets, the least segmenting or
// coalescing them can do.
func BenchmarkCopySumBaseline64K(b *testing.B) {
	src := bulk(64000)
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	var s uint64
	for b.Loop() {
		copy(dst, src)
		s = csum.Sum(dst, s)
	}
}
