// Package debug holds the IOS-style debug switches (`debug vpdn l2x-events`,
// `debug ppp negotiation`, ...): named flags that gate Debug-level logging
// per subsystem and can be flipped at run time from the CLI.
package debug

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
)

// Known lists every switch, with what it logs.
var Known = []struct{ Name, Help string }{
	{"vpdn event", "VPDN session events: set-up, teardown, authorization"},
	{"vpdn error", "VPDN errors: refused tunnels and sessions, and why"},
	{"vpdn l2x-events", "L2TP/L2F protocol events: state machine transitions (FSM-CC, FSM-Sn)"},
	{"vpdn l2x-errors", "L2TP/L2F protocol errors: malformed messages, bad AVPs, retransmission failures"},
	{"vpdn l2x-packets", "L2TP/L2F control messages sent and received"},
	{"vpdn pptp-events", "PPTP control connection and call events"},
	{"ppp negotiation", "PPP LCP/IPCP/IPv6CP/CCP option negotiation"},
	{"ppp mppe", "MPPE: its CCP negotiation, CCP Reset-Requests and -Acks (resynchronisation)"},
	{"ppp authentication", "PPP PAP/CHAP/MS-CHAP/EAP exchanges"},
	{"ppp error", "PPP protocol errors"},
	{"ppp packet", "PPP control packets sent and received"},
	{"aaa authentication", "AAA authentication requests and results"},
	{"aaa authorization", "AAA authorization requests and results"},
	{"aaa accounting", "AAA accounting records: spooled, sent, acknowledged, retried"},
	{"radius", "RADIUS packets sent, received and dropped: code, id, server, attributes summarised (never a secret or a password)"},
	{"config", "configuration loads and reloads"},
	{"crypto isakmp", "IKE phase 1 and quick mode exchanges, in IOS's `debug crypto isakmp` shapes (states, proposals, retransmissions, DPD)"},
	{"crypto ipsec", "IPsec SAs: requests, creation and deletion, rekeys, in IOS's `debug crypto ipsec` shapes"},
}

// Switches is a set of debug switches. The zero value has all off.
type Switches struct {
	flags map[string]*atomic.Bool
}

// New returns a set with every known switch off.
func New() *Switches {
	s := &Switches{flags: map[string]*atomic.Bool{}}
	for _, k := range Known {
		s.flags[k.Name] = new(atomic.Bool)
	}
	return s
}

// Resolve maps words ("vpdn", "l2x-e") to a switch name, accepting
// unambiguous prefixes of each word as IOS does; "all" matches every switch.
func (s *Switches) Resolve(words []string) ([]string, error) {
	if len(words) == 1 && strings.EqualFold(words[0], "all") {
		var all []string
		for _, k := range Known {
			all = append(all, k.Name)
		}
		return all, nil
	}
	var matches []string
	for _, k := range Known {
		parts := strings.Fields(k.Name)
		if len(parts) != len(words) {
			continue
		}
		ok := true
		for i, w := range words {
			if !strings.HasPrefix(parts[i], strings.ToLower(w)) {
				ok = false
				break
			}
		}
		if ok {
			matches = append(matches, k.Name)
		}
	}
	switch len(matches) {
	case 1:
		return matches, nil
	case 0:
		return nil, fmt.Errorf("debug: no switch %q; expected one of: %s", strings.Join(words, " "), strings.Join(s.Names(), ", "))
	}
	// An exact name wins over prefixes.
	if i := slices.Index(matches, strings.ToLower(strings.Join(words, " "))); i >= 0 {
		return matches[i : i+1], nil
	}
	return nil, fmt.Errorf("debug: %q is ambiguous: %s", strings.Join(words, " "), strings.Join(matches, ", "))
}

// Set turns a switch on or off.
func (s *Switches) Set(name string, on bool) error {
	f, ok := s.flags[name]
	if !ok {
		return fmt.Errorf("debug: no switch %q", name)
	}
	f.Store(on)
	return nil
}

// On reports whether a switch is on.
func (s *Switches) On(name string) bool {
	if s == nil {
		return false
	}
	f := s.flags[name]
	return f != nil && f.Load()
}

// Names returns every switch name.
func (s *Switches) Names() []string {
	var out []string
	for _, k := range Known {
		out = append(out, k.Name)
	}
	return out
}

// Enabled returns the switches that are on, in table order.
func (s *Switches) Enabled() []string {
	var out []string
	for _, k := range Known {
		if s.On(k.Name) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Logger returns a logger for the subsystem behind switch name: its Debug
// records pass only while the switch is on; Info and above always pass.
// Records carry debug=NAME so they can be told apart.
func (s *Switches) Logger(base *slog.Logger, name string) *slog.Logger {
	if base == nil {
		base = slog.New(discard{})
	}
	if _, ok := s.flags[name]; !ok {
		panic("debug: unknown switch " + name)
	}
	return slog.New(&gate{next: base.Handler().WithAttrs([]slog.Attr{slog.String("debug", name)}), flag: s.flags[name]})
}

type gate struct {
	next slog.Handler
	flag *atomic.Bool
}

func (g *gate) Enabled(ctx context.Context, l slog.Level) bool {
	if l <= slog.LevelDebug {
		return g.flag.Load()
	}
	return g.next.Enabled(ctx, l)
}

func (g *gate) Handle(ctx context.Context, r slog.Record) error { return g.next.Handle(ctx, r) }
func (g *gate) WithAttrs(a []slog.Attr) slog.Handler {
	return &gate{next: g.next.WithAttrs(a), flag: g.flag}
}
func (g *gate) WithGroup(n string) slog.Handler {
	return &gate{next: g.next.WithGroup(n), flag: g.flag}
}

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }

// Router returns a handler for a subsystem that tags each Debug record with
// an attribute debug=NAME (proto/l2tp does: "l2x-events", "l2x-errors"):
// such a record passes while the switch "FAMILY NAME" is on ("vpdn
// l2x-events"). A record that belongs to several switches names them all,
// separated by commas (debug="pptp-events,error"; proto/ppp's CCP lines
// are "ppp negotiation,ppp mppe"): it passes while any of them is on.
// Untagged Debug records pass while any switch of the family is on; Info
// and above always pass.
func (s *Switches) Router(next slog.Handler, family string) slog.Handler {
	var mine []*atomic.Bool
	for _, k := range Known {
		if strings.HasPrefix(k.Name, family+" ") {
			mine = append(mine, s.flags[k.Name])
		}
	}
	return &router{next: next, s: s, family: family, flags: mine}
}

type router struct {
	next   slog.Handler
	s      *Switches
	family string
	flags  []*atomic.Bool
}

func (r *router) Enabled(ctx context.Context, l slog.Level) bool {
	if l > slog.LevelDebug {
		return r.next.Enabled(ctx, l)
	}
	for _, f := range r.flags {
		if f.Load() {
			return true
		}
	}
	return false
}

func (r *router) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level <= slog.LevelDebug {
		tag := ""
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "debug" {
				tag = a.Value.String()
				return false
			}
			return true
		})
		if tag != "" && !r.anyOn(tag) {
			return nil
		}
	}
	return r.next.Handle(ctx, rec)
}

// anyOn reports whether a switch the tag names is on. The loop is bounded
// by the tag's commas.
func (r *router) anyOn(tag string) bool {
	for name := range strings.SplitSeq(tag, ",") {
		name = strings.TrimSpace(name)
		if !strings.HasPrefix(name, r.family+" ") {
			name = r.family + " " + name
		}
		if r.s.On(name) {
			return true
		}
	}
	return false
}

func (r *router) WithAttrs(a []slog.Attr) slog.Handler {
	return &router{next: r.next.WithAttrs(a), s: r.s, family: r.family, flags: r.flags}
}

func (r *router) WithGroup(n string) slog.Handler {
	return &router{next: r.next.WithGroup(n), s: r.s, family: r.family, flags: r.flags}
}
