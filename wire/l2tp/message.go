package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// MsgType is the value of the Message Type AVP, RFC 2661 §3.2.
type MsgType uint16

// Control message types, RFC 2661 §3.2 and §6.
const (
	MsgSCCRQ   MsgType = 1  // Start-Control-Connection-Request, §6.1
	MsgSCCRP   MsgType = 2  // Start-Control-Connection-Reply, §6.2
	MsgSCCCN   MsgType = 3  // Start-Control-Connection-Connected, §6.3
	MsgStopCCN MsgType = 4  // Stop-Control-Connection-Notification, §6.4
	MsgHELLO   MsgType = 6  // Hello, §6.5
	MsgOCRQ    MsgType = 7  // Outgoing-Call-Request, §6.7
	MsgOCRP    MsgType = 8  // Outgoing-Call-Reply, §6.8
	MsgOCCN    MsgType = 9  // Outgoing-Call-Connected, §6.9
	MsgICRQ    MsgType = 10 // Incoming-Call-Request, §6.10
	MsgICRP    MsgType = 11 // Incoming-Call-Reply, §6.11
	MsgICCN    MsgType = 12 // Incoming-Call-Connected, §6.12
	MsgCDN     MsgType = 14 // Call-Disconnect-Notify, §6.13
	MsgWEN     MsgType = 15 // WAN-Error-Notify, §6.14
	MsgSLI     MsgType = 16 // Set-Link-Info, §6.15

	// MsgZLB is not a message type on the wire: it marks a Zero-Length
	// Body acknowledgement (§5.8) in logs.
	MsgZLB MsgType = 0xffff
)

var msgNames = [...]string{
	MsgSCCRQ: "SCCRQ", MsgSCCRP: "SCCRP", MsgSCCCN: "SCCCN", MsgStopCCN: "StopCCN",
	MsgHELLO: "HELLO", MsgOCRQ: "OCRQ", MsgOCRP: "OCRP", MsgOCCN: "OCCN",
	MsgICRQ: "ICRQ", MsgICRP: "ICRP", MsgICCN: "ICCN", MsgCDN: "CDN",
	MsgWEN: "WEN", MsgSLI: "SLI",
}

func (t MsgType) String() string {
	if t == MsgZLB {
		return "ZLB"
	}
	if int(t) < len(msgNames) && msgNames[t] != "" {
		return msgNames[t]
	}
	return "MSG(" + strconv.Itoa(int(t)) + ")"
}

// Known reports whether t is a message type of RFC 2661.
func (t MsgType) Known() bool { return int(t) < len(msgNames) && msgNames[t] != "" }

// IsSession reports whether t is a call-management message, carried with a
// non-zero Session ID (§3.2).
func (t MsgType) IsSession() bool {
	switch t {
	case MsgOCRQ, MsgOCRP, MsgOCCN, MsgICRQ, MsgICRP, MsgICCN, MsgCDN, MsgWEN, MsgSLI:
		return true
	}
	return false
}

// avpSet is a bitmask over the IETF attribute types 0..63.
type avpSet uint64

func setOf(ts ...AVPType) avpSet {
	var s avpSet
	for _, t := range ts {
		s |= 1 << t
	}
	return s
}

// Required AVPs of each message. RFC MUST rules as data.
var requiredAVPs = map[MsgType]avpSet{
	// RFC 2661 §6.1: Message Type, Protocol Version, Host Name, Framing
	// Capabilities, Assigned Tunnel ID.
	MsgSCCRQ: setOf(AVPMessageType, AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID),
	// RFC 2661 §6.2: the same set as SCCRQ.
	MsgSCCRP: setOf(AVPMessageType, AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID),
	// RFC 2661 §6.3: Message Type.
	MsgSCCCN: setOf(AVPMessageType),
	// RFC 2661 §6.4: Message Type, Assigned Tunnel ID, Result Code.
	MsgStopCCN: setOf(AVPMessageType, AVPAssignedTunnelID, AVPResultCode),
	// RFC 2661 §6.5: Message Type.
	MsgHELLO: setOf(AVPMessageType),
	// RFC 2661 §6.7: Message Type, Assigned Session ID, Call Serial Number,
	// Minimum BPS, Maximum BPS, Bearer Type, Framing Type, Called Number.
	MsgOCRQ: setOf(AVPMessageType, AVPAssignedSessionID, AVPCallSerialNumber, AVPMinimumBPS, AVPMaximumBPS, AVPBearerType, AVPFramingType, AVPCalledNumber),
	// RFC 2661 §6.8: Message Type, Assigned Session ID.
	MsgOCRP: setOf(AVPMessageType, AVPAssignedSessionID),
	// RFC 2661 §6.9: Message Type, (Tx) Connect Speed, Framing Type.
	MsgOCCN: setOf(AVPMessageType, AVPTxConnectSpeed, AVPFramingType),
	// RFC 2661 §6.10: Message Type, Assigned Session ID, Call Serial Number.
	MsgICRQ: setOf(AVPMessageType, AVPAssignedSessionID, AVPCallSerialNumber),
	// RFC 2661 §6.11: Message Type, Assigned Session ID.
	MsgICRP: setOf(AVPMessageType, AVPAssignedSessionID),
	// RFC 2661 §6.12: Message Type, (Tx) Connect Speed, Framing Type.
	MsgICCN: setOf(AVPMessageType, AVPTxConnectSpeed, AVPFramingType),
	// RFC 2661 §6.13: Message Type, Result Code, Assigned Session ID.
	MsgCDN: setOf(AVPMessageType, AVPResultCode, AVPAssignedSessionID),
	// RFC 2661 §6.14: Message Type, Call Errors.
	MsgWEN: setOf(AVPMessageType, AVPCallErrors),
	// RFC 2661 §6.15: Message Type, ACCM.
	MsgSLI: setOf(AVPMessageType, AVPACCM),
}

// mandatoryBit is the M bit each AVP is sent with, per its §4.4 definition
// ("this AVP MAY/MUST be marked mandatory"): false for the informational
// ones the peer may ignore.
var mandatoryBit = [maxKnownAVP + 1]bool{
	AVPMessageType: true, AVPResultCode: true, AVPProtocolVersion: true,
	AVPFramingCapabilities: true, AVPBearerCapabilities: true,
	AVPTieBreaker: false, AVPFirmwareRevision: false, AVPHostName: true,
	AVPVendorName: false, AVPAssignedTunnelID: true, AVPReceiveWindowSize: true,
	AVPChallenge: true, AVPQ931CauseCode: true, AVPChallengeResponse: true,
	AVPAssignedSessionID: true, AVPCallSerialNumber: true, AVPMinimumBPS: true,
	AVPMaximumBPS: true, AVPBearerType: true, AVPFramingType: true,
	AVPCalledNumber: true, AVPCallingNumber: true, AVPSubAddress: true,
	AVPTxConnectSpeed: true, AVPPhysicalChannelID: false,
	AVPInitialRecvLCPConfReq: false, AVPLastSentLCPConfReq: false, AVPLastRecvLCPConfReq: false,
	AVPProxyAuthenType: false, AVPProxyAuthenName: false, AVPProxyAuthenChallenge: false,
	AVPProxyAuthenID: false, AVPProxyAuthenResponse: false,
	AVPCallErrors: true, AVPACCM: true, AVPRandomVector: true,
	AVPPrivateGroupID: false, AVPRxConnectSpeed: false, AVPSequencingRequired: true,
}

// Capability and type bits (§4.4.3, §4.4.4).
const (
	FramingSync   uint32 = 1 // synchronous framing
	FramingAsync  uint32 = 2 // asynchronous framing
	BearerDigital uint32 = 1
	BearerAnalog  uint32 = 2
)

// Proxy Authen Type values (§4.4.5).
const (
	ProxyAuthReserved uint16 = 0
	ProxyAuthText     uint16 = 1 // textual username/password exchange
	ProxyAuthCHAP     uint16 = 2 // PPP CHAP
	ProxyAuthPAP      uint16 = 3 // PPP PAP
	ProxyAuthNone     uint16 = 4 // no authentication
	ProxyAuthMSCHAPv1 uint16 = 5 // Microsoft CHAP version 1
)

// Q931 is the Q.931 Cause Code AVP (§4.4.4).
type Q931 struct {
	Cause    uint16
	Msg      uint8
	Advisory string
}

// CallErrors is the Call Errors AVP of a WEN (§4.4.6).
type CallErrors struct {
	CRC, Framing, HardwareOverruns, BufferOverruns, Timeout, Alignment uint32
}

// ACCM is the ACCM AVP of an SLI (§4.4.6).
type ACCM struct{ Send, Recv uint32 }

// Message is a decoded control message: every AVP of RFC 2661 §4.4 as a
// typed field. Has reports which were present. Byte slices are copies, so
// a Message outlives the datagram it was parsed from.
type Message struct {
	Type MsgType
	set  avpSet

	Result             Result
	ProtocolVersion    uint8
	ProtocolRevision   uint8
	FramingCaps        uint32
	BearerCaps         uint32
	TieBreaker         [8]byte
	FirmwareRevision   uint16
	HostName           string
	VendorName         string
	AssignedTunnelID   uint16
	RecvWindowSize     uint16
	Challenge          []byte
	ChallengeResponse  []byte
	Q931               Q931
	AssignedSessionID  uint16
	CallSerialNumber   uint32
	MinBPS, MaxBPS     uint32
	BearerType         uint32
	FramingType        uint32
	CalledNumber       string
	CallingNumber      string
	SubAddress         string
	TxConnectSpeed     uint32
	RxConnectSpeed     uint32
	PhysicalChannelID  uint32
	PrivateGroupID     []byte
	InitialRecvLCP     []byte // Initial Received LCP CONFREQ
	LastSentLCP        []byte // Last Sent LCP CONFREQ
	LastRecvLCP        []byte // Last Received LCP CONFREQ
	ProxyAuthType      uint16
	ProxyAuthName      string
	ProxyAuthChallenge []byte
	ProxyAuthID        uint16
	ProxyAuthResponse  []byte
	CallErrors         CallErrors
	ACCM               ACCM
	RandomVector       []byte

	// UnknownOptional counts unrecognised AVPs without the M bit, skipped
	// as §4.1 requires; Vendor counts vendor-specific AVPs skipped.
	UnknownOptional int
	Vendor          int
	// Hide lists, on encode, the AVP types to send hidden (§4.3) when a
	// secret is given to Append.
	Hide []AVPType
}

// Has reports whether the AVP t was present (decode) or is set (encode).
func (m *Message) Has(t AVPType) bool { return int(t) < 64 && m.set&(1<<t) != 0 }

// Set marks AVP t as present, for encoding fields whose zero value is
// meaningful (Sequencing Required has no value at all).
func (m *Message) Set(ts ...AVPType) { m.set |= setOf(ts...) }

// Clear marks AVP t as absent.
func (m *Message) Clear(t AVPType) { m.set &^= 1 << t }

// AVPError describes a bad or unacceptable AVP; the FSM uses it to choose
// the StopCCN/CDN result.
type AVPError struct {
	Msg       MsgType
	Type      AVPType
	Vendor    uint16
	Mandatory bool
	Err       error
}

func (e *AVPError) Error() string {
	if e.Vendor != VendorIETF {
		return fmt.Sprintf("l2tp: %v: vendor %d AVP %d: %v", e.Msg, e.Vendor, uint16(e.Type), e.Err)
	}
	return fmt.Sprintf("l2tp: %v: %v AVP: %v", e.Msg, e.Type, e.Err)
}

func (e *AVPError) Unwrap() error { return e.Err }

// Errors of message decoding.
var (
	ErrNoMessageType = errors.New("l2tp: first AVP is not Message Type")
	ErrMissingAVP    = errors.New("l2tp: required AVP missing")
	ErrUnknownMsg    = errors.New("l2tp: unknown message type")
	// ErrZeroID is a tunnel or session ID AVP that RFC 2661 requires to
	// be non-zero but is 0 (§4.4.3 Assigned Tunnel ID, §4.4.4 Assigned
	// Session ID): 0 is the "no tunnel/session yet" value of the header.
	ErrZeroID = errors.New("l2tp: ID must be non-zero")
	// ErrZeroWindow is a Receive Window Size of 0: the peer could then
	// never be sent anything (§5.8 sends only within the window).
	ErrZeroWindow = errors.New("l2tp: Receive Window Size 0")
)

// ResultFor maps a decode error to the Result Code a tunnel or session is
// torn down with: §4.1 for unknown mandatory AVPs (result 2, error 8), a
// length error (2/2), anything else malformed (2/3).
func ResultFor(err error) Result {
	switch {
	case errors.Is(err, ErrUnknownMandatory):
		return Result{Code: StopGeneralError, Error: ErrCodeUnknownMandatory, HasError: true}
	case errors.Is(err, ErrAVPLength), errors.Is(err, ErrShort):
		return Result{Code: StopGeneralError, Error: ErrCodeLength, HasError: true}
	case errors.Is(err, ErrZeroID) && isAVP(err, AVPAssignedSessionID):
		// §4.4.2 error 5: "The Session ID is invalid in this context".
		return Result{Code: StopGeneralError, Error: ErrCodeSessionID, HasError: true, Message: truncate(err.Error(), 128)}
	default:
		return Result{Code: StopGeneralError, Error: ErrCodeRange, HasError: true, Message: truncate(err.Error(), 128)}
	}
}

func isAVP(err error, t AVPType) bool {
	var ae *AVPError
	return errors.As(err, &ae) && ae.Vendor == VendorIETF && ae.Type == t
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Decode parses the AVPs of a control message body (the payload after the
// header; an empty body is a ZLB and not a Message). secret unhides hidden
// AVPs (§4.3). The first AVP MUST be Message Type (§4.1 of RFC 2661,
// "The first AVP in every control message MUST be a Message Type AVP").
//
// Unknown AVPs without M are skipped and counted. An unknown AVP with M
// set makes Decode return an *AVPError wrapping ErrUnknownMandatory — but
// only after parsing the rest, so the caller still has the Assigned
// Tunnel/Session ID it needs to send StopCCN or CDN. An unknown message
// type with M set on its Message Type AVP is the same error; with M clear
// the caller ignores the message (§3.2). Required AVPs are checked per
// message type (see requiredAVPs).
func (m *Message) Decode(body []byte, secret []byte) error {
	*m = Message{}
	d := NewAVPDecoder(body)
	var first error
	var scratch []byte
	for i := 0; d.Next(); i++ {
		a := d.AVP()
		if i == 0 {
			if a.Vendor != VendorIETF || a.Type != AVPMessageType || a.Hidden || len(a.Value) != 2 {
				return ErrNoMessageType
			}
			m.Type = MsgType(binary.BigEndian.Uint16(a.Value))
			m.set |= 1 << AVPMessageType
			if !m.Type.Known() {
				err := &AVPError{Msg: m.Type, Type: AVPMessageType, Mandatory: a.Mandatory, Err: ErrUnknownMsg}
				if a.Mandatory {
					err.Err = fmt.Errorf("%w: %w", ErrUnknownMandatory, ErrUnknownMsg)
				}
				return err
			}
			continue
		}
		if a.Vendor != VendorIETF || !a.Type.Known() || a.Type == AVPMessageType {
			if a.Mandatory {
				if first == nil {
					first = &AVPError{Msg: m.Type, Type: a.Type, Vendor: a.Vendor, Mandatory: true, Err: ErrUnknownMandatory}
				}
			} else if a.Vendor != VendorIETF {
				m.Vendor++
			} else {
				m.UnknownOptional++
			}
			continue
		}
		v := a.Value
		if a.Hidden {
			if a.Type == AVPRandomVector {
				// §4.3: the Random Vector itself is never hidden.
				if first == nil {
					first = &AVPError{Msg: m.Type, Type: a.Type, Mandatory: a.Mandatory, Err: errors.New("hidden Random Vector")}
				}
				continue
			}
			var err error
			v, err = Unhide(a.Type, secret, m.RandomVector, a.Value, scratch[:0])
			if err != nil {
				if first == nil {
					first = &AVPError{Msg: m.Type, Type: a.Type, Mandatory: a.Mandatory, Err: err}
				}
				continue
			}
			scratch = v[:0]
		}
		if err := m.setValue(a.Type, v); err != nil {
			if first == nil {
				first = &AVPError{Msg: m.Type, Type: a.Type, Mandatory: a.Mandatory, Err: err}
			}
			continue
		}
		m.set |= 1 << a.Type
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("l2tp: %v: %w", m.Type, err)
	}
	if m.set == 0 {
		return ErrNoMessageType
	}
	if first != nil {
		return first
	}
	return m.CheckRequired()
}

// CheckRequired verifies the per-message table of required AVPs (§6) and
// the values RFC 2661 requires to be non-zero.
func (m *Message) CheckRequired() error {
	req := requiredAVPs[m.Type]
	if missing := req &^ m.set; missing != 0 {
		for t := AVPType(0); t <= maxKnownAVP; t++ {
			if missing&(1<<t) != 0 {
				return &AVPError{Msg: m.Type, Type: t, Mandatory: true, Err: ErrMissingAVP}
			}
		}
	}
	zero := func(t AVPType, err error) error { return &AVPError{Msg: m.Type, Type: t, Mandatory: true, Err: err} }
	switch m.Type {
	case MsgSCCRQ, MsgSCCRP:
		// §4.4.3: the Assigned Tunnel ID of SCCRQ/SCCRP is the non-zero
		// ID the peer must put in every header it sends us.
		if m.AssignedTunnelID == 0 {
			return zero(AVPAssignedTunnelID, ErrZeroID)
		}
	case MsgICRQ, MsgICRP, MsgOCRQ, MsgOCRP:
		// §4.4.4: "Assigned Session ID ... is a non-zero value" in the
		// messages that create a session. CDN may carry 0 (a call
		// refused before any session was made).
		if m.AssignedSessionID == 0 {
			return zero(AVPAssignedSessionID, ErrZeroID)
		}
	}
	if m.Has(AVPReceiveWindowSize) && m.RecvWindowSize == 0 {
		return zero(AVPReceiveWindowSize, ErrZeroWindow)
	}
	return nil
}

func wantLen(v []byte, n int) error {
	if len(v) != n {
		return fmt.Errorf("%w: %d octets, want %d", ErrAVPLength, len(v), n)
	}
	return nil
}

func (m *Message) setValue(t AVPType, v []byte) error {
	u16 := func(dst *uint16) error {
		if err := wantLen(v, 2); err != nil {
			return err
		}
		*dst = binary.BigEndian.Uint16(v)
		return nil
	}
	u32 := func(dst *uint32) error {
		if err := wantLen(v, 4); err != nil {
			return err
		}
		*dst = binary.BigEndian.Uint32(v)
		return nil
	}
	cp := func(dst *[]byte) error {
		*dst = append([]byte(nil), v...)
		return nil
	}
	switch t {
	case AVPResultCode:
		// §4.4.2: Result Code (2) [Error Code (2) [Error Message]].
		if len(v) < 2 || len(v) == 3 {
			return fmt.Errorf("%w: %d octets", ErrAVPLength, len(v))
		}
		m.Result = Result{Code: binary.BigEndian.Uint16(v)}
		if len(v) >= 4 {
			m.Result.HasError = true
			m.Result.Error = binary.BigEndian.Uint16(v[2:])
			m.Result.Message = string(v[4:])
		}
	case AVPProtocolVersion:
		if err := wantLen(v, 2); err != nil {
			return err
		}
		m.ProtocolVersion, m.ProtocolRevision = v[0], v[1]
	case AVPFramingCapabilities:
		return u32(&m.FramingCaps)
	case AVPBearerCapabilities:
		return u32(&m.BearerCaps)
	case AVPTieBreaker:
		if err := wantLen(v, 8); err != nil {
			return err
		}
		copy(m.TieBreaker[:], v)
	case AVPFirmwareRevision:
		return u16(&m.FirmwareRevision)
	case AVPHostName:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty Host Name", ErrAVPLength) // §4.4.3: at least one octet
		}
		m.HostName = string(v)
	case AVPVendorName:
		m.VendorName = string(v)
	case AVPAssignedTunnelID:
		return u16(&m.AssignedTunnelID)
	case AVPReceiveWindowSize:
		return u16(&m.RecvWindowSize)
	case AVPChallenge:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty Challenge", ErrAVPLength)
		}
		return cp(&m.Challenge)
	case AVPChallengeResponse:
		if err := wantLen(v, 16); err != nil {
			return err
		}
		return cp(&m.ChallengeResponse)
	case AVPQ931CauseCode:
		// §4.4.4: Cause Code (2), Cause Msg (1), Advisory Msg (opt).
		if len(v) < 3 {
			return fmt.Errorf("%w: %d octets", ErrAVPLength, len(v))
		}
		m.Q931 = Q931{Cause: binary.BigEndian.Uint16(v), Msg: v[2], Advisory: string(v[3:])}
	case AVPAssignedSessionID:
		return u16(&m.AssignedSessionID)
	case AVPCallSerialNumber:
		return u32(&m.CallSerialNumber)
	case AVPMinimumBPS:
		return u32(&m.MinBPS)
	case AVPMaximumBPS:
		return u32(&m.MaxBPS)
	case AVPBearerType:
		return u32(&m.BearerType)
	case AVPFramingType:
		return u32(&m.FramingType)
	case AVPCalledNumber:
		m.CalledNumber = string(v)
	case AVPCallingNumber:
		m.CallingNumber = string(v)
	case AVPSubAddress:
		m.SubAddress = string(v)
	case AVPTxConnectSpeed:
		return u32(&m.TxConnectSpeed)
	case AVPRxConnectSpeed:
		return u32(&m.RxConnectSpeed)
	case AVPPhysicalChannelID:
		return u32(&m.PhysicalChannelID)
	case AVPPrivateGroupID:
		return cp(&m.PrivateGroupID)
	case AVPSequencingRequired:
		return wantLen(v, 0)
	case AVPInitialRecvLCPConfReq:
		return cp(&m.InitialRecvLCP)
	case AVPLastSentLCPConfReq:
		return cp(&m.LastSentLCP)
	case AVPLastRecvLCPConfReq:
		return cp(&m.LastRecvLCP)
	case AVPProxyAuthenType:
		return u16(&m.ProxyAuthType)
	case AVPProxyAuthenName:
		m.ProxyAuthName = string(v)
	case AVPProxyAuthenChallenge:
		return cp(&m.ProxyAuthChallenge)
	case AVPProxyAuthenID:
		return u16(&m.ProxyAuthID)
	case AVPProxyAuthenResponse:
		return cp(&m.ProxyAuthResponse)
	case AVPCallErrors:
		// §4.4.6: Reserved (2) then six 4-octet counters.
		if err := wantLen(v, 26); err != nil {
			return err
		}
		m.CallErrors = CallErrors{
			CRC:              binary.BigEndian.Uint32(v[2:]),
			Framing:          binary.BigEndian.Uint32(v[6:]),
			HardwareOverruns: binary.BigEndian.Uint32(v[10:]),
			BufferOverruns:   binary.BigEndian.Uint32(v[14:]),
			Timeout:          binary.BigEndian.Uint32(v[18:]),
			Alignment:        binary.BigEndian.Uint32(v[22:]),
		}
	case AVPACCM:
		// §4.4.6: Reserved (2), Send ACCM (4), Receive ACCM (4).
		if err := wantLen(v, 10); err != nil {
			return err
		}
		m.ACCM = ACCM{Send: binary.BigEndian.Uint32(v[2:]), Recv: binary.BigEndian.Uint32(v[6:])}
	case AVPRandomVector:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty Random Vector", ErrAVPLength)
		}
		return cp(&m.RandomVector)
	default:
		return fmt.Errorf("l2tp: no decoder for %v", t)
	}
	return nil
}

// Hiding is the §4.3 material for Append: the shared secret, a fresh
// Random Vector (sent as an AVP before the hidden ones), and optional
// padding.
type Hiding struct {
	Secret       []byte
	RandomVector []byte
	Pad          func(n int) []byte
}

// Append encodes m as a complete control message addressed to the peer's
// tunnelID/sessionID, with the given Ns and Nr. AVPs present (per Has) are
// written in type order after Message Type; types listed in m.Hide are
// hidden when h carries a secret and Random Vector.
func (m *Message) Append(b []byte, tunnelID, sessionID, ns, nr uint16, h *Hiding) ([]byte, error) {
	start := len(b)
	b = AppendControlHeader(b, tunnelID, sessionID, ns, nr)
	e := NewAVPEncoder(b)
	e.Uint16(true, AVPMessageType, uint16(m.Type))
	hiding := h != nil && len(h.Secret) > 0 && len(h.RandomVector) > 0 && len(m.Hide) > 0
	if hiding {
		e.Octets(true, AVPRandomVector, h.RandomVector)
		e.SetHiding(h.Secret, h.RandomVector, h.Pad)
	}
	var scratch [26]byte
	for t := AVPType(1); t <= maxKnownAVP; t++ {
		if !m.Has(t) || (t == AVPRandomVector && hiding) {
			continue
		}
		v := m.value(t, scratch[:0])
		mb := mandatoryBit[t]
		if hiding && m.hidden(t) {
			e.Hidden(mb, t, v)
		} else {
			e.Octets(mb, t, v)
		}
	}
	b, err := e.Bytes()
	if err != nil {
		return b[:start], fmt.Errorf("l2tp: encoding %v: %w", m.Type, err)
	}
	if err := FinishControl(b[start:]); err != nil {
		return b[:start], err
	}
	return b, nil
}

func (m *Message) hidden(t AVPType) bool {
	for _, h := range m.Hide {
		if h == t {
			return true
		}
	}
	return false
}

func (m *Message) value(t AVPType, b []byte) []byte {
	be := binary.BigEndian
	switch t {
	case AVPResultCode:
		b = be.AppendUint16(b, m.Result.Code)
		if m.Result.HasError || m.Result.Error != 0 || m.Result.Message != "" {
			b = be.AppendUint16(b, m.Result.Error)
			b = append(b, m.Result.Message...)
		}
		return b
	case AVPProtocolVersion:
		return append(b, m.ProtocolVersion, m.ProtocolRevision)
	case AVPFramingCapabilities:
		return be.AppendUint32(b, m.FramingCaps)
	case AVPBearerCapabilities:
		return be.AppendUint32(b, m.BearerCaps)
	case AVPTieBreaker:
		return append(b, m.TieBreaker[:]...)
	case AVPFirmwareRevision:
		return be.AppendUint16(b, m.FirmwareRevision)
	case AVPHostName:
		return append(b, m.HostName...)
	case AVPVendorName:
		return append(b, m.VendorName...)
	case AVPAssignedTunnelID:
		return be.AppendUint16(b, m.AssignedTunnelID)
	case AVPReceiveWindowSize:
		return be.AppendUint16(b, m.RecvWindowSize)
	case AVPChallenge:
		return append(b, m.Challenge...)
	case AVPChallengeResponse:
		return append(b, m.ChallengeResponse...)
	case AVPQ931CauseCode:
		b = be.AppendUint16(b, m.Q931.Cause)
		b = append(b, m.Q931.Msg)
		return append(b, m.Q931.Advisory...)
	case AVPAssignedSessionID:
		return be.AppendUint16(b, m.AssignedSessionID)
	case AVPCallSerialNumber:
		return be.AppendUint32(b, m.CallSerialNumber)
	case AVPMinimumBPS:
		return be.AppendUint32(b, m.MinBPS)
	case AVPMaximumBPS:
		return be.AppendUint32(b, m.MaxBPS)
	case AVPBearerType:
		return be.AppendUint32(b, m.BearerType)
	case AVPFramingType:
		return be.AppendUint32(b, m.FramingType)
	case AVPCalledNumber:
		return append(b, m.CalledNumber...)
	case AVPCallingNumber:
		return append(b, m.CallingNumber...)
	case AVPSubAddress:
		return append(b, m.SubAddress...)
	case AVPTxConnectSpeed:
		return be.AppendUint32(b, m.TxConnectSpeed)
	case AVPRxConnectSpeed:
		return be.AppendUint32(b, m.RxConnectSpeed)
	case AVPPhysicalChannelID:
		return be.AppendUint32(b, m.PhysicalChannelID)
	case AVPPrivateGroupID:
		return append(b, m.PrivateGroupID...)
	case AVPSequencingRequired:
		return b
	case AVPInitialRecvLCPConfReq:
		return append(b, m.InitialRecvLCP...)
	case AVPLastSentLCPConfReq:
		return append(b, m.LastSentLCP...)
	case AVPLastRecvLCPConfReq:
		return append(b, m.LastRecvLCP...)
	case AVPProxyAuthenType:
		return be.AppendUint16(b, m.ProxyAuthType)
	case AVPProxyAuthenName:
		return append(b, m.ProxyAuthName...)
	case AVPProxyAuthenChallenge:
		return append(b, m.ProxyAuthChallenge...)
	case AVPProxyAuthenID:
		return be.AppendUint16(b, m.ProxyAuthID)
	case AVPProxyAuthenResponse:
		return append(b, m.ProxyAuthResponse...)
	case AVPCallErrors:
		b = be.AppendUint16(b, 0)
		c := m.CallErrors
		for _, x := range [...]uint32{c.CRC, c.Framing, c.HardwareOverruns, c.BufferOverruns, c.Timeout, c.Alignment} {
			b = be.AppendUint32(b, x)
		}
		return b
	case AVPACCM:
		b = be.AppendUint16(b, 0)
		b = be.AppendUint32(b, m.ACCM.Send)
		return be.AppendUint32(b, m.ACCM.Recv)
	case AVPRandomVector:
		return append(b, m.RandomVector...)
	}
	return b
}

// ChallengeResponse computes the tunnel authentication response of §4.2:
// MD5 over the message type of the message carrying the response (as one
// octet, the CHAP ID), the shared secret and the challenge.
func ChallengeResponse(msg MsgType, secret, challenge []byte) [16]byte {
	buf := make([]byte, 0, 1+len(secret)+len(challenge))
	buf = append(buf, byte(msg))
	buf = append(buf, secret...)
	buf = append(buf, challenge...)
	return md5.Sum(buf)
}
