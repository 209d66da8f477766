package ppp

// Cause is why a link or one of its layers went down, typed so that the
// owner can map it to its carrier's codes (an L2TP CDN result, a RADIUS
// Acct-Terminate-Cause) without reading the text of the reason.
type Cause uint8

const (
	CauseNone Cause = iota
	// CauseAdmin: the owner closed the link (Link.Close).
	CauseAdmin
	// CauseLowerDown: the carrier under the link went away (Link.LowerDown).
	CauseLowerDown
	// CausePeerTerminated: the peer sent Terminate-Request (RFC 1661 §5.2).
	CausePeerTerminated
	// CauseKeepalive: LCP Echo-Requests went unanswered.
	CauseKeepalive
	// CauseNegotiation: LCP or an NCP did not converge, timed out
	// (Max-Configure), or the peer rejected something it may not reject.
	CauseNegotiation
	// CauseAuthFailed: authentication failed, timed out, or the two ends
	// have no method in common.
	CauseAuthFailed
	// CauseNoAddress: no address could be assigned to the peer.
	CauseNoAddress
	// CauseLoopback: the link is looped back (RFC 1661 §6.4).
	CauseLoopback
	// CauseNoNCP: no network protocol is configured or left running.
	CauseNoNCP
	// CauseEncryption: MPPE is required and was not negotiated (no MS-CHAP
	// keys, no common strength or mode, the peer refused or never opened
	// CCP).
	CauseEncryption
)

var causeNames = [...]string{"none", "admin", "lower-down", "peer-terminated", "keepalive", "negotiation",
	"authentication", "no-address", "loopback", "no-ncp", "encryption"}

func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "Cause(" + itoa(int(c)) + ")"
}

// setReason records why f's layer goes down, unless it already has a
// reason: the first one is the cause.
func (f *fsm) setReason(c Cause, reason string) {
	if f.reason == "" {
		f.reason, f.cause = reason, c
	}
}
