package l2tp

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// nonceLen is the length of our Control Message Authentication Nonce
// (§5.4.1: at least 16 octets recommended).
const nonceLen = 16

// V3Conn is one L2TPv3 control connection (RFC 3931 §3.3) and its
// sessions. As a v2 Tunnel, one goroutine owns its state; it selects over
// received messages, API commands and one timer. The control connection
// machine is the shared ccn's; V3Conn is what is L2TPv3's own: its AVPs,
// control message authentication (§4.3), pseudowires and waiting Opens.
type V3Conn struct {
	n *V3Node

	// downc is closed when the connection stops being usable: StopCCN
	// sent or received, retransmissions exhausted, killed (before the
	// §5.7 hold ends it, which closes done).
	downc    chan struct{}
	downOnce sync.Once

	// ccn's mu guards ccn's state and everything below.
	ccn[uint32, string]
	p       V3Params
	peerRID uint32
	// Control message authentication (§4.3): key is shared_key when the
	// connection authenticates, nil when it does not.
	key                     []byte
	localNonce, remoteNonce []byte
	sessions                map[uint32]*Pseudowire // by our Local Session ID
	digestFail              uint64
	// waiters are Opens waiting for the connection to be established.
	waiters []chan error
	pwSeq   uint64 // orders pseudowires by creation (oldest half-open first)
	// dataRx is the sum of DataRx over the sessions when the hello
	// timer last looked.
	dataRx uint64
}

// v3Words are L2TPv3's words in the shared machine's debug lines.
var v3Words = ccnWords{noun: "control connection", create: "Create control connection", tieBreak: "tie break",
	idDigits: 10, setupTimeout: l2tp.StopFSMError, helloFirst: true}

func newV3Conn(n *V3Node, id uint32, peer netip.AddrPort, p V3Params, initiator bool) *V3Conn {
	c := &V3Conn{n: n, downc: make(chan struct{}), sessions: map[uint32]*Pseudowire{}}
	c.ccn = ccn[uint32, string]{ver: c, log: n.log, cnt: &n.cnt.ccnCounters, words: &v3Words, localID: id,
		initiator: initiator, peer0: peer, peer: peer, ctlLoop: newCtlLoop()}
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

// Down is closed when the connection is no longer usable (StopCCN sent
// or received, the peer unreachable), which may be well before Done.
func (c *V3Conn) Down() <-chan struct{} { return c.downc }

func (c *V3Conn) markDown() { c.downOnce.Do(func() { close(c.downc) }) }

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

func (c *V3Conn) run() {
	c.mu.Lock()
	c.start(c.n.clock.Now(), c.p.SetupTimeout)
	if c.initiator {
		c.open()
	}
	c.loop(c.n.clock, c)
	c.n.removeConn(c)
	c.markDown()
	c.drain()
	close(c.done)
}

// The ccnVersion of L2TPv3.

func (c *V3Conn) params() ccnParams {
	r := c.p.Retransmit
	return ccnParams{hello: c.p.Hello, noSession: c.p.NoSessionTimeout, retries: r.Retries, initialRetries: r.InitialRetries}
}

func (c *V3Conn) msgName(m l2tp.MsgType) string { return m.V3String() }
func (c *V3Conn) sendHello()                    { c.send(&l2tp.V3Message{Type: l2tp.MsgHELLO}) }
func (c *V3Conn) notReusable()                  { c.n.notReusable(c) }
func (c *V3Conn) established()                  { c.n.established(c) }
func (c *V3Conn) sessionCount() int             { return len(c.sessions) }

func (c *V3Conn) sendStopCCN(r l2tp.Result) {
	// §5.4.3: StopCCN carries our Assigned Control Connection ID.
	m := &l2tp.V3Message{Type: l2tp.MsgStopCCN, AssignedCCID: c.localID, Result: r}
	m.Set(l2tp.AVPAssignedCCID, l2tp.AVPResultCode)
	c.send(m)
}

func (c *V3Conn) sessionDeadline() (dl time.Time) {
	for _, s := range c.sessions {
		if s.state != SnEstablished {
			dl = earlier(dl, s.deadline)
		}
	}
	return dl
}

func (c *V3Conn) sessionTimers(now time.Time) {
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

// upSessions answers the waiting Opens and sends the ICRQs that waited
// for the connection.
func (c *V3Conn) upSessions() {
	c.release(nil)
	for _, s := range c.sessions {
		if s.state == SnWaitTunnel {
			s.tunnelUp()
		}
	}
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
	c.queue(b, m.Type)
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
	if err != nil || !c.fromPeer(p.from) {
		return
	}
	body := h.Payload(p.b)
	typ := msgTypeOf(p.b, udp)
	// §4.3: the digest is checked before anything in the message is
	// used — Ns and Nr included: a forged message must not acknowledge
	// or advance anything. A message that fails is dropped, not acked.
	if !c.authentic(p.b, body, typ) {
		return
	}
	zlb := len(body) == 0 || typ == l2tp.MsgACK
	c.receive(h.Ns, h.Nr, p.b, zlb, func(msg []byte) { c.deliver(msg, p.from) })
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
	if c.screen(m.Type, m.Result, m.AssignedCCID) {
		return
	}
	if err != nil {
		if c.unknownMsg(m.Type, err, "§5.4.1") {
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
		c.badCtl(m.Type, m.AssignedCCID, from, err)
		return
	}
	switch m.Type {
	case l2tp.MsgSCCRQ:
		c.rxSCCRQ(msg, &m, from)
	case l2tp.MsgSCCRP:
		c.rxSCCRP(&m, from)
	case l2tp.MsgSCCCN:
		if c.rxSCCCN() {
			c.acceptSCCCN()
		}
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
	if !c.rxStart(TevRxSCCRQ, m.Type, from, m.AssignedCCID, m.HostName, m.VendorName) {
		return
	}
	c.peerRID = m.RouterID
	bad := func(code uint16, why error) { c.refuseSetup(TevSCCRQBad, m.Type, m.HostName, code, why) }
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
	c.peerWindow(m.Has(l2tp.AVPReceiveWindowSize), m.RecvWindowSize)
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
	var tie *[8]byte
	if m.Has(l2tp.AVPTieBreaker) {
		tie = &m.TieBreaker
	}
	if !c.n.offerReuse(c, p.key(from), tie) {
		bad(l2tp.StopAlreadyExists, errors.New("lost the tie breaker to our own SCCRQ"))
		return
	}
	c.fire(TevSCCRQOK)
	c.send(c.startMsg(l2tp.MsgSCCRP))
}

func (c *V3Conn) rxSCCRP(m *l2tp.V3Message, from netip.AddrPort) {
	if !c.rxStart(TevRxSCCRP, m.Type, from, m.AssignedCCID, m.HostName, m.VendorName) {
		return
	}
	c.peerRID = m.RouterID
	c.remoteNonce = m.Nonce
	c.peerWindow(m.Has(l2tp.AVPReceiveWindowSize), m.RecvWindowSize)
	bad := func(code uint16, why error) { c.refuseSetup(TevSCCRPBad, m.Type, m.HostName, code, why) }
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
