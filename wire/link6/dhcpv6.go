package link6

// DHCPv6 prefix delegation (RFC 8415) between a PPP server and its client
// on the link: Solicit, Request, Renew, Rebind, Release from the client
// (UDP 546 to 547), Advertise and Reply from the server, with the Client
// and Server Identifier, IA_PD, IA Prefix, Status Code and Rapid Commit
// options; and their IPv6/UDP wrapping.
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    msg-type   |               transaction-id                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  options: option-code (2) | option-len (2) | option-data ...   |
//	IA_PD (25):    IAID (4), T1 (4), T2 (4), options (IA Prefix 26, Status Code 13)
//	IA Prefix (26): preferred (4), valid (4), prefix-length (1), prefix (16), options

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// DHCPv6 message types (RFC 8415 §7.3).
const (
	DHCPSolicit   = 1
	DHCPAdvertise = 2
	DHCPRequest   = 3
	DHCPRenew     = 5
	DHCPRebind    = 6
	DHCPReply     = 7
	DHCPRelease   = 8
)

// DHCPv6 option codes (RFC 8415 §21).
const (
	DHCPOptClientID    = 1
	DHCPOptServerID    = 2
	DHCPOptStatusCode  = 13
	DHCPOptRapidCommit = 14
	DHCPOptIAPD        = 25
	DHCPOptIAPrefix    = 26
)

// DHCPv6 status codes (RFC 8415 §21.13).
const (
	DHCPStatusSuccess       = 0
	DHCPStatusNoPrefixAvail = 6
)

// DHCPv6 ports (RFC 8415 §7.2).
const (
	DHCPClientPort = 546
	DHCPServerPort = 547
)

// Bounds of what a parsed DHCPv6 message keeps: a peer cannot make us
// hold more.
const (
	MaxIAPD       = 4   // IA_PD options kept
	MaxIAPrefixes = 8   // IA Prefix options kept per IA_PD
	MaxDUID       = 130 // RFC 8415 §11.1: a DUID is at most 128 octets, plus its type
)

// AllDHCPServers is All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
var AllDHCPServers = netip.MustParseAddr("ff02::1:2")

// DHCPv6 errors, one per reason a message is dropped.
var (
	ErrDHCPShort   = errors.New("link6: DHCPv6 truncated")
	ErrDHCPOption  = errors.New("link6: DHCPv6 option beyond the message or malformed")
	ErrNotDHCP     = errors.New("link6: not an IPv6 UDP datagram to a DHCPv6 port")
	ErrUDPChecksum = errors.New("link6: bad UDP checksum")
	ErrDUID        = errors.New("link6: DHCPv6 identifier not a DUID (2 to 130 octets)")
)

// IAPrefix is a DHCPv6 IA Prefix option (RFC 8415 §21.22).
type IAPrefix struct {
	Preferred, Valid uint32
	Prefix           netip.Prefix
}

// IAPD is an IA_PD option (RFC 8415 §21.21).
type IAPD struct {
	IAID     uint32
	T1, T2   uint32
	Prefixes []IAPrefix
	// Status is the IA's Status Code (HasStatus: present).
	Status    uint16
	HasStatus bool
}

// DHCPMessage is a DHCPv6 message with the options of prefix delegation.
type DHCPMessage struct {
	Type               uint8
	XID                [3]byte
	ClientID, ServerID []byte
	RapidCommit        bool
	IAPD               []IAPD
	Status             uint16 // the message's Status Code
	HasStatus          bool
}

// options iterates over options, checking each fits.
func options(b []byte, f func(code uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return ErrDHCPOption
		}
		code, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			return ErrDHCPOption
		}
		if err := f(code, b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

// ParseDHCP decodes a DHCPv6 message (a UDP payload). Options it does not
// know are skipped; IA_PDs and prefixes beyond the bounds are ignored.
func ParseDHCP(b []byte) (DHCPMessage, error) {
	var m DHCPMessage
	if len(b) < 4 {
		return m, ErrDHCPShort
	}
	m.Type = b[0]
	copy(m.XID[:], b[1:4])
	err := options(b[4:], func(code uint16, v []byte) error {
		switch code {
		case DHCPOptClientID, DHCPOptServerID:
			if len(v) > MaxDUID || len(v) < 2 {
				return ErrDUID
			}
			if code == DHCPOptClientID {
				m.ClientID = append([]byte(nil), v...)
			} else {
				m.ServerID = append([]byte(nil), v...)
			}
		case DHCPOptRapidCommit:
			m.RapidCommit = true
		case DHCPOptStatusCode:
			if len(v) < 2 {
				return ErrDHCPOption
			}
			m.Status, m.HasStatus = binary.BigEndian.Uint16(v), true
		case DHCPOptIAPD:
			ia, err := parseIAPD(v)
			if err != nil {
				return err
			}
			if len(m.IAPD) < MaxIAPD {
				m.IAPD = append(m.IAPD, ia)
			}
		}
		return nil
	})
	return m, err
}

func parseIAPD(v []byte) (IAPD, error) {
	var ia IAPD
	if len(v) < 12 {
		return ia, ErrDHCPOption
	}
	ia.IAID, ia.T1, ia.T2 = binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:]), binary.BigEndian.Uint32(v[8:])
	err := options(v[12:], func(code uint16, o []byte) error {
		switch code {
		case DHCPOptIAPrefix:
			if len(o) < 25 || o[8] > 128 {
				return ErrDHCPOption
			}
			p := IAPrefix{Preferred: binary.BigEndian.Uint32(o), Valid: binary.BigEndian.Uint32(o[4:]),
				Prefix: netip.PrefixFrom(netip.AddrFrom16([16]byte(o[9:25])), int(o[8])).Masked()}
			if len(ia.Prefixes) < MaxIAPrefixes {
				ia.Prefixes = append(ia.Prefixes, p)
			}
		case DHCPOptStatusCode:
			if len(o) < 2 {
				return ErrDHCPOption
			}
			ia.Status, ia.HasStatus = binary.BigEndian.Uint16(o), true
		}
		return nil
	})
	return ia, err
}

func appendOpt(b []byte, code uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func appendStatus(b []byte, code uint16) []byte {
	return appendOpt(b, DHCPOptStatusCode, binary.BigEndian.AppendUint16(nil, code))
}

// AppendDHCP encodes m.
func AppendDHCP(b []byte, m *DHCPMessage) []byte {
	b = append(b, m.Type, m.XID[0], m.XID[1], m.XID[2])
	if m.ClientID != nil {
		b = appendOpt(b, DHCPOptClientID, m.ClientID)
	}
	if m.ServerID != nil {
		b = appendOpt(b, DHCPOptServerID, m.ServerID)
	}
	if m.RapidCommit {
		b = appendOpt(b, DHCPOptRapidCommit, nil)
	}
	if m.HasStatus {
		b = appendStatus(b, m.Status)
	}
	for _, ia := range m.IAPD {
		var v []byte
		v = binary.BigEndian.AppendUint32(v, ia.IAID)
		v = binary.BigEndian.AppendUint32(v, ia.T1)
		v = binary.BigEndian.AppendUint32(v, ia.T2)
		for _, p := range ia.Prefixes {
			var o []byte
			o = binary.BigEndian.AppendUint32(o, p.Preferred)
			o = binary.BigEndian.AppendUint32(o, p.Valid)
			a := p.Prefix.Masked().Addr().As16()
			o = append(append(o, byte(p.Prefix.Bits())), a[:]...)
			v = appendOpt(v, DHCPOptIAPrefix, o)
		}
		if ia.HasStatus {
			v = appendStatus(v, ia.Status)
		}
		b = appendOpt(b, DHCPOptIAPD, v)
	}
	return b
}

const (
	udpHeaderLen = 8
	nextUDP      = 17
)

// IsDHCPTo reports, cheaply, whether the IPv6 packet pkt is a UDP
// datagram to port (DHCPServerPort, DHCPClientPort) directly after its
// header (the data plane's test of what to hand to the control plane).
// It does not validate.
func IsDHCPTo(pkt []byte, port uint16) bool {
	return len(pkt) >= ipv6HeaderLen+udpHeaderLen && pkt[0]>>4 == 6 && pkt[6] == nextUDP &&
		binary.BigEndian.Uint16(pkt[ipv6HeaderLen+2:]) == port
}

// Datagram is a DHCPv6 UDP datagram's addressing and payload.
type Datagram struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Payload          []byte // aliases the packet
}

// ParseUDP validates the IPv6 header and UDP header and checksum (RFC
// 8200 §8.1: mandatory over IPv6) of pkt and returns its datagram.
func ParseUDP(pkt []byte) (Datagram, error) {
	var d Datagram
	if len(pkt) < ipv6HeaderLen+udpHeaderLen {
		return d, ErrDHCPShort
	}
	if pkt[0]>>4 != 6 || pkt[6] != nextUDP {
		return d, ErrNotDHCP
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:]))
	if plen < udpHeaderLen || ipv6HeaderLen+plen > len(pkt) {
		return d, ErrDHCPShort
	}
	u := pkt[ipv6HeaderLen : ipv6HeaderLen+plen]
	ulen := int(binary.BigEndian.Uint16(u[4:]))
	if ulen < udpHeaderLen || ulen > len(u) {
		return d, ErrDHCPShort
	}
	u = u[:ulen]
	d.Src, d.Dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
	d.SrcPort, d.DstPort = binary.BigEndian.Uint16(u), binary.BigEndian.Uint16(u[2:])
	if binary.BigEndian.Uint16(u[6:]) == 0 || checksum(d.Src, d.Dst, nextUDP, u) != 0 {
		return d, ErrUDPChecksum
	}
	if d.DstPort != DHCPServerPort && d.DstPort != DHCPClientPort {
		return d, ErrNotDHCP
	}
	d.Payload = u[udpHeaderLen:]
	return d, nil
}

// AppendUDP appends an IPv6 packet (hop limit 255: it stays on the link)
// carrying payload from src:sport to dst:dport, with its UDP checksum.
func AppendUDP(b []byte, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	n := udpHeaderLen + len(payload)
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, nextUDP, 255)
	s, d := src.As16(), dst.As16()
	b = append(append(b, s[:]...), d[:]...)
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, 0, 0)
	b = append(b, payload...)
	c := checksum(src, dst, nextUDP, b[start:])
	if c == 0 {
		c = 0xffff // RFC 8200 §8.1: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(b[start+6:], c)
	return b
}
