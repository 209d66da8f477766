package l2tp

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// Session is one call (RFC 2661 §7.3, §7.4) inside a tunnel. Its state
// belongs to the tunnel goroutine. Sessions carry no data themselves: the
// data plane (package dataplane) sits in front of the node and carries the
// session's data messages, with the IDs and peer Info gives. Sessions have
// no goroutine of their own and are kept small: 100,000 of them per node.
type Session struct {
	sess[*Session]
	t         *Tunnel
	localID   uint16
	remoteID  uint16
	remoteTID uint16
	outgoing  bool // OCRQ call (§7.4)
	lac       bool // we are the LAC side of the call
	serial    uint32
	seq       bool
	offered   bool           // OnCall was called, answer pending
	up        bool           // reached established
	peer      netip.AddrPort // fixed at establishment
	call      *CallParams    // what was asked (Dial) or offered (peer)
	q931      *l2tp.Q931
	uniq      uint32
}

// SessionInfo identifies an established session for the PPP and data
// plane layers.
type SessionInfo struct {
	LocalTunnelID, RemoteTunnelID   uint16
	LocalSessionID, RemoteSessionID uint16
	Peer                            netip.AddrPort
	PeerName                        string
	// Sequencing: data messages carry Ns and out-of-order ones are
	// dropped (Sequencing Required AVP or the l2tp-class setting).
	Sequencing bool
	// LAC is true when this node is the LAC side of the call.
	LAC bool
	// Outgoing is true for an OCRQ call.
	Outgoing bool
	Call     CallParams
}

// Info returns the session's identity: valid once the peer's IDs are
// known (in OnCall, in CallParams.Ready and once established).
func (s *Session) Info() SessionInfo {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.infoLocked()
}

func (s *Session) infoLocked() SessionInfo {
	in := SessionInfo{LocalTunnelID: s.t.localID, RemoteTunnelID: s.remoteTID, LocalSessionID: s.localID,
		RemoteSessionID: s.remoteID, Peer: s.peer, Sequencing: s.seq, LAC: s.lac, Outgoing: s.outgoing,
		PeerName: s.t.peerName}
	if s.call != nil {
		in.Call = *s.call
		in.Call.Ready = nil
	}
	return in
}

// Tunnel returns the session's tunnel.
func (s *Session) Tunnel() *Tunnel { return s.t }

// Close tears the session down with CDN and result r (§6.13).
func (s *Session) Close(r l2tp.Result) {
	s.t.post(func() { s.t.closeSession(s, r, nil) })
}

// CloseQ931 is Close with a Q.931 Cause Code AVP in the CDN (§4.4.4), for
// a LAC reporting why the telephone-side call ended.
func (s *Session) CloseQ931(r l2tp.Result, q l2tp.Q931) {
	s.t.post(func() {
		s.q931 = &q
		s.t.closeSession(s, r, nil)
	})
}

// SendSLI sends Set-Link-Info with the ACCM the PPP layer negotiated
// (§6.15; LNS to LAC).
func (s *Session) SendSLI(a l2tp.ACCM) {
	s.t.post(func() {
		if s.state == SnEstablished {
			m := &l2tp.Message{Type: l2tp.MsgSLI, ACCM: a}
			m.Set(l2tp.AVPACCM)
			s.t.send(m, s.remoteID)
		}
	})
}

// SendWEN sends WAN-Error-Notify (§6.14; LAC to LNS).
func (s *Session) SendWEN(e l2tp.CallErrors) {
	s.t.post(func() {
		if s.state == SnEstablished {
			m := &l2tp.Message{Type: l2tp.MsgWEN, CallErrors: e}
			m.Set(l2tp.AVPCallErrors)
			s.t.send(m, s.remoteID)
		}
	})
}

// SessionStats is a snapshot of a session for `show vpdn session` and
// `show l2tun session`.
type SessionStats struct {
	LocalID, RemoteID             uint16
	LocalTunnelID, RemoteTunnelID uint16
	State                         SessionState
	Since                         time.Time
	Sequencing                    bool
	Username                      string // proxy authen name, if any
	UniqueID                      uint32 // node-wide, the "Uniq ID" of show vpdn
	CallingNumber, CalledNumber   string
}

// Stats returns a snapshot of the session.
func (s *Session) Stats() SessionStats {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.statsLocked()
}

func (s *Session) statsLocked() SessionStats {
	st := SessionStats{UniqueID: s.uniq, LocalID: s.localID, RemoteID: s.remoteID, LocalTunnelID: s.t.localID,
		RemoteTunnelID: s.t.remoteID, State: s.state, Since: s.since, Sequencing: s.seq}
	if c := s.call; c != nil {
		st.CallingNumber, st.CalledNumber = c.CallingNumber, c.CalledNumber
		if c.Proxy != nil {
			st.Username = c.Proxy.AuthName
		}
	}
	return st
}

// Call is a call the peer opened, offered to Config.OnCall.
type Call struct {
	// Session is the session being set up; it is usable once Accept
	// leads to established (OnSessionUp).
	Session *Session
	// Outgoing: an OCRQ asking this LAC to place a call (§7.4);
	// otherwise an ICRQ (§7.3).
	Outgoing bool
	// Tunnel describes the tunnel the call arrived on.
	Tunnel TunnelStats
	// Params are the AVPs of the ICRQ/OCRQ (proxy data comes with ICCN).
	Params CallParams

	// While OnCall runs (on the tunnel goroutine), an answer is noted and
	// applied when it returns: posting it to the tunnel from its own
	// goroutine could block on a full command queue when many calls come
	// at once.
	mu       sync.Mutex
	inOnCall bool
	answer   func()
}

// Accept answers the call: ICRP (LNS) or OCRP+OCCN (LAC). Called from
// OnCall, it takes effect when OnCall returns.
func (c *Call) Accept() {
	s := c.Session
	c.answerWith(s.accept)
}

// Reject refuses the call with CDN and result r (e.g. l2tp.CDNNoFacilities).
func (c *Call) Reject(r l2tp.Result) {
	s := c.Session
	c.answerWith(func() { s.t.closeSession(s, r, nil) })
}

func (c *Call) answerWith(f func()) {
	c.mu.Lock()
	if c.inOnCall {
		c.answer = f
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.Session.t.post(f)
}

// Everything below runs on the tunnel goroutine with t.mu held.

func (s *Session) prefix() string {
	return fmt.Sprintf("L2TP %05d:%05d:%08X: ", s.localID, s.t.localID, uint32(s.remoteID))
}

func (s *Session) fire(ev SessionEvent) bool { return s.step(s, ev, s.outgoing, s.t.now) }

func (s *Session) snLogOn() bool { return s.t.enabled() }

func (s *Session) snLog(errs bool, what string) {
	kind := "l2x-events"
	if errs {
		kind = "l2x-errors"
	}
	s.t.n.log.Debug(s.prefix()+"FSM-Sn "+what, "debug", kind)
}

// newSession allocates a session with a random, non-zero ID unique in
// the tunnel, within the limits.
func (t *Tunnel) newSession(outgoing, lac bool, c *CallParams, half bool) (*Session, error) {
	if len(t.sessions) >= t.n.lim.MaxSessionsPerTunnel {
		return nil, fmt.Errorf("%w: %d sessions on tunnel %d", ErrLimit, len(t.sessions), t.localID)
	}
	if t.n.nSessions.Add(1) > int64(t.n.lim.MaxSessions) {
		t.n.nSessions.Add(-1)
		return nil, fmt.Errorf("%w: %d sessions", ErrLimit, t.n.lim.MaxSessions)
	}
	var id uint16
	for try := 0; id == 0 || t.sessions[id] != nil || (try < 64 && t.recentlyFreed(id)); try++ {
		id = t.n.randID()
	}
	s := &Session{sess: sess[*Session]{since: t.now, deadline: t.now.Add(t.p.SetupTimeout), done: make(chan struct{})},
		t: t, localID: id, outgoing: outgoing, lac: lac, call: c, uniq: t.n.uniq.Add(1)}
	t.sessions[id] = s
	t.emptySince = time.Time{}
	if t.pending == nil {
		t.pending = map[uint16]*Session{}
	}
	t.pending[id] = s
	if half {
		s.deadline = t.now.Add(t.p.SessionSetupTimeout)
		t.halfQ = append(t.halfQ, s)
	} else {
		t.pendingQ = append(t.pendingQ, s)
	}
	return s, nil
}

// startCall begins a Dial: ICRQ (LAC, §7.3) or OCRQ (LNS, §7.4).
func (t *Tunnel) startCall(c CallParams, outgoing bool, res chan dialResult) *Session {
	if t.state == TunClosing || t.state == TunDead {
		res <- dialResult{err: errTunnelGone}
		return nil
	}
	if c.SerialNumber == 0 {
		c.SerialNumber = t.n.nextSerial()
	}
	if c.FramingType == 0 {
		c.FramingType = l2tp.FramingSync
	}
	if c.TxConnectSpeed == 0 {
		c.TxConnectSpeed = 100_000_000
	}
	s, err := t.newSession(outgoing, !outgoing, &c, false)
	if err != nil {
		res <- dialResult{err: err}
		return nil
	}
	s.serial = c.SerialNumber
	s.dial = res
	s.fire(SevOpen)
	if t.state == TunEstablished {
		s.tunnelUp()
	}
	return s
}

// tunnelUp sends the call request once the control connection is up.
func (s *Session) tunnelUp() {
	if !s.fire(SevTunnelUp) {
		return
	}
	c := s.call
	m := &l2tp.Message{AssignedSessionID: s.localID, CallSerialNumber: s.serial, BearerType: c.BearerType,
		CalledNumber: c.CalledNumber, CallingNumber: c.CallingNumber, SubAddress: c.SubAddress,
		PhysicalChannelID: c.PhysicalChannelID}
	m.Set(l2tp.AVPAssignedSessionID, l2tp.AVPCallSerialNumber)
	if c.SubAddress != "" {
		m.Set(l2tp.AVPSubAddress)
	}
	if s.outgoing {
		// §6.7: OCRQ requires BPS range, bearer and framing type and the
		// called number.
		m.Type = l2tp.MsgOCRQ
		m.MinBPS, m.MaxBPS, m.FramingType = c.MinBPS, c.MaxBPS, c.FramingType
		if m.MaxBPS == 0 {
			m.MaxBPS = 100_000_000
		}
		m.Set(l2tp.AVPMinimumBPS, l2tp.AVPMaximumBPS, l2tp.AVPBearerType, l2tp.AVPFramingType, l2tp.AVPCalledNumber)
	} else {
		m.Type = l2tp.MsgICRQ
		if c.BearerType != 0 {
			m.Set(l2tp.AVPBearerType)
		}
		if c.CalledNumber != "" {
			m.Set(l2tp.AVPCalledNumber)
		}
		if c.CallingNumber != "" {
			m.Set(l2tp.AVPCallingNumber)
		}
		if c.PhysicalChannelID != 0 {
			m.Set(l2tp.AVPPhysicalChannelID)
		}
	}
	s.t.send(m, 0)
}

// rxCallRequest handles ICRQ (LNS, §7.3) and OCRQ (LAC, §7.4).
func (t *Tunnel) rxCallRequest(m *l2tp.Message) {
	if t.state != TunEstablished {
		t.errorf("%v before the tunnel is established", m.Type)
		return
	}
	outgoing := m.Type == l2tp.MsgOCRQ
	c := &CallParams{SerialNumber: m.CallSerialNumber, CalledNumber: m.CalledNumber, CallingNumber: m.CallingNumber,
		SubAddress: m.SubAddress, BearerType: m.BearerType, FramingType: m.FramingType, MinBPS: m.MinBPS,
		MaxBPS: m.MaxBPS, PhysicalChannelID: m.PhysicalChannelID}
	if t.rel.backlog() >= maxBacklog {
		// The peer does not acknowledge what we send: answering would
		// only grow the queue. Its call times out on its side.
		t.n.cnt.backlog.Add(1)
		t.errorf("refusing %v: %d control messages unacknowledged", m.Type, t.rel.backlog())
		return
	}
	refuse := func(err error) {
		// §4.4.2: result 4, temporary lack of facilities; error 4,
		// insufficient resources. Addressed by the peer's session ID.
		t.n.cnt.sessionLimit.Add(1)
		t.errorf("refusing %v: %v", m.Type, err)
		r := &l2tp.Message{Type: l2tp.MsgCDN, AssignedSessionID: 0,
			Result: l2tp.Result{Code: l2tp.CDNNoFacilitiesTmp, Error: l2tp.ErrCodeResources, HasError: true}}
		r.Set(l2tp.AVPAssignedSessionID, l2tp.AVPResultCode)
		t.send(r, m.AssignedSessionID)
	}
	s, err := t.newSession(outgoing, outgoing, c, true)
	if err != nil {
		refuse(err)
		return
	}
	s.halfOpen = true
	if !t.n.makeRoom(t.n.lim, t) {
		s.state = SnDead
		s.finishQuiet()
		refuse(ErrLimit)
		return
	}
	s.remoteID = m.AssignedSessionID
	s.serial = m.CallSerialNumber
	// The tunnel is up: the session's peer and IDs are known now, so the
	// owner can install its data path before it answers the call.
	s.peer, s.remoteTID = t.peer, t.remoteID
	if outgoing {
		s.fire(SevRxOCRQ)
	} else {
		s.fire(SevRxICRQ)
	}
	s.fire(SevICRQOK)
	if t.n.cfg.OnCall == nil {
		s.accept()
		return
	}
	s.offered, s.notify = true, true
	call := &Call{Session: s, Outgoing: outgoing, Params: *c, inOnCall: true}
	call.Tunnel = t.statsLocked()
	t.after = append(t.after, func() {
		t.n.cfg.OnCall(call)
		call.mu.Lock()
		call.inOnCall = false
		answer := call.answer
		call.mu.Unlock()
		if answer != nil {
			t.mu.Lock()
			t.now = t.n.clock.Now()
			answer()
			t.mu.Unlock()
		}
	})
}

// statsLocked is the identity part of Stats, for a caller holding t.mu.
func (t *Tunnel) statsLocked() TunnelStats {
	return TunnelStats{LocalID: t.localID, RemoteID: t.remoteID, LocalName: t.p.LocalName, PeerName: t.peerName,
		PeerVendor: t.peerVend, Peer: t.peer, State: t.state, Initiator: t.initiator, Class: t.p.Class,
		Sessions: len(t.sessions), Created: t.created, Since: t.since}
}

// accept answers a call the peer opened.
func (s *Session) accept() {
	t := s.t
	s.offered = false
	switch s.state {
	case SnWaitTxICRP:
		s.fire(SevLocalCont)
		m := &l2tp.Message{Type: l2tp.MsgICRP, AssignedSessionID: s.localID}
		m.Set(l2tp.AVPAssignedSessionID)
		t.send(m, s.remoteID)
	case SnWaitTxOCRP:
		m := &l2tp.Message{Type: l2tp.MsgOCRP, AssignedSessionID: s.localID}
		m.Set(l2tp.AVPAssignedSessionID)
		t.send(m, s.remoteID)
		s.fire(SevLocalCont)
		s.seq = t.p.Sequencing || s.call.Sequencing
		c := &l2tp.Message{Type: l2tp.MsgOCCN, TxConnectSpeed: 100_000_000, FramingType: l2tp.FramingSync}
		c.Set(l2tp.AVPTxConnectSpeed, l2tp.AVPFramingType)
		if s.seq {
			c.Set(l2tp.AVPSequencingRequired)
		}
		t.send(c, s.remoteID)
		s.established()
	}
}

// rx handles a call message for this session.
func (s *Session) rx(m *l2tp.Message) {
	t := s.t
	switch m.Type {
	case l2tp.MsgICRP:
		if s.state != SnWaitICRP {
			t.errorf("ICRP in %v", s.state)
			return
		}
		s.remoteID = m.AssignedSessionID
		s.fire(SevRxICRP)
		s.seq = t.p.Sequencing || s.call.Sequencing
		s.ready()
		c := s.call
		r := &l2tp.Message{Type: l2tp.MsgICCN, TxConnectSpeed: c.TxConnectSpeed, FramingType: c.FramingType,
			RxConnectSpeed: c.RxConnectSpeed, PrivateGroupID: c.PrivateGroupID}
		r.Set(l2tp.AVPTxConnectSpeed, l2tp.AVPFramingType)
		if c.RxConnectSpeed != 0 {
			r.Set(l2tp.AVPRxConnectSpeed)
		}
		if len(c.PrivateGroupID) > 0 {
			r.Set(l2tp.AVPPrivateGroupID)
		}
		if s.seq {
			r.Set(l2tp.AVPSequencingRequired)
		}
		if p := c.Proxy; p != nil {
			setProxy(r, p)
		}
		t.send(r, s.remoteID)
		s.established()
	case l2tp.MsgICCN:
		if s.state != SnWaitICCN {
			t.errorf("ICCN in %v", s.state)
			return
		}
		s.fire(SevRxICCN)
		c := s.call
		c.TxConnectSpeed, c.RxConnectSpeed, c.FramingType = m.TxConnectSpeed, m.RxConnectSpeed, m.FramingType
		c.PrivateGroupID = m.PrivateGroupID
		c.Sequencing = m.Has(l2tp.AVPSequencingRequired)
		if m.Has(l2tp.AVPProxyAuthenType) || m.Has(l2tp.AVPInitialRecvLCPConfReq) || m.Has(l2tp.AVPProxyAuthenName) {
			c.Proxy = &ProxyInfo{InitialRecvLCP: m.InitialRecvLCP, LastSentLCP: m.LastSentLCP, LastRecvLCP: m.LastRecvLCP,
				AuthType: m.ProxyAuthType, AuthName: m.ProxyAuthName, AuthChallenge: m.ProxyAuthChallenge,
				AuthID: m.ProxyAuthID, AuthResponse: m.ProxyAuthResponse}
		}
		s.seq = c.Sequencing || t.p.Sequencing
		s.fire(SevICCNOK)
		s.established()
	case l2tp.MsgOCRP:
		if s.state != SnWaitOCRP {
			t.errorf("OCRP in %v", s.state)
			return
		}
		s.remoteID = m.AssignedSessionID
		s.fire(SevRxOCRP)
		s.ready()
	case l2tp.MsgOCCN:
		if s.state != SnWaitOCCN {
			t.errorf("OCCN in %v", s.state)
			return
		}
		s.fire(SevRxOCCN)
		s.call.TxConnectSpeed, s.call.FramingType = m.TxConnectSpeed, m.FramingType
		s.seq = m.Has(l2tp.AVPSequencingRequired) || t.p.Sequencing
		s.established()
	case l2tp.MsgCDN:
		t.eventf("Rx CDN for session %d: %s", s.localID, m.Result.Text(l2tp.MsgCDN))
		s.fire(SevRxCDN)
		s.finish(&CloseError{Msg: l2tp.MsgCDN, Result: m.Result, Remote: true, Q931: m.Q931})
	case l2tp.MsgWEN:
		if f := t.n.cfg.OnWEN; f != nil && s.state == SnEstablished {
			ce := m.CallErrors
			t.after = append(t.after, func() { f(s, ce) })
		}
	case l2tp.MsgSLI:
		if f := t.n.cfg.OnSLI; f != nil && s.state == SnEstablished {
			a := m.ACCM
			t.after = append(t.after, func() { f(s, a) })
		}
	default:
		t.errorf("unexpected %v for session %d", m.Type, s.localID)
	}
}

func setProxy(r *l2tp.Message, p *ProxyInfo) {
	r.InitialRecvLCP, r.LastSentLCP, r.LastRecvLCP = p.InitialRecvLCP, p.LastSentLCP, p.LastRecvLCP
	if p.InitialRecvLCP != nil {
		r.Set(l2tp.AVPInitialRecvLCPConfReq)
	}
	if p.LastSentLCP != nil {
		r.Set(l2tp.AVPLastSentLCPConfReq)
	}
	if p.LastRecvLCP != nil {
		r.Set(l2tp.AVPLastRecvLCPConfReq)
	}
	if p.AuthType != 0 {
		r.ProxyAuthType, r.ProxyAuthName, r.ProxyAuthChallenge = p.AuthType, p.AuthName, p.AuthChallenge
		r.ProxyAuthID, r.ProxyAuthResponse = p.AuthID, p.AuthResponse
		r.Set(l2tp.AVPProxyAuthenType, l2tp.AVPProxyAuthenName, l2tp.AVPProxyAuthenID)
		if p.AuthChallenge != nil {
			r.Set(l2tp.AVPProxyAuthenChallenge)
		}
		if p.AuthResponse != nil {
			r.Set(l2tp.AVPProxyAuthenResponse)
		}
	}
	// §4.3: what the "hidden" setting protects.
	r.Hide = []l2tp.AVPType{l2tp.AVPProxyAuthenName, l2tp.AVPProxyAuthenChallenge, l2tp.AVPProxyAuthenResponse,
		l2tp.AVPInitialRecvLCPConfReq, l2tp.AVPLastSentLCPConfReq, l2tp.AVPLastRecvLCPConfReq}
}

// ready tells a dialling owner (CallParams.Ready) that the peer answered
// its call: the session's IDs and peer are known, and the peer may send
// data as soon as our next message reaches it.
func (s *Session) ready() {
	t := s.t
	s.peer, s.remoteTID = t.peer, t.remoteID
	if s.call == nil || s.call.Ready == nil {
		return
	}
	s.notify = true
	s.call.Ready(s, s.infoLocked())
}

// established reports the session up.
func (s *Session) established() {
	t := s.t
	delete(t.pending, s.localID)
	if s.halfOpen {
		s.halfOpen = false
		t.n.releaseHalfOpen(t)
	}
	s.peer, s.remoteTID = t.peer, t.remoteID
	s.up = true
	if t.enabled() {
		t.n.log.Debug(s.prefix()+"Session up", "debug", "l2x-events")
	}
	if s.answerDial(dialResult{s: s}) {
		return
	}
	if f := t.n.cfg.OnSessionUp; f != nil {
		t.after = append(t.after, func() { f(s) })
	}
}

// closeSession sends CDN with r and ends the session (§6.13).
func (t *Tunnel) closeSession(s *Session, r l2tp.Result, cause error) {
	if s.state == SnDead {
		return
	}
	s.fire(SevClose)
	if t.state == TunEstablished {
		m := &l2tp.Message{Type: l2tp.MsgCDN, AssignedSessionID: s.localID, Result: r}
		m.Set(l2tp.AVPAssignedSessionID, l2tp.AVPResultCode)
		if s.q931 != nil {
			m.Q931 = *s.q931
			m.Set(l2tp.AVPQ931CauseCode)
		}
		t.eventf("Tx CDN for session %d: %s", s.localID, r.Text(l2tp.MsgCDN))
		t.send(m, s.remoteID)
	}
	s.finish(&CloseError{Msg: l2tp.MsgCDN, Result: r, Err: cause})
}

// recentIDs is how many of a tunnel's last freed session IDs newSession
// avoids (while it finds others within 64 draws).
const recentIDs = 1024

// recentlyFreed reports whether id is one of the tunnel's last recentIDs
// session IDs freed. The carrier ends a session's data path after the
// session is gone here; an ID handed out again at once would collide with
// it in the data plane (under an ICRQ flood, calls evicted by the
// thousand).
func (t *Tunnel) recentlyFreed(id uint16) bool {
	_, ok := t.recentSet[id]
	return ok
}

// freed records id as freed, forgetting the oldest beyond recentIDs.
func (t *Tunnel) freed(id uint16) {
	if t.recentSet == nil {
		t.recentSet = map[uint16]int{}
	}
	if len(t.recent) < recentIDs {
		t.recent = append(t.recent, id)
	} else {
		old := t.recent[t.recentAt]
		if t.recentSet[old]--; t.recentSet[old] <= 0 {
			delete(t.recentSet, old)
		}
		t.recent[t.recentAt] = id
		t.recentAt = (t.recentAt + 1) % recentIDs
	}
	t.recentSet[id]++
}

// finishQuiet removes the session from the tunnel and the node's counts.
func (s *Session) finishQuiet() {
	t := s.t
	delete(t.sessions, s.localID)
	t.freed(s.localID)
	delete(t.pending, s.localID)
	t.n.nSessions.Add(-1)
	if s.halfOpen {
		s.halfOpen = false
		t.n.releaseHalfOpen(t)
	}
	if len(t.sessions) == 0 && t.state == TunEstablished {
		t.emptySince = t.now
	}
}

// finish removes the session and reports its end.
func (s *Session) finish(err error) {
	t := s.t
	if t.sessions[s.localID] != s {
		return
	}
	wasUp := s.up
	s.state = SnDead
	s.finishQuiet()
	s.err = err
	close(s.done)
	if s.answerDial(dialResult{err: err}) {
		return
	}
	if wasUp || s.notify {
		if f := t.n.cfg.OnSessionDown; f != nil {
			t.after = append(t.after, func() { f(s, err) })
		}
	}
}
