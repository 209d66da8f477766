package isakmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the length of the fixed ISAKMP header (RFC 2408 §3.1).
const HeaderLen = 28

// Version is the only version this codec speaks: major 1, minor 0
// (RFC 2408 §3.1; IKEv2's major 2 is refused).
const Version = 0x10

// MaxMessageLen bounds a message: IKEv1 over UDP with certificates stays far
// below it, and a length field above it is taken as garbage.
const MaxMessageLen = 65535

// Flags of the header (RFC 2408 §3.1).
const (
	FlagEncryption = 0x01 // E: the payloads after the header are encrypted
	FlagCommit     = 0x02 // C: commit bit (RFC 2408 §3.1, RFC 2409 §5.5)
	FlagAuthOnly   = 0x04 // A: authentication only
)

// Cookie is an initiator or responder cookie (RFC 2408 §2.5.3).
type Cookie [8]byte

// IsZero reports whether c is the all-zero cookie of a first message.
func (c Cookie) IsZero() bool { return c == Cookie{} }

// Header is the fixed ISAKMP header.
type Header struct {
	ICookie, RCookie Cookie
	NextPayload      PayloadType
	Version          uint8
	Exchange         ExchangeType
	Flags            uint8
	MessageID        uint32
	Length           uint32
}

// Encrypted reports the E flag.
func (h *Header) Encrypted() bool { return h.Flags&FlagEncryption != 0 }

// Errors of the header.
var (
	ErrShort   = errors.New("isakmp: message too short")
	ErrLength  = errors.New("isakmp: bad length")
	ErrVersion = errors.New("isakmp: unsupported version")
)

// ParseHeader decodes the fixed header of b and checks the length field
// against the buffer: it must cover the header and not exceed b (a longer
// b, as with trailing datagram bytes, is allowed; the body is b[HeaderLen:
// Length]).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderLen {
		return h, fmt.Errorf("%w: %d octets", ErrShort, len(b))
	}
	copy(h.ICookie[:], b[0:8])
	copy(h.RCookie[:], b[8:16])
	h.NextPayload = PayloadType(b[16])
	h.Version = b[17]
	h.Exchange = ExchangeType(b[18])
	h.Flags = b[19]
	h.MessageID = binary.BigEndian.Uint32(b[20:])
	h.Length = binary.BigEndian.Uint32(b[24:])
	if h.Version>>4 != Version>>4 {
		return h, fmt.Errorf("%w: %d.%d", ErrVersion, h.Version>>4, h.Version&0xf)
	}
	if h.Length < HeaderLen || h.Length > MaxMessageLen || int(h.Length) > len(b) {
		return h, fmt.Errorf("%w: header says %d, have %d octets", ErrLength, h.Length, len(b))
	}
	return h, nil
}

// Body returns the octets after the header up to the header's length.
func (h *Header) Body(b []byte) []byte { return b[HeaderLen:h.Length:h.Length] }

// AppendHeader appends h; the length is taken from h.Length (see
// SetLength to patch it once the payloads are appended).
func AppendHeader(b []byte, h Header) []byte {
	b = append(b, h.ICookie[:]...)
	b = append(b, h.RCookie[:]...)
	v := h.Version
	if v == 0 {
		v = Version
	}
	b = append(b, byte(h.NextPayload), v, byte(h.Exchange), h.Flags)
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// SetLength writes len(msg) into the header at the start of msg.
func SetLength(msg []byte) {
	if len(msg) >= HeaderLen {
		binary.BigEndian.PutUint32(msg[24:], uint32(len(msg)))
	}
}
