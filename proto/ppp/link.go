package ppp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/internal/clock"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// Phase is a link phase of RFC 1661 §3.2.
type Phase uint8

const (
	PhaseDead Phase = iota
	PhaseEstablish
	PhaseAuthenticate
	PhaseNetwork
	PhaseTerminate
)

func (p Phase) String() string {
	switch p {
	case PhaseDead:
		return "DOWN"
	case PhaseEstablish:
		return "ESTABLISHING"
	case PhaseAuthenticate:
		return "AUTHENTICATING"
	case PhaseNetwork:
		return "UP"
	case PhaseTerminate:
		return "TERMINATING"
	}
	return "?"
}

// Output carries frames to the peer. A frame is a PPP frame with its
// address/control (if the framing has them) and protocol fields; it is
// valid only during the call and must be copied if kept.
type Output interface {
	SendFrame(frame []byte) error
}

// OutputFunc adapts a function to Output.
type OutputFunc func(frame []byte) error

func (f OutputFunc) SendFrame(frame []byte) error { return f(frame) }

// Handler receives a link's events, on the owner's goroutine. Up and Down
// arrive through Config.Post, after the transition that raised them;
// Packet is called synchronously from Input.
type Handler interface {
	// Up is called when a network protocol (IPCP or IPv6CP) opens, and
	// when CCP opens with MPPE (Protocol CCP, Info.MPPE set).
	Up(ev UpEvent)
	// Down is called when a network protocol closes (Protocol IPCP or
	// IPv6CP; CCP after an Up with MPPE) and, once, when the link itself
	// is finished (Protocol LCP): the owner then tears the session down.
	Down(ev DownEvent)
	// Packet delivers a received IPv4 or IPv6 datagram. payload aliases the
	// frame given to Input and is valid only during the call.
	Packet(proto wire.Protocol, payload []byte)
}

// UpEvent says which network protocol opened and what was negotiated.
type UpEvent struct {
	Protocol wire.Protocol
	Info     Info
}

// DownEvent says which layer went down and why.
type DownEvent struct {
	Protocol wire.Protocol
	Reason   string
	Cause    Cause
	// Renegotiating (CCP only): CCP left Opened to negotiate again (the
	// peer's Configure-Request, or FallBackToStateless). MPPE is not open
	// but IP must not go plain: the owner holds it until CCP opens again
	// (an Up event) or ends (a Down event without Renegotiating).
	Renegotiating bool
}

// MPPEKeys are the MPPE master session keys of RFC 3079 §3 (this end's
// send and receive keys), when MS-CHAPv2 derived them.
type MPPEKeys struct {
	Send, Recv []byte
}

// Info is a snapshot of what a link negotiated.
type Info struct {
	Phase                  Phase
	LCP, IPCP, IPv6CP, CCP State
	MRU                    int // what we receive
	PeerMRU                int // the most we may send
	Framing                wire.Framing
	ACCM, PeerACCM         uint32
	Magic, PeerMagic       uint32
	AuthPeer               aaa.Method // how we authenticated the peer (0: not)
	AuthSelf               aaa.Method // how the peer authenticated us (0: not)
	Username               string     // the peer's authenticated name
	Authz                  *aaa.Authorization
	LocalAddr, PeerAddr    netip.Addr
	DNS, NBNS              [2]netip.Addr
	LocalIfID, PeerIfID    wire.InterfaceID
	Keys                   *MPPEKeys
	// MPPE is what CCP negotiated, while it is open (nil otherwise); the
	// UpEvent of wire.ProtoCCP carries it.
	MPPE *MPPEInfo
	// MPPEPending is set while MPPE is required and not yet open: plain
	// datagrams do not pass the link (an IPCP that opens first says so).
	MPPEPending bool
}

// Renegotiation is the `lcp renegotiation` policy for proxy LCP.
type Renegotiation uint8

const (
	// RenegotiateNever takes the proxied LCP options as they are.
	RenegotiateNever Renegotiation = iota
	// RenegotiateOnMismatch renegotiates when the proxied options are not
	// what this end would have agreed to.
	RenegotiateOnMismatch
	// RenegotiateAlways ignores the proxied options and negotiates LCP.
	RenegotiateAlways
)

// ProxyLCP holds LCP as a LAC negotiated it for us (RFC 2661 §4.4.5,
// Proxy LCP AVPs): the options of the last Configure-Request the LAC sent
// the client (our side) and of the last one it received and acked.
type ProxyLCP struct {
	LastSent     []byte
	LastReceived []byte
}

// AuthConfig configures authentication in both roles.
type AuthConfig struct {
	// Methods lists, in order of preference, the protocols this end asks
	// the peer to authenticate with (`ppp authentication ms-chap-v2 chap
	// pap`). Empty: the peer is not authenticated.
	Methods []aaa.Method
	// Callin authenticates the peer only on incoming calls.
	Callin bool
	// IfNeeded skips authenticating the peer when Preauthenticated holds
	// an earlier accepted result.
	IfNeeded         bool
	Preauthenticated *aaa.Result
	// AAA checks the peer's credentials.
	AAA aaa.Authenticator
	// Timeout bounds the authentication phase and each AAA call.
	Timeout time.Duration
	// MSCHAPv2Retries is how many more Responses an MS-CHAPv2 peer may
	// try after a failure (R=1 in the Failure packet, RFC 2759 §6).
	MSCHAPv2Retries int
	// MaxBadAuth is how many failed attempts PAP and CHAP (MD5, MS-CHAP)
	// peers may follow with another before the link is closed (IOS `ppp
	// max-bad-auth`; 0, the default, closes on the first failure).
	MaxBadAuth int

	// Hostname and Password are this end's credentials when the peer
	// authenticates us (`ppp chap hostname`, `ppp chap password`); the
	// hostname is also the name in our CHAP challenges.
	Hostname, Password string
	// SecretFor, when Password is empty, gives the secret for a CHAP or
	// MS-CHAP challenge by the name the authenticator put in it, as IOS
	// answers with the password of `username <that name>`.
	SecretFor func(peerName string) string
	// Refuse lists protocols this end refuses to be authenticated with.
	Refuse []aaa.Method
	// RetryPassword, if set, is asked for a new password when an MS-CHAPv2
	// authenticator allows a retry; "" gives up.
	RetryPassword func() string
}

// IPCPConfig configures IPCP (RFC 1332, RFC 1877).
type IPCPConfig struct {
	Disabled bool
	// Client: request an address (0.0.0.0) and accept the one Nak'd to
	// us; otherwise this end assigns the peer its address.
	Client bool
	// Local is this end's address (server role; in the client role a
	// non-zero Local is requested instead of 0.0.0.0).
	Local netip.Addr
	// Peer is a fixed address for the peer when neither the authorization
	// nor Allocate gives one.
	Peer netip.Addr
	// Allocate draws the peer's address from a pool; Release returns it
	// when the link ends.
	Allocate func(authz *aaa.Authorization) (netip.Addr, error)
	Release  func(netip.Addr)
	// DNS and NBNS servers given to the peer (server role) when the
	// authorization names none.
	DNS, NBNS [2]netip.Addr
	// RequestDNS asks the peer for DNS servers (client role).
	RequestDNS bool
}

// IPv6CPConfig configures IPv6CP (RFC 5072).
type IPv6CPConfig struct {
	Enabled bool
	// IfAuthorized negotiates IPv6CP, when Enabled is not set, for a
	// peer whose authorization carries an IPv6 prefix (Framed-IPv6-Prefix,
	// Delegated-IPv6-Prefix): the RADIUS server asked for IPv6.
	IfAuthorized bool
	InterfaceID  wire.InterfaceID // zero: random
}

// CallInfo describes the call for AAA requests and accounting.
type CallInfo struct {
	NASPort, CallingNumber, CalledNumber, TunnelName string
	// PeerAddr is the carrier's peer (the tunnel's remote address);
	// TunnelID and CallID the carrier's local IDs of the call.
	PeerAddr         netip.Addr
	TunnelID, CallID uint32
	// SessionID is the access layer's unique id (RADIUS Acct-Session-Id),
	// PortNumber and PortType the RADIUS NAS-Port and NAS-Port-Type.
	SessionID            string
	PortNumber, PortType uint32
}

// Config configures a Link. Post and Output are required.
type Config struct {
	// Name prefixes debug lines, as the interface does in IOS ("Vi3").
	Name   string
	Logger *slog.Logger // nil: no logging
	// Clock runs the Restart and keepalive timers (nil: clock.Real); a
	// process with many links shares one clock.Wheel among them.
	Clock clock.Clock
	// Post runs f on the owner's goroutine, the only one that may touch the
	// link. Timer expiries and AAA results come back through it.
	Post    func(f func())
	Output  Output
	Handler Handler
	Rand    io.Reader // nil: crypto/rand

	// AddressControl is set when the medium carries the 0xFF03 address and
	// control fields (L2TP, HDLC); clear for PPPoE.
	AddressControl bool
	// Outgoing is set when this end placed the call (for Callin).
	Outgoing bool
	Call     CallInfo

	// RFC 1661 §4.6 counters and timer; zero means the RFC default.
	Restart      time.Duration // 3 s
	MaxTerminate int           // 2
	MaxConfigure int           // 10
	MaxFailure   int           // 5

	MRU         int  // 0: 1500; requested when not 1500
	PFC, ACFC   bool // request and accept compression
	RequestACCM bool // request ACCM below (async links)
	ACCM        uint32
	NoMagic     bool // do not send Magic-Number
	// Keepalive is the LCP Echo-Request interval (0: off) and
	// KeepaliveMisses the unanswered echoes that declare the peer dead.
	Keepalive       time.Duration
	KeepaliveMisses int

	ProxyLCP    *ProxyLCP
	Renegotiate Renegotiation

	Auth   AuthConfig
	IPCP   IPCPConfig
	IPv6CP IPv6CPConfig
	MPPE   MPPEConfig
}

// Stats counts a link's traffic and drops. It is read on the owner's
// goroutine.
type Stats struct {
	InFrames, OutFrames   uint64
	InPackets, OutPackets uint64 // data (IPv4/IPv6)
	InOctets, OutOctets   uint64 // data payload octets
	DropMalformed         uint64 // unparsable header or packet
	DropNotOpen           uint64 // data or NCP packet for a closed layer
	DropUnknownProtocol   uint64 // answered with Protocol-Reject
	DropUnencrypted       uint64 // plain IP while MPPE is open or required
}

// ErrNotOpen is returned by SendPacket when the network protocol is not open.
var ErrNotOpen = errors.New("ppp: network protocol not open")

// Link is one PPP link: the LCP, authentication and NCP state of one
// session. It is passive: its owner calls Input with frames, Start and
// Close, and runs the functions given to Config.Post; no goroutine belongs
// to it. All methods must be called on the owner's goroutine.
type Link struct {
	cfg   Config
	log   *slog.Logger
	phase Phase
	// reached is the furthest phase the link got to (Terminate aside).
	reached Phase
	dead    bool
	// downCause and downReason: what the Down event of LCP reported.
	downCause  Cause
	downReason string
	stats      Stats

	lcp, ipcp, ipv6cp, ccp *fsm
	lcpo                   *lcpOptions
	ipcpo                  *ipcpOptions
	ipv6cpo                *ipv6cpOptions
	ccpo                   *ccpOptions
	auth                   authState

	framing   wire.Framing
	peerMRU   int
	keepalive ltimer
	echoID    uint8
	echoMiss  int

	scratch []byte
	nakBuf  []byte
	nakOrig []byte
	rejBuf  []byte
}

// NewLink checks cfg, fills in defaults and returns an idle link.
func NewLink(cfg Config) (*Link, error) {
	if cfg.Post == nil || cfg.Output == nil {
		return nil, errors.New("ppp: Config.Post and Config.Output are required")
	}
	if cfg.Handler == nil {
		cfg.Handler = nopHandler{}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Restart <= 0 {
		cfg.Restart = 3 * time.Second
	}
	if cfg.MaxTerminate <= 0 {
		cfg.MaxTerminate = 2
	}
	if cfg.MaxConfigure <= 0 {
		cfg.MaxConfigure = 10
	}
	if cfg.MaxFailure <= 0 {
		cfg.MaxFailure = 5
	}
	if cfg.MRU == 0 {
		cfg.MRU = wire.DefaultMRU
	}
	if cfg.MRU < 128 || cfg.MRU > 65535 {
		return nil, fmt.Errorf("ppp: MRU %d out of range", cfg.MRU)
	}
	if cfg.KeepaliveMisses <= 0 {
		cfg.KeepaliveMisses = 5
	}
	if cfg.Auth.Timeout <= 0 {
		cfg.Auth.Timeout = 30 * time.Second
	}
	for _, m := range cfg.Auth.Methods {
		if m < aaa.PAP || m > aaa.EAPMD5 {
			return nil, fmt.Errorf("ppp: unknown authentication method %d", m)
		}
	}
	if err := cfg.MPPE.check(); err != nil {
		return nil, err
	}
	if len(cfg.Auth.Methods) > 0 && cfg.Auth.AAA == nil && !(cfg.Auth.IfNeeded && cfg.Auth.Preauthenticated != nil) {
		return nil, errors.New("ppp: authentication methods configured without an Authenticator")
	}
	l := &Link{cfg: cfg, log: cfg.Logger, peerMRU: wire.DefaultMRU}
	l.lcpo = &lcpOptions{l: l}
	l.ipcpo = &ipcpOptions{l: l}
	l.ipv6cpo = &ipv6cpOptions{l: l}
	l.lcp = newFSM(l, wire.ProtoLCP, l.lcpo)
	l.ipcp = newFSM(l, wire.ProtoIPCP, l.ipcpo)
	l.ipv6cp = newFSM(l, wire.ProtoIPv6CP, l.ipv6cpo)
	l.ccpo = newCCPOptions(l)
	l.ccp = newFSM(l, wire.ProtoCCP, l.ccpo)
	l.keepalive.init(l, l.keepaliveTick)
	l.auth.init(l)
	l.framing = wire.Framing{AddressControl: cfg.AddressControl}
	return l, nil
}

type nopHandler struct{}

func (nopHandler) Up(UpEvent)                   {}
func (nopHandler) Down(DownEvent)               {}
func (nopHandler) Packet(wire.Protocol, []byte) {}

// Start brings the link up: the lower layer is up and LCP is opened
// (RFC 1661 §3.2, Link Establishment). With proxy LCP the link may start
// with LCP already Opened.
func (l *Link) Start() {
	if l.dead || l.phase != PhaseDead {
		return
	}
	l.setPhase(PhaseEstablish)
	if l.cfg.ProxyLCP != nil && l.startProxied() {
		return
	}
	// Up before Open, as IOS does: the first request goes out from Closed.
	l.lcp.up()
	l.lcp.open()
}

// Close closes the link administratively: LCP sends Terminate-Request and
// the link finishes when the peer acknowledges or Max-Terminate runs out.
func (l *Link) Close(reason string) { l.closeWith(CauseAdmin, reason) }

// closeWith is Close with the cause the Down event reports.
func (l *Link) closeWith(c Cause, reason string) {
	if l.dead {
		return
	}
	if reason == "" {
		reason = "Administratively closed"
	}
	if l.phase != PhaseDead {
		l.setPhase(PhaseTerminate)
	}
	l.lcp.close(c, reason)
	if !l.dead && (l.lcp.state == Closed || l.lcp.state == Initial || l.lcp.state == Stopped) {
		l.finish()
	}
}

// LowerDown tells the link its lower layer (the tunnel session) is gone.
// The link finishes at once.
func (l *Link) LowerDown() {
	if l.dead {
		return
	}
	l.lcp.setReason(CauseLowerDown, "Lower layer down")
	l.lcp.down()
	l.finish()
}

// Phase returns the link phase.
func (l *Link) Phase() Phase { return l.phase }

// Reached returns the furthest phase the link got to: a link that failed
// in Network had authenticated; one that failed in Authenticate had not.
func (l *Link) Reached() Phase { return l.reached }

// RefusedAuth reports whether this end refused the method the peer asked
// to authenticate it with (LCP): a link that fails in Establish after that
// failed for want of a common method.
func (l *Link) RefusedAuth() bool { return l.lcpo.refusedAuth }

// Done reports whether the link has finished.
func (l *Link) Done() bool { return l.dead }

// Cause returns why the link finished, as its LCP Down event said (valid
// once Done).
func (l *Link) Cause() (Cause, string) { return l.downCause, l.downReason }

// Stats returns the link's counters.
func (l *Link) Stats() Stats { return l.stats }

// Framing returns the header the data path must write toward the peer.
func (l *Link) Framing() wire.Framing { return l.framing }

// Info returns a snapshot of the negotiated state.
func (l *Link) Info() Info {
	in := Info{
		Phase: l.phase, LCP: l.lcp.state, IPCP: l.ipcp.state, IPv6CP: l.ipv6cp.state, CCP: l.ccp.state,
		MRU: l.lcpo.local.mru, PeerMRU: l.peerMRU, Framing: l.framing,
		ACCM: l.lcpo.local.accm, PeerACCM: l.lcpo.peer.accm,
		Magic: l.lcpo.local.magic, PeerMagic: l.lcpo.peer.magic,
		AuthPeer: l.lcpo.local.auth, AuthSelf: l.lcpo.peer.auth,
		Username: l.auth.username, Authz: l.auth.authz,
		LocalAddr: l.ipcpo.local, PeerAddr: l.ipcpo.peer, DNS: l.ipcpo.dns, NBNS: l.ipcpo.nbns,
		LocalIfID: l.ipv6cpo.local, PeerIfID: l.ipv6cpo.peer,
		Keys: l.auth.keys, MPPE: l.ccpo.open,
		MPPEPending: l.cfg.MPPE.Required && l.cfg.MPPE.enabled() && l.ccpo.open == nil,
	}
	if in.MRU == 0 {
		in.MRU = l.cfg.MRU
	}
	return in
}

// Input handles one frame from the peer (address/control and protocol
// fields included, HDLC framing and FCS removed). Data frames of an open
// network protocol go to Handler.Packet without allocating.
func (l *Link) Input(frame []byte) {
	if l.dead {
		return
	}
	l.stats.InFrames++
	proto, payload, err := wire.ParseFrame(frame)
	if err != nil {
		l.stats.DropMalformed++
		return
	}
	switch proto {
	case wire.ProtoIPv4:
		if l.ccpo.blocksPlain() {
			// RFC 3078 §2: with MPPE, datagrams travel encrypted.
			l.stats.DropUnencrypted++
			return
		}
		if l.ipcp.state == Opened {
			l.stats.InPackets++
			l.stats.InOctets += uint64(len(payload))
			l.cfg.Handler.Packet(proto, payload)
			return
		}
		l.stats.DropNotOpen++
	case wire.ProtoIPv6:
		if l.ccpo.blocksPlain() {
			l.stats.DropUnencrypted++
			return
		}
		if l.ipv6cp.state == Opened {
			l.stats.InPackets++
			l.stats.InOctets += uint64(len(payload))
			l.cfg.Handler.Packet(proto, payload)
			return
		}
		l.stats.DropNotOpen++
	case wire.ProtoCompressed:
		// An MPPE packet (RFC 3078 §3) goes to the owner, which holds the
		// Decrypter; without MPPE open it is discarded (RFC 1962 §2.1).
		if l.ccpo.open != nil && l.ccp.state == Opened {
			l.stats.InPackets++
			l.stats.InOctets += uint64(len(payload))
			l.cfg.Handler.Packet(proto, payload)
			return
		}
		l.stats.DropNotOpen++
	case wire.ProtoLCP:
		l.controlInput(l.lcp, payload)
	case wire.ProtoPAP, wire.ProtoCHAP, wire.ProtoEAP:
		if l.lcp.state != Opened {
			l.stats.DropNotOpen++
			return
		}
		l.auth.input(proto, payload)
	case wire.ProtoIPCP, wire.ProtoIPv6CP, wire.ProtoCCP:
		f := l.ncp(proto)
		if f == nil {
			l.protocolReject(proto, payload)
			return
		}
		// NCP packets before the Network phase are discarded (RFC 1661 §3.5).
		if l.phase != PhaseNetwork {
			l.stats.DropNotOpen++
			return
		}
		l.controlInput(f, payload)
	default:
		l.protocolReject(proto, payload)
	}
}

// ipv6On reports whether IPv6CP runs on the link: configured, or asked
// for by the authorization (IPv6CPConfig.IfAuthorized). Before
// authentication an IfAuthorized link has no authorization yet: the peer's
// IPv6CP packets are then discarded as any NCP's before the Network phase
// (RFC 1661 §3.5), not rejected.
func (l *Link) ipv6On() bool {
	c := &l.cfg.IPv6CP
	if c.Enabled {
		return true
	}
	if !c.IfAuthorized {
		return false
	}
	if l.phase != PhaseNetwork {
		return true
	}
	a := l.auth.authz
	return a != nil && (len(a.IPv6Prefixes) > 0 || len(a.DelegatedPrefix) > 0)
}

// ncp returns the automaton of an enabled network control protocol.
func (l *Link) ncp(p wire.Protocol) *fsm {
	switch p {
	case wire.ProtoIPCP:
		if !l.cfg.IPCP.Disabled {
			return l.ipcp
		}
	case wire.ProtoIPv6CP:
		if l.ipv6On() {
			return l.ipv6cp
		}
	case wire.ProtoCCP:
		return l.ccp
	}
	return nil
}

// SendPacket sends an IPv4 or IPv6 datagram held in buf[off:], writing the
// PPP header into the headroom before off (at least wire.MaxHeaderLen
// octets). It does not allocate. While MPPE is open (or required and not
// yet open) a plain datagram is refused with ErrEncryptionRequired; an
// MPPE packet (mppe.Encrypter output) goes as wire.ProtoCompressed once
// CCP is open.
func (l *Link) SendPacket(proto wire.Protocol, buf []byte, off int) error {
	switch {
	case proto == wire.ProtoCompressed && l.ccpo.open != nil && l.ccp.state == Opened:
	case (proto == wire.ProtoIPv4 || proto == wire.ProtoIPv6) && l.ccpo.blocksPlain():
		return ErrEncryptionRequired
	case proto == wire.ProtoIPv4 && l.ipcp.state == Opened:
	case proto == wire.ProtoIPv6 && l.ipv6cp.state == Opened:
	default:
		return ErrNotOpen
	}
	start, err := l.framing.Prepend(buf, off, proto)
	if err != nil {
		return err
	}
	l.stats.OutPackets++
	l.stats.OutOctets += uint64(len(buf) - off)
	l.stats.OutFrames++
	return l.cfg.Output.SendFrame(buf[start:])
}

func (l *Link) controlInput(f *fsm, payload []byte) {
	p, err := wire.ParsePacket(payload)
	if err != nil {
		l.stats.DropMalformed++
		l.debugNeg("%s: dropping malformed packet: %v", f.name, err)
		return
	}
	if l.negEnabled() {
		l.logPacket(f.proto, "I", f.state, p, f.layer.optionName)
	}
	f.input(p)
}

// protocolReject answers a frame of a protocol this end does not run with
// an LCP Protocol-Reject (RFC 1661 §5.7), only while LCP is Opened.
func (l *Link) protocolReject(proto wire.Protocol, info []byte) {
	l.stats.DropUnknownProtocol++
	if l.lcp.state != Opened {
		return
	}
	b := l.scratch[:0]
	b = binary.BigEndian.AppendUint16(b, uint16(proto))
	b = append(b, info...)
	if max := l.peerMRU - wire.PacketHeaderLen; len(b) > max {
		b = b[:max]
	}
	l.scratch = b
	l.sendControl(wire.ProtoLCP, Opened, wire.ProtoRej, l.lcp.newID(), b, nil)
}

// sendControl sends a control packet of proto. LCP always goes out with
// full address/control and protocol fields (RFC 1661 §6.5, §6.6).
func (l *Link) sendControl(proto wire.Protocol, st State, code wire.Code, id uint8, data []byte, optName func(uint8) string) {
	fr := l.framing
	if proto == wire.ProtoLCP {
		fr.ACFC, fr.PFC = false, false
	}
	// The frame is built in a pooled buffer: Output must not keep it, so
	// it goes back after the call. One per link would be 1.6 KB of memory
	// per session that sits idle between keepalives.
	bp := txPool.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; txPool.Put(bp) }()
	b := fr.Append((*bp)[:0], proto)
	hl := len(b)
	b = wire.AppendPacket(b, code, id, data)
	*bp = b
	if l.negEnabled() || (l.authEnabled() && isAuthProto(proto)) {
		if p, err := wire.ParsePacket(b[hl:]); err == nil {
			l.logPacket(proto, "O", st, p, optName)
		}
	}
	l.stats.OutFrames++
	if err := l.cfg.Output.SendFrame(b); err != nil {
		l.debugNeg("%s: send failed: %v", proto, err)
	}
}

// txPool holds the buffers control frames are built in.
var txPool = sync.Pool{New: func() any { b := make([]byte, 0, 1600); return &b }}

func isAuthProto(p wire.Protocol) bool {
	return p == wire.ProtoPAP || p == wire.ProtoCHAP || p == wire.ProtoEAP
}

func (l *Link) setPhase(p Phase) {
	if l.phase == p {
		return
	}
	if p > l.reached && p < PhaseTerminate {
		l.reached = p
	}
	l.phase = p
	l.debugNeg("PPP: Phase is %s", p)
}

// Layer actions of LCP (RFC 1661 §4.4), called by lcpOptions.

func (l *Link) lcpUp() {
	lo := l.lcpo
	l.framing = wire.Framing{AddressControl: l.cfg.AddressControl, ACFC: lo.peer.acfc, PFC: lo.peer.pfc}
	l.peerMRU = lo.peer.mru
	l.echoMiss = 0
	if l.cfg.Keepalive > 0 {
		l.keepalive.start(l.cfg.Keepalive)
	}
	l.setPhase(PhaseAuthenticate)
	l.auth.start()
}

func (l *Link) lcpDown() {
	l.keepalive.stop()
	l.auth.stop()
	for _, f := range []*fsm{l.ipcp, l.ipv6cp, l.ccp} {
		if f.state != Initial {
			f.down()
		}
	}
	if l.phase != PhaseTerminate {
		l.setPhase(PhaseEstablish)
	}
}

func (l *Link) lcpFinished() {
	l.finish()
}

// finish ends the link: timers stop, the address goes back to the pool and
// the owner hears Down once.
func (l *Link) finish() {
	if l.dead {
		return
	}
	l.lcp.setReason(CauseNegotiation, "LCP closed")
	reason, cause := l.lcp.reason, l.lcp.cause
	l.downCause, l.downReason = cause, reason
	l.setPhase(PhaseDead)
	l.dead = true
	for _, f := range []*fsm{l.lcp, l.ipcp, l.ipv6cp, l.ccp} {
		f.timer.stop()
	}
	l.ccpo.guard.stop()
	l.ccpo.resetTimer.stop()
	l.keepalive.stop()
	l.auth.stop()
	l.ipcpo.release()
	l.debugNeg("PPP: link down: %s", reason)
	l.notifyDown(DownEvent{Protocol: wire.ProtoLCP, Reason: reason, Cause: cause})
}

// networkPhase starts the NCPs once authentication is done (RFC 1661 §3.5).
func (l *Link) networkPhase() {
	if l.dead || l.phase != PhaseAuthenticate {
		return
	}
	l.setPhase(PhaseNetwork)
	if !l.ccpo.precheck() {
		return
	}
	if !l.cfg.IPCP.Disabled {
		if !l.ipcpo.prepare() {
			return
		}
		l.startNCP(l.ipcp)
	}
	if l.ipv6On() {
		l.startNCP(l.ipv6cp)
	}
	l.ccpo.start()
	if l.cfg.IPCP.Disabled && !l.ipv6On() {
		l.closeWith(CauseNoNCP, "No network protocols configured")
	}
}

func (l *Link) startNCP(f *fsm) {
	switch f.state {
	case Initial:
		f.up()
		f.open()
	case Starting: // opened before, LCP renegotiated
		f.up()
	}
}

// ncpUp and ncpDown report an NCP to the owner.
func (l *Link) ncpUp(proto wire.Protocol) {
	ev := UpEvent{Protocol: proto, Info: l.Info()}
	h := l.cfg.Handler
	l.cfg.Post(func() { h.Up(ev) })
}

func (l *Link) ncpDown(f *fsm) {
	l.notifyDown(DownEvent{Protocol: f.proto, Reason: f.reason, Cause: f.cause})
}

// notifyDown and ncpUp hand events to the owner through Post, after the
// transition that raised them is complete, so a Handler may call back into
// the link (Close on Up, say) without re-entering a transition.
func (l *Link) notifyDown(ev DownEvent) {
	h := l.cfg.Handler
	l.cfg.Post(func() { h.Down(ev) })
}

// ncpFinished closes the link when no network protocol is left (as pppd
// does: a link without NCPs carries nothing).
func (l *Link) ncpFinished(f *fsm) {
	if l.phase != PhaseNetwork {
		return
	}
	for _, g := range []*fsm{l.ipcp, l.ipv6cp} {
		if l.ncp(g.proto) == nil {
			continue
		}
		switch g.state {
		case Closed, Stopped, Initial, Starting:
		default:
			return
		}
	}
	reason, cause := "No network protocols running", CauseNoNCP
	if f.reason != "" {
		reason += " (" + f.reason + ")"
		cause = f.cause
	}
	l.closeWith(cause, reason)
}

// Keepalive, RFC 1661 §5.8 Echo-Request/Reply.

func (l *Link) keepaliveTick() {
	if l.lcp.state != Opened {
		return
	}
	if l.echoMiss >= l.cfg.KeepaliveMisses {
		l.lcp.reason, l.lcp.cause = "Keepalive timeout", CauseKeepalive
		l.closeWith(CauseKeepalive, "Keepalive timeout")
		return
	}
	l.echoMiss++
	l.echoID++
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], l.lcpo.local.magic)
	l.sendControl(wire.ProtoLCP, Opened, wire.EchoReq, l.echoID, b[:], nil)
	l.keepalive.start(l.cfg.Keepalive)
}

func (l *Link) lcpEchoReply(req wire.Packet) {
	_, rest, err := wire.ParseMagicData(req.Data)
	if err != nil {
		return
	}
	b := binary.BigEndian.AppendUint32(l.scratch[:0], l.lcpo.local.magic)
	b = append(b, rest...)
	if max := l.peerMRU - wire.PacketHeaderLen; len(b) > max {
		b = b[:max]
	}
	l.scratch = b
	l.sendControl(wire.ProtoLCP, Opened, wire.EchoRep, req.ID, b, nil)
}

// Randomness.

func (l *Link) random(b []byte) {
	if _, err := io.ReadFull(l.cfg.Rand, b); err != nil {
		// crypto/rand does not fail; a broken test reader gets a counter.
		for i := range b {
			b[i] = byte(i + 1)
		}
	}
}

func (l *Link) randomMagic() uint32 {
	for {
		var b [4]byte
		l.random(b[:])
		if m := binary.BigEndian.Uint32(b[:]); m != 0 {
			return m
		}
	}
}

// aaaRequest fills the call context of an AAA request.
func (l *Link) aaaRequest(m aaa.Method, user string) *aaa.Request {
	return &aaa.Request{
		Method: m, Username: user,
		NASPort: l.cfg.Call.NASPort, CallingNumber: l.cfg.Call.CallingNumber,
		CalledNumber: l.cfg.Call.CalledNumber, TunnelName: l.cfg.Call.TunnelName,
		PeerAddr: l.cfg.Call.PeerAddr, TunnelID: l.cfg.Call.TunnelID, CallID: l.cfg.Call.CallID,
		SessionID: l.cfg.Call.SessionID, PortNumber: l.cfg.Call.PortNumber, PortType: l.cfg.Call.PortType,
	}
}

// runAAA calls the authenticator off the owner's goroutine and posts the
// result back; done runs on the owner's goroutine unless the link died.
func (l *Link) runAAA(req *aaa.Request, done func(*aaa.Result, error)) (cancel func()) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Auth.Timeout)
	a := l.cfg.Auth.AAA
	go func() {
		res, err := a.Authenticate(ctx, req)
		l.cfg.Post(func() {
			cancel()
			if !l.dead {
				done(res, err)
			}
		})
	}()
	return cancel
}
