package l2tp

import (
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// RetransmitParams are the l2tp-class "retransmit" settings (RFC 2661 §5.8).
type RetransmitParams struct {
	// InitialRetries bounds the retransmissions of SCCRQ ("retransmit
	// initial retries", default 2).
	InitialRetries int
	// Retries bounds the retransmissions of every other control message
	// ("retransmit retries", default 5).
	Retries int
	// TimeoutMin and TimeoutMax bound the exponential back-off
	// ("retransmit timeout min|max", seconds; defaults 1 s and 8 s).
	TimeoutMin, TimeoutMax time.Duration
}

// TunnelParams are the settings of one control connection: what an
// l2tp-class plus a vpdn-group give. The zero value is usable: defaults
// are filled in by withDefaults.
type TunnelParams struct {
	// LocalName is the Host Name AVP we send ("local name" of the
	// l2tp-class, else the router's hostname).
	LocalName string
	// RemoteName, when set, is the Host Name the peer must present
	// ("terminate-from hostname" on the LNS; checked on SCCRP on the LAC).
	RemoteName string
	// Secret is the tunnel password ("l2tp tunnel password" /
	// "authentication" + "password" in the l2tp-class). When set, a
	// Challenge is sent and the peer's Challenge Response checked (§4.2).
	Secret []byte
	// Hidden hides the proxy authentication and LCP AVPs (§4.3, "hidden").
	Hidden bool
	// RecvWindow is our Receive Window Size AVP ("receive-window", default 16).
	RecvWindow uint16
	Retransmit RetransmitParams
	// Hello is the keepalive interval ("hello", default 60 s): a HELLO is
	// sent after this much silence from the peer (§6.5). Negative disables.
	Hello time.Duration
	// SetupTimeout bounds tunnel and session establishment ("timeout
	// setup", default 300 s as on IOS). Tunnel set-up usually fails
	// sooner, when the SCCRQ/SCCRP retransmissions run out.
	SetupTimeout time.Duration
	// SessionSetupTimeout bounds the set-up of a call the peer opened,
	// from its ICRQ/OCRQ to established (ICCN received, OCCN sent):
	// default 30 s. It is separate from SetupTimeout because a call is
	// set up in one or two round trips once the tunnel is up; a half-open
	// call held for minutes is only useful to a flood (issue 13). It is
	// vpdn's "l2tp session timeout setup" (IOS has no such command).
	// Calls we place (Dial) keep SetupTimeout: theirs includes the
	// tunnel's set-up.
	SessionSetupTimeout time.Duration
	// NoSessionTimeout closes an established tunnel that has had no
	// session for this long, with StopCCN result 1 (IOS "l2tp tunnel
	// timeout no-session", whose default the daemon applies). 0 keeps
	// such tunnels until the peer or the owner closes them.
	NoSessionTimeout time.Duration
	// Sequencing asks for sequence numbers on data messages (Sequencing
	// Required AVP, §4.4.4; the l2tp-class "sequencing").
	Sequencing bool
	// FramingCaps and BearerCaps advertised in SCCRQ/SCCRP (§4.4.3).
	FramingCaps, BearerCaps uint32
	// Class names the l2tp-class / vpdn-group, only for show output.
	Class string
}

func (p TunnelParams) withDefaults() TunnelParams {
	if p.LocalName == "" {
		p.LocalName = "vpdn"
	}
	if p.RecvWindow == 0 {
		p.RecvWindow = 16
	}
	r := &p.Retransmit
	if r.InitialRetries == 0 {
		r.InitialRetries = 2
	}
	if r.Retries == 0 {
		r.Retries = 5
	}
	if r.TimeoutMin == 0 {
		r.TimeoutMin = time.Second
	}
	if r.TimeoutMax == 0 {
		r.TimeoutMax = 8 * time.Second
	}
	r.TimeoutMax = max(r.TimeoutMax, r.TimeoutMin)
	if p.Hello == 0 {
		p.Hello = 60 * time.Second
	}
	if p.SetupTimeout == 0 {
		p.SetupTimeout = 300 * time.Second
	}
	if p.SessionSetupTimeout <= 0 {
		p.SessionSetupTimeout = 30 * time.Second
	}
	if p.NoSessionTimeout < 0 {
		p.NoSessionTimeout = 0
	}
	if p.FramingCaps == 0 {
		p.FramingCaps = l2tp.FramingSync | l2tp.FramingAsync
	}
	return p
}

// reuseKey identifies the tunnels a LAC may share between calls: same
// peer and same tunnel parameters.
type reuseKey struct {
	peer                         string
	local, remote, secret, class string
	hidden, seq                  bool
	window                       uint16
	initRetries, retries         int
	tmin, tmax, hello, setup     time.Duration
	sessSetup, noSession         time.Duration
	framing, bearer              uint32
}

func (p TunnelParams) key(peer string) reuseKey {
	r := p.Retransmit
	return reuseKey{peer, p.LocalName, p.RemoteName, string(p.Secret), p.Class, p.Hidden, p.Sequencing,
		p.RecvWindow, r.InitialRetries, r.Retries, r.TimeoutMin, r.TimeoutMax, p.Hello, p.SetupTimeout,
		p.SessionSetupTimeout, p.NoSessionTimeout, p.FramingCaps, p.BearerCaps}
}

// ProxyInfo is what a LAC that already ran LCP and authentication with the
// client forwards in ICCN (RFC 2661 §4.4.5), for the LNS to skip or check
// those phases.
type ProxyInfo struct {
	InitialRecvLCP []byte // Initial Received LCP CONFREQ (options, no header)
	LastSentLCP    []byte // Last Sent LCP CONFREQ
	LastRecvLCP    []byte // Last Received LCP CONFREQ
	AuthType       uint16 // l2tp.ProxyAuthPAP, ProxyAuthCHAP, ...; 0 = none sent
	AuthName       string
	AuthChallenge  []byte
	AuthID         uint16
	AuthResponse   []byte
}

// CallParams describe a call: what the LAC puts in ICRQ/ICCN (or the LNS in
// OCRQ), and what the other side sees on Session.Call.
type CallParams struct {
	SerialNumber      uint32 // Call Serial Number; 0 = assigned by the node
	CalledNumber      string
	CallingNumber     string
	SubAddress        string
	BearerType        uint32
	FramingType       uint32 // default sync
	MinBPS, MaxBPS    uint32 // OCRQ only
	TxConnectSpeed    uint32 // default 100 Mbit/s
	RxConnectSpeed    uint32
	PhysicalChannelID uint32
	PrivateGroupID    []byte
	// Sequencing asks the peer to sequence data (Sequencing Required).
	Sequencing bool
	// Proxy, when set, is sent in ICCN (LAC side) or was received (LNS).
	Proxy *ProxyInfo
	// Ready, when set on a Dial, is called once the peer answered the
	// call (ICRP, OCRP): the session's IDs and peer are in info, and our
	// last set-up message goes out right after it returns. The owner
	// installs its data path here, so that no frame the peer sends at
	// once is lost. It runs on the tunnel goroutine with the tunnel
	// locked: it must not block nor call the session's or tunnel's
	// methods. If the Dial then fails, Dial's error says so.
	Ready func(s *Session, info SessionInfo)
}

// Limits bound the resources the node spends on peers (issue 6: 100,000
// sessions; a flood of SCCRQs must not grow memory without bound).
type Limits struct {
	// MaxHalfOpen caps tunnels a peer opened that are not established yet;
	// when full, the oldest is dropped silently for the new one (default 256).
	MaxHalfOpen int
	// MaxHalfOpenPerPeer caps them per source address: beyond it, that
	// source's own oldest goes (default 16).
	MaxHalfOpenPerPeer int
	// MaxTunnels caps all tunnels (default 4096).
	MaxTunnels int
	// MaxTunnelsPerPeer caps the tunnels one source address opened to us
	// (default 1024): beyond it its SCCRQ is refused with StopCCN result
	// 2, error 4 (insufficient resources, §4.4.2), so one address cannot
	// take the whole tunnel table. Tunnels we open (Dial) do not count.
	MaxTunnelsPerPeer int
	// MaxSessions caps sessions on the node (default 131072) and
	// MaxSessionsPerTunnel on one tunnel (default 65535).
	MaxSessions, MaxSessionsPerTunnel int
	// Half-open sessions are calls the peer opened (ICRQ, OCRQ) that are
	// not established yet. They are bounded per tunnel (default 1024), per
	// peer address (default 2048) and on the node (default 16384). At a
	// bound the offending peer loses its own oldest half-open call (CDN
	// result 4, error 4); at the node bound the peer holding the most
	// half-open calls loses its oldest. Established sessions are never
	// evicted.
	MaxHalfOpenSessionsPerTunnel, MaxHalfOpenSessionsPerPeer, MaxHalfOpenSessions int
}

func (l Limits) withDefaults() Limits {
	if l.MaxHalfOpen <= 0 {
		l.MaxHalfOpen = 256
	}
	if l.MaxHalfOpenPerPeer <= 0 {
		l.MaxHalfOpenPerPeer = 16
	}
	if l.MaxTunnels <= 0 {
		l.MaxTunnels = 4096
	}
	if l.MaxTunnelsPerPeer <= 0 {
		l.MaxTunnelsPerPeer = 1024
	}
	if l.MaxHalfOpenSessionsPerTunnel <= 0 {
		l.MaxHalfOpenSessionsPerTunnel = 1024
	}
	if l.MaxHalfOpenSessionsPerPeer <= 0 {
		l.MaxHalfOpenSessionsPerPeer = 2048
	}
	if l.MaxHalfOpenSessions <= 0 {
		l.MaxHalfOpenSessions = 16384
	}
	if l.MaxSessions <= 0 {
		l.MaxSessions = 131072
	}
	if l.MaxSessionsPerTunnel <= 0 || l.MaxSessionsPerTunnel > 65535 {
		l.MaxSessionsPerTunnel = 65535
	}
	return l
}
