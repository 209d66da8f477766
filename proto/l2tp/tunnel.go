package l2tp

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net/netip"
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
// goroutines only read it, under mu, for Stats. The control connection
// machine is the shared ccn's; Tunnel is what is L2TPv2's own: its
// messages' AVPs (hiding, the §4.2 challenge), its calls.
type Tunnel struct {
	n *Node
	// recent, recentAt and recentSet remember the last session IDs freed
	// (recentlyFreed), so that newSession does not hand them out again at
	// once.
	recent    []uint16
	recentAt  int
	recentSet map[uint16]int

	// ccn's mu guards ccn's state and everything below.
	ccn[uint16, reuseKey]
	p         TunnelParams
	challenge []byte
	sessions  map[uint16]*Session
	pending   map[uint16]*Session // sessions not yet established
	// pendingQ holds the pending sessions we placed, halfQ those the peer
	// opened (half-open), each in creation (= deadline) order: the two
	// kinds have different set-up timeouts.
	pendingQ, halfQ []*Session
	scratch         []byte
}

// v2Words are L2TPv2's words in the shared machine's debug lines.
var v2Words = ccnWords{noun: "tunnel", create: "Create tunnel", tieBreak: "tie-break", idDigits: 5,
	setupTimeout: l2tp.StopClear}

func newTunnel(n *Node, id uint16, peer netip.AddrPort, p TunnelParams, initiator bool) *Tunnel {
	t := &Tunnel{n: n, sessions: map[uint16]*Session{}}
	t.ccn = ccn[uint16, reuseKey]{ver: t, log: n.log, cnt: &n.cnt.ccnCounters, words: &v2Words, localID: id,
		initiator: initiator, peer0: peer, peer: peer, ctlLoop: newCtlLoop()}
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

func (t *Tunnel) run() {
	t.mu.Lock()
	t.start(t.n.clock.Now(), t.p.SetupTimeout)
	t.eventf("remote ip set to %v", t.peer.Addr())
	if t.initiator {
		t.open()
	}
	t.loop(t.n.clock, t)
	t.n.removeConn(t)
	t.drain() // what arrived after the end fails
	close(t.done)
}

// The ccnVersion of L2TPv2.

func (t *Tunnel) params() ccnParams {
	r := t.p.Retransmit
	return ccnParams{hello: t.p.Hello, noSession: t.p.NoSessionTimeout, retries: r.Retries, initialRetries: r.InitialRetries}
}

func (t *Tunnel) msgName(m l2tp.MsgType) string { return m.String() }
func (t *Tunnel) sendHello()                    { t.send(&l2tp.Message{Type: l2tp.MsgHELLO}, 0) }
func (t *Tunnel) notReusable()                  { t.n.notReusable(t) }
func (t *Tunnel) established()                  { t.n.established(t) }
func (t *Tunnel) sessionCount() int             { return len(t.sessions) }
func (t *Tunnel) dataMoved() bool               { return false }

func (t *Tunnel) sendStopCCN(r l2tp.Result) {
	m := &l2tp.Message{Type: l2tp.MsgStopCCN, AssignedTunnelID: t.localID, Result: r}
	m.Set(l2tp.AVPAssignedTunnelID, l2tp.AVPResultCode)
	t.send(m, 0)
}

func (t *Tunnel) sessionDeadline() (dl time.Time) {
	if s := oldestPending(t, &t.pendingQ); s != nil {
		dl = s.deadline
	}
	if s := oldestPending(t, &t.halfQ); s != nil {
		dl = earlier(dl, s.deadline)
	}
	return dl
}

func (t *Tunnel) sessionTimers(now time.Time) {
	for s := oldestPending(t, &t.pendingQ); s != nil && !now.Before(s.deadline); s = oldestPending(t, &t.pendingQ) {
		// §4.4.2 CDN result 10: not established within the time allotted.
		t.closeSession(s, l2tp.Result{Code: l2tp.CDNTimeout}, ErrSetupTimeout)
	}
	for s := oldestPending(t, &t.halfQ); s != nil && !now.Before(s.deadline); s = oldestPending(t, &t.halfQ) {
		t.n.cnt.sessionSetupTimeouts.Add(1)
		t.closeSession(s, l2tp.Result{Code: l2tp.CDNTimeout}, ErrSetupTimeout)
	}
}

// upSessions sends the calls that waited for the tunnel.
func (t *Tunnel) upSessions() {
	for _, s := range t.pending {
		if s.state == SnWaitTunnel {
			s.tunnelUp()
		}
	}
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
	t.queue(b, m.Type)
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
	if err != nil || !t.fromPeer(p.from) {
		return
	}
	body := h.Payload(p.b)
	t.receive(h.Ns, h.Nr, p.b, len(body) == 0, func(msg []byte) { t.deliver(msg, p.from) })
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
	if t.screen(m.Type, m.Result, 0) {
		return
	}
	if err != nil {
		if t.unknownMsg(m.Type, err, "§3.2") {
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
		t.badCtl(m.Type, m.AssignedTunnelID, from, err)
		return
	}
	switch m.Type {
	case l2tp.MsgSCCRQ:
		t.rxSCCRQ(&m, from)
	case l2tp.MsgSCCRP:
		t.rxSCCRP(&m, from)
	case l2tp.MsgSCCCN:
		if t.rxSCCCN() && t.checkSCCCN(&m) {
			t.acceptSCCCN()
		}
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
	if !t.rxStart(TevRxSCCRQ, m.Type, from, m.AssignedTunnelID, m.HostName, m.VendorName) {
		return
	}
	bad := func(code uint16, why error) { t.refuseSetup(TevSCCRQBad, m.Type, m.HostName, code, why) }
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
	t.peerWindow(m.Has(l2tp.AVPReceiveWindowSize), m.RecvWindowSize)
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
	if !t.rxStart(TevRxSCCRP, m.Type, from, m.AssignedTunnelID, m.HostName, m.VendorName) {
		return
	}
	t.peerWindow(m.Has(l2tp.AVPReceiveWindowSize), m.RecvWindowSize)
	bad := func(code uint16, why error) { t.refuseSetup(TevSCCRPBad, m.Type, m.HostName, code, why) }
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

// checkSCCCN checks the Challenge Response of the peer's SCCCN (§4.2).
func (t *Tunnel) checkSCCCN(m *l2tp.Message) bool {
	if len(t.p.Secret) > 0 {
		want := l2tp.ChallengeResponse(l2tp.MsgSCCCN, t.p.Secret, t.challenge)
		if !bytes.Equal(m.ChallengeResponse, want[:]) {
			t.errorf("Tunnel Authentication failed for %q", t.peerName)
			t.shutdownEv(TevSCCCNBad, l2tp.Result{Code: l2tp.StopNotAuthorized}, ErrTunnelAuth)
			return false
		}
		t.eventf("Tunnel Authentication success")
	}
	return true
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
