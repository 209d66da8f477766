package dataplane

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Kind names a carrier's encapsulation in session keys: two carriers may
// use the same numbers without meeting in the session table.
type Kind uint8

const (
	KindL2TPv2 Kind = iota + 1 // RFC 2661 data messages over UDP
	KindL2TPv3                 // RFC 3931 sessions over IP or UDP
	KindPPTP                   // RFC 2637 enhanced GRE
	KindGRE                    // RFC 2784/2890
	KindPPPoE                  // RFC 2516 session stage
	KindESP                    // RFC 4303 inbound SAs, by SPI (esp.go)
)

var kindNames = [...]string{"", "l2tpv2", "l2tpv3", "pptp", "gre", "pppoe", "esp"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Key is how a received data packet names its session: the carrier's kind
// and the identifier the carrier allocated for us (for L2TPv2 our tunnel
// and session IDs, for PPTP our call ID, for L2TPv3 our session ID), in
// one word so that the session table is a map of integers. A carrier
// allocates IDs unique on its node, so the key is opaque here.
type Key uint64

// idBits is the room for a carrier's identifier in a Key.
const idBits = 56

// MakeKey returns the key of identifier id (at most 56 bits) of kind k.
func MakeKey(k Kind, id uint64) Key { return Key(uint64(k)<<idBits | id&(1<<idBits-1)) }

// Kind and ID return the parts of a key.
func (k Key) Kind() Kind { return Kind(k >> idBits) }
func (k Key) ID() uint64 { return uint64(k) & (1<<idBits - 1) }

func (k Key) String() string { return fmt.Sprintf("%v/%#x", k.Kind(), k.ID()) }

// Decoded is what a Decoder found in a datagram.
type Decoded struct {
	// Payload is the session's payload (a PPP frame, an Ethernet frame, an
	// IP packet), a sub-slice of the datagram.
	Payload []byte
	Key     Key
	// Seq is the data message's sequence number, if it has one (HasSeq).
	Seq uint32
	// Ack is the acknowledgment number the message carries for our own
	// sequence numbers (PPTP's enhanced GRE, RFC 2637 §4.1), if HasAck.
	Ack   uint32
	Flags DecodedFlags
	// Drop, when not zero, says why the datagram is malformed: it is
	// counted and dropped.
	Drop DropReason
}

// DecodedFlags qualify a decoded datagram.
type DecodedFlags uint8

const (
	// Control: a control message, handed to the port's control handler
	// whole; the other fields are unset.
	Control DecodedFlags = 1 << iota
	// HasSeq: Seq is set.
	HasSeq
	// HasAck: Ack is set.
	HasAck
)

// Decoder is a carrier's demultiplexer for the datagrams of one bind. It is
// called on the bind's reader goroutine for every datagram and must not
// allocate or keep b.
type Decoder interface {
	// Decode classifies b: a control message, or data for a session, or
	// malformed (Drop set).
	Decode(b []byte) Decoded
}

// Encap is a session's encapsulation on transmit and its sequence check on
// receive. A session's Encap is replaced whole (Session.SetEncap) when what
// it writes changes, as when sequencing is switched on; implementations are
// immutable but for their counters, which replacements share.
type Encap interface {
	// Len is the length of the header Put writes. It may change from one
	// message to the next (PPTP's header carries an acknowledgment number
	// only when one is due), but never beyond MaxEncapLen.
	Len() int
	// Put writes the header of one data message with a payload of n
	// octets into h, taking the next sequence number if the session sends
	// them. len(h) is a value Len returned, perhaps not the latest: Put
	// writes a header of exactly len(h) octets. It may be called
	// concurrently.
	Put(h []byte, n int)
	// Accept is the receive-side check of a data message's sequence
	// number: false drops it as out of order.
	Accept(hasSeq bool, seq uint32) bool
}

// Ordered is implemented by an Encap whose sequence numbers must leave in
// the order they were taken: the plane holds the lock SendLock returns
// from Put to the send, so two goroutines sending on one session (the
// device reader and the PPP link's control frames) cannot swap two
// numbers on the wire. A nil lock: no order to keep.
type Ordered interface {
	SendLock() sync.Locker
}

// Sequencer is what every sequence-numbering Encap keeps: the next number to
// send, and the next expected. Replacements of an Encap share one.
type Sequencer struct {
	mu sync.Mutex // see Ordered
	tx atomic.Uint32
	// rx holds the next expected number plus 1<<32 once one was seen.
	rx atomic.Uint64
}

// next returns the next number to send and advances it by n.
func (q *Sequencer) next(n uint32) uint32 { return q.tx.Add(n) - n }

// accept16 applies RFC 2661 §5.4's 16-bit serial comparison: a number
// older than the last accepted one is out of order.
func (q *Sequencer) accept16(ns uint16) bool {
	cur := q.rx.Load()
	if cur>>32 != 0 && seqLess16(ns, uint16(cur)) {
		return false
	}
	q.rx.Store(1<<32 | uint64(ns+1))
	return true
}

func seqLess16(a, b uint16) bool { return int16(a-b) < 0 }

// accept32 is accept16 in the 32-bit space of PPTP's enhanced GRE (RFC
// 2637 §4.2): a number not after the last accepted one (late, or a replay)
// is dropped.
func (q *Sequencer) accept32(ns uint32) bool {
	ok, _ := q.accept32Gap(ns)
	return ok
}

// accept32Gap is accept32 that also reports how many numbers before ns
// were skipped (never accepted: lost, or late and to be dropped).
func (q *Sequencer) accept32Gap(ns uint32) (ok bool, gap uint32) {
	cur := q.rx.Load()
	if cur>>32 != 0 {
		d := int32(ns - uint32(cur))
		if d < 0 {
			return false, 0
		}
		gap = uint32(d)
	}
	q.rx.Store(1<<32 | uint64(ns+1))
	return true, gap
}

// received returns the last accepted number, and false if none was.
func (q *Sequencer) received() (uint32, bool) {
	cur := q.rx.Load()
	return uint32(cur) - 1, cur>>32 != 0
}
