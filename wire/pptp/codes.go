package pptp

import "strconv"

// ProtocolVersion is the version field of SCCRQ and SCCRP: version 1,
// revision 0 (§2.1).
const ProtocolVersion uint16 = 0x0100

// Framing is a set of framing bits: the Framing Capabilities of SCCRQ and
// SCCRP (§2.1, §2.2) and the Framing Type of OCRQ and ICCN (§2.7, §2.11),
// where 3 means either.
type Framing uint32

// Framing bits (§2.1).
const (
	FramingAsync Framing = 1 // asynchronous framing
	FramingSync  Framing = 2 // synchronous framing
)

func (f Framing) String() string {
	return bits(uint32(f), "async", "sync")
}

// Bearer is a set of bearer bits: the Bearer Capabilities of SCCRQ and
// SCCRP (§2.1, §2.2) and the Bearer Type of OCRQ and ICRQ (§2.7, §2.9),
// where 3 means either.
type Bearer uint32

// Bearer bits (§2.1).
const (
	BearerAnalog  Bearer = 1 // analog access
	BearerDigital Bearer = 2 // digital access
)

func (b Bearer) String() string {
	return bits(uint32(b), "analog", "digital")
}

// bits prints the two low bits by name and anything else in hex.
func bits(v uint32, b0, b1 string) string {
	s := ""
	add := func(n string) {
		if s != "" {
			s += "|"
		}
		s += n
	}
	if v&1 != 0 {
		add(b0)
	}
	if v&2 != 0 {
		add(b1)
	}
	if rest := v &^ 3; rest != 0 {
		add("0x" + strconv.FormatUint(uint64(rest), 16))
	}
	if s == "" {
		return "none"
	}
	return s
}

// name returns names[v], or kind(v) for a value outside the table.
func name(names []string, v int, kind string) string {
	if v >= 0 && v < len(names) && names[v] != "" {
		return names[v]
	}
	return kind + "(" + strconv.Itoa(v) + ")"
}

// ErrorCode is the Error Code field, meaningful when a Result Code says
// "General Error" (§2.16).
type ErrorCode uint8

// General error codes (§2.16).
const (
	ErrorNone         ErrorCode = 0 // no general error
	ErrorNotConnected ErrorCode = 1 // no control connection exists yet for this PAC-PNS pair
	ErrorBadFormat    ErrorCode = 2 // Length is wrong or Magic Cookie is incorrect
	ErrorBadValue     ErrorCode = 3 // a field was out of range or a reserved field was non-zero
	ErrorNoResource   ErrorCode = 4 // insufficient resources to handle this command now
	ErrorBadCallID    ErrorCode = 5 // the Call ID is invalid in this context
	ErrorPACError     ErrorCode = 6 // a generic vendor-specific error occurred in the PAC
)

var errorNames = []string{"None", "Not-Connected", "Bad-Format", "Bad-Value", "No-Resource", "Bad-Call ID", "PAC-Error"}

func (e ErrorCode) String() string { return name(errorNames, int(e), "Error") }

// SCCRPResult is the Result Code of a Start-Control-Connection-Reply
// (§2.2).
type SCCRPResult uint8

// SCCRP result codes (§2.2).
const (
	SCCRPSuccess       SCCRPResult = 1 // successful channel establishment
	SCCRPGeneralError  SCCRPResult = 2 // general error, Error Code indicates the problem
	SCCRPExists        SCCRPResult = 3 // command channel already exists
	SCCRPNotAuthorized SCCRPResult = 4 // requester is not authorized to establish a command channel
	SCCRPBadVersion    SCCRPResult = 5 // the protocol version of the requester is not supported
)

var sccrpNames = []string{"", "Successful channel establishment", "General error",
	"Command channel already exists", "Requester not authorized", "Protocol version not supported"}

func (r SCCRPResult) String() string { return name(sccrpNames, int(r), "Result") }

// StopReason is the Reason of a Stop-Control-Connection-Request (§2.3).
type StopReason uint8

// StopCCRQ reasons (§2.3).
const (
	StopNone          StopReason = 1 // general request to clear the control connection
	StopProtocol      StopReason = 2 // cannot support the peer's protocol version
	StopLocalShutdown StopReason = 3 // the requester is being shut down
)

var stopReasonNames = []string{"", "None", "Stop-Protocol", "Stop-Local-Shutdown"}

func (r StopReason) String() string { return name(stopReasonNames, int(r), "Reason") }

// StopResult is the Result Code of a Stop-Control-Connection-Reply
// (§2.4).
type StopResult uint8

// StopCCRP result codes (§2.4).
const (
	StopOK           StopResult = 1 // control connection closed
	StopGeneralError StopResult = 2 // not closed, Error Code indicates why
)

var okNames = []string{"", "OK", "General error"}

func (r StopResult) String() string { return name(okNames, int(r), "Result") }

// EchoResult is the Result Code of an Echo-Reply (§2.6).
type EchoResult uint8

// Echo-Reply result codes (§2.6).
const (
	EchoOK           EchoResult = 1 // the Echo-Reply is valid
	EchoGeneralError EchoResult = 2 // not accepted, Error Code indicates why
)

func (r EchoResult) String() string { return name(okNames, int(r), "Result") }

// OCRPResult is the Result Code of an Outgoing-Call-Reply (§2.8).
type OCRPResult uint8

// OCRP result codes (§2.8).
const (
	OCRPConnected    OCRPResult = 1 // call established with no errors
	OCRPGeneralError OCRPResult = 2 // not established, Error Code indicates why
	OCRPNoCarrier    OCRPResult = 3 // no carrier detected
	OCRPBusy         OCRPResult = 4 // busy signal detected
	OCRPNoDialTone   OCRPResult = 5 // no dial tone
	OCRPTimeout      OCRPResult = 6 // not established within the time allotted by the PAC
	OCRPDoNotAccept  OCRPResult = 7 // not accepted, e.g. administrative prohibition
)

var ocrpNames = []string{"", "Connected", "General Error", "No Carrier", "Busy", "No Dial Tone", "Time-out", "Do Not Accept"}

func (r OCRPResult) String() string { return name(ocrpNames, int(r), "Result") }

// ICRPResult is the Result Code of an Incoming-Call-Reply (§2.10).
type ICRPResult uint8

// ICRP result codes (§2.10).
const (
	ICRPConnect      ICRPResult = 1 // the PAC should answer the call
	ICRPGeneralError ICRPResult = 2 // the PAC should not answer, Error Code indicates why
	ICRPDoNotAccept  ICRPResult = 3 // the PAC should not accept the call
)

var icrpNames = []string{"", "Connect", "General error", "Do Not Accept"}

func (r ICRPResult) String() string { return name(icrpNames, int(r), "Result") }

// CDNResult is the Result Code of a Call-Disconnect-Notify (§2.13).
type CDNResult uint8

// CDN result codes (§2.13).
const (
	CDNLostCarrier   CDNResult = 1 // call disconnected due to loss of carrier
	CDNGeneralError  CDNResult = 2 // disconnected, Error Code indicates why
	CDNAdminShutdown CDNResult = 3 // disconnected for administrative reasons
	CDNRequest       CDNResult = 4 // disconnected at the request of a CCRQ
)

var cdnNames = []string{"", "Lost Carrier", "General Error", "Admin Shutdown", "Request"}

func (r CDNResult) String() string { return name(cdnNames, int(r), "Result") }
