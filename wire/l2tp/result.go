package l2tp

import "strconv"

// Result Code AVP values, RFC 2661 §4.4.2. The meaning of a result code
// depends on the message that carries it (StopCCN or CDN); the general
// error codes are shared.

// StopCCN result codes (§4.4.2).
const (
	StopClear          uint16 = 1 // General request to clear control connection
	StopGeneralError   uint16 = 2 // General error--Error Code indicates the problem
	StopAlreadyExists  uint16 = 3 // Control channel already exists
	StopNotAuthorized  uint16 = 4 // Requester is not authorized to establish a control channel
	StopBadVersion     uint16 = 5 // The protocol version of the requester is not supported
	StopShuttingDown   uint16 = 6 // Requester is being shut down
	StopFSMError       uint16 = 7 // Finite State Machine error
	maxStopResultCodes        = 7
)

// CDN result codes (§4.4.2).
const (
	CDNLostCarrier     uint16 = 1  // Call disconnected due to loss of carrier
	CDNGeneralError    uint16 = 2  // Call disconnected for the reason indicated in error code
	CDNAdmin           uint16 = 3  // Call disconnected for administrative reasons
	CDNNoFacilitiesTmp uint16 = 4  // lack of appropriate facilities (temporary condition)
	CDNNoFacilities    uint16 = 5  // lack of appropriate facilities (permanent condition)
	CDNInvalidDest     uint16 = 6  // Invalid destination
	CDNNoCarrier       uint16 = 7  // Call failed due to no carrier detected
	CDNBusy            uint16 = 8  // Call failed due to detection of a busy signal
	CDNNoDialTone      uint16 = 9  // Call failed due to lack of a dial tone
	CDNTimeout         uint16 = 10 // Call was not established within time allotted by LAC
	CDNNoFraming       uint16 = 11 // Call was connected but no appropriate framing was detected
)

// General error codes (§4.4.2).
const (
	ErrCodeNone             uint16 = 0 // No general error
	ErrCodeNoControl        uint16 = 1 // No control connection exists yet for this LAC-LNS pair
	ErrCodeLength           uint16 = 2 // Length is wrong
	ErrCodeRange            uint16 = 3 // One of the field values was out of range or reserved field was non-zero
	ErrCodeResources        uint16 = 4 // Insufficient resources to handle this operation now
	ErrCodeSessionID        uint16 = 5 // The Session ID is invalid in this context
	ErrCodeVendor           uint16 = 6 // A generic vendor-specific error occurred in the LAC
	ErrCodeTryAnother       uint16 = 7 // Try another
	ErrCodeUnknownMandatory uint16 = 8 // Session or Tunnel was shutdown due to receipt of an unknown AVP with the M-bit set
)

var stopText = [...]string{
	"Reserved",
	"General request to clear control connection",
	"General error--Error Code indicates the problem",
	"Control channel already exists",
	"Requester is not authorized to establish a control channel",
	"The protocol version of the requester is not supported",
	"Requester is being shut down",
	"Finite State Machine error",
}

var cdnText = [...]string{
	"Reserved",
	"Call disconnected due to loss of carrier",
	"Call disconnected for the reason indicated in error code",
	"Call disconnected for administrative reasons",
	"Call failed due to lack of appropriate facilities being available (temporary condition)",
	"Call failed due to lack of appropriate facilities being available (permanent condition)",
	"Invalid destination",
	"Call failed due to no carrier detected",
	"Call failed due to detection of a busy signal",
	"Call failed due to lack of a dial tone",
	"Call was not established within time allotted by LAC",
	"Call was connected but no appropriate framing was detected",
}

var errText = [...]string{
	"No general error",
	"No control connection exists yet for this LAC-LNS pair",
	"Length is wrong",
	"One of the field values was out of range or reserved field was non-zero",
	"Insufficient resources to handle this operation now",
	"The Session ID is invalid in this context",
	"A generic vendor-specific error occurred in the LAC",
	"Try another",
	"Session or Tunnel was shutdown due to receipt of an unknown AVP with the M-bit set",
}

// StopCCNResultText names a StopCCN result code.
func StopCCNResultText(c uint16) string {
	if int(c) < len(stopText) {
		return stopText[c]
	}
	return "result code " + strconv.Itoa(int(c))
}

// CDN result codes RFC 3931 §5.4.2 adds for L2TPv3 sessions.
const (
	CDNTieBreaker  uint16 = 13 // Session not established due to losing tie breaker
	CDNPWType      uint16 = 14 // Session not established due to unsupported PW type
	CDNSeqNoL2SS   uint16 = 15 // sequencing required without valid L2-Specific Sublayer
	CDNV3FSMError  uint16 = 16 // Finite state machine error or timeout
	minV3CDNResult        = CDNTieBreaker
)

var cdnV3Text = [...]string{"Session not established due to losing tie breaker",
	"Session not established due to unsupported PW type",
	"Session not established, sequencing required without valid L2-Specific Sublayer",
	"Finite state machine error or timeout"}

// CDNResultText names a CDN result code.
func CDNResultText(c uint16) string {
	if int(c) < len(cdnText) {
		return cdnText[c]
	}
	if i := int(c) - int(minV3CDNResult); i >= 0 && i < len(cdnV3Text) {
		return cdnV3Text[i]
	}
	return "result code " + strconv.Itoa(int(c))
}

// ErrorCodeText names a general error code.
func ErrorCodeText(c uint16) string {
	if int(c) < len(errText) {
		return errText[c]
	}
	return "error code " + strconv.Itoa(int(c))
}

// Result is the value of the Result Code AVP (§4.4.2): a result code, an
// optional error code and an optional human-readable message (which needs
// the error code to be present).
type Result struct {
	Code     uint16
	Error    uint16
	HasError bool
	Message  string
}

// Text renders the result for logs, naming the codes for msg (StopCCN or
// CDN).
func (r Result) Text(msg MsgType) string {
	var s string
	if msg == MsgCDN {
		s = CDNResultText(r.Code)
	} else {
		s = StopCCNResultText(r.Code)
	}
	s = "result " + strconv.Itoa(int(r.Code)) + " (" + s + ")"
	if r.HasError {
		s += ", error " + strconv.Itoa(int(r.Error)) + " (" + ErrorCodeText(r.Error) + ")"
	}
	if r.Message != "" {
		s += ": " + strconv.Quote(r.Message)
	}
	return s
}
