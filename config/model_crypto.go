package config

import (
	"net/netip"
	"strconv"
)

// Crypto holds the IPsec configuration of crypto maps: IKE phase-1
// policies and keys, transform sets, IPsec profiles and the crypto maps
// themselves. It is nil when the configuration has none.
type Crypto struct {
	// Policies are `crypto isakmp policy N` sections, in priority order.
	Policies []*ISAKMPPolicy `json:"policies"`
	// Keys are `crypto isakmp key K address A [MASK]`.
	Keys []*ISAKMPKey `json:"keys"`
	// Keepalive is `crypto isakmp keepalive S [R] [periodic|on-demand]`
	// (dead peer detection, RFC 3706); nil: off.
	Keepalive *ISAKMPKeepalive `json:"keepalive,omitempty"`
	// NATKeepalive is `crypto isakmp nat keepalive S` in seconds (RFC
	// 3948 §4); 0: vpdn's default, 20.
	NATKeepalive int `json:"nat_keepalive,omitempty"`
	// AggressiveMode is "" (vpdn's default: aggressive mode is neither
	// offered nor accepted), "disable" (`crypto isakmp aggressive-mode
	// disable`, the same, as IOS writes it) or "enable" (`no crypto
	// isakmp aggressive-mode disable`: peers may use it).
	AggressiveMode string `json:"aggressive_mode,omitempty"`
	// Identity is `crypto isakmp identity dn` ("dn"); "" is the
	// address (IOS's default).
	Identity string `json:"identity,omitempty"`
	// TransformSets are `crypto ipsec transform-set NAME ...`.
	TransformSets []*TransformSet `json:"transform_sets"`
	// SALifetime is `crypto ipsec security-association lifetime`.
	SALifetime Lifetime `json:"sa_lifetime,omitzero"`
	// Profiles are `crypto ipsec profile NAME` (used by crypto map
	// entries through `set profile`).
	Profiles []*IPsecProfile `json:"profiles"`
	// Maps are `crypto map NAME SEQ` entries, DynamicMaps `crypto
	// dynamic-map NAME SEQ` entries, in configuration order.
	Maps        []*CryptoMapEntry `json:"maps"`
	DynamicMaps []*CryptoMapEntry `json:"dynamic_maps"`
	// ClientGroups are `crypto isakmp client configuration group NAME`
	// (Easy VPN server: what mode-config hands the group's clients).
	ClientGroups []*ClientGroup `json:"client_groups,omitempty"`
	// MapClients are the Easy VPN server settings of crypto maps, one per
	// map name.
	MapClients []*CryptoMapClient `json:"map_clients,omitempty"`
	// XAuthTimeout is `crypto isakmp xauth timeout S` (0: 60 s).
	XAuthTimeout int `json:"xauth_timeout,omitempty"`
	// LocalAddresses are `crypto map NAME local-address IF`: the
	// interface whose address a map's IKE and ESP use.
	LocalAddresses []*CryptoMapLocal `json:"local_addresses,omitempty"`
	// EzVPNClients are `crypto ipsec client ezvpn NAME` (the Easy VPN
	// remote), applied to interfaces by `crypto ipsec client ezvpn NAME
	// [outside|inside]`.
	EzVPNClients []*EzVPNClient `json:"ezvpn_clients,omitempty"`
	// Keyrings are `crypto keyring NAME`, ISAKMPProfiles `crypto isakmp
	// profile NAME`, MapProfiles `crypto map NAME isakmp-profile P`.
	Keyrings       []*Keyring          `json:"keyrings,omitempty"`
	ISAKMPProfiles []*ISAKMPProfile    `json:"isakmp_profiles,omitempty"`
	MapProfiles    []*CryptoMapProfile `json:"map_profiles,omitempty"`
	// Trustpoints are `crypto pki trustpoint NAME` with their
	// certificate chains; RSAKeys `crypto key import rsa LABEL`.
	Trustpoints []*Trustpoint   `json:"trustpoints,omitempty"`
	RSAKeys     []*RSAKeyImport `json:"rsa_keys,omitempty"`
}

// ClientGroup is `crypto isakmp client configuration group NAME`: the
// group's pre-shared key (aggressive mode with the group name as ID, as
// Cisco clients connect) and what mode-config gives its clients.
type ClientGroup struct {
	Name         string       `json:"name"`
	Line         int          `json:"line,omitempty"`
	Key          Secret       `json:"key,omitzero"`
	Pool         string       `json:"pool,omitempty"`
	DNS          []netip.Addr `json:"dns,omitempty"`  // at most 2
	WINS         []netip.Addr `json:"wins,omitempty"` // at most 2
	Domain       string       `json:"domain,omitempty"`
	ACL          string       `json:"acl,omitempty"` // split include: the ACL's permit sources
	SavePassword bool         `json:"save_password,omitempty"`
	Banner       string       `json:"banner,omitempty"`
	MaxUsers     int          `json:"max_users,omitempty"`
}

// CryptoMapClient is a crypto map's Easy VPN server settings: `crypto map
// NAME client authentication list L` (XAuth), `crypto map NAME isakmp
// authorization list L` (group lookup) and `crypto map NAME client
// configuration address respond|initiate` (mode-config).
type CryptoMapClient struct {
	Map         string `json:"map"`
	AuthList    string `json:"authentication_list,omitempty"`
	AuthLine    int    `json:"authentication_line,omitempty"`
	AuthorList  string `json:"authorization_list,omitempty"`
	AuthorLine  int    `json:"authorization_line,omitempty"`
	Address     string `json:"address,omitempty"` // respond, initiate
	AddressLine int    `json:"address_line,omitempty"`
}

// ClientGroupByName returns the client configuration group name, or nil.
func (c *Crypto) ClientGroupByName(name string) *ClientGroup {
	for _, g := range c.ClientGroups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// MapClient returns the Easy VPN settings of crypto map name, or nil.
func (c *Crypto) MapClient(name string) *CryptoMapClient {
	if c == nil {
		return nil
	}
	for _, m := range c.MapClients {
		if m.Map == name {
			return m
		}
	}
	return nil
}

func (c *Crypto) mapClient(name string) *CryptoMapClient {
	if m := c.MapClient(name); m != nil {
		return m
	}
	m := &CryptoMapClient{Map: name}
	c.MapClients = append(c.MapClients, m)
	return m
}

// CryptoMapLocal is `crypto map NAME local-address IF`.
type CryptoMapLocal struct {
	Map       string `json:"map"`
	Interface IfName `json:"interface"`
	Line      int    `json:"line,omitempty"`
}

// LocalAddress returns the interface of `crypto map NAME local-address`,
// nil when the map has none.
func (c *Crypto) LocalAddress(name string) *IfName {
	if c == nil {
		return nil
	}
	for _, l := range c.LocalAddresses {
		if l.Map == name {
			return &l.Interface
		}
	}
	return nil
}

// ISAKMPPolicy is `crypto isakmp policy N`. Empty fields are the
// defaults: vpdn's are 3des (IOS's DES is refused), sha, group 2 (IOS's
// group 1 is refused) and 86400 s; authentication has no default vpdn
// supports (IOS's is rsa-sig) and must be pre-share.
type ISAKMPPolicy struct {
	Priority   int    `json:"priority"`
	Line       int    `json:"line,omitempty"`
	Encryption string `json:"encryption,omitempty"` // 3des, aes
	KeyBits    int    `json:"key_bits,omitempty"`   // aes: 128, 192, 256
	Hash       string `json:"hash,omitempty"`       // md5, sha, sha256, sha384
	Auth       string `json:"authentication,omitempty"`
	Group      int    `json:"group,omitempty"`
	Lifetime   int    `json:"lifetime,omitempty"` // seconds
}

// ISAKMPKey is `crypto isakmp key K address A [MASK] [no-xauth]`: the
// pre-shared key for the peers in A/MASK (A alone: that host).
type ISAKMPKey struct {
	Key     Secret     `json:"key"`
	Addr    netip.Addr `json:"addr"`
	Mask    netip.Addr `json:"mask,omitzero"`
	NoXAuth bool       `json:"no_xauth,omitempty"`
	Line    int        `json:"line,omitempty"`
}

// Prefix is the peers the key is for.
func (k *ISAKMPKey) Prefix() netip.Prefix {
	if !k.Mask.IsValid() {
		return netip.PrefixFrom(k.Addr, 32)
	}
	bits, _ := maskBits(k.Mask)
	return netip.PrefixFrom(k.Addr, bits).Masked()
}

// ISAKMPKeepalive is `crypto isakmp keepalive S [R] [periodic|on-demand]`.
type ISAKMPKeepalive struct {
	Seconds int    `json:"seconds"`
	Retry   int    `json:"retry,omitempty"` // 0: IOS's default, 2
	Mode    string `json:"mode,omitempty"`  // periodic, on-demand ("": on-demand)
	Line    int    `json:"line,omitempty"`
}

// TransformSet is `crypto ipsec transform-set NAME ESP [BITS] [AUTH]`
// with its `mode`.
type TransformSet struct {
	Name      string `json:"name"`
	Line      int    `json:"line,omitempty"`
	ESP       string `json:"esp"`                // esp-aes, esp-gcm, esp-3des
	KeyBits   int    `json:"key_bits,omitempty"` // esp-aes, esp-gcm: 128 (default), 192, 256
	Auth      string `json:"auth,omitempty"`     // esp-sha-hmac, esp-md5-hmac, esp-sha256-hmac ("" for esp-gcm)
	Transport bool   `json:"transport,omitempty"`
}

// Transforms is the transform set as IOS prints it in show crypto ipsec
// sa: "esp-256-aes esp-md5-hmac".
func (t *TransformSet) Transforms() string {
	s := t.ESP
	switch t.ESP {
	case "esp-aes", "esp-gcm":
		bits := t.KeyBits
		if bits == 0 {
			bits = 128
		}
		s = "esp-" + strconv.Itoa(bits) + t.ESP[3:]
		if t.ESP == "esp-aes" && t.KeyBits == 0 {
			s = "esp-aes"
		}
	}
	if t.Auth != "" {
		s += " " + t.Auth
	}
	return s
}

// Lifetime is a `security-association lifetime`: seconds and kilobytes,
// 0 for the default (IOS: 3600 s, 4608000 KB).
type Lifetime struct {
	Seconds   int   `json:"seconds,omitempty"`
	Kilobytes int64 `json:"kilobytes,omitempty"`
}

// IPsecProfile is `crypto ipsec profile NAME`.
type IPsecProfile struct {
	Name          string   `json:"name"`
	Line          int      `json:"line,omitempty"`
	TransformSets []string `json:"transform_sets"`
	Lifetime      Lifetime `json:"lifetime,omitzero"`
	PFS           int      `json:"pfs,omitempty"`
	ReverseRoute  string   `json:"reverse_route,omitempty"` // "dynamic" (reverse-route), "static"
	RRDistance    int      `json:"rr_distance,omitempty"`
	// ISAKMPProfile is `set isakmp-profile P`.
	ISAKMPProfile string `json:"isakmp_profile,omitempty"`
}

// CryptoMapEntry is one entry of a crypto map (`crypto map NAME SEQ
// ipsec-isakmp`) or of a dynamic map (`crypto dynamic-map NAME SEQ`).
type CryptoMapEntry struct {
	Name string `json:"name"`
	Seq  int    `json:"seq"`
	Line int    `json:"line,omitempty"`
	// Dynamic names the dynamic map this entry stands for (`crypto map
	// NAME SEQ ipsec-isakmp dynamic DYN`); the entry has nothing else.
	Dynamic       string       `json:"dynamic,omitempty"`
	Description   string       `json:"description,omitempty"`
	Peers         []netip.Addr `json:"peers"`
	TransformSets []string     `json:"transform_sets"`
	MatchACL      string       `json:"match_address,omitempty"`
	MatchLine     int          `json:"match_line,omitempty"`
	PFS           int          `json:"pfs,omitempty"` // DH group of `set pfs`
	Lifetime      Lifetime     `json:"lifetime,omitzero"`
	// ReverseRoute is "dynamic" (`reverse-route`) or "static"
	// (`reverse-route static`).
	ReverseRoute string `json:"reverse_route,omitempty"`
	RRDistance   int    `json:"rr_distance,omitempty"`
	// Profile is `set profile NAME` (document 004's dynamic map): the
	// entry takes the IPsec profile's settings for what it leaves unset.
	Profile string `json:"profile,omitempty"`
	// ISAKMPProfile is `set isakmp-profile P`: the entry's peers use that
	// profile, and a quick mode from a phase-1 SA of another profile does
	// not match the entry.
	ISAKMPProfile string `json:"isakmp_profile,omitempty"`
}

// AccessList is `ip access-list extended NAME` or the numbered `access-list
// N` lines (N 100-199, 2000-2699): a crypto ACL.
type AccessList struct {
	Name     string `json:"name"`
	Numbered bool   `json:"numbered,omitempty"`
	Line     int    `json:"line,omitempty"`
	Entries  []*ACE `json:"entries"`
}

// ACE is one line of an access list: `permit|deny PROTO SRC [eq P]
// DST [eq P] [log]`, or a remark.
type ACE struct {
	Remark  string  `json:"remark,omitempty"`
	Permit  bool    `json:"permit"`
	Proto   int     `json:"proto"` // 0: ip (any protocol)
	Src     ACLAddr `json:"src"`
	SrcPort int     `json:"src_port,omitempty"`
	Dst     ACLAddr `json:"dst"`
	DstPort int     `json:"dst_port,omitempty"`
	Log     bool    `json:"log,omitempty"`
	Line    int     `json:"line,omitempty"`
}

// ACLAddr is an ACL address: any, host A, or A with a wildcard mask.
type ACLAddr struct {
	Any      bool       `json:"any,omitempty"`
	Addr     netip.Addr `json:"addr,omitzero"`
	Wildcard netip.Addr `json:"wildcard,omitzero"` // invalid: host
}

// Prefix returns the address as a prefix; ok is false for a wildcard that
// is not the complement of a contiguous mask.
func (a ACLAddr) Prefix() (netip.Prefix, bool) {
	if a.Any {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	if !a.Wildcard.IsValid() {
		return netip.PrefixFrom(a.Addr, 32), true
	}
	w := a.Wildcard.As4()
	m := netip.AddrFrom4([4]byte{^w[0], ^w[1], ^w[2], ^w[3]})
	bits, ok := maskBits(m)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Addr, bits).Masked(), true
}

// CryptoConfig returns the crypto section, creating it.
func (c *Config) CryptoConfig() *Crypto {
	if c.Crypto == nil {
		c.Crypto = &Crypto{}
	}
	return c.Crypto
}

// TransformSetByName returns the named transform set, or nil.
func (c *Crypto) TransformSetByName(name string) *TransformSet {
	for _, t := range c.TransformSets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// ProfileByName returns the named IPsec profile, or nil.
func (c *Crypto) ProfileByName(name string) *IPsecProfile {
	for _, p := range c.Profiles {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// MapEntries returns the entries of crypto map name (dynamic: of the
// dynamic map), in sequence order.
func (c *Crypto) MapEntries(name string, dynamic bool) []*CryptoMapEntry {
	list := c.Maps
	if dynamic {
		list = c.DynamicMaps
	}
	var out []*CryptoMapEntry
	for _, e := range list {
		if e.Name == name {
			out = append(out, e)
		}
	}
	sortEntries(out)
	return out
}

func sortEntries(l []*CryptoMapEntry) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].Seq < l[j-1].Seq; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

// AccessListByName returns the named (or numbered) access list, or nil.
func (c *Config) AccessListByName(name string) *AccessList {
	for _, a := range c.AccessLists {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// EzVPNClient is `crypto ipsec client ezvpn NAME`: vpdn as an Easy VPN
// remote. It connects to its peers (the first, then the backups in order)
// in aggressive mode with the group name as identity and the group key,
// answers XAuth with the configured user and takes its address and split
// networks from mode-config.
type EzVPNClient struct {
	Name string `json:"name"`
	Line int    `json:"line,omitempty"`
	// Connect is "auto" (IOS's default: connect at start and after a
	// loss) or "manual" (`crypto ipsec client ezvpn connect NAME`).
	Connect string `json:"connect,omitempty"`
	Group   string `json:"group,omitempty"`
	Key     Secret `json:"key,omitzero"`
	// Mode is "client" (the default: traffic from the assigned address,
	// inside hosts NATed to it) or "network-extension" (the inside
	// networks are the source selectors, no NAT).
	Mode     string       `json:"mode,omitempty"`
	Peers    []netip.Addr `json:"peers,omitempty"`
	User     string       `json:"username,omitempty"`
	Password Secret       `json:"password,omitzero"`
	// XAuthLocal is `xauth userid mode local`: the configured user
	// answers XAuth (vpdn's only mode).
	XAuthLocal bool `json:"xauth_local,omitempty"`
}

// EzVPNClientByName returns the Easy VPN remote NAME, or nil.
func (c *Crypto) EzVPNClientByName(name string) *EzVPNClient {
	if c == nil {
		return nil
	}
	for _, e := range c.EzVPNClients {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Keyring is `crypto keyring NAME`: pre-shared keys by peer address or
// host name, used by the isakmp profiles that name it (`keyring NAME`)
// and, as a responder, for any peer whose address it holds a key for.
type Keyring struct {
	Name        string        `json:"name"`
	Line        int           `json:"line,omitempty"`
	Description string        `json:"description,omitempty"`
	Keys        []*KeyringKey `json:"keys"`
	// LocalAddress is `local-address A|IF`: the keyring serves only IKE
	// on that address (an interface name or an IPv4 address, as written).
	LocalAddress string `json:"local_address,omitempty"`
}

// KeyringKey is `pre-shared-key address A [MASK] key K` or
// `pre-shared-key hostname H key K`.
type KeyringKey struct {
	Addr     netip.Addr `json:"addr,omitzero"`
	Mask     netip.Addr `json:"mask,omitzero"`
	Hostname string     `json:"hostname,omitempty"`
	Key      Secret     `json:"key"`
	Line     int        `json:"line,omitempty"`
}

// Prefix is the peers an address key is for (invalid for a host name
// key).
func (k *KeyringKey) Prefix() netip.Prefix {
	if !k.Addr.IsValid() {
		return netip.Prefix{}
	}
	if !k.Mask.IsValid() {
		return netip.PrefixFrom(k.Addr, 32)
	}
	bits, _ := maskBits(k.Mask)
	return netip.PrefixFrom(k.Addr, bits).Masked()
}

// ISAKMPProfile is `crypto isakmp profile NAME`: which peers it is for
// (`match identity`), the keyrings their keys come from, and what their
// phase-1 SA gets: keepalives, XAuth, group authorization and
// mode-config (the Easy VPN server settings a crypto map otherwise
// carries), and, as initiator, our identity and mode.
type ISAKMPProfile struct {
	Name        string          `json:"name"`
	Line        int             `json:"line,omitempty"`
	Description string          `json:"description,omitempty"`
	Keyrings    []string        `json:"keyrings,omitempty"`
	Matches     []*ProfileMatch `json:"matches"`
	// SelfIdentity is `self-identity address|fqdn|user-fqdn [X]`.
	SelfIdentity *SelfIdentity `json:"self_identity,omitempty"`
	// LocalAddress is `local-address IF|A`, as written.
	LocalAddress string `json:"local_address,omitempty"`
	// InitiateAggressive is `initiate mode aggressive`.
	InitiateAggressive bool             `json:"initiate_aggressive,omitempty"`
	Keepalive          *ISAKMPKeepalive `json:"keepalive,omitempty"`
	AuthList           string           `json:"authentication_list,omitempty"`
	AuthorList         string           `json:"authorization_list,omitempty"`
	// ConfigAddress is `client configuration address respond|initiate`.
	ConfigAddress string `json:"configuration_address,omitempty"`
	// ClientGroup is `client configuration group G`.
	ClientGroup string `json:"configuration_group,omitempty"`
	// TrustPoints are `ca trust-point NAME` lines.
	TrustPoints []string `json:"trustpoints,omitempty"`
}

// ProfileMatch is one `match identity` line: address A [MASK], host H,
// host domain D or group G.
type ProfileMatch struct {
	Kind string     `json:"kind"` // address, host, domain, group
	Addr netip.Addr `json:"addr,omitzero"`
	Mask netip.Addr `json:"mask,omitzero"`
	Name string     `json:"name,omitempty"` // host, domain, group
	Line int        `json:"line,omitempty"`
}

// Prefix is the addresses an address match is for: A MASK, A alone a
// host, and 0.0.0.0 alone any address (as IOS's examples write it).
func (m *ProfileMatch) Prefix() netip.Prefix {
	switch {
	case m.Kind != "address":
		return netip.Prefix{}
	case m.Mask.IsValid():
		bits, _ := maskBits(m.Mask)
		return netip.PrefixFrom(m.Addr, bits).Masked()
	case m.Addr.IsUnspecified():
		return netip.PrefixFrom(m.Addr, 0)
	}
	return netip.PrefixFrom(m.Addr, 32)
}

// String is the line after `match identity`.
func (m *ProfileMatch) String() string {
	switch m.Kind {
	case "address":
		if m.Mask.IsValid() {
			return "address " + m.Addr.String() + " " + m.Mask.String()
		}
		return "address " + m.Addr.String()
	case "domain":
		return "host domain " + m.Name
	}
	return m.Kind + " " + m.Name
}

// SelfIdentity is `self-identity address|fqdn|user-fqdn [X]`.
type SelfIdentity struct {
	Kind  string `json:"kind"`            // address, fqdn (the hostname), user-fqdn
	Value string `json:"value,omitempty"` // user-fqdn's X
}

// CryptoMapProfile is `crypto map NAME isakmp-profile P`: the profile of
// the map's entries that name none.
type CryptoMapProfile struct {
	Map     string `json:"map"`
	Profile string `json:"profile"`
	Line    int    `json:"line,omitempty"`
}

// KeyringByName returns the named keyring, or nil.
func (c *Crypto) KeyringByName(name string) *Keyring {
	for _, k := range c.Keyrings {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// ISAKMPProfileByName returns the named isakmp profile, or nil.
func (c *Crypto) ISAKMPProfileByName(name string) *ISAKMPProfile {
	if c == nil {
		return nil
	}
	for _, p := range c.ISAKMPProfiles {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// MapISAKMPProfile is the profile of `crypto map NAME isakmp-profile P`,
// "" if none.
func (c *Crypto) MapISAKMPProfile(name string) string {
	if c == nil {
		return ""
	}
	for _, m := range c.MapProfiles {
		if m.Map == name {
			return m.Profile
		}
	}
	return ""
}

// EntryISAKMPProfile is the isakmp profile a crypto map entry of map
// tag uses: its own `set isakmp-profile`, its IPsec profile's (`set
// profile`), then the map's (`crypto map NAME isakmp-profile`); "" if
// none.
func (c *Crypto) EntryISAKMPProfile(tag string, e *CryptoMapEntry) string {
	if e.ISAKMPProfile != "" {
		return e.ISAKMPProfile
	}
	if pr := c.ProfileByName(e.Profile); pr != nil && pr.ISAKMPProfile != "" {
		return pr.ISAKMPProfile
	}
	return c.MapISAKMPProfile(tag)
}
