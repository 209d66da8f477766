package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/aaa/radius"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/internal/debug"
	"github.com/vpdn/vpdn/internal/version"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
)

// Options configure a Daemon.
type Options struct {
	ConfigPath string
	Socket     string
	// Roles says who may use the control socket (nil: root and the
	// daemon's user only); see control.Roles.
	Roles  *control.Roles
	Logger *slog.Logger
	Debug  *debug.Switches
	// OnInterfaceUp, if set, is told when a Virtual-PPP or Virtual-Access
	// interface comes up (vpdn dial prints the assigned address).
	OnInterfaceUp func(name string, local, peer netip.Addr, dns []netip.Addr)
	// OnIPsecFailure, if set, is told when IKE with a peer fails: a
	// phase 1 that died (state, reason) or a refused quick mode (vpdn dial
	// --ipsec-psk ends with it).
	OnIPsecFailure func(peer netip.Addr, state, reason string)

	// Binds opens the sockets (nil: the kernel's, transport.System); Host
	// makes the interfaces (nil: the kernel of the daemon's network
	// namespace, one netlink socket for its life); Clock is the
	// time of the state machines (nil: clock.Real). Tests give in-memory
	// ones and run a whole daemon without root.
	Binds transport.Factory
	Host  netif.Host
	Clock clock.Clock
	// AcctSpoolDir is the RADIUS accounting spool (vpdn serve
	// --acct-spool); "" is DefaultAcctSpool.
	AcctSpoolDir string
}

// Daemon is a running vpdn: its configuration, its control socket and the
// subsystems built from the configuration.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	cfgLog  *slog.Logger
	started time.Time

	cfg atomic.Pointer[config.Config]

	reloadMu       sync.Mutex
	reloads        int
	reloadFailures int
	lastReloadErr  string
	lastReload     time.Time

	shows  control.Tree
	clears control.Tree
	// execs are the `crypto ...` exec commands (crypto ipsec client
	// ezvpn connect).
	execs control.Tree

	svc     atomic.Pointer[services]
	history *aaa.FailureHistory
	// throttle and lockout keep their counts across reloads, as the
	// history does.
	throttle *aaa.Throttle
	lockout  *aaa.Lockout

	radiusMu sync.Mutex
	radius   *radius.Client // under radiusMu; nil until RADIUS is configured

	poolStoreState
	acct acctState
	dyn  dynAuth
	// sessionsTotal counts the sessions that came up (show aaa sessions).
	sessionsTotal atomic.Uint64

	vpdnLog *slog.Logger // routed by the vpdn debug switches
	pppLog  *slog.Logger // routed by the ppp debug switches
	rt      atomic.Pointer[runtime]

	failures    failureCounter
	metricsAddr atomic.Value // string

	profMu   sync.Mutex
	profCfg  *config.Config
	profiles map[*config.Interface]*access.Profile // of profCfg's templates
}

// New loads and validates the configuration. It does not start anything.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debug == nil {
		opts.Debug = debug.New()
	}
	if opts.Binds == nil {
		opts.Binds = transport.System
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	d := &Daemon{opts: opts, log: opts.Logger, cfgLog: opts.Debug.Logger(opts.Logger, "config"), started: time.Now(), history: newHistory()}
	d.throttle = aaa.NewThrottle(aaa.ThrottleConfig{Now: opts.Clock.Now, Logger: opts.Logger})
	d.lockout = aaa.NewLockout(opts.Clock.Now)
	d.acct.memory = aaa.NewMemoryAccounter(1000, opts.Clock.Now)
	res, err := config.LoadFile(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	svc, err := buildServices(res.Config, d.history, d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.ConfigPath, err)
	}
	d.logWarnings(res.Warnings)
	d.cfg.Store(res.Config)
	d.svc.Store(svc)
	d.lockout.SetMax(res.Config.AAA.LocalMaxFail)
	d.vpdnLog = slog.New(opts.Debug.Router(opts.Logger.Handler(), "vpdn"))
	d.pppLog = slog.New(opts.Debug.Router(opts.Logger.Handler(), "ppp"))
	d.registerShows()
	d.registerAAAShows()
	d.registerRadiusShows()
	d.registerVPDNShows()
	d.registerUserShows()
	d.registerCryptoShows()
	d.registerPKIShows()
	d.registerXconnectShows()
	return d, nil
}

// Config returns the configuration in force.
func (d *Daemon) Config() *config.Config { return d.cfg.Load() }

// Run serves the control socket until ctx is done.
func (d *Daemon) Run(ctx context.Context) error {
	ln, err := control.Listen(d.opts.Socket, d.roles())
	if err != nil {
		return err
	}
	if err := d.start(ctx); err != nil {
		ln.Close()
		return err
	}
	if addr := d.Config().Metrics.Listen; addr != "" {
		if err := d.serveMetrics(ctx, addr); err != nil {
			ln.Close()
			d.stop()
			return fmt.Errorf("metrics: %w", err)
		}
	}
	d.log.Info("vpdn started", "version", version.String(), "config", d.opts.ConfigPath, "socket", d.opts.Socket)
	roles := d.roles()
	srv := &control.Server{Handler: control.HandlerFunc(d.serve), Logger: d.log, Roles: &roles}
	err = srv.Serve(ctx, ln)
	d.stop()
	d.log.Info("vpdn stopped")
	return err
}

func (d *Daemon) roles() control.Roles {
	if d.opts.Roles == nil {
		return control.NoGroups
	}
	return *d.opts.Roles
}

// Start brings up what Run does, without the control socket: for tests
// that drive the daemon through Do. Stop undoes it.
func (d *Daemon) Start(ctx context.Context) error { return d.start(ctx) }
func (d *Daemon) Stop()                           { d.stop() }

// Do answers one control request, as the control socket would.
func (d *Daemon) Do(ctx context.Context, req *control.Request) *control.Response {
	return d.serve(ctx, req)
}

// Reload reads the configuration file again. The new configuration is
// validated first; on any error the old one stays in force and the error
// is logged and returned.
func (d *Daemon) Reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.lastReload = time.Now()
	res, err := config.LoadFile(d.opts.ConfigPath)
	if err != nil {
		d.reloadFailures++
		d.lastReloadErr = err.Error()
		d.log.Error("reload refused; the previous configuration stays in force", "config", d.opts.ConfigPath, "err", err.Error())
		return fmt.Errorf("reload refused; the previous configuration stays in force:\n%w", err)
	}
	svc, err := buildServices(res.Config, d.history, d)
	if err != nil {
		err = fmt.Errorf("%s: %w", d.opts.ConfigPath, err)
		d.reloadFailures++
		d.lastReloadErr = err.Error()
		d.log.Error("reload refused; the previous configuration stays in force", "config", d.opts.ConfigPath, "err", err.Error())
		return fmt.Errorf("reload refused; the previous configuration stays in force:\n%w", err)
	}
	d.logWarnings(res.Warnings)
	// The new pools must not hand out what live sessions hold.
	d.carryLeases(svc)
	d.svc.Store(svc)
	d.lockout.SetMax(res.Config.AAA.LocalMaxFail)
	old := d.cfg.Swap(res.Config)
	if d.rt.Load() != nil {
		if err := d.ensureAccounting(res.Config); err != nil {
			d.log.Error("reload: accounting", "err", err)
		}
		if err := d.applyDynAuth(res.Config); err != nil {
			d.log.Error("reload: dynamic-author", "err", err)
		}
	}
	d.reloads++
	d.lastReloadErr = ""
	if err := d.reloadIPsec(old, res.Config); err != nil {
		d.lastReloadErr = err.Error()
		d.log.Error("reload: IPsec did not restart", "err", err.Error())
		return fmt.Errorf("configuration reloaded, but IPsec did not restart: %w", err)
	}
	changes := config.Diff(old, res.Config) // secrets masked, for the log
	d.log.Info("configuration reloaded", "config", d.opts.ConfigPath, "changes", len(changes))
	for _, c := range changes {
		d.cfgLog.Debug("config change", "change", c)
	}
	return nil
}

func (d *Daemon) logWarnings(ws []*config.Warning) {
	for _, w := range ws {
		d.log.Warn("configuration", "warning", w.Error())
	}
}

func (d *Daemon) serve(ctx context.Context, req *control.Request) *control.Response {
	switch req.Verb {
	case "ping":
		return &control.Response{OK: true, Text: "pong"}
	case "reload":
		if err := d.Reload(); err != nil {
			return &control.Response{Error: err.Error()}
		}
		return &control.Response{OK: true, Text: "configuration reloaded from " + d.opts.ConfigPath}
	case "debug", "undebug":
		return d.debugCmd(req)
	case "show":
		if req.Secrets {
			ctx = context.WithValue(ctx, secretsKey{}, true)
		}
		return d.run(ctx, &d.shows, req)
	case "clear":
		return d.run(ctx, &d.clears, req)
	case "crypto":
		return d.run(ctx, &d.execs, req)
	}
	return &control.Response{Error: fmt.Sprintf("unknown request %q; expected show, clear, crypto, debug, undebug, reload", req.Verb)}
}

func (d *Daemon) run(ctx context.Context, t *control.Tree, req *control.Request) *control.Response {
	c, args, opts, err := t.Resolve(req.Words)
	if err != nil {
		return &control.Response{Error: err.Error()}
	}
	resp, err := c.Run(ctx, args, opts, req.JSON)
	if err != nil {
		return &control.Response{Error: err.Error()}
	}
	return resp
}

func (d *Daemon) debugCmd(req *control.Request) *control.Response {
	words := req.Words
	on := req.Verb == "debug"
	if len(words) == 0 {
		return &control.Response{Error: "debug: expected a switch, e.g. \"vpdn l2x-events\", or \"all\""}
	}
	names, err := d.opts.Debug.Resolve(words)
	if err != nil {
		return &control.Response{Error: err.Error()}
	}
	if len(words) == 1 && strings.EqualFold(words[0], "all") {
		// IOS answers undebug all with one line, and debug all with a
		// confirmation prompt; not being interactive, vpdn turns every
		// switch on and says so in the same words.
		for _, n := range names {
			d.opts.Debug.Set(n, on)
		}
		if on {
			return &control.Response{OK: true, Text: "All possible debugging has been turned on\n"}
		}
		return &control.Response{OK: true, Text: "All possible debugging has been turned off\n"}
	}
	var b strings.Builder
	for _, n := range names {
		d.opts.Debug.Set(n, on)
		state := "on"
		if !on {
			state = "off"
		}
		fmt.Fprintf(&b, "%s debugging is %s\n", n, state)
	}
	return &control.Response{OK: true, Text: b.String()}
}

// secretsKey marks the context of a show request with Secrets set.
type secretsKey struct{}

func secretsAsked(ctx context.Context) bool {
	b, _ := ctx.Value(secretsKey{}).(bool)
	return b
}

// reply builds a show response: text for people, data for --json.
func reply(text string, data any, asJSON bool) (*control.Response, error) {
	r := &control.Response{OK: true, Text: text}
	if asJSON {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		r.Data = b
	}
	return r, nil
}

func (d *Daemon) registerShows() {
	d.shows.Add(&control.Command{Words: "running-config", Help: "the configuration in force, normalized",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			// No clear-text secret unless asked (--secrets, which the
			// control socket grants the admin role only).
			c := d.Config().ForShow(secretsAsked(ctx))
			return reply(c.String(), c, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "version", Help: "version, uptime and reload history",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			d.reloadMu.Lock()
			info := map[string]any{
				"version": version.String(), "uptime_seconds": int(time.Since(d.started).Seconds()),
				"config": d.opts.ConfigPath, "reloads": d.reloads, "reload_failures": d.reloadFailures,
				"last_reload_error": d.lastReloadErr,
			}
			d.reloadMu.Unlock()
			text := fmt.Sprintf("%s\nuptime is %s\nconfiguration file is %q, reloaded %d times (%d refused)\n",
				info["version"], time.Since(d.started).Truncate(time.Second), d.opts.ConfigPath, info["reloads"], info["reload_failures"])
			if e := info["last_reload_error"].(string); e != "" {
				text += "last reload refused:\n" + e + "\n"
			}
			return reply(text, info, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "debugging", Help: "the debug switches that are on",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			on := d.opts.Debug.Enabled()
			var b strings.Builder
			if len(on) == 0 {
				b.WriteString("No debugging is on\n")
			}
			for _, n := range on {
				fmt.Fprintf(&b, "%s debugging is on\n", n)
			}
			return reply(b.String(), on, asJSON)
		}})
}

// ErrStopped is returned by operations after the daemon stopped.
var ErrStopped = errors.New("daemon: stopped")
