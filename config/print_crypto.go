package config

import (
	"fmt"
	"net/netip"
	"strings"
)

func lifetimeLines(w *printer, depth int, prefix string, l Lifetime) {
	if l.Seconds != 0 {
		w.line(depth, "%ssecurity-association lifetime seconds %d", prefix, l.Seconds)
	}
	if l.Kilobytes != 0 {
		w.line(depth, "%ssecurity-association lifetime kilobytes %d", prefix, l.Kilobytes)
	}
}

func reverseRouteLines(w *printer, rr string, dist int) {
	if dist != 0 {
		w.line(1, "set reverse-route distance %d", dist)
	}
	switch rr {
	case "dynamic":
		w.line(1, "reverse-route")
	case "static":
		w.line(1, "reverse-route static")
	}
}

// printCrypto prints the crypto section in IOS's order: isakmp policies,
// keys and settings, transform sets, profiles, dynamic maps, crypto maps.
func printCrypto(w *printer, c *Crypto) {
	if c == nil {
		return
	}
	printPKI(w, c)
	for _, p := range c.Policies {
		w.line(0, "crypto isakmp policy %d", p.Priority)
		if p.Encryption != "" {
			if p.KeyBits != 0 {
				w.line(1, "encryption %s %d", p.Encryption, p.KeyBits)
			} else {
				w.line(1, "encryption %s", p.Encryption)
			}
		}
		if p.Hash != "" {
			w.line(1, "hash %s", p.Hash)
		}
		if p.Auth != "" {
			w.line(1, "authentication %s", p.Auth)
		}
		if p.Group != 0 {
			w.line(1, "group %d", p.Group)
		}
		if p.Lifetime != 0 {
			w.line(1, "lifetime %d", p.Lifetime)
		}
		w.bang()
	}
	for _, k := range c.Keys {
		s := fmt.Sprintf("crypto isakmp key %s address %s", fmtSecret(k.Key), k.Addr)
		if k.Mask.IsValid() {
			s += " " + k.Mask.String()
		}
		if k.NoXAuth {
			s += " no-xauth"
		}
		w.line(0, "%s", s)
	}
	if ka := c.Keepalive; ka != nil {
		s := fmt.Sprintf("crypto isakmp keepalive %d", ka.Seconds)
		if ka.Retry != 0 {
			s += fmt.Sprintf(" %d", ka.Retry)
		}
		if ka.Mode != "" {
			s += " " + ka.Mode
		}
		w.line(0, "%s", s)
	}
	if c.NATKeepalive != 0 {
		w.line(0, "crypto isakmp nat keepalive %d", c.NATKeepalive)
	}
	switch c.AggressiveMode {
	case "disable":
		w.line(0, "crypto isakmp aggressive-mode disable")
	case "enable":
		w.line(0, "no crypto isakmp aggressive-mode disable")
	}
	if c.XAuthTimeout != 0 {
		w.line(0, "crypto isakmp xauth timeout %d", c.XAuthTimeout)
	}
	if c.Identity == "dn" {
		w.line(0, "crypto isakmp identity dn")
	}
	w.bang()
	for _, g := range c.ClientGroups {
		printClientGroup(w, g)
	}
	for _, e := range c.EzVPNClients {
		printEzVPNClient(w, e)
	}
	for _, k := range c.Keyrings {
		printKeyring(w, k)
	}
	for _, p := range c.ISAKMPProfiles {
		printISAKMPProfile(w, p)
	}
	for _, t := range c.TransformSets {
		s := "crypto ipsec transform-set " + t.Name + " " + t.ESP
		if t.KeyBits != 0 {
			s += fmt.Sprintf(" %d", t.KeyBits)
		}
		if t.Auth != "" {
			s += " " + t.Auth
		}
		w.line(0, "%s", s)
		if t.Transport {
			w.line(1, "mode transport")
		}
		w.bang()
	}
	lifetimeLines(w, 0, "crypto ipsec ", c.SALifetime)
	w.bang()
	for _, p := range c.Profiles {
		w.line(0, "crypto ipsec profile %s", p.Name)
		lifetimeLines(w, 1, "set ", p.Lifetime)
		if len(p.TransformSets) > 0 {
			w.line(1, "set transform-set %s", strings.Join(p.TransformSets, " "))
		}
		if p.PFS != 0 {
			w.line(1, "set pfs group%d", p.PFS)
		}
		reverseRouteLines(w, p.ReverseRoute, p.RRDistance)
		w.opt(1, "set isakmp-profile", p.ISAKMPProfile)
		w.bang()
	}
	for _, e := range c.DynamicMaps {
		w.line(0, "crypto dynamic-map %s %d", e.Name, e.Seq)
		printMapEntry(w, e)
		w.bang()
	}
	for _, mc := range c.MapClients {
		if mc.AuthList != "" {
			w.line(0, "crypto map %s client authentication list %s", mc.Map, mc.AuthList)
		}
		if mc.AuthorList != "" {
			w.line(0, "crypto map %s isakmp authorization list %s", mc.Map, mc.AuthorList)
		}
		if mc.Address != "" {
			w.line(0, "crypto map %s client configuration address %s", mc.Map, mc.Address)
		}
	}
	for _, mp := range c.MapProfiles {
		w.line(0, "crypto map %s isakmp-profile %s", mp.Map, mp.Profile)
	}
	for _, e := range c.Maps {
		if e.Dynamic != "" {
			w.line(0, "crypto map %s %d ipsec-isakmp dynamic %s", e.Name, e.Seq, e.Dynamic)
			w.bang()
			continue
		}
		w.line(0, "crypto map %s %d ipsec-isakmp", e.Name, e.Seq)
		printMapEntry(w, e)
		w.bang()
	}
	for _, l := range c.LocalAddresses {
		w.line(0, "crypto map %s local-address %s", l.Map, l.Interface)
	}
}

func printMapEntry(w *printer, e *CryptoMapEntry) {
	if e.Description != "" {
		w.line(1, "description %s", e.Description)
	}
	for _, a := range e.Peers {
		w.line(1, "set peer %s", a)
	}
	if e.Profile != "" {
		w.line(1, "set profile %s", e.Profile)
	}
	w.opt(1, "set isakmp-profile", e.ISAKMPProfile)
	lifetimeLines(w, 1, "set ", e.Lifetime)
	if len(e.TransformSets) > 0 {
		w.line(1, "set transform-set %s", strings.Join(e.TransformSets, " "))
	}
	if e.PFS != 0 {
		w.line(1, "set pfs group%d", e.PFS)
	}
	if e.MatchACL != "" {
		w.line(1, "match address %s", e.MatchACL)
	}
	reverseRouteLines(w, e.ReverseRoute, e.RRDistance)
}

func printAccessLists(w *printer, l []*AccessList) {
	for _, a := range l {
		if a.Numbered {
			for _, e := range a.Entries {
				if e.Remark == "" {
					w.line(0, "access-list %s %s", a.Name, aceText(e))
				}
			}
			w.bang()
			continue
		}
		w.line(0, "ip access-list extended %s", a.Name)
		for _, e := range a.Entries {
			w.line(1, "%s", aceText(e))
		}
		w.bang()
	}
}

func printClientGroup(w *printer, g *ClientGroup) {
	w.line(0, "crypto isakmp client configuration group %s", g.Name)
	if !g.Key.IsZero() {
		w.line(1, "key %s", fmtSecret(g.Key))
	}
	if len(g.DNS) > 0 {
		w.line(1, "dns %s", joinAddrs(g.DNS))
	}
	if len(g.WINS) > 0 {
		w.line(1, "wins %s", joinAddrs(g.WINS))
	}
	if g.Domain != "" {
		w.line(1, "domain %s", g.Domain)
	}
	if g.Pool != "" {
		w.line(1, "pool %s", g.Pool)
	}
	if g.ACL != "" {
		w.line(1, "acl %s", g.ACL)
	}
	if g.SavePassword {
		w.line(1, "save-password")
	}
	if g.MaxUsers != 0 {
		w.line(1, "max-users %d", g.MaxUsers)
	}
	if g.Banner != "" {
		d := "^"
		for _, c := range []string{"^", "#", "%", "&", "~", "|"} {
			if !strings.Contains(g.Banner, c) {
				d = c
				break
			}
		}
		w.line(1, "banner %s%s%s", d, g.Banner, d)
	}
	w.bang()
}

func joinAddrs(l []netip.Addr) string {
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

func printEzVPNClient(w *printer, e *EzVPNClient) {
	w.line(0, "crypto ipsec client ezvpn %s", e.Name)
	if e.Connect != "" {
		w.line(1, "connect %s", e.Connect)
	}
	if e.Group != "" {
		w.line(1, "group %s key %s", e.Group, fmtSecret(e.Key))
	}
	if e.Mode != "" {
		w.line(1, "mode %s", e.Mode)
	}
	for _, a := range e.Peers {
		w.line(1, "peer %s", a)
	}
	if e.User != "" {
		w.line(1, "username %s password %s", e.User, fmtSecret(e.Password))
	}
	if e.XAuthLocal {
		w.line(1, "xauth userid mode local")
	}
	w.bang()
}

func printKeyring(w *printer, k *Keyring) {
	w.line(0, "crypto keyring %s", k.Name)
	w.opt(1, "description", k.Description)
	w.opt(1, "local-address", k.LocalAddress)
	for _, x := range k.Keys {
		switch {
		case x.Hostname != "":
			w.line(1, "pre-shared-key hostname %s key %s", x.Hostname, fmtSecret(x.Key))
		case x.Mask.IsValid():
			w.line(1, "pre-shared-key address %s %s key %s", x.Addr, x.Mask, fmtSecret(x.Key))
		default:
			w.line(1, "pre-shared-key address %s key %s", x.Addr, fmtSecret(x.Key))
		}
	}
	w.bang()
}

func printISAKMPProfile(w *printer, p *ISAKMPProfile) {
	w.line(0, "crypto isakmp profile %s", p.Name)
	w.opt(1, "description", p.Description)
	for _, k := range p.Keyrings {
		w.line(1, "keyring %s", k)
	}
	for _, t := range p.TrustPoints {
		w.line(1, "ca trust-point %s", t)
	}
	for _, m := range p.Matches {
		w.line(1, "match identity %s", m)
	}
	w.opt(1, "client authentication list", p.AuthList)
	w.opt(1, "isakmp authorization list", p.AuthorList)
	w.opt(1, "client configuration address", p.ConfigAddress)
	w.opt(1, "client configuration group", p.ClientGroup)
	if s := p.SelfIdentity; s != nil {
		w.line(1, "%s", strings.TrimSpace("self-identity "+s.Kind+" "+s.Value))
	}
	if p.InitiateAggressive {
		w.line(1, "initiate mode aggressive")
	}
	w.opt(1, "local-address", p.LocalAddress)
	if ka := p.Keepalive; ka != nil {
		w.line(1, "keepalive %d retry %d", ka.Seconds, ka.Retry)
	}
	w.bang()
}
