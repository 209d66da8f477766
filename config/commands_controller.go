package config

import "strings"

// controllerCommands are the hardware controllers (the ISA MPPE card).
var controllerCommands = []*command{
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
}
