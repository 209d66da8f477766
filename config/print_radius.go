package config

import (
	"fmt"
	"strings"
)

// printRadius prints the RADIUS section: servers, defaults, groups, the
// source interface, then dynamic-author and the accounting update.
func printRadius(w *printer, r *RADIUS) {
	if r == nil {
		return
	}
	for _, s := range r.Servers {
		w.line(0, "radius server %s", s.Name)
		if s.Addr.IsValid() {
			w.line(1, "address ipv4 %s%s", s.Addr, radiusPortsText(s.AuthPort, s.AcctPort))
		}
		if !s.Key.IsZero() {
			w.line(1, "key %s", fmtSecret(s.Key))
		}
		if s.Timeout != 0 {
			w.line(1, "timeout %d", s.Timeout)
		}
		if s.Retransmit >= 0 {
			w.line(1, "retransmit %d", s.Retransmit)
		}
		w.bang()
	}
	for _, h := range r.Hosts {
		w.line(0, "radius-server host %s%s", h.Addr, radiusServerText(h))
	}
	if !r.Key.IsZero() {
		w.line(0, "radius-server key %s", fmtSecret(r.Key))
	}
	if r.Timeout != 0 {
		w.line(0, "radius-server timeout %d", r.Timeout)
	}
	if r.Retransmit >= 0 {
		w.line(0, "radius-server retransmit %d", r.Retransmit)
	}
	if r.Deadtime != 0 {
		w.line(0, "radius-server deadtime %d", r.Deadtime)
	}
	if r.SourceInterface != nil {
		w.line(0, "ip radius source-interface %s", r.SourceInterface)
	}
	if len(r.Hosts) > 0 || !r.Key.IsZero() || r.Timeout != 0 || r.Retransmit >= 0 || r.Deadtime != 0 || r.SourceInterface != nil {
		w.bang()
	}
	for _, g := range r.Groups {
		w.line(0, "aaa group server radius %s", g.Name)
		for _, m := range g.Members {
			switch {
			case m.Server != "":
				w.line(1, "server name %s", m.Server)
			case m.Private != nil:
				w.line(1, "server-private %s%s", m.Private.Addr, radiusServerText(m.Private))
			default:
				w.line(1, "server %s%s", m.Host, radiusPortsText(m.AuthPort, m.AcctPort))
			}
		}
		w.bang()
	}
	if da := r.DynamicAuthor; da != nil {
		w.line(0, "aaa server radius dynamic-author")
		for _, c := range da.Clients {
			if c.Key.IsZero() {
				w.line(1, "client %s", c.Addr)
				continue
			}
			w.line(1, "client %s server-key %s", c.Addr, fmtSecret(c.Key))
		}
		if !da.Key.IsZero() {
			w.line(1, "server-key %s", fmtSecret(da.Key))
		}
		if da.Port != 0 {
			w.line(1, "port %d", da.Port)
		}
		w.bang()
	}
	if r.AccountingUpdate != 0 || r.AccountingNewInfo {
		line := "aaa accounting update"
		if r.AccountingNewInfo {
			line += " newinfo"
		}
		if r.AccountingUpdate != 0 {
			line += fmt.Sprintf(" periodic %d", r.AccountingUpdate)
		}
		w.line(0, "%s", line)
		w.bang()
	}
}

func radiusPortsText(auth, acct int) string {
	var b strings.Builder
	if auth != 0 {
		fmt.Fprintf(&b, " auth-port %d", auth)
	}
	if acct != 0 {
		fmt.Fprintf(&b, " acct-port %d", acct)
	}
	return b.String()
}

// radiusServerText is what follows the address of radius-server host and
// server-private.
func radiusServerText(s *RadiusServer) string {
	t := radiusPortsText(s.AuthPort, s.AcctPort)
	if s.Timeout != 0 {
		t += fmt.Sprintf(" timeout %d", s.Timeout)
	}
	if s.Retransmit >= 0 {
		t += fmt.Sprintf(" retransmit %d", s.Retransmit)
	}
	if !s.Key.IsZero() {
		t += " key " + fmtSecret(s.Key)
	}
	return t
}
