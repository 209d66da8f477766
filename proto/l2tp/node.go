package l2tp

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// Conn is how the control plane reaches the network: one UDP socket in
// production (the daemon adapts a transport to it), an in-memory fake in
// tests (transport/memnet's *Conn implements it). WriteTo must not retain
// b after it returns. Received datagrams are not read through Conn: the
// owner reads its socket and feeds every datagram to Node.HandlePacket.
type Conn interface {
	WriteTo(b []byte, to netip.AddrPort) error
}

// Config configures a Node. Conn is required; everything else may be zero.
type Config struct {
	Conn   Conn
	Clock  clock.Clock  // nil: clock.Real (which synctest fakes)
	Logger *slog.Logger // nil: no logging

	// Incoming decides whether a peer that sent SCCRQ may open a tunnel,
	// and with which parameters: the vpdn-group "terminate-from hostname"
	// lookup of an LNS. ok=false refuses with StopCCN result 4 (§4.4.2,
	// not authorized). nil accepts every peer with Defaults.
	Incoming func(peer netip.AddrPort, hostname string) (p TunnelParams, ok bool)
	// Defaults are the parameters of incoming tunnels when Incoming is nil.
	Defaults TunnelParams

	// OnCall is offered every call the peer opens (ICRQ on an LNS, OCRQ on
	// a LAC). The owner answers with Call.Accept or Call.Reject, now or
	// later (until the setup timeout). nil accepts every call. It runs on
	// the tunnel goroutine: it must not block.
	OnCall func(*Call)
	// OnSessionUp reports a session the peer opened reaching established
	// (sessions from Dial are returned by Dial instead). Must not block.
	OnSessionUp func(*Session)
	// OnSessionDown reports the end of every session that was established,
	// offered to OnCall, or made ready (CallParams.Ready) and not then
	// reported by Dial's error. Must not block.
	OnSessionDown func(*Session, error)
	// OnWEN and OnSLI pass up WAN-Error-Notify and Set-Link-Info (§6.14,
	// §6.15) for the PPP layer. Must not block.
	OnWEN func(*Session, l2tp.CallErrors)
	OnSLI func(*Session, l2tp.ACCM)
	// OnL2TPv3 receives datagrams with version 3 (RFC 3931) for the
	// L2TPv3 code; nil drops them.
	OnL2TPv3 func(b []byte, from netip.AddrPort)

	Limits Limits
	// Seed, when non-zero, makes tunnel and session IDs reproducible.
	Seed uint64
}

// Errors returned by the API.
var (
	ErrClosed          = errors.New("l2tp: closed")
	ErrLimit           = errors.New("l2tp: resource limit reached")
	ErrPeerUnreachable = fmt.Errorf("l2tp: peer unreachable: %w", ErrRetransmit)
	ErrSetupTimeout    = errors.New("l2tp: setup timeout")
	// ErrHalfOpenEvicted ends a half-open session closed for a newer one
	// at a half-open bound (Limits).
	ErrHalfOpenEvicted = fmt.Errorf("%w: half-open session evicted", ErrLimit)
	// ErrNoSession ends a tunnel closed by TunnelParams.NoSessionTimeout.
	ErrNoSession  = errors.New("l2tp: no session for the no-session timeout")
	errTunnelGone = errors.New("l2tp: tunnel went down")
)

// CloseError is why a tunnel or session ended: the StopCCN/CDN result sent
// or received, and whether the peer sent it.
type CloseError struct {
	Msg    l2tp.MsgType // MsgStopCCN or MsgCDN
	Result l2tp.Result
	Remote bool      // the peer sent it
	Q931   l2tp.Q931 // Q.931 cause of a received CDN, if any
	Err    error     // a local cause (timeout, unreachable, auth failure), if any
}

func (e *CloseError) Error() string {
	who := "sent"
	switch {
	case e.Remote:
		who = "received"
	case errors.Is(e.Err, ErrPeerUnreachable), errors.Is(e.Err, errTunnelGone):
		who = "(not sent)"
	}
	s := fmt.Sprintf("l2tp: %v %s: %s", e.Msg, who, e.Result.Text(e.Msg))
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CloseError) Unwrap() error { return e.Err }

// NodeStats counts what the node dropped and why, and what it holds.
type NodeStats struct {
	// Control-plane drops and refusals, by reason (see Drops).
	BadHeader       uint64 // unparsable header, or an SCCRQ with nobody to answer
	NoTunnel        uint64 // a tunnel ID we do not have
	NoSession       uint64 // a session ID the tunnel does not have
	WrongPeer       uint64 // a tunnel's message from another address or port
	HalfOpenEvicted uint64 // half-open tunnels dropped for a newer one
	SessionEvicted  uint64 // half-open sessions closed (CDN 4) for a newer one
	TunnelLimit     uint64 // SCCRQs refused: node or per-peer tunnel limit
	SessionLimit    uint64 // ICRQs/OCRQs refused: session limit (CDN 4)
	InputOverflow   uint64 // a tunnel's input queue was full
	BadAVP          uint64 // a malformed, missing or zero-valued AVP (§4.1, §6)
	HiddenNoRV      uint64 // a hidden AVP without a Random Vector before it (§4.3)
	OutOfWindow     uint64 // Ns beyond our receive window (§5.8)
	Backlog         uint64 // calls refused: the peer does not acknowledge our messages
	Version3        uint64 // L2TPv3 datagrams (passed to OnL2TPv3 if set)
	DataMessages    uint64 // data messages that reached the control plane
	TieBreakLost    uint64 // SCCRQs discarded by the §4.4.3 tie-breaker

	// Events that are not drops.
	SessionSetupTimeouts uint64 // half-open sessions closed by the session set-up timeout
	NoSessionClosed      uint64 // tunnels closed by the no-session timeout

	Tunnels, HalfOpen, Sessions int
	HalfOpenSessions            int
}

// Drop is one control-plane drop counter with its reason, as metrics and
// `show l2tp counters` name it.
type Drop struct {
	Reason string
	Count  uint64
}

// Drops lists the drop counters in a fixed order.
func (s NodeStats) Drops() []Drop {
	return []Drop{
		{"bad-header", s.BadHeader}, {"no-tunnel", s.NoTunnel}, {"no-session", s.NoSession},
		{"wrong-peer", s.WrongPeer}, {"half-open-evicted", s.HalfOpenEvicted},
		{"half-open-session-evicted", s.SessionEvicted}, {"tunnel-limit", s.TunnelLimit},
		{"session-limit", s.SessionLimit}, {"input-overflow", s.InputOverflow}, {"bad-avp", s.BadAVP},
		{"hidden-avp-no-random-vector", s.HiddenNoRV}, {"out-of-window", s.OutOfWindow},
		{"control-backlog", s.Backlog}, {"version-3", s.Version3},
		{"data-message", s.DataMessages}, {"tie-break-lost", s.TieBreakLost},
	}
}

type nodeCounters struct {
	ccnCounters
	badHeader, noTunnel, tunnelLimit, badAVP, hiddenNoRV, backlog, version3, data atomic.Uint64
}

// Node is one L2TPv2 endpoint: LAC, LNS or both, on one socket. It
// demultiplexes datagrams to tunnels; each tunnel runs on its own
// goroutine that owns the tunnel's and its sessions' state.
type Node struct {
	cfg   Config
	clock clock.Clock
	log   *slog.Logger
	lim   Limits

	// nodeBase's mu guards the tunnel table and rng.
	nodeBase[uint16, *Tunnel, reuseKey]
	rng *rand.Rand

	nSessions atomic.Int64
	uniq      atomic.Uint32 // "Uniq ID" of show vpdn

	cnt nodeCounters
}

// NewNode returns a Node sending through cfg.Conn.
func NewNode(cfg Config) (*Node, error) {
	if cfg.Conn == nil {
		return nil, errors.New("l2tp: Config.Conn is nil")
	}
	n := &Node{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, lim: cfg.Limits.withDefaults(),
		nodeBase: newNodeBase[uint16, *Tunnel, reuseKey]()}
	if n.clock == nil {
		n.clock = clock.Real
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	n.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return n, nil
}

// Stats returns the node's drop counters.
func (n *Node) Stats() NodeStats {
	c := &n.cnt
	st := NodeStats{BadHeader: c.badHeader.Load(), NoTunnel: c.noTunnel.Load(), NoSession: c.noSession.Load(),
		WrongPeer: c.wrongPeer.Load(), HalfOpenEvicted: c.halfOpenEvicted.Load(), SessionEvicted: c.sessionEvicted.Load(),
		TunnelLimit: c.tunnelLimit.Load(), SessionLimit: c.sessionLimit.Load(), InputOverflow: c.inputOverflow.Load(),
		BadAVP: c.badAVP.Load(), HiddenNoRV: c.hiddenNoRV.Load(), OutOfWindow: c.outOfWindow.Load(),
		Backlog: c.backlog.Load(), Version3: c.version3.Load(),
		DataMessages: c.data.Load(), TieBreakLost: c.tieBreakLost.Load(),
		SessionSetupTimeouts: c.sessionSetupTimeouts.Load(), NoSessionClosed: c.noSessionClosed.Load(),
		Sessions: int(n.nSessions.Load())}
	n.mu.Lock()
	st.Tunnels, st.HalfOpen, st.HalfOpenSessions = len(n.conns), len(n.halfOpen), n.half.n
	n.mu.Unlock()
	return st
}

// HandlePacket processes one control message received from the socket. It
// may be called from several goroutines. b is not retained: control
// messages are copied to their tunnel's queue. Data messages belong to the
// data plane in front of the node (dataplane.L2TPv2Decoder sends only
// control messages here); one that reaches the node is counted and dropped.
func (n *Node) HandlePacket(b []byte, from netip.AddrPort) {
	h, err := l2tp.ParseHeader(b)
	if err != nil {
		if errors.Is(err, l2tp.ErrVersion3) {
			n.cnt.version3.Add(1)
			if n.cfg.OnL2TPv3 != nil {
				n.cfg.OnL2TPv3(b, from)
			}
			return
		}
		n.cnt.badHeader.Add(1)
		return
	}
	if !h.IsControl() {
		n.cnt.data.Add(1)
		return
	}
	if h.TunnelID == 0 {
		n.handleSCCRQ(h, b, from)
		return
	}
	if !n.inputTo(h.TunnelID, b[:h.Length], from) {
		n.cnt.noTunnel.Add(1)
	}
}

// handleSCCRQ routes a control message addressed to tunnel 0: a new
// SCCRQ, or a retransmission of one a responder tunnel already holds.
func (n *Node) handleSCCRQ(h l2tp.Header, b []byte, from netip.AddrPort) {
	var m l2tp.Message
	err := m.Decode(h.Payload(b), nil)
	if m.Type != l2tp.MsgSCCRQ {
		n.cnt.noTunnel.Add(1)
		return
	}
	if err != nil && !errors.Is(err, l2tp.ErrUnknownMandatory) && m.AssignedTunnelID == 0 {
		// Nobody to answer: without an Assigned Tunnel ID (absent, or
		// the 0 §4.4.3 forbids) no StopCCN can be addressed (§6.4).
		n.countDecodeError(err)
		return
	}
	key := sccrqKey[uint16]{from, m.AssignedTunnelID}
	if !n.sccrqLocked(key, b[:h.Length], from) {
		return
	}
	// §4.4.3 tie breaker: both ends sent SCCRQ to each other at once.
	var lost *Tunnel
	if m.Has(l2tp.AVPTieBreaker) {
		for t := range n.awaitingLocked(from.Addr()) {
			// The lower value wins; ours loses when the peer's is lower.
			if string(m.TieBreaker[:]) >= string(t.tieBreaker[:]) {
				n.mu.Unlock()
				n.cnt.tieBreakLost.Add(1)
				return // theirs loses: discard it, ours continues
			}
			n.abandonLocked(t) // ours loses: its calls move to the peer's tunnel
			lost = t
		}
	}
	// Drop the oldest half-open tunnel silently at the node's bounds: a
	// flood of SCCRQs from sources that never answer cannot lock
	// legitimate peers out, and memory stays bounded by MaxHalfOpen.
	evict, full := n.admitLocked(n.lim, from.Addr(), func() *Tunnel { return n.halfOpen[0] })
	if full {
		// The table, or this address's share of it, is full of
		// established tunnels: refuse, statelessly (§4.4.2 StopCCN
		// result 2, error 4: insufficient resources to handle this
		// operation now).
		n.mu.Unlock()
		n.cnt.tunnelLimit.Add(1)
		n.refuseSCCRQ(from, m.AssignedTunnelID, h.Ns)
		return
	}
	if evict != nil {
		n.evictLocked(evict)
	}
	t := n.newTunnelLocked(from, TunnelParams{}, false)
	n.enterLocked(t, key, lost)
	n.mu.Unlock()
	t.input(b[:h.Length], from)
}

// refuseSCCRQ answers an SCCRQ with a StopCCN that holds no state: no
// tunnel is made, so nothing retransmits it; a peer that missed it sends
// its SCCRQ again and gets another.
func (n *Node) refuseSCCRQ(to netip.AddrPort, peerTID, ns uint16) {
	if peerTID == 0 {
		return
	}
	m := &l2tp.Message{Type: l2tp.MsgStopCCN,
		Result: l2tp.Result{Code: l2tp.StopGeneralError, Error: l2tp.ErrCodeResources, HasError: true}}
	m.Set(l2tp.AVPAssignedTunnelID, l2tp.AVPResultCode)
	b, err := m.Append(nil, peerTID, 0, 0, ns+1, nil)
	if err != nil {
		return
	}
	_ = n.cfg.Conn.WriteTo(b, to)
}

// countDecodeError counts a control message that did not decode.
func (n *Node) countDecodeError(err error) {
	if errors.Is(err, l2tp.ErrNoRandomVector) {
		n.cnt.hiddenNoRV.Add(1)
		return
	}
	n.cnt.badAVP.Add(1)
}

func (n *Node) evictLocked(t *Tunnel) {
	n.forgetLocked(t)
	t.kill()
	n.cnt.halfOpenEvicted.Add(1)
}

// newTunnelLocked allocates a tunnel with a random, non-zero, unused ID
// and starts its goroutine.
func (n *Node) newTunnelLocked(peer netip.AddrPort, p TunnelParams, initiator bool) *Tunnel {
	t := newTunnel(n, n.newIDLocked(n.rng), peer, p, initiator)
	n.addLocked(t)
	return t
}

// randID returns a random non-zero 16-bit value.
func (n *Node) randID() uint16 {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		if v := uint16(n.rng.Uint32()); v != 0 {
			return v
		}
	}
}

// Dial returns an established session to peer: the LAC side of an
// incoming call (ICRQ/ICRP/ICCN, RFC 2661 §7.3). It reuses an existing
// tunnel to the same peer with the same parameters, or opens one.
func (n *Node) Dial(ctx context.Context, peer netip.AddrPort, p TunnelParams, c CallParams) (*Session, error) {
	return n.dial(ctx, peer, p, c, false)
}

// DialOutgoing asks peer (a LAC) to place an outgoing call: the LNS side
// of OCRQ/OCRP/OCCN, RFC 2661 §7.4.
func (n *Node) DialOutgoing(ctx context.Context, peer netip.AddrPort, p TunnelParams, c CallParams) (*Session, error) {
	return n.dial(ctx, peer, p, c, true)
}

type dialResult = placed[*Session]

func (n *Node) dial(ctx context.Context, peer netip.AddrPort, p TunnelParams, c CallParams, outgoing bool) (*Session, error) {
	p = p.withDefaults()
	key := p.key(peer.String())
	for attempt := 0; ; attempt++ {
		t, err := n.reuseOrOpen(key, n.lim.MaxTunnels, "tunnels", func() *Tunnel { return n.newTunnelLocked(peer, p, true) })
		if err != nil {
			return nil, err
		}
		var s *Session
		r, retry, err := awaitPlaced(ctx, &t.ctlLoop, func(res chan dialResult) { s = t.startCall(c, outgoing, res) }, func() {
			if s != nil && s.state != SnEstablished && s.state != SnDead {
				t.closeSession(s, l2tp.Result{Code: l2tp.CDNAdmin}, ctx.Err())
			}
		})
		if retry && attempt < 3 {
			continue
		}
		return r, err
	}
}

// Tunnels returns the live tunnels.
func (n *Node) Tunnels() []*Tunnel { return n.list() }

// Snapshot returns the state of every tunnel and session, for show
// commands.
func (n *Node) Snapshot() ([]TunnelStats, []SessionStats) {
	return snapshotAll(n.Tunnels(), func(t *Tunnel) (TunnelStats, []SessionStats) { return t.snapshot(true) })
}

// Close sends StopCCN (result 6, shutting down) on every tunnel and waits
// for their goroutines to finish their §5.7 hold, or ctx.
func (n *Node) Close(ctx context.Context) error { return n.closeConns(ctx) }
