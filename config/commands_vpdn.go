package config

import "fmt"

func (p *parser) group() *VPDNGroup { return p.cur.obj.(*VPDNGroup) }

// dialinProtocol sets the protocol of the accept-dialin or request-dialin
// the command is in.
func (p *parser) dialinProtocol(proto Protocol) {
	switch o := p.cur.obj.(type) {
	case *AcceptDialin:
		o.Protocol = proto
	case *RequestDialin:
		o.Protocol = proto
	}
}

// vpdnCommands are vpdn-group and its submodes accept-dialin and
// request-dialin.
var vpdnCommands = []*command{
	{mode: mGlobal, spec: "vpdn-group <name:word>", help: "Defines a VPDN group and enters its mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			g := p.cfg.Group(name)
			if neg {
				if g == nil {
					return fmt.Errorf("no vpdn-group %q to remove", name)
				}
				p.cfg.VPDN.Groups = without(p.cfg.VPDN.Groups, g)
				return nil
			}
			if g == nil {
				g = &VPDNGroup{Name: name, Line: p.line}
				p.cfg.VPDN.Groups = append(p.cfg.VPDN.Groups, g)
			}
			p.enter(mVPDNGroup, g)
			return nil
		}},

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
			set(&p.group().Description, m.Str("text"), neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "terminate-from hostname <host:word>", help: "Accept tunnels only from the LAC whose host name is HOST.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().TerminateFrom, m.Str("host"), neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "local name <name:word>", help: "The host name this end announces in tunnel set-up (default: hostname).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().LocalName, m.Str("name"), neg)
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
	{mode: mVPDNGroup, spec: "source-ip <addr:ipv4>", help: "The local address tunnels of this group are sent from (a PPTP Dialer client's control connection; L2TP tunnels leave from the vpdn l2tp listen address).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().SourceIP, m.Addr("addr"), neg)
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
			set(&p.group().TunnelHello, m.Int("secs"), neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp tunnel receive-window <n:int:1-1000>", help: "The L2TP control-channel receive window offered to the peer.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().TunnelRecvWindow, m.Int("n"), neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp tunnel timeout no-session {<secs:int:1-86400> | never}", help: "Seconds an L2TP tunnel without sessions stays up before it is closed with StopCCN (default 10, as IOS); never keeps it.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			v := m.Int("secs")
			if m.Has("never") {
				v = -1
			}
			set(&p.group().TunnelTimeoutNoSession, v, neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "l2tp session timeout setup <secs:int:1-6000>", help: "vpdn extension: seconds a call the peer opened (ICRQ) may take to be established (ICCN) before it is closed with CDN (default 30).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().SessionTimeoutSetup, m.Int("secs"), neg)
			return nil
		}},
	{inert: "proxy LCP from a LAC is not used yet: the LNS always negotiates LCP with the client", mode: mVPDNGroup, spec: "lcp renegotiation {on-mismatch | always}", help: "Whether the tunnel server restarts LCP with the client instead of using the LAC's proxy LCP: when the proxied options do not suit it, or always.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().LCPRenegotiation, m.Keyword("on-mismatch", "always"), neg)
			return nil
		}},
	{inert: "path MTU discovery is not done; L2TP interfaces use MTU 1460 unless ip mtu says otherwise", mode: mVPDNGroup, spec: "ip pmtu", help: "Path MTU discovery for the group's tunnels: the DF bit is copied and the session MTU follows the path.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.group().IPPMTU = !neg; return nil }},
	{mode: mVPDNGroup, spec: "pptp flow-control receive-window <n:int:1-10000>", help: "PPTP: packets the peer may send before an acknowledgement (RFC 2637 receive window; default 64; one value for every PPTP group: the first group's).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().PPTPRecvWindow, m.Int("n"), neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "pptp flow-control static-rtt <ms:int:1-10000>", help: "PPTP: a fixed round-trip time in milliseconds instead of the measured one, for the acknowledgement timeout of the flow-control alarm (RFC 2637 Appendix A; one value for every PPTP group: the first group's).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().PPTPStaticRTT, m.Int("ms"), neg)
			return nil
		}},
	{mode: mVPDNGroup, spec: "pptp tunnel echo <secs:int:0-1000>", help: "PPTP: seconds of silence before an Echo-Request on the control connection (default 60; one value for every PPTP group: the first group's).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.group().PPTPEcho, m.Int("secs"), neg)
			return nil
		}},

	// ---- accept-dialin / request-dialin ---------------------------------
	{mode: mAccept, spec: "protocol {l2tp | pptp | l2tpv3 | l2f | any}", help: "The tunnel protocol accepted.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { return setProtocol(p, m, neg) }},
	{mode: mAccept, spec: "virtual-template <n:int:1-4095>", help: "The Virtual-Template interface the sessions of this group are cloned from.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			a := p.cur.obj.(*AcceptDialin)
			a.Line = p.line
			set(&a.VirtualTemplate, m.Int("n"), neg)
			return nil
		}},
	{mode: mRequest, spec: "protocol {l2tp | pptp | l2tpv3 | l2f | any}", help: "The tunnel protocol requested.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { return setProtocol(p, m, neg) }},
	{inert: "Dialer interfaces are later work; client-initiated tunnels use interface Virtual-PPP", mode: mRequest, spec: "pool-member <n:int:1-255>", help: "Dialer interfaces with `dialer pool N` place their calls through this group (client-initiated tunnels from a Dialer, document 004).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cur.obj.(*RequestDialin)
			set(&r.PoolMember, m.Int("n"), neg)
			return nil
		}},
	{inert: "request-dialin (NAS-initiated tunnels by domain) is later work", mode: mRequest, spec: "domain <domain:word>", help: "Users whose name ends in @DOMAIN are tunnelled by this group (NAS-initiated).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cur.obj.(*RequestDialin)
			setMember(&r.Domains, m.Str("domain"), neg)
			return nil
		}},
	{inert: "request-dialin (NAS-initiated tunnels by DNIS) is later work", mode: mRequest, spec: "dnis <number:word>", help: "Calls to this dialed number are tunnelled by this group.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			r := p.cur.obj.(*RequestDialin)
			setMember(&r.DNIS, m.Str("number"), neg)
			return nil
		}},
}

func setProtocol(p *parser, m *Match, neg bool) error {
	if neg {
		p.dialinProtocol("")
		return nil
	}
	p.dialinProtocol(Protocol(m.KeywordsIn("l2tp", "pptp", "l2tpv3", "l2f", "any")[0]))
	return nil
}
