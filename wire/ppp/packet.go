package ppp

import (
	"encoding/binary"
	"strconv"
)

// Control packet, RFC 1661 §5, shared by LCP, IPCP, IPv6CP and CCP (and, in
// shape, by PAP, CHAP and EAP):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Code      |  Identifier   |            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    Data ...
//	+-+-+-+-+

// PacketHeaderLen is the length of Code, Identifier and Length.
const PacketHeaderLen = 4

// Code is the Code field of an LCP-like packet.
type Code uint8

// Codes of RFC 1661 §5 and LCP extensions.
const (
	ConfReq        Code = 1  // Configure-Request, §5.1
	ConfAck        Code = 2  // Configure-Ack, §5.2
	ConfNak        Code = 3  // Configure-Nak, §5.3
	ConfRej        Code = 4  // Configure-Reject, §5.4
	TermReq        Code = 5  // Terminate-Request, §5.5
	TermAck        Code = 6  // Terminate-Ack, §5.5
	CodeRej        Code = 7  // Code-Reject, §5.6
	ProtoRej       Code = 8  // Protocol-Reject, §5.7 (LCP only)
	EchoReq        Code = 9  // Echo-Request, §5.8 (LCP only)
	EchoRep        Code = 10 // Echo-Reply, §5.8 (LCP only)
	DiscardReq     Code = 11 // Discard-Request, §5.9 (LCP only)
	Identification Code = 12 // RFC 1570 §2.1 (LCP only)
	TimeRemaining  Code = 13 // RFC 1570 §2.2 (LCP only)
	ResetReq       Code = 14 // CCP Reset-Request, RFC 1962 §2.2
	ResetAck       Code = 15 // CCP Reset-Ack, RFC 1962 §2.2
)

var codeNames = [...]string{
	ConfReq: "CONFREQ", ConfAck: "CONFACK", ConfNak: "CONFNAK", ConfRej: "CONFREJ",
	TermReq: "TERMREQ", TermAck: "TERMACK", CodeRej: "CODEREJ", ProtoRej: "PROTREJ",
	EchoReq: "ECHOREQ", EchoRep: "ECHOREP", DiscardReq: "DISCREQ",
	Identification: "IDENTIFY", TimeRemaining: "TIMEREMAIN",
	ResetReq: "RESETREQ", ResetAck: "RESETACK",
}

// String returns the name IOS prints in `debug ppp negotiation`.
func (c Code) String() string {
	if int(c) < len(codeNames) && codeNames[c] != "" {
		return codeNames[c]
	}
	return "CODE" + strconv.Itoa(int(c))
}

// Packet is a parsed control packet. Data aliases the input.
type Packet struct {
	Code Code
	ID   uint8
	Data []byte
}

// Len returns the value of the Length field: header plus data.
func (p Packet) Len() int { return PacketHeaderLen + len(p.Data) }

// ParsePacket parses a control packet. Octets beyond the Length field are
// padding and ignored (RFC 1661 §5); a Length below 4 or beyond the buffer
// is an error.
func ParsePacket(b []byte) (Packet, error) {
	if len(b) < PacketHeaderLen {
		return Packet{}, ErrShort
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < PacketHeaderLen {
		return Packet{}, ErrBadLength
	}
	if n > len(b) {
		return Packet{}, ErrLength
	}
	return Packet{Code: Code(b[0]), ID: b[1], Data: b[PacketHeaderLen:n]}, nil
}

// AppendPacket appends a whole control packet.
func AppendPacket(dst []byte, code Code, id uint8, data []byte) []byte {
	dst, start := StartPacket(dst, code, id)
	dst = append(dst, data...)
	return FinishPacket(dst, start)
}

// StartPacket appends a packet header with a zero Length and returns the
// offset of the header, for FinishPacket once the data is appended.
func StartPacket(dst []byte, code Code, id uint8) ([]byte, int) {
	start := len(dst)
	return append(dst, byte(code), id, 0, 0), start
}

// FinishPacket sets the Length field of the packet that starts at start.
// The caller keeps packets below 65536 octets (they are bounded by the MRU).
func FinishPacket(b []byte, start int) []byte {
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// Option is one Configuration Option (RFC 1661 §6):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |    Data ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Option struct {
	Type  uint8
	Value []byte // Data, aliasing the packet
	Raw   []byte // the whole option, type and length included
}

// MaxOptions bounds the options one packet may carry. Real requests carry
// fewer than a dozen; a packet with more is hostile or broken.
const MaxOptions = 64

// OptionIter walks the options of a Configure-Request/Ack/Nak/Reject. Its
// error is sticky: once an option is malformed, Next returns false and Err
// says why. It does not allocate.
//
//	it := ppp.Options(pkt.Data)
//	for it.Next() {
//		o := it.Option()
//	}
//	if err := it.Err(); err != nil { ... }
type OptionIter struct {
	rest []byte
	cur  Option
	n    int
	err  error
}

// Options returns an iterator over the options in data.
func Options(data []byte) OptionIter { return OptionIter{rest: data} }

// Next advances to the next option.
func (it *OptionIter) Next() bool {
	if it.err != nil || len(it.rest) == 0 {
		return false
	}
	if len(it.rest) < 2 {
		it.err = ErrOptionLength
		return false
	}
	l := int(it.rest[1])
	if l < 2 || l > len(it.rest) {
		it.err = ErrOptionLength
		return false
	}
	if it.n++; it.n > MaxOptions {
		it.err = ErrTooManyOpts
		return false
	}
	it.cur = Option{Type: it.rest[0], Value: it.rest[2:l], Raw: it.rest[:l]}
	it.rest = it.rest[l:]
	return true
}

// Option returns the current option.
func (it *OptionIter) Option() Option { return it.cur }

// Err returns the first error met, if any.
func (it *OptionIter) Err() error { return it.err }

// ValidateOptions walks all options of data and returns the first error.
func ValidateOptions(data []byte) error {
	it := Options(data)
	for it.Next() {
	}
	return it.Err()
}

// AppendOption appends an option with the given value. Values are at most
// 253 octets; longer ones are truncated (no option vpdn sends comes near).
func AppendOption(dst []byte, typ uint8, value []byte) []byte {
	if len(value) > 253 {
		value = value[:253]
	}
	dst = append(dst, typ, byte(2+len(value)))
	return append(dst, value...)
}

// AppendOptionEmpty appends an option without data (PFC, ACFC).
func AppendOptionEmpty(dst []byte, typ uint8) []byte { return append(dst, typ, 2) }

// AppendOptionUint16 appends an option with a 16-bit value (MRU).
func AppendOptionUint16(dst []byte, typ uint8, v uint16) []byte {
	return append(dst, typ, 4, byte(v>>8), byte(v))
}

// AppendOptionUint32 appends an option with a 32-bit value (ACCM, Magic).
func AppendOptionUint32(dst []byte, typ uint8, v uint32) []byte {
	return append(dst, typ, 6, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// OptionUint16 decodes a 16-bit option value.
func OptionUint16(v []byte) (uint16, error) {
	if len(v) != 2 {
		return 0, ErrOptionValue
	}
	return binary.BigEndian.Uint16(v), nil
}

// OptionUint32 decodes a 32-bit option value.
func OptionUint32(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, ErrOptionValue
	}
	return binary.BigEndian.Uint32(v), nil
}
