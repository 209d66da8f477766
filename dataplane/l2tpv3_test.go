package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// ethFrame is an Ethernet frame of n payload octets.
func ethFrame(n int) []byte {
	f := make([]byte, 14+n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06})
	for i := 14; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}

// v3Pair is document 004's manual pseudowire in memory: R5 (l2tp id 1 2,
// cookie local 4 55111, remote 4 44119) and R9 (l2tp id 2 1, the cookies
// the other way round), each with a session on an Ethernet device.
func v3Pair(t *testing.T, udp, seq bool) (a, b *Session, pa, pb *Plane, ba *testBind, devB *nullDev) {
	t.Helper()
	pa, pb = New(Config{}), New(Config{})
	t.Cleanup(pa.Close)
	t.Cleanup(pb.Close)
	ba, bb := newTestBind(addrA, true), newTestBind(addrB, false)
	var decA, decB Decoder = L2TPv3Decoder{}, L2TPv3Decoder{}
	peerA, peerB := netip.AddrPortFrom(addrA.Addr(), 0), netip.AddrPortFrom(addrB.Addr(), 0)
	if udp {
		decA, decB = L2TPv2Decoder{}, L2TPv2Decoder{}
		peerA, peerB = addrA, addrB
	}
	ptA, ptB := pa.NewPort(ba, decA, nil), pb.NewPort(bb, decB, nil)
	ba.peer, bb.peer = ptB, ptA
	// testBind hands over with its own address as the source: over IP
	// that has port 1701 too; sessions name their peer the same way.
	if !udp {
		peerA, peerB = addrA, addrB
	}
	a = NewSession(L2TPv3Key(1), peerB, ba, PayloadEthernet, NewL2TPv3Encap(L2TPv3Params{UDP: udp, RemoteSession: 2,
		LocalCookie: l2tp.Cookie4(55111), RemoteCookie: l2tp.Cookie4(44119), SeqTx: seq, SeqRx: seq}))
	b = NewSession(L2TPv3Key(2), peerA, bb, PayloadEthernet, NewL2TPv3Encap(L2TPv3Params{UDP: udp, RemoteSession: 1,
		LocalCookie: l2tp.Cookie4(44119), RemoteCookie: l2tp.Cookie4(55111), SeqTx: seq, SeqRx: seq}))
	mustAdd(t, pa, a)
	mustAdd(t, pb, b)
	devB = &nullDev{}
	// Stored, not attached: the null devices cannot be watched.
	a.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}}})
	b.att.Store(&attachment{Attachment: Attachment{Device: devB}})
	return a, b, pa, pb, ba, devB
}

func TestL2TPv3EthernetPair(t *testing.T) {
	for _, tc := range []struct {
		name     string
		udp, seq bool
		hdr      string
	}{
		{"ip", false, false, "00000002 0000ac57"},
		{"ip-seq", false, true, "00000002 0000ac57 40000000"},
		{"udp", true, false, "00030000 00000002 0000ac57"},
		{"udp-seq", true, true, "00030000 00000002 0000ac57 40000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, pa, pb, ba, devB := v3Pair(t, tc.udp, tc.seq)
			frame := ethFrame(100)
			buf := make([]byte, Headroom+len(frame))
			copy(buf[Headroom:], frame)
			pa.sendPacket(a, a.att.Load(), buf, len(frame))
			sent := ba.take()
			if len(sent) != 1 {
				t.Fatalf("%d datagrams", len(sent))
			}
			want := append(unhexT(t, tc.hdr), frame...)
			if !bytes.Equal(sent[0], want) {
				t.Fatalf("on the wire\n got %x\nwant %x", sent[0][:20], want[:20])
			}
			if devB.n != 1 {
				t.Fatalf("R9's device got %d frames", devB.n)
			}
			if c := b.Counters(); c.RxPkts != 1 || c.RxBytes != uint64(len(frame)) {
				t.Fatalf("R9 counters %+v", c)
			}
			if c := a.Counters(); c.TxPkts != 1 || c.TxBytes != uint64(len(frame)) {
				t.Fatalf("R5 counters %+v", c)
			}
			_ = pb
		})
	}
}

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	var hi byte
	n := 0
	for _, c := range []byte(s) {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			continue
		}
		if n%2 == 0 {
			hi = v
		} else {
			out = append(out, hi<<4|v)
		}
		n++
	}
	return out
}

// TestL2TPv3Drops: a wrong cookie, an unknown session, truncated headers
// and out-of-order numbers are dropped and counted per reason, and on the
// session where there is one.
func TestL2TPv3Drops(t *testing.T) {
	_, b, _, pb, _, devB := v3Pair(t, false, true)
	pt := pb.NewPort(&nullBind{}, L2TPv3Decoder{}, nil)
	from := addrA
	frame := ethFrame(20)
	msg := func(id uint32, c l2tp.Cookie, ns uint32) []byte {
		return append(l2tp.AppendV3DataHeader(nil, false, id, c, true, true, ns), frame...)
	}
	for _, tc := range []struct {
		name   string
		b      []byte
		reason string
	}{
		{"wrong-cookie", msg(2, l2tp.Cookie4(1), 0), "bad-cookie"},
		{"short-cookie", l2tp.AppendV3DataHeader(nil, false, 2, l2tp.Cookie{}, false, false, 0)[:6], "short"},
		{"no-sublayer", append(l2tp.AppendV3DataHeader(nil, false, 2, l2tp.Cookie4(44119), false, false, 0), 0x40), "short"},
		{"unknown-session", msg(9, l2tp.Cookie4(44119), 0), "unknown-session"},
		{"truncated", []byte{0, 0, 2}, "short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := pb.Drops()[tc.reason]
			pt.HandlePacket(tc.b, from)
			if pb.Drops()[tc.reason] != before+1 {
				t.Fatalf("%s not counted: %v", tc.reason, pb.Drops())
			}
		})
	}
	if c := b.Counters(); c.CookieDrops != 1 || c.RxPkts != 0 || devB.n != 0 {
		t.Fatalf("session counters %+v, %d frames delivered", c, devB.n)
	}
	pt.HandlePacket(msg(2, l2tp.Cookie4(44119), 5), from)
	pt.HandlePacket(msg(2, l2tp.Cookie4(44119), 4), from) // older: dropped
	pt.HandlePacket(msg(2, l2tp.Cookie4(44119), 6), from)
	if c := b.Counters(); c.RxPkts != 2 || c.SeqDrops != 1 || devB.n != 2 {
		t.Fatalf("sequencing: %+v, %d frames", c, devB.n)
	}
	pt.HandlePacket(msg(2, l2tp.Cookie4(44119), 7), netip.MustParseAddrPort("198.18.0.9:1701"))
	if pb.Drops()["wrong-peer"] != 1 {
		t.Fatal("a datagram from another address was not dropped")
	}
}

func TestL2TPv3Allocs(t *testing.T) {
	for _, udp := range []bool{false, true} {
		a, _, pa, _, _, _ := v3Pair(t, udp, true)
		pt := pa.NewPort(&nullBind{}, L2TPv3Decoder{}, nil)
		if udp {
			pt = pa.NewPort(&nullBind{}, L2TPv2Decoder{}, nil)
		}
		a.Bind = &nullBind{}
		frame := ethFrame(1000)
		var ns uint32
		rx := func() {
			m := append(l2tp.AppendV3DataHeader(make([]byte, 0, 2048), udp, 1, l2tp.Cookie4(55111), true, true, ns), frame...)
			ns++
			pt.HandlePacket(m, addrB)
		}
		msgBuf := make([]byte, 0, 2048)
		rx2 := func() {
			m := append(l2tp.AppendV3DataHeader(msgBuf[:0], udp, 1, l2tp.Cookie4(55111), true, true, ns), frame...)
			ns++
			pt.HandlePacket(m, addrB)
		}
		rx()
		if n := testing.AllocsPerRun(1000, rx2); n != 0 {
			t.Errorf("udp=%v receive: %.1f allocations per packet", udp, n)
		}
		buf := make([]byte, Headroom+MaxPacket)
		att := a.att.Load()
		if n := testing.AllocsPerRun(1000, func() {
			copy(buf[Headroom:], frame)
			pa.sendPacket(a, att, buf, len(frame))
		}); n != 0 {
			t.Errorf("udp=%v transmit: %.1f allocations per packet", udp, n)
		}
		if a.Counters().RxPkts == 0 || a.Counters().TxPkts == 0 {
			t.Fatalf("nothing forwarded: %+v", a.Counters())
		}
	}
}

func TestL2TPv2DecoderHandsV3ToV3Sessions(t *testing.T) {
	d := L2TPv2Decoder{}.Decode(append(l2tp.AppendV3DataHeader(nil, true, 7, l2tp.Cookie{}, false, false, 0), 1, 2))
	if d.Drop != dropNone || d.Key != L2TPv3Key(7) || len(d.Payload) != 2 || d.Flags&Control != 0 {
		t.Fatalf("%+v", d)
	}
	if d := (L2TPv2Decoder{}).Decode([]byte{0xc8, 0x03, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0}); d.Flags&Control == 0 {
		t.Fatal("v3 control over UDP is not control")
	}
	if d := (L2TPv2Decoder{}).Decode([]byte{0, 3, 0, 0, 0, 0, 0, 0}); d.Drop != DropBadHeader {
		t.Fatalf("v3 data with session 0: %+v", d)
	}
	if d := (L2TPv3Decoder{}).Decode([]byte{0, 0, 0, 0, 0xc8, 3}); d.Flags&Control == 0 {
		t.Fatal("session 0 over IP is not control")
	}
}

// TestL2TPv3EthernetGSO: a TCP super-frame from a packet socket with
// PACKET_VNET_HDR (a veth's peer's segmentation offload) leaves as one
// train of frames, each the Ethernet header and one segment with its
// checksums complete, each behind its own L2TPv3 header (and sequence
// number); a super-frame that is not TCP over IPv4/IPv6 is a bad-offload
// drop.
func TestL2TPv3EthernetGSO(t *testing.T) {
	for _, udp := range []bool{false, true} {
		a, _, pa, _, ba, devB := v3Pair(t, udp, true)
		ba.keep = true
		eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
		pay := bulk(5000)
		pkt := tcpSeg("198.19.1.7", "198.19.1.10", 40000, 1000, 0x18, pay)
		frame := append(append([]byte{}, eth...), pkt...)
		h := vnet.Hdr{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, HdrLen: 54, GSOSize: 1400, CsumStart: 34, CsumOffset: 16}
		tx := newTxState(pa)
		pa.sendGSO(tx, a, a.att.Load(), h, frame)
		sent := ba.take()
		if len(sent) != 4 || devB.n != 4 {
			t.Fatalf("udp=%v: %d datagrams, %d frames delivered", udp, len(sent), devB.n)
		}
		hl := l2tp.V3DataHeaderLen(udp, 4, true)
		total := 0
		for i, d := range sent {
			if _, ns, _ := l2tp.ParseL2SS(d[hl-4:]); ns != uint32(i) {
				t.Fatalf("segment %d has sequence number %d", i, ns)
			}
			f := d[hl:]
			if !bytes.Equal(f[:14], eth) || !tcpValid(f[14:]) {
				t.Fatalf("segment %d: %x", i, f[:60])
			}
			total += len(f) - 14 - 40
		}
		if total != len(pay) || a.Counters().TxPkts != 4 {
			t.Fatalf("payload %d of %d, counters %+v", total, len(pay), a.Counters())
		}
		arp := append(append([]byte{}, eth[:12]...), 0x08, 0x06)
		before := pa.Drops()["bad-offload"]
		pa.sendGSO(tx, a, a.att.Load(), h, append(arp, pkt...))
		if pa.Drops()["bad-offload"] != before+1 {
			t.Fatal("a super-frame that is not IP was not dropped")
		}
		// The train builder (sendSegments, shared with sendGSO's PPP
		// path) allocates nothing once the train buffer exists.
		ba.keep = false
		if n := testing.AllocsPerRun(50, func() { pa.sendGSO(tx, a, a.att.Load(), h, frame) }); n != 0 {
			t.Errorf("udp=%v: %.1f allocations per super-frame", udp, n)
		}
	}
}

// TestL2TPv3EthernetGRO: in-order TCP segments arriving on an Ethernet
// pseudowire for a packet socket with PACKET_VNET_HDR leave as one
// super-frame, the Ethernet header in front and the virtio_net_hdr's
// offsets counted from the frame's start; an ARP frame between them is
// written as it is, after what was merged before it of no flow of its own.
func TestL2TPv3EthernetGRO(t *testing.T) {
	p := New(Config{})
	defer p.Close()
	dev := netif.NewFakeOffload("pw0", 64)
	s := NewSession(L2TPv3Key(2), addrA, &nullBind{}, PayloadEthernet, NewL2TPv3Encap(L2TPv3Params{RemoteSession: 1,
		LocalCookie: l2tp.Cookie4(44119), RemoteCookie: l2tp.Cookie4(55111)}))
	mustAdd(t, p, s)
	s.att.Store(&attachment{Attachment: Attachment{Device: dev}})
	pt := p.NewPort(&nullBind{}, L2TPv3Decoder{}, nil)
	r := pt.NewReceiver()
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00}
	msg := func(f []byte) []byte {
		return append(l2tp.AppendV3DataHeader(nil, false, 2, l2tp.Cookie4(44119), false, false, 0), f...)
	}
	pay := bulk(3000)
	for i := range 3 {
		seg := tcpSeg("198.19.1.10", "198.19.1.7", 40000, uint32(1000+i*1000), 0x10, pay[i*1000:(i+1)*1000])
		r.HandlePacket(msg(append(append([]byte{}, eth...), seg...)), addrA)
	}
	arp := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2, 3}
	r.HandlePacket(msg(arp), addrA)
	r.Flush()
	var out [][]byte
	for len(dev.Outbound) > 0 {
		out = append(out, <-dev.Outbound)
	}
	if len(out) != 2 {
		t.Fatalf("%d writes, want the ARP frame and one super-frame", len(out))
	}
	if !bytes.Equal(out[0][vnet.HdrLen:], arp) {
		t.Fatalf("ARP frame written as %x", out[0])
	}
	h, _ := vnet.Decode(out[1])
	f := out[1][vnet.HdrLen:]
	if h.GSOType != vnet.GSOTCPv4 || h.GSOSize != 1000 || h.CsumStart != 18+20 || h.HdrLen != 18+40 ||
		!bytes.Equal(f[:18], eth) || len(f) != 18+40+3000 || !bytes.Equal(f[58:], pay) {
		t.Fatalf("super-frame %+v, %d octets, header %x", h, len(f), f[:18])
	}
	if c := s.Counters(); c.RxPkts != 4 {
		t.Fatalf("counters %+v", c)
	}
	// Zero allocations per frame once the slots exist.
	od := &offDev{}
	s.att.Store(&attachment{Attachment: Attachment{Device: od}})
	msgs := make([][]byte, 3)
	for i := range msgs {
		seg := tcpSeg("198.19.1.10", "198.19.1.7", 40000, uint32(1000+i*1000), 0x10, pay[i*1000:(i+1)*1000])
		msgs[i] = msg(append(append([]byte{}, eth...), seg...))
	}
	if n := testing.AllocsPerRun(200, func() {
		for _, m := range msgs {
			r.HandlePacket(m, addrA)
		}
		r.Flush()
	}); n != 0 {
		t.Errorf("GRO receive path: %.1f allocations per batch", n)
	}
	if od.n == 0 {
		t.Fatal("nothing written")
	}
}
