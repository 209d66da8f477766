package config

import (
	"fmt"
	"net/netip"
)

// ipCommands are the address pools and static routes.
var ipCommands = []*command{
	{mode: mGlobal, spec: "ip local pool <name:word> <start:ipv4> [<end:ipv4>]", help: "Adds the range START..END (or the single address START) to the address pool NAME; repeat to add ranges.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			start := m.Addr("start")
			end := start
			if m.Str("end") != "" {
				end = m.Addr("end")
			}
			pl := p.cfg.PoolByName(name)
			if neg {
				if pl == nil {
					return fmt.Errorf("no ip local pool %q to remove", name)
				}
				if m.Str("start") != "" {
					for i, r := range pl.Ranges {
						if r.Start == start && r.End == end {
							pl.Ranges = append(pl.Ranges[:i], pl.Ranges[i+1:]...)
							break
						}
					}
					if len(pl.Ranges) > 0 {
						return nil
					}
				}
				p.cfg.IP.Pools = without(p.cfg.IP.Pools, pl)
				return nil
			}
			if end.Less(start) {
				return fmt.Errorf("ip local pool %s: start %s is above end %s; expected START <= END", name, start, end)
			}
			if rangeSize(start, end) > 1<<24 {
				return fmt.Errorf("ip local pool %s: range %s-%s holds more than 2^24 addresses; expected a smaller range", name, start, end)
			}
			if pl == nil {
				pl = &Pool{Name: name, Line: p.line}
				p.cfg.IP.Pools = append(p.cfg.IP.Pools, pl)
			}
			for _, r := range pl.Ranges {
				if !(end.Less(r.Start) || r.End.Less(start)) {
					return fmt.Errorf("ip local pool %s: range %s-%s overlaps %s-%s (line %d); expected disjoint ranges", name, start, end, r.Start, r.End, r.Line)
				}
			}
			pl.Ranges = append(pl.Ranges, PoolRange{Start: start, End: end, Line: p.line})
			return nil
		}},

	{mode: mGlobal, spec: "ipv6 local pool <name:word> <prefix:ipv6prefix> <len:int:1-128>", help: "The IPv6 prefix pool NAME: each PPP session takes one prefix of LEN bits out of PREFIX (`peer default ipv6 pool NAME`), advertised to it in Router Advertisements for SLAAC; LEN must be 64.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			old := p.cfg.IPv6PoolByName(name)
			if neg {
				if old == nil {
					return fmt.Errorf("no ipv6 local pool %q to remove", name)
				}
				p.cfg.IP.IPv6Pools = without(p.cfg.IP.IPv6Pools, old)
				return nil
			}
			pfx, n := m.Prefix("prefix"), m.Int("len")
			switch {
			case pfx.Masked() != pfx:
				return fmt.Errorf("ipv6 local pool %s: %s has bits beyond its length; expected %s", name, pfx, pfx.Masked())
			case n != 64:
				// RFC 4862 §5.5.3: SLAAC forms addresses from /64 prefixes only.
				return fmt.Errorf("ipv6 local pool %s: assigned length %d is not supported yet; expected 64 (a /64 per session, for SLAAC)", name, n)
			case pfx.Bits() > n:
				return fmt.Errorf("ipv6 local pool %s: %s is longer than the assigned length %d; expected a prefix of at most /%d", name, pfx, n, n)
			case pfx.Bits() < 32:
				return fmt.Errorf("ipv6 local pool %s: %s holds more than 2^32 prefixes; expected a prefix of /32 or longer", name, pfx)
			}
			pl := &IPv6Pool{Name: name, Prefix: pfx, AssignLen: n, Line: p.line}
			if old != nil {
				*old = *pl
				return nil
			}
			p.cfg.IP.IPv6Pools = append(p.cfg.IP.IPv6Pools, pl)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 enable", help: "IPv6 on the interface: on a Virtual-Template, its sessions negotiate IPv6CP (RFC 5072), get a link-local address, and vpdn answers Router Solicitations and sends Router Advertisements with the session's prefix, and delegates the authorization's Delegated-IPv6-Prefix by DHCPv6; on a Virtual-PPP or Dialer (a client), IPv6CP and the link-local address (an address needs ipv6 address autoconfig).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := &p.iface().IPv6
			set(&v.Enable, true, neg)
			set(&v.Line, p.line, neg)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 address autoconfig [default]", help: "On a Virtual-PPP or Dialer (a client): take the address from the server's Router Advertisement (SLAAC, RFC 4862) once IPv6CP is open; with default, also a default route through the session.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := &p.iface().IPv6
			set(&v.Autoconfig, true, neg)
			set(&v.AutoconfigDefault, m.Has("default"), neg)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 dhcp client pd <name:word> [rapid-commit]", help: "On a Virtual-PPP or Dialer (a client): ask the server for delegated prefixes by DHCPv6 (RFC 8415) once IPv6CP is open, with Rapid Commit (two messages) if asked; shown in show caller user.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := &p.iface().IPv6
			set(&v.PDName, m.Str("name"), neg)
			set(&v.PDRapidCommit, m.Has("rapid-commit"), neg)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 nd ra interval <secs:int:4-1800>", help: "Seconds between unsolicited Router Advertisements on the interface's sessions (default 200).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().IPv6.RAInterval, m.Int("secs"), neg)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 nd ra lifetime <secs:int:0-9000>", help: "The Router Lifetime of the advertisements, in seconds (default 1800; 0: not a default router).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			n := m.Int("secs")
			set(&p.iface().IPv6.RALifetime, &n, neg)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 nd ra suppress", help: "Send no Router Advertisements, periodic or solicited; `no ipv6 nd ra suppress` sends them again.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().IPv6.RASuppress, true, neg)
			return nil
		}},
	{mode: mInterface, spec: "ipv6 nd prefix {default | <prefix:ipv6prefix>} [<valid:int:0-4294967295> <preferred:int:0-4294967295>]", help: "A /64 prefix advertised to sessions that get none of their own (no Framed-IPv6-Prefix, no `peer default ipv6 pool`), or with default the lifetimes of every advertised prefix (seconds; default 2592000 and 604800).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := &p.iface().IPv6
			if !m.Has("default") {
				pfx := m.Prefix("prefix")
				if !neg && (pfx.Bits() != 64 || pfx.Masked() != pfx) {
					return fmt.Errorf("ipv6 nd prefix %s: expected a /64 prefix without host bits (SLAAC forms addresses from /64s)", pfx)
				}
				set(&v.Prefix, pfx, neg)
			}
			if m.Str("valid") == "" {
				if m.Has("default") && neg {
					v.Valid, v.Preferred = nil, nil
				}
				return nil
			}
			valid, pref := uint32(m.Int("valid")), uint32(m.Int("preferred"))
			if pref > valid {
				return fmt.Errorf("ipv6 nd prefix: preferred lifetime %d is above the valid lifetime %d; expected PREFERRED <= VALID (RFC 4861 §4.6.2)", pref, valid)
			}
			set(&v.Valid, &valid, neg)
			set(&v.Preferred, &pref, neg)
			return nil
		}},
	{mode: mInterface, spec: "peer default ipv6 pool <pool:word>", help: "The `ipv6 local pool` the sessions of this Virtual-Template take their prefix from, when the authorization gives none (Framed-IPv6-Prefix).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := &p.iface().IPv6
			set(&v.PeerPool, m.Str("pool"), neg)
			set(&v.PeerPoolLine, p.line, neg)
			return nil
		}},

	{mode: mGlobal, spec: "ip route <prefix:ipv4> <mask:mask> {<nexthop:ipv4> | <iface:interface> [<via:ipv4>]} [<distance:int:1-255>]", help: "A static route. Routes through a Virtual-PPP interface are installed while its session is up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Str("mask") == "" || (m.Str("nexthop") == "" && m.Str("iface") == "") {
				return fmt.Errorf("no ip route: expected PREFIX MASK and the next hop or interface of the route to remove")
			}
			bits, _ := maskBits(m.Addr("mask"))
			pfx := netip.PrefixFrom(m.Addr("prefix"), bits)
			if pfx.Masked() != pfx {
				return fmt.Errorf("ip route %s %s: the address has bits outside the mask; expected %s", m.Str("prefix"), m.Str("mask"), pfx.Masked().Addr())
			}
			r := &Route{Prefix: pfx, Iface: ifArg(m, "iface"), NextHop: m.Addr("nexthop"), Distance: m.Int("distance"), Line: p.line}
			if r.Iface != nil && m.Str("via") != "" {
				r.NextHop = m.Addr("via")
			}
			for i, o := range p.cfg.IP.Routes {
				if o.Prefix == r.Prefix && sameIf(o.Iface, r.Iface) && o.NextHop == r.NextHop {
					if neg {
						p.cfg.IP.Routes = append(p.cfg.IP.Routes[:i], p.cfg.IP.Routes[i+1:]...)
						return nil
					}
					o.Distance = r.Distance
					return nil
				}
			}
			if neg {
				return fmt.Errorf("no such route to remove: %s", pfx)
			}
			p.cfg.IP.Routes = append(p.cfg.IP.Routes, r)
			return nil
		}},
}

func rangeSize(a, b netip.Addr) uint64 {
	x, y := a.As4(), b.As4()
	u := uint64(x[0])<<24 | uint64(x[1])<<16 | uint64(x[2])<<8 | uint64(x[3])
	v := uint64(y[0])<<24 | uint64(y[1])<<16 | uint64(y[2])<<8 | uint64(y[3])
	return v - u + 1
}

func sameIf(a, b *IfName) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
