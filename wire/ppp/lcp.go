package ppp

import (
	"encoding/binary"
	"strconv"
)

// LCP Configuration Option types, RFC 1661 §6 and the IANA registry.
const (
	LCPOptMRU       uint8 = 1  // Maximum-Receive-Unit, §6.1
	LCPOptACCM      uint8 = 2  // Async-Control-Character-Map, RFC 1662 §7.1
	LCPOptAuthProto uint8 = 3  // Authentication-Protocol, §6.2
	LCPOptQuality   uint8 = 4  // Quality-Protocol, §6.3
	LCPOptMagic     uint8 = 5  // Magic-Number, §6.4
	LCPOptPFC       uint8 = 7  // Protocol-Field-Compression, §6.5
	LCPOptACFC      uint8 = 8  // Address-and-Control-Field-Compression, §6.6
	LCPOptCallback  uint8 = 13 // Callback, RFC 1570
	LCPOptMRRU      uint8 = 17 // Multilink MRRU, RFC 1990
	LCPOptEndpoint  uint8 = 19 // Multilink Endpoint Discriminator, RFC 1990
)

// LCPOptionName returns the option name IOS prints in negotiation debugs.
func LCPOptionName(t uint8) string {
	switch t {
	case LCPOptMRU:
		return "MRU"
	case LCPOptACCM:
		return "ACCM"
	case LCPOptAuthProto:
		return "AuthProto"
	case LCPOptQuality:
		return "QualityType"
	case LCPOptMagic:
		return "MagicNumber"
	case LCPOptPFC:
		return "PFC"
	case LCPOptACFC:
		return "ACFC"
	case LCPOptCallback:
		return "Callback"
	case LCPOptMRRU:
		return "MRRU"
	case LCPOptEndpoint:
		return "EndpointDisc"
	}
	return "Type" + strconv.Itoa(int(t))
}

// CHAP algorithm octets of the Authentication-Protocol option.
const (
	CHAPMD5    uint8 = 0x05 // RFC 1994
	CHAPMSv1   uint8 = 0x80 // RFC 2433 §2
	CHAPMSv2   uint8 = 0x81 // RFC 2759 §2
	DefaultMRU       = 1500
	MinMTU           = 64
)

// AuthProto is the value of the Authentication-Protocol option: the
// protocol and, for CHAP, the algorithm.
type AuthProto struct {
	Protocol  Protocol
	Algorithm uint8 // CHAP only
}

// ParseAuthProto decodes an Authentication-Protocol option value. CHAP must
// name an algorithm (RFC 1994 §3); PAP and EAP carry none, but trailing data
// is tolerated for protocols vpdn does not know.
func ParseAuthProto(v []byte) (AuthProto, error) {
	if len(v) < 2 {
		return AuthProto{}, ErrOptionValue
	}
	a := AuthProto{Protocol: Protocol(binary.BigEndian.Uint16(v))}
	switch a.Protocol {
	case ProtoCHAP:
		if len(v) != 3 {
			return AuthProto{}, ErrOptionValue
		}
		a.Algorithm = v[2]
	case ProtoPAP, ProtoEAP:
		if len(v) != 2 {
			return AuthProto{}, ErrOptionValue
		}
	}
	return a, nil
}

// AppendAuthProtoOption appends an Authentication-Protocol option.
func AppendAuthProtoOption(dst []byte, a AuthProto) []byte {
	if a.Protocol == ProtoCHAP {
		return append(dst, LCPOptAuthProto, 5, byte(a.Protocol>>8), byte(a.Protocol), a.Algorithm)
	}
	return append(dst, LCPOptAuthProto, 4, byte(a.Protocol>>8), byte(a.Protocol))
}

func (a AuthProto) String() string {
	if a.Protocol == ProtoCHAP {
		switch a.Algorithm {
		case CHAPMD5:
			return "CHAP"
		case CHAPMSv1:
			return "MS-CHAP"
		case CHAPMSv2:
			return "MS-CHAP-V2"
		}
		return "CHAP/" + strconv.Itoa(int(a.Algorithm))
	}
	return a.Protocol.String()
}

// ParseMagicData splits the data of an Echo-Request, Echo-Reply,
// Discard-Request, Identification or Time-Remaining packet (RFC 1661 §5.8,
// §5.9, RFC 1570) into the sender's Magic-Number and the rest.
func ParseMagicData(data []byte) (magic uint32, rest []byte, err error) {
	if len(data) < 4 {
		return 0, nil, ErrShort
	}
	return binary.BigEndian.Uint32(data), data[4:], nil
}

// ParseProtocolReject splits the data of a Protocol-Reject (RFC 1661 §5.7)
// into the rejected protocol and the start of the rejected information.
func ParseProtocolReject(data []byte) (Protocol, []byte, error) {
	if len(data) < 2 {
		return 0, nil, ErrShort
	}
	return Protocol(binary.BigEndian.Uint16(data)), data[2:], nil
}

// ParseCodeReject returns the code of the packet a Code-Reject (RFC 1661
// §5.6) rejects.
func ParseCodeReject(data []byte) (Code, error) {
	if len(data) < 1 {
		return 0, ErrShort
	}
	return Code(data[0]), nil
}
