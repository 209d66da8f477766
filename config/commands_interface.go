package config

import (
	"fmt"
	"net/netip"
	"strings"
)

func (p *parser) iface() *Interface   { return p.cur.obj.(*Interface) }
func (p *parser) xconnect() *Xconnect { return p.cur.obj.(*Xconnect) }

// interfaceCommands are interface and its submode, xconnect.
var interfaceCommands = []*command{
	{mode: mGlobal, spec: "interface <name:interface>", help: "Configures an interface and enters its mode: Virtual-Template N, Virtual-PPP N, Loopback N, Dialer N, or a physical interface by its IOS name (GigabitEthernet0/0) or Linux name (eth0).",
		apply: func(p *parser, m *Match, neg bool) error {
			n := *ifArg(m, "name")
			if n.Kind == IfVirtualAccess {
				return fmt.Errorf("interface %s: Virtual-Access interfaces are cloned from a Virtual-Template at run time; expected interface Virtual-Template N", n)
			}
			if n.Kind == IfTunnel {
				return fmt.Errorf("interface %s: tunnel interfaces (GRE, IPsec VTI) are not supported yet (later work: GRE/DMVPN, IPsec part 2); use a crypto map on the physical interface", n)
			}
			ifc := p.cfg.Interface(n)
			if ifc == nil {
				ifc = &Interface{Name: n, Line: p.line, PeerDefault: PeerDefault{}}
				p.cfg.Interfaces = append(p.cfg.Interfaces, ifc)
			}
			p.enter(mInterface, ifc)
			return nil
		}},

	// ---- interface ------------------------------------------------------
	{mode: mInterface, spec: "description <text:line>", help: "Free text.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().Description, m.Str("text"), neg)
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
	{mode: mInterface, spec: "encapsulation {ppp | dot1q <vlan:int:1-4094> | <other:word>}", help: "Layer-2 encapsulation: ppp on vpdn's interfaces; dot1Q VLAN on an Ethernet subinterface (the attachment circuit of an Ethernet VLAN pseudowire).",
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Has("dot1q") {
				ifc := p.iface()
				if !ifc.Name.Physical() || ifc.Name.Kind == IfLinux || !strings.Contains(ifc.Name.Number, ".") {
					return fmt.Errorf("encapsulation dot1Q on %s: expected an Ethernet subinterface (GigabitEthernet0/0.10)", ifc.Name)
				}
				set(&ifc.Dot1Q, m.Int("vlan"), neg)
				return nil
			}
			if !m.Has("ppp") {
				return fmt.Errorf("encapsulation %s is not supported; expected encapsulation ppp", m.Str("other"))
			}
			p.iface().Encapsulation = "ppp"
			return nil
		}},
	{mode: mInterface, spec: "autodetect encapsulation ppp", help: "Detect PPP on the virtual access interface (accepted; PPP is the only encapsulation).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.iface().AutodetectPPP = !neg; return nil }},
	{mode: mInterface, spec: "ppp accounting {default | <list:word>}", help: "The AAA accounting method list (aaa accounting network LIST) of the PPP sessions of this interface.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			ifc.PPPAcctList = m.Str("list")
			if m.Has("default") {
				ifc.PPPAcctList = "default"
			}
			if neg {
				ifc.PPPAcctList = ""
			}
			return nil
		}},
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
	{mode: mInterface, spec: "ppp max-bad-auth <n:int:1-255>", help: "Let a PPP peer that failed authentication try again N times on the link before it is dropped (PAP, CHAP, MS-CHAP, MS-CHAP-V2); the default drops it on the first failure.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().MaxBadAuth, m.Int("n"), neg)
			return nil
		}},
	{mode: mInterface, spec: "ppp chap hostname <host:word>", help: "The name this end uses when it is authenticated by CHAP / MS-CHAP.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().CHAPHostname, m.Str("host"), neg)
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
			protos := m.KeywordsIn("pap", "chap", "ms-chap", "ms-chap-v2", "eap")
			if len(protos) == 0 {
				// "no ppp" alone: a no form may leave out trailing
				// arguments, not the protocol this one is about.
				return fmt.Errorf("no ppp: incomplete command; expected no ppp {pap | chap | ms-chap | ms-chap-v2 | eap} refuse, or the no form of another ppp command")
			}
			setMember(&ifc.PPPRefuse, protos[0], neg)
			return nil
		}},
	{mode: mInterface, spec: "ppp encrypt mppe {auto | 40 | 128} [passive | required] [stateful]", help: "MPPE encryption (RFC 3078) of the sessions cloned from this Virtual-Template, negotiated by CCP after MS-CHAP: auto offers 40 and 128 bits; passive waits for the peer to offer; required drops a peer that will not encrypt; stateful offers stateful mode (default stateless).", noForm: true,
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
			set(&p.iface().MTU, m.Int("mtu"), neg)
			return nil
		}},
	{mode: mInterface, spec: "ip tcp adjust-mss <mss:int:500-1460>", help: "Clamp the MSS option of TCP SYNs crossing the interface.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().TCPAdjustMSS, m.Int("mss"), neg)
			return nil
		}},
	{mode: mInterface, spec: "ip verify unicast source reachable-via {rx | any}", help: "Unicast RPF on the sessions of the interface: rx (strict) accepts an IP packet from a session only with a source the session owns — its negotiated address, its framed routes and the routes through its interface — as IOS's strict mode does; any (loose) does not check per session. vpdn's default on a Virtual-Template is rx (IOS's is off); `no ip verify unicast source reachable-via` turns the check off.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.iface().VerifyUnicast = "none"
				return nil
			}
			p.iface().VerifyUnicast = m.KeywordsIn("rx", "any")[0]
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
			p.iface().Dialer.PoolLine = p.line
			set(&p.iface().Dialer.Pool, m.Int("n"), neg)
			return nil
		}},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer idle-timeout <secs:int:0-2147483>", help: "Dialer: seconds without interesting traffic before the call is dropped (0: never).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().Dialer.IdleTimeout, new(m.Int("secs")), neg)
			return nil
		}},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer string <number:word>", help: "Dialer: the number to dial (with `dialer vpdn`, sent as the Called Number).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			setMember(&p.iface().Dialer.Strings, m.Str("number"), neg)
			return nil
		}},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer vpdn", help: "Dialer: the call is an L2TP session (client-initiated tunnel from a Dialer interface).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.iface().Dialer.VPDN = !neg; return nil }},
	{inert: "Dialer interfaces are later work", mode: mInterface, spec: "dialer-group <n:int:1-255>", help: "Dialer: the dialer-list that defines interesting traffic (accepted; every packet is interesting).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.iface().Dialer.Group, m.Int("n"), neg)
			return nil
		}},
	{mode: mInterface, spec: "linux-device <dev:word> [tap]", help: "vpdn extension: the Linux device an IOS-named physical interface stands for (GigabitEthernet0/0 -> eth0); with tap, a TAP device vpdn creates under that name (the attachment circuit of an xconnect).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			ifc := p.iface()
			if !ifc.Name.Physical() || ifc.Name.Kind == IfLinux {
				return fmt.Errorf("linux-device on %s: expected an IOS-named physical interface", ifc.Name)
			}
			set(&ifc.LinuxDevice, m.Str("dev"), neg)
			ifc.LinuxTAP = !neg && m.Has("tap")
			return nil
		}},
	{mode: mInterface, spec: "xconnect <peer:ipv4> <vcid:int:1-4294967295> encapsulation l2tpv3 [manual] pw-class <class:word>", help: "L2TPv3 pseudowire of the attachment circuit to PEER; `manual` enters the static-session mode.", noForm: true,
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
	{mode: mInterface, spec: "tunnel <rest:line>", help: "GRE tunnel settings: later work.", later: "GRE tunnel interfaces are later work"},
	{mode: mInterface, spec: "ip nhrp <rest:line>", help: "NHRP: later work.", later: "NHRP (DMVPN) is later work"},
	{mode: mInterface, spec: "ip ospf <rest:line>", help: "OSPF interface settings: run FRR on vpdn's interfaces.", later: "vpdn runs no routing protocol; run FRR over its interfaces"},

	// ---- xconnect (L2TPv3 manual session) -------------------------------
	{mode: mXconnect, spec: "l2tp id <local:int:1-4294967295> <remote:int:1-4294967295>", help: "Static L2TPv3 session IDs: local and remote.",
		apply: func(p *parser, m *Match, neg bool) error {
			x := p.xconnect()
			x.LocalSession, x.RemoteSession = uint32(m.Int("local")), uint32(m.Int("remote"))
			return nil
		}},
	{mode: mXconnect, spec: "l2tp cookie {local | remote} <a:int:0-4294967295> [<b:int:0-4294967295>] [<c:int:0-4294967295>]", help: "Static L2TPv3 cookie: SIZE (4 or 8) LOW [HIGH]. Written without a size (document 004 does), a single value is a 4-byte cookie.", noForm: true,
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
	{mode: mXconnect, spec: "l2tp hello <class:word>", help: "Keepalives for the static session: as IOS, an L2TPv3 control connection to the peer with the hello interval (and digest, window, retransmission) of l2tp-class CLASS; while it is lost (its HELLOs unanswered) the session is down.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.xconnect().HelloClass, m.Str("class"), neg)
			return nil
		}},
}

func clearAddress(ifc *Interface) {
	ifc.Address, ifc.Negotiated, ifc.Unnumbered, ifc.NoAddress = netip.Prefix{}, false, nil, false
}
