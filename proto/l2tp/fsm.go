package l2tp

import "strconv"

// TunnelState is a state of the control connection FSM, RFC 2661 §7.2.
// The Proc-* states are the transient "processing" states IOS shows in
// `debug vpdn l2x-events`; the RFC's idle, wait-ctl-reply, wait-ctl-conn
// and established map to Idle, Wt-SCCRP, Wt-SCCCN and established.
type TunnelState uint8

const (
	TunIdle         TunnelState = iota // §7.2 idle
	TunWaitCtlReply                    // §7.2 wait-ctl-reply: SCCRQ sent
	TunProcSCCRQ                       // SCCRQ received, being checked
	TunProcSCCRP                       // SCCRP received, being checked
	TunWaitCtlConn                     // §7.2 wait-ctl-conn: SCCRP sent
	TunProcSCCCN                       // SCCCN received, being checked
	TunEstablished                     // §7.2 established
	TunClosing                         // StopCCN sent or received: §5.7 hold
	TunDead                            // gone
)

var tunStateNames = [...]string{"Idle", "Wt-SCCRP", "Proc-SCCRQ", "Proc-SCCRP", "Wt-SCCCN", "Proc-SCCCN",
	"established", "Shutting-down", "Dead"}

func (s TunnelState) String() string {
	if int(s) < len(tunStateNames) {
		return tunStateNames[s]
	}
	return "TunnelState(" + strconv.Itoa(int(s)) + ")"
}

// Short is the state column of `show l2tun tunnel` / `show vpdn`.
func (s TunnelState) Short() string {
	switch s {
	case TunEstablished:
		return "est"
	case TunClosing, TunDead:
		return "down"
	case TunIdle:
		return "idle"
	}
	return "wait-ctl"
}

// TunnelEvent is an input of the control connection FSM.
type TunnelEvent uint8

const (
	TevOpen        TunnelEvent = iota // local open request (a Dial)
	TevRxSCCRQ                        // SCCRQ received
	TevSCCRQOK                        // SCCRQ acceptable
	TevSCCRQBad                       // SCCRQ refused
	TevRxSCCRP                        // SCCRP received
	TevSCCRPOK                        // SCCRP acceptable
	TevSCCRPBad                       // SCCRP refused
	TevRxSCCCN                        // SCCCN received
	TevSCCCNOK                        // SCCCN acceptable
	TevSCCCNBad                       // SCCCN refused
	TevRxStopCCN                      // StopCCN received
	TevClose                          // local close, protocol error or setup timeout
	TevRetransFail                    // reliable delivery gave up (§5.8)
	TevHoldDone                       // §5.7 hold expired
)

var tunEventNames = [...]string{"Open", "Rx-SCCRQ", "SCCRQ-OK", "SCCRQ-Bad", "Rx-SCCRP", "SCCRP-OK",
	"SCCRP-Bad", "Rx-SCCCN", "SCCCN-OK", "SCCCN-Bad", "Rx-StopCCN", "Close", "Retransmit-Fail", "Hold-Done"}

func (e TunnelEvent) String() string {
	if int(e) < len(tunEventNames) {
		return tunEventNames[e]
	}
	return "TunnelEvent(" + strconv.Itoa(int(e)) + ")"
}

type tunTransition struct {
	from TunnelState
	ev   TunnelEvent
	to   TunnelState
}

// anyTun marks a transition valid from every live state.
const anyTun TunnelState = 0xff

// tunnelFSM is the §7.2 table (RFC 2661 "Control Connection States").
var tunnelFSM = []tunTransition{
	// §7.2 idle: "Local open request" -> send SCCRQ -> wait-ctl-reply.
	{TunIdle, TevOpen, TunWaitCtlReply},
	// §7.2 idle: "Receive SCCRQ, acceptable" -> send SCCRP -> wait-ctl-conn;
	// "not acceptable" -> send StopCCN, clean up.
	{TunIdle, TevRxSCCRQ, TunProcSCCRQ},
	{TunProcSCCRQ, TevSCCRQOK, TunWaitCtlConn},
	{TunProcSCCRQ, TevSCCRQBad, TunClosing},
	// §7.2 wait-ctl-reply: "Receive SCCRP, acceptable" -> send SCCCN ->
	// established; "not acceptable" -> send StopCCN, clean up.
	{TunWaitCtlReply, TevRxSCCRP, TunProcSCCRP},
	{TunProcSCCRP, TevSCCRPOK, TunEstablished},
	{TunProcSCCRP, TevSCCRPBad, TunClosing},
	// §7.2 wait-ctl-conn: "Receive SCCCN, acceptable" -> established;
	// "not acceptable" -> send StopCCN, clean up.
	{TunWaitCtlConn, TevRxSCCCN, TunProcSCCCN},
	{TunProcSCCCN, TevSCCCNOK, TunEstablished},
	{TunProcSCCCN, TevSCCCNBad, TunClosing},
	// §7.2 any state: "Receive StopCCN" -> clean up; "Local close
	// request" -> send StopCCN, clean up. §5.7: hold the state for a full
	// retransmission cycle either way.
	{anyTun, TevRxStopCCN, TunClosing},
	{anyTun, TevClose, TunClosing},
	{TunClosing, TevRxStopCCN, TunClosing},
	// §5.8: retransmissions exhausted -> the tunnel is cleared.
	{anyTun, TevRetransFail, TunDead},
	{TunClosing, TevRetransFail, TunDead},
	{TunClosing, TevHoldDone, TunDead},
}

func tunNext(from TunnelState, ev TunnelEvent) (TunnelState, bool) {
	for _, tr := range tunnelFSM {
		if tr.ev != ev {
			continue
		}
		if tr.from == from || (tr.from == anyTun && from != TunClosing && from != TunDead) {
			return tr.to, true
		}
	}
	return from, false
}

// SessionState is a state of the call FSMs, RFC 2661 §7.3 (incoming
// calls) and §7.4 (outgoing calls), named as IOS logs them.
type SessionState uint8

const (
	SnIdle        SessionState = iota // §7.3/§7.4 idle
	SnWaitTunnel                      // §7.3 wait-tunnel: waiting for the control connection
	SnWaitICRP                        // §7.3 LAC wait-reply: ICRQ sent
	SnProcICRQ                        // LNS: ICRQ received, being checked
	SnWaitTxICRP                      // LNS: waiting for the owner's accept
	SnWaitICCN                        // §7.3 LNS wait-connect: ICRP sent
	SnProcICCN                        // LNS: ICCN received, being checked
	SnWaitOCRP                        // §7.4 LNS wait-reply: OCRQ sent
	SnWaitOCCN                        // §7.4 LNS wait-connect: OCRP received
	SnProcOCRQ                        // LAC: OCRQ received
	SnWaitTxOCRP                      // LAC: waiting for the owner to place the call
	SnEstablished                     // §7.3/§7.4 established
	SnDead                            // CDN sent or received
)

var snStateNames = [...]string{"Idle", "Wt-Tunnel", "Wt-ICRP", "Proc-ICRQ", "Wt-Tx-ICRP", "Wt-Rx-ICCN",
	"Proc-ICCN", "Wt-OCRP", "Wt-OCCN", "Proc-OCRQ", "Wt-Tx-OCRP", "established", "Dead"}

func (s SessionState) String() string {
	if int(s) < len(snStateNames) {
		return snStateNames[s]
	}
	return "SessionState(" + strconv.Itoa(int(s)) + ")"
}

// Short is the state column of `show vpdn`.
func (s SessionState) Short() string {
	switch s {
	case SnEstablished:
		return "est"
	case SnDead:
		return "down"
	case SnIdle:
		return "idle"
	}
	return "wait"
}

// SessionEvent is an input of the call FSMs.
type SessionEvent uint8

const (
	SevOpen       SessionEvent = iota // local open (Dial): ICRQ or OCRQ to send
	SevTunnelUp                       // control connection established
	SevRxICRQ                         // ICRQ received
	SevICRQOK                         // ICRQ acceptable
	SevLocalCont                      // owner accepted the call
	SevRxICRP                         // ICRP received (LAC)
	SevRxICCN                         // ICCN received (LNS)
	SevICCNOK                         // ICCN acceptable
	SevRxOCRQ                         // OCRQ received (LAC)
	SevRxOCRP                         // OCRP received (LNS)
	SevRxOCCN                         // OCCN received (LNS)
	SevRxCDN                          // CDN received
	SevClose                          // local close, reject, error or timeout: send CDN
	SevTunnelDown                     // the tunnel went away
)

var snEventNames = [...]string{"Open", "Tunnel-Up", "Rx-ICRQ", "ICRQ-OK", "Local-Cont", "Rx-ICRP", "Rx-ICCN",
	"ICCN-OK", "Rx-OCRQ", "Rx-OCRP", "Rx-OCCN", "Rx-CDN", "Close", "Tunnel-Down"}

func (e SessionEvent) String() string {
	if int(e) < len(snEventNames) {
		return snEventNames[e]
	}
	return "SessionEvent(" + strconv.Itoa(int(e)) + ")"
}

type snTransition struct {
	from SessionState
	ev   SessionEvent
	to   SessionState
}

const anySn SessionState = 0xff

// sessionFSM is the §7.3 (incoming call) and §7.4 (outgoing call) table.
var sessionFSM = []snTransition{
	// §7.3 LAC incoming: idle -(bearer ring / Dial)-> wait-tunnel ->
	// (tunnel up) send ICRQ -> wait-reply -(ICRP)-> send ICCN -> established.
	{SnIdle, SevOpen, SnWaitTunnel},
	{SnWaitTunnel, SevTunnelUp, SnWaitICRP},
	{SnWaitICRP, SevRxICRP, SnEstablished},
	// §7.3 LNS incoming: idle -(ICRQ acceptable)-> send ICRP -> wait-connect
	// -(ICCN acceptable)-> established.
	{SnIdle, SevRxICRQ, SnProcICRQ},
	{SnProcICRQ, SevICRQOK, SnWaitTxICRP},
	{SnWaitTxICRP, SevLocalCont, SnWaitICCN},
	{SnWaitICCN, SevRxICCN, SnProcICCN},
	{SnProcICCN, SevICCNOK, SnEstablished},
	// §7.4 LNS outgoing: idle -(open)-> wait-tunnel -> send OCRQ ->
	// wait-reply -(OCRP)-> wait-connect -(OCCN)-> established.
	{SnWaitOCRP, SevRxOCRP, SnWaitOCCN},
	{SnWaitOCCN, SevRxOCCN, SnEstablished},
	// §7.4 LAC outgoing: idle -(OCRQ acceptable)-> send OCRP -> wait-cs-
	// answer -(call placed)-> send OCCN -> established.
	{SnIdle, SevRxOCRQ, SnProcOCRQ},
	{SnProcOCRQ, SevICRQOK, SnWaitTxOCRP},
	{SnWaitTxOCRP, SevLocalCont, SnEstablished},
	// §7.3/§7.4 any state: CDN received -> clean up; local close -> send
	// CDN, clean up; tunnel gone -> clean up.
	{anySn, SevRxCDN, SnDead},
	{anySn, SevClose, SnDead},
	{anySn, SevTunnelDown, SnDead},
}

func snNext(from SessionState, ev SessionEvent, outgoing bool) (SessionState, bool) {
	if from == SnWaitTunnel && ev == SevTunnelUp && outgoing {
		return SnWaitOCRP, true // §7.4: the LNS sends OCRQ once the tunnel is up
	}
	for _, tr := range sessionFSM {
		if tr.ev == ev && (tr.from == from || (tr.from == anySn && from != SnDead)) {
			return tr.to, true
		}
	}
	return from, false
}
