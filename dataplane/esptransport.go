package dataplane

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/esp"
)

// ESP transport mode under L2TP (L2TP/IPsec, RFC 3193): the UDP 1701
// bind of L2TP is wrapped by an ESPBind. L2TP writes to a peer that has a
// transport-mode SA are sealed as ESP whose payload is the UDP datagram
// (RFC 4303 §3.1.1: the kernel writes the IP header of the raw protocol-50
// socket, or of UDP 4500 with NAT-T, RFC 3948 §3); ESP arriving for such
// an SA is opened and handed to L2TP's port as if the datagram had come
// to 1701 from the SA's peer. A peer the crypto map says to protect is
// not spoken to in clear text: its clear datagrams are dropped and
// counted, as IOS drops them.
//
//	L2TP ─▶ ESPBind.WriteTo ─┬─ SA for the peer ─▶ [UDP 1701→port | L2TP] ─▶ Seal ─▶ raw 50 / UDP 4500
//	                         ├─ protected, no SA ─▶ Acquire, drop (esp-no-sa)
//	                         └─ not protected ─▶ UDP 1701 in clear
//	raw 50 / UDP 4500 ─▶ ESPBind.Input (SPI) ─▶ Open ─▶ UDP to our port ─▶ L2TP port (from = SA's peer)
//	UDP 1701 in clear from a protected peer ─▶ drop (esp-cleartext)
//
// The peer L2TP sees is the SA's Peer: for a peer behind a NAT the
// address and UDP port of its ESP after NAT-T, so that several clients
// behind one NAT (all speaking from their own port 1701 inside ESP) stay
// apart; otherwise its address and L2TP port.

// udpHeaderLen is the UDP header (RFC 768).
const udpHeaderLen = 8

// ESPBindConfig configures an ESPBind.
type ESPBindConfig struct {
	// Inner is the clear UDP bind (L2TP's port 1701).
	Inner transport.Bind
	// Acquire asks for an SA with a peer that must be protected and has
	// none (the first datagram of an LAC or client); it is called at
	// most once a second per peer, must not block.
	Acquire func(peer netip.AddrPort)
}

// TransportSA is an installed transport-mode SA pair.
type TransportSA struct {
	*ESPSA
	// peer is what L2TP sees (ESPBind's comment).
	peer netip.AddrPort
	// out is the bind ESP leaves through.
	out transport.Bind
	// sealMu serializes Seal: L2TP writes from many goroutines.
	sealMu sync.Mutex
	// inner is the peer's own L2TP port inside ESP, learnt from what it
	// sends (1701 until then).
	inner atomic.Uint32
	// active: the SA carries its peer's datagrams (an inbound-only one
	// waits for Activate); seq orders installations. Both under
	// ESPBind.mu.
	active bool
	seq    uint64
}

// L2TPPeer is the address L2TP knows the SA's peer by.
func (t *TransportSA) L2TPPeer() netip.AddrPort { return t.peer }

// ESPBind is an ESP-protected UDP bind (the comment above). It is a
// transport.Bind; its SAs, policy and ESP binds change while it runs.
type ESPBind struct {
	p   *Plane
	cfg ESPBindConfig

	mu     sync.Mutex // writers of the tables below
	seq    uint64     // installations so far (mu)
	bySPI  atomic.Pointer[map[uint32]*TransportSA]
	byPeer atomic.Pointer[map[netip.AddrPort]*TransportSA] // newest SA of each peer
	// protect says which peers must speak through ESP; nil: none.
	protect  atomic.Pointer[func(netip.Addr) bool]
	acquired sync.Map // netip.AddrPort → *atomic.Int64, last Acquire; deleted when the peer's SA is installed

	cleartext, noSA atomic.Uint64

	bufs sync.Pool // *[]byte of MaxPacket plus room for ESP
}

// NewESPBind wraps cfg.Inner.
func (p *Plane) NewESPBind(cfg ESPBindConfig) *ESPBind {
	b := &ESPBind{p: p, cfg: cfg}
	b.bySPI.Store(&map[uint32]*TransportSA{})
	b.byPeer.Store(&map[netip.AddrPort]*TransportSA{})
	b.bufs.New = func() any { s := make([]byte, MaxPacket+256); return &s }
	return b
}

var _ transport.Bind = (*ESPBind)(nil)

// Inner returns the clear bind.
func (b *ESPBind) Inner() transport.Bind { return b.cfg.Inner }

// SetProtect sets which peer addresses must be spoken to through ESP (the
// crypto map's transport-mode entries); nil protects none.
func (b *ESPBind) SetProtect(f func(netip.Addr) bool) {
	if f == nil {
		b.protect.Store(nil)
		return
	}
	b.protect.Store(&f)
}

func (b *ESPBind) protected(a netip.Addr) bool {
	f := b.protect.Load()
	return f != nil && (*f)(a)
}

// TransportSAConfig is a transport-mode SA pair as quick mode made it.
type TransportSAConfig struct {
	ESPSAConfig
	// L2TPPeer is the address L2TP knows the peer by (ESPBind's comment):
	// the ESP peer when it sits behind a NAT, else the peer's address
	// and L2TP port.
	L2TPPeer netip.AddrPort
	// Raw and UDP are the binds the SA's ESP leaves through: IP protocol
	// 50, and UDP 4500 when ESPSAConfig.UDP.
	Raw, UDPBind transport.Bind
	// InboundOnly installs the inbound half alone (a responder between
	// its QM2 and the initiator's QM3); Activate makes it send.
	InboundOnly bool
}

// Install adds a transport-mode SA pair; it carries its peer's datagrams
// from now on, ahead of an older SA with the same peer (make-before-break),
// unless c.InboundOnly.
func (b *ESPBind) Install(c TransportSAConfig) (*TransportSA, error) {
	sa, err := NewESPSA(c.ESPSAConfig)
	if err != nil {
		return nil, err
	}
	t := &TransportSA{ESPSA: sa, peer: c.L2TPPeer, out: c.Raw}
	if c.UDP {
		t.out = c.UDPBind
	}
	port := c.Remote.Port
	if port == 0 {
		port = 1701 // until the peer's first datagram says otherwise
	}
	t.inner.Store(uint32(port))
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.bySPI.Load()
	if _, ok := old[sa.SPIIn()]; ok {
		return nil, errors.New("dataplane: ESP SPI already installed")
	}
	m := make(map[uint32]*TransportSA, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[sa.SPIIn()] = t
	b.bySPI.Store(&m)
	b.seq++
	t.seq = b.seq
	if !c.InboundOnly {
		b.activate(t)
	}
	return t, nil
}

// Activate makes the inbound-only SA pair with inbound SPI spiIn carry its
// peer's datagrams, ahead of older ones; nil if there is no such SA.
func (b *ESPBind) Activate(spiIn uint32) *TransportSA {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := (*b.bySPI.Load())[spiIn]
	if t != nil && !t.active {
		b.activate(t)
	}
	return t
}

// activate (b.mu held) makes t its peer's outbound SA.
func (b *ESPBind) activate(t *TransportSA) {
	t.active = true
	op := *b.byPeer.Load()
	pm := make(map[netip.AddrPort]*TransportSA, len(op)+1)
	for k, v := range op {
		pm[k] = v
	}
	pm[t.peer] = t
	b.byPeer.Store(&pm)
	// The peer has an SA: its Acquire rate record is done with (it would
	// otherwise stay for every peer ever asked for).
	b.acquired.Delete(t.peer)
}

// Remove uninstalls the SA pair with inbound SPI spiIn; its peer falls
// back to its newest other active SA, if any.
func (b *ESPBind) Remove(spiIn uint32) *TransportSA {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.bySPI.Load()
	t := old[spiIn]
	if t == nil {
		return nil
	}
	m := make(map[uint32]*TransportSA, len(old))
	var next *TransportSA
	for k, v := range old {
		if k == spiIn {
			continue
		}
		m[k] = v
		if v.peer == t.peer && v.active && (next == nil || v.seq > next.seq) {
			next = v
		}
	}
	b.bySPI.Store(&m)
	op := *b.byPeer.Load()
	pm := make(map[netip.AddrPort]*TransportSA, len(op))
	for k, v := range op {
		pm[k] = v
	}
	if pm[t.peer] == t {
		delete(pm, t.peer)
		if next != nil {
			pm[t.peer] = next
		}
	}
	b.byPeer.Store(&pm)
	return t
}

// Lookup returns the SA pair with inbound SPI spiIn.
func (b *ESPBind) Lookup(spiIn uint32) *TransportSA { return (*b.bySPI.Load())[spiIn] }

// SAs returns the installed SA pairs by inbound SPI.
func (b *ESPBind) SAs() []*TransportSA {
	m := *b.bySPI.Load()
	out := make([]*TransportSA, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(x, y *TransportSA) int { return int(int64(x.SPIIn()) - int64(y.SPIIn())) })
	return out
}

// ESPBindStats are the bind's own drops: clear-text L2TP from a protected
// peer, and datagrams to a protected peer with no SA yet.
type ESPBindStats struct {
	Cleartext, NoSA uint64
}

// Stats returns the counters.
func (b *ESPBind) Stats() ESPBindStats {
	return ESPBindStats{Cleartext: b.cleartext.Load(), NoSA: b.noSA.Load()}
}

// WriteTo sends one L2TP datagram to peer: sealed when an SA covers the
// peer, dropped when the peer must be protected and has no SA yet, in
// clear otherwise.
func (b *ESPBind) WriteTo(p []byte, to netip.AddrPort) error {
	t := (*b.byPeer.Load())[to]
	if t == nil {
		if b.protected(to.Addr()) {
			b.noSA.Add(1)
			b.p.drop(DropESPNoSA)
			b.acquire(to)
			return nil // as a lost datagram: L2TP retransmits
		}
		return b.cfg.Inner.WriteTo(p, to)
	}
	bp := b.bufs.Get().(*[]byte)
	buf := *bp
	hl := t.sealer.HeaderLen()
	n := udpHeaderLen + len(p)
	if hl+n+t.sealer.MaxOverhead()+8 > len(buf) {
		b.bufs.Put(bp)
		t.sendErrors.Add(1)
		b.p.drop(DropTooBig)
		return errors.New("dataplane: datagram too long for ESP")
	}
	// The UDP header (RFC 768) in front of the datagram, where Seal
	// finds it in place. The checksum is 0, none: ESP's ICV covers the
	// segment, and a peer behind a NAT could not check one computed
	// over our addresses anyway (RFC 3948 §3.1.2).
	u := buf[hl : hl+n]
	binary.BigEndian.PutUint16(u[0:2], b.cfg.Inner.LocalAddr().Port())
	binary.BigEndian.PutUint16(u[2:4], uint16(t.inner.Load()))
	binary.BigEndian.PutUint16(u[4:6], uint16(n))
	u[6], u[7] = 0, 0
	copy(u[udpHeaderLen:], p)
	t.sealMu.Lock()
	sealed, err := t.sealer.Seal(buf[:0], u, esp.NextHeaderUDP)
	t.sealMu.Unlock()
	if err != nil {
		b.bufs.Put(bp)
		t.sendErrors.Add(1)
		b.p.drop(DropESPSeal)
		return err
	}
	dst := netip.AddrPortFrom(t.cfg.Peer.Addr(), 0)
	if t.cfg.UDP {
		dst = t.cfg.Peer
	}
	if t.out == nil {
		err = errors.New("dataplane: no ESP socket")
	} else {
		err = t.out.WriteTo(sealed, dst)
	}
	b.bufs.Put(bp)
	if err != nil {
		t.sendErrors.Add(1)
		b.p.drop(DropUnderlayWrite)
	}
	return err
}

func (b *ESPBind) acquire(to netip.AddrPort) {
	if b.cfg.Acquire == nil {
		return
	}
	v, _ := b.acquired.LoadOrStore(to, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := b.p.clock.Now().UnixNano()
	if l := last.Load(); now-l >= 1e9 && last.CompareAndSwap(l, now) {
		b.cfg.Acquire(to)
	}
}

// Input takes one ESP packet (from its SPI on) received from an ESP
// socket, and reports whether it was one of the bind's SAs'; an SPI it
// does not know is left to the caller (tunnel mode). deliver gets the
// L2TP datagram inside, with the SA's peer as its source. b is opened in
// place.
func (b *ESPBind) Input(p []byte, deliver func([]byte, netip.AddrPort)) bool {
	if len(p) < esp.HeaderLen {
		return false
	}
	t := (*b.bySPI.Load())[binary.BigEndian.Uint32(p[0:4])]
	if t == nil {
		return false
	}
	t.openMu.Lock()
	payload, nh, err := t.opener.Open(p)
	t.openMu.Unlock()
	if err != nil {
		t.recvErrors.Add(1)
		b.p.drop(espDrop(err))
		return true
	}
	if nh == esp.NextHeaderNone {
		return true // a dummy packet (RFC 4303 §2.6)
	}
	// RFC 4301 §5.2: what the SA carries is UDP to our L2TP port, within
	// the selectors (the peer's port, when it named one).
	if nh != esp.NextHeaderUDP || len(payload) < udpHeaderLen {
		t.policyDrops.Add(1)
		b.p.drop(DropESPPolicy)
		return true
	}
	sport := binary.BigEndian.Uint16(payload[0:2])
	dport := binary.BigEndian.Uint16(payload[2:4])
	ulen := int(binary.BigEndian.Uint16(payload[4:6]))
	if dport != b.cfg.Inner.LocalAddr().Port() || (t.cfg.Remote.Port != 0 && sport != t.cfg.Remote.Port) ||
		ulen < udpHeaderLen || ulen > len(payload) {
		t.policyDrops.Add(1)
		b.p.drop(DropESPPolicy)
		return true
	}
	if uint32(sport) != t.inner.Load() {
		t.inner.Store(uint32(sport))
	}
	if deliver != nil {
		deliver(payload[udpHeaderLen:ulen], t.peer)
	}
	return true
}

// ServeBatch reads the clear bind: a datagram from a peer that must be
// protected is dropped and counted, the others go to h.
func (b *ESPBind) ServeBatch(h func([]byte, netip.AddrPort), flush func()) error {
	return b.cfg.Inner.ServeBatch(func(p []byte, from netip.AddrPort) {
		if b.protected(from.Addr()) {
			b.cleartext.Add(1)
			b.p.drop(DropESPCleartext)
			return
		}
		h(p, from)
	}, flush)
}

// LocalAddr is the clear bind's.
func (b *ESPBind) LocalAddr() netip.AddrPort { return b.cfg.Inner.LocalAddr() }

// Close closes the clear bind (the ESP binds are their owner's).
func (b *ESPBind) Close() error { return b.cfg.Inner.Close() }

// NewSegmentSender makes ESPBind a transport.Segmenter: a train of L2TP
// datagrams (a TCP super-packet cut into segments) is sealed into a train
// of ESP packets of one size (all but the last) and leaves the way the
// plain train would: UDP 4500 with UDP_SEGMENT after NAT-T, sendmmsg
// batches on raw IP 50. Each sending goroutine has its own.
func (b *ESPBind) NewSegmentSender() transport.SegmentSender {
	s := &espSegSender{b: b, senders: map[transport.Bind]transport.SegmentSender{}}
	if sg, ok := b.cfg.Inner.(transport.Segmenter); ok {
		s.inner = sg.NewSegmentSender()
	}
	return s
}

var _ transport.Segmenter = (*ESPBind)(nil)

// espSegSender is one goroutine's SegmentSender of an ESPBind.
type espSegSender struct {
	b       *ESPBind
	inner   transport.SegmentSender // the clear bind's, for unprotected peers
	senders map[transport.Bind]transport.SegmentSender
	train   []byte
}

func (s *espSegSender) WriteSegments(p []byte, seg int, to netip.AddrPort) error {
	b := s.b
	t := (*b.byPeer.Load())[to]
	if t == nil || seg <= 0 {
		if t == nil && !b.protected(to.Addr()) && s.inner != nil {
			return s.inner.WriteSegments(p, seg, to)
		}
		for off := 0; off < len(p); off += max(seg, 1) {
			if err := b.WriteTo(p[off:min(off+max(seg, 1), len(p))], to); err != nil {
				return err
			}
		}
		return nil
	}
	hl := t.sealer.HeaderLen()
	stride := t.sealer.Overhead(udpHeaderLen+seg) + udpHeaderLen + seg
	if need := (len(p)/seg+1)*stride + t.sealer.MaxOverhead() + 8; need > len(s.train) {
		s.train = make([]byte, need) // once per sender and train size
	}
	lport := b.cfg.Inner.LocalAddr().Port()
	rport := uint16(t.inner.Load())
	n := 0
	t.sealMu.Lock()
	for off := 0; off < len(p); off += seg {
		d := p[off:min(off+seg, len(p))]
		u := s.train[n+hl : n+hl+udpHeaderLen+len(d)]
		binary.BigEndian.PutUint16(u[0:2], lport)
		binary.BigEndian.PutUint16(u[2:4], rport)
		binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
		u[6], u[7] = 0, 0
		copy(u[udpHeaderLen:], d)
		sealed, err := t.sealer.Seal(s.train[n:n], u, esp.NextHeaderUDP)
		if err != nil {
			t.sealMu.Unlock()
			t.sendErrors.Add(1)
			b.p.drop(DropESPSeal)
			return err
		}
		n += len(sealed)
		if len(sealed) != stride && off+seg < len(p) {
			// Padding depends on the length only: equal datagrams seal
			// to equal packets, or the train could not be cut again.
			t.sealMu.Unlock()
			t.sendErrors.Add(1)
			b.p.drop(DropESPSeal)
			return errors.New("dataplane: ESP train of uneven packets")
		}
	}
	t.sealMu.Unlock()
	dst := netip.AddrPortFrom(t.cfg.Peer.Addr(), 0)
	if t.cfg.UDP {
		dst = t.cfg.Peer
	}
	if t.out == nil {
		t.sendErrors.Add(1)
		return errors.New("dataplane: no ESP socket")
	}
	snd, ok := s.senders[t.out]
	if !ok {
		if sg, can := t.out.(transport.Segmenter); can {
			snd = sg.NewSegmentSender()
		}
		s.senders[t.out] = snd
	}
	var err error
	if snd != nil {
		err = snd.WriteSegments(s.train[:n], stride, dst)
	} else {
		for off := 0; off < n && err == nil; off += stride {
			err = t.out.WriteTo(s.train[off:min(off+stride, n)], dst)
		}
	}
	if err != nil {
		t.sendErrors.Add(1)
		b.p.drop(DropUnderlayWrite)
	}
	return err
}
