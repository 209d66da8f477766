package dataplane

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/ppp"
)

// testBind is a transport.Bind whose datagrams a test sees: each one sent
// is kept (keep) and handed, synchronously, to the peer port if there is
// one. Trains (SegmentSender) are split into their datagrams; noGSO makes
// it a bind without a SegmentSender.
type testBind struct {
	mu    sync.Mutex
	local netip.AddrPort
	peer  *Port
	keep  bool
	noGSO bool
	// dropEvery, when not 0, loses every dropEvery-th datagram (the
	// dropEvery-th, the 2*dropEvery-th, ...) before the peer port; it is
	// still counted and kept.
	dropEvery int
	sent      [][]byte
	trains    []int
	count     int
	closed    chan struct{}
}

func newTestBind(local netip.AddrPort, keep bool) *testBind {
	return &testBind{local: local, keep: keep, closed: make(chan struct{})}
}

func (w *testBind) WriteTo(b []byte, to netip.AddrPort) error {
	w.mu.Lock()
	w.count++
	if w.keep {
		w.sent = append(w.sent, append([]byte(nil), b...))
	}
	peer := w.peer
	if w.dropEvery > 0 && w.count%w.dropEvery == 0 {
		peer = nil
	}
	w.mu.Unlock()
	if peer != nil {
		peer.HandlePacket(b, w.local)
	}
	return nil
}

func (w *testBind) ServeBatch(h func([]byte, netip.AddrPort), flush func()) error {
	<-w.closed
	return nil
}
func (w *testBind) LocalAddr() netip.AddrPort { return w.local }
func (w *testBind) Close() error              { close(w.closed); return nil }

type trainSender struct{ w *testBind }

func (s trainSender) WriteSegments(b []byte, seg int, to netip.AddrPort) error {
	s.w.mu.Lock()
	s.w.trains = append(s.w.trains, seg)
	s.w.mu.Unlock()
	for off := 0; off < len(b); off += seg {
		s.w.WriteTo(b[off:min(off+seg, len(b))], to)
	}
	return nil
}

// testSegmentBind is a testBind that can send trains.
type testSegmentBind struct{ *testBind }

func (w testSegmentBind) NewSegmentSender() transport.SegmentSender {
	if w.noGSO {
		return nil
	}
	return trainSender{w.testBind}
}

func (w *testBind) take() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.sent
	w.sent = nil
	return d
}

// nullBind drops everything without copying.
type nullBind struct{ n int }

func (u *nullBind) WriteTo(b []byte, to netip.AddrPort) error             { u.n++; return nil }
func (u *nullBind) ServeBatch(func([]byte, netip.AddrPort), func()) error { return net.ErrClosed }
func (u *nullBind) LocalAddr() netip.AddrPort                             { return addrA }
func (u *nullBind) Close() error                                          { return nil }
func (u *nullBind) NewSegmentSender() transport.SegmentSender             { return nullSender{} }

type nullSender struct{}

func (nullSender) WriteSegments(b []byte, seg int, to netip.AddrPort) error { return nil }

// nullDev counts writes without copying; it cannot be watched.
type nullDev struct{ n int }

func (d *nullDev) Read([]byte) (int, error)    { select {} }
func (d *nullDev) TryRead([]byte) (int, error) { return 0, nil }
func (d *nullDev) Write(b []byte) (int, error) { d.n++; return len(b), nil }
func (d *nullDev) Name() string                { return "null" }
func (d *nullDev) Close() error                { return nil }

// offDev is nullDev with offloads.
type offDev struct{ nullDev }

func (d *offDev) Offload() bool { return true }

var (
	addrA = netip.MustParseAddrPort("198.18.0.1:1701")
	addrB = netip.MustParseAddrPort("198.18.0.2:1701")
	addrC = netip.MustParseAddrPort("198.18.0.3:1701")
)

var pppFraming = ppp.Framing{AddressControl: true}

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

// l2tpMsg is an L2TPv2 data message to our tunnel and session, carrying
// frame.
func l2tpMsg(tunnel, session uint16, seq bool, ns uint16, frame []byte) []byte {
	return append(l2tp.AppendDataHeader(nil, tunnel, session, seq, ns, len(frame)), frame...)
}

// ipFrame is a PPP frame of ip.
func ipFrame(ip []byte) []byte { return append([]byte{0xff, 0x03, 0x00, 0x21}, ip...) }

// l2tpSession is a session of our tunnel/session toward the peer's, from
// peer, sending through bind.
func l2tpSession(local, remote [2]uint16, peer netip.AddrPort, bind transport.Bind, seq bool) *Session {
	return NewSession(L2TPv2Key(local[0], local[1]), peer, bind, PayloadPPP, NewL2TPv2Encap(remote[0], remote[1], seq))
}

func mustAdd(t testing.TB, p *Plane, s *Session) {
	t.Helper()
	if err := p.Add(s); err != nil {
		t.Fatal(err)
	}
}

func mustAttach(t testing.TB, p *Plane, s *Session, a Attachment) {
	t.Helper()
	if err := p.Attach(s, a); err != nil {
		t.Fatal(err)
	}
}
