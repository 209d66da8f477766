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
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// L2TPv3 (RFC 3931) control connections and pseudowires.
//
// A V3Node is one LCCE on one bind: raw IP protocol 115 or UDP (the bind
// decides, V3Config.OverUDP says which header the node writes). Either
// end may initiate (§3.3): V3Node.Dial opens, or reuses, the control
// connection to a peer for an l2tp-class (V3Params) and runs
// ICRQ/ICRP/ICCN for one pseudowire (§3.4.1); the peer's node offers the
// ICRQ to V3Config.OnRequest, which matches it to its own configuration
// (an xconnect by peer, VCID = Remote End ID, and pseudowire type) or
// refuses it with a CDN result code.
//
// What is shared with L2TPv2 (ARCHITECTURE.md, "proto/l2tp: one driver
// for v2 and v3"): the control connection machine (ccn: the §7.2 states,
// the RFC 3931 §7 machines being the same with LCCE roles, HELLO,
// StopCCN, the timers and debug lines), the connection table (nodeBase),
// the session core (sess, the §7.3 table), reliable delivery (reliable,
// with the v3 header and digest through relWire), the retransmission
// parameters and the goroutine loop. What is v3's own: 32-bit Control
// Connection and Session IDs, Router ID, the Pseudowire Capabilities
// List, cookies, Circuit Status through SLI, control message
// authentication (§4.3) with nonces and per-message digests, and the
// §5.4.3 tie break.
//
// The seam for bearers: a pseudowire that comes up is reported once, to
// the Dial that placed it or to V3Config.OnUp (the peer placed it), with
// its PWInfo (IDs, cookies, type, sublayer, sequencing): the owner
// installs its data path there (or in PWParams.Ready, before the last
// set-up message goes out, so the peer's first frames are not lost), and
// removes it on V3Config.OnDown. An Ethernet pseudowire attaches a device,
// a PPP pseudowire (type l2tp.PWPPP) a PPP bearer of the access layer.

// V3Params are the settings of one control connection: an l2tp-class.
// The zero value is usable.
type V3Params struct {
	// HostName is our Host Name AVP ("hostname"; default the node's).
	HostName string
	// RemoteName, when set, is the Host Name the peer must present.
	RemoteName string
	// Secret enables control message authentication (§4.3, "digest
	// secret"): nonces in SCCRQ/SCCRP and a Message Digest in every
	// message. DigestType is l2tp.DigestHMACMD5 (default) or
	// l2tp.DigestHMACSHA1 ("hash sha").
	Secret     []byte
	DigestType uint8
	// NoDigestCheck ("no digest check") sends digests but does not
	// verify the peer's.
	NoDigestCheck bool
	// RecvWindow is our Receive Window Size ("receive-window", default 16).
	RecvWindow uint16
	Retransmit RetransmitParams
	// Hello is the keepalive interval (§4.4, "hello", default 60 s);
	// negative disables.
	Hello time.Duration
	// SetupTimeout bounds control connection and session set-up
	// ("timeout setup", default 300 s).
	SetupTimeout time.Duration
	// SessionSetupTimeout bounds the set-up of a pseudowire the peer
	// places, from its ICRQ to its ICCN (default 30 s, as L2TPv2's
	// TunnelParams.SessionSetupTimeout): a half-open session held for
	// minutes is only useful to a flood.
	SessionSetupTimeout time.Duration
	// NoSessionTimeout closes an established control connection that
	// has carried no pseudowire for this long (StopCCN result 1). 0
	// keeps it. A connection an Open asked for (the keepalives of a
	// manual session, `l2tp hello`) is exempt: it never carries one.
	NoSessionTimeout time.Duration
	// Class names the l2tp-class, for show output and reuse.
	Class string
}

func (p V3Params) withDefaults(host string) V3Params {
	if p.HostName == "" {
		p.HostName = host
	}
	if p.DigestType != l2tp.DigestHMACSHA1 {
		p.DigestType = l2tp.DigestHMACMD5
	}
	t := TunnelParams{RecvWindow: p.RecvWindow, Retransmit: p.Retransmit, Hello: p.Hello,
		SetupTimeout: p.SetupTimeout, SessionSetupTimeout: p.SessionSetupTimeout,
		NoSessionTimeout: p.NoSessionTimeout}.withDefaults()
	p.RecvWindow, p.Retransmit, p.Hello, p.SetupTimeout = t.RecvWindow, t.Retransmit, t.Hello, t.SetupTimeout
	p.SessionSetupTimeout, p.NoSessionTimeout = t.SessionSetupTimeout, t.NoSessionTimeout
	return p
}

func (p V3Params) key(peer netip.AddrPort) string {
	r := p.Retransmit
	return fmt.Sprintf("%v|%q|%q|%x|%d|%v|%d|%d|%d|%v|%v|%v|%v|%v|%v|%q", peer, p.HostName, p.RemoteName, p.Secret,
		p.DigestType, p.NoDigestCheck, p.RecvWindow, r.InitialRetries, r.Retries, r.TimeoutMin, r.TimeoutMax,
		p.Hello, p.SetupTimeout, p.SessionSetupTimeout, p.NoSessionTimeout, p.Class)
}

// V3Config configures a V3Node. Conn is required.
type V3Config struct {
	Conn Conn
	// OverUDP selects the header: UDP (version 3 header, §4.1.2.1) or
	// IP protocol 115 (control behind a zero Session ID, §4.1.1.2).
	OverUDP bool
	Clock   clock.Clock
	Logger  *slog.Logger
	// RouterID is our Router ID AVP (§5.4.3); HostName the default Host
	// Name (default "vpdn").
	RouterID uint32
	HostName string
	// PWCaps is our Pseudowire Capabilities List (default Ethernet,
	// Ethernet VLAN and PPP).
	PWCaps []l2tp.PWType
	// Incoming gives the parameters of a control connection the peer
	// opens, by its Host Name; ok=false refuses it (StopCCN result 4).
	// nil accepts every peer with Defaults.
	Incoming func(peer netip.AddrPort, hostname string) (p V3Params, ok bool)
	Defaults V3Params
	// OnRequest matches an ICRQ to local configuration. nil refuses
	// every ICRQ. It runs on the control connection's goroutine: it must
	// not block.
	OnRequest func(PWRequest) PWAnswer
	// OnUp reports a pseudowire the peer placed reaching established;
	// OnDown the end of every pseudowire that was established or made
	// ready; OnCircuit the peer's Circuit Status changes (SLI, §5.4.5).
	// They must not block.
	OnUp      func(*Pseudowire)
	OnDown    func(*Pseudowire, error)
	OnCircuit func(pw *Pseudowire, active bool)
	// IDInUse, when set, keeps the node from assigning a Local Session
	// ID the owner uses elsewhere (manual sessions on the same bind).
	IDInUse func(id uint32) bool
	// DataRx, when set, returns how many data messages a pseudowire has
	// received, by our Local Session ID (the data plane counts them).
	// §4.4: a HELLO is sent only after a period without any message,
	// data or control, from the peer: data on a session holds the
	// keepalive off. It runs on the connection's goroutine: it must not
	// block nor call the node.
	DataRx func(localSessionID uint32) uint64
	// Limits bound what peers make the node hold, as on L2TPv2's Node:
	// control connections (MaxTunnels, MaxTunnelsPerPeer for the ones
	// peers open), half-open ones (MaxHalfOpen, MaxHalfOpenPerPeer: a
	// flooding address loses its own oldest, with StopCCN), sessions
	// and half-open sessions (per connection, peer and node: the
	// offender loses its oldest half-open one, with CDN result 4).
	// Established connections and sessions are never evicted.
	Limits Limits
	// Seed, when non-zero, makes IDs reproducible (nonces and cookies
	// are always from crypto/rand).
	Seed uint64
}

// PWRequest is an ICRQ offered to V3Config.OnRequest.
type PWRequest struct {
	Peer          netip.AddrPort
	PeerName      string
	Class         string // the control connection's l2tp-class
	Type          l2tp.PWType
	RemoteEndID   []byte // the VCID (§5.4.4: as the peer sent it)
	CircuitActive bool
}

// PWAnswer answers a PWRequest: Accept with the local settings, or a
// CDN with Result (e.g. result 5 for an unknown VCID, 14 for a
// pseudowire type we do not carry).
type PWAnswer struct {
	Accept bool
	Result l2tp.Result
	Params PWParams
}

// Errors of the v3 API.
var (
	// ErrDigestFailed is a control connection torn down because the peer
	// does not authenticate as configured.
	ErrDigestFailed = errors.New("l2tp: control message authentication failed")
	// ErrPWType ends a pseudowire refused for its type (CDN result 14).
	ErrPWType = errors.New("l2tp: pseudowire type not supported")
)

// V3Stats counts what the v3 node dropped and why.
type V3Stats struct {
	BadHeader       uint64 // unparsable control header
	NoConn          uint64 // a Control Connection ID we do not have
	WrongPeer       uint64 // a connection's message from another address
	DigestFailed    uint64 // a Message Digest that did not verify (§4.3): dropped, not acknowledged
	NoDigest        uint64 // a message without the Message Digest authentication requires
	BadAVP          uint64 // a malformed, missing or unknown mandatory AVP
	NoSession       uint64 // a session message for a session we do not have
	TieBreakLost    uint64 // SCCRQs discarded by the §5.4.3 tie breaker
	ConnLimit       uint64 // SCCRQs refused: connection limit (node, or the peer's share)
	InputOverflow   uint64
	OutOfWindow     uint64 // Ns beyond our receive window (RFC 3931 §4.2, as v2's §5.8)
	HalfOpenEvicted uint64 // half-open connections closed (StopCCN 2/4) for a newer one
	SessionEvicted  uint64 // half-open sessions closed (CDN 4/4) for a newer one
	SessionLimit    uint64 // ICRQs refused: session limit (CDN 4/4)

	// Events that are not drops.
	SessionSetupTimeouts uint64 // peer-placed sessions closed by the session set-up timeout
	NoSessionClosed      uint64 // connections closed by the no-session timeout

	Conns, Sessions            int
	HalfOpen, HalfOpenSessions int
}

// Drops lists the drop counters in a fixed order, named as metrics and
// `show l2tp counters` name them.
func (s V3Stats) Drops() []Drop {
	return []Drop{{"v3-bad-header", s.BadHeader}, {"v3-no-control-connection", s.NoConn},
		{"v3-wrong-peer", s.WrongPeer}, {"v3-digest-failed", s.DigestFailed}, {"v3-digest-missing", s.NoDigest},
		{"v3-bad-avp", s.BadAVP}, {"v3-no-session", s.NoSession}, {"v3-tie-break-lost", s.TieBreakLost},
		{"v3-connection-limit", s.ConnLimit}, {"v3-input-overflow", s.InputOverflow}, {"v3-out-of-window", s.OutOfWindow},
		{"v3-half-open-evicted", s.HalfOpenEvicted}, {"v3-half-open-session-evicted", s.SessionEvicted},
		{"v3-session-limit", s.SessionLimit}}
}

// v3Counters are the shared counters and v3's own.
type v3Counters struct {
	ccnCounters
	badHeader, noConn, digestFailed, noDigest, badAVP, connLimit atomic.Uint64
}

// V3Node is one L2TPv3 LCCE on one bind.
type V3Node struct {
	cfg   V3Config
	clock clock.Clock
	log   *slog.Logger
	lim   Limits
	caps  []l2tp.PWType

	// nodeBase's mu guards the connection table, sessions and rng.
	nodeBase[uint32, *V3Conn, string]
	sessions map[uint32]*Pseudowire // by Local Session ID: unique on the node (§4.1: IP demultiplexes by it alone)
	rng      *rand.Rand

	cnt v3Counters
}

// NewV3Node returns a node sending through cfg.Conn.
func NewV3Node(cfg V3Config) (*V3Node, error) {
	if cfg.Conn == nil {
		return nil, errors.New("l2tp: V3Config.Conn is nil")
	}
	if cfg.HostName == "" {
		cfg.HostName = "vpdn"
	}
	n := &V3Node{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, lim: cfg.Limits.withDefaults(),
		nodeBase: newNodeBase[uint32, *V3Conn, string](), sessions: map[uint32]*Pseudowire{}, caps: cfg.PWCaps}
	if n.clock == nil {
		n.clock = clock.Real
	}
	if len(n.caps) == 0 {
		n.caps = []l2tp.PWType{l2tp.PWEthernet, l2tp.PWEthernetVLAN, l2tp.PWPPP}
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	n.rng = rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc908))
	return n, nil
}

// RouterID returns our Router ID.
func (n *V3Node) RouterID() uint32 { return n.cfg.RouterID }

// Stats returns the node's counters.
func (n *V3Node) Stats() V3Stats {
	c := &n.cnt
	st := V3Stats{BadHeader: c.badHeader.Load(), NoConn: c.noConn.Load(), WrongPeer: c.wrongPeer.Load(),
		DigestFailed: c.digestFailed.Load(), NoDigest: c.noDigest.Load(), BadAVP: c.badAVP.Load(),
		NoSession: c.noSession.Load(), TieBreakLost: c.tieBreakLost.Load(), ConnLimit: c.connLimit.Load(),
		InputOverflow: c.inputOverflow.Load(), OutOfWindow: c.outOfWindow.Load(), HalfOpenEvicted: c.halfOpenEvicted.Load(),
		SessionEvicted: c.sessionEvicted.Load(), SessionLimit: c.sessionLimit.Load(),
		SessionSetupTimeouts: c.sessionSetupTimeouts.Load(), NoSessionClosed: c.noSessionClosed.Load()}
	n.mu.Lock()
	st.Conns, st.Sessions = len(n.conns), len(n.sessions)
	st.HalfOpen, st.HalfOpenSessions = len(n.halfOpen), n.half.n
	n.mu.Unlock()
	return st
}

// HandlePacket processes one received L2TPv3 control message: over IP
// with its zero Session ID, over UDP from the version word. Data messages
// are the data plane's; b is not retained.
func (n *V3Node) HandlePacket(b []byte, from netip.AddrPort) {
	h, err := l2tp.ParseV3Control(b, n.cfg.OverUDP)
	if err != nil {
		n.cnt.badHeader.Add(1)
		return
	}
	msg := b[:h.End]
	if h.CCID == 0 {
		n.handleZero(h, msg, from)
		return
	}
	if !n.inputTo(h.CCID, msg, from) {
		n.cnt.noConn.Add(1)
	}
}

// handleZero routes a message addressed to Control Connection ID 0: a
// new SCCRQ, a retransmission of one, or a StopCCN from a peer that
// refuses our SCCRQ before it learnt our ID (§5.4.3).
func (n *V3Node) handleZero(h l2tp.V3ControlHeader, msg []byte, from netip.AddrPort) {
	var m l2tp.V3Message
	err := m.Decode(h.Payload(msg), nil)
	if m.Type == l2tp.MsgStopCCN && m.AssignedCCID != 0 {
		// Addressed to our conn by the peer's ID it got in... nothing:
		// find our initiator connection to that peer still waiting.
		n.mu.Lock()
		var c *V3Conn
		for x := range n.awaitingLocked(from.Addr()) {
			c = x
			break
		}
		n.mu.Unlock()
		if c != nil {
			c.input(msg, from)
			return
		}
		n.cnt.noConn.Add(1)
		return
	}
	if m.Type != l2tp.MsgSCCRQ || m.AssignedCCID == 0 {
		if err != nil {
			n.cnt.badAVP.Add(1)
		} else {
			n.cnt.noConn.Add(1)
		}
		return
	}
	key := sccrqKey[uint32]{from, m.AssignedCCID}
	if !n.sccrqLocked(key, msg, from) {
		return
	}
	// §5.4.3 Control Connection Tie Breaker: the recipient of an SCCRQ
	// that has itself sent one to that peer compares the values; the
	// lower wins and the loser discards its connection. Equal values:
	// both discard theirs and start again with new values. A tie breaker
	// against an SCCRQ of ours without one wins (ours always has one).
	var lost *V3Conn
	if m.Has(l2tp.AVPTieBreaker) {
		for c := range n.awaitingLocked(from.Addr()) {
			switch cmp := compareTie(m.TieBreaker, c.tieBreaker); {
			case cmp > 0:
				n.mu.Unlock()
				n.cnt.tieBreakLost.Add(1)
				// A StopCCN SHOULD reject the losing SCCRQ explicitly
				// (result 3: control connection already exists). With
				// authentication it could carry no valid digest: the
				// peer learns from our SCCRQ instead.
				if len(c.p.Secret) == 0 {
					n.refuse(from, m.AssignedCCID, c.localID, l2tp.Result{Code: l2tp.StopAlreadyExists})
				}
				return
			case cmp == 0:
				n.abandonLocked(c)
				n.mu.Unlock()
				n.cnt.tieBreakLost.Add(1)
				return
			default:
				n.abandonLocked(c)
				lost = c
			}
		}
	}
	// At the node's bounds the oldest half-open connection of the
	// address holding the most of them goes: the flooder pays.
	evicted, full := n.admitLocked(n.lim, from.Addr(), n.oldestOfHeaviestLocked)
	if full {
		// The table, or this address's share of it, is full of
		// established connections: refuse statelessly (§5.4.2 StopCCN
		// result 2, error 4: insufficient resources).
		n.mu.Unlock()
		n.cnt.connLimit.Add(1)
		n.refuse(from, m.AssignedCCID, 0, l2tp.Result{Code: l2tp.StopGeneralError, Error: l2tp.ErrCodeResources, HasError: true})
		return
	}
	if evicted != nil {
		n.evictLocked(evicted)
	}
	c := n.newConnLocked(from, V3Params{}, false)
	n.enterLocked(c, key, lost)
	n.mu.Unlock()
	if evicted != nil {
		// §5.4.2 StopCCN result 2, error 4 (insufficient resources):
		// the evicted peer, if it is a real one, knows to retry.
		n.refuse(evicted.peer0, evicted.sccrqKey.id, evicted.localID,
			l2tp.Result{Code: l2tp.StopGeneralError, Error: l2tp.ErrCodeResources, HasError: true})
	}
	c.input(msg, from)
}

// oldestOfHeaviestLocked returns the oldest half-open connection of the
// address holding the most of them: at the node's bound, the flooder
// pays.
func (n *V3Node) oldestOfHeaviestLocked() *V3Conn {
	count := map[netip.Addr]int{}
	var heavy netip.Addr
	for _, h := range n.halfOpen {
		a := h.peer0.Addr()
		count[a]++
		if count[a] > count[heavy] {
			heavy = a
		}
	}
	for _, h := range n.halfOpen {
		if h.peer0.Addr() == heavy {
			return h
		}
	}
	return nil
}

// evictLocked forgets a half-open connection and ends its goroutine
// without a message of its own (the node sends the StopCCN).
func (n *V3Node) evictLocked(c *V3Conn) {
	n.forgetLocked(c)
	c.kill()
	n.cnt.halfOpenEvicted.Add(1)
}

// compareTie orders two tie breaker values as unsigned 64-bit numbers.
func compareTie(a, b [8]byte) int {
	x, y := binary.BigEndian.Uint64(a[:]), binary.BigEndian.Uint64(b[:])
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// refuse answers an SCCRQ with a StopCCN that holds no state.
func (n *V3Node) refuse(to netip.AddrPort, peerCCID, ourCCID uint32, r l2tp.Result) {
	m := &l2tp.V3Message{Type: l2tp.MsgStopCCN, Result: r, AssignedCCID: ourCCID}
	m.Set(l2tp.AVPResultCode)
	if ourCCID != 0 {
		m.Set(l2tp.AVPAssignedCCID)
	}
	b, err := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, n.cfg.OverUDP, peerCCID, 0, 1))
	if err != nil || l2tp.FinishV3Control(b, n.cfg.OverUDP) != nil {
		return
	}
	_ = n.cfg.Conn.WriteTo(b, to)
}

// newConnLocked allocates a connection with a random, non-zero, unused
// ID and starts its goroutine.
func (n *V3Node) newConnLocked(peer netip.AddrPort, p V3Params, initiator bool) *V3Conn {
	c := newV3Conn(n, n.newIDLocked(n.rng), peer, p, initiator)
	n.addLocked(c)
	return c
}

// offerReuse lets Dials to the peer of a connection it opened use it: an
// LCCE has one control connection per peer and l2tp-class, whichever end
// opened it (§3.3: either may initiate). tie is the peer's tie breaker,
// nil without one.
//
// The node applies §5.4.3's tie breaker when the SCCRQ arrives, against
// our SCCRQs then in flight; but a Dial or Open of ours can begin between
// the SCCRQ's arrival and this point (its parameters are known only
// now), and then both ends open at once unseen: each would answer the
// other's SCCRQ and two connections would form. So the rule is applied
// again here against our connection for the same key still awaiting its
// SCCRP: the lower value wins. false: ours won, and c must be refused.
func (n *V3Node) offerReuse(c *V3Conn, key string, tie *[8]byte) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	o := n.byReuse[key]
	if o == nil {
		c.reuse = key
		n.byReuse[key] = c
		return true
	}
	if tie == nil || o == c || !o.initiator || !o.awaitingReply.Load() {
		return true
	}
	cmp := compareTie(*tie, o.tieBreaker)
	if cmp >= 0 {
		// Ours is lower (or equal: both lose, §5.4.3).
		n.cnt.tieBreakLost.Add(1)
		if cmp == 0 {
			n.abandonLocked(o)
		}
		return false
	}
	n.abandonLocked(o) // its Opens and Dials retry, and find c
	c.reuse = key
	n.byReuse[key] = c
	return true
}

// newSessionID picks a random non-zero Local Session ID unused on the
// node and by the owner, and registers pw under it.
func (n *V3Node) newSessionID(pw *Pseudowire) (uint32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sessions) >= n.lim.MaxSessions {
		return 0, fmt.Errorf("%w: %d sessions", ErrLimit, len(n.sessions))
	}
	for {
		id := n.rng.Uint32()
		if id == 0 || n.sessions[id] != nil || (n.cfg.IDInUse != nil && n.cfg.IDInUse(id)) {
			continue
		}
		n.sessions[id] = pw
		return id, nil
	}
}

func (n *V3Node) freeSessionID(id uint32, pw *Pseudowire) {
	n.mu.Lock()
	if n.sessions[id] == pw {
		delete(n.sessions, id)
	}
	n.mu.Unlock()
}

// randBytes returns k cryptographically random octets: a nonce (§5.4.1
// requires one) or a cookie (§8.2: guessing one must be hard).
func (n *V3Node) randBytes(k int) []byte {
	b := make([]byte, k)
	_, _ = crand.Read(b)
	return b
}

// Dial brings up a pseudowire to peer: the control connection for p
// (shared with every pseudowire to that peer with the same parameters)
// and ICRQ/ICRP/ICCN (§3.4.1). It returns once the pseudowire is
// established, or a *CloseError with the peer's CDN or StopCCN.
func (n *V3Node) Dial(ctx context.Context, peer netip.AddrPort, p V3Params, pw PWParams) (*Pseudowire, error) {
	p = p.withDefaults(n.cfg.HostName)
	if err := pw.check(); err != nil {
		return nil, err
	}
	key := p.key(peer)
	for attempt := 0; ; attempt++ {
		c, err := n.reuseOrOpen(key, n.lim.MaxTunnels, "control connections", func() *V3Conn { return n.newConnLocked(peer, p, true) })
		if err != nil {
			return nil, err
		}
		var s *Pseudowire
		r, retry, err := awaitPlaced(ctx, &c.ctlLoop, func(res chan pwResult) { s = c.startPW(pw, res) }, func() {
			if s != nil && s.state != SnEstablished && s.state != SnDead {
				c.closePW(s, l2tp.Result{Code: l2tp.CDNAdmin}, ctx.Err())
			}
		})
		if retry && attempt < 3 {
			continue
		}
		return r, err
	}
}

// Open returns an established control connection to peer for p, with or
// without sessions: the one Dial would use, or a new one. IOS opens one
// for the keepalives of a manual session (`l2tp hello CLASS`): the
// connection's HELLOs (§4.4) tell whether the peer is alive, and its
// end (Done) that it is not.
func (n *V3Node) Open(ctx context.Context, peer netip.AddrPort, p V3Params) (*V3Conn, error) {
	p = p.withDefaults(n.cfg.HostName)
	key := p.key(peer)
	for attempt := 0; ; attempt++ {
		c, err := n.reuseOrOpen(key, n.lim.MaxTunnels, "control connections", func() *V3Conn { return n.newConnLocked(peer, p, true) })
		if err != nil {
			return nil, err
		}
		w := make(chan error, 1)
		if !c.post(func() {
			c.keepalive = true
			switch c.state {
			case TunEstablished:
				w <- nil
			case TunClosing, TunDead:
				w <- errTunnelGone
			default:
				c.waiters = append(c.waiters, w)
			}
		}) {
			if attempt < 3 {
				continue
			}
			return nil, errTunnelGone
		}
		select {
		case err = <-w:
		case <-c.done:
			select {
			case err = <-w:
			default:
				err = errTunnelGone
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if errors.Is(err, errTunnelGone) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// Conns returns the live control connections.
func (n *V3Node) Conns() []*V3Conn { return n.list() }

// Snapshot returns every control connection and pseudowire, for show
// commands.
func (n *V3Node) Snapshot() ([]V3ConnStats, []PWInfo) {
	return snapshotAll(n.Conns(), (*V3Conn).snapshot)
}

// Close sends StopCCN (result 6) on every connection and waits for them
// to finish their §5.7 hold, or for ctx.
func (n *V3Node) Close(ctx context.Context) error { return n.closeConns(ctx) }
