package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The L2TP header, RFC 2661 §3.1:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Tunnel ID           |           Session ID          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             Ns (opt)          |             Nr (opt)          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Offset Size (opt)        |    Offset pad... (opt)
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Control messages always carry L and S (§3.1) and so have a fixed 12-octet
// header: the Ns field sits at offset 8 and Nr at offset 10, which is what
// the reliable-delivery layer patches on retransmission.
const (
	FlagT = 0x8000 // message is control (1) or data (0)
	FlagL = 0x4000 // Length field present
	FlagS = 0x0800 // Ns and Nr present
	FlagO = 0x0200 // Offset Size present
	FlagP = 0x0100 // priority: data message to be handled first (§3.1)

	versionMask = 0x000f
	// reservedMask are the x bits of the first word; they MUST be 0 (§3.1).
	reservedMask = 0x34f0

	// Version2 is L2TPv2 (RFC 2661); Version3 is L2TPv3 (RFC 3931), which
	// shares the UDP port and the first two octets' layout.
	Version2 = 2
	Version3 = 3

	// ControlHeaderLen is the header length of every control message.
	ControlHeaderLen = 12
	// OffNs and OffNr are the offsets of Ns and Nr in a control message.
	OffNs = 8
	OffNr = 10

	// MaxDataHeaderLen bounds the header AppendDataHeader writes.
	MaxDataHeaderLen = 16
)

// Errors callers branch on.
var (
	// ErrShort: the buffer ends before the header or value does.
	ErrShort = errors.New("l2tp: message too short")
	// ErrVersion3 is returned by ParseHeader for an L2TPv3 message, so the
	// caller can hand it to the L2TPv3 code (RFC 3931 §4.1.2.1 shares the
	// version field position).
	ErrVersion3 = errors.New("l2tp: L2TPv3 message")
	// ErrVersion: a version other than 2 or 3 (RFC 2661 §3.1 says such
	// packets MUST be silently discarded; v1 is L2F, RFC 2341).
	ErrVersion = errors.New("l2tp: unsupported version")
	// ErrBadHeader: flags that RFC 2661 §3.1 forbids.
	ErrBadHeader = errors.New("l2tp: malformed header")
)

// Header is the decoded fixed part of an L2TPv2 message.
type Header struct {
	Flags     uint16 // T, L, S, O, P bits as received
	Length    uint16 // total message length when L is set, else len(b)
	TunnelID  uint16
	SessionID uint16
	Ns, Nr    uint16 // valid when S is set
	// PayloadOffset is where the payload (AVPs, PPP frame) starts, after
	// the optional Offset Size field and its padding.
	PayloadOffset int
}

// IsControl reports the T bit.
func (h *Header) IsControl() bool { return h.Flags&FlagT != 0 }

// HasSequence reports the S bit.
func (h *Header) HasSequence() bool { return h.Flags&FlagS != 0 }

// Priority reports the P bit.
func (h *Header) Priority() bool { return h.Flags&FlagP != 0 }

// Version returns the version field of a message without parsing the rest:
// the demultiplexer uses it to route v2 and v3 (RFC 3931) apart.
func Version(b []byte) (uint8, error) {
	if len(b) < 2 {
		return 0, ErrShort
	}
	return b[1] & versionMask, nil
}

// ParseHeader decodes the header of msg and returns it. The payload is
// msg[h.PayloadOffset:h.Length]. It does not allocate: it is on the data
// path. Control messages must have L and S set (§3.1); a Length larger than
// the datagram is an error and a Length shorter trims the payload (trailing
// octets after Length are ignored, as §3.1 makes Length authoritative).
func ParseHeader(msg []byte) (Header, error) {
	var h Header
	if len(msg) < 6 {
		return h, ErrShort
	}
	h.Flags = binary.BigEndian.Uint16(msg)
	switch h.Flags & versionMask {
	case Version2:
	case Version3:
		return h, ErrVersion3
	default:
		return h, ErrVersion
	}
	h.Flags &^= versionMask
	if h.Flags&reservedMask != 0 {
		// Reserved bits MUST be 0 on send and be ignored on receive
		// (§3.1); ignoring is the robust choice.
		h.Flags &^= reservedMask
	}
	off := 2
	h.Length = uint16(min(len(msg), 0xffff))
	if h.Flags&FlagL != 0 {
		h.Length = binary.BigEndian.Uint16(msg[2:])
		off = 4
		if int(h.Length) > len(msg) {
			return h, ErrShort
		}
	}
	control := h.Flags&FlagT != 0
	if control && h.Flags&(FlagL|FlagS) != FlagL|FlagS {
		return h, fmt.Errorf("%w: control message without L and S bits", ErrBadHeader)
	}
	if control && h.Flags&FlagO != 0 {
		// §3.1: the O bit MUST be zero on control messages.
		return h, fmt.Errorf("%w: control message with O bit", ErrBadHeader)
	}
	need := off + 4
	if h.Flags&FlagS != 0 {
		need += 4
	}
	if h.Flags&FlagO != 0 {
		need += 2
	}
	if int(h.Length) < need {
		return h, ErrShort
	}
	h.TunnelID = binary.BigEndian.Uint16(msg[off:])
	h.SessionID = binary.BigEndian.Uint16(msg[off+2:])
	off += 4
	if h.Flags&FlagS != 0 {
		h.Ns = binary.BigEndian.Uint16(msg[off:])
		h.Nr = binary.BigEndian.Uint16(msg[off+2:])
		off += 4
	}
	if h.Flags&FlagO != 0 {
		pad := int(binary.BigEndian.Uint16(msg[off:]))
		off += 2 + pad
		if off > int(h.Length) {
			return h, ErrShort
		}
	}
	h.PayloadOffset = off
	return h, nil
}

// Payload returns the payload of msg described by h.
func (h *Header) Payload(msg []byte) []byte { return msg[h.PayloadOffset:h.Length] }

// AppendControlHeader appends a 12-octet control header with a zero Length
// field; FinishControl fills Length once the AVPs are appended.
func AppendControlHeader(b []byte, tunnelID, sessionID, ns, nr uint16) []byte {
	b = binary.BigEndian.AppendUint16(b, FlagT|FlagL|FlagS|Version2)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, tunnelID)
	b = binary.BigEndian.AppendUint16(b, sessionID)
	b = binary.BigEndian.AppendUint16(b, ns)
	return binary.BigEndian.AppendUint16(b, nr)
}

// FinishControl writes the Length of the control message that starts at
// msg[0]. It fails when the message exceeds 65535 octets.
func FinishControl(msg []byte) error {
	if len(msg) < ControlHeaderLen {
		return ErrShort
	}
	if len(msg) > 0xffff {
		return fmt.Errorf("l2tp: control message of %d octets exceeds the Length field", len(msg))
	}
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	return nil
}

// PatchNsNr rewrites Ns and Nr of an encoded control message in place.
func PatchNsNr(msg []byte, ns, nr uint16) {
	binary.BigEndian.PutUint16(msg[OffNs:], ns)
	binary.BigEndian.PutUint16(msg[OffNr:], nr)
}

// AppendZLB appends a Zero-Length Body control message: a bare header that
// acknowledges up to nr (§5.8).
func AppendZLB(b []byte, tunnelID uint16, ns, nr uint16) []byte {
	start := len(b)
	b = AppendControlHeader(b, tunnelID, 0, ns, nr)
	binary.BigEndian.PutUint16(b[start+2:], ControlHeaderLen)
	return b
}

// AppendDataHeader appends the header of a data message (T=0). With seq
// the S bit and Ns/Nr are written (Nr is reserved on data messages and
// sent as 0, §3.1). The L bit is always set so receivers can strip UDP
// padding. It does not allocate when b has room for MaxDataHeaderLen.
func AppendDataHeader(b []byte, tunnelID, sessionID uint16, seq bool, ns uint16, payloadLen int) []byte {
	flags := uint16(FlagL | Version2)
	n := 8
	if seq {
		flags |= FlagS
		n += 4
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(n+payloadLen))
	b = binary.BigEndian.AppendUint16(b, tunnelID)
	b = binary.BigEndian.AppendUint16(b, sessionID)
	if seq {
		b = binary.BigEndian.AppendUint16(b, ns)
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	return b
}

// DataHeaderLen returns the length AppendDataHeader writes.
func DataHeaderLen(seq bool) int {
	if seq {
		return 12
	}
	return 8
}

// SeqLess reports whether a precedes b in 16-bit sequence space (§5.8:
// comparisons are modulo 2^16, with a window of 32768).
func SeqLess(a, b uint16) bool { return int16(a-b) < 0 }
