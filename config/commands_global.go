package config

import (
	"fmt"
	"net/netip"
)

// globalCommands are the global switches: the host name, IOS services,
// vpdn enable and the vpdn extensions of the management plane.
var globalCommands = []*command{
	{mode: mGlobal, spec: "hostname <name:word>", help: "Name of this system; the default local tunnel name.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cfg.Hostname, m.Str("name"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "version <v:word>", help: "Accepted for compatibility with IOS configurations; ignored.",
		apply: func(p *parser, m *Match, neg bool) error { return nil }},
	{inert: "vpdn has no such IOS services; the switch is kept for the record", mode: mGlobal, spec: "service {internal | timestamps <rest:line>}", help: "IOS service switches. `service internal` is accepted (document 004 uses it for PPTP clients); `service timestamps` is accepted and ignored.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if m.Has("internal") {
				setMember(&p.cfg.Services, "internal", neg)
			}
			return nil
		}},
	{mode: mGlobal, spec: "service password-encryption", help: "As IOS: `show running-config` writes every clear-text (type 0) secret in the reversible type 7 form. Without it, `show running-config` masks them as `0 <removed>`; `show running-config --secrets` (admin role) prints them as written. Type 7 is obfuscation, not encryption.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			setMember(&p.cfg.Services, ServicePasswordEncryption, neg)
			return nil
		}},
	{mode: mGlobal, spec: "vpdn enable", help: "Enables virtual private dialup networking: without it no tunnel is accepted or initiated.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cfg.VPDN.Enabled = !neg; return nil }},
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
	{mode: mGlobal, spec: "vpdn session-limit <n:int:1-131072>", help: "The most L2TP sessions the router holds at once (default 131072); a call beyond it is refused with CDN result 4. Takes effect when the L2TP service starts.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cfg.VPDN.SessionLimit, m.Int("n"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "vpdn pool-store postgres [<type:int:0-7>] <password:line>", help: "vpdn extension: keep the leases of every ip local pool in PostgreSQL (a libpq connection string or URL, quotes optional), shared with the other LNS instances naming the same database, so that none hands out an address another holds. A secret: `show running-config` masks it. Takes effect at start (a reload keeps the store in force).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				if p.cfg.VPDN.PoolStore != nil {
					p.cfg.VPDN.PoolStore.DSN = Secret{}
				}
				return nil
			}
			s, err := secret(m)
			if err != nil {
				return err
			}
			if v := s.Value; len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				s.Value = v[1 : len(v)-1]
			}
			if s.Value == "" || s.Value == MaskedSecret {
				return fmt.Errorf("vpdn pool-store postgres: expected a connection string, e.g. \"host=198.18.0.9 dbname=vpdn user=vpdn\"")
			}
			ps := p.poolStore()
			ps.DSN, ps.Line = s, p.line
			return nil
		}},
	{mode: mGlobal, spec: "vpdn pool-store owner <name:word>", help: "vpdn extension: the name this instance's leases carry in the pool store (default: the hostname). Each instance sharing a database needs its own: on start an instance frees every lease of its name.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.poolStore().Owner, m.Str("name"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "vpdn tunnel-limit per-peer <n:int:1-4096>", help: "vpdn extension: the most L2TP tunnels one address may open to the router (default 1024); beyond it SCCRQ is refused with StopCCN result 2, error 4. Takes effect when the L2TP service starts.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.cfg.VPDN.TunnelLimitPerPeer, m.Int("n"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "vpdn l2tp listen <addr:word>", help: "vpdn extension: the address and UDP port L2TP is served on (default 0.0.0.0:1701, every address as IOS does).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.cfg.VPDN.L2TPListen = ""
				return nil
			}
			ap, err := netip.ParseAddrPort(m.Str("addr"))
			if err != nil || !ap.Addr().Is4() {
				return fmt.Errorf("vpdn l2tp listen %q: expected IPv4-ADDRESS:PORT, e.g. 198.18.0.2:1701", m.Str("addr"))
			}
			p.cfg.VPDN.L2TPListen = ap.String()
			return nil
		}},
	{mode: mGlobal, spec: "vpdn pptp listen <addr:ipv4>", help: "vpdn extension: the address PPTP is served on, TCP port 1723 and GRE (default 0.0.0.0, every address as IOS does).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if neg {
				p.cfg.VPDN.PPTPListen = ""
				return nil
			}
			p.cfg.VPDN.PPTPListen = m.Str("addr")
			return nil
		}},
	{mode: mGlobal, spec: "vpdn virtual-access shared", help: "vpdn extension: carry every Virtual-Access session on one interface, vpdn0, with a host route per peer, instead of one TUN per session (for many sessions; routing protocols then cannot run per session).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error { p.cfg.VPDN.SharedAccess = !neg; return nil }},
}

// poolStore returns the vpdn pool-store settings, made on first use.
func (p *parser) poolStore() *PoolStore {
	if p.cfg.VPDN.PoolStore == nil {
		p.cfg.VPDN.PoolStore = &PoolStore{}
	}
	return p.cfg.VPDN.PoolStore
}
