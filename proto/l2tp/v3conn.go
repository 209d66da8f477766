package l2tp

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// nonceLen is the length of our Control Message Authentication Nonce
// (§5.4.1: at least 16 octets recommended).
const nonceLen = 16

// V3Conn is one L2TPv3 control connection (RFC 3931 §3.3) and its
// sessions. As a v2 Tunnel, one goroutine owns its state; it selects over
// received messages, API commands and one timer.
type V3Conn struct {
	n             *V3Node
	localID       uint32
	initiator     bool
	peer0         netip.AddrPort
	tieBreaker    [8]byte
	awaitingReply atomic.Bool
	reuse         string       // guarded by n.mu
	sccrqKey      v3SCCRQKey   // guarded by n.mu
	nHalf         atomic.Int32 // half-open sessions, counted with the node's (admitHalfOpen)

	// downc is closed when the connection stops being usable: StopCCN
	// sent or received, retransmissions exhausted, killed (before the
	// §5.7 hold ends it, which closes done).
	downc    chan struct{}
	downOnce sync.Once

	// ctlLoop's mu guards everything below; the goroutine holds it while
	// it works.
	ctlLoop
	p        V3Params
	peer     netip.AddrPort
	remoteID uint32
	peerName string
	peerVend string
	peerRID  uint32
	state    TunnelState
	rel      *reliable
	// Control message authentication (§4.3): key is shared_key when the
	// connection authenticates, nil when it does not.
	key                     []byte
	localNonce, remoteNonce []byte
	sessions                map[uint32]*Pseudowire // by our Local Session ID
	created, since          time.Time
	lastRx, setupDL         time.Time
	holdUntil               time.Time
	closeErr                error
	helloTx, digestFail     uint64
	unknown                 uint64
	noReply                 bool
	// testAVPs are raw AVPs appended to outgoing messages of a type, for
	// tests of a peer sending what this package never would.
	testAVPs map[l2tp.MsgType][]byte
	// waiters are Opens waiting for the connection to be established.
	waiters []chan error
	// keepalive: an Open asked for the connection (`l2tp hello` of a
	// manual session), which the no-session timeout spares.
	keepalive bool
	// emptySince is when the established connection last lost (or
	// never had) a pseudowire; zero while it carries one.
	emptySince time.Time
	pwSeq      uint64 // orders pseudowires by creation (oldest half-open first)
	// dataRx is the sum of DataRx over the sessions when the hello
	// timer last looked; helloJitter spreads the HELLOs of connections
	// to the same peer (§4.4: a jittered timer).
	dataRx      uint64
	helloJitter time.Duration
}

func newV3Conn(n *V3Node, id uint32, peer netip.AddrPort, p V3Params, initiator bool) *V3Conn {
	c := &V3Conn{n: n, localID: id, initiator: initiator, peer0: peer, peer: peer,
		ctlLoop: newCtlLoop(), downc: make(chan struct{}), sessions: map[uint32]*Pseudowire{}}
	// Up to a second, at most a tenth of the interval (helloDue).
	c.helloJitter = time.Duration(mrand.N(100)) * time.Millisecond * 10
	if initiator {
		c.setParams(p)
		_, _ = crand.Read(c.tieBreaker[:])
		c.awaitingReply.Store(true)
	} else {
		c.setParams(n.cfg.Defaults.withDefaults(n.cfg.HostName))
	}
	return c
}

func (c *V3Conn) setParams(p V3Params) {
	c.p = p
	r := p.Retransmit
	cfg := relConfig{timeoutMin: r.TimeoutMin, timeoutMax: r.TimeoutMax, retries: r.Retries,
		ackDelay: min(100*time.Millisecond, r.TimeoutMin/4), recvWindow: p.RecvWindow}
	if c.rel == nil {
		c.rel = newReliable(cfg, c.write)
		c.rel.wire = &relWire{patch: c.patch, ack: c.appendAck}
	} else {
		c.rel.cfg = cfg
	}
	c.key = nil
	if len(p.Secret) > 0 {
		c.key = l2tp.V3SharedKey(p.Secret)
		if c.localNonce == nil {
			c.localNonce = c.n.randBytes(nonceLen)
		}
	}
}

func (c *V3Conn) write(b []byte) {
	if err := c.n.cfg.Conn.WriteTo(b, c.peer); err != nil {
		c.errorf("send to %v: %v", c.peer, err)
	}
}

// patch writes Ns and Nr and re-seals the digest, which covers them.
func (c *V3Conn) patch(b []byte, ns, nr uint16) {
	off := l2tp.V3OffNs(c.n.cfg.OverUDP)
	binary.BigEndian.PutUint16(b[off:], ns)
	binary.BigEndian.PutUint16(b[off+2:], nr)
	c.seal(b)
}

func (c *V3Conn) seal(b []byte) {
	if c.key == nil {
		return
	}
	var err error
	if msgTypeOf(b, c.n.cfg.OverUDP) == l2tp.MsgSCCRQ {
		err = l2tp.SealV3(b, c.n.cfg.OverUDP, c.key)
	} else {
		err = l2tp.SealV3(b, c.n.cfg.OverUDP, c.key, c.localNonce, c.remoteNonce)
	}
	if err != nil {
		c.errorf("seal: %v", err)
	}
}

// appendAck is the acknowledgement without a message: a ZLB, or with
// authentication an ACK message (§3.3, type 20), which carries a digest
// where a ZLB has no room for one.
func (c *V3Conn) appendAck(b []byte, ns, nr uint16) []byte {
	udp := c.n.cfg.OverUDP
	b = l2tp.AppendV3ControlHeader(b, udp, c.remoteID, ns, nr)
	if c.key != nil {
		m := &l2tp.V3Message{Type: l2tp.MsgACK, Digests: []l2tp.MessageDigest{{Type: c.p.DigestType,
			Digest: make([]byte, l2tp.DigestLen(c.p.DigestType))}}}
		m.Set(l2tp.AVPMessageDigest)
		b, _ = m.AppendAVPs(b)
	}
	_ = l2tp.FinishV3Control(b, udp)
	c.seal(b)
	return b
}

// msgTypeOf reads the Message Type of an encoded control message; 0
// (and a ZLB) when there is none.
func msgTypeOf(b []byte, overUDP bool) l2tp.MsgType {
	off := 0
	if !overUDP {
		off = l2tp.V3IPControlPrefix
	}
	off += l2tp.V3ControlHeaderLen
	if len(b) < off+8 || b[off+5] != byte(l2tp.AVPMessageType) || b[off+4] != 0 {
		return 0
	}
	return l2tp.MsgType(binary.BigEndian.Uint16(b[off+6:]))
}

// LocalID returns our Control Connection ID.
func (c *V3Conn) LocalID() uint32 { return c.localID }

// Done is closed when the connection's goroutine has ended.
func (c *V3Conn) Done() <-chan struct{} { return c.done }

// Down is closed when the connection is no longer usable (StopCCN sent
// or received, the peer unreachable), which may be well before Done.
func (c *V3Conn) Down() <-chan struct{} { return c.downc }

func (c *V3Conn) markDown() { c.downOnce.Do(func() { close(c.downc) }) }

// Err returns why the connection closed, once Done is closed.
func (c *V3Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Close sends StopCCN with r (§6.4) and ends the connection after the
// hold; every pseudowire goes with it.
func (c *V3Conn) Close(r l2tp.Result) { c.post(func() { c.shutdown(r, nil) }) }

func (c *V3Conn) input(b []byte, from netip.AddrPort) {
	select {
	case c.in <- inPacket{append([]byte(nil), b...), from}:
	default:
		c.n.cnt.inputOverflow.Add(1)
	}
}

// evictHalfOpen closes the oldest half-open pseudowire the peer placed,
// to make room for a newer one (Limits): CDN result 4, temporary lack
// of resources, error 4, insufficient resources (§5.4.2 and RFC 2661
// §4.4.2, which RFC 3931 keeps): a legitimate peer may retry later.
func (c *V3Conn) evictHalfOpen() {
	var old *Pseudowire
	for _, s := range c.sessions {
		if s.halfOpen && (old == nil || s.seq < old.seq) {
			old = s
		}
	}
	if old == nil {
		return
	}
	c.n.cnt.sessionEvicted.Add(1)
	c.closePW(old, l2tp.Result{Code: l2tp.CDNNoFacilitiesTmp, Error: l2tp.ErrCodeResources, HasError: true}, ErrHalfOpenEvicted)
}

// abandon is called, under n.mu, when our SCCRQ lost the tie break.
func (c *V3Conn) abandon() {
	c.awaitingReply.Store(false)
	if c.n.byReuse[c.reuse] == c {
		delete(c.n.byReuse, c.reuse)
	}
	go c.post(func() {
		if c.state == TunWaitCtlReply {
			c.eventf("lost the tie break to the peer's SCCRQ")
			c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopAlreadyExists}, Err: errTunnelGone}
			c.fire(TevRetransFail)
			c.dropSessions(c.closeErr)
		}
	})
}

func (c *V3Conn) run() {
	c.mu.Lock()
	c.now = c.n.clock.Now()
	c.created, c.since, c.lastRx = c.now, c.now, c.now
	c.setupDL = c.now.Add(c.p.SetupTimeout)
	c.eventf("Create control connection")
	if c.initiator {
		c.open()
	}
	c.loop(c.n.clock, c)
	c.n.removeConn(c)
	c.markDown()
	c.drain()
	close(c.done)
}

// stopped, handle, deadline, onTimer and killed are the ctlMachine the
// goroutine's loop drives.
func (c *V3Conn) stopped() bool { return c.state == TunDead }

func (c *V3Conn) killed() {
	if c.closeErr == nil {
		c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopClear}, Err: ErrClosed}
	}
	c.dropSessions(c.closeErr)
	c.state = TunDead
}

func (c *V3Conn) deadline() time.Time {
	dl := c.rel.deadline()
	upd := func(x time.Time) {
		if !x.IsZero() && (dl.IsZero() || x.Before(dl)) {
			dl = x
		}
	}
	switch c.state {
	case TunClosing:
		upd(c.holdUntil)
	case TunEstablished:
		if c.p.Hello > 0 && c.rel.idle() {
			upd(c.helloDue())
		}
		if c.noSessionDue() {
			upd(c.emptySince.Add(c.p.NoSessionTimeout))
		}
	case TunDead:
	default:
		upd(c.setupDL)
	}
	for _, s := range c.sessions {
		if s.state != SnEstablished {
			upd(s.deadline)
		}
	}
	return dl
}

func (c *V3Conn) onTimer() {
	now := c.now
	if err := c.rel.tick(now, 0); err != nil {
		c.errorf("no acknowledgement from %v after %d retransmissions", c.peer, c.p.Retransmit.Retries)
		if c.closeErr == nil {
			c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopGeneralError}, Err: ErrPeerUnreachable}
		}
		c.fire(TevRetransFail)
		c.dropSessions(c.closeErr)
		return
	}
	switch c.state {
	case TunClosing:
		if !now.Before(c.holdUntil) {
			c.fire(TevHoldDone)
		}
		return
	case TunEstablished:
		if c.p.Hello > 0 && c.rel.idle() && !now.Before(c.helloDue()) {
			// §4.4: a HELLO after a period without a message, data or
			// control, from the peer; its retransmissions failing bring
			// the connection down. Data received since the last look
			// counts as a message now.
			if c.dataMoved() {
				c.lastRx = now
			} else {
				c.helloTx++
				c.send(&l2tp.V3Message{Type: l2tp.MsgHELLO})
			}
		}
		if c.noSessionDue() && !now.Before(c.emptySince.Add(c.p.NoSessionTimeout)) {
			c.n.cnt.noSessionClosed.Add(1)
			c.eventf("no session for %v: closing", c.p.NoSessionTimeout)
			c.shutdown(l2tp.Result{Code: l2tp.StopClear, HasError: true, Message: "no-session timeout"}, ErrNoSession)
			return
		}
	case TunDead:
		return
	default:
		if !now.Before(c.setupDL) {
			c.errorf("control connection setup timed out in %v", c.state)
			c.shutdown(l2tp.Result{Code: l2tp.StopFSMError, HasError: true, Message: "timeout setup"}, ErrSetupTimeout)
			return
		}
	}
	for _, s := range c.sessions {
		if s.state != SnEstablished && s.state != SnDead && !now.Before(s.deadline) {
			// §5.4.2 CDN result 16: FSM error or timeout.
			if s.halfOpen {
				c.n.cnt.sessionSetupTimeouts.Add(1)
			}
			c.closePW(s, l2tp.Result{Code: l2tp.CDNV3FSMError}, ErrSetupTimeout)
		}
	}
}

func (c *V3Conn) fire(ev TunnelEvent) bool {
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

// send encodes m (with a Message Digest when authenticating) and queues
// it reliably; the digest is computed at each transmission.
func (c *V3Conn) send(m *l2tp.V3Message) {
	if c.key != nil {
		m.Digests = []l2tp.MessageDigest{{Type: c.p.DigestType, Digest: make([]byte, l2tp.DigestLen(c.p.DigestType))}}
		m.Set(l2tp.AVPMessageDigest)
	}
	udp := c.n.cfg.OverUDP
	b, err := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, udp, c.remoteID, 0, 0))
	if err == nil && c.testAVPs != nil {
		b = append(b, c.testAVPs[m.Type]...)
	}
	if err == nil {
		err = l2tp.FinishV3Control(b, udp)
	}
	if err != nil {
		c.errorf("encode %v: %v", m.Type.V3String(), err)
		return
	}
	tries := c.p.Retransmit.Retries + 1
	if m.Type == l2tp.MsgSCCRQ {
		tries = c.p.Retransmit.InitialRetries + 1
	}
	c.eventf("Tx %v to %v", m.Type.V3String(), c.peer)
	c.rel.queue(c.now, b, m.Type, tries)
}

// startMsg builds the common part of SCCRQ and SCCRP (§6.1, §6.2).
func (c *V3Conn) startMsg(typ l2tp.MsgType) *l2tp.V3Message {
	m := &l2tp.V3Message{Type: typ, HostName: c.p.HostName, VendorName: "vpdn", FirmwareRevision: 0x0100,
		RouterID: c.n.cfg.RouterID, AssignedCCID: c.localID, PWCapabilities: c.n.caps, RecvWindowSize: c.p.RecvWindow}
	m.Set(l2tp.AVPHostName, l2tp.AVPVendorName, l2tp.AVPFirmwareRevision, l2tp.AVPRouterID, l2tp.AVPAssignedCCID,
		l2tp.AVPPWCapabilities, l2tp.AVPReceiveWindowSize)
	if c.key != nil {
		m.Nonce = c.localNonce
		m.Set(l2tp.AVPCtlMsgAuthNonce)
	}
	return m
}

func (c *V3Conn) open() {
	c.fire(TevOpen)
	m := c.startMsg(l2tp.MsgSCCRQ)
	m.TieBreaker = c.tieBreaker
	m.Set(l2tp.AVPTieBreaker)
	c.send(m)
}

func (c *V3Conn) handle(p inPacket) {
	udp := c.n.cfg.OverUDP
	h, err := l2tp.ParseV3Control(p.b, udp)
	if err != nil {
		return
	}
	if p.from != c.peer {
		if !(c.state == TunWaitCtlReply && p.from.Addr() == c.peer.Addr()) {
			c.n.cnt.wrongPeer.Add(1)
			return
		}
	}
	body := h.Payload(p.b)
	typ := msgTypeOf(p.b, udp)
	// §4.3: the digest is checked before anything in the message is
	// used — Ns and Nr included: a forged message must not acknowledge
	// or advance anything. A message that fails is dropped, not acked.
	if !c.authentic(p.b, body, typ) {
		return
	}
	c.lastRx = c.now
	c.noReply = false
	zlb := len(body) == 0 || typ == l2tp.MsgACK
	ackNow := c.rel.recv(c.now, h.Ns, h.Nr, p.b, zlb, func(msg []byte) { c.deliver(msg, p.from) })
	ackNow = ackNow || (c.noReply && !c.rel.ackDue.IsZero())
	if ackNow || (c.state == TunClosing && !zlb) {
		c.rel.sendZLB(0)
	}
}

// authentic reports whether a received message passes control message
// authentication, counting the ones that do not.
func (c *V3Conn) authentic(msg, body []byte, typ l2tp.MsgType) bool {
	if c.state == TunIdle && !c.initiator {
		return true // the SCCRQ that picks our parameters: checked in rxSCCRQ
	}
	if c.key == nil || c.p.NoDigestCheck {
		return true
	}
	udp := c.n.cfg.OverUDP
	var err error
	switch {
	case typ == l2tp.MsgSCCRQ:
		err = l2tp.VerifyV3(msg, udp, c.key)
	case c.remoteNonce == nil && typ == l2tp.MsgSCCRP:
		// The peer's nonce is in this very message.
		var m l2tp.V3Message
		_ = m.Decode(body, c.p.Secret)
		if m.Nonce == nil {
			err = l2tp.ErrNoDigest
			break
		}
		err = l2tp.VerifyV3(msg, udp, c.key, m.Nonce, c.localNonce)
	case c.remoteNonce == nil:
		// Nothing but an SCCRP can authenticate before the nonces are
		// known (a StopCCN refusing our SCCRQ has no nonce to use).
		err = l2tp.ErrNoDigest
	default:
		err = l2tp.VerifyV3(msg, udp, c.key, c.remoteNonce, c.localNonce)
	}
	if err != nil {
		if errors.Is(err, l2tp.ErrNoDigest) {
			c.n.cnt.noDigest.Add(1)
		} else {
			c.n.cnt.digestFailed.Add(1)
		}
		c.digestFail++
		c.errorf("dropped %v: %v", typ.V3String(), err)
		return false
	}
	return true
}

func (c *V3Conn) deliver(msg []byte, from netip.AddrPort) {
	h, _ := l2tp.ParseV3Control(msg, c.n.cfg.OverUDP)
	var m l2tp.V3Message
	err := m.Decode(h.Payload(msg), c.p.Secret)
	c.unknown += uint64(m.UnknownOptional + m.Vendor)
	switch m.Type {
	case l2tp.MsgSCCCN, l2tp.MsgICCN, l2tp.MsgCDN, l2tp.MsgHELLO, l2tp.MsgWEN, l2tp.MsgSLI:
		c.noReply = true
	}
	if m.Type == l2tp.MsgStopCCN && c.state != TunDead {
		c.rxStopCCN(&m)
		return
	}
	if c.state == TunClosing || c.state == TunDead {
		return
	}
	if err != nil {
		var ae *l2tp.AVPError
		if errors.As(err, &ae) && errors.Is(err, l2tp.ErrUnknownMsg) && !ae.Mandatory {
			c.eventf("ignoring unknown message type %d (M bit clear, §5.4.1)", uint16(m.Type))
			return
		}
		c.errorf("bad %v: %v", m.Type.V3String(), err)
		c.n.cnt.badAVP.Add(1)
		if m.Type.IsSession() && c.state == TunEstablished {
			// §5.2: an unknown mandatory AVP in a session message tears
			// down the session only: CDN result 2, error 8.
			r := l2tp.ResultFor(err)
			if s := c.sessions[m.RemoteSessionID]; s != nil && m.RemoteSessionID != 0 {
				c.closePW(s, r, err)
			} else if m.Type == l2tp.MsgICRQ && m.LocalSessionID != 0 {
				c.sendCDN(0, m.LocalSessionID, r)
			}
			return
		}
		if m.Type == l2tp.MsgSCCRQ || m.Type == l2tp.MsgSCCRP {
			if c.remoteID == 0 {
				c.remoteID = m.AssignedCCID
			}
			if m.Type == l2tp.MsgSCCRP {
				c.peer = from
			}
		}
		c.shutdown(l2tp.ResultFor(err), err)
		return
	}
	switch m.Type {
	case l2tp.MsgSCCRQ:
		c.rxSCCRQ(msg, &m, from)
	case l2tp.MsgSCCRP:
		c.rxSCCRP(&m, from)
	case l2tp.MsgSCCCN:
		c.rxSCCCN()
	case l2tp.MsgHELLO:
		c.eventf("Rx HELLO")
	case l2tp.MsgICRQ:
		c.rxICRQ(&m)
	default:
		if c.state != TunEstablished {
			c.errorf("%v before the control connection is established", m.Type.V3String())
			return
		}
		s := c.sessions[m.RemoteSessionID]
		if s == nil && m.Type == l2tp.MsgCDN {
			// A CDN may name only the sender's session (ours unknown
			// to it yet): find it by the peer's ID.
			for _, x := range c.sessions {
				if x.remoteID == m.LocalSessionID && x.remoteID != 0 {
					s = x
				}
			}
		}
		if s == nil {
			c.n.cnt.noSession.Add(1)
			c.errorf("%v for unknown session %d", m.Type.V3String(), m.RemoteSessionID)
			return
		}
		s.rx(&m)
	}
}

func (c *V3Conn) rxSCCRQ(raw []byte, m *l2tp.V3Message, from netip.AddrPort) {
	if c.initiator || c.state != TunIdle {
		c.errorf("SCCRQ in %v", c.state)
		return
	}
	c.fire(TevRxSCCRQ)
	c.peer = from
	c.remoteID = m.AssignedCCID
	c.peerName, c.peerVend, c.peerRID = m.HostName, m.VendorName, m.RouterID
	bad := func(code uint16, why error) {
		c.errorf("SCCRQ from %q refused: %v", m.HostName, why)
		c.shutdownEv(TevSCCRQBad, l2tp.Result{Code: code}, why)
	}
	p, ok := c.n.cfg.Defaults, true
	if c.n.cfg.Incoming != nil {
		p, ok = c.n.cfg.Incoming(from, m.HostName)
	}
	p = p.withDefaults(c.n.cfg.HostName)
	if !ok || (p.RemoteName != "" && p.RemoteName != m.HostName) {
		bad(l2tp.StopNotAuthorized, fmt.Errorf("no l2tp-class for hostname %q", m.HostName))
		return
	}
	c.setParams(p)
	c.setupDL = c.created.Add(c.p.SetupTimeout)
	if m.Has(l2tp.AVPReceiveWindowSize) {
		c.rel.setPeerWindow(int(m.RecvWindowSize))
	}
	// §4.3: authentication is bidirectional: both sides or neither.
	switch {
	case m.Nonce != nil && c.key == nil:
		bad(l2tp.StopNotAuthorized, fmt.Errorf("%w: peer authenticates, no digest secret configured", ErrDigestFailed))
		return
	case m.Nonce == nil && c.key != nil:
		bad(l2tp.StopNotAuthorized, fmt.Errorf("%w: peer does not authenticate (no nonce)", ErrDigestFailed))
		return
	case c.key != nil && !c.p.NoDigestCheck:
		if err := l2tp.VerifyV3(raw, c.n.cfg.OverUDP, c.key); err != nil {
			// The peer cannot tell a digest failure from loss: it is
			// dropped, and the connection never formed.
			c.n.cnt.digestFailed.Add(1)
			c.digestFail++
			c.errorf("SCCRQ from %q: %v", m.HostName, err)
			c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: l2tp.Result{Code: l2tp.StopNotAuthorized}, Err: ErrDigestFailed}
			c.state = TunDead
			return
		}
	}
	c.remoteNonce = m.Nonce
	c.n.offerReuse(c, p.key(from))
	c.fire(TevSCCRQOK)
	c.send(c.startMsg(l2tp.MsgSCCRP))
}

func (c *V3Conn) rxSCCRP(m *l2tp.V3Message, from netip.AddrPort) {
	if c.state != TunWaitCtlReply {
		c.errorf("SCCRP in %v", c.state)
		return
	}
	c.awaitingReply.Store(false)
	c.fire(TevRxSCCRP)
	c.peer = from
	c.remoteID = m.AssignedCCID
	c.peerName, c.peerVend, c.peerRID = m.HostName, m.VendorName, m.RouterID
	c.remoteNonce = m.Nonce
	if m.Has(l2tp.AVPReceiveWindowSize) {
		c.rel.setPeerWindow(int(m.RecvWindowSize))
	}
	bad := func(code uint16, why error) {
		c.errorf("SCCRP from %q refused: %v", m.HostName, why)
		c.shutdownEv(TevSCCRPBad, l2tp.Result{Code: code}, why)
	}
	if c.p.RemoteName != "" && c.p.RemoteName != m.HostName {
		bad(l2tp.StopNotAuthorized, fmt.Errorf("peer hostname %q, want %q", m.HostName, c.p.RemoteName))
		return
	}
	if (m.Nonce != nil) != (c.key != nil) {
		bad(l2tp.StopNotAuthorized, fmt.Errorf("%w: the peer's authentication differs from ours", ErrDigestFailed))
		return
	}
	c.fire(TevSCCRPOK)
	c.send(&l2tp.V3Message{Type: l2tp.MsgSCCCN})
	c.up()
}

func (c *V3Conn) rxSCCCN() {
	if c.state != TunWaitCtlConn {
		c.errorf("SCCCN in %v", c.state)
		return
	}
	c.fire(TevRxSCCCN)
	c.fire(TevSCCCNOK)
	c.up()
}

// helloDue is when the next HELLO is due, if nothing arrives first.
func (c *V3Conn) helloDue() time.Time {
	return c.lastRx.Add(c.p.Hello - min(c.helloJitter, c.p.Hello/10))
}

// dataMoved reports whether the peer sent data on any of the sessions
// since the last call.
func (c *V3Conn) dataMoved() bool {
	f := c.n.cfg.DataRx
	if f == nil {
		return false
	}
	var sum uint64
	for id, s := range c.sessions {
		if s.state == SnEstablished {
			sum += f(id)
		}
	}
	moved := sum != c.dataRx
	c.dataRx = sum
	return moved
}

// noSessionDue reports whether the no-session timeout runs.
func (c *V3Conn) noSessionDue() bool {
	return c.p.NoSessionTimeout > 0 && !c.keepalive && !c.emptySince.IsZero() && len(c.sessions) == 0
}

func (c *V3Conn) up() {
	c.eventf("Control channel up")
	c.n.established(c)
	if len(c.sessions) == 0 {
		c.emptySince = c.now
	}
	c.release(nil)
	for _, s := range c.sessions {
		if s.state == SnWaitTunnel {
			s.tunnelUp()
		}
	}
}

func (c *V3Conn) rxStopCCN(m *l2tp.V3Message) {
	c.eventf("Rx StopCCN: %s", m.Result.Text(l2tp.MsgStopCCN))
	if c.state == TunClosing {
		c.fire(TevRxStopCCN)
		return
	}
	c.fire(TevRxStopCCN)
	c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: m.Result, Remote: true}
	if c.remoteID == 0 {
		c.remoteID = m.AssignedCCID
	}
	c.rel.sendZLB(0)
	c.enterClosing()
}

func (c *V3Conn) shutdown(r l2tp.Result, cause error) { c.shutdownEv(TevClose, r, cause) }

func (c *V3Conn) shutdownEv(ev TunnelEvent, r l2tp.Result, cause error) {
	if c.state == TunClosing || c.state == TunDead {
		return
	}
	c.fire(ev)
	c.closeErr = &CloseError{Msg: l2tp.MsgStopCCN, Result: r, Err: cause}
	if c.remoteID != 0 {
		// §5.4.3: StopCCN carries our Assigned Control Connection ID.
		m := &l2tp.V3Message{Type: l2tp.MsgStopCCN, AssignedCCID: c.localID, Result: r}
		m.Set(l2tp.AVPAssignedCCID, l2tp.AVPResultCode)
		c.eventf("Tx StopCCN: %s", r.Text(l2tp.MsgStopCCN))
		c.send(m)
	}
	c.enterClosing()
}

func (c *V3Conn) enterClosing() {
	c.awaitingReply.Store(false)
	c.holdUntil = c.now.Add(c.rel.cycle())
	c.n.notReusable(c)
	c.dropSessions(c.closeErr)
	if c.remoteID == 0 {
		c.state = TunDead
	}
}

// release answers the Opens waiting for the connection.
func (c *V3Conn) release(err error) {
	for _, w := range c.waiters {
		w <- err
	}
	c.waiters = nil
}

func (c *V3Conn) dropSessions(err error) {
	c.release(err)
	c.markDown()
	for _, s := range c.sessions {
		s.fire(SevTunnelDown)
		s.finish(err)
	}
}

// V3ConnStats is a snapshot of a control connection for `show l2tun
// tunnel` and `show l2tp tunnel`.
type V3ConnStats struct {
	LocalID, RemoteID   uint32
	LocalName, PeerName string
	PeerVendor          string
	PeerRouterID        uint32
	Peer                netip.AddrPort
	State               TunnelState
	Initiator           bool
	Class               string
	Digest              bool  // control message authentication on
	DigestType          uint8 // when Digest
	Sessions            int
	Created, Since      time.Time
	CtrlTx, CtrlRx      uint64
	Retransmits         uint64
	ZLBTx, ZLBRx        uint64
	HelloTx             uint64
	DigestFailures      uint64
	UnknownAVPs         uint64
	CWND, PeerWindow    int
	Err                 error
}

// Stats returns a snapshot of the connection.
func (c *V3Conn) Stats() V3ConnStats {
	st, _ := c.snapshot()
	return st
}

func (c *V3Conn) snapshot() (V3ConnStats, []PWInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.rel.stats
	st := V3ConnStats{LocalID: c.localID, RemoteID: c.remoteID, LocalName: c.p.HostName, PeerName: c.peerName,
		PeerVendor: c.peerVend, PeerRouterID: c.peerRID, Peer: c.peer, State: c.state, Initiator: c.initiator,
		Class: c.p.Class, Digest: c.key != nil, DigestType: c.p.DigestType, Sessions: len(c.sessions),
		Created: c.created, Since: c.since, CtrlTx: rs.Tx, CtrlRx: rs.Rx, Retransmits: rs.Retransmits,
		ZLBTx: rs.ZLBTx, ZLBRx: rs.ZLBRx, HelloTx: c.helloTx, DigestFailures: c.digestFail,
		UnknownAVPs: c.unknown, CWND: c.rel.cwnd, PeerWindow: c.rel.peerWindow, Err: c.closeErr}
	ps := make([]PWInfo, 0, len(c.sessions))
	for _, s := range c.sessions {
		ps = append(ps, s.infoLocked())
	}
	slices.SortFunc(ps, func(a, b PWInfo) int { return int(int64(a.LocalSessionID) - int64(b.LocalSessionID)) })
	return st, ps
}

func (c *V3Conn) enabled() bool {
	return c.n.log != nil && c.n.log.Enabled(context.Background(), slog.LevelDebug)
}

func (c *V3Conn) prefix() string {
	return fmt.Sprintf("L2TP tnl %010d:%08X: ", c.localID, c.remoteID)
}

func (c *V3Conn) eventf(format string, args ...any) {
	if c.enabled() {
		c.n.log.Debug(c.prefix()+fmt.Sprintf(format, args...), "debug", "l2x-events")
	}
}

func (c *V3Conn) errorf(format string, args ...any) {
	if c.enabled() {
		c.n.log.Debug(c.prefix()+fmt.Sprintf(format, args...), "debug", "l2x-errors")
	}
}
