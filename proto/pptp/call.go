package pptp

import (
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/wire/pptp"
)

// CallParams describe a call: what Conn.Call sends, and what a request
// received from the peer carried (Call.Stats().Params).
type CallParams struct {
	// OCRQ (§2.7), the PNS asking the PAC to place a call. MaxBPS 0 asks
	// for 300 to 100,000,000 bps; zero types ask for every capability.
	PhoneNumber, SubAddress string
	MinBPS, MaxBPS          uint32
	BearerType              pptp.Bearer
	FramingType             pptp.Framing
	// ICRQ (§2.9), the PAC reporting an incoming call; SubAddress and
	// BearerType too. ConnectSpeed goes into the ICCN.
	DialedNumber, DialingNumber string
	PhysicalChannelID           uint32
	ConnectSpeed                uint32

	// Ready, when set on a call we place, is called with our Call ID
	// before the request goes out, on the connection's goroutine (it
	// must not block): the owner installs the call's data path then, so
	// that the peer's first GRE packets, which may overtake its reply on
	// the TCP stream, find it. Not sent, not kept in Stats.
	Ready func(localID uint16) `json:"-"`
}

// Call is one PPTP call on a control connection. Its state belongs to
// the connection's goroutine; the methods post to it and never block.
type Call struct {
	c          *Conn
	outgoing   bool // OCRQ/OCRP (§3.2.3); false: ICRQ/ICRP/ICCN (§3.2.2)
	originated bool // we sent the request
	up, done   chan struct{}

	// Guarded by c.mu.
	localID, peerID       uint16
	state                 CallState
	params                CallParams
	peerWindow, peerDelay uint16
	connectSpeed          uint32
	sendACCM, recvACCM    uint32
	serial                uint16
	created, since        time.Time
	deadline              time.Time
	err                   error
	offered, wasUp, gone  bool
}

// CallStats is a call's snapshot and its information for the data plane:
// the IDs (the peer's goes into the Key of the GRE packets we send,
// §4.1) and the peer's flow control parameters (§4.2).
type CallStats struct {
	LocalID, PeerID uint16
	ConnID          uint64
	Peer            netip.Addr
	State           CallState
	Outgoing        bool // an OCRQ call (§3.2.3), else an ICRQ call (§3.2.2)
	Originated      bool // we sent the request
	Serial          uint16
	Created, Since  time.Time
	// PeerRecvWindow is the peer's Packet Recv. Window Size, the most
	// unacknowledged packets we may send it; PeerProcessingDelay its
	// Packet Processing Delay in 1/10 s (§4.2).
	PeerRecvWindow, PeerProcessingDelay uint16
	ConnectSpeed                        uint32
	SendACCM, RecvACCM                  uint32 // from the last SLI (§2.15)
	Params                              CallParams
}

// Conn returns the call's control connection.
func (call *Call) Conn() *Conn { return call.c }

// Done is closed when the call has ended.
func (call *Call) Done() <-chan struct{} { return call.done }

// Err returns why the call ended (a *CloseError), once Done is closed.
func (call *Call) Err() error {
	call.c.mu.Lock()
	defer call.c.mu.Unlock()
	return call.err
}

// Stats returns the call's snapshot.
func (call *Call) Stats() CallStats {
	call.c.mu.Lock()
	defer call.c.mu.Unlock()
	return call.statsLocked()
}

func (call *Call) statsLocked() CallStats {
	return CallStats{LocalID: call.localID, PeerID: call.peerID, ConnID: call.c.id, Peer: call.c.peer,
		State: call.state, Outgoing: call.outgoing, Originated: call.originated, Serial: call.serial,
		Created: call.created, Since: call.since, PeerRecvWindow: call.peerWindow,
		PeerProcessingDelay: call.peerDelay, ConnectSpeed: call.connectSpeed,
		SendACCM: call.sendACCM, RecvACCM: call.recvACCM, Params: call.params}
}

// Accept answers a call offered to OnCall: OCRP "connected" on a PAC
// (established at once, §3.2.3.1), ICRP "connect" on a PNS (established
// when the ICCN comes, §3.2.2.2).
func (call *Call) Accept() {
	c := call.c
	c.post(func() {
		if call.state != CallWaitAnswer {
			return
		}
		cfg := &c.n.cfg
		if call.outgoing {
			speed := call.params.ConnectSpeed
			if speed == 0 {
				speed = call.params.MaxBPS
			}
			call.connectSpeed = speed
			_ = c.send(&pptp.OCRP{CallID: call.localID, PeerCallID: call.peerID, Result: pptp.OCRPConnected,
				ConnectSpeed: speed, RecvWindow: cfg.RecvWindow, ProcessingDelay: cfg.ProcessingDelay,
				PhysicalChannelID: call.params.PhysicalChannelID})
			call.fire(SevAcceptOCRQ)
			c.callUp(call)
			return
		}
		_ = c.send(&pptp.ICRP{CallID: call.localID, PeerCallID: call.peerID, Result: pptp.ICRPConnect,
			RecvWindow: cfg.RecvWindow, ProcessingDelay: cfg.ProcessingDelay})
		call.fire(SevAcceptICRQ)
		c.setPending(call, c.now.Add(cfg.CallTimeout))
	})
}

// Reject refuses a call offered to OnCall with result, an OCRPResult
// (§2.8) for an OCRQ or an ICRPResult (§2.10) for an ICRQ, and the error
// code that goes with a General Error result (§2.16). Result 0 is
// "do not accept" (OCRP 7, ICRP 3).
func (call *Call) Reject(result uint8, code pptp.ErrorCode) {
	call.c.post(func() { call.reject(result, code) })
}

func (call *Call) reject(result uint8, code pptp.ErrorCode) {
	c := call.c
	if call.state != CallWaitAnswer {
		return
	}
	msg := pptp.MsgICRP
	if call.outgoing {
		msg = pptp.MsgOCRP
		if result == 0 {
			result = uint8(pptp.OCRPDoNotAccept)
		}
		_ = c.send(&pptp.OCRP{CallID: call.localID, PeerCallID: call.peerID, Result: pptp.OCRPResult(result), Error: code})
	} else {
		if result == 0 {
			result = uint8(pptp.ICRPDoNotAccept)
		}
		_ = c.send(&pptp.ICRP{CallID: call.localID, PeerCallID: call.peerID, Result: pptp.ICRPResult(result), Error: code})
	}
	call.fire(SevReject)
	c.callDown(call, &CloseError{Msg: msg, Result: result, Code: code})
}

// Close clears the call as the RFC says for our role: a PAC sends CDN
// with result (§2.13; 0 means "administrative shutdown") and the call is
// gone; a PNS sends CCRQ (§2.12) and the call is gone when the PAC's CDN
// comes, or after CallTimeout. A call offered to OnCall and not answered
// is rejected.
func (call *Call) Close(result pptp.CDNResult) {
	call.c.post(func() { call.close(result) })
}

func (call *Call) close(result pptp.CDNResult) {
	c := call.c
	switch call.state {
	case CallDead, CallIdle, CallWaitDisconnect:
		return
	case CallWaitAnswer:
		call.reject(0, pptp.ErrorNone)
		return
	}
	if c.n.cfg.Role == RolePAC {
		if result == 0 {
			result = pptp.CDNAdminShutdown
		}
		_ = c.send(&pptp.CDN{CallID: call.localID, Result: result})
		call.fire(SevClose)
		c.callDown(call, &CloseError{Msg: pptp.MsgCDN, Result: uint8(result)})
		return
	}
	_ = c.send(&pptp.CCRQ{CallID: call.localID})
	call.fire(SevClear)
	call.err = &CloseError{Msg: pptp.MsgCCRQ}
	c.setPending(call, c.now.Add(c.n.cfg.CallTimeout))
}

func (call *Call) fire(ev CallEvent) bool {
	c := call.c
	to, ok := callNext(call.state, ev)
	if !ok {
		c.n.cnt.outOfState.Add(1)
		c.errorf("call %d FSM %v in %v: no transition", call.localID, ev, call.state)
		return false
	}
	c.eventf("call %d FSM %v->%v on %v", call.localID, call.state, to, ev)
	call.state, call.since = to, c.now
	return true
}

// callTimeout ends a call whose reply, answer, ICCN or CDN is late,
// telling the peer where the RFC gives a way: CCRQ from a PNS, CDN from
// a PAC, a refusal to an unanswered request.
func (c *Conn) callTimeout(call *Call) {
	c.errorf("call %d: timeout in %v", call.localID, call.state)
	switch call.state {
	case CallWaitAnswer:
		if call.outgoing {
			_ = c.send(&pptp.OCRP{CallID: call.localID, PeerCallID: call.peerID, Result: pptp.OCRPTimeout})
		} else {
			_ = c.send(&pptp.ICRP{CallID: call.localID, PeerCallID: call.peerID, Result: pptp.ICRPDoNotAccept})
		}
	case CallWaitReply, CallWaitConnect:
		if c.n.cfg.Role == RolePNS {
			_ = c.send(&pptp.CCRQ{CallID: call.localID})
		} else {
			_ = c.send(&pptp.CDN{CallID: call.localID, Result: pptp.CDNGeneralError, Error: pptp.ErrorPACError})
		}
	}
	call.fire(SevTimeout)
	c.callDown(call, &CloseError{Err: ErrSetupTimeout})
}

// callMsg handles the call messages of an established connection.
func (c *Conn) callMsg(m pptp.Message) {
	cnt := &c.n.cnt
	role := c.n.cfg.Role
	// §2: OCRQ, ICRP, CCRQ and SLI go from PNS to PAC; OCRP, ICRQ, ICCN,
	// CDN and WEN from PAC to PNS.
	wantRole := RolePNS
	switch m.Type() {
	case pptp.MsgOCRQ, pptp.MsgICRP, pptp.MsgCCRQ, pptp.MsgSLI:
		wantRole = RolePAC
	}
	if role != wantRole {
		cnt.wrongRole.Add(1)
		c.errorf("%v received by a %v", m.Type(), role)
		return
	}
	switch m := m.(type) {
	case *pptp.OCRQ:
		p := CallParams{PhoneNumber: m.PhoneNumber, SubAddress: m.SubAddress, MinBPS: m.MinBPS,
			MaxBPS: m.MaxBPS, BearerType: m.BearerType, FramingType: m.FramingType}
		c.rxRequest(true, m.CallID, m.CallSerial, m.RecvWindow, m.ProcessingDelay, p)
	case *pptp.ICRQ:
		p := CallParams{DialedNumber: m.DialedNumber, DialingNumber: m.DialingNumber,
			SubAddress: m.SubAddress, BearerType: m.BearerType, PhysicalChannelID: m.PhysicalChannelID}
		c.rxRequest(false, m.CallID, m.CallSerial, 0, 0, p)
	case *pptp.OCRP:
		call := c.ownCall(m.PeerCallID, true)
		if call == nil {
			return
		}
		c.rxReply(call, m.CallID, m.RecvWindow, m.ProcessingDelay, m.ConnectSpeed,
			m.Result == pptp.OCRPConnected,
			&CloseError{Msg: pptp.MsgOCRP, Result: uint8(m.Result), Code: m.Error, Cause: m.Cause, Remote: true})
	case *pptp.ICRP:
		call := c.ownCall(m.PeerCallID, false)
		if call == nil {
			return
		}
		c.rxReply(call, m.CallID, m.RecvWindow, m.ProcessingDelay, 0, m.Result == pptp.ICRPConnect,
			&CloseError{Msg: pptp.MsgICRP, Result: uint8(m.Result), Code: m.Error, Remote: true})
	case *pptp.ICCN:
		call := c.ownCall(m.PeerCallID, false)
		if call == nil {
			return
		}
		if call.state != CallWaitConnect {
			cnt.outOfState.Add(1)
			return
		}
		// §2.11: the PAC's window and delay come with the ICCN.
		call.peerWindow, call.peerDelay, call.connectSpeed = m.RecvWindow, m.ProcessingDelay, m.ConnectSpeed
		call.fire(SevRxICCN)
		c.callUp(call)
	case *pptp.CCRQ:
		// §2.12: the PNS names its own Call ID; the PAC answers with CDN
		// result 4. A CCRQ for no live call is dropped.
		call := c.byPeer[m.CallID]
		if call == nil {
			cnt.unknownCall.Add(1)
			return
		}
		_ = c.send(&pptp.CDN{CallID: call.localID, Result: pptp.CDNRequest})
		call.fire(SevRxCCRQ)
		c.callDown(call, &CloseError{Msg: pptp.MsgCCRQ, Remote: true})
	case *pptp.CDN:
		// §2.13: the PAC names its own Call ID. A CDN for an unknown
		// call is ignored.
		call := c.byPeer[m.CallID]
		if call == nil {
			cnt.unknownCall.Add(1)
			return
		}
		call.fire(SevRxCDN)
		c.callDown(call, &CloseError{Msg: pptp.MsgCDN, Result: uint8(m.Result), Code: m.Error, Cause: m.Cause, Remote: true})
	case *pptp.WEN:
		call := c.calls[m.PeerCallID]
		if call == nil {
			cnt.unknownCall.Add(1)
			return
		}
		if f := c.n.cfg.OnWEN; f != nil {
			w := *m
			c.after = append(c.after, func() { f(call, w) })
		}
	case *pptp.SLI:
		call := c.calls[m.PeerCallID]
		if call == nil {
			cnt.unknownCall.Add(1)
			return
		}
		call.sendACCM, call.recvACCM = m.SendACCM, m.RecvACCM
		if f := c.n.cfg.OnSLI; f != nil {
			s := *m
			c.after = append(c.after, func() { f(call, s) })
		}
	default:
		cnt.outOfState.Add(1)
	}
}

// ownCall finds the call a reply names by our call ID.
func (c *Conn) ownCall(id uint16, outgoing bool) *Call {
	call := c.calls[id]
	if call == nil {
		c.n.cnt.unknownCall.Add(1)
		return nil
	}
	if call.outgoing != outgoing {
		c.n.cnt.outOfState.Add(1)
		return nil
	}
	return call
}

// rxRequest handles an OCRQ (PAC) or ICRQ (PNS): the call is offered to
// the owner, or refused for lack of resources (§2.16 error 4).
func (c *Conn) rxRequest(outgoing bool, peerID, serial, window, delay uint16, p CallParams) {
	refuse := func(code pptp.ErrorCode) {
		if outgoing {
			_ = c.send(&pptp.OCRP{PeerCallID: peerID, Result: pptp.OCRPGeneralError, Error: code})
		} else {
			_ = c.send(&pptp.ICRP{PeerCallID: peerID, Result: pptp.ICRPGeneralError, Error: code})
		}
	}
	if old := c.byPeer[peerID]; old != nil {
		// A second request with a live call's ID: §2.16 error 5.
		c.n.cnt.outOfState.Add(1)
		refuse(pptp.ErrorBadCallID)
		return
	}
	call := &Call{c: c, outgoing: outgoing, up: make(chan struct{}), done: make(chan struct{}),
		peerID: peerID, serial: serial, peerWindow: window, peerDelay: delay, params: p,
		created: c.now, since: c.now}
	if len(c.calls) >= c.n.cfg.MaxCallsPerConn {
		c.n.cnt.callLimit.Add(1)
		refuse(pptp.ErrorNoResource)
		return
	}
	id := c.n.allocCallID(call)
	if id == 0 {
		c.n.cnt.callLimit.Add(1)
		refuse(pptp.ErrorNoResource)
		return
	}
	call.localID = id
	c.calls[id] = call
	c.byPeer[peerID] = call
	call.fire(SevRxRequest)
	call.offered = true
	c.setPending(call, c.now.Add(c.n.cfg.CallTimeout))
	if f := c.n.cfg.OnCall; f != nil {
		c.after = append(c.after, func() { f(call) })
	} else {
		call.Accept()
	}
}

// rxReply handles an OCRP (PNS) or ICRP (PAC) for a call we requested.
func (c *Conn) rxReply(call *Call, peerID, window, delay uint16, speed uint32, ok bool, refusal *CloseError) {
	switch call.state {
	case CallWaitReply:
	case CallWaitDisconnect:
		// Our CCRQ crossed the reply: learn the peer's ID so that its
		// CDN finds the call.
		if ok {
			call.peerID = peerID
			c.byPeer[peerID] = call
		}
		return
	default:
		c.n.cnt.outOfState.Add(1)
		return
	}
	if !ok {
		call.fire(SevRxReplyBad)
		c.callDown(call, refusal)
		return
	}
	call.peerID, call.peerWindow, call.peerDelay = peerID, window, delay
	if old := c.byPeer[peerID]; old != nil && old != call {
		c.n.cnt.outOfState.Add(1)
	}
	c.byPeer[peerID] = call
	if !call.outgoing {
		// §3.2.2.1: the PAC answers a positive ICRP with ICCN.
		cfg := &c.n.cfg
		call.connectSpeed = call.params.ConnectSpeed
		framing := call.params.FramingType
		if framing == 0 {
			framing = pptp.FramingAsync
		}
		_ = c.send(&pptp.ICCN{PeerCallID: peerID, ConnectSpeed: call.connectSpeed, RecvWindow: cfg.RecvWindow,
			ProcessingDelay: cfg.ProcessingDelay, FramingType: framing})
	} else {
		call.connectSpeed = speed
	}
	call.fire(SevRxReplyOK)
	c.callUp(call)
}
