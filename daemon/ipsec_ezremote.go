package daemon

// The Easy VPN remote (`crypto ipsec client ezvpn NAME` on the outside
// interface): vpdn as the client of an Easy VPN server. It rides on the
// crypto service of its outside interface (ipsec.go: IKE on the
// interface's address, the crypto TUN, the ESP stage) with no crypto map:
//
//	connect ─▶ aggressive mode, ID_KEY_ID = group, XAUTHInitPreShared (ike.Node.Connect)
//	        ─▶ XAuth answered with `username U password P`
//	        ─▶ mode-config: address, DNS, domain, split networks
//	        ─▶ mode client: the address on the crypto TUN, one SPD line and
//	           route per split network from it (all traffic with no split list)
//	           network-extension: the inside interfaces' networks instead
//	        ─▶ one quick mode per line; IPSEC_ACTIVE at the first SA
//
// A lost phase 1 (DPD, a delete from the server, `clear crypto ipsec
// client ezvpn`) takes the address, routes and lines away; with `connect
// auto` the remote connects again after a backoff (remoteRetryMin doubling
// to remoteRetryMax), trying the next `peer` after a failure. A rejected
// XAuth is not retried fast: after remoteXAuthRetry, and after
// remoteXAuthTries rejections in a row the remote waits for `crypto ipsec
// client ezvpn connect NAME`.

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// Reconnection of an Easy VPN remote with connect auto.
const (
	remoteRetryMin = 5 * time.Second
	remoteRetryMax = 5 * time.Minute
	// remoteConnectTimeout bounds phase 1, XAuth and mode-config: a
	// server that never finishes them counts as a failure.
	remoteConnectTimeout = 90 * time.Second
	remoteXAuthRetry     = 5 * time.Minute
	remoteXAuthTries     = 3
)

// remoteLoopback is the interface IOS shows the assigned address on; vpdn
// puts it on the crypto TUN.
const remoteLoopback = "Loopback10000"

// maxRemoteSplit bounds the split networks a remote takes from its server.
const maxRemoteSplit = 64

// The IOS states of show crypto ipsec client ezvpn.
const (
	ezsConnectRequired = "CONNECT_REQUIRED"
	ezsIKEPending      = "IKE_PENDING"
	ezsXAuthReq        = "XAUTH_REQ"
	ezsSSOpen          = "SS_OPEN"
	ezsActive          = "IPSEC_ACTIVE"
)

// remoteProposals is the remote's phase-1 offer without crypto isakmp
// policies. Aggressive mode sends one key exchange, so one DH group:
// group 2, as IOS's Easy VPN remote offers, AES-256/AES-128/3DES with SHA
// then MD5.
func remoteProposals() []ike.Policy {
	var out []ike.Policy
	prio := 65001
	for _, h := range []ike.Hash{ike.HashSHA1, ike.HashMD5} {
		for _, c := range []struct {
			c    ike.Cipher
			bits int
		}{{ike.CipherAES, 256}, {ike.CipherAES, 128}, {ike.Cipher3DES, 0}} {
			out = append(out, ike.Policy{Priority: prio, Encryption: c.c, KeyBits: c.bits, Hash: h, Group: ike.Group2})
			prio++
		}
	}
	return out
}

// remoteTransforms is the remote's quick-mode offer (it has no transform
// set): AES-256, AES-128 and 3DES with SHA-1, then with MD5.
func remoteTransforms() []ike.TransformSet {
	var out []ike.TransformSet
	for _, a := range []uint16{isakmp.AuthAlgHMACSHA1, isakmp.AuthAlgHMACMD5} {
		out = append(out,
			ike.TransformSet{Name: "ezvpn-aes256", ESP: isakmp.ESPAES, KeyBits: 256, Auth: a},
			ike.TransformSet{Name: "ezvpn-aes128", ESP: isakmp.ESPAES, KeyBits: 128, Auth: a},
			ike.TransformSet{Name: "ezvpn-3des", ESP: isakmp.ESP3DES, Auth: a})
	}
	return out
}

// ezRemote is one Easy VPN remote on its outside interface's service.
type ezRemote struct {
	s           *ipsecService
	cfg         *config.EzVPNClient
	entry       *cryptoEntry   // the SPD lines' entry: the remote's peers, its transforms
	inside      []netip.Prefix // the inside interfaces' networks
	insideNames []string
	insideSrc   netip.Addr // network-extension: an inside address, the routes' source

	mu       sync.Mutex
	state    string
	event    string
	peerIdx  int
	peer     netip.AddrPort // the peer connected or being connected to
	mc       *ike.ModeConfig
	connID   int
	applied  bool
	routes   []netif.Route
	addr     netip.Prefix // on the TUN (mode client)
	natOn    bool         // the inside networks are masqueraded (mode client)
	backoff  time.Duration
	xfails   int
	xauthBad bool // the last phase 1 ended in a rejected XAuth
	timer    clock.Timer
	watchdog clock.Timer
	closed   bool
}

// newEzRemote returns the remote of a service whose interface is an Easy
// VPN outside interface, or nil.
func newEzRemote(s *ipsecService, c *config.Config) *ezRemote {
	ifc := s.ifc
	if ifc.EzVPN == "" || ifc.EzVPNInside {
		return nil
	}
	e := c.Crypto.EzVPNClientByName(ifc.EzVPN)
	if e == nil {
		return nil
	}
	r := &ezRemote{s: s, cfg: e, state: ezsConnectRequired, event: "CONNECT_REQUIRED", backoff: remoteRetryMin}
	cr := c.Crypto
	r.entry = &cryptoEntry{cfg: &config.CryptoMapEntry{Name: "ezvpn " + e.Name, Peers: e.Peers}, tag: "ezvpn " + e.Name,
		pol: ike.Phase2Policy{TransformSets: remoteTransforms(),
			Lifetime: time.Duration(cr.SALifetime.Seconds) * time.Second, LifeKB: uint64(cr.SALifetime.Kilobytes)}}
	{
		for _, i := range c.Interfaces {
			if i.EzVPN == e.Name && i.EzVPNInside && i.Address.IsValid() && !i.Shutdown {
				r.inside = append(r.inside, i.Address.Masked())
				r.insideNames = append(r.insideNames, i.Name.String())
				if !r.insideSrc.IsValid() {
					r.insideSrc = i.Address.Addr()
				}
			}
		}
	}
	return r
}

// natTable is the nftables table of the remote's translation of its
// inside networks (mode client).
func (r *ezRemote) natTable() string { return "vpdn-ezvpn-" + r.cfg.Name }

func (r *ezRemote) networkExtension() bool { return r.cfg.Mode == "network-extension" }

// natRules are mode client's translations of the inside networks: into
// the tunnel, and out of the outside interface when that is a link of
// this host (without `linux-device` it may not be: the tunnel's rule is
// then the only one, and a warning says so).
func (r *ezRemote) natRules() []netif.NATRule {
	rules := []netif.NATRule{{Oif: r.s.tun, Srcs: r.inside}}
	if out := r.outsideDev(); r.s.host.Exists(out) {
		rules = append(rules, netif.NATRule{Oif: out, Srcs: r.inside})
	} else {
		r.s.d.log.Warn("Easy VPN remote: the outside interface is no link of this host; inside hosts are not translated to its address outside the tunnel", "ezvpn", r.cfg.Name, "link", out)
	}
	return rules
}

// outsideDev is the Linux link of the remote's outside interface.
func (r *ezRemote) outsideDev() string {
	if d := r.s.ifc.LinuxDevice; d != "" {
		return d
	}
	return r.s.ifc.Name.String()
}

// configure makes the service's IKE node an Easy VPN client.
func (r *ezRemote) configure(cfg *ike.Config, cr *config.Crypto) {
	cfg.Aggressive = true
	cfg.GroupID = r.cfg.Group
	cfg.RequestModeConfig = true
	if len(cr.Policies) == 0 {
		cfg.Policies = remoteProposals()
	}
	key, _ := clearSecret(r.cfg.Key)
	pass, _ := clearSecret(r.cfg.Password)
	user := r.cfg.User
	cfg.XAuthCredentials = func(netip.Addr) (string, string) { return user, pass }
	next := cfg.Key
	cfg.Key = func(peer netip.Addr, id []byte) []byte {
		if slices.Contains(r.cfg.Peers, peer.Unmap()) {
			return []byte(key)
		}
		return next(peer, id)
	}
	if cr.XAuthTimeout > 0 {
		cfg.XAuthTimeout = time.Duration(cr.XAuthTimeout) * time.Second
	}
}

// start connects when the remote connects automatically, first removing
// a translation a vpdn that did not stop cleanly left.
func (r *ezRemote) start() {
	if n, ok := r.s.host.(netif.NATHost); ok && len(r.inside) > 0 && !r.networkExtension() {
		n.DelNAT(r.natTable())
	}
	if r.cfg.Connect != "manual" {
		r.connect("CONNECT")
	}
}

// connect starts phase 1 with the current peer.
func (r *ezRemote) connect(why string) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.stopTimers()
	r.peer = netip.AddrPortFrom(r.cfg.Peers[r.peerIdx%len(r.cfg.Peers)], 500)
	r.state, r.event = ezsIKEPending, why
	peer := r.peer
	r.watchdog = r.s.clock.AfterFunc(remoteConnectTimeout, func() { r.connectTimeout(peer) })
	r.mu.Unlock()
	r.s.log.Debug(fmt.Sprintf("EZVPN(%s): connecting to %v", r.cfg.Name, peer.Addr()))
	if err := r.s.node.Connect(peer); err != nil {
		r.s.log.Debug(fmt.Sprintf("EZVPN(%s): connect to %v: %v", r.cfg.Name, peer.Addr(), err))
	}
}

// connectTimeout: the peer did not complete phase 1, XAuth and
// mode-config in time.
func (r *ezRemote) connectTimeout(peer netip.AddrPort) {
	r.mu.Lock()
	stale := r.closed || r.peer != peer || r.mc != nil
	r.mu.Unlock()
	if stale {
		return
	}
	r.s.log.Debug(fmt.Sprintf("EZVPN(%s): %v did not complete the connection in %v", r.cfg.Name, peer.Addr(), remoteConnectTimeout))
	r.s.node.DeletePeer(peer.Addr())
	r.failed("CONN_TIMEOUT", true)
}

// stopTimers (r.mu held).
func (r *ezRemote) stopTimers() {
	for _, t := range []clock.Timer{r.timer, r.watchdog} {
		if t != nil {
			t.Stop()
		}
	}
	r.timer, r.watchdog = nil, nil
}

// failed records a failed or lost connection and, with connect auto,
// schedules the next attempt (with the next peer when next).
func (r *ezRemote) failed(event string, next bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.stopTimers()
	r.event = event
	if next && len(r.cfg.Peers) > 1 {
		r.peerIdx = (r.peerIdx + 1) % len(r.cfg.Peers)
	}
	if r.xauthBad {
		r.xauthBad = false
		r.xfails++
		r.state = ezsXAuthReq
		if r.xfails >= remoteXAuthTries {
			r.state = ezsConnectRequired
			r.s.log.Debug(fmt.Sprintf("EZVPN(%s): XAuth rejected %d times; waiting for crypto ipsec client ezvpn connect %s", r.cfg.Name, r.xfails, r.cfg.Name))
			return
		}
		if r.cfg.Connect != "manual" {
			r.timer = r.s.clock.AfterFunc(remoteXAuthRetry, func() { r.connect("XAUTH_RETRY") })
		}
		return
	}
	r.state = ezsConnectRequired
	if r.cfg.Connect == "manual" {
		return
	}
	d := r.backoff
	r.backoff = min(r.backoff*2, remoteRetryMax)
	r.timer = r.s.clock.AfterFunc(d, func() { r.connect("CONNECT_RETRY") })
}

// onEvent follows the IKE events of the remote's peer.
func (r *ezRemote) onEvent(ev ike.Event) {
	r.mu.Lock()
	ours := ev.Peer.Addr() == r.peer.Addr()
	r.mu.Unlock()
	if !ours {
		return
	}
	switch ev.Kind {
	case ike.EventPhase1Up:
		r.mu.Lock()
		r.connID, r.state, r.event = ev.ConnID, ezsXAuthReq, "XAUTH_REQUEST"
		r.mu.Unlock()
	case ike.EventXAuth:
		r.mu.Lock()
		if ev.Reason == "accepted" {
			r.event, r.xfails = "XAUTH_REQ_INFO_READY", 0
		} else {
			r.xauthBad, r.event = true, "XAUTH_REJECTED"
		}
		r.mu.Unlock()
		r.s.log.Debug(fmt.Sprintf("EZVPN(%s): XAuth as %q: %s", r.cfg.Name, ev.User, ev.Reason))
	case ike.EventModeConfig:
		if ev.Config != nil {
			r.up(ev.ConnID, ev.Config)
		}
	case ike.EventDPDDead:
		r.mu.Lock()
		r.event = "DPD_DEAD"
		r.mu.Unlock()
	case ike.EventPhase1Down:
		r.mu.Lock()
		// The SA of another negotiation with the same peer (a replaced
		// one) going leaves ours up.
		mine := r.connID == 0 || ev.ConnID == 0 || ev.ConnID == r.connID
		up := r.mc != nil
		r.mu.Unlock()
		if !mine {
			return
		}
		r.down()
		ev := "PHASE1_DOWN: " + ev.Reason
		r.failed(ev, !up)
	}
}

// up applies mode-config: the address, the SPD lines and routes, and one
// quick mode per line.
func (r *ezRemote) up(connID int, mc *ike.ModeConfig) {
	s := r.s
	r.mu.Lock()
	if r.closed || r.applied {
		r.mu.Unlock()
		return
	}
	if r.watchdog != nil {
		r.watchdog.Stop()
		r.watchdog = nil
	}
	c := *mc
	// The server's split list becomes routes, SPD lines and quick modes:
	// a hostile or misconfigured server could send thousands (an
	// attribute holds 4,681 entries); take the first maxRemoteSplit,
	// each network once.
	var split []netip.Prefix
	for _, p := range c.SplitInclude {
		if p = p.Masked(); !slices.Contains(split, p) {
			split = append(split, p)
		}
	}
	if len(split) > maxRemoteSplit {
		s.d.log.Warn("Easy VPN remote: the server's split list is too long; the first networks are used", "ezvpn", r.cfg.Name, "networks", len(split), "used", maxRemoteSplit)
		split = split[:maxRemoteSplit]
	}
	c.SplitInclude = split
	r.mc, r.connID, r.applied = &c, connID, true
	r.state, r.event, r.backoff = ezsSSOpen, "MODE_CONFIG_REPLY", remoteRetryMin
	peer := r.peer
	r.mu.Unlock()

	var srcs []netip.Prefix
	var via netip.Addr
	if r.networkExtension() {
		srcs, via = r.inside, r.insideSrc
	} else if mc.Address.Is4() {
		p := netip.PrefixFrom(mc.Address, 32)
		if err := s.host.AddAddress(s.tun, p); err != nil {
			s.log.Debug(fmt.Sprintf("EZVPN(%s): address %v on %s: %v", r.cfg.Name, p, s.tun, err))
		} else {
			r.mu.Lock()
			r.addr = p
			r.mu.Unlock()
		}
		srcs, via = []netip.Prefix{p}, mc.Address
		if len(r.inside) > 0 {
			// IOS's automatic NAT: inside hosts leave through the tunnel
			// with the assigned address (its "enterprise" list), and
			// through the outside interface, to everything the split
			// list leaves out, with that interface's address (its
			// "internet" list).
			if n, ok := s.host.(netif.NATHost); !ok {
				s.d.log.Warn("Easy VPN remote: this host cannot translate the inside networks", "ezvpn", r.cfg.Name)
			} else if err := n.Masquerade(r.natTable(), r.natRules()...); err != nil {
				s.d.log.Warn("Easy VPN remote: inside networks not translated", "ezvpn", r.cfg.Name, "err", err.Error())
			} else {
				r.mu.Lock()
				r.natOn = true
				r.mu.Unlock()
			}
		}
	}
	if len(srcs) == 0 {
		s.log.Debug(fmt.Sprintf("EZVPN(%s): mode-config gave no address (%v); nothing to protect", r.cfg.Name, mc))
		return
	}
	dsts := c.SplitInclude
	var routes []netif.Route
	if len(dsts) == 0 {
		// No split list: everything goes through the tunnel (IOS). The
		// two halves of the address space beat a default route without
		// replacing it; the peer keeps its own route on the underlay.
		dsts = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
		if r.pinPeer(peer.Addr()) {
			routes = append(routes, netif.Route{Dst: netip.MustParsePrefix("0.0.0.0/1"), Src: via}, netif.Route{Dst: netip.MustParsePrefix("128.0.0.0/1"), Src: via})
		}
	} else {
		for _, d := range dsts {
			routes = append(routes, netif.Route{Dst: d.Masked(), Src: via})
		}
	}
	s.mu.Lock()
	for _, src := range srcs {
		for _, dst := range dsts {
			s.pols = append(s.pols, dataplane.ESPPolicy{Permit: true, Src: src, Dst: dst.Masked()})
			s.polOf = append(s.polOf, r.entry)
		}
	}
	s.esp.SetPolicies(s.pols)
	s.mu.Unlock()
	for _, rt := range routes {
		err := s.host.AddRoute(s.tun, rt)
		if err != nil && rt.Src.IsValid() {
			// The inside address is not on this host (a router's inside
			// interface elsewhere): route without a preferred source.
			rt.Src = netip.Addr{}
			err = s.host.AddRoute(s.tun, rt)
		}
		if err != nil {
			s.log.Debug(fmt.Sprintf("EZVPN(%s): route %v into %s: %v", r.cfg.Name, rt.Dst, s.tun, err))
			continue
		}
		r.mu.Lock()
		r.routes = append(r.routes, rt)
		r.mu.Unlock()
	}
	s.log.Debug(fmt.Sprintf("EZVPN(%s): %v gave %v; protecting %v -> %v", r.cfg.Name, peer.Addr(), mc, srcs, dsts))
	for _, src := range srcs {
		for _, dst := range dsts {
			pol := r.entry.pol
			pol.Local, pol.Remote = ike.Selector{Prefix: src}, ike.Selector{Prefix: dst.Masked()}
			go func() {
				if err := s.node.Initiate(peer, &pol); err != nil {
					s.log.Debug(fmt.Sprintf("EZVPN(%s): quick mode %v -> %v: %v", r.cfg.Name, pol.Local, pol.Remote, err))
				}
			}()
		}
	}
}

// pinPeer keeps the peer on the underlay before everything is routed into
// the tunnel: a host route through the outside interface when the peer is
// on its network. Otherwise vpdn cannot tell the next hop and routes
// nothing into the tunnel (the SPD still protects what reaches it).
func (r *ezRemote) pinPeer(peer netip.Addr) bool {
	s := r.s
	dev := r.outsideDev()
	if addrs, err := s.host.Addrs(dev); err == nil {
		for _, a := range addrs {
			if a.Masked().Contains(peer) {
				rt := netif.Route{Dst: netip.PrefixFrom(peer, 32)}
				if err := s.host.AddRoute(dev, rt); err == nil {
					r.mu.Lock()
					r.routes = append(r.routes, netif.Route{Dst: rt.Dst, Gateway: netip.IPv4Unspecified()}) // marks the outside device's
					r.mu.Unlock()
					return true
				}
			}
		}
	}
	s.log.Warn("Easy VPN remote: no split tunnel list and the peer is not on the outside interface's network; no routes into the tunnel", "ezvpn", r.cfg.Name, "peer", peer.String())
	return false
}

// down removes what up applied: quick modes' SAs, SPD lines, routes and
// the address.
func (r *ezRemote) down() {
	s := r.s
	r.mu.Lock()
	applied := r.applied
	routes, addr, natOn := r.routes, r.addr, r.natOn
	r.routes, r.addr, r.mc, r.applied, r.connID, r.natOn = nil, netip.Prefix{}, nil, false, 0, false
	peer := r.peer
	r.mu.Unlock()
	if natOn {
		if n, ok := s.host.(netif.NATHost); ok {
			if err := n.DelNAT(r.natTable()); err != nil {
				s.d.log.Warn("Easy VPN remote: NAT table not removed", "ezvpn", r.cfg.Name, "err", err.Error())
			}
		}
	}
	if !applied && len(routes) == 0 && !addr.IsValid() {
		return
	}
	for _, c := range s.node.Children() {
		if c.Peer.Addr() == peer.Addr() {
			s.node.DeleteChild(c.SPIIn)
		}
	}
	s.mu.Lock()
	for i := range s.pols {
		if s.polOf[i] == r.entry {
			s.pols[i] = dataplane.ESPPolicy{} // slots keep the other lines' indexes
		}
	}
	s.esp.SetPolicies(s.pols)
	s.mu.Unlock()
	dev := r.outsideDev()
	for _, rt := range routes {
		if rt.Gateway.IsValid() {
			s.host.DelRoute(dev, netif.Route{Dst: rt.Dst})
			continue
		}
		s.host.DelRoute(s.tun, rt)
	}
	if addr.IsValid() {
		s.host.DelAddress(s.tun, addr)
	}
	s.log.Debug(fmt.Sprintf("EZVPN(%s): tunnel to %v down; address, routes and SAs removed", r.cfg.Name, peer.Addr()))
}

// childUp marks the tunnel active at its first SA.
func (r *ezRemote) childUp(e *cryptoEntry) {
	if e != r.entry {
		return
	}
	r.mu.Lock()
	if r.applied {
		r.state, r.event = ezsActive, "SOCKET_UP"
	}
	r.mu.Unlock()
}

// clear is `clear crypto ipsec client ezvpn`: the tunnel goes; connect
// auto reconnects.
func (r *ezRemote) clear() {
	r.mu.Lock()
	peer := r.peer
	r.mu.Unlock()
	if peer.IsValid() {
		r.s.node.DeletePeer(peer.Addr())
	}
	r.down()
	r.mu.Lock()
	r.backoff = remoteRetryMin
	r.mu.Unlock()
	r.failed("RESET", false)
}

// manualConnect is `crypto ipsec client ezvpn connect`: a new attempt
// now, whatever failed before.
func (r *ezRemote) manualConnect() {
	r.mu.Lock()
	busy := r.applied
	r.xfails, r.backoff = 0, remoteRetryMin
	r.mu.Unlock()
	if !busy {
		r.connect("CONNECT")
	}
}

// close stops the timers and removes what is applied (the service is
// closing).
func (r *ezRemote) close() {
	r.mu.Lock()
	r.closed = true
	r.stopTimers()
	r.mu.Unlock()
	r.down()
}

// status is the remote's show crypto ipsec client ezvpn.
func (r *ezRemote) status() show.EzVPNRemote {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := show.EzVPNRemote{Name: r.cfg.Name, Mode: r.cfg.Mode, State: r.state, LastEvent: r.event,
		Outside: r.s.ifc.Name.String(), Inside: slices.Clone(r.insideNames), Device: r.s.tun}
	if st.Mode == "" {
		st.Mode = "client"
	}
	if r.peer.IsValid() {
		st.Peer = r.peer.Addr().String()
	}
	for _, p := range r.cfg.Peers {
		st.Peers = append(st.Peers, p.String())
	}
	if mc := r.mc; mc != nil {
		if !r.networkExtension() && mc.Address.IsValid() {
			st.Address = mc.Address.String()
			st.AppliedOn = remoteLoopback
			st.Mask = "255.255.255.255"
		}
		for _, a := range mc.DNS {
			st.DNS = append(st.DNS, a.String())
		}
		st.Domain = mc.DefaultDomain
		st.Banner = mc.Banner
		for _, p := range mc.SplitInclude {
			st.Split = append(st.Split, show.EzVPNSplit{Address: p.Masked().Addr().String(), Mask: maskOf(p.Bits())})
		}
	}
	return st
}

func maskOf(bits int) string {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}
