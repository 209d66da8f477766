package isakmp

import (
	"encoding/binary"
	"fmt"
)

// SA is the body of a Security Association payload (RFC 2408 §3.4) in the
// IPsec DOI with SIT_IDENTITY_ONLY (RFC 2407 §4.6.1): the proposals follow
// the situation.
type SA struct {
	DOI       uint32
	Situation uint32
	Proposals []byte // the proposal payload chain, for NewProposalDecoder
}

// ParseSA decodes an SA payload body. Only the IPsec DOI with the
// identity-only situation is understood (the secrecy and integrity
// situations carry labelled-domain fields nobody sends).
func ParseSA(body []byte) (SA, error) {
	if len(body) < 8 {
		return SA{}, fmt.Errorf("%w: SA body of %d octets", ErrPayload, len(body))
	}
	sa := SA{DOI: binary.BigEndian.Uint32(body), Situation: binary.BigEndian.Uint32(body[4:]), Proposals: body[8:]}
	if sa.DOI != DOIIPsec {
		return sa, fmt.Errorf("%w: SA DOI %d", ErrPayload, sa.DOI)
	}
	if sa.Situation != SituationIdentityOnly {
		return sa, fmt.Errorf("%w: SA situation %#x", ErrPayload, sa.Situation)
	}
	return sa, nil
}

// Proposal is a proposal payload (RFC 2408 §3.5). SPI and Transforms alias
// the buffer; Transforms is the transform payload chain.
type Proposal struct {
	Num           uint8
	Protocol      ProtocolID
	SPI           []byte
	NumTransforms uint8
	Transforms    []byte
}

// ProposalDecoder iterates the proposals of an SA. Errors are sticky.
type ProposalDecoder struct {
	d   PayloadDecoder
	cur Proposal
	err error
}

// NewProposalDecoder returns a decoder over SA.Proposals.
func NewProposalDecoder(b []byte) ProposalDecoder {
	return ProposalDecoder{d: NewPayloadDecoder(PayloadProposal, b)}
}

// Next advances to the next proposal.
func (p *ProposalDecoder) Next() bool {
	if p.err != nil {
		return false
	}
	if !p.d.Next() {
		p.err = p.d.Err()
		if p.err == nil && len(p.d.Rest()) != 0 {
			p.err = fmt.Errorf("%w: %d octets after the last proposal", ErrPayloadLength, len(p.d.Rest()))
		}
		return false
	}
	pl := p.d.Payload()
	if pl.Type != PayloadProposal {
		p.err = fmt.Errorf("%w: %s in an SA", ErrPayload, pl.Type)
		return false
	}
	b := pl.Body
	if len(b) < 4 || len(b) < 4+int(b[2]) {
		p.err = fmt.Errorf("%w: proposal of %d octets", ErrPayload, len(b))
		return false
	}
	n := int(b[2])
	p.cur = Proposal{Num: b[0], Protocol: ProtocolID(b[1]), SPI: b[4 : 4+n : 4+n], NumTransforms: b[3], Transforms: b[4+n:]}
	if p.cur.NumTransforms == 0 {
		p.err = fmt.Errorf("%w: proposal %d with no transform", ErrPayload, p.cur.Num)
		return false
	}
	return true
}

// Proposal returns the current proposal.
func (p *ProposalDecoder) Proposal() Proposal { return p.cur }

// Err returns the first error met.
func (p *ProposalDecoder) Err() error { return p.err }

// Transform is a transform payload (RFC 2408 §3.6). Attrs is its data
// attribute list, for NewAttrDecoder.
type Transform struct {
	Num   uint8
	ID    uint8
	Attrs []byte
}

// TransformDecoder iterates the transforms of a proposal and checks that
// their number is the proposal's count.
type TransformDecoder struct {
	d    PayloadDecoder
	want uint8
	n    int
	cur  Transform
	err  error
}

// NewTransformDecoder returns a decoder over p's transforms.
func NewTransformDecoder(p Proposal) TransformDecoder {
	return TransformDecoder{d: NewPayloadDecoder(PayloadTransform, p.Transforms), want: p.NumTransforms}
}

// Next advances to the next transform.
func (t *TransformDecoder) Next() bool {
	if t.err != nil {
		return false
	}
	if !t.d.Next() {
		t.err = t.d.Err()
		if t.err == nil && len(t.d.Rest()) != 0 {
			t.err = fmt.Errorf("%w: %d octets after the last transform", ErrPayloadLength, len(t.d.Rest()))
		}
		if t.err == nil && t.n != int(t.want) {
			t.err = fmt.Errorf("%w: proposal says %d transforms, has %d", ErrPayload, t.want, t.n)
		}
		return false
	}
	pl := t.d.Payload()
	if pl.Type != PayloadTransform || len(pl.Body) < 4 {
		t.err = fmt.Errorf("%w: %s of %d octets in a proposal", ErrPayload, pl.Type, len(pl.Body))
		return false
	}
	if pl.Body[2] != 0 || pl.Body[3] != 0 {
		t.err = fmt.Errorf("%w: transform", ErrReserved)
		return false
	}
	t.n++
	if t.n > int(t.want) {
		t.err = fmt.Errorf("%w: proposal says %d transforms, has more", ErrPayload, t.want)
		return false
	}
	t.cur = Transform{Num: pl.Body[0], ID: pl.Body[1], Attrs: pl.Body[4:]}
	return true
}

// Transform returns the current transform.
func (t *TransformDecoder) Transform() Transform { return t.cur }

// Err returns the first error met.
func (t *TransformDecoder) Err() error { return t.err }

// Attr is a data attribute (RFC 2408 §3.3): Basic (TV, the AF bit set)
// with a 16-bit Value, or variable (TLV) with Data.
type Attr struct {
	Type  uint16
	Basic bool
	Value uint16
	Data  []byte
}

// BasicAttr returns a TV attribute.
func BasicAttr(t, v uint16) Attr { return Attr{Type: t, Basic: true, Value: v} }

// VarAttr returns a TLV attribute.
func VarAttr(t uint16, data []byte) Attr { return Attr{Type: t, Data: data} }

// UintAttr returns v as a basic attribute when it fits 16 bits, else as a
// variable one of 4 (or 8) octets, the way IOS encodes life durations.
func UintAttr(t uint16, v uint64) Attr {
	if v <= 0xffff {
		return BasicAttr(t, uint16(v))
	}
	if v <= 0xffffffff {
		return VarAttr(t, binary.BigEndian.AppendUint32(nil, uint32(v)))
	}
	return VarAttr(t, binary.BigEndian.AppendUint64(nil, v))
}

// Uint returns the attribute's value as a number: the basic value, or a
// variable value of at most 8 octets (RFC 2408 §3.3).
func (a Attr) Uint() (uint64, bool) {
	if a.Basic {
		return uint64(a.Value), true
	}
	if len(a.Data) == 0 || len(a.Data) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range a.Data {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// AppendAttr appends a.
func AppendAttr(b []byte, a Attr) []byte {
	if a.Basic {
		b = binary.BigEndian.AppendUint16(b, a.Type|0x8000)
		return binary.BigEndian.AppendUint16(b, a.Value)
	}
	b = binary.BigEndian.AppendUint16(b, a.Type&0x7fff)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Data)))
	return append(b, a.Data...)
}

// AttrDecoder iterates data attributes. Errors are sticky.
type AttrDecoder struct {
	b   []byte
	off int
	n   int
	cur Attr
	err error
}

// NewAttrDecoder returns a decoder over an attribute list.
func NewAttrDecoder(b []byte) AttrDecoder { return AttrDecoder{b: b} }

// Next advances to the next attribute.
func (d *AttrDecoder) Next() bool {
	if d.err != nil || d.off >= len(d.b) {
		return false
	}
	rest := d.b[d.off:]
	if len(rest) < 4 {
		d.err = fmt.Errorf("%w: attribute header needs 4 octets, %d left", ErrPayloadLength, len(rest))
		return false
	}
	d.n++
	if d.n > MaxPayloads {
		d.err = fmt.Errorf("%w: more than %d attributes", ErrTooMany, MaxPayloads)
		return false
	}
	t := binary.BigEndian.Uint16(rest)
	v := binary.BigEndian.Uint16(rest[2:])
	if t&0x8000 != 0 {
		d.cur = Attr{Type: t & 0x7fff, Basic: true, Value: v}
		d.off += 4
		return true
	}
	if 4+int(v) > len(rest) {
		d.err = fmt.Errorf("%w: attribute %d of %d octets with %d left", ErrPayloadLength, t, v, len(rest)-4)
		return false
	}
	d.cur = Attr{Type: t, Data: rest[4 : 4+int(v) : 4+int(v)]}
	d.off += 4 + int(v)
	return true
}

// Attr returns the current attribute.
func (d *AttrDecoder) Attr() Attr { return d.cur }

// Err returns the first error met.
func (d *AttrDecoder) Err() error { return d.err }

// ProposalSpec is a proposal to encode.
type ProposalSpec struct {
	Num        uint8
	Protocol   ProtocolID
	SPI        []byte
	Transforms []TransformSpec
}

// TransformSpec is a transform to encode.
type TransformSpec struct {
	Num   uint8
	ID    uint8
	Attrs []Attr
}

// AppendSA appends an SA payload body in the IPsec DOI with
// SIT_IDENTITY_ONLY: the proposals, each with its transforms, chained as
// RFC 2408 §3.5/§3.6 say (Next Payload 2 or 3 until the last, then 0).
func AppendSA(b []byte, props []ProposalSpec) []byte {
	b = binary.BigEndian.AppendUint32(b, DOIIPsec)
	b = binary.BigEndian.AppendUint32(b, SituationIdentityOnly)
	for i, p := range props {
		start := len(b)
		next := byte(PayloadProposal)
		if i == len(props)-1 {
			next = 0
		}
		b = append(b, next, 0, 0, 0, p.Num, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
		b = append(b, p.SPI...)
		for j, t := range p.Transforms {
			ts := len(b)
			tn := byte(PayloadTransform)
			if j == len(p.Transforms)-1 {
				tn = 0
			}
			b = append(b, tn, 0, 0, 0, t.Num, t.ID, 0, 0)
			for _, a := range t.Attrs {
				b = AppendAttr(b, a)
			}
			binary.BigEndian.PutUint16(b[ts+2:], uint16(len(b)-ts))
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	}
	return b
}
