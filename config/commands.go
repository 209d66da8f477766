package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// command is one entry of the command table: the grammar, its help text and
// what it does to the model. The table is the single source of the parser
// and of the configuration reference (docs/configuration.md).
type command struct {
	mode   mode
	spec   string
	help   string
	noForm bool
	// later, when set, names the later work this command belongs to; the
	// command is recognised and refused with "not supported yet".
	later string
	// inert, when set, says why the command is accepted (it is kept in
	// the model and printed) but has no effect yet; using it warns.
	inert string
	apply func(p *parser, m *Match, neg bool) error

	elem *elem
}

func (c *command) syntax() string { return c.elem.String() }

var commandsByMode [nModes][]*command

func init() {
	for _, c := range commandTable {
		c.elem = compile(c.spec)
		commandsByMode[c.mode] = append(commandsByMode[c.mode], c)
	}
}

// Commands returns the command table, for the reference generator.
func Commands() []CommandDoc {
	var out []CommandDoc
	for _, c := range commandTable {
		out = append(out, CommandDoc{Mode: c.mode.String(), Prompt: modePrompts[c.mode], Syntax: c.syntax(), Help: c.help, NoForm: c.noForm, Later: c.later, Inert: c.inert})
	}
	return out
}

// CommandDoc describes one command for documentation.
type CommandDoc struct {
	Mode, Prompt, Syntax, Help string
	NoForm                     bool
	Later                      string
	Inert                      string
}

func (p *parser) group() *VPDNGroup     { return p.cur.obj.(*VPDNGroup) }
func (p *parser) iface() *Interface     { return p.cur.obj.(*Interface) }
func (p *parser) l2tpClass() *L2TPClass { return p.cur.obj.(*L2TPClass) }
func (p *parser) pwClass() *PWClass     { return p.cur.obj.(*PWClass) }
func (p *parser) xconnect() *Xconnect   { return p.cur.obj.(*Xconnect) }

// accept returns the accept-dialin or request-dialin object of the frame.
func (p *parser) dialinProtocol(proto Protocol) {
	switch o := p.cur.obj.(type) {
	case *AcceptDialin:
		o.Protocol = proto
	case *RequestDialin:
		o.Protocol = proto
	}
}

func secret(m *Match) (Secret, error) {
	s := Secret{Value: m.Str("password")}
	if t := m.Str("type"); t != "" {
		s.Type, _ = strconv.Atoi(t)
	}
	if s.Type == 7 {
		if err := checkType7(s.Value); err != nil {
			return Secret{}, err
		}
	}
	return s, nil
}

// checkType7 validates the syntax of a Cisco type-7 string: two decimal
// digits (the key offset, 0-15 in practice up to 52) then pairs of hex.
func checkType7(s string) error {
	if len(s) < 4 || len(s)%2 != 0 {
		return fmt.Errorf("type 7 password %q: expected an even number of characters, at least 4", s)
	}
	if n, err := strconv.Atoi(s[:2]); err != nil || n > 52 {
		return fmt.Errorf("type 7 password %q: expected two decimal digits 00-52 first", s)
	}
	for _, c := range strings.ToLower(s[2:]) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return fmt.Errorf("type 7 password %q: expected hexadecimal digits after the first two", s)
		}
	}
	return nil
}

func ifArg(m *Match, name string) *IfName {
	s := m.Str(name)
	if s == "" {
		return nil
	}
	n, err := ParseInterfaceName(s)
	if err != nil {
		return nil
	}
	return &n
}

const passwordSpec = "[<type:int:0-7>] <password:word>"

var commandTable = []*command{
	// ---- global -------------------------------------------------------
	{mode: mGlobal, spec: "hostname <name:word>", help: "Name of this system; the default local tunnel name.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.cfg.Hostname = ""
			if !neg {
				p.cfg.Hostname = m.Str("name")
			}
			return nil
		}},
	{mode: mGlobal, spec: "version <v:word>", help: "Accepted for compatibility with IOS configurations; ignored.",
		apply: func(p *parser, m *Match, neg bool) error { return nil }},
	{inert: "vpdn has no such IOS services; the switch is kept for the record", mode: mGlobal, spec: "service {internal | timestamps <rest:line> | password-encryption}", help: "IOS service switches. `service internal` is accepted (document 004 uses it for PPTP clients); the others are accepted and ignored.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Has("internal") {
				p.cfg.ServiceOptions = removeStr(p.cfg.ServiceOptions, "internal")
				if !neg {
					p.cfg.ServiceOptions = append(p.cfg.ServiceOptions, "internal")
				}
			}
			return nil
		}},
	{mode: mGlobal, spec: "vpdn enable", help: "Enables virtual private dialup networking: without it no tunnel is accepted or initiated.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cfg.VPDNEnabled = !neg; return nil }},
	{mode: mGlobal, spec: "vpdn metrics listen <addr:word>", help: "vpdn extension: serve Prometheus metrics on ADDR:PORT (e.g. 127.0.0.1:9180).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.cfg.Metrics.Listen = ""
				return nil
			}
			if _, err := netip.ParseAddrPort(m.Str("addr")); err != nil {
				return fmt.Errorf("vpdn metrics listen %q: expected ADDRESS:PORT, e.g. 127.0.0.1:9180", m.Str("addr"))
			}
			p.cfg.Metrics.Listen = m.Str("addr")
			return nil
		}},
	{mode: mGlobal, spec: "vpdn l2tp listen <addr:word>", help: "vpdn extension: the address and UDP port L2TP is served on (default 0.0.0.0:1701, every address as IOS does).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.cfg.L2TPListen = ""
				return nil
			}
			ap, err := netip.ParseAddrPort(m.Str("addr"))
			if err != nil || !ap.Addr().Is4() {
				return fmt.Errorf("vpdn l2tp listen %q: expected IPv4-ADDRESS:PORT, e.g. 198.18.0.2:1701", m.Str("addr"))
			}
			p.cfg.L2TPListen = ap.String()
			return nil
		}},
	{mode: mGlobal, spec: "vpdn virtual-access shared", help: "vpdn extension: carry every Virtual-Access session on one interface, vpdn0, with a host route per peer, instead of one TUN per session (for many sessions; routing protocols then cannot run per session).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cfg.SharedAccess = !neg; return nil }},
	{mode: mGlobal, spec: "vpdn-group <name:word>", help: "Defines a VPDN group and enters its mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			g := p.cfg.Group(name)
			if neg {
				if g == nil {
					return fmt.Errorf("no vpdn-group %q to remove", name)
				}
				p.cfg.VPDNGroups = removePtr(p.cfg.VPDNGroups, g)
				return nil
			}
			if g == nil {
				g = &VPDNGroup{Name: name, Line: p.line}
				p.cfg.VPDNGroups = append(p.cfg.VPDNGroups, g)
			}
			p.enter(mVPDNGroup, g)
			return nil
		}},
	{mode: mGlobal, spec: "interface <name:interface>", help: "Configures an interface and enters its mode: Virtual-Template N, Virtual-PPP N, Loopback N, Dialer N, or a physical interface by its IOS name (GigabitEthernet0/0) or Linux name (eth0).",
		apply: func(p *parser, m *Match, neg bool) error {
			n := *ifArg(m, "name")
			if n.Kind == IfVirtualAccess {
				return fmt.Errorf("interface %s: Virtual-Access interfaces are cloned from a Virtual-Template at run time; expected interface Virtual-Template N", n)
			}
			if n.Kind == IfTunnel {
				return fmt.Errorf("interface %s: GRE tunnel interfaces are not supported yet (later work: GRE/DMVPN)", n)
			}
			ifc := p.cfg.Interface(n)
			if ifc == nil {
				ifc = &Interface{Name: n, Line: p.line, PeerDefault: PeerDefault{}}
				p.cfg.Interfaces = append(p.cfg.Interfaces, ifc)
			}
			p.enter(mInterface, ifc)
			return nil
		}},
	{mode: mGlobal, spec: "l2tp-class [<name:word>]", help: "Defines a template of L2TP control-channel parameters and enters its mode. Without a name, the class \"default\".", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			if name == "" {
				name = "default"
			}
			c := p.cfg.L2TPClassByName(name)
			if neg {
				if c == nil {
					return fmt.Errorf("no l2tp-class %q to remove", name)
				}
				p.cfg.L2TPClasses = removePtr(p.cfg.L2TPClasses, c)
				return nil
			}
			if c == nil {
				c = &L2TPClass{Name: name, Line: p.line}
				p.cfg.L2TPClasses = append(p.cfg.L2TPClasses, c)
			}
			p.enter(mL2TPClass, c)
			return nil
		}},
	{mode: mGlobal, spec: "pseudowire-class [<name:word>]", help: "Defines a template of pseudowire (session) parameters and enters its mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			if name == "" {
				name = "default"
			}
			c := p.cfg.PWClassByName(name)
			if neg {
				if c == nil {
					return fmt.Errorf("no pseudowire-class %q to remove", name)
				}
				p.cfg.PWClasses = removePtr(p.cfg.PWClasses, c)
				return nil
			}
			if c == nil {
				c = &PWClass{Name: name, Line: p.line, TOSValue: -1}
				p.cfg.PWClasses = append(p.cfg.PWClasses, c)
			}
			p.enter(mPWClass, c)
			return nil
		}},
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
				p.cfg.Pools = removePtr(p.cfg.Pools, pl)
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
				p.cfg.Pools = append(p.cfg.Pools, pl)
			}
			for _, r := range pl.Ranges {
				if !(end.Less(r.Start) || r.End.Less(start)) {
					return fmt.Errorf("ip local pool %s: range %s-%s overlaps %s-%s (line %d); expected disjoint ranges", name, start, end, r.Start, r.End, r.Line)
				}
			}
			pl.Ranges = append(pl.Ranges, PoolRange{Start: start, End: end, Line: p.line})
			return nil
		}},
	{mode: mGlobal, spec: "username <name:word> [privilege <priv:int:0-15>] password " + passwordSpec, help: "A local user for PPP authentication (and for L2TP tunnel authentication by host name). Type 0 is clear text, 7 the Cisco reversible encoding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			u := p.cfg.User(name)
			if neg {
				if u != nil {
					p.cfg.Users = removePtr(p.cfg.Users, u)
				}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			if s.Type != 0 && s.Type != 7 {
				return fmt.Errorf("username %s: password type %d is not supported; expected 0 (clear text) or 7", name, s.Type)
			}
			if u != nil {
				if !u.Password.IsZero() {
					p.warnf("username %s is defined again (first on line %d); the later definition wins", name, u.Line)
				}
				u.Password, u.Line = s, p.line
				u.Privilege = m.Int("priv")
				return nil
			}
			p.cfg.Users = append(p.cfg.Users, &User{Name: name, Line: p.line, Password: s, Privilege: m.Int("priv")})
			return nil
		}},
	{mode: mGlobal, spec: "username <name:word> aaa attribute list <list:word>", help: "Authorize the user with the attributes of an aaa attribute list (static address, pool, DNS, routes).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			u := p.cfg.User(name)
			if u == nil {
				if neg {
					return nil
				}
				u = &User{Name: name, Line: p.line}
				p.cfg.Users = append(p.cfg.Users, u)
			}
			u.AttrList, u.AttrListLine = "", p.line
			if !neg {
				u.AttrList = m.Str("list")
			}
			return nil
		}},
	{mode: mGlobal, spec: "aaa attribute list <name:word>", help: "Defines authorization attributes for local users and domains, and enters its mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			l := p.cfg.AttrListByName(name)
			if neg {
				if l != nil {
					p.cfg.AAA.AttrLists = removePtr(p.cfg.AAA.AttrLists, l)
				}
				return nil
			}
			if l == nil {
				l = &AttrList{Name: name, Line: p.line}
				p.cfg.AAA.AttrLists = append(p.cfg.AAA.AttrLists, l)
			}
			p.enter(mAttrList, l)
			return nil
		}},
	{mode: mAttrList, spec: "attribute type {addr <addr:ipv4> | addr-pool <pool:word> | primary-dns <dns1:ipv4> | secondary-dns <dns2:ipv4> | route <rp:ipv4> <rm:mask> | session-timeout <st:int:0-2147483647> | idletime <it:int:0-2147483647>} [service ppp] [protocol ip]", help: "One attribute: the peer's address (Framed-IP-Address), its pool, DNS servers, a route to the peer's network (Framed-Route), timeouts in seconds.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			l := p.cur.obj.(*AttrList)
			switch {
			case m.Has("addr"):
				l.Addr = netip.Addr{}
				if !neg {
					l.Addr = m.Addr("addr")
				}
			case m.Has("addr-pool"):
				l.Pool = ""
				if !neg {
					l.Pool = m.Str("pool")
				}
			case m.Has("primary-dns"):
				l.PrimaryDNS = netip.Addr{}
				if !neg {
					l.PrimaryDNS = m.Addr("dns1")
				}
			case m.Has("secondary-dns"):
				l.SecondaryDNS = netip.Addr{}
				if !neg {
					l.SecondaryDNS = m.Addr("dns2")
				}
			case m.Has("route"):
				if m.Str("rm") == "" {
					l.Routes = nil
					return nil
				}
				bits, _ := maskBits(m.Addr("rm"))
				pfx := netip.PrefixFrom(m.Addr("rp"), bits)
				if pfx.Masked() != pfx {
					return fmt.Errorf("attribute type route %s %s: the address has bits outside the mask; expected %s", m.Str("rp"), m.Str("rm"), pfx.Masked().Addr())
				}
				var keep []netip.Prefix
				for _, r := range l.Routes {
					if r != pfx {
						keep = append(keep, r)
					}
				}
				l.Routes = keep
				if !neg {
					l.Routes = append(l.Routes, pfx)
				}
			case m.Has("session-timeout"):
				l.SessionTimeout = intOrZero(m, "st", neg)
			case m.Has("idletime"):
				l.IdleTimeout = intOrZero(m, "it", neg)
			}
			return nil
		}},
	{mode: mGlobal, spec: "aaa domain <domain:word> attribute list <list:word>", help: "vpdn extension: users named USER@DOMAIN get the attributes of the list where they have none of their own (document 002: a pool per department).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := strings.ToLower(m.Str("domain"))
			var keep []*Domain
			for _, d := range p.cfg.AAA.Domains {
				if d.Name != name {
					keep = append(keep, d)
				}
			}
			p.cfg.AAA.Domains = keep
			if !neg {
				p.cfg.AAA.Domains = append(p.cfg.AAA.Domains, &Domain{Name: name, AttrList: m.Str("list"), Line: p.line})
			}
			return nil
		}},
	{mode: mGlobal, spec: "aaa domain-stripping [delimiter <delim:word>]", help: "vpdn extension (after radius-server domain-stripping): look local users up without their @domain; the delimiter is one character, default @.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.cfg.AAA.DomainStripping, p.cfg.AAA.Delimiter = !neg, ""
			if d := m.Str("delim"); d != "" && !neg {
				if len(d) != 1 {
					return fmt.Errorf("aaa domain-stripping delimiter %q: expected one character such as @ or %%", d)
				}
				p.cfg.AAA.Delimiter = d
			}
			return nil
		}},
	{mode: mGlobal, spec: "username <name:word> nopassword", help: "Removes a local user's password (IOS form); vpdn refuses it because a PPP user needs a secret.",
		apply: func(p *parser, m *Match, neg bool) error {
			return fmt.Errorf("username %s nopassword: a PPP user needs a password; expected username %s password PASSWORD", m.Str("name"), m.Str("name"))
		}},
	{mode: mGlobal, spec: "aaa new-model", help: "Enables the AAA access control model.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cfg.AAA.NewModel = !neg; return nil }},
	{mode: mGlobal, spec: "aaa authentication ppp {default | <list:word>} {local | none | if-needed | group <server:word> | local-case}...", help: "The method list PPP authentication uses: `local` checks `username` entries, `none` accepts anyone; `group radius` comes with the RADIUS work.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			return setMethodList(p, &p.cfg.AAA.Authentication, "ppp", m, neg)
		}},
	{mode: mGlobal, spec: "aaa authorization network {default | <list:word>} {local | none | if-authenticated | group <server:word>}...", help: "The method list for network (PPP) authorization: addresses, pools, routes.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			return setMethodList(p, &p.cfg.AAA.Authorization, "network", m, neg)
		}},
	{inert: "accounting records are not sent anywhere yet (RADIUS accounting is later work)", mode: mGlobal, spec: "aaa accounting network {default | <list:word>} {start-stop | stop-only | none} {local | group <server:word>}...", help: "The method list for network accounting.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			return setMethodList(p, &p.cfg.AAA.Accounting, "network", m, neg)
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
			for i, o := range p.cfg.Routes {
				if o.Prefix == r.Prefix && sameIf(o.Iface, r.Iface) && o.NextHop == r.NextHop {
					if neg {
						p.cfg.Routes = append(p.cfg.Routes[:i], p.cfg.Routes[i+1:]...)
						return nil
					}
					o.Distance = r.Distance
					return nil
				}
			}
			if neg {
				return fmt.Errorf("no such route to remove: %s", pfx)
			}
			p.cfg.Routes = append(p.cfg.Routes, r)
			return nil
		}},

	// Later work, recognised and refused.
	{mode: mGlobal, spec: "crypto <rest:line>", help: "IPsec: later work.", later: "IPsec (crypto isakmp, ipsec, map, keyring) is later work"},
	{mode: mGlobal, spec: "controller isa <slot:word>", help: "The ISA MPPE offload card of document 001. Accepted and kept so configurations carry over; vpdn does MPPE in software, so it has no effect (a warning says so).",
		apply: func(p *parser, m *Match, neg bool) error {
			slot := strings.ReplaceAll(m.Str("slot"), " ", "")
			name := "ISA " + slot
			for _, c := range p.cfg.Controllers {
				if c.Name == name {
					p.enter(mController, c)
					return nil
				}
			}
			c := &Controller{Name: name, Line: p.line}
			p.cfg.Controllers = append(p.cfg.Controllers, c)
			p.warnf("controller %s: vpdn does MPPE in software; the ISA controller settings have no effect", name)
			p.enter(mController, c)
			return nil
		}},
	{mode: mGlobal, spec: "controller <rest:line>", help: "Other hardware controllers (T1, E1, ...): vpdn has none.", later: "vpdn has no hardware controllers other than the ISA MPPE card"},
	{mode: mController, spec: "encryption mppe", help: "ISA card: offload MPPE (no effect in vpdn).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cur.obj.(*Controller).EncryptionMPPE = !neg; return nil }},
	{mode: mGlobal, spec: "router <rest:line>", help: "Routing protocols: vpdn does not run an IGP; run FRR on the Virtual-Access / Virtual-PPP interfaces.", later: "vpdn runs no routing protocol; run FRR over its Virtual-Access and Virtual-PPP interfaces"},
	{mode: mGlobal, spec: "ip access-list <rest:line>", help: "Access lists: later work with IPsec.", later: "access lists come with the IPsec work"},
	{mode: mGlobal, spec: "access-list <rest:line>", help: "Numbered access lists: later work.", later: "access lists come with the IPsec work"},
	{mode: mGlobal, spec: "ip dhcp <rest:line>", help: "DHCP pools: later work.", later: "ip dhcp (address assignment by DHCP) is later work"},
	{mode: mGlobal, spec: "ip nhrp <rest:line>", help: "NHRP: later work (DMVPN).", later: "NHRP is later work (DMVPN)"},
	{mode: mGlobal, spec: "l2tp <rest:line>", help: "Global L2TP settings (l2tp congestion-control, ...): later work.", later: "global l2tp settings are later work; use l2tp-class or vpdn-group settings"},
	{mode: mGlobal, spec: "radius-server <rest:line>", help: "RADIUS servers: later work.", later: "RADIUS is later work"},
	{mode: mGlobal, spec: "radius server <rest:line>", help: "RADIUS servers: later work.", later: "RADIUS is later work"},

	// ---- vpdn-group -----------------------------------------------------
	{mode: mVPDNGroup, spec: "accept-dialin", help: "Makes the group accept incoming tunnels (LNS / PNS / home gateway) and enters the accept-dialin mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.group()
			if neg {
				g.Accept = nil
				return nil
			}
			if g.Accept == nil {
				g.Accept = &AcceptDialin{}
			}
			p.enter(mAccept, g.Accept)
			return nil
		}},
	{inert: "the LAC role of vpdn-groups (NAS-initiated tunnels, dialers) is later work; client-initiated tunnels use interface Virtual-PPP", mode: mVPDNGroup, spec: "request-dialin", help: "Makes the group request tunnels for dial-in users (LAC / NAS, or a client's dialer) and enters the request-dialin mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.group()
			if neg {
				g.Request = nil
				return nil
			}
			if g.Request == nil {
				g.Request = &RequestDialin{}
			}
			p.enter(mRequest, g.Request)
			return nil
		}},
	{mode: mVPDNGroup, spec: "description <text:line>", help: "Free text.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().Description = ""
			if !neg {
				p.group().Description = m.Str("text")
			}
			return nil
		}},
	{mode: mVPDNGroup, spec: "terminate-from hostname <host:word>", help: "Accept tunnels only from the LAC whose host name is HOST.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().TerminateFrom = ""
			if !neg {
				p.group().TerminateFrom = m.Str("host")
			}
			return nil
		}},
	{mode: mVPDNGroup, spec: "local name <name:word>", help: "The host name this end announces in tunnel set-up (default: hostname).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().LocalName = ""
			if !neg {
				p.group().LocalName = m.Str("name")
			}
			return nil
		}},
	{inert: "it serves request-dialin, the LAC role of vpdn-groups, which is later work", mode: mVPDNGroup, spec: "initiate-to ip <addr:ipv4> [priority <prio:int:1-32767>]", help: "A tunnel server to open tunnels to; several with priorities give failover and load sharing.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			g := p.group()
			a := m.Addr("addr")
			for i, t := range g.InitiateTo {
				if t.Addr == a {
					if neg {
						g.InitiateTo = append(g.InitiateTo[:i], g.InitiateTo[i+1:]...)
					} else {
						g.InitiateTo[i].Priority = m.Int("prio")
					}
					return nil
				}
			}
			if !neg {
				g.InitiateTo = append(g.InitiateTo, InitiateTo{Addr: a, Priority: m.Int("prio")})
			}
			return nil
		}},
	{inert: "it serves request-dialin, the LAC role of vpdn-groups, which is later work; the source is the vpdn l2tp listen address", mode: mVPDNGroup, spec: "source-ip <addr:ipv4>", help: "The local address tunnels of this group are sent from.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().SourceIP = netip.Addr{}
			if !neg {
				p.group().SourceIP = m.Addr("addr")
			}
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp tunnel password " + passwordSpec, help: "The secret for L2TP tunnel authentication (RFC 2661 §4.2) and AVP hiding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.group().TunnelPassword = Secret{}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			if s.Type != 0 && s.Type != 7 {
				return fmt.Errorf("l2tp tunnel password: type %d is not supported; expected 0 or 7", s.Type)
			}
			p.group().TunnelPassword = s
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp tunnel authentication", help: "Authenticate L2TP tunnels with the tunnel password (on by default when a password is set); `no l2tp tunnel authentication` turns it off.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := !neg
			p.group().TunnelAuth = &v
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp tunnel hello <secs:int:0-1000>", help: "Seconds of silence before an L2TP HELLO is sent (default 60; 0 disables).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().TunnelHello = 0
			if !neg {
				p.group().TunnelHello = m.Int("secs")
			}
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp tunnel receive-window <n:int:1-1000>", help: "The L2TP control-channel receive window offered to the peer.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().TunnelRecvWindow = 0
			if !neg {
				p.group().TunnelRecvWindow = m.Int("n")
			}
			return nil
		}},
	{inert: "tunnels stay up without sessions until the peer or clear vpdn tunnel ends them", mode: mVPDNGroup, spec: "l2tp tunnel timeout no-session <secs:int:0-86400>", help: "Seconds an L2TP tunnel without sessions stays up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().TunnelTimeoutNoSession = 0
			if !neg {
				p.group().TunnelTimeoutNoSession = m.Int("secs")
			}
			return nil
		}},
	{inert: "proxy LCP from a LAC is not used yet: the LNS always negotiates LCP with the client", mode: mVPDNGroup, spec: "lcp renegotiation {on-mismatch | always}", help: "Whether the tunnel server restarts LCP with the client instead of using the LAC's proxy LCP: when the proxied options do not suit it, or always.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().LCPRenegotiation = ""
			if !neg {
				p.group().LCPRenegotiation = m.KeywordsIn("on-mismatch", "always")[0]
			}
			return nil
		}},
	{inert: "path MTU discovery is not done; L2TP interfaces use MTU 1460 unless ip mtu says otherwise", mode: mVPDNGroup, spec: "ip pmtu", help: "Path MTU discovery for the group's tunnels: the DF bit is copied and the session MTU follows the path.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.group().IPPMTU = !neg; return nil }},
	{inert: "PPTP is later work", mode: mVPDNGroup, spec: "pptp flow-control receive-window <n:int:1-10000>", help: "PPTP: packets the peer may send before an acknowledgement (RFC 2637 receive window).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().PPTPRecvWindow = 0
			if !neg {
				p.group().PPTPRecvWindow = m.Int("n")
			}
			return nil
		}},
	{inert: "PPTP is later work", mode: mVPDNGroup, spec: "pptp flow-control static-rtt <ms:int:1-10000>", help: "PPTP: a fixed round-trip time in milliseconds instead of the measured one.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().PPTPStaticRTT = 0
			if !neg {
				p.group().PPTPStaticRTT = m.Int("ms")
			}
			return nil
		}},
	{inert: "PPTP is later work", mode: mVPDNGroup, spec: "pptp tunnel echo <secs:int:0-1000>", help: "PPTP: seconds of silence before an Echo-Request on the control connection.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.group().PPTPEcho = 0
			if !neg {
				p.group().PPTPEcho = m.Int("secs")
			}
			return nil
		}},

	// ---- accept-dialin / request-dialin ---------------------------------
	{mode: mAccept, spec: "protocol {l2tp | pptp | l2tpv3 | l2f | any}", help: "The tunnel protocol accepted.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { return setProtocol(p, m, neg) }},
	{inert: "request-dialin (the LAC role of vpdn-groups) is later work", mode: mAccept, spec: "virtual-template <n:int:1-4095>", help: "The Virtual-Template interface sessions of this group are cloned from.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			a := p.cur.obj.(*AcceptDialin)
			a.VirtualTemplate, a.Line = 0, p.line
			if !neg {
				a.VirtualTemplate = m.Int("n")
			}
			return nil
		}},
	{mode: mRequest, spec: "protocol {l2tp | pptp | l2tpv3 | l2f | any}", help: "The tunnel protocol requested.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { return setProtocol(p, m, neg) }},
	{inert: "Dialer interfaces are later work; client-initiated tunnels use interface Virtual-PPP", mode: mRequest, spec: "pool-member <n:int:1-255>", help: "Dialer interfaces with `dialer pool N` place their calls through this group (client-initiated tunnels from a Dialer, document 004).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cur.obj.(*RequestDialin)
			r.PoolMember = 0
			if !neg {
				r.PoolMember = m.Int("n")
			}
			return nil
		}},
	{inert: "request-dialin (NAS-initiated tunnels by domain) is later work", mode: mRequest, spec: "domain <domain:word>", help: "Users whose name ends in @DOMAIN are tunnelled by this group (NAS-initiated).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cur.obj.(*RequestDialin)
			r.Domains = removeStr(r.Domains, m.Str("domain"))
			if !neg {
				r.Domains = append(r.Domains, m.Str("domain"))
			}
			return nil
		}},
	{inert: "request-dialin (NAS-initiated tunnels by DNIS) is later work", mode: mRequest, spec: "dnis <number:word>", help: "Calls to this dialed number are tunnelled by this group.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cur.obj.(*RequestDialin)
			r.DNIS = removeStr(r.DNIS, m.Str("number"))
			if !neg {
				r.DNIS = append(r.DNIS, m.Str("number"))
			}
			return nil
		}},

	// ---- interface ------------------------------------------------------
	{mode: mInterface, spec: "description <text:line>", help: "Free text.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().Description = ""
			if !neg {
				p.iface().Description = m.Str("text")
			}
			return nil
		}},
	{mode: mInterface, spec: "shutdown", help: "Administratively disables the interface.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.iface().Shutdown = !neg; return nil }},
	{mode: mInterface, spec: "ip address [<addr:ipv4> <mask:mask> | negotiated | <iface:interface>]", help: "The interface address; `negotiated` takes it from IPCP (Virtual-PPP, Dialer). On physical interfaces vpdn only reads the address (it never changes host interfaces).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			clearAddress(ifc)
			ifc.AddrLine = p.line
			if neg {
				ifc.NoAddress = true
				return nil
			}
			switch {
			case len(m.items) == 2:
				return fmt.Errorf("ip address: expected ADDRESS MASK, negotiated, or \"no ip address\"")
			case m.Has("negotiated"):
				ifc.Negotiated = true
			case m.Str("iface") != "":
				// Document 004 writes "ip address loopback0"; IOS would
				// refuse it. Read it as what was meant.
				n := ifArg(m, "iface")
				p.warnf("\"ip address %s\" is not an IOS command; read as \"ip unnumbered %s\"", m.Str("iface"), n)
				ifc.Unnumbered = n
			default:
				bits, _ := maskBits(m.Addr("mask"))
				ifc.Address = netip.PrefixFrom(m.Addr("addr"), bits)
			}
			return nil
		}},
	{mode: mInterface, spec: "ip unnumbered <iface:interface>", help: "Borrow the address of another interface (typically a Loopback).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if neg {
				ifc.Unnumbered = nil
				return nil
			}
			clearAddress(ifc)
			ifc.AddrLine = p.line
			ifc.Unnumbered = ifArg(m, "iface")
			return nil
		}},
	{mode: mInterface, spec: "peer default ip address {pool [<pool:word>] | dhcp | dhcp-pool <pool:word> | <addr:ipv4>}", help: "How the remote end of a PPP session gets its address: from an `ip local pool`, by DHCP, or a fixed address. `no peer default ip address` assigns none.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			ifc.PeerDefault = PeerDefault{Set: true, Line: p.line}
			switch {
			case neg:
				ifc.PeerDefault.None = true
			case m.Has("dhcp-pool"):
				return fmt.Errorf("peer default ip address dhcp-pool: DHCP is not supported yet; expected pool NAME or an address")
			case m.Has("dhcp"):
				ifc.PeerDefault.DHCP = true
				p.warnf("peer default ip address dhcp is accepted but has no effect yet: DHCP address assignment is later work, so sessions get no address from this template")
			case m.Has("pool"):
				ifc.PeerDefault.Pool = m.Str("pool")
				ifc.PeerDefault.PoolDefault = m.Str("pool") == ""
			default:
				ifc.PeerDefault.Addr = m.Addr("addr")
			}
			return nil
		}},
	{mode: mInterface, spec: "encapsulation {ppp | <other:word>}", help: "Layer-2 encapsulation; vpdn interfaces carry PPP.",
		apply: func(p *parser, m *Match, neg bool) error {
			if !m.Has("ppp") {
				return fmt.Errorf("encapsulation %s is not supported; expected encapsulation ppp", m.Str("other"))
			}
			p.iface().Encapsulation = "ppp"
			return nil
		}},
	{mode: mInterface, spec: "autodetect encapsulation ppp", help: "Detect PPP on the virtual access interface (accepted; PPP is the only encapsulation).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.iface().AutodetectPPP = !neg; return nil }},
	{mode: mInterface, spec: "ppp authentication {pap | chap | ms-chap | ms-chap-v2 | eap}... [if-needed] [default | <list:word>] [callin] [one-time] [optional]", help: "The PPP authentication protocols to offer, in order of preference, with the AAA method list to use.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if neg {
				ifc.PPPAuth = nil
				return nil
			}
			a := &PPPAuth{
				Protocols: m.KeywordsIn("pap", "chap", "ms-chap", "ms-chap-v2", "eap"),
				IfNeeded:  m.Has("if-needed"), Callin: m.Has("callin"), OneTime: m.Has("one-time"), Optional: m.Has("optional"),
				List: m.Str("list"), Line: p.line,
			}
			if m.Has("default") {
				a.List = "default"
			}
			seen := map[string]bool{}
			for _, pr := range a.Protocols {
				if seen[pr] {
					return fmt.Errorf("ppp authentication: %s is listed twice; expected each protocol once", pr)
				}
				seen[pr] = true
			}
			ifc.PPPAuth = a
			return nil
		}},
	{mode: mInterface, spec: "ppp chap hostname <host:word>", help: "The name this end uses when it is authenticated by CHAP / MS-CHAP.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().CHAPHostname = ""
			if !neg {
				p.iface().CHAPHostname = m.Str("host")
			}
			return nil
		}},
	{mode: mInterface, spec: "ppp chap password " + passwordSpec, help: "The secret this end uses when it is authenticated by CHAP / MS-CHAP.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.iface().CHAPPassword = Secret{}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			p.iface().CHAPPassword = s
			return nil
		}},
	{mode: mInterface, spec: "ppp pap sent-username <user:word> password " + passwordSpec, help: "The name and password this end sends when it is authenticated by PAP.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if neg {
				ifc.PAPSentUser, ifc.PAPSentPass = "", Secret{}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			ifc.PAPSentUser, ifc.PAPSentPass = m.Str("user"), s
			return nil
		}},
	{mode: mInterface, spec: "ppp {pap | chap | ms-chap | ms-chap-v2 | eap} refuse", help: "Refuse to be authenticated with this protocol when the peer asks for it (LCP then suggests another).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			proto := m.KeywordsIn("pap", "chap", "ms-chap", "ms-chap-v2", "eap")[0]
			ifc.PPPRefuse = removeStr(ifc.PPPRefuse, proto)
			if !neg {
				ifc.PPPRefuse = append(ifc.PPPRefuse, proto)
			}
			return nil
		}},
	{inert: "MPPE comes with PPTP; CCP refuses compression and encryption today, so sessions are not encrypted", mode: mInterface, spec: "ppp encrypt mppe {auto | 40 | 128} [passive | required] [stateful]", help: "MPPE encryption (RFC 3078) for PPTP sessions.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.iface().MPPE = nil
				return nil
			}
			p.iface().MPPE = &MPPE{Bits: m.KeywordsIn("auto", "40", "128")[0], Passive: m.Has("passive"), Required: m.Has("required"), Stateful: m.Has("stateful")}
			return nil
		}},
	{mode: mInterface, spec: "ip mtu <mtu:int:68-65535>", help: "The IP MTU of the interface (and of Virtual-Access interfaces cloned from it).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().MTU = 0
			if !neg {
				p.iface().MTU = m.Int("mtu")
			}
			return nil
		}},
	{mode: mInterface, spec: "ip tcp adjust-mss <mss:int:500-1460>", help: "Clamp the MSS option of TCP SYNs crossing the interface.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().TCPAdjustMSS = 0
			if !neg {
				p.iface().TCPAdjustMSS = m.Int("mss")
			}
			return nil
		}},
	{mode: mInterface, spec: "keepalive [<secs:int:0-32767>]", help: "PPP LCP echo interval in seconds (default 10); `no keepalive` disables echoes.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			ifc.KeepaliveSet = true
			ifc.KeepaliveSecs = 10
			if m.Str("secs") != "" {
				ifc.KeepaliveSecs = m.Int("secs")
			}
			if neg {
				ifc.KeepaliveSecs = 0
			}
			return nil
		}},
	{mode: mInterface, spec: "pseudowire <peer:ipv4> <vcid:int:1-4294967295> pw-class <class:word> [sequencing {transmit | receive | both}]", help: "On a Virtual-PPP interface: open an L2TP session to PEER (client-initiated tunnel) using pseudowire-class CLASS.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if neg {
				ifc.Pseudowire = nil
				return nil
			}
			if ifc.Name.Kind != IfVirtualPPP {
				return fmt.Errorf("pseudowire on %s: expected a Virtual-PPP interface", ifc.Name)
			}
			pw := &Pseudowire{Line: p.line, Peer: m.Addr("peer"), VCID: uint32(m.Int("vcid")), PWClass: m.Str("class")}
			if s := m.KeywordsIn("transmit", "receive", "both"); len(s) > 0 {
				pw.Sequencing = s[0]
			}
			ifc.Pseudowire = pw
			return nil
		}},
	{mode: mInterface, spec: "cdp enable", help: "Cisco Discovery Protocol: vpdn never sends CDP; `no cdp enable` is accepted and kept.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.iface().NoCDP = neg; return nil }},
	{inert: "Dialer interfaces are later work; use interface Virtual-PPP with a pseudowire", mode: mInterface, spec: "dialer pool <n:int:1-255>", help: "Dialer: place calls through the vpdn-group whose request-dialin has pool-member N.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().Dialer.Pool, p.iface().Dialer.PoolLine = 0, p.line
			if !neg {
				p.iface().Dialer.Pool = m.Int("n")
			}
			return nil
		}},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer idle-timeout <secs:int:0-2147483>", help: "Dialer: seconds without interesting traffic before the call is dropped (0: never).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().Dialer.IdleTimeout = nil
			if !neg {
				v := m.Int("secs")
				p.iface().Dialer.IdleTimeout = &v
			}
			return nil
		}},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer string <number:word>", help: "Dialer: the number to dial (with `dialer vpdn`, sent as the Called Number).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			d := &p.iface().Dialer
			d.Strings = removeStr(d.Strings, m.Str("number"))
			if !neg {
				d.Strings = append(d.Strings, m.Str("number"))
			}
			return nil
		}},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer vpdn", help: "Dialer: the call is an L2TP session (client-initiated tunnel from a Dialer interface).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.iface().Dialer.VPDN = !neg; return nil }},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer-group <n:int:1-255>", help: "Dialer: the dialer-list that defines interesting traffic (accepted; every packet is interesting).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.iface().Dialer.Group = 0
			if !neg {
				p.iface().Dialer.Group = m.Int("n")
			}
			return nil
		}},
	{mode: mInterface, spec: "linux-device <dev:word>", help: "vpdn extension: the Linux device an IOS-named physical interface stands for (GigabitEthernet0/0 -> eth0).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if !ifc.Name.Physical() || ifc.Name.Kind == IfLinux {
				return fmt.Errorf("linux-device on %s: expected an IOS-named physical interface", ifc.Name)
			}
			ifc.LinuxDevice = ""
			if !neg {
				ifc.LinuxDevice = m.Str("dev")
			}
			return nil
		}},
	{inert: "L2TPv3 pseudowires are later work", mode: mInterface, spec: "xconnect <peer:ipv4> <vcid:int:1-4294967295> encapsulation l2tpv3 [manual] pw-class <class:word>", help: "L2TPv3 pseudowire of the attachment circuit to PEER; `manual` enters the static-session mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if neg {
				ifc.Xconnect = nil
				return nil
			}
			x := &Xconnect{Peer: m.Addr("peer"), VCID: uint32(m.Int("vcid")), Manual: m.Has("manual"), PWClass: m.Str("class")}
			ifc.Xconnect = x
			if x.Manual {
				p.enter(mXconnect, x)
			}
			return nil
		}},
	{mode: mInterface, spec: "crypto map <rest:line>", help: "IPsec crypto map on an interface: later work.", later: "IPsec (crypto map) is later work"},
	{mode: mInterface, spec: "tunnel <rest:line>", help: "GRE tunnel settings: later work.", later: "GRE tunnel interfaces are later work"},
	{mode: mInterface, spec: "ip nhrp <rest:line>", help: "NHRP: later work.", later: "NHRP (DMVPN) is later work"},
	{mode: mInterface, spec: "ip ospf <rest:line>", help: "OSPF interface settings: run FRR on vpdn's interfaces.", later: "vpdn runs no routing protocol; run FRR over its interfaces"},

	// ---- xconnect (L2TPv3 manual session) -------------------------------
	{inert: "L2TPv3 pseudowires are later work", mode: mXconnect, spec: "l2tp id <local:int:1-4294967295> <remote:int:1-4294967295>", help: "Static L2TPv3 session IDs: local and remote.",
		apply: func(p *parser, m *Match, neg bool) error {
			x := p.xconnect()
			x.LocalSession, x.RemoteSession = uint32(m.Int("local")), uint32(m.Int("remote"))
			return nil
		}},
	{inert: "L2TPv3 pseudowires are later work", mode: mXconnect, spec: "l2tp cookie {local | remote} <a:int:0-4294967295> [<b:int:0-4294967295>] [<c:int:0-4294967295>]", help: "Static L2TPv3 cookie: SIZE (4 or 8) LOW [HIGH]. Written without a size (document 004 does), a single value is a 4-byte cookie.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			x := p.xconnect()
			dst := &x.LocalCookie
			if m.Has("remote") {
				dst = &x.RemoteCookie
			}
			if neg {
				*dst = nil
				return nil
			}
			a, b, c := m.Str("a"), m.Str("b"), m.Str("c")
			ck := &Cookie{}
			switch {
			case b == "":
				ck.Size, ck.Low = 4, uint32(m.Int("a"))
				p.warnf("l2tp cookie without a size: read as a 4-byte cookie of value %s", a)
			case a == "4" && c == "":
				ck.Size, ck.Low = 4, uint32(m.Int("b"))
			case a == "8" && c != "":
				ck.Size, ck.Low, ck.High = 8, uint32(m.Int("b")), uint32(m.Int("c"))
			default:
				return fmt.Errorf("l2tp cookie: expected SIZE 4 LOW or SIZE 8 LOW HIGH")
			}
			*dst = ck
			return nil
		}},
	{inert: "L2TPv3 pseudowires are later work", mode: mXconnect, spec: "l2tp hello <class:word>", help: "Keepalives for the static session from l2tp-class CLASS.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.xconnect().HelloClass = ""
			if !neg {
				p.xconnect().HelloClass = m.Str("class")
			}
			return nil
		}},

	// ---- l2tp-class -----------------------------------------------------
	{mode: mL2TPClass, spec: "receive-window <n:int:1-16384>", help: "Control-channel receive window offered to the peer (RFC 2661 Receive Window Size).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.l2tpClass().ReceiveWindow = intOrZero(m, "n", neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "retransmit initial retries <n:int:1-1000>", help: "How many times an SCCRQ is sent before giving up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.l2tpClass().RetransInitial = intOrZero(m, "n", neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "retransmit retries <n:int:5-1000>", help: "How many times a control message is retransmitted before the tunnel is declared down.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.l2tpClass().RetransRetries = intOrZero(m, "n", neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "retransmit timeout {max | min} <secs:int:1-8>", help: "Bounds of the exponential retransmission back-off, in seconds.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Has("max") {
				p.l2tpClass().RetransTimeoutMax = intOrZero(m, "secs", neg)
			} else {
				p.l2tpClass().RetransTimeoutMin = intOrZero(m, "secs", neg)
			}
			return nil
		}},
	{mode: mL2TPClass, spec: "timeout setup <secs:int:60-6000>", help: "Seconds a tunnel may take to come up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.l2tpClass().TimeoutSetup = intOrZero(m, "secs", neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "authentication", help: "Authenticate the control channel with the class password (RFC 2661 §4.2).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.l2tpClass().Authentication = !neg; return nil }},
	{mode: mL2TPClass, spec: "hostname <host:word>", help: "The host name announced in tunnel set-up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.l2tpClass().Hostname = ""
			if !neg {
				p.l2tpClass().Hostname = m.Str("host")
			}
			return nil
		}},
	{mode: mL2TPClass, spec: "hidden", help: "Hide AVPs that carry secrets (RFC 2661 §4.3); needs a password.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.l2tpClass().Hidden = !neg; return nil }},
	{mode: mL2TPClass, spec: "password " + passwordSpec, help: "The secret for control-channel authentication and AVP hiding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.l2tpClass().Password = Secret{}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			p.l2tpClass().Password = s
			return nil
		}},
	{mode: mL2TPClass, spec: "hello <secs:int:0-1000>", help: "Seconds of silence before a HELLO keepalive (default 60).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.l2tpClass().Hello = intOrZero(m, "secs", neg); return nil }},
	{inert: "L2TPv3 message digests are later work", mode: mL2TPClass, spec: "digest secret " + passwordSpec, help: "L2TPv3 message digest secret (RFC 3931 §5.4.1): later work with L2TPv3.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.l2tpClass().DigestSecret = Secret{}
				return nil
			}
			s, err := secret(m)
			p.l2tpClass().DigestSecret = s
			return err
		}},

	// ---- pseudowire-class -----------------------------------------------
	{mode: mPWClass, spec: "encapsulation {l2tpv2 | l2tpv3}", help: "The data encapsulation of sessions using this class.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.pwClass().Encapsulation = ""
			if !neg {
				p.pwClass().Encapsulation = m.KeywordsIn("l2tpv2", "l2tpv3")[0]
			}
			return nil
		}},
	{mode: mPWClass, spec: "protocol {l2tpv2 | l2tpv3 | none} [<class:word>]", help: "The signalling protocol (none: static sessions) and the l2tp-class for its control channel.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.pwClass()
			c.Protocol, c.L2TPClass, c.ProtocolLine = "", "", p.line
			if !neg {
				c.Protocol = m.KeywordsIn("l2tpv2", "l2tpv3", "none")[0]
				c.L2TPClass = m.Str("class")
				if c.Protocol == "none" && c.L2TPClass != "" {
					return fmt.Errorf("protocol none %s: static sessions use no l2tp-class; expected protocol none", c.L2TPClass)
				}
			}
			return nil
		}},
	{inert: "the local tunnel address is the vpdn l2tp listen address", mode: mPWClass, spec: "ip local interface <iface:interface>", help: "The interface whose address is the local tunnel end.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.pwClass().LocalIf = nil
			if !neg {
				p.pwClass().LocalIf = ifArg(m, "iface")
			}
			return nil
		}},
	{inert: "path MTU discovery is not done", mode: mPWClass, spec: "ip pmtu", help: "Path MTU discovery for sessions of this class.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.pwClass().IPPMTU = !neg; return nil }},
	{inert: "tunnel packets carry the kernel's default ToS", mode: mPWClass, spec: "ip tos {value <v:int:0-255> | reflect}", help: "The ToS byte of tunnel packets: a fixed value, or copied from the inner packet.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.pwClass()
			if m.Has("reflect") {
				c.TOSReflect = !neg
				return nil
			}
			c.TOSValue = -1
			if !neg {
				c.TOSValue = m.Int("v")
			}
			return nil
		}},
	{inert: "tunnel packets carry the kernel's default DF setting", mode: mPWClass, spec: "ip dfbit set", help: "Set DF on tunnel packets.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.pwClass().DFBitSet = !neg; return nil }},
	{inert: "tunnel packets carry the kernel's default TTL", mode: mPWClass, spec: "ip ttl <ttl:int:1-255>", help: "The TTL of tunnel packets.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.pwClass().TTL = intOrZero(m, "ttl", neg); return nil }},
	{mode: mPWClass, spec: "sequencing {transmit | receive | both}", help: "Sequence numbers on data messages.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			p.pwClass().Sequencing = ""
			if !neg {
				p.pwClass().Sequencing = m.KeywordsIn("transmit", "receive", "both")[0]
			}
			return nil
		}},
}

func intOrZero(m *Match, name string, neg bool) int {
	if neg {
		return 0
	}
	return m.Int(name)
}

func setProtocol(p *parser, m *Match, neg bool) error {
	if neg {
		p.dialinProtocol("")
		return nil
	}
	p.dialinProtocol(Protocol(m.KeywordsIn("l2tp", "pptp", "l2tpv3", "l2f", "any")[0]))
	return nil
}

func setMethodList(p *parser, lists *[]MethodList, service string, m *Match, neg bool) error {
	name := m.Str("list")
	if m.Has("default") {
		name = "default"
	}
	for i, l := range *lists {
		if l.Name == name {
			*lists = append((*lists)[:i], (*lists)[i+1:]...)
			break
		}
	}
	if neg {
		return nil
	}
	ml := MethodList{Service: service, Name: name, Line: p.line}
	if r := m.KeywordsIn("start-stop", "stop-only"); len(r) > 0 {
		ml.Record = r[0]
	}
	servers := m.All("server")
	for _, it := range m.items {
		if it.arg {
			continue
		}
		switch it.name {
		case "local", "none", "if-needed", "if-authenticated", "local-case":
			ml.Methods = append(ml.Methods, it.name)
		case "group":
			ml.Methods = append(ml.Methods, "group "+servers[0])
			servers = servers[1:]
		}
	}
	for _, meth := range ml.Methods {
		if strings.HasPrefix(meth, "group ") {
			return fmt.Errorf("aaa method %q: RADIUS/TACACS+ server groups are not supported yet; expected local or none", meth)
		}
	}
	*lists = append(*lists, ml)
	return nil
}

func clearAddress(ifc *Interface) {
	ifc.Address, ifc.Negotiated, ifc.Unnumbered, ifc.NoAddress = netip.Prefix{}, false, nil, false
}

func sameIf(a, b *IfName) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func rangeSize(a, b netip.Addr) uint64 {
	x, y := a.As4(), b.As4()
	u := uint64(x[0])<<24 | uint64(x[1])<<16 | uint64(x[2])<<8 | uint64(x[3])
	v := uint64(y[0])<<24 | uint64(y[1])<<16 | uint64(y[2])<<8 | uint64(y[3])
	return v - u + 1
}

func removeStr(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func removePtr[T comparable](s []T, v T) []T {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
