package mppe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Protocol is the PPP protocol number of a compressed or encrypted
// datagram (RFC 1962 §4), which carries MPPE packets.
const Protocol = 0x00fd

// HeaderLen is the length of the MPPE header (RFC 3078 §3).
const HeaderLen = 2

// CountSpace is the number of coherency counts: the count is 12 bits and
// wraps from 0xFFF to 0 (RFC 3078 §3).
const CountSpace = 1 << 12

const countMask = CountSpace - 1

// Flags are the four high bits of the first octet of the MPPE header.
type Flags uint8

const (
	// FlagFlushed (A) says the RC4 table was initialised before this
	// packet: on every stateless packet, on the stateful "flag" packet
	// and after a CCP Reset-Request (RFC 3078 §3, §8).
	FlagFlushed Flags = 0x80
	// FlagFront (B) belongs to MPPC (RFC 2118 §2); MPPE alone ignores it.
	FlagFront Flags = 0x40
	// FlagCompressed (C) marks an MPPC-compressed packet. This package
	// never compresses: a packet with C is refused.
	FlagCompressed Flags = 0x20
	// FlagEncrypted (D) marks an encrypted packet; MPPE sets it always.
	FlagEncrypted Flags = 0x10
)

func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var b strings.Builder
	for _, n := range []struct {
		f    Flags
		name string
	}{{FlagFlushed, "A"}, {FlagFront, "B"}, {FlagCompressed, "C"}, {FlagEncrypted, "D"}} {
		if f&n.f != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(n.name)
		}
	}
	if rest := f &^ 0xf0; rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "%#x", uint8(rest))
	}
	return b.String()
}

// Header is the MPPE header of RFC 3078 §3.
type Header struct {
	Flags Flags  // A, B, C and D
	Count uint16 // the 12-bit coherency count
}

var (
	ErrShort  = errors.New("mppe: packet shorter than the MPPE header and one octet")
	ErrHeader = errors.New("mppe: header field out of range")
)

// ParseHeader decodes the MPPE header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	v := binary.BigEndian.Uint16(b)
	return Header{Flags: Flags(v >> 8 & 0xf0), Count: v & countMask}, nil
}

// Append appends the two header octets to b. Flags outside A–D or a count
// beyond 12 bits are an error.
func (h Header) Append(b []byte) ([]byte, error) {
	if h.Flags&0x0f != 0 || h.Count > countMask {
		return b, fmt.Errorf("%w: flags %v, count %#x", ErrHeader, h.Flags, h.Count)
	}
	return appendHeader(b, h.Flags, h.Count), nil
}

func appendHeader(b []byte, f Flags, count uint16) []byte {
	return append(b, byte(f)|byte(count>>8), byte(count))
}

// OptionType is the CCP configuration option of MPPE and MPPC (RFC 3078
// §2, RFC 2118 §3); OptionLen is its length.
const (
	OptionType = 18
	OptionLen  = 6
)

// Options are the 32 "supported bits" of the CCP option (RFC 3078 §2),
// most significant octet first on the wire. Bits this package does not
// name are kept, so that negotiation can see and refuse them.
type Options uint32

const (
	OptMPPC      Options = 0x00000001 // C: MPPC compression (RFC 2118)
	OptObsolete  Options = 0x00000010 // D: obsolete, must not be set
	Opt40        Options = 0x00000020 // L: 40-bit keys
	Opt128       Options = 0x00000040 // S: 128-bit keys
	Opt56        Options = 0x00000080 // M: 56-bit keys
	OptStateless Options = 0x01000000 // H: stateless ("historyless") mode
)

var optionNames = []struct {
	o    Options
	name string
}{
	{OptStateless, "stateless"},
	{Opt128, "128-bit"},
	{Opt56, "56-bit"},
	{Opt40, "40-bit"},
	{OptObsolete, "obsolete-D"},
	{OptMPPC, "MPPC"},
}

// String names the bits, for example "stateless 128-bit"; unnamed bits
// follow in hex.
func (o Options) String() string {
	if o == 0 {
		return "none"
	}
	var parts []string
	rest := o
	for _, n := range optionNames {
		if o&n.o != 0 {
			parts = append(parts, n.name)
			rest &^= n.o
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#08x", uint32(rest)))
	}
	return strings.Join(parts, " ")
}

// Strongest returns the strongest key strength o offers, and false if it
// offers none.
func (o Options) Strongest() (Strength, bool) {
	switch {
	case o&Opt128 != 0:
		return Key128, true
	case o&Opt56 != 0:
		return Key56, true
	case o&Opt40 != 0:
		return Key40, true
	}
	return 0, false
}

// WithStrength returns o with exactly one strength bit, that of s.
func (o Options) WithStrength(s Strength) Options {
	o &^= Opt40 | Opt56 | Opt128
	switch s {
	case Key40:
		o |= Opt40
	case Key56:
		o |= Opt56
	case Key128:
		o |= Opt128
	}
	return o
}

var ErrOption = errors.New("mppe: not an MPPE/MPPC option of length 6")

// ParseOptionValue decodes the four-octet value of the CCP option (what a
// PPP option iterator hands out after type and length).
func ParseOptionValue(v []byte) (Options, error) {
	if len(v) != OptionLen-2 {
		return 0, fmt.Errorf("%w: value of %d octets", ErrOption, len(v))
	}
	return Options(binary.BigEndian.Uint32(v)), nil
}

// ParseOption decodes a whole CCP option: type 18, length 6, the bits.
func ParseOption(b []byte) (Options, error) {
	if len(b) < OptionLen || b[0] != OptionType || b[1] != OptionLen {
		return 0, ErrOption
	}
	return Options(binary.BigEndian.Uint32(b[2:])), nil
}

// AppendOption appends the CCP option carrying o (type, length, bits).
func (o Options) AppendOption(b []byte) []byte {
	b = append(b, OptionType, OptionLen)
	return binary.BigEndian.AppendUint32(b, uint32(o))
}
