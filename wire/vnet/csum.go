package vnet

import (
	"encoding/binary"
	"errors"

	"github.com/vpdn/vpdn/internal/csum"
)

// Checksum errors.
var (
	ErrCsumRange = errors.New("vnet: checksum offsets outside the packet")
)

// CompleteChecksum finishes a partial checksum (FlagNeedsCsum on a packet
// that is not to be segmented): the sum from start to the end of pkt,
// over the pseudo-header sum the sender left in the field at start+off,
// complemented into that field. At offset 6 (UDP's checksum) a result of
// zero is sent as all ones, zero meaning no checksum (RFC 768).
func CompleteChecksum(pkt []byte, start, off int) error {
	at := start + off
	if start < 0 || off < 0 || at+2 > len(pkt) {
		return ErrCsumRange
	}
	initial := uint64(binary.BigEndian.Uint16(pkt[at:]))
	pkt[at], pkt[at+1] = 0, 0
	c := ^csum.Fold(csum.Sum(pkt[start:], initial))
	if c == 0 && off == 6 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[at:], c)
	return nil
}
