// Package link6 encodes and decodes the IPv6 control messages a PPP
// link's ends exchange once IPv6CP is open, inside their IPv6 header:
// Neighbor Discovery's Router Solicitation and Router Advertisement (RFC
// 4861; nd.go) and DHCPv6 prefix delegation (RFC 8415; dhcpv6.go). On a
// PPP link there is no link-layer address and no address resolution (RFC
// 5072 §5): the server answers solicitations and advertises the session's
// prefix, and delegates prefixes; the client solicits and builds its
// address from the prefix (RFC 4862).
//
//	IPv6 header (RFC 8200 §3), 40 octets, Next Header 58, Hop Limit 255
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	RS (133): Reserved (4), options
//	RA (134): Cur Hop Limit | M|O|Reserved | Router Lifetime,
//	          Reachable Time (4), Retrans Timer (4), options
//	options: Type (1) | Length in units of 8 octets (1) | data
//
// No I/O, no logging.
package link6

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/vpdn/vpdn/internal/csum"
)

// ICMPv6 types of RFC 4861 §4.
const (
	TypeRouterSolicitation  = 133
	TypeRouterAdvertisement = 134
)

// Option types of RFC 4861 §4.6.
const (
	OptSourceLinkLayer = 1
	OptPrefixInfo      = 3
	OptMTU             = 5
)

const (
	ipv6HeaderLen = 40
	nextICMPv6    = 58
	// HopLimit is the hop limit of every ND message (RFC 4861 §6.1: a
	// receiver drops any other, so that it comes from the link).
	HopLimit = 255
	// MaxPrefixes bounds the Prefix Information options kept from one
	// Router Advertisement; later ones are ignored.
	MaxPrefixes = 8
)

// Errors, one per reason a message is dropped (counted by the caller).
var (
	ErrShort     = errors.New("link6: truncated")
	ErrNotND     = errors.New("link6: not an IPv6 ICMPv6 router solicitation or advertisement")
	ErrHopLimit  = errors.New("link6: hop limit is not 255")
	ErrChecksum  = errors.New("link6: bad checksum")
	ErrCode      = errors.New("link6: code is not 0")
	ErrOption    = errors.New("link6: option of length 0 or beyond the message")
	ErrSource    = errors.New("link6: router advertisement not from a link-local address")
	ErrUnspecSLL = errors.New("link6: solicitation from the unspecified address with a link-layer option")
)

// PrefixInfo is a Prefix Information option (RFC 4861 §4.6.2).
type PrefixInfo struct {
	Prefix     netip.Prefix
	OnLink     bool // L
	Autonomous bool // A: usable for stateless address autoconfiguration
	Valid      uint32
	Preferred  uint32
}

// RA is a Router Advertisement's content (RFC 4861 §4.2).
type RA struct {
	CurHopLimit    uint8
	Managed, Other bool
	RouterLifetime uint16 // seconds; 0: not a default router
	ReachableTime  uint32 // ms
	RetransTimer   uint32 // ms
	MTU            uint32 // 0: no MTU option
	Prefixes       []PrefixInfo
	MorePrefixes   int // Prefix Information options beyond MaxPrefixes, ignored
}

// Message is a parsed Router Solicitation or Advertisement.
type Message struct {
	Src, Dst netip.Addr
	Type     uint8
	RA       RA // for TypeRouterAdvertisement
}

// IsND reports, cheaply, whether the IPv6 packet pkt carries an ICMPv6
// Router Solicitation or Advertisement directly after its header (the data
// plane's test of what to hand to the control plane). It does not validate.
func IsND(pkt []byte) bool {
	return len(pkt) > ipv6HeaderLen && pkt[0]>>4 == 6 && pkt[6] == nextICMPv6 &&
		(pkt[ipv6HeaderLen] == TypeRouterSolicitation || pkt[ipv6HeaderLen] == TypeRouterAdvertisement)
}

// Parse validates an IPv6 packet carrying a Router Solicitation or
// Advertisement as RFC 4861 §6.1.1 and §6.1.2 say a receiver must: hop
// limit 255, a valid checksum, code 0, the message's minimum length,
// options of non-zero length inside the message; an advertisement from a
// link-local source; a solicitation from the unspecified address without a
// source link-layer address option.
func Parse(pkt []byte) (Message, error) {
	var m Message
	if len(pkt) < ipv6HeaderLen+8 {
		return m, ErrShort
	}
	if pkt[0]>>4 != 6 || pkt[6] != nextICMPv6 {
		return m, ErrNotND
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if ipv6HeaderLen+plen > len(pkt) {
		return m, ErrShort
	}
	body := pkt[ipv6HeaderLen : ipv6HeaderLen+plen]
	if len(body) < 8 {
		return m, ErrShort
	}
	m.Src = netip.AddrFrom16([16]byte(pkt[8:24]))
	m.Dst = netip.AddrFrom16([16]byte(pkt[24:40]))
	m.Type = body[0]
	var opts []byte
	switch m.Type {
	case TypeRouterSolicitation:
		opts = body[8:]
	case TypeRouterAdvertisement:
		if len(body) < 16 {
			return m, ErrShort
		}
		opts = body[16:]
	default:
		return m, ErrNotND
	}
	if pkt[7] != HopLimit {
		return m, ErrHopLimit
	}
	if Checksum(m.Src, m.Dst, body) != 0 {
		return m, ErrChecksum
	}
	if body[1] != 0 {
		return m, ErrCode
	}
	if m.Type == TypeRouterAdvertisement {
		if !m.Src.IsLinkLocalUnicast() {
			return m, ErrSource
		}
		ra := &m.RA
		ra.CurHopLimit = body[4]
		ra.Managed, ra.Other = body[5]&0x80 != 0, body[5]&0x40 != 0
		ra.RouterLifetime = binary.BigEndian.Uint16(body[6:8])
		ra.ReachableTime = binary.BigEndian.Uint32(body[8:12])
		ra.RetransTimer = binary.BigEndian.Uint32(body[12:16])
	}
	for len(opts) > 0 {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return m, ErrOption
		}
		o := opts[:int(opts[1])*8]
		opts = opts[len(o):]
		switch {
		case o[0] == OptSourceLinkLayer && m.Type == TypeRouterSolicitation && m.Src.IsUnspecified():
			return m, ErrUnspecSLL
		case m.Type != TypeRouterAdvertisement:
		case o[0] == OptMTU && len(o) == 8:
			m.RA.MTU = binary.BigEndian.Uint32(o[4:8])
		case o[0] == OptPrefixInfo && len(o) == 32:
			// RFC 4861 §6.3.4: a prefix length beyond 128 is silently
			// ignored, as is the link-local prefix (RFC 4862 §5.5.3).
			if o[2] > 128 {
				continue
			}
			p := PrefixInfo{OnLink: o[3]&0x80 != 0, Autonomous: o[3]&0x40 != 0,
				Valid: binary.BigEndian.Uint32(o[4:8]), Preferred: binary.BigEndian.Uint32(o[8:12]),
				Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte(o[16:32])), int(o[2])).Masked()}
			if len(m.RA.Prefixes) >= MaxPrefixes {
				m.RA.MorePrefixes++
				continue
			}
			m.RA.Prefixes = append(m.RA.Prefixes, p)
		}
	}
	return m, nil
}

// AllRouters and AllNodes are the link-scope multicast groups of RFC 4291
// §2.7.1 that solicitations and unsolicited advertisements go to.
var (
	AllRouters = netip.MustParseAddr("ff02::2")
	AllNodes   = netip.MustParseAddr("ff02::1")
)

// AppendRS appends an IPv6 packet carrying a Router Solicitation from src
// to the all-routers group, without options (a PPP link has no link-layer
// address).
func AppendRS(b []byte, src netip.Addr) []byte {
	start := len(b)
	b = appendHeader(b, src, AllRouters, 8)
	b = append(b, TypeRouterSolicitation, 0, 0, 0, 0, 0, 0, 0)
	return finish(b, start)
}

// AppendRA appends an IPv6 packet carrying the Router Advertisement ra
// from src (link-local) to dst: its MTU option when ra.MTU is set and one
// Prefix Information option per prefix.
func AppendRA(b []byte, src, dst netip.Addr, ra *RA) []byte {
	n := 16 + 32*len(ra.Prefixes)
	if ra.MTU != 0 {
		n += 8
	}
	start := len(b)
	b = appendHeader(b, src, dst, n)
	var flags byte
	if ra.Managed {
		flags |= 0x80
	}
	if ra.Other {
		flags |= 0x40
	}
	b = append(b, TypeRouterAdvertisement, 0, 0, 0, ra.CurHopLimit, flags)
	b = binary.BigEndian.AppendUint16(b, ra.RouterLifetime)
	b = binary.BigEndian.AppendUint32(b, ra.ReachableTime)
	b = binary.BigEndian.AppendUint32(b, ra.RetransTimer)
	if ra.MTU != 0 {
		b = append(b, OptMTU, 1, 0, 0)
		b = binary.BigEndian.AppendUint32(b, ra.MTU)
	}
	for _, p := range ra.Prefixes {
		var fl byte
		if p.OnLink {
			fl |= 0x80
		}
		if p.Autonomous {
			fl |= 0x40
		}
		b = append(b, OptPrefixInfo, 4, byte(p.Prefix.Bits()), fl)
		b = binary.BigEndian.AppendUint32(b, p.Valid)
		b = binary.BigEndian.AppendUint32(b, p.Preferred)
		b = append(b, 0, 0, 0, 0)
		a := p.Prefix.Masked().Addr().As16()
		b = append(b, a[:]...)
	}
	return finish(b, start)
}

func appendHeader(b []byte, src, dst netip.Addr, plen int) []byte {
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(plen))
	b = append(b, nextICMPv6, HopLimit)
	s, d := src.As16(), dst.As16()
	b = append(b, s[:]...)
	return append(b, d[:]...)
}

// finish writes the ICMPv6 checksum of the packet at b[start:].
func finish(b []byte, start int) []byte {
	pkt := b[start:]
	body := pkt[ipv6HeaderLen:]
	src := netip.AddrFrom16([16]byte(pkt[8:24]))
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	binary.BigEndian.PutUint16(body[2:4], Checksum(src, dst, body))
	return b
}

// Checksum is the ICMPv6 checksum of body over the pseudo-header of RFC
// 8200 §8.1: with the checksum field zero it is the value to put there;
// over a message that carries it, 0 when it is right.
func Checksum(src, dst netip.Addr, body []byte) uint16 {
	return checksum(src, dst, nextICMPv6, body)
}

// checksum is the Internet checksum of body (of upper-layer protocol
// next) over the IPv6 pseudo-header (RFC 8200 §8.1).
func checksum(src, dst netip.Addr, next uint8, body []byte) uint16 {
	s, d := src.As16(), dst.As16()
	return ^csum.Fold(csum.Sum(body, csum.PseudoSum(next, s[:], d[:], len(body))))
}

// SLAAC is the address stateless autoconfiguration forms from a /64
// prefix and an interface identifier (RFC 4862 §5.5.3); false when the
// prefix is not 64 bits long (RFC 4291 §2.5.1).
func SLAAC(p netip.Prefix, id [8]byte) (netip.Addr, bool) {
	if p.Bits() != 64 || !p.Addr().Is6() {
		return netip.Addr{}, false
	}
	a := p.Masked().Addr().As16()
	copy(a[8:], id[:])
	return netip.AddrFrom16(a), true
}
