package vnet

import (
	"encoding/binary"
	"errors"

	"github.com/vpdn/vpdn/internal/csum"
)

// TCP header fields used here (RFC 9293 §3.1).
const (
	tcpSeq   = 4
	tcpFlags = 13
	tcpCsum  = 16

	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
	flagCWR = 0x80

	protoTCP = 6
)

// Segmentation errors: the super-packet does not match its header.
var (
	ErrGSOType    = errors.New("vnet: unsupported GSO type")
	ErrGSOSize    = errors.New("vnet: GSO size is zero")
	ErrIPHeader   = errors.New("vnet: IP header does not match the GSO type")
	ErrTCPHeader  = errors.New("vnet: TCP header malformed")
	ErrGSOFlags   = errors.New("vnet: SYN or RST on a TCP super-packet")
	ErrNoPayload  = errors.New("vnet: TCP super-packet without payload")
	ErrSegmentLen = errors.New("vnet: segment size leaves no room for payload")
)

// Plan is how a TCP super-packet splits into segments: every segment is
// the IP and TCP headers followed by SegSize octets of payload, the last
// one by the rest.
type Plan struct {
	IPv6     bool
	IPHdrLen int // IP header length: where the TCP header starts
	HdrLen   int // IP and TCP headers
	SegSize  int // payload octets per segment
	N        int // number of segments
	payload  int // payload octets in all
	pseudo   uint64
	seq      uint32
	id       uint16
	flags    uint8
}

// PlanTCP checks the TCP super-packet pkt (IPv4 or IPv6, no IPv4 options
// or IPv6 extension headers) against its header h and plans its
// segmentation into segments of h.GSOSize payload octets, or of maxLen
// octets of IP packet when that is smaller (maxLen <= 0: no limit), so a
// segment never exceeds the MTU. Header lengths are taken from the
// packet, not from h.HdrLen, which the kernel sets loosely.
func PlanTCP(h Hdr, pkt []byte, maxLen int) (Plan, error) {
	var p Plan
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4:
		if len(pkt) < 20 || pkt[0] != 0x45 || pkt[9] != protoTCP || h.CsumStart != 20 {
			return p, ErrIPHeader
		}
		p.IPHdrLen = 20
		p.id = binary.BigEndian.Uint16(pkt[4:])
		p.pseudo = csum.PseudoSum(protoTCP, pkt[12:16], pkt[16:20], 0)
	case GSOTCPv6:
		if len(pkt) < 40 || pkt[0]>>4 != 6 || pkt[6] != protoTCP || h.CsumStart != 40 {
			return p, ErrIPHeader
		}
		p.IPv6, p.IPHdrLen = true, 40
		p.pseudo = csum.PseudoSum(protoTCP, pkt[8:24], pkt[24:40], 0)
	default:
		return p, ErrGSOType
	}
	if h.GSOSize == 0 {
		return p, ErrGSOSize
	}
	if h.CsumOffset != tcpCsum || len(pkt) < p.IPHdrLen+20 {
		return p, ErrTCPHeader
	}
	tcp := pkt[p.IPHdrLen:]
	thl := int(tcp[12]>>4) * 4
	if thl < 20 || thl > len(tcp) {
		return p, ErrTCPHeader
	}
	p.flags = tcp[tcpFlags]
	if p.flags&(flagSYN|flagRST) != 0 {
		return p, ErrGSOFlags
	}
	p.HdrLen = p.IPHdrLen + thl
	p.payload = len(pkt) - p.HdrLen
	if p.payload == 0 {
		return p, ErrNoPayload
	}
	p.SegSize = int(h.GSOSize)
	if maxLen > 0 && p.HdrLen+p.SegSize > maxLen {
		p.SegSize = maxLen - p.HdrLen
		if p.SegSize <= 0 {
			return p, ErrSegmentLen
		}
	}
	p.N = (p.payload + p.SegSize - 1) / p.SegSize
	p.seq = binary.BigEndian.Uint32(tcp[tcpSeq:])
	return p, nil
}

// SegLen returns the length of segment i.
func (p *Plan) SegLen(i int) int {
	if i == p.N-1 {
		return p.HdrLen + p.payload - i*p.SegSize
	}
	return p.HdrLen + p.SegSize
}

// Segment writes segment i of pkt, the super-packet p was planned for,
// to dst (which must have room for SegLen(i) octets) and returns its
// length. The segment is a complete packet: IPv4 total length, ID and
// header checksum, or the IPv6 payload length, TCP sequence number,
// flags (FIN and PSH on the last segment only, CWR on the first only)
// and TCP checksum are its own.
func (p *Plan) Segment(dst, pkt []byte, i int) int {
	n := p.SegLen(i)
	dst = dst[:n]
	from := p.HdrLen + i*p.SegSize
	copy(dst, pkt[:p.HdrLen])
	copy(dst[p.HdrLen:], pkt[from:from+n-p.HdrLen])
	if p.IPv6 {
		binary.BigEndian.PutUint16(dst[4:], uint16(n-40))
	} else {
		binary.BigEndian.PutUint16(dst[2:], uint16(n))
		binary.BigEndian.PutUint16(dst[4:], p.id+uint16(i))
		dst[10], dst[11] = 0, 0
		binary.BigEndian.PutUint16(dst[10:], csum.Checksum(dst[:20]))
	}
	tcp := dst[p.IPHdrLen:]
	binary.BigEndian.PutUint32(tcp[tcpSeq:], p.seq+uint32(i*p.SegSize))
	f := p.flags
	if i != p.N-1 {
		f &^= flagFIN | flagPSH
	}
	if i != 0 {
		f &^= flagCWR
	}
	tcp[tcpFlags] = f
	tcp[tcpCsum], tcp[tcpCsum+1] = 0, 0
	binary.BigEndian.PutUint16(tcp[tcpCsum:], ^csum.Fold(csum.Sum(tcp, csum.Add(p.pseudo, uint64(len(tcp))))))
	return n
}
