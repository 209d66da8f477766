package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// L2TPv3 attribute types, RFC 3931 §5.4 (numbers from the IANA L2TP
// registry). RFC 3931 also reuses the RFC 2661 types it keeps: Message
// Type, Result Code, Host Name, Vendor Name, Firmware Revision, Receive
// Window Size, Tie Breaker, Random Vector, Serial Number (2661's Call
// Serial Number, §5.4.4), Physical Channel ID and Circuit Errors (2661's
// Call Errors, §5.4.4).
const (
	AVPExtendedVendorID   AVPType = 58 // IANA: Extended Vendor ID (RFC 3931 §5.1 vendor space)
	AVPMessageDigest      AVPType = 59 // §5.4.1
	AVPRouterID           AVPType = 60 // §5.4.3
	AVPAssignedCCID       AVPType = 61 // §5.4.3 Assigned Control Connection ID
	AVPPWCapabilities     AVPType = 62 // §5.4.3 Pseudowire Capabilities List
	AVPLocalSessionID     AVPType = 63 // §5.4.4
	AVPRemoteSessionID    AVPType = 64 // §5.4.4
	AVPAssignedCookie     AVPType = 65 // §5.4.4
	AVPRemoteEndID        AVPType = 66 // §5.4.4
	AVPPWType             AVPType = 68 // §5.4.4
	AVPL2SpecificSublayer AVPType = 69 // §5.4.4
	AVPDataSequencing     AVPType = 70 // §5.4.4
	AVPCircuitStatus      AVPType = 71 // §5.4.5
	AVPPreferredLanguage  AVPType = 72 // §5.4.3
	AVPCtlMsgAuthNonce    AVPType = 73 // §5.4.1 Control Message Authentication Nonce
	AVPTxConnectSpeedV3   AVPType = 74 // §5.4.4 (64-bit)
	AVPRxConnectSpeedV3   AVPType = 75 // §5.4.4 (64-bit)
	AVPSerialNumber               = AVPCallSerialNumber
	AVPCircuitErrors              = AVPCallErrors
	maxV3AVP                      = 75
	v3AVPSetWords                 = 2 // bits for types 0..127
)

var v3AVPNames = map[AVPType]string{
	AVPExtendedVendorID: "Extended Vendor ID", AVPMessageDigest: "Message Digest", AVPRouterID: "Router ID",
	AVPAssignedCCID: "Assigned Control Connection ID", AVPPWCapabilities: "Pseudowire Capabilities List",
	AVPLocalSessionID: "Local Session ID", AVPRemoteSessionID: "Remote Session ID", AVPAssignedCookie: "Assigned Cookie",
	AVPRemoteEndID: "Remote End ID", AVPPWType: "Pseudowire Type", AVPL2SpecificSublayer: "L2-Specific Sublayer",
	AVPDataSequencing: "Data Sequencing", AVPCircuitStatus: "Circuit Status", AVPPreferredLanguage: "Preferred Language",
	AVPCtlMsgAuthNonce: "Control Message Authentication Nonce", AVPTxConnectSpeedV3: "Tx Connect Speed",
	AVPRxConnectSpeedV3: "Rx Connect Speed",
}

// V3Name returns the attribute's name in L2TPv3's space.
func (t AVPType) V3Name() string {
	if n, ok := v3AVPNames[t]; ok {
		return n
	}
	switch t {
	case AVPCallSerialNumber:
		return "Serial Number"
	case AVPCallErrors:
		return "Circuit Errors"
	}
	return t.String()
}

// v3Known are the attribute types an L2TPv3 message may carry (§5.4):
// anything else with the M bit is an unknown mandatory AVP.
var v3Known = func() (s v3AVPSet) {
	for _, t := range []AVPType{AVPMessageType, AVPResultCode, AVPTieBreaker, AVPFirmwareRevision, AVPHostName,
		AVPVendorName, AVPReceiveWindowSize, AVPSerialNumber, AVPPhysicalChannelID, AVPCircuitErrors, AVPRandomVector,
		AVPMessageDigest, AVPRouterID, AVPAssignedCCID, AVPPWCapabilities, AVPLocalSessionID, AVPRemoteSessionID,
		AVPAssignedCookie, AVPRemoteEndID, AVPPWType, AVPL2SpecificSublayer, AVPDataSequencing, AVPCircuitStatus,
		AVPPreferredLanguage, AVPCtlMsgAuthNonce, AVPTxConnectSpeedV3, AVPRxConnectSpeedV3} {
		s.add(t)
	}
	return s
}()

// KnownV3 reports whether t is an IETF attribute of L2TPv3.
func (t AVPType) KnownV3() bool { return v3Known.has(t) }

// MsgACK is L2TPv3's explicit acknowledgement (§3.3 of RFC 3931, type 20),
// which may replace the ZLB.
const MsgACK MsgType = 20

// KnownV3 reports whether t is a message type of RFC 3931 (§3.1: the
// RFC 2661 types but 5, and ACK).
func (t MsgType) KnownV3() bool { return t == MsgACK || t.Known() }

// V3String names t in L2TPv3's space.
func (t MsgType) V3String() string {
	if t == MsgACK {
		return "ACK"
	}
	return t.String()
}

// PWType is a pseudowire type (§5.4.4, IANA "L2TPv3 Pseudowire Types").
type PWType uint16

// Pseudowire types. PPP's 0x0007 comes from an expired draft that IANA
// never assigned but implementations (IOS's Virtual-PPP over L2TPv3) use.
const (
	PWFrameRelay   PWType = 0x0001 // RFC 4591
	PWATMAAL5      PWType = 0x0002 // RFC 4454
	PWATMCellPort  PWType = 0x0003 // RFC 4454
	PWEthernetVLAN PWType = 0x0004 // RFC 4719
	PWEthernet     PWType = 0x0005 // RFC 4719
	PWHDLC         PWType = 0x0006 // RFC 4349
	PWPPP          PWType = 0x0007 // draft-ietf-l2tpext-pwe3-ppp (expired)
	PWATMCellVCC   PWType = 0x0009 // RFC 4454
	PWATMCellVPC   PWType = 0x000a // RFC 4454
	PWIPL2         PWType = 0x000b // IP Layer 2 transport (expired draft)
)

var pwNames = map[PWType]string{
	PWFrameRelay: "Frame Relay DLCI", PWATMAAL5: "ATM AAL5 SDU VCC", PWATMCellPort: "ATM Cell Port",
	PWEthernetVLAN: "Ethernet VLAN", PWEthernet: "Ethernet", PWHDLC: "HDLC", PWPPP: "PPP",
	PWATMCellVCC: "ATM Cell VCC", PWATMCellVPC: "ATM Cell VPC", PWIPL2: "IP Layer 2 Transport",
}

func (p PWType) String() string {
	if n, ok := pwNames[p]; ok {
		return n
	}
	return "PW(" + strconv.Itoa(int(p)) + ")"
}

// L2-Specific Sublayer types (§5.4.4).
const (
	L2SSNone    uint16 = 0 // no L2-Specific Sublayer
	L2SSDefault uint16 = 1 // the default one of §4.6
)

// Data Sequencing values (§5.4.4).
const (
	DataSeqNone     uint16 = 0 // no incoming data packets require sequencing
	DataSeqNonIP    uint16 = 1 // only non-IP data packets require sequencing
	DataSeqAll      uint16 = 2 // all incoming data packets require sequencing
	maxDataSeqValue        = 2
)

// Message Digest types (§5.4.1).
const (
	DigestHMACMD5  uint8 = 0 // 16-octet HMAC-MD5 (RFC 2104)
	DigestHMACSHA1 uint8 = 1 // 20-octet HMAC-SHA-1
)

// CircuitStatus is the Circuit Status AVP (§5.4.5): A (active) and N
// (new) bits of a 16-bit word whose other bits are reserved.
type CircuitStatus struct{ Active, New bool }

func (c CircuitStatus) word() uint16 {
	var w uint16
	if c.Active {
		w |= 1
	}
	if c.New {
		w |= 2
	}
	return w
}

// MessageDigest is the Message Digest AVP (§5.4.1).
type MessageDigest struct {
	Type   uint8
	Digest []byte
}

type v3AVPSet [v3AVPSetWords]uint64

func (s *v3AVPSet) add(t AVPType) {
	if t < 128 {
		s[t>>6] |= 1 << (t & 63)
	}
}
func (s v3AVPSet) has(t AVPType) bool { return t < 128 && s[t>>6]&(1<<(t&63)) != 0 }

func v3SetOf(ts ...AVPType) (s v3AVPSet) {
	for _, t := range ts {
		s.add(t)
	}
	return s
}

// v3Required is RFC 3931 §6's table of the AVPs each message MUST carry.
var v3Required = map[MsgType]v3AVPSet{
	// §6.1, §6.2: Host Name, Router ID, Assigned Control Connection ID,
	// Pseudowire Capabilities List.
	MsgSCCRQ:   v3SetOf(AVPMessageType, AVPHostName, AVPRouterID, AVPAssignedCCID, AVPPWCapabilities),
	MsgSCCRP:   v3SetOf(AVPMessageType, AVPHostName, AVPRouterID, AVPAssignedCCID, AVPPWCapabilities),
	MsgSCCCN:   v3SetOf(AVPMessageType),                // §6.3
	MsgStopCCN: v3SetOf(AVPMessageType, AVPResultCode), // §6.4
	MsgHELLO:   v3SetOf(AVPMessageType),                // §6.5
	MsgACK:     v3SetOf(AVPMessageType),                // §3.3
	// §6.6–§6.11: the session IDs, and the Serial Number and Pseudowire
	// Type of the requests.
	MsgICRQ: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID, AVPSerialNumber, AVPPWType),
	MsgICRP: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID),
	MsgICCN: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID),
	MsgOCRQ: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID, AVPSerialNumber, AVPPWType),
	MsgOCRP: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID),
	MsgOCCN: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID),
	// §6.12–§6.14.
	MsgCDN: v3SetOf(AVPMessageType, AVPResultCode, AVPLocalSessionID, AVPRemoteSessionID),
	MsgWEN: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitErrors),
	MsgSLI: v3SetOf(AVPMessageType, AVPLocalSessionID, AVPRemoteSessionID),
}

// V3Message is a decoded L2TPv3 control message: the AVPs of RFC 3931
// §5.4 as typed fields. Has says which were present. Slices are copies.
type V3Message struct {
	Type MsgType
	set  v3AVPSet

	Result           Result
	HostName         string
	VendorName       string
	FirmwareRevision uint16
	RecvWindowSize   uint16
	TieBreaker       [8]byte
	RandomVector     []byte

	RouterID          uint32
	AssignedCCID      uint32
	PWCapabilities    []PWType
	PreferredLanguage string
	Digests           []MessageDigest // §5.4.1 allows one per digest type
	Nonce             []byte

	LocalSessionID    uint32
	RemoteSessionID   uint32
	AssignedCookie    []byte
	RemoteEndID       []byte
	PWType            PWType
	L2SpecificSublyr  uint16
	DataSequencing    uint16
	CircuitStatus     CircuitStatus
	SerialNumber      uint32
	PhysicalChannelID uint32
	CircuitErrors     CallErrors
	TxConnectSpeed    uint64
	RxConnectSpeed    uint64

	// UnknownOptional and Vendor count what Decode skipped (§5.2).
	UnknownOptional int
	Vendor          int
}

// Has reports whether AVP t was present (decode) or is set (encode).
func (m *V3Message) Has(t AVPType) bool { return m.set.has(t) }

// Set marks AVPs as present, for encoding.
func (m *V3Message) Set(ts ...AVPType) {
	for _, t := range ts {
		m.set.add(t)
	}
}

// ErrV3Value is a v3 AVP whose value breaks §5.4's rules.
var ErrV3Value = errors.New("l2tp: bad AVP value")

// Decode parses the AVPs of an L2TPv3 control message (the payload after
// the header). The first AVP MUST be Message Type (§5.3). Hidden AVPs are
// unhidden with secret (§5.3 keeps RFC 2661's hiding). An unknown AVP with
// M set is an *AVPError wrapping ErrUnknownMandatory, returned after the
// rest is parsed so that the caller has the IDs to answer with.
func (m *V3Message) Decode(body, secret []byte) error {
	*m = V3Message{}
	d := NewAVPDecoder(body)
	var first error
	var scratch []byte
	fail := func(t AVPType, mand bool, err error) {
		if first == nil {
			first = &AVPError{Msg: m.Type, Type: t, Mandatory: mand, Err: err}
		}
	}
	for i := 0; d.Next(); i++ {
		a := d.AVP()
		if i == 0 {
			if a.Vendor != VendorIETF || a.Type != AVPMessageType || a.Hidden || len(a.Value) != 2 {
				return ErrNoMessageType
			}
			m.Type = MsgType(binary.BigEndian.Uint16(a.Value))
			m.set.add(AVPMessageType)
			if !m.Type.KnownV3() {
				err := &AVPError{Msg: m.Type, Type: AVPMessageType, Mandatory: a.Mandatory, Err: ErrUnknownMsg}
				if a.Mandatory {
					err.Err = fmt.Errorf("%w: %w", ErrUnknownMandatory, ErrUnknownMsg)
				}
				return err
			}
			continue
		}
		if a.Vendor != VendorIETF || !a.Type.KnownV3() || a.Type == AVPMessageType {
			switch {
			case a.Mandatory:
				fail(a.Type, true, ErrUnknownMandatory)
				if e, ok := first.(*AVPError); ok && e.Type == a.Type {
					e.Vendor = a.Vendor
				}
			case a.Vendor != VendorIETF:
				m.Vendor++
			default:
				m.UnknownOptional++
			}
			continue
		}
		v := a.Value
		if a.Hidden {
			if a.Type == AVPRandomVector || a.Type == AVPMessageDigest {
				fail(a.Type, a.Mandatory, errors.New("may not be hidden"))
				continue
			}
			var err error
			if v, err = Unhide(a.Type, secret, m.RandomVector, a.Value, scratch[:0]); err != nil {
				fail(a.Type, a.Mandatory, err)
				continue
			}
			scratch = v[:0]
		}
		if err := m.setValue(a.Type, v); err != nil {
			fail(a.Type, a.Mandatory, err)
			continue
		}
		m.set.add(a.Type)
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("l2tp: %v: %w", m.Type.V3String(), err)
	}
	if !m.set.has(AVPMessageType) {
		return ErrNoMessageType
	}
	if first != nil {
		return first
	}
	return m.CheckRequired()
}

// CheckRequired verifies §6's table of required AVPs.
func (m *V3Message) CheckRequired() error {
	req := v3Required[m.Type]
	for t := AVPType(0); t <= maxV3AVP; t++ {
		if req.has(t) && !m.set.has(t) {
			return &AVPError{Msg: m.Type, Type: t, Mandatory: true, Err: ErrMissingAVP}
		}
	}
	switch m.Type {
	case MsgSCCRQ, MsgSCCRP:
		// §5.4.3: the Assigned Control Connection ID is non-zero.
		if m.AssignedCCID == 0 {
			return &AVPError{Msg: m.Type, Type: AVPAssignedCCID, Mandatory: true, Err: ErrZeroID}
		}
	case MsgICRQ, MsgICRP, MsgOCRQ, MsgOCRP:
		// §5.4.4: the Local Session ID of a request or reply is the
		// sender's, never 0.
		if m.LocalSessionID == 0 {
			return &AVPError{Msg: m.Type, Type: AVPLocalSessionID, Mandatory: true, Err: ErrZeroID}
		}
	}
	return nil
}

func (m *V3Message) setValue(t AVPType, v []byte) error {
	u16 := func() (uint16, error) {
		if err := wantLen(v, 2); err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint16(v), nil
	}
	u32 := func() (uint32, error) {
		if err := wantLen(v, 4); err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint32(v), nil
	}
	var err error
	switch t {
	case AVPResultCode, AVPCircuitErrors:
		// The values RFC 2661 defined, decoded by its Message.
		var v2 Message
		if err := v2.setValue(t, v); err != nil {
			return err
		}
		if t == AVPResultCode {
			m.Result = v2.Result
		} else {
			m.CircuitErrors = v2.CallErrors
		}
	case AVPHostName:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty Host Name", ErrAVPLength)
		}
		m.HostName = string(v)
	case AVPVendorName:
		m.VendorName = string(v)
	case AVPFirmwareRevision:
		m.FirmwareRevision, err = u16()
	case AVPReceiveWindowSize:
		if m.RecvWindowSize, err = u16(); err == nil && m.RecvWindowSize == 0 {
			err = ErrZeroWindow
		}
	case AVPTieBreaker:
		if err = wantLen(v, 8); err == nil {
			copy(m.TieBreaker[:], v)
		}
	case AVPRandomVector:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty Random Vector", ErrAVPLength)
		}
		m.RandomVector = append([]byte(nil), v...)
	case AVPSerialNumber:
		m.SerialNumber, err = u32()
	case AVPPhysicalChannelID:
		m.PhysicalChannelID, err = u32()
	case AVPMessageDigest:
		// §5.4.1: a Digest Type octet, then 16 (MD5) or 20 (SHA-1).
		if len(v) < 1 {
			return fmt.Errorf("%w: empty Message Digest", ErrAVPLength)
		}
		want := DigestLen(v[0])
		if want == 0 {
			return fmt.Errorf("%w: digest type %d", ErrV3Value, v[0])
		}
		if err = wantLen(v[1:], want); err == nil {
			m.Digests = append(m.Digests, MessageDigest{Type: v[0], Digest: append([]byte(nil), v[1:]...)})
		}
	case AVPCtlMsgAuthNonce:
		// §5.4.1: at least 16 octets are RECOMMENDED; an empty one is
		// no nonce at all.
		if len(v) == 0 {
			return fmt.Errorf("%w: empty nonce", ErrAVPLength)
		}
		m.Nonce = append([]byte(nil), v...)
	case AVPRouterID:
		m.RouterID, err = u32()
	case AVPAssignedCCID:
		m.AssignedCCID, err = u32()
	case AVPPWCapabilities:
		if len(v)%2 != 0 || len(v) == 0 {
			return fmt.Errorf("%w: %d octets, want a non-empty list of 2-octet types", ErrAVPLength, len(v))
		}
		m.PWCapabilities = make([]PWType, 0, len(v)/2)
		for i := 0; i < len(v); i += 2 {
			m.PWCapabilities = append(m.PWCapabilities, PWType(binary.BigEndian.Uint16(v[i:])))
		}
	case AVPPreferredLanguage:
		m.PreferredLanguage = string(v)
	case AVPLocalSessionID:
		m.LocalSessionID, err = u32()
	case AVPRemoteSessionID:
		m.RemoteSessionID, err = u32()
	case AVPAssignedCookie:
		if len(v) != 4 && len(v) != 8 {
			return fmt.Errorf("%w: Assigned Cookie of %d octets", ErrCookieLen, len(v))
		}
		m.AssignedCookie = append([]byte(nil), v...)
	case AVPRemoteEndID:
		if len(v) == 0 {
			return fmt.Errorf("%w: empty Remote End ID", ErrAVPLength)
		}
		m.RemoteEndID = append([]byte(nil), v...)
	case AVPPWType:
		var p uint16
		p, err = u16()
		m.PWType = PWType(p)
	case AVPL2SpecificSublayer:
		m.L2SpecificSublyr, err = u16()
	case AVPDataSequencing:
		if m.DataSequencing, err = u16(); err == nil && m.DataSequencing > maxDataSeqValue {
			err = fmt.Errorf("%w: Data Sequencing %d", ErrV3Value, m.DataSequencing)
		}
	case AVPCircuitStatus:
		var w uint16
		if w, err = u16(); err == nil {
			m.CircuitStatus = CircuitStatus{Active: w&1 != 0, New: w&2 != 0}
		}
	case AVPTxConnectSpeedV3, AVPRxConnectSpeedV3:
		if err = wantLen(v, 8); err == nil {
			if t == AVPTxConnectSpeedV3 {
				m.TxConnectSpeed = binary.BigEndian.Uint64(v)
			} else {
				m.RxConnectSpeed = binary.BigEndian.Uint64(v)
			}
		}
	default:
		return fmt.Errorf("%w: no decoder", ErrV3Value)
	}
	return err
}

// v3Order is the order Append writes AVPs in: Message Type first (§5.3),
// then the Message Digests, which §5.4.1 puts immediately after it at a
// fixed offset; Random Vector before what it hides.
var v3Order = []AVPType{AVPMessageDigest, AVPResultCode, AVPRandomVector, AVPHostName, AVPVendorName, AVPFirmwareRevision,
	AVPReceiveWindowSize, AVPTieBreaker, AVPRouterID, AVPAssignedCCID, AVPPWCapabilities, AVPPreferredLanguage,
	AVPCtlMsgAuthNonce, AVPLocalSessionID, AVPRemoteSessionID, AVPAssignedCookie, AVPRemoteEndID, AVPPWType,
	AVPL2SpecificSublayer, AVPDataSequencing, AVPCircuitStatus, AVPSerialNumber, AVPPhysicalChannelID,
	AVPCircuitErrors, AVPTxConnectSpeedV3, AVPRxConnectSpeedV3}

// v3Optional are the AVPs RFC 3931 sends with the M bit clear (§5.4:
// Vendor Name, Firmware Revision, Preferred Language, the connect speeds
// and the nonce are informational; the rest are mandatory).
var v3Optional = v3SetOf(AVPVendorName, AVPFirmwareRevision, AVPPreferredLanguage, AVPTxConnectSpeedV3,
	AVPRxConnectSpeedV3, AVPTieBreaker)

// AppendAVPs appends m's AVPs, Message Type first, to b (normally a
// control header from AppendV3ControlHeader) with the shared encoder.
func (m *V3Message) AppendAVPs(b []byte) ([]byte, error) {
	e := NewAVPEncoder(b)
	e.Uint16(true, AVPMessageType, uint16(m.Type))
	for _, t := range v3Order {
		if !m.set.has(t) {
			continue
		}
		mand := !v3Optional.has(t)
		switch t {
		case AVPResultCode, AVPCircuitErrors:
			v2 := Message{Result: m.Result, CallErrors: m.CircuitErrors}
			e.Octets(mand, t, v2.value(t, nil))
		case AVPRandomVector:
			e.Octets(mand, t, m.RandomVector)
		case AVPHostName:
			e.Text(mand, t, m.HostName)
		case AVPVendorName:
			e.Text(mand, t, m.VendorName)
		case AVPPreferredLanguage:
			e.Text(mand, t, m.PreferredLanguage)
		case AVPFirmwareRevision:
			e.Uint16(mand, t, m.FirmwareRevision)
		case AVPReceiveWindowSize:
			e.Uint16(mand, t, m.RecvWindowSize)
		case AVPTieBreaker:
			e.Octets(mand, t, m.TieBreaker[:])
		case AVPRouterID:
			e.Uint32(mand, t, m.RouterID)
		case AVPAssignedCCID:
			e.Uint32(mand, t, m.AssignedCCID)
		case AVPPWCapabilities:
			v := make([]byte, 0, 2*len(m.PWCapabilities))
			for _, p := range m.PWCapabilities {
				v = binary.BigEndian.AppendUint16(v, uint16(p))
			}
			e.Octets(mand, t, v)
		case AVPCtlMsgAuthNonce:
			e.Octets(mand, t, m.Nonce)
		case AVPLocalSessionID:
			e.Uint32(mand, t, m.LocalSessionID)
		case AVPRemoteSessionID:
			e.Uint32(mand, t, m.RemoteSessionID)
		case AVPAssignedCookie:
			e.Octets(mand, t, m.AssignedCookie)
		case AVPRemoteEndID:
			e.Octets(mand, t, m.RemoteEndID)
		case AVPPWType:
			e.Uint16(mand, t, uint16(m.PWType))
		case AVPL2SpecificSublayer:
			e.Uint16(mand, t, m.L2SpecificSublyr)
		case AVPDataSequencing:
			e.Uint16(mand, t, m.DataSequencing)
		case AVPCircuitStatus:
			e.Uint16(mand, t, m.CircuitStatus.word())
		case AVPSerialNumber:
			e.Uint32(mand, t, m.SerialNumber)
		case AVPPhysicalChannelID:
			e.Uint32(mand, t, m.PhysicalChannelID)
		case AVPTxConnectSpeedV3:
			e.Octets(mand, t, binary.BigEndian.AppendUint64(nil, m.TxConnectSpeed))
		case AVPRxConnectSpeedV3:
			e.Octets(mand, t, binary.BigEndian.AppendUint64(nil, m.RxConnectSpeed))
		case AVPMessageDigest:
			for _, d := range m.Digests {
				e.Octets(mand, t, append([]byte{d.Type}, d.Digest...))
			}
		}
	}
	return e.Bytes()
}
