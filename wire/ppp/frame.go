package ppp

// PPP frame header, RFC 1661 §2 and RFC 1662 §3.1:
//
//	+----------+----------+----------+-------------
//	| Address  | Control  | Protocol | Information
//	|   0xFF   |   0x03   | 8/16 bit |
//	+----------+----------+----------+-------------
//
// Address and Control are absent when the link carries none (PPPoE) or when
// Address-and-Control-Field-Compression was agreed (RFC 1661 §6.6); the
// Protocol field is one octet when Protocol-Field-Compression was agreed and
// the value fits (RFC 1661 §6.5).

const (
	// AllStations and UI are the HDLC address and control octets.
	AllStations = 0xFF
	UI          = 0x03
	// MaxHeaderLen is the most headroom a PPP header can need.
	MaxHeaderLen = 4
)

// ParseFrame splits a PPP frame (without HDLC flags and FCS) into its
// protocol and payload. It accepts frames with or without the address and
// control fields and with one- or two-octet protocol fields whatever was
// negotiated, as RFC 1661 §6.5/§6.6 require of a receiver. It does not
// allocate; payload aliases b.
func ParseFrame(b []byte) (Protocol, []byte, error) {
	if len(b) >= 2 && b[0] == AllStations && b[1] == UI {
		b = b[2:]
	}
	if len(b) == 0 {
		return 0, nil, ErrShort
	}
	if b[0]&1 == 1 {
		// Compressed: a single odd octet.
		return Protocol(b[0]), b[1:], nil
	}
	if len(b) < 2 {
		return 0, nil, ErrShort
	}
	p := Protocol(b[0])<<8 | Protocol(b[1])
	if b[1]&1 == 0 {
		return 0, nil, ErrProtocol
	}
	return p, b[2:], nil
}

// Framing says how this end writes PPP headers. It is an immutable value the
// control plane hands to the data plane once LCP is open.
type Framing struct {
	// AddressControl is set when the medium carries the 0xFF03 address and
	// control octets at all (HDLC-like framing, L2TP); clear for PPPoE.
	AddressControl bool
	// ACFC and PFC are set when the peer agreed to receive compressed
	// address/control and protocol fields.
	ACFC, PFC bool
}

// addrCtl reports whether a frame of protocol p carries FF03. LCP packets
// never have it compressed (RFC 1661 §6.6).
func (f Framing) addrCtl(p Protocol) bool {
	return f.AddressControl && (!f.ACFC || p == ProtoLCP)
}

// HeaderLen returns the number of octets Put writes for p.
func (f Framing) HeaderLen(p Protocol) int {
	n := 2
	if f.PFC && p.Compressible() {
		n = 1
	}
	if f.addrCtl(p) {
		n += 2
	}
	return n
}

// Put writes the header for p at the start of b, which must have room for
// HeaderLen(p) octets, and returns the number written.
func (f Framing) Put(b []byte, p Protocol) int {
	n := 0
	if f.addrCtl(p) {
		b[0], b[1] = AllStations, UI
		n = 2
	}
	if f.PFC && p.Compressible() {
		b[n] = byte(p)
		return n + 1
	}
	b[n], b[n+1] = byte(p>>8), byte(p)
	return n + 2
}

// Append appends the header for p to dst.
func (f Framing) Append(dst []byte, p Protocol) []byte {
	var h [MaxHeaderLen]byte
	n := f.Put(h[:], p)
	return append(dst, h[:n]...)
}

// Prepend writes the header for p into the headroom of buf just before
// buf[off:], the payload, and returns the index where the frame now starts.
// It is the in-place encapsulation of the data path and does not allocate.
func (f Framing) Prepend(buf []byte, off int, p Protocol) (int, error) {
	n := f.HeaderLen(p)
	if off < n || off > len(buf) {
		return 0, ErrHeadroom
	}
	f.Put(buf[off-n:], p)
	return off - n, nil
}
