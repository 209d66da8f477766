// Package csum is the Internet checksum (RFC 1071) that the codecs and
// the data plane share: one fast implementation, summing eight octets at a
// time, for IPv4 headers, TCP and UDP over IPv4 and IPv6, ICMPv6 and the
// incremental updates built on it.
package csum

import (
	"encoding/binary"
	"math/bits"
)

// A ones'-complement sum of 16-bit
// words. Sums are kept unfolded in a uint64 as the ones'-complement sum
// of big-endian 64-bit words, which folds to the same 16-bit sum
// (2^16-1 divides 2^64-1), so eight octets are added at a time.

// Sum adds b to the running sum acc. b must start at an even offset of
// the checksummed data for the sums of its parts to add up.
func Sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) > 0 {
		// The tail, zero-padded (an odd last octet is the high half of
		// its word, RFC 1071 §4.1).
		var t [8]byte
		copy(t[:], b)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(t[:]), c)
	}
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// Add adds v to a running sum with the end-around carry.
func Add(acc, v uint64) uint64 {
	acc, c := bits.Add64(acc, v, 0)
	return acc + c
}

// Fold folds a running sum to 16 bits (not complemented).
func Fold(acc uint64) uint16 {
	acc = Add(acc>>32, acc&0xffffffff)
	acc = acc>>16 + acc&0xffff // < 2^17 + 2^16
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}

// Checksum returns the Internet checksum of b: the complement of its
// folded sum.
func Checksum(b []byte) uint16 { return ^Fold(Sum(b, 0)) }

// PseudoSum is the running sum of a TCP/UDP pseudo-header (RFC 793 §3.1,
// RFC 8200 §8.1): source and destination addresses, protocol and the
// transport length.
func PseudoSum(proto uint8, src, dst []byte, length int) uint64 {
	acc := Sum(src, 0)
	acc = Sum(dst, acc)
	return Add(acc, uint64(proto)+uint64(length))
}
