package mppe

import (
	"errors"
	"slices"
	"sync/atomic"
)

// Errors of Decrypt. Each is also a counter of Stats; none is logged.
var (
	ErrCompressed   = errors.New("mppe: MPPC-compressed packet (C bit); compression is not supported")
	ErrNotEncrypted = errors.New("mppe: packet without the encrypted (D) bit")
	ErrNotFlushed   = errors.New("mppe: stateless packet without the flushed (A) bit")
	ErrLate         = errors.New("mppe: coherency count not ahead of the last one (replayed, duplicated or reordered)")
	// ErrResync reports packet loss on a stateful link: the caller sends a
	// CCP Reset-Request (RFC 3078 §8.2). Packets are then dropped with
	// ErrDiscarding until one with the flushed bit arrives.
	ErrResync     = errors.New("mppe: coherency count jumped on a stateful link; resynchronise with a CCP Reset-Request")
	ErrDiscarding = errors.New("mppe: discarding until a flushed packet after loss")
)

// Window bounds how far ahead of the last coherency count a packet may be.
// A count 1 to Window-1 ahead of what is expected is taken as loss, and
// the receiver changes keys to catch up (stateless: at most Window key
// changes for one packet, RFC 3078 §8.1; stateful: one per skipped flag
// packet, §8.2); anything else, the other half of the count space, is a
// late packet (a replay, a duplicate or one overtaken) and is dropped with
// ErrLate. Half the space is what Linux uses (ppp_mppe "discard late
// packet"); a loss of Window packets or more in a row cannot be told from
// lateness, and leaves a stateless receiver dropping until the count comes
// round again.
const Window = CountSpace / 2

// Stats are the counters of one direction. They are safe to read while
// the data path runs.
type Stats struct {
	Packets uint64 // packets encrypted or decrypted
	Octets  uint64 // their protocol and information octets
	Rekeys  uint64 // session key changes (RFC 3078 §7)
	Flushes uint64 // RC4 re-initialised for a CCP Reset-Request (sender) or on a flushed packet after loss (receiver)

	// Receiver only.
	Lost         uint64 // packets the coherency count skipped
	Resyncs      uint64 // losses on a stateful link (ErrResync)
	Discarded    uint64 // packets dropped waiting for a flushed one (ErrDiscarding)
	Late         uint64 // replayed, duplicated or reordered packets (ErrLate)
	Short        uint64 // shorter than header and one octet (ErrShort)
	Compressed   uint64 // the C bit (ErrCompressed)
	NotEncrypted uint64 // the D bit clear (ErrNotEncrypted)
	NotFlushed   uint64 // stateless without the A bit (ErrNotFlushed)

	// NextCoherency is the coherency count (RFC 3078 §3) of the next
	// packet: the one the sender gives it, the one the receiver expects.
	NextCoherency uint16
}

type counters struct {
	packets, octets, rekeys, flushes            atomic.Uint64
	lost, resyncs, discarded, late              atomic.Uint64
	short, compressed, notEncrypted, notFlushed atomic.Uint64
	next                                        atomic.Uint32 // NextCoherency
}

func (c *counters) snapshot() Stats {
	return Stats{
		Packets: c.packets.Load(), Octets: c.octets.Load(), Rekeys: c.rekeys.Load(), Flushes: c.flushes.Load(),
		Lost: c.lost.Load(), Resyncs: c.resyncs.Load(), Discarded: c.discarded.Load(), Late: c.late.Load(),
		Short: c.short.Load(), Compressed: c.compressed.Load(), NotEncrypted: c.notEncrypted.Load(), NotFlushed: c.notFlushed.Load(),
		NextCoherency: uint16(c.next.Load()),
	}
}

// state is the key material and RC4 table of one direction, in fixed
// arrays so that key changes do not allocate.
type state struct {
	strength  Strength
	stateless bool
	n         int // key length
	start     [maxKeyLen]byte
	session   [maxKeyLen]byte
	rc        rc4
	count     uint16 // the last coherency count sent or accepted
	stats     counters
}

func (s *state) init(startKey []byte, strength Strength, stateless bool) error {
	n, err := checkKey(startKey, strength)
	if err != nil {
		return err
	}
	s.strength, s.stateless, s.n = strength, stateless, n
	copy(s.start[:], startKey[:n])
	// RFC 3079 §3.1–§3.3: the initial session key.
	newKeyFromSHA(&s.session, s.start[:n], s.start[:n])
	reduce(s.session[:n], strength)
	s.rc.reset(s.session[:n])
	// The first packet carries count 0 (Linux starts here too, RFC 3078
	// leaves it implicit).
	s.setCount(countMask)
	return nil
}

// setCount records the last coherency count sent or accepted, and the
// next one for Stats (read from other goroutines).
func (s *state) setCount(c uint16) {
	s.count = c
	s.stats.next.Store(uint32((c + 1) & countMask))
}

// rekey changes the session key k times; the RC4 table must be reset with
// the new key before use.
func (s *state) rekey(k int) {
	for range k {
		changeKey(&s.rc, s.start[:s.n], &s.session, s.strength)
	}
	s.stats.rekeys.Add(uint64(k))
}

func (s *state) flush() { s.rc.reset(s.session[:s.n]) }

// Encrypter encrypts the packets of one direction. Encrypt is not safe for
// concurrent use; ResetRequested and Stats may be called at any time.
type Encrypter struct {
	st      state
	pending atomic.Bool
}

// NewEncrypter returns the sender side of MPPE with the given start key
// (the MS-MPPE-Send-Key or its first 8 octets for 40 and 56 bits, RFC 3079;
// only the first strength.KeyLen() octets are used).
func NewEncrypter(startKey []byte, strength Strength, stateless bool) (*Encrypter, error) {
	e := new(Encrypter)
	if err := e.st.init(startKey, strength, stateless); err != nil {
		return nil, err
	}
	return e, nil
}

// ResetRequested tells the sender that a CCP Reset-Request arrived: its
// next packet re-initialises RC4 with the current session key and carries
// the flushed bit (RFC 3078 §8.2). Several requests before that packet
// make one flush.
func (e *Encrypter) ResetRequested() { e.pending.Store(true) }

// Stats returns the counters.
func (e *Encrypter) Stats() Stats { return e.st.stats.snapshot() }

// Encrypt appends the MPPE header and the encryption of plaintext (the PPP
// protocol field and information of the packet) to dst and returns the
// extended slice. It does not allocate when dst has room for
// HeaderLen+len(plaintext) more octets. For in-place use, plaintext may be
// exactly dst[len(dst)+HeaderLen:][:len(plaintext)].
func (e *Encrypter) Encrypt(dst, plaintext []byte) []byte {
	s := &e.st
	c := (s.count + 1) & countMask
	s.setCount(c)
	f := FlagEncrypted
	reset := e.pending.Swap(false)
	switch {
	case s.stateless:
		// RFC 3078 §7.1: a new key for every packet.
		s.rekey(1)
		s.flush()
		f |= FlagFlushed
	case c&0xff == 0xff:
		// RFC 3078 §7.2: the "flag" packet, every 256 packets, changes the
		// key and carries the flushed bit; it answers a pending reset too.
		s.rekey(1)
		s.flush()
		f |= FlagFlushed
	case reset:
		s.flush()
		s.stats.flushes.Add(1)
		f |= FlagFlushed
	}
	// The first stateful packet has a fresh table but no A bit: RFC 3078
	// §3.1 asks for it, Linux does not send it (and rekeys on it when
	// received), so neither do we. A receiver here accepts both.
	dst = appendHeader(dst, f, c)
	n := len(dst)
	dst = slices.Grow(dst, len(plaintext))[:n+len(plaintext)]
	s.rc.xorKeyStream(dst[n:], plaintext)
	s.stats.packets.Add(1)
	s.stats.octets.Add(uint64(len(plaintext)))
	return dst
}

// Decrypter decrypts the packets of one direction. Decrypt is not safe for
// concurrent use; Stats may be called at any time.
type Decrypter struct {
	st      state
	discard bool // stateful, after loss: waiting for a flushed packet
}

// NewDecrypter returns the receiver side of MPPE with the given start key
// (the MS-MPPE-Recv-Key, RFC 3079; only the first strength.KeyLen() octets
// are used).
func NewDecrypter(startKey []byte, strength Strength, stateless bool) (*Decrypter, error) {
	d := new(Decrypter)
	if err := d.st.init(startKey, strength, stateless); err != nil {
		return nil, err
	}
	return d, nil
}

// Stats returns the counters.
func (d *Decrypter) Stats() Stats { return d.st.stats.snapshot() }

// flagsIn counts the "flag" coherency counts (low eight bits 0xFF) in
// [from, from+n), unwrapped: the flags crossed when from is expected and a
// packet n further arrives.
func flagsIn(from uint16, n uint16) int {
	return int((uint32(from)+uint32(n))>>8 - uint32(from)>>8)
}

// Decrypt takes an MPPE packet (header and encrypted data) and appends the
// decrypted PPP protocol field and information to dst. It does not
// allocate when dst has room; for in-place use dst may be pkt[:0].
//
// On error nothing is appended and the packet is dropped; ErrResync asks
// the caller to send a CCP Reset-Request.
func (d *Decrypter) Decrypt(dst, pkt []byte) ([]byte, error) {
	s := &d.st
	if len(pkt) <= HeaderLen {
		s.stats.short.Add(1)
		return dst, ErrShort
	}
	h, _ := ParseHeader(pkt)
	if h.Flags&FlagCompressed != 0 {
		s.stats.compressed.Add(1)
		return dst, ErrCompressed
	}
	if h.Flags&FlagEncrypted == 0 {
		s.stats.notEncrypted.Add(1)
		return dst, ErrNotEncrypted
	}
	flushed := h.Flags&FlagFlushed != 0
	expected := (s.count + 1) & countMask
	gap := (h.Count - expected) & countMask // packets skipped
	if gap >= Window {
		s.stats.late.Add(1)
		return dst, ErrLate
	}
	if s.stateless {
		if !flushed {
			s.stats.notFlushed.Add(1)
			return dst, ErrNotFlushed
		}
		// RFC 3078 §8.1: one key change per count advanced.
		s.rekey(int(gap) + 1)
		s.flush()
	} else {
		// RFC 3078 §8.2. Change keys for every flag packet skipped, so
		// that the key follows the sender while packets are lost or
		// discarded; at most Window/256 per packet.
		s.rekey(flagsIn(expected, gap))
		if h.Count&0xff == 0xff {
			// The flag packet itself: a key change, flushed whatever
			// its A bit says.
			s.rekey(1)
			flushed = true
		}
		if !flushed && (d.discard || gap != 0) {
			// The RC4 table is out of step: drop until a flushed
			// packet, asking for one once.
			s.setCount(h.Count)
			s.stats.lost.Add(uint64(gap))
			s.stats.discarded.Add(1)
			if d.discard {
				return dst, ErrDiscarding
			}
			d.discard = true
			s.stats.resyncs.Add(1)
			return dst, ErrResync
		}
		if flushed {
			// Re-initialise RC4 with the current key (after a Reset-
			// Request, or the key just changed).
			s.flush()
			if d.discard {
				d.discard = false
				s.stats.flushes.Add(1)
			}
		}
	}
	s.setCount(h.Count)
	s.stats.lost.Add(uint64(gap))
	body := pkt[HeaderLen:]
	n := len(dst)
	dst = slices.Grow(dst, len(body))[:n+len(body)]
	s.rc.xorKeyStream(dst[n:], body)
	s.stats.packets.Add(1)
	s.stats.octets.Add(uint64(len(body)))
	return dst, nil
}
