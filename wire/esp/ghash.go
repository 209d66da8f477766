package esp

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// The GCM of the standard library makes tags of 12 to 16 octets only. An
// 8-octet ICV (RFC 4106 §8, "AES-GCM with an 8 octet ICV") is the first 8
// octets of the 16-octet tag (GCM spec §7, MSB_t): sealing truncates, and
// opening checks the truncated tag with the GHASH below, then decrypts in
// counter mode. The multiplication is the plain bit-serial one of the GCM
// spec (Algorithm 1), branch-free; it is slow (a few µs per packet) and
// used by that suite alone.

// ghashKey is H = E(K, 0^128) as two big-endian halves.
type ghashKey struct{ hi, lo uint64 }

func (h *ghashKey) init(b cipher.Block) {
	var zero, out [16]byte
	b.Encrypt(out[:], zero[:])
	h.hi, h.lo = binary.BigEndian.Uint64(out[:8]), binary.BigEndian.Uint64(out[8:])
}

// mul sets (x1, x0) to (x1, x0)·H in GF(2^128) with the GCM bit order.
func (h *ghashKey) mul(x1, x0 uint64) (uint64, uint64) {
	var z1, z0 uint64
	v1, v0 := h.hi, h.lo
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = x1 >> (63 - i) & 1
		} else {
			bit = x0 >> (127 - i) & 1
		}
		m := -bit
		z1 ^= v1 & m
		z0 ^= v0 & m
		r := -(v0 & 1) & 0xe100000000000000
		v0 = v0>>1 | v1<<63
		v1 = v1>>1 ^ r
	}
	return z1, z0
}

// update absorbs data, zero-padded to whole blocks.
func (h *ghashKey) update(y1, y0 uint64, data []byte) (uint64, uint64) {
	for len(data) > 0 {
		var blk [16]byte
		n := copy(blk[:], data)
		data = data[n:]
		y1 ^= binary.BigEndian.Uint64(blk[:8])
		y0 ^= binary.BigEndian.Uint64(blk[8:])
		y1, y0 = h.mul(y1, y0)
	}
	return y1, y0
}

// gcmTag writes the full GCM tag of (aad, ct) under nonce into tag.
func (t *transform) gcmTag(tag *[16]byte, aad, ct []byte) {
	h := &t.ghashKey
	y1, y0 := h.update(0, 0, aad)
	y1, y0 = h.update(y1, y0, ct)
	y1 ^= uint64(len(aad)) * 8
	y0 ^= uint64(len(ct)) * 8
	y1, y0 = h.mul(y1, y0)
	// J0 = nonce ‖ 0^31 ‖ 1 for a 96-bit nonce.
	copy(t.ctrBlock[:12], t.nonce[:])
	binary.BigEndian.PutUint32(t.ctrBlock[12:], 1)
	t.block.Encrypt(t.keyStream[:], t.ctrBlock[:])
	binary.BigEndian.PutUint64(tag[:8], y1)
	binary.BigEndian.PutUint64(tag[8:], y0)
	subtle.XORBytes(tag[:], tag[:], t.keyStream[:])
}

// gcmCTR decrypts ct in place with the counter blocks that follow J0.
func (t *transform) gcmCTR(ct []byte) {
	copy(t.ctrBlock[:12], t.nonce[:])
	for ctr := uint32(2); len(ct) > 0; ctr++ {
		binary.BigEndian.PutUint32(t.ctrBlock[12:], ctr)
		t.block.Encrypt(t.keyStream[:], t.ctrBlock[:])
		n := subtle.XORBytes(ct, ct, t.keyStream[:])
		ct = ct[n:]
	}
}
