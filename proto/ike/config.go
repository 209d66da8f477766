package ike

import (
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// Role is the side of an exchange.
type Role uint8

// Roles.
const (
	Initiator Role = iota
	Responder
)

func (r Role) String() string {
	if r == Initiator {
		return "I"
	}
	return "R"
}

// Policy is a phase-1 policy, IOS's `crypto isakmp policy N`: the
// algorithms of one proposal and its lifetime. Policies are tried in the
// order of Priority (lowest first).
type Policy struct {
	Priority   int
	Encryption Cipher
	KeyBits    int // AES: 128, 192, 256 (0 means 128); 3DES: 0
	Hash       Hash
	Group      Group
	Lifetime   time.Duration // 0 means IOS's default, 86400 s
	// RSASig is `authentication rsa-sig`: RSA signatures with X.509
	// certificates (RFC 2409 §5.1, Config.Cert); pre-shared keys
	// otherwise.
	RSASig bool
}

// authMethod is the policy's authentication method attribute (RFC 2409
// Appendix A), XAuth's variant (draft-beaulieu-ike-xauth-02 §3) when
// xauth.
func (p Policy) authMethod(xauth bool) uint16 {
	switch {
	case p.RSASig && xauth:
		return isakmp.AuthXAuthInitRSA
	case p.RSASig:
		return isakmp.AuthRSASig
	case xauth:
		return isakmp.AuthXAuthInitPSK
	}
	return isakmp.AuthPSK
}

func (p Policy) lifetime() time.Duration {
	if p.Lifetime <= 0 {
		return 86400 * time.Second
	}
	return p.Lifetime
}

func (p Policy) keyLen() int { n, _ := p.Encryption.keyLen(p.KeyBits); return n }

func (p Policy) validate() error {
	if _, err := p.Encryption.keyLen(p.KeyBits); err != nil {
		return err
	}
	if p.Hash.Size() == 0 {
		return fmt.Errorf("ike: policy %d: unsupported hash %d", p.Priority, p.Hash)
	}
	if !p.Group.Supported() {
		return fmt.Errorf("ike: policy %d: unsupported %v", p.Priority, p.Group)
	}
	return nil
}

// TransformSet is IOS's `crypto ipsec transform-set`: one ESP transform
// with its integrity algorithm and mode.
type TransformSet struct {
	Name      string
	ESP       uint8  // isakmp.ESP3DES, isakmp.ESPAES
	KeyBits   int    // AES: 128, 192, 256
	Auth      uint16 // isakmp.AuthAlgHMACMD5, AuthAlgHMACSHA1, ...
	Transport bool   // `mode transport`; tunnel otherwise
}

// Selector is one side of a quick mode's traffic selectors (IDci/IDcr):
// a prefix, an IP protocol (0 any) and a port (0 any).
type Selector struct {
	Prefix netip.Prefix
	Proto  uint8
	Port   uint16
}

func (s Selector) String() string {
	return fmt.Sprintf("%s/%d/%d", s.Prefix, s.Proto, s.Port)
}

// Phase2Policy is what a crypto map entry asks of quick mode: the
// transform sets in order, PFS, lifetimes and the traffic selectors (from
// our side: Local is what we protect).
type Phase2Policy struct {
	TransformSets []TransformSet
	PFS           Group         // 0: no PFS
	Lifetime      time.Duration // 0: IOS's 3600 s
	LifeKB        uint64        // 0: IOS's 4608000 KB
	Local, Remote Selector
	// UDPEncap asks for the UDP-encapsulated modes of RFC 3947 (NAT-T).
	UDPEncap bool
	// Profile is, for Initiate, the isakmp profile of the crypto map
	// entry: a phase-1 SA the initiation starts takes it.
	Profile P1Profile
}

// P1Profile is what an isakmp profile gives a phase-1 SA: its name (show
// crypto isakmp sa detail, quick-mode matching) and its keepalive.
type P1Profile struct {
	Name string
	// DPD and DPDRetry, when DPD is not 0, replace Config's for the SA
	// (the profile's `keepalive S retry R`, on-demand).
	DPD, DPDRetry time.Duration
	// As initiator: ID, when set, is our phase-1 identity (an ID payload
	// body: the profile's self-identity) in place of our address;
	// Aggressive starts aggressive mode (initiate mode aggressive); Key,
	// when set, is the pre-shared key (from the profile's keyrings) in
	// place of Config.Key's.
	ID         []byte
	Aggressive bool
	Key        []byte
	// Roots, when set, are the CAs an rsa-sig peer's certificate must
	// chain to under this profile (its ca trust-points), in place of
	// Config.Cert's; our certificate requests name them.
	Roots []*x509.Certificate
}

func (p *Phase2Policy) lifetime() time.Duration {
	if p.Lifetime <= 0 {
		return 3600 * time.Second
	}
	return p.Lifetime
}

func (p *Phase2Policy) lifeKB() uint64 {
	if p.LifeKB == 0 {
		return 4608000
	}
	return p.LifeKB
}

// ChildSA is the result of a quick mode: a pair of ESP SAs (RFC 2401 SAs
// are one-way), for the data plane to install.
type ChildSA struct {
	Peer      netip.AddrPort
	MessageID uint32
	Initiator bool
	// SPIIn is ours (the peer sends with it); SPIOut is the peer's.
	SPIIn, SPIOut uint32
	Transform     uint8  // isakmp.ESP3DES, ESPAES
	KeyBits       int    // cipher key length in bits
	Auth          uint16 // isakmp.AuthAlgHMAC...
	Encap         uint16 // isakmp.EncapTunnel, EncapTransport, EncapUDP...
	// EncKeyIn/AuthKeyIn protect what we receive (KEYMAT of SPIIn),
	// EncKeyOut/AuthKeyOut what we send (KEYMAT of SPIOut): RFC 2409
	// §5.5, encryption key first, then the integrity key.
	EncKeyIn, AuthKeyIn   []byte
	EncKeyOut, AuthKeyOut []byte
	Lifetime              time.Duration
	LifeKB                uint64
	PFS                   Group
	Local, Remote         Selector
	Established           time.Time
	// Profile is the isakmp profile of the phase-1 SA the child was
	// negotiated under ("" without profiles).
	Profile string
	// PeerBehindNAT is NAT-D's finding that the peer sits behind a NAT
	// (RFC 3947 §3.2): Peer is then the address and port its NAT gave
	// it, which tells it apart from other peers behind the same NAT.
	PeerBehindNAT bool
	// PeerOriginal is the peer's own address from its NAT-OA payload
	// (RFC 3947 §5.2; transport mode across a NAT), when it sent one.
	PeerOriginal netip.Addr
}

// Transport reports whether the SA is in one of the transport modes.
func (c *ChildSA) Transport() bool { return p2offer{encap: c.Encap}.transport() }

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	EventPhase1Up    EventKind = iota + 1 // a phase-1 SA is established
	EventPhase1Down                       // a phase-1 SA is gone (Reason says why)
	EventChildUp                          // a quick mode completed: Child
	EventChildDown                        // a child SA was deleted or expired: Child
	EventChildRekey                       // a child SA nears its lifetime: negotiate its successor
	EventChildFailed                      // a quick mode failed (Reason, Notify)
	EventDPDDead                          // DPD gave up on the peer
	EventXAuth                            // XAuth ended: User, Reason "accepted" or why not
	EventModeConfig                       // mode-config assigned Config (server) or received it (client)
	// EventChildInbound: a responder's quick mode is sending QM2. Child's
	// inbound SA can take the peer's packets from now on; its outbound
	// waits for QM3 (EventChildUp). The initiator sends on the new SA as
	// soon as QM2 is in, and its first packets can overtake QM3: without
	// the inbound SA in place, they would be lost at every rekey. The
	// event is delivered before QM2 leaves. A quick mode that fails after
	// it reports EventChildFailed with the same Child, to uninstall.
	EventChildInbound
)

var eventNames = [...]string{"", "phase1-up", "phase1-down", "child-up", "child-down", "child-rekey", "child-failed", "dpd-dead", "xauth", "mode-config", "child-inbound"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// ReasonPhase1Gone is the Reason of an EventChildFailed whose quick mode
// ended because its phase-1 SA went (EventPhase1Down reports that).
const ReasonPhase1Gone = "phase 1 SA deleted"

// Event is reported through Config.OnEvent, outside the Node's lock.
type Event struct {
	Kind   EventKind
	Peer   netip.AddrPort
	ConnID int
	Child  *ChildSA
	Reason string
	Notify isakmp.NotifyType
	// User is the XAuth user name and Config the mode-config of the
	// phase-1 SA (EventXAuth, EventModeConfig, EventPhase1Down: what to
	// release).
	User   string
	Config *ModeConfig
	// State is, for EventPhase1Down, the state the SA was in (as show
	// crypto isakmp sa prints it: MM_KEY_EXCH when a wrong key left the
	// peer silent after our MM5).
	State string
}

// XAuthRequest is a user to authenticate (Config.Authenticate).
type XAuthRequest struct {
	Peer   netip.AddrPort
	ConnID int
	// ID is the peer's phase-1 identity (an Easy VPN client's group name
	// in aggressive mode).
	ID             string
	User, Password string
	Profile        string // the phase-1 SA's isakmp profile
}

// ConfigRequest asks for a client's mode-config (Config.ModeConfig).
type ConfigRequest struct {
	Peer   netip.AddrPort
	ConnID int
	ID     string // the peer's phase-1 identity
	User   string // the XAuth user, "" without XAuth
	// Profile is the phase-1 SA's isakmp profile.
	Profile string
}

// Config configures a Node.
type Config struct {
	// Local is our address as IKE sees it (ID payloads, logs).
	Local netip.AddrPort
	Clock clock.Clock
	// Log receives the `debug crypto isakmp` event log at Debug level;
	// nil logs nothing.
	Log *slog.Logger
	// Rand is the source of cookies, nonces, SPIs and DH secrets
	// (crypto/rand when nil).
	Rand io.Reader
	// Send emits a datagram. It is called outside the Node's lock and may
	// not block for long.
	Send func(b []byte, to netip.AddrPort)
	// OnEvent receives events, outside the Node's lock; may be nil.
	OnEvent func(Event)
	// Policies are the phase-1 policies (crypto isakmp policy N).
	Policies []Policy
	// Key returns the pre-shared key for a peer (crypto isakmp key K
	// address A), or nil: the peer is refused. id is the peer's phase-1
	// ID payload body when known (aggressive mode), else nil.
	Key func(peer netip.Addr, id []byte) []byte
	// Cert, when set, lets the policies with RSASig authenticate with
	// certificates; without it they are neither offered nor accepted.
	Cert *Certs
	// Phase2 returns the policy for a quick mode a peer initiates with the
	// given selectors (ours, theirs) under a phase-1 SA of isakmp profile
	// profile ("" without), or nil: the crypto map entry that matches.
	// Unset, every quick mode is refused.
	Phase2 func(peer netip.AddrPort, profile string, local, remote Selector) *Phase2Policy
	// Profile, when set, chooses the isakmp profile of a phase-1 SA we
	// respond to from the peer's address and phase-1 identity (the ID
	// payload body). It is called when the first message arrives, with
	// the ID in aggressive mode and nil in main mode (where the key must
	// be chosen before the ID comes, encrypted), and again in main mode
	// with MM5's ID once HASH_I verifies and psk, the key that
	// authenticated it (nil at the first message): that answer is the
	// SA's. Under rsa-sig (psk nil) the MM5 call comes before the
	// signature is checked, so that the profile's Roots apply to the
	// peer's certificate, which then proves the identity. An error refuses the peer: the exchange ends with
	// INVALID-ID-INFORMATION and Stats.NoProfile counts it. It is called
	// under the Node's lock and must not block or call the Node.
	Profile func(peer netip.Addr, id, psk []byte) (P1Profile, error)
	// Aggressive makes Initiate use aggressive mode; AcceptAggressive lets
	// peers use it (off by default, as it hands out a hash of the key
	// before the peer proves anything).
	Aggressive, AcceptAggressive bool
	// Retransmit is the interval between retransmissions (10 s by
	// default); after MaxRetransmits (5) the exchange dies ("Death by
	// retransmission P1").
	Retransmit     time.Duration
	MaxRetransmits int
	// DPD is the idle interval after which R-U-THERE is sent (0: off);
	// DPDRetry the interval between unanswered ones, DPDMaxRetries how
	// many before the peer is declared dead.
	DPD           time.Duration
	DPDRetry      time.Duration
	DPDMaxRetries int
	// DPDPeriodic sends R-U-THERE every DPD interval whatever the
	// traffic (IOS `crypto isakmp keepalive S R periodic`); otherwise
	// (on-demand, IOS's default) only after DPD with nothing from the
	// peer, neither IKE nor ESP (RFC 3706 §5.3: traffic from the peer is
	// proof of liveliness).
	DPDPeriodic bool
	// InboundESP, when set, returns how many ESP packets were received
	// and authenticated on the child SA whose inbound SPI is spiIn (a
	// counter that only grows). On-demand DPD reads it for the peer's
	// SAs when its timer fires: a count that moved since the last read
	// is traffic from the peer, and no R-U-THERE goes out. It is called
	// with the Node's lock held: it must be cheap and must not call the
	// Node.
	InboundESP func(spiIn uint32) uint64
	// MaxHalfOpen caps the phase-1 SAs we respond to that are not yet
	// established, overall and per peer address.
	MaxHalfOpen, MaxHalfOpenPerPeer int
	// FirstConnID numbers the phase-1 SAs (IOS's conn-id), 1001 by
	// default.
	FirstConnID int

	// Easy VPN server (draft-beaulieu-ike-xauth-02, draft-dukes-ike-mode-cfg-02).
	//
	// XAuth, when it returns true for a peer (id: its ID payload body in
	// aggressive mode, nil in main mode), makes us its XAuth server
	// (crypto map ... client authentication list): the peer must offer
	// XAUTHInitPreShared, and after phase 1 we ask for a user name and
	// password, check them with Authenticate and refuse quick modes until
	// they pass. A failure deletes the phase-1 SA.
	XAuth func(peer netip.Addr, id []byte) bool
	// Authenticate checks a user; it is called outside the Node's lock
	// and must call done exactly once, from any goroutine (RADIUS may
	// take a while).
	Authenticate func(r XAuthRequest, done func(ok bool))
	// XAuthTimeout bounds an XAuth exchange from either side (crypto
	// isakmp xauth timeout), 60 s by default.
	XAuthTimeout time.Duration
	// ModeConfig returns a client's configuration, for its CFG_REQUEST
	// (client configuration address respond) or to push with CFG_SET
	// (initiate, with PushModeConfig). It is called under the Node's lock
	// and must not block or call the Node; an error (pool exhausted)
	// deletes the phase-1 SA. Unset, mode-config requests get an empty
	// reply.
	ModeConfig     func(r ConfigRequest) (*ModeConfig, error)
	PushModeConfig bool

	// Easy VPN client (vpdn as a remote).
	//
	// XAuthCredentials makes Initiate offer XAUTHInitPreShared and answer
	// the server's XAuth request with the user and password it returns.
	XAuthCredentials func(peer netip.Addr) (user, password string)
	// RequestModeConfig makes us ask for an address after phase 1 (and
	// XAuth); quick modes wait for it, and one whose Local selector is
	// unset protects the assigned address.
	RequestModeConfig bool
	// GroupID, when set, is our phase-1 identity as initiator: an
	// ID_KEY_ID with the group name, as Cisco clients send it in
	// aggressive mode.
	GroupID string
}
