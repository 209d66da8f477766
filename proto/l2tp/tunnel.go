package l2tp

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// inputQueue bounds the datagrams waiting for a busy tunnel goroutine.
const inputQueue = 256

// maxBacklog bounds the control messages queued for a peer that does not
// acknowledge them (beyond its window): past it, new calls are refused
// silently, so a peer that sends ICRQs and never acknowledges cannot grow
// our send queue without bound.
const maxBacklog = 1024

type inPacket struct {
	b    []byte
	from netip.AddrPort
}

// Tunnel is one L2TP control connection and its sessions. All of its
// state is owned by one goroutine (run), which selects over received
// datagrams, commands from the API, its single timer and kill; other
// goroutines only read it, under mu, for Stats.
type Tunnel struct {
	n *Node
	// recent, recentAt and recentSet remember the last session IDs freed
	// (recentlyFreed), so that newSession does not hand them out again at
	// once.
	recent    []uint16
	recentAt  int
	recentSet map[uint16]int
	localID   uint16
	initiator bool
	peer0     netip.AddrPort // where the first SCCRQ went or came from
	// tieBreaker is our §4.4.3 value (initiators only); awaitingReply is
	// set while our SCCRQ is unanswered, for the node's tie-break check.
	tieBreaker    [8]byte
	awaitingReply atomic.Bool
	reuse         reuseKey     // guarded by n.mu
	nHalf         atomic.Int32 // half-open sessions, counted with the node's (admitHalfOpen)
	sccrqKey      sccrqKey     // guarded by n.mu

	// ctlLoop's mu guards everything below; the goroutine holds it while
	// it works.
	ctlLoop
	p         TunnelParams
	peer      netip.AddrPort
	remoteID  uint16
	peerName  string
	peerVend  string
	state     TunnelState
	created   time.Time
	since     time.Time
	rel       *reliable
	challenge []byte
	sessions  map[uint16]*Session
	pending   map[uint16]*Session // sessions not yet established
	// pendingQ holds the pending sessions we placed, halfQ those the peer
	// opened (half-open), each in creation (= deadline) order: the two
	// kinds have different set-up timeouts.
	pendingQ, halfQ []*Session
	// emptySince is when the established tunnel last had no session
	// (zero while it has some), for the no-session timeout.
	emptySince time.Time
	lastRx     time.Time
	setupDL    time.Time
	holdUntil  time.Time
	closeErr   error
	helloTx    uint64
	noReply    bool   // the message just delivered gets no answer
	unknown    uint64 // unknown optional AVPs skipped (§4.1)
	// testAVPs are raw AVPs appended to outgoing messages of a type, for
	// tests that need a peer sending what this package never would.
	testAVPs map[l2tp.MsgType][]byte
	scratch  []byte
}

func newTunnel(n *Node, id uint16, peer netip.AddrPort, p TunnelParams, initiator bool) *Tunnel {
	t := &Tunnel{n: n, localID: id, initiator: initiator, peer0: peer, peer: peer,
		ctlLoop: newCtlLoop(), sessions: map[uint16]*Session{}}
	if initiator {
		t.p = p
		_, _ = crand.Read(t.tieBreaker[:])
		t.awaitingReply.Store(true)
	} else {
		t.p = n.cfg.Defaults.withDefaults()
	}
	t.rel = newReliable(t.relConfig(), t.write)
	return t
}

func (t *Tunnel) relConfig() relConfig {
	r := t.p.Retransmit
	return relConfig{timeoutMin: r.TimeoutMin, timeoutMax: r.TimeoutMax, retries: r.Retries,
		ackDelay: min(100*time.Millisecond, r.TimeoutMin/4), recvWindow: t.p.RecvWindow}
}

func (t *Tunnel) write(b []byte) {
	if err := t.n.cfg.Conn.WriteTo(b, t.peer); err != nil {
		t.errorf("send to %v: %v", t.peer, err)
	}
}

// LocalID returns our tunnel ID.
func (t *Tunnel) LocalID() uint16 { return t.localID }

// Done is closed when the tunnel's goroutine has ended.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err returns why the tunnel closed (a *CloseError), once Done is closed.
func (t *Tunnel) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closeErr
}

// Close sends StopCCN with result r (§6.4) and, after the §5.7 hold,
// ends the tunnel. Every session goes with it.
func (t *Tunnel) Close(r l2tp.Result) {
	t.post(func() { t.shutdown(r, nil) })
}

// input queues a copy of a control datagram for the goroutine.
func (t *Tunnel) input(b []byte, from netip.AddrPort) {
	select {
	case t.in <- inPacket{append([]byte(nil), b...), from}:
	default:
		t.n.cnt.inputOverflow.Add(1)
	}
}

// evictHalfOpen closes the oldest half-open session the peer opened, to
// make room for a newer one (Limits): CDN result 4, temporary lack of
// facilities, error 4, insufficient resources (§4.4.2). Result 4 rather
// than 10 (not established in time) or 2: the call was refused for
// resources, and a legitimate LAC may retry it later.
func (t *Tunnel) evictHalfOpen() {
	s := oldestPending(t, &t.halfQ)
	if s == nil {
		return
	}
	t.n.cnt.sessionEvicted.Add(1)
	t.closeSession(s, l2tp.Result{Code: l2tp.CDNNoFacilitiesTmp, Error: l2tp.ErrCodeResources, HasError: true}, ErrHalfOpenEvicted)
}

// abandon is called, under n.mu, when our SCCRQ lost a tie-break (§4.4.3).
func (t *Tunnel) abandon() {
	t.awaitingReply.Store(false)
	if t.n.byReuse[t.reuse] == t {
		delete(t.n.byReuse, t.reuse)
	}
	go t.post(func() {
		if t.state == TunWaitCtlReply {
			t.eventf("lost the tie-break to the peer's SCCRQ")
			t.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopAlreadyExists}, Err: errTunnelGone}
			t.fire(TevRetransFail)
			t.dropSessions(t.closeErr)
		}
	})
}

func (t *Tunnel) run() {
	t.mu.Lock()
	t.now = t.n.clock.Now()
	t.created, t.since, t.lastRx = t.now, t.now, t.now
	t.setupDL = t.now.Add(t.p.SetupTimeout)
	t.eventf("Create tunnel")
	t.eventf("remote ip set to %v", t.peer.Addr())
	if t.initiator {
		t.open()
	}
	t.loop(t.n.clock, t)
	t.n.removeTunnel(t)
	t.drain() // what arrived after the end fails
	close(t.done)
}

// stopped, handle, deadline, onTimer and killed are the ctlMachine the
// goroutine's loop drives.
func (t *Tunnel) stopped() bool { return t.state == TunDead }

func (t *Tunnel) killed() {
	if t.closeErr == nil {
		t.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopClear}, Err: ErrClosed}
	}
	t.dropSessions(t.closeErr)
	t.state = TunDead
}

// deadline is the earliest time the goroutine must wake.
func (t *Tunnel) deadline() time.Time {
	dl := t.rel.deadline()
	upd := func(x time.Time) {
		if !x.IsZero() && (dl.IsZero() || x.Before(dl)) {
			dl = x
		}
	}
	switch t.state {
	case TunClosing:
		upd(t.holdUntil)
	case TunEstablished:
		if t.p.Hello > 0 && t.rel.idle() {
			upd(t.lastRx.Add(t.p.Hello))
		}
		if t.p.NoSessionTimeout > 0 && !t.emptySince.IsZero() {
			upd(t.emptySince.Add(t.p.NoSessionTimeout))
		}
	case TunDead:
	default:
		upd(t.setupDL)
	}
	if s := oldestPending(t, &t.pendingQ); s != nil {
		upd(s.deadline)
	}
	if s := oldestPending(t, &t.halfQ); s != nil {
		upd(s.deadline)
	}
	return dl
}

// oldestPending returns the pending session of q with the earliest
// deadline. Every session of a queue gets the same setup timeout, so
// creation order is deadline order: a FIFO with lazy removal gives it in
// O(1) amortized, even with thousands of calls being set up at once.
func oldestPending(t *Tunnel, q *[]*Session) *Session {
	for len(*q) > 0 {
		s := (*q)[0]
		if t.pending[s.localID] == s {
			return s
		}
		(*q)[0] = nil
		*q = (*q)[1:]
	}
	*q = nil
	return nil
}

func (t *Tunnel) onTimer() {
	now := t.now
	if err := t.rel.tick(now, t.remoteID); err != nil {
		t.retransFail()
		return
	}
	switch t.state {
	case TunClosing:
		if !now.Before(t.holdUntil) {
			t.fire(TevHoldDone)
		}
		return
	case TunEstablished:
		if t.p.NoSessionTimeout > 0 && !t.emptySince.IsZero() && !now.Before(t.emptySince.Add(t.p.NoSessionTimeout)) {
			// IOS "l2tp tunnel timeout no-session": StopCCN result 1,
			// general request to clear the control connection (§4.4.2).
			t.n.cnt.noSessionClosed.Add(1)
			t.eventf("no session for %v: closing", t.p.NoSessionTimeout)
			t.shutdown(l2tp.Result{Code: l2tp.StopClear, HasError: true, Message: "no-session timeout"}, ErrNoSession)
			return
		}
		if t.p.Hello > 0 && t.rel.idle() && !now.Before(t.lastRx.Add(t.p.Hello)) {
			// §6.5: HELLO after a period of silence; its retransmission
			// failing is how a dead peer is detected.
			t.helloTx++
			t.send(&l2tp.Message{Type: l2tp.MsgHELLO}, 0)
		}
	case TunDead:
		return
	default:
		if !now.Before(t.setupDL) {
			t.errorf("tunnel setup timed out in %v", t.state)
			t.shutdown(l2tp.Result{Code: l2tp.StopClear, HasError: true, Message: "timeout setup"}, ErrSetupTimeout)
			return
		}
	}
	for s := oldestPending(t, &t.pendingQ); s != nil && !now.Before(s.deadline); s = oldestPending(t, &t.pendingQ) {
		// §4.4.2 CDN result 10: not established within the time allotted.
		t.closeSession(s, l2tp.Result{Code: l2tp.CDNTimeout}, ErrSetupTimeout)
	}
	for s := oldestPending(t, &t.halfQ); s != nil && !now.Before(s.deadline); s = oldestPending(t, &t.halfQ) {
		t.n.cnt.sessionSetupTimeouts.Add(1)
		t.closeSession(s, l2tp.Result{Code: l2tp.CDNTimeout}, ErrSetupTimeout)
	}
}

func (t *Tunnel) retransFail() {
	t.errorf("no acknowledgement from %v after %d retransmissions", t.peer, t.p.Retransmit.Retries)
	if t.closeErr == nil {
		t.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopGeneralError}, Err: ErrPeerUnreachable}
	}
	t.fire(TevRetransFail)
	t.dropSessions(t.closeErr)
}

// fire applies a tunnel event through the §7.2 table and logs it the way
// IOS `debug vpdn l2x-events` does.
func (t *Tunnel) fire(ev TunnelEvent) bool {
	t.eventf("FSM-CC ev %v", ev)
	to, ok := tunNext(t.state, ev)
	if !ok {
		t.errorf("FSM-CC ev %v invalid in %v", ev, t.state)
		return false
	}
	if to != t.state {
		t.eventf("FSM-CC %v->%v", t.state, to)
		t.state = to
		t.since = t.now
	}
	return true
}

// send encodes m to the peer (session sid) and queues it reliably.
func (t *Tunnel) send(m *l2tp.Message, sid uint16) {
	var h *l2tp.Hiding
	if t.p.Hidden && len(t.p.Secret) > 0 && len(m.Hide) > 0 {
		rv := make([]byte, 16)
		_, _ = crand.Read(rv)
		h = &l2tp.Hiding{Secret: t.p.Secret, RandomVector: rv, Pad: func(n int) []byte {
			p := make([]byte, n)
			_, _ = crand.Read(p)
			return p
		}}
	} else {
		m.Hide = nil
	}
	b, err := m.Append(nil, t.remoteID, sid, 0, 0, h)
	if err == nil && t.testAVPs != nil && t.testAVPs[m.Type] != nil {
		b = append(b, t.testAVPs[m.Type]...)
		err = l2tp.FinishControl(b)
	}
	if err != nil {
		t.errorf("encode %v: %v", m.Type, err)
		return
	}
	tries := t.p.Retransmit.Retries + 1
	if m.Type == l2tp.MsgSCCRQ {
		tries = t.p.Retransmit.InitialRetries + 1
	}
	t.eventf("Tx %v to %v", m.Type, t.peer)
	t.rel.queue(t.now, b, m.Type, tries)
}

// open sends SCCRQ (§6.1) for a local open request.
func (t *Tunnel) open() {
	t.fire(TevOpen)
	m := t.startMsg(l2tp.MsgSCCRQ)
	m.TieBreaker = t.tieBreaker
	m.Set(l2tp.AVPTieBreaker)
	if len(t.p.Secret) > 0 {
		t.challenge = make([]byte, 16)
		_, _ = crand.Read(t.challenge)
		m.Challenge = t.challenge
		m.Set(l2tp.AVPChallenge)
	}
	t.send(m, 0)
}

// startMsg builds the common part of SCCRQ and SCCRP (§6.1, §6.2).
func (t *Tunnel) startMsg(typ l2tp.MsgType) *l2tp.Message {
	m := &l2tp.Message{Type: typ, ProtocolVersion: 1, ProtocolRevision: 0, FramingCaps: t.p.FramingCaps,
		BearerCaps: t.p.BearerCaps, FirmwareRevision: 0x0100, HostName: t.p.LocalName, VendorName: "vpdn",
		AssignedTunnelID: t.localID, RecvWindowSize: t.p.RecvWindow}
	m.Set(l2tp.AVPProtocolVersion, l2tp.AVPFramingCapabilities, l2tp.AVPFirmwareRevision, l2tp.AVPHostName,
		l2tp.AVPVendorName, l2tp.AVPAssignedTunnelID, l2tp.AVPReceiveWindowSize)
	if t.p.BearerCaps != 0 {
		m.Set(l2tp.AVPBearerCapabilities)
	}
	return m
}

func (t *Tunnel) handle(p inPacket) {
	h, err := l2tp.ParseHeader(p.b)
	if err != nil {
		return
	}
	if p.from != t.peer {
		switch {
		case t.state == TunWaitCtlReply && p.from.Addr() == t.peer.Addr():
			// §8.1: the responder may answer from another port; SCCRP
			// processing adopts it.
		default:
			t.n.cnt.wrongPeer.Add(1)
			return
		}
	}
	body := h.Payload(p.b)
	t.lastRx = t.now
	t.noReply = false
	beyond := t.rel.stats.BeyondWindow
	ackNow := t.rel.recv(t.now, h.Ns, h.Nr, p.b, len(body) == 0, func(msg []byte) { t.deliver(msg, p.from) })
	if t.rel.stats.BeyondWindow != beyond {
		t.n.cnt.outOfWindow.Add(1)
	}
	// Messages that never get an answer are acknowledged at once rather
	// than after the delayed-ack timer: the peer's window opens sooner.
	ackNow = ackNow || (t.noReply && !t.rel.ackDue.IsZero())
	if ackNow || (t.state == TunClosing && len(body) > 0) {
		t.rel.sendZLB(t.remoteID)
	}
}

// deliver handles one in-order control message.
func (t *Tunnel) deliver(msg []byte, from netip.AddrPort) {
	h, _ := l2tp.ParseHeader(msg)
	var m l2tp.Message
	err := m.Decode(h.Payload(msg), t.p.Secret)
	t.unknown += uint64(m.UnknownOptional + m.Vendor)
	switch m.Type {
	case l2tp.MsgSCCCN, l2tp.MsgICCN, l2tp.MsgOCCN, l2tp.MsgCDN, l2tp.MsgHELLO, l2tp.MsgWEN, l2tp.MsgSLI:
		t.noReply = true
	}
	if m.Type == l2tp.MsgStopCCN && t.state != TunDead {
		t.rxStopCCN(&m)
		return
	}
	if t.state == TunClosing || t.state == TunDead {
		return // §5.7: only acknowledged while held
	}
	if err != nil {
		var ae *l2tp.AVPError
		if errors.As(err, &ae) && errors.Is(err, l2tp.ErrUnknownMsg) && !ae.Mandatory {
			t.eventf("ignoring unknown message type %d (M bit clear, §3.2)", uint16(m.Type))
			return
		}
		t.errorf("bad %v: %v", m.Type, err)
		t.n.countDecodeError(err)
		if m.Type.IsSession() {
			// §4.1: an unknown mandatory AVP in a call message tears
			// down the session only.
			if s := t.sessions[h.SessionID]; s != nil && h.SessionID != 0 {
				t.closeSession(s, l2tp.ResultFor(err), err)
			} else if (m.Type == l2tp.MsgICRQ || m.Type == l2tp.MsgOCRQ) && t.state == TunEstablished {
				// A call request we cannot accept: CDN to the peer's
				// session, our Assigned Session ID 0 (no session made).
				// An Assigned Session ID of 0 (§4.4.4 forbids it) gets
				// its CDN on session 0, result 2, error 5 (ResultFor):
				// the peer can match it by nothing else.
				r := &l2tp.Message{Type: l2tp.MsgCDN, Result: l2tp.ResultFor(err)}
				r.Set(l2tp.AVPAssignedSessionID, l2tp.AVPResultCode)
				t.send(r, m.AssignedSessionID)
			}
			return
		}
		if m.Type == l2tp.MsgSCCRQ || m.Type == l2tp.MsgSCCRP {
			if t.remoteID == 0 {
				t.remoteID = m.AssignedTunnelID
			}
			if m.Type == l2tp.MsgSCCRP {
				t.peer = from
			}
		}
		t.shutdown(l2tp.ResultFor(err), err)
		return
	}
	switch m.Type {
	case l2tp.MsgSCCRQ:
		t.rxSCCRQ(&m, from)
	case l2tp.MsgSCCRP:
		t.rxSCCRP(&m, from)
	case l2tp.MsgSCCCN:
		t.rxSCCCN(&m)
	case l2tp.MsgHELLO:
		t.eventf("Rx HELLO")
	case l2tp.MsgICRQ, l2tp.MsgOCRQ:
		t.rxCallRequest(&m)
	default:
		if t.state != TunEstablished {
			t.errorf("%v before the tunnel is established", m.Type)
			return
		}
		s := t.sessions[h.SessionID]
		if s == nil && m.Type == l2tp.MsgCDN {
			// A CDN for a session already gone (both ends closed at
			// once): nothing to tear down.
			t.n.cnt.noSession.Add(1)
			return
		}
		if s == nil {
			t.n.cnt.noSession.Add(1)
			t.errorf("%v for unknown session %d", m.Type, h.SessionID)
			return
		}
		s.rx(&m)
	}
}

func (t *Tunnel) rxSCCRQ(m *l2tp.Message, from netip.AddrPort) {
	if t.initiator || t.state != TunIdle {
		t.errorf("SCCRQ in %v", t.state)
		return
	}
	t.fire(TevRxSCCRQ)
	t.peer = from
	t.remoteID = m.AssignedTunnelID
	t.peerName = m.HostName
	t.peerVend = m.VendorName
	bad := func(code uint16, why error) {
		t.errorf("SCCRQ from %q refused: %v", m.HostName, why)
		t.shutdownEv(TevSCCRQBad, l2tp.Result{Code: code}, why)
	}
	if m.ProtocolVersion != 1 || m.ProtocolRevision != 0 {
		bad(l2tp.StopBadVersion, fmt.Errorf("protocol version %d.%d", m.ProtocolVersion, m.ProtocolRevision))
		return
	}
	p, ok := t.n.cfg.Defaults, true
	if t.n.cfg.Incoming != nil {
		p, ok = t.n.cfg.Incoming(from, m.HostName)
	}
	if !ok || (p.RemoteName != "" && p.RemoteName != m.HostName) {
		bad(l2tp.StopNotAuthorized, fmt.Errorf("no tunnel configured for hostname %q", m.HostName))
		return
	}
	t.p = p.withDefaults()
	t.rel.cfg = t.relConfig()
	t.setupDL = t.created.Add(t.p.SetupTimeout)
	if m.Has(l2tp.AVPReceiveWindowSize) {
		t.rel.setPeerWindow(int(m.RecvWindowSize))
	}
	if m.Has(l2tp.AVPChallenge) && len(t.p.Secret) == 0 {
		bad(l2tp.StopNotAuthorized, errors.New("peer wants tunnel authentication, no secret configured"))
		return
	}
	t.fire(TevSCCRQOK)
	r := t.startMsg(l2tp.MsgSCCRP)
	if len(t.p.Secret) > 0 {
		t.challenge = make([]byte, 16)
		_, _ = crand.Read(t.challenge)
		r.Challenge = t.challenge
		r.Set(l2tp.AVPChallenge)
	}
	if m.Has(l2tp.AVPChallenge) {
		cr := l2tp.ChallengeResponse(l2tp.MsgSCCRP, t.p.Secret, m.Challenge)
		r.ChallengeResponse = cr[:]
		r.Set(l2tp.AVPChallengeResponse)
	}
	t.send(r, 0)
}

func (t *Tunnel) rxSCCRP(m *l2tp.Message, from netip.AddrPort) {
	if t.state != TunWaitCtlReply {
		t.errorf("SCCRP in %v", t.state)
		return
	}
	t.awaitingReply.Store(false)
	t.fire(TevRxSCCRP)
	t.peer = from // §8.1: reply from a new port becomes the tunnel's port
	t.remoteID = m.AssignedTunnelID
	t.peerName = m.HostName
	t.peerVend = m.VendorName
	if m.Has(l2tp.AVPReceiveWindowSize) {
		t.rel.setPeerWindow(int(m.RecvWindowSize))
	}
	bad := func(code uint16, why error) {
		t.errorf("SCCRP from %q refused: %v", m.HostName, why)
		t.shutdownEv(TevSCCRPBad, l2tp.Result{Code: code}, why)
	}
	if m.ProtocolVersion != 1 || m.ProtocolRevision != 0 {
		bad(l2tp.StopBadVersion, fmt.Errorf("protocol version %d.%d", m.ProtocolVersion, m.ProtocolRevision))
		return
	}
	if t.p.RemoteName != "" && t.p.RemoteName != m.HostName {
		bad(l2tp.StopNotAuthorized, fmt.Errorf("peer hostname %q, want %q", m.HostName, t.p.RemoteName))
		return
	}
	if len(t.p.Secret) > 0 {
		want := l2tp.ChallengeResponse(l2tp.MsgSCCRP, t.p.Secret, t.challenge)
		if !bytes.Equal(m.ChallengeResponse, want[:]) {
			bad(l2tp.StopNotAuthorized, ErrTunnelAuth)
			return
		}
		t.eventf("Tunnel Authentication success")
	}
	c := &l2tp.Message{Type: l2tp.MsgSCCCN}
	if m.Has(l2tp.AVPChallenge) {
		if len(t.p.Secret) == 0 {
			bad(l2tp.StopNotAuthorized, errors.New("peer wants tunnel authentication, no secret configured"))
			return
		}
		cr := l2tp.ChallengeResponse(l2tp.MsgSCCCN, t.p.Secret, m.Challenge)
		c.ChallengeResponse = cr[:]
		c.Set(l2tp.AVPChallengeResponse)
	}
	t.fire(TevSCCRPOK)
	t.send(c, 0)
	t.up()
}

// ErrTunnelAuth is the cause of a StopCCN with result 4 after a wrong
// Challenge Response (§4.2).
var ErrTunnelAuth = errors.New("l2tp: tunnel authentication failed")

func (t *Tunnel) rxSCCCN(m *l2tp.Message) {
	if t.state != TunWaitCtlConn {
		t.errorf("SCCCN in %v", t.state)
		return
	}
	t.fire(TevRxSCCCN)
	if len(t.p.Secret) > 0 {
		want := l2tp.ChallengeResponse(l2tp.MsgSCCCN, t.p.Secret, t.challenge)
		if !bytes.Equal(m.ChallengeResponse, want[:]) {
			t.errorf("Tunnel Authentication failed for %q", t.peerName)
			t.shutdownEv(TevSCCCNBad, l2tp.Result{Code: l2tp.StopNotAuthorized}, ErrTunnelAuth)
			return
		}
		t.eventf("Tunnel Authentication success")
	}
	t.fire(TevSCCCNOK)
	t.up()
}

// up runs when the tunnel reaches established: waiting calls go out.
func (t *Tunnel) up() {
	t.eventf("Control channel up")
	t.n.established(t)
	if len(t.sessions) == 0 {
		t.emptySince = t.now
	}
	for _, s := range t.pending {
		if s.state == SnWaitTunnel {
			s.tunnelUp()
		}
	}
}

func (t *Tunnel) rxStopCCN(m *l2tp.Message) {
	t.eventf("Rx StopCCN: %s", m.Result.Text(l2tp.MsgStopCCN))
	if t.state == TunClosing {
		t.fire(TevRxStopCCN)
		return
	}
	t.fire(TevRxStopCCN)
	t.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: m.Result, Remote: true}
	// Acknowledge at once (§5.7) and hold the state for a full
	// retransmission cycle to acknowledge retransmissions of it.
	t.rel.sendZLB(t.remoteID)
	t.enterClosing()
}

// shutdown sends StopCCN with r and enters the §5.7 hold.
func (t *Tunnel) shutdown(r l2tp.Result, cause error) { t.shutdownEv(TevClose, r, cause) }

func (t *Tunnel) shutdownEv(ev TunnelEvent, r l2tp.Result, cause error) {
	if t.state == TunClosing || t.state == TunDead {
		return
	}
	t.fire(ev)
	t.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: r, Err: cause}
	if t.remoteID != 0 {
		m := &l2tp.Message{Type: l2tp.MsgStopCCN, AssignedTunnelID: t.localID, Result: r}
		m.Set(l2tp.AVPAssignedTunnelID, l2tp.AVPResultCode)
		t.eventf("Tx StopCCN: %s", r.Text(l2tp.MsgStopCCN))
		t.send(m, 0)
	}
	t.enterClosing()
}

func (t *Tunnel) enterClosing() {
	t.awaitingReply.Store(false)
	t.holdUntil = t.now.Add(t.rel.cycle())
	t.n.notReusable(t)
	t.dropSessions(t.closeErr)
	if t.remoteID == 0 {
		t.state = TunDead
	}
}

// dropSessions ends every session without CDN: the tunnel is going.
func (t *Tunnel) dropSessions(err error) {
	for _, s := range t.sessions {
		s.fire(SevTunnelDown)
		s.finish(err)
	}
}

// Stats snapshot.

// TunnelStats is a snapshot of a tunnel for `show l2tun tunnel` and
// `show vpdn`.
type TunnelStats struct {
	LocalID, RemoteID   uint16
	LocalName, PeerName string
	PeerVendor          string
	Peer                netip.AddrPort
	State               TunnelState
	Initiator           bool
	Class               string
	Sessions            int
	Created, Since      time.Time // creation and last state change
	CtrlTx, CtrlRx      uint64
	Retransmits         uint64
	ZLBTx, ZLBRx        uint64
	Duplicates          uint64
	OutOfOrder          uint64
	HelloTx             uint64
	UnknownAVPs         uint64 // optional unknown AVPs skipped (§4.1)
	CWND, PeerWindow    int
	// Unacked counts the control messages sent or queued that the peer
	// has not acknowledged yet: 0 once a closing tunnel's StopCCN got
	// through.
	Unacked int
	Err     error
}

// Stats returns a snapshot of the tunnel.
func (t *Tunnel) Stats() TunnelStats {
	st, _ := t.snapshot(false)
	return st
}

func (t *Tunnel) snapshot(withSessions bool) (TunnelStats, []SessionStats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rs := t.rel.stats
	st := TunnelStats{LocalID: t.localID, RemoteID: t.remoteID, LocalName: t.p.LocalName, PeerName: t.peerName,
		PeerVendor: t.peerVend, Peer: t.peer, State: t.state, Initiator: t.initiator, Class: t.p.Class,
		Sessions: len(t.sessions), Created: t.created, Since: t.since, CtrlTx: rs.Tx, CtrlRx: rs.Rx,
		Retransmits: rs.Retransmits, ZLBTx: rs.ZLBTx, ZLBRx: rs.ZLBRx, Duplicates: rs.Duplicates,
		OutOfOrder: rs.OutOfOrder, HelloTx: t.helloTx, UnknownAVPs: t.unknown, CWND: t.rel.cwnd, PeerWindow: t.rel.peerWindow,
		Unacked: len(t.rel.unacked) + len(t.rel.waiting), Err: t.closeErr}
	var ss []SessionStats
	if withSessions {
		ss = make([]SessionStats, 0, len(t.sessions))
		for _, s := range t.sessions {
			ss = append(ss, s.statsLocked())
		}
	}
	return st, ss
}

// Logging: `debug vpdn l2x-events` and `l2x-errors` lines, at Debug.

func (t *Tunnel) enabled() bool {
	return t.n.log != nil && t.n.log.Enabled(context.Background(), slog.LevelDebug)
}

func (t *Tunnel) prefix() string {
	return fmt.Sprintf("L2TP tnl %05d:%08X: ", t.localID, t.remoteID)
}

func (t *Tunnel) eventf(format string, args ...any) {
	if t.enabled() {
		t.n.log.Debug(t.prefix()+fmt.Sprintf(format, args...), "debug", "l2x-events")
	}
}

func (t *Tunnel) errorf(format string, args ...any) {
	if t.enabled() {
		t.n.log.Debug(t.prefix()+fmt.Sprintf(format, args...), "debug", "l2x-errors")
	}
}
