package csum

import (
	"math/rand/v2"
	"testing"
)

// rfc1071 is RFC 1071 §4.1 as written: 16-bit words, carries folded at
// the end; the reference the fast sum is checked against.
func rfc1071(b []byte) uint16 {
	var s uint32
	for len(b) > 1 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestChecksum(t *testing.T) {
	// RFC 1071 §3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
	if s := Fold(Sum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0)); s != 0xddf2 {
		t.Fatalf("RFC 1071 example: %04x", s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := make([]byte, r.IntN(200))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%3 == 0 {
			for j := range b {
				b[j] = 0xff
			}
		}
		if got, want := Fold(Sum(b, 0)), rfc1071(b); got != want {
			t.Fatalf("sum of %x = %04x, want %04x", b, got, want)
		}
		// Sums of even-length parts add up.
		cut := r.IntN(len(b)+1) &^ 1
		if got, want := Fold(Sum(b[cut:], Sum(b[:cut], 0))), rfc1071(b); got != want {
			t.Fatalf("split sum of %x at %d = %04x, want %04x", b, cut, got, want)
		}
	}
}

// TestPseudoSum: the IPv6 pseudo-header of RFC 8200 §8.1 (addresses,
// 32-bit length, next header) sums as PseudoSum adds it.
func TestPseudoSum(t *testing.T) {
	src, dst := make([]byte, 16), make([]byte, 16)
	for i := range src {
		src[i], dst[i] = byte(0x20+i), byte(0x90-i)
	}
	ph := append(append(append([]byte{}, src...), dst...), 0, 0, 0x01, 0x2c, 0, 0, 0, 58)
	if got, want := Fold(PseudoSum(58, src, dst, 300)), rfc1071(ph); got != want {
		t.Fatalf("pseudo-header sum %04x, want %04x", got, want)
	}
}
