package l2tp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// PWParams are the local settings of one pseudowire: an xconnect and its
// pseudowire-class.
type PWParams struct {
	// Type is the pseudowire type (§5.4.4): l2tp.PWEthernet for a main
	// interface, l2tp.PWEthernetVLAN for a dot1Q subinterface,
	// l2tp.PWPPP for Virtual-PPP.
	Type l2tp.PWType
	// RemoteEndID is the Remote End ID AVP: the VCID, as IOS sends it
	// (RemoteEndIDForVCID).
	RemoteEndID []byte
	// CookieLen is the length of the random cookie we assign (§5.4.4
	// Assigned Cookie): 0, 4 or 8.
	CookieLen int
	// L2SS asks for the default L2-Specific Sublayer (§4.6); Sequencing
	// asks the peer to sequence the data it sends us (Data Sequencing 2),
	// which needs the sublayer.
	L2SS, Sequencing bool
	// CircuitDown: the attachment circuit is down at set-up (Circuit
	// Status in ICRQ/ICRP, §5.4.5).
	CircuitDown bool
	// Ready, when set, is called once the pseudowire's IDs and cookies
	// are known and before our last set-up message goes out (ICCN when
	// we placed it, ICRP when the peer did): the owner installs its data
	// path there, so that the peer's first frames are not lost. It runs
	// on the control connection's goroutine with it locked: it must not
	// block nor call the pseudowire's methods.
	Ready func(*Pseudowire, PWInfo)
}

func (p PWParams) check() error {
	switch p.CookieLen {
	case 0, 4, 8:
	default:
		return fmt.Errorf("l2tp: cookie length %d: %w", p.CookieLen, l2tp.ErrCookieLen)
	}
	if len(p.RemoteEndID) == 0 {
		return errors.New("l2tp: pseudowire without a Remote End ID (VCID)")
	}
	if p.Sequencing && !p.L2SS {
		// §5.4.4: sequencing needs a sublayer with a sequence number.
		return errors.New("l2tp: sequencing needs the default L2-Specific Sublayer")
	}
	return nil
}

// RemoteEndIDForVCID encodes a VCID as the Remote End ID AVP value: the
// 4-octet big-endian number IOS sends for `xconnect PEER VCID`.
func RemoteEndIDForVCID(vcid uint32) []byte {
	return []byte{byte(vcid >> 24), byte(vcid >> 16), byte(vcid >> 8), byte(vcid)}
}

// PWInfo identifies a pseudowire for the data plane and show commands.
type PWInfo struct {
	LocalCCID, RemoteCCID uint32
	Peer                  netip.AddrPort
	PeerName              string
	Class                 string
	// LocalSessionID is ours (the peer puts it in data messages to us);
	// RemoteSessionID the peer's (we put it in ours).
	LocalSessionID, RemoteSessionID uint32
	// LocalCookie is the cookie we assigned (data from the peer must
	// carry it); RemoteCookie the peer's (we send it).
	LocalCookie, RemoteCookie l2tp.Cookie
	Type                      l2tp.PWType
	RemoteEndID               []byte
	// L2SS: data messages carry the default L2-Specific Sublayer (both
	// ends asked for it). SendSeq: the peer wants our data sequenced;
	// RecvSeq: we asked for the peer's to be.
	L2SS, SendSeq, RecvSeq bool
	// Initiator: we sent the ICRQ.
	Initiator                     bool
	LocalCircuitUp, RemoteCircuit bool
	State                         SessionState
	Since                         time.Time
	Err                           error
}

type pwResult = placed[*Pseudowire]

// Pseudowire is one L2TPv3 session (§3.4). Its state belongs to its
// control connection's goroutine.
type Pseudowire struct {
	sess[*Pseudowire]
	initiator    bool
	peerL2SS     bool
	sendSeq      bool
	remoteUp     bool
	serial       uint32
	c            *V3Conn
	localID      uint32
	remoteID     uint32
	p            PWParams
	localCookie  l2tp.Cookie
	remoteCookie l2tp.Cookie
	seq          uint64
}

// Conn returns the pseudowire's control connection.
func (s *Pseudowire) Conn() *V3Conn { return s.c }

// Info returns the pseudowire's identity and state.
func (s *Pseudowire) Info() PWInfo {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.infoLocked()
}

func (s *Pseudowire) infoLocked() PWInfo {
	c := s.c
	return PWInfo{LocalCCID: c.localID, RemoteCCID: c.remoteID, Peer: c.peer, PeerName: c.peerName, Class: c.p.Class,
		LocalSessionID: s.localID, RemoteSessionID: s.remoteID, LocalCookie: s.localCookie, RemoteCookie: s.remoteCookie,
		Type: s.p.Type, RemoteEndID: s.p.RemoteEndID, L2SS: s.p.L2SS && s.peerL2SS, SendSeq: s.sendSeq,
		RecvSeq: s.p.Sequencing, Initiator: s.initiator, LocalCircuitUp: !s.p.CircuitDown, RemoteCircuit: s.remoteUp,
		State: s.state, Since: s.since, Err: s.err}
}

// Close tears the pseudowire down with CDN and result r (§6.12).
func (s *Pseudowire) Close(r l2tp.Result) {
	s.c.post(func() { s.c.closePW(s, r, nil) })
}

// SetCircuit reports the attachment circuit's state to the peer: SLI
// with the Circuit Status AVP (§5.4.5, §6.14; A bit = active).
func (s *Pseudowire) SetCircuit(up bool) {
	s.c.post(func() {
		if s.p.CircuitDown == !up {
			return
		}
		s.p.CircuitDown = !up
		if s.state == SnEstablished {
			m := s.msg(l2tp.MsgSLI)
			m.CircuitStatus = l2tp.CircuitStatus{Active: up}
			m.Set(l2tp.AVPCircuitStatus)
			s.c.send(m)
		}
	})
}

// msg starts a session message with both Session IDs (§6.6–§6.14).
func (s *Pseudowire) msg(t l2tp.MsgType) *l2tp.V3Message {
	m := &l2tp.V3Message{Type: t, LocalSessionID: s.localID, RemoteSessionID: s.remoteID}
	m.Set(l2tp.AVPLocalSessionID, l2tp.AVPRemoteSessionID)
	return m
}

// setupAVPs adds what ICRQ and ICRP both carry: our cookie, sublayer,
// data sequencing and circuit status (§5.4.4, §5.4.5).
func (s *Pseudowire) setupAVPs(m *l2tp.V3Message) {
	if s.localCookie.Len() > 0 {
		m.AssignedCookie = s.localCookie.Bytes()
		m.Set(l2tp.AVPAssignedCookie)
	}
	m.L2SpecificSublyr = l2tp.L2SSNone
	if s.p.L2SS {
		m.L2SpecificSublyr = l2tp.L2SSDefault
	}
	m.DataSequencing = l2tp.DataSeqNone
	if s.p.Sequencing {
		m.DataSequencing = l2tp.DataSeqAll
	}
	m.CircuitStatus = l2tp.CircuitStatus{Active: !s.p.CircuitDown, New: true}
	m.Set(l2tp.AVPL2SpecificSublayer, l2tp.AVPDataSequencing, l2tp.AVPCircuitStatus)
}

// peerSetup applies what the peer's ICRQ or ICRP says.
func (s *Pseudowire) peerSetup(m *l2tp.V3Message) error {
	s.remoteID = m.LocalSessionID
	if m.Has(l2tp.AVPAssignedCookie) {
		ck, err := l2tp.MakeCookie(m.AssignedCookie)
		if err != nil {
			return err
		}
		s.remoteCookie = ck
	}
	s.peerL2SS = !m.Has(l2tp.AVPL2SpecificSublayer) || m.L2SpecificSublyr == l2tp.L2SSDefault
	if m.Has(l2tp.AVPL2SpecificSublayer) && m.L2SpecificSublyr > l2tp.L2SSDefault {
		return fmt.Errorf("l2tp: L2-Specific Sublayer type %d", m.L2SpecificSublyr)
	}
	s.sendSeq = m.DataSequencing != l2tp.DataSeqNone
	s.remoteUp = !m.Has(l2tp.AVPCircuitStatus) || m.CircuitStatus.Active
	return nil
}

func (s *Pseudowire) fire(ev SessionEvent) bool { return s.step(s, ev, false, s.c.now) }

func (s *Pseudowire) snLogOn() bool { return s.c.enabled() }

func (s *Pseudowire) snLog(errs bool, what string) {
	if errs {
		s.c.errorf("FSM-Sn %d: %s", s.localID, what)
	} else {
		s.c.eventf("FSM-Sn %d: %s", s.localID, what)
	}
}

func (c *V3Conn) newPW(p PWParams, initiator bool) (*Pseudowire, error) {
	s := &Pseudowire{sess: sess[*Pseudowire]{done: make(chan struct{}), since: c.now, deadline: c.now.Add(c.p.SetupTimeout)},
		c: c, initiator: initiator, p: p}
	if !initiator {
		s.deadline = c.now.Add(c.p.SessionSetupTimeout)
	}
	if len(c.sessions) >= c.n.lim.MaxSessionsPerTunnel {
		return nil, fmt.Errorf("%w: %d sessions on the control connection", ErrLimit, len(c.sessions))
	}
	id, err := c.n.newSessionID(s)
	if err != nil {
		return nil, err
	}
	c.pwSeq++
	s.seq = c.pwSeq
	c.emptySince = time.Time{}
	s.localID = id
	if p.CookieLen > 0 {
		// §4.1, §8.2: a random cookie guards against blind insertion.
		s.localCookie, _ = l2tp.MakeCookie(c.n.randBytes(p.CookieLen))
	}
	c.sessions[id] = s
	return s, nil
}

// startPW places a pseudowire: ICRQ now, or once the connection is up.
func (c *V3Conn) startPW(p PWParams, res chan pwResult) *Pseudowire {
	if c.state == TunClosing || c.state == TunDead {
		res <- pwResult{err: errTunnelGone}
		return nil
	}
	s, err := c.newPW(p, true)
	if err != nil {
		res <- pwResult{err: err}
		return nil
	}
	s.dial = res
	s.serial = c.n.nextSerial()
	s.fire(SevOpen)
	if c.state == TunEstablished {
		s.tunnelUp()
	}
	return s
}

// tunnelUp sends the ICRQ (§6.6).
func (s *Pseudowire) tunnelUp() {
	s.fire(SevTunnelUp)
	m := s.msg(l2tp.MsgICRQ)
	m.SerialNumber = s.serial
	m.PWType = s.p.Type
	m.RemoteEndID = s.p.RemoteEndID
	m.Set(l2tp.AVPSerialNumber, l2tp.AVPPWType, l2tp.AVPRemoteEndID)
	s.setupAVPs(m)
	s.c.send(m)
}

// rxICRQ answers a pseudowire the peer places (§3.4.1): ICRP, or CDN
// with the RFC's result code.
func (c *V3Conn) rxICRQ(m *l2tp.V3Message) {
	if c.state != TunEstablished {
		c.errorf("ICRQ before the control connection is established")
		return
	}
	for _, s := range c.sessions {
		if s.remoteID == m.LocalSessionID && !s.initiator {
			return // a retransmission already answered
		}
	}
	c.eventf("Rx ICRQ: %v, Remote End ID %x", m.PWType, m.RemoteEndID)
	if !pwTypeIn(c.n.caps, m.PWType) {
		c.sendCDN(0, m.LocalSessionID, l2tp.Result{Code: l2tp.CDNPWType, HasError: true,
			Message: fmt.Sprintf("pseudowire type %v not supported", m.PWType)})
		return
	}
	if m.DataSequencing != l2tp.DataSeqNone && m.Has(l2tp.AVPL2SpecificSublayer) && m.L2SpecificSublyr == l2tp.L2SSNone {
		c.sendCDN(0, m.LocalSessionID, l2tp.Result{Code: l2tp.CDNSeqNoL2SS})
		return
	}
	req := PWRequest{Peer: c.peer, PeerName: c.peerName, Class: c.p.Class, Type: m.PWType,
		RemoteEndID: m.RemoteEndID, CircuitActive: !m.Has(l2tp.AVPCircuitStatus) || m.CircuitStatus.Active}
	a := PWAnswer{Result: l2tp.Result{Code: l2tp.CDNNoFacilities, HasError: true, Message: "no xconnect for this VCID"}}
	if c.n.cfg.OnRequest != nil {
		c.mu.Unlock()
		a = c.n.cfg.OnRequest(req)
		c.mu.Lock()
	}
	if !a.Accept {
		c.eventf("ICRQ refused: %s", a.Result.Text(l2tp.MsgCDN))
		c.sendCDN(0, m.LocalSessionID, a.Result)
		return
	}
	if a.Params.Type != m.PWType {
		// §5.4.2 CDN result 14: our xconnect for this VCID carries
		// another type (a main interface against a subinterface).
		c.sendCDN(0, m.LocalSessionID, l2tp.Result{Code: l2tp.CDNPWType, HasError: true,
			Message: fmt.Sprintf("pseudowire type %v, local %v", m.PWType, a.Params.Type)})
		return
	}
	if len(a.Params.RemoteEndID) == 0 {
		a.Params.RemoteEndID = m.RemoteEndID
	}
	refuse := func(err error) {
		// §5.4.2 CDN result 4, error 4: insufficient resources now.
		c.n.cnt.sessionLimit.Add(1)
		c.errorf("refusing ICRQ: %v", err)
		c.sendCDN(0, m.LocalSessionID, l2tp.Result{Code: l2tp.CDNNoFacilitiesTmp, Error: l2tp.ErrCodeResources, HasError: true})
	}
	s, err := c.newPW(a.Params, false)
	if err != nil {
		refuse(err)
		return
	}
	s.halfOpen = true
	if !c.n.makeRoom(c.n.lim, c) {
		s.remoteID = 0
		s.finish(ErrLimit)
		refuse(ErrLimit)
		return
	}
	s.serial = m.SerialNumber
	s.fire(SevRxICRQ)
	if err := s.peerSetup(m); err != nil {
		s.remoteID = m.LocalSessionID
		c.closePW(s, l2tp.Result{Code: l2tp.CDNGeneralError, Error: l2tp.ErrCodeRange, HasError: true, Message: err.Error()}, err)
		return
	}
	s.fire(SevICRQOK)
	s.fire(SevLocalCont)
	s.ready()
	r := s.msg(l2tp.MsgICRP)
	s.setupAVPs(r)
	s.c.send(r)
}

func pwTypeIn(caps []l2tp.PWType, t l2tp.PWType) bool {
	for _, x := range caps {
		if x == t {
			return true
		}
	}
	return false
}

// sendCDN sends a CDN for a session we may not have (ours = 0).
func (c *V3Conn) sendCDN(ours, theirs uint32, r l2tp.Result) {
	m := &l2tp.V3Message{Type: l2tp.MsgCDN, LocalSessionID: ours, RemoteSessionID: theirs, Result: r}
	m.Set(l2tp.AVPLocalSessionID, l2tp.AVPRemoteSessionID, l2tp.AVPResultCode)
	c.eventf("Tx CDN: %s", r.Text(l2tp.MsgCDN))
	c.send(m)
}

func (s *Pseudowire) ready() {
	s.notify = true
	if s.p.Ready != nil {
		s.p.Ready(s, s.infoLocked())
	}
}

// rx handles a session message for s.
func (s *Pseudowire) rx(m *l2tp.V3Message) {
	c := s.c
	switch m.Type {
	case l2tp.MsgICRP:
		if s.state != SnWaitICRP {
			c.errorf("ICRP in %v", s.state)
			return
		}
		if err := s.peerSetup(m); err != nil {
			c.closePW(s, l2tp.Result{Code: l2tp.CDNGeneralError, Error: l2tp.ErrCodeRange, HasError: true, Message: err.Error()}, err)
			return
		}
		s.fire(SevRxICRP)
		s.ready()
		r := s.msg(l2tp.MsgICCN)
		r.L2SpecificSublyr = l2tp.L2SSNone
		if s.p.L2SS && s.peerL2SS {
			r.L2SpecificSublyr = l2tp.L2SSDefault
		}
		r.Set(l2tp.AVPL2SpecificSublayer)
		c.send(r)
		s.established()
	case l2tp.MsgICCN:
		if s.state != SnWaitICCN {
			c.errorf("ICCN in %v", s.state)
			return
		}
		s.fire(SevRxICCN)
		s.fire(SevICCNOK)
		s.established()
	case l2tp.MsgCDN:
		c.eventf("Rx CDN for session %d: %s", s.localID, m.Result.Text(l2tp.MsgCDN))
		s.fire(SevRxCDN)
		var err error
		if m.Result.Code == l2tp.CDNPWType {
			err = ErrPWType
		}
		s.finish(&CloseError{Msg: l2tp.MsgCDN, Result: m.Result, Remote: true, Err: err})
	case l2tp.MsgSLI:
		if m.Has(l2tp.AVPCircuitStatus) {
			s.remoteUp = m.CircuitStatus.Active
			c.eventf("session %d: remote circuit %s", s.localID, upDown(s.remoteUp))
			if f := c.n.cfg.OnCircuit; f != nil && s.state == SnEstablished {
				up := s.remoteUp
				c.after = append(c.after, func() { f(s, up) })
			}
		}
	case l2tp.MsgWEN:
		c.eventf("session %d: WEN %+v", s.localID, m.CircuitErrors)
	default:
		c.errorf("%v for session %d", m.Type.V3String(), s.localID)
	}
}

func upDown(b bool) string {
	if b {
		return "up"
	}
	return "down"
}

// settled uncounts a half-open pseudowire that came up or ended.
func (s *Pseudowire) settled() {
	if s.halfOpen {
		s.halfOpen = false
		s.c.n.releaseHalfOpen(s.c)
	}
}

func (s *Pseudowire) established() {
	s.settled()
	s.c.eventf("session %d: %v pseudowire established, peer session %d", s.localID, s.p.Type, s.remoteID)
	if s.answerDial(pwResult{s: s}) {
		return
	}
	if f := s.c.n.cfg.OnUp; f != nil {
		s.c.after = append(s.c.after, func() { f(s) })
	}
}

// closePW sends CDN with r and ends s.
func (c *V3Conn) closePW(s *Pseudowire, r l2tp.Result, cause error) {
	if s.state == SnDead {
		return
	}
	s.fire(SevClose)
	if c.state == TunEstablished && (s.remoteID != 0 || s.state != SnWaitTunnel) {
		c.sendCDN(s.localID, s.remoteID, r)
	}
	s.finish(&CloseError{Msg: l2tp.MsgCDN, Result: r, Err: cause})
}

// finish ends s: the Dial gets the error, the owner OnDown.
func (s *Pseudowire) finish(err error) {
	c := s.c
	if s.err != nil || c.sessions[s.localID] != s {
		return
	}
	s.state = SnDead
	s.err = err
	s.settled()
	delete(c.sessions, s.localID)
	if len(c.sessions) == 0 && c.state == TunEstablished {
		c.emptySince = c.now
	}
	c.n.freeSessionID(s.localID, s)
	close(s.done)
	if s.answerDial(pwResult{err: err}) && !s.notify {
		return
	}
	if f := c.n.cfg.OnDown; f != nil && s.notify {
		c.after = append(c.after, func() { f(s, err) })
	}
}
