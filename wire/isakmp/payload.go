package isakmp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// GenericHeaderLen is the length of the generic payload header (RFC 2408
// §3.2): next payload, reserved, payload length.
const GenericHeaderLen = 4

// MaxPayloads bounds the payloads of one message (and the proposals,
// transforms and attributes of one SA): no exchange of RFC 2409 needs a
// tenth of it.
const MaxPayloads = 64

// Errors of the payload chain.
var (
	ErrPayloadLength = errors.New("isakmp: bad payload length")
	ErrTooMany       = errors.New("isakmp: too many payloads")
	ErrReserved      = errors.New("isakmp: reserved field not zero")
	ErrPayload       = errors.New("isakmp: malformed payload")
)

// Payload is one payload of the chain. Body (after the generic header) and
// Raw (with it) alias the message buffer.
type Payload struct {
	Type PayloadType
	Body []byte
	Raw  []byte
}

// PayloadDecoder iterates the payload chain of a message body. Errors are
// sticky: after the first one, Next returns false and Err reports it. The
// chain ends at a payload whose Next Payload is NONE; octets after it (the
// padding of an encrypted body, RFC 2408 §3.1) are left in Rest.
//
//	d := NewPayloadDecoder(h.NextPayload, h.Body(msg))
//	for d.Next() {
//		p := d.Payload()
//		...
//	}
//	if err := d.Err(); err != nil { ... }
type PayloadDecoder struct {
	b    []byte
	off  int
	next PayloadType
	n    int
	cur  Payload
	err  error
}

// NewPayloadDecoder returns a decoder over body whose first payload is of
// type first (the header's Next Payload).
func NewPayloadDecoder(first PayloadType, body []byte) PayloadDecoder {
	return PayloadDecoder{b: body, next: first}
}

// Next advances to the next payload.
func (d *PayloadDecoder) Next() bool {
	if d.err != nil || d.next == PayloadNone {
		return false
	}
	rest := d.b[d.off:]
	if len(rest) < GenericHeaderLen {
		d.err = fmt.Errorf("%w: %s payload header needs 4 octets, %d left", ErrPayloadLength, d.next, len(rest))
		return false
	}
	d.n++
	if d.n > MaxPayloads {
		d.err = fmt.Errorf("%w: more than %d", ErrTooMany, MaxPayloads)
		return false
	}
	l := int(binary.BigEndian.Uint16(rest[2:]))
	if l < GenericHeaderLen || l > len(rest) {
		d.err = fmt.Errorf("%w: %s payload length %d with %d octets left", ErrPayloadLength, d.next, l, len(rest))
		return false
	}
	if rest[1] != 0 {
		d.err = fmt.Errorf("%w: %s payload", ErrReserved, d.next)
		return false
	}
	d.cur = Payload{Type: d.next, Body: rest[GenericHeaderLen:l:l], Raw: rest[:l:l]}
	d.next = PayloadType(rest[0])
	d.off += l
	return true
}

// Payload returns the current payload.
func (d *PayloadDecoder) Payload() Payload { return d.cur }

// Err returns the first error met.
func (d *PayloadDecoder) Err() error { return d.err }

// Rest returns the octets after the last payload (padding), once Next has
// returned false without error.
func (d *PayloadDecoder) Rest() []byte { return d.b[d.off:] }

// Encoder appends a message: the header, then payloads, each one's type
// written into the Next Payload field of the one before (or of the header).
// Errors are sticky. The header's length is set by Bytes.
//
//	e := NewEncoder(buf[:0], hdr)
//	e.Payload(PayloadSA, func(b []byte) []byte { return AppendSA(b, ...) })
//	msg, err := e.Bytes()
type Encoder struct {
	b     []byte
	start int // offset of the header
	prev  int // offset of the Next Payload octet to patch
	err   error
}

// NewEncoder appends h (NextPayload and Length are filled in later) to b.
func NewEncoder(b []byte, h Header) *Encoder {
	h.NextPayload, h.Length = PayloadNone, 0
	start := len(b)
	b = AppendHeader(b, h)
	return &Encoder{b: b, start: start, prev: start + 16}
}

// Start begins a payload of type t and returns its offset; append the
// body to e.Buf() and call End.
func (e *Encoder) Start(t PayloadType) int {
	if e.err != nil {
		return len(e.b)
	}
	e.b[e.prev] = byte(t)
	off := len(e.b)
	e.prev = off
	e.b = append(e.b, 0, 0, 0, 0)
	return off
}

// End closes the payload begun at off with the body appended since.
func (e *Encoder) End(off int) {
	if e.err != nil {
		return
	}
	l := len(e.b) - off
	if l > 0xffff {
		e.err = fmt.Errorf("%w: payload of %d octets", ErrPayloadLength, l)
		return
	}
	binary.BigEndian.PutUint16(e.b[off+2:], uint16(l))
}

// Payload appends a payload whose body is produced by body (an append
// function).
func (e *Encoder) Payload(t PayloadType, body func([]byte) []byte) {
	off := e.Start(t)
	if e.err != nil {
		return
	}
	e.b = body(e.b)
	e.End(off)
}

// Raw appends a payload with the given body.
func (e *Encoder) Raw(t PayloadType, body []byte) {
	off := e.Start(t)
	if e.err != nil {
		return
	}
	e.b = append(e.b, body...)
	e.End(off)
}

// Buf returns the message so far; Len is its length.
func (e *Encoder) Buf() []byte { return e.b }

// Len returns the length of the message so far.
func (e *Encoder) Len() int { return len(e.b) }

// SetBuf replaces the buffer after the caller appended to Buf (its prefix
// must be unchanged).
func (e *Encoder) SetBuf(b []byte) { e.b = b }

// Bytes sets the header's length and returns the message.
func (e *Encoder) Bytes() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	if len(e.b)-e.start > MaxMessageLen {
		return nil, fmt.Errorf("%w: message of %d octets", ErrLength, len(e.b)-e.start)
	}
	SetLength(e.b[e.start:])
	return e.b, nil
}
