package config

import (
	"slices"
	"strings"
)

// validateRadius checks the references of the RADIUS configuration: every
// server has an address and a key (its own or radius-server key), every
// group member exists, and every `group NAME` of a method list names a
// configured group.
func (p *parser) validateRadius() {
	c := p.cfg
	r := c.AAA.RADIUS
	hasGlobalKey := r != nil && !r.Key.IsZero()
	if r != nil {
		for _, s := range r.Servers {
			if !s.Addr.IsValid() {
				p.errf(s.Line, "radius server %s has no address; expected address ipv4 A", s.Name)
			}
			if s.Key.IsZero() && !hasGlobalKey {
				p.errf(s.Line, "radius server %s has no key; expected key K in it, or radius-server key K", s.Name)
			}
		}
		for _, h := range r.Hosts {
			if h.Key.IsZero() && !hasGlobalKey {
				p.errf(h.Line, "radius-server host %s has no key; expected key K on the line, or radius-server key K", h.Addr)
			}
		}
		for _, g := range r.Groups {
			if len(g.Members) == 0 {
				p.warnAt(g.Line, "aaa group server radius %s has no servers; a method list's group %s will always move on to its next method", g.Name, g.Name)
			}
			for _, m := range g.Members {
				switch {
				case m.Server != "":
					if r.RadiusServerByName(m.Server) == nil {
						p.errf(m.Line, "aaa group server radius %s: server name %s names no radius server; expected a \"radius server %s\" section", g.Name, m.Server, m.Server)
					}
				case m.Private == nil:
					if r.HostByAddr(m.Host, m.AuthPort, m.AcctPort) == nil {
						p.errf(m.Line, "aaa group server radius %s: server %s names no radius-server host; expected radius-server host %s, or server-private %s key K", g.Name, m.Host, m.Host, m.Host)
					}
				}
			}
		}
		if r.SourceInterface != nil && c.Interface(*r.SourceInterface) == nil {
			p.warnAt(r.SourceLine, "ip radius source-interface %s: no such interface in the configuration; requests leave from any address", r.SourceInterface)
		}
	}
	check := func(kind string, lists []MethodList) {
		for _, l := range lists {
			for _, m := range l.Methods {
				g, ok := strings.CutPrefix(m, "group ")
				if !ok {
					continue
				}
				if g == "radius" {
					if r == nil || len(r.Servers)+len(r.Hosts) == 0 {
						p.errf(l.Line, "aaa %s %s: group radius, but no RADIUS server is configured; expected radius server NAME or radius-server host A", kind, l.Name)
					}
					continue
				}
				if r == nil || r.GroupByName(g) == nil {
					p.errf(l.Line, "aaa %s %s: server group %q is not defined; expected aaa group server radius %s (or group radius)", kind, l.Name, g, g)
				}
			}
		}
	}
	check("authentication ppp", c.AAA.Authentication)
	check("authentication login", c.AAA.Login)
	check("authorization network", c.AAA.Authorization)
	check("accounting network", c.AAA.Accounting)
	check("accounting system", c.AAA.SystemAccounting)
	if r != nil && r.DynamicAuthor != nil {
		for _, cl := range r.DynamicAuthor.Clients {
			if cl.Key.IsZero() && r.DynamicAuthor.Key.IsZero() {
				p.errf(cl.Line, "aaa server radius dynamic-author: client %s has no key; expected client %s server-key KEY (or a server-key line)", cl.Addr, cl.Addr)
			}
		}
	}
	for _, ifc := range c.Interfaces {
		if l := ifc.PPPAcctList; l != "" && l != "default" && !slices.ContainsFunc(c.AAA.Accounting, func(m MethodList) bool { return m.Name == l }) {
			p.errf(ifc.Line, "interface %s: ppp accounting %s: no such list; expected aaa accounting network %s start-stop group radius", ifc.Name, l, l)
		}
	}
}
