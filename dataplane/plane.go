package dataplane

// The L2TP data path, PPP-in-L2TP over UDP (RFC 2661 §3.1) to and from IP
// packets on TUN devices.
//
// Receive (underlay to interface), called by the socket's batch reader:
//
//	HandlePacket ─▶ control (T=1) ────────────────▶ Control (the L2TP node)
//	             └▶ data ─▶ table[tunnel,session] ─▶ PPP header
//	                        IPv4, IPv6 ─▶ [MSS clamp] ─▶ Session.Device.Write
//	                        other PPP  ─────────────▶ Session.OnFrame (LCP, IPCP, ...)
//
// (through a Receiver, IP for a device with offloads is coalesced per TCP
// flow and written at the end of the socket's batch: offload.go)
//
// Transmit (interface to underlay), one reader per device:
//
//	Device.Read into buf[Headroom:] ─▶ session: the device's own, or by
//	destination address on a shared device ─▶ [MSS clamp] ─▶ PPP and L2TP
//	headers written into the headroom ─▶ Underlay.WriteTo(peer)
//
// (on a device with offloads a read may be a TCP super-packet: it leaves
// as a train of segments, one UDP_SEGMENT send: offload.go)
//
// Neither path allocates per packet; bad packets are dropped and counted
// by reason.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// Underlay sends datagrams to the peers: the L2TP UDP socket.
type Underlay interface {
	WriteTo(b []byte, to netip.AddrPort) error
}

// Key identifies a session as data messages addressed to us name it: our
// tunnel ID and our session ID.
type Key struct {
	Tunnel, Session uint16
}

func (k Key) u32() uint32 { return uint32(k.Tunnel)<<16 | uint32(k.Session) }

// Session is one PPP session's data path. The control plane fills it in and
// installs it with Plane.Add once LCP (for OnFrame) or IPCP (for IP) is up;
// fields must not change after Add, except through the Plane's methods.
type Session struct {
	Key                         Key
	RemoteTunnel, RemoteSession uint16
	Peer                        netip.AddrPort
	// Sequencing sends Ns on data messages and drops out-of-order ones.
	Sequencing bool
	// Framing is how we write PPP headers (LCP-negotiated ACFC/PFC).
	Framing ppp.Framing
	// Device is the session's own interface (a Virtual-Access or
	// Virtual-PPP TUN). Nil on a shared device, where PeerIP finds it.
	Device netif.Device
	// PeerIP is the address IPCP gave the peer: on a shared device,
	// packets to it go to this session.
	PeerIP netip.Addr
	// MSS clamps TCP SYNs in both directions (ip tcp adjust-mss); 0: off.
	MSS uint16
	// MTU drops IP packets from the interface that are larger (0: none).
	MTU int
	// OnFrame receives the PPP frames that are not IP data (LCP, IPCP,
	// authentication, ...), whole: address/control, protocol, information.
	// It is called on the receive path and must not block or keep the slice.
	OnFrame func(frame []byte)

	// att is what the data path uses: Device, Framing, MSS and MTU as
	// installed, replaced by Attach (IPCP opened: the interface exists and
	// the framing is final).
	att atomic.Pointer[attachment]

	txNs   atomic.Uint32 // next Ns to send
	rxNext atomic.Uint32 // next Ns expected + 1<<16 once any was seen

	RxPkts, RxBytes atomic.Uint64
	TxPkts, TxBytes atomic.Uint64
}

type attachment struct {
	dev     netif.Device
	framing ppp.Framing
	mss     uint16
	mtu     int
}

// Counters is a snapshot of a session's counters.
type Counters struct {
	RxPkts, RxBytes, TxPkts, TxBytes uint64
}

// Counters returns the session's packet and byte counts.
func (s *Session) Counters() Counters {
	return Counters{s.RxPkts.Load(), s.RxBytes.Load(), s.TxPkts.Load(), s.TxBytes.Load()}
}

// DropReason says why a packet was dropped.
type DropReason uint8

const (
	DropShort          DropReason = iota // shorter than its headers
	DropBadHeader                        // L2TP header malformed or not version 2
	DropUnknownSession                   // no session with these IDs
	DropBadPPP                           // PPP header malformed
	DropUnhandledPPP                     // non-IP PPP frame and no control handler
	DropOutOfOrder                       // sequencing on and Ns went backwards
	DropNoSession                        // packet from a device that no session owns
	DropTooBig                           // larger than the session MTU
	DropNotIP                            // not an IPv4/IPv6 packet
	DropDeviceWrite                      // the interface refused the packet
	DropUnderlayWrite                    // the socket refused the datagram
	DropBadOffload                       // virtio_net_hdr inconsistent with its packet
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"short", "bad-header", "unknown-session", "bad-ppp", "unhandled-ppp",
	"out-of-order", "no-session", "too-big", "not-ip", "device-write", "underlay-write",
	"bad-offload",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Headroom is the space Device reads leave in front of a packet for the
// L2TP (with sequence numbers) and PPP headers.
const Headroom = 12 + ppp.MaxHeaderLen

// MaxPacket is the largest IP packet the data path carries.
const MaxPacket = 65535

const nShards = 64

type shard struct {
	mu sync.RWMutex
	m  map[uint32]*Session
}

// Plane is the data path of one underlay socket.
type Plane struct {
	under   Underlay
	control func(b []byte, from netip.AddrPort)
	log     *slog.Logger

	shards [nShards]shard

	addrMu sync.RWMutex
	byAddr map[netip.Addr]*Session // shared-device lookup
	devs   map[netif.Device]*Session

	shared atomic.Pointer[sharedDev]

	drops [numDropReasons]atomic.Uint64

	// Data for a session that is not installed yet is held briefly and
	// replayed when it is: the first LCP frame of a call overtakes the
	// control plane's Add (an LNS gets it right behind the ICCN, a LAC
	// before Dial returns), and losing it costs PPP a 3 s retransmission.
	heldMu sync.Mutex
	held   []heldMsg
	nHeld  atomic.Uint64

	logMu   sync.Mutex
	lastLog time.Time
}

// New returns a Plane that sends through under and passes L2TP control
// messages to control (for example proto/l2tp's Node.HandlePacket).
func New(under Underlay, control func(b []byte, from netip.AddrPort), log *slog.Logger) *Plane {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plane{under: under, control: control, log: log, byAddr: map[netip.Addr]*Session{}, devs: map[netif.Device]*Session{}}
	for i := range p.shards {
		p.shards[i].m = map[uint32]*Session{}
	}
	return p
}

type heldMsg struct {
	key  uint32
	b    []byte
	from netip.AddrPort
	at   time.Time
}

// Bounds of the held messages: how many, and for how long.
var (
	maxHeld  = 64
	holdTime = 2 * time.Second
)

// hold keeps a copy of a data message for an unknown session; the oldest
// and the expired ones are dropped (counted as unknown-session).
func (p *Plane) hold(k uint32, b []byte, from netip.AddrPort) {
	now := time.Now()
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	p.expireLocked(now)
	if len(p.held) >= maxHeld {
		p.held = p.held[1:]
		p.drops[DropUnknownSession].Add(1)
	}
	p.held = append(p.held, heldMsg{key: k, b: append([]byte(nil), b...), from: from, at: now})
	p.nHeld.Add(1)
}

func (p *Plane) expireLocked(now time.Time) {
	i := 0
	for i < len(p.held) && now.Sub(p.held[i].at) > holdTime {
		i++
	}
	if i > 0 {
		p.drops[DropUnknownSession].Add(uint64(i))
		p.held = append(p.held[:0], p.held[i:]...)
	}
}

// claim removes and returns the held messages of key, in arrival order.
func (p *Plane) claim(k uint32) []heldMsg {
	p.heldMu.Lock()
	defer p.heldMu.Unlock()
	p.expireLocked(time.Now())
	var out []heldMsg
	keep := p.held[:0]
	for _, m := range p.held {
		if m.key == k {
			out = append(out, m)
		} else {
			keep = append(keep, m)
		}
	}
	p.held = keep
	return out
}

// Held returns how many data messages waited for their session so far.
func (p *Plane) Held() uint64 { return p.nHeld.Load() }

// ErrExists is returned when a session with the same key is installed.
var ErrExists = errors.New("dataplane: session already installed")

// Add installs a session.
func (p *Plane) Add(s *Session) error {
	s.att.Store(&attachment{dev: s.Device, framing: s.Framing, mss: s.MSS, mtu: s.MTU})
	sh := &p.shards[s.Key.u32()%nShards]
	sh.mu.Lock()
	if _, ok := sh.m[s.Key.u32()]; ok {
		sh.mu.Unlock()
		return fmt.Errorf("%w: tunnel %d session %d", ErrExists, s.Key.Tunnel, s.Key.Session)
	}
	sh.m[s.Key.u32()] = s
	sh.mu.Unlock()
	p.addrMu.Lock()
	if s.PeerIP.IsValid() && s.Device == nil {
		p.byAddr[s.PeerIP] = s
	}
	if s.Device != nil {
		p.devs[s.Device] = s
	}
	p.addrMu.Unlock()
	for _, m := range p.claim(s.Key.u32()) {
		p.HandlePacket(m.b, m.from)
	}
	return nil
}

// Attach gives an installed session its interface and final framing, MSS
// and MTU once the network protocol is up: IP then flows. dev nil means
// the shared device.
func (p *Plane) Attach(s *Session, dev netif.Device, framing ppp.Framing, mss uint16, mtu int) {
	p.addrMu.Lock()
	if old := s.att.Load(); old != nil && old.dev != nil && p.devs[old.dev] == s {
		delete(p.devs, old.dev)
	}
	s.Device = dev
	if dev != nil {
		p.devs[dev] = s
	}
	s.att.Store(&attachment{dev: dev, framing: framing, mss: mss, mtu: mtu})
	p.addrMu.Unlock()
}

// SetPeerIP records the address IPCP assigned, for the shared device.
func (p *Plane) SetPeerIP(s *Session, a netip.Addr) {
	p.addrMu.Lock()
	if s.PeerIP.IsValid() && p.byAddr[s.PeerIP] == s {
		delete(p.byAddr, s.PeerIP)
	}
	s.PeerIP = a
	if s.Device == nil && a.IsValid() {
		p.byAddr[a] = s
	}
	p.addrMu.Unlock()
}

// Remove uninstalls a session; its packets are dropped from then on.
func (p *Plane) Remove(k Key) {
	sh := &p.shards[k.u32()%nShards]
	sh.mu.Lock()
	s := sh.m[k.u32()]
	delete(sh.m, k.u32())
	sh.mu.Unlock()
	if s == nil {
		return
	}
	p.addrMu.Lock()
	if s.PeerIP.IsValid() && p.byAddr[s.PeerIP] == s {
		delete(p.byAddr, s.PeerIP)
	}
	if s.Device != nil && p.devs[s.Device] == s {
		delete(p.devs, s.Device)
	}
	p.addrMu.Unlock()
}

// Lookup returns the session with key k.
func (p *Plane) Lookup(k Key) *Session {
	sh := &p.shards[k.u32()%nShards]
	sh.mu.RLock()
	s := sh.m[k.u32()]
	sh.mu.RUnlock()
	return s
}

// Len returns the number of installed sessions.
func (p *Plane) Len() int {
	n := 0
	for i := range p.shards {
		p.shards[i].mu.RLock()
		n += len(p.shards[i].m)
		p.shards[i].mu.RUnlock()
	}
	return n
}

// Drops returns the drop counters by reason.
func (p *Plane) Drops() map[string]uint64 {
	out := make(map[string]uint64, numDropReasons)
	for i := range p.drops {
		out[DropReason(i).String()] = p.drops[i].Load()
	}
	return out
}

func (p *Plane) drop(r DropReason) { p.dropN(r, 1) }

func (p *Plane) dropN(r DropReason, n int) {
	p.drops[r].Add(uint64(n))
	// Data-path logs are rate-limited to one a second.
	p.logMu.Lock()
	now := time.Now()
	if now.Sub(p.lastLog) < time.Second {
		p.logMu.Unlock()
		return
	}
	p.lastLog = now
	p.logMu.Unlock()
	p.log.Debug("data packet dropped", "reason", r.String(), "total", p.drops[r].Load())
}

// HandlePacket takes one datagram from the underlay socket. b is not kept
// (the caller reuses it), but IP packets are written to a device from it
// in place. A socket reader does better with a Receiver, which coalesces
// TCP segments for devices with offloads.
func (p *Plane) HandlePacket(b []byte, from netip.AddrPort) { p.handle(b, from, nil) }

func (p *Plane) handle(b []byte, from netip.AddrPort, r *Receiver) {
	if len(b) < 2 {
		p.drop(DropShort)
		return
	}
	// Control messages (T bit) and L2TPv3 (version 3 over UDP) go to the
	// control plane.
	if b[0]&0x80 != 0 || b[1]&0x0f == 3 {
		if p.control != nil {
			p.control(b, from)
		}
		return
	}
	h, err := l2tp.ParseHeader(b)
	if err != nil {
		p.drop(DropBadHeader)
		return
	}
	s := p.Lookup(Key{h.TunnelID, h.SessionID})
	if s == nil {
		p.hold(Key{h.TunnelID, h.SessionID}.u32(), b, from)
		return
	}
	if s.Sequencing && h.HasSequence() {
		// rxNext holds the next expected Ns, plus 1<<16 once one was seen.
		cur := s.rxNext.Load()
		if cur>>16 != 0 && l2tp.SeqLess(h.Ns, uint16(cur)) {
			p.drop(DropOutOfOrder)
			return
		}
		s.rxNext.Store(1<<16 | uint32(h.Ns+1))
	}
	frame := h.Payload(b)
	proto, info, err := ppp.ParseFrame(frame)
	if err != nil {
		p.drop(DropBadPPP)
		return
	}
	switch proto {
	case ppp.ProtoIPv4, ppp.ProtoIPv6:
		att := s.att.Load()
		dev := att.dev
		if dev == nil {
			dev = p.shared.Load().dev()
		}
		if dev == nil {
			p.drop(DropNoSession)
			return
		}
		if att.mss != 0 {
			ClampMSS(info, att.mss)
		}
		// Counted when received, before the device write (as the GRO path
		// counts a segment when it takes it): a write that fails is a
		// device-write drop on top.
		s.RxPkts.Add(1)
		s.RxBytes.Add(uint64(len(info)))
		var err error
		switch {
		case !hasOffload(dev):
			_, err = dev.Write(info)
		case r != nil:
			err = r.deliver(dev, info)
		default:
			bp := vnetScratch.Get().(*[]byte)
			err = writeVnet(dev, *bp, info)
			vnetScratch.Put(bp)
		}
		if err != nil {
			p.drop(DropDeviceWrite)
			return
		}
	default:
		if s.OnFrame == nil {
			p.drop(DropUnhandledPPP)
			return
		}
		s.OnFrame(frame)
	}
}

// sharedDev holds the device of shared-interface mode.
type sharedDev struct{ d netif.Device }

func (s *sharedDev) dev() netif.Device {
	if s == nil {
		return nil
	}
	return s.d
}

// SendFrame sends a PPP frame of protocol proto (LCP, IPCP, ...) on the
// session. It is the control plane's output path; it allocates.
func (p *Plane) SendFrame(s *Session, proto ppp.Protocol, info []byte) error {
	buf := make([]byte, Headroom+len(info))
	copy(buf[Headroom:], info)
	return p.send(s, buf, Headroom, len(info), proto)
}

// send encapsulates buf[off:off+n] (headroom before off) and sends it.
func (p *Plane) send(s *Session, buf []byte, off, n int, proto ppp.Protocol) error {
	start, err := s.att.Load().framing.Prepend(buf, off, proto)
	if err != nil {
		return err
	}
	frameLen := off + n - start
	hl := l2tp.DataHeaderLen(s.Sequencing)
	if start < hl {
		return fmt.Errorf("dataplane: %d octets of headroom, need %d", start, hl)
	}
	hs := start - hl
	var ns uint16
	if s.Sequencing {
		ns = uint16(s.txNs.Add(1) - 1)
	}
	l2tp.AppendDataHeader(buf[hs:hs], s.RemoteTunnel, s.RemoteSession, s.Sequencing, ns, frameLen)
	if err := p.under.WriteTo(buf[hs:off+n], s.Peer); err != nil {
		p.drop(DropUnderlayWrite)
		return err
	}
	return nil
}

// sendIP is the transmit fast path for one IP packet at buf[Headroom:Headroom+n].
func (p *Plane) sendIP(s *Session, buf []byte, n int) {
	pkt := buf[Headroom : Headroom+n]
	att := s.att.Load()
	if att.mtu != 0 && n > att.mtu {
		p.drop(DropTooBig)
		return
	}
	var proto ppp.Protocol
	switch pkt[0] >> 4 {
	case 4:
		proto = ppp.ProtoIPv4
	case 6:
		proto = ppp.ProtoIPv6
	default:
		p.drop(DropNotIP)
		return
	}
	if att.mss != 0 {
		ClampMSS(pkt, att.mss)
	}
	if p.send(s, buf, Headroom, n, proto) == nil {
		s.TxPkts.Add(1)
		s.TxBytes.Add(uint64(n))
	}
}

// RunDevice reads IP packets from a session's own device and sends them
// into the tunnel until the device is closed or ctx is done.
func (p *Plane) RunDevice(ctx context.Context, dev netif.Device) error {
	return p.runDevice(ctx, dev, func(pkt []byte) *Session {
		p.addrMu.RLock()
		s := p.devs[dev]
		p.addrMu.RUnlock()
		return s
	})
}

// RunShared makes dev the shared device (shared-interface mode: one TUN for
// every session, sessions found by destination address) and forwards its
// packets until it is closed or ctx is done.
func (p *Plane) RunShared(ctx context.Context, dev netif.Device) error {
	p.shared.Store(&sharedDev{dev})
	defer p.shared.Store(nil)
	return p.runDevice(ctx, dev, func(pkt []byte) *Session {
		var dst netip.Addr
		switch {
		case pkt[0]>>4 == 4 && len(pkt) >= 20:
			dst = netip.AddrFrom4([4]byte(pkt[16:20]))
		case pkt[0]>>4 == 6 && len(pkt) >= 40:
			dst = netip.AddrFrom16([16]byte(pkt[24:40]))
		default:
			return nil
		}
		p.addrMu.RLock()
		s := p.byAddr[dst]
		p.addrMu.RUnlock()
		return s
	})
}

func (p *Plane) runDevice(ctx context.Context, dev netif.Device, find func([]byte) *Session) error {
	stop := context.AfterFunc(ctx, func() { dev.Close() })
	defer stop()
	buf := make([]byte, Headroom+MaxPacket)
	// With offloads the virtio_net_hdr is read into the end of the
	// headroom, which it leaves free again once decoded.
	var tx *txState
	rd := buf[Headroom:]
	if hasOffload(dev) {
		tx = newTxState(p.under)
		rd = buf[Headroom-vnet.HdrLen:]
	}
	for {
		n, err := dev.Read(rd)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, netif.ErrClosed) || errors.Is(err, fs.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dataplane: read %s: %w", dev.Name(), err)
		}
		var h vnet.Hdr
		if tx != nil {
			if h, err = vnet.Decode(rd[:n]); err != nil {
				p.drop(DropShort)
				continue
			}
			n -= vnet.HdrLen
		}
		if n < 1 {
			p.drop(DropShort)
			continue
		}
		pkt := buf[Headroom : Headroom+n]
		s := find(pkt)
		if s == nil {
			p.drop(DropNoSession)
			continue
		}
		if tx != nil {
			if h.IsGSO() {
				p.sendGSO(tx, s, h, pkt)
				continue
			}
			if h.Flags&vnet.FlagNeedsCsum != 0 && vnet.CompleteChecksum(pkt, int(h.CsumStart), int(h.CsumOffset)) != nil {
				p.drop(DropBadOffload)
				continue
			}
		}
		p.sendIP(s, buf, n)
	}
}
