package dataplane

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/mppe"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/pptp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// Raw IP binds see their peers at port 0.
var (
	greA = netip.MustParseAddrPort("198.18.0.1:0")
	greB = netip.MustParseAddrPort("198.18.0.2:0")
	greC = netip.MustParseAddrPort("198.18.0.3:0")
)

// greMsg is an enhanced GRE data packet to call, carrying frame.
func greMsg(call uint16, seq uint32, hasAck bool, ack uint32, frame []byte) []byte {
	return pptp.AppendGRE(nil, pptp.GREHeader{CallID: call, HasSeq: true, Seq: seq, HasAck: hasAck, Ack: ack}, frame)
}

// greAck is an ack-only packet to call.
func greAck(call uint16, ack uint32) []byte {
	return pptp.AppendGREHeader(nil, pptp.GREHeader{CallID: call, HasAck: true, Ack: ack})
}

func pptpSession(local, remote uint16, peer netip.AddrPort, bind transport.Bind) *Session {
	return NewSession(PPTPKey(local), peer, bind, PayloadPPP, NewPPTPEncap(remote))
}

func pptpEncap(s *Session) *PPTPEncap { return s.Encap().(*PPTPEncap) }

// parseGRE parses a datagram a test bind kept.
func parseGRE(t *testing.T, d []byte) (pptp.GREHeader, []byte) {
	t.Helper()
	h, pl, err := pptp.ParseGRE(d)
	if err != nil {
		t.Fatalf("sent %x: %v", d, err)
	}
	return h, pl
}

// pptpPair is pair for PPTP: call 10 on A toward call 20 on B, joined by
// synchronous test binds that keep what they send.
func pptpPair(t *testing.T, cfg Config) (a, b *Plane, sa, sb *Session, da, db *netif.Fake, wa, wb *testBind) {
	wa, wb = newTestBind(greA, true), newTestBind(greB, true)
	a, b = New(cfg), New(cfg)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	wa.peer = b.NewPort(wb, PPTPDecoder{}, nil)
	wb.peer = a.NewPort(wa, PPTPDecoder{}, nil)
	da, db = netif.NewFake("Vi1", 256), netif.NewFake("Vp1", 256)
	sa = pptpSession(10, 20, greB, wa)
	sb = pptpSession(20, 10, greA, wb)
	mustAdd(t, a, sa)
	mustAdd(t, b, sb)
	mustAttach(t, a, sa, Attachment{Device: da, Framing: pppFraming})
	mustAttach(t, b, sb, Attachment{Device: db, Framing: pppFraming})
	return
}

func TestPPTPDecode(t *testing.T) {
	frame := ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 8))
	data := greMsg(7, 0x01020304, false, 0, frame)
	both := greMsg(7, 5, true, 0xfffffff0, frame)
	ackOnly := greAck(7, 99)
	set := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	for _, c := range []struct {
		name string
		b    []byte
		want Decoded
	}{
		{"data", data, Decoded{Key: PPTPKey(7), Payload: frame, Seq: 0x01020304, Flags: HasSeq}},
		{"data and ack", both, Decoded{Key: PPTPKey(7), Payload: frame, Seq: 5, Ack: 0xfffffff0, Flags: HasSeq | HasAck}},
		{"ack only", ackOnly, Decoded{Key: PPTPKey(7), Payload: []byte{}, Ack: 99, Flags: HasAck}},
		{"padding after the payload", append(bytes.Clone(data), 0, 0, 0), Decoded{Key: PPTPKey(7), Payload: frame, Seq: 0x01020304, Flags: HasSeq}},
		{"empty", nil, Decoded{Drop: DropShort}},
		{"7 octets", data[:7], Decoded{Drop: DropShort}},
		{"seq cut", data[:10], Decoded{Drop: DropShort}},
		{"ack cut", both[:14], Decoded{Drop: DropShort}},
		{"plain GRE version 0", set(data, 1, 0x00), Decoded{Drop: DropNotPPTP}},
		{"version 2", set(data, 1, 0x02), Decoded{Drop: DropNotPPTP}},
		{"protocol IPv4", set(data, 2, 0x08), Decoded{Drop: DropNotPPTP}},
		{"checksum bit", set(data, 0, 0x30|0x80), Decoded{Drop: DropBadHeader}},
		{"routing bit", set(data, 0, 0x30|0x40), Decoded{Drop: DropBadHeader}},
		{"no key bit", set(data, 0, 0x10), Decoded{Drop: DropBadHeader}},
		{"strict source route", set(data, 0, 0x38), Decoded{Drop: DropBadHeader}},
		{"recursion", set(data, 0, 0x31), Decoded{Drop: DropBadHeader}},
		{"flags", set(data, 1, 0x09), Decoded{Drop: DropBadHeader}},
		{"payload length past the end", set(data, 4, 0x10), Decoded{Drop: DropBadHeader}},
		{"payload without seq", set(data, 0, 0x20), Decoded{Drop: DropBadHeader}},
	} {
		got := PPTPDecoder{}.Decode(c.b)
		if got.Key != c.want.Key || !bytes.Equal(got.Payload, c.want.Payload) || got.Seq != c.want.Seq ||
			got.Ack != c.want.Ack || got.Flags != c.want.Flags || got.Drop != c.want.Drop {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { PPTPDecoder{}.Decode(both) }); n != 0 {
		t.Errorf("Decode: %.1f allocations", n)
	}
}

// TestPPTPMemnet: two planes back to back over a memnet protocol 47 pair
// carry IP both ways; every packet has a Seq, acks ride on data or come
// alone, and both windows drain.
func TestPPTPMemnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		n.SetFaults(memnet.Faults{Delay: 5 * time.Millisecond})
		ga, err := n.ListenIP(47, greA.Addr())
		if err != nil {
			t.Fatal(err)
		}
		gb, err := n.ListenIP(47, greB.Addr())
		if err != nil {
			t.Fatal(err)
		}
		a, b := New(Config{}), New(Config{})
		defer a.Close()
		defer b.Close()
		done := make(chan error, 2)
		go func() { done <- a.NewPort(ga, PPTPDecoder{}, nil).Serve() }()
		go func() { done <- b.NewPort(gb, PPTPDecoder{}, nil).Serve() }()
		da, db := netif.NewFake("Vi1", 64), netif.NewFake("Vp1", 64)
		sa, sb := pptpSession(10, 20, greB, ga), pptpSession(20, 10, greA, gb)
		mustAdd(t, a, sa)
		mustAdd(t, b, sb)
		mustAttach(t, a, sa, Attachment{Device: da, Framing: pppFraming})
		mustAttach(t, b, sb, Attachment{Device: db, Framing: pppFraming})
		for i := range 20 {
			p := ipv4Packet("198.19.0.1", "198.19.1.10", 100+i)
			da.Inject(p)
			time.Sleep(10 * time.Millisecond)
			if got := <-db.Outbound; !bytes.Equal(got, p) {
				t.Fatalf("packet %d arrived as %x", i, got)
			}
			if i%2 == 0 {
				continue // B answers every other packet: its acks ride on data, or come alone
			}
			q := ipv4Packet("198.19.1.10", "198.19.0.1", 50+i)
			db.Inject(q)
			time.Sleep(10 * time.Millisecond)
			if got := <-da.Outbound; !bytes.Equal(got, q) {
				t.Fatalf("reverse packet %d arrived as %x", i, got)
			}
		}
		time.Sleep(time.Second)
		fa, fb := pptpEncap(sa).Flow(), pptpEncap(sb).Flow()
		if fa.NextSeq != 20 || fb.NextSeq != 10 || fa.Unacked != 0 || fb.Unacked != 0 || fa.LastReceived != 9 || fb.LastReceived != 19 {
			t.Fatalf("flows: A %+v, B %+v", fa, fb)
		}
		if !fa.PeerAcked || fa.PeerAck != 19 || !fb.PeerAcked || fb.PeerAck != 9 {
			t.Fatalf("peer acks (Remote Nr): A %+v, B %+v", fa, fb)
		}
		if fb.AcksPiggybacked == 0 || fa.AcksAlone == 0 || fa.AcksReceived == 0 || fb.AcksReceived == 0 || fa.RTT < 10*time.Millisecond {
			t.Fatalf("acks: A %+v, B %+v", fa, fb)
		}
		if d := a.Drops(); d["out-of-order"]+d["wrong-peer"]+d["unknown-session"] != 0 {
			t.Fatalf("drops %v", d)
		}
		ga.Close()
		gb.Close()
		<-done
		<-done
	})
}

// TestPPTPSeqAck: the headers on the wire: a Seq on every data packet from
// 0, the ack of the last Seq received once (piggy-backed), acks received
// move the send side forward and never backward or past what was sent.
func TestPPTPSeqAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(greA, true)
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(w, PPTPDecoder{}, nil)
		s := pptpSession(10, 20, greB, w)
		mustAdd(t, p, s)
		dev := netif.NewFake("Vi1", 16)
		mustAttach(t, p, s, Attachment{Device: dev, Framing: pppFraming})
		send := func() {
			dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
			synctest.Wait()
		}
		send()
		send()
		pt.HandlePacket(greMsg(10, 7, false, 0, ipFrame(ipv4Packet("198.19.1.10", "198.19.0.1", 4))), greB)
		send()
		send()
		s.WriteFrame([]byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 4}) // control frames take the same numbers
		want := []struct {
			seq    uint32
			hasAck bool
		}{{0, false}, {1, false}, {2, true}, {3, false}, {4, false}}
		sent := w.take()
		if len(sent) != len(want) {
			t.Fatalf("%d datagrams", len(sent))
		}
		for i, d := range sent {
			h, pl := parseGRE(t, d)
			if h.CallID != 20 || !h.HasSeq || h.Seq != want[i].seq || h.HasAck != want[i].hasAck || h.HasAck && h.Ack != 7 ||
				int(h.PayloadLen) != len(pl) || len(d) != h.Len()+len(pl) {
				t.Fatalf("datagram %d: %+v", i, h)
			}
		}
		e := pptpEncap(s)
		if f := e.Flow(); f.Unacked != 5 || f.AcksPiggybacked != 1 {
			t.Fatalf("flow %+v", f)
		}
		for _, c := range []struct {
			ack     uint32
			unacked uint32
		}{
			{1, 3},          // seq 0 and 1 acked
			{0, 3},          // old
			{9, 3},          // past what was sent
			{0xffffffff, 3}, // far behind
			{4, 0},
		} {
			pt.HandlePacket(greAck(10, c.ack), greB)
			if f := e.Flow(); f.Unacked != c.unacked {
				t.Fatalf("after ack %d: unacked %d, want %d", c.ack, f.Unacked, c.unacked)
			}
		}
		if f := e.Flow(); f.AcksReceived != 2 || s.Counters().RxPkts != 1 {
			t.Fatalf("flow %+v, counters %+v", f, s.Counters())
		}
	})
}

// TestPPTPAckOnly: data received and not acked by data of ours within the
// ack delay gets an ack-only packet, one per delay at most; none while
// idle, none when data carried the ack.
func TestPPTPAckOnly(t *testing.T) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		synctest.Test(t, func(t *testing.T) {
			_, _, sa, sb, da, db, _, wb := pptpPair(t, Config{PPTPAckDelay: delay})
			if delay == 0 {
				delay = DefaultPPTPAckDelay
			}
			for range 3 {
				da.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
			}
			synctest.Wait()
			time.Sleep(delay - time.Millisecond)
			synctest.Wait()
			if len(wb.take()) != 0 {
				t.Fatal("acked before the delay")
			}
			time.Sleep(2 * time.Millisecond)
			synctest.Wait()
			sent := wb.take()
			if len(sent) != 1 {
				t.Fatalf("%d datagrams after the delay", len(sent))
			}
			if h, pl := parseGRE(t, sent[0]); h.HasSeq || !h.HasAck || h.Ack != 2 || len(pl) != 0 || len(sent[0]) != 12 || h.CallID != 10 {
				t.Fatalf("ack-only %+v %x", h, sent[0])
			}
			if fa := pptpEncap(sa).Flow(); fa.Unacked != 0 || fa.AcksReceived != 1 {
				t.Fatalf("A's flow %+v", fa)
			}
			time.Sleep(10 * delay)
			synctest.Wait()
			if n := len(wb.take()); n != 0 {
				t.Fatalf("%d datagrams while idle", n)
			}
			// Data within the delay carries the ack: no ack-only packet.
			da.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
			synctest.Wait()
			time.Sleep(delay / 2)
			db.Inject(ipv4Packet("198.19.1.10", "198.19.0.1", 10))
			synctest.Wait()
			time.Sleep(2 * delay)
			synctest.Wait()
			sent = wb.take()
			if len(sent) != 1 {
				t.Fatalf("%d datagrams, want the data packet alone", len(sent))
			}
			if h, _ := parseGRE(t, sent[0]); !h.HasSeq || !h.HasAck || h.Ack != 3 {
				t.Fatalf("data header %+v", h)
			}
			if fb := pptpEncap(sb).Flow(); fb.AcksAlone != 1 || fb.AcksPiggybacked != 1 {
				t.Fatalf("B's flow %+v", fb)
			}
			// A's ack of B's packet comes alone, after the delay.
			time.Sleep(2 * delay)
			if f := pptpEncap(sb).Flow(); f.Unacked != 0 {
				t.Fatalf("B's flow %+v", f)
			}
		})
	}
}

// TestPPTPOutOfOrder: a Seq not after the last accepted (late, replayed)
// is dropped and counted; an ack-only packet is no data and no drop.
func TestPPTPOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, _, sb, _, db, _, _ := pptpPair(t, Config{})
		pt := b.NewPort(sb.Bind, PPTPDecoder{}, nil)
		frame := ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		for _, seq := range []uint32{0xfffffffe, 0xffffffff, 5, 6, 4, 6, 0xffffffff, 7} {
			pt.HandlePacket(greMsg(20, seq, false, 0, frame), greA)
		}
		pt.HandlePacket(greAck(20, 0), greA)
		if n := len(db.Outbound); n != 5 {
			t.Fatalf("%d packets delivered, want 5", n)
		}
		if d := b.Drops()["out-of-order"]; d != 3 || sb.Counters().SeqDrops != 3 || sb.Counters().RxPkts != 5 {
			t.Fatalf("out-of-order drops %d, counters %+v", d, sb.Counters())
		}
		if f := pptpEncap(sb).Flow(); !f.Received || f.LastReceived != 7 {
			t.Fatalf("flow %+v", f)
		}
	})
}

// TestPPTPNAT: two calls from one address (clients behind one NAT) are
// told apart by our Call ID and each answered to its own; GRE with a live
// Call ID from any other address is dropped.
func TestPPTPNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(greA, true)
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(w, PPTPDecoder{}, nil)
		s1, s2 := pptpSession(1, 100, greB, w), pptpSession(2, 100, greB, w) // the clients chose the same ID
		mustAdd(t, p, s1)
		mustAdd(t, p, s2)
		d1, d2 := netif.NewFake("Vi1", 16), netif.NewFake("Vi2", 16)
		mustAttach(t, p, s1, Attachment{Device: d1, Framing: pppFraming})
		mustAttach(t, p, s2, Attachment{Device: d2, Framing: pppFraming})
		ip1, ip2 := ipv4Packet("198.19.1.1", "198.19.0.1", 11), ipv4Packet("198.19.1.2", "198.19.0.1", 22)
		pt.HandlePacket(greMsg(1, 0, false, 0, ipFrame(ip1)), greB)
		pt.HandlePacket(greMsg(2, 0, false, 0, ipFrame(ip2)), greB)
		pt.HandlePacket(greMsg(1, 1, false, 0, ipFrame(ip2)), greC)                               // a stranger with call 1
		pt.HandlePacket(greMsg(2, 1, false, 0, ipFrame(ip1)), netip.AddrPortFrom(greB.Addr(), 1)) // not a raw-IP peer
		pt.HandlePacket(greMsg(3, 0, false, 0, ipFrame(ip1)), greB)
		if len(d1.Outbound) != 1 || len(d2.Outbound) != 1 || !bytes.Equal(<-d1.Outbound, ip1) || !bytes.Equal(<-d2.Outbound, ip2) {
			t.Fatal("calls behind one address mixed up")
		}
		if d := p.Drops(); d["wrong-peer"] != 2 || d["unknown-session"] != 1 {
			t.Fatalf("drops %v", d)
		}
		// Both calls' ack sequences are their own: call 2's first
		// packet from the stranger did not move call 2's window.
		if f := pptpEncap(s2).Flow(); f.LastReceived != 0 {
			t.Fatalf("call 2 window %+v", f)
		}
		d2.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 5))
		synctest.Wait()
		sent := w.take()
		if len(sent) != 1 {
			t.Fatalf("%d datagrams", len(sent))
		}
		if h, _ := parseGRE(t, sent[0]); h.CallID != 100 || h.Seq != 0 || !h.HasAck || h.Ack != 0 {
			t.Fatalf("sent %+v", h)
		}
	})
}

// TestPPTPFlowControl: packets beyond the peer's window are sent and
// counted, raising the alarm once per episode; acks end it; the RTT comes
// from ack timing.
func TestPPTPFlowControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(greA, true)
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(w, PPTPDecoder{}, nil)
		s := pptpSession(10, 20, greB, w)
		mustAdd(t, p, s)
		dev := netif.NewFake("Vi1", 16)
		mustAttach(t, p, s, Attachment{Device: dev, Framing: pppFraming})
		e := pptpEncap(s)
		e.SetPeerWindow(2)
		alarms := 0
		e.SetAlarm(func() { alarms++ })
		for range 5 {
			dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		}
		synctest.Wait()
		if n := len(w.take()); n != 5 {
			t.Fatalf("%d sent: data held back for the window", n)
		}
		f := e.Flow()
		if f.Unacked != 5 || f.PeerWindow != 2 || f.OverWindow != 3 || f.Alarms != 1 || !f.Alarm || alarms != 1 {
			t.Fatalf("flow %+v, alarms %d", f, alarms)
		}
		time.Sleep(30 * time.Millisecond)
		pt.HandlePacket(greAck(10, 4), greB)
		if f = e.Flow(); f.Unacked != 0 || f.Alarm || f.RTT != 30*time.Millisecond || f.RTTVar != 15*time.Millisecond {
			t.Fatalf("after the ack: %+v", f)
		}
		for range 4 {
			dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		}
		synctest.Wait()
		time.Sleep(70 * time.Millisecond)
		pt.HandlePacket(greAck(10, 8), greB)
		// A second episode; the second sample: SRTT 30+(70-30)/8 = 35 ms.
		if f = e.Flow(); f.Alarms != 2 || alarms != 2 || f.OverWindow != 5 || f.RTT != 35*time.Millisecond {
			t.Fatalf("second episode: %+v, alarms %d", f, alarms)
		}
	})
}

// mppeKeys are the start keys of the two directions.
var mppeKeyAB, mppeKeyBA = bytes.Repeat([]byte{0x5a}, 16), bytes.Repeat([]byte{0xa5}, 16)

func mppePair(t testing.TB, key []byte, stateless bool) (*mppe.Encrypter, *mppe.Decrypter) {
	t.Helper()
	enc, err := mppe.NewEncrypter(key, mppe.Key128, stateless)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := mppe.NewDecrypter(key, mppe.Key128, stateless)
	if err != nil {
		t.Fatal(err)
	}
	return enc, dec
}

// installMPPE gives sa and sb matching MPPE pairs and returns A's
// encrypter (for Reset-Requests).
func installMPPE(t testing.TB, sa, sb *Session, stateless bool) (encA, encB *mppe.Encrypter) {
	encA, decB := mppePair(t, mppeKeyAB, stateless)
	encB, decA := mppePair(t, mppeKeyBA, stateless)
	sa.SetMPPE(encA, decA)
	sb.SetMPPE(encB, decB)
	return encA, encB
}

func randomPing(rng *rand.Rand, src, dst string) []byte {
	p := ipv4Packet(src, dst, 8+rng.IntN(1400))
	for i := 20; i < len(p); i++ {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// TestMPPEThroughPlane: MPPE-128, stateless and stateful, both ways over
// PPTP: random payloads arrive intact, every IP datagram on the wire is
// PPP 0x00FD, the PPP link's own frames stay plain.
func TestMPPEThroughPlane(t *testing.T) {
	for _, stateless := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			_, _, sa, sb, da, db, wa, _ := pptpPair(t, Config{})
			var frames [][]byte
			sb.OnFrame = func(f []byte) { frames = append(frames, bytes.Clone(f)) }
			installMPPE(t, sa, sb, stateless)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 300 { // past a stateful flag packet (count 0xff)
				p := randomPing(rng, "198.19.0.1", "198.19.1.10")
				da.Inject(p)
				synctest.Wait()
				if got := <-db.Outbound; !bytes.Equal(got, p) {
					t.Fatalf("stateless=%v: ping %d arrived as %x", stateless, i, got[:20])
				}
				q := randomPing(rng, "198.19.1.10", "198.19.0.1")
				db.Inject(q)
				synctest.Wait()
				if got := <-da.Outbound; !bytes.Equal(got, q) {
					t.Fatalf("stateless=%v: reply %d arrived as %x", stateless, i, got[:20])
				}
			}
			lcp := []byte{0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 1, 2, 3, 4}
			sa.WriteFrame(lcp)
			var protos []ppp.Protocol
			for _, d := range wa.take() {
				if h, pl := parseGRE(t, d); h.HasSeq {
					proto, _, _ := ppp.ParseFrame(pl)
					protos = append(protos, proto)
				}
			}
			for i, proto := range protos {
				want := ppp.Protocol(mppe.Protocol)
				if i == len(protos)-1 {
					want = ppp.ProtoLCP
				}
				if proto != want || len(protos) != 301 {
					t.Fatalf("datagram %d of %d: protocol %v", i, len(protos), proto)
				}
			}
			if len(frames) != 1 || !bytes.Equal(frames[0], lcp) {
				t.Fatalf("control frames %x", frames)
			}
			if st := sa.mppe.Load().enc.Stats(); st.Packets != 300 {
				t.Fatalf("encrypter %+v", st)
			}
		})
	}
}

// TestMPPELoss: with every 7th GRE packet lost, stateless MPPE delivers
// every other one; stateful MPPE drops the packet after each loss, asks
// for a resync (OnResync) and, once the sender was told (ResetRequested,
// what CCP's Reset-Request does), recovers with the next flushed packet.
func TestMPPELoss(t *testing.T) {
	for _, stateless := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			_, b, sa, sb, da, db, wa, _ := pptpPair(t, Config{})
			wa.keep = false
			wa.dropEvery = 7
			encA, _ := installMPPE(t, sa, sb, stateless)
			resyncs := 0
			sb.OnResync = func() { resyncs++; encA.ResetRequested() }
			rng := rand.New(rand.NewPCG(3, 4))
			const n = 300
			var lost, got int
			for i := 1; i <= n; i++ {
				p := randomPing(rng, "198.19.0.1", "198.19.1.10")
				da.Inject(p)
				synctest.Wait()
				lostNow := i%7 == 0
				resync := !stateless && i%7 == 1 && i > 1
				if lostNow {
					lost++
				}
				select {
				case q := <-db.Outbound:
					if lostNow || resync || !bytes.Equal(q, p) {
						t.Fatalf("stateless=%v: packet %d delivered (lost %v, resync %v), intact %v", stateless, i, lostNow, resync, bytes.Equal(q, p))
					}
					got++
				default:
					if !lostNow && !resync {
						t.Fatalf("stateless=%v: packet %d not delivered; drops %v", stateless, i, b.Drops())
					}
				}
			}
			want := n - lost
			wantResyncs := 0
			if !stateless {
				wantResyncs = lost
				want -= lost
			}
			if got != want || resyncs != wantResyncs || b.Drops()["mppe-resync"] != uint64(wantResyncs) {
				t.Fatalf("stateless=%v: %d delivered, want %d; %d resyncs, want %d; drops %v", stateless, got, want, resyncs, wantResyncs, b.Drops())
			}
		})
	}
}

// TestMPPEUnencrypted: while MPPE is on, plain IP from the peer is
// dropped; MPPE packets from a peer without the right keys are no IP.
func TestMPPEUnencrypted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, _, sb, da, db, _, _ := pptpPair(t, Config{})
		encB, decB := mppePair(t, mppeKeyAB, true)
		sb.SetMPPE(encB, decB)
		da.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		synctest.Wait()
		if len(db.Outbound) != 0 || b.Drops()["unencrypted"] != 1 {
			t.Fatalf("plain IP with MPPE on: delivered %d, drops %v", len(db.Outbound), b.Drops())
		}
		pt := b.NewPort(sb.Bind, PPTPDecoder{}, nil)
		for i, c := range []struct {
			info []byte
			drop string
		}{
			{[]byte{0x90}, "mppe-bad"},             // short
			{[]byte{0xb0, 0x01, 0x00}, "mppe-bad"}, // compressed
			{[]byte{0x80, 0x01, 0x00}, "mppe-bad"}, // not encrypted
			{[]byte{0x10, 0x01, 0x00}, "mppe-bad"}, // stateless without A
		} {
			frame := append([]byte{0xff, 0x03, 0x00, 0xfd}, c.info...)
			before := b.Drops()[c.drop]
			pt.HandlePacket(greMsg(20, uint32(10+i), false, 0, frame), greA)
			if b.Drops()[c.drop] != before+1 {
				t.Errorf("%x: not dropped as %s: %v", c.info, c.drop, b.Drops())
			}
		}
		sb.SetMPPE(nil, nil)
		if e, d := sb.MPPE(); e != nil || d != nil {
			t.Fatal("MPPE not removed")
		}
		pt.HandlePacket(greMsg(20, 20, false, 0, ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 10))), greA)
		if len(db.Outbound) != 1 {
			t.Fatal("plain IP after MPPE was removed not delivered")
		}
	})
}

// TestMPPEOffload: a TSO super-packet is cut into segments first, each its
// own MPPE packet; the receiver decrypts them and GRO merges them again.
func TestMPPEOffload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, sa, sb, da, db, w, ptB := offloadPair(t, true, 0)
		installMPPE(t, sa, sb, false)
		pay := bulk(10000)
		da.Inject(gsoRead("198.19.1.10", pay, 1000))
		synctest.Wait()
		dgrams := w.take()
		if len(dgrams) != 10 {
			t.Fatalf("%d datagrams", len(dgrams))
		}
		rx := ptB.NewReceiver()
		for i, d := range dgrams {
			if !bytes.Contains(d[:20], []byte{0xff, 0x03, 0x00, 0xfd}) || bytes.Contains(d, pay[1000*i:1000*i+100]) {
				t.Fatalf("datagram %d not encrypted: % x", i, d[:24])
			}
			rx.HandlePacket(d, addrA)
		}
		rx.Flush()
		out := <-db.Outbound
		if !bytes.Equal(out[vnet.HdrLen+40:], pay) || len(db.Outbound) != 0 {
			t.Fatalf("GRO after decryption wrote %d octets", len(out))
		}
	})
}

// TestPPTPZeroAllocs: a PPTP session with MPPE forwards in either
// direction without allocating.
func TestPPTPZeroAllocs(t *testing.T) {
	for _, stateless := range []bool{true, false} {
		under := &nullBind{}
		p := New(Config{PPTPAckDelay: time.Hour})
		pt := p.NewPort(under, PPTPDecoder{}, nil)
		dev := &nullDev{}
		s := pptpSession(10, 20, greB, under)
		mustAdd(t, p, s)
		s.att.Store(&attachment{Attachment: Attachment{Device: dev, Framing: pppFraming, MSS: 1360}})
		enc, _ := mppePair(t, mppeKeyAB, stateless)
		peerEnc, dec := mppePair(t, mppeKeyBA, stateless)
		s.SetMPPE(enc, dec)
		ip := ipv4Packet("198.19.1.10", "198.19.0.1", 1000)
		const runs = 1000
		msgs := make([][]byte, runs+1)
		for i := range msgs {
			plain := append([]byte{0x00, 0x21}, ip...)
			info := peerEnc.Encrypt(nil, plain)
			msgs[i] = greMsg(10, uint32(i), true, 0, append([]byte{0xff, 0x03, 0x00, 0xfd}, info...))
		}
		i := 0
		if n := testing.AllocsPerRun(runs, func() { pt.HandlePacket(msgs[i], greB); i++ }); n != 0 {
			t.Errorf("stateless=%v: receive path: %.1f allocations per packet", stateless, n)
		}
		if dev.n != runs+1 {
			t.Fatalf("stateless=%v: %d of %d delivered; drops %v", stateless, dev.n, runs+1, p.Drops())
		}
		buf := make([]byte, Headroom+MaxPacket)
		att := s.att.Load()
		if n := testing.AllocsPerRun(runs, func() {
			copy(buf[Headroom:], ip)
			p.sendPacket(s, att, buf, len(ip))
		}); n != 0 {
			t.Errorf("stateless=%v: transmit path: %.1f allocations per packet", stateless, n)
		}
		if under.n < runs {
			t.Fatal("nothing sent")
		}
		p.Close()
	}
}

func FuzzPPTPDecode(f *testing.F) {
	frame := ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 40))
	f.Add(greMsg(10, 0, false, 0, frame))
	f.Add(greMsg(10, 7, true, 3, frame))
	f.Add(greAck(10, 1))
	f.Add(greMsg(10, 1, false, 0, []byte{0xff, 0x03, 0x00, 0xfd, 0x90, 0x00, 1, 2, 3}))
	f.Add(greMsg(10, 1, false, 0, []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}))
	// One plane for the whole run (a plane starts device readers): each
	// input gets a fresh session.
	under := &nullBind{}
	p := New(Config{PPTPAckDelay: time.Hour})
	pt := p.NewPort(under, PPTPDecoder{}, nil)
	decs := [2]*mppe.Decrypter{}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := PPTPDecoder{}.Decode(b)
		if d.Drop == dropNone {
			if d.Key.Kind() != KindPPTP || len(d.Payload) > len(b) || d.Flags&Control != 0 ||
				len(d.Payload) > 0 && d.Flags&HasSeq == 0 {
				t.Fatalf("%x: %+v", b, d)
			}
		}
		s := pptpSession(10, 20, greB, under)
		s.OnFrame = func([]byte) {}
		s.OnResync = func() {}
		if err := p.Add(s); err != nil {
			t.Fatal(err)
		}
		defer p.Remove(s)
		if len(b)%3 != 0 {
			// A decrypter's state carries over from input to input: more
			// states reached, and no key schedule per input.
			i := len(b) % 2
			if decs[i] == nil {
				_, decs[i] = mppePair(t, mppeKeyAB, i == 0)
			}
			s.SetMPPE(nil, decs[i])
		}
		s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}, Framing: pppFraming, MSS: 1200}})
		pt.HandlePacket(b, greB)
		pt.HandlePacket(b, greB)
	})
}

// pptpBenchModes are the payload stages of the PPTP benchmarks.
var pptpBenchModes = []struct {
	name            string
	mppe, stateless bool
}{{"plain", false, false}, {"mppe128-stateless", true, true}, {"mppe128-stateful", true, false}}

func BenchmarkPPTPReceive(b *testing.B) {
	for _, m := range pptpBenchModes {
		withMPPE := m.mppe
		b.Run(m.name, func(b *testing.B) {
			under := &nullBind{}
			p := New(Config{PPTPAckDelay: time.Hour})
			defer p.Close()
			pt := p.NewPort(under, PPTPDecoder{}, nil)
			s := pptpSession(10, 20, greB, under)
			p.Add(s)
			s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}, Framing: pppFraming,
				Sources: NewSources([]netip.Addr{netip.MustParseAddr("198.19.1.10")}, nil)}})
			ip := ipv4Packet("198.19.1.10", "198.19.0.1", 1400)
			plain := append([]byte{0x00, 0x21}, ip...)
			var peerEnc *mppe.Encrypter
			frame := ipFrame(ip)
			if withMPPE {
				var dec *mppe.Decrypter
				peerEnc, _ = mppePair(b, mppeKeyBA, m.stateless)
				_, dec = mppePair(b, mppeKeyBA, m.stateless)
				s.SetMPPE(nil, dec)
				frame = append([]byte{0xff, 0x03, 0x00, 0xfd}, make([]byte, mppe.HeaderLen+len(plain))...)
			}
			msg := greMsg(10, 0, true, 0, frame)
			hl := len(msg) - len(frame)
			b.SetBytes(int64(len(ip)))
			b.ReportAllocs()
			seq := uint32(0)
			for b.Loop() {
				binary.BigEndian.PutUint32(msg[8:], seq)
				seq++
				if withMPPE {
					// The peer's encryption is part of the loop: each
					// packet is decrypted in place and needs a fresh
					// count. BenchmarkMPPEEncrypt is its cost alone.
					peerEnc.Encrypt(msg[hl+4:hl+4], plain)
				}
				pt.HandlePacket(msg, greB)
			}
		})
	}
}

// BenchmarkPPTPTransmit includes a copy of the packet into the buffer
// (encryption is in place): BenchmarkCopyBaseline.
func BenchmarkPPTPTransmit(b *testing.B) {
	for _, m := range pptpBenchModes {
		b.Run(m.name, func(b *testing.B) {
			under := &nullBind{}
			p := New(Config{PPTPAckDelay: time.Hour})
			defer p.Close()
			s := pptpSession(10, 20, greB, under)
			p.Add(s)
			s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}, Framing: pppFraming}})
			if m.mppe {
				enc, _ := mppePair(b, mppeKeyAB, m.stateless)
				s.SetMPPE(enc, nil)
			}
			att := s.att.Load()
			ip := ipv4Packet("198.19.0.1", "198.19.1.10", 1400)
			buf := make([]byte, Headroom+MaxPacket)
			b.SetBytes(int64(len(ip)))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf[Headroom:], ip)
				p.sendPacket(s, att, buf, len(ip))
			}
			if s.Counters().TxPkts == 0 || p.Drops()["not-ip"] != 0 {
				b.Fatalf("sent %+v, drops %v", s.Counters(), p.Drops())
			}
		})
	}
}

// BenchmarkMPPEEncrypt is the sender's encryption alone, what
// BenchmarkPPTPReceive/mppe128-* adds to the receive path.
func BenchmarkMPPEEncrypt(b *testing.B) {
	for _, m := range pptpBenchModes[1:] {
		b.Run(m.name, func(b *testing.B) {
			enc, _ := mppePair(b, mppeKeyAB, m.stateless)
			plain := append([]byte{0x00, 0x21}, ipv4Packet("198.19.1.10", "198.19.0.1", 1400)...)
			dst := make([]byte, 0, len(plain)+mppe.HeaderLen)
			b.SetBytes(int64(len(plain) - 2))
			for b.Loop() {
				enc.Encrypt(dst, plain)
			}
		})
	}
}

// TestPPTPLossAlarm: gaps in the peer's sequence numbers raise the alarm
// once lossAlarmLost are missing within lossSpan numbers; a single loss
// does not; lossSpan numbers without a gap clear it.
func TestPPTPLossAlarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, _, sb, _, _, _, _ := pptpPair(t, Config{})
		pt := b.NewPort(sb.Bind, PPTPDecoder{}, nil)
		e := pptpEncap(sb)
		alarms := 0
		e.SetAlarm(func() { alarms++ })
		frame := ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		in := func(seqs ...uint32) {
			for _, seq := range seqs {
				pt.HandlePacket(greMsg(20, seq, false, 0, frame), greA)
			}
		}
		in(0, 1, 2, 4) // one lost: no alarm
		if f := e.Flow(); f.Lost != 1 || f.Alarm || alarms != 0 {
			t.Fatalf("one loss: %+v, alarms %d", f, alarms)
		}
		in(200, 201, 203) // 195 lost at once, then one more
		if f := e.Flow(); f.Lost != 197 || !f.Alarm || f.Alarms != 1 || alarms != 1 {
			t.Fatalf("a burst: %+v, alarms %d", f, alarms)
		}
		in(204, 210) // more loss in the episode: no new call
		if alarms != 1 {
			t.Fatalf("alarm called %d times in one episode", alarms)
		}
		for seq := uint32(211); seq < 211+lossSpan-2; seq++ {
			in(seq)
		}
		if f := e.Flow(); !f.Alarm {
			t.Fatalf("cleared before lossSpan numbers without loss: %+v", f)
		}
		in(211+lossSpan-2, 211+lossSpan-1)
		if f := e.Flow(); f.Alarm || f.Alarms != 1 {
			t.Fatalf("not cleared after lossSpan numbers without loss: %+v", f)
		}
		// Two isolated losses farther apart than lossSpan: no alarm.
		base := uint32(211 + lossSpan)
		for seq := base + 1; seq <= base+1+lossSpan; seq++ {
			in(seq) // base lost
		}
		in(base + 3 + lossSpan) // base+2+lossSpan lost
		if f := e.Flow(); f.Alarm || alarms != 1 {
			t.Fatalf("sparse losses raised it: %+v", f)
		}
		// Late packets are out-of-order drops, not loss.
		in(base)
		if f := e.Flow(); f.Lost != 197+5+2 || f.Alarm {
			t.Fatalf("after a late packet: %+v", f)
		}
	})
}

// TestPPTPAckTimeout: an ack overdue by the acknowledgement timeout raises
// the alarm (once per timed packet); the ack clears it. static-rtt fixes
// the timeout, the measured RTT (SRTT + 4·DEV, at least minATO) sets it
// otherwise.
func TestPPTPAckTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newTestBind(greA, true)
		p := New(Config{})
		defer p.Close()
		pt := p.NewPort(w, PPTPDecoder{}, nil)
		s := pptpSession(10, 20, greB, w)
		mustAdd(t, p, s)
		dev := netif.NewFake("Vi1", 16)
		mustAttach(t, p, s, Attachment{Device: dev, Framing: pppFraming})
		e := pptpEncap(s)
		alarms := 0
		e.SetAlarm(func() { alarms++ })
		send := func() {
			dev.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
			synctest.Wait()
		}
		if f := e.Flow(); f.AckTimeout != initialATO {
			t.Fatalf("timeout before a sample: %v", f.AckTimeout)
		}
		send() // Seq 0, timed
		time.Sleep(40 * time.Millisecond)
		pt.HandlePacket(greAck(10, 0), greB)
		// SRTT 40 ms, DEV 20 ms: 120 ms, below the floor.
		if f := e.Flow(); f.RTT != 40*time.Millisecond || f.AckTimeout != minATO {
			t.Fatalf("measured: %+v", f)
		}
		send() // Seq 1, timed
		time.Sleep(minATO + time.Millisecond)
		send() // Seq 2: Seq 1's ack is overdue
		send()
		if f := e.Flow(); !f.Alarm || f.AckTimeouts != 1 || alarms != 1 {
			t.Fatalf("overdue ack: %+v, alarms %d", f, alarms)
		}
		pt.HandlePacket(greAck(10, 3), greB)
		if f := e.Flow(); f.Alarm || f.Unacked != 0 {
			t.Fatalf("the ack did not clear it: %+v", f)
		}
		e.SetStaticRTT(30 * time.Millisecond)
		if f := e.Flow(); f.AckTimeout != 30*time.Millisecond || f.StaticRTT != 30*time.Millisecond {
			t.Fatalf("static-rtt: %+v", f)
		}
		send() // Seq 4, timed
		time.Sleep(31 * time.Millisecond)
		send()
		if f := e.Flow(); !f.Alarm || f.AckTimeouts != 2 || alarms != 2 {
			t.Fatalf("static-rtt timeout: %+v, alarms %d", f, alarms)
		}
		if f := e.Flow(); !f.PeerAcked || f.PeerAck != 3 {
			t.Fatalf("peer ack: %+v", f)
		}
	})
}

// TestMPPEHold: while CCP renegotiates (HoldMPPE) IP goes neither
// encrypted nor plain, in either direction; SetMPPE ends the hold.
func TestMPPEHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, sa, sb, da, db, wa, _ := pptpPair(t, Config{})
		pt := b.NewPort(sb.Bind, PPTPDecoder{}, nil)
		sa.HoldMPPE()
		sb.HoldMPPE()
		if e, d := sa.MPPE(); e != nil || d != nil {
			t.Fatal("a hold reports ciphers")
		}
		da.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		synctest.Wait()
		if n := len(wa.take()); n != 0 || a.Drops()["unencrypted"] != 1 {
			t.Fatalf("held: %d sent, drops %v", n, a.Drops())
		}
		pt.HandlePacket(greMsg(20, 1, false, 0, ipFrame(ipv4Packet("198.19.0.1", "198.19.1.10", 10))), greA)
		pt.HandlePacket(greMsg(20, 2, false, 0, []byte{0xff, 0x03, 0x00, 0xfd, 0x90, 0x01, 0x00}), greA)
		if len(db.Outbound) != 0 || b.Drops()["unencrypted"] != 1 || b.Drops()["mppe-bad"] != 1 {
			t.Fatalf("held: delivered %d, drops %v", len(db.Outbound), b.Drops())
		}
		installMPPE(t, sa, sb, true)
		da.Inject(ipv4Packet("198.19.0.1", "198.19.1.10", 10))
		synctest.Wait()
		if n := len(wa.take()); n != 1 {
			t.Fatalf("after the hold: %d sent", n)
		}
	})
}
