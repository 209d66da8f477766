package pptp

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/pptp"
)

// Stream is the control connection's byte stream: the TCP connection to
// port 1723 (§1.4), which the owner opened or accepted. A net.Conn
// satisfies it. Close must unblock a pending Read and Write.
type Stream interface {
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	Close() error
}

// Config configures a Node. Role is required; the rest may be zero.
type Config struct {
	Role   Role
	Clock  clock.Clock  // nil: clock.Real (which synctest fakes)
	Logger *slog.Logger // nil: no logging

	// HostName, VendorName and FirmwareRevision go into SCCRQ and SCCRP
	// (§2.1, §2.2). HostName defaults to "vpdn", VendorName to "vpdn".
	HostName, VendorName string
	FirmwareRevision     uint16
	// FramingCaps and BearerCaps advertised (default: both bits each).
	FramingCaps pptp.Framing
	BearerCaps  pptp.Bearer

	// RecvWindow is the Packet Recv. Window Size we offer per call (§4.2,
	// default 64); ProcessingDelay our Packet Processing Delay in 1/10 s.
	RecvWindow      uint16
	ProcessingDelay uint16

	// EchoInterval is the silence after which an Echo-Request is sent
	// (§2.5; IOS `pptp tunnel echo`, default 60 s); negative disables.
	// EchoTimeout is how long the Echo-Reply may take before the
	// connection is closed (default 60 s).
	EchoInterval, EchoTimeout time.Duration
	// SetupTimeout bounds SCCRQ after TCP open and SCCRP after SCCRQ
	// (default 60 s). CallTimeout bounds OCRP/ICRP, ICCN, the owner's
	// answer to OnCall and the CDN after a CCRQ (default 60 s).
	// StopTimeout bounds the StopCCRP (default 10 s).
	SetupTimeout, CallTimeout, StopTimeout time.Duration

	// MaxHalfOpen bounds the connections peers opened that have not sent
	// a valid SCCRQ yet (default 256): beyond it the oldest is closed, so
	// that a flood of TCP connections that never speak costs at most that
	// many, not MaxConns held for SetupTimeout each.
	MaxHalfOpen int
	// MaxConns bounds the live control connections (default 4096),
	// MaxCallsPerConn the calls on one (default 4096). Call IDs are
	// unique per node, so at most 65535 calls are live in a node.
	MaxConns, MaxCallsPerConn int

	// OnCall is offered every call the peer requests (OCRQ on a PAC, ICRQ
	// on a PNS). The owner answers with Call.Accept or Call.Reject, now
	// or later (within CallTimeout). nil accepts every call. It runs on
	// the connection's goroutine: it must not block.
	OnCall func(*Call)
	// OnCallUp reports a call the peer requested reaching established
	// (calls from Conn.Call are returned by it instead). Must not block.
	OnCallUp func(*Call)
	// OnCallDown reports the end of every call that was established or
	// offered to OnCall, with a *CloseError. Must not block.
	OnCallDown func(*Call, error)
	// OnWEN and OnSLI pass up WAN-Error-Notify (§2.14, on a PNS) and
	// Set-Link-Info (§2.15, on a PAC). Must not block.
	OnWEN func(*Call, pptp.WEN)
	OnSLI func(*Call, pptp.SLI)

	// Seed, when non-zero, makes call IDs reproducible.
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.Real
	}
	if c.HostName == "" {
		c.HostName = "vpdn"
	}
	if c.VendorName == "" {
		c.VendorName = "vpdn"
	}
	if c.FramingCaps == 0 {
		c.FramingCaps = pptp.FramingAsync | pptp.FramingSync
	}
	if c.BearerCaps == 0 {
		c.BearerCaps = pptp.BearerAnalog | pptp.BearerDigital
	}
	if c.RecvWindow == 0 {
		c.RecvWindow = 64
	}
	if c.EchoInterval == 0 {
		c.EchoInterval = 60 * time.Second
	}
	if c.EchoTimeout <= 0 {
		c.EchoTimeout = 60 * time.Second
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 60 * time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 60 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 4096
	}
	if c.MaxHalfOpen <= 0 {
		c.MaxHalfOpen = 256
	}
	if c.MaxCallsPerConn <= 0 {
		c.MaxCallsPerConn = 4096
	}
	c.MaxCallsPerConn = min(c.MaxCallsPerConn, 65535)
	return c
}

// Errors returned by the API and carried in CloseError.Err.
var (
	ErrClosed        = errors.New("pptp: closed")
	ErrLimit         = errors.New("pptp: resource limit reached")
	ErrSetupTimeout  = errors.New("pptp: setup timeout")
	ErrStopTimeout   = errors.New("pptp: no Stop-Control-Connection-Reply")
	ErrEchoTimeout   = errors.New("pptp: no Echo-Reply")
	ErrCollisionLost = errors.New("pptp: SCCRQ collision lost to the peer's connection")
	// ErrCollisionWon ends the connection a peer opened while ours to it
	// was waiting for SCCRP and ours won (§3.1.3: nothing is sent on it).
	ErrCollisionWon = errors.New("pptp: SCCRQ collision won: the peer's connection is dropped")
	ErrBroken       = errors.New("pptp: control connection broken")
	ErrWrongRole    = errors.New("pptp: request not valid for this role")
	errConnDown     = errors.New("pptp: control connection went down")
)

// CloseError is why a control connection or a call ended: the message
// sent or received that ended it with its codes, and whether the peer sent
// it. Msg is 0 when no message was exchanged (a timeout, a broken stream).
type CloseError struct {
	Msg    pptp.MsgType   // MsgStopCCRQ, MsgSCCRP, MsgOCRP, MsgICRP, MsgCCRQ or MsgCDN
	Result uint8          // the message's Result Code (the Reason of a StopCCRQ)
	Code   pptp.ErrorCode // the Error Code (§2.16)
	Cause  uint16         // the Cause Code of a CDN or OCRP
	Remote bool           // the peer sent Msg
	Err    error          // a local cause, if any
}

func (e *CloseError) Error() string {
	s := "pptp: "
	if e.Msg != 0 {
		who := "sent"
		if e.Remote {
			who = "received"
		}
		s += fmt.Sprintf("%v %s: %s", e.Msg, who, e.resultText())
		if e.Code != pptp.ErrorNone {
			s += " (" + e.Code.String() + ")"
		}
	} else {
		s += "closed"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CloseError) resultText() string {
	switch e.Msg {
	case pptp.MsgStopCCRQ:
		return pptp.StopReason(e.Result).String()
	case pptp.MsgSCCRP:
		return pptp.SCCRPResult(e.Result).String()
	case pptp.MsgOCRP:
		return pptp.OCRPResult(e.Result).String()
	case pptp.MsgICRP:
		return pptp.ICRPResult(e.Result).String()
	case pptp.MsgCDN:
		return pptp.CDNResult(e.Result).String()
	}
	return "clear request"
}

func (e *CloseError) Unwrap() error { return e.Err }

// NodeStats counts what the node refused or dropped, per reason, and what
// it holds.
type NodeStats struct {
	// Framing: the stream ended inside a message (Truncated), a Length
	// out of bounds or not that of its type (BadLength), a wrong Magic
	// Cookie (BadCookie), a PPTP Message Type other than control
	// (BadMessageType): each closes the connection. UnknownType counts
	// well-framed messages of an unknown Control Message Type, skipped.
	Truncated, BadLength, BadCookie, BadMessageType, UnknownType uint64
	// OutOfState: a message not valid in the connection's or call's state.
	// WrongRole: a message the peer's role may not send to ours.
	// UnknownCall: a call message naming no live call.
	OutOfState, WrongRole, UnknownCall uint64
	// BadVersion: SCCRQ or SCCRP with an unsupported protocol version.
	BadVersion uint64
	// ConnLimit and CallLimit: refused for MaxConns / MaxCallsPerConn or
	// call ID exhaustion. HalfOpenEvicted: connections closed before
	// their SCCRQ to make room for newer ones (MaxHalfOpen).
	ConnLimit, CallLimit, HalfOpenEvicted uint64
	// CollisionWon / CollisionLost: §3.1.3 SCCRQ collisions.
	CollisionWon, CollisionLost uint64
	// SetupTimeouts, EchoTimeouts, StopTimeouts, CallTimeouts: timers
	// that ended a connection or call. SendOverflow: a peer that stopped
	// reading while we had too much to send.
	SetupTimeouts, EchoTimeouts, StopTimeouts, CallTimeouts, SendOverflow uint64

	Conns, Calls, HalfOpen int
}

type nodeCounters struct {
	truncated, badLength, badCookie, badMsgType, unknownType,
	outOfState, wrongRole, unknownCall, badVersion, connLimit, callLimit, halfOpenEvicted,
	collisionWon, collisionLost, setupTimeouts, echoTimeouts, stopTimeouts,
	callTimeouts, sendOverflow atomic.Uint64
}

// Node is one PPTP endpoint in one role. Each control connection runs on
// its own goroutine that owns its state and its calls' state.
type Node struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	dialing map[netip.Addr]*Conn // originated connections in wait_ctl_reply
	// originated are our live originated connections by peer, after
	// wait_ctl_reply too: a collision loser's SCCRQ may arrive once
	// ours is established (§3.1.3).
	originated map[netip.Addr]*Conn
	callIDs    map[uint16]*Call // live calls by local call ID
	// halfOpen are the connections peers opened that have not
	// sent a valid SCCRQ yet, oldest first (MaxHalfOpen).
	halfOpen []*Conn
	nextID   uint16
	closed   bool
	connSeq  uint64
	wg       sync.WaitGroup

	cnt nodeCounters
}

// NewNode returns a Node in cfg.Role.
func NewNode(cfg Config) (*Node, error) {
	if cfg.Role != RolePAC && cfg.Role != RolePNS {
		return nil, fmt.Errorf("pptp: Config.Role %v is neither PAC nor PNS", cfg.Role)
	}
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, conns: map[*Conn]struct{}{},
		dialing: map[netip.Addr]*Conn{}, originated: map[netip.Addr]*Conn{}, callIDs: map[uint16]*Call{}}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n.nextID = uint16(r.Uint32())
	return n, nil
}

// Stats returns the node's counters.
func (n *Node) Stats() NodeStats {
	c := &n.cnt
	st := NodeStats{
		Truncated: c.truncated.Load(), BadLength: c.badLength.Load(), BadCookie: c.badCookie.Load(),
		BadMessageType: c.badMsgType.Load(), UnknownType: c.unknownType.Load(),
		OutOfState: c.outOfState.Load(), WrongRole: c.wrongRole.Load(), UnknownCall: c.unknownCall.Load(),
		BadVersion: c.badVersion.Load(), ConnLimit: c.connLimit.Load(), CallLimit: c.callLimit.Load(), HalfOpenEvicted: c.halfOpenEvicted.Load(),
		CollisionWon: c.collisionWon.Load(), CollisionLost: c.collisionLost.Load(),
		SetupTimeouts: c.setupTimeouts.Load(), EchoTimeouts: c.echoTimeouts.Load(),
		StopTimeouts: c.stopTimeouts.Load(), CallTimeouts: c.callTimeouts.Load(),
		SendOverflow: c.sendOverflow.Load(),
	}
	n.mu.Lock()
	st.Conns, st.Calls, st.HalfOpen = len(n.conns), len(n.callIDs), len(n.halfOpen)
	n.mu.Unlock()
	return st
}

// Snapshot returns the stats of every live control connection, for `show
// vpdn tunnel`.
func (n *Node) Snapshot() []ConnStats {
	n.mu.Lock()
	conns := make([]*Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	out := make([]ConnStats, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.Stats())
	}
	return out
}

// Conns returns every live control connection, for the owner's clear
// commands (Conn.Close sends StopCCRQ, §2.3).
func (n *Node) Conns() []*Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Conn, 0, len(n.conns))
	for c := range n.conns {
		out = append(out, c)
	}
	return out
}

// Calls returns the stats of every call of every live control
// connection, for `show vpdn session`.
func (n *Node) Calls() []CallStats {
	n.mu.Lock()
	conns := make([]*Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	var out []CallStats
	for _, c := range conns {
		out = append(out, c.Calls()...)
	}
	return out
}

// Serve runs the receiving side (§3.1.2) of a control connection on s, a
// TCP connection accepted from peer on our address local. It returns at
// once; the connection lives until it is closed. With the node closed or
// at MaxConns it closes s and returns ErrClosed or ErrLimit.
func (n *Node) Serve(s Stream, local, peer netip.Addr) (*Conn, error) {
	return n.start(s, local, peer, false)
}

// Dial runs the originating side (§3.1.1) on s, a TCP connection the
// owner opened from local to peer: it sends SCCRQ and waits for the
// connection to be established. If the peer's SCCRQ on a connection it
// opened to us at the same time wins the collision (§3.1.3: the higher IP
// address wins), s is closed and Dial returns that connection once it is
// established. A refusal is a *CloseError.
func (n *Node) Dial(ctx context.Context, s Stream, local, peer netip.Addr) (*Conn, error) {
	c, err := n.start(s, local, peer, true)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.up:
		return c, nil
	case <-c.done:
	case <-ctx.Done():
		c.post(func() { c.teardown(CevClose, &CloseError{Err: ctx.Err()}) })
		return nil, ctx.Err()
	}
	c.mu.Lock()
	w, err := c.winner, c.closeErr
	c.mu.Unlock()
	if w == nil {
		return nil, err
	}
	select {
	case <-w.up:
		return w, nil
	case <-w.done:
		return nil, w.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (n *Node) start(s Stream, local, peer netip.Addr, originator bool) (*Conn, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = s.Close()
		return nil, ErrClosed
	}
	if len(n.conns) >= n.cfg.MaxConns {
		n.mu.Unlock()
		n.cnt.connLimit.Add(1)
		_ = s.Close()
		return nil, ErrLimit
	}
	var evict *Conn
	if !originator && len(n.halfOpen) >= n.cfg.MaxHalfOpen {
		evict = n.halfOpen[0]
		n.halfOpen = n.halfOpen[1:]
	}
	n.connSeq++
	c := newConn(n, n.connSeq, s, local, peer, originator)
	n.conns[c] = struct{}{}
	if originator {
		n.dialing[peer] = c
		n.originated[peer] = c
	} else {
		n.halfOpen = append(n.halfOpen, c)
	}
	n.wg.Add(2)
	n.mu.Unlock()
	if evict != nil {
		// The oldest connection that never sent a valid SCCRQ goes: a
		// flood of silent TCP connections holds at most MaxHalfOpen.
		n.cnt.halfOpenEvicted.Add(1)
		evict.eventf("closed before its SCCRQ: %d connections are waiting for one", n.cfg.MaxHalfOpen)
		evict.kill()
	}
	go c.run()
	go c.readLoop()
	return c, nil
}

// notHalfOpen takes c off the half-open list: it sent a valid SCCRQ, or
// it is gone.
func (n *Node) notHalfOpen(c *Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, h := range n.halfOpen {
		if h == c {
			n.halfOpen = append(n.halfOpen[:i], n.halfOpen[i+1:]...)
			return
		}
	}
}

// collision is asked by a receiving connection c that got SCCRQ: is there
// a connection we originated to the same peer still waiting for its
// SCCRP? §3.1.3: the side with the higher IP address wins. It returns
// true when c must refuse the SCCRQ (we win); when we lose, our
// originated connection is abandoned in favour of c.
func (n *Node) collision(c *Conn) (refuse bool) {
	n.mu.Lock()
	d := n.dialing[c.peer]
	if d == nil || d == c {
		// Ours may be established already, when the loser's SCCRQ,
		// sent before it saw ours, arrives late: we won all the same
		// (with the higher address) and stay silent on its connection.
		o := n.originated[c.peer]
		won := o != nil && o != c && c.local.Compare(c.peer) > 0
		n.mu.Unlock()
		if won {
			n.cnt.collisionWon.Add(1)
		}
		return won
	}
	if c.local.Compare(c.peer) > 0 {
		n.mu.Unlock()
		n.cnt.collisionWon.Add(1)
		return true
	}
	delete(n.dialing, c.peer)
	delete(n.originated, c.peer)
	n.mu.Unlock()
	n.cnt.collisionLost.Add(1)
	// Set now, not when d's goroutine gets to it: the peer's refusal of
	// d's SCCRQ may reach d first, and Dial must still find c.
	d.mu.Lock()
	d.winner = c
	d.mu.Unlock()
	d.post(func() {
		if d.state == ConnWaitCtlReply {
			d.eventf("lost the SCCRQ collision to the peer's connection")
			d.teardown(CevCollisionLost, &CloseError{Err: ErrCollisionLost})
		}
	})
	return false
}

func (n *Node) notDialing(c *Conn) {
	n.mu.Lock()
	if n.dialing[c.peer] == c {
		delete(n.dialing, c.peer)
	}
	n.mu.Unlock()
}

func (n *Node) remove(c *Conn) {
	n.notHalfOpen(c)
	n.mu.Lock()
	delete(n.conns, c)
	if n.dialing[c.peer] == c {
		delete(n.dialing, c.peer)
	}
	if n.originated[c.peer] == c {
		delete(n.originated, c.peer)
	}
	n.mu.Unlock()
}

// allocCallID returns a free call ID, never 0, unique among the node's
// live calls, or 0 when all are taken.
func (n *Node) allocCallID(call *Call) uint16 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.callIDs) >= 65535 {
		return 0
	}
	for {
		n.nextID++
		id := n.nextID
		if id == 0 {
			continue
		}
		if _, ok := n.callIDs[id]; !ok {
			n.callIDs[id] = call
			return id
		}
	}
}

func (n *Node) freeCallID(id uint16) {
	n.mu.Lock()
	delete(n.callIDs, id)
	n.mu.Unlock()
}

// Close stops every control connection with StopCCRQ reason 3 (local
// shutdown, §2.3) and waits for them to end, or for ctx, after which it
// closes their streams and waits for the goroutines.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	conns := make([]*Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.Close(pptp.StopLocalShutdown)
	}
	var err error
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			err = ctx.Err()
			for _, c := range conns {
				c.kill()
			}
		}
		if err != nil {
			break
		}
	}
	n.wg.Wait()
	return err
}
