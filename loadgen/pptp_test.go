package loadgen

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	pptpc "github.com/vpdn/vpdn/carrier/pptp"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/vif"
	"github.com/vpdn/vpdn/wire/mppe"
)

var pptpAddr = netip.MustParseAddrPort("198.18.0.2:1723")

// testPPTP is a PPTP tunnel server made of the parts the daemon's is made
// of — the PPTP carrier in the PAC role on a TCP listener and a GRE bind,
// the access layer in the server role, the data plane and the shared
// interface on a fake host — with the fake AAA, addresses from a counter
// and `ppp encrypt mppe auto`.
type testPPTP struct {
	svc   *pptpc.Service
	plane *dataplane.Plane
	acc   *access.Manager
	ifs   *vif.Manager
	gre   transport.Bind
	ln    net.Listener
	aaa   *fakeAAA
	mppe  atomic.Int64 // most sessions seen with MPPE both ways at once

	nextAddr               atomic.Uint32
	greDone, lnDone        chan struct{}
	stopEchoes, echoesDone chan struct{}
}

func newTestPPTP(nw *memnet.Network, a *fakeAAA, methods []aaa.Method) (*testPPTP, error) {
	s := &testPPTP{aaa: a, greDone: make(chan struct{}), lnDone: make(chan struct{}),
		stopEchoes: make(chan struct{}), echoesDone: make(chan struct{})}
	host := netif.NewFakeHost()
	s.plane = dataplane.New(dataplane.Config{})
	var err error
	if s.ifs, err = vif.New(vif.Config{Host: host, Shared: true, SharedMTU: 1460}); err != nil {
		return nil, err
	}
	shared := host.Device(vif.SharedName)
	if err := s.plane.SetShared(shared); err != nil {
		return nil, err
	}
	go func() { defer close(s.echoesDone); answerEchoes(shared, s.stopEchoes) }()
	s.acc, err = access.New(access.Config{Plane: s.plane, Interfaces: s.ifs, Runners: 2,
		Authenticator: func(string) aaa.Authenticator { return s.aaa },
		AssignAddress: func(*aaa.Authorization, string, string) (*aaa.Lease, error) {
			n := s.nextAddr.Add(1)
			return &aaa.Lease{Addr: netip.AddrFrom4([4]byte{198, 19, byte(1 + n>>8), byte(n)})}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	if s.gre, err = nw.ListenIP(47, pptpAddr.Addr()); err != nil {
		return nil, err
	}
	if s.ln, err = nw.ListenTCP(pptpAddr); err != nil {
		return nil, err
	}
	prof := &access.Profile{Role: access.Server, Template: "Virtual-Template1", MTU: 1400, AuthMethods: methods,
		Hostname: "PPTP_HUB", Password: "x", Local: netip.MustParseAddr("198.19.0.1"), Shared: true, VerifySource: true,
		MPPE: ppp.MPPEConfig{Strengths: ppp.MPPEAuto}}
	s.svc, err = pptpc.New(pptpc.Config{Role: pptp.RolePAC, GRE: s.gre, Plane: s.plane, Access: s.acc,
		Node:    pptp.Config{HostName: "PPTP_HUB"},
		Profile: func(pptp.ConnStats) (*access.Profile, error) { return prof, nil }})
	if err != nil {
		return nil, err
	}
	go func() { defer close(s.greDone); s.svc.Serve() }()
	go func() { defer close(s.lnDone); s.svc.ServeControl(s.ln) }()
	return s, nil
}

// countMPPE records how many sessions have MPPE both ways now. (MPPE
// comes with CCP, which may open after IPCP, and is gone by the end of a
// session: the sessions are looked at during the hold.)
func (s *testPPTP) countMPPE() {
	var n int64
	for _, as := range s.acc.Sessions() {
		if as.View().MPPE != nil {
			n++
		}
	}
	if n > s.mppe.Load() {
		s.mppe.Store(n)
	}
}

func (s *testPPTP) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.ln.Close()
	<-s.lnDone
	s.acc.Close(access.CauseShutdown)
	s.svc.Close(ctx)
	s.gre.Close()
	<-s.greDone
	close(s.stopEchoes)
	<-s.echoesDone
	s.plane.ClearShared()
	s.plane.Close()
	s.ifs.Close()
}

// runPPTP runs the generator with PPTP against the in-memory tunnel
// server, in a synctest bubble, with a hold of 2 s in which the server's
// MPPE sessions are counted, and checks that the teardown left the server
// with no session and no control connection.
func runPPTP(t *testing.T, methods []aaa.Method, cfg Config) (Report, *testPPTP) {
	t.Helper()
	var rep Report
	var srv *testPPTP
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(3)
		var err error
		if srv, err = newTestPPTP(nw, &fakeAAA{user: "cisco2", password: "cisco2"}, methods); err != nil {
			t.Fatal(err)
		}
		defer srv.close()
		cfg.Protocol = ProtoPPTP
		cfg.Server = pptpAddr
		cfg.Binds, cfg.Local = memBinds(nw)
		cfg.Hold = 2 * time.Second
		cfg.Progress = func(Progress) { srv.countMPPE() }
		if rep, err = Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st := srv.svc.Node().Stats()
		t.Logf("server node %+v", st)
		if n := srv.acc.Len(); n != 0 {
			t.Errorf("the server still holds %d sessions after the teardown", n)
		}
		if st.Conns != 0 || st.Calls != 0 {
			t.Errorf("the server still holds %d control connections and %d calls after the teardown", st.Conns, st.Calls)
		}
	})
	return rep, srv
}

// TestRunPPTP: 200 PPTP sessions, each its own control connection and
// call, MS-CHAPv2 and MPPE auto, against the in-memory tunnel server:
// every one comes up with MPPE, pings the server through its encrypted
// tunnel during the hold and gets every reply, is torn down (CDN, then
// StopCCRQ), and the report says so.
func TestRunPPTP(t *testing.T) {
	rep, srv := runPPTP(t, []aaa.Method{aaa.MSCHAPv2, aaa.CHAP},
		Config{Tunnels: 1, Sessions: 200, User: "cisco2", Password: "cisco2", MPPE: ppp.MPPEConfig{Strengths: ppp.MPPEAuto},
			Traffic: Traffic{Interval: 500 * time.Millisecond}})
	t.Logf("%s", rep)
	if rep.Established != 200 || rep.Failed != 0 || rep.Sessions != 200 {
		t.Fatalf("established %d failed %d (%v) of %d, want 200 0", rep.Established, rep.Failed, rep.FailuresByReason, rep.Sessions)
	}
	if rep.Protocol != ProtoPPTP || rep.Tunnels != 200 || rep.SessionsPerTunnel != 1 {
		t.Errorf("protocol %q, %d tunnels × %d: want pptp, 200 control connections of 1 session", rep.Protocol, rep.Tunnels, rep.SessionsPerTunnel)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 || rep.SetupRate <= 0 || rep.SetupElapsed <= 0 {
		t.Errorf("p50 %v p99 %v max %v rate %v set-up %v", rep.P50, rep.P99, rep.Max, rep.SetupRate, rep.SetupElapsed)
	}
	if rep.Max >= 3*time.Second {
		t.Errorf("max latency %v: some session waited for a PPP retransmission", rep.Max)
	}
	if rep.FramesBeforeReceiver != 0 || rep.DroppedDuringHold != 0 || rep.Elapsed < 2*time.Second {
		t.Errorf("frames before receiver %d, dropped during hold %d, elapsed %v", rep.FramesBeforeReceiver, rep.DroppedDuringHold, rep.Elapsed)
	}
	if tr := rep.Traffic; tr.Sent < 200 || tr.Received != tr.Sent || tr.Unanswered != 0 {
		t.Errorf("traffic %+v: want every echo answered", tr)
	}
	if n := srv.aaa.calls.Load(); n != 200 {
		t.Errorf("the server authenticated %d times, want 200", n)
	}
	if n := srv.mppe.Load(); n != 200 {
		t.Errorf("%d sessions came up with MPPE on the server, want 200", n)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"protocol": "pptp", "tunnels": 200.0, "sessions_per_tunnel": 1.0, "sessions": 200.0,
		"established": 200.0, "failed": 0.0} {
		if m[k] != want {
			t.Errorf("JSON %q = %v, want %v: %s", k, m[k], want, b)
		}
	}
	for _, k := range []string{"setup_rate_per_s", "p50_ms", "p99_ms", "failures_by_reason", "elapsed_s", "setup_s"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON report lacks %q: %s", k, b)
		}
	}
}

// TestRunPPTPCases: MPPE off, the wrong password, a bound of one control
// connection opened at once, and a method the server does not offer.
func TestRunPPTPCases(t *testing.T) {
	base := Config{Tunnels: 4, Sessions: 5, User: "cisco2", Password: "cisco2"}
	with := func(f func(*Config)) Config { c := base; f(&c); return c }
	for _, c := range []struct {
		name    string
		methods []aaa.Method
		cfg     Config
		up      int
		reason  string
		mppe    int64
	}{
		{name: "no mppe", methods: []aaa.Method{aaa.MSCHAPv2}, cfg: base, up: 20},
		{name: "mppe auto, one opening", methods: []aaa.Method{aaa.MSCHAPv2},
			cfg: with(func(c *Config) { c.MPPE.Strengths = mppe.Opt128; c.MaxOpeningTunnels = 1 }), up: 20, mppe: 20},
		{name: "chap", methods: []aaa.Method{aaa.CHAP}, cfg: with(func(c *Config) { c.Auth = aaa.CHAP }), up: 20},
		{name: "wrong password", methods: []aaa.Method{aaa.MSCHAPv2}, cfg: with(func(c *Config) { c.Password = "nope" }), reason: ReasonAuth},
		// The server wants CHAP; the PPTP default accepts only MS-CHAPv2.
		{name: "chap refused", methods: []aaa.Method{aaa.CHAP}, cfg: base, reason: ReasonAuth},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, srv := runPPTP(t, c.methods, c.cfg)
			if rep.Established != c.up || rep.Failed != 20-c.up {
				t.Fatalf("established %d failed %d %v, want %d up", rep.Established, rep.Failed, rep.FailuresByReason, c.up)
			}
			if c.reason != "" && rep.FailuresByReason[c.reason] != rep.Failed {
				t.Errorf("failures %v, want all %q", rep.FailuresByReason, c.reason)
			}
			if n := srv.mppe.Load(); n != c.mppe {
				t.Errorf("%d sessions with MPPE, want %d", n, c.mppe)
			}
		})
	}
}

// TestRunPPTPNoServer: nothing listens on 1723; every session fails for
// PPTP at once (connection refused) and Run returns.
func TestRunPPTPNoServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		binds, local := memBinds(nw)
		rep, err := Run(context.Background(), Config{Protocol: ProtoPPTP, Server: pptpAddr, Binds: binds, Local: local,
			Tunnels: 1, Sessions: 10, User: "u", Password: "p", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 10 || rep.FailuresByReason[ReasonPPTP] != 10 {
			t.Errorf("%+v", rep)
		}
	})
}

// TestConfigCheckPPTP: the PPTP limits and a bad protocol are refused
// with a clear error.
func TestConfigCheckPPTP(t *testing.T) {
	ok := Config{Protocol: ProtoPPTP, Server: pptpAddr, Tunnels: 1, Sessions: 10, User: "u", Password: "p"}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"protocol", with(func(c *Config) { c.Protocol = "gre" }), `loadgen: protocol "gre": expected l2tp or pptp`},
		{"too many", with(func(c *Config) { c.Tunnels, c.Sessions = 2, 40000 }), "loadgen: at most 65535 PPTP sessions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.check()
			if err == nil || err.Error() != c.want {
				t.Errorf("check: %v, want %q", err, c.want)
			}
		})
	}
	c := ok
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if c.Auth != aaa.MSCHAPv2 || c.MaxOpeningTunnels != 64 {
		t.Errorf("PPTP defaults: auth %v, opening %d; want MS-CHAPv2, 64", c.Auth, c.MaxOpeningTunnels)
	}
}

// TestParseMPPE: the --mppe words, and a clear error for the others.
func TestParseMPPE(t *testing.T) {
	for _, c := range []struct {
		in   string
		want mppe.Options
		err  string
	}{
		{in: "auto", want: ppp.MPPEAuto},
		{in: "none"},
		{in: "required", err: `loadgen: mppe "required": expected auto or none`},
		{in: "", err: `loadgen: mppe "": expected auto or none`},
	} {
		got, err := ParseMPPE(c.in)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("ParseMPPE(%q): %v, want %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got.Strengths != c.want):
			t.Errorf("ParseMPPE(%q) = %+v, %v; want strengths %v", c.in, got, err, c.want)
		}
	}
}
