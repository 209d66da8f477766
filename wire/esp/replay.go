package esp

// window is the receiver's anti-replay window (RFC 4303 §3.4.3) as the
// block bitmap of RFC 6479: size bits in a ring of size/64+1 words, so that
// sliding the window right clears whole words and never shifts. Sequence
// numbers are full 64-bit values; without ESN their high half is 0.
type window struct {
	top  uint64   // the highest sequence number accepted, 0 before the first
	size uint64   // packets covered, a multiple of 64
	bits []uint64 // bit s%64 of word (s/64)%len(bits) is set once s is accepted
}

func newWindow(size int) window {
	n := (size + 63) / 64
	return window{size: uint64(n) * 64, bits: make([]uint64, n+1)}
}

// check reports whether seq may be accepted: not 0 (RFC 4303 §3.3.3: the
// first packet is 1), not left of the window, not already seen. It changes
// nothing; update does, once the ICV has verified.
func (w *window) check(seq uint64) bool {
	switch {
	case seq == 0:
		return false
	case seq > w.top:
		return true
	case w.top-seq >= w.size:
		return false
	}
	n := uint64(len(w.bits))
	return w.bits[seq/64%n]&(1<<(seq%64)) == 0
}

// update records seq as accepted, sliding the window when it is new to the
// right. It must follow a successful check.
func (w *window) update(seq uint64) {
	n := uint64(len(w.bits))
	if seq > w.top {
		// Clear the words the window slides over, at most all of them.
		from, to := w.top/64, seq/64
		if to-from > n {
			from = to - n
		}
		for i := from + 1; i <= to; i++ {
			w.bits[i%n] = 0
		}
		w.top = seq
	}
	w.bits[seq/64%n] |= 1 << (seq % 64)
}

// inferHigh guesses the high 32 bits of an extended sequence number from
// its low 32 bits on the wire, relative to the window (RFC 4303 Appendix
// A2.2). ok is false for a packet that would belong before the first
// sequence number of the SA.
func (w *window) inferHigh(low uint32) (high uint32, ok bool) {
	tl, th := uint32(w.top), uint32(w.top>>32)
	bottom := tl - uint32(w.size) + 1 // low half of the window's left edge, mod 2^32
	if tl >= uint32(w.size)-1 {
		// Case A: the window lies within one subspace.
		if low >= bottom {
			return th, true
		}
		return th + 1, true
	}
	// Case B: the window spans two subspaces.
	if low >= bottom {
		if th == 0 {
			return 0, false
		}
		return th - 1, true
	}
	return th, true
}
