package dataplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/ppp"
)

// wire joins two planes: what one writes the other handles, synchronously.
type wire struct {
	mu    sync.Mutex
	peer  *Plane
	from  netip.AddrPort
	sent  [][]byte
	keep  bool
	count int
}

func (w *wire) WriteTo(b []byte, to netip.AddrPort) error {
	w.mu.Lock()
	w.count++
	if w.keep {
		w.sent = append(w.sent, append([]byte(nil), b...))
	}
	peer := w.peer
	w.mu.Unlock()
	if peer != nil {
		peer.HandlePacket(b, w.from)
	}
	return nil
}

var (
	addrA = netip.MustParseAddrPort("198.18.0.1:1701")
	addrB = netip.MustParseAddrPort("198.18.0.2:1701")
)

func ipv4Packet(src, dst string, payload int) []byte {
	p := make([]byte, 20+payload)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	for i := 20; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

// pair returns two planes with one session between them, each side on its
// own fake device.
func pair(t *testing.T, seq bool) (a, b *Plane, sa, sb *Session, da, db *netif.Fake) {
	wa, wb := &wire{from: addrA}, &wire{from: addrB}
	a, b = New(wa, nil, nil), New(wb, nil, nil)
	wa.peer, wb.peer = b, a
	da, db = netif.NewFake("Vi1", 16), netif.NewFake("Vp1", 16)
	fr := ppp.Framing{AddressControl: true}
	sa = &Session{Key: Key{100, 200}, RemoteTunnel: 300, RemoteSession: 400, Peer: addrB, Framing: fr, Device: da, Sequencing: seq}
	sb = &Session{Key: Key{300, 400}, RemoteTunnel: 100, RemoteSession: 200, Peer: addrA, Framing: fr, Device: db, Sequencing: seq}
	if err := a.Add(sa); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(sb); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(sa); err == nil {
		t.Fatal("duplicate session installed")
	}
	return
}

func TestBackToBack(t *testing.T) {
	for _, seq := range []bool{false, true} {
		a, b, sa, sb, da, db := pair(t, seq)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 2)
		go func() { done <- a.RunDevice(ctx, da) }()
		go func() { done <- b.RunDevice(ctx, db) }()
		for i := 0; i < 10; i++ {
			p := ipv4Packet("198.19.0.1", "198.19.1.10", 100+i)
			da.Inject(p)
			got := <-db.Outbound
			if !bytes.Equal(got, p) {
				t.Fatalf("seq=%v: packet %d arrived as %x", seq, i, got)
			}
			q := ipv4Packet("198.19.1.10", "198.19.0.1", 50)
			db.Inject(q)
			if got := <-da.Outbound; !bytes.Equal(got, q) {
				t.Fatalf("reverse packet %d arrived as %x", i, got)
			}
		}
		// A sender counts after its send returns, which can be after the
		// other side has the packet: give the counters a moment.
		for _, s := range []*Session{sa, sb} {
			deadline := time.Now().Add(2 * time.Second)
			for c := s.Counters(); c.TxPkts != 10 || c.RxPkts != 10; c = s.Counters() {
				if time.Now().After(deadline) {
					t.Fatalf("counters %+v", c)
				}
				time.Sleep(time.Millisecond)
			}
		}
		cancel()
		<-done
		<-done
	}
}

func TestControlFramesAndDrops(t *testing.T) {
	var ctrl [][]byte
	w := &wire{keep: true}
	p := New(w, func(b []byte, from netip.AddrPort) { ctrl = append(ctrl, append([]byte(nil), b...)) }, nil)
	var frames []ppp.Protocol
	s := &Session{Key: Key{1, 2}, RemoteTunnel: 3, RemoteSession: 4, Peer: addrB, Framing: ppp.Framing{AddressControl: true},
		OnFrame: func(frame []byte) {
			pr, _, _ := ppp.ParseFrame(frame)
			frames = append(frames, pr)
		}}
	p.Add(s)

	// A control message goes to the control plane untouched.
	zlb := l2tp.AppendZLB(nil, 1, 0, 0)
	p.HandlePacket(zlb, addrB)
	if len(ctrl) != 1 || !bytes.Equal(ctrl[0], zlb) {
		t.Fatalf("control: %x", ctrl)
	}
	// An LCP frame goes to OnFrame.
	lcp := append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, 8), 0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 4)
	p.HandlePacket(lcp, addrB)
	if len(frames) != 1 || frames[0] != ppp.ProtoLCP {
		t.Fatalf("frames %v", frames)
	}
	// SendFrame encapsulates for the peer.
	if err := p.SendFrame(s, ppp.ProtoLCP, []byte{9, 1, 0, 4}); err != nil {
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
		reason DropReason
	}{
		{[]byte{0}, DropShort},
		{[]byte{0x40, 0x02, 0x00, 0xff, 0, 1, 0, 2}, DropBadHeader},
		{append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, 2), 0xff, 0x03), DropBadPPP},
		{append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, 5), 0xff, 0x03, 0x00, 0x21, 0x45), DropNoSession},
	}
	for _, c := range cases {
		before := p.drops[c.reason].Load()
		p.HandlePacket(c.pkt, addrB)
		if p.drops[c.reason].Load() != before+1 {
			t.Errorf("%x: not dropped as %s; drops %v", c.pkt, c.reason, p.Drops())
		}
	}
	p.Remove(s.Key)
	p.HandlePacket(lcp, addrB)
	if len(frames) != 1 || p.Len() != 0 {
		t.Fatal("a removed session still receives")
	}
}

func TestSequencingDropsOutOfOrder(t *testing.T) {
	_, b, _, sb, _, db := pair(t, true)
	ip := ipv4Packet("198.19.0.1", "198.19.1.10", 10)
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, ip...)
	send := func(ns uint16) {
		b.HandlePacket(append(l2tp.AppendDataHeader(nil, sb.Key.Tunnel, sb.Key.Session, true, ns, len(frame)), frame...), addrA)
	}
	send(5)
	send(6)
	send(4) // late: dropped
	send(7)
	if n := len(db.Outbound); n != 3 {
		t.Fatalf("%d packets delivered, want 3", n)
	}
	if d := b.Drops()["out-of-order"]; d != 1 {
		t.Fatalf("out-of-order drops %d", d)
	}
}

// TestAttach: a session installed without a device (PPP negotiating) gets
// its interface when IPCP opens; IP flows from then on.
func TestAttach(t *testing.T) {
	w := &wire{keep: true}
	p := New(w, nil, nil)
	s := &Session{Key: Key{1, 2}, RemoteTunnel: 3, RemoteSession: 4, Peer: addrB, Framing: ppp.Framing{AddressControl: true}}
	p.Add(s)
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, ipv4Packet("198.19.1.2", "198.19.0.1", 5)...)
	msg := append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, len(frame)), frame...)
	p.HandlePacket(msg, addrB)
	if p.Drops()["no-session"] != 1 {
		t.Fatal("IP before IPCP was not dropped")
	}
	dev := netif.NewFake("Vi1", 4)
	p.Attach(s, dev, ppp.Framing{AddressControl: true, ACFC: true, PFC: true}, 0, 1400)
	p.HandlePacket(msg, addrB)
	if len(dev.Outbound) != 1 {
		t.Fatal("IP after Attach not delivered")
	}
	buf := make([]byte, Headroom+MaxPacket)
	ip := ipv4Packet("198.19.0.1", "198.19.1.2", 10)
	copy(buf[Headroom:], ip)
	p.sendIP(s, buf, len(ip))
	h, _ := l2tp.ParseHeader(w.sent[0])
	if got := h.Payload(w.sent[0]); got[0] != 0x21 {
		t.Fatalf("ACFC+PFC framing not used: % x", got[:4])
	}
}

func TestSharedDevice(t *testing.T) {
	w := &wire{keep: true}
	p := New(w, nil, nil)
	shared := netif.NewFake("vpdn0", 16)
	s1 := &Session{Key: Key{1, 1}, RemoteTunnel: 10, RemoteSession: 11, Peer: addrB, Framing: ppp.Framing{AddressControl: true}}
	s2 := &Session{Key: Key{1, 2}, RemoteTunnel: 10, RemoteSession: 12, Peer: addrB, Framing: ppp.Framing{AddressControl: true}}
	p.Add(s1)
	p.Add(s2)
	p.SetPeerIP(s1, netip.MustParseAddr("198.19.1.1"))
	p.SetPeerIP(s2, netip.MustParseAddr("198.19.1.2"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.RunShared(ctx, shared) }()
	shared.Inject(ipv4Packet("198.19.0.1", "198.19.1.2", 20))
	shared.Inject(ipv4Packet("198.19.0.1", "198.19.1.1", 20))
	shared.Inject(ipv4Packet("198.19.0.1", "198.19.9.9", 20)) // nobody's
	// Receive on the shared device too.
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, ipv4Packet("198.19.1.2", "198.19.0.1", 5)...)
	for deadline := time.Now().Add(5 * time.Second); p.Drops()["no-session"] == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the packet for nobody was never dropped")
		}
		runtime.Gosched()
	}
	p.HandlePacket(append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, len(frame)), frame...), addrB)
	if got := <-shared.Outbound; len(got) != 25 {
		t.Fatalf("shared receive %x", got)
	}
	cancel()
	<-done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sent) != 2 {
		t.Fatalf("%d datagrams sent, want 2", len(w.sent))
	}
	h, _ := l2tp.ParseHeader(w.sent[0])
	if h.SessionID != 12 {
		t.Fatalf("first packet to session %d, want 12", h.SessionID)
	}
}

// nullDev counts writes without copying.
type nullDev struct{ n int }

func (d *nullDev) Read([]byte) (int, error)    { select {} }
func (d *nullDev) TryRead([]byte) (int, error) { return 0, netif.ErrWouldBlock }
func (d *nullDev) Write(b []byte) (int, error) { d.n++; return len(b), nil }
func (d *nullDev) Name() string                { return "null" }
func (d *nullDev) Close() error                { return nil }

type nullUnder struct{ n int }

func (u *nullUnder) WriteTo(b []byte, to netip.AddrPort) error { u.n++; return nil }

// TestZeroAllocs: an established session forwards an IP packet in either
// direction without allocating.
func TestZeroAllocs(t *testing.T) {
	under := &nullUnder{}
	p := New(under, nil, nil)
	dev := &nullDev{}
	s := &Session{Key: Key{1, 2}, RemoteTunnel: 3, RemoteSession: 4, Peer: addrB, Framing: ppp.Framing{AddressControl: true}, Device: dev, MSS: 1360, Sequencing: true}
	p.Add(s)
	ip := ipv4Packet("198.19.0.1", "198.19.1.10", 1000)
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, ip...)
	msg := append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, len(frame)), frame...)
	if n := testing.AllocsPerRun(1000, func() { p.HandlePacket(msg, addrB) }); n != 0 {
		t.Errorf("receive path: %.1f allocations per packet", n)
	}
	buf := make([]byte, Headroom+MaxPacket)
	copy(buf[Headroom:], ip)
	if n := testing.AllocsPerRun(1000, func() { p.sendIP(s, buf, len(ip)) }); n != 0 {
		t.Errorf("transmit path: %.1f allocations per packet", n)
	}
	if dev.n == 0 || under.n == 0 {
		t.Fatal("nothing forwarded")
	}
}

func BenchmarkReceive(b *testing.B) {
	p := New(&nullUnder{}, nil, nil)
	p.Add(&Session{Key: Key{1, 2}, Peer: addrB, Framing: ppp.Framing{AddressControl: true}, Device: &nullDev{}})
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, ipv4Packet("198.19.0.1", "198.19.1.10", 1400)...)
	msg := append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, len(frame)), frame...)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		p.HandlePacket(msg, addrB)
	}
}

func BenchmarkTransmit(b *testing.B) {
	p := New(&nullUnder{}, nil, nil)
	s := &Session{Key: Key{1, 2}, RemoteTunnel: 3, RemoteSession: 4, Peer: addrB, Framing: ppp.Framing{AddressControl: true}}
	p.Add(s)
	ip := ipv4Packet("198.19.0.1", "198.19.1.10", 1400)
	buf := make([]byte, Headroom+MaxPacket)
	copy(buf[Headroom:], ip)
	b.SetBytes(int64(len(ip)))
	b.ReportAllocs()
	for b.Loop() {
		p.sendIP(s, buf, len(ip))
	}
}

func FuzzHandlePacket(f *testing.F) {
	frame := append([]byte{0xff, 0x03, 0x00, 0x21}, ipv4Packet("198.19.0.1", "198.19.1.10", 40)...)
	f.Add(append(l2tp.AppendDataHeader(nil, 1, 2, false, 0, len(frame)), frame...))
	f.Add(append(l2tp.AppendDataHeader(nil, 1, 2, true, 7, len(frame)), frame...))
	f.Add([]byte{0x42, 0x02, 0, 8, 0, 1, 0, 2, 0xc0, 0x21})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := New(&nullUnder{}, func([]byte, netip.AddrPort) {}, nil)
		p.Add(&Session{Key: Key{1, 2}, Peer: addrB, Framing: ppp.Framing{AddressControl: true}, Device: &nullDev{}, MSS: 1200, Sequencing: true,
			OnFrame: func([]byte) {}})
		p.HandlePacket(b, addrB)
	})
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

// TestHeldUntilAdded: data for a session that is not installed yet is held
// and delivered, in order, when the session is added; held data expires.
func TestHeldUntilAdded(t *testing.T) {
	p := New(&nullUnder{}, nil, nil)
	lcp := func(id byte) []byte {
		return append(l2tp.AppendDataHeader(nil, 7, 8, false, 0, 8), 0xff, 0x03, 0xc0, 0x21, 1, id, 0, 4)
	}
	p.HandlePacket(lcp(1), addrB)
	p.HandlePacket(lcp(2), addrB)
	var got []byte
	s := &Session{Key: Key{7, 8}, Peer: addrB, Framing: ppp.Framing{AddressControl: true},
		OnFrame: func(f []byte) { got = append(got, f[5]) }}
	p.Add(s)
	if string(got) != "\x01\x02" || p.Held() != 2 {
		t.Fatalf("replayed %v (held %d), want frames 1 and 2 in order", got, p.Held())
	}
	if d := p.Drops()["unknown-session"]; d != 0 {
		t.Fatalf("unknown-session drops %d", d)
	}
	// Expired and overflowing held data counts as unknown-session.
	old := holdTime
	holdTime = 0
	defer func() { holdTime = old }()
	p.HandlePacket(append(l2tp.AppendDataHeader(nil, 9, 9, false, 0, 4), 0xff, 0x03, 0x00, 0x21), addrB)
	time.Sleep(time.Millisecond)
	p.Add(&Session{Key: Key{9, 9}, Peer: addrB})
	if d := p.Drops()["unknown-session"]; d != 1 {
		t.Fatalf("expired held message: unknown-session drops %d, want 1", d)
	}
}
