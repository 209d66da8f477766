package debug

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	s := New()
	cases := map[string]string{
		"vpdn l2x-events": "vpdn l2x-events", "vpdn l2x-ev": "vpdn l2x-events", "v l2x-er": "vpdn l2x-errors",
		"ppp neg": "ppp negotiation", "PPP AUTH": "ppp authentication", "ppp error": "ppp error",
		"ppp mppe": "ppp mppe", "ppp mp": "ppp mppe", "vpdn pptp": "vpdn pptp-events",
	}
	for in, want := range cases {
		got, err := s.Resolve(strings.Fields(in))
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"vpdn l2x", "vpdn l2x-e", "ppp", "nothing here", "vpdn l2x-events extra"} {
		if got, err := s.Resolve(strings.Fields(bad)); err == nil {
			t.Errorf("Resolve(%q) = %v, want error", bad, got)
		}
	}
	if all, _ := s.Resolve([]string{"all"}); len(all) != len(Known) {
		t.Errorf("all = %d switches", len(all))
	}
}

func TestGate(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New()
	l := s.Logger(base, "ppp negotiation")
	l.Debug("hidden")
	l.Info("shown")
	if err := s.Set("ppp negotiation", true); err != nil {
		t.Fatal(err)
	}
	l.Debug("now shown")
	s.Set("ppp negotiation", false)
	l.Debug("hidden again")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") || !strings.Contains(out, "now shown") {
		t.Fatalf("gate output:\n%s", out)
	}
	if !strings.Contains(out, `debug="ppp negotiation"`) {
		t.Fatalf("records lack the switch attribute:\n%s", out)
	}
	if got := s.Enabled(); len(got) != 0 {
		t.Fatalf("enabled = %v", got)
	}
}

func TestRouter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	s := New()
	l := slog.New(s.Router(base, "vpdn"))
	l.Debug("event one", "debug", "l2x-events")
	s.Set("vpdn l2x-events", true)
	l.Debug("event two", "debug", "l2x-events")
	l.Debug("error one", "debug", "l2x-errors")
	l.Info("always")
	out := buf.String()
	if strings.Contains(out, "event one") || !strings.Contains(out, "event two") || strings.Contains(out, "error one") || !strings.Contains(out, "always") {
		t.Fatalf("router output:\n%s", out)
	}
}

// TestRouterSeveralSwitches: a record tagged with two switches passes
// while either is on, and a tag naming no switch of the family never does.
func TestRouterSeveralSwitches(t *testing.T) {
	var buf bytes.Buffer
	base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	s := New()
	vpdn := slog.New(s.Router(base, "vpdn"))
	ppp := slog.New(s.Router(base, "ppp"))
	vpdn.Debug("pptp error one", "debug", "pptp-events,error")
	ppp.Debug("ccp one", "debug", "ppp negotiation,ppp mppe")
	s.Set("vpdn error", true)
	vpdn.Debug("pptp error two", "debug", "pptp-events,error")
	vpdn.Debug("unknown switch", "debug", "no-such-switch")
	s.Set("vpdn error", false)
	s.Set("vpdn pptp-events", true)
	vpdn.Debug("pptp error three", "debug", "pptp-events,error")
	s.Set("ppp mppe", true)
	ppp.Debug("ccp two", "debug", "ppp negotiation,ppp mppe")
	ppp.Debug("lcp one", "debug", "ppp negotiation")
	out := buf.String()
	for _, want := range []string{"pptp error two", "pptp error three", "ccp two"} {
		if !strings.Contains(out, want) {
			t.Errorf("router output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"pptp error one", "ccp one", "unknown switch", "lcp one"} {
		if strings.Contains(out, not) {
			t.Errorf("router output has %q:\n%s", not, out)
		}
	}
}
