package config

import (
	"net/netip"
)

// Config is a parsed, validated configuration, grouped by feature as the
// IOS commands are. Slices keep the order of first appearance, which is
// also the order `show running-config` prints.
type Config struct {
	Hostname string
	// Services are the IOS service switches that are on (service internal).
	Services []string

	AAA         AAA // aaa ..., username
	VPDN        VPDN
	Interfaces  []*Interface
	L2TP        L2TPConfig // l2tp-class, pseudowire-class
	IP          IPConfig   // ip local pool, ip route
	Controllers []*Controller

	// Metrics is the vpdn extension that serves Prometheus metrics.
	Metrics MetricsConfig
}

// VPDN holds the vpdn commands: vpdn enable, the vpdn-groups, and the vpdn
// extensions that say where and how tunnels are served.
type VPDN struct {
	Enabled bool // vpdn enable
	Groups  []*VPDNGroup
	// L2TPListen is where L2TP is served (vpdn l2tp listen); empty: 0.0.0.0:1701.
	L2TPListen string
	// SharedAccess puts every Virtual-Access session on one interface
	// (vpdn virtual-access shared) instead of one TUN each.
	SharedAccess bool
}

// L2TPConfig holds the L2TP templates: l2tp-class (control-channel
// parameters) and pseudowire-class (session parameters).
type L2TPConfig struct {
	Classes   []*L2TPClass
	PWClasses []*PWClass
}

// IPConfig holds the ip commands vpdn acts on: address pools and static
// routes.
type IPConfig struct {
	Pools  []*Pool  // ip local pool
	Routes []*Route // ip route
}

// Secret is a password as written: Type 0 is clear text, Type 7 the Cisco
// reversible encoding (decoded by the aaa package when used).
type Secret struct {
	Type  int
	Value string
}

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.Value == "" }

// Protocol is a tunnel protocol keyword of `protocol`.
type Protocol string

const (
	ProtoL2TP   Protocol = "l2tp"
	ProtoPPTP   Protocol = "pptp"
	ProtoL2TPv3 Protocol = "l2tpv3"
	ProtoL2F    Protocol = "l2f"
	ProtoAny    Protocol = "any"
)

// VPDNGroup is `vpdn-group NAME`.
type VPDNGroup struct {
	Name string
	Line int

	Accept  *AcceptDialin
	Request *RequestDialin

	TerminateFrom string // terminate-from hostname H
	LocalName     string // local name N
	InitiateTo    []InitiateTo
	SourceIP      netip.Addr

	TunnelPassword Secret
	// TunnelAuth is nil when not configured (the default: authenticate
	// when a password is set), else the explicit [no] l2tp tunnel authentication.
	TunnelAuth             *bool
	TunnelHello            int // l2tp tunnel hello N (seconds), 0 = default
	TunnelRecvWindow       int // l2tp tunnel receive-window N
	TunnelTimeoutNoSession int // l2tp tunnel timeout no-session N

	LCPRenegotiation string // "", "on-mismatch", "always"
	IPPMTU           bool

	PPTPRecvWindow int // pptp flow-control receive-window N
	PPTPStaticRTT  int // pptp flow-control static-rtt N (ms)
	PPTPEcho       int // pptp tunnel echo N (seconds)

	Description string
}

// AcceptDialin is the accept-dialin submode of a vpdn-group.
type AcceptDialin struct {
	Line            int
	Protocol        Protocol
	VirtualTemplate int // 0 when unset
}

// RequestDialin is the request-dialin submode of a vpdn-group.
type RequestDialin struct {
	Protocol   Protocol
	PoolMember int // for dialer-initiated client tunnels (document 004)
	Domains    []string
	DNIS       []string
}

// InitiateTo is `initiate-to ip A [priority N]`.
type InitiateTo struct {
	Addr     netip.Addr
	Priority int // 0 when unset; 1 is the highest
}

// Interface is `interface NAME`.
type Interface struct {
	Name IfName
	Line int

	Description string
	Shutdown    bool

	// Address: exactly one of Address, Negotiated, Unnumbered, NoAddress.
	Address    netip.Prefix
	Negotiated bool
	Unnumbered *IfName
	NoAddress  bool
	AddrLine   int

	// Peer default address for the remote end (Virtual-Template).
	PeerDefault PeerDefault

	Encapsulation string // "ppp"
	AutodetectPPP bool
	PPPAuth       *PPPAuth
	CHAPHostname  string
	CHAPPassword  Secret
	PPPRefuse     []string // ppp {pap|chap|ms-chap|ms-chap-v2|eap} refuse
	PAPSentUser   string
	PAPSentPass   Secret
	MPPE          *MPPE
	MTU           int
	TCPAdjustMSS  int
	KeepaliveSecs int // keepalive N (LCP echo interval), 0 = default
	KeepaliveSet  bool
	NoCDP         bool
	Pseudowire    *Pseudowire
	Xconnect      *Xconnect
	Dialer        Dialer
	LinuxDevice   string // vpdn extension: the host device an IOS-named physical interface maps to
}

// PeerDefault is `[no] peer default ip address {pool NAME | dhcp | A}`.
type PeerDefault struct {
	Line int
	Set  bool
	None bool // "no peer default ip address"
	Pool string
	// PoolDefault is `pool` without a name (the default pool).
	PoolDefault bool
	DHCP        bool
	Addr        netip.Addr
}

// PPPAuth is `ppp authentication P1 [P2 ...] [if-needed] [LIST|default] [callin] [one-time] [optional]`.
type PPPAuth struct {
	Line      int
	Protocols []string // pap, chap, ms-chap, ms-chap-v2, eap — in order of preference
	IfNeeded  bool
	List      string // "" when not given; "default" when given as such
	Callin    bool
	OneTime   bool
	Optional  bool
}

// MPPE is `ppp encrypt mppe {auto|40|128} [passive|required] [stateful]`.
type MPPE struct {
	Bits     string // "auto", "40", "128"
	Passive  bool
	Required bool
	Stateful bool
}

// Pseudowire is `pseudowire A VCID pw-class NAME [sequencing ...]` on a Virtual-PPP.
type Pseudowire struct {
	Line       int
	Peer       netip.Addr
	VCID       uint32
	PWClass    string
	Sequencing string // "", "transmit", "receive", "both"
}

// Xconnect is `xconnect A VCID encapsulation l2tpv3 [manual] pw-class NAME`
// with its L2TPv3 manual-session submode.
type Xconnect struct {
	Peer          netip.Addr
	VCID          uint32
	Manual        bool
	PWClass       string
	LocalSession  uint32 // l2tp id LOCAL REMOTE
	RemoteSession uint32
	LocalCookie   *Cookie
	RemoteCookie  *Cookie
	HelloClass    string // l2tp hello CLASS
}

// Cookie is an L2TPv3 cookie: 4 or 8 bytes.
type Cookie struct {
	Size int
	Low  uint32
	High uint32
}

// Dialer holds the `dialer ...` commands of a Dialer interface.
type Dialer struct {
	PoolLine    int
	Pool        int
	IdleTimeout *int
	Strings     []string
	VPDN        bool
	Group       int // dialer-group N
}

// L2TPClass is `l2tp-class NAME`.
type L2TPClass struct {
	Name string
	Line int

	ReceiveWindow     int
	RetransInitial    int // retransmit initial retries N
	RetransRetries    int // retransmit retries N
	RetransTimeoutMax int
	RetransTimeoutMin int
	TimeoutSetup      int
	Authentication    bool
	Hostname          string
	Hidden            bool
	Password          Secret
	Hello             int
	DigestSecret      Secret // digest secret (L2TPv3)
}

// PWClass is `pseudowire-class NAME`.
type PWClass struct {
	Name string
	Line int

	Encapsulation string // "l2tpv2", "l2tpv3"
	ProtocolLine  int
	Protocol      string // "l2tpv2", "l2tpv3", "none"
	L2TPClass     string
	LocalIf       *IfName
	IPPMTU        bool
	TOSValue      int // -1 unset
	TOSReflect    bool
	DFBitSet      bool
	TTL           int
	Sequencing    string
}

// Pool is `ip local pool NAME START [END]`, with one range per command.
type Pool struct {
	Name   string
	Line   int
	Ranges []PoolRange
}

// PoolRange is one START..END range of a pool.
type PoolRange struct {
	Start, End netip.Addr
	Line       int
}

// User is `username U password [0|7] P`.
type User struct {
	Name      string
	Line      int
	Password  Secret
	Privilege int
	// AttrList names the `aaa attribute list` authorizing this user
	// (`username NAME aaa attribute list LIST`).
	AttrList     string
	AttrListLine int
}

// AttrList is `aaa attribute list NAME`: authorization attributes for local
// users and domains (address, pool, DNS, routes, timeouts).
type AttrList struct {
	Name           string
	Line           int
	Addr           netip.Addr
	Pool           string
	PrimaryDNS     netip.Addr
	SecondaryDNS   netip.Addr
	Routes         []netip.Prefix
	SessionTimeout int
	IdleTimeout    int
}

// Domain is the vpdn extension `aaa domain NAME attribute list LIST`:
// users whose name ends in @NAME are authorized with the list (document
// 002: a pool per department).
type Domain struct {
	Name     string
	AttrList string
	Line     int
}

// AAA holds the aaa commands and the local user database.
type AAA struct {
	NewModel       bool
	Authentication []MethodList // aaa authentication ppp LIST METHODS...
	Authorization  []MethodList // aaa authorization network LIST METHODS...
	Accounting     []MethodList // aaa accounting network LIST start-stop METHODS...
	Users          []*User      // username
	AttrLists      []*AttrList  // aaa attribute list
	Domains        []*Domain    // aaa domain (vpdn extension)
	// DomainStripping looks local users up without their @domain
	// (aaa domain-stripping); Delimiter is the separator, default "@".
	DomainStripping bool
	Delimiter       string
}

// MethodList is an AAA method list: `aaa authentication ppp default local none`.
type MethodList struct {
	Service string // "ppp", "network"
	Name    string // "default" or a list name
	Methods []string
	Record  string // accounting: "start-stop", "stop-only", "none"
	Line    int
}

// Route is `ip route PREFIX MASK {NEXTHOP | IF [NEXTHOP]} [DISTANCE]`.
type Route struct {
	Prefix   netip.Prefix
	Iface    *IfName
	NextHop  netip.Addr
	Distance int
	Line     int
}

// MetricsConfig is the vpdn extension `vpdn metrics listen ADDR:PORT`.
type MetricsConfig struct {
	Listen string
}

// Group returns the vpdn-group named name.
func (c *Config) Group(name string) *VPDNGroup {
	for _, g := range c.VPDN.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Interface returns the interface with the given canonical name.
func (c *Config) Interface(n IfName) *Interface {
	for _, i := range c.Interfaces {
		if i.Name == n {
			return i
		}
	}
	return nil
}

// L2TPClassByName returns the l2tp-class named name.
func (c *Config) L2TPClassByName(name string) *L2TPClass {
	for _, x := range c.L2TP.Classes {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// PWClassByName returns the pseudowire-class named name.
func (c *Config) PWClassByName(name string) *PWClass {
	for _, x := range c.L2TP.PWClasses {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// PoolByName returns the ip local pool named name.
func (c *Config) PoolByName(name string) *Pool {
	for _, p := range c.IP.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// User returns the username entry named name.
func (c *Config) User(name string) *User {
	for _, u := range c.AAA.Users {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// Controller is `controller ISA SLOT/PORT` with `encryption mppe`: the
// document's hardware MPPE offload. vpdn encrypts in software; the
// section is kept so configurations carry over, and flagged by a warning.
type Controller struct {
	Name           string // "ISA 5/0"
	Line           int
	EncryptionMPPE bool
}

// AttrListByName returns the aaa attribute list named name.
func (c *Config) AttrListByName(name string) *AttrList {
	for _, l := range c.AAA.AttrLists {
		if l.Name == name {
			return l
		}
	}
	return nil
}
