package config

import "fmt"

func (p *parser) l2tpClass() *L2TPClass { return p.cur.obj.(*L2TPClass) }
func (p *parser) pwClass() *PWClass     { return p.cur.obj.(*PWClass) }

// classCommands are l2tp-class and pseudowire-class, the templates of
// control-channel and session parameters, with their modes.
var classCommands = []*command{
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
				p.cfg.L2TP.Classes = without(p.cfg.L2TP.Classes, c)
				return nil
			}
			if c == nil {
				c = &L2TPClass{Name: name, Line: p.line}
				p.cfg.L2TP.Classes = append(p.cfg.L2TP.Classes, c)
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
				p.cfg.L2TP.PWClasses = without(p.cfg.L2TP.PWClasses, c)
				return nil
			}
			if c == nil {
				c = &PWClass{Name: name, Line: p.line}
				p.cfg.L2TP.PWClasses = append(p.cfg.L2TP.PWClasses, c)
			}
			p.enter(mPWClass, c)
			return nil
		}},

	// ---- l2tp-class -----------------------------------------------------
	{mode: mL2TPClass, spec: "receive-window <n:int:1-16384>", help: "Control-channel receive window offered to the peer (RFC 2661 Receive Window Size).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.l2tpClass().ReceiveWindow, m.Int("n"), neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "retransmit initial retries <n:int:1-1000>", help: "How many times an SCCRQ is sent before giving up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.l2tpClass().RetransInitial, m.Int("n"), neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "retransmit retries <n:int:5-1000>", help: "How many times a control message is retransmitted before the tunnel is declared down.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.l2tpClass().RetransRetries, m.Int("n"), neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "retransmit timeout {max | min} <secs:int:1-8>", help: "Bounds of the exponential retransmission back-off, in seconds.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Has("max") {
				set(&p.l2tpClass().RetransTimeoutMax, m.Int("secs"), neg)
			} else {
				set(&p.l2tpClass().RetransTimeoutMin, m.Int("secs"), neg)
			}
			return nil
		}},
	{mode: mL2TPClass, spec: "timeout setup <secs:int:60-6000>", help: "Seconds a tunnel may take to come up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.l2tpClass().TimeoutSetup, m.Int("secs"), neg)
			return nil
		}},
	{mode: mL2TPClass, spec: "authentication", help: "Authenticate the control channel with the class password (RFC 2661 §4.2).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.l2tpClass().Authentication = !neg; return nil }},
	{mode: mL2TPClass, spec: "hostname <host:word>", help: "The host name announced in tunnel set-up.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.l2tpClass().Hostname, m.Str("host"), neg)
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
		apply: func(p *parser, m *Match, neg bool) error { set(&p.l2tpClass().Hello, m.Int("secs"), neg); return nil }},
	{mode: mL2TPClass, spec: "digest secret " + passwordSpec + " [hash {md5 | sha}]", help: "L2TPv3 control message authentication (RFC 3931 §4.3, §5.4.1): nonces in SCCRQ/SCCRP and an HMAC-MD5 (default) or HMAC-SHA-1 Message Digest in every control message, keyed by this secret.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.l2tpClass()
			if neg {
				c.DigestSecret, c.DigestHash = Secret{}, ""
				return nil
			}
			s, err := secret(m)
			c.DigestSecret = s
			c.DigestHash = m.Keyword("md5", "sha")
			return err
		}},
	{mode: mL2TPClass, spec: "digest check", help: "Verify the peer's L2TPv3 Message Digests (the default); `no digest check` still sends digests but accepts the peer's unchecked.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.l2tpClass().NoDigestCheck = neg; return nil }},

	{mode: mL2TPClass, spec: "cookie size <size:int:0-8>", help: "Octets of the random cookie (RFC 3931 §4.1, §5.4.4) assigned to each dynamic L2TPv3 session: 0 (none), 4 (the default) or 8.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.l2tpClass()
			if neg {
				c.CookieSize = nil
				return nil
			}
			n := m.Int("size")
			if n != 0 && n != 4 && n != 8 {
				return fmt.Errorf("cookie size %d: expected 0, 4 or 8", n)
			}
			c.CookieSize = &n
			return nil
		}},

	// ---- pseudowire-class -----------------------------------------------
	{mode: mPWClass, spec: "encapsulation {l2tpv2 | l2tpv3}", help: "The data encapsulation of sessions using this class.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.pwClass().Encapsulation, m.Keyword("l2tpv2", "l2tpv3"), neg)
			return nil
		}},
	{mode: mPWClass, spec: "protocol {l2tpv2 | l2tpv3 | none} [<class:word>]", help: "The signalling protocol (none: static sessions) and the l2tp-class for its control channel.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.pwClass()
			c.ProtocolLine = p.line
			set(&c.Protocol, m.Keyword("l2tpv2", "l2tpv3", "none"), neg)
			set(&c.L2TPClass, m.Str("class"), neg)
			if c.Protocol == "none" && c.L2TPClass != "" {
				return fmt.Errorf("protocol none %s: static sessions use no l2tp-class; expected protocol none", c.L2TPClass)
			}
			return nil
		}},
	{mode: mPWClass, spec: "ip local interface <iface:interface>", help: "The interface whose address is the local tunnel end: L2TPv3 sessions of the class send from it and are received on it only.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.pwClass().LocalIf, ifArg(m, "iface"), neg)
			return nil
		}},
	{mode: mPWClass, spec: "ip pmtu", help: "Path MTU discovery for sessions of this class: the kernel's (DF set, the path MTU learned and fragmentation done before sending); without it and without ip dfbit set, DF is clear.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.pwClass().IPPMTU = !neg; return nil }},
	{mode: mPWClass, spec: "ip tos {value <v:int:0-255> | reflect}", help: "The ToS byte of tunnel packets: a fixed value (set on the class's socket), or copied per packet from the IPv4/IPv6 packet the frame carries (reflect; frames without one keep the socket's).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.pwClass()
			if m.Has("reflect") {
				c.TOSReflect = !neg
				return nil
			}
			set(&c.TOSValue, new(m.Int("v")), neg)
			return nil
		}},
	{mode: mPWClass, spec: "ip dfbit set", help: "Set DF on tunnel packets (the socket refuses what exceeds the path MTU).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.pwClass().DFBitSet = !neg; return nil }},
	{mode: mPWClass, spec: "ip ttl <ttl:int:1-255>", help: "The TTL of tunnel packets (set on the class's socket).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { set(&p.pwClass().TTL, m.Int("ttl"), neg); return nil }},
	{mode: mPWClass, spec: "ip protocol {l2tp | udp}", help: "How L2TPv3 sessions of the class travel: IP protocol 115 (l2tp, the default, RFC 3931 §4.1.1) or UDP port 1701 (udp, §4.1.2; a vpdn extension of IOS's command).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.pwClass().IPProtocol, m.Keyword("l2tp", "udp"), neg)
			return nil
		}},
	{mode: mPWClass, spec: "sequencing {transmit | receive | both}", help: "Sequence numbers on data messages.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.pwClass().Sequencing, m.Keyword("transmit", "receive", "both"), neg)
			return nil
		}},
}
