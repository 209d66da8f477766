package pptp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The header common to every control message, RFC 2637 §2 (and §1.4):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            Length             |       PPTP Message Type       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Magic Cookie                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Control Message Type      |           Reserved0           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts the whole message, header included.
const (
	// TCPPort is the control connection's TCP port (§1.4).
	TCPPort = 1723
	// MagicCookie is sent in every control message (§2, §1.4).
	MagicCookie uint32 = 0x1A2B3C4D
	// MessageTypeControl is the PPTP Message Type of control messages;
	// 2 (management) is reserved and unused (§1.4).
	MessageTypeControl uint16 = 1

	// HeaderLen is the length of the common header.
	HeaderLen = 12
	// MaxMessageLen is the length of the longest message (ICRQ, §2.9):
	// the most a peer can make a reader buffer for one message.
	MaxMessageLen = 220

	offLength   = 0
	offMsgType  = 2
	offCookie   = 4
	offCtrlType = 8
)

// MsgType is the Control Message Type field (§2).
type MsgType uint16

// Control message types (§2).
const (
	MsgSCCRQ    MsgType = 1  // Start-Control-Connection-Request, §2.1
	MsgSCCRP    MsgType = 2  // Start-Control-Connection-Reply, §2.2
	MsgStopCCRQ MsgType = 3  // Stop-Control-Connection-Request, §2.3
	MsgStopCCRP MsgType = 4  // Stop-Control-Connection-Reply, §2.4
	MsgEchoRQ   MsgType = 5  // Echo-Request, §2.5
	MsgEchoRP   MsgType = 6  // Echo-Reply, §2.6
	MsgOCRQ     MsgType = 7  // Outgoing-Call-Request, §2.7
	MsgOCRP     MsgType = 8  // Outgoing-Call-Reply, §2.8
	MsgICRQ     MsgType = 9  // Incoming-Call-Request, §2.9
	MsgICRP     MsgType = 10 // Incoming-Call-Reply, §2.10
	MsgICCN     MsgType = 11 // Incoming-Call-Connected, §2.11
	MsgCCRQ     MsgType = 12 // Call-Clear-Request, §2.12
	MsgCDN      MsgType = 13 // Call-Disconnect-Notify, §2.13
	MsgWEN      MsgType = 14 // WAN-Error-Notify, §2.14
	MsgSLI      MsgType = 15 // Set-Link-Info, §2.15
)

// msgInfo is each type's name and fixed length, header included, from the
// layouts of §2.1 to §2.15.
var msgInfo = [...]struct {
	name string
	len  int
}{
	MsgSCCRQ:    {"SCCRQ", 156},
	MsgSCCRP:    {"SCCRP", 156},
	MsgStopCCRQ: {"StopCCRQ", 16},
	MsgStopCCRP: {"StopCCRP", 16},
	MsgEchoRQ:   {"Echo-Request", 16},
	MsgEchoRP:   {"Echo-Reply", 20},
	MsgOCRQ:     {"OCRQ", 168},
	MsgOCRP:     {"OCRP", 32},
	MsgICRQ:     {"ICRQ", 220},
	MsgICRP:     {"ICRP", 24},
	MsgICCN:     {"ICCN", 28},
	MsgCCRQ:     {"CCRQ", 16},
	MsgCDN:      {"CDN", 148},
	MsgWEN:      {"WEN", 40},
	MsgSLI:      {"SLI", 24},
}

// Known reports whether t is a control message type of §2.
func (t MsgType) Known() bool { return t >= MsgSCCRQ && int(t) < len(msgInfo) }

// Len returns the fixed length of a message of type t, header included,
// or 0 for an unknown type.
func (t MsgType) Len() int {
	if !t.Known() {
		return 0
	}
	return msgInfo[t].len
}

func (t MsgType) String() string {
	if !t.Known() {
		return "MSG(" + strconv.Itoa(int(t)) + ")"
	}
	return msgInfo[t].name
}

// Errors callers branch on. Parse, Split and ParseGRE wrap them with
// details (except on the GRE data path, which returns them bare so as not
// to allocate).
var (
	// ErrShort: the buffer ends before the header or message does.
	ErrShort = errors.New("pptp: message too short")
	// ErrLength: a control message's Length is not the fixed length of
	// its type, is out of bounds, or disagrees with the buffer.
	ErrLength = errors.New("pptp: wrong length")
	// ErrMagicCookie: the Magic Cookie is not 0x1A2B3C4D (§2); on a
	// stream this means the framing is lost.
	ErrMagicCookie = errors.New("pptp: wrong magic cookie")
	// ErrMessageType: the PPTP Message Type is not 1 (control).
	ErrMessageType = errors.New("pptp: not a control message")
	// ErrControlType: a Control Message Type outside §2's table.
	ErrControlType = errors.New("pptp: unknown control message type")
	// ErrField: Append was given a field value the wire cannot carry.
	ErrField = errors.New("pptp: field cannot be encoded")
)

// Message is one control message: *SCCRQ, *SCCRP, *StopCCRQ, *StopCCRP,
// *EchoRequest, *EchoReply, *OCRQ, *OCRP, *ICRQ, *ICRP, *ICCN, *CCRQ,
// *CDN, *WEN or *SLI.
type Message interface {
	// Type returns the Control Message Type.
	Type() MsgType
	// appendBody appends the octets after the header.
	appendBody(b []byte) ([]byte, error)
	// parseBody decodes a body of exactly the type's length less the
	// header; it cannot fail, every field is fixed.
	parseBody(b []byte)
}

// newMessage returns a zero message of type t, nil for an unknown type.
func newMessage(t MsgType) Message {
	switch t {
	case MsgSCCRQ:
		return new(SCCRQ)
	case MsgSCCRP:
		return new(SCCRP)
	case MsgStopCCRQ:
		return new(StopCCRQ)
	case MsgStopCCRP:
		return new(StopCCRP)
	case MsgEchoRQ:
		return new(EchoRequest)
	case MsgEchoRP:
		return new(EchoReply)
	case MsgOCRQ:
		return new(OCRQ)
	case MsgOCRP:
		return new(OCRP)
	case MsgICRQ:
		return new(ICRQ)
	case MsgICRP:
		return new(ICRP)
	case MsgICCN:
		return new(ICCN)
	case MsgCCRQ:
		return new(CCRQ)
	case MsgCDN:
		return new(CDN)
	case MsgWEN:
		return new(WEN)
	case MsgSLI:
		return new(SLI)
	}
	return nil
}

// Parse decodes one whole control message: b must hold exactly the
// message (Split cuts one off a stream). It checks the header: Length
// equals len(b) and the fixed length of the type, PPTP Message Type 1,
// the Magic Cookie. Reserved fields are ignored (see the package doc).
// The returned message holds no reference to b.
func Parse(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: %d octets, the header is %d", ErrShort, len(b), HeaderLen)
	}
	length := int(binary.BigEndian.Uint16(b[offLength:]))
	if length != len(b) {
		return nil, fmt.Errorf("%w: Length %d in a buffer of %d octets", ErrLength, length, len(b))
	}
	if mt := binary.BigEndian.Uint16(b[offMsgType:]); mt != MessageTypeControl {
		return nil, fmt.Errorf("%w: PPTP Message Type %d", ErrMessageType, mt)
	}
	if c := binary.BigEndian.Uint32(b[offCookie:]); c != MagicCookie {
		return nil, fmt.Errorf("%w: %#08x", ErrMagicCookie, c)
	}
	t := MsgType(binary.BigEndian.Uint16(b[offCtrlType:]))
	m := newMessage(t)
	if m == nil {
		return nil, fmt.Errorf("%w: %d", ErrControlType, uint16(t))
	}
	if length != t.Len() {
		return nil, fmt.Errorf("%w: %v has Length %d, the RFC's is %d", ErrLength, t, length, t.Len())
	}
	m.parseBody(b[HeaderLen:])
	return m, nil
}

// Append appends the encoding of m to b. It fails, leaving b's contents
// unchanged, when a field cannot be carried (a string longer than its
// field or containing a NUL).
func Append(b []byte, m Message) ([]byte, error) {
	t := m.Type()
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, uint16(t.Len()))
	b = binary.BigEndian.AppendUint16(b, MessageTypeControl)
	b = binary.BigEndian.AppendUint32(b, MagicCookie)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, 0) // Reserved0
	b, err := m.appendBody(b)
	if err != nil {
		return b[:start], fmt.Errorf("pptp: %v: %w", t, err)
	}
	if n := len(b) - start; n != t.Len() {
		// The bodies below are written to the RFC's layouts; a mismatch
		// is a bug in this package, not bad input.
		panic("pptp: " + t.String() + " encoded to " + strconv.Itoa(n) + " octets")
	}
	return b, nil
}

// Split takes one whole control message off the front of a TCP byte
// stream. With a whole message at the front it returns it and the rest;
// with too few octets it returns nil msg, buf and nil error (read more).
// It fails as soon as the octets that show a problem have arrived: a
// Length below HeaderLen or above MaxMessageLen (so a peer cannot make
// the reader buffer more than one largest message) or a wrong Magic
// Cookie, since either means the stream's framing is lost. The message
// type and the exact length are Parse's to check.
func Split(buf []byte) (msg, rest []byte, err error) {
	if len(buf) < 2 {
		return nil, buf, nil
	}
	length := int(binary.BigEndian.Uint16(buf[offLength:]))
	if length < HeaderLen || length > MaxMessageLen {
		return nil, buf, fmt.Errorf("%w: Length %d outside %d..%d", ErrLength, length, HeaderLen, MaxMessageLen)
	}
	if len(buf) >= offCookie+4 {
		if c := binary.BigEndian.Uint32(buf[offCookie:]); c != MagicCookie {
			return nil, buf, fmt.Errorf("%w: %#08x", ErrMagicCookie, c)
		}
	} else if len(buf) > offCookie {
		// Check the cookie octets that are here.
		var want [4]byte
		binary.BigEndian.PutUint32(want[:], MagicCookie)
		for i, c := range buf[offCookie:] {
			if c != want[i] {
				return nil, buf, fmt.Errorf("%w: octet %d is %#02x", ErrMagicCookie, i, c)
			}
		}
	}
	if len(buf) < length {
		return nil, buf, nil
	}
	return buf[:length:length], buf[length:], nil
}

// ScanMessages is a bufio.SplitFunc over Split, for a bufio.Scanner on the
// control connection: each token is one whole message for Parse. A
// stream that ends inside a message fails with io.ErrUnexpectedEOF.
func ScanMessages(data []byte, atEOF bool) (advance int, token []byte, err error) {
	msg, _, err := Split(data)
	if err != nil {
		return 0, nil, err
	}
	if msg != nil {
		return len(msg), msg, nil
	}
	if atEOF && len(data) > 0 {
		return 0, nil, fmt.Errorf("pptp: stream ends %d octets into a message: %w", len(data), io.ErrUnexpectedEOF)
	}
	return 0, nil, nil
}
