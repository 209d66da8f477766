package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/carrier/l2tpv2"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/vif"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

// Protocols of Config.Protocol.
const (
	ProtoL2TP = "l2tp"
	ProtoPPTP = "pptp"
)

// Config describes a run. Server, Tunnels, Sessions, User and Password are
// required.
type Config struct {
	// Protocol is the carrier: ProtoL2TP (the default: emulated LACs, one
	// tunnel each) or ProtoPPTP (PC-style clients: every session its own
	// TCP control connection to Server, port 1723, with one call; see
	// pptp.go).
	Protocol string
	Server   netip.AddrPort
	// Binds opens the emulated LACs' sockets (nil: the kernel's,
	// transport.System), each at Local (port 0: an ephemeral port of its
	// own; the zero Local is 0.0.0.0:0).
	Binds transport.Factory
	Local netip.AddrPort
	// Tunnels is the number of emulated LACs (one tunnel each), Sessions
	// the number of sessions in each tunnel. With PPTP the run has
	// Tunnels × Sessions sessions all the same, each on a control
	// connection of its own.
	Tunnels, Sessions int

	User, Password string
	// Auth, when set, is the only method we accept to be authenticated
	// with: the others are refused in LCP (ppp refuse). Zero accepts any
	// the server asks for except EAP, as the daemon's client does; with
	// PPTP it is MS-CHAPv2, the method MPPE takes its keys from (RFC
	// 3079), which PPTP servers require.
	Auth aaa.Method
	// MPPE is the sessions' `ppp encrypt mppe` (RFC 3078; zero: none).
	MPPE ppp.MPPEConfig

	// TunnelName is the Host Name AVP of our SCCRQ (default "LAC");
	// TunnelSecret the tunnel password, if the LNS authenticates tunnels.
	TunnelName   string
	TunnelSecret []byte

	// Rate is the arrival rate in sessions per second; 0 starts them as
	// fast as MaxInFlight allows.
	Rate float64
	// MaxInFlight bounds the sessions being set up at once (default 256).
	MaxInFlight int
	// MaxOpeningTunnels bounds the tunnels being opened at once (default
	// 8): an LNS keeps few half-open tunnels per source address (vpdn:
	// 16) and drops the oldest beyond that. With PPTP it bounds the
	// control connections being opened and their call placed (TCP
	// connect to Outgoing-Call-Reply; default 64).
	MaxOpeningTunnels int
	// MaxDialsPerTunnel bounds the calls being placed (ICRQ to ICCN) at
	// once on each tunnel. 0 derives it from the LNS's Receive Window
	// Size once the tunnel is up: half of it, at least 1 (see
	// dialLimit). Until the first call of a tunnel returns, the others
	// on it wait.
	MaxDialsPerTunnel int
	// Hold is how long the established sessions stay up once all
	// sessions are set up or have failed; 0 tears down at once.
	Hold time.Duration
	// Timeout bounds each session's set-up, from ICRQ to IPCP open
	// (default 30 s).
	Timeout time.Duration
	// TeardownWait bounds how long the tunnels get for their CDNs and
	// StopCCN to be acknowledged before they are dropped (default 30 s;
	// the wait ends as soon as every StopCCN got through): a closing
	// tunnel would otherwise hold its state for the whole §5.7
	// retransmission cycle. The CDNs of a tunnel go out a receive window
	// at a time, so hundreds of them take a while against a busy LNS.
	TeardownWait time.Duration
	// Traffic, when its Interval is set, makes the sessions ping through
	// their tunnels during the hold.
	Traffic Traffic
	// Runners is the number of goroutines driving the PPP links
	// (default 4).
	Runners int
	// Clock runs the PPP links' timers (nil: a timing wheel for the run).
	Clock clock.Clock
	// Progress, if set, is called about once a second during the run.
	Progress func(Progress)
	Logger   *slog.Logger // nil: no logging
}

// Progress is a snapshot of a run.
type Progress struct {
	Elapsed                       time.Duration
	Established, Failed, InFlight int
}

// Failure reasons, the keys of Report.FailuresByReason.
const (
	ReasonL2TP     = "l2tp"           // the tunnel or the call could not be set up, or the LNS cleared it
	ReasonPPTP     = "pptp"           // the TCP connection, the control connection or the call failed, or the server cleared it
	ReasonAuth     = "authentication" // the LNS rejected our credentials, or no method was acceptable
	ReasonIPCP     = "ipcp"           // authenticated, but IPCP gave no address
	ReasonPPP      = "ppp"            // LCP failed (or another PPP reason)
	ReasonTimeout  = "timeout"        // not up within Config.Timeout
	ReasonCanceled = "canceled"       // the run's context ended first
)

// Report is the outcome of a run.
type Report struct {
	Protocol string // ProtoL2TP or ProtoPPTP
	// Tunnels is the number of emulated LACs (L2TP) or of control
	// connections (PPTP: one per session, SessionsPerTunnel 1).
	Tunnels           int
	SessionsPerTunnel int
	Sessions          int // attempted: Tunnels × SessionsPerTunnel
	Established       int
	Failed            int
	FailuresByReason  map[string]int
	// DroppedDuringHold counts established sessions the LNS ended before
	// we did.
	DroppedDuringHold int
	// SetupElapsed is the set-up phase: from the first ICRQ until every
	// session is up or has failed. SetupRate is Established / SetupElapsed.
	SetupElapsed time.Duration
	SetupRate    float64
	// Set-up latency of the established sessions, from the start of the
	// session's Dial (ICRQ; SCCRQ first for the one that opens its
	// tunnel) to IPCP open.
	P50, P90, P99, Max time.Duration
	// FramesBeforeReceiver counts data messages that found no session
	// during the set-up phase: the data path is installed when the LNS
	// answers a call, before our ICCN, so it stays 0 unless the LNS
	// misbehaves. (Later, an LCP echo crossing a session's teardown is
	// normal and not counted.)
	FramesBeforeReceiver uint64
	// Traffic counts the echo traffic of the hold (Config.Traffic).
	Traffic TrafficReport
	Elapsed time.Duration // the whole run, teardown included
}

// MarshalJSON renders the report as one flat object with durations in
// milliseconds (seconds for the phases).
func (r Report) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	fr := r.FailuresByReason
	if fr == nil {
		fr = map[string]int{}
	}
	return json.Marshal(struct {
		Protocol             string         `json:"protocol"`
		Tunnels              int            `json:"tunnels"`
		SessionsPerTunnel    int            `json:"sessions_per_tunnel"`
		Sessions             int            `json:"sessions"`
		Established          int            `json:"established"`
		Failed               int            `json:"failed"`
		FailuresByReason     map[string]int `json:"failures_by_reason"`
		DroppedDuringHold    int            `json:"dropped_during_hold"`
		SetupS               float64        `json:"setup_s"`
		SetupRate            float64        `json:"setup_rate_per_s"`
		P50                  float64        `json:"p50_ms"`
		P90                  float64        `json:"p90_ms"`
		P99                  float64        `json:"p99_ms"`
		Max                  float64        `json:"max_ms"`
		FramesBeforeReceiver uint64         `json:"frames_before_receiver"`
		TrafficSent          uint64         `json:"traffic_sent"`
		TrafficReceived      uint64         `json:"traffic_received"`
		TrafficUnanswered    int            `json:"traffic_unanswered_sessions"`
		ElapsedS             float64        `json:"elapsed_s"`
	}{r.Protocol, r.Tunnels, r.SessionsPerTunnel, r.Sessions, r.Established, r.Failed, fr, r.DroppedDuringHold,
		r.SetupElapsed.Seconds(), math.Round(r.SetupRate*10) / 10, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max),
		r.FramesBeforeReceiver, r.Traffic.Sent, r.Traffic.Received, r.Traffic.Unanswered, r.Elapsed.Seconds()})
}

// String is the human-readable report.
func (r Report) String() string {
	var b strings.Builder
	if r.Protocol == ProtoPPTP {
		fmt.Fprintf(&b, "%d PPTP sessions (a control connection each): %d established, %d failed", r.Sessions, r.Established, r.Failed)
	} else {
		fmt.Fprintf(&b, "%d tunnels × %d sessions: %d established, %d failed", r.Tunnels, r.SessionsPerTunnel, r.Established, r.Failed)
	}
	if r.Failed > 0 {
		keys := make([]string, 0, len(r.FailuresByReason))
		for k := range r.FailuresByReason {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", k, r.FailuresByReason[k])
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "\nset-up: %.1f sessions/s over %v; latency p50 %v, p90 %v, p99 %v, max %v\n",
		r.SetupRate, r.SetupElapsed.Round(time.Millisecond), r.P50.Round(10*time.Microsecond),
		r.P90.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond))
	if r.DroppedDuringHold > 0 {
		fmt.Fprintf(&b, "dropped by the LNS during the hold: %d\n", r.DroppedDuringHold)
	}
	if t := r.Traffic; t.Sent > 0 {
		fmt.Fprintf(&b, "traffic: %d echo requests, %d replies (%.2f %% lost), %d sessions without a reply\n",
			t.Sent, t.Received, 100*(1-float64(t.Received)/float64(t.Sent)), t.Unanswered)
	}
	fmt.Fprintf(&b, "elapsed %v\n", r.Elapsed.Round(time.Millisecond))
	return b.String()
}

func (c *Config) check() error {
	if c.Protocol == "" {
		c.Protocol = ProtoL2TP
	}
	pptp := c.Protocol == ProtoPPTP
	switch {
	case c.Protocol != ProtoL2TP && !pptp:
		return fmt.Errorf("loadgen: protocol %q: expected l2tp or pptp", c.Protocol)
	case !c.Server.IsValid():
		return errors.New("loadgen: no server address")
	case c.Tunnels < 1 || c.Sessions < 1:
		return errors.New("loadgen: tunnels and sessions must be at least 1")
	case c.Sessions > 65535:
		return errors.New("loadgen: at most 65535 sessions per tunnel")
	case pptp && c.Tunnels*c.Sessions > 65535:
		// Call IDs are unique per PPTP node (RFC 2637 §2.7).
		return errors.New("loadgen: at most 65535 PPTP sessions")
	case c.Tunnels*c.Sessions > 1<<24:
		return errors.New("loadgen: more than 16M sessions")
	case c.User == "" || c.Password == "":
		return errors.New("loadgen: user and password are required")
	case c.Rate < 0 || c.Hold < 0 || c.Timeout < 0 || c.MaxDialsPerTunnel < 0:
		return errors.New("loadgen: negative rate, hold, timeout or dials per tunnel")
	case c.Traffic.Interval < 0:
		return errors.New("loadgen: negative traffic interval")
	case c.Traffic.Size != 0 && (c.Traffic.Size < minEcho || c.Traffic.Size > 1460):
		return fmt.Errorf("loadgen: traffic size %d: expected %d to 1460 octets", c.Traffic.Size, minEcho)
	case c.Traffic.Target.IsValid() && !c.Traffic.Target.Is4():
		return errors.New("loadgen: the traffic target must be an IPv4 address")
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 256
	}
	if c.MaxOpeningTunnels <= 0 {
		c.MaxOpeningTunnels = 8
		if pptp {
			c.MaxOpeningTunnels = 64
		}
	}
	if pptp && c.Auth == 0 {
		c.Auth = aaa.MSCHAPv2
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.TeardownWait <= 0 {
		c.TeardownWait = 30 * time.Second
	}
	if c.Runners <= 0 {
		c.Runners = 4
	}
	if c.TunnelName == "" {
		c.TunnelName = "LAC"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Binds == nil {
		c.Binds = transport.System
	}
	if !c.Local.Addr().IsValid() {
		c.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), c.Local.Port())
	}
	return nil
}

// session states
const (
	stPending uint32 = iota
	stUp
	stFailed
	stClosed
)

// session is one emulated PPP session: an access-layer session in the
// client role, on the LAC's L2TP carrier or on a PPTP call of its own.
type session struct {
	g     *gen
	lac   *lac // nil with PPTP
	idx   int32
	state atomic.Uint32
	// dispatched: the session holds an in-flight slot. start is when its
	// call was placed (its Dial began): the set-up timeout and the
	// latency count from there, not from the wait for its tunnel.
	dispatched bool
	start      atomic.Int64               // UnixNano
	timer      atomic.Pointer[time.Timer] // the set-up timeout
	as         atomic.Pointer[access.Session]
	echo       echoState
}

// lac is one emulated LAC: an L2TP carrier on its own bind, one tunnel.
type lac struct {
	svc    *l2tpv2.Service
	done   chan struct{} // its bind's reader has returned
	params l2tp.TunnelParams

	// up is closed when the first call (the one that opened the tunnel)
	// returned; dials, set before, then bounds the calls being placed.
	up    chan struct{}
	dials chan struct{}
	// openErr, set before up is closed, is the opener's failure: the
	// tunnel did not come up, and the calls waiting for it fail with it
	// rather than each trying again for a Timeout of its own.
	openErr error

	mu     sync.Mutex
	opened bool // a Dial has been started on it
}

type gen struct {
	cfg     Config
	log     *slog.Logger
	wheel   *clock.Wheel
	plane   *dataplane.Plane
	acc     *access.Manager
	lacs    []*lac
	pptp    *pptpClients  // with ProtoPPTP instead of lacs
	slots   chan struct{} // in-flight sessions
	opening chan struct{} // tunnels being opened
	byIdx   []*session    // every session, by index

	mu       sync.Mutex
	latency  []time.Duration
	reasons  map[string]int
	failed   int
	dropped  int
	resolved int
	total    int
	allDone  chan struct{}
	// beforeReceiver is the data plane's unknown-session drops at the
	// end of the set-up phase (Report.FramesBeforeReceiver).
	beforeReceiver uint64
	tearing        bool
	up             []*session
	all            []*session // dispatched; written by dispatch only
	inFlight       atomic.Int64
	traffic        trafficCounters
}

// Run runs the load: it sets the sessions up, holds them, tears them down
// and reports. The error is for a run that could not start (bad
// configuration, no socket); failed sessions are in the Report. Every wait
// is bounded by Config.Timeout, so Run returns by itself.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.check(); err != nil {
		return Report{}, err
	}
	total := cfg.Tunnels * cfg.Sessions
	g := &gen{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxInFlight),
		opening: make(chan struct{}, cfg.MaxOpeningTunnels), reasons: map[string]int{},
		latency: make([]time.Duration, 0, total), allDone: make(chan struct{}), total: total, up: make([]*session, 0, total),
		byIdx: make([]*session, total)}
	start := time.Now()
	if err := g.build(); err != nil {
		g.close()
		return Report{}, err
	}
	defer g.close()

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-progressDone:
					return
				case <-t.C:
					cfg.Progress(g.progress(time.Since(start)))
				}
			}
		})
	}

	// Set-up phase: dispatch every session, then wait until each one is up
	// or has failed (each is bounded by its own timer).
	var dials sync.WaitGroup
	g.dispatch(ctx, &dials, start, total)
	select {
	case <-g.allDone:
	case <-ctx.Done():
		// Interrupted: every session still being set up fails now rather
		// than at its timeout.
		for _, s := range g.all {
			s.fail(ReasonCanceled)
		}
		<-g.allDone
	}
	setup := time.Since(start)
	dials.Wait()
	// Frames for unknown sessions count until here: in the hold and the
	// teardown an LCP echo of the LNS may cross a session's end.
	g.beforeReceiver = g.plane.Drops()["unknown-session"]

	if cfg.Hold > 0 && ctx.Err() == nil {
		stopTraffic := g.startTraffic()
		t := time.NewTimer(cfg.Hold)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		stopTraffic()
		if cfg.Traffic.Interval > 0 && ctx.Err() == nil {
			// The last requests' replies are still on their way.
			time.Sleep(min(time.Second, cfg.Traffic.Interval))
		}
	}
	g.teardown()
	close(progressDone)
	progressWG.Wait()

	rep := g.report(setup)
	rep.Traffic = g.trafficReport()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// build makes the generator's node: one data plane, one access layer in
// the client role whose interfaces are sinks (sinkHost), and an L2TP
// carrier per emulated LAC on a bind of its own.
func (g *gen) build() error {
	cfg := g.cfg
	g.plane = dataplane.New(dataplane.Config{Logger: g.log})
	ifs, err := vif.New(vif.Config{Host: sinkHost{g}, Logger: g.log})
	if err != nil {
		return err
	}
	clk := cfg.Clock
	if clk == nil {
		// The links' timers on one wheel, as the daemon's: 100,000 sessions
		// are not 100,000 runtime timers.
		g.wheel = clock.NewWheel(0, 0)
		clk = g.wheel
	}
	g.acc, err = access.New(access.Config{Plane: g.plane, Interfaces: ifs, Clock: clk, PPPLogger: cfg.Logger,
		Runners: cfg.Runners, OnUp: g.sessionUp, OnEnd: g.sessionEnd})
	if err != nil {
		return err
	}
	if cfg.Protocol == ProtoPPTP {
		return g.newPPTP(clk)
	}
	for i := range cfg.Tunnels {
		if err := g.newLAC(i); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) newLAC(i int) error {
	l := &lac{up: make(chan struct{}), done: make(chan struct{}),
		params: l2tp.TunnelParams{LocalName: g.cfg.TunnelName, Secret: g.cfg.TunnelSecret, Class: "bench",
			SetupTimeout: g.cfg.Timeout, Hello: -1}}
	bind, err := g.cfg.Binds.ListenUDP(g.cfg.Local)
	if err != nil {
		return fmt.Errorf("loadgen: socket of LAC %d: %w", i, err)
	}
	// Calls the LNS places toward us (OCRQ) are refused: no Profile.
	svc, err := l2tpv2.New(l2tpv2.Config{Bind: bind, Plane: g.plane, Access: g.acc, Logger: g.cfg.Logger.With("lac", i)})
	if err != nil {
		bind.Close()
		return fmt.Errorf("loadgen: %w", err)
	}
	l.svc = svc
	go func() {
		defer close(l.done)
		if err := svc.Serve(); err != nil {
			g.log.Error("loadgen: socket", "local", bind.LocalAddr().String(), "err", err)
		}
	}()
	g.lacs = append(g.lacs, l)
	return nil
}

// close stops what build made.
func (g *gen) close() {
	for _, l := range g.lacs {
		l.svc.Bind().Close()
		<-l.done
	}
	if g.pptp != nil {
		g.pptp.close()
	}
	if g.acc != nil {
		g.acc.Close(access.CauseShutdown)
	}
	if g.plane != nil {
		g.plane.Close()
	}
	if g.wheel != nil {
		g.wheel.Close()
	}
}

// profile is the PPP profile of session s: a client on Virtual-PPP unit
// idx+1, authenticating with the run's credentials.
func (g *gen) profile(s *session) *access.Profile {
	p := &access.Profile{Role: access.Client, Template: "bench", Kind: vif.VirtualPPP, Unit: int(s.idx) + 1,
		MTU: 1460, Hostname: g.cfg.User, Password: g.cfg.Password, ClientIPCP: true, MPPE: g.cfg.MPPE}
	for _, m := range []aaa.Method{aaa.PAP, aaa.CHAP, aaa.MSCHAPv1, aaa.MSCHAPv2, aaa.EAPMD5} {
		if (g.cfg.Auth == 0 && m == aaa.EAPMD5) || (g.cfg.Auth != 0 && m != g.cfg.Auth) {
			p.Refuse = append(p.Refuse, m)
		}
	}
	return p
}

// byName returns the session of an access session's interface ("Vp7" is
// session 6).
func (g *gen) byName(name string) *session {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "Vp"))
	if err != nil || n < 1 || n > len(g.byIdx) {
		return nil
	}
	return g.byIdx[n-1]
}

// dispatch starts the sessions round robin over the tunnels (PPTP: each
// on a control connection of its own), at the configured rate, with at
// most MaxInFlight in set-up.
func (g *gen) dispatch(ctx context.Context, dials *sync.WaitGroup, start time.Time, total int) {
	var interval time.Duration
	if g.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / g.cfg.Rate)
	}
	next := start
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	wait := func(c <-chan time.Time) bool {
		select {
		case <-c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for k := range total {
		s := &session{g: g, idx: int32(k)}
		if g.pptp == nil {
			s.lac = g.lacs[k%g.cfg.Tunnels]
		}
		g.byIdx[k] = s
		if ctx.Err() != nil {
			g.resolve(s, ReasonCanceled, false)
			continue
		}
		// Token bucket with a burst of one: session k starts at
		// start + k/rate, or at once when we are behind by more than a
		// second (the bucket does not save up more).
		if interval > 0 {
			now := time.Now()
			if d := next.Sub(now); d > 0 {
				timer.Reset(d)
				if !wait(timer.C) {
					g.resolve(s, ReasonCanceled, false)
					continue
				}
			} else if -d > time.Second {
				next = now
			}
			next = next.Add(interval)
		}
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			g.resolve(s, ReasonCanceled, false)
			continue
		}
		// Every PPTP session opens its control connection.
		first := s.lac == nil || s.lac.claim()
		if first {
			select {
			case g.opening <- struct{}{}:
			case <-ctx.Done():
				<-g.slots
				g.resolve(s, ReasonCanceled, false)
				continue
			}
		}
		g.inFlight.Add(1)
		s.dispatched = true
		g.all = append(g.all, s)
		dials.Go(func() { s.dial(ctx, first) })
	}
}

// claim marks the LAC as opened and reports whether it was not yet: the
// caller's session opens its tunnel.
func (l *lac) claim() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := !l.opened
	l.opened = true
	return first
}

// dial places the call (ICRQ/ICRP/ICCN); PPP runs on it in the access
// layer, which reports the outcome (sessionUp, sessionEnd).
func (s *session) dial(ctx context.Context, opener bool) {
	g := s.g
	if g.pptp != nil {
		s.dialPPTP(ctx)
		return
	}
	l := s.lac
	call := l2tp.CallParams{CallingNumber: strconv.Itoa(int(s.idx))}
	var as *access.Session
	var err error
	if opener {
		as, err = s.placeCall(ctx, call)
		l.dials = make(chan struct{}, dialLimit(g.cfg.MaxDialsPerTunnel, l.svc))
		l.openErr = err
		close(l.up)
		<-g.opening
	} else if err = l.waitDial(ctx); err == nil {
		// The wait is bounded by the calls ahead of this one, each by
		// its own Timeout (and by ctx).
		as, err = s.placeCall(ctx, call)
		<-l.dials
	}
	if err != nil {
		reason := ReasonL2TP
		switch {
		case ctx.Err() != nil:
			reason = ReasonCanceled
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, l2tp.ErrSetupTimeout):
			reason = ReasonTimeout
		}
		g.log.Debug("loadgen: call failed", "session", s.idx, "err", err)
		s.fail(reason)
		return
	}
	s.as.Store(as)
	if s.state.Load() == stFailed {
		// Canceled or timed out while the call was placed.
		as.Close(access.CauseAdmin, "canceled")
	}
}

// placeCall starts the session's set-up clock and places its call
// (ICRQ/ICRP/ICCN; SCCRQ first for the opener), bounded by Timeout.
//
// The set-up timer is armed here, when the call starts, and not at
// dispatch: under loss the calls of a tunnel queue behind its slow ones,
// and a timer armed at dispatch fired a few milliseconds after a late
// call's LCP began, failing as "timeout" a session whose own set-up had
// just started (issue 13 item 8).
func (s *session) placeCall(ctx context.Context, call l2tp.CallParams) (*access.Session, error) {
	g := s.g
	s.startClock()
	dctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	return s.lac.svc.Dial(dctx, g.cfg.Server, s.lac.params, call, g.profile(s))
}

// startClock marks the start of the session's set-up and arms its
// timeout.
func (s *session) startClock() {
	s.start.Store(time.Now().UnixNano())
	s.timer.Store(time.AfterFunc(s.g.cfg.Timeout, func() { s.fail(ReasonTimeout) }))
	if s.state.Load() != stPending {
		// Failed (canceled) before its call: the timer must not outlive it.
		s.stopTimer()
	}
}

// dialLimit is the number of calls placed at once on a tunnel: limit when
// set, else half the LNS's Receive Window Size (RFC 2661 §5.8; 4 when it
// announces none, as l2tpns does), at least 1.
//
// Each call in progress has at most one control message unacknowledged
// (ICRQ, then ICCN), so half the window leaves room for the messages
// just finished calls still have in flight: no message waits for the
// window, and none delays the acknowledgement it would carry. Found
// against l2tpns: 256 calls in flight over 10 tunnels gave 62 sessions/s
// and a p50 of 1.2 s, two per tunnel 1,860/s and 5 ms. Part of that was
// proto/l2tp's bug (a ZLB sent while messages waited carried an Ns past
// them, and l2tpns drops a control message whose Ns is not the one it
// expects, ZLBs and their Nr included; fixed, TestReliableZLBNs); the
// rest is l2tpns's window of 4 and its sending no ZLB while its own
// messages are unacknowledged, so queued calls still cost round trips.
func dialLimit(limit int, svc *l2tpv2.Service) int {
	if limit > 0 {
		return limit
	}
	w := 4
	for _, t := range svc.Node().Tunnels() {
		if pw := t.Stats().PeerWindow; pw > 0 {
			w = pw
		}
	}
	return max(1, w/2)
}

// waitDial waits for the tunnel's first call to return, then for a slot
// among the calls placed at once. When the first call failed, so does
// the wait, with its error.
func (l *lac) waitDial(ctx context.Context) error {
	select {
	case <-l.up:
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.openErr != nil {
		return l.openErr
	}
	select {
	case l.dials <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sessionUp is the access layer's OnUp: IPCP is open.
func (g *gen) sessionUp(as *access.Session) {
	s := g.byName(as.Name())
	if s == nil {
		return
	}
	v := as.View()
	if !v.Local.IsValid() || v.Local.IsUnspecified() {
		s.fail(ReasonIPCP)
		return
	}
	if !s.state.CompareAndSwap(stPending, stUp) {
		return
	}
	s.as.Store(as)
	s.echo.setLocal(v.Local)
	s.echo.target = v.Peer
	if t := g.cfg.Traffic.Target; t.IsValid() {
		s.echo.target = t
	}
	s.stopTimer()
	g.resolve(s, "", true)
}

// sessionEnd is the access layer's OnEnd: a session failed to come up, or
// an established one ended.
func (g *gen) sessionEnd(as *access.Session, c access.Cause, wasUp bool) {
	s := g.byName(as.Name())
	if s == nil {
		return
	}
	if s.state.CompareAndSwap(stPending, stFailed) {
		s.stopTimer()
		g.log.Debug("loadgen: session failed", "session", s.idx, "cause", c.String())
		g.resolve(s, classify(c, as.Reached(), g.carrierReason()), false)
		return
	}
	if s.state.CompareAndSwap(stUp, stClosed) {
		g.droppedDuringHold()
	}
}

// carrierReason is the failure reason of the run's carrier.
func (g *gen) carrierReason() string {
	if g.pptp != nil {
		return ReasonPPTP
	}
	return ReasonL2TP
}

// classify names why a session that had its call up failed: by the cause,
// and where PPP got to; carrier is the reason of a lost call.
func classify(c access.Cause, reached ppp.Phase, carrier string) string {
	switch {
	case c == access.CauseAuthFailed:
		return ReasonAuth
	case c == access.CauseNoAddress:
		return ReasonIPCP
	case reached == ppp.PhaseNetwork:
		return ReasonIPCP // authenticated, but no address
	case reached == ppp.PhaseAuthenticate:
		return ReasonAuth
	case c == access.CauseLostService || c == access.CauseLostCarrier:
		return carrier
	}
	return ReasonPPP
}

// fail ends a pending session.
func (s *session) fail(reason string) {
	if !s.state.CompareAndSwap(stPending, stFailed) {
		return
	}
	s.stopTimer()
	s.g.log.Debug("loadgen: session failed", "session", s.idx, "reason", reason)
	s.g.resolve(s, reason, false)
	if as := s.as.Load(); as != nil {
		as.Close(access.CauseAdmin, reason)
	}
}

func (s *session) stopTimer() {
	if t := s.timer.Load(); t != nil {
		t.Stop()
	}
}

// resolve records a session's outcome and frees its in-flight slot.
func (g *gen) resolve(s *session, reason string, up bool) {
	dispatched := s.dispatched
	if !up {
		s.state.Store(stFailed)
	}
	g.mu.Lock()
	if up {
		g.latency = append(g.latency, time.Duration(time.Now().UnixNano()-s.start.Load()))
		g.up = append(g.up, s)
	} else {
		g.failed++
		g.reasons[reason]++
	}
	g.resolved++
	if g.resolved == g.total {
		close(g.allDone)
	}
	g.mu.Unlock()
	if dispatched {
		g.inFlight.Add(-1)
		<-g.slots
	}
}

func (g *gen) droppedDuringHold() {
	g.mu.Lock()
	if !g.tearing {
		g.dropped++
	}
	g.mu.Unlock()
}

func (g *gen) progress(el time.Duration) Progress {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Progress{Elapsed: el, Established: len(g.latency), Failed: g.failed, InFlight: int(g.inFlight.Load())}
}

// teardown sends CDN for every established session, then StopCCN on every
// tunnel, and waits a bounded time for the tunnels to go.
func (g *gen) teardown() {
	g.mu.Lock()
	g.tearing = true
	up := g.up
	g.mu.Unlock()
	var ended []*access.Session
	for _, s := range up {
		if as := s.as.Load(); as != nil && s.state.CompareAndSwap(stUp, stClosed) {
			as.Close(access.CauseAdmin, "bench over")
			ended = append(ended, as)
		}
	}
	deadline := time.After(g.cfg.Timeout)
	for _, as := range ended {
		select {
		case <-as.Done():
		case <-deadline:
		}
	}
	if g.pptp != nil {
		g.pptp.stop(g.cfg.TeardownWait)
		return
	}
	// StopCCN (result 6) on every tunnel, behind its CDNs, then wait
	// until the LNS acknowledged them all: dropping a tunnel earlier
	// (the bench process ends) leaves the LNS with its sessions until
	// its HELLO finds the peer gone. The §5.7 hold after that would
	// outlast the run: the tunnels are dropped once acknowledged.
	var ts []*l2tp.Tunnel
	for _, l := range g.lacs {
		for _, t := range l.svc.Node().Tunnels() {
			t.Close(wl2tp.Result{Code: wl2tp.StopShuttingDown})
			ts = append(ts, t)
		}
	}
	until := time.Now().Add(g.cfg.TeardownWait)
	for _, t := range ts {
		for {
			st := t.Stats()
			// Closing (StopCCN queued: Close is asynchronous) with
			// nothing left unacknowledged, or gone.
			if (st.State == l2tp.TunClosing && st.Unacked == 0) || st.State == l2tp.TunDead || !time.Now().Before(until) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for _, l := range g.lacs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 0)
			defer cancel()
			l.svc.Close(ctx)
		})
	}
	wg.Wait()
}

func (g *gen) report(setup time.Duration) Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := Report{Protocol: g.cfg.Protocol, Tunnels: g.cfg.Tunnels, SessionsPerTunnel: g.cfg.Sessions, Sessions: g.cfg.Tunnels * g.cfg.Sessions,
		Established: len(g.latency), Failed: g.failed, FailuresByReason: map[string]int{},
		DroppedDuringHold: g.dropped, SetupElapsed: setup}
	if g.pptp != nil {
		r.Tunnels, r.SessionsPerTunnel = r.Sessions, 1
	}
	for k, v := range g.reasons {
		r.FailuresByReason[k] = v
	}
	if setup > 0 {
		r.SetupRate = float64(r.Established) / setup.Seconds()
	}
	if n := len(g.latency); n > 0 {
		lat := slices.Clone(g.latency)
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(n-1, int(math.Ceil(p*float64(n)))-1)] }
		r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), lat[n-1]
	}
	r.FramesBeforeReceiver = g.beforeReceiver
	return r
}
