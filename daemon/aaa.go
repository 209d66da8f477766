package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/internal/type7"
	"github.com/vpdn/vpdn/pool"
)

// services are what the configuration builds for sessions to use: the AAA
// service over the local user database, and the address pools. A reload
// builds a new set and swaps it in whole.
type services struct {
	aaa   *aaa.Service
	pools *pool.Group
	// v6pools are the ipv6 local pools by name; a reload keeps the
	// object of a pool whose prefix and length did not change (with the
	// prefixes its sessions hold).
	v6pools map[string]*pool.PrefixPool
	acct    map[string]acctMethod // accounting method lists by name
}

// buildServices turns the typed configuration into AAA and pool objects.
// It fails only on what config validation cannot see (a type-7 password
// that does not decode).
func buildServices(c *config.Config, history *aaa.FailureHistory, d *Daemon) (*services, error) {
	var users []aaa.User
	for _, u := range c.AAA.Users {
		pw, err := clearSecret(u.Password)
		if err != nil {
			return nil, fmt.Errorf("line %d: username %s: %w", u.Line, u.Name, err)
		}
		au := aaa.User{Name: u.Name, Password: pw}
		if l := c.AttrListByName(u.AttrList); l != nil {
			au.Address, au.Pool, au.Authz = l.Addr, l.Pool, authzOf(l)
		}
		users = append(users, au)
	}
	dom := aaa.DomainOptions{Strip: c.AAA.DomainStripping}
	if c.AAA.Delimiter != "" {
		dom.Delimiter = c.AAA.Delimiter[0]
	}
	for _, d := range c.AAA.Domains {
		if l := c.AttrListByName(d.AttrList); l != nil {
			dom.Domains = append(dom.Domains, aaa.Domain{Name: d.Name, Pool: l.Pool, Authz: authzOf(l)})
		}
	}
	local, err := aaa.NewLocal(aaa.LocalConfig{Users: users, Domains: dom, Logger: d.opts.Debug.Logger(d.log, "aaa authentication"), Lockout: d.lockout})
	if err != nil {
		return nil, err
	}
	var lists []aaa.ListCommand
	add := func(t aaa.ListType, ls []config.MethodList) {
		for _, l := range ls {
			lc := aaa.ListCommand{Type: t, Name: l.Name}
			for _, m := range l.Methods {
				switch {
				case m == "local":
					lc.Methods = append(lc.Methods, aaa.ListMethod{Kind: aaa.MethodLocal})
				case m == "local-case":
					lc.Methods = append(lc.Methods, aaa.ListMethod{Kind: aaa.MethodLocalCase})
				case m == "none":
					lc.Methods = append(lc.Methods, aaa.ListMethod{Kind: aaa.MethodNone})
				case strings.HasPrefix(m, "group "):
					lc.Methods = append(lc.Methods, aaa.ListMethod{Kind: aaa.MethodGroup, Group: strings.TrimPrefix(m, "group ")})
				default:
					// if-needed and if-authenticated are IOS method words
					// with no effect on a local database.
					continue
				}
			}
			if len(lc.Methods) > 0 {
				lists = append(lists, lc)
			}
		}
	}
	add(aaa.AuthenticationPPP, c.AAA.Authentication)
	add(aaa.AuthorizationNetwork, c.AAA.Authorization)
	hasDefault := func(t aaa.ListType) bool {
		for _, l := range lists {
			if l.Type == t && l.Name == aaa.DefaultList {
				return true
			}
		}
		return false
	}
	if !c.AAA.NewModel {
		// Without aaa new-model IOS authenticates PPP against the local
		// username database.
		lists = []aaa.ListCommand{{Type: aaa.AuthenticationPPP, Name: aaa.DefaultList, Methods: []aaa.ListMethod{{Kind: aaa.MethodLocal}}}}
	} else if !hasDefault(aaa.AuthenticationPPP) {
		// aaa new-model without a default ppp list (document 004's LNS):
		// the local database, as IOS falls back to it.
		lists = append(lists, aaa.ListCommand{Type: aaa.AuthenticationPPP, Name: aaa.DefaultList, Methods: []aaa.ListMethod{{Kind: aaa.MethodLocal}}})
	}
	// `aaa authentication login L` (XAuth, ipsec_ezvpn.go) beside PPP's
	// lists, under names of their own.
	var login []config.MethodList
	for _, l := range c.AAA.Login {
		l.Name = loginListPrefix + l.Name
		login = append(login, l)
	}
	add(aaa.AuthenticationPPP, login)
	groups, err := d.radiusGroups(c)
	if err != nil {
		return nil, err
	}
	svc, err := aaa.NewService(aaa.ServiceConfig{Lists: lists, Local: local, Groups: groups, History: history, Throttle: d.throttle,
		Logger: d.opts.Debug.Logger(d.log, "aaa authorization")})
	if err != nil {
		return nil, err
	}
	// The lockout's limit is set when the services are swapped in: a
	// reload that fails leaves the one in force.
	pools := pool.NewGroup()
	for _, p := range c.IP.Pools {
		for _, r := range p.Ranges {
			if err := pools.AddRange(p.Name, r.Start, r.End); err != nil {
				return nil, fmt.Errorf("line %d: ip local pool %s: %w", r.Line, p.Name, err)
			}
		}
	}
	if err := d.attachPoolStore(c, pools); err != nil {
		return nil, err
	}
	v6pools := map[string]*pool.PrefixPool{}
	var old map[string]*pool.PrefixPool
	if d != nil {
		if o := d.svc.Load(); o != nil {
			old = o.v6pools
		}
	}
	for _, p := range c.IP.IPv6Pools {
		if o := old[p.Name]; o != nil {
			if pf, n := o.Prefix(); pf == p.Prefix && n == p.AssignLen {
				v6pools[p.Name] = o
				continue
			}
		}
		pp, err := pool.NewPrefixPool(p.Name, p.Prefix, p.AssignLen)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", p.Line, err)
		}
		v6pools[p.Name] = pp
	}
	return &services{aaa: svc, pools: pools, v6pools: v6pools, acct: accountingLists(c)}, nil
}

// v6PoolStats are the ipv6 local pools' counts, by name.
func (d *Daemon) v6PoolStats() []pool.PrefixStats {
	svc := d.svc.Load()
	out := make([]pool.PrefixStats, 0, len(svc.v6pools))
	for _, p := range svc.v6pools {
		out = append(out, p.Stats())
	}
	slices.SortFunc(out, func(a, b pool.PrefixStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// assignPrefix leases a session a prefix of the ipv6 local pool name; the
// prefix goes back to the pool of that name in force when the session
// ends (a reload that replaced the pool reserved it there: carryLeases).
func (d *Daemon) assignPrefix(name, session string) (netip.Prefix, func(), error) {
	p := d.svc.Load().v6pools[name]
	if p == nil {
		return netip.Prefix{}, nil, fmt.Errorf("%w: ipv6 local pool %q", pool.ErrNoPool, name)
	}
	pf, err := p.Allocate()
	if err != nil {
		return netip.Prefix{}, nil, err
	}
	return pf, func() {
		if p := d.svc.Load().v6pools[name]; p != nil {
			p.Release(pf)
		}
	}, nil
}

// authzOf turns an aaa attribute list into authorization attributes.
func authzOf(l *config.AttrList) aaa.Authorization {
	a := aaa.Authorization{Address: l.Addr, Pool: l.Pool, Routes: l.Routes,
		SessionTimeout: uint32(l.SessionTimeout), IdleTimeout: uint32(l.IdleTimeout)}
	for _, d := range []netip.Addr{l.PrimaryDNS, l.SecondaryDNS} {
		if d.IsValid() {
			a.DNS = append(a.DNS, d)
		}
	}
	return a
}

func clearSecret(s config.Secret) (string, error) {
	if s.Type == 7 {
		return type7.Decode(s.Value)
	}
	return s.Value, nil
}

func (d *Daemon) registerAAAShows() {
	d.shows.Add(&control.Command{Words: "ip local pool", Args: 0, Help: "address pools: free and in-use addresses per range",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return d.showPools(ctx, "", asJSON)
		}})
	d.shows.Add(&control.Command{Words: "ip local pool", Args: 1, Help: "one address pool",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return d.showPools(ctx, args[0], asJSON)
		}})
	d.shows.Add(&control.Command{Words: "ipv6 local pool", Args: 0, Help: "IPv6 prefix pools: each pool's prefix, free and in-use prefixes",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			stats := d.v6PoolStats()
			var b strings.Builder
			pool.WritePrefixShow(&b, stats)
			return reply(b.String(), stats, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "vpdn history failure", Help: "the last authentication failure of each user (VPDN-MIB failure history)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			var b strings.Builder
			d.history.WriteShow(&b)
			return reply(b.String(), d.history.Entries(), asJSON)
		}})
	d.shows.Add(&control.Command{Words: "aaa local user lockout", Help: "local users locked out by aaa local authentication attempts max-fail",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			var b strings.Builder
			us := d.lockout.Locked()
			aaa.WriteLockout(&b, us)
			return reply(b.String(), us, asJSON)
		}})
	clearLockout := func(name string, all bool) (*control.Response, error) {
		n := d.lockout.Clear(name, all)
		d.log.Info("aaa: local user lockout cleared", "user", name, "all", all, "unlocked", n)
		return &control.Response{OK: true}, nil
	}
	d.clears.Add(&control.Command{Words: "aaa local user lockout username", Args: 1, Help: "unlock a local user (and reset its failure count)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearLockout(args[0], false)
		}})
	d.clears.Add(&control.Command{Words: "aaa local user lockout all", Help: "unlock every local user",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearLockout("", true)
		}})
	d.shows.Add(&control.Command{Words: "aaa throttle", Help: "the authentication throttle's counters (vpdn extension)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			st := d.throttle.Stats()
			text := fmt.Sprintf("Authentication failures: %d\nAuthentication throttled: %d\nBlocks imposed: %d\n"+
				"Failure log lines: %d written, %d suppressed\nKeys held: %d users, %d peers, %d user-at-peer\n",
				st.Failures, st.Throttled, st.Blocks, st.Logged, st.Suppressed, st.Users, st.Peers, st.Pairs)
			return reply(text, st, asJSON)
		}})
	d.clears.Add(&control.Command{Words: "aaa throttle", Help: "forget the throttle's counts and blocks (vpdn extension)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			d.throttle.Clear()
			return &control.Response{OK: true}, nil
		}})
	d.clears.Add(&control.Command{Words: "vpdn history failure", Help: "forget the failure history",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			for _, f := range d.history.Entries() {
				d.history.Clear(f.User)
			}
			return &control.Response{OK: true}, nil
		}})
}

func (d *Daemon) showPools(ctx context.Context, name string, asJSON bool) (*control.Response, error) {
	stats := d.svc.Load().pools.StoreStats(ctx)
	if name != "" {
		var one []pool.Stats
		for _, s := range stats {
			if s.Name == name {
				one = append(one, s)
			}
		}
		if len(one) == 0 {
			return nil, fmt.Errorf("%% No such pool %q", name)
		}
		stats = one
	}
	var b strings.Builder
	pool.WriteShow(&b, stats)
	return reply(b.String(), stats, asJSON)
}

// Authenticator returns the AAA service in force, bound to method lists.
func (d *Daemon) Authenticator(authnList, authzList string) aaa.Authenticator {
	return d.svc.Load().aaa.Bind(authnList, authzList)
}

func newHistory() *aaa.FailureHistory { return aaa.NewFailureHistory(1000, time.Now) }

// flushEvery is how often the throttle's count of failure log lines it
// dropped is reported, when there is one.
const flushEvery = 10 * time.Second

// logFlusher runs the throttle's Flush on the daemon's clock: a flood
// that stopped still gets its "not logged" line.
type logFlusher struct {
	mu      sync.Mutex
	t       clock.Timer
	stopped bool
}

func (d *Daemon) startLogFlush() *logFlusher {
	f := &logFlusher{}
	var tick func()
	tick = func() {
		d.throttle.Flush()
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.stopped {
			f.t = d.opts.Clock.AfterFunc(flushEvery, tick)
		}
	}
	f.mu.Lock()
	f.t = d.opts.Clock.AfterFunc(flushEvery, tick)
	f.mu.Unlock()
	return f
}

func (f *logFlusher) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	f.t.Stop()
}
