package vnet

import (
	"bytes"
	"encoding/binary"

	"github.com/vpdn/vpdn/internal/csum"
)

// MaxIPLen is the largest IP packet a super-packet may grow to.
const MaxIPLen = 65535

// A Coalescer merges in-order TCP segments of one flow into a single
// super-packet with a virtio_net_hdr asking the receiving kernel to treat
// it as the segments it was made of (GRO in user space). The rules are
// the kernel's (net/ipv4/tcp_offload.c, tcp_gro_receive): same flow, the
// next sequence number, same IP header but for length, ID and checksum,
// same TCP header but for sequence number, checksum and PSH, no segment
// larger than the first, nothing after a short segment or one with PSH.
// Every segment's TCP checksum is verified before it is merged, as the
// kernel will not check the merged one.
//
// The zero Coalescer is empty and needs Init before use.
type Coalescer struct {
	buf   []byte // HdrLen octets of virtio_net_hdr, then the packet
	n     int    // packet length so far; 0: empty
	v6    bool
	iphl  int
	thl   int
	seg   int    // payload of the first segment
	segs  int    // segments merged
	next  uint32 // sequence number the next segment must have
	ended bool   // a short segment or one with PSH was merged
}

// Init gives c its buffer, which needs room for HdrLen+MaxIPLen octets to
// hold any super-packet.
func (c *Coalescer) Init(buf []byte) { c.buf, c.n = buf, 0 }

// Empty reports whether c holds nothing.
func (c *Coalescer) Empty() bool { return c.n == 0 }

// Segments returns how many segments c holds.
func (c *Coalescer) Segments() int { return c.segs }

// Head returns the packet c holds so far (its headers are the first
// segment's); nil when c is empty.
func (c *Coalescer) Head() []byte {
	if c.n == 0 {
		return nil
	}
	return c.buf[HdrLen : HdrLen+c.n]
}

// Reset empties c.
func (c *Coalescer) Reset() { c.n, c.segs = 0, 0 }

// tcpCandidate returns the IP and TCP header lengths of pkt when it is a
// TCP segment GRO may merge: IPv4 without options or fragmentation, or
// IPv6 without extension headers, lengths consistent, only ACK (and PSH)
// set, some payload.
func tcpCandidate(pkt []byte) (iphl, thl int, ok bool) {
	switch {
	case len(pkt) >= 40 && pkt[0] == 0x45:
		if pkt[9] != protoTCP || int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) ||
			binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 { // MF or an offset
			return 0, 0, false
		}
		iphl = 20
	case len(pkt) >= 60 && pkt[0]>>4 == 6:
		if pkt[6] != protoTCP || int(binary.BigEndian.Uint16(pkt[4:]))+40 != len(pkt) {
			return 0, 0, false
		}
		iphl = 40
	default:
		return 0, 0, false
	}
	tcp := pkt[iphl:]
	thl = int(tcp[12]>>4) * 4
	if thl < 20 || thl >= len(tcp) {
		return 0, 0, false
	}
	if f := tcp[tcpFlags]; f != flagACK && f != flagACK|flagPSH {
		return 0, 0, false
	}
	return iphl, thl, true
}

// IsCandidate reports whether pkt is a TCP segment that GRO may merge.
func IsCandidate(pkt []byte) bool {
	_, _, ok := tcpCandidate(pkt)
	return ok
}

// SameFlow reports whether a and b are IP packets of the same TCP or UDP
// flow direction (addresses and ports), or at least not known to differ:
// it is what decides whether b may overtake a.
func SameFlow(a, b []byte) bool {
	if len(a) < 1 || len(b) < 1 || a[0]>>4 != b[0]>>4 {
		return false
	}
	switch a[0] >> 4 {
	case 4:
		if len(a) < 20 || len(b) < 20 || a[9] != b[9] || !bytes.Equal(a[12:20], b[12:20]) {
			return false
		}
		ha, hb := int(a[0]&0x0f)*4, int(b[0]&0x0f)*4
		if len(a) < ha+4 || len(b) < hb+4 {
			return true
		}
		return bytes.Equal(a[ha:ha+4], b[hb:hb+4])
	case 6:
		if len(a) < 44 || len(b) < 44 {
			return len(a) >= 40 && len(b) >= 40 && bytes.Equal(a[8:40], b[8:40])
		}
		return a[6] == b[6] && bytes.Equal(a[8:44], b[8:44])
	}
	return false
}

// tcpValid verifies the TCP checksum of a candidate.
func tcpValid(pkt []byte, iphl int) bool {
	var ps uint64
	if iphl == 20 {
		ps = csum.PseudoSum(protoTCP, pkt[12:16], pkt[16:20], len(pkt)-20)
	} else {
		ps = csum.PseudoSum(protoTCP, pkt[8:24], pkt[24:40], len(pkt)-40)
	}
	return csum.Fold(csum.Sum(pkt[iphl:], ps)) == 0xffff
}

// Start empties c and puts pkt in it as the first segment. It reports
// false, leaving c empty, when pkt is not a candidate (IsCandidate).
func (c *Coalescer) Start(pkt []byte) bool {
	c.n, c.segs = 0, 0
	iphl, thl, ok := tcpCandidate(pkt)
	if !ok || len(pkt) > len(c.buf)-HdrLen {
		return false
	}
	c.n = copy(c.buf[HdrLen:], pkt)
	c.v6, c.iphl, c.thl, c.segs = iphl == 40, iphl, thl, 1
	c.seg = len(pkt) - iphl - thl
	c.next = binary.BigEndian.Uint32(pkt[iphl+tcpSeq:]) + uint32(c.seg)
	c.ended = pkt[iphl+tcpFlags]&flagPSH != 0
	return true
}

// Add merges pkt into c if the rules allow, and reports whether it did.
// When it did not, the caller writes out what c holds (if pkt is of the
// same flow, before pkt) and may Start again with pkt.
func (c *Coalescer) Add(pkt []byte) bool {
	if c.n == 0 || c.ended {
		return false
	}
	iphl, thl, ok := tcpCandidate(pkt)
	if !ok || iphl != c.iphl || thl != c.thl {
		return false
	}
	pay := len(pkt) - iphl - thl
	if pay > c.seg || c.n+pay > MaxIPLen || HdrLen+c.n+pay > len(c.buf) {
		return false
	}
	head := c.buf[HdrLen : HdrLen+c.n]
	if binary.BigEndian.Uint32(pkt[iphl+tcpSeq:]) != c.next {
		return false
	}
	// IP: everything but lengths, ID and checksum.
	if c.v6 {
		if !bytes.Equal(head[0:4], pkt[0:4]) || !bytes.Equal(head[6:40], pkt[6:40]) {
			return false
		}
	} else {
		if head[1] != pkt[1] || head[6] != pkt[6] || head[7] != pkt[7] ||
			!bytes.Equal(head[8:10], pkt[8:10]) || !bytes.Equal(head[12:20], pkt[12:20]) {
			return false
		}
	}
	// TCP: ports, ack, offset, window, urgent pointer and options the
	// same; flags the same but for PSH.
	th, tp := head[iphl:iphl+thl], pkt[iphl:iphl+thl]
	if !bytes.Equal(th[0:4], tp[0:4]) || !bytes.Equal(th[8:13], tp[8:13]) ||
		(th[tcpFlags]^tp[tcpFlags])&^flagPSH != 0 ||
		!bytes.Equal(th[14:16], tp[14:16]) || !bytes.Equal(th[18:], tp[18:]) {
		return false
	}
	if c.segs == 1 && !tcpValid(head, iphl) {
		return false
	}
	if !tcpValid(pkt, iphl) {
		return false
	}
	copy(c.buf[HdrLen+c.n:], pkt[iphl+thl:])
	c.n += pay
	c.segs++
	c.next += uint32(pay)
	if tp[tcpFlags]&flagPSH != 0 {
		head[iphl+tcpFlags] |= flagPSH
		c.ended = true
	}
	if pay < c.seg {
		c.ended = true
	}
	return true
}

// Finish completes the super-packet and returns it with its
// virtio_net_hdr in front; the slice is valid until c is used again. A
// single segment is returned as it came with a zero header; merged ones
// get their lengths, IPv4 header checksum and a GSO header, and the TCP
// checksum field holds the pseudo-header sum for the kernel to complete.
func (c *Coalescer) Finish() []byte {
	out := c.buf[:HdrLen+c.n]
	if c.segs < 2 {
		Hdr{}.Put(out)
		return out
	}
	pkt := out[HdrLen:]
	h := Hdr{
		Flags:      FlagNeedsCsum,
		GSOType:    GSOTCPv4,
		HdrLen:     uint16(c.iphl + c.thl),
		GSOSize:    uint16(c.seg),
		CsumStart:  uint16(c.iphl),
		CsumOffset: tcpCsum,
	}
	var ps uint64
	if c.v6 {
		h.GSOType = GSOTCPv6
		binary.BigEndian.PutUint16(pkt[4:], uint16(c.n-40))
		ps = csum.PseudoSum(protoTCP, pkt[8:24], pkt[24:40], c.n-40)
	} else {
		binary.BigEndian.PutUint16(pkt[2:], uint16(c.n))
		pkt[10], pkt[11] = 0, 0
		binary.BigEndian.PutUint16(pkt[10:], csum.Checksum(pkt[:20]))
		ps = csum.PseudoSum(protoTCP, pkt[12:16], pkt[16:20], c.n-20)
	}
	binary.BigEndian.PutUint16(pkt[c.iphl+tcpCsum:], csum.Fold(ps))
	h.Put(out)
	return out
}
