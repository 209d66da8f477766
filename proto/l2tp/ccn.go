package l2tp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// ccn is the control connection that L2TPv2's Tunnel (RFC 2661) and
// L2TPv3's V3Conn (RFC 3931) share: its state, the §7.2 machine's
// transitions (SCCRQ/SCCRP/SCCCN, HELLO, StopCCN and the §5.7 hold), the
// timers (set-up, HELLO, no-session, hold), reliable delivery's receive
// side and the debug lines. ID is the width of the connection's IDs: 16
// bits for a v2 Tunnel ID, 32 for a v3 Control Connection ID; R the key
// under which the node lets Dials share a connection.
//
// What differs is the embedding type's, reached through ver: the
// messages' encoding (AVP sets, hiding for v2, digests and nonces for
// v3), the sessions (v2 calls, v3 pseudowires) and what the node keeps.
// A third control connection (L2F, a multihop leg) embeds a ccn and
// implements ccnVersion.
type ccn[ID uint16 | uint32, R comparable] struct {
	ver   ccnVersion // the embedding Tunnel or V3Conn
	log   *slog.Logger
	cnt   *ccnCounters // the node's
	words *ccnWords    // the version's, shared

	localID   ID
	initiator bool
	peer0     netip.AddrPort // where the first SCCRQ went or came from
	// tieBreaker is our tie breaker value (initiators only, v2 §4.4.3,
	// v3 §5.4.3); awaitingReply is set while our SCCRQ is unanswered,
	// for the node's tie-break check.
	tieBreaker    [8]byte
	awaitingReply atomic.Bool
	nHalf         atomic.Int32 // half-open sessions, counted with the node's (admitHalfOpen)
	reuse         R            // guarded by the node's mu
	sccrqKey      sccrqKey[ID] // guarded by the node's mu

	// ctlLoop's mu guards everything below and the embedding type's
	// fields after its ccn; the goroutine holds it while it works.
	ctlLoop
	remoteID ID
	peer     netip.AddrPort
	peerName string
	peerVend string
	state    TunnelState
	rel      *reliable
	created  time.Time
	since    time.Time // last state change
	lastRx   time.Time
	setupDL  time.Time
	// holdUntil ends the §5.7 hold after StopCCN.
	holdUntil time.Time
	// emptySince is when the established connection last had no
	// session (zero while it has some), for the no-session timeout.
	emptySince time.Time
	// keepalive: an Open asked for the connection (v3 `l2tp hello` of a
	// manual session), which the no-session timeout spares.
	keepalive bool
	// helloJitter spreads the HELLOs of connections to the same peer
	// (v3 §4.4: a jittered timer); zero for v2.
	helloJitter time.Duration
	closeErr    error
	helloTx     uint64
	unknown     uint64 // unknown optional AVPs skipped (§4.1)
	noReply     bool   // the message just delivered gets no answer
	// testAVPs are raw AVPs appended to outgoing messages of a type, for
	// tests that need a peer sending what this package never would.
	testAVPs map[l2tp.MsgType][]byte
}

// ccnVersion is what a ccn asks of its version: the embedding type.
// All of it runs on the connection's goroutine with mu held.
type ccnVersion interface {
	// params are the connection's current timer settings.
	params() ccnParams
	// msgName names a message type in log lines.
	msgName(t l2tp.MsgType) string
	sendHello()
	// sendStopCCN encodes and queues StopCCN with r and our Assigned ID.
	sendStopCCN(r l2tp.Result)
	// dropSessions ends every session without a message: the
	// connection is going.
	dropSessions(err error)
	// notReusable takes the connection out of the node's reuse table.
	notReusable()
	// established tells the node the connection came up.
	established()
	// upSessions sends the session requests that waited for the
	// connection.
	upSessions()
	sessionCount() int
	// dataMoved reports whether the peer sent data since the last call
	// (v3 §4.4: data holds the HELLO off); v2 does not look.
	dataMoved() bool
	// sessionDeadline is the earliest set-up deadline of a session (zero
	// for none); sessionTimers ends the sessions whose set-up is overdue.
	sessionDeadline() time.Time
	sessionTimers(now time.Time)
}

// ccnParams are the settings of a connection the shared machine reads.
type ccnParams struct {
	hello, noSession time.Duration
	retries          int // RetransmitParams.Retries
	initialRetries   int // RetransmitParams.InitialRetries (SCCRQ)
}

// ccnWords are a version's words in its debug lines and its set-up
// timeout's StopCCN, as they were before the two versions shared this
// code: IOS logs "tunnel" for v2 and the RFC 3931 name for v3.
type ccnWords struct {
	noun     string // "tunnel", "control connection"
	create   string // the first debug line
	tieBreak string // "tie-break", "tie break"
	idDigits int    // width of our ID in the log prefix
	// setupTimeout is the StopCCN result of a set-up timeout: v2 sends
	// result 1 (general request to clear), v3 result 7 (FSM error).
	setupTimeout uint16
	// helloFirst: v3 looks at the HELLO timer before the no-session
	// timeout, v2 after; kept so that no wire behaviour changed.
	helloFirst bool
}

// ccnCounters are the node counters both versions keep, embedded in
// each node's own counters.
type ccnCounters struct {
	wrongPeer, noSession, inputOverflow, outOfWindow, tieBreakLost, halfOpenEvicted,
	sessionEvicted, sessionLimit, sessionSetupTimeouts, noSessionClosed atomic.Uint64
}

func (c *ccn[ID, R]) halfOpen() (netip.Addr, *atomic.Int32) { return c.peer0.Addr(), &c.nHalf }

// Done is closed when the connection's goroutine has ended.
func (c *ccn[ID, R]) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed (a *CloseError), once Done is
// closed.
func (c *ccn[ID, R]) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Close sends StopCCN with result r (§6.4) and, after the §5.7 hold,
// ends the connection. Every session goes with it.
func (c *ccn[ID, R]) Close(r l2tp.Result) {
	c.post(func() { c.shutdown(r, nil) })
}

// input queues a copy of a control datagram for the goroutine.
func (c *ccn[ID, R]) input(b []byte, from netip.AddrPort) {
	select {
	case c.in <- inPacket{append([]byte(nil), b...), from}:
	default:
		c.cnt.inputOverflow.Add(1)
	}
}

// abandon is called, under the node's mu, when our SCCRQ lost the tie
// break (the node has taken it out of its reuse table).
func (c *ccn[ID, R]) abandon() {
	c.awaitingReply.Store(false)
	go c.post(func() {
		if c.state == TunWaitCtlReply {
			c.eventf("lost the %s to the peer's SCCRQ", c.words.tieBreak)
			c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopAlreadyExists}, Err: errTunnelGone}
			c.fire(TevRetransFail)
			c.ver.dropSessions(c.closeErr)
		}
	})
}

// start is the first work of the goroutine, mu held.
func (c *ccn[ID, R]) start(now time.Time, setup time.Duration) {
	c.now = now
	c.created, c.since, c.lastRx = now, now, now
	c.setupDL = now.Add(setup)
	c.eventf("%s", c.words.create)
}

// stopped, handle (the version's), deadline, onTimer and killed are the
// ctlMachine the goroutine's loop drives.
func (c *ccn[ID, R]) stopped() bool { return c.state == TunDead }

func (c *ccn[ID, R]) killed() {
	if c.closeErr == nil {
		c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopClear}, Err: ErrClosed}
	}
	c.ver.dropSessions(c.closeErr)
	c.state = TunDead
}

// helloDue is when the next HELLO is due, if nothing arrives first.
func (c *ccn[ID, R]) helloDue(hello time.Duration) time.Time {
	return c.lastRx.Add(hello - min(c.helloJitter, hello/10))
}

// noSessionDue reports whether the no-session timeout runs.
func (c *ccn[ID, R]) noSessionDue(p ccnParams) bool {
	return p.noSession > 0 && !c.keepalive && !c.emptySince.IsZero() && c.ver.sessionCount() == 0
}

// deadline is the earliest time the goroutine must wake.
func (c *ccn[ID, R]) deadline() time.Time {
	dl := c.rel.deadline()
	upd := func(x time.Time) {
		if !x.IsZero() && (dl.IsZero() || x.Before(dl)) {
			dl = x
		}
	}
	p := c.ver.params()
	switch c.state {
	case TunClosing:
		upd(c.holdUntil)
	case TunEstablished:
		if p.hello > 0 && c.rel.idle() {
			upd(c.helloDue(p.hello))
		}
		if c.noSessionDue(p) {
			upd(c.emptySince.Add(p.noSession))
		}
	case TunDead:
	default:
		upd(c.setupDL)
	}
	upd(c.ver.sessionDeadline())
	return dl
}

func (c *ccn[ID, R]) onTimer() {
	now := c.now
	p := c.ver.params()
	// v3's reliable delivery writes its acknowledgement through relWire,
	// which ignores the v2 Tunnel ID given here.
	if err := c.rel.tick(now, uint16(c.remoteID)); err != nil {
		c.retransFail(p)
		return
	}
	switch c.state {
	case TunClosing:
		if !now.Before(c.holdUntil) {
			c.fire(TevHoldDone)
		}
		return
	case TunEstablished:
		idle := c.noSessionDue(p) && !now.Before(c.emptySince.Add(p.noSession))
		if idle && !c.words.helloFirst {
			c.noSessionClose(p)
			return
		}
		if p.hello > 0 && c.rel.idle() && !now.Before(c.helloDue(p.hello)) {
			// HELLO after a period of silence (v2 §6.5, v3 §4.4: without
			// a message, data or control, from the peer); its
			// retransmissions failing is how a dead peer is detected.
			// Data received since the last look counts as a message now.
			if c.ver.dataMoved() {
				c.lastRx = now
			} else {
				c.helloTx++
				c.ver.sendHello()
			}
		}
		if idle {
			c.noSessionClose(p)
			return
		}
	case TunDead:
		return
	default:
		if !now.Before(c.setupDL) {
			c.errorf("%s setup timed out in %v", c.words.noun, c.state)
			c.shutdown(l2tp.Result{Code: c.words.setupTimeout, HasError: true, Message: "timeout setup"}, ErrSetupTimeout)
			return
		}
	}
	c.ver.sessionTimers(now)
}

// noSessionClose is IOS "l2tp tunnel timeout no-session": StopCCN result
// 1, general request to clear the control connection (§4.4.2).
func (c *ccn[ID, R]) noSessionClose(p ccnParams) {
	c.cnt.noSessionClosed.Add(1)
	c.eventf("no session for %v: closing", p.noSession)
	c.shutdown(l2tp.Result{Code: l2tp.StopClear, HasError: true, Message: "no-session timeout"}, ErrNoSession)
}

// retransFail ends the connection when reliable delivery gave up (§5.8).
func (c *ccn[ID, R]) retransFail(p ccnParams) {
	c.errorf("no acknowledgement from %v after %d retransmissions", c.peer, p.retries)
	if c.closeErr == nil {
		c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopGeneralError}, Err: ErrPeerUnreachable}
	}
	c.fire(TevRetransFail)
	c.ver.dropSessions(c.closeErr)
}

// fire applies a connection event through the §7.2 table and logs it the
// way IOS `debug vpdn l2x-events` does.
func (c *ccn[ID, R]) fire(ev TunnelEvent) bool {
	c.eventf("FSM-CC ev %v", ev)
	to, ok := tunNext(c.state, ev)
	if !ok {
		c.errorf("FSM-CC ev %v invalid in %v", ev, c.state)
		return false
	}
	if to != c.state {
		c.eventf("FSM-CC %v->%v", c.state, to)
		c.state = to
		c.since = c.now
	}
	return true
}

// queue sends an encoded message reliably: SCCRQ with the initial
// retries, the rest with the others.
func (c *ccn[ID, R]) queue(b []byte, typ l2tp.MsgType) {
	p := c.ver.params()
	tries := p.retries + 1
	if typ == l2tp.MsgSCCRQ {
		tries = p.initialRetries + 1
	}
	if c.enabled() { // the arguments would be boxed for nobody
		c.eventf("Tx %v to %v", c.ver.msgName(typ), c.peer)
	}
	c.rel.queue(c.now, b, typ, tries)
}

// fromPeer reports whether a datagram from from belongs to the
// connection, counting the ones that do not.
func (c *ccn[ID, R]) fromPeer(from netip.AddrPort) bool {
	if from == c.peer {
		return true
	}
	if c.state == TunWaitCtlReply && from.Addr() == c.peer.Addr() {
		// v2 §8.1: the responder may answer from another port; SCCRP
		// processing adopts it.
		return true
	}
	c.cnt.wrongPeer.Add(1)
	return false
}

// receive passes a datagram's Ns and Nr to reliable delivery, which calls
// deliver for each message now in order, and acknowledges as due. zlb:
// it carries no message (a ZLB, or a v3 ACK).
func (c *ccn[ID, R]) receive(ns, nr uint16, b []byte, zlb bool, deliver func([]byte)) {
	c.lastRx = c.now
	c.noReply = false
	beyond := c.rel.stats.BeyondWindow
	ackNow := c.rel.recv(c.now, ns, nr, b, zlb, deliver)
	if c.rel.stats.BeyondWindow != beyond {
		c.cnt.outOfWindow.Add(1)
	}
	// Messages that never get an answer are acknowledged at once rather
	// than after the delayed-ack timer: the peer's window opens sooner.
	ackNow = ackNow || (c.noReply && !c.rel.ackDue.IsZero())
	if ackNow || (c.state == TunClosing && !zlb) {
		c.rel.sendZLB(uint16(c.remoteID))
	}
}

// screen does what both versions do first with a decoded in-order
// message: take a StopCCN (adopt, when not zero, is the peer's Assigned
// ID it carries, for a connection that did not know it yet), and drop
// what comes during the §5.7 hold. It reports whether the message is
// done with.
func (c *ccn[ID, R]) screen(typ l2tp.MsgType, r l2tp.Result, adopt ID) bool {
	if typ == l2tp.MsgStopCCN && c.state != TunDead {
		c.rxStopCCN(r, adopt)
		return true
	}
	return c.state == TunClosing || c.state == TunDead // §5.7: only acknowledged while held
}

// unknownMsg reports (and logs) an unknown message type with the M bit
// clear, which is ignored (v2 §3.2, v3 §5.4.1).
func (c *ccn[ID, R]) unknownMsg(typ l2tp.MsgType, err error, section string) bool {
	var ae *l2tp.AVPError
	if errors.As(err, &ae) && errors.Is(err, l2tp.ErrUnknownMsg) && !ae.Mandatory {
		c.eventf("ignoring unknown message type %d (M bit clear, %s)", uint16(typ), section)
		return true
	}
	return false
}

// badCtl ends the connection for a control message that did not decode:
// StopCCN with the result the error names, addressed to the peer's
// Assigned ID if the message was its SCCRQ or SCCRP.
func (c *ccn[ID, R]) badCtl(typ l2tp.MsgType, assigned ID, from netip.AddrPort, err error) {
	if typ == l2tp.MsgSCCRQ || typ == l2tp.MsgSCCRP {
		if c.remoteID == 0 {
			c.remoteID = assigned
		}
		if typ == l2tp.MsgSCCRP {
			c.peer = from
		}
	}
	c.shutdown(l2tp.ResultFor(err), err)
}

// rxStart begins the handling of the peer's SCCRQ (ev TevRxSCCRQ, a
// responder in idle) or SCCRP (TevRxSCCRP, an initiator waiting for it):
// the peer's address, Assigned ID, names and window. false: not in this
// state, dropped.
func (c *ccn[ID, R]) rxStart(ev TunnelEvent, typ l2tp.MsgType, from netip.AddrPort, id ID, host, vendor string) bool {
	if ev == TevRxSCCRQ && (c.initiator || c.state != TunIdle) || ev == TevRxSCCRP && c.state != TunWaitCtlReply {
		c.errorf("%v in %v", c.ver.msgName(typ), c.state)
		return false
	}
	if ev == TevRxSCCRP {
		c.awaitingReply.Store(false)
	}
	c.fire(ev)
	c.peer = from // v2 §8.1: a reply from a new port becomes the connection's port
	c.remoteID = id
	c.peerName, c.peerVend = host, vendor
	return true
}

// peerWindow applies the peer's Receive Window Size AVP, if it sent one.
func (c *ccn[ID, R]) peerWindow(has bool, w uint16) {
	if has {
		c.rel.setPeerWindow(int(w))
	}
}

// refuseSetup ends the set-up: the peer's SCCRQ or SCCRP is refused
// (ev TevSCCRQBad or TevSCCRPBad) with StopCCN result code.
func (c *ccn[ID, R]) refuseSetup(ev TunnelEvent, typ l2tp.MsgType, host string, code uint16, why error) {
	c.errorf("%v from %q refused: %v", c.ver.msgName(typ), host, why)
	c.shutdownEv(ev, l2tp.Result{Code: code}, why)
}

// rxSCCCN begins the handling of the responder's SCCCN: false if not in
// wait-ctl-conn. The version checks it (v2's challenge response), then
// acceptSCCCN makes the connection established.
func (c *ccn[ID, R]) rxSCCCN() bool {
	if c.state != TunWaitCtlConn {
		c.errorf("SCCCN in %v", c.state)
		return false
	}
	c.fire(TevRxSCCCN)
	return true
}

func (c *ccn[ID, R]) acceptSCCCN() {
	c.fire(TevSCCCNOK)
	c.up()
}

// earlier returns the earlier of two deadlines, zero being none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// up runs when the connection reaches established: waiting session
// requests go out.
func (c *ccn[ID, R]) up() {
	c.eventf("Control channel up")
	c.ver.established()
	if c.ver.sessionCount() == 0 {
		c.emptySince = c.now
	}
	c.ver.upSessions()
}

func (c *ccn[ID, R]) rxStopCCN(r l2tp.Result, adopt ID) {
	c.eventf("Rx StopCCN: %s", r.Text(l2tp.MsgStopCCN))
	if c.state == TunClosing {
		c.fire(TevRxStopCCN)
		return
	}
	c.fire(TevRxStopCCN)
	c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: r, Remote: true}
	if c.remoteID == 0 {
		c.remoteID = adopt
	}
	// Acknowledge at once (§5.7) and hold the state for a full
	// retransmission cycle to acknowledge retransmissions of it.
	c.rel.sendZLB(uint16(c.remoteID))
	c.enterClosing()
}

// shutdown sends StopCCN with r and enters the §5.7 hold.
func (c *ccn[ID, R]) shutdown(r l2tp.Result, cause error) { c.shutdownEv(TevClose, r, cause) }

func (c *ccn[ID, R]) shutdownEv(ev TunnelEvent, r l2tp.Result, cause error) {
	if c.state == TunClosing || c.state == TunDead {
		return
	}
	c.fire(ev)
	c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: r, Err: cause}
	if c.remoteID != 0 {
		c.eventf("Tx StopCCN: %s", r.Text(l2tp.MsgStopCCN))
		c.ver.sendStopCCN(r)
	}
	c.enterClosing()
}

func (c *ccn[ID, R]) enterClosing() {
	c.awaitingReply.Store(false)
	c.holdUntil = c.now.Add(c.rel.cycle())
	c.ver.notReusable()
	c.ver.dropSessions(c.closeErr)
	if c.remoteID == 0 {
		c.state = TunDead
	}
}

// Logging: `debug vpdn l2x-events` and `l2x-errors` lines, at Debug.

func (c *ccn[ID, R]) enabled() bool {
	return c.log != nil && c.log.Enabled(context.Background(), slog.LevelDebug)
}

func (c *ccn[ID, R]) prefix() string {
	return fmt.Sprintf("L2TP tnl %0*d:%08X: ", c.words.idDigits, c.localID, c.remoteID)
}

func (c *ccn[ID, R]) eventf(format string, args ...any) {
	if c.enabled() {
		c.log.Debug(c.prefix()+fmt.Sprintf(format, args...), "debug", "l2x-events")
	}
}

func (c *ccn[ID, R]) errorf(format string, args ...any) {
	if c.enabled() {
		c.log.Debug(c.prefix()+fmt.Sprintf(format, args...), "debug", "l2x-errors")
	}
}
