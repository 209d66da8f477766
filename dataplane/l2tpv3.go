package dataplane

import (
	"sync"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// L2TPv3 data messages, RFC 3931 §4.1: the peer's 32-bit Session ID, the
// cookie the peer chose, the L2-Specific Sublayer when the session has one
// (the default one of §4.6, carrying the sequence number), and the
// pseudowire's frame (Ethernet, RFC 4719; PPP).
//
// Receive: the bind's decoder (L2TPv3Decoder over IP, L2TPv2Decoder over
// UDP, where both versions share port 1701) names the session by our
// Session ID; after the lookup the session's L2TPv3Encap strips and checks
// its cookie and sublayer (a wrong cookie is a bad-cookie drop, counted on
// the session too), then the sequence check and the payload stage run as
// for any carrier. Send: L2TPv3Encap.Put writes the header in the
// headroom. Sessions set up by a control connection (RFC 3931 §3, part 2)
// install the same Session and Encap as manual ones do.

// L2TPv3Key is the session key of our Session ID.
func L2TPv3Key(session uint32) Key { return MakeKey(KindL2TPv3, uint64(session)) }

// L2TPv3Decoder demultiplexes the datagrams of a raw IP protocol 115 bind
// (§4.1.1): Session ID 0 is the control connection, the rest is data.
type L2TPv3Decoder struct{}

// Decode implements Decoder.
func (x L2TPv3Decoder) Decode(b []byte) Decoded {
	var d Decoded
	x.decode(b, &d)
	return d
}

func (L2TPv3Decoder) decode(b []byte, d *Decoded) {
	id, control, err := l2tp.V3Classify(b, false)
	switch {
	case err != nil:
		d.Drop = DropShort
	case control:
		d.Flags = Control
	default:
		d.Key, d.Payload = L2TPv3Key(id), b[4:]
	}
}

// decodeV3UDP is the L2TPv3 branch of L2TPv2Decoder: a data message of
// version 3 over UDP (§4.1.2.1).
func decodeV3UDP(b []byte, d *Decoded) {
	id, control, err := l2tp.V3Classify(b, true)
	switch {
	case err != nil:
		d.Drop = DropBadHeader
		if len(b) < 8 {
			d.Drop = DropShort
		}
	case control:
		d.Flags = Control
	default:
		d.Key, d.Payload = L2TPv3Key(id), b[8:]
	}
}

// L2TPv3Encap is the encapsulation of one L2TPv3 session: the peer's
// Session ID and the cookie it expects (RemoteCookie), the cookie we expect
// (LocalCookie), the sublayer and sequencing.
type L2TPv3Encap struct {
	udp           bool
	remoteSession uint32
	local, remote l2tp.Cookie
	l2ss          bool
	seqTx, seqRx  bool
	hl            int
	seq           *Sequencer
}

// L2TPv3Params configure an L2TPv3Encap.
type L2TPv3Params struct {
	// UDP: over UDP (§4.1.2) rather than IP protocol 115 (§4.1.1).
	UDP bool
	// RemoteSession is the peer's Session ID, written in every message.
	RemoteSession uint32
	// LocalCookie is what the peer must send us; RemoteCookie what we
	// send it (§4.1: each end chooses the cookie it receives).
	LocalCookie, RemoteCookie l2tp.Cookie
	// L2SS: the default L2-Specific Sublayer (§4.6) is on the wire.
	L2SS bool
	// SeqTx sets the S bit and numbers what we send; SeqRx drops what
	// arrives out of order (§4.6.1). Both need L2SS.
	SeqTx, SeqRx bool
}

// NewL2TPv3Encap returns the encapsulation of p.
func NewL2TPv3Encap(p L2TPv3Params) *L2TPv3Encap {
	if p.SeqTx || p.SeqRx {
		p.L2SS = true
	}
	return &L2TPv3Encap{udp: p.UDP, remoteSession: p.RemoteSession, local: p.LocalCookie, remote: p.RemoteCookie,
		l2ss: p.L2SS, seqTx: p.SeqTx, seqRx: p.SeqRx, seq: new(Sequencer),
		hl: l2tp.V3DataHeaderLen(p.UDP, p.RemoteCookie.Len(), p.L2SS)}
}

// Params returns what the encapsulation was made of.
func (e *L2TPv3Encap) Params() L2TPv3Params {
	return L2TPv3Params{UDP: e.udp, RemoteSession: e.remoteSession, LocalCookie: e.local, RemoteCookie: e.remote,
		L2SS: e.l2ss, SeqTx: e.seqTx, SeqRx: e.seqRx}
}

// SendLock implements Ordered: numbered messages leave in order.
func (e *L2TPv3Encap) SendLock() sync.Locker {
	if e.seqTx {
		return &e.seq.mu
	}
	return nil
}

// Len implements Encap.
func (e *L2TPv3Encap) Len() int { return e.hl }

// Put implements Encap.
func (e *L2TPv3Encap) Put(h []byte, n int) {
	var ns uint32
	if e.seqTx {
		ns = e.seq.next(1)
	}
	l2tp.AppendV3DataHeader(h[:0], e.udp, e.remoteSession, e.remote, e.l2ss, e.seqTx, ns)
}

// Accept implements Encap: with receive sequencing on, a message whose
// 24-bit number is not after the last accepted one is dropped (§4.6.1).
func (e *L2TPv3Encap) Accept(hasSeq bool, seq uint32) bool {
	if !e.seqRx || !hasSeq {
		return true
	}
	return e.seq.accept24(seq)
}

// unwrap strips the cookie and the sublayer from b (what follows the
// Session ID): the payload, its sequence number, or why it is dropped.
func (e *L2TPv3Encap) unwrap(b []byte, d *Decoded) DropReason {
	n := e.local.Len()
	if len(b) < n {
		return DropShort
	}
	if !e.local.Match(b) {
		return DropBadCookie
	}
	b = b[n:]
	if e.l2ss {
		seq, ns, err := l2tp.ParseL2SS(b)
		if err != nil {
			return DropShort
		}
		if seq {
			d.Flags |= HasSeq
			d.Seq = ns
		}
		b = b[l2tp.L2SSLen:]
	}
	d.Payload = b
	return dropNone
}

// accept24 is accept16 in the 24-bit space of L2TPv3's default
// L2-Specific Sublayer (RFC 3931 §4.6.1).
func (q *Sequencer) accept24(ns uint32) bool {
	cur := q.rx.Load()
	if cur>>32 != 0 && l2tp.SeqLess24(ns, uint32(cur)&l2tp.SeqMask24) {
		return false
	}
	q.rx.Store(1<<32 | uint64((ns+1)&l2tp.SeqMask24))
	return true
}
