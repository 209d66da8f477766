package aaa

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Method is the PPP authentication protocol a request came in over.
type Method uint8

const (
	PAP      Method = iota + 1 // RFC 1334
	CHAP                       // CHAP with MD5, RFC 1994
	MSCHAPv1                   // RFC 2433
	MSCHAPv2                   // RFC 2759
	EAPMD5                     // RFC 3748 §5.4
)

func (m Method) String() string {
	switch m {
	case PAP:
		return "PAP"
	case CHAP:
		return "CHAP"
	case MSCHAPv1:
		return "MS-CHAP"
	case MSCHAPv2:
		return "MS-CHAP-V2"
	case EAPMD5:
		return "EAP-MD5"
	}
	return "unknown"
}

// Request is one authentication attempt, as PPP collected it. Which fields
// are set depends on Method:
//
//	PAP       Password
//	CHAP      ID, Challenge, Response (16 bytes, MD5 of ID|secret|challenge)
//	MSCHAPv1  Challenge (8 bytes), Response (49-byte Value field, RFC 2433 §3)
//	MSCHAPv2  ID, Challenge (16 bytes), Response (49-byte Value field: peer
//	          challenge 16, reserved 8, NT-Response 24, flags 1; RFC 2759 §4)
//	EAPMD5    ID, Challenge, Response (as CHAP, carried in EAP); or, for
//	          EAP pass-through (RFC 3579), EAPMessage and State
type Request struct {
	Method    Method
	Username  string
	Password  []byte
	ID        uint8
	Challenge []byte
	Response  []byte

	// EAPMessage, when set, makes the request an EAP pass-through step
	// (RFC 3579): the peer's whole EAP Response packet, relayed to a
	// server group as EAP-Message; State echoes the State of the
	// server's last Access-Challenge (RFC 2865 §5.24), nil on the first
	// step. Only server groups answer such requests.
	EAPMessage []byte
	State      []byte
	// Server, on an EAP step after the first, is the Result.Server of the
	// last challenge: the step goes to that server alone, whose State it
	// carries (another server would not know the conversation).
	Server string

	// Context of the call, for policy and accounting.
	NASPort       string // e.g. "Vi3" or the L2TP session
	CallingNumber string
	CalledNumber  string
	TunnelName    string // the peer's L2TP host name, when tunnelled
	// PeerAddr is the address the call came from: the tunnel's remote
	// address for L2TP and PPTP (the throttle counts failures by it;
	// RADIUS sends it as Calling-Station-Id when there is no number).
	// TunnelID and CallID are the carrier's local IDs of the call, for the
	// failure log.
	PeerAddr         netip.Addr
	TunnelID, CallID uint32

	// For RADIUS (RFC 2865 §5.5, §5.41, RFC 2869 §5.17, RFC 2866 §5.5):
	// SessionID is the access layer's unique session id (Acct-Session-Id),
	// PortNumber the NAS-Port, PortType the NAS-Port-Type.
	SessionID  string
	PortNumber uint32
	PortType   uint32
}

// Result is the outcome of an authentication.
type Result struct {
	Accept bool
	// Reason says why a request was rejected, for logs and
	// `show vpdn history failure`; it is not sent to the peer.
	Reason string
	// Message is the text to send in the PAP/CHAP Ack or Nak.
	Message string
	// MSCHAPv2Success is the authenticator response "S=<40 hex>" of
	// RFC 2759 §5 (Accept), MSCHAPError the failure packet's text
	// "E=691 R=0 C=<32 hex> V=3" of RFC 2759 §6 (reject).
	MSCHAPv2Success string
	MSCHAPError     string
	// MPPE master keys (RFC 3079 §3), when the method derives them.
	MPPESendKey, MPPERecvKey []byte
	// Challenge is an EAP pass-through step that is neither accept nor
	// reject (RFC 3579 §2.6.2, Access-Challenge): EAPMessage is the next
	// EAP Request to relay to the peer and State goes back with the
	// peer's answer. On a final result, EAPMessage is the server's EAP
	// Success or Failure, if it sent one.
	Challenge  bool
	EAPMessage []byte
	State      []byte
	Server     string // the server that sent the challenge (Request.Server)
	Authz      Authorization
	// Hold, on a rejection, is how long the authenticator should wait
	// before it tells the peer (the throttle's delay for repeated
	// failures). The wait is the caller's, on its own timer: AAA never
	// sleeps.
	Hold time.Duration
}

// Authorization is what the network is told about an accepted user.
type Authorization struct {
	// Username is the name as authorized (after domain handling).
	Username string
	// Domain is the part after the delimiter, if any.
	Domain string
	// Address is a static address for the peer; zero if none.
	Address netip.Addr
	// Pool names the `ip local pool` to allocate from; empty for the
	// interface's default.
	Pool   string
	Routes []netip.Prefix
	DNS    []netip.Addr
	NBNS   []netip.Addr
	// SessionTimeout and IdleTimeout in seconds, 0 for none.
	SessionTimeout, IdleTimeout uint32

	// From a RADIUS Access-Accept (RFC 2865 §5, RFC 2869 §5.16, RFC 3162,
	// RFC 4818, RFC 2868); zero when the backend sets none.
	Netmask         netip.Addr     // Framed-IP-Netmask
	MTU             uint32         // Framed-MTU
	InterimInterval uint32         // Acct-Interim-Interval, seconds
	Class           [][]byte       // Class, echoed in accounting
	IPv6Prefixes    []netip.Prefix // Framed-IPv6-Prefix
	DelegatedPrefix []netip.Prefix // Delegated-IPv6-Prefix
	Tunnels         []Tunnel       // RFC 2868 tunnel attributes, by tag
	// Authentic is who authenticated the user, for Acct-Authentic
	// (RFC 2866 §5.6): AuthenticRADIUS from a RADIUS Access-Accept, 0
	// (local) otherwise.
	Authentic uint32
}

// Authenticator checks a user's credentials and authorizes the session.
// Implementations must be safe for concurrent use. An error means the
// backend could not decide (unreachable server, bad configuration); a
// rejection is a Result with Accept false.
type Authenticator interface {
	Authenticate(ctx context.Context, req *Request) (*Result, error)
}

// EAPRelay is implemented by an Authenticator that relays EAP to a server
// (RFC 3579) rather than checking EAP-MD5 itself: PPP then relays every
// EAP Response after the Identity as a Request with EAPMessage set.
type EAPRelay interface {
	RelaysEAP() bool
}

// AccountingRecord describes a session for Start, Interim and Stop records
// (RFC 2866 §5). In is what the NAS received from the peer (Acct-Input-*),
// Out what it sent.
type AccountingRecord struct {
	SessionID       string
	Username        string
	NASPort         string
	FramedAddress   netip.Addr
	InOctets        uint64
	OutOctets       uint64
	InPackets       uint64
	OutPackets      uint64
	SessionSeconds  uint32
	TerminateCause  string
	TunnelClientEnd netip.Addr
	TunnelServerEnd netip.Addr
	// IPv6Prefixes and DelegatedPrefixes are the session's IPv6 prefix
	// (Framed-IPv6-Prefix, RFC 3162 §2.3) and delegated prefixes
	// (Delegated-IPv6-Prefix, RFC 4818), as known when the record is made.
	IPv6Prefixes      []netip.Prefix
	DelegatedPrefixes []netip.Prefix

	// TerminateCode is the Stop's Acct-Terminate-Cause (RFC 2866 §5.10).
	TerminateCode uint32
	// Authentic is Acct-Authentic (RFC 2866 §5.6): AuthenticRADIUS or
	// AuthenticLocal; 0 for none sent.
	Authentic uint32
	// Class attributes of the Access-Accept, echoed (RFC 2865 §5.25).
	Class [][]byte
	// The call, as in the Access-Request (RFC 2865 §5.5, §5.30, §5.31,
	// §5.41).
	PortNumber, PortType        uint32
	CallingNumber, CalledNumber string
	// Time is when the event happened; zero: when the record is given.
	// Acct-Delay-Time counts from it (RFC 2866 §5.2).
	Time time.Time
}

// Acct-Authentic values (RFC 2866 §5.6).
const (
	AuthenticRADIUS = 1
	AuthenticLocal  = 2
)

// Accounter receives accounting records. Implementations must be safe for
// concurrent use and must not block the caller for long.
type Accounter interface {
	Start(ctx context.Context, r *AccountingRecord) error
	Interim(ctx context.Context, r *AccountingRecord) error
	Stop(ctx context.Context, r *AccountingRecord) error
}

// ErrNoBackend is returned when no method list applies to a request.
var ErrNoBackend = errors.New("aaa: no authentication method list applies")
