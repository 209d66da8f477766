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
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/proto/ppp"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
	wppp "github.com/vpdn/vpdn/wire/ppp"
)

// Conn is how an emulated LAC sends: l2tp.Conn (transport.UDPConn and
// memnet.Conn implement it).
type Conn interface {
	WriteTo(b []byte, to netip.AddrPort) error
}

// Socket opens the socket of one emulated LAC. It returns the Conn the
// LAC's node sends through and a function that closes the socket; from
// the moment it returns until closed, it hands every datagram received
// to deliver (which does not retain b).
type Socket func(deliver func(b []byte, from netip.AddrPort)) (conn Conn, close func() error, err error)

// Config describes a run. Server, Socket, Tunnels, Sessions, User and
// Password are required.
type Config struct {
	Server netip.AddrPort
	Socket Socket
	// Tunnels is the number of emulated LACs (one tunnel each), Sessions
	// the number of sessions in each tunnel.
	Tunnels, Sessions int

	User, Password string
	// Auth, when set, is the only method we accept to be authenticated
	// with: the others are refused in LCP (ppp refuse). Zero accepts any
	// the server asks for except EAP, as the daemon's client does.
	Auth aaa.Method

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
	// 16) and drops the oldest beyond that.
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
	// TeardownWait is how long the tunnels get for their StopCCN to be
	// acknowledged before they are dropped (default 1 s): a tunnel would
	// otherwise hold its state for the whole §5.7 retransmission cycle.
	TeardownWait time.Duration
	// Traffic, when its Interval is set, makes the sessions ping through
	// their tunnels during the hold.
	Traffic Traffic
	// Runners is the number of goroutines driving the PPP links
	// (default 4).
	Runners int
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
	ReasonAuth     = "authentication" // the LNS rejected our credentials, or no method was acceptable
	ReasonIPCP     = "ipcp"           // authenticated, but IPCP gave no address
	ReasonPPP      = "ppp"            // LCP failed (or another PPP reason)
	ReasonTimeout  = "timeout"        // not up within Config.Timeout
	ReasonCanceled = "canceled"       // the run's context ended first
)

// Report is the outcome of a run.
type Report struct {
	Tunnels           int // emulated LACs
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
	// FramesBeforeReceiver counts PPP frames the nodes dropped for want
	// of a receiver (those arriving before Dial returned are held for it,
	// up to a bound; see lac.early).
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
	}{r.Tunnels, r.SessionsPerTunnel, r.Sessions, r.Established, r.Failed, fr, r.DroppedDuringHold,
		r.SetupElapsed.Seconds(), math.Round(r.SetupRate*10) / 10, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max),
		r.FramesBeforeReceiver, r.Traffic.Sent, r.Traffic.Received, r.Traffic.Unanswered, r.Elapsed.Seconds()})
}

// String is the human-readable report.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d tunnels × %d sessions: %d established, %d failed", r.Tunnels, r.SessionsPerTunnel, r.Established, r.Failed)
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
	switch {
	case !c.Server.IsValid():
		return errors.New("loadgen: no server address")
	case c.Socket == nil:
		return errors.New("loadgen: Config.Socket is nil")
	case c.Tunnels < 1 || c.Sessions < 1:
		return errors.New("loadgen: tunnels and sessions must be at least 1")
	case c.Sessions > 65535:
		return errors.New("loadgen: at most 65535 sessions per tunnel")
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
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.TeardownWait <= 0 {
		c.TeardownWait = time.Second
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
	return nil
}

// session states
const (
	stPending uint8 = iota
	stUp
	stFailed
	stClosed
)

// session is one emulated PPP session. Once its call is up every field
// is touched only on its runner's goroutine.
type session struct {
	g     *gen
	lac   *lac
	run   *ppp.Runner
	idx   int32
	key   uint32 // our tunnel<<16 | session ID
	state uint8
	// What the frames from the LNS told us about authentication: a CHAP
	// Success / PAP Ack, or a CHAP Failure / PAP Nak.
	authOK, authFailed bool
	started            bool // LCP opened (see silentWait)
	start              time.Time
	timer              *time.Timer
	l2                 *l2tp.Session
	link               *ppp.Link
	echo               echoState
}

// lac is one emulated LAC: a node on its own socket, one tunnel.
type lac struct {
	node   *l2tp.Node
	close  func() error
	params l2tp.TunnelParams

	// up is closed when the first call (the one that opened the tunnel)
	// returned; dials, set before, then bounds the calls being placed.
	up    chan struct{}
	dials chan struct{}

	mu       sync.Mutex
	sessions map[*l2tp.Session]*session
	opened   bool // a Dial has been started on it
	// Data messages that arrive for a session before Dial has returned
	// it to us (the LNS starts LCP the moment ICCN arrives) would be
	// dropped by the node for want of a receiver, and cost a PPP Restart
	// period. They are held here, by tunnel<<16|session, until the
	// receiver is in place (ready).
	early map[uint32][]earlyPacket
	ready map[uint32]bool
}

type earlyPacket struct {
	b    []byte
	from netip.AddrPort
}

// Bounds of lac.early: sessions with held messages, messages per session.
const (
	maxEarlySessions = 4096
	maxEarlyPerSess  = 8
)

// deliver is the socket's handler: everything goes to the node, except
// data messages for sessions not ready yet.
func (l *lac) deliver(n *l2tp.Node, b []byte, from netip.AddrPort) {
	if len(b) > 0 && b[0]&0x80 == 0 { // T bit clear: a data message (RFC 2661 §3.1)
		if h, err := wl2tp.ParseHeader(b); err == nil {
			key := uint32(h.TunnelID)<<16 | uint32(h.SessionID)
			l.mu.Lock()
			if !l.ready[key] {
				q, have := l.early[key]
				if (have || len(l.early) < maxEarlySessions) && len(q) < maxEarlyPerSess {
					l.early[key] = append(q, earlyPacket{append([]byte(nil), b...), from})
					l.mu.Unlock()
					return
				}
			}
			l.mu.Unlock()
		}
	}
	n.HandlePacket(b, from)
}

// setReady marks a session's receiver as installed and hands it what
// arrived before, in order (under the lock, so nothing overtakes it).
func (l *lac) setReady(key uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ready[key] = true
	for _, p := range l.early[key] {
		l.node.HandlePacket(p.b, p.from)
	}
	delete(l.early, key)
}

type gen struct {
	cfg     Config
	log     *slog.Logger
	runners []*ppp.Runner
	wheel   *clock.Wheel // every PPP link's timers, as in the daemon
	lacs    []*lac
	slots   chan struct{} // in-flight sessions
	opening chan struct{} // tunnels being opened

	mu       sync.Mutex
	latency  []time.Duration
	reasons  map[string]int
	failed   int
	dropped  int
	resolved int
	total    int
	allDone  chan struct{}
	tearing  bool
	up       []*session
	all      []*session // dispatched; written by dispatch only
	inFlight atomic.Int64
	traffic  trafficCounters
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
		latency: make([]time.Duration, 0, total), allDone: make(chan struct{}), total: total, up: make([]*session, 0, total)}
	start := time.Now()
	g.wheel = clock.NewWheel(0, 0)
	defer g.wheel.Close() // after the runners: no link is left to arm a timer
	for range cfg.Runners {
		g.runners = append(g.runners, ppp.NewRunner())
	}
	defer func() {
		for _, r := range g.runners {
			r.Close()
		}
	}()
	defer g.closeSockets()
	for i := range cfg.Tunnels {
		if err := g.newLAC(i); err != nil {
			return Report{}, err
		}
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
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
		}()
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
			s.run.Post(func() { s.fail(ReasonCanceled) })
		}
		<-g.allDone
	}
	setup := time.Since(start)
	dials.Wait()

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

func (g *gen) newLAC(i int) error {
	l := &lac{up: make(chan struct{}), sessions: map[*l2tp.Session]*session{}, early: map[uint32][]earlyPacket{}, ready: map[uint32]bool{},
		params: l2tp.TunnelParams{LocalName: g.cfg.TunnelName, Secret: g.cfg.TunnelSecret, Class: "bench",
			SetupTimeout: g.cfg.Timeout, Hello: -1}}
	var node atomic.Pointer[l2tp.Node]
	conn, closeFn, err := g.cfg.Socket(func(b []byte, from netip.AddrPort) {
		if n := node.Load(); n != nil {
			l.deliver(n, b, from)
		}
	})
	if err != nil {
		return fmt.Errorf("loadgen: socket of LAC %d: %w", i, err)
	}
	l.close = closeFn
	n, err := l2tp.NewNode(l2tp.Config{Conn: conn, Logger: g.cfg.Logger.With("lac", i),
		OnSessionDown: func(s *l2tp.Session, err error) {
			l.mu.Lock()
			ss := l.sessions[s]
			l.mu.Unlock()
			if ss != nil {
				ss.run.Post(func() { ss.l2Down(err) })
			}
		},
		// Calls the LNS places toward us (OCRQ) are refused.
		OnCall: func(c *l2tp.Call) { c.Reject(wl2tp.Result{Code: wl2tp.CDNGeneralError}) },
	})
	if err != nil {
		closeFn()
		return fmt.Errorf("loadgen: %w", err)
	}
	l.node = n
	node.Store(n)
	g.lacs = append(g.lacs, l)
	return nil
}

func (g *gen) closeSockets() {
	for _, l := range g.lacs {
		l.close()
	}
}

// dispatch starts the sessions round robin over the tunnels, at the
// configured rate, with at most MaxInFlight in set-up.
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
		s := &session{g: g, lac: g.lacs[k%g.cfg.Tunnels], run: g.runners[k%len(g.runners)], idx: int32(k)}
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
		l := s.lac
		l.mu.Lock()
		first := !l.opened
		l.opened = true
		l.mu.Unlock()
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
		s.start = time.Now()
		g.all = append(g.all, s)
		dials.Add(1)
		go func() {
			defer dials.Done()
			s.dial(ctx, first)
		}()
	}
}

// dial places the call (ICRQ/ICRP/ICCN) and, once it is up, hands the
// session to its runner for PPP.
func (s *session) dial(ctx context.Context, opener bool) {
	g := s.g
	l := s.lac
	dctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	var l2s *l2tp.Session
	var err error
	if opener {
		l2s, err = l.node.Dial(dctx, g.cfg.Server, l.params, l2tp.CallParams{CallingNumber: fmt.Sprint(s.idx)})
		l.dials = make(chan struct{}, dialLimit(g.cfg.MaxDialsPerTunnel, l2s))
		close(l.up)
		<-g.opening
	} else if err = l.waitDial(dctx); err == nil {
		l2s, err = l.node.Dial(dctx, g.cfg.Server, l.params, l2tp.CallParams{CallingNumber: fmt.Sprint(s.idx)})
		<-l.dials
	}
	cancel()
	if err != nil {
		reason := ReasonL2TP
		switch {
		case ctx.Err() != nil:
			reason = ReasonCanceled
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, l2tp.ErrSetupTimeout):
			reason = ReasonTimeout
		}
		g.log.Debug("loadgen: call failed", "session", s.idx, "err", err)
		s.run.Post(func() { s.fail(reason) })
		return
	}
	s.run.Post(func() {
		if s.state != stPending { // canceled meanwhile
			l2s.Close(wl2tp.Result{Code: wl2tp.CDNAdmin})
			return
		}
		s.l2 = l2s
		l.mu.Lock()
		l.sessions[l2s] = s
		l.mu.Unlock()
		select {
		case <-l2s.Done():
			s.l2Down(l2s.Err())
			return
		default:
		}
		link, err := ppp.NewLink(g.pppConfig(s))
		if err != nil {
			g.log.Error("loadgen: PPP link", "err", err)
			s.fail(ReasonPPP)
			return
		}
		s.link = link
		// Now frames can go to the link: first those held while Dial
		// returned, then the rest.
		l2s.SetReceiver(func(frame []byte) {
			cp := append([]byte(nil), frame...)
			s.run.Post(func() { s.input(cp) })
		})
		in := l2s.Info()
		s.key = uint32(in.LocalTunnelID)<<16 | uint32(in.LocalSessionID)
		l.setReady(s.key)
		// Silent start (pppd's "silent"): LCP waits for the LNS's first
		// frame, or silentWait if the LNS waits for us. Our CONFREQ sent
		// at once races the ICCN to the LNS: a data message overtaking
		// the call's last control message finds no session there, is
		// dropped, and costs a Restart period (3 s).
		s.timer = time.AfterFunc(min(silentWait, g.cfg.Timeout-time.Since(s.start)), func() { s.run.Post(s.tick) })
	})
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
func dialLimit(limit int, opened *l2tp.Session) int {
	if limit > 0 {
		return limit
	}
	w := 4
	if opened != nil {
		if pw := opened.Tunnel().Stats().PeerWindow; pw > 0 {
			w = pw
		}
	}
	return max(1, w/2)
}

// waitDial waits for the tunnel's first call to return, then for a slot
// among the calls placed at once.
func (l *lac) waitDial(ctx context.Context) error {
	select {
	case <-l.up:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case l.dials <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// silentWait is how long a session waits for the LNS to open LCP before
// it does.
const silentWait = time.Second

// tick is the session's timer on the runner: the end of the silent wait,
// then the set-up timeout.
func (s *session) tick() {
	if s.state != stPending {
		return
	}
	if !s.started && s.startLink() {
		return
	}
	s.fail(ReasonTimeout)
}

// startLink opens LCP and arms the timer for the rest of the set-up
// timeout; false when none is left.
func (s *session) startLink() bool {
	s.started = true
	remaining := s.g.cfg.Timeout - time.Since(s.start)
	if remaining <= 0 {
		return false
	}
	s.timer.Reset(remaining)
	s.link.Start()
	return true
}

func (g *gen) pppConfig(s *session) ppp.Config {
	c := ppp.Config{
		Name: "s" + strconv.Itoa(int(s.idx)), Logger: g.cfg.Logger, Clock: g.wheel, Post: s.run.Post, Handler: s,
		Output:         ppp.OutputFunc(s.l2.WriteFrame),
		AddressControl: true, Outgoing: true, MRU: 1460,
		Auth: ppp.AuthConfig{Hostname: g.cfg.User, Password: g.cfg.Password, Timeout: g.cfg.Timeout},
		IPCP: ppp.IPCPConfig{Client: true},
	}
	for _, m := range []aaa.Method{aaa.PAP, aaa.CHAP, aaa.MSCHAPv1, aaa.MSCHAPv2, aaa.EAPMD5} {
		if (g.cfg.Auth == 0 && m == aaa.EAPMD5) || (g.cfg.Auth != 0 && m != g.cfg.Auth) {
			c.Auth.Refuse = append(c.Auth.Refuse, m)
		}
	}
	return c
}

// input runs on the runner: a frame from the LNS. Authentication
// replies are noted so a failure can be told apart from others.
func (s *session) input(frame []byte) {
	if s.link == nil {
		return
	}
	if p, payload, err := wppp.ParseFrame(frame); err == nil && len(payload) > 0 {
		// RFC 1994 §4.2: CHAP Success 3, Failure 4 (MS-CHAP too);
		// RFC 1334 §2.2: PAP Authenticate-Ack 2, Authenticate-Nak 3.
		switch {
		case p == wppp.ProtoCHAP && payload[0] == 3, p == wppp.ProtoPAP && payload[0] == 2:
			s.authOK = true
		case p == wppp.ProtoCHAP && payload[0] == 4, p == wppp.ProtoPAP && payload[0] == 3:
			s.authFailed = true
		}
	}
	if !s.started && s.state == stPending && !s.startLink() {
		s.fail(ReasonTimeout)
		return
	}
	s.link.Input(frame)
}

// Up is the link's event: IPCP opened.
func (s *session) Up(ev ppp.UpEvent) {
	if ev.Protocol != wppp.ProtoIPCP || s.state != stPending {
		return
	}
	if a := ev.Info.LocalAddr; !a.IsValid() || a.IsUnspecified() {
		s.fail(ReasonIPCP)
		return
	}
	s.echo.local, s.echo.target = ev.Info.LocalAddr, ev.Info.PeerAddr
	if t := s.g.cfg.Traffic.Target; t.IsValid() {
		s.echo.target = t
	}
	s.g.resolve(s, "", true)
}

// Down is the link's event: a layer closed.
func (s *session) Down(ev ppp.DownEvent) {
	if ev.Protocol != wppp.ProtoLCP {
		return
	}
	switch s.state {
	case stPending:
		s.fail(s.classify(ev.Reason))
	case stUp:
		s.g.droppedDuringHold()
		s.close()
	}
}

// l2Down runs on the runner when the L2TP session ended (CDN, StopCCN,
// tunnel loss).
func (s *session) l2Down(err error) {
	switch s.state {
	case stPending:
		reason := ReasonL2TP
		if s.link != nil {
			reason = s.classify(fmt.Sprint(err))
		}
		s.fail(reason)
	case stUp:
		s.g.droppedDuringHold()
		s.close()
	}
}

// classify names why a session that had its call up failed.
func (s *session) classify(reason string) string {
	switch {
	case s.authFailed, strings.Contains(reason, "uthenticat"), strings.Contains(reason, "CHAP"), strings.Contains(reason, "PAP"):
		return ReasonAuth
	case s.authOK || strings.Contains(reason, "IP address") || strings.Contains(reason, "network protocol"):
		return ReasonIPCP
	case s.link != nil && s.link.Phase() == ppp.PhaseAuthenticate:
		return ReasonAuth
	case s.link != nil && s.link.Phase() == ppp.PhaseNetwork:
		return ReasonIPCP
	case strings.HasPrefix(reason, "l2tp:"):
		return ReasonL2TP
	}
	return ReasonPPP
}

// fail ends a pending session (on the runner).
func (s *session) fail(reason string) {
	if s.state != stPending {
		return
	}
	s.g.log.Debug("loadgen: session failed", "session", s.idx, "reason", reason)
	s.g.resolve(s, reason, false)
	s.close()
}

// close tears the session down: the link at once, the call with CDN.
func (s *session) close() {
	s.state = stClosed
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.link != nil {
		s.link.LowerDown()
	}
	if s.l2 != nil {
		s.l2.Close(wl2tp.Result{Code: wl2tp.CDNAdmin})
		s.l2.SetReceiver(nil)
		s.lac.mu.Lock()
		delete(s.lac.sessions, s.l2)
		delete(s.lac.ready, s.key)
		s.lac.mu.Unlock()
	}
}

// resolve records a session's outcome and frees its in-flight slot.
func (g *gen) resolve(s *session, reason string, up bool) {
	dispatched := s.start != (time.Time{})
	if up {
		s.state = stUp
		if s.timer != nil {
			s.timer.Stop()
		}
	} else {
		s.state = stFailed
	}
	g.mu.Lock()
	if up {
		g.latency = append(g.latency, time.Since(s.start))
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
	for _, s := range up {
		s.run.Post(func() {
			if s.state == stUp {
				s.close()
			}
		})
	}
	for _, r := range g.runners {
		r.Do(func() {})
	}
	// Node.Close sends StopCCN (result 6) and waits for the §5.7 hold,
	// which would outlast the run: the StopCCN and its acknowledgement
	// take a round trip, so TeardownWait is plenty before the tunnels
	// are dropped.
	var wg sync.WaitGroup
	for _, l := range g.lacs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), g.cfg.TeardownWait)
			defer cancel()
			l.node.Close(ctx)
		})
	}
	wg.Wait()
}

func (g *gen) report(setup time.Duration) Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := Report{Tunnels: g.cfg.Tunnels, SessionsPerTunnel: g.cfg.Sessions, Sessions: g.cfg.Tunnels * g.cfg.Sessions,
		Established: len(g.latency), Failed: g.failed, FailuresByReason: map[string]int{},
		DroppedDuringHold: g.dropped, SetupElapsed: setup}
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
	for _, l := range g.lacs {
		st := l.node.Stats()
		g.log.Debug("node stats", "st", fmt.Sprintf("%+v", st))
		r.FramesBeforeReceiver += st.DataNoReceiver
	}
	return r
}
