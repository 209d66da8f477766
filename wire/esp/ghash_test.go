package esp

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// The GHASH of the GCM spec written out block by block, the model the
// 8-octet-ICV path (one multiplication beside the standard library's GMAC)
// is checked against. TestGCMSpec checks the model against the spec.

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

// TestICV8MatchesModel: the tag gcmICV8 reconstructs is the model's, for
// ESP packets of every length up to a few blocks, with and without ESN, and
// the header it borrows is put back.
func TestICV8MatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, esn := range []bool{false, true} {
		s, o := pair(t, Config{SPI: 0xabcdef01, Cipher: CipherAESGCM, EncKey: seq(9, 36), ICVLen: 8, ESN: esn})
		start := uint64(1000)
		if esn {
			start = 1<<32 - 30 // across 2^32
		}
		s.seq.Store(start)
		o.win.top = start
		for l := range 80 {
			payload := make([]byte, l)
			for i := range payload {
				payload[i] = byte(r.Uint32())
			}
			pkt, err := s.Seal(nil, payload, 4)
			if err != nil {
				t.Fatal(err)
			}
			sq := s.Seq()
			if !esn {
				sq &= 0xffffffff
			}
			ct := pkt[16 : len(pkt)-8]
			var model, got [16]byte
			copy(o.t.nonce[SaltLen:], pkt[8:16])
			o.t.gcmTag(&model, o.t.gcmAAD(sq), ct)
			if !bytes.Equal(model[:8], pkt[len(pkt)-8:]) {
				t.Fatalf("len %d: sealed ICV %x, model %x", l, pkt[len(pkt)-8:], model[:8])
			}
			before := bytes.Clone(pkt)
			if !o.t.gcmICV8(pkt, len(ct), sq, &got) || got != model || !bytes.Equal(pkt, before) {
				t.Fatalf("len %d: tag %x, model %x; header kept %v", l, got, model, bytes.Equal(pkt, before))
			}
			if p, _, err := o.Open(pkt); err != nil || !bytes.Equal(p, payload) {
				t.Fatalf("len %d: %v", l, err)
			}
		}
	}
}
