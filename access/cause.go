package access

import (
	"strconv"

	"github.com/vpdn/vpdn/proto/ppp"
)

// Cause is why a session ended (or failed to come up).
type Cause uint8

const (
	CauseNone Cause = iota
	// CauseAdmin: an administrator cleared it (clear interface, clear vpdn).
	CauseAdmin
	// CauseShutdown: this node is stopping or reloading its carriers.
	CauseShutdown
	// CauseUserRequest: the peer ended PPP (LCP Terminate-Request).
	CauseUserRequest
	// CauseLostCarrier: the peer stopped answering (LCP keepalive).
	CauseLostCarrier
	// CauseLostService: the carrier under the session went away (the
	// peer's CDN, the tunnel lost).
	CauseLostService
	// CauseAuthFailed: the peer failed authentication (or we did).
	CauseAuthFailed
	// CauseNoAddress: no address could be assigned (pool exhausted, none
	// configured).
	CauseNoAddress
	// CauseNegotiation: LCP or an NCP did not converge.
	CauseNegotiation
	// CauseInterface: the session's interface could not be made.
	CauseInterface
	// CauseConfig: the configuration gives the session nothing to run on
	// (no Virtual-Template, a password that does not decode, ...).
	CauseConfig
	// CauseResources: a limit of this node refused the session.
	CauseResources
	// CauseIdleTimeout and CauseSessionTimeout: the authorization's
	// timers expired.
	CauseIdleTimeout
	CauseSessionTimeout
	numCauses
)

var causeInfo = [numCauses]struct {
	name, label string
	acct        uint32
}{
	CauseNone:           {"none", "none", 0},
	CauseAdmin:          {"cleared by administrator", "cleared", 6},      // Admin-Reset
	CauseShutdown:       {"shutting down", "shutdown", 7},                // Admin-Reboot
	CauseUserRequest:    {"terminated by the peer", "peer", 1},           // User-Request
	CauseLostCarrier:    {"keepalive timeout", "keepalive", 2},           // Lost-Carrier
	CauseLostService:    {"carrier down", "carrier", 3},                  // Lost-Service
	CauseAuthFailed:     {"authentication failed", "authentication", 17}, // User-Error
	CauseNoAddress:      {"no address available", "address", 15},         // Service-Unavailable
	CauseNegotiation:    {"PPP negotiation failed", "ppp", 17},           // User-Error
	CauseInterface:      {"interface failure", "interface", 9},           // NAS-Error
	CauseConfig:         {"configuration", "config", 9},                  // NAS-Error
	CauseResources:      {"resource limit", "resources", 10},             // NAS-Request
	CauseIdleTimeout:    {"idle timeout", "idle-timeout", 4},             // Idle-Timeout
	CauseSessionTimeout: {"session timeout", "session-timeout", 5},       // Session-Timeout
}

func (c Cause) String() string {
	if c < numCauses {
		return causeInfo[c].name
	}
	return "Cause(" + strconv.Itoa(int(c)) + ")"
}

// Label is a short word for the cause, of bounded cardinality: a metric
// label (vpdn_setup_failures_total{reason}).
func (c Cause) Label() string {
	if c < numCauses {
		return causeInfo[c].label
	}
	return "other"
}

// AcctTerminateCause is the RFC 2866 §5.10 Acct-Terminate-Cause value.
func (c Cause) AcctTerminateCause() uint32 {
	if c < numCauses {
		return causeInfo[c].acct
	}
	return 9 // NAS-Error
}

// causeOfPPP maps why a PPP link went down to a Cause.
func causeOfPPP(c ppp.Cause) Cause {
	switch c {
	case ppp.CausePeerTerminated:
		return CauseUserRequest
	case ppp.CauseKeepalive:
		return CauseLostCarrier
	case ppp.CauseLowerDown:
		return CauseLostService
	case ppp.CauseAuthFailed:
		return CauseAuthFailed
	case ppp.CauseNoAddress:
		return CauseNoAddress
	case ppp.CauseAdmin:
		return CauseAdmin
	}
	return CauseNegotiation
}
