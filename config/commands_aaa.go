package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// aaaCommands are the local users, aaa attribute lists and domains, and the
// AAA method lists.
var aaaCommands = []*command{
	{mode: mGlobal, spec: "username <name:word> [privilege <priv:int:0-15>] password " + passwordSpec, help: "A local user for PPP authentication (and for L2TP tunnel authentication by host name). Type 0 is clear text, 7 the Cisco reversible encoding.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			u := p.cfg.User(name)
			if neg {
				if u != nil {
					p.cfg.AAA.Users = without(p.cfg.AAA.Users, u)
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
			p.cfg.AAA.Users = append(p.cfg.AAA.Users, &User{Name: name, Line: p.line, Password: s, Privilege: m.Int("priv")})
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
				p.cfg.AAA.Users = append(p.cfg.AAA.Users, u)
			}
			u.AttrListLine = p.line
			set(&u.AttrList, m.Str("list"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "aaa attribute list <name:word>", help: "Defines authorization attributes for local users and domains, and enters its mode.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			l := p.cfg.AttrListByName(name)
			if neg {
				if l != nil {
					p.cfg.AAA.AttrLists = without(p.cfg.AAA.AttrLists, l)
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
				set(&l.Addr, m.Addr("addr"), neg)
			case m.Has("addr-pool"):
				set(&l.Pool, m.Str("pool"), neg)
			case m.Has("primary-dns"):
				set(&l.PrimaryDNS, m.Addr("dns1"), neg)
			case m.Has("secondary-dns"):
				set(&l.SecondaryDNS, m.Addr("dns2"), neg)
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
				setMember(&l.Routes, pfx, neg)
			case m.Has("session-timeout"):
				set(&l.SessionTimeout, m.Int("st"), neg)
			case m.Has("idletime"):
				set(&l.IdleTimeout, m.Int("it"), neg)
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
	{mode: mGlobal, spec: "aaa local authentication attempts max-fail <n:int:1-65535>", help: "Lock a local user out after N consecutive failed authentications; it stays locked until `clear aaa local user lockout username NAME` (or `all`). `show aaa local user lockout` lists the locked users.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cfg.AAA.LocalMaxFail, m.Int("n"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "aaa new-model", help: "Enables the AAA access control model.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cfg.AAA.NewModel = !neg; return nil }},
	{mode: mGlobal, spec: "aaa authentication ppp {default | <list:word>} {local | none | if-needed | group <server:word> | local-case}...", help: "The method list PPP authentication uses: `local` checks `username` entries, `none` accepts anyone, `group radius` asks every RADIUS server (radius server, radius-server host) in order, `group NAME` the servers of `aaa group server radius NAME`.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			return setMethodList(p, &p.cfg.AAA.Authentication, "ppp", m, neg)
		}},
	{mode: mGlobal, spec: "aaa authentication login {default | <list:word>} {local | none | group <server:word> | local-case}...", help: "A login method list: vpdn uses it for XAuth (`crypto map NAME client authentication list L`), with the same methods as PPP's lists.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			return setMethodList(p, &p.cfg.AAA.Login, "login", m, neg)
		}},
	{mode: mGlobal, spec: "aaa authorization network {default | <list:word>} {local | none | if-authenticated | group <server:word>}...", help: "The method list for network (PPP) authorization: addresses, pools, routes.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			return setMethodList(p, &p.cfg.AAA.Authorization, "network", m, neg)
		}},
	{mode: mGlobal, spec: "aaa accounting network {default | <list:word>} none", help: "A network accounting list that sends nothing (IOS form, without a method).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if err := setMethodList(p, &p.cfg.AAA.Accounting, "network", m, neg); err != nil || neg {
				return err
			}
			l := &p.cfg.AAA.Accounting[len(p.cfg.AAA.Accounting)-1]
			l.Record, l.Methods = "none", []string{}
			return nil
		}},
	{mode: mGlobal, spec: "aaa accounting network {default | <list:word>} {start-stop | stop-only | none} {local | group <server:word>}...", help: "The method list for network (PPP) accounting: `start-stop` sends Start, Interim-Update and Stop records, `stop-only` the Stop alone, `none` nothing; to the first `group` (radius, or an aaa group server radius), through the durable spool (serve --acct-spool). `local` keeps the records in memory only.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if err := setMethodList(p, &p.cfg.AAA.Accounting, "network", m, neg); err != nil || neg {
				return err
			}
			if m.Has("none") {
				// `none` is the record type here, not a method.
				l := &p.cfg.AAA.Accounting[len(p.cfg.AAA.Accounting)-1]
				l.Record = "none"
				l.Methods = slices.DeleteFunc(l.Methods, func(x string) bool { return x == "none" })
			}
			return nil
		}}, {mode: mGlobal, spec: "aaa accounting system default {start-stop | stop-only | none} [group <server:word>]", help: "System accounting (RFC 2866 §5.1): `start-stop` sends Accounting-On when vpdn starts serving, before any session's Start, and Accounting-Off at a clean shutdown, after the sessions' Stops; `stop-only` the Accounting-Off alone; to the group (radius, or an aaa group server radius), through the accounting spool.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if err := setMethodList(p, &p.cfg.AAA.SystemAccounting, "system", m, neg); err != nil || neg {
				return err
			}
			l := &p.cfg.AAA.SystemAccounting[len(p.cfg.AAA.SystemAccounting)-1]
			if m.Has("none") {
				l.Record, l.Methods = "none", []string{}
			} else if len(l.Methods) == 0 {
				return fmt.Errorf("aaa accounting system default %s: incomplete command; expected group radius or group NAME", l.Record)
			}
			return nil
		}},
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
	*lists = append(*lists, ml)
	return nil
}
