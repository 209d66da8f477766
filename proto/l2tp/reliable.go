package l2tp

import (
	"errors"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// Reliable delivery of control messages, RFC 2661 §5.8 and Appendix A.
//
// This is a passive component: no goroutine, no clock of its own. The
// tunnel goroutine hands it the time with every call and asks for the next
// deadline. Outgoing messages get consecutive Ns values and wait in a send
// queue until the congestion window (min of CWND and the peer's Receive
// Window Size, Appendix A) has room; sent messages stay queued until a
// received Nr acknowledges them, and are retransmitted with exponential
// back-off (timeout doubling from RetransmitParams.TimeoutMin up to
// TimeoutMax) until Retries transmissions have gone unanswered.
//
// Received messages are delivered in Ns order; those ahead of the expected
// Ns but inside our receive window are held, those behind (duplicates) are
// dropped and acknowledged again at once, as §5.8 requires so a peer whose
// ack was lost stops retransmitting. Acknowledgement is by piggy-backing Nr
// on the next outgoing message, or by a ZLB after AckDelay.

// ErrRetransmit is returned by tick when a message went unacknowledged
// for all its retries (§5.8: the tunnel is then torn down).
var ErrRetransmit = errors.New("l2tp: control message unacknowledged after all retransmissions")

type relConfig struct {
	timeoutMin, timeoutMax time.Duration
	retries                int // transmissions after the first
	ackDelay               time.Duration
	recvWindow             uint16 // ours: how many out-of-order messages we hold
}

type outMsg struct {
	b        []byte
	ns       uint16
	typ      l2tp.MsgType
	tries    int // transmissions so far
	maxTries int
	timeout  time.Duration
	due      time.Time
}

// relStats are the counters show commands read.
type relStats struct {
	Tx, Rx, Retransmits, ZLBTx, ZLBRx, Duplicates, OutOfOrder, BeyondWindow uint64
}

// relWire is how reliable delivery touches a header other than
// L2TPv2's: L2TPv3 (RFC 3931 §3.2.1) has a 32-bit Control Connection ID
// where v2 has two 16-bit IDs, Ns and Nr at another offset, and, with
// control message authentication (§4.3), a Message Digest that covers
// Ns and Nr and so must be recomputed on every transmission. nil is
// L2TPv2, whose calls stay direct.
type relWire struct {
	// patch writes Ns and Nr into an encoded message (and re-seals it).
	patch func(b []byte, ns, nr uint16)
	// ack appends an acknowledgement that carries no message: a ZLB,
	// or with authentication an ACK message (§3.3, type 20), which has
	// room for a digest.
	ack func(b []byte, ns, nr uint16) []byte
}

type reliable struct {
	cfg relConfig
	// send transmits one datagram (the tunnel's peer address applies).
	send func(b []byte)
	// wire is the v3 header access; nil for v2.
	wire *relWire

	ns, nr     uint16 // next Ns to assign; next Ns expected from the peer
	peerWindow int    // the peer's Receive Window Size AVP, default 4 (§5.8)

	// Appendix A slow start and congestion avoidance, in messages.
	cwnd, ssthresh int
	caAcks         int // acks counted towards the next CWND increment

	unacked []*outMsg // sent, oldest first; len <= window
	waiting []*outMsg // not yet sent for lack of window

	held map[uint16][]byte // out-of-order messages inside our window

	ackDue time.Time // zero: no ack owed
	stats  relStats
}

func newReliable(cfg relConfig, send func([]byte)) *reliable {
	r := &reliable{cfg: cfg, send: send, nr: 0, cwnd: 1}
	r.setPeerWindow(4)
	return r
}

// setPeerWindow applies the peer's Receive Window Size AVP; absent, §5.8
// says 4. SSTHRESH starts at the peer's window (Appendix A).
func (r *reliable) setPeerWindow(w int) {
	if w <= 0 {
		w = 4
	}
	r.peerWindow = w
	r.ssthresh = w
	r.cwnd = min(max(r.cwnd, 1), w)
}

func (r *reliable) window() int { return min(r.cwnd, r.peerWindow) }

// queue assigns the next Ns to an encoded control message (its header
// written with any Ns/Nr; both are patched here) and sends it when the
// window allows. tries bounds its transmissions.
func (r *reliable) queue(now time.Time, b []byte, typ l2tp.MsgType, tries int) {
	m := &outMsg{b: b, ns: r.ns, typ: typ, maxTries: tries, timeout: r.cfg.timeoutMin}
	r.ns++
	r.waiting = append(r.waiting, m)
	r.pump(now)
}

// pump sends waiting messages while the window has room.
func (r *reliable) pump(now time.Time) {
	for len(r.waiting) > 0 && len(r.unacked) < r.window() {
		m := r.waiting[0]
		r.waiting[0] = nil
		r.waiting = r.waiting[1:]
		r.unacked = append(r.unacked, m)
		r.transmit(now, m)
	}
}

func (r *reliable) transmit(now time.Time, m *outMsg) {
	if r.wire != nil {
		r.wire.patch(m.b, m.ns, r.nr)
	} else {
		l2tp.PatchNsNr(m.b, m.ns, r.nr)
	}
	m.tries++
	m.due = now.Add(m.timeout)
	r.ackDue = time.Time{} // Nr rides on this message
	r.stats.Tx++
	r.send(m.b)
}

// sendZLB acknowledges everything received so far. Its Ns is that of the
// next message to go on the wire (§5.8): the first one still waiting for
// window space if any, not r.ns, which already counts the waiting ones. A
// peer that checks a ZLB's Ns strictly (l2tpns) drops a ZLB from the
// future, and its acknowledgement with it.
func (r *reliable) sendZLB(tunnelID uint16) {
	r.ackDue = time.Time{}
	r.stats.ZLBTx++
	ns := r.ns
	if len(r.waiting) > 0 {
		ns = r.waiting[0].ns
	}
	if r.wire != nil {
		var buf [64]byte
		r.send(r.wire.ack(buf[:0], ns, r.nr))
		return
	}
	var buf [l2tp.ControlHeaderLen]byte
	r.send(l2tp.AppendZLB(buf[:0], tunnelID, ns, r.nr))
}

// recv processes the Ns and Nr of a received control message (from its
// v2 or v3 header). msg is the whole datagram; zlb says it is an
// acknowledgement only (a ZLB, or a v3 ACK). deliver is called for every
// message now in order (msg itself and any held ones after it); it must
// not retain its argument. It reports whether the peer must get an
// immediate ZLB (a duplicate), which the caller sends with sendZLB.
func (r *reliable) recv(now time.Time, ns, nr uint16, msg []byte, zlb bool, deliver func([]byte)) (ackNow bool) {
	r.ack(now, nr)
	if zlb {
		r.stats.ZLBRx++
		return false
	}
	r.stats.Rx++
	switch {
	case ns == r.nr:
		r.nr++
		deliver(msg)
		for len(r.held) > 0 {
			b, ok := r.held[r.nr]
			if !ok {
				break
			}
			delete(r.held, r.nr)
			r.nr++
			deliver(b)
		}
		if r.ackDue.IsZero() {
			r.ackDue = now.Add(r.cfg.ackDelay)
		}
		return false
	case l2tp.SeqLess(ns, r.nr):
		// §5.8: a duplicate is acknowledged again, else the peer keeps
		// retransmitting a message whose ack was lost.
		r.stats.Duplicates++
		return true
	case ns-r.nr < r.cfg.recvWindow:
		r.stats.OutOfOrder++
		if r.held == nil {
			r.held = make(map[uint16][]byte)
		}
		if _, dup := r.held[ns]; !dup {
			r.held[ns] = append([]byte(nil), msg...)
		}
		return false
	default:
		r.stats.BeyondWindow++
		return false
	}
}

// ack drops the sent messages that nr acknowledges and opens the window:
// one CWND step per acknowledged message in slow start, one per CWND acks
// in congestion avoidance (Appendix A).
func (r *reliable) ack(now time.Time, nr uint16) {
	if len(r.unacked) == 0 {
		return
	}
	n := int(nr - r.unacked[0].ns)
	if n <= 0 || n > len(r.unacked) {
		return // old or impossible Nr
	}
	for i := 0; i < n; i++ {
		r.unacked[i] = nil
		if r.cwnd < r.ssthresh {
			r.cwnd++
		} else {
			r.caAcks++
			if r.caAcks >= r.cwnd {
				r.caAcks = 0
				r.cwnd++
			}
		}
	}
	r.cwnd = min(r.cwnd, r.peerWindow)
	r.unacked = r.unacked[n:]
	if len(r.unacked) == 0 {
		r.unacked = nil
	}
	r.pump(now)
}

// idle reports whether nothing is waiting for acknowledgement.
func (r *reliable) idle() bool { return len(r.unacked) == 0 && len(r.waiting) == 0 }

// backlog is the number of control messages waiting for window space.
func (r *reliable) backlog() int { return len(r.waiting) }

// deadline returns when tick must next run; zero if never.
func (r *reliable) deadline() time.Time {
	d := r.ackDue
	for _, m := range r.unacked {
		if d.IsZero() || m.due.Before(d) {
			d = m.due
		}
	}
	return d
}

// tick retransmits what is due and sends an owed ZLB. It returns
// ErrRetransmit when a message has used all its tries.
func (r *reliable) tick(now time.Time, tunnelID uint16) error {
	retransmitted := false
	for _, m := range r.unacked {
		if now.Before(m.due) {
			continue
		}
		if m.tries >= m.maxTries {
			return ErrRetransmit
		}
		if !retransmitted {
			// Appendix A: on a retransmission SSTHRESH becomes half of
			// CWND and CWND drops to 1.
			r.ssthresh = max(r.cwnd/2, 1)
			r.cwnd = 1
			r.caAcks = 0
			retransmitted = true
		}
		m.timeout = min(2*m.timeout, r.cfg.timeoutMax)
		r.stats.Retransmits++
		r.transmit(now, m)
	}
	if !r.ackDue.IsZero() && !now.Before(r.ackDue) {
		r.sendZLB(tunnelID)
	}
	return nil
}

// cycle is the time a message takes to exhaust its retries: the hold
// time of §5.7 after StopCCN.
func (r *reliable) cycle() time.Duration {
	var total time.Duration
	t := r.cfg.timeoutMin
	for i := 0; i <= r.cfg.retries; i++ {
		total += t
		t = min(2*t, r.cfg.timeoutMax)
	}
	return total
}
