package ppp

import (
	"net/netip"
	"strconv"
)

// IPCP Configuration Option types, RFC 1332 §3 and RFC 1877 §1.
const (
	IPCPOptAddresses     uint8 = 1   // IP-Addresses (deprecated), RFC 1172
	IPCPOptCompression   uint8 = 2   // IP-Compression-Protocol, RFC 1332 §3.2
	IPCPOptAddress       uint8 = 3   // IP-Address, RFC 1332 §3.3
	IPCPOptPrimaryDNS    uint8 = 129 // RFC 1877 §1.1
	IPCPOptPrimaryNBNS   uint8 = 130 // RFC 1877 §1.2
	IPCPOptSecondaryDNS  uint8 = 131 // RFC 1877 §1.3
	IPCPOptSecondaryNBNS uint8 = 132 // RFC 1877 §1.4
)

// IPCPOptionName returns the option name IOS prints in negotiation debugs.
func IPCPOptionName(t uint8) string {
	switch t {
	case IPCPOptAddresses:
		return "Addresses"
	case IPCPOptCompression:
		return "CompressType"
	case IPCPOptAddress:
		return "Address"
	case IPCPOptPrimaryDNS:
		return "PrimaryDNS"
	case IPCPOptPrimaryNBNS:
		return "PrimaryWINS"
	case IPCPOptSecondaryDNS:
		return "SecondaryDNS"
	case IPCPOptSecondaryNBNS:
		return "SecondaryWINS"
	}
	return "Type" + strconv.Itoa(int(t))
}

// OptionAddr decodes a four-octet IPv4 address option value.
func OptionAddr(v []byte) (netip.Addr, error) {
	if len(v) != 4 {
		return netip.Addr{}, ErrOptionValue
	}
	return netip.AddrFrom4([4]byte(v)), nil
}

// AppendOptionAddr appends an IPv4 address option. An invalid or non-IPv4
// address is sent as 0.0.0.0, the "please assign one" value of RFC 1332
// §3.3 and RFC 1877.
func AppendOptionAddr(dst []byte, typ uint8, a netip.Addr) []byte {
	var b [4]byte
	if a.Is4() {
		b = a.As4()
	}
	return append(dst, typ, 6, b[0], b[1], b[2], b[3])
}

// IPv6CP Configuration Option types, RFC 5072 §4.
const (
	IPv6CPOptInterfaceID uint8 = 1 // Interface-Identifier, §4.1
	IPv6CPOptCompression uint8 = 2 // IPv6-Compression-Protocol, §4.2
)

// IPv6CPOptionName returns the option name for negotiation debugs.
func IPv6CPOptionName(t uint8) string {
	switch t {
	case IPv6CPOptInterfaceID:
		return "InterfaceID"
	case IPv6CPOptCompression:
		return "CompressType"
	}
	return "Type" + strconv.Itoa(int(t))
}

// InterfaceID is an IPv6CP interface identifier (RFC 5072 §4.1).
type InterfaceID [8]byte

// IsZero reports whether id is all zeros, which RFC 5072 §4.1 reserves.
func (id InterfaceID) IsZero() bool { return id == InterfaceID{} }

// String is the identifier as IOS's debug prints it: "0200:0000:0000:0009".
func (id InterfaceID) String() string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, 19)
	for i, c := range id {
		if i > 0 && i%2 == 0 {
			b = append(b, ':')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return string(b)
}

// LinkLocal returns the link-local address fe80::/64 + id (RFC 5072 §5).
func (id InterfaceID) LinkLocal() netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}

// OptionInterfaceID decodes an Interface-Identifier option value.
func OptionInterfaceID(v []byte) (InterfaceID, error) {
	if len(v) != 8 {
		return InterfaceID{}, ErrOptionValue
	}
	return InterfaceID(v), nil
}

// AppendOptionInterfaceID appends an Interface-Identifier option.
func AppendOptionInterfaceID(dst []byte, id InterfaceID) []byte {
	return AppendOption(dst, IPv6CPOptInterfaceID, id[:])
}
