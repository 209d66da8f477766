package transport

import (
	"encoding/binary"
	"errors"
)

// The IPv4 header a raw AF_INET socket hands up in front of every
// datagram (raw(7)), RFC 791 §3.1:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ipv4MinHeader = 20 // IHL 5
	ipv4VerIHL    = 0  // version (high nibble), IHL in 32-bit words (low)
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4Flags     = 6 // flags in the high three bits: 0x40 is DF
	ipv4TTL       = 8
	ipv4Protocol  = 9
)

var (
	errIPv4Short    = errors.New("transport: IPv4 header truncated")
	errIPv4Version  = errors.New("transport: not an IPv4 header")
	errIPv4IHL      = errors.New("transport: IPv4 header length below 20 octets")
	errIPv4TotalLen = errors.New("transport: IPv4 total length disagrees with the datagram")
)

// ipv4Payload returns the payload of the IPv4 datagram b: what follows
// the header and its options (IHL), up to the total length. It checks
// the version, that the header and options are all there, and that the
// total length covers the header and does not run past b (octets past
// the total length are link padding and are cut off).
func ipv4Payload(b []byte) ([]byte, error) {
	if len(b) < ipv4MinHeader {
		return nil, errIPv4Short
	}
	if b[ipv4VerIHL]>>4 != 4 {
		return nil, errIPv4Version
	}
	hl := int(b[ipv4VerIHL]&0x0f) * 4
	if hl < ipv4MinHeader {
		return nil, errIPv4IHL
	}
	if hl > len(b) {
		return nil, errIPv4Short
	}
	tl := int(binary.BigEndian.Uint16(b[ipv4TotalLen:]))
	if tl < hl || tl > len(b) {
		return nil, errIPv4TotalLen
	}
	return b[hl:tl], nil
}
