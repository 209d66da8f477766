package ppp

// Asynchronous HDLC-like framing, RFC 1662 §4:
//
//	0x7E | frame octets, escaped | FCS-16 (LSB first), escaped | 0x7E
//
// An octet is escaped by sending Control-Escape (0x7D) followed by the octet
// XOR 0x20. Flag and Control-Escape are always escaped; octets below 0x20 are
// escaped when their bit is set in the Async-Control-Character-Map.

const (
	Flag          = 0x7E
	ControlEscape = 0x7D
	// DefaultACCM is the map in force until LCP agrees another (RFC 1662 §7.1).
	DefaultACCM uint32 = 0xFFFFFFFF
	// FCSInit is the FCS-16 initial value and FCSGood the residue of a frame
	// whose FCS is correct (RFC 1662 §C.2).
	FCSInit uint16 = 0xFFFF
	FCSGood uint16 = 0xF0B8
)

// fcsTable is the table of RFC 1662 §C.2, built from the polynomial
// x**0 + x**5 + x**12 + x**16 (0x8408 in reversed bit order).
var fcsTable = func() (t [256]uint16) {
	for b := range 256 {
		v := uint16(b)
		for range 8 {
			if v&1 != 0 {
				v = v>>1 ^ 0x8408
			} else {
				v >>= 1
			}
		}
		t[b] = v
	}
	return t
}()

// FCS16 updates fcs with the octets of b (RFC 1662 §C.2, pppfcs16).
func FCS16(fcs uint16, b []byte) uint16 {
	for _, c := range b {
		fcs = fcs>>8 ^ fcsTable[byte(fcs)^c]
	}
	return fcs
}

func needsEscape(c byte, accm uint32) bool {
	return c == Flag || c == ControlEscape || (c < 0x20 && accm&(1<<c) != 0)
}

func appendEscaped(dst []byte, c byte, accm uint32) []byte {
	if needsEscape(c, accm) {
		return append(dst, ControlEscape, c^0x20)
	}
	return append(dst, c)
}

// AppendHDLC appends frame (a PPP frame with its address/control and
// protocol fields, without FCS) in asynchronous HDLC-like framing: opening
// flag, escaped octets, escaped FCS-16 and closing flag. LCP packets must be
// sent with DefaultACCM (RFC 1662 §7.1).
func AppendHDLC(dst, frame []byte, accm uint32) []byte {
	dst = append(dst, Flag)
	for _, c := range frame {
		dst = appendEscaped(dst, c, accm)
	}
	fcs := FCS16(FCSInit, frame) ^ 0xFFFF
	dst = appendEscaped(dst, byte(fcs), accm)
	dst = appendEscaped(dst, byte(fcs>>8), accm)
	return append(dst, Flag)
}

// Decoder is a streaming decoder of asynchronous HDLC-like framing. Feed it
// the octets of a byte stream in pieces of any size; frames split across
// reads are reassembled. It does not allocate after NewDecoder.
type Decoder struct {
	max     int
	buf     []byte
	esc     bool
	discard error // set when the frame in progress is already bad
	reset   bool  // buf holds a frame returned by the last call
}

// NewDecoder returns a decoder for frames of at most maxFrame octets (the
// address, control, protocol and information fields, without FCS).
func NewDecoder(maxFrame int) *Decoder {
	return &Decoder{max: maxFrame, buf: make([]byte, 0, maxFrame+2)}
}

// Next consumes octets of in until a frame ends or in is exhausted. It
// returns the number of octets consumed and, when a closing flag was seen,
// either the frame (without FCS, valid until the next call) or the error
// that made it invalid (bad FCS, too long, runt, aborted). Callers loop:
//
//	for len(in) > 0 {
//		frame, n, err := d.Next(in)
//		in = in[n:]
//		...
//	}
func (d *Decoder) Next(in []byte) (frame []byte, n int, err error) {
	if d.reset {
		d.buf = d.buf[:0]
		d.reset = false
	}
	for i, c := range in {
		switch {
		case c == Flag:
			if len(d.buf) == 0 && d.discard == nil && !d.esc {
				continue // idle flags between frames
			}
			f, err := d.finish()
			return f, i + 1, err
		case c == ControlEscape:
			d.esc = true
		default:
			if d.esc {
				c ^= 0x20
				d.esc = false
			}
			if d.discard != nil {
				continue
			}
			if len(d.buf) >= d.max+2 {
				d.discard = ErrFrameTooLong
				continue
			}
			d.buf = append(d.buf, c)
		}
	}
	return nil, len(in), nil
}

// finish closes the frame in progress at a flag.
func (d *Decoder) finish() ([]byte, error) {
	d.reset = true
	esc, bad := d.esc, d.discard
	d.esc, d.discard = false, nil
	switch {
	case esc:
		return nil, ErrAbort // RFC 1662 §4.2: 0x7D 0x7E aborts the frame
	case bad != nil:
		return nil, bad
	case len(d.buf) < 4: // shortest frame: 1-octet protocol, 1 octet, FCS
		return nil, ErrRunt
	case FCS16(FCSInit, d.buf) != FCSGood:
		return nil, ErrFCS
	}
	return d.buf[:len(d.buf)-2], nil
}
