package access

import (
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/vif"
)

// Role is which end of PPP this node is.
type Role uint8

const (
	// Server authenticates the peer and lends it an address on a
	// Virtual-Access cloned from a Virtual-Template (LNS, PNS).
	Server Role = iota
	// Client is authenticated by the peer and takes the address it gives,
	// on a Virtual-PPP or Dialer interface (a client-initiated tunnel).
	Client
)

func (r Role) String() string {
	if r == Client {
		return "client"
	}
	return "server"
}

// Profile is what a session is made from: for a server, a
// Virtual-Template; for a client, its Virtual-PPP or Dialer interface. The
// daemon builds it from the configuration; it is not changed once a
// session uses it.
type Profile struct {
	Role Role
	// Template names the configured interface the session comes from
	// ("Virtual-Template1", "Virtual-PPP1"), for show commands.
	Template string
	// Kind and Unit of a client's interface (Virtual-PPP 1); a server's
	// sessions get Virtual-Access units of their own.
	Kind vif.Kind
	Unit int
	// Unnumbered names the interface whose address the session borrows,
	// for show commands ("Loopback0").
	Unnumbered string

	MTU       int
	MSS       uint16
	Keepalive time.Duration // LCP echo interval; 0: off
	// KeepaliveMisses unanswered echoes declare the peer dead (default 5).
	KeepaliveMisses int

	// Authentication of the peer (server role).
	AuthMethods []aaa.Method
	AuthList    string // AAA method list; "" default
	// AcctList is the accounting method list (ppp accounting); "" the
	// default.
	AcctList string
	// MaxBadAuth is `ppp max-bad-auth`: attempts a peer may retry after
	// a failed authentication (0: dropped on the first).
	MaxBadAuth int
	Callin     bool
	IfNeeded   bool
	// Our credentials when the peer authenticates us.
	Hostname, Password string
	// SecretFor answers a challenge by the challenger's name when Password
	// is empty (IOS uses the username entry of that name).
	SecretFor func(peer string) string
	// Refuse lists methods we refuse to be authenticated with.
	Refuse []aaa.Method

	// IPCP. Local is our address (a server's unnumbered address; a
	// client's to request, if any).
	Local netip.Addr
	// ClientIPCP asks the peer for our address (ip address negotiated).
	ClientIPCP bool
	// PeerAddr is a fixed address for the peer; Pool the pool to lease
	// one from; NoPeerAddress assigns none (no peer default ip address).
	PeerAddr      netip.Addr
	Pool          string
	NoPeerAddress bool
	DNS           [2]netip.Addr
	RequestDNS    bool

	// Routes go through the interface while it is up (the
	// configuration's ip route ... Virtual-PPP1).
	Routes []vif.Route
	// Shared puts a server session on the shared interface.
	Shared bool
	// VerifySource drops IP a server session sends from a source it does
	// not own (its address, its framed routes): on by default on
	// Virtual-Templates.
	VerifySource bool

	// IPv6 is the sessions' IPv6 (IPv6CP and Neighbor Discovery); nil: a
	// server's session negotiates IPv6CP only when its authorization
	// carries an IPv6 prefix, a client's not at all.
	IPv6 *IPv6Profile

	// MPPE is `ppp encrypt mppe` (RFC 3078): negotiated by CCP after
	// MS-CHAP; the zero value negotiates none.
	MPPE ppp.MPPEConfig
}
