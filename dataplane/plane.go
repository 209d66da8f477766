package dataplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/ppp"
)

// Payload is what a session's data messages carry.
type Payload uint8

const (
	// PayloadPPP: PPP frames (L2TPv2, PPTP, L2TPv3 PPP pseudowires, PPPoE).
	PayloadPPP Payload = iota
	// PayloadEthernet: Ethernet frames (L2TPv3 Ethernet pseudowires) to
	// and from a TAP or a host device.
	PayloadEthernet
	// PayloadIP: bare IP packets (GRE, VTI).
	PayloadIP
)

// Session is one session's data path. The control plane fills in the
// exported fields and installs it with Plane.Add; they must not change
// after that. What changes while the session lives goes through methods:
// SetEncap, Plane.Attach, Plane.Detach.
type Session struct {
	Key Key
	// Peer is where the session's data messages come from and go to: a
	// data message from any other address and port is dropped.
	Peer netip.AddrPort
	// Bind is the socket the session's data messages leave through.
	Bind    transport.Bind
	Payload Payload
	// TOSReflect gives each datagram the Type of Service (DSCP and ECN)
	// of the IPv4 or IPv6 packet it carries — for an Ethernet frame the
	// one after its 802.1Q tags — through a Bind that is a
	// transport.TOSWriter (pseudowire-class `ip tos reflect`). Payloads
	// that are not IP keep the socket's ToS.
	TOSReflect bool
	// OnFrame receives the PPP frames that are not IP (LCP, IPCP,
	// authentication, CCP, ...), whole (address/control, protocol,
	// information). It is called on the receive path and must neither
	// block nor keep the slice.
	OnFrame func(frame []byte)
	// OnResync is called when MPPE (SetMPPE) lost packets on a stateful
	// link: the PPP link sends a CCP Reset-Request (RFC 3078 §8.2). It is
	// called on the receive path and must not block; nil: nothing is sent
	// and the link stays mute until the peer's next flag packet.
	OnResync func()
	// OnLink6 receives the IPv6 link control the session sends: Router
	// Solicitations and Advertisements (RFC 4861 §4.1, §4.2) and DHCPv6
	// to port Link6DHCP (RFC 8415: 547 to a server, 546 to a client; 0:
	// none), which the PPP link's control plane
	// answers in user space (RFC 5072 §5) instead of the kernel: they do
	// not reach the device. Called on the receive path, after
	// the session is attached and before the source check (a solicitation
	// may come from the unspecified address); it must neither block nor
	// keep the slice. nil: they go to the device like any packet.
	OnLink6   func(pkt []byte)
	Link6DHCP uint16

	p     *Plane
	encap atomic.Pointer[encapBox]
	att   atomic.Pointer[attachment]
	mppe  atomic.Pointer[mppeStage]

	rxPkts, rxBytes, txPkts, txBytes atomic.Uint64
	seqDrops, spoofDrops             atomic.Uint64
	// ctlRx and ctlTx count the PPP control frames among the packets
	// (LCP echoes and the like), so that an idle timer sees data only.
	ctlRx, ctlTx atomic.Uint64
	cookieDrops  atomic.Uint64
}

type encapBox struct{ e Encap }

// NewSession returns a session with its encapsulation, ready for Add.
func NewSession(key Key, peer netip.AddrPort, bind transport.Bind, payload Payload, e Encap) *Session {
	s := &Session{Key: key, Peer: peer, Bind: bind, Payload: payload}
	s.encap.Store(&encapBox{e})
	return s
}

// SetEncap replaces the session's encapsulation (sequencing switched on,
// the peer's IDs learned).
func (s *Session) SetEncap(e Encap) { s.encap.Store(&encapBox{e}) }

// Encap returns the session's encapsulation.
func (s *Session) Encap() Encap {
	if b := s.encap.Load(); b != nil {
		return b.e
	}
	return nil
}

// Attachment is what a session's payload is delivered to once its
// network layer is up: its own interface, or the shared one.
type Attachment struct {
	// Device is the session's own interface (a Virtual-Access or
	// Virtual-PPP TUN, a TAP); nil puts the session on the shared device,
	// where packets to PeerAddrs find it.
	Device netif.Device
	// Framing is the PPP header the data path writes (LCP's ACFC/PFC).
	Framing ppp.Framing
	// MSS clamps TCP SYNs in both directions (ip tcp adjust-mss); 0: off.
	MSS uint16
	// MTU drops larger packets from the interface (0: none).
	MTU int
	// Sources, when not nil, is what the session may send from: an IP
	// packet whose source it does not own is dropped (spoofed-source), as
	// IOS's `ip verify unicast source reachable-via rx` does. nil: no check
	// (a client: its server sends from anywhere).
	Sources *Sources
	// PeerAddrs are the addresses the shared device sends to this session
	// (the peer's negotiated address); unused with a Device.
	PeerAddrs []netip.Addr
}

// WriteOnly is implemented by a device the data plane writes to but never
// reads (a load generator's sink of replies): no poller watches it.
type WriteOnly interface {
	WriteOnly() bool
}

type attachment struct {
	Attachment
	watch *netif.Watch
}

// Counters is a snapshot of a session's counters: every frame of the
// session's data channel, PPP control frames included, with its payload
// length (the frame after the carrier's header).
type Counters struct {
	RxPkts, RxBytes, TxPkts, TxBytes uint64
	// SeqDrops and SpoofDrops count what this session dropped: out of
	// order, and IP from a source it does not own.
	SeqDrops, SpoofDrops uint64
	// CtlRxPkts and CtlTxPkts are the PPP control frames among RxPkts
	// and TxPkts: the rest is data.
	CtlRxPkts, CtlTxPkts uint64
	// CookieDrops counts L2TPv3 data messages with a wrong cookie.
	CookieDrops uint64
}

// Counters returns the session's counters.
func (s *Session) Counters() Counters {
	return Counters{RxPkts: s.rxPkts.Load(), RxBytes: s.rxBytes.Load(), TxPkts: s.txPkts.Load(), TxBytes: s.txBytes.Load(),
		SeqDrops: s.seqDrops.Load(), SpoofDrops: s.spoofDrops.Load(), CtlRxPkts: s.ctlRx.Load(), CtlTxPkts: s.ctlTx.Load(),
		CookieDrops: s.cookieDrops.Load()}
}

// DropReason says why a packet was dropped.
type DropReason uint8

const (
	dropNone           DropReason = iota
	DropShort                     // shorter than its headers
	DropBadHeader                 // carrier header malformed
	DropUnknownSession            // no session with this key
	DropWrongPeer                 // the session's key from an address that is not its peer
	DropOutOfOrder                // sequencing on and the number went backwards
	DropBadPPP                    // PPP header malformed
	DropUnhandledPPP              // non-IP PPP frame and no control handler
	DropNotAttached               // IP for a session whose network layer is not up
	DropSpoofed                   // IP from a source the session does not own
	DropNoSession                 // a packet from a device that no session owns
	DropTooBig                    // larger than the session MTU
	DropNotIP                     // not an IPv4/IPv6 packet
	DropDeviceWrite               // the interface refused the packet
	DropUnderlayWrite             // the socket refused the datagram
	DropBadOffload                // virtio_net_hdr inconsistent with its packet
	DropNotPPTP                   // GRE that is not enhanced GRE version 1 carrying PPP (RFC 2637 §4.1)
	DropUnencrypted               // a plain IP frame while MPPE is on (RFC 3078 §3)
	DropMPPEResync                // MPPE loss on a stateful link: the packet is lost, a Reset-Request asked (RFC 3078 §8.2)
	DropMPPEDiscarding            // MPPE, stateful, after loss: waiting for a flushed packet
	DropMPPELate                  // MPPE coherency count not ahead: replayed, duplicated or reordered
	DropMPPEBad                   // MPPE packet malformed: short, compressed, not encrypted, stateless not flushed
	DropESPBad                    // ESP shorter than its header, bad length or padding (RFC 4303 §2)
	DropESPUnknownSPI             // ESP with an SPI of no inbound SA (RFC 4303 §3.4.2)
	DropESPReplay                 // ESP replayed or older than the window (RFC 4303 §3.4.3)
	DropESPICV                    // ESP integrity check failed (RFC 4303 §3.4.4)
	DropESPPolicy                 // decrypted packet outside its SA's selectors (RFC 4301 §5.2)
	DropESPNoSA                   // a packet the crypto ACL permits while its SA is being negotiated (IOS drops)
	DropESPBypass                 // a packet of the crypto TUN the crypto ACL denies or does not match
	DropESPNotIP                  // ESP tunnel-mode payload that is not an IPv4 packet
	DropESPSeal                   // sealing refused (sequence numbers exhausted, IV source)
	DropBadCookie                 // L2TPv3 cookie not the one the session expects (RFC 3931 §4.1)
	DropESPCleartext              // clear-text L2TP from a peer the crypto map protects (L2TP/IPsec)
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"", "short", "bad-header", "unknown-session", "wrong-peer", "out-of-order", "bad-ppp", "unhandled-ppp",
	"not-attached", "spoofed-source", "no-session", "too-big", "not-ip", "device-write", "underlay-write",
	"bad-offload", "not-pptp", "unencrypted", "mppe-resync", "mppe-discarding", "mppe-late", "mppe-bad",
	"esp-bad", "esp-unknown-spi", "esp-replay", "esp-icv", "esp-policy", "esp-no-sa", "esp-bypass", "esp-not-ip", "esp-seal",
	"bad-cookie", "esp-cleartext",
}

func (r DropReason) String() string {
	if r < numDropReasons && r != dropNone {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Headroom is the space left in front of a packet read from a device for
// the headers written in place: the carrier's (at most MaxEncapLen) and
// PPP's; with offloads the virtio_net_hdr is read into its end.
const Headroom = MaxEncapLen + ppp.MaxHeaderLen

// MaxEncapLen bounds Encap.Len.
const MaxEncapLen = 96

// MaxPacket is the largest IP packet the data path carries.
const MaxPacket = 65535

const nShards = 64

type shard struct {
	mu sync.RWMutex
	m  map[Key]*Session // Key is a uint64: the map's fast path
}

// Config configures a Plane. Everything may be zero.
type Config struct {
	Clock  clock.Clock  // nil: clock.Real
	Logger *slog.Logger // nil: no logging
	// Workers read the devices (netif.Poller); 0: 2.
	Workers int
	// PPTPAckDelay is how long a PPTP session waits for a data packet of
	// its own to carry the acknowledgment of what it received before it
	// sends an acknowledgment alone (RFC 2637 §4.2); 0: 100 ms.
	PPTPAckDelay time.Duration
}

// DefaultPPTPAckDelay is Config.PPTPAckDelay's default: what pptp-linux
// waits before an ack-only packet.
const DefaultPPTPAckDelay = 100 * time.Millisecond

// Plane is the data path of a node: its session table, its devices and
// its counters. Ports feed it the datagrams of binds.
type Plane struct {
	clock    clock.Clock
	log      *slog.Logger
	ackDelay time.Duration

	shards [nShards]shard
	poller *netif.Poller

	addrMu sync.RWMutex
	byAddr map[netip.Addr]*Session // shared-device lookup

	shared atomic.Pointer[sharedDev]

	drops [numDropReasons]atomic.Uint64

	logMu   sync.Mutex
	lastLog time.Time
}

// New returns an empty Plane.
func New(cfg Config) *Plane {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.PPTPAckDelay <= 0 {
		cfg.PPTPAckDelay = DefaultPPTPAckDelay
	}
	p := &Plane{clock: cfg.Clock, log: cfg.Logger, ackDelay: cfg.PPTPAckDelay, byAddr: map[netip.Addr]*Session{}}
	p.poller = netif.NewPoller(cfg.Workers, func() any { return newTxState(p) })
	for i := range p.shards {
		p.shards[i].m = map[Key]*Session{}
	}
	return p
}

// Close stops the device readers. Sessions and their devices are the
// control plane's to remove.
func (p *Plane) Close() { p.poller.Close() }

// ErrExists is returned when a session with the same key is installed.
var ErrExists = errors.New("dataplane: session already installed")

func (p *Plane) shard(k Key) *shard {
	return &p.shards[uint64(k)%nShards]
}

// Add installs a session: from now on its data messages reach it. It is
// installed before the carrier's call is answered, so that none of the
// peer's first frames are lost.
func (p *Plane) Add(s *Session) error {
	if s.Encap() == nil || s.Bind == nil {
		return errors.New("dataplane: session without encapsulation or bind")
	}
	s.p = p
	if pe, ok := s.Encap().(*PPTPEncap); ok && pe.st.clock == nil {
		pe.st.clock = p.clock // RTT samples on the plane's time
	}
	sh := p.shard(s.Key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[s.Key]; ok {
		return fmt.Errorf("%w: %v", ErrExists, s.Key)
	}
	sh.m[s.Key] = s
	return nil
}

// Remove uninstalls a session (detaching it first); its packets are
// dropped from then on.
func (p *Plane) Remove(s *Session) {
	p.Detach(s)
	sh := p.shard(s.Key)
	sh.mu.Lock()
	if sh.m[s.Key] == s {
		delete(sh.m, s.Key)
	}
	sh.mu.Unlock()
}

// Lookup returns the session with key k.
func (p *Plane) Lookup(k Key) *Session {
	sh := p.shard(k)
	sh.mu.RLock()
	s := sh.m[k]
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

// Attach gives an installed session its interface once its network layer
// is up: IP flows from then on. A session's own device is read by the
// plane's poller until Detach. Attach replaces an earlier attachment.
func (p *Plane) Attach(s *Session, a Attachment) error {
	p.Detach(s)
	att := &attachment{Attachment: a}
	if wo, ok := a.Device.(WriteOnly); ok && wo.WriteOnly() {
		// Written to, never read.
	} else if a.Device != nil {
		w, err := p.poller.Watch(a.Device, func(local any) bool { return p.deviceReady(local.(*txState), a.Device, s) })
		if err != nil {
			return fmt.Errorf("dataplane: %s: %w", a.Device.Name(), err)
		}
		att.watch = w
	} else {
		p.addrMu.Lock()
		for _, ad := range a.PeerAddrs {
			p.byAddr[ad] = s
		}
		p.addrMu.Unlock()
	}
	s.att.Store(att)
	return nil
}

// SetSources replaces the sources an attached session may send from (its
// routes changed: a routing protocol learned a network behind it). It does
// nothing for a session that is not attached.
func (p *Plane) SetSources(s *Session, src *Sources) {
	for {
		old := s.att.Load()
		if old == nil {
			return
		}
		nw := *old
		nw.Sources = src
		if s.att.CompareAndSwap(old, &nw) {
			return
		}
	}
}

// Detach takes a session off its interface (its network layer went down):
// its device is no longer read, IP to and from it is dropped. It returns
// once no reader is using the device, which the caller may then close.
func (p *Plane) Detach(s *Session) {
	att := s.att.Swap(nil)
	if att == nil {
		return
	}
	if att.watch != nil {
		att.watch.Stop()
	}
	p.addrMu.Lock()
	for _, ad := range att.PeerAddrs {
		if p.byAddr[ad] == s {
			delete(p.byAddr, ad)
		}
	}
	p.addrMu.Unlock()
}

// Drops returns the drop counters by reason.
func (p *Plane) Drops() map[string]uint64 {
	out := make(map[string]uint64, numDropReasons)
	for i := DropReason(1); i < numDropReasons; i++ {
		out[i.String()] = p.drops[i].Load()
	}
	return out
}

func (p *Plane) drop(r DropReason) { p.dropN(r, 1) }

func (p *Plane) dropN(r DropReason, n int) {
	p.drops[r].Add(uint64(n))
	// Data-path logs are rate-limited to one a second.
	now := p.clock.Now()
	p.logMu.Lock()
	if now.Sub(p.lastLog) < time.Second {
		p.logMu.Unlock()
		return
	}
	p.lastLog = now
	p.logMu.Unlock()
	p.log.Debug("data packet dropped", "reason", r.String(), "total", p.drops[r].Load())
}

// sharedDev holds the device of shared-interface mode.
type sharedDev struct {
	d     netif.Device
	watch *netif.Watch
}

// SetShared makes dev the shared device (one interface for every session
// attached without a device of its own, sessions found by destination
// address) and reads it until ClearShared.
func (p *Plane) SetShared(dev netif.Device) error {
	w, err := p.poller.Watch(dev, func(local any) bool { return p.deviceReady(local.(*txState), dev, nil) })
	if err != nil {
		return fmt.Errorf("dataplane: %s: %w", dev.Name(), err)
	}
	if old := p.shared.Swap(&sharedDev{d: dev, watch: w}); old != nil {
		old.watch.Stop()
	}
	return nil
}

// ClearShared stops reading the shared device.
func (p *Plane) ClearShared() {
	if old := p.shared.Swap(nil); old != nil {
		old.watch.Stop()
	}
}

func (p *Plane) sharedDevice() netif.Device {
	if s := p.shared.Load(); s != nil {
		return s.d
	}
	return nil
}

func (p *Plane) byDest(pkt []byte) *Session {
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
}
