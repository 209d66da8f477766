package esp

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// The GCM of the standard library makes tags of 12 to 16 octets only. An
// 8-octet ICV (RFC 4106 §8, "AES-GCM with an 8 octet ICV") is the first 8
// octets of the 16-octet tag (GCM spec §7, MSB_t): sealing truncates, and
// opening checks the truncated tag (gcmICV8), then decrypts in counter
// mode. The one multiplication in GF(2^128) it needs is the plain
// bit-serial one of the GCM spec (Algorithm 1), branch-free.

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

// gcmICV8 checks the 8-octet ICV of the packet pkt, whose header and IV
// take hdr = 16 octets and whose ciphertext takes ctLen, with the nonce
// already in t.nonce. GHASH is linear: the GMAC of the AES-GCM of the
// standard library over A' = pad16(AAD) ‖ C (AAD as additional data, no
// plaintext) runs over the same blocks as the tag of (AAD, C) and differs
// from it only in the final length block, L' = (len(A'), 0) instead of
// L = (len(AAD), len(C)); so tag = GMAC(A') ⊕ (L ⊕ L')·H, one
// multiplication here. The header octets are borrowed for A' and put back.
func (t *transform) gcmICV8(pkt []byte, ctLen int, seq uint64, tag *[16]byte) bool {
	var save [16]byte
	copy(save[:], pkt[:16])
	aad := t.gcmAAD(seq)
	n := copy(pkt[:16], aad)
	clear(pkt[n:16])
	t.aead.Seal(tag[:0], t.nonce[:], nil, pkt[:16+ctLen])
	copy(pkt[:16], save[:])
	d1, d0 := t.ghashKey.mul(uint64(len(aad))*8^uint64(16+ctLen)*8, uint64(ctLen)*8)
	binary.BigEndian.PutUint64(t.keyStream[:8], d1)
	binary.BigEndian.PutUint64(t.keyStream[8:], d0)
	subtle.XORBytes(tag[:], tag[:], t.keyStream[:])
	return subtle.ConstantTimeCompare(tag[:8], pkt[16+ctLen:]) == 1
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
