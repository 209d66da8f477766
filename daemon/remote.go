package daemon

// Remote access: a PPP link on each L2TP session and, once IPCP opens, an
// interface for it.
//
//	LNS: L2TP session up ─▶ vpdn-group ─▶ Virtual-Template ─▶ PPP (server:
//	     authenticates the user, hands out a pool address) ─▶ IPCP up ─▶
//	     Virtual-Access TUN "ViN" (unnumbered address, peer host route)
//	LAC: interface Virtual-PPP N with a pseudowire ─▶ Dial ─▶ PPP (client)
//	     ─▶ IPCP up ─▶ TUN "VpN" with the negotiated address, and the
//	     `ip route ... Virtual-PPPN` routes; redialled when it drops
//
// PPP frames other than IP travel through the data plane to the link, on
// one of a few runners (no goroutine per session); IP goes between the
// data plane and the TUN directly.

import (
	"container/heap"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/proto/ppp"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
	wppp "github.com/vpdn/vpdn/wire/ppp"
)

// raSession is one PPP session over L2TP.
type raSession struct {
	d    *Daemon
	l2   *l2tp.Session
	dp   *dataplane.Session
	link *ppp.Link
	run  *ppp.Runner
	ifc  *config.Interface // the Virtual-Template, or the Virtual-PPP
	name string            // Vi3, Vp1
	unit int
	lac  bool

	mu      sync.Mutex
	shared  bool // on the shared interface (no TUN of its own)
	tun     *netif.TUN
	stopDev context.CancelFunc
	info    ppp.Info
	up      time.Time
	ended   bool
	leases  map[netip.Addr]*aaa.Lease
	endedCh chan struct{}
}

// raState is the daemon's table of remote-access sessions.
type raState struct {
	mu       sync.Mutex
	sessions map[dataplane.Key]*raSession
	// Virtual-Access units: numbers up to nextUnit are in use except
	// those in freeUnits.
	nextUnit  int
	freeUnits unitHeap
	runners   []*ppp.Runner
	wheel     *clock.Wheel // one timing wheel for every link's timers
	next      int
}

func (st *raState) runner() *ppp.Runner {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.runners == nil {
		for range 4 {
			st.runners = append(st.runners, ppp.NewRunner())
		}
	}
	st.next++
	return st.runners[st.next%len(st.runners)]
}

// pppClock returns the timing wheel every PPP link's timers run on,
// started with the first link.
func (st *raState) pppClock() clock.Clock {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.wheel == nil {
		st.wheel = clock.NewWheel(0, 0)
	}
	return st.wheel
}

// allocUnit returns the lowest free Virtual-Access unit, as IOS numbers
// them: units freed by ended sessions are reused lowest first (a min-heap),
// otherwise the next unused number. O(log n), so 100,000 sessions do not
// make each new one scan the table.
func (st *raState) allocUnit() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.freeUnits.Len() > 0 {
		return heap.Pop(&st.freeUnits).(int)
	}
	st.nextUnit++
	return st.nextUnit
}

func (st *raState) freeUnit(u int) {
	st.mu.Lock()
	heap.Push(&st.freeUnits, u)
	st.mu.Unlock()
}

// unitHeap is a min-heap of free unit numbers.
type unitHeap []int

func (h unitHeap) Len() int           { return len(h) }
func (h unitHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h unitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *unitHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *unitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (st *raState) list() []*raSession {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []*raSession
	for _, r := range st.sessions {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *raSession) int { return a.unit - b.unit + boolInt(a.lac)*1000 - boolInt(b.lac)*1000 })
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lnsSessionUp is the node's OnSessionUp: a LAC opened a session to us.
// It runs on the tunnel goroutine and must not block.
func (d *Daemon) lnsSessionUp(s *l2tp.Session) {
	c := d.Config()
	g := c.Group(s.Tunnel().Stats().Class)
	var vt *config.Interface
	if g != nil && g.Accept != nil {
		vt = c.Interface(config.IfName{Kind: config.IfVirtualTemplate, Number: strconv.Itoa(g.Accept.VirtualTemplate)})
	}
	if vt == nil {
		d.vpdnLog.Error("L2TP session refused: no virtual-template for its vpdn-group")
		s.Close(wl2tp.Result{Code: 2, Message: "no virtual-template"})
		return
	}
	unit := d.ra.allocUnit()
	r := d.newRASession(s, vt, fmt.Sprintf("Vi%d", unit), unit, false)
	if r == nil {
		d.ra.freeUnit(unit)
	}
}

// newRASession installs the data-plane session and starts PPP.
func (d *Daemon) newRASession(s *l2tp.Session, ifc *config.Interface, name string, unit int, lac bool) *raSession {
	info := s.Info()
	r := &raSession{d: d, l2: s, ifc: ifc, name: name, unit: unit, lac: lac, run: d.ra.runner(),
		leases: map[netip.Addr]*aaa.Lease{}, endedCh: make(chan struct{})}
	r.dp = &dataplane.Session{
		Key:          dataplane.Key{Tunnel: info.LocalTunnelID, Session: info.LocalSessionID},
		RemoteTunnel: info.RemoteTunnelID, RemoteSession: info.RemoteSessionID,
		Peer: info.Peer, Sequencing: info.Sequencing,
		Framing: wppp.Framing{AddressControl: true},
		OnFrame: func(frame []byte) {
			cp := append([]byte(nil), frame...)
			r.run.Post(func() {
				if r.link != nil {
					r.link.Input(cp)
				}
			})
		},
	}
	l2 := d.l2tp.Load()
	if l2 == nil {
		s.Close(wl2tp.Result{Code: 2, Message: "shutting down"})
		return nil
	}
	cfg, err := d.pppConfig(r, info)
	if err != nil {
		d.vpdnLog.Error("PPP configuration", "session", name, "err", err)
		s.Close(wl2tp.Result{Code: 2, Message: err.Error()})
		return nil
	}
	d.ra.mu.Lock()
	if d.ra.sessions == nil {
		d.ra.sessions = map[dataplane.Key]*raSession{}
	}
	d.ra.sessions[r.dp.Key] = r
	d.ra.mu.Unlock()
	// The link is created first on its runner: the frames the data plane
	// held for this session (they can overtake the install) are replayed
	// by Add and queue behind it on the same runner.
	r.run.Post(func() {
		link, err := ppp.NewLink(cfg)
		if err != nil {
			d.vpdnLog.Error("PPP link", "session", name, "err", err)
			go r.end("PPP: " + err.Error())
			return
		}
		r.link = link
		link.Start()
	})
	if err := l2.plane.Add(r.dp); err != nil {
		d.vpdnLog.Error("data plane", "err", err)
		go r.end("data plane: " + err.Error())
		return nil
	}
	d.vpdnLog.Info("session up, starting PPP", "interface", name, "peer", info.Peer.String(), "tunnel", info.LocalTunnelID, "session", info.LocalSessionID)
	return r
}

var authMethods = map[string]aaa.Method{"pap": aaa.PAP, "chap": aaa.CHAP, "ms-chap": aaa.MSCHAPv1, "ms-chap-v2": aaa.MSCHAPv2, "eap": aaa.EAPMD5}

// ifAddr returns the address an interface of the configuration has: its
// own, or the one it borrows with ip unnumbered.
func ifAddr(c *config.Config, ifc *config.Interface) netip.Addr {
	if ifc.Address.IsValid() {
		return ifc.Address.Addr()
	}
	if ifc.Unnumbered != nil {
		if o := c.Interface(*ifc.Unnumbered); o != nil && o.Address.IsValid() {
			return o.Address.Addr()
		}
		dev := ifc.Unnumbered.String()
		if o := c.Interface(*ifc.Unnumbered); o != nil && o.LinuxDevice != "" {
			dev = o.LinuxDevice // GigabitEthernet0/0 -> eth0
		}
		if addrs, err := netif.Addrs(dev); err == nil {
			for _, a := range addrs {
				if a.Addr().Is4() {
					return a.Addr()
				}
			}
		}
	}
	return netip.Addr{}
}

// pppConfig builds the link configuration from the interface (template)
// and the global configuration.
func (d *Daemon) pppConfig(r *raSession, info l2tp.SessionInfo) (ppp.Config, error) {
	c := d.Config()
	ifc := r.ifc
	pc := ppp.Config{
		Name: r.name, Logger: d.pppLog, Post: r.run.Post, Handler: r, Clock: d.ra.pppClock(),
		Output:         ppp.OutputFunc(func(frame []byte) error { return r.l2.WriteFrame(frame) }),
		AddressControl: true, Outgoing: r.lac,
		Keepalive: 10 * time.Second, KeepaliveMisses: 5,
		Call: ppp.CallInfo{NASPort: r.name, TunnelName: info.PeerName},
	}
	if ifc.KeepaliveSet {
		pc.Keepalive = time.Duration(ifc.KeepaliveSecs) * time.Second
	}
	pc.MRU = sessionMTU(ifc)
	if a := ifc.PPPAuth; a != nil {
		for _, m := range a.Protocols {
			pc.Auth.Methods = append(pc.Auth.Methods, authMethods[m])
		}
		pc.Auth.Callin, pc.Auth.IfNeeded = a.Callin, a.IfNeeded
		list := a.List
		if list == "default" {
			list = ""
		}
		pc.Auth.AAA = d.Authenticator(list, "")
	}
	pc.Auth.Hostname = firstNonEmpty(ifc.CHAPHostname, ifc.PAPSentUser, c.Hostname, "vpdn")
	pw := ifc.CHAPPassword
	if pw.IsZero() {
		pw = ifc.PAPSentPass
	}
	if !pw.IsZero() {
		s, err := clearSecret(pw)
		if err != nil {
			return pc, err
		}
		pc.Auth.Password = s
	}
	if pc.Auth.Password == "" {
		// As IOS does: answer a challenge with the password of the
		// username entry named like the challenger.
		pc.Auth.SecretFor = func(peer string) string {
			if u := c.User(peer); u != nil {
				if s, err := clearSecret(u.Password); err == nil {
					return s
				}
			}
			return ""
		}
	}
	pc.Auth.Timeout = 30 * time.Second
	pc.Auth.MSCHAPv2Retries = 2
	local := ifAddr(c, ifc)
	if r.lac {
		// As IOS does, the client takes part in EAP only when the
		// interface names it; otherwise LCP refuses it and the server
		// falls back to CHAP, MS-CHAP or PAP.
		if ifc.PPPAuth == nil || !slices.Contains(ifc.PPPAuth.Protocols, "eap") {
			pc.Auth.Refuse = append(pc.Auth.Refuse, aaa.EAPMD5)
		}
		for _, r := range ifc.PPPRefuse {
			pc.Auth.Refuse = append(pc.Auth.Refuse, authMethods[r])
		}
		pc.IPCP.Client = ifc.Negotiated || !local.IsValid()
		pc.IPCP.Local = local
		pc.IPCP.RequestDNS = true
		return pc, nil
	}
	if !local.IsValid() {
		return pc, fmt.Errorf("%s has no address to lend (ip unnumbered or ip address)", ifc.Name)
	}
	pc.IPCP.Local = local
	pd := ifc.PeerDefault
	switch {
	case pd.Addr.IsValid():
		pc.IPCP.Peer = pd.Addr
	case pd.None || pd.DHCP:
	default:
		pool := pd.Pool
		svc := d.svc.Load()
		pc.IPCP.Allocate = func(authz *aaa.Authorization) (netip.Addr, error) {
			lease, err := aaa.AssignAddress(svc.pools, authz, pool)
			if err != nil {
				return netip.Addr{}, err
			}
			r.mu.Lock()
			r.leases[lease.Addr] = lease
			r.mu.Unlock()
			return lease.Addr, nil
		}
		pc.IPCP.Release = func(a netip.Addr) {
			r.mu.Lock()
			l := r.leases[a]
			delete(r.leases, a)
			r.mu.Unlock()
			if l != nil {
				l.Release()
			}
		}
	}
	return pc, nil
}

// Up is the link's network-protocol-up event: make the interface.
func (r *raSession) Up(ev ppp.UpEvent) {
	if ev.Protocol != wppp.ProtoIPCP {
		return
	}
	in := ev.Info
	d := r.d
	c := d.Config()
	if l2 := d.l2tp.Load(); l2 != nil && l2.shared != nil && !r.lac {
		r.upShared(l2, in)
		return
	}
	tun, err := netif.CreateTUNOffload(r.name)
	if err == nil {
		mtu := sessionMTU(r.ifc)
		if in.PeerMRU != 0 && in.PeerMRU < mtu {
			mtu = in.PeerMRU
		}
		for _, step := range []func() error{
			func() error { return netif.SetMTU(r.name, mtu) },
			func() error { return netif.AddPeerAddress(r.name, in.LocalAddr, in.PeerAddr) },
			func() error { return netif.SetUp(r.name) },
		} {
			if err = step(); err != nil {
				break
			}
		}
		if err == nil && r.lac {
			for _, rt := range c.IP.Routes {
				if rt.Iface != nil && *rt.Iface == r.ifc.Name {
					if err := netif.AddRoute(r.name, netif.Route{Dst: rt.Prefix, Gateway: rt.NextHop}); err != nil {
						d.vpdnLog.Error("route", "interface", r.name, "err", err)
					}
				}
			}
		}
		if err == nil {
			l2 := d.l2tp.Load()
			ctx, cancel := context.WithCancel(context.Background())
			l2.plane.Attach(r.dp, tun, r.link.Framing(), uint16(r.ifc.TCPAdjustMSS), mtu)
			r.mu.Lock()
			r.tun, r.stopDev, r.info, r.up = tun, cancel, in, time.Now()
			r.mu.Unlock()
			go l2.plane.RunDevice(ctx, tun)
			d.installStaticRoutes()
			d.vpdnLog.Info("interface up", "interface", r.name, "local", in.LocalAddr.String(), "peer", in.PeerAddr.String(), "user", in.Username, "offload", tun.Offload())
			if f := d.opts.OnInterfaceUp; f != nil {
				var dns []netip.Addr
				for _, a := range in.DNS {
					if a.IsValid() {
						dns = append(dns, a)
					}
				}
				f(r.name, in.LocalAddr, in.PeerAddr, dns)
			}
			return
		}
		tun.Close()
	}
	d.vpdnLog.Error("interface", "interface", r.name, "err", err)
	r.link.Close("interface: " + err.Error())
}

// Down is the link's down event: an NCP closed, or the link ended.
func (r *raSession) Down(ev ppp.DownEvent) {
	switch ev.Protocol {
	case wppp.ProtoIPCP:
		r.detach()
	case wppp.ProtoLCP:
		go r.end("PPP: " + ev.Reason)
	}
}

// Packet is an IP packet the link received itself (not through the data
// plane's fast path): hand it to the interface.
func (r *raSession) Packet(proto wppp.Protocol, payload []byte) {
	r.mu.Lock()
	tun := r.tun
	r.mu.Unlock()
	if tun != nil {
		tun.WritePacket(payload)
	}
}

// upShared attaches the session to the shared interface: the local
// (unnumbered) address on it once, a host route to the peer through it,
// and the data plane finds the session by the peer's address.
func (r *raSession) upShared(l2 *l2tpService, in ppp.Info) {
	l2.sharedMu.Lock()
	if !l2.sharedLocal[in.LocalAddr] {
		if err := netif.AddAddress(SharedInterface, netip.PrefixFrom(in.LocalAddr, 32)); err != nil {
			r.d.vpdnLog.Error("shared interface address", "err", err)
		}
		l2.sharedLocal[in.LocalAddr] = true
	}
	l2.sharedMu.Unlock()
	if err := l2.sharedRoutes.Add(netif.Route{Dst: netip.PrefixFrom(in.PeerAddr, 32)}); err != nil {
		r.d.vpdnLog.Error("shared interface route", "interface", r.name, "err", err)
		r.link.Close("interface: " + err.Error())
		return
	}
	mtu := sessionMTU(r.ifc)
	l2.plane.SetPeerIP(r.dp, in.PeerAddr)
	l2.plane.Attach(r.dp, nil, r.link.Framing(), uint16(r.ifc.TCPAdjustMSS), mtu)
	r.d.installStaticRoutes()
	r.mu.Lock()
	r.shared, r.info, r.up = true, in, time.Now()
	r.mu.Unlock()
	r.d.vpdnLog.Info("session up on the shared interface", "interface", r.name, "local", in.LocalAddr.String(), "peer", in.PeerAddr.String(), "user", in.Username)
	if f := r.d.opts.OnInterfaceUp; f != nil {
		f(r.name, in.LocalAddr, in.PeerAddr, nil)
	}
}

func (r *raSession) detach() {
	r.mu.Lock()
	tun, stop, shared, peer := r.tun, r.stopDev, r.shared, r.info.PeerAddr
	r.tun, r.stopDev, r.shared = nil, nil, false
	r.mu.Unlock()
	if shared {
		if l2 := r.d.l2tp.Load(); l2 != nil {
			l2.sharedRoutes.Del(netif.Route{Dst: netip.PrefixFrom(peer, 32)})
			l2.plane.SetPeerIP(r.dp, netip.Addr{})
		}
	}
	if l2 := r.d.l2tp.Load(); l2 != nil {
		l2.plane.Attach(r.dp, nil, r.dp.Framing, 0, 0)
	}
	if stop != nil {
		stop()
	}
	if tun != nil {
		tun.Close() // removes the interface with its addresses and routes
	}
}

// end tears the session down once: interface, data plane, PPP, L2TP.
func (r *raSession) end(reason string) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	neverUp := r.up.IsZero()
	r.mu.Unlock()
	if neverUp {
		r.d.failures.add(failureReason(reason))
	}
	r.detach()
	if l2 := r.d.l2tp.Load(); l2 != nil {
		l2.plane.Remove(r.dp.Key)
	}
	done := make(chan struct{})
	r.run.Post(func() {
		if r.link != nil && !r.link.Done() {
			r.link.LowerDown()
		}
		close(done)
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	r.l2.Close(cdnResult(reason))
	r.d.ra.mu.Lock()
	delete(r.d.ra.sessions, r.dp.Key)
	r.d.ra.mu.Unlock()
	if !r.lac {
		r.d.ra.freeUnit(r.unit)
	}
	r.d.vpdnLog.Info("session down", "interface", r.name, "reason", reason)
	close(r.endedCh)
}

// sessionDown is the node's OnSessionDown: the L2TP session ended.
func (d *Daemon) sessionDown(s *l2tp.Session, err error) {
	info := s.Info()
	k := dataplane.Key{Tunnel: info.LocalTunnelID, Session: info.LocalSessionID}
	d.ra.mu.Lock()
	r := d.ra.sessions[k]
	d.ra.mu.Unlock()
	if r != nil {
		reason := "L2TP session closed"
		if err != nil {
			reason = err.Error()
		}
		go r.end(reason)
	}
}

// runVirtualPPP keeps the client-initiated session of a Virtual-PPP
// interface up: dial, run PPP, redial after it drops, until ctx ends.
func (d *Daemon) runVirtualPPP(ctx context.Context, ifc *config.Interface) {
	backoff := time.Second
	for ctx.Err() == nil {
		r, err := d.dialVirtualPPP(ctx, ifc)
		if err != nil {
			d.vpdnLog.Error("Virtual-PPP dial failed", "interface", ifc.Name.String(), "peer", ifc.Pseudowire.Peer.String(), "err", err)
			d.failures.add("dial failed")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		select {
		case <-ctx.Done():
			r.end("shutting down")
			return
		case <-r.endedCh:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (d *Daemon) dialVirtualPPP(ctx context.Context, ifc *config.Interface) (*raSession, error) {
	c := d.Config()
	l2 := d.l2tp.Load()
	if l2 == nil {
		return nil, fmt.Errorf("L2TP is not running")
	}
	pw := ifc.Pseudowire
	p := l2tp.TunnelParams{LocalName: firstNonEmpty(c.Hostname, "vpdn")}
	call := l2tp.CallParams{}
	if pc := c.PWClassByName(pw.PWClass); pc != nil {
		if lc := c.L2TPClassByName(pc.L2TPClass); lc != nil {
			p.LocalName = firstNonEmpty(lc.Hostname, p.LocalName)
			p.Hidden = lc.Hidden
			p.Retransmit = l2tp.RetransmitParams{
				InitialRetries: lc.RetransInitial, Retries: lc.RetransRetries,
				TimeoutMin: time.Duration(lc.RetransTimeoutMin) * time.Second,
				TimeoutMax: time.Duration(lc.RetransTimeoutMax) * time.Second,
			}
			if lc.TimeoutSetup != 0 {
				p.SetupTimeout = time.Duration(lc.TimeoutSetup) * time.Second
			}
			p.RecvWindow = uint16(lc.ReceiveWindow)
			if lc.Hello != 0 {
				p.Hello = time.Duration(lc.Hello) * time.Second
			}
			if lc.Authentication && !lc.Password.IsZero() {
				s, err := clearSecret(lc.Password)
				if err != nil {
					return nil, err
				}
				p.Secret = []byte(s)
			}
			p.Class = lc.Name
		}
		call.Sequencing = pc.Sequencing != "" || pw.Sequencing != ""
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s, err := l2.node.Dial(dctx, netip.AddrPortFrom(pw.Peer, 1701), p, call)
	if err != nil {
		return nil, err
	}
	unit := ifc.Name.Unit()
	r := d.newRASession(s, ifc, "Vp"+strconv.Itoa(unit), unit, true)
	if r == nil {
		return nil, fmt.Errorf("session set-up failed")
	}
	return r, nil
}

// failureReason folds a teardown reason into a metric label of bounded
// cardinality.
func failureReason(reason string) string {
	switch {
	case strings.Contains(reason, "uthentication") || strings.Contains(reason, "AAA") || strings.Contains(reason, "E=691"):
		return "authentication"
	case strings.Contains(reason, "pool") || strings.Contains(reason, "exhausted") || strings.Contains(reason, "address"):
		return "address"
	case strings.Contains(reason, "administrator"):
		return "cleared"
	case strings.Contains(reason, "shutting down"):
		return "shutdown"
	case strings.HasPrefix(reason, "PPP"):
		return "ppp"
	case strings.Contains(reason, "interface"):
		return "interface"
	}
	return "l2tp"
}

// defaultL2TPMTU keeps a PPP-over-L2TP packet inside a 1500-byte underlay:
// 1500 - 20 (IP) - 8 (UDP) - 8 (L2TP with length) - 4 (PPP) = 1460.
// IOS leaves 1500 and fragments; `ip mtu` on the interface overrides.
const defaultL2TPMTU = 1460

// sessionMTU is the interface MTU and the MRU LCP asks for.
func sessionMTU(ifc *config.Interface) int {
	if ifc.MTU != 0 {
		return ifc.MTU
	}
	return defaultL2TPMTU
}

// cdnResult is the CDN the LAC gets for a session that ends (RFC 2661
// §4.4.2): no address to assign is a temporary lack of facilities (4), an
// authentication or other PPP failure a general error (2), the
// administrator's or the daemon's doing administrative (3).
func cdnResult(reason string) wl2tp.Result {
	switch failureReason(reason) {
	case "address":
		return wl2tp.Result{Code: wl2tp.CDNNoFacilitiesTmp, Message: reason}
	case "authentication", "ppp", "interface":
		return wl2tp.Result{Code: wl2tp.CDNGeneralError, Message: reason}
	}
	return wl2tp.Result{Code: wl2tp.CDNAdmin, Message: reason}
}

// installStaticRoutes tries the configuration's ip route commands that
// name only a next hop. IOS keeps such a route until its next hop
// resolves: here it is tried at start and whenever a session's interface
// comes up (the kernel drops it with the interface it went through).
func (d *Daemon) installStaticRoutes() {
	for _, rt := range d.Config().IP.Routes {
		if rt.Iface != nil || !rt.NextHop.IsValid() {
			continue
		}
		if err := netif.AddGatewayRoute(rt.Prefix, rt.NextHop); err != nil {
			d.vpdnLog.Debug("static route pending", "route", rt.Prefix.String(), "via", rt.NextHop.String(), "err", err, "debug", "l2x-events")
			continue
		}
		d.staticMu.Lock()
		if d.static == nil {
			d.static = map[netip.Prefix]netip.Addr{}
		}
		d.static[rt.Prefix] = rt.NextHop
		d.staticMu.Unlock()
	}
}

// removeStaticRoutes takes out the next-hop routes this daemon installed,
// so that the host's table is as it was when the daemon stops.
func (d *Daemon) removeStaticRoutes() {
	d.staticMu.Lock()
	defer d.staticMu.Unlock()
	for dst, gw := range d.static {
		netif.DelGatewayRoute(dst, gw)
	}
	d.static = nil
}

// carryLeases reserves, in the pools a reload built, the addresses that
// sessions hold from the old ones; their leases still return them to the
// old pools, which are dropped.
func (d *Daemon) carryLeases(svc *services) {
	for _, r := range d.ra.list() {
		r.mu.Lock()
		for a := range r.leases {
			if p := svc.pools.Find(a); p != nil {
				if err := p.Reserve(a); err != nil {
					d.log.Warn("reload: address of a live session", "address", a.String(), "err", err)
				}
			}
		}
		r.mu.Unlock()
	}
}
