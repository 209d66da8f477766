package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// L2TPv3 (RFC 3931) headers. An L2TPv3 message travels over IP (protocol
// 115, §4.1.1) or over UDP (§4.1.2); which one is a property of the bind,
// so every function here takes the transport.
//
// Over IP, a control message starts with 32 zero bits, the Session ID a
// data message can never have (§4.1.1.2):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      (32 bits of zeros)                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|T|L|x|x|S|x|x|x|x|x|x|x|  Ver  |             Length            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Control Connection ID                     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Ns              |               Nr              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Over UDP the zeros are absent (§3.2.1). A data message over IP is the
// Session Header of §4.1.1.1: a non-zero 32-bit Session ID and the cookie
// (0, 4 or 8 octets, §4.1); over UDP (§4.1.2.1) the same behind a word
// with T=0 and Ver=3:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|T|x|x|x|x|x|x|x|x|x|x|x|  Ver  |             Reserved          |  (UDP only)
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           Session ID                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Cookie (optional, maximum 64 bits)...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// followed by the L2-Specific Sublayer if the session has one (the
// default one of §4.6 is one word, see AppendL2SS) and the payload.

// Transport constants of L2TPv3.
const (
	// IPProtoL2TPv3 is the IP protocol number of L2TPv3 over IP (§4.1.1).
	IPProtoL2TPv3 = 115
	// UDPPort is the port L2TPv3 over UDP uses, as L2TPv2 (§4.1.2.2:
	// the port is 1701 unless configured otherwise).
	UDPPort = 1701

	// V3ControlHeaderLen is the control header over UDP; over IP it is
	// preceded by the 4-octet zero Session ID (V3IPControlPrefix).
	V3ControlHeaderLen = 12
	V3IPControlPrefix  = 4
	// MaxCookieLen is the longest cookie (§4.1: 64 bits).
	MaxCookieLen = 8
	// L2SSLen is the length of the default L2-Specific Sublayer (§4.6).
	L2SSLen = 4
	// MaxV3DataHeaderLen bounds V3DataHeaderLen.
	MaxV3DataHeaderLen = 4 + 4 + MaxCookieLen + L2SSLen
)

// Errors of the v3 header layer.
var (
	// ErrNotV3 is a UDP datagram whose version field is not 3.
	ErrNotV3 = errors.New("l2tp: not an L2TPv3 message")
	// ErrCookieLen is a cookie that is not 0, 4 or 8 octets.
	ErrCookieLen = errors.New("l2tp: cookie length must be 0, 4 or 8")
)

// Cookie is an L2TPv3 cookie (§4.1): 0, 4 or 8 octets. It is a value, so
// that the data path compares it without allocating.
type Cookie struct {
	n uint8
	b [MaxCookieLen]byte
}

// MakeCookie returns the cookie of the octets b (0, 4 or 8 of them).
func MakeCookie(b []byte) (Cookie, error) {
	var c Cookie
	switch len(b) {
	case 0, 4, 8:
	default:
		return c, fmt.Errorf("%w: %d octets", ErrCookieLen, len(b))
	}
	c.n = uint8(len(b))
	copy(c.b[:], b)
	return c, nil
}

// Cookie4 returns a 4-octet cookie of value v (network order).
func Cookie4(v uint32) Cookie {
	c := Cookie{n: 4}
	binary.BigEndian.PutUint32(c.b[:], v)
	return c
}

// Cookie8 returns an 8-octet cookie: IOS writes its value as two 4-octet
// halves, `l2tp cookie local 8 LOW HIGH`; the high half is sent first.
func Cookie8(low, high uint32) Cookie {
	c := Cookie{n: 8}
	binary.BigEndian.PutUint32(c.b[:], high)
	binary.BigEndian.PutUint32(c.b[4:], low)
	return c
}

// Len returns the cookie's length in octets.
func (c Cookie) Len() int { return int(c.n) }

// Bytes returns the cookie's octets (a copy).
func (c Cookie) Bytes() []byte { return append([]byte(nil), c.b[:c.n]...) }

// Match reports whether b starts with the cookie.
func (c Cookie) Match(b []byte) bool {
	if len(b) < int(c.n) {
		return false
	}
	for i := range int(c.n) {
		if b[i] != c.b[i] {
			return false
		}
	}
	return true
}

// String returns the cookie as IOS shows it: hex octets separated by
// spaces ("00 00 D7 47").
func (c Cookie) String() string {
	const hx = "0123456789ABCDEF"
	out := make([]byte, 0, 3*int(c.n))
	for i := range int(c.n) {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, hx[c.b[i]>>4], hx[c.b[i]&15])
	}
	return string(out)
}

// V3Classify looks at the start of an L2TPv3 datagram: a control message
// (over IP: Session ID 0; over UDP: the T bit) or data for Session ID id.
// Over UDP the version must be 3. It does not allocate.
func V3Classify(b []byte, overUDP bool) (id uint32, control bool, err error) {
	if overUDP {
		if len(b) < 2 {
			return 0, false, ErrShort
		}
		if b[1]&versionMask != Version3 {
			return 0, false, ErrNotV3
		}
		if b[0]&0x80 != 0 {
			return 0, true, nil
		}
		if len(b) < 8 {
			return 0, false, ErrShort
		}
		id = binary.BigEndian.Uint32(b[4:])
		if id == 0 {
			// §4.1.2.1: Session ID 0 is reserved for the control
			// connection, which over UDP uses the T bit instead.
			return 0, false, fmt.Errorf("%w: data message with Session ID 0", ErrBadHeader)
		}
		return id, false, nil
	}
	if len(b) < 4 {
		return 0, false, ErrShort
	}
	id = binary.BigEndian.Uint32(b)
	return id, id == 0, nil
}

// V3DataHeaderLen is the length of a data message's headers: the session
// header of the transport, the cookie and the L2-Specific Sublayer.
func V3DataHeaderLen(overUDP bool, cookieLen int, l2ss bool) int {
	n := 4 + cookieLen
	if overUDP {
		n += 4
	}
	if l2ss {
		n += L2SSLen
	}
	return n
}

// AppendV3DataHeader appends the headers of a data message to session id
// (the peer's): the session header, cookie c and, when l2ss, the default
// L2-Specific Sublayer (§4.6) with the S bit set when seq is. It does not
// allocate when b has room for MaxV3DataHeaderLen.
func AppendV3DataHeader(b []byte, overUDP bool, id uint32, c Cookie, l2ss, seq bool, ns uint32) []byte {
	if overUDP {
		b = binary.BigEndian.AppendUint16(b, Version3)
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, id)
	b = append(b, c.b[:c.n]...)
	if l2ss {
		b = AppendL2SS(b, seq, ns)
	}
	return b
}

// The default L2-Specific Sublayer, §4.6:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|x|S|x|x|x|x|x|x|              Sequence Number                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	l2ssS = 0x40 // the S bit, in the first octet
	// SeqMask24 masks the 24-bit sequence number.
	SeqMask24 = 1<<24 - 1
)

// AppendL2SS appends the default L2-Specific Sublayer: with seq, the S bit
// and the 24-bit sequence number ns (modulo 2^24); without, a zero word.
func AppendL2SS(b []byte, seq bool, ns uint32) []byte {
	if !seq {
		return binary.BigEndian.AppendUint32(b, 0)
	}
	return binary.BigEndian.AppendUint32(b, uint32(l2ssS)<<24|ns&SeqMask24)
}

// ParseL2SS decodes the default L2-Specific Sublayer at the start of b.
func ParseL2SS(b []byte) (seq bool, ns uint32, err error) {
	if len(b) < L2SSLen {
		return false, 0, ErrShort
	}
	w := binary.BigEndian.Uint32(b)
	return b[0]&l2ssS != 0, w & SeqMask24, nil
}

// SeqLess24 reports whether a precedes b in the 24-bit sequence space of
// the default L2-Specific Sublayer (§4.6.1: comparisons modulo 2^24).
func SeqLess24(a, b uint32) bool {
	d := (b - a) & SeqMask24
	return d != 0 && d < 1<<23
}

// V3ControlHeader is the decoded header of an L2TPv3 control message.
type V3ControlHeader struct {
	Length uint16 // from the Length field: the message after the IP prefix
	CCID   uint32 // Control Connection ID: ours, or 0 for an SCCRQ
	Ns, Nr uint16
	// PayloadOffset is where the AVPs start in the datagram.
	PayloadOffset int
	// End is where the message ends in the datagram (Length honoured).
	End int
}

// ParseV3Control decodes the control header of msg (over IP: with its
// zero Session ID). §3.2.1: T, L and S MUST be 1 on control messages and
// the version is 3.
func ParseV3Control(msg []byte, overUDP bool) (V3ControlHeader, error) {
	var h V3ControlHeader
	off := 0
	if !overUDP {
		if len(msg) < V3IPControlPrefix {
			return h, ErrShort
		}
		if binary.BigEndian.Uint32(msg) != 0 {
			return h, fmt.Errorf("%w: control message with a non-zero Session ID", ErrBadHeader)
		}
		off = V3IPControlPrefix
	}
	b := msg[off:]
	if len(b) < V3ControlHeaderLen {
		return h, ErrShort
	}
	w := binary.BigEndian.Uint16(b)
	if w&versionMask != Version3 {
		return h, ErrNotV3
	}
	if w&(FlagT|FlagL|FlagS) != FlagT|FlagL|FlagS {
		return h, fmt.Errorf("%w: control message without T, L and S bits", ErrBadHeader)
	}
	h.Length = binary.BigEndian.Uint16(b[2:])
	if int(h.Length) < V3ControlHeaderLen || int(h.Length) > len(b) {
		return h, fmt.Errorf("%w: Length %d with %d octets", ErrShort, h.Length, len(b))
	}
	h.CCID = binary.BigEndian.Uint32(b[4:])
	h.Ns = binary.BigEndian.Uint16(b[8:])
	h.Nr = binary.BigEndian.Uint16(b[10:])
	h.PayloadOffset = off + V3ControlHeaderLen
	h.End = off + int(h.Length)
	return h, nil
}

// Payload returns the AVPs of msg described by h.
func (h *V3ControlHeader) Payload(msg []byte) []byte { return msg[h.PayloadOffset:h.End] }

// AppendV3ControlHeader appends a control header (over IP: behind the zero
// Session ID) with a zero Length; FinishV3Control fills it in.
func AppendV3ControlHeader(b []byte, overUDP bool, ccid uint32, ns, nr uint16) []byte {
	if !overUDP {
		b = binary.BigEndian.AppendUint32(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, FlagT|FlagL|FlagS|Version3)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, ccid)
	b = binary.BigEndian.AppendUint16(b, ns)
	return binary.BigEndian.AppendUint16(b, nr)
}

// FinishV3Control writes the Length of the control message msg. The
// offsets of Ns and Nr for the reliable-delivery layer are
// V3OffNs(overUDP) and V3OffNs(overUDP)+2.
func FinishV3Control(msg []byte, overUDP bool) error {
	off := 0
	if !overUDP {
		off = V3IPControlPrefix
	}
	if len(msg) < off+V3ControlHeaderLen {
		return ErrShort
	}
	n := len(msg) - off
	if n > 0xffff {
		return fmt.Errorf("l2tp: control message of %d octets exceeds the Length field", n)
	}
	binary.BigEndian.PutUint16(msg[off+2:], uint16(n))
	return nil
}

// V3OffNs is the offset of Ns in an encoded v3 control message.
func V3OffNs(overUDP bool) int {
	if overUDP {
		return 8
	}
	return V3IPControlPrefix + 8
}
