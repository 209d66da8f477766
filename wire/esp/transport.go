package esp

import (
	"encoding/binary"
	"errors"

	"github.com/vpdn/vpdn/internal/csum"
)

// IPv4 transport mode (RFC 4303 §3.1.1): the ESP header goes between the
// IP header and the transport-layer segment, the IP header's protocol
// becomes 50 and its next-header value travels in the ESP trailer.
//
//	before:  [IPv4 hdr, proto 17][UDP 1701][L2TP ...]
//	after:   [IPv4 hdr, proto 50][ESP hdr][IV][UDP 1701][L2TP ...][pad][pl][nh=17][ICV]
//	                                      └──────────── encrypted ─────────────┘
//
// This is what L2TP/IPsec needs. Options of the IP header are kept as
// they are; fragments are refused (transport mode protects whole
// datagrams, and received ESP fragments are reassembled first, RFC 4303
// §3.4.1).

// Errors of the transport-mode helpers.
var (
	ErrIPv4     = errors.New("esp: not a valid IPv4 packet")
	ErrNotESP   = errors.New("esp: IPv4 packet does not carry ESP (protocol 50)")
	ErrFragment = errors.New("esp: IPv4 fragment; transport mode takes whole datagrams (RFC 4303 §3.1.1, §3.4.1)")
	ErrTooLong  = errors.New("esp: packet would exceed 65535 octets")
	ErrSegment  = errors.New("esp: TCP or UDP segment too short for its checksum")
)

// ipv4Header checks the IPv4 header of pkt (RFC 791 §3.1) and returns its
// length and the packet's total length.
func ipv4Header(pkt []byte) (ihl, total int, err error) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return 0, 0, ErrIPv4
	}
	ihl = int(pkt[0]&0x0f) * 4
	total = int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total < ihl || total > len(pkt) {
		return 0, 0, ErrIPv4
	}
	// More-fragments flag or a fragment offset.
	if binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0 {
		return 0, 0, ErrFragment
	}
	return ihl, total, nil
}

// setIPv4 writes protocol, total length and a fresh header checksum.
func setIPv4(h []byte, ihl int, proto uint8, total int) {
	h[9] = proto
	binary.BigEndian.PutUint16(h[2:4], uint16(total))
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], csum.Checksum(h[:ihl]))
}

// SealTransport4 protects the IPv4 packet pkt in transport mode and
// appends the result, an IPv4 packet of protocol 50, to dst. Only the
// first total-length octets of pkt count. It does not allocate when dst
// has room for the packet and Overhead of its payload; for in-place use
// pkt may sit at dst[len(dst)+HeaderLen():], with that headroom before
// it. After an error of Seal in place, pkt's header may have moved.
func (s *Sealer) SealTransport4(dst, pkt []byte) ([]byte, error) {
	ihl, total, err := ipv4Header(pkt)
	if err != nil {
		return dst, err
	}
	pkt = pkt[:total]
	if total+s.Overhead(total-ihl) > 0xffff {
		return dst, ErrTooLong
	}
	proto := pkt[9]
	start := len(dst)
	dst = append(dst, pkt[:ihl]...) // moves the header down by HeaderLen() in place
	dst, err = s.Seal(dst, pkt[ihl:], proto)
	if err != nil {
		return dst[:start], err
	}
	out := dst[start:]
	setIPv4(out, ihl, Protocol, len(out))
	return dst, nil
}

// OpenTransport4 opens the IPv4 packet pkt of protocol 50 in transport
// mode, in place, and returns the original packet: its IPv4 header (moved
// up to the payload, with the protocol from the ESP trailer, the length
// and checksum recomputed) and payload, a subslice of pkt. The checksum of
// a TCP or UDP payload is the sender's: after NAT see FixChecksum.
func (o *Opener) OpenTransport4(pkt []byte) (inner []byte, err error) {
	ihl, total, err := ipv4Header(pkt)
	if err != nil {
		return nil, err
	}
	if pkt[9] != Protocol {
		return nil, ErrNotESP
	}
	pkt = pkt[:total]
	payload, nh, err := o.Open(pkt[ihl:])
	if err != nil {
		return nil, err
	}
	h := HeaderLen + o.t.ivLen
	inner = pkt[h : ihl+h+len(payload)]
	copy(inner[:ihl], pkt[:ihl])
	setIPv4(inner, ihl, nh, len(inner))
	return inner, nil
}

// FixChecksum adjusts the checksum of a TCP or UDP segment carried in
// transport mode through a NAT (RFC 3948 §3.1.2, item 1): the peer
// computed it over a pseudo-header with its own addresses, origSrc and
// origDst (the NAT-OA payloads of IKE), and the receiver sees src and dst.
// The update is incremental (RFC 1624 eq. 3). A UDP checksum of 0 means
// none and stays 0. Other protocols are left alone.
func FixChecksum(segment []byte, proto uint8, origSrc, origDst, src, dst [4]byte) error {
	off := 0
	switch proto {
	case NextHeaderUDP:
		off = 6
	case NextHeaderTCP:
		off = 16
	default:
		return nil
	}
	if len(segment) < off+2 {
		return ErrSegment
	}
	hc := binary.BigEndian.Uint16(segment[off:])
	if proto == NextHeaderUDP && hc == 0 {
		return nil
	}
	// HC' = ~(~HC + ~m + m') over the four address words that change.
	acc := uint32(^hc) + addrWords(src) + addrWords(dst)
	acc += addrWords([4]byte{^origSrc[0], ^origSrc[1], ^origSrc[2], ^origSrc[3]})
	acc += addrWords([4]byte{^origDst[0], ^origDst[1], ^origDst[2], ^origDst[3]})
	nc := ^csum.Fold(uint64(acc))
	if proto == NextHeaderUDP && nc == 0 {
		nc = 0xffff // RFC 768: a computed 0 is sent as all ones
	}
	binary.BigEndian.PutUint16(segment[off:], nc)
	return nil
}

func addrWords(a [4]byte) uint32 {
	return uint32(binary.BigEndian.Uint16(a[0:2])) + uint32(binary.BigEndian.Uint16(a[2:4]))
}

// ZeroUDPChecksum clears the checksum of a UDP segment carried in
// transport mode, the other remedy of RFC 3948 §3.1.2 (item 3) when the
// original addresses are unknown: ESP's ICV protects the segment.
func ZeroUDPChecksum(segment []byte) error {
	if len(segment) < 8 {
		return ErrSegment
	}
	segment[6], segment[7] = 0, 0
	return nil
}
