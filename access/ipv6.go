package access

// IPv6 on a PPP session (RFC 5072): IPv6CP agrees the two ends' interface
// identifiers; the link then has two link-local addresses (fe80::ID) and
// no address resolution. The server side advertises the session's prefix
// in Router Advertisements (RFC 4861 §6.2), answering solicitations and
// periodically, in user space on the link (not the kernel's radvd); the
// prefix and any delegated prefix are routed through the Virtual-Access.
// The client side solicits and forms its address from the advertised /64
// and its identifier (RFC 4862 §5.5.3).
//
//	IPv6CP Up ─▶ prefix: Framed-IPv6-Prefix, else the pool's /64, else ipv6 nd prefix
//	   │         (applied once the interface is up: IPCP brings it up)
//	   ▼
//	interface: fe80::ours/64, route prefix → Vi, route delegated → fe80::peer
//	sources:   + fe80::peer, the prefix, the delegated prefixes (else spoofed-source)
//	server: RA now, then every `ipv6 nd ra interval`; a solicitation answered (≥ 3 s apart)
//	server: DHCPv6 prefix delegation (RFC 8415) of the delegated prefixes
//	client: RS (3, 4 s apart, until an RA); the RA's /64s → SLAAC address, default route

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/vif"
	"github.com/vpdn/vpdn/wire/link6"
	wppp "github.com/vpdn/vpdn/wire/ppp"
)

// IPv6Profile is the IPv6 of a profile's sessions. The daemon fills in
// IOS's defaults; zero durations here are the RFC's.
type IPv6Profile struct {
	// Enabled negotiates IPv6CP on every session (ipv6 enable); without
	// it a server's session negotiates IPv6CP only when its authorization
	// carries an IPv6 prefix.
	Enabled bool
	// RAInterval is the period of unsolicited advertisements (0: 200 s);
	// RALifetime their Router Lifetime; RASuppress sends none.
	RAInterval time.Duration
	RALifetime time.Duration
	RASuppress bool
	// Prefix is advertised to a session that gets no prefix of its own
	// (ipv6 nd prefix); Valid and Preferred are the lifetimes of every
	// advertised prefix (seconds).
	Prefix           netip.Prefix
	Valid, Preferred uint32
	// Pool names the ipv6 local pool a session's /64 comes from.
	Pool string
	// SLAAC (client): an address from each advertised /64 (ipv6 address
	// autoconfig); DefaultRoute a default route through the session to
	// the advertising router (autoconfig default).
	SLAAC, DefaultRoute bool
	// PD (client): ask the server for delegated prefixes (DHCPv6, RFC
	// 8415), with Rapid Commit when PDRapidCommit.
	PD, PDRapidCommit bool
}

// Neighbor Discovery constants of RFC 4861 §10.
const (
	defaultRAInterval    = 200 * time.Second // IOS's ipv6 nd ra interval
	minDelayBetweenRAs   = 3 * time.Second   // MIN_DELAY_BETWEEN_RAS
	rtrSolicitInterval   = 4 * time.Second   // RTR_SOLICITATION_INTERVAL
	maxRtrSolicitations  = 3                 // MAX_RTR_SOLICITATIONS
	curHopLimit          = 64
	linkLocalBits        = 64
	defaultValidLifetime = 2592000 // 30 days, IOS's and RFC 4861 §6.2.1's
	defaultPreferred     = 604800  // 7 days
)

// ipv6State is a session's IPv6 once IPv6CP opened; under the session's
// mu, its timer's callbacks on the runner.
type ipv6State struct {
	localID, peerID wppp.InterfaceID
	prefix          netip.Prefix // advertised (server) or learnt (client)
	source          string       // where the prefix came from
	pool            string       // the ipv6 local pool of the prefix
	delegated       []netip.Prefix
	release         func() // gives a pool prefix back; nil when none
	applied         bool   // the address and routes are on the interface
	err             string // why they are not
	timer           clock.Timer
	delayed         clock.Timer // a solicited advertisement held back
	lastRA          time.Time   // last advertisement sent (server)
	solicits        int         // solicitations sent (client)
	slaac           []netip.Addr
	defaultVia      netip.Addr
	raOut, rsOut    uint64
	rsIn, raIn      uint64
	ndBad           uint64
	dhcpIn, dhcpOut uint64
	// Client: the DHCPv6 prefix delegation's transaction, tries, timer,
	// and whether a Reply ended it.
	pdXID   [3]byte
	pdTries int
	pdTimer clock.Timer
	pdDone  bool
}

// stopTimers stops the state's timers. Under the session's mu.
func (st *ipv6State) stopTimers() {
	for _, t := range []clock.Timer{st.timer, st.delayed, st.pdTimer} {
		if t != nil {
			t.Stop()
		}
	}
	st.delayed = nil
}

func (st *ipv6State) localLL() netip.Addr { return st.localID.LinkLocal() }
func (st *ipv6State) peerLL() netip.Addr  { return st.peerID.LinkLocal() }

// routes are the IPv6 routes through the session's interface (server).
func (st *ipv6State) routes() []vif.Route {
	var rs []vif.Route
	if st.prefix.IsValid() && st.source != "" {
		rs = append(rs, vif.Route{Dst: st.prefix})
	}
	for _, d := range st.delegated {
		rs = append(rs, vif.Route{Dst: d, Gateway: st.peerLL()})
	}
	return rs
}

// serverRoutes are routes() on a server, none on a client (the prefixes
// delegated to a client are its own to use).
func (s *Session) serverRoutes(st *ipv6State) []vif.Route {
	if s.prof.Role != Server {
		return nil
	}
	return st.routes()
}

// ipv6Up is IPv6CP's Up: the session's prefix is chosen (server) and,
// once the interface exists, applied. On the runner.
func (s *Session) ipv6Up(in ppp.Info) {
	st := &ipv6State{localID: in.LocalIfID, peerID: in.PeerIfID}
	if s.prof.Role == Server {
		s.choosePrefix(st, in.Authz)
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		if st.release != nil {
			st.release()
		}
		return
	}
	old := s.v6
	s.v6 = st
	up := s.ifc != nil
	s.mu.Unlock()
	if old != nil {
		s.dropIPv6(old)
	}
	if up {
		s.applyIPv6()
		if s.prof.Role == Server && (st.prefix.IsValid() || len(st.delegated) > 0) {
			s.accountingNewInfo() // after the Start, which could not tell them
		}
	}
}

// choosePrefix picks the server session's prefix: the authorization's
// Framed-IPv6-Prefix (RFC 3162 §2.3), else a /64 of the pool, else the
// template's ipv6 nd prefix; and its delegated prefixes (RFC 4818).
func (s *Session) choosePrefix(st *ipv6State, a *aaa.Authorization) {
	p := s.prof.IPv6
	switch {
	case a != nil && len(a.IPv6Prefixes) > 0:
		st.prefix, st.source = a.IPv6Prefixes[0].Masked(), "Framed-IPv6-Prefix"
	case p != nil && p.Pool != "" && s.m.cfg.AssignPrefix != nil:
		pf, release, err := s.m.cfg.AssignPrefix(p.Pool, s.id)
		if err != nil {
			st.err = "ipv6 local pool " + p.Pool + ": " + err.Error()
			s.m.log.Warn("no IPv6 prefix for the session", "interface", s.name, "pool", p.Pool, "err", err)
			break
		}
		st.prefix, st.source, st.pool, st.release = pf, "pool "+p.Pool, p.Pool, sync.OnceFunc(release)
	case p != nil && p.Prefix.IsValid():
		st.prefix, st.source = p.Prefix, "ipv6 nd prefix"
	}
	if a != nil {
		for _, d := range a.DelegatedPrefix {
			st.delegated = append(st.delegated, d.Masked())
		}
	}
}

// applyIPv6 puts the session's IPv6 on its interface and starts Neighbor
// Discovery. On the runner, with the interface up.
func (s *Session) applyIPv6() {
	s.mu.Lock()
	st, ifc := s.v6, s.ifc
	if st == nil || ifc == nil || st.applied {
		s.mu.Unlock()
		return
	}
	routes := s.serverRoutes(st)
	s.mu.Unlock()
	err := ifc.AddIPv6(netip.PrefixFrom(st.localLL(), linkLocalBits), routes)
	s.mu.Lock()
	if s.v6 != st || s.ifc != ifc {
		s.mu.Unlock()
		return
	}
	if err != nil {
		st.err = err.Error()
		s.mu.Unlock()
		s.m.log.Error("IPv6", "interface", s.name, "err", err)
		return
	}
	st.applied = true
	s.setSourcesLocked()
	s.mu.Unlock()
	s.m.log.Info("IPv6 up", "interface", s.name, "local", st.localLL().String(), "peer", st.peerLL().String(),
		"prefix", st.prefix.String(), "delegated", len(st.delegated))
	if s.prof.Role == Server {
		s.sendRA(st, false)
		s.armND(st)
	} else {
		s.solicit(st)
		s.solicitPD(st)
	}
}

// armND starts the state's periodic timer: the next unsolicited
// advertisement (server) or solicitation (client). On the runner.
func (s *Session) armND(st *ipv6State) {
	d := rtrSolicitInterval
	if s.prof.Role == Server {
		if p := s.prof.IPv6; p != nil && p.RASuppress {
			return
		}
		d = defaultRAInterval
		if p := s.prof.IPv6; p != nil && p.RAInterval > 0 {
			d = p.RAInterval
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v6 != st || !st.applied {
		return
	}
	st.timer = s.m.cfg.Clock.AfterFunc(d, func() {
		s.run.Post(func() {
			s.mu.Lock()
			live := s.v6 == st && st.applied
			s.mu.Unlock()
			if !live {
				return
			}
			if s.prof.Role == Server {
				s.sendRA(st, false)
				s.armND(st)
			} else {
				s.solicit(st)
			}
		})
	})
}

// solicit sends a Router Solicitation (client), at most
// MAX_RTR_SOLICITATIONS until an advertisement arrives (RFC 4861 §6.3.7).
func (s *Session) solicit(st *ipv6State) {
	s.mu.Lock()
	if st.solicits >= maxRtrSolicitations || len(st.slaac) > 0 {
		s.mu.Unlock()
		return
	}
	st.solicits++
	s.mu.Unlock()
	if s.sendIPv6(link6.AppendRS(nil, st.localLL())) {
		s.mu.Lock()
		st.rsOut++
		s.mu.Unlock()
	}
	s.armND(st)
}

// sendRA sends a Router Advertisement to all nodes on the link (RFC 4861
// §6.2.4, §6.2.6); one answering a solicitation less than
// MIN_DELAY_BETWEEN_RAS after the last is sent when that delay is over
// (one held at most). On the runner.
func (s *Session) sendRA(st *ipv6State, solicited bool) {
	p := s.prof.IPv6
	if p != nil && p.RASuppress {
		return
	}
	now := s.m.cfg.Clock.Now()
	s.mu.Lock()
	if solicited && !st.lastRA.IsZero() && now.Sub(st.lastRA) < minDelayBetweenRAs {
		if st.delayed == nil {
			st.delayed = s.m.cfg.Clock.AfterFunc(st.lastRA.Add(minDelayBetweenRAs).Sub(now), func() {
				s.run.Post(func() {
					s.mu.Lock()
					st.delayed = nil
					live := s.v6 == st && st.applied
					s.mu.Unlock()
					if live {
						s.sendRA(st, false)
					}
				})
			})
		}
		s.mu.Unlock()
		return
	}
	ra := &link6.RA{CurHopLimit: curHopLimit, RouterLifetime: 1800, MTU: uint32(s.mtu)}
	if ra.MTU == 0 {
		ra.MTU = 1500
	}
	valid, pref := s.lifetimes()
	if p != nil {
		ra.RouterLifetime = uint16(min(p.RALifetime/time.Second, 9000))
	}
	if st.prefix.IsValid() {
		ra.Prefixes = []link6.PrefixInfo{{Prefix: st.prefix, OnLink: true, Autonomous: st.prefix.Bits() == 64, Valid: valid, Preferred: pref}}
	}
	st.lastRA = now
	s.mu.Unlock()
	buf := link6.AppendRA(nil, st.localLL(), link6.AllNodes, ra)
	if s.sendIPv6(buf) {
		s.mu.Lock()
		st.raOut++
		s.mu.Unlock()
	}
}

// sendIPv6 sends an IPv6 packet into the session, as the data plane sends
// what the interface reads (MPPE included), counted as control traffic.
// On the runner.
func (s *Session) sendIPv6(pkt []byte) bool {
	if err := s.dp.SendControlIP(pkt); err != nil {
		s.m.log.Debug("IPv6 ND not sent", "interface", s.name, "err", err)
		return false
	}
	return true
}

// maxNDPending bounds the Router Solicitations and Advertisements of a
// session waiting for its runner: a flood of them is dropped, not queued.
const maxNDPending = 4

// onLink6 is the data plane's handler of the session's Router
// Solicitations and Advertisements and DHCPv6 messages: a copy goes to
// the runner, at most maxNDPending at a time.
func (s *Session) onLink6(pkt []byte) {
	if s.ndPending.Add(1) > maxNDPending {
		s.ndPending.Add(-1)
		s.m.countND(errNDBusy)
		return
	}
	cp := append([]byte(nil), pkt...)
	s.run.Post(func() {
		s.ndPending.Add(-1)
		s.ndInput(cp)
	})
}

// ndInput handles a Router Solicitation (server) or Advertisement
// (client), or a DHCPv6 message (server). Malformed ones, and those of the
// wrong direction, are dropped and counted. On the runner.
func (s *Session) ndInput(pkt []byte) {
	if s.dp.Link6DHCP != 0 && link6.IsDHCPTo(pkt, s.dp.Link6DHCP) {
		if s.prof.Role == Server {
			s.dhcpInput(pkt)
		} else {
			s.dhcpClientInput(pkt)
		}
		return
	}
	m, err := link6.Parse(pkt)
	s.mu.Lock()
	st := s.v6
	if st == nil || !st.applied {
		s.mu.Unlock()
		s.m.countND(errNDNotUp)
		return
	}
	if err == nil && (m.Type == link6.TypeRouterSolicitation) != (s.prof.Role == Server) {
		err = errNDDirection
	}
	if err != nil {
		st.ndBad++
		s.mu.Unlock()
		s.m.countND(err)
		return
	}
	if m.Type == link6.TypeRouterSolicitation {
		st.rsIn++
		s.mu.Unlock()
		s.sendRA(st, true)
		return
	}
	st.raIn++
	s.mu.Unlock()
	s.learnRA(st, m)
}

var (
	errNDNotUp     = errors.New("access: ND before IPv6 is up")
	errNDDirection = errors.New("access: RS to a client or RA to a server")
	errNDBusy      = errors.New("access: too many ND messages waiting")
	errDHCPType    = errors.New("access: DHCPv6 message a server does not answer")
	errDHCPServer  = errors.New("access: DHCPv6 message for another server, or a Solicit naming one")
)

// learnRA applies an advertisement (client): when asked, an address from
// each /64 with the A flag (RFC 4862 §5.5.3) and a default route to the
// router. Lifetimes are not counted down: the session's end removes
// what was added, with its interface.
func (s *Session) learnRA(st *ipv6State, m link6.Message) {
	s.mu.Lock()
	ifc := s.ifc
	var add []netip.Prefix
	for _, p := range m.RA.Prefixes {
		a, ok := link6.SLAAC(p.Prefix, st.localID)
		if !ok || !s.prof.IPv6.SLAAC || !p.Autonomous || p.Valid == 0 || p.Preferred > p.Valid || p.Prefix.Addr().IsLinkLocalUnicast() ||
			slices.Contains(st.slaac, a) || len(st.slaac) >= link6.MaxPrefixes {
			continue
		}
		st.slaac = append(st.slaac, a)
		st.prefix, st.source = p.Prefix, "router advertisement"
		add = append(add, netip.PrefixFrom(a, 64))
	}
	var def []vif.Route
	if p := s.prof.IPv6; p != nil && p.DefaultRoute && m.RA.RouterLifetime > 0 && !st.defaultVia.IsValid() {
		st.defaultVia = m.Src
		def = []vif.Route{{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Gateway: m.Src}}
	}
	if st.timer != nil && len(st.slaac) > 0 {
		st.timer.Stop()
	}
	s.mu.Unlock()
	if ifc == nil {
		return
	}
	for i, a := range add {
		var rs []vif.Route
		if i == len(add)-1 {
			rs = def
		}
		if err := ifc.AddIPv6(a, rs); err != nil {
			s.m.log.Error("SLAAC address", "interface", s.name, "addr", a.String(), "err", err)
		}
	}
	if len(add) == 0 && len(def) > 0 {
		ifc.AddIPv6(netip.PrefixFrom(st.localLL(), linkLocalBits), def)
	}
	if len(add) > 0 {
		s.m.log.Info("IPv6 address from router advertisement", "interface", s.name, "addr", add[0].String())
	}
}

// ipv6Down is IPv6CP's Down: what it added goes, its prefix back to the
// pool. On the runner.
func (s *Session) ipv6Down() {
	s.mu.Lock()
	st := s.v6
	s.v6 = nil
	if st != nil && s.ifc != nil && s.info.PeerAddr.IsValid() {
		s.setSourcesLocked()
	}
	s.mu.Unlock()
	if st != nil {
		s.dropIPv6(st)
	}
}

// dropIPv6 undoes st: timer, interface address and routes, the prefix.
func (s *Session) dropIPv6(st *ipv6State) {
	s.mu.Lock()
	ifc := s.ifc
	applied := st.applied
	st.applied = false
	st.stopTimers()
	s.mu.Unlock()
	if applied && ifc != nil {
		ifc.DelIPv6(netip.PrefixFrom(st.localLL(), linkLocalBits), s.serverRoutes(st))
	}
	if st.release != nil {
		st.release()
	}
}

// dhcpInput answers a client's DHCPv6 prefix delegation (RFC 8415 §18.3)
// with the session's delegated prefixes: Solicit (Advertise, or Reply
// with Rapid Commit), Request, Renew, Rebind (Reply with the prefixes, or
// NoPrefixAvail without any), Release (Reply, Success; the prefixes stay
// routed: they are the authorization's). On the runner.
func (s *Session) dhcpInput(pkt []byte) {
	s.mu.Lock()
	st := s.v6
	ok := st != nil && st.applied
	s.mu.Unlock()
	if !ok {
		s.m.countND(errNDNotUp)
		return
	}
	m, err := s.parseDHCP(pkt, link6.DHCPClientPort)
	if err != nil {
		s.dropND(st, err)
		return
	}
	duid := s.m.serverDUID()
	r := link6.DHCPMessage{XID: m.XID, ClientID: m.ClientID, ServerID: duid}
	switch m.Type {
	case link6.DHCPSolicit:
		r.Type = link6.DHCPAdvertise
		if m.RapidCommit {
			r.Type, r.RapidCommit = link6.DHCPReply, true
		}
	case link6.DHCPRequest, link6.DHCPRenew, link6.DHCPRebind:
		r.Type = link6.DHCPReply
	case link6.DHCPRelease:
		r.Type, r.Status, r.HasStatus = link6.DHCPReply, link6.DHCPStatusSuccess, true
		m.IAPD = nil
	}
	// RFC 8415 §16: a Solicit or Rebind names no server; a Request,
	// Renew or Release names this one.
	named := m.ServerID != nil
	switch {
	case r.Type == 0:
		err = errDHCPType
	case (m.Type == link6.DHCPSolicit || m.Type == link6.DHCPRebind) && named,
		(m.Type == link6.DHCPRequest || m.Type == link6.DHCPRenew || m.Type == link6.DHCPRelease) && string(m.ServerID) != string(duid):
		err = errDHCPServer
	}
	if err != nil {
		s.dropND(st, err)
		return
	}
	valid, pref := s.lifetimes()
	s.mu.Lock()
	delegated := slices.Clone(st.delegated)
	st.dhcpIn++
	s.mu.Unlock()
	for _, ia := range m.IAPD {
		a := link6.IAPD{IAID: ia.IAID, T1: pref / 2, T2: pref / 5 * 4}
		for _, d := range delegated {
			a.Prefixes = append(a.Prefixes, link6.IAPrefix{Preferred: pref, Valid: valid, Prefix: d})
		}
		if len(a.Prefixes) == 0 {
			a.T1, a.T2, a.Status, a.HasStatus = 0, 0, link6.DHCPStatusNoPrefixAvail, true
		}
		r.IAPD = append(r.IAPD, a)
	}
	out := link6.AppendUDP(nil, st.localLL(), m.src, link6.DHCPServerPort, link6.DHCPClientPort, link6.AppendDHCP(nil, &r))
	if s.sendIPv6(out) {
		s.mu.Lock()
		st.dhcpOut++
		s.mu.Unlock()
	}
}

// dhcpRequest is a parsed DHCPv6 message with its sender.
type dhcpRequest struct {
	link6.DHCPMessage
	src netip.Addr
}

// parseDHCP parses the IPv6/UDP datagram and the DHCPv6 message in it; a
// message from a source that is not link-local or not from port from, or
// without a Client Identifier, is refused (RFC 8415 §16).
func (s *Session) parseDHCP(pkt []byte, from uint16) (dhcpRequest, error) {
	d, err := link6.ParseUDP(pkt)
	if err != nil {
		return dhcpRequest{}, err
	}
	if !d.Src.IsLinkLocalUnicast() || d.SrcPort != from {
		return dhcpRequest{}, link6.ErrNotDHCP
	}
	m, err := link6.ParseDHCP(d.Payload)
	if err == nil && m.ClientID == nil {
		err = link6.ErrDUID
	}
	return dhcpRequest{DHCPMessage: m, src: d.Src}, err
}

// solicitPD asks the server for delegated prefixes (client, RFC 8415
// §18.2.1): a Solicit for one IA_PD, again at most 3 times, a second
// apart, until a Reply. On the runner.
func (s *Session) solicitPD(st *ipv6State) {
	p := s.prof.IPv6
	s.mu.Lock()
	if p == nil || !p.PD || s.v6 != st || !st.applied || st.pdDone || st.pdTries >= maxRtrSolicitations {
		s.mu.Unlock()
		return
	}
	st.pdTries++
	if st.pdTries == 1 {
		rand.Read(st.pdXID[:])
	}
	m := link6.DHCPMessage{Type: link6.DHCPSolicit, XID: st.pdXID, ClientID: s.m.serverDUID(), RapidCommit: p.PDRapidCommit,
		IAPD: []link6.IAPD{{IAID: 1}}}
	s.mu.Unlock()
	s.sendDHCP(st, link6.AllDHCPServers, link6.DHCPServerPort, &m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v6 == st && st.applied {
		st.pdTimer = s.m.cfg.Clock.AfterFunc(time.Second, func() { s.run.Post(func() { s.solicitPD(st) }) })
	}
}

// sendDHCP sends m from the link-local address to dst:port.
func (s *Session) sendDHCP(st *ipv6State, dst netip.Addr, port uint16, m *link6.DHCPMessage) {
	sport := uint16(link6.DHCPClientPort)
	if port == link6.DHCPClientPort {
		sport = link6.DHCPServerPort
	}
	if s.sendIPv6(link6.AppendUDP(nil, st.localLL(), dst, sport, port, link6.AppendDHCP(nil, m))) {
		s.mu.Lock()
		st.dhcpOut++
		s.mu.Unlock()
	}
}

// dhcpClientInput takes the server's answer to our Solicit (client): an
// Advertise is followed by a Request to its server; a Reply's prefixes
// are the session's delegated prefixes. On the runner.
func (s *Session) dhcpClientInput(pkt []byte) {
	s.mu.Lock()
	st := s.v6
	ok := st != nil && st.applied && !st.pdDone && st.pdTries > 0
	s.mu.Unlock()
	if !ok {
		s.m.countND(errNDNotUp)
		return
	}
	m, err := s.parseDHCP(pkt, link6.DHCPServerPort)
	switch {
	case err != nil:
	case m.XID != st.pdXID || string(m.ClientID) != string(s.m.serverDUID()) || m.ServerID == nil:
		err = errDHCPServer
	case m.Type != link6.DHCPAdvertise && m.Type != link6.DHCPReply:
		err = errDHCPType
	}
	if err != nil {
		s.dropND(st, err)
		return
	}
	var got []netip.Prefix
	for _, ia := range m.IAPD {
		for _, p := range ia.Prefixes {
			if p.Valid > 0 && p.Prefix.Addr().Is6() && len(got) < link6.MaxIAPrefixes {
				got = append(got, p.Prefix)
			}
		}
	}
	s.mu.Lock()
	st.dhcpIn++
	if m.Type == link6.DHCPAdvertise {
		// RFC 8415 §18.2.2: Request the prefixes from the server that
		// advertised them.
		s.mu.Unlock()
		if len(got) > 0 {
			r := link6.DHCPMessage{Type: link6.DHCPRequest, XID: st.pdXID, ClientID: s.m.serverDUID(), ServerID: m.ServerID, IAPD: m.IAPD}
			s.sendDHCP(st, link6.AllDHCPServers, link6.DHCPServerPort, &r)
		}
		return
	}
	st.pdDone, st.delegated = true, got
	if st.pdTimer != nil {
		st.pdTimer.Stop()
	}
	s.mu.Unlock()
	if len(got) > 0 {
		s.m.log.Info("IPv6 prefix delegated by DHCPv6", "interface", s.name, "prefix", got[0].String())
	}
}

// serverDUID is this node's DHCPv6 server identifier: a DUID-UUID (RFC
// 6355) drawn once.
func (m *Manager) serverDUID() []byte {
	m.duidOnce.Do(func() {
		m.duid = make([]byte, 18)
		m.duid[1] = 4
		rand.Read(m.duid[2:])
	})
	return m.duid
}

// ipv6InterfaceGone: the interface went down (IPCP closed): IPv6 is no
// longer applied, and is again when the interface comes back. Under mu.
func (s *Session) ipv6InterfaceGoneLocked() {
	if st := s.v6; st != nil {
		st.applied = false
		st.stopTimers()
	}
}

// ipv6EndLocked stops the session's IPv6 at its end and returns what
// gives its prefix back. Under mu.
func (s *Session) ipv6EndLocked() func() {
	st := s.v6
	if st == nil {
		return nil
	}
	st.applied = false
	st.stopTimers()
	return st.release
}

// setSourcesLocked installs the session's source set (strict uRPF) in
// the data plane: its IPv4 address, its routes and the routes the host
// learnt through it; with IPv6, the peer's link-local address, its prefix
// and its delegated prefixes. Under mu, with the interface up.
func (s *Session) setSourcesLocked() {
	if s.prof.Role != Server || !s.prof.VerifySource {
		return
	}
	s.m.cfg.Plane.SetSources(s.dp, s.sourcesLocked(s.info.PeerAddr, s.owned))
}

// sourcesLocked builds the source set from the IPv4 peer address and
// owned prefixes, with the routes learnt and the IPv6 ones.
func (s *Session) sourcesLocked(peer netip.Addr, owned []netip.Prefix) *dataplane.Sources {
	addrs := []netip.Addr{peer}
	all := append(append([]netip.Prefix(nil), owned...), s.learnt...)
	if st := s.v6; st != nil && st.applied {
		addrs = append(addrs, st.peerLL())
		for _, r := range st.routes() {
			all = append(all, r.Dst)
		}
	}
	return dataplane.NewSources(addrs, all)
}

// ipv6PrefixesLocked are the session's IPv6 prefix and delegated
// prefixes for accounting: as applied once IPv6CP is open (a server's),
// else the authorization's, which IPv6CP will apply. Under mu.
func (s *Session) ipv6PrefixesLocked() (prefixes, delegated []netip.Prefix) {
	if s.prof.Role != Server {
		return nil, nil
	}
	if st := s.v6; st != nil {
		if st.prefix.IsValid() {
			prefixes = []netip.Prefix{st.prefix}
		}
		return prefixes, slices.Clone(st.delegated)
	}
	if a := s.info.Authz; a != nil {
		return slices.Clone(a.IPv6Prefixes), slices.Clone(a.DelegatedPrefix)
	}
	return nil, nil
}

// PoolPrefix returns the session's IPv6 prefix when it came from an ipv6
// local pool, with the pool's name (a reload reserves it in a new pool).
func (s *Session) PoolPrefix() (string, netip.Prefix) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.v6; st != nil && st.release != nil {
		return st.pool, st.prefix
	}
	return "", netip.Prefix{}
}

// IPv6View is a session's IPv6 for show commands.
type IPv6View struct {
	LocalID, PeerID      wppp.InterfaceID
	LinkLocal, PeerLL    netip.Addr
	Prefix               netip.Prefix
	PrefixSource         string
	Delegated            []netip.Prefix
	Applied              bool
	Err                  string
	Addrs                []netip.Addr // client: SLAAC addresses
	RAsSent, RSsReceived uint64
	RSsSent, RAsReceived uint64
	NDDropped            uint64
	// DHCPIn and DHCPOut count the DHCPv6 prefix-delegation messages
	// received and answered.
	DHCPIn, DHCPOut uint64
}

// ipv6ViewLocked returns the session's IPv6 view, nil without IPv6CP.
func (s *Session) ipv6ViewLocked() *IPv6View {
	st := s.v6
	if st == nil {
		return nil
	}
	return &IPv6View{LocalID: st.localID, PeerID: st.peerID, LinkLocal: st.localLL(), PeerLL: st.peerLL(),
		Prefix: st.prefix, PrefixSource: st.source, Delegated: slices.Clone(st.delegated), Applied: st.applied,
		Err: st.err, Addrs: slices.Clone(st.slaac), RAsSent: st.raOut, RSsReceived: st.rsIn, RSsSent: st.rsOut,
		RAsReceived: st.raIn, NDDropped: st.ndBad, DHCPIn: st.dhcpIn, DHCPOut: st.dhcpOut}
}

// ndReasons name the reasons a Router Solicitation or Advertisement is
// dropped (metrics labels, show).
var ndReasons = map[error]string{
	link6.ErrShort: "truncated", link6.ErrNotND: "not-nd", link6.ErrHopLimit: "hop-limit",
	link6.ErrChecksum: "checksum", link6.ErrCode: "code", link6.ErrOption: "bad-option",
	link6.ErrSource: "ra-source", link6.ErrUnspecSLL: "unspecified-with-slla",
	errNDNotUp: "ipv6-not-up", errNDDirection: "wrong-direction", errNDBusy: "flood",
	link6.ErrDHCPShort: "dhcp-truncated", link6.ErrDHCPOption: "dhcp-bad-option", link6.ErrNotDHCP: "dhcp-not-udp",
	link6.ErrUDPChecksum: "dhcp-checksum", link6.ErrDUID: "dhcp-duid", errDHCPType: "dhcp-type", errDHCPServer: "dhcp-server-id",
}

// dropND counts a message of the session's IPv6 link control dropped
// for err.
func (s *Session) dropND(st *ipv6State, err error) {
	s.mu.Lock()
	st.ndBad++
	s.mu.Unlock()
	s.m.countND(err)
}

// lifetimes are the valid and preferred lifetimes of the prefixes the
// server advertises and delegates (ipv6 nd prefix default).
func (s *Session) lifetimes() (valid, preferred uint32) {
	if p := s.prof.IPv6; p != nil && (p.Valid != 0 || p.Preferred != 0) {
		return p.Valid, p.Preferred
	}
	return defaultValidLifetime, defaultPreferred
}

// countND counts a Router Solicitation or Advertisement dropped, by
// reason.
func (m *Manager) countND(err error) {
	r, ok := ndReasons[err]
	if !ok {
		r = "other"
	}
	m.ndMu.Lock()
	if m.ndDrops == nil {
		m.ndDrops = map[string]uint64{}
	}
	m.ndDrops[r]++
	m.ndMu.Unlock()
}

// NDDrops returns the Router Solicitations and Advertisements dropped,
// by reason (a closed set: icmpv6's errors and the access layer's).
func (m *Manager) NDDrops() map[string]uint64 {
	m.ndMu.Lock()
	defer m.ndMu.Unlock()
	out := make(map[string]uint64, len(m.ndDrops))
	for k, v := range m.ndDrops {
		out[k] = v
	}
	return out
}
