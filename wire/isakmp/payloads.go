package isakmp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Nonce lengths allowed by RFC 2409 §5: between 8 and 256 octets.
const (
	MinNonceLen = 8
	MaxNonceLen = 256
)

// ID is an Identification payload body in the IPsec DOI (RFC 2407
// §4.6.2): type, IP protocol, port and the identification data (aliasing
// the buffer).
type ID struct {
	Type     IDType
	Protocol uint8
	Port     uint16
	Data     []byte
}

// ParseID decodes an ID payload body and checks the data's length against
// its type.
func ParseID(body []byte) (ID, error) {
	if len(body) < 4 {
		return ID{}, fmt.Errorf("%w: ID body of %d octets", ErrPayload, len(body))
	}
	id := ID{Type: IDType(body[0]), Protocol: body[1], Port: binary.BigEndian.Uint16(body[2:]), Data: body[4:]}
	want := 0
	switch id.Type {
	case IDIPv4Addr:
		want = 4
	case IDIPv4AddrSubnet, IDIPv4AddrRange:
		want = 8
	case IDIPv6Addr:
		want = 16
	case IDIPv6AddrSubnet, IDIPv6AddrRange:
		want = 32
	case IDFQDN, IDUserFQDN, IDKeyID, IDDERASN1DN, IDDERASN1GN:
		if len(id.Data) == 0 {
			return id, fmt.Errorf("%w: empty %s", ErrPayload, id.Type)
		}
		return id, nil
	default:
		return id, fmt.Errorf("%w: ID type %d", ErrPayload, id.Type)
	}
	if len(id.Data) != want {
		return id, fmt.Errorf("%w: %s with %d octets", ErrPayload, id.Type, len(id.Data))
	}
	if id.Type == IDIPv4AddrSubnet || id.Type == IDIPv6AddrSubnet {
		if _, err := id.Prefix(); err != nil {
			return id, err
		}
	}
	return id, nil
}

// AppendID appends an ID payload body.
func AppendID(b []byte, id ID) []byte {
	b = append(b, byte(id.Type), id.Protocol)
	b = binary.BigEndian.AppendUint16(b, id.Port)
	return append(b, id.Data...)
}

// IDAddr returns an ID of a single address (ID_IPV4_ADDR or ID_IPV6_ADDR).
func IDAddr(a netip.Addr, proto uint8, port uint16) ID {
	if a.Is4() {
		v := a.As4()
		return ID{Type: IDIPv4Addr, Protocol: proto, Port: port, Data: v[:]}
	}
	v := a.As16()
	return ID{Type: IDIPv6Addr, Protocol: proto, Port: port, Data: v[:]}
}

// IDSubnet returns an ID of a subnet (ID_IPV4_ADDR_SUBNET or
// ID_IPV6_ADDR_SUBNET): address and mask.
func IDSubnet(p netip.Prefix, proto uint8, port uint16) ID {
	p = p.Masked()
	a := p.Addr()
	if a.Is4() {
		v := a.As4()
		m := uint32(0)
		if p.Bits() > 0 {
			m = ^uint32(0) << (32 - p.Bits())
		}
		d := binary.BigEndian.AppendUint32(append([]byte(nil), v[:]...), m)
		return ID{Type: IDIPv4AddrSubnet, Protocol: proto, Port: port, Data: d}
	}
	v := a.As16()
	d := append([]byte(nil), v[:]...)
	for i := range 16 {
		bits := min(max(p.Bits()-8*i, 0), 8)
		d = append(d, byte(0xff<<(8-bits)))
	}
	return ID{Type: IDIPv6AddrSubnet, Protocol: proto, Port: port, Data: d}
}

// Prefix returns the ID's addresses as a prefix: a host prefix for an
// address ID, the subnet for a subnet ID (whose mask must be contiguous).
func (id ID) Prefix() (netip.Prefix, error) {
	switch id.Type {
	case IDIPv4Addr, IDIPv6Addr:
		if a, ok := netip.AddrFromSlice(id.Data); ok {
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		n := len(id.Data) / 2
		a, ok := netip.AddrFromSlice(id.Data[:n])
		if !ok {
			break
		}
		bits, seenZero := 0, false
		for _, c := range id.Data[n:] {
			for i := 7; i >= 0; i-- {
				if c&(1<<i) != 0 {
					if seenZero {
						return netip.Prefix{}, fmt.Errorf("%w: %s mask not contiguous", ErrPayload, id.Type)
					}
					bits++
				} else {
					seenZero = true
				}
			}
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	return netip.Prefix{}, fmt.Errorf("%w: %s is not an address", ErrPayload, id.Type)
}

// Range returns the first and last address of a range ID.
func (id ID) Range() (first, last netip.Addr, err error) {
	if id.Type != IDIPv4AddrRange && id.Type != IDIPv6AddrRange {
		return first, last, fmt.Errorf("%w: %s is not a range", ErrPayload, id.Type)
	}
	n := len(id.Data) / 2
	first, _ = netip.AddrFromSlice(id.Data[:n])
	last, _ = netip.AddrFromSlice(id.Data[n:])
	return first, last, nil
}

// Notification is a Notification payload body (RFC 2408 §3.14).
type Notification struct {
	DOI      uint32
	Protocol ProtocolID
	Type     NotifyType
	SPI      []byte
	Data     []byte
}

// ParseNotification decodes a Notification payload body.
func ParseNotification(body []byte) (Notification, error) {
	if len(body) < 8 {
		return Notification{}, fmt.Errorf("%w: notification of %d octets", ErrPayload, len(body))
	}
	n := Notification{DOI: binary.BigEndian.Uint32(body), Protocol: ProtocolID(body[4]), Type: NotifyType(binary.BigEndian.Uint16(body[6:]))}
	sz := int(body[5])
	if 8+sz > len(body) {
		return n, fmt.Errorf("%w: notification SPI of %d octets, %d left", ErrPayload, sz, len(body)-8)
	}
	n.SPI = body[8 : 8+sz : 8+sz]
	n.Data = body[8+sz:]
	return n, nil
}

// AppendNotification appends a Notification payload body.
func AppendNotification(b []byte, n Notification) []byte {
	b = binary.BigEndian.AppendUint32(b, n.DOI)
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = binary.BigEndian.AppendUint16(b, uint16(n.Type))
	b = append(b, n.SPI...)
	return append(b, n.Data...)
}

// Delete is a Delete payload body (RFC 2408 §3.15): SPIs holds NumSPIs
// SPIs of SPISize octets each.
type Delete struct {
	DOI      uint32
	Protocol ProtocolID
	SPISize  uint8
	NumSPIs  uint16
	SPIs     []byte
}

// ParseDelete decodes a Delete payload body.
func ParseDelete(body []byte) (Delete, error) {
	if len(body) < 8 {
		return Delete{}, fmt.Errorf("%w: delete of %d octets", ErrPayload, len(body))
	}
	d := Delete{DOI: binary.BigEndian.Uint32(body), Protocol: ProtocolID(body[4]), SPISize: body[5], NumSPIs: binary.BigEndian.Uint16(body[6:]), SPIs: body[8:]}
	if d.SPISize == 0 || d.NumSPIs == 0 || len(d.SPIs) != int(d.SPISize)*int(d.NumSPIs) {
		return d, fmt.Errorf("%w: delete of %d SPIs of %d octets in %d", ErrPayload, d.NumSPIs, d.SPISize, len(d.SPIs))
	}
	return d, nil
}

// SPI returns the i-th SPI.
func (d Delete) SPI(i int) []byte {
	s := int(d.SPISize)
	return d.SPIs[i*s : (i+1)*s : (i+1)*s]
}

// AppendDelete appends a Delete payload body for spis, all of one size.
func AppendDelete(b []byte, proto ProtocolID, spis ...[]byte) []byte {
	b = binary.BigEndian.AppendUint32(b, DOIIPsec)
	sz := 0
	if len(spis) > 0 {
		sz = len(spis[0])
	}
	b = append(b, byte(proto), byte(sz))
	b = binary.BigEndian.AppendUint16(b, uint16(len(spis)))
	for _, s := range spis {
		b = append(b, s...)
	}
	return b
}

// Cert is a Certificate or Certificate Request payload body (RFC 2408
// §3.9, §3.10): an encoding and its data (for CR, the authority).
type Cert struct {
	Encoding uint8
	Data     []byte
}

// ParseCert decodes a CERT or CR payload body.
func ParseCert(body []byte) (Cert, error) {
	if len(body) < 1 {
		return Cert{}, fmt.Errorf("%w: empty certificate payload", ErrPayload)
	}
	return Cert{Encoding: body[0], Data: body[1:]}, nil
}

// AppendCert appends a CERT or CR payload body.
func AppendCert(b []byte, c Cert) []byte { return append(append(b, c.Encoding), c.Data...) }

// CfgAttrs is an attribute payload body (draft-dukes-ike-mode-cfg §3.2):
// the message type, an identifier and the attributes, for NewAttrDecoder.
type CfgAttrs struct {
	Type       CfgType
	Identifier uint16
	Attrs      []byte
}

// ParseCfgAttrs decodes an attribute payload body and checks its
// attribute list.
func ParseCfgAttrs(body []byte) (CfgAttrs, error) {
	if len(body) < 4 {
		return CfgAttrs{}, fmt.Errorf("%w: attribute payload of %d octets", ErrPayload, len(body))
	}
	c := CfgAttrs{Type: CfgType(body[0]), Identifier: binary.BigEndian.Uint16(body[2:]), Attrs: body[4:]}
	if c.Type < CfgRequest || c.Type > CfgAck {
		return c, fmt.Errorf("%w: attribute payload type %d", ErrPayload, c.Type)
	}
	d := NewAttrDecoder(c.Attrs)
	for d.Next() {
	}
	return c, d.Err()
}

// AppendCfgAttrs appends an attribute payload body.
func AppendCfgAttrs(b []byte, t CfgType, ident uint16, attrs ...Attr) []byte {
	b = append(b, byte(t), 0)
	b = binary.BigEndian.AppendUint16(b, ident)
	for _, a := range attrs {
		b = AppendAttr(b, a)
	}
	return b
}
