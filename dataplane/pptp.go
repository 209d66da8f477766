package dataplane

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/pptp"
)

// PPTP data messages, RFC 2637 §4: a PPP frame behind the enhanced GRE
// header (IP protocol 47) of the peer's Call ID, every one with a Sequence
// Number, and with an Acknowledgment Number of the peer's data when one is
// due (§4.2: piggy-backed on data, else alone after a short delay).
//
//	receive: Decode (our Call ID) ─▶ session, peer check ─▶ acceptPPTP:
//	         the ack updates the send side (flow numbers, RTT); the Seq must
//	         come after the last one accepted, else out-of-order; numbers it
//	         skipped are loss (the flow alarm); an ack is now due: the ack
//	         timer is armed if it is not ─▶ payload stage
//	transmit: Put takes the next Seq and, when Len said 16 octets, the ack
//	         of the highest Seq received; the timed Seq's ack overdue (the
//	         acknowledgement timeout) or the peer's window full raise the
//	         flow alarm; ack timer ─▶ an ack-only packet if no data packet
//	         carried the ack meanwhile
//
// Several clients behind one NAT share an address but not a Call ID: the
// key (our Call ID) and the port's peer check (the session's address)
// tell them apart.

// PPTPKey is the session key of our Call ID.
func PPTPKey(callID uint16) Key { return MakeKey(KindPPTP, uint64(callID)) }

// PPTPDecoder demultiplexes the datagrams of a raw IP protocol 47 bind:
// every one is data (PPTP's control connection is TCP), for the session of
// the Call ID in its key. GRE of another version or protocol type is
// dropped as not-pptp.
type PPTPDecoder struct{}

// Decode implements Decoder.
func (x PPTPDecoder) Decode(b []byte) Decoded {
	var d Decoded
	x.decode(b, &d)
	return d
}

func (PPTPDecoder) decode(b []byte, d *Decoded) {
	h, payload, err := pptp.ParseGRE(b)
	if err != nil {
		switch err {
		case pptp.ErrGREShort:
			d.Drop = DropShort
		case pptp.ErrGREVersion, pptp.ErrGREProtocol:
			d.Drop = DropNotPPTP
		default:
			d.Drop = DropBadHeader
		}
		return
	}
	d.Key, d.Payload = PPTPKey(h.CallID), payload
	if h.HasSeq {
		d.Seq = h.Seq
		d.Flags |= HasSeq
	}
	if h.HasAck {
		d.Ack = h.Ack
		d.Flags |= HasAck
	}
}

// PPTPEncap is the encapsulation of one PPTP call toward the peer's Call
// ID, with the call's sliding window state (§4.2). It is Ordered: sequence
// numbers leave in the order they were taken.
type PPTPEncap struct {
	peerCall uint16
	st       *pptpState
}

// pptpState is what a call's data path keeps between packets.
type pptpState struct {
	seq Sequencer // tx: our next Seq; rx: the peer's last Seq accepted; mu: the send lock

	// ackSent is the last Acknowledgment Number sent, plus 1<<32 once one
	// was; an ack is due when the last Seq accepted is not it.
	ackSent atomic.Uint64
	// peerAck is the peer's highest Acknowledgment Number of our Seq, plus
	// 1<<32 once one came.
	peerAck atomic.Uint64
	window  atomic.Uint32 // the peer's Packet Recv. Window Size, 0: unknown

	// clock is the plane's, set by Plane.Add; nil: no RTT sampling.
	clock clock.Clock
	// One Seq at a time is timed from its send to its ack (written by the
	// sender while sampling is false, read by the receiver once it is
	// true).
	sampling  atomic.Bool
	sampleSeq uint32
	sampleAt  time.Time
	srtt      atomic.Int64 // smoothed RTT, ns; 0: no sample yet
	rttvar    atomic.Int64 // its mean deviation, ns
	// sampleLate: the timed Seq's ack is overdue (set once per sample by
	// the sender, cleared by the ack).
	sampleLate atomic.Bool
	staticRTT  atomic.Int64 // pptp flow-control static-rtt, ns; 0: measured

	// The receive side's losses: numbers of the peer's never accepted.
	// spanStart and spanLost are the loss span of the alarm (lossSpan);
	// lastLoss the number accepted after the last gap.
	lost      atomic.Uint64
	spanStart atomic.Uint32
	spanLost  atomic.Uint32
	lastLoss  atomic.Uint32

	alarmBits atomic.Uint32 // the alarm's causes now (alarmWindow, ...); 0: clear
	onAlarm   atomic.Pointer[func()]

	// The ack timer: at most one pending per call.
	timerArmed atomic.Bool
	fire       func()
	ackBuf     [pptp.MaxGREHeaderLen]byte // guarded by seq.mu

	acksPiggy, acksAlone, acksRecv, overWindow, alarms, ackTimeouts atomic.Uint64
}

// The causes of the flow-control alarm (document 001: "congestion or lost
// packets"). The alarm is raised when the first comes and clears when the
// last is gone; each raising is an episode (PPTPFlow.Alarms).
const (
	// alarmWindow: more of our packets unacked than the peer's window
	// (RFC 2637 §4.2); clears when an ack brings them within it.
	alarmWindow uint32 = 1 << iota
	// alarmAckTimeout: the timed packet's ack did not come within the
	// acknowledgement timeout (RFC 2637 Appendix A, from the RTT or
	// static-rtt); clears when an ack moves forward.
	alarmAckTimeout
	// alarmLoss: the peer's sequence numbers skipped lossAlarmLost or
	// more within lossSpan numbers (lost or reordered packets, which §4.2
	// drops alike); clears once lossSpan numbers arrive without a gap.
	alarmLoss
)

// lossSpan and lossAlarmLost are the loss trigger: 2 numbers missing out
// of 128 (about 1.5 %) or more. A single loss now and then does not
// raise it: stateful MPPE recovers from it with one CCP Reset-Request
// (RFC 3078 §8); loss that keeps coming makes every one of them cost a
// round trip of dropped packets, which is what stateless mode avoids.
const (
	lossSpan      = 128
	lossAlarmLost = 2
)

// The acknowledgement timeout, RFC 2637 Appendix A: ATO = SRTT + 4·DEV
// (the RFC's CHI = 4, as RFC 6298's RTO), within [minATO, maxATO]; before
// the first sample, initialATO. With static-rtt the RTT is fixed and has
// no deviation: the timeout is the static RTT itself.
const (
	initialATO = time.Second
	minATO     = 200 * time.Millisecond
	maxATO     = 10 * time.Second
)

// ato is the acknowledgement timeout now.
func (st *pptpState) ato() time.Duration {
	if r := st.staticRTT.Load(); r > 0 {
		return time.Duration(r)
	}
	srtt := time.Duration(st.srtt.Load())
	if srtt == 0 {
		return initialATO
	}
	return min(max(srtt+4*time.Duration(st.rttvar.Load()), minATO), maxATO)
}

// raise adds cause c to the alarm; the callback runs when the alarm was
// clear.
func (st *pptpState) raise(c uint32) {
	if st.alarmBits.Or(c) != 0 {
		return
	}
	st.alarms.Add(1)
	if f := st.onAlarm.Load(); f != nil {
		(*f)()
	}
}

func (st *pptpState) clear(c uint32) {
	if st.alarmBits.Load()&c != 0 {
		st.alarmBits.And(^c)
	}
}

// NewPPTPEncap returns the encapsulation toward the peer's Call ID.
func NewPPTPEncap(peerCallID uint16) *PPTPEncap {
	return &PPTPEncap{peerCall: peerCallID, st: new(pptpState)}
}

// WithPeerCallID returns a copy toward another Call ID of the peer (learnt
// late, as a PAC learns the PNS's from the Outgoing-Call-Reply), sharing
// the window state.
func (e *PPTPEncap) WithPeerCallID(id uint16) *PPTPEncap {
	c := *e
	c.peerCall = id
	return &c
}

// PeerCallID returns the Call ID data is sent to.
func (e *PPTPEncap) PeerCallID() uint16 { return e.peerCall }

// SetPeerWindow records the peer's Packet Recv. Window Size (from its
// Outgoing-Call-Request/Reply or Incoming-Call-Reply/Connected, RFC 2637
// §2.7–§2.10): how many packets we may have sent and not had acked. Data
// is never held back for it (Linux does not either); going beyond it is
// counted and raises the alarm.
func (e *PPTPEncap) SetPeerWindow(w uint16) { e.st.window.Store(uint32(w)) }

// SetStaticRTT is `pptp flow-control static-rtt`: a fixed round-trip
// time in place of the measured one for the acknowledgement timeout
// (RFC 2637 Appendix A); 0 returns to the measured RTT.
func (e *PPTPEncap) SetStaticRTT(d time.Duration) { e.st.staticRTT.Store(int64(max(d, 0))) }

// SetAlarm sets f (nil: none) to be called when the flow-control alarm
// goes off (document 001: congestion or lost packets, on which stateful
// MPPE falls back to stateless): the packets sent and not acked exceed
// the peer's window, an ack is overdue (the acknowledgement timeout), or
// the peer's sequence numbers show loss (lossSpan). It is called once per
// episode, on a sending goroutine with the session's send lock held or on
// a receiving one: it must be short and must not send on the session
// (post the event to the owner).
func (e *PPTPEncap) SetAlarm(f func()) {
	if f == nil {
		e.st.onAlarm.Store(nil)
		return
	}
	e.st.onAlarm.Store(&f)
}

// SendLock implements Ordered.
func (e *PPTPEncap) SendLock() sync.Locker { return &e.st.seq.mu }

// Len implements Encap: 16 octets while an ack is due, else 12.
func (e *PPTPEncap) Len() int {
	if _, due := e.st.ackDue(); due {
		return pptp.MaxGREHeaderLen
	}
	return pptp.MaxGREHeaderLen - 4
}

// Put implements Encap: a header of len(h) octets, 16 with the ack of
// the last Seq accepted, 12 without. Payloads over 65535 octets cannot be
// described by enhanced GRE; the session MTU keeps them out.
func (e *PPTPEncap) Put(h []byte, n int) {
	st := e.st
	seq := st.seq.next(1)
	gh := pptp.GREHeader{PayloadLen: uint16(n), CallID: e.peerCall, HasSeq: true, Seq: seq}
	if len(h) >= pptp.MaxGREHeaderLen {
		// Len said an ack was due: one was received, so there is one to
		// give, the latest (perhaps again, harmless, §4.2).
		gh.HasAck = true
		gh.Ack, _ = st.seq.received()
		st.ackSent.Store(1<<32 | uint64(gh.Ack))
		st.acksPiggy.Add(1)
	}
	pptp.AppendGREHeader(h[:0], gh)
	st.sent(seq)
}

// Accept implements Encap: the Seq must come after the last one accepted
// (§4.2: a late packet is dropped, data is never retransmitted); an
// ack-only packet has none and passes. The plane calls acceptPPTP, which
// also takes the ack and arms the ack timer.
func (e *PPTPEncap) Accept(hasSeq bool, seq uint32) bool {
	return !hasSeq || e.st.seq.accept32(seq)
}

// ackDue returns the ack to send, and whether one is due.
func (st *pptpState) ackDue() (uint32, bool) {
	rx, ok := st.seq.received()
	if !ok {
		return 0, false
	}
	a := st.ackSent.Load()
	return rx, a>>32 == 0 || uint32(a) != rx
}

// unacked is how many of our numbers up to last are not acked.
func (st *pptpState) unacked(last uint32) uint32 {
	a := st.peerAck.Load()
	if a>>32 == 0 {
		return last + 1 // numbers start at 0
	}
	if d := int32(last - uint32(a)); d > 0 {
		return uint32(d)
	}
	return 0
}

// sent is the send side's bookkeeping of Seq seq, under the send lock.
func (st *pptpState) sent(seq uint32) {
	if st.clock != nil {
		switch {
		case !st.sampling.Load():
			st.sampleSeq, st.sampleAt = seq, st.clock.Now()
			st.sampleLate.Store(false)
			st.sampling.Store(true)
		case !st.sampleLate.Load() && st.clock.Now().Sub(st.sampleAt) > st.ato():
			// The timed packet's ack is overdue: it or its ack was
			// lost, or the peer is congested (Appendix A). The sample
			// goes on: a later ack covers it (acks are cumulative).
			st.sampleLate.Store(true)
			st.ackTimeouts.Add(1)
			st.raise(alarmAckTimeout)
		}
	}
	if w := st.window.Load(); w != 0 && st.unacked(seq) > w {
		st.overWindow.Add(1)
		st.raise(alarmWindow)
	}
}

// receivedSeq is the receive side's bookkeeping of the peer's Seq seq,
// accepted after gap numbers that never came.
func (st *pptpState) receivedSeq(seq, gap uint32) {
	if gap == 0 {
		if st.alarmBits.Load()&alarmLoss != 0 && seq-st.lastLoss.Load() >= lossSpan {
			st.clear(alarmLoss)
		}
		return
	}
	st.lost.Add(uint64(gap))
	first := seq - gap
	if first-st.spanStart.Load() >= lossSpan {
		st.spanStart.Store(first)
		st.spanLost.Store(gap)
	} else {
		st.spanLost.Add(gap)
	}
	st.lastLoss.Store(seq)
	if st.spanLost.Load() >= lossAlarmLost {
		st.raise(alarmLoss)
	}
}

// acked takes an Acknowledgment Number from the peer.
func (st *pptpState) acked(ack uint32) {
	next := st.seq.tx.Load()
	if next == 0 || pptp.SeqAfter(ack, next-1) {
		return // acks what we never sent
	}
	cur := st.peerAck.Load()
	if cur>>32 != 0 && !pptp.SeqAfter(ack, uint32(cur)) {
		return // old news
	}
	st.peerAck.Store(1<<32 | uint64(ack))
	st.acksRecv.Add(1)
	if st.sampling.Load() && !pptp.SeqAfter(st.sampleSeq, ack) {
		st.rttSample(st.clock.Now().Sub(st.sampleAt))
		st.sampleLate.Store(false)
		st.sampling.Store(false)
	}
	if b := st.alarmBits.Load(); b&alarmAckTimeout != 0 {
		st.clear(alarmAckTimeout)
	}
	if st.alarmBits.Load()&alarmWindow != 0 {
		if w := st.window.Load(); w == 0 || st.unacked(next-1) <= w {
			st.clear(alarmWindow)
		}
	}
}

// rttSample folds one measurement into the estimate, as TCP does (RFC
// 6298 §2, the adaptive timeout RFC 2637 Appendix A suggests).
func (st *pptpState) rttSample(r time.Duration) {
	if r < 0 {
		r = 0
	}
	srtt := time.Duration(st.srtt.Load())
	if srtt == 0 {
		st.srtt.Store(int64(max(r, 1)))
		st.rttvar.Store(int64(r / 2))
		return
	}
	dev := srtt - r
	if dev < 0 {
		dev = -dev
	}
	v := time.Duration(st.rttvar.Load())
	st.rttvar.Store(int64(v + (dev-v)/4))
	st.srtt.Store(int64(max(srtt+(r-srtt)/8, 1)))
}

// PPTPFlow are the window numbers of a PPTP call (RFC 2637 §4.2), for
// show and for the flow-control alarm.
type PPTPFlow struct {
	NextSeq    uint32 // our next Sequence Number
	Unacked    uint32 // sent and not acked by the peer
	PeerWindow uint16 // the peer's Packet Recv. Window Size (0: unknown)
	// RTT is the smoothed round-trip time from our data to its ack, RTTVar
	// its mean deviation; 0 before the first sample. StaticRTT is
	// static-rtt's (0: none). AckTimeout is the acknowledgement timeout
	// from them (Appendix A).
	RTT, RTTVar, StaticRTT, AckTimeout time.Duration
	// PeerAck is the peer's last Acknowledgment Number (valid with
	// PeerAcked).
	PeerAck   uint32
	PeerAcked bool
	// LastReceived is the peer's last Seq accepted (valid with Received).
	LastReceived uint32
	Received     bool
	// AcksPiggybacked and AcksAlone count the acks we sent on data and in
	// ack-only packets; AcksReceived the peer's acks that moved forward.
	AcksPiggybacked, AcksAlone, AcksReceived uint64
	// OverWindow counts packets sent beyond the peer's window,
	// AckTimeouts the acks overdue, Lost the peer's numbers skipped;
	// Alarms the episodes of the alarm (SetAlarm).
	OverWindow, AckTimeouts, Lost, Alarms uint64
	Alarm                                 bool // the alarm is on now
	// AlarmCauses names what holds the alarm now: "window", "ack-timeout",
	// "loss", joined by commas; "" when clear.
	AlarmCauses string
}

// alarmCauses names the causes in bits.
func alarmCauses(bits uint32) string {
	switch bits {
	case 0:
		return ""
	case alarmWindow:
		return "window"
	case alarmAckTimeout:
		return "ack-timeout"
	case alarmLoss:
		return "loss"
	}
	var out []string
	for _, c := range []struct {
		bit  uint32
		name string
	}{{alarmWindow, "window"}, {alarmAckTimeout, "ack-timeout"}, {alarmLoss, "loss"}} {
		if bits&c.bit != 0 {
			out = append(out, c.name)
		}
	}
	return strings.Join(out, ",")
}

// Flow returns the call's window numbers.
func (e *PPTPEncap) Flow() PPTPFlow {
	st := e.st
	next := st.seq.tx.Load()
	f := PPTPFlow{NextSeq: next, PeerWindow: uint16(st.window.Load()),
		RTT: time.Duration(st.srtt.Load()), RTTVar: time.Duration(st.rttvar.Load()),
		AcksPiggybacked: st.acksPiggy.Load(), AcksAlone: st.acksAlone.Load(), AcksReceived: st.acksRecv.Load(),
		StaticRTT: time.Duration(st.staticRTT.Load()), AckTimeout: st.ato(),
		OverWindow: st.overWindow.Load(), AckTimeouts: st.ackTimeouts.Load(), Lost: st.lost.Load(),
		Alarms: st.alarms.Load()}
	bits := st.alarmBits.Load()
	f.Alarm, f.AlarmCauses = bits != 0, alarmCauses(bits)
	if a := st.peerAck.Load(); a>>32 != 0 {
		f.PeerAck, f.PeerAcked = uint32(a), true
	}
	if next != 0 {
		f.Unacked = st.unacked(next - 1)
	}
	f.LastReceived, f.Received = st.seq.received()
	return f
}

// acceptPPTP is the receive-side window of a PPTP data message for s: it
// reports whether d's payload goes on to the payload stage.
func (p *Plane) acceptPPTP(s *Session, e *PPTPEncap, d *Decoded) bool {
	st := e.st
	if d.Flags&HasAck != 0 {
		st.acked(d.Ack)
	}
	if d.Flags&HasSeq == 0 {
		return false // ack-only (the decoder refuses a payload without Seq)
	}
	ok, gap := st.seq.accept32Gap(d.Seq)
	if !ok {
		s.seqDrops.Add(1)
		p.drop(DropOutOfOrder)
		return false
	}
	st.receivedSeq(d.Seq, gap)
	if !st.timerArmed.Swap(true) {
		if st.fire == nil {
			st.fire = func() { p.pptpAckTimer(s, st) }
		}
		p.clock.AfterFunc(p.ackDelay, st.fire)
	}
	return len(d.Payload) > 0
}

// pptpAckTimer sends an ack-only packet (§4.2: a GRE header with A and
// neither S nor payload) if no data packet carried the ack since the timer
// was armed.
func (p *Plane) pptpAckTimer(s *Session, st *pptpState) {
	st.timerArmed.Store(false)
	e, ok := s.Encap().(*PPTPEncap)
	if !ok || e.st != st || p.Lookup(s.Key) != s {
		return
	}
	st.seq.mu.Lock()
	defer st.seq.mu.Unlock()
	ack, due := st.ackDue()
	if !due {
		return
	}
	b := pptp.AppendGREHeader(st.ackBuf[:0], pptp.GREHeader{CallID: e.peerCall, HasAck: true, Ack: ack})
	if err := s.Bind.WriteTo(b, s.Peer); err != nil {
		p.drop(DropUnderlayWrite)
		return
	}
	st.ackSent.Store(1<<32 | uint64(ack))
	st.acksAlone.Add(1)
}
