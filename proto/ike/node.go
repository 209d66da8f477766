package ike

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// Defaults of Config.
const (
	defaultRetransmit     = 10 * time.Second
	defaultMaxRetransmits = 5
	defaultMaxHalfOpen    = 1024
	defaultHalfOpenPeer   = 32
	defaultDPDRetry       = 2 * time.Second
	defaultDPDRetries     = 5
)

// Node is the IKEv1 engine of one local endpoint. It is safe for
// concurrent use; packets and events leave it outside its lock.
type Node struct {
	cfg Config
	log *slog.Logger

	mu           sync.Mutex
	sas          map[isakmp.Cookie]*p1 // by initiator cookie
	children     map[uint32]*qm        // established quick modes by our SPI
	nextConn     int
	halfOpen     int
	halfOpenPeer map[netip.Addr]int
	out          []outPkt
	events       []Event
	early        []Event  // delivered before out is sent
	calls        []func() // callbacks to run outside the lock (XAuth's Authenticate)
	closed       bool
	stats        Stats
}

// Stats counts what the Node dropped and why.
type Stats struct {
	Malformed, NoSA, Duplicates, HalfOpenRefused, AuthFailed, Decrypt uint64
	// XAuthFailed counts users refused by XAuth (either role),
	// XAuthTimeout XAuth / mode-config exchanges that got no answer in
	// time, ModeConfigFailed clients refused an address (pool exhausted).
	XAuthFailed, XAuthTimeout, ModeConfigFailed uint64
	// NoProfile counts peers refused because no isakmp profile matches
	// their identity (Config.Profile).
	NoProfile uint64
	// QMLimit counts quick modes refused because the phase-1 SA already
	// had MaxResponderQMs of the peer's under way.
	QMLimit uint64
	// RSA-signature authentication failures, by reason (each also
	// counts in AuthFailed): no certificate, an encoding we cannot
	// parse, a chain to no CA of ours, expired, otherwise invalid, not
	// naming the ID payload's identity, a signature that does not verify.
	CertMissing, CertEncoding, CertUntrusted, CertExpired, CertInvalid, CertIDMismatch, SigInvalid uint64
}

type outPkt struct {
	b  []byte
	to netip.AddrPort
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("ike: node closed")

// New returns a Node. Send, Clock and at least one policy are required.
func New(cfg Config) (*Node, error) {
	if cfg.Send == nil || cfg.Clock == nil || cfg.Key == nil {
		return nil, errors.New("ike: Config needs Send, Clock and Key")
	}
	if len(cfg.Policies) == 0 {
		return nil, errors.New("ike: no isakmp policy")
	}
	for _, p := range cfg.Policies {
		if err := p.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Cert != nil {
		if err := cfg.Cert.validate(); err != nil {
			return nil, err
		}
	}
	cfg.Policies = slices.Clone(cfg.Policies)
	slices.SortStableFunc(cfg.Policies, func(a, b Policy) int { return a.Priority - b.Priority })
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Retransmit <= 0 {
		cfg.Retransmit = defaultRetransmit
	}
	if cfg.MaxRetransmits <= 0 {
		cfg.MaxRetransmits = defaultMaxRetransmits
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = defaultMaxHalfOpen
	}
	if cfg.MaxHalfOpenPerPeer <= 0 {
		cfg.MaxHalfOpenPerPeer = defaultHalfOpenPeer
	}
	if cfg.DPDRetry <= 0 {
		cfg.DPDRetry = defaultDPDRetry
	}
	if cfg.DPDMaxRetries <= 0 {
		cfg.DPDMaxRetries = defaultDPDRetries
	}
	if cfg.FirstConnID <= 0 {
		cfg.FirstConnID = 1001
	}
	return &Node{cfg: cfg, log: cfg.Log, sas: map[isakmp.Cookie]*p1{}, children: map[uint32]*qm{},
		nextConn: cfg.FirstConnID, halfOpenPeer: map[netip.Addr]int{}}, nil
}

// debugf logs a `debug crypto isakmp` line for conn-id id.
func (n *Node) debugf(id int, format string, args ...any) {
	if n.log == nil || !n.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	n.log.Debug(fmt.Sprintf("ISAKMP:(%d):", id)+fmt.Sprintf(format, args...), "debug", "crypto-isakmp")
}

// unlock releases the lock and then sends the queued packets and events.
func (n *Node) unlock() {
	early, out, ev, calls := n.early, n.out, n.events, n.calls
	n.early, n.out, n.events, n.calls = nil, nil, nil, nil
	n.mu.Unlock()
	if n.cfg.OnEvent != nil {
		for _, e := range early {
			n.cfg.OnEvent(e)
		}
	}
	for _, o := range out {
		n.cfg.Send(o.b, o.to)
	}
	if n.cfg.OnEvent != nil {
		for _, e := range ev {
			n.cfg.OnEvent(e)
		}
	}
	for _, f := range calls {
		f()
	}
}

func (n *Node) emit(e Event) { n.events = append(n.events, e) }

// emitEarly reports e before the packets queued with it are sent.
func (n *Node) emitEarly(e Event) { n.early = append(n.early, e) }

func (n *Node) sendTo(b []byte, to netip.AddrPort) { n.out = append(n.out, outPkt{b: b, to: to}) }

// after runs f under the lock after d, unless the node is closed; the
// caller's f checks its own generation.
func (n *Node) after(d time.Duration, f func()) clock.Timer {
	return n.cfg.Clock.AfterFunc(d, func() {
		n.mu.Lock()
		if !n.closed {
			f()
		}
		n.unlock()
	})
}

func (n *Node) random(b []byte) {
	if _, err := io.ReadFull(n.cfg.Rand, b); err != nil {
		panic("ike: random source failed: " + err.Error())
	}
}

func (n *Node) randomUint32() uint32 {
	var b [4]byte
	for {
		n.random(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v >= 256 { // SPIs 1-255 are reserved (RFC 2406 §2.1)
			return v
		}
	}
}

// HandlePacket processes one ISAKMP datagram from a peer. b is not
// retained.
func (n *Node) HandlePacket(b []byte, from netip.AddrPort) {
	n.mu.Lock()
	defer n.unlock()
	if n.closed {
		return
	}
	h, err := isakmp.ParseHeader(b)
	if err != nil {
		n.stats.Malformed++
		n.debugf(0, " IKE message from %v failed its sanity check or is malformed: %v", from.Addr(), err)
		return
	}
	msg := slices.Clone(b[:h.Length])
	p := n.sas[h.ICookie]
	if p != nil && p.peer != from {
		if p.natt && p.peer.Addr() == from.Addr() && !h.RCookie.IsZero() && h.RCookie == p.cr {
			// RFC 3947 §4: a peer that found a NAT moves to port 4500
			// (or a NAT rebinds it); the SA follows it and answers
			// where it came from. The non-ESP marker is the socket's.
			p.debugf(" NAT-T: peer %v moved to port %d", p.peer.Addr(), from.Port())
			p.peer = from
		} else {
			// Same cookie from elsewhere: not this SA.
			p = nil
		}
	}
	if p == nil {
		if !h.RCookie.IsZero() || (h.Exchange != isakmp.ExchangeMain && h.Exchange != isakmp.ExchangeAggressive) {
			n.stats.NoSA++
			n.debugf(0, " received packet from %v (no SA) exchange %v, dropped", from, h.Exchange)
			return
		}
		n.respond(h, msg, from)
		return
	}
	if !h.RCookie.IsZero() && p.cr != h.RCookie && !p.cr.IsZero() {
		n.stats.NoSA++
		return
	}
	p.handle(h, msg)
}

// Initiate starts a quick mode with peer for pol, first negotiating a
// phase-1 SA when none is established or under way.
func (n *Node) Initiate(peer netip.AddrPort, pol *Phase2Policy) error {
	n.mu.Lock()
	defer n.unlock()
	if n.closed {
		return ErrClosed
	}
	if len(pol.TransformSets) == 0 {
		return errors.New("ike: no transform set")
	}
	for _, p := range n.sas {
		// By address: a NAT-T peer may have moved to another port.
		if p.peer.Addr() == peer.Addr() && p.state != stDestSA && !p.dying {
			// One negotiation per flow: a request repeated while IKE is
			// slow (L2TP retransmitting to a protected peer, more packets
			// for a tunnel) joins the one under way instead of making a
			// second SA pair, as IOS sends one sa_request per flow.
			if slices.ContainsFunc(p.pending, func(q *Phase2Policy) bool { return q.Local == pol.Local && q.Remote == pol.Remote }) {
				return nil
			}
			if p.state == stP1Complete && !p.ez.waiting {
				want := p.withConfigAddr(pol)
				for _, q := range p.qms {
					if q.role == Initiator && q.state < qmInstallAwait && q.child == nil && q.local == want.Local && q.remote == want.Remote {
						return nil
					}
				}
				p.startQM(want)
			} else {
				p.pending = append(p.pending, pol)
			}
			return nil
		}
	}
	return n.initiate(peer, pol)
}

// Connect negotiates a phase-1 SA with peer (and, as a client, XAuth and
// mode-config) without a quick mode: an Easy VPN remote learns the
// networks to protect from mode-config, then calls Initiate for each. It
// does nothing while an SA with peer exists or is being negotiated.
func (n *Node) Connect(peer netip.AddrPort) error {
	n.mu.Lock()
	defer n.unlock()
	if n.closed {
		return ErrClosed
	}
	for _, p := range n.sas {
		if p.peer.Addr() == peer.Addr() && p.state != stDestSA && !p.dying {
			return nil
		}
	}
	return n.initiate(peer, nil)
}

// CountBytes adds octets protected by the child SA whose inbound SPI is
// spiIn (either direction), for the kilobyte lifetime.
func (n *Node) CountBytes(spiIn uint32, octets uint64) {
	n.mu.Lock()
	defer n.unlock()
	if q := n.children[spiIn]; q != nil {
		q.countBytes(octets)
	}
}

// DeleteChild removes the child SA with inbound SPI spiIn and tells the
// peer (clear crypto sa).
func (n *Node) DeleteChild(spiIn uint32) {
	n.mu.Lock()
	defer n.unlock()
	if q := n.children[spiIn]; q != nil {
		q.remove("cleared", true)
	}
}

// DeletePeer removes the phase-1 SAs with peer, telling it (clear crypto
// isakmp).
func (n *Node) DeletePeer(peer netip.Addr) {
	n.mu.Lock()
	defer n.unlock()
	for _, p := range n.sas {
		if p.peer.Addr() == peer {
			p.destroy("cleared", true)
		}
	}
}

// Phase1Status is a line of `show crypto isakmp sa`.
type Phase1Status struct {
	Dst, Src netip.Addr
	State    string
	ConnID   int
	Status   string
	Debug    string // the IOS debug state, e.g. IKE_I_MM5
	// Policy is the chosen phase-1 policy (zero until chosen); Remaining
	// the lifetime left once established; NATT and DPD what the peer and
	// we agreed (show crypto isakmp sa detail's Cap. column).
	Policy    Policy
	Remaining time.Duration
	NATT, DPD bool
	Peer      netip.AddrPort
	// ID is the peer's phase-1 identity (its group name when it sent a
	// KEY_ID); User the XAuth user once authenticated; Config what
	// mode-config assigned (nil if nothing).
	ID     string
	User   string
	Config *ModeConfig
	// Profile is the SA's isakmp profile ("" without).
	Profile string
	// PeerCert is, under rsa-sig, the peer's verified certificate.
	PeerCert *x509.Certificate
}

// Phase1 lists the phase-1 SAs, ordered by conn-id.
func (n *Node) Phase1() []Phase1Status {
	n.mu.Lock()
	defer n.unlock()
	var l []Phase1Status
	for _, p := range n.sas {
		s := Phase1Status{State: p.state.show(), ConnID: p.id, Status: "ACTIVE", Debug: p.state.String(), Policy: p.pol,
			NATT: p.natt && (p.natLocal || p.natRemote), DPD: p.peerDPD && p.dpdIdle() > 0, Peer: p.peer, Profile: p.prof.Name,
			PeerCert: p.peerCert}
		p.ezStatus(&s)
		if p.state == stP1Complete {
			s.Remaining = max(p.lifetime-n.cfg.Clock.Now().Sub(p.established), 0)
		}
		if p.role == Initiator {
			s.Dst, s.Src = p.peer.Addr(), n.cfg.Local.Addr()
		} else {
			s.Dst, s.Src = n.cfg.Local.Addr(), p.peer.Addr()
		}
		if p.state != stP1Complete {
			s.ConnID = 0
		}
		l = append(l, s)
	}
	slices.SortFunc(l, func(a, b Phase1Status) int { return a.ConnID - b.ConnID })
	return l
}

// Children returns copies of the established child SAs.
func (n *Node) Children() []ChildSA {
	n.mu.Lock()
	defer n.unlock()
	var l []ChildSA
	for _, q := range n.children {
		l = append(l, *q.child)
	}
	slices.SortFunc(l, func(a, b ChildSA) int { return bytes.Compare(be32(a.SPIIn), be32(b.SPIIn)) })
	return l
}

// Stats returns the drop counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.unlock()
	return n.stats
}

// Close stops every timer; later calls do nothing.
func (n *Node) Close() {
	n.mu.Lock()
	defer n.unlock()
	n.closed = true
	for _, p := range n.sas {
		p.stopTimers()
		for _, q := range p.qms {
			q.stopTimers()
		}
	}
	for _, q := range n.children {
		q.stopTimers()
	}
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
