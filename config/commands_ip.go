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
