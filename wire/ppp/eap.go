package ppp

import "encoding/binary"

// EAP packet, RFC 3748 §4:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Code      |  Identifier   |            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |  Type-Data ...   (Request and Response only)
//	+-+-+-+-+-+-+-+-+-+-+-+-+-

// EAP codes, RFC 3748 §4.
const (
	EAPRequest  Code = 1
	EAPResponse Code = 2
	EAPSuccess  Code = 3
	EAPFailure  Code = 4
)

// EAP types, RFC 3748 §5.
const (
	EAPTypeIdentity     uint8 = 1 // §5.1
	EAPTypeNotification uint8 = 2 // §5.2
	EAPTypeNak          uint8 = 3 // §5.3.1, legacy Nak (Response only)
	EAPTypeMD5          uint8 = 4 // §5.4, MD5-Challenge
)

// EAPCodeName returns the debug name of an EAP code.
func EAPCodeName(c Code) string {
	switch c {
	case EAPRequest:
		return "REQUEST"
	case EAPResponse:
		return "RESPONSE"
	case EAPSuccess:
		return "SUCCESS"
	case EAPFailure:
		return "FAILURE"
	}
	return c.String()
}

// EAPPacket is a parsed EAP packet. Type is zero for Success and Failure.
type EAPPacket struct {
	Code Code
	ID   uint8
	Type uint8
	Data []byte // Type-Data, aliasing the input
}

// ParseEAP parses an EAP packet. Requests and Responses must carry a Type
// (RFC 3748 §4.1); Success and Failure have length 4 (§4.2) but trailing
// data is tolerated there as padding.
func ParseEAP(b []byte) (EAPPacket, error) {
	if len(b) < PacketHeaderLen {
		return EAPPacket{}, ErrShort
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < PacketHeaderLen {
		return EAPPacket{}, ErrBadLength
	}
	if n > len(b) {
		return EAPPacket{}, ErrLength
	}
	p := EAPPacket{Code: Code(b[0]), ID: b[1]}
	switch p.Code {
	case EAPRequest, EAPResponse:
		if n < 5 {
			return EAPPacket{}, ErrBadLength
		}
		p.Type, p.Data = b[4], b[5:n]
	}
	return p, nil
}

// AppendEAP appends an EAP packet; typ and data are ignored for Success and
// Failure.
func AppendEAP(dst []byte, code Code, id, typ uint8, data []byte) []byte {
	dst, start := StartPacket(dst, code, id)
	if code == EAPRequest || code == EAPResponse {
		dst = append(dst, typ)
		dst = append(dst, data...)
	}
	return FinishPacket(dst, start)
}
