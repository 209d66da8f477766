package config

import (
	"net/netip"
)

// Config is a parsed, validated configuration, grouped by feature as the
// IOS commands are. Slices keep the order of first appearance, which is
// also the order `show running-config` prints. The json tags are the
// schema of `show running-config --json`, documented in docs/json.md.
type Config struct {
	Hostname string `json:"hostname"`
	// Services are the IOS service switches that are on (service internal).
	Services []string `json:"services"`

	AAA         AAA           `json:"aaa"` // aaa ..., username
	VPDN        VPDN          `json:"vpdn"`
	Interfaces  []*Interface  `json:"interfaces"`
	L2TP        L2TPConfig    `json:"l2tp"` // l2tp-class, pseudowire-class
	IP          IPConfig      `json:"ip"`   // ip local pool, ip route
	Controllers []*Controller `json:"controllers"`
	// Crypto is the IPsec configuration (crypto isakmp, crypto ipsec,
	// crypto map); AccessLists the access lists crypto maps match.
	Crypto      *Crypto       `json:"crypto,omitempty"`
	AccessLists []*AccessList `json:"access_lists,omitempty"`

	// Metrics is the vpdn extension that serves Prometheus metrics.
	Metrics MetricsConfig `json:"metrics"`
}

// VPDN holds the vpdn commands: vpdn enable, the vpdn-groups, and the vpdn
// extensions that say where and how tunnels are served.
type VPDN struct {
	Enabled bool         `json:"enabled"` // vpdn enable
	Groups  []*VPDNGroup `json:"groups"`
	// L2TPListen is where L2TP is served (vpdn l2tp listen); empty: 0.0.0.0:1701.
	L2TPListen string `json:"l2tp_listen,omitempty"`
	// PPTPListen is the address PPTP is served on (vpdn pptp listen): TCP
	// 1723 and GRE; empty: 0.0.0.0.
	PPTPListen string `json:"pptp_listen,omitempty"`
	// SharedAccess puts every Virtual-Access session on one interface
	// (vpdn virtual-access shared) instead of one TUN each.
	SharedAccess bool `json:"shared_access"`
	// SessionLimit caps the L2TP sessions of the node (IOS vpdn
	// session-limit); 0: the default, 131072.
	SessionLimit int `json:"session_limit,omitempty"`
	// TunnelLimitPerPeer caps the L2TP tunnels one address may open to us
	// (vpdn extension: vpdn tunnel-limit per-peer); 0: the default, 1024.
	TunnelLimitPerPeer int `json:"tunnel_limit_per_peer,omitempty"`
	// PoolStore keeps the leases of every ip local pool in a shared
	// database (vpdn extension: vpdn pool-store).
	PoolStore *PoolStore `json:"pool_store,omitempty"`
}

// PoolStore is where `ip local pool` leases live (vpdn extension): nil or
// an empty DSN, in this process's memory (the default); else in PostgreSQL, shared
// with the other LNS instances that name the same database.
type PoolStore struct {
	// DSN is the PostgreSQL connection string or URL (vpdn pool-store
	// postgres); a secret, since it may carry a password.
	DSN Secret `json:"dsn"`
	// Owner names this instance in its leases (vpdn pool-store owner);
	// empty: the hostname.
	Owner string `json:"owner,omitempty"`
	Line  int    `json:"line"`
}

// L2TPConfig holds the L2TP templates: l2tp-class (control-channel
// parameters) and pseudowire-class (session parameters).
type L2TPConfig struct {
	Classes   []*L2TPClass `json:"classes"`
	PWClasses []*PWClass   `json:"pw_classes"`
}

// IPConfig holds the ip commands vpdn acts on: address pools and static
// routes.
type IPConfig struct {
	Pools  []*Pool  `json:"pools"`  // ip local pool
	Routes []*Route `json:"routes"` // ip route
	// IPv6Pools are `ipv6 local pool NAME PREFIX/LEN ASSIGN-LEN`.
	IPv6Pools []*IPv6Pool `json:"ipv6_pools,omitempty"`
}

// IPv6Pool is `ipv6 local pool NAME PREFIX/LEN ASSIGN-LEN`: each PPP
// session takes one prefix of ASSIGN-LEN bits out of PREFIX, advertised
// to it in Router Advertisements.
type IPv6Pool struct {
	Name      string       `json:"name"`
	Prefix    netip.Prefix `json:"prefix"`
	AssignLen int          `json:"assign_len"`
	Line      int          `json:"line,omitempty"`
}

// IPv6PoolByName returns the IPv6 pool of that name, or nil.
func (c *Config) IPv6PoolByName(name string) *IPv6Pool {
	for _, p := range c.IP.IPv6Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Secret is a password as written: Type 0 is clear text, Type 7 the Cisco
// reversible encoding (decoded by the aaa package when used).
type Secret struct {
	Type  int    `json:"type"`
	Value string `json:"value"`
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
	Name string `json:"name"`
	Line int    `json:"line,omitempty"`

	Accept  *AcceptDialin  `json:"accept,omitempty"`
	Request *RequestDialin `json:"request,omitempty"`

	TerminateFrom string       `json:"terminate_from,omitempty"` // terminate-from hostname H
	LocalName     string       `json:"local_name,omitempty"`     // local name N
	InitiateTo    []InitiateTo `json:"initiate_to"`
	SourceIP      netip.Addr   `json:"source_ip,omitzero"`

	TunnelPassword Secret `json:"tunnel_password,omitzero"`
	// TunnelAuth is nil when not configured (the default: authenticate
	// when a password is set), else the explicit [no] l2tp tunnel authentication.
	TunnelAuth             *bool `json:"tunnel_auth,omitempty"`
	TunnelHello            int   `json:"tunnel_hello,omitempty"`              // l2tp tunnel hello N (seconds), 0 = default
	TunnelRecvWindow       int   `json:"tunnel_recv_window,omitempty"`        // l2tp tunnel receive-window N
	TunnelTimeoutNoSession int   `json:"tunnel_timeout_no_session,omitempty"` // l2tp tunnel timeout no-session N; -1 = never, 0 = default (10)
	SessionTimeoutSetup    int   `json:"session_timeout_setup,omitempty"`     // l2tp session timeout setup N (vpdn extension), 0 = default (30)

	LCPRenegotiation string `json:"lcp_renegotiation,omitempty"` // "", "on-mismatch", "always"
	IPPMTU           bool   `json:"ip_pmtu,omitempty"`

	PPTPRecvWindow int `json:"pptp_recv_window,omitempty"` // pptp flow-control receive-window N
	PPTPStaticRTT  int `json:"pptp_static_rtt,omitempty"`  // pptp flow-control static-rtt N (ms)
	PPTPEcho       int `json:"pptp_echo,omitempty"`        // pptp tunnel echo N (seconds)

	Description string `json:"description,omitempty"`
}

// AcceptDialin is the accept-dialin submode of a vpdn-group.
type AcceptDialin struct {
	Line            int      `json:"line,omitempty"`
	Protocol        Protocol `json:"protocol"`
	VirtualTemplate int      `json:"virtual_template,omitempty"` // 0 when unset
}

// RequestDialin is the request-dialin submode of a vpdn-group.
type RequestDialin struct {
	Protocol   Protocol `json:"protocol"`
	PoolMember int      `json:"pool_member,omitempty"` // for dialer-initiated client tunnels (document 004)
	Domains    []string `json:"domains"`
	DNIS       []string `json:"dnis"`
}

// InitiateTo is `initiate-to ip A [priority N]`.
type InitiateTo struct {
	Addr     netip.Addr `json:"addr"`
	Priority int        `json:"priority,omitempty"` // 0 when unset; 1 is the highest
}

// Interface is `interface NAME`.
type Interface struct {
	Name IfName `json:"name"`
	Line int    `json:"line,omitempty"`

	Description string `json:"description,omitempty"`
	Shutdown    bool   `json:"shutdown"`

	// Address: exactly one of Address, Negotiated, Unnumbered, NoAddress.
	Address    netip.Prefix `json:"address,omitzero"`
	Negotiated bool         `json:"negotiated,omitempty"`
	Unnumbered *IfName      `json:"unnumbered,omitempty"`
	NoAddress  bool         `json:"no_address,omitempty"`
	AddrLine   int          `json:"addr_line,omitempty"`
	// CryptoMap is `crypto map NAME`: traffic leaving through this
	// interface's address is protected by the map.
	CryptoMap     string `json:"crypto_map,omitempty"`
	CryptoMapLine int    `json:"crypto_map_line,omitempty"`
	// EzVPN is `crypto ipsec client ezvpn NAME [outside]` (the interface
	// the remote connects through) or, with EzVPNInside, `... inside` (a
	// network behind the remote).
	EzVPN       string `json:"ezvpn,omitempty"`
	EzVPNInside bool   `json:"ezvpn_inside,omitempty"`
	EzVPNLine   int    `json:"ezvpn_line,omitempty"`
	// IPNat is `ip nat inside|outside`: accepted where it marks an Easy
	// VPN remote's inside network in mode client (vpdn translates it by
	// itself); vpdn has no other NAT.
	IPNat     string `json:"ip_nat,omitempty"`
	IPNatLine int    `json:"ip_nat_line,omitempty"`

	// Peer default address for the remote end (Virtual-Template).
	PeerDefault PeerDefault `json:"peer_default,omitzero"`
	// IPv6 is the interface's IPv6: on a Virtual-Template, IPv6CP and
	// Router Advertisements of its sessions.
	IPv6 IPv6Interface `json:"ipv6,omitzero"`

	Encapsulation string   `json:"encapsulation,omitempty"` // "ppp"
	AutodetectPPP bool     `json:"autodetect_ppp,omitempty"`
	PPPAuth       *PPPAuth `json:"ppp_auth,omitempty"`
	// PPPAcctList is `ppp accounting LIST` ("default" when given as
	// such, "" when not given).
	PPPAcctList  string   `json:"ppp_acct_list,omitempty"`
	CHAPHostname string   `json:"chap_hostname,omitempty"`
	CHAPPassword Secret   `json:"chap_password,omitzero"`
	PPPRefuse    []string `json:"ppp_refuse"`             // ppp {pap|chap|ms-chap|ms-chap-v2|eap} refuse
	MaxBadAuth   int      `json:"max_bad_auth,omitempty"` // ppp max-bad-auth N: retries after a failed authentication
	PAPSentUser  string   `json:"pap_sent_user,omitempty"`
	PAPSentPass  Secret   `json:"pap_sent_pass,omitzero"`
	MPPE         *MPPE    `json:"mppe,omitempty"`
	MTU          int      `json:"mtu,omitempty"`
	TCPAdjustMSS int      `json:"tcp_adjust_mss,omitempty"`
	// VerifyUnicast is `ip verify unicast source reachable-via rx|any`:
	// "rx", "any", "none" (the no form), "" (the default: rx on a
	// Virtual-Template).
	VerifyUnicast string      `json:"verify_unicast,omitempty"`
	KeepaliveSecs int         `json:"keepalive_secs,omitempty"` // keepalive N (LCP echo interval), 0 = default
	KeepaliveSet  bool        `json:"keepalive_set,omitempty"`
	NoCDP         bool        `json:"no_cdp,omitempty"`
	Pseudowire    *Pseudowire `json:"pseudowire,omitempty"`
	Xconnect      *Xconnect   `json:"xconnect,omitempty"`
	Dialer        Dialer      `json:"dialer,omitzero"`
	LinuxDevice   string      `json:"linux_device,omitempty"` // vpdn extension: the host device an IOS-named physical interface maps to
	LinuxTAP      bool        `json:"linux_tap,omitempty"`    // linux-device DEV tap: vpdn creates DEV as a TAP
	Dot1Q         int         `json:"dot1q,omitempty"`        // encapsulation dot1Q VLAN (Ethernet subinterface)
}

// IPv6Interface is an interface's ipv6 commands.
type IPv6Interface struct {
	// Enable is `ipv6 enable`: the sessions negotiate IPv6CP (RFC 5072).
	Enable bool `json:"enable,omitempty"`
	Line   int  `json:"line,omitempty"`
	// RAInterval is `ipv6 nd ra interval S` (0: IOS's 200 s);
	// RALifetime `ipv6 nd ra lifetime S` (nil: IOS's 1800 s);
	// RASuppress `ipv6 nd ra suppress`.
	RAInterval int  `json:"ra_interval,omitempty"`
	RALifetime *int `json:"ra_lifetime,omitempty"`
	RASuppress bool `json:"ra_suppress,omitempty"`
	// Prefix is `ipv6 nd prefix P/L`: advertised to sessions that get
	// no prefix of their own; Valid and Preferred its lifetimes (or,
	// with `ipv6 nd prefix default`, those of every advertised prefix;
	// nil: 30 and 7 days).
	Prefix    netip.Prefix `json:"nd_prefix,omitzero"`
	Valid     *uint32      `json:"nd_valid,omitempty"`
	Preferred *uint32      `json:"nd_preferred,omitempty"`
	// Autoconfig is `ipv6 address autoconfig [default]` on a Virtual-PPP
	// or Dialer (a client): the address from the server's Router
	// Advertisement (SLAAC); AutoconfigDefault also a default route to
	// the server.
	Autoconfig        bool `json:"autoconfig,omitempty"`
	AutoconfigDefault bool `json:"autoconfig_default,omitempty"`
	// PDName is `ipv6 dhcp client pd NAME [rapid-commit]` on a
	// Virtual-PPP or Dialer: ask the server for delegated prefixes
	// (DHCPv6, RFC 8415), known by NAME.
	PDName        string `json:"pd_name,omitempty"`
	PDRapidCommit bool   `json:"pd_rapid_commit,omitempty"`
	// PeerPool is `peer default ipv6 pool NAME`.
	PeerPool     string `json:"peer_pool,omitempty"`
	PeerPoolLine int    `json:"peer_pool_line,omitempty"`
}

// PeerDefault is `[no] peer default ip address {pool NAME | dhcp | A}`.
type PeerDefault struct {
	Line int    `json:"line,omitempty"`
	Set  bool   `json:"set,omitempty"`
	None bool   `json:"none,omitempty"` // "no peer default ip address"
	Pool string `json:"pool,omitempty"`
	// PoolDefault is `pool` without a name (the default pool).
	PoolDefault bool       `json:"pool_default,omitempty"`
	DHCP        bool       `json:"dhcp,omitempty"`
	Addr        netip.Addr `json:"addr,omitzero"`
}

// PPPAuth is `ppp authentication P1 [P2 ...] [if-needed] [LIST|default] [callin] [one-time] [optional]`.
type PPPAuth struct {
	Line      int      `json:"line,omitempty"`
	Protocols []string `json:"protocols"` // pap, chap, ms-chap, ms-chap-v2, eap — in order of preference
	IfNeeded  bool     `json:"if_needed,omitempty"`
	List      string   `json:"list,omitempty"` // "" when not given; "default" when given as such
	Callin    bool     `json:"callin,omitempty"`
	OneTime   bool     `json:"one_time,omitempty"`
	Optional  bool     `json:"optional,omitempty"`
}

// MPPE is `ppp encrypt mppe {auto|40|128} [passive|required] [stateful]`.
type MPPE struct {
	Bits     string `json:"bits"` // "auto", "40", "128"
	Passive  bool   `json:"passive,omitempty"`
	Required bool   `json:"required,omitempty"`
	Stateful bool   `json:"stateful,omitempty"`
}

// Pseudowire is `pseudowire A VCID pw-class NAME [sequencing ...]` on a Virtual-PPP.
type Pseudowire struct {
	Line       int        `json:"line,omitempty"`
	Peer       netip.Addr `json:"peer"`
	VCID       uint32     `json:"vcid"`
	PWClass    string     `json:"pw_class,omitempty"`
	Sequencing string     `json:"sequencing,omitempty"` // "", "transmit", "receive", "both"
}

// Xconnect is `xconnect A VCID encapsulation l2tpv3 [manual] pw-class NAME`
// with its L2TPv3 manual-session submode.
type Xconnect struct {
	Peer          netip.Addr `json:"peer"`
	VCID          uint32     `json:"vcid"`
	Manual        bool       `json:"manual,omitempty"`
	PWClass       string     `json:"pw_class,omitempty"`
	LocalSession  uint32     `json:"local_session,omitempty"` // l2tp id LOCAL REMOTE
	RemoteSession uint32     `json:"remote_session,omitempty"`
	LocalCookie   *Cookie    `json:"local_cookie,omitempty"`
	RemoteCookie  *Cookie    `json:"remote_cookie,omitempty"`
	HelloClass    string     `json:"hello_class,omitempty"` // l2tp hello CLASS
}

// Cookie is an L2TPv3 cookie: 4 or 8 bytes.
type Cookie struct {
	Size int    `json:"size"`
	Low  uint32 `json:"low"`
	High uint32 `json:"high,omitempty"`
}

// Dialer holds the `dialer ...` commands of a Dialer interface.
type Dialer struct {
	PoolLine    int      `json:"pool_line,omitempty"`
	Pool        int      `json:"pool,omitempty"`
	IdleTimeout *int     `json:"idle_timeout,omitempty"`
	Strings     []string `json:"strings"`
	VPDN        bool     `json:"vpdn,omitempty"`
	Group       int      `json:"group,omitempty"` // dialer-group N
}

// L2TPClass is `l2tp-class NAME`.
type L2TPClass struct {
	Name string `json:"name"`
	Line int    `json:"line,omitempty"`

	ReceiveWindow     int    `json:"receive_window,omitempty"`
	RetransInitial    int    `json:"retrans_initial,omitempty"` // retransmit initial retries N
	RetransRetries    int    `json:"retrans_retries,omitempty"` // retransmit retries N
	RetransTimeoutMax int    `json:"retrans_timeout_max,omitempty"`
	RetransTimeoutMin int    `json:"retrans_timeout_min,omitempty"`
	TimeoutSetup      int    `json:"timeout_setup,omitempty"`
	Authentication    bool   `json:"authentication"`
	Hostname          string `json:"hostname,omitempty"`
	Hidden            bool   `json:"hidden"`
	Password          Secret `json:"password,omitzero"`
	Hello             int    `json:"hello,omitempty"`
	DigestSecret      Secret `json:"digest_secret,omitzero"` // digest secret (L2TPv3)
	DigestHash        string `json:"digest_hash,omitempty"`  // "", "md5", "sha"
	NoDigestCheck     bool   `json:"no_digest_check,omitempty"`
	// CookieSize is `cookie size {0|4|8}`: the octets of the random
	// cookie assigned to dynamic sessions (nil: 4, as IOS).
	CookieSize *int `json:"cookie_size,omitempty"`
}

// PWClass is `pseudowire-class NAME`.
type PWClass struct {
	Name string `json:"name"`
	Line int    `json:"line,omitempty"`

	Encapsulation string  `json:"encapsulation,omitempty"` // "l2tpv2", "l2tpv3"
	ProtocolLine  int     `json:"protocol_line,omitempty"`
	Protocol      string  `json:"protocol,omitempty"` // "l2tpv2", "l2tpv3", "none"
	L2TPClass     string  `json:"l2tp_class,omitempty"`
	LocalIf       *IfName `json:"local_if,omitempty"`
	IPPMTU        bool    `json:"ip_pmtu,omitempty"`
	TOSValue      *int    `json:"tos_value,omitempty"` // ip tos value N; nil when unset
	TOSReflect    bool    `json:"tos_reflect,omitempty"`
	DFBitSet      bool    `json:"df_bit_set,omitempty"`
	TTL           int     `json:"ttl,omitempty"`
	Sequencing    string  `json:"sequencing,omitempty"`
	IPProtocol    string  `json:"ip_protocol,omitempty"` // "", "l2tp" (IP/115), "udp"
}

// Pool is `ip local pool NAME START [END]`, with one range per command.
type Pool struct {
	Name   string      `json:"name"`
	Line   int         `json:"line,omitempty"`
	Ranges []PoolRange `json:"ranges"`
}

// PoolRange is one START..END range of a pool.
type PoolRange struct {
	Start netip.Addr `json:"start"`
	End   netip.Addr `json:"end"`
	Line  int        `json:"line,omitempty"`
}

// User is `username U password [0|7] P`.
type User struct {
	Name      string `json:"name"`
	Line      int    `json:"line,omitempty"`
	Password  Secret `json:"password,omitzero"`
	Privilege int    `json:"privilege,omitempty"`
	// AttrList names the `aaa attribute list` authorizing this user
	// (`username NAME aaa attribute list LIST`).
	AttrList     string `json:"attr_list,omitempty"`
	AttrListLine int    `json:"attr_list_line,omitempty"`
}

// AttrList is `aaa attribute list NAME`: authorization attributes for local
// users and domains (address, pool, DNS, routes, timeouts).
type AttrList struct {
	Name           string         `json:"name"`
	Line           int            `json:"line,omitempty"`
	Addr           netip.Addr     `json:"addr,omitzero"`
	Pool           string         `json:"pool,omitempty"`
	PrimaryDNS     netip.Addr     `json:"primary_dns,omitzero"`
	SecondaryDNS   netip.Addr     `json:"secondary_dns,omitzero"`
	Routes         []netip.Prefix `json:"routes"`
	SessionTimeout int            `json:"session_timeout,omitempty"`
	IdleTimeout    int            `json:"idle_timeout,omitempty"`
}

// Domain is the vpdn extension `aaa domain NAME attribute list LIST`:
// users whose name ends in @NAME are authorized with the list (document
// 002: a pool per department).
type Domain struct {
	Name     string `json:"name"`
	AttrList string `json:"attr_list,omitempty"`
	Line     int    `json:"line,omitempty"`
}

// AAA holds the aaa commands and the local user database.
type AAA struct {
	NewModel       bool         `json:"new_model"`
	Authentication []MethodList `json:"authentication"`  // aaa authentication ppp LIST METHODS...
	Authorization  []MethodList `json:"authorization"`   // aaa authorization network LIST METHODS...
	Login          []MethodList `json:"login,omitempty"` // aaa authentication login LIST METHODS... (XAuth)
	Accounting     []MethodList `json:"accounting"`      // aaa accounting network LIST start-stop METHODS...
	Users          []*User      `json:"users"`           // username
	AttrLists      []*AttrList  `json:"attr_lists"`      // aaa attribute list
	Domains        []*Domain    `json:"domains"`         // aaa domain (vpdn extension)
	// DomainStripping looks local users up without their @domain
	// (aaa domain-stripping); Delimiter is the separator, default "@".
	DomainStripping bool   `json:"domain_stripping"`
	Delimiter       string `json:"delimiter,omitempty"`
	// LocalMaxFail is `aaa local authentication attempts max-fail N`:
	// consecutive failures that lock a local user out; 0 for none.
	LocalMaxFail int `json:"local_max_fail,omitempty"`
	// RADIUS is the RADIUS client (radius server, radius-server, aaa
	// group server radius, ip radius source-interface); nil if none.
	RADIUS *RADIUS `json:"radius,omitempty"`
	// SystemAccounting is `aaa accounting system default start-stop group
	// G` (one list at most, named default): Accounting-On and -Off.
	SystemAccounting []MethodList `json:"system_accounting,omitempty"`
}

// MethodList is an AAA method list: `aaa authentication ppp default local none`.
type MethodList struct {
	Service string   `json:"service"` // "ppp", "network"
	Name    string   `json:"name"`    // "default" or a list name
	Methods []string `json:"methods"`
	Record  string   `json:"record,omitempty"` // accounting: "start-stop", "stop-only", "none"
	Line    int      `json:"line,omitempty"`
}

// Route is `ip route PREFIX MASK {NEXTHOP | IF [NEXTHOP]} [DISTANCE]`.
type Route struct {
	Prefix   netip.Prefix `json:"prefix"`
	Iface    *IfName      `json:"iface,omitempty"`
	NextHop  netip.Addr   `json:"next_hop,omitzero"`
	Distance int          `json:"distance,omitempty"`
	Line     int          `json:"line,omitempty"`
}

// MetricsConfig is the vpdn extension `vpdn metrics listen ADDR:PORT`.
type MetricsConfig struct {
	Listen string `json:"listen,omitempty"`
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
	Name           string `json:"name"` // "ISA 5/0"
	Line           int    `json:"line,omitempty"`
	EncryptionMPPE bool   `json:"encryption_mppe"`
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
