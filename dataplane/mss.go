package dataplane

import (
	"encoding/binary"
	"math/bits"
)

// ClampMSS lowers the MSS option of a TCP SYN in the IPv4 or IPv6 packet
// pkt to mss when it is larger (`ip tcp adjust-mss`), updating the TCP
// checksum incrementally (RFC 1624). Other packets are left alone. It
// reports whether it changed the packet. It does not allocate.
func ClampMSS(pkt []byte, mss uint16) bool {
	var tcp []byte
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		ihl := int(pkt[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(pkt[2:]))
		if pkt[9] != 6 || ihl < 20 || total > len(pkt) || total < ihl+20 {
			return false
		}
		// Only the first fragment carries the TCP header.
		if binary.BigEndian.Uint16(pkt[6:])&0x1fff != 0 {
			return false
		}
		tcp = pkt[ihl:total]
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		// Extension headers are not walked: a SYN with one is left alone.
		total := 40 + int(binary.BigEndian.Uint16(pkt[4:]))
		if pkt[6] != 6 || total > len(pkt) || total < 60 {
			return false
		}
		tcp = pkt[40:total]
	default:
		return false
	}
	if tcp[13]&0x02 == 0 { // not a SYN
		return false
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return false
	}
	opts := tcp[20:off]
	for i := 0; i < len(opts); {
		switch kind := opts[i]; kind {
		case 0: // end of options
			return false
		case 1: // no-op
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return false
		}
		if opts[i] == 2 && l == 4 {
			old := binary.BigEndian.Uint16(opts[i+2:])
			if old <= mss {
				return false
			}
			binary.BigEndian.PutUint16(opts[i+2:], mss)
			sum := binary.BigEndian.Uint16(tcp[16:])
			o, n := old, mss
			if (20+i+2)%2 == 1 {
				// At an odd offset the field straddles two 16-bit words of
				// the checksum; its contribution is byte-swapped (RFC 1071
				// §2(B), byte-order independence).
				o, n = bits.ReverseBytes16(o), bits.ReverseBytes16(n)
			}
			binary.BigEndian.PutUint16(tcp[16:], csumReplace(sum, o, n))
			return true
		}
		i += l
	}
	return false
}

// csumReplace updates a ones'-complement checksum for a 16-bit field
// changing from old to new: HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3).
func csumReplace(sum, old, new uint16) uint16 {
	s := uint32(^sum) + uint32(^old) + uint32(new)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
