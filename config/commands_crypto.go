package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

func (p *parser) isakmpPolicy() *ISAKMPPolicy     { return p.cur.obj.(*ISAKMPPolicy) }
func (p *parser) transformSet() *TransformSet     { return p.cur.obj.(*TransformSet) }
func (p *parser) cryptoMapEntry() *CryptoMapEntry { return p.cur.obj.(*CryptoMapEntry) }
func (p *parser) ipsecProfile() *IPsecProfile     { return p.cur.obj.(*IPsecProfile) }
func (p *parser) accessList() *AccessList         { return p.cur.obj.(*AccessList) }
func (p *parser) clientGroup() *ClientGroup       { return p.cur.obj.(*ClientGroup) }
func (p *parser) ezvpnClient() *EzVPNClient       { return p.cur.obj.(*EzVPNClient) }
func (p *parser) keyring() *Keyring               { return p.cur.obj.(*Keyring) }
func (p *parser) isakmpProfile() *ISAKMPProfile   { return p.cur.obj.(*ISAKMPProfile) }

// maxEzVPNPeers bounds an Easy VPN remote's backup peers (IOS allows 10).
const maxEzVPNPeers = 10

// The DH groups vpdn's IKE offers (RFC 2409 §6, RFC 3526, RFC 5903).
var cryptoGroups = []int{2, 5, 14, 19, 20}

func checkGroup(g int, what string) error {
	if !slices.Contains(cryptoGroups, g) {
		return fmt.Errorf("%s: Diffie-Hellman group %d is not supported; expected 2, 5, 14, 19 or 20", what, g)
	}
	return nil
}

// The lifetime syntax shared by the global, crypto-map and profile forms.
const saLifetimeSpec = "security-association lifetime {seconds <s:int:120-86400> | kilobytes <kb:int:2560-4294967295>}"

func applyLifetime(l *Lifetime, m *Match, neg bool) {
	switch {
	case m.Has("seconds"):
		set(&l.Seconds, m.Int("s"), neg)
	case m.Has("kilobytes"):
		kb, _ := strconv.ParseInt(m.Str("kb"), 10, 64)
		set(&l.Kilobytes, kb, neg)
	}
}

// pfsGroup reads `set pfs [groupN]`: IOS's default group is 1, which vpdn
// does not offer; a bare `set pfs` means group 2.
func pfsGroup(m *Match) (int, error) {
	g := m.Str("g")
	if g == "" {
		return 2, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(g), "group"))
	if err != nil || !strings.HasPrefix(strings.ToLower(g), "group") {
		return 0, fmt.Errorf("set pfs %s: expected group2, group5, group14, group19 or group20", g)
	}
	return n, checkGroup(n, "set pfs")
}

// pskSecret reads a pre-shared key: type 0 (clear text) or 7 (IOS's
// type 6, AES-encrypted under a master key, vpdn does not have).
func pskSecret(m *Match, what string) (Secret, error) {
	s, err := secret(m)
	if err == nil && s.Type != 0 && s.Type != 7 {
		err = fmt.Errorf("%s: key type %d is not supported; expected 0 (clear text) or 7", what, s.Type)
	}
	return s, err
}

// section handles a named section command (`crypto keyring NAME`, ...):
// with neg the section is removed from list; otherwise the one is found,
// or made with mk and added, and mode md entered with it.
func section[T any](p *parser, list *[]*T, md mode, neg bool, is func(*T) bool, mk func() *T) {
	if neg {
		*list = slices.DeleteFunc(*list, is)
		return
	}
	i := slices.IndexFunc(*list, is)
	if i < 0 {
		*list = append(*list, mk())
		i = len(*list) - 1
	}
	p.enter(md, (*list)[i])
}

// cryptoMapEntry finds or adds the entry NAME SEQ of list.
func findEntry(list *[]*CryptoMapEntry, name string, seq int, line int) *CryptoMapEntry {
	for _, e := range *list {
		if e.Name == name && e.Seq == seq {
			return e
		}
	}
	e := &CryptoMapEntry{Name: name, Seq: seq, Line: line}
	*list = append(*list, e)
	return e
}

func addrArgs(m *Match, names ...string) []netip.Addr {
	var out []netip.Addr
	for _, n := range names {
		if m.Str(n) != "" {
			out = append(out, m.Addr(n))
		}
	}
	return out
}

func removeEntry(list *[]*CryptoMapEntry, name string, seq int) {
	*list = slices.DeleteFunc(*list, func(e *CryptoMapEntry) bool { return e.Name == name && (seq == 0 || e.Seq == seq) })
}

// cryptoLater names what comes in later parts of the IPsec work.
const (
	laterVTI         = "IPsec with VTI and DVTI is later work (IPsec part 2); use crypto maps (with isakmp profiles)"
	laterEzVPNRemote = "this Easy VPN remote setting is not supported yet; vpdn supports connect, group, mode client|network-extension, peer, username and xauth userid mode local"
	laterEzVPNServer = "this Easy VPN server setting is not supported yet; vpdn supports crypto map NAME client authentication list L, isakmp authorization list L and client configuration address respond|initiate"
	laterGRE         = "GRE over IPsec is later work (GRE/DMVPN)"
	laterRSAEncr     = "rsa-encr authentication is not supported yet; expected authentication pre-share or rsa-sig"
)

// cryptoCommands are IPsec with crypto maps: IKE phase-1 policies and keys,
// transform sets, crypto maps, dynamic maps, profiles and crypto ACLs.
var cryptoCommands = []*command{
	{mode: mGlobal, spec: "crypto isakmp policy <n:int:1-10000>", help: "An IKE phase-1 policy and its mode (encryption, hash, authentication, group, lifetime). Policies are offered and matched lowest number first.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			n := m.Int("n")
			i := slices.IndexFunc(c.Policies, func(x *ISAKMPPolicy) bool { return x.Priority == n })
			if neg {
				if i >= 0 {
					c.Policies = slices.Delete(c.Policies, i, i+1)
				}
				return nil
			}
			if i < 0 {
				c.Policies = append(c.Policies, &ISAKMPPolicy{Priority: n, Line: p.line})
				slices.SortStableFunc(c.Policies, func(a, b *ISAKMPPolicy) int { return a.Priority - b.Priority })
				i = slices.IndexFunc(c.Policies, func(x *ISAKMPPolicy) bool { return x.Priority == n })
			}
			p.enter(mISAKMPPolicy, c.Policies[i])
			return nil
		}},
	{mode: mISAKMPPolicy, spec: "encryption {3des | aes [<bits:int:128-256>] | des}", help: "The phase-1 cipher: 3des (vpdn's default; IOS's is des, which vpdn refuses) or aes 128|192|256 (128 by default).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			pol := p.isakmpPolicy()
			if neg {
				pol.Encryption, pol.KeyBits = "", 0
				return nil
			}
			switch {
			case m.Has("des"):
				return fmt.Errorf("encryption des: single DES (56-bit) is not supported; expected 3des or aes")
			case m.Has("aes"):
				bits := m.Int("bits")
				if bits != 0 && bits != 128 && bits != 192 && bits != 256 {
					return fmt.Errorf("encryption aes %d: expected a key length of 128, 192 or 256", bits)
				}
				pol.Encryption, pol.KeyBits = "aes", bits
			default:
				pol.Encryption, pol.KeyBits = "3des", 0
			}
			return nil
		}},
	{mode: mISAKMPPolicy, spec: "hash {md5 | sha | sha256 | sha384}", help: "The phase-1 hash and prf: sha (SHA-1, the default), md5, sha256 or sha384.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpPolicy().Hash, m.Keyword("md5", "sha", "sha256", "sha384"), neg)
			return nil
		}},
	{mode: mISAKMPPolicy, spec: "authentication {pre-share | rsa-sig | rsa-encr}", help: "How peers authenticate: pre-share (crypto isakmp key) or rsa-sig (IOS's default: certificates of a crypto pki trustpoint). rsa-encr is not supported yet.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.isakmpPolicy().Auth = ""
				return nil
			}
			if m.Has("rsa-encr") {
				return fmt.Errorf("authentication rsa-encr: %s", laterRSAEncr)
			}
			p.isakmpPolicy().Auth = m.Keyword("pre-share", "rsa-sig")
			return nil
		}},
	{mode: mISAKMPPolicy, spec: "group <g:int:1-32>", help: "The Diffie-Hellman group: 2 (vpdn's default; IOS's 1 is refused), 5, 14, 19 or 20.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if !neg {
				if err := checkGroup(m.Int("g"), "group"); err != nil {
					return err
				}
			}
			set(&p.isakmpPolicy().Group, m.Int("g"), neg)
			return nil
		}},
	{mode: mISAKMPPolicy, spec: "lifetime <s:int:60-86400>", help: "Phase-1 SA lifetime in seconds (default 86400).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpPolicy().Lifetime, m.Int("s"), neg)
			return nil
		}},

	{mode: mGlobal, spec: "crypto isakmp key " + passwordSpec + " address <addr:ipv4> [<mask:mask>] [no-xauth]", help: "The pre-shared key for a peer (A) or the peers of a network (A MASK; 0.0.0.0 0.0.0.0: any). The most specific key wins. Type 0 is clear text, 7 the Cisco reversible encoding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			k := &ISAKMPKey{Addr: m.Addr("addr"), NoXAuth: m.Has("no-xauth"), Line: p.line}
			if ms := m.Str("mask"); ms != "" {
				k.Mask = m.Addr("mask")
			}
			c.Keys = slices.DeleteFunc(c.Keys, func(x *ISAKMPKey) bool { return x.Prefix() == k.Prefix() })
			if neg {
				return nil
			}
			s, err := pskSecret(m, "crypto isakmp key")
			if err != nil {
				return err
			}
			k.Key = s
			c.Keys = append(c.Keys, k)
			return nil
		}},
	{mode: mGlobal, spec: "crypto isakmp keepalive <s:int:10-3600> [<r:int:2-60>] [periodic | on-demand]", help: "Dead peer detection (RFC 3706): R-U-THERE after S seconds without traffic from the peer (on-demand, the default) or every S seconds (periodic), retried every R seconds (default 2).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			if neg {
				c.Keepalive = nil
				return nil
			}
			c.Keepalive = &ISAKMPKeepalive{Seconds: m.Int("s"), Retry: m.Int("r"), Mode: m.Keyword("periodic", "on-demand"), Line: p.line}
			return nil
		}},
	{mode: mGlobal, spec: "crypto isakmp nat keepalive <s:int:5-3600>", help: "NAT keepalives (RFC 3948 §4) every S seconds on NAT-T SAs (vpdn's default: 20).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cfg.CryptoConfig().NATKeepalive, m.Int("s"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "crypto isakmp aggressive-mode disable", help: "Refuse aggressive mode (vpdn's default: it hands out a hash of the key before the peer proves anything). `no crypto isakmp aggressive-mode disable` lets peers use it.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			c.AggressiveMode = "disable"
			if neg {
				c.AggressiveMode = "enable"
			}
			return nil
		}},
	{mode: mGlobal, spec: "crypto isakmp identity {address | dn | hostname}", help: "vpdn's phase-1 identity: address (the default: ID_IPV4_ADDR) or dn (under rsa-sig, the certificate's subject, ID_DER_ASN1_DN; with keys the address still). hostname is not supported yet.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Has("hostname") && !neg {
				return fmt.Errorf("crypto isakmp identity hostname: not supported yet; expected crypto isakmp identity address or dn")
			}
			c := p.cfg.CryptoConfig()
			c.Identity = ""
			if m.Has("dn") && !neg {
				c.Identity = "dn"
			}
			return nil
		}},

	{mode: mGlobal, spec: "crypto ipsec transform-set <name:word> {esp-aes [<bits:int:128-256>] | esp-gcm [<bits:int:128-256>] | esp-3des | esp-des | esp-null} [esp-sha-hmac | esp-md5-hmac | esp-sha256-hmac | esp-sha384-hmac]", help: "An ESP transform set and its mode (mode tunnel, the default, or transport): esp-aes 128|192|256 or esp-3des with an HMAC (esp-sha-hmac, esp-md5-hmac, esp-sha256-hmac), or esp-gcm 128|256 alone.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			name := m.Str("name")
			if neg {
				c.TransformSets = slices.DeleteFunc(c.TransformSets, func(t *TransformSet) bool { return t.Name == name })
				return nil
			}
			esp := m.Keyword("esp-aes", "esp-gcm", "esp-3des", "esp-des", "esp-null")
			auth := m.Keyword("esp-sha-hmac", "esp-md5-hmac", "esp-sha256-hmac", "esp-sha384-hmac")
			bits := m.Int("bits")
			what := "crypto ipsec transform-set " + name
			switch esp {
			case "esp-des":
				return fmt.Errorf("%s: esp-des (56-bit) is not supported; expected esp-aes, esp-gcm or esp-3des", what)
			case "esp-null":
				return fmt.Errorf("%s: esp-null (no encryption) is not supported; expected esp-aes, esp-gcm or esp-3des", what)
			case "esp-aes":
				if bits != 0 && bits != 128 && bits != 192 && bits != 256 {
					return fmt.Errorf("%s: esp-aes %d: expected 128, 192 or 256", what, bits)
				}
				if auth == "" {
					return fmt.Errorf("%s: esp-aes without integrity is not supported; expected esp-sha-hmac, esp-sha256-hmac or esp-md5-hmac after it", what)
				}
			case "esp-gcm":
				if bits != 0 && bits != 128 && bits != 256 {
					return fmt.Errorf("%s: esp-gcm %d: expected 128 or 256", what, bits)
				}
				if auth != "" {
					return fmt.Errorf("%s: esp-gcm carries its own integrity; expected no %s", what, auth)
				}
			case "esp-3des":
				if auth == "" {
					return fmt.Errorf("%s: esp-3des without integrity is not supported; expected esp-sha-hmac, esp-sha256-hmac or esp-md5-hmac after it", what)
				}
			}
			if auth == "esp-sha384-hmac" {
				return fmt.Errorf("%s: esp-sha384-hmac is not supported; expected esp-sha-hmac, esp-sha256-hmac or esp-md5-hmac", what)
			}
			t := c.TransformSetByName(name)
			if t == nil {
				t = &TransformSet{Name: name, Line: p.line}
				c.TransformSets = append(c.TransformSets, t)
			}
			t.ESP, t.KeyBits, t.Auth = esp, bits, auth
			p.enter(mTransformSet, t)
			return nil
		}},
	{mode: mTransformSet, spec: "mode {tunnel | transport}", help: "Tunnel mode (the default: whole packets between the protected networks) or transport mode (the peers' own traffic, as L2TP/IPsec uses).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.transformSet().Transport = !neg && m.Has("transport")
			return nil
		}},
	{mode: mGlobal, spec: "crypto ipsec " + saLifetimeSpec, help: "The default lifetime of IPsec SAs (IOS: 3600 s, 4608000 KB); a crypto map entry may set its own.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			applyLifetime(&p.cfg.CryptoConfig().SALifetime, m, neg)
			return nil
		}},
	{mode: mGlobal, spec: "crypto ipsec profile <name:word>", help: "An IPsec profile: transform sets, lifetime, PFS and reverse route that crypto map entries take with `set profile` (its use by tunnel interfaces, VTI, is later work).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			section(p, &p.cfg.CryptoConfig().Profiles, mIPsecProfile, neg, func(x *IPsecProfile) bool { return x.Name == name },
				func() *IPsecProfile { return &IPsecProfile{Name: name, Line: p.line} })
			return nil
		}},
	{mode: mIPsecProfile, spec: "set transform-set <ts:word>...", help: "The transform sets to offer and accept, in order.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			pr := p.ipsecProfile()
			pr.TransformSets = nil
			if !neg {
				pr.TransformSets = m.All("ts")
			}
			return nil
		}},
	{mode: mIPsecProfile, spec: "set " + saLifetimeSpec, help: "The lifetime of the profile's IPsec SAs.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			applyLifetime(&p.ipsecProfile().Lifetime, m, neg)
			return nil
		}},
	{mode: mIPsecProfile, spec: "set pfs [<g:word>]", help: "Perfect forward secrecy: a new Diffie-Hellman exchange in each quick mode (group2 by default).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.ipsecProfile().PFS = 0
				return nil
			}
			g, err := pfsGroup(m)
			p.ipsecProfile().PFS = g
			return err
		}},
	{mode: mIPsecProfile, spec: "set reverse-route distance <d:int:1-255>", help: "The administrative distance of reverse routes.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.ipsecProfile().RRDistance, m.Int("d"), neg)
			return nil
		}},
	{mode: mIPsecProfile, spec: "reverse-route [static]", help: "Routes to the remote protected networks into vpdn's crypto interface: while an SA is up, or with static always.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := "dynamic"
			if m.Has("static") {
				v = "static"
			}
			set(&p.ipsecProfile().ReverseRoute, v, neg)
			return nil
		}},
	{mode: mIPsecProfile, spec: "set isakmp-profile <name:word>", help: "The isakmp profile of the crypto map entries that take this IPsec profile with `set profile` (and name no isakmp profile themselves).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			pr := p.ipsecProfile()
			set(&pr.ISAKMPProfile, m.Str("name"), neg)
			return nil
		}},

	{mode: mGlobal, spec: "crypto map <name:word> <seq:int:1-65535> [ipsec-isakmp [dynamic <dyn:word> [discover]] | ipsec-manual]", help: "A crypto map entry (IKE-negotiated, ipsec-isakmp) and its mode: set peer, set transform-set, match address, set pfs, set security-association lifetime, reverse-route. With dynamic DYN the entry is the dynamic map DYN, for peers not known in advance. Entries are matched lowest sequence first.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			name, seq := m.Str("name"), m.Int("seq")
			if neg {
				removeEntry(&c.Maps, name, seq)
				return nil
			}
			if m.Has("ipsec-manual") {
				return fmt.Errorf("crypto map %s %d ipsec-manual: manual keys are not supported; expected ipsec-isakmp", name, seq)
			}
			e := findEntry(&c.Maps, name, seq, p.line)
			e.Dynamic = m.Str("dyn")
			if e.Dynamic != "" {
				return nil
			}
			p.enter(mCryptoMap, e)
			return nil
		}},
	{mode: mGlobal, spec: "crypto map <name:word> client authentication list <list:word>", help: "Easy VPN server: XAuth the map's clients (those whose phase 1 offers XAUTHInitPreShared) with the users of `aaa authentication login L` (local users, RADIUS); quick mode waits until the user passes. A peer whose `crypto isakmp key` says no-xauth is not asked.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			mc := p.cfg.CryptoConfig().mapClient(m.Str("name"))
			set(&mc.AuthList, m.Str("list"), neg)
			set(&mc.AuthLine, p.line, neg)
			return nil
		}},
	{mode: mGlobal, spec: "crypto map <name:word> isakmp authorization list <list:word>", help: "Easy VPN server: where the clients' groups are looked up (`aaa authorization network L`: `local` reads `crypto isakmp client configuration group`, `group radius` or `group NAME` asks the server for the group's Cisco-AVPairs).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			mc := p.cfg.CryptoConfig().mapClient(m.Str("name"))
			set(&mc.AuthorList, m.Str("list"), neg)
			set(&mc.AuthorLine, p.line, neg)
			return nil
		}},
	{mode: mGlobal, spec: "crypto map <name:word> client configuration address {respond | initiate}", help: "Easy VPN server mode-config: answer the client's request for an address (respond, what Cisco and strongSwan clients do) or push it after XAuth (initiate).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			mc := p.cfg.CryptoConfig().mapClient(m.Str("name"))
			set(&mc.Address, m.Keyword("respond", "initiate"), neg)
			set(&mc.AddressLine, p.line, neg)
			return nil
		}},
	{mode: mGlobal, spec: "crypto map <name:word> isakmp-profile <profile:word>", help: "The isakmp profile of the map's entries that name none (`set isakmp-profile`).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			name := m.Str("name")
			c.MapProfiles = slices.DeleteFunc(c.MapProfiles, func(x *CryptoMapProfile) bool { return x.Map == name })
			if !neg {
				c.MapProfiles = append(c.MapProfiles, &CryptoMapProfile{Map: name, Profile: m.Str("profile"), Line: p.line})
			}
			return nil
		}},
	{mode: mGlobal, spec: "crypto map <name:word> {client | isakmp | redundancy} <rest:line>", help: "Other crypto map settings (client accounting, redundancy): not supported yet.", later: laterEzVPNServer},
	{mode: mGlobal, spec: "crypto map <name:word> local-address <iface:interface>", help: "The interface whose address the map's IKE and ESP use (typically a Loopback), instead of the address of the interface the map is applied to; interfaces sharing the map then share one IKE service.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			name := m.Str("name")
			c.LocalAddresses = slices.DeleteFunc(c.LocalAddresses, func(l *CryptoMapLocal) bool { return l.Map == name })
			if neg {
				return nil
			}
			n := ifArg(m, "iface")
			if n == nil {
				return fmt.Errorf("crypto map %s local-address %s: not an interface name", name, m.Str("iface"))
			}
			c.LocalAddresses = append(c.LocalAddresses, &CryptoMapLocal{Map: name, Interface: *n, Line: p.line})
			return nil
		}},
	{mode: mGlobal, spec: "crypto dynamic-map <name:word> <seq:int:1-65535>", help: "A dynamic crypto map entry: a template for peers whose address is not known in advance (set transform-set, match address, set pfs, reverse-route). Used by `crypto map NAME SEQ ipsec-isakmp dynamic DYN`.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			name, seq := m.Str("name"), m.Int("seq")
			if neg {
				removeEntry(&c.DynamicMaps, name, seq)
				return nil
			}
			p.enter(mCryptoMap, findEntry(&c.DynamicMaps, name, seq, p.line))
			return nil
		}},
	{mode: mCryptoMap, spec: "description <text:line>", help: "Free text.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cryptoMapEntry().Description, m.Str("text"), neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "set peer <addr:ipv4> [default]", help: "A peer of the entry; several are tried in order (IOS's backup peers). A dynamic map entry needs none.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			setMember(&p.cryptoMapEntry().Peers, m.Addr("addr"), neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "set transform-set <ts:word>...", help: "The transform sets to offer and accept, in order.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			e := p.cryptoMapEntry()
			e.TransformSets = nil
			if !neg {
				e.TransformSets = m.All("ts")
			}
			return nil
		}},
	{mode: mCryptoMap, spec: "match address <acl:word>", help: "The crypto ACL: what the entry protects (permit), leaves in clear (deny), and the quick-mode selectors.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			e := p.cryptoMapEntry()
			set(&e.MatchACL, m.Str("acl"), neg)
			set(&e.MatchLine, p.line, neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "set pfs [<g:word>]", help: "Perfect forward secrecy: group2 (default), group5, group14, group19 or group20.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.cryptoMapEntry().PFS = 0
				return nil
			}
			g, err := pfsGroup(m)
			p.cryptoMapEntry().PFS = g
			return err
		}},
	{mode: mCryptoMap, spec: "set " + saLifetimeSpec, help: "The lifetime of this entry's IPsec SAs.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			applyLifetime(&p.cryptoMapEntry().Lifetime, m, neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "reverse-route [static]", help: "Reverse route injection: routes to the ACL's remote networks into vpdn's crypto interface while an SA is up, or always with static.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := "dynamic"
			if m.Has("static") {
				v = "static"
			}
			set(&p.cryptoMapEntry().ReverseRoute, v, neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "set reverse-route distance <d:int:1-255>", help: "The administrative distance of reverse routes.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cryptoMapEntry().RRDistance, m.Int("d"), neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "set profile <name:word>", help: "Take transform sets, lifetime, PFS and reverse route from an IPsec profile (as document 004's dynamic map does).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cryptoMapEntry().Profile, m.Str("name"), neg)
			return nil
		}},
	{mode: mCryptoMap, spec: "set isakmp-profile <name:word>", help: "The entry's isakmp profile: as initiator its keyrings, self-identity and mode; as responder the entry matches only quick modes of phase-1 SAs of that profile (an entry without one matches any).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cryptoMapEntry().ISAKMPProfile, m.Str("name"), neg)
			return nil
		}},

	{mode: mInterface, spec: "crypto map <name:word>", help: "Protect traffic that leaves through this interface's address with crypto map NAME: vpdn serves IKE on the address and carries the protected networks through its crypto TUN.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			set(&ifc.CryptoMap, m.Str("name"), neg)
			set(&ifc.CryptoMapLine, p.line, neg)
			return nil
		}},
	{mode: mInterface, spec: "crypto ipsec client ezvpn <name:word> [outside | inside]", help: "Apply the Easy VPN remote NAME: outside (the default) is the interface it connects through (its address is IKE's and ESP's source, as for a crypto map); inside an interface whose network is behind the remote (network-extension: its network is the tunnel's source selector).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if neg {
				ifc.EzVPN, ifc.EzVPNInside, ifc.EzVPNLine = "", false, 0
				return nil
			}
			if ifc.EzVPN != "" && ifc.EzVPN != m.Str("name") {
				return fmt.Errorf("crypto ipsec client ezvpn %s: the interface already has Easy VPN remote %s; one remote per interface is supported", m.Str("name"), ifc.EzVPN)
			}
			ifc.EzVPN, ifc.EzVPNInside, ifc.EzVPNLine = m.Str("name"), m.Has("inside"), p.line
			return nil
		}},

	// Easy VPN remote (vpdn as the client).
	{mode: mGlobal, spec: "crypto ipsec client ezvpn <name:word>", help: "An Easy VPN remote: vpdn connects to its peer in aggressive mode with the group name as identity, answers XAuth with its username and takes its address and split networks from mode-config. Apply it with crypto ipsec client ezvpn NAME [outside|inside] on interfaces.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			name := m.Str("name")
			if neg {
				c.EzVPNClients = slices.DeleteFunc(c.EzVPNClients, func(e *EzVPNClient) bool { return e.Name == name })
				return nil
			}
			e := c.EzVPNClientByName(name)
			if e == nil {
				e = &EzVPNClient{Name: name, Line: p.line}
				c.EzVPNClients = append(c.EzVPNClients, e)
			}
			p.enter(mEzVPN, e)
			return nil
		}},
	{mode: mEzVPN, spec: "connect {auto | manual}", help: "auto (the default): connect when vpdn starts and again after the tunnel is lost; manual: wait for the exec command crypto ipsec client ezvpn connect NAME.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := "auto"
			if m.Has("manual") {
				v = "manual"
			}
			set(&p.ezvpnClient().Connect, v, neg)
			return nil
		}},
	{mode: mEzVPN, spec: "group <group:word> key " + passwordSpec, help: "The group name (the phase-1 identity, ID_KEY_ID) and its pre-shared key (type 0 clear text or 7).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			e := p.ezvpnClient()
			if neg {
				e.Group, e.Key = "", Secret{}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			if s.Type != 0 && s.Type != 7 {
				return fmt.Errorf("group %s key: key type %d is not supported; expected 0 (clear text) or 7", m.Str("group"), s.Type)
			}
			e.Group, e.Key = m.Str("group"), s
			return nil
		}},
	{mode: mEzVPN, spec: "mode {client | network-extension | network-plus}", help: "client (the default): the tunnel carries the address mode-config assigns, inside hosts are translated to it; network-extension: the inside interfaces' networks go through the tunnel as they are. network-plus is not supported yet.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			switch {
			case m.Has("network-plus"):
				return fmt.Errorf("mode network-plus is not supported yet; expected mode client or mode network-extension")
			case m.Has("network-extension"):
				set(&p.ezvpnClient().Mode, "network-extension", neg)
			default:
				set(&p.ezvpnClient().Mode, "client", neg)
			}
			return nil
		}},
	{mode: mEzVPN, spec: "peer <addr:ipv4>", help: "A server to connect to; repeated, the backups, tried in order after a failure.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			e := p.ezvpnClient()
			a := m.Addr("addr")
			e.Peers = slices.DeleteFunc(e.Peers, func(x netip.Addr) bool { return x == a })
			if !neg {
				if len(e.Peers) >= maxEzVPNPeers {
					return fmt.Errorf("peer %v: at most %d peers; expected fewer backups", a, maxEzVPNPeers)
				}
				e.Peers = append(e.Peers, a)
			}
			return nil
		}},
	{mode: mEzVPN, spec: "username <user:word> password " + passwordSpec, help: "The XAuth user and password vpdn answers with (xauth userid mode local).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			e := p.ezvpnClient()
			if neg {
				e.User, e.Password = "", Secret{}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			if s.Type != 0 && s.Type != 7 {
				return fmt.Errorf("username %s password: type %d is not supported; expected 0 (clear text) or 7", m.Str("user"), s.Type)
			}
			e.User, e.Password = m.Str("user"), s
			return nil
		}},
	{mode: mEzVPN, spec: "xauth userid mode {local | interactive | http-intercept}", help: "local: XAuth is answered with the configured username; interactive and http-intercept are not supported yet.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if !m.Has("local") && !neg {
				return fmt.Errorf("xauth userid mode: only local is supported yet (the configured username answers XAuth); interactive and http-intercept are not")
			}
			p.ezvpnClient().XAuthLocal = !neg
			return nil
		}},
	{mode: mEzVPN, spec: "acl <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},
	{mode: mEzVPN, spec: "backup <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},
	{mode: mEzVPN, spec: "nat <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},
	{mode: mEzVPN, spec: "virtual-interface <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},
	{mode: mEzVPN, spec: "local-address <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},
	{mode: mEzVPN, spec: "flow <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},
	{mode: mEzVPN, spec: "dial <rest:line>", help: "An Easy VPN remote setting: not supported yet.", later: laterEzVPNRemote},

	{mode: mInterface, spec: "ip nat {inside | outside}", help: "Marks an Easy VPN remote's inside network (mode client), which vpdn translates to the assigned address by itself as IOS's automatic NAT does; vpdn has no other NAT (ip nat inside elsewhere is refused).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			v := "inside"
			if m.Has("outside") {
				v = "outside"
			}
			set(&ifc.IPNat, v, neg)
			set(&ifc.IPNatLine, p.line, neg)
			return nil
		}},

	// Easy VPN server (XAuth and mode-config).
	{mode: mGlobal, spec: "crypto isakmp client configuration group <name:word>", help: "An Easy VPN client group: its key (the clients connect in aggressive mode with the group name as identity), and what mode-config gives them: pool, dns, wins, domain, acl (split include), save-password, banner, max-users.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			section(p, &p.cfg.CryptoConfig().ClientGroups, mClientGroup, neg, func(g *ClientGroup) bool { return g.Name == name },
				func() *ClientGroup { return &ClientGroup{Name: name, Line: p.line} })
			return nil
		}},
	{mode: mClientGroup, spec: "key " + passwordSpec, help: "The group's pre-shared key (type 0 clear text or 7).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.clientGroup()
			if neg {
				g.Key = Secret{}
				return nil
			}
			s, err := pskSecret(m, "key")
			if err != nil {
				return err
			}
			g.Key = s
			return nil
		}},
	{mode: mClientGroup, spec: "pool <name:word>", help: "The ip local pool the group's clients get their address from (released when the IKE SA ends).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.clientGroup().Pool, m.Str("name"), neg); return nil }},
	{mode: mClientGroup, spec: "dns <a:ipv4> [<b:ipv4>]", help: "The DNS servers given to clients (INTERNAL_IP4_DNS).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.clientGroup()
			g.DNS = nil
			if !neg {
				g.DNS = addrArgs(m, "a", "b")
			}
			return nil
		}},
	{mode: mClientGroup, spec: "wins <a:ipv4> [<b:ipv4>]", help: "The WINS servers given to clients (INTERNAL_IP4_NBNS).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.clientGroup()
			g.WINS = nil
			if !neg {
				g.WINS = addrArgs(m, "a", "b")
			}
			return nil
		}},
	{mode: mClientGroup, spec: "domain <name:word>", help: "The default domain given to clients (UNITY_DEF_DOMAIN).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.clientGroup().Domain, m.Str("name"), neg)
			return nil
		}},
	{mode: mClientGroup, spec: "acl <acl:word>", help: "Split tunnelling: the source networks of the extended ACL's permit lines are the networks clients send through the tunnel (UNITY_SPLIT_INCLUDE); without it, everything.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.clientGroup().ACL, m.Str("acl"), neg); return nil }},
	{mode: mClientGroup, spec: "save-password", help: "Let clients save the XAuth password (UNITY_SAVE_PASSWD).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.clientGroup().SavePassword = !neg; return nil }},
	{mode: mClientGroup, spec: "banner <text:line>", help: "A banner clients show after connecting (UNITY_BANNER), on one line between a delimiter character: banner ^Welcome^.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.clientGroup()
			if neg {
				g.Banner = ""
				return nil
			}
			t := m.Str("text")
			if len(t) < 2 || t[0] != t[len(t)-1] {
				return fmt.Errorf("banner %s: multi-line banners are not supported yet; expected the text between one delimiter character on one line, e.g. banner ^Welcome^", t)
			}
			g.Banner = t[1 : len(t)-1]
			return nil
		}},
	{mode: mClientGroup, spec: "max-users <n:int:1-65535>", help: "At most N clients of the group at once; the next one is refused at mode-config.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.clientGroup().MaxUsers, m.Int("n"), neg); return nil }},
	{mode: mClientGroup, spec: "include-local-lan", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "pfs", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "group-lock", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "split-dns <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "netmask <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "backup-gateway <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "firewall <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "max-logins <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "browser-proxy <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "access-restrict <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "auto-update <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mClientGroup, spec: "dhcp <rest:line>", help: "A client group setting: not supported yet.", later: laterEzVPNServer},
	{mode: mGlobal, spec: "crypto isakmp xauth timeout <s:int:5-90>", help: "How long vpdn waits for an XAuth client (and its AAA) before deleting the phase-1 SA (default 60 s).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cfg.CryptoConfig().XAuthTimeout, m.Int("s"), neg)
			return nil
		}},

	// Keyrings and isakmp profiles.
	{mode: mGlobal, spec: "crypto keyring <name:word>", help: "A keyring: pre-shared keys by peer address or host name. As responder vpdn looks a peer's key up in every keyring and the global keys (the longest mask wins; on a tie the keyrings come first, in configuration order); isakmp profiles name the keyrings their peers' keys must come from.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			section(p, &p.cfg.CryptoConfig().Keyrings, mKeyring, neg, func(k *Keyring) bool { return k.Name == name },
				func() *Keyring { return &Keyring{Name: name, Line: p.line} })
			return nil
		}},
	{mode: mKeyring, spec: "pre-shared-key {address <addr:ipv4> [<mask:mask>] | hostname <host:word>} key " + passwordSpec, help: "The key of a peer (address A), of the peers of a network (A MASK; 0.0.0.0 0.0.0.0: any) or of a peer by its FQDN identity (hostname H, aggressive mode). Type 0 is clear text, 7 the Cisco reversible encoding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			kr := p.keyring()
			k := &KeyringKey{Hostname: m.Str("host"), Line: p.line}
			if m.Has("address") {
				k.Addr = m.Addr("addr")
				if m.Str("mask") != "" {
					k.Mask = m.Addr("mask")
				}
			}
			kr.Keys = slices.DeleteFunc(kr.Keys, func(x *KeyringKey) bool {
				return x.Prefix() == k.Prefix() && strings.EqualFold(x.Hostname, k.Hostname)
			})
			if neg {
				return nil
			}
			s, err := pskSecret(m, "pre-shared-key")
			if err != nil {
				return err
			}
			k.Key = s
			kr.Keys = append(kr.Keys, k)
			return nil
		}},
	{mode: mKeyring, spec: "local-address <where:word>", help: "Use the keyring only for IKE on this address (an interface name or an IPv4 address).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.keyring().LocalAddress, m.Str("where"), neg)
			return nil
		}},
	{mode: mKeyring, spec: "description <text:line>", help: "Free text.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.keyring().Description, m.Str("text"), neg)
			return nil
		}},
	{mode: mKeyring, spec: "rsa-pubkey <rest:line>", help: "RSA keys in a keyring: not supported yet.", later: "rsa-pubkey is not supported yet; vpdn supports pre-shared-key address|hostname, local-address and description"},

	{mode: mGlobal, spec: "crypto isakmp profile <name:word>", help: "An isakmp profile: the peers it is for (`match identity`), the keyrings their keys come from, and what their phase-1 SA gets (keepalive, XAuth, group authorization, mode-config); as initiator (a crypto map entry's `set isakmp-profile`) its keyrings, `self-identity` and `initiate mode aggressive`.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			section(p, &p.cfg.CryptoConfig().ISAKMPProfiles, mISAKMPProfile, neg, func(x *ISAKMPProfile) bool { return x.Name == name },
				func() *ISAKMPProfile { return &ISAKMPProfile{Name: name, Line: p.line} })
			return nil
		}},
	{mode: mISAKMPProfile, spec: "keyring <name:word>", help: "A keyring the profile's peers' keys come from (repeatable); without one, any keyring and the global keys.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			setMember(&p.isakmpProfile().Keyrings, m.Str("name"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "match identity {address <addr:ipv4> [<mask:mask>] | host [domain] <host:word> | group <group:word> | user <rest:line>}", help: "Which peers the profile is for, by their phase-1 identity: an address (A MASK; 0.0.0.0 alone: any), a host name (FQDN), a domain (host domain D: the FQDN ends in .D) or an Easy VPN group (the KEY_ID a client sends).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			pr := p.isakmpProfile()
			x := &ProfileMatch{Line: p.line}
			switch {
			case m.Has("user"):
				return fmt.Errorf("match identity user: not supported yet; expected match identity address, host, host domain or group")
			case m.Has("address"):
				x.Kind, x.Addr = "address", m.Addr("addr")
				if m.Str("mask") != "" {
					x.Mask = m.Addr("mask")
				}
			case m.Has("domain"):
				x.Kind, x.Name = "domain", strings.ToLower(m.Str("host"))
			case m.Has("group"):
				x.Kind, x.Name = "group", m.Str("group")
			default:
				x.Kind, x.Name = "host", strings.ToLower(m.Str("host"))
			}
			pr.Matches = slices.DeleteFunc(pr.Matches, func(o *ProfileMatch) bool { return o.String() == x.String() })
			if !neg {
				pr.Matches = append(pr.Matches, x)
			}
			return nil
		}},
	{mode: mISAKMPProfile, spec: "self-identity {address | fqdn | user-fqdn <user:word>}", help: "Our phase-1 identity as initiator: the address (the default), the host name (fqdn: `hostname`, ID_FQDN) or user-fqdn U (ID_USER_FQDN).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			pr := p.isakmpProfile()
			if neg {
				pr.SelfIdentity = nil
				return nil
			}
			pr.SelfIdentity = &SelfIdentity{Kind: m.Keyword("address", "fqdn", "user-fqdn"), Value: m.Str("user")}
			return nil
		}},
	{mode: mISAKMPProfile, spec: "local-address <where:word>", help: "The profile is for IKE on this address only (an interface name or an IPv4 address).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpProfile().LocalAddress, m.Str("where"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "initiate mode aggressive", help: "Initiate in aggressive mode (with the self-identity) instead of main mode; the peer must accept aggressive mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.isakmpProfile().InitiateAggressive = !neg
			return nil
		}},
	{mode: mISAKMPProfile, spec: "keepalive <s:int:10-3600> retry <r:int:2-60>", help: "Dead peer detection for the profile's SAs (on-demand, as crypto isakmp keepalive S R), in place of the global one.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			pr := p.isakmpProfile()
			if neg {
				pr.Keepalive = nil
				return nil
			}
			pr.Keepalive = &ISAKMPKeepalive{Seconds: m.Int("s"), Retry: m.Int("r"), Line: p.line}
			return nil
		}},
	{mode: mISAKMPProfile, spec: "client authentication list <list:word>", help: "Easy VPN server: XAuth the profile's clients with `aaa authentication login L` (as crypto map NAME client authentication list).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpProfile().AuthList, m.Str("list"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "isakmp authorization list <list:word>", help: "Easy VPN server: where the clients' groups are looked up (`aaa authorization network L`: local groups or a RADIUS server group, as crypto map NAME isakmp authorization list).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpProfile().AuthorList, m.Str("list"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "client configuration address {respond | initiate}", help: "Easy VPN server mode-config for the profile's clients: answer their request (respond) or push (initiate).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpProfile().ConfigAddress, m.Keyword("respond", "initiate"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "client configuration group <group:word>", help: "The client configuration group whose settings the profile's clients get (without it, the group named by their identity).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpProfile().ClientGroup, m.Str("group"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "description <text:line>", help: "Free text.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.isakmpProfile().Description, m.Str("text"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "virtual-template <rest:line>", help: "Dynamic VTI (a virtual-access per peer): later work (IPsec part 2).", later: "virtual-template (dynamic VTI) is later work (IPsec part 2); use the profile with a crypto map"},
	{mode: mISAKMPProfile, spec: "vrf <rest:line>", help: "VRF-aware IPsec: not supported yet.", later: "vrf in an isakmp profile is not supported yet: vpdn has no VRFs"},
	{mode: mISAKMPProfile, spec: "ca trust-point <name:word>", help: "A trustpoint whose CA the profile's rsa-sig peers' certificates must chain to (repeatable); without one, any trustpoint's.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			setMember(&p.isakmpProfile().TrustPoints, m.Str("name"), neg)
			return nil
		}},
	{mode: mISAKMPProfile, spec: "accounting <rest:line>", help: "IKE accounting: not supported yet.", later: "accounting in an isakmp profile is not supported yet"},

	// Later parts of the IPsec work, refused by name.
	{mode: mGlobal, spec: "crypto isakmp client <rest:line>", help: "Other Easy VPN client settings (firewall, keepalives): not supported yet.", later: laterEzVPNServer},
	{mode: mGlobal, spec: "crypto isakmp xauth <rest:line>", help: "Other XAuth settings: not supported yet (crypto isakmp xauth timeout is).", later: "this XAuth setting is not supported yet; vpdn supports crypto isakmp xauth timeout"},
	{mode: mGlobal, spec: "crypto ipsec client <rest:line>", help: "Other Easy VPN remote settings: not supported yet.", later: laterEzVPNRemote},
	{mode: mGlobal, spec: "crypto pki <rest:line>", help: "Other certificate commands: not supported yet.", later: "vpdn supports crypto pki trustpoint NAME and crypto pki certificate chain NAME (certificates pasted in)"},
	{mode: mGlobal, spec: "crypto ca <rest:line>", help: "The old name of crypto pki: not supported.", later: "crypto ca is IOS's old name; expected crypto pki trustpoint and crypto pki certificate chain"},

	// Access lists, as crypto ACLs.
	{mode: mGlobal, spec: "ip access-list extended <name:word>", help: "An extended access list, used as a crypto ACL by `match address`: permit|deny ip|tcp|udp|icmp SRC [eq PORT] DST [eq PORT], each address any, host A, or A WILDCARD.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			if neg {
				p.cfg.AccessLists = slices.DeleteFunc(p.cfg.AccessLists, func(a *AccessList) bool { return a.Name == name })
				return nil
			}
			a := p.cfg.AccessListByName(name)
			if a == nil {
				a = &AccessList{Name: name, Line: p.line}
				p.cfg.AccessLists = append(p.cfg.AccessLists, a)
			}
			if a.Numbered {
				return fmt.Errorf("ip access-list extended %s: access-list %s is a numbered list; expected another name", name, name)
			}
			p.enter(mACL, a)
			return nil
		}},
	{mode: mACL, spec: "permit " + aceTail, help: "Protect the packets the entry matches; entries are matched in order, first match wins.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { return aclEntry(p, m, neg) }},
	{mode: mACL, spec: "deny " + aceTail, help: "Leave the packets the entry matches in clear (IOS: bypass the crypto map).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { return aclEntry(p, m, neg) }},
	{mode: mACL, spec: "remark <text:line>", help: "A comment.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			a := p.accessList()
			if !neg {
				a.Entries = append(a.Entries, &ACE{Remark: m.Str("text"), Line: p.line})
			}
			return nil
		}},
	{mode: mGlobal, spec: "access-list <n:int:100-199> " + aceSpec, help: "A numbered extended access list entry (100-199), the older form of ip access-list extended.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("n")
			a := p.cfg.AccessListByName(name)
			if neg && (m.Keyword("permit", "deny") == "" || m.Str("proto") == "") {
				p.cfg.AccessLists = slices.DeleteFunc(p.cfg.AccessLists, func(x *AccessList) bool { return x.Name == name })
				return nil
			}
			e, err := parseACE(m, p.line)
			if err != nil {
				return err
			}
			if a == nil {
				if neg {
					return nil
				}
				a = &AccessList{Name: name, Numbered: true, Line: p.line}
				p.cfg.AccessLists = append(p.cfg.AccessLists, a)
			}
			if neg {
				a.Entries = slices.DeleteFunc(a.Entries, func(x *ACE) bool { return aceText(x) == aceText(e) })
				return nil
			}
			a.Entries = append(a.Entries, e)
			return nil
		}},
	{mode: mGlobal, spec: "access-list <n:int:1-99> <rest:line>", help: "Standard numbered access lists: later work.", later: "standard access lists are later work; crypto ACLs are extended (access-list 100-199, ip access-list extended)"},
	{mode: mGlobal, spec: "ip access-list {standard | resequence | logging | role-based} <rest:line>", help: "Other access lists: later work.", later: "only extended access lists (crypto ACLs) are supported"},
}

// aceSpec is an access-list entry after its number, aceTail after its
// action.
const (
	aceSpec = "{permit | deny} " + aceTail
	aceTail = "<proto:word> {any | host <sh:ipv4> | <sa:ipv4> <sw:ipv4>} [eq <sp:word>] {any | host <dh:ipv4> | <da:ipv4> <dw:ipv4>} [eq <dp:word>] [log]"
)

func aclEntry(p *parser, m *Match, neg bool) error {
	a := p.accessList()
	e, err := parseACE(m, p.line)
	if err != nil {
		return err
	}
	e.Permit = m.items[0].name == "permit"
	if neg {
		a.Entries = slices.DeleteFunc(a.Entries, func(x *ACE) bool { return aceText(x) == aceText(e) })
		return nil
	}
	a.Entries = append(a.Entries, e)
	return nil
}

var aclProtos = map[string]int{"ip": 0, "icmp": 1, "tcp": 6, "udp": 17, "esp": 50, "ahp": 51}

// aclPorts are the port names IOS accepts after eq that crypto ACLs use.
var aclPorts = map[string]int{"isakmp": 500, "non500-isakmp": 4500, "domain": 53, "www": 80, "bootps": 67, "bootpc": 68, "ntp": 123, "snmp": 161, "syslog": 514, "tftp": 69, "telnet": 23, "ftp": 21, "smtp": 25, "pop3": 110}

func parseACE(m *Match, line int) (*ACE, error) {
	e := &ACE{Permit: m.Has("permit"), Log: m.Has("log"), Line: line}
	proto := strings.ToLower(m.Str("proto"))
	if proto == "gre" || proto == "47" {
		return nil, fmt.Errorf("%q: %s", "permit gre", "not supported yet: "+laterGRE)
	}
	if n, ok := aclProtos[proto]; ok {
		e.Proto = n
	} else if n, err := strconv.Atoi(proto); err == nil && n >= 0 && n <= 255 {
		e.Proto = n
	} else {
		return nil, fmt.Errorf("access-list protocol %q: expected ip, tcp, udp, icmp, esp, ahp or a number 0-255", m.Str("proto"))
	}
	e.Src = aclAddr(m, "sh", "sa", "sw")
	e.Dst = aclAddr(m, "dh", "da", "dw")
	for _, pp := range []struct {
		name string
		to   *int
	}{{"sp", &e.SrcPort}, {"dp", &e.DstPort}} {
		s := m.Str(pp.name)
		if s == "" {
			continue
		}
		if e.Proto != 6 && e.Proto != 17 {
			return nil, fmt.Errorf("access-list: eq %s: ports need tcp or udp", s)
		}
		n, ok := aclPorts[strings.ToLower(s)]
		if !ok {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > 65535 {
				return nil, fmt.Errorf("access-list: eq %s: expected a port number 1-65535 or a name (isakmp, non500-isakmp, ...)", s)
			}
			n = v
		}
		*pp.to = n
	}
	return e, nil
}

func aclAddr(m *Match, host, addr, wild string) ACLAddr {
	switch {
	case m.Str(host) != "":
		return ACLAddr{Addr: m.Addr(host)}
	case m.Str(addr) != "":
		return ACLAddr{Addr: m.Addr(addr), Wildcard: m.Addr(wild)}
	}
	return ACLAddr{Any: true}
}

func (a ACLAddr) String() string {
	switch {
	case a.Any:
		return "any"
	case !a.Wildcard.IsValid():
		return "host " + a.Addr.String()
	}
	return a.Addr.String() + " " + a.Wildcard.String()
}

var aclProtoNames = map[int]string{0: "ip", 1: "icmp", 6: "tcp", 17: "udp", 50: "esp", 51: "ahp"}

// aceText is the entry after its sequence number, as IOS prints it.
func aceText(e *ACE) string {
	if e.Remark != "" {
		return "remark " + e.Remark
	}
	var b strings.Builder
	if e.Permit {
		b.WriteString("permit ")
	} else {
		b.WriteString("deny ")
	}
	if n, ok := aclProtoNames[e.Proto]; ok {
		b.WriteString(n)
	} else {
		b.WriteString(strconv.Itoa(e.Proto))
	}
	b.WriteString(" " + e.Src.String())
	if e.SrcPort != 0 {
		fmt.Fprintf(&b, " eq %d", e.SrcPort)
	}
	b.WriteString(" " + e.Dst.String())
	if e.DstPort != 0 {
		fmt.Fprintf(&b, " eq %d", e.DstPort)
	}
	if e.Log {
		b.WriteString(" log")
	}
	return b.String()
}

// String prints the entry as show access-lists does.
func (e *ACE) String() string { return aceText(e) }

// Matches reports whether an IPv4 packet's fields fall under the entry
// (a remark matches nothing).
func (e *ACE) Matches(proto uint8, src, dst netip.Addr, sport, dport uint16) bool {
	if e.Remark != "" {
		return false
	}
	if e.Proto != 0 && int(proto) != e.Proto {
		return false
	}
	if !e.Src.contains(src) || !e.Dst.contains(dst) {
		return false
	}
	if e.SrcPort != 0 && int(sport) != e.SrcPort {
		return false
	}
	return e.DstPort == 0 || int(dport) == e.DstPort
}

func (a ACLAddr) contains(x netip.Addr) bool {
	if a.Any {
		return true
	}
	if !a.Wildcard.IsValid() {
		return a.Addr == x
	}
	aa, w, xx := a.Addr.As4(), a.Wildcard.As4(), x.As4()
	for i := range 4 {
		if aa[i]&^w[i] != xx[i]&^w[i] {
			return false
		}
	}
	return true
}
