package config

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// validateCrypto checks the references of the crypto configuration: each
// policy authenticates by pre-shared key, each crypto map entry names
// transform sets that exist, its ACL (a warning when missing, as IOS
// accepts it) with prefixes IKE can carry as selectors, and each
// interface's crypto map exists.
func (p *parser) validateCrypto() {
	c := p.cfg
	cr := c.Crypto
	for _, ifc := range c.Interfaces {
		if ifc.CryptoMap == "" {
			continue
		}
		if cr == nil || len(cr.MapEntries(ifc.CryptoMap, false)) == 0 {
			p.errf(lineOr(ifc.CryptoMapLine, ifc.Line), "interface %s: crypto map %s does not exist; expected crypto map %s SEQ ipsec-isakmp", ifc.Name, ifc.CryptoMap, ifc.CryptoMap)
		}
	}
	if cr == nil {
		for _, ifc := range c.Interfaces {
			if ifc.EzVPN != "" {
				p.errf(ifc.EzVPNLine, "interface %s: Easy VPN remote %s does not exist; expected crypto ipsec client ezvpn %s", ifc.Name, ifc.EzVPN, ifc.EzVPN)
			}
			if ifc.IPNat != "" {
				p.errf(ifc.IPNatLine, "interface %s: ip nat %s: NAT is not supported yet except on an Easy VPN remote's interfaces", ifc.Name, ifc.IPNat)
			}
		}
		return
	}
	p.validatePKI()
	checkEntry := func(e *CryptoMapEntry, kind string) {
		what := kind + " " + e.Name + " " + strconv.Itoa(e.Seq)
		for _, ts := range e.TransformSets {
			if cr.TransformSetByName(ts) == nil {
				p.errf(e.Line, "%s: transform set %q does not exist; expected one of: %s", what, ts, names(cr.TransformSets, func(t *TransformSet) string { return t.Name }))
			}
		}
		if e.ISAKMPProfile != "" && cr.ISAKMPProfileByName(e.ISAKMPProfile) == nil {
			p.errf(e.Line, "%s: set isakmp-profile %s: no such isakmp profile; expected one of: %s", what, e.ISAKMPProfile, names(cr.ISAKMPProfiles, func(x *ISAKMPProfile) string { return x.Name }))
		}
		if e.Profile != "" && cr.ProfileByName(e.Profile) == nil {
			p.errf(e.Line, "%s: ipsec profile %q does not exist; expected one of: %s", what, e.Profile, names(cr.Profiles, func(x *IPsecProfile) string { return x.Name }))
		}
		if e.MatchACL == "" {
			// An Easy VPN server's dynamic entry needs no ACL (the map's
			// client settings, or its isakmp profile's).
			pr := cr.ISAKMPProfileByName(e.ISAKMPProfile)
			if ip := cr.ProfileByName(e.Profile); pr == nil && ip != nil {
				pr = cr.ISAKMPProfileByName(ip.ISAKMPProfile)
			}
			ezProfile := pr != nil && (pr.AuthList != "" || pr.ConfigAddress != "")
			if kind != "crypto dynamic-map" || (len(cr.MapClients) == 0 && !ezProfile) {
				p.warnAt(e.Line, "%s has no match address; it stays disabled until an access list is given", what)
			}
		} else if a := c.AccessListByName(e.MatchACL); a == nil {
			p.warnAt(lineOr(e.MatchLine, e.Line), "%s: access list %s does not exist; the entry stays disabled until it is configured", what, e.MatchACL)
		} else {
			for _, ace := range a.Entries {
				if ace.Remark != "" {
					continue
				}
				_, ok1 := ace.Src.Prefix()
				_, ok2 := ace.Dst.Prefix()
				if !ok1 || !ok2 {
					p.errf(ace.Line, "access list %s (used by %s): %q: a crypto ACL needs contiguous wildcards (IKE selectors are prefixes); expected e.g. 0.0.0.255", a.Name, what, aceText(ace))
				}
			}
		}
		if kind == "crypto map" && len(e.Peers) == 0 {
			p.warnAt(e.Line, "%s has no set peer; it stays disabled until a peer is given", what)
		}
		if len(e.TransformSets) == 0 && e.Profile == "" {
			p.warnAt(e.Line, "%s has no set transform-set; it stays disabled until one is given", what)
		}
	}
	for _, e := range cr.Maps {
		if e.Dynamic != "" {
			if len(cr.MapEntries(e.Dynamic, true)) == 0 {
				p.warnAt(e.Line, "crypto map %s %d: dynamic map %s does not exist; the entry stays disabled until it is configured", e.Name, e.Seq, e.Dynamic)
			}
			continue
		}
		checkEntry(e, "crypto map")
	}
	for _, e := range cr.DynamicMaps {
		checkEntry(e, "crypto dynamic-map")
	}
	p.validateEzVPN()
	p.validateEzVPNRemote()
	p.validateProfiles()
	for _, pr := range cr.Profiles {
		for _, ts := range pr.TransformSets {
			if cr.TransformSetByName(ts) == nil {
				p.errf(pr.Line, "crypto ipsec profile %s: transform set %q does not exist", pr.Name, ts)
			}
		}
	}
}

func lineOr(l, fallback int) int {
	if l != 0 {
		return l
	}
	return fallback
}

// validateEzVPN checks the Easy VPN server settings: the method lists the
// crypto maps name, the groups' pools and ACLs.
func (p *parser) validateEzVPN() {
	c := p.cfg
	cr := c.Crypto
	for _, mc := range cr.MapClients {
		if len(cr.MapEntries(mc.Map, false)) == 0 {
			p.errf(lineOr(mc.AuthLine, lineOr(mc.AuthorLine, mc.AddressLine)), "crypto map %s: client settings for a crypto map that does not exist; expected crypto map %s SEQ ipsec-isakmp", mc.Map, mc.Map)
		}
		p.checkEzLists("crypto map "+mc.Map, mc.AuthList, mc.AuthLine, mc.AuthorList, mc.AuthorLine)
		if mc.Address != "" && len(cr.ClientGroups) == 0 && !c.groupsByServer(mc.AuthorList) {
			p.errf(mc.AddressLine, "crypto map %s client configuration address %s: no crypto isakmp client configuration group to take the configuration from", mc.Map, mc.Address)
		}
	}
	for _, g := range cr.ClientGroups {
		if g.Pool != "" && c.PoolByName(g.Pool) == nil {
			p.errf(g.Line, "crypto isakmp client configuration group %s: pool %s does not exist; expected ip local pool %s START END", g.Name, g.Pool, g.Pool)
		}
		if g.ACL != "" && c.AccessListByName(g.ACL) == nil {
			p.errf(g.Line, "crypto isakmp client configuration group %s: acl %s does not exist; expected an extended access list", g.Name, g.ACL)
		}
	}
}

// validateEzVPNRemote checks the Easy VPN remotes: each has a group and a
// peer, a user when XAuth is answered locally, exactly one outside
// interface, and inside interfaces only where vpdn can carry them.
func (p *parser) validateEzVPNRemote() {
	c := p.cfg
	cr := c.Crypto
	outside := map[string]*Interface{}
	inside := map[string]int{}
	for _, ifc := range c.Interfaces {
		if ifc.IPNat == "" {
			continue
		}
		e := cr.EzVPNClientByName(ifc.EzVPN)
		if ifc.IPNat == "inside" && (e == nil || !ifc.EzVPNInside || e.Mode == "network-extension") {
			p.errf(ifc.IPNatLine, "interface %s: ip nat inside: NAT is not supported yet except on an Easy VPN remote's inside interface in mode client (crypto ipsec client ezvpn NAME inside)", ifc.Name)
		}
		if ifc.IPNat == "outside" && (e == nil || ifc.EzVPNInside) {
			p.errf(ifc.IPNatLine, "interface %s: ip nat outside: NAT is not supported yet except on an Easy VPN remote's outside interface", ifc.Name)
		}
	}
	for _, ifc := range c.Interfaces {
		if ifc.EzVPN == "" {
			continue
		}
		e := cr.EzVPNClientByName(ifc.EzVPN)
		switch {
		case e == nil:
			p.errf(ifc.EzVPNLine, "interface %s: Easy VPN remote %s does not exist; expected crypto ipsec client ezvpn %s", ifc.Name, ifc.EzVPN, ifc.EzVPN)
		case ifc.EzVPNInside:
			inside[e.Name]++
			if !ifc.Address.IsValid() {
				p.errf(ifc.EzVPNLine, "interface %s: crypto ipsec client ezvpn %s inside: the interface needs an ip address (its network is translated in mode client, the tunnel's source selector in network-extension)", ifc.Name, e.Name)
			}
		default:
			if o := outside[e.Name]; o != nil {
				p.errf(ifc.EzVPNLine, "interface %s: Easy VPN remote %s already has outside interface %s; expected one outside interface", ifc.Name, e.Name, o.Name)
				continue
			}
			outside[e.Name] = ifc
			if ifc.CryptoMap != "" {
				p.errf(ifc.EzVPNLine, "interface %s: a crypto map and an Easy VPN remote on one interface are not supported yet; expected one of crypto map %s and crypto ipsec client ezvpn %s", ifc.Name, ifc.CryptoMap, e.Name)
			}
		}
	}
	for _, e := range cr.EzVPNClients {
		what := "crypto ipsec client ezvpn " + e.Name
		if e.Group == "" {
			p.errf(e.Line, "%s: no group; expected group NAME key KEY", what)
		}
		if len(e.Peers) == 0 {
			p.errf(e.Line, "%s: no peer; expected peer A", what)
		}
		if e.User == "" {
			p.errf(e.Line, "%s: no username; expected username U password P (xauth userid mode local)", what)
		}
		if inside[e.Name] > 0 && outside[e.Name] == nil {
			p.errf(e.Line, "%s: inside interfaces but no outside interface; expected crypto ipsec client ezvpn %s on the interface it connects through", what, e.Name)
		}
		if e.Mode == "network-extension" && inside[e.Name] == 0 && outside[e.Name] != nil {
			p.errf(e.Line, "%s: mode network-extension with no inside interface; expected crypto ipsec client ezvpn %s inside on the network to extend", what, e.Name)
		}
	}
}

// checkEzLists checks the method lists an Easy VPN server setting names
// (of a crypto map or an isakmp profile, what).
func (p *parser) checkEzLists(what, auth string, authLine int, author string, authorLine int) {
	c := p.cfg
	if auth != "" {
		if !c.AAA.NewModel {
			p.errf(authLine, "%s client authentication list %s: XAuth needs aaa new-model", what, auth)
		} else if !slices.ContainsFunc(c.AAA.Login, func(l MethodList) bool { return l.Name == auth }) {
			p.errf(authLine, "%s client authentication list %s: no such list; expected aaa authentication login %s local (or group radius)", what, auth, auth)
		}
	}
	if author != "" {
		i := slices.IndexFunc(c.AAA.Authorization, func(l MethodList) bool { return l.Name == author })
		switch {
		case i < 0:
			p.errf(authorLine, "%s isakmp authorization list %s: no such list; expected aaa authorization network %s local", what, author, author)
		case !slices.Contains(c.AAA.Authorization[i].Methods, "local") && !c.groupsByServer(author):
			p.warnAt(authorLine, "%s isakmp authorization list %s: neither local nor a server group; vpdn takes the group from its crypto isakmp client configuration groups", what, author)
		}
	}
}

// groupsByServer reports whether `aaa authorization network list` names a
// server group: the Easy VPN server then asks it for client groups
// (RADIUS-held groups), so none need be configured.
func (c *Config) groupsByServer(list string) bool {
	if list == "" {
		return false
	}
	for _, l := range c.AAA.Authorization {
		if l.Name == list {
			return slices.ContainsFunc(l.Methods, func(m string) bool { return strings.HasPrefix(m, "group ") })
		}
	}
	return false
}

// validateProfiles checks keyrings and isakmp profiles: the names they
// and the crypto maps use exist, each profile has a match identity (IOS:
// "a profile is deemed incomplete until it has match identity
// statements"; vpdn warns and the profile matches no peer), and no two
// profiles match the same identity (a warning: the first profile in the
// configuration takes the peer).
func (p *parser) validateProfiles() {
	c := p.cfg
	cr := c.Crypto
	profNames := func() string { return names(cr.ISAKMPProfiles, func(x *ISAKMPProfile) string { return x.Name }) }
	for _, k := range cr.Keyrings {
		if len(k.Keys) == 0 {
			p.warnAt(k.Line, "crypto keyring %s has no pre-shared-key", k.Name)
		}
		if k.LocalAddress != "" && !localAddressOK(k.LocalAddress) {
			p.errf(k.Line, "crypto keyring %s: local-address %s: expected an interface name or an IPv4 address", k.Name, k.LocalAddress)
		}
	}
	owner := map[string]*ISAKMPProfile{}
	for _, pr := range cr.ISAKMPProfiles {
		what := "crypto isakmp profile " + pr.Name
		if len(pr.Matches) == 0 {
			p.warnAt(pr.Line, "%s has no match identity: it is incomplete and matches no peer (expected match identity address A [MASK], host H, host domain D or group G)", what)
		}
		for _, k := range pr.Keyrings {
			if cr.KeyringByName(k) == nil {
				p.errf(pr.Line, "%s: keyring %s does not exist; expected one of: %s", what, k, names(cr.Keyrings, func(x *Keyring) string { return x.Name }))
			}
		}
		for _, t := range pr.TrustPoints {
			if tp := cr.TrustpointByName(t); tp == nil || len(cr.TrustpointCAs([]string{t})) == 0 {
				p.errf(pr.Line, "%s: ca trust-point %s: no such trustpoint with a CA certificate; expected one of: %s", what, t, names(cr.Trustpoints, func(x *Trustpoint) string { return x.Name }))
			}
		}
		for _, m := range pr.Matches {
			key := m.String()
			if o := owner[key]; o != nil {
				p.warnAt(m.Line, "%s: match identity %s is also profile %s's; peers with that identity get %s (the first)", what, key, o.Name, o.Name)
				continue
			}
			owner[key] = pr
			if m.Kind == "group" && cr.ClientGroupByName(m.Name) == nil && !c.groupsByServer(pr.AuthorList) {
				p.warnAt(m.Line, "%s: match identity group %s: no crypto isakmp client configuration group %s", what, m.Name, m.Name)
			}
		}
		p.checkEzLists(what, pr.AuthList, pr.Line, pr.AuthorList, pr.Line)
		if pr.ClientGroup != "" && cr.ClientGroupByName(pr.ClientGroup) == nil && !c.groupsByServer(pr.AuthorList) {
			p.errf(pr.Line, "%s: client configuration group %s does not exist; expected crypto isakmp client configuration group %s", what, pr.ClientGroup, pr.ClientGroup)
		}
		if pr.ConfigAddress != "" && len(cr.ClientGroups) == 0 && !c.groupsByServer(pr.AuthorList) {
			p.errf(pr.Line, "%s: client configuration address %s: no crypto isakmp client configuration group to take the configuration from", what, pr.ConfigAddress)
		}
		if pr.LocalAddress != "" && !localAddressOK(pr.LocalAddress) {
			p.errf(pr.Line, "%s: local-address %s: expected an interface name or an IPv4 address", what, pr.LocalAddress)
		}
	}
	for _, pr := range cr.Profiles {
		if pr.ISAKMPProfile != "" && cr.ISAKMPProfileByName(pr.ISAKMPProfile) == nil {
			p.errf(pr.Line, "crypto ipsec profile %s: set isakmp-profile %s: no such isakmp profile; expected one of: %s", pr.Name, pr.ISAKMPProfile, profNames())
		}
	}
	for _, mp := range cr.MapProfiles {
		if cr.ISAKMPProfileByName(mp.Profile) == nil {
			p.errf(mp.Line, "crypto map %s isakmp-profile %s: no such isakmp profile; expected one of: %s", mp.Map, mp.Profile, profNames())
		}
		if len(cr.MapEntries(mp.Map, false)) == 0 {
			p.errf(mp.Line, "crypto map %s isakmp-profile %s: crypto map %s does not exist; expected crypto map %s SEQ ipsec-isakmp", mp.Map, mp.Profile, mp.Map, mp.Map)
		}
	}
}

// localAddressOK reports whether a local-address argument is an IPv4
// address or an interface name.
func localAddressOK(s string) bool {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Is4()
	}
	_, err := ParseInterfaceName(s)
	return err == nil
}
