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
	// EAPTypeMSCHAPv2 is EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2,
	// IANA EAP type 26): MS-CHAPv2 (RFC 2759) carried in EAP.
	EAPTypeMSCHAPv2 uint8 = 26
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

// EAP-MSCHAPv2 OpCodes (draft-kamath-pppext-eap-mschapv2-02 §2).
const (
	EAPMSCHAPv2Challenge uint8 = 1
	EAPMSCHAPv2Response  uint8 = 2
	EAPMSCHAPv2Success   uint8 = 3
	EAPMSCHAPv2Failure   uint8 = 4
)

// EAPMSCHAPv2 is the Type-Data of an EAP-MSCHAPv2 packet
// (draft-kamath-pppext-eap-mschapv2-02 §2):
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    OpCode     | MS-CHAPv2-ID  |           MS-Length           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Value-Size   |  Value ... (Challenge and Response) / Message
//
// Challenge and Response carry a CHAP value (Value-Size, Value, Name);
// Success and Failure Requests carry the MS-CHAPv2 message text ("S=...",
// "E=..."); the peer's Success and Failure Responses are the OpCode alone.
type EAPMSCHAPv2 struct {
	OpCode uint8
	ID     uint8
	Value  []byte // Challenge (16) or Response (49); aliases the input
	Name   []byte // after the value; aliases the input
	// Message is the text of a Success or Failure Request.
	Message []byte
}

// ParseEAPMSCHAPv2 parses the Type-Data of an EAP-MSCHAPv2 packet. MS-Length
// must not run past the data (it is the EAP Length less 5).
func ParseEAPMSCHAPv2(b []byte) (EAPMSCHAPv2, error) {
	if len(b) < 1 {
		return EAPMSCHAPv2{}, ErrShort
	}
	m := EAPMSCHAPv2{OpCode: b[0]}
	switch m.OpCode {
	case EAPMSCHAPv2Success, EAPMSCHAPv2Failure:
		if len(b) == 1 {
			return m, nil // the peer's acknowledgement
		}
	case EAPMSCHAPv2Challenge, EAPMSCHAPv2Response:
	default:
		return EAPMSCHAPv2{}, ErrMessageSyntax
	}
	if len(b) < 4 {
		return EAPMSCHAPv2{}, ErrShort
	}
	m.ID = b[1]
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 4 {
		return EAPMSCHAPv2{}, ErrBadLength
	}
	if n > len(b) {
		return EAPMSCHAPv2{}, ErrFieldLength
	}
	body := b[4:n]
	if m.OpCode == EAPMSCHAPv2Success || m.OpCode == EAPMSCHAPv2Failure {
		m.Message = body
		return m, nil
	}
	v, name, err := ParseCHAPValue(body)
	if err != nil {
		return EAPMSCHAPv2{}, err
	}
	m.Value, m.Name = v, name
	return m, nil
}

// AppendEAPMSCHAPv2 appends the Type-Data of m: the OpCode alone for a
// Success or Failure without a message, else the header, then the CHAP
// value and name or the message.
func AppendEAPMSCHAPv2(dst []byte, m EAPMSCHAPv2) []byte {
	if (m.OpCode == EAPMSCHAPv2Success || m.OpCode == EAPMSCHAPv2Failure) && m.Message == nil {
		return append(dst, m.OpCode)
	}
	start := len(dst)
	dst = append(dst, m.OpCode, m.ID, 0, 0)
	if m.OpCode == EAPMSCHAPv2Success || m.OpCode == EAPMSCHAPv2Failure {
		dst = append(dst, m.Message...)
	} else {
		dst = AppendCHAPValue(dst, m.Value, m.Name)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(len(dst)-start))
	return dst
}
