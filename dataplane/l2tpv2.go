package dataplane

import (
	"sync"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// L2TPv2 data messages, RFC 2661 §3.1: a PPP frame behind the L2TP header
// of the peer's tunnel and session IDs, with Ns when sequencing is on.

// L2TPv2Key is the session key of our tunnel and session IDs.
func L2TPv2Key(tunnel, session uint16) Key {
	return MakeKey(KindL2TPv2, uint64(tunnel)<<16|uint64(session))
}

// L2TPv2Decoder demultiplexes the datagrams of an L2TP UDP socket: control
// messages (T bit, either version) go to the control plane, data messages
// to their session: L2TPv2 ones by tunnel and session ID, L2TPv3 ones
// (version 3, RFC 3931 §4.1.2.1) by their 32-bit Session ID.
type L2TPv2Decoder struct{}

// Decode implements Decoder.
func (x L2TPv2Decoder) Decode(b []byte) Decoded {
	var d Decoded
	x.decode(b, &d)
	return d
}

// decode is Decode into d, for the port's path without an interface call
// or a copy of the result.
func (L2TPv2Decoder) decode(b []byte, d *Decoded) {
	if len(b) < 2 {
		d.Drop = DropShort
		return
	}
	if b[1]&0x0f == l2tp.Version3 {
		// L2TPv3 over UDP shares the port (RFC 3931 §4.1.2.1): its
		// control messages go to the control plane, its data messages
		// to their L2TPv3 session.
		decodeV3UDP(b, d)
		return
	}
	if b[0]&0x80 != 0 {
		d.Flags = Control
		return
	}
	h, err := l2tp.ParseHeader(b)
	if err != nil {
		d.Drop = DropBadHeader
		return
	}
	d.Key, d.Payload, d.Seq = L2TPv2Key(h.TunnelID, h.SessionID), h.Payload(b), uint32(h.Ns)
	if h.HasSequence() {
		d.Flags = HasSeq
	}
}

// L2TPv2Encap is the encapsulation of one L2TPv2 session: the peer's tunnel
// and session IDs, and Ns on data messages when sequencing is on.
type L2TPv2Encap struct {
	remoteTunnel, remoteSession uint16
	seqOn                       bool
	seq                         *Sequencer
}

// NewL2TPv2Encap returns the encapsulation toward the peer's tunnel and
// session.
func NewL2TPv2Encap(remoteTunnel, remoteSession uint16, sequencing bool) *L2TPv2Encap {
	return &L2TPv2Encap{remoteTunnel: remoteTunnel, remoteSession: remoteSession, seqOn: sequencing, seq: new(Sequencer)}
}

// WithSequencing returns a copy that sends Ns (or not), sharing the
// sequence counters.
func (e *L2TPv2Encap) WithSequencing(on bool) *L2TPv2Encap {
	c := *e
	c.seqOn = on
	return &c
}

// Sequencing reports whether data messages carry Ns.
func (e *L2TPv2Encap) Sequencing() bool { return e.seqOn }

// SendLock implements Ordered: with sequencing on, numbers leave in order.
func (e *L2TPv2Encap) SendLock() sync.Locker {
	if e.seqOn {
		return &e.seq.mu
	}
	return nil
}

// Len implements Encap.
func (e *L2TPv2Encap) Len() int { return l2tp.DataHeaderLen(e.seqOn) }

// Put implements Encap.
func (e *L2TPv2Encap) Put(h []byte, n int) {
	var ns uint16
	if e.seqOn {
		ns = uint16(e.seq.next(1))
	}
	l2tp.AppendDataHeader(h[:0], e.remoteTunnel, e.remoteSession, e.seqOn, ns, n)
}

// Accept implements Encap: with sequencing on, a data message older than the
// last one accepted arrived out of order and is dropped (data messages are
// never retransmitted, §5.4); without it, everything is accepted.
func (e *L2TPv2Encap) Accept(hasSeq bool, seq uint32) bool {
	if !e.seqOn || !hasSeq {
		return true
	}
	return e.seq.accept16(uint16(seq))
}
