package access

import (
	"context"
	"log/slog"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/internal/escape"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/vif"
	"github.com/vpdn/vpdn/wire/mppe"
	wppp "github.com/vpdn/vpdn/wire/ppp"
)

// Session is one PPP session. Its link belongs to its runner's goroutine;
// the rest is guarded by mu.
type Session struct {
	// mppeInfo is what CCP negotiated (without the keys), under mu.
	mppeInfo *ppp.MPPEInfo
	m        *Manager
	b        Bearer
	prof     *Profile
	dp       *dataplane.Session
	run      *ppp.Runner
	kind     vif.Kind
	unit     int
	name     string // device name, "Vi3"
	id       string // unique session id (Acct-Session-Id)
	long     string // IOS name, "Virtual-Access3"

	created time.Time

	// On the runner.
	link    *ppp.Link
	started bool
	// holdEarly and early: frames held until LowerUp (DataSpec.HoldEarly);
	// the runner's, like started.
	holdEarly bool
	early     [][]byte
	reached   ppp.Phase // the link's furthest phase, once it ended

	// alarmed: FlowAlarm's fallback is posted or done.
	alarmed atomic.Bool
	// ndPending counts the ND messages posted to the runner (ipv6.go).
	ndPending atomic.Int32

	mu       sync.Mutex
	fellBack bool // MPPE fell back from stateful to stateless
	ifc      *vif.Interface
	owned    []netip.Prefix // framed and configured routes: sources it owns
	learnt   []netip.Prefix // routes through its interface the host learned
	info     ppp.Info
	upAt     time.Time
	ended    bool
	cause    Cause
	reason   string
	leases   []*aaa.Lease
	// mtu is the interface's MTU as applied (Framed-MTU included);
	// framed the routes the authorization put through the session
	// (Framed-Route, Framed-IP-Netmask).
	mtu    int
	framed []netip.Prefix
	// v6 is the session's IPv6 once IPv6CP opened (ipv6.go).
	v6 *ipv6State
	// timeout ends the session at the authorization's Session-Timeout;
	// sessLimit is that timeout and sessDeadline when it fires.
	timeout      clock.Timer
	sessLimit    time.Duration
	sessDeadline time.Time
	// idle ends the session after idleLimit without data packets either
	// way (Idle-Timeout): a coarse timer compares the data plane's
	// counters (idleCount) and notes when they last moved (lastActive).
	idle       clock.Timer
	idleLimit  time.Duration
	idleCount  uint64
	lastActive time.Time
	// interim is the timer of the next Interim-Update.
	interim clock.Timer
	done    chan struct{}
	// interimEvery is the Interim-Update interval now (0: none);
	// interimGen invalidates the timer of an interval a CoA replaced.
	interimEvery time.Duration
	interimGen   uint64

	// acctMu orders the accounting records of the session: Start,
	// Interims, Stop, each given once the one before returned.
	acctMu      sync.Mutex
	acct        aaa.Accounter // under acctMu; nil: no accounting
	acctStarted bool          // under acctMu
	acctStopped bool          // under acctMu
}

// Name returns the interface's device name ("Vi3"); LongName its IOS name
// ("Virtual-Access3").
func (s *Session) Name() string     { return s.name }
func (s *Session) LongName() string { return s.long }

// Bearer returns the session's carrier side.
func (s *Session) Bearer() Bearer { return s.b }

// Profile returns what the session was made from.
func (s *Session) Profile() *Profile { return s.prof }

// Data returns the session's data-plane session, for the carrier to
// update its encapsulation (SetEncap).
func (s *Session) Data() *dataplane.Session { return s.dp }

// Reached is the furthest phase PPP got to: where a failed set-up
// stopped. Valid in Config.OnEnd and once Done is closed.
func (s *Session) Reached() ppp.Phase { return s.reached }

// Done is closed once the session has ended and everything it held is
// released.
func (s *Session) Done() <-chan struct{} { return s.done }

// Cause returns why the session ended (CauseNone while it lives), and the
// text that came with it.
func (s *Session) Cause() (Cause, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause, s.reason
}

// LowerUp tells the session its carrier's call is up: PPP starts, unless
// the peer's first frame started it already.
func (s *Session) LowerUp() {
	s.run.Post(s.start)
}

func (s *Session) start() {
	if s.started {
		return
	}
	s.started = true
	s.link.Start()
	early := s.early
	s.early = nil
	for _, f := range early {
		s.link.Input(f)
	}
}

// maxEarly bounds the frames a HoldEarly session keeps before LowerUp: the
// peer's first Configure-Request and a retransmission or two.
const maxEarly = 4

// onFrame is the data plane's handler of the session's PPP control frames;
// it runs on the receive path and hands a copy to the runner.
func (s *Session) onFrame(frame []byte) {
	cp := append([]byte(nil), frame...)
	s.run.Post(func() {
		if !s.started && s.holdEarly {
			// The carrier cannot send yet: keep the frame for LowerUp.
			if len(s.early) < maxEarly {
				s.early = append(s.early, cp)
			}
			return
		}
		// A frame before LowerUp: the peer has started PPP, so the
		// lower layer is up for it too.
		s.start()
		s.link.Input(cp)
	})
}

// LowerDown tells the session its carrier ended the call (the peer's CDN,
// the tunnel lost): the session ends with c. It does not block.
func (s *Session) LowerDown(c Cause, reason string) {
	go s.end(c, reason)
}

// Close ends the session with c: the PPP link goes down and the carrier
// clears the call with its code for c. It does not block; Done is closed
// when everything is released.
func (s *Session) Close(c Cause, reason string) {
	go s.end(c, reason)
}

// fail records c as the cause (if none is yet) and closes the PPP link,
// whose Down event ends the session; on the runner.
func (s *Session) fail(c Cause, reason string) {
	s.setCause(c, reason)
	s.link.Close(reason)
}

func (s *Session) setCause(c Cause, reason string) {
	s.mu.Lock()
	if s.cause == CauseNone {
		s.cause, s.reason = c, reason
	}
	s.mu.Unlock()
}

// Up is the link's event: a network protocol opened. For IPCP, the
// interface comes up and IP flows. On the runner.
func (s *Session) Up(ev ppp.UpEvent) {
	if ev.Protocol == wppp.ProtoCCP {
		s.mppeUp(ev.Info.MPPE)
		return
	}
	if ev.Protocol == wppp.ProtoIPv6CP {
		s.ipv6Up(ev.Info)
		return
	}
	if ev.Protocol != wppp.ProtoIPCP {
		return
	}
	m := s.m
	in := ev.Info
	prof := s.prof
	mtu := prof.MTU
	if in.PeerMRU != 0 && (mtu == 0 || in.PeerMRU < mtu) {
		mtu = in.PeerMRU
	}
	routes := append([]vif.Route(nil), prof.Routes...)
	var framed, authzRoutes []netip.Prefix
	if in.Authz != nil {
		mtu = framedMTU(mtu, in.Authz.MTU)
		authzRoutes = framedRoutes(in.Authz, in.PeerAddr)
		for _, r := range authzRoutes {
			routes = append(routes, vif.Route{Dst: r})
			framed = append(framed, r)
		}
	}
	for _, r := range prof.Routes {
		framed = append(framed, r.Dst)
	}
	ifc, err := m.cfg.Interfaces.Up(vif.Spec{Name: s.name, Kind: s.kind, Local: in.LocalAddr, Peer: in.PeerAddr,
		MTU: mtu, Routes: routes, Shared: prof.Shared && prof.Role == Server})
	if err != nil {
		m.log.Error("interface", "interface", s.name, "err", err)
		s.fail(CauseInterface, "interface: "+err.Error())
		return
	}
	att := dataplane.Attachment{Device: ifc.Device(), Framing: s.link.Framing(), MSS: prof.MSS, MTU: mtu}
	s.mu.Lock()
	s.owned, s.mtu, s.framed = framed, mtu, authzRoutes
	if prof.Role == Server && prof.VerifySource {
		att.Sources = s.sourcesLocked(in.PeerAddr, framed)
	}
	s.mu.Unlock()
	if ifc.Device() == nil {
		att.PeerAddrs = []netip.Addr{in.PeerAddr}
	}
	if err := m.cfg.Plane.Attach(s.dp, att); err != nil {
		ifc.Down()
		m.log.Error("data plane", "interface", s.name, "err", err)
		s.fail(CauseInterface, "data plane: "+err.Error())
		return
	}
	s.mu.Lock()
	if s.ended {
		// The session ended while the interface came up.
		s.mu.Unlock()
		m.cfg.Plane.Detach(s.dp)
		ifc.Down()
		return
	}
	s.ifc, s.info, s.upAt = ifc, in, m.cfg.Clock.Now()
	if in.Authz != nil {
		// RFC 2865 §5.27, §5.28: Session-Timeout and Idle-Timeout.
		s.setSessionTimeoutLocked(in.Authz.SessionTimeout)
		s.setIdleTimeoutLocked(in.Authz.IdleTimeout)
	}
	s.mu.Unlock()
	s.accountingUp(in.Authz)
	m.cfg.Interfaces.InstallStaticRoutes()
	s.applyIPv6() // IPv6CP opened first
	m.log.Info("interface up", "interface", s.name, "local", in.LocalAddr.String(), "peer", in.PeerAddr.String(),
		"user", escape.Text(in.Username), "offload", ifc.Offload())
	if f := m.cfg.OnUp; f != nil {
		f(s)
	}
}

// Down is the link's event: a network protocol closed (the interface
// goes), or the link is finished (the session ends). On the runner.
func (s *Session) Down(ev ppp.DownEvent) {
	switch ev.Protocol {
	case wppp.ProtoCCP:
		if ev.Renegotiating {
			// CCP negotiates MPPE again: no IP until it opens.
			s.dp.HoldMPPE()
			return
		}
		// MPPE closed without the link (not required): IP goes plain
		// again, as the link now passes it.
		s.dp.SetMPPE(nil, nil)
	case wppp.ProtoIPCP:
		s.networkDown()
	case wppp.ProtoIPv6CP:
		s.ipv6Down()
	case wppp.ProtoLCP:
		go s.end(causeOfPPP(ev.Cause), "PPP: "+ev.Reason)
	}
}

// Packet is an IP packet the link received itself. The data plane carries
// IP; nothing arrives here.
func (s *Session) Packet(wppp.Protocol, []byte) {}

func (s *Session) networkDown() {
	s.mu.Lock()
	ifc := s.ifc
	s.ifc, s.learnt = nil, nil
	s.ipv6InterfaceGoneLocked()
	s.mu.Unlock()
	s.m.cfg.Plane.Detach(s.dp)
	if ifc != nil {
		ifc.Down()
	}
}

// end tears the session down once, in order: the data plane and the
// interface, PPP (which returns the address to its pool), the carrier's
// call, the unit.
func (s *Session) end(c Cause, reason string) {
	m := s.m
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.cause == CauseNone {
		s.cause, s.reason = c, reason
	}
	c, reason = s.cause, s.reason
	wasUp := !s.upAt.IsZero()
	ifc := s.ifc
	s.ifc = nil
	s.stopTimersLocked()
	releaseV6 := s.ipv6EndLocked()
	s.mu.Unlock()

	m.cfg.Plane.Remove(s.dp) // detaches: the device is no longer read
	if ifc != nil {
		ifc.Down()
	}
	linkDone := make(chan struct{})
	refusedAuth := false
	// linkFirst: PPP was going down for a reason of its own (this end
	// terminating it, authentication failed, say) or was down already
	// when the session ended; linkCause is that reason.
	linkFirst := false
	var linkCause ppp.Cause
	var linkReason string
	s.run.Post(func() {
		s.reached, refusedAuth = s.link.Reached(), s.link.RefusedAuth()
		linkFirst = s.link.Done() || s.link.Phase() == ppp.PhaseTerminate
		if !s.link.Done() {
			s.link.LowerDown()
		}
		linkCause, linkReason = s.link.Cause()
		close(linkDone)
	})
	// A runner wedged by a bug must not hold the carrier's call and the
	// leases forever: after 5 s the teardown goes on without the link.
	stuck := make(chan struct{})
	t := m.cfg.Clock.AfterFunc(5*time.Second, func() { close(stuck) })
	select {
	case <-linkDone:
		t.Stop()
		if c == CauseLostService && linkFirst && linkCause != ppp.CauseLowerDown {
			// The carrier went (the peer clearing the call once it
			// heard our Terminate-Request or Failure) while the link
			// was ending for its own reason: which of the two reaches
			// us first is not ordered, and the link's reason is why
			// the session ended.
			c, reason = causeOfPPP(linkCause), "PPP: "+linkReason
			s.mu.Lock()
			s.cause, s.reason = c, reason
			s.mu.Unlock()
		}
		if c == CauseLostService && s.reached == ppp.PhaseEstablish && refusedAuth {
			// The peer hung up during LCP after we refused its
			// authentication method: no method in common.
			c, reason = CauseAuthFailed, "no common authentication protocol ("+reason+")"
			s.mu.Lock()
			s.cause, s.reason = c, reason
			s.mu.Unlock()
		}
	case <-stuck:
		m.log.Error("PPP link did not stop", "interface", s.name)
	}
	s.mu.Lock()
	leases := s.leases
	s.leases = nil
	s.mu.Unlock()
	for _, l := range leases {
		l.Release()
	}
	if releaseV6 != nil {
		releaseV6()
	}
	s.b.Close(c)
	// Forget the name before the unit is free: a session opened in
	// between would get the unit and find the name still taken ("in use",
	// and its failure freed the unit a second time, so that two later
	// sessions shared it).
	m.forget(s)
	if s.prof.Role == Server {
		m.cfg.Interfaces.FreeAccess(s.unit)
	}
	// A session that never came up is logged at DEBUG: a flood of calls
	// that never get there (half-open calls evicted at the bounds, guessed
	// passwords) would otherwise write a line each. They are counted by
	// the carriers (show l2tp counters) and the throttle logs the failures.
	lvl := slog.LevelInfo
	if !wasUp {
		lvl = slog.LevelDebug
	}
	s.accountingStop(c)
	m.log.Log(context.Background(), lvl, "session down", "interface", s.name, "cause", c.String(), "reason", reason)
	if f := m.cfg.OnEnd; f != nil {
		f(s, c, wasUp)
	}
	close(s.done)
}

// releaseLease returns the lease of address a (IPCP's Release).
func (s *Session) releaseLease(a netip.Addr) {
	s.mu.Lock()
	var l *aaa.Lease
	for i, x := range s.leases {
		if x.Addr == a {
			l = x
			s.leases = append(s.leases[:i], s.leases[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if l != nil {
		l.Release()
	}
}

// Leases returns the addresses the session holds from pools (a reload
// reserves them in the new pools).
func (s *Session) Leases() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.Addr, 0, len(s.leases))
	for _, l := range s.leases {
		out = append(out, l.Addr)
	}
	return out
}

// View is a snapshot of a session for show commands.
type View struct {
	Interface, LongName string
	Role                Role
	Template            string
	Unnumbered          string
	User                string
	Local, Peer         netip.Addr
	// AuthPeer is how we authenticated the peer, AuthSelf how it
	// authenticated us (0: not).
	AuthPeer, AuthSelf aaa.Method
	// Up: the network layer is up and the interface exists.
	Up       bool
	Created  time.Time
	UpSince  time.Time
	Counters dataplane.Counters
	Bearer   BearerInfo
	Key      dataplane.Key
	// Encap is the session's encapsulation now (for the carrier's
	// numbers: PPTP's window and RTT).
	Encap dataplane.Encap
	// MPPE is the session's MPPE state, nil without MPPE.
	MPPE *MPPEView
	// ID is the unique session id (Acct-Session-Id); Timeouts its
	// Session-Timeout and Idle-Timeout now.
	ID       string
	Timeouts Timeouts
	// MTU is the interface's MTU (0: the default); FramedRoutes the
	// routes the authorization put through the session (Framed-Route,
	// Framed-IP-Netmask); IPv6Prefixes and DelegatedPrefixes the
	// authorization's Framed-IPv6-Prefix and Delegated-IPv6-Prefix,
	// applied once IPv6CP opens (IPv6 says how).
	MTU               int
	PortNumber        uint32 // NAS-Port: the interface's unit
	FramedRoutes      []netip.Prefix
	IPv6Prefixes      []netip.Prefix
	DelegatedPrefixes []netip.Prefix
	// IPv6 is the session's IPv6 once IPv6CP opened; nil otherwise.
	IPv6 *IPv6View
}

// MPPEView is what show ppp mppe prints of a session: the negotiated
// strength and mode and the ciphers' counters, never the keys.
type MPPEView struct {
	Bits      int
	Stateless bool
	// FellBack: the session started stateful and fell back to stateless
	// (the flow alarm, this end's or the peer's).
	FellBack bool
	Tx, Rx   mppe.Stats
}

// minFramedMTU is the smallest Framed-MTU applied: IPv4's minimum (RFC 791,
// 68 octets); a smaller one is ignored.
const minFramedMTU = 68

// framedMTU caps the interface's MTU by Framed-MTU (RFC 2865 §5.12), as
// IOS sets the Virtual-Access's MTU from it. The link's MRU was agreed by
// LCP before authentication; the cap applies to what the session sends and
// to the routes through it.
func framedMTU(mtu int, framed uint32) int {
	if framed < minFramedMTU || framed > 65535 {
		return mtu
	}
	if mtu == 0 || int(framed) < mtu {
		return int(framed)
	}
	return mtu
}

// framedRoutes are the routes an authorization puts through a session:
// its Framed-Routes (RFC 2865 §5.22) and, as IOS does with
// Framed-IP-Netmask (RFC 2865 §5.9: "the IP netmask to be configured for
// the user when the user is a router to a network"), a route to the
// peer's address under that mask, the network behind a router client. A
// host mask (/32) or one that is not contiguous adds nothing.
func framedRoutes(a *aaa.Authorization, peer netip.Addr) []netip.Prefix {
	out := slices.Clone(a.Routes)
	if a.Netmask.Is4() && peer.Is4() {
		if n, ok := maskBits(a.Netmask); ok && n > 0 && n < 32 {
			p := netip.PrefixFrom(peer, n).Masked()
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// maskBits returns the length of a contiguous IPv4 netmask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := bits.LeadingZeros32(^v)
	return n, v<<n == 0
}

// View returns a snapshot of the session.
func (s *Session) View() View {
	t := s.Timeouts()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := View{ID: s.id, Timeouts: t, Interface: s.name, LongName: s.long, Role: s.prof.Role, Template: s.prof.Template,
		Unnumbered: s.prof.Unnumbered, User: s.info.Username, Local: s.info.LocalAddr, Peer: s.info.PeerAddr,
		AuthPeer: s.info.AuthPeer, AuthSelf: s.info.AuthSelf, Up: s.ifc != nil, Created: s.created, UpSince: s.upAt,
		Counters: s.dp.Counters(), Bearer: s.b.Info(), Key: s.dp.Key, Encap: s.dp.Encap(), MPPE: s.mppeView(),
		MTU: s.mtu, PortNumber: uint32(s.unit), FramedRoutes: slices.Clone(s.framed), IPv6: s.ipv6ViewLocked()}
	if a := s.info.Authz; a != nil {
		v.IPv6Prefixes, v.DelegatedPrefixes = slices.Clone(a.IPv6Prefixes), slices.Clone(a.DelegatedPrefix)
	}
	return v
}

func (s *Session) mppeView() *MPPEView {
	enc, dec := s.dp.MPPE()
	if enc == nil || dec == nil || s.mppeInfo == nil {
		return nil
	}
	return &MPPEView{Bits: int(s.mppeInfo.Strength), Stateless: s.mppeInfo.Stateless, FellBack: s.fellBack,
		Tx: enc.Stats(), Rx: dec.Stats()}
}

// DNS returns the DNS servers IPCP negotiated (a client's, from its server).
func (s *Session) DNS() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.Addr
	for _, a := range s.info.DNS {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

// routesChanged is told the routes through the session's interface that
// the host has (a routing protocol over the session learned networks
// behind the peer): with strict uRPF, they are sources the session owns,
// as IOS's `reachable-via rx` accepts a source routed back through the
// interface it came in on.
func (s *Session) routesChanged(learnt []netip.Prefix) {
	prof := s.prof
	if prof.Role != Server || !prof.VerifySource {
		return
	}
	s.mu.Lock()
	if s.ifc == nil {
		s.mu.Unlock()
		return
	}
	s.learnt = learnt
	s.setSourcesLocked()
	s.mu.Unlock()
}

// Learnt returns the routes through the session's interface that count as
// its sources.
func (s *Session) Learnt() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.Prefix(nil), s.learnt...)
}

// mppeUp installs the ciphers CCP negotiated in the data plane (RFC 3078):
// from now on IP leaves and arrives encrypted. On the runner.
func (s *Session) mppeUp(in *ppp.MPPEInfo) {
	if in == nil {
		return
	}
	enc, err := mppe.NewEncrypter(in.SendKey, in.Strength, in.Stateless)
	if err == nil {
		var dec *mppe.Decrypter
		if dec, err = mppe.NewDecrypter(in.RecvKey, in.Strength, in.Stateless); err == nil {
			s.mu.Lock()
			fellBack := s.mppeInfo != nil && !s.mppeInfo.Stateless && in.Stateless && !s.fellBack
			s.fellBack = s.fellBack || fellBack
			s.mppeInfo = &ppp.MPPEInfo{Strength: in.Strength, Stateless: in.Stateless} // no keys kept
			s.mu.Unlock()
			if fellBack {
				s.m.mppeFallbacks.Add(1)
				s.m.log.Info("MPPE fell back from stateful to stateless mode", "interface", s.name)
			}
			s.dp.SetMPPE(enc, dec)
			return
		}
	}
	// Keys CCP accepted but the cipher refuses: a bug, not the peer's.
	s.fail(CauseNegotiation, "MPPE: "+err.Error())
}

// FlowAlarm is the carrier's flow-control alarm, why its words, (document 001: congestion
// or lost packets): a session running stateful MPPE falls back to
// stateless, once (ppp.Link.FallBackToStateless); with stateless MPPE or
// none it does nothing, the alarm being disabled then. It only posts to
// the session's runner: safe from any goroutine, the data path's with
// its send lock held included.
func (s *Session) FlowAlarm(why string) {
	if s.alarmed.Swap(true) {
		return // the fallback is tried once
	}
	s.run.Post(func() {
		if !s.link.FallBackToStateless(why) {
			s.alarmed.Store(false) // no stateful MPPE now: a later alarm may find it
			return
		}
		s.m.log.Info("MPPE falls back to stateless", "interface", s.name, "why", why)
	})
}

// mppeResync is the data plane's word that the stateful decrypter lost
// packets: CCP asks the peer to flush (Reset-Request, RFC 3078 §8). From
// the receive path: the link is the runner's.
func (s *Session) mppeResync() { s.run.Post(s.link.SendResetRequest) }

// ResetRequested implements ppp.ResetHandler: the peer's Reset-Request
// makes our encrypter flush on its next packet (RFC 3078 §8).
func (s *Session) ResetRequested() {
	if enc, _ := s.dp.MPPE(); enc != nil {
		enc.ResetRequested()
	}
}
