package pptp

import "strconv"

// Role is what this node is on its control connections (RFC 2637 §1.1):
// the PPTP Access Concentrator or the PPTP Network Server. A concentrator
// that answers Windows and pptp-linux clients is the PAC: those clients
// act as PNS and place their call with an Outgoing-Call-Request, which
// the PAC answers (pptpd's behaviour). A PNS takes incoming calls (ICRQ)
// from a PAC and asks it to place outgoing ones (OCRQ).
type Role uint8

const (
	RolePAC Role = iota + 1 // PPTP Access Concentrator
	RolePNS                 // PPTP Network Server
)

func (r Role) String() string {
	switch r {
	case RolePAC:
		return "PAC"
	case RolePNS:
		return "PNS"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// ConnState is a state of the control connection FSM, RFC 2637 §3.1.1
// (originator) and §3.1.2 (receiver); the names are the RFC's.
type ConnState uint8

const (
	ConnIdle          ConnState = iota // §3.1.2 idle: TCP open, waiting for SCCRQ
	ConnWaitCtlReply                   // §3.1.1 wait_ctl_reply: SCCRQ sent
	ConnEstablished                    // §3.1.1/§3.1.2 established
	ConnWaitStopReply                  // §3.1.1 wait_stop_reply: StopCCRQ sent
	ConnDead                           // cleaned up, TCP closed
)

var connStateNames = [...]string{"idle", "wait_ctl_reply", "established", "wait_stop_reply", "dead"}

func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "ConnState(" + strconv.Itoa(int(s)) + ")"
}

// Short is the state column of `show vpdn tunnel`: IOS prints "estabd"
// for an established PPTP connection (documents 001 and 004).
func (s ConnState) Short() string {
	switch s {
	case ConnEstablished:
		return "estabd"
	case ConnDead, ConnWaitStopReply:
		return "down"
	}
	return "wait-ctl"
}

// ConnEvent is an input of the control connection FSM.
type ConnEvent uint8

const (
	CevOpen          ConnEvent = iota // TCP open on the originating side: send SCCRQ
	CevSCCRQOK                        // SCCRQ received and acceptable: SCCRP sent
	CevSCCRQBad                       // SCCRQ refused: SCCRP with an error sent
	CevSCCRPOK                        // SCCRP received with success and a usable version
	CevSCCRPBad                       // SCCRP received with an error result
	CevSCCRPVersion                   // SCCRP with a version we cannot use: StopCCRQ sent
	CevCollisionLost                  // §3.1.3: the peer's SCCRQ won the collision
	CevRxStopCCRQ                     // StopCCRQ received: StopCCRP sent
	CevRxStopCCRP                     // StopCCRP received
	CevClose                          // local close: StopCCRQ sent when established
	CevTimeout                        // SCCRQ, SCCRP, StopCCRP or Echo-Reply not in time
	CevBroken                         // framing lost, stream error or EOF
)

var connEventNames = [...]string{"Open", "SCCRQ-OK", "SCCRQ-Bad", "SCCRP-OK", "SCCRP-Bad", "SCCRP-Version",
	"Collision-Lost", "Rx-StopCCRQ", "Rx-StopCCRP", "Close", "Timeout", "Broken"}

func (e ConnEvent) String() string {
	if int(e) < len(connEventNames) {
		return connEventNames[e]
	}
	return "ConnEvent(" + strconv.Itoa(int(e)) + ")"
}

type connTransition struct {
	from ConnState
	ev   ConnEvent
	to   ConnState
}

// anyConn marks a transition valid from every live state.
const anyConn ConnState = 0xff

// connFSM is the table of §3.1.1 and §3.1.2.
var connFSM = []connTransition{
	// §3.1.1 idle: TCP open -> send SCCRQ -> wait_ctl_reply.
	{ConnIdle, CevOpen, ConnWaitCtlReply},
	// §3.1.2 idle: SCCRQ with a supported version -> send SCCRP ->
	// established; an unsupported one -> SCCRP with an error, close TCP.
	{ConnIdle, CevSCCRQOK, ConnEstablished},
	{ConnIdle, CevSCCRQBad, ConnDead},
	// §3.1.1 wait_ctl_reply: SCCRP with a compatible version ->
	// established; an incompatible one -> StopCCRQ -> wait_stop_reply
	// (the RFC's cleanup_wait); an error result -> close. A collision
	// lost to the peer's SCCRQ closes this connection.
	{ConnWaitCtlReply, CevSCCRPOK, ConnEstablished},
	{ConnWaitCtlReply, CevSCCRPBad, ConnDead},
	{ConnWaitCtlReply, CevSCCRPVersion, ConnWaitStopReply},
	{ConnWaitCtlReply, CevCollisionLost, ConnDead},
	// §3.1.1/§3.1.2 established: local close -> StopCCRQ ->
	// wait_stop_reply; StopCCRQ received -> StopCCRP -> close TCP.
	{ConnEstablished, CevClose, ConnWaitStopReply},
	{ConnEstablished, CevRxStopCCRQ, ConnDead},
	// §3.1.1 wait_stop_reply: StopCCRP -> close TCP; a StopCCRQ from the
	// peer at the same time is answered and ends it too.
	{ConnWaitStopReply, CevRxStopCCRP, ConnDead},
	{ConnWaitStopReply, CevRxStopCCRQ, ConnDead},
	// Before establishment there is nothing to stop: a local close only
	// closes TCP.
	{ConnIdle, CevClose, ConnDead},
	{ConnWaitCtlReply, CevClose, ConnDead},
	{ConnWaitStopReply, CevClose, ConnDead},
	// Timers and a broken stream end any live state.
	{anyConn, CevTimeout, ConnDead},
	{anyConn, CevBroken, ConnDead},
}

func connNext(from ConnState, ev ConnEvent) (ConnState, bool) {
	for _, tr := range connFSM {
		if tr.ev == ev && (tr.from == from || (tr.from == anyConn && from != ConnDead)) {
			return tr.to, true
		}
	}
	return from, false
}

// CallState is a state of the call FSMs, RFC 2637 §3.2.2 (incoming
// calls) and §3.2.3 (outgoing calls), in both roles.
type CallState uint8

const (
	CallIdle           CallState = iota // §3.2 idle
	CallWaitReply                       // §3.2.2.1 PAC / §3.2.3.2 PNS wait_reply: ICRQ or OCRQ sent
	CallWaitAnswer                      // request received, offered to the owner (§3.2.3.1 wait_cs_ans)
	CallWaitConnect                     // §3.2.2.2 PNS wait_connect: ICRP sent, waiting for ICCN
	CallEstablished                     // §3.2 established
	CallWaitDisconnect                  // §3.2.2.2/§3.2.3.2 PNS wait_disconnect: CCRQ sent
	CallDead                            // cleared
)

var callStateNames = [...]string{"idle", "wait_reply", "wait_answer", "wait_connect", "established",
	"wait_disconnect", "dead"}

func (s CallState) String() string {
	if int(s) < len(callStateNames) {
		return callStateNames[s]
	}
	return "CallState(" + strconv.Itoa(int(s)) + ")"
}

// Short is the state column of `show vpdn session`: "estabd" for an
// established call, as IOS prints it.
func (s CallState) Short() string {
	switch s {
	case CallEstablished:
		return "estabd"
	case CallDead, CallWaitDisconnect:
		return "down"
	case CallIdle:
		return "idle"
	}
	return "wait"
}

// CallEvent is an input of the call FSMs.
type CallEvent uint8

const (
	SevOpen       CallEvent = iota // local call request: OCRQ (PNS) or ICRQ (PAC) sent
	SevRxRequest                   // OCRQ (PAC) or ICRQ (PNS) received, offered to the owner
	SevAcceptOCRQ                  // owner accepted an OCRQ: OCRP sent (PAC)
	SevAcceptICRQ                  // owner accepted an ICRQ: ICRP sent (PNS)
	SevReject                      // owner refused: OCRP or ICRP with an error sent
	SevRxReplyOK                   // OCRP or ICRP with success received (ICCN sent by a PAC)
	SevRxReplyBad                  // OCRP or ICRP with an error received
	SevRxICCN                      // ICCN received (PNS)
	SevRxCCRQ                      // CCRQ received (PAC): CDN sent
	SevRxCDN                       // CDN received (PNS)
	SevClose                       // local close by a PAC: CDN sent
	SevClear                       // local close by a PNS: CCRQ sent
	SevTimeout                     // no reply, answer, ICCN or CDN in time
	SevConnDown                    // the control connection went away
)

var callEventNames = [...]string{"Open", "Rx-Request", "Accept-OCRQ", "Accept-ICRQ", "Reject", "Rx-Reply-OK",
	"Rx-Reply-Bad", "Rx-ICCN", "Rx-CCRQ", "Rx-CDN", "Close", "Clear", "Timeout", "Conn-Down"}

func (e CallEvent) String() string {
	if int(e) < len(callEventNames) {
		return callEventNames[e]
	}
	return "CallEvent(" + strconv.Itoa(int(e)) + ")"
}

type callTransition struct {
	from CallState
	ev   CallEvent
	to   CallState
}

const anyCall CallState = 0xff

// callFSM is the table of §3.2.2 and §3.2.3.
var callFSM = []callTransition{
	// §3.2.2.1 PAC incoming and §3.2.3.2 PNS outgoing: idle -> send
	// ICRQ/OCRQ -> wait_reply -> (ICRP/OCRP ok; a PAC sends ICCN) ->
	// established; a reply with an error -> idle (dead).
	{CallIdle, SevOpen, CallWaitReply},
	{CallWaitReply, SevRxReplyOK, CallEstablished},
	{CallWaitReply, SevRxReplyBad, CallDead},
	// §3.2.3.1 PAC outgoing: OCRQ -> wait_cs_ans -> OCRP -> established.
	// §3.2.2.2 PNS incoming: ICRQ -> ICRP -> wait_connect -> ICCN ->
	// established. Either refusal sends the reply with an error.
	{CallIdle, SevRxRequest, CallWaitAnswer},
	{CallWaitAnswer, SevAcceptOCRQ, CallEstablished},
	{CallWaitAnswer, SevAcceptICRQ, CallWaitConnect},
	{CallWaitAnswer, SevReject, CallDead},
	{CallWaitConnect, SevRxICCN, CallEstablished},
	// PNS clearing (§3.2.2.2, §3.2.3.2): CCRQ -> wait_disconnect -> CDN.
	{CallWaitReply, SevClear, CallWaitDisconnect},
	{CallWaitConnect, SevClear, CallWaitDisconnect},
	{CallEstablished, SevClear, CallWaitDisconnect},
	// §2.12 a CCRQ clears a call "in any state"; the PAC answers with
	// CDN. §2.13 a CDN ends the call in any state. A PAC's own close
	// sends CDN. Timers and the loss of the control connection end any
	// live call.
	{anyCall, SevRxCCRQ, CallDead},
	{anyCall, SevRxCDN, CallDead},
	{anyCall, SevClose, CallDead},
	{anyCall, SevTimeout, CallDead},
	{anyCall, SevConnDown, CallDead},
}

func callNext(from CallState, ev CallEvent) (CallState, bool) {
	for _, tr := range callFSM {
		if tr.ev == ev && (tr.from == from || (tr.from == anyCall && from != CallDead)) {
			return tr.to, true
		}
	}
	return from, false
}
