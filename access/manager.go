package access

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/pool"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/vif"
	"github.com/vpdn/vpdn/wire/link6"
)

// Config is what the access layer works with, injected.
type Config struct {
	Plane      *dataplane.Plane
	Interfaces *vif.Manager
	// Clock runs the PPP links' timers: a timing wheel for many sessions.
	Clock clock.Clock
	// Logger gets session events; PPPLogger the links' negotiation and
	// authentication debug records.
	Logger, PPPLogger *slog.Logger
	// Runners is the number of goroutines the PPP links run on (default 4).
	Runners int
	// Authenticator returns the authenticator of an AAA method list (""
	// is the default list). Required for profiles that authenticate.
	Authenticator func(list string) aaa.Authenticator
	// AssignAddress leases the peer an address: the authorization's, or
	// one from its pool, else from pool (the profile's); session is the
	// session's ID (Session.ID), which a shared pool store records. An
	// error matching pool.ErrStoreUnavailable ends the session with
	// CauseResources, any other with CauseNoAddress.
	AssignAddress func(authz *aaa.Authorization, pool, session string) (*aaa.Lease, error)
	// AssignPrefix leases a session an IPv6 prefix from the ipv6 local
	// pool named pool; release gives it back (called once).
	AssignPrefix func(pool, session string) (prefix netip.Prefix, release func(), err error)
	// Accounter returns the accounter of an accounting method list (""
	// is the default list), nil for no accounting. Each session asks
	// once, when it comes up.
	Accounter func(list string) aaa.Accounter
	// InterimInterval is the interval of Interim-Update records when the
	// authorization sets no Acct-Interim-Interval (aaa accounting update
	// periodic); 0: none. Read when a session comes up.
	InterimInterval func() time.Duration
	// NewInfo reports whether a session sends an Interim-Update when it
	// learns what its Start could not tell (aaa accounting update
	// newinfo): its IPv6 prefixes, IPv6CP opening after the Start.
	NewInfo func() bool
	// OnUp is told when a session's network layer is up.
	OnUp func(*Session)
	// OnEnd is told when a session has ended: why, and whether its
	// network layer had come up.
	OnEnd func(s *Session, c Cause, wasUp bool)
}

// Manager runs the PPP sessions of a node.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	runners []*ppp.Runner

	mu       sync.Mutex
	next     int
	sessions map[*Session]struct{}
	byName   map[string]*Session
	closed   bool

	// mppeFallbacks counts sessions whose MPPE fell back from stateful
	// to stateless (document 001's flow alarm, this end's or the peer's).
	mppeFallbacks atomic.Uint64

	// ndDrops counts the Router Solicitations and Advertisements
	// dropped, by reason.
	ndMu    sync.Mutex
	ndDrops map[string]uint64
	// duid is the DHCPv6 server identifier, drawn once (serverDUID).
	duidOnce sync.Once
	duid     []byte
}

// MPPEFallbacks returns how many sessions' MPPE fell back from stateful
// to stateless since the manager started.
func (m *Manager) MPPEFallbacks() uint64 { return m.mppeFallbacks.Load() }

// New returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Plane == nil || cfg.Interfaces == nil {
		return nil, errors.New("access: Config.Plane and Config.Interfaces are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Runners <= 0 {
		cfg.Runners = 4
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, sessions: map[*Session]struct{}{}, byName: map[string]*Session{}}
	for range cfg.Runners {
		m.runners = append(m.runners, ppp.NewRunner())
	}
	if err := cfg.Interfaces.OnRoutes(m.routesChanged); err != nil {
		m.log.Warn("routes learnt through sessions will not count as their sources", "err", err)
	}
	return m, nil
}

func (m *Manager) runner() *ppp.Runner {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	return m.runners[m.next%len(m.runners)]
}

// ErrClosed is returned by Open after Close.
var ErrClosed = errors.New("access: closed")

// Error is a session that could not be opened, with its cause.
type Error struct {
	Cause Cause
	Err   error
}

func (e *Error) Error() string { return "access: " + e.Cause.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// CauseOf is the cause of an error from Open: its *Error's, or
// CauseConfig for any other error.
func CauseOf(err error) Cause {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Cause
	}
	return CauseConfig
}

// Open starts a PPP session on bearer b: it names its interface, installs
// it in the data plane with d's encapsulation, and makes its PPP link,
// which starts with LowerUp or the peer's first frame. It does not block:
// a carrier calls it on its own goroutine before it answers the call, so
// that the peer's first frames find the session.
func (m *Manager) Open(b Bearer, d DataSpec, prof *Profile) (*Session, error) {
	s := &Session{m: m, b: b, prof: prof, run: m.runner(), created: m.cfg.Clock.Now(), done: make(chan struct{})}
	s.id = m.newSessionID(s.created)
	if prof.Role == Server {
		s.kind, s.unit = vif.VirtualAccess, m.cfg.Interfaces.AllocAccess()
	} else {
		s.kind, s.unit = prof.Kind, prof.Unit
	}
	s.name, s.long = vif.Name(s.kind, s.unit)
	fail := func(c Cause, err error) (*Session, error) {
		if prof.Role == Server {
			m.cfg.Interfaces.FreeAccess(s.unit)
		}
		return nil, &Error{Cause: c, Err: err}
	}
	s.dp = dataplane.NewSession(d.Key, d.Peer, d.Bind, dataplane.PayloadPPP, d.Encap)
	s.dp.OnFrame = s.onFrame
	s.holdEarly = d.HoldEarly
	s.dp.OnResync = s.mppeResync
	switch {
	case prof.Role == Server:
		s.dp.OnLink6, s.dp.Link6DHCP = s.onLink6, link6.DHCPServerPort
	case prof.IPv6 != nil && prof.IPv6.Enabled:
		s.dp.OnLink6 = s.onLink6
		if prof.IPv6.PD {
			s.dp.Link6DHCP = link6.DHCPClientPort
		}
	}
	pc, err := m.pppConfig(s, d)
	if err != nil {
		return fail(CauseConfig, err)
	}
	if s.link, err = ppp.NewLink(pc); err != nil {
		return fail(CauseConfig, err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fail(CauseShutdown, ErrClosed)
	}
	if o := m.byName[s.name]; o != nil {
		m.mu.Unlock()
		// The unit is o's: freeing it here would hand it out twice.
		return nil, &Error{Cause: CauseInterface, Err: fmt.Errorf("%s is in use", s.long)}
	}
	m.sessions[s] = struct{}{}
	m.byName[s.name] = s
	m.mu.Unlock()
	if err := m.cfg.Plane.Add(s.dp); err != nil {
		m.forget(s)
		return fail(CauseResources, err)
	}
	return s, nil
}

func (m *Manager) forget(s *Session) {
	m.mu.Lock()
	delete(m.sessions, s)
	if m.byName[s.name] == s {
		delete(m.byName, s.name)
	}
	m.mu.Unlock()
}

// pppConfig builds the link configuration from the profile.
func (m *Manager) pppConfig(s *Session, d DataSpec) (ppp.Config, error) {
	prof := s.prof
	bi := s.b.Info()
	pc := ppp.Config{
		Name: s.name, Logger: m.cfg.PPPLogger, Post: s.run.Post, Handler: s, Clock: m.cfg.Clock,
		Output:         ppp.OutputFunc(s.dp.WriteFrame),
		AddressControl: d.AddressControl, Outgoing: prof.Role == Client,
		Keepalive: prof.Keepalive, KeepaliveMisses: prof.KeepaliveMisses, MRU: prof.MTU,
		Call: ppp.CallInfo{NASPort: s.name, TunnelName: bi.TunnelName, CallingNumber: bi.CallingNumber, CalledNumber: bi.CalledNumber,
			PeerAddr: bi.Peer.Addr().Unmap(), TunnelID: bi.TunnelID, CallID: bi.LocalID,
			SessionID: s.id, PortNumber: uint32(s.unit), PortType: bi.NASPortType},
	}
	pc.MPPE = prof.MPPE
	// IPv6 on the shared device is not supported yet: its sessions do
	// not negotiate IPv6CP (the peer hears Protocol-Reject).
	pc.IPv6CP.Enabled = prof.IPv6 != nil && prof.IPv6.Enabled && !prof.Shared
	pc.IPv6CP.IfAuthorized = prof.Role == Server && !prof.Shared
	a := &pc.Auth
	a.Methods, a.Callin, a.IfNeeded = prof.AuthMethods, prof.Callin, prof.IfNeeded
	if len(a.Methods) > 0 {
		if m.cfg.Authenticator == nil {
			return pc, errors.New("no authenticator")
		}
		a.AAA = m.cfg.Authenticator(prof.AuthList)
	}
	a.Hostname, a.Password, a.Refuse = prof.Hostname, prof.Password, prof.Refuse
	if a.Password == "" {
		a.SecretFor = prof.SecretFor
	}
	a.Timeout = 30 * time.Second
	a.MSCHAPv2Retries = 2
	if prof.MaxBadAuth > 0 {
		// IOS's one knob for every method: MS-CHAP-V2 retries by R=1.
		a.MSCHAPv2Retries, a.MaxBadAuth = prof.MaxBadAuth, prof.MaxBadAuth
	}
	ip := &pc.IPCP
	ip.Local = prof.Local
	if prof.Role == Client {
		ip.Client = prof.ClientIPCP || !prof.Local.IsValid()
		ip.RequestDNS = prof.RequestDNS
		if !ip.Client {
			// A client with its own address may lend the peer one
			// (Profile.PeerAddr: peer default ip address on a Virtual-PPP).
			ip.Peer = prof.PeerAddr
		}
		return pc, nil
	}
	if !prof.Local.IsValid() {
		return pc, fmt.Errorf("%s has no address to lend (ip unnumbered or ip address)", prof.Template)
	}
	ip.DNS = prof.DNS
	switch {
	case prof.PeerAddr.IsValid():
		ip.Peer = prof.PeerAddr
	case prof.NoPeerAddress:
	default:
		if m.cfg.AssignAddress == nil {
			break
		}
		ip.Allocate = func(authz *aaa.Authorization) (netip.Addr, error) {
			if authz == nil {
				authz = &aaa.Authorization{}
			}
			l, err := m.cfg.AssignAddress(authz, prof.Pool, s.ID())
			if err != nil {
				// PPP closes the link for want of an address
				// (CauseNoAddress); a store that could not answer is a
				// want of this node's, set first so that it is the
				// cause (CDN result 4 either way, RFC 2661 §4.4.2).
				if errors.Is(err, pool.ErrStoreUnavailable) {
					s.setCause(CauseResources, "address pool store: "+err.Error())
				}
				return netip.Addr{}, err
			}
			s.mu.Lock()
			s.leases = append(s.leases, l)
			s.mu.Unlock()
			return l.Addr, nil
		}
		ip.Release = func(a netip.Addr) { s.releaseLease(a) }
	}
	return pc, nil
}

// Sessions returns the live sessions, servers' by Virtual-Access unit
// first, then clients'.
func (m *Manager) Sessions() []*Session {
	m.mu.Lock()
	out := make([]*Session, 0, len(m.sessions))
	for s := range m.sessions {
		out = append(out, s)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *Session) int {
		if c := cmp.Compare(a.prof.Role, b.prof.Role); c != 0 {
			return c
		}
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return cmp.Compare(a.unit, b.unit)
	})
	return out
}

// Lookup returns the session of an interface by its device name ("Vi3").
func (m *Manager) Lookup(name string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byName[name]
}

// Len returns the number of live sessions.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Close ends every session with cause c and waits for their teardown
// (each bounded: interfaces, the carrier's disconnect, PPP), then stops
// the PPP runners. Open fails from then on.
func (m *Manager) Close(c Cause) {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range m.Sessions() {
		wg.Go(func() {
			s.end(c, c.String())
			// A session that was ending already (its carrier's
			// LowerDown, PPP's Down) is torn down by that call, which
			// needs the session's runner: the runners stop only once
			// it is done.
			<-s.done
		})
	}
	wg.Wait()
	for _, r := range m.runners {
		r.Close()
	}
}

// routesChanged is the interface manager's report of the routes through a
// session's interface.
func (m *Manager) routesChanged(name string, routes []netip.Prefix) {
	if s := m.Lookup(name); s != nil {
		s.routesChanged(routes)
	}
}
