package dataplane

import (
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
//	         come after the last one accepted, else out-of-order; an ack is
//	         now due: the ack timer is armed if it is not ─▶ payload stage
//	transmit: Put takes the next Seq and, when Len said 16 octets, the ack
//	         of the highest Seq received; ack timer ─▶ an ack-only packet
//	         if no data packet carried the ack meanwhile
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

	alarmOn atomic.Bool
	onAlarm atomic.Pointer[func()]

	// The ack timer: at most one pending per call.
	timerArmed atomic.Bool
	fire       func()
	ackBuf     [pptp.MaxGREHeaderLen]byte // guarded by seq.mu

	acksPiggy, acksAlone, acksRecv, overWindow, alarms atomic.Uint64
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

// SetAlarm sets f (nil: none) to be called when the packets sent and not
// acked exceed the peer's window: the peer does not keep up or its acks
// are lost (document 001's flow-control alarm, on which stateful MPPE
// falls back to stateless). It is called once per episode, on a sending
// goroutine with the session's send lock held: it must be short and must
// not send on the session (post the event to the owner).
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
	if st.clock != nil && !st.sampling.Load() {
		st.sampleSeq, st.sampleAt = seq, st.clock.Now()
		st.sampling.Store(true)
	}
	if w := st.window.Load(); w != 0 && st.unacked(seq) > w {
		st.overWindow.Add(1)
		if !st.alarmOn.Swap(true) {
			st.alarms.Add(1)
			if f := st.onAlarm.Load(); f != nil {
				(*f)()
			}
		}
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
		st.sampling.Store(false)
	}
	if st.alarmOn.Load() {
		if w := st.window.Load(); w == 0 || st.unacked(next-1) <= w {
			st.alarmOn.Store(false)
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
	// its mean deviation; 0 before the first sample.
	RTT, RTTVar time.Duration
	// LastReceived is the peer's last Seq accepted (valid with Received).
	LastReceived uint32
	Received     bool
	// PeerAck is the peer's highest Acknowledgment Number of our Seq
	// (valid with PeerAcked).
	PeerAck   uint32
	PeerAcked bool
	// AcksPiggybacked and AcksAlone count the acks we sent on data and in
	// ack-only packets; AcksReceived the peer's acks that moved forward.
	AcksPiggybacked, AcksAlone, AcksReceived uint64
	// OverWindow counts packets sent beyond the peer's window; Alarms the
	// episodes of it (SetAlarm).
	OverWindow, Alarms uint64
	Alarm              bool // the alarm is on now
}

// Flow returns the call's window numbers.
func (e *PPTPEncap) Flow() PPTPFlow {
	st := e.st
	next := st.seq.tx.Load()
	f := PPTPFlow{NextSeq: next, PeerWindow: uint16(st.window.Load()),
		RTT: time.Duration(st.srtt.Load()), RTTVar: time.Duration(st.rttvar.Load()),
		AcksPiggybacked: st.acksPiggy.Load(), AcksAlone: st.acksAlone.Load(), AcksReceived: st.acksRecv.Load(),
		OverWindow: st.overWindow.Load(), Alarms: st.alarms.Load(), Alarm: st.alarmOn.Load()}
	if next != 0 {
		f.Unacked = st.unacked(next - 1)
	}
	f.LastReceived, f.Received = st.seq.received()
	if a := st.peerAck.Load(); a>>32 != 0 {
		f.PeerAck, f.PeerAcked = uint32(a), true
	}
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
	if !st.seq.accept32(d.Seq) {
		s.seqDrops.Add(1)
		p.drop(DropOutOfOrder)
		return false
	}
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
