package ppp

import (
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// State is a state of the option negotiation automaton, RFC 1661 §4.2.
type State uint8

const (
	Initial State = iota
	Starting
	Closed
	Stopped
	Closing
	Stopping
	ReqSent
	AckRcvd
	AckSent
	Opened
	numStates
)

var stateNames = [numStates]string{"Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "REQsent", "ACKrcvd", "ACKsent", "Open"}

// String returns the state as IOS prints it in `debug ppp negotiation`.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "State?"
}

// event is an event of RFC 1661 §4.3.
type event uint8

const (
	evUp    event = iota // lower layer is Up
	evDown               // lower layer is Down
	evOpen               // administrative Open
	evClose              // administrative Close
	evTOp                // Timeout with counter > 0
	evTOm                // Timeout with counter expired
	evRCRp               // Receive-Configure-Request (Good)
	evRCRm               // Receive-Configure-Request (Bad)
	evRCA                // Receive-Configure-Ack
	evRCN                // Receive-Configure-Nak/Rej
	evRTR                // Receive-Terminate-Request
	evRTA                // Receive-Terminate-Ack
	evRUC                // Receive-Unknown-Code
	evRXJp               // Receive-Code-Reject (permitted) or Receive-Protocol-Reject
	evRXJm               // Receive-Code-Reject (catastrophic) or Receive-Protocol-Reject
	evRXR                // Receive-Echo-Request, Echo-Reply or Discard-Request
	numEvents
)

var eventNames = [numEvents]string{"Up", "Down", "Open", "Close", "TO+", "TO-", "RCR+", "RCR-", "RCA", "RCN", "RTR", "RTA", "RUC", "RXJ+", "RXJ-", "RXR"}

func (e event) String() string { return eventNames[e] }

// action is an action of RFC 1661 §4.4.
type action uint8

const (
	tlu action = iota + 1 // This-Layer-Up
	tld                   // This-Layer-Down
	tls                   // This-Layer-Started
	tlf                   // This-Layer-Finished
	irc                   // Initialize-Restart-Count (Max-Configure before scr, Max-Terminate before str)
	zrc                   // Zero-Restart-Count
	scr                   // Send-Configure-Request
	sca                   // Send-Configure-Ack
	scn                   // Send-Configure-Nak/Rej
	str                   // Send-Terminate-Request
	sta                   // Send-Terminate-Ack
	scj                   // Send-Code-Reject
	ser                   // Send-Echo-Reply
)

var actionNames = [...]string{"", "tlu", "tld", "tls", "tlf", "irc", "zrc", "scr", "sca", "scn", "str", "sta", "scj", "ser"}

func (a action) String() string { return actionNames[a] }

// cell is one entry of the state transition table: the actions, in order,
// and the next state. An illegal cell ("-" in the RFC) changes nothing.
type cell struct {
	legal bool
	next  State
	acts  []action
}

func to(s State, acts ...action) cell { return cell{legal: true, next: s, acts: acts} }

var illegal = cell{}

// transitions is the state transition table of RFC 1661 §4.1, row by event,
// column by state. The "r" (restart) and "p" (passive) options and the
// crossed-connection "x" marks of the RFC are not implemented: a plain Open
// in Stopped, Closing or Stopping keeps the state, as in their absence.
var transitions = [numEvents][numStates]cell{
	//           Initial         Starting                Closed           Stopped                   Closing         Stopping        Req-Sent             Ack-Rcvd             Ack-Sent             Opened
	evUp:    {to(Closed), to(ReqSent, irc, scr), illegal, illegal, illegal, illegal, illegal, illegal, illegal, illegal},
	evDown:  {illegal, illegal, to(Initial), to(Starting, tls), to(Initial), to(Starting), to(Starting), to(Starting), to(Starting), to(Starting, tld)},
	evOpen:  {to(Starting, tls), to(Starting), to(ReqSent, irc, scr), to(Stopped), to(Stopping), to(Stopping), to(ReqSent), to(AckRcvd), to(AckSent), to(Opened)},
	evClose: {to(Initial), to(Initial, tlf), to(Closed), to(Closed), to(Closing), to(Closing), to(Closing, irc, str), to(Closing, irc, str), to(Closing, irc, str), to(Closing, tld, irc, str)},
	evTOp:   {illegal, illegal, illegal, illegal, to(Closing, str), to(Stopping, str), to(ReqSent, scr), to(ReqSent, scr), to(AckSent, scr), illegal},
	evTOm:   {illegal, illegal, illegal, illegal, to(Closed, tlf), to(Stopped, tlf), to(Stopped, tlf), to(Stopped, tlf), to(Stopped, tlf), illegal},
	evRCRp:  {illegal, illegal, to(Closed, sta), to(AckSent, irc, scr, sca), to(Closing), to(Stopping), to(AckSent, sca), to(Opened, sca, tlu), to(AckSent, sca), to(AckSent, tld, scr, sca)},
	evRCRm:  {illegal, illegal, to(Closed, sta), to(ReqSent, irc, scr, scn), to(Closing), to(Stopping), to(ReqSent, scn), to(AckRcvd, scn), to(ReqSent, scn), to(ReqSent, tld, scr, scn)},
	evRCA:   {illegal, illegal, to(Closed, sta), to(Stopped, sta), to(Closing), to(Stopping), to(AckRcvd, irc), to(ReqSent, scr), to(Opened, irc, tlu), to(ReqSent, tld, scr)},
	evRCN:   {illegal, illegal, to(Closed, sta), to(Stopped, sta), to(Closing), to(Stopping), to(ReqSent, irc, scr), to(ReqSent, scr), to(AckSent, irc, scr), to(ReqSent, tld, scr)},
	evRTR:   {illegal, illegal, to(Closed, sta), to(Stopped, sta), to(Closing, sta), to(Stopping, sta), to(ReqSent, sta), to(ReqSent, sta), to(ReqSent, sta), to(Stopping, tld, zrc, sta)},
	evRTA:   {illegal, illegal, to(Closed), to(Stopped), to(Closed, tlf), to(Stopped, tlf), to(ReqSent), to(ReqSent), to(AckSent), to(ReqSent, tld, scr)},
	evRUC:   {illegal, illegal, to(Closed, scj), to(Stopped, scj), to(Closing, scj), to(Stopping, scj), to(ReqSent, scj), to(AckRcvd, scj), to(AckSent, scj), to(Opened, scj)},
	evRXJp:  {illegal, illegal, to(Closed), to(Stopped), to(Closing), to(Stopping), to(ReqSent), to(ReqSent), to(AckSent), to(Opened)},
	evRXJm:  {illegal, illegal, to(Closed, tlf), to(Stopped, tlf), to(Closed, tlf), to(Stopped, tlf), to(Stopped, tlf), to(Stopped, tlf), to(Stopped, tlf), to(Stopping, tld, irc, str)},
	evRXR:   {illegal, illegal, to(Closed), to(Stopped), to(Closing), to(Stopping), to(ReqSent), to(AckRcvd), to(AckSent), to(Opened, ser)},
}

// timerRuns reports whether the Restart timer runs in s (RFC 1661 §4.2:
// the timer runs in Closing, Stopping, Req-Sent, Ack-Rcvd and Ack-Sent).
func timerRuns(s State) bool {
	switch s {
	case Closing, Stopping, ReqSent, AckRcvd, AckSent:
		return true
	}
	return false
}

// verdict is the judgement of one option of a peer's Configure-Request.
type verdict uint8

const (
	vAck verdict = iota
	vNak
	vRej
)

// judgement collects the verdicts on a peer's Configure-Request.
type judgement struct {
	nak     []byte // suggested options (Configure-Nak)
	nakOrig []byte // the peer's original options that were Nak'd
	rej     []byte // rejected options (Configure-Reject)
}

// ack keeps the option as the peer sent it.
func (j *judgement) ack(wire.Option) {}

// nakWith records a suggestion; orig is the peer's option (nil when the
// suggestion solicits an option the peer did not send, RFC 1661 §5.3).
func (j *judgement) nakWith(orig wire.Option, suggestion []byte) {
	j.nak = append(j.nak, suggestion...)
	j.nakOrig = append(j.nakOrig, orig.Raw...)
}

func (j *judgement) reject(o wire.Option) { j.rej = append(j.rej, o.Raw...) }

// layer is what a control protocol (LCP, IPCP, IPv6CP, CCP) plugs into the
// automaton: the option handler and the layer actions.
type layer interface {
	// resetOptions starts a negotiation afresh (at irc before scr).
	resetOptions()
	// appendRequest appends the options of our Configure-Request.
	appendRequest(dst []byte) []byte
	// judge examines the options of a peer's Configure-Request.
	judge(opts []byte, j *judgement)
	// gotAck, gotNak and gotReject apply a reply to our request. gotAck is
	// called only when the options match what we sent.
	gotAck(opts []byte)
	gotNak(opts []byte)
	gotReject(opts []byte)
	// Layer actions of RFC 1661 §4.4.
	up()
	down()
	started()
	finished()
	// code handles codes beyond 1-7; it returns the event the packet
	// raises, or evRUC when the code is unknown to the protocol.
	code(p wire.Packet) (event, bool)
	optionName(t uint8) string
}

// fsm is one instance of the automaton for one protocol on one link. All
// methods run on the link owner's goroutine.
type fsm struct {
	l     *Link
	proto wire.Protocol
	name  string // "LCP", "IPCP", ...
	layer layer
	state State
	// next is the state the transition being run leads to, for a layer
	// action that depends on it (CCP's tld: renegotiating or closing).
	next State

	restart  int // Restart counter, RFC 1661 §4.6
	timer    ltimer
	reqID    uint8 // identifier of our last Configure-Request
	termID   uint8 // identifier of our last Terminate-Request
	nextID   uint8
	lastReq  []byte // options of our last Configure-Request
	failures int    // Naks/Rejects sent since the last Ack we sent
	rxFails  int    // Naks/Rejects received since the last Ack we got
	reason   string // why the layer is closing, for Down events
	cause    Cause  // the same, typed
	trace    func(action)
	epoch    uint64 // counts events, to detect nested ones

	// The packet being handled, for sca/scn/sta/scj/ser.
	rx    wire.Packet
	reply []byte // response to rx built by judge (Ack, Nak or Reject)
	rcode wire.Code
}

func newFSM(l *Link, proto wire.Protocol, ly layer) *fsm {
	f := &fsm{l: l, proto: proto, name: proto.String(), layer: ly}
	f.timer.init(l, f.timeout)
	return f
}

// Administrative and lower-layer events.
func (f *fsm) up()   { f.event(evUp) }
func (f *fsm) down() { f.event(evDown) }
func (f *fsm) open() { f.event(evOpen) }
func (f *fsm) close(c Cause, reason string) {
	f.setReason(c, reason)
	f.event(evClose)
}

// passive puts an idle automaton in Stopped, where it waits for the peer's
// Configure-Request instead of sending its own (RFC 1661 §4.2, Stopped:
// "the passive option"). CCP uses it when MPPE is off or passive.
func (f *fsm) passive() {
	if f.state == Initial || f.state == Starting || f.state == Closed {
		f.setState(Stopped)
	}
}

func (f *fsm) timeout() {
	if f.restart > 0 {
		f.event(evTOp)
	} else {
		switch f.state {
		case ReqSent, AckRcvd, AckSent:
			f.setReason(CauseNegotiation, f.name+" negotiation timed out (Max-Configure)")
		}
		f.event(evTOm)
	}
}

// event runs one transition of the table.
func (f *fsm) event(e event) {
	c := transitions[e][f.state]
	if !c.legal {
		f.l.debugNeg("%s: illegal event %s in state %s", f.name, e, f.state)
		return
	}
	from := f.state
	f.epoch++
	epoch := f.epoch
	f.next = c.next
	for i, a := range c.acts {
		if f.trace != nil {
			f.trace(a)
		}
		switch a {
		case irc:
			if i+1 < len(c.acts) && c.acts[i+1] == str {
				f.restart = f.l.cfg.MaxTerminate
			} else {
				f.restart = f.l.cfg.MaxConfigure
				// A fresh negotiation (not the reaction to a Nak) starts
				// from the configured options.
				if from == Starting || from == Closed || from == Stopped {
					f.layer.resetOptions()
				}
			}
		case zrc:
			f.restart = 0
			f.timer.start(f.l.cfg.Restart)
		case scr:
			f.sendConfReq(from)
		case sca, scn:
			f.sendReply(from)
		case str:
			f.termID = f.newID()
			f.send(from, wire.TermReq, f.termID, nil)
			f.restart--
			f.timer.start(f.l.cfg.Restart)
		case sta:
			f.send(from, wire.TermAck, f.rx.ID, nil)
		case scj:
			f.sendCodeReject(from)
		case ser:
			if f.rx.Code == wire.EchoReq {
				f.l.lcpEchoReply(f.rx)
			}
		case tlu:
			f.setState(c.next) // the layer sees itself Opened
			f.layer.up()
		case tld:
			f.layer.down()
		case tls:
			f.layer.started()
		case tlf:
			f.setState(c.next)
			f.layer.finished()
		}
		if f.l.dead || f.epoch != epoch {
			// The link finished, or an action ran a nested event on this
			// automaton (a layer action closing the link): that event's
			// outcome stands.
			return
		}
	}
	f.setState(c.next)
	if !timerRuns(f.state) {
		f.timer.stop()
	}
}

// renegotiate starts a new negotiation from Opened, as this end's
// Configure-Request does (RFC 1661 §4.1: in Opened, a Configure-Request
// restarts the negotiation; the peer answers it as RCR in Opened, tld, scr,
// sca/scn). The transition is the table's for RCN in Opened with irc: tld,
// irc, scr, to Req-Sent. The options are not reset: the layer has set
// what the new request asks. Outside Opened it does nothing.
func (f *fsm) renegotiate() {
	if f.state != Opened {
		return
	}
	f.epoch++
	epoch := f.epoch
	f.next = ReqSent
	f.layer.down()
	if f.l.dead || f.epoch != epoch {
		return
	}
	f.restart = f.l.cfg.MaxConfigure
	f.rxFails, f.failures = 0, 0
	f.sendConfReq(Opened)
	f.setState(ReqSent)
}

func (f *fsm) setState(s State) {
	if s == f.state {
		return
	}
	f.state = s
	if f.proto == wire.ProtoCCP {
		f.l.debugCCP("%s: State is %s", f.name, s)
	} else {
		f.l.debugNeg("%s: State is %s", f.name, s)
	}
}

func (f *fsm) newID() uint8 {
	f.nextID++
	return f.nextID
}

func (f *fsm) sendConfReq(from State) {
	f.reqID = f.newID()
	f.lastReq = f.layer.appendRequest(f.lastReq[:0])
	f.send(from, wire.ConfReq, f.reqID, f.lastReq)
	f.restart--
	f.timer.start(f.l.cfg.Restart)
}

func (f *fsm) sendReply(from State) {
	f.send(from, f.rcode, f.rx.ID, f.reply)
}

func (f *fsm) sendCodeReject(from State) {
	// The rejected packet, truncated to fit the peer's MRU (RFC 1661 §5.6).
	b := f.l.scratch[:0]
	b = append(b, byte(f.rx.Code), f.rx.ID, 0, 0)
	b = append(b, f.rx.Data...)
	b = wire.FinishPacket(b, 0)
	if max := f.l.peerMRU - wire.PacketHeaderLen; len(b) > max {
		b = b[:max]
	}
	f.l.scratch = b
	f.send(from, wire.CodeRej, f.newID(), b)
}

func (f *fsm) send(from State, code wire.Code, id uint8, data []byte) {
	f.l.sendControl(f.proto, from, code, id, data, f.layer.optionName)
}

// input handles a packet of this protocol (RFC 1661 §5).
func (f *fsm) input(p wire.Packet) {
	f.rx = p
	switch p.Code {
	case wire.ConfReq:
		f.rcvConfReq(p)
	case wire.ConfAck:
		if p.ID != f.reqID || !bytesEqual(p.Data, f.lastReq) {
			f.l.debugNeg("%s: ignoring CONFACK id %d (expected id %d or other options)", f.name, p.ID, f.reqID)
			return
		}
		if f.state == ReqSent || f.state == AckSent || f.state == AckRcvd || f.state == Opened {
			f.rxFails = 0
			f.layer.gotAck(p.Data)
		}
		f.event(evRCA)
	case wire.ConfNak, wire.ConfRej:
		if p.ID != f.reqID {
			f.l.debugNeg("%s: ignoring %s id %d (expected %d)", f.name, p.Code, p.ID, f.reqID)
			return
		}
		if err := wire.ValidateOptions(p.Data); err != nil {
			f.l.debugNeg("%s: bad %s: %v", f.name, p.Code, err)
			return
		}
		if f.state == ReqSent || f.state == AckSent || f.state == AckRcvd || f.state == Opened {
			f.rxFails++
			if f.rxFails > 2*f.l.cfg.MaxFailure {
				f.notConverging("peer keeps refusing our options")
				return
			}
			if p.Code == wire.ConfNak {
				f.layer.gotNak(p.Data)
			} else {
				f.layer.gotReject(p.Data)
			}
			if f.l.dead || f.state == Closing || f.state == Initial || f.state == Starting {
				// The layer gave up (CCP refusing MPPE), or closed the
				// link with it.
				return
			}
		}
		f.event(evRCN)
	case wire.TermReq:
		switch {
		case f.state == Opened:
			f.setReason(CausePeerTerminated, "Peer terminated "+f.name)
		case f.proto == wire.ProtoLCP && f.l.lcpo.refusedAuth:
			// The peer gives up on LCP after we refused the method it
			// wants to authenticate us with: no method in common.
			f.setReason(CauseAuthFailed, "Peer terminated LCP: no common authentication protocol")
		}
		f.event(evRTR)
	case wire.TermAck:
		f.event(evRTA)
	case wire.CodeRej:
		c, err := wire.ParseCodeReject(p.Data)
		if err != nil {
			return
		}
		// Rejecting a code of RFC 1661 §5 is catastrophic; an extension
		// code (Identification, Time-Remaining, CCP Reset) is not.
		if c >= wire.ConfReq && c <= wire.CodeRej {
			f.reason, f.cause = f.name+" peer rejected code "+c.String(), CauseNegotiation
			f.event(evRXJm)
		} else {
			f.event(evRXJp)
		}
	default:
		e, ok := f.layer.code(p)
		if !ok {
			return
		}
		f.event(e)
	}
}

func (f *fsm) rcvConfReq(p wire.Packet) {
	switch f.state {
	case Closed, Closing, Stopping:
		// No judgement needed: the table sends Terminate-Ack or ignores.
		f.event(evRCRp)
		return
	case Initial, Starting:
		return // illegal: the lower layer is not up
	}
	if err := wire.ValidateOptions(p.Data); err != nil {
		f.l.debugNeg("%s: dropping malformed CONFREQ id %d: %v", f.name, p.ID, err)
		return
	}
	var j judgement
	j.nak, j.nakOrig, j.rej = f.l.nakBuf[:0], f.l.nakOrig[:0], f.l.rejBuf[:0]
	f.layer.judge(p.Data, &j)
	f.l.nakBuf, f.l.nakOrig, f.l.rejBuf = j.nak, j.nakOrig, j.rej
	if f.l.dead {
		return
	}
	switch {
	case len(j.rej) == 0 && len(j.nak) == 0:
		f.failures = 0
		f.rcode, f.reply = wire.ConfAck, p.Data
		f.event(evRCRp)
		return
	case len(j.rej) == 0 && f.failures < f.l.cfg.MaxFailure:
		f.rcode, f.reply = wire.ConfNak, j.nak
	case len(j.rej) == 0:
		// RFC 1661 §4.6 Max-Failure: Naks turn into Rejects of the
		// options the peer sent; solicited options are dropped.
		if len(j.nakOrig) == 0 {
			f.failures = 0
			f.rcode, f.reply = wire.ConfAck, p.Data
			f.event(evRCRp)
			return
		}
		f.rcode, f.reply = wire.ConfRej, j.nakOrig
	default:
		f.rcode, f.reply = wire.ConfRej, j.rej
	}
	f.failures++
	if f.failures > 2*f.l.cfg.MaxFailure {
		f.notConverging("peer insists on options we refuse")
		return
	}
	f.event(evRCRm)
}

// notConverging closes the layer when a Nak/Reject loop outlasts
// Max-Failure (RFC 1661 §4.6): first Naks turn into Rejects; when even
// those do not end it, the layer gives up.
func (f *fsm) notConverging(why string) {
	f.reason, f.cause = f.name+" negotiation did not converge: "+why, CauseNegotiation
	f.l.debugNeg("%s: %s", f.name, f.reason)
	f.event(evClose)
}

// protocolRejected handles an LCP Protocol-Reject of this protocol (RFC
// 1661 §5.7): RXJ-, the layer finishes.
func (f *fsm) protocolRejected() {
	f.setReason(CauseNegotiation, f.name+" rejected by peer")
	f.event(evRXJm)
}

func (f *fsm) isOpen() bool { return f.state == Opened }

func bytesEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ltimer is a one-shot timer whose expiry runs on the link owner's
// goroutine. A generation count makes a stopped timer's late expiry
// harmless.
type ltimer struct {
	l   *Link
	f   func()
	t   clock.Timer
	gen uint64
}

func (t *ltimer) init(l *Link, f func()) { t.l, t.f = l, f }

func (t *ltimer) start(d time.Duration) {
	t.stop()
	g := t.gen
	l := t.l
	t.t = l.cfg.Clock.AfterFunc(d, func() {
		l.cfg.Post(func() {
			if t.gen != g || l.dead {
				return
			}
			t.t = nil
			t.gen++
			t.f()
		})
	})
}

func (t *ltimer) stop() {
	if t.t != nil {
		t.t.Stop()
		t.t = nil
	}
	t.gen++
}

func (t *ltimer) running() bool { return t.t != nil }
