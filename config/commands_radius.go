package config

import (
	"errors"
	"fmt"
	"net/netip"
)

// The port and timer arguments shared by radius-server host, address ipv4
// and server-private.
const (
	radiusPorts  = "[auth-port <ap:int:1-65535>] [acct-port <cp:int:1-65535>]"
	radiusTimers = "[timeout <t:int:1-1000>] [retransmit <n:int:0-100>]"
)

// radiusKey reads a `key [0|7] K` argument: type 0 (clear text) or 7.
func radiusKey(m *Match, what string) (Secret, error) {
	s, err := secret(m)
	if err != nil {
		return Secret{}, err
	}
	if s.Type != 0 && s.Type != 7 {
		return Secret{}, fmt.Errorf("%s: key type %d is not supported; expected 0 (clear text) or 7", what, s.Type)
	}
	return s, nil
}

// radiusServerFrom fills a server from the ports, timers and key of m.
func radiusServerFrom(m *Match, s *RadiusServer, what string) error {
	s.AuthPort, s.AcctPort = m.Int("ap"), m.Int("cp")
	s.Timeout, s.Retransmit = m.Int("t"), -1
	if m.Has("retransmit") {
		s.Retransmit = m.Int("n")
	}
	if m.Has("key") {
		k, err := radiusKey(m, what)
		if err != nil {
			return err
		}
		s.Key = k
	}
	return nil
}

func (p *parser) radiusServer() *RadiusServer { return p.cur.obj.(*RadiusServer) }
func (p *parser) radiusGroup() *RadiusGroup   { return p.cur.obj.(*RadiusGroup) }

// radiusCommands are the RADIUS client: servers, defaults, groups, the
// source interface; dynamic authorization and accounting updates are
// accepted without effect (later work).
var radiusCommands = []*command{
	{mode: mGlobal, spec: "radius server <name:word>", help: "Defines a RADIUS server by name and enters its mode (address ipv4, key, timeout, retransmit). `group radius` asks every RADIUS server in configuration order.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			name := m.Str("name")
			s := r.RadiusServerByName(name)
			if neg {
				if s != nil {
					r.Servers = without(r.Servers, s)
				}
				return nil
			}
			if s == nil {
				s = &RadiusServer{Name: name, Line: p.line, Retransmit: -1}
				r.Servers = append(r.Servers, s)
			}
			p.enter(mRadiusServer, s)
			return nil
		}},
	{mode: mRadiusServer, spec: "address ipv4 <addr:ipv4> " + radiusPorts, help: "The server's address and UDP ports; the ports default to 1812 and 1813 (RFC 2865, RFC 2866; IOS's default is the older 1645 and 1646).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			s := p.radiusServer()
			if neg {
				s.Addr, s.AuthPort, s.AcctPort = netip.Addr{}, 0, 0
				return nil
			}
			s.Addr, s.AuthPort, s.AcctPort = m.Addr("addr"), m.Int("ap"), m.Int("cp")
			return nil
		}},
	{mode: mRadiusServer, spec: "key " + passwordSpec, help: "The secret shared with the server; type 0 is clear text, 7 the Cisco reversible encoding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			s := p.radiusServer()
			if neg {
				s.Key = Secret{}
				return nil
			}
			k, err := radiusKey(m, "radius server "+s.Name)
			s.Key = k
			return err
		}},
	{mode: mRadiusServer, spec: "timeout <t:int:1-1000>", help: "Seconds to wait for an answer before retransmitting (default: radius-server timeout, 5).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.radiusServer().Timeout, m.Int("t"), neg); return nil }},
	{mode: mRadiusServer, spec: "retransmit <n:int:0-100>", help: "Retransmissions before the next server is tried (default: radius-server retransmit, 3).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.radiusServer().Retransmit = m.Int("n")
			if neg {
				p.radiusServer().Retransmit = -1
			}
			return nil
		}},
	{mode: mGlobal, spec: "radius-server host <addr:ipv4> " + radiusPorts + " " + radiusTimers + " [key " + passwordSpec + "]", help: "A RADIUS server (the older form of radius server); without key it uses radius-server key.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			a, ap, cp := m.Addr("addr"), m.Int("ap"), m.Int("cp")
			var keep []*RadiusServer
			for _, h := range r.Hosts {
				if h.Addr != a || (ap != 0 && h.AuthPort != ap) || (cp != 0 && h.AcctPort != cp) {
					keep = append(keep, h)
				}
			}
			r.Hosts = keep
			if neg {
				return nil
			}
			s := &RadiusServer{Addr: a, Line: p.line}
			if err := radiusServerFrom(m, s, "radius-server host "+a.String()); err != nil {
				return err
			}
			r.Hosts = append(r.Hosts, s)
			return nil
		}},
	{mode: mGlobal, spec: "radius-server key " + passwordSpec, help: "The secret of RADIUS servers configured without their own key.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			if neg {
				r.Key = Secret{}
				return nil
			}
			k, err := radiusKey(m, "radius-server key")
			r.Key = k
			return err
		}},
	{mode: mGlobal, spec: "radius-server timeout <t:int:1-1000>", help: "Seconds to wait for a RADIUS answer before retransmitting (default 5).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.cfg.Radius().Timeout, m.Int("t"), neg); return nil }},
	{mode: mGlobal, spec: "radius-server retransmit <n:int:0-100>", help: "Retransmissions of a RADIUS request to one server before the next is tried (default 3).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.cfg.Radius().Retransmit = m.Int("n")
			if neg {
				p.cfg.Radius().Retransmit = -1
			}
			return nil
		}},
	{mode: mGlobal, spec: "radius-server deadtime <d:int:0-1440>", help: "Minutes a RADIUS server that did not answer is skipped while another server of its group lives (default 0: never skipped).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.cfg.Radius().Deadtime, m.Int("d"), neg); return nil }},
	{mode: mGlobal, spec: "aaa group server radius <name:word>", help: "A RADIUS server group for method lists (`group NAME`) and enters its mode; its servers are asked in order.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			name := m.Str("name")
			g := r.GroupByName(name)
			if neg {
				if g != nil {
					r.Groups = without(r.Groups, g)
				}
				return nil
			}
			if name == "radius" {
				return fmt.Errorf("aaa group server radius radius: %q names the group of every RADIUS server; expected another name", name)
			}
			if g == nil {
				g = &RadiusGroup{Name: name, Line: p.line}
				r.Groups = append(r.Groups, g)
			}
			p.enter(mRadiusGroup, g)
			return nil
		}},
	{mode: mRadiusGroup, spec: "server name <server:word>", help: "A member: the `radius server` of that name.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.radiusGroup()
			name := m.Str("server")
			var keep []*RadiusGroupMember
			for _, x := range g.Members {
				if x.Server != name {
					keep = append(keep, x)
				}
			}
			g.Members = keep
			if !neg {
				g.Members = append(g.Members, &RadiusGroupMember{Server: name, Line: p.line})
			}
			return nil
		}},
	{mode: mRadiusGroup, spec: "server <addr:ipv4> " + radiusPorts, help: "A member: the `radius-server host` at that address (and ports).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.radiusGroup()
			mem := &RadiusGroupMember{Host: m.Addr("addr"), AuthPort: m.Int("ap"), AcctPort: m.Int("cp"), Line: p.line}
			var keep []*RadiusGroupMember
			for _, x := range g.Members {
				if x.Host != mem.Host || x.AuthPort != mem.AuthPort || x.AcctPort != mem.AcctPort {
					keep = append(keep, x)
				}
			}
			g.Members = keep
			if !neg {
				g.Members = append(g.Members, mem)
			}
			return nil
		}},
	{mode: mRadiusGroup, spec: "server-private <addr:ipv4> " + radiusPorts + " " + radiusTimers + " key " + passwordSpec, help: "A member known only to this group, with its own key.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.radiusGroup()
			a := m.Addr("addr")
			var keep []*RadiusGroupMember
			for _, x := range g.Members {
				if x.Private == nil || x.Private.Addr != a {
					keep = append(keep, x)
				}
			}
			g.Members = keep
			if neg {
				return nil
			}
			s := &RadiusServer{Addr: a, Line: p.line}
			if err := radiusServerFrom(m, s, "server-private "+a.String()); err != nil {
				return err
			}
			g.Members = append(g.Members, &RadiusGroupMember{Private: s, Line: p.line})
			return nil
		}},
	{mode: mGlobal, spec: "ip radius source-interface <iface:interface>", help: "RADIUS requests leave from this interface's address, which is also their NAS-IP-Address.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			r.SourceInterface, r.SourceLine = ifArg(m, "iface"), p.line
			if neg {
				r.SourceInterface, r.SourceLine = nil, 0
			}
			return nil
		}},
	{mode: mGlobal, spec: "aaa server radius dynamic-author", help: "RFC 5176 dynamic authorization (Disconnect-Request, CoA-Request changing Session-Timeout and Idle-Timeout): enters its mode (client, server-key, port).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			if neg {
				r.DynamicAuthor = nil
				return nil
			}
			if r.DynamicAuthor == nil {
				r.DynamicAuthor = &DynamicAuthor{Line: p.line}
			}
			p.enter(mDynAuthor, r.DynamicAuthor)
			return nil
		}},
	{mode: mDynAuthor, spec: "client <addr:ipv4> [server-key " + passwordSpec + "]", help: "A client allowed to send CoA and Disconnect requests, with its key (without one, the mode's server-key).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			da := p.cur.obj.(*DynamicAuthor)
			a := m.Addr("addr")
			var keep []*DynamicAuthorClient
			for _, c := range da.Clients {
				if c.Addr != a {
					keep = append(keep, c)
				}
			}
			da.Clients = keep
			if neg {
				return nil
			}
			var k Secret
			if m.Has("server-key") {
				var err error
				if k, err = radiusKey(m, "client "+a.String()); err != nil {
					return err
				}
			}
			da.Clients = append(da.Clients, &DynamicAuthorClient{Addr: a, Key: k, Line: p.line})
			return nil
		}},
	{mode: mDynAuthor, spec: "server-key " + passwordSpec, help: "The key of the clients configured without one.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			da := p.cur.obj.(*DynamicAuthor)
			if neg {
				da.Key = Secret{}
				return nil
			}
			k, err := radiusKey(m, "server-key")
			if err != nil {
				return err
			}
			da.Key = k
			return nil
		}},
	{mode: mDynAuthor, spec: "port <port:int:1-65535>", help: "The UDP port CoA and Disconnect requests come to (default 3799, RFC 5176's; IOS's is 1700).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cur.obj.(*DynamicAuthor).Port, m.Int("port"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "aaa accounting update [newinfo] [periodic <n:int:1-71582>]", help: "Interim-Update accounting records: `newinfo` when a session learns something its Start could not tell (its IPv6 prefix, when IPv6CP opens after IPCP); `periodic N` every N minutes (a user's Acct-Interim-Interval overrides it). One line sets both; the no form clears both.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cfg.Radius()
			if neg {
				r.AccountingUpdate, r.AccountingNewInfo = 0, false
				return nil
			}
			if !m.Has("newinfo") && !m.Has("periodic") {
				return errors.New("aaa accounting update: expected newinfo, periodic N, or both")
			}
			r.AccountingNewInfo, r.AccountingUpdate = m.Has("newinfo"), m.Int("n")
			return nil
		}},
}
