package ppp

import "strconv"

// Protocol is the PPP Protocol field (RFC 1661 §2). Values are assigned by
// IANA; the least significant bit of the low octet is 1 and that of the high
// octet is 0, which is what makes Protocol-Field-Compression decodable.
type Protocol uint16

// Protocol numbers used by vpdn.
const (
	ProtoIPv4       Protocol = 0x0021 // Internet Protocol version 4
	ProtoIPv6       Protocol = 0x0057 // Internet Protocol version 6
	ProtoCompressed Protocol = 0x00FD // compressed datagram (CCP, RFC 1962)
	ProtoIPCP       Protocol = 0x8021 // IP Control Protocol, RFC 1332
	ProtoIPv6CP     Protocol = 0x8057 // IPv6 Control Protocol, RFC 5072
	ProtoCCP        Protocol = 0x80FD // Compression Control Protocol, RFC 1962
	ProtoLCP        Protocol = 0xC021 // Link Control Protocol, RFC 1661
	ProtoPAP        Protocol = 0xC023 // Password Authentication Protocol, RFC 1334
	ProtoLQR        Protocol = 0xC025 // Link Quality Report, RFC 1989
	ProtoCHAP       Protocol = 0xC223 // Challenge Handshake Authentication Protocol, RFC 1994
	ProtoEAP        Protocol = 0xC227 // Extensible Authentication Protocol, RFC 3748
)

// Valid reports whether p has the bit pattern RFC 1661 §2 requires: low
// octet odd, high octet even.
func (p Protocol) Valid() bool { return p&0x0001 == 1 && p&0x0100 == 0 }

// Compressible reports whether p may be sent in one octet under PFC (RFC 1661
// §6.5): only values whose high octet is zero.
func (p Protocol) Compressible() bool { return p < 0x100 }

// IsControl reports whether p is a control protocol (LCP, NCPs, auth):
// RFC 1661 §2, values 0x8000-0xffff.
func (p Protocol) IsControl() bool { return p >= 0x8000 }

func (p Protocol) String() string {
	switch p {
	case ProtoIPv4:
		return "IP"
	case ProtoIPv6:
		return "IPV6"
	case ProtoCompressed:
		return "COMP"
	case ProtoIPCP:
		return "IPCP"
	case ProtoIPv6CP:
		return "IPV6CP"
	case ProtoCCP:
		return "CCP"
	case ProtoLCP:
		return "LCP"
	case ProtoPAP:
		return "PAP"
	case ProtoLQR:
		return "LQR"
	case ProtoCHAP:
		return "CHAP"
	case ProtoEAP:
		return "EAP"
	}
	return "0x" + strconv.FormatUint(uint64(p)|0x10000, 16)[1:]
}
