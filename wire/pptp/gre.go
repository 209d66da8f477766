package pptp

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// The enhanced GRE header, RFC 2637 §4.1 (IP protocol 47):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    Key (HW) Payload Length    |       Key (LW) Call ID        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Sequence Number (Optional)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Acknowledgment Number (Optional)                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// C, R, s and Recur are 0, K is 1, Flags are 0 and Ver is 1. S is set when
// a payload (and so a Sequence Number) is present, A when an
// Acknowledgment Number is; with both, the Acknowledgment Number follows
// the Sequence Number. The Call ID is the receiver's (the peer's) Call ID.
const (
	// GREProtocol is the Protocol Type of PPP in enhanced GRE (§4.1).
	GREProtocol uint16 = 0x880B
	// GREVersion is the Ver field of enhanced GRE.
	GREVersion = 1
	// MinGREHeaderLen and MaxGREHeaderLen bound GREHeader.Len.
	MinGREHeaderLen = 8
	MaxGREHeaderLen = 16

	greC     = 0x80 // checksum present, first octet
	greR     = 0x40 // routing present
	greK     = 0x20 // key present
	greS     = 0x10 // sequence number present
	greSs    = 0x08 // strict source route
	greRecur = 0x07 // recursion control
	greA     = 0x80 // acknowledgement number present, second octet
	greFlags = 0x78 // flags, second octet
	greVer   = 0x07 // version, second octet
)

// GRE errors. ParseGRE returns them unwrapped so that a dropped packet
// costs no allocation; callers count drops per error.
var (
	// ErrGREShort: the packet ends before the header does.
	ErrGREShort = errors.New("pptp: GRE header truncated")
	// ErrGREVersion: Ver is not 1 (plain GRE, RFC 2784, is version 0).
	ErrGREVersion = errors.New("pptp: GRE version is not 1")
	// ErrGREProtocol: the Protocol Type is not 0x880B.
	ErrGREProtocol = errors.New("pptp: GRE protocol type is not PPP (0x880B)")
	// ErrGREFlags: K is clear, or C, R, s, Recur or Flags is set (§4.1).
	ErrGREFlags = errors.New("pptp: GRE flags not those of enhanced GRE")
	// ErrGRELength: the Payload Length runs past the packet.
	ErrGRELength = errors.New("pptp: GRE payload length exceeds the packet")
	// ErrGRENoSeq: payload without a Sequence Number (§4.1 sets S
	// exactly when a payload is present).
	ErrGRENoSeq = errors.New("pptp: GRE payload without sequence number")
)

// GREHeader is a decoded enhanced GRE header.
type GREHeader struct {
	PayloadLen uint16 // the Key's high half: octets of payload after the header
	CallID     uint16 // the Key's low half: the receiver's Call ID
	HasSeq     bool   // S: Seq present (a payload packet)
	HasAck     bool   // A: Ack present
	Seq        uint32 // Sequence Number, valid when HasSeq
	Ack        uint32 // Acknowledgment Number, valid when HasAck
}

// Len returns the length of the encoded header: 8, 12 or 16.
func (h *GREHeader) Len() int {
	n := MinGREHeaderLen
	if h.HasSeq {
		n += 4
	}
	if h.HasAck {
		n += 4
	}
	return n
}

// ParseGRE decodes the enhanced GRE header at the front of b (the IP
// payload of a protocol 47 packet) and returns it with the payload, a
// sub-slice of b of PayloadLen octets. Octets after the payload are
// padding and ignored. It does not allocate: it is on the data path.
func ParseGRE(b []byte) (GREHeader, []byte, error) {
	var h GREHeader
	if len(b) < MinGREHeaderLen {
		return h, nil, ErrGREShort
	}
	f0, f1 := b[0], b[1]
	if f1&greVer != GREVersion {
		return h, nil, ErrGREVersion
	}
	if binary.BigEndian.Uint16(b[2:]) != GREProtocol {
		return h, nil, ErrGREProtocol
	}
	if f0&(greC|greR|greK|greSs|greRecur) != greK || f1&greFlags != 0 {
		return h, nil, ErrGREFlags
	}
	h.PayloadLen = binary.BigEndian.Uint16(b[4:])
	h.CallID = binary.BigEndian.Uint16(b[6:])
	h.HasSeq = f0&greS != 0
	h.HasAck = f1&greA != 0
	off := MinGREHeaderLen
	if h.HasSeq {
		if len(b) < off+4 {
			return h, nil, ErrGREShort
		}
		h.Seq = binary.BigEndian.Uint32(b[off:])
		off += 4
	}
	if h.HasAck {
		if len(b) < off+4 {
			return h, nil, ErrGREShort
		}
		h.Ack = binary.BigEndian.Uint32(b[off:])
		off += 4
	}
	end := off + int(h.PayloadLen)
	if end > len(b) {
		return h, nil, ErrGRELength
	}
	if h.PayloadLen > 0 && !h.HasSeq {
		return h, nil, ErrGRENoSeq
	}
	return h, b[off:end:end], nil
}

// AppendGREHeader appends the header h with its PayloadLen as given, for
// a caller that writes the header in front of a payload already in place.
// It does not allocate when b has room for MaxGREHeaderLen octets.
func AppendGREHeader(b []byte, h GREHeader) []byte {
	f0 := byte(greK)
	if h.HasSeq {
		f0 |= greS
	}
	f1 := byte(GREVersion)
	if h.HasAck {
		f1 |= greA
	}
	b = append(b, f0, f1)
	b = binary.BigEndian.AppendUint16(b, GREProtocol)
	b = binary.BigEndian.AppendUint16(b, h.PayloadLen)
	b = binary.BigEndian.AppendUint16(b, h.CallID)
	if h.HasSeq {
		b = binary.BigEndian.AppendUint32(b, h.Seq)
	}
	if h.HasAck {
		b = binary.BigEndian.AppendUint32(b, h.Ack)
	}
	return b
}

// AppendGRE appends the header h, with PayloadLen set to len(payload), and
// the payload. A payload needs h.HasSeq (§4.1); a payload over 65535
// octets cannot be described by the Payload Length and is a programming
// error: AppendGRE panics on either rather than send a packet the peer
// must drop.
func AppendGRE(b []byte, h GREHeader, payload []byte) []byte {
	if len(payload) > 0xffff {
		panic("pptp: GRE payload of " + strconv.Itoa(len(payload)) + " octets")
	}
	if len(payload) > 0 && !h.HasSeq {
		panic("pptp: GRE payload without a sequence number")
	}
	h.PayloadLen = uint16(len(payload))
	b = AppendGREHeader(b, h)
	return append(b, payload...)
}

// SeqAfter reports whether a comes after b in 32-bit sequence space, the
// comparison §4.2's window needs for Sequence and Acknowledgment Numbers.
func SeqAfter(a, b uint32) bool { return int32(a-b) > 0 }
