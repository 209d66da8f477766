package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// An AVP, RFC 2661 §4.1:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|M|H| rsvd  |      Length       |           Vendor ID           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Attribute Type        |        Attribute Value...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	                    [until Length is reached]...                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	avpFlagM      = 0x8000
	avpFlagH      = 0x4000
	avpRsvd       = 0x3c00
	avpLenMask    = 0x03ff
	AVPHeaderLen  = 6
	MaxAVPValue   = avpLenMask - AVPHeaderLen
	VendorIETF    = 0 // Vendor ID 0: the IETF attribute space (§4.1)
	maxAVPsPerMsg = 1024
)

// AVPType is an IETF attribute type of RFC 2661 §4.4.
type AVPType uint16

// Attribute types, RFC 2661 §4.4.1–§4.4.6.
const (
	AVPMessageType           AVPType = 0  // §4.4.1
	AVPResultCode            AVPType = 1  // §4.4.2
	AVPProtocolVersion       AVPType = 2  // §4.4.3
	AVPFramingCapabilities   AVPType = 3  // §4.4.3
	AVPBearerCapabilities    AVPType = 4  // §4.4.3
	AVPTieBreaker            AVPType = 5  // §4.4.3
	AVPFirmwareRevision      AVPType = 6  // §4.4.3
	AVPHostName              AVPType = 7  // §4.4.3
	AVPVendorName            AVPType = 8  // §4.4.3
	AVPAssignedTunnelID      AVPType = 9  // §4.4.3
	AVPReceiveWindowSize     AVPType = 10 // §4.4.3
	AVPChallenge             AVPType = 11 // §4.4.3
	AVPQ931CauseCode         AVPType = 12 // §4.4.4
	AVPChallengeResponse     AVPType = 13 // §4.4.3
	AVPAssignedSessionID     AVPType = 14 // §4.4.4
	AVPCallSerialNumber      AVPType = 15 // §4.4.4
	AVPMinimumBPS            AVPType = 16 // §4.4.4
	AVPMaximumBPS            AVPType = 17 // §4.4.4
	AVPBearerType            AVPType = 18 // §4.4.4
	AVPFramingType           AVPType = 19 // §4.4.4
	AVPCalledNumber          AVPType = 21 // §4.4.4
	AVPCallingNumber         AVPType = 22 // §4.4.4
	AVPSubAddress            AVPType = 23 // §4.4.4
	AVPTxConnectSpeed        AVPType = 24 // §4.4.4
	AVPPhysicalChannelID     AVPType = 25 // §4.4.4
	AVPInitialRecvLCPConfReq AVPType = 26 // §4.4.5
	AVPLastSentLCPConfReq    AVPType = 27 // §4.4.5
	AVPLastRecvLCPConfReq    AVPType = 28 // §4.4.5
	AVPProxyAuthenType       AVPType = 29 // §4.4.5
	AVPProxyAuthenName       AVPType = 30 // §4.4.5
	AVPProxyAuthenChallenge  AVPType = 31 // §4.4.5
	AVPProxyAuthenID         AVPType = 32 // §4.4.5
	AVPProxyAuthenResponse   AVPType = 33 // §4.4.5
	AVPCallErrors            AVPType = 34 // §4.4.6
	AVPACCM                  AVPType = 35 // §4.4.6
	AVPRandomVector          AVPType = 36 // §4.4.3
	AVPPrivateGroupID        AVPType = 37 // §4.4.4
	AVPRxConnectSpeed        AVPType = 38 // §4.4.4
	AVPSequencingRequired    AVPType = 39 // §4.4.4

	maxKnownAVP = 39
)

var avpNames = [...]string{
	AVPMessageType:           "Message Type",
	AVPResultCode:            "Result Code",
	AVPProtocolVersion:       "Protocol Version",
	AVPFramingCapabilities:   "Framing Capabilities",
	AVPBearerCapabilities:    "Bearer Capabilities",
	AVPTieBreaker:            "Tie Breaker",
	AVPFirmwareRevision:      "Firmware Revision",
	AVPHostName:              "Host Name",
	AVPVendorName:            "Vendor Name",
	AVPAssignedTunnelID:      "Assigned Tunnel ID",
	AVPReceiveWindowSize:     "Receive Window Size",
	AVPChallenge:             "Challenge",
	AVPQ931CauseCode:         "Q.931 Cause Code",
	AVPChallengeResponse:     "Challenge Response",
	AVPAssignedSessionID:     "Assigned Session ID",
	AVPCallSerialNumber:      "Call Serial Number",
	AVPMinimumBPS:            "Minimum BPS",
	AVPMaximumBPS:            "Maximum BPS",
	AVPBearerType:            "Bearer Type",
	AVPFramingType:           "Framing Type",
	AVPCalledNumber:          "Called Number",
	AVPCallingNumber:         "Calling Number",
	AVPSubAddress:            "Sub-Address",
	AVPTxConnectSpeed:        "Tx Connect Speed",
	AVPPhysicalChannelID:     "Physical Channel ID",
	AVPInitialRecvLCPConfReq: "Initial Received LCP CONFREQ",
	AVPLastSentLCPConfReq:    "Last Sent LCP CONFREQ",
	AVPLastRecvLCPConfReq:    "Last Received LCP CONFREQ",
	AVPProxyAuthenType:       "Proxy Authen Type",
	AVPProxyAuthenName:       "Proxy Authen Name",
	AVPProxyAuthenChallenge:  "Proxy Authen Challenge",
	AVPProxyAuthenID:         "Proxy Authen ID",
	AVPProxyAuthenResponse:   "Proxy Authen Response",
	AVPCallErrors:            "Call Errors",
	AVPACCM:                  "ACCM",
	AVPRandomVector:          "Random Vector",
	AVPPrivateGroupID:        "Private Group ID",
	AVPRxConnectSpeed:        "Rx Connect Speed",
	AVPSequencingRequired:    "Sequencing Required",
}

func (t AVPType) String() string {
	if int(t) < len(avpNames) && avpNames[t] != "" {
		return avpNames[t]
	}
	return "AVP(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is an IETF attribute this package understands.
func (t AVPType) Known() bool { return int(t) < len(avpNames) && avpNames[t] != "" }

// AVP is one attribute as it appears on the wire. Value aliases the message
// buffer; when Hidden is set it is still hidden (see Unhide).
type AVP struct {
	Mandatory bool
	Hidden    bool
	Vendor    uint16
	Type      AVPType
	Value     []byte
}

// Errors of the AVP layer.
var (
	ErrAVPLength = errors.New("l2tp: bad AVP length")
	// ErrUnknownMandatory is the §4.1 case: an unrecognised AVP with the M
	// bit set. The tunnel or session MUST be torn down with Result Code 2,
	// error code 8 (see UnknownMandatoryError).
	ErrUnknownMandatory = errors.New("l2tp: unknown mandatory AVP")
	ErrHidden           = errors.New("l2tp: cannot unhide AVP")
	// ErrNoRandomVector is a hidden AVP with no Random Vector AVP before
	// it in the message (§4.3); it wraps ErrHidden.
	ErrNoRandomVector = fmt.Errorf("%w: no Random Vector precedes it", ErrHidden)
)

// AVPDecoder iterates the AVPs of a control message body. Errors are
// sticky: after the first one, Next returns false and Err reports it.
//
//	d := NewAVPDecoder(body)
//	for d.Next() {
//		a := d.AVP()
//		...
//	}
//	if err := d.Err(); err != nil { ... }
type AVPDecoder struct {
	b   []byte
	off int
	n   int
	cur AVP
	err error
}

// NewAVPDecoder returns a decoder over b (the payload after the header).
func NewAVPDecoder(b []byte) AVPDecoder { return AVPDecoder{b: b} }

// Next advances to the next AVP.
func (d *AVPDecoder) Next() bool {
	if d.err != nil || d.off >= len(d.b) {
		return false
	}
	rest := d.b[d.off:]
	if len(rest) < AVPHeaderLen {
		d.err = fmt.Errorf("%w: %d trailing octets at offset %d", ErrAVPLength, len(rest), d.off)
		return false
	}
	d.n++
	if d.n > maxAVPsPerMsg {
		d.err = fmt.Errorf("%w: more than %d AVPs", ErrAVPLength, maxAVPsPerMsg)
		return false
	}
	w := binary.BigEndian.Uint16(rest)
	l := int(w & avpLenMask)
	if l < AVPHeaderLen || l > len(rest) {
		d.err = fmt.Errorf("%w: length %d at offset %d with %d octets left", ErrAVPLength, l, d.off, len(rest))
		return false
	}
	d.cur = AVP{
		Mandatory: w&avpFlagM != 0,
		Hidden:    w&avpFlagH != 0,
		Vendor:    binary.BigEndian.Uint16(rest[2:]),
		Type:      AVPType(binary.BigEndian.Uint16(rest[4:])),
		Value:     rest[AVPHeaderLen:l:l],
	}
	d.off += l
	return true
}

// AVP returns the current attribute.
func (d *AVPDecoder) AVP() AVP { return d.cur }

// Err returns the first error met.
func (d *AVPDecoder) Err() error { return d.err }

// AVPEncoder appends AVPs to a message buffer. Errors are sticky: after
// one, appends are no-ops and Err or Bytes report it.
type AVPEncoder struct {
	b   []byte
	err error
	// hide, when set, hides every AVP passed through Hide (§4.3).
	secret []byte
	rv     []byte
	pad    func(n int) []byte
}

// NewAVPEncoder appends to b (normally a control header).
func NewAVPEncoder(b []byte) *AVPEncoder { return &AVPEncoder{b: b} }

// Bytes returns the buffer and the first error.
func (e *AVPEncoder) Bytes() ([]byte, error) { return e.b, e.err }

// Err returns the first error.
func (e *AVPEncoder) Err() error { return e.err }

func (e *AVPEncoder) header(m, h bool, vendor uint16, t AVPType, n int) bool {
	if e.err != nil {
		return false
	}
	if n > MaxAVPValue {
		e.err = fmt.Errorf("%w: %v value of %d octets exceeds %d", ErrAVPLength, t, n, MaxAVPValue)
		return false
	}
	w := uint16(n + AVPHeaderLen)
	if m {
		w |= avpFlagM
	}
	if h {
		w |= avpFlagH
	}
	e.b = binary.BigEndian.AppendUint16(e.b, w)
	e.b = binary.BigEndian.AppendUint16(e.b, vendor)
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(t))
	return true
}

// Raw appends an AVP with an arbitrary vendor, type and flags.
func (e *AVPEncoder) Raw(m bool, vendor uint16, t AVPType, v []byte) {
	if e.header(m, false, vendor, t, len(v)) {
		e.b = append(e.b, v...)
	}
}

// Octets appends an IETF AVP with value v.
func (e *AVPEncoder) Octets(m bool, t AVPType, v []byte) { e.Raw(m, VendorIETF, t, v) }

// Uint16 appends a 2-octet IETF AVP.
func (e *AVPEncoder) Uint16(m bool, t AVPType, v uint16) {
	if e.header(m, false, VendorIETF, t, 2) {
		e.b = binary.BigEndian.AppendUint16(e.b, v)
	}
}

// Uint32 appends a 4-octet IETF AVP.
func (e *AVPEncoder) Uint32(m bool, t AVPType, v uint32) {
	if e.header(m, false, VendorIETF, t, 4) {
		e.b = binary.BigEndian.AppendUint32(e.b, v)
	}
}

// Text appends a text IETF AVP.
func (e *AVPEncoder) Text(m bool, t AVPType, s string) {
	if e.header(m, false, VendorIETF, t, len(s)) {
		e.b = append(e.b, s...)
	}
}

// SetHiding makes Hidden append AVPs hidden with secret and the Random
// Vector rv, which the caller MUST have appended before (§4.3: the Random
// Vector AVP precedes the hidden AVPs it applies to). pad, if non-nil,
// returns random padding of the requested length; nil means no padding.
func (e *AVPEncoder) SetHiding(secret, rv []byte, pad func(n int) []byte) {
	e.secret, e.rv, e.pad = secret, rv, pad
}

// Hidden appends v hidden per §4.3 when hiding is set, else in clear.
func (e *AVPEncoder) Hidden(m bool, t AVPType, v []byte) {
	if e.err != nil {
		return
	}
	if len(e.secret) == 0 || len(e.rv) == 0 {
		e.Octets(m, t, v)
		return
	}
	var padding []byte
	if e.pad != nil {
		// Pad to a multiple of 16 octets of the subformat: hides the
		// original length from an observer (§4.3).
		n := (16 - (2+len(v))%16) % 16
		padding = e.pad(n)
	}
	n := 2 + len(v) + len(padding)
	if !e.header(m, true, VendorIETF, t, n) {
		return
	}
	start := len(e.b)
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(len(v)))
	e.b = append(e.b, v...)
	e.b = append(e.b, padding...)
	hideInPlace(t, e.secret, e.rv, e.b[start:], true)
}

// hideInPlace XORs buf with the §4.3 MD5 key stream: b1 = MD5(type, secret,
// RV), bi = MD5(secret, c(i-1)), where c is the ciphertext. On encrypt the
// ciphertext is what buf becomes; on decrypt it is what buf was.
func hideInPlace(t AVPType, secret, rv, buf []byte, encrypt bool) {
	var key [md5.Size]byte
	h := md5.New()
	var tb [2]byte
	binary.BigEndian.PutUint16(tb[:], uint16(t))
	h.Write(tb[:])
	h.Write(secret)
	h.Write(rv)
	h.Sum(key[:0])
	var prev [md5.Size]byte
	for off := 0; off < len(buf); off += md5.Size {
		blk := buf[off:min(off+md5.Size, len(buf))]
		if off > 0 {
			h.Reset()
			h.Write(secret)
			h.Write(prev[:])
			h.Sum(key[:0])
		}
		if encrypt {
			for i := range blk {
				blk[i] ^= key[i]
			}
			copy(prev[:], blk)
		} else {
			copy(prev[:], blk)
			for i := range blk {
				blk[i] ^= key[i]
			}
		}
	}
}

// Unhide reveals a hidden AVP value (§4.3) into dst (appended) and returns
// the original value. rv is the most recent Random Vector AVP of the
// message. The hidden value is not modified.
func Unhide(t AVPType, secret, rv, hidden, dst []byte) ([]byte, error) {
	if len(rv) == 0 {
		return nil, fmt.Errorf("%w (%v)", ErrNoRandomVector, t)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w %v: no shared secret", ErrHidden, t)
	}
	if len(hidden) < 2 {
		return nil, fmt.Errorf("%w %v: %d octets", ErrHidden, t, len(hidden))
	}
	start := len(dst)
	dst = append(dst, hidden...)
	buf := dst[start:]
	hideInPlace(t, secret, rv, buf, false)
	n := int(binary.BigEndian.Uint16(buf))
	if n > len(buf)-2 {
		return nil, fmt.Errorf("%w %v: original length %d exceeds %d (wrong secret?)", ErrHidden, t, n, len(buf)-2)
	}
	return buf[2 : 2+n], nil
}
