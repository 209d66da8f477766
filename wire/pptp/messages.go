package pptp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Sizes of the fixed text fields (§2.1, §2.7, §2.9, §2.13).
const (
	HostNameLen       = 64  // Host Name and Vendor String of SCCRQ/SCCRP
	PhoneNumberLen    = 64  // Phone Number, Dialed and Dialing Number
	SubAddressLen     = 64  // Subaddress of OCRQ and ICRQ
	CallStatisticsLen = 128 // Call Statistics of CDN
)

// SCCRQ is a Start-Control-Connection-Request (§2.1), 156 octets.
type SCCRQ struct {
	ProtocolVersion  uint16 // ProtocolVersion, 0x0100
	FramingCaps      Framing
	BearerCaps       Bearer
	MaxChannels      uint16 // a PNS sends 0
	FirmwareRevision uint16
	HostName         string // at most HostNameLen octets
	VendorName       string // the Vendor String, at most HostNameLen octets
}

// SCCRP is a Start-Control-Connection-Reply (§2.2), 156 octets.
type SCCRP struct {
	ProtocolVersion  uint16
	Result           SCCRPResult
	Error            ErrorCode
	FramingCaps      Framing
	BearerCaps       Bearer
	MaxChannels      uint16
	FirmwareRevision uint16
	HostName         string
	VendorName       string
}

// StopCCRQ is a Stop-Control-Connection-Request (§2.3), 16 octets.
type StopCCRQ struct {
	Reason StopReason
}

// StopCCRP is a Stop-Control-Connection-Reply (§2.4), 16 octets.
type StopCCRP struct {
	Result StopResult
	Error  ErrorCode
}

// EchoRequest is an Echo-Request (§2.5), 16 octets.
type EchoRequest struct {
	ID uint32 // the Identifier the Echo-Reply repeats
}

// EchoReply is an Echo-Reply (§2.6), 20 octets.
type EchoReply struct {
	ID     uint32
	Result EchoResult
	Error  ErrorCode
}

// OCRQ is an Outgoing-Call-Request (§2.7), 168 octets.
type OCRQ struct {
	CallID          uint16 // the sender's (PNS's) Call ID
	CallSerial      uint16
	MinBPS          uint32
	MaxBPS          uint32
	BearerType      Bearer
	FramingType     Framing
	RecvWindow      uint16 // Packet Recv. Window Size, §4.2
	ProcessingDelay uint16 // Packet Processing Delay, 1/10 seconds
	PhoneNumber     string // at most PhoneNumberLen; Phone Number Length is derived
	SubAddress      string
}

// OCRP is an Outgoing-Call-Reply (§2.8), 32 octets.
type OCRP struct {
	CallID            uint16 // the sender's (PAC's) Call ID
	PeerCallID        uint16 // the Call ID of the OCRQ
	Result            OCRPResult
	Error             ErrorCode
	Cause             uint16 // Cause Code, Q.931 where applicable
	ConnectSpeed      uint32
	RecvWindow        uint16
	ProcessingDelay   uint16
	PhysicalChannelID uint32
}

// ICRQ is an Incoming-Call-Request (§2.9), 220 octets.
type ICRQ struct {
	CallID            uint16 // the sender's (PAC's) Call ID
	CallSerial        uint16
	BearerType        Bearer
	PhysicalChannelID uint32
	DialedNumber      string // at most PhoneNumberLen (DNIS); the length field is derived
	DialingNumber     string // at most PhoneNumberLen (CLID); the length field is derived
	SubAddress        string
}

// ICRP is an Incoming-Call-Reply (§2.10), 24 octets.
type ICRP struct {
	CallID          uint16 // the sender's (PNS's) Call ID
	PeerCallID      uint16 // the Call ID of the ICRQ
	Result          ICRPResult
	Error           ErrorCode
	RecvWindow      uint16
	ProcessingDelay uint16 // the RFC's Packet Transmit Delay
}

// ICCN is an Incoming-Call-Connected (§2.11), 28 octets.
type ICCN struct {
	PeerCallID      uint16 // the PNS's Call ID, from the ICRP
	ConnectSpeed    uint32
	RecvWindow      uint16
	ProcessingDelay uint16 // the RFC's Packet Transmit Delay
	FramingType     Framing
}

// CCRQ is a Call-Clear-Request (§2.12), 16 octets.
type CCRQ struct {
	CallID uint16 // the PNS's own Call ID
}

// CDN is a Call-Disconnect-Notify (§2.13), 148 octets.
type CDN struct {
	CallID         uint16 // the PAC's own Call ID
	Result         CDNResult
	Error          ErrorCode
	Cause          uint16
	CallStatistics string // vendor-specific text, at most CallStatisticsLen
}

// WEN is a WAN-Error-Notify (§2.14), 40 octets.
type WEN struct {
	PeerCallID       uint16 // the PNS's Call ID
	CRCErrors        uint32
	FramingErrors    uint32
	HardwareOverruns uint32
	BufferOverruns   uint32
	TimeoutErrors    uint32
	AlignmentErrors  uint32
}

// SLI is a Set-Link-Info (§2.15), 24 octets.
type SLI struct {
	PeerCallID uint16 // the PAC's Call ID
	SendACCM   uint32
	RecvACCM   uint32
}

func (*SCCRQ) Type() MsgType       { return MsgSCCRQ }
func (*SCCRP) Type() MsgType       { return MsgSCCRP }
func (*StopCCRQ) Type() MsgType    { return MsgStopCCRQ }
func (*StopCCRP) Type() MsgType    { return MsgStopCCRP }
func (*EchoRequest) Type() MsgType { return MsgEchoRQ }
func (*EchoReply) Type() MsgType   { return MsgEchoRP }
func (*OCRQ) Type() MsgType        { return MsgOCRQ }
func (*OCRP) Type() MsgType        { return MsgOCRP }
func (*ICRQ) Type() MsgType        { return MsgICRQ }
func (*ICRP) Type() MsgType        { return MsgICRP }
func (*ICCN) Type() MsgType        { return MsgICCN }
func (*CCRQ) Type() MsgType        { return MsgCCRQ }
func (*CDN) Type() MsgType         { return MsgCDN }
func (*WEN) Type() MsgType         { return MsgWEN }
func (*SLI) Type() MsgType         { return MsgSLI }

// reader walks a body whose length Parse has checked against the type's
// layout, so no read can run past it.
type reader struct {
	b   []byte
	off int
}

func (r *reader) u8() uint8 {
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u16() uint16 {
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32() uint32 {
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) skip(n int) { r.off += n }

// text reads an n-octet NUL-padded field: the octets up to the first NUL,
// or all n when there is none.
func (r *reader) text(n int) string {
	f := r.b[r.off : r.off+n]
	r.off += n
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	return string(f)
}

// writer appends a body with a sticky error for fields that do not fit.
type writer struct {
	b   []byte
	err error
}

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) zero(n int) {
	for range n {
		w.b = append(w.b, 0)
	}
}

// text writes s into an n-octet field padded with NULs. A longer s, or
// one with a NUL (which would cut it short on receipt), is an error and
// the field is written as zeros to keep the layout.
func (w *writer) text(field, s string, n int) {
	switch {
	case len(s) > n:
		w.fail(fmt.Errorf("%w: %s of %d octets exceeds %d", ErrField, field, len(s), n))
		s = ""
	case strings.IndexByte(s, 0) >= 0:
		w.fail(fmt.Errorf("%w: %s contains a NUL", ErrField, field))
		s = ""
	}
	w.b = append(w.b, s...)
	w.zero(n - len(s))
}

func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (m *SCCRQ) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.ProtocolVersion)
	w.u16(0) // Reserved1
	w.u32(uint32(m.FramingCaps))
	w.u32(uint32(m.BearerCaps))
	w.u16(m.MaxChannels)
	w.u16(m.FirmwareRevision)
	w.text("Host Name", m.HostName, HostNameLen)
	w.text("Vendor String", m.VendorName, HostNameLen)
	return w.b, w.err
}

func (m *SCCRQ) parseBody(b []byte) {
	r := reader{b: b}
	m.ProtocolVersion = r.u16()
	r.skip(2)
	m.FramingCaps = Framing(r.u32())
	m.BearerCaps = Bearer(r.u32())
	m.MaxChannels = r.u16()
	m.FirmwareRevision = r.u16()
	m.HostName = r.text(HostNameLen)
	m.VendorName = r.text(HostNameLen)
}

func (m *SCCRP) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.ProtocolVersion)
	w.u8(uint8(m.Result))
	w.u8(uint8(m.Error))
	w.u32(uint32(m.FramingCaps))
	w.u32(uint32(m.BearerCaps))
	w.u16(m.MaxChannels)
	w.u16(m.FirmwareRevision)
	w.text("Host Name", m.HostName, HostNameLen)
	w.text("Vendor String", m.VendorName, HostNameLen)
	return w.b, w.err
}

func (m *SCCRP) parseBody(b []byte) {
	r := reader{b: b}
	m.ProtocolVersion = r.u16()
	m.Result = SCCRPResult(r.u8())
	m.Error = ErrorCode(r.u8())
	m.FramingCaps = Framing(r.u32())
	m.BearerCaps = Bearer(r.u32())
	m.MaxChannels = r.u16()
	m.FirmwareRevision = r.u16()
	m.HostName = r.text(HostNameLen)
	m.VendorName = r.text(HostNameLen)
}

func (m *StopCCRQ) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u8(uint8(m.Reason))
	w.zero(3) // Reserve1, Reserve2
	return w.b, w.err
}

func (m *StopCCRQ) parseBody(b []byte) {
	m.Reason = StopReason(b[0])
}

func (m *StopCCRP) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u8(uint8(m.Result))
	w.u8(uint8(m.Error))
	w.u16(0) // Reserved1
	return w.b, w.err
}

func (m *StopCCRP) parseBody(b []byte) {
	m.Result = StopResult(b[0])
	m.Error = ErrorCode(b[1])
}

func (m *EchoRequest) appendBody(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint32(b, m.ID), nil
}

func (m *EchoRequest) parseBody(b []byte) {
	m.ID = binary.BigEndian.Uint32(b)
}

func (m *EchoReply) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u32(m.ID)
	w.u8(uint8(m.Result))
	w.u8(uint8(m.Error))
	w.u16(0) // Reserved1
	return w.b, w.err
}

func (m *EchoReply) parseBody(b []byte) {
	r := reader{b: b}
	m.ID = r.u32()
	m.Result = EchoResult(r.u8())
	m.Error = ErrorCode(r.u8())
}

func (m *OCRQ) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.CallID)
	w.u16(m.CallSerial)
	w.u32(m.MinBPS)
	w.u32(m.MaxBPS)
	w.u32(uint32(m.BearerType))
	w.u32(uint32(m.FramingType))
	w.u16(m.RecvWindow)
	w.u16(m.ProcessingDelay)
	w.u16(uint16(min(len(m.PhoneNumber), PhoneNumberLen)))
	w.u16(0) // Reserved1
	w.text("Phone Number", m.PhoneNumber, PhoneNumberLen)
	w.text("Subaddress", m.SubAddress, SubAddressLen)
	return w.b, w.err
}

func (m *OCRQ) parseBody(b []byte) {
	r := reader{b: b}
	m.CallID = r.u16()
	m.CallSerial = r.u16()
	m.MinBPS = r.u32()
	m.MaxBPS = r.u32()
	m.BearerType = Bearer(r.u32())
	m.FramingType = Framing(r.u32())
	m.RecvWindow = r.u16()
	m.ProcessingDelay = r.u16()
	r.skip(4) // Phone Number Length (not trusted, see the package doc), Reserved1
	m.PhoneNumber = r.text(PhoneNumberLen)
	m.SubAddress = r.text(SubAddressLen)
}

func (m *OCRP) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.CallID)
	w.u16(m.PeerCallID)
	w.u8(uint8(m.Result))
	w.u8(uint8(m.Error))
	w.u16(m.Cause)
	w.u32(m.ConnectSpeed)
	w.u16(m.RecvWindow)
	w.u16(m.ProcessingDelay)
	w.u32(m.PhysicalChannelID)
	return w.b, w.err
}

func (m *OCRP) parseBody(b []byte) {
	r := reader{b: b}
	m.CallID = r.u16()
	m.PeerCallID = r.u16()
	m.Result = OCRPResult(r.u8())
	m.Error = ErrorCode(r.u8())
	m.Cause = r.u16()
	m.ConnectSpeed = r.u32()
	m.RecvWindow = r.u16()
	m.ProcessingDelay = r.u16()
	m.PhysicalChannelID = r.u32()
}

func (m *ICRQ) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.CallID)
	w.u16(m.CallSerial)
	w.u32(uint32(m.BearerType))
	w.u32(m.PhysicalChannelID)
	w.u16(uint16(min(len(m.DialedNumber), PhoneNumberLen)))
	w.u16(uint16(min(len(m.DialingNumber), PhoneNumberLen)))
	w.text("Dialed Number", m.DialedNumber, PhoneNumberLen)
	w.text("Dialing Number", m.DialingNumber, PhoneNumberLen)
	w.text("Subaddress", m.SubAddress, SubAddressLen)
	return w.b, w.err
}

func (m *ICRQ) parseBody(b []byte) {
	r := reader{b: b}
	m.CallID = r.u16()
	m.CallSerial = r.u16()
	m.BearerType = Bearer(r.u32())
	m.PhysicalChannelID = r.u32()
	r.skip(4) // Dialed and Dialing Number Length, not trusted
	m.DialedNumber = r.text(PhoneNumberLen)
	m.DialingNumber = r.text(PhoneNumberLen)
	m.SubAddress = r.text(SubAddressLen)
}

func (m *ICRP) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.CallID)
	w.u16(m.PeerCallID)
	w.u8(uint8(m.Result))
	w.u8(uint8(m.Error))
	w.u16(m.RecvWindow)
	w.u16(m.ProcessingDelay)
	w.u16(0) // Reserved1
	return w.b, w.err
}

func (m *ICRP) parseBody(b []byte) {
	r := reader{b: b}
	m.CallID = r.u16()
	m.PeerCallID = r.u16()
	m.Result = ICRPResult(r.u8())
	m.Error = ErrorCode(r.u8())
	m.RecvWindow = r.u16()
	m.ProcessingDelay = r.u16()
}

func (m *ICCN) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.PeerCallID)
	w.u16(0) // Reserved1
	w.u32(m.ConnectSpeed)
	w.u16(m.RecvWindow)
	w.u16(m.ProcessingDelay)
	w.u32(uint32(m.FramingType))
	return w.b, w.err
}

func (m *ICCN) parseBody(b []byte) {
	r := reader{b: b}
	m.PeerCallID = r.u16()
	r.skip(2)
	m.ConnectSpeed = r.u32()
	m.RecvWindow = r.u16()
	m.ProcessingDelay = r.u16()
	m.FramingType = Framing(r.u32())
}

func (m *CCRQ) appendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, m.CallID)
	return binary.BigEndian.AppendUint16(b, 0), nil // Reserved1
}

func (m *CCRQ) parseBody(b []byte) {
	m.CallID = binary.BigEndian.Uint16(b)
}

func (m *CDN) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.CallID)
	w.u8(uint8(m.Result))
	w.u8(uint8(m.Error))
	w.u16(m.Cause)
	w.u16(0) // Reserved1
	w.text("Call Statistics", m.CallStatistics, CallStatisticsLen)
	return w.b, w.err
}

func (m *CDN) parseBody(b []byte) {
	r := reader{b: b}
	m.CallID = r.u16()
	m.Result = CDNResult(r.u8())
	m.Error = ErrorCode(r.u8())
	m.Cause = r.u16()
	r.skip(2)
	m.CallStatistics = r.text(CallStatisticsLen)
}

func (m *WEN) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.PeerCallID)
	w.u16(0) // Reserved1
	for _, v := range [...]uint32{m.CRCErrors, m.FramingErrors, m.HardwareOverruns, m.BufferOverruns, m.TimeoutErrors, m.AlignmentErrors} {
		w.u32(v)
	}
	return w.b, w.err
}

func (m *WEN) parseBody(b []byte) {
	r := reader{b: b}
	m.PeerCallID = r.u16()
	r.skip(2)
	for _, p := range [...]*uint32{&m.CRCErrors, &m.FramingErrors, &m.HardwareOverruns, &m.BufferOverruns, &m.TimeoutErrors, &m.AlignmentErrors} {
		*p = r.u32()
	}
}

func (m *SLI) appendBody(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.u16(m.PeerCallID)
	w.u16(0) // Reserved1
	w.u32(m.SendACCM)
	w.u32(m.RecvACCM)
	return w.b, w.err
}

func (m *SLI) parseBody(b []byte) {
	r := reader{b: b}
	m.PeerCallID = r.u16()
	r.skip(2)
	m.SendACCM = r.u32()
	m.RecvACCM = r.u32()
}
