package daemon

// Dynamic L2TPv3 Ethernet pseudowires: `xconnect PEER VCID encapsulation
// l2tpv3 pw-class NAME` (no `manual`) with the pseudowire-class's
// `protocol l2tpv3 [CLASS]`. Each bind gets an L2TPv3 control plane
// (proto/l2tp V3Node) with its first dynamic xconnect; every xconnect
// dials its peer (one control connection per peer and l2tp-class, shared)
// and answers the peer's ICRQ for its VCID. Both ends dial: when both
// ICRQs cross, the LCCE with the lower Router ID keeps its own and
// refuses the other with CDN result 13 (RFC 3931 §5.4.2, "losing tie
// breaker"); the other accepts. The data path is part 1's, installed
// with the exchanged Session IDs and cookies when the session is ready.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	l2tpproto "github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// dynPW is the signalled part of a dynamic xconnect; its fields after vb
// are guarded by the pseudowire's mu.
type dynPW struct {
	params    l2tpproto.V3Params
	cookieLen int // the l2tp-class's cookie size
	typ       l2tp.PWType
	endID     []byte
	kick      chan struct{}
	// ready is set once vb and dev are: the control plane offers the
	// peer's ICRQs to this xconnect only then (dynOf).
	ready  atomic.Bool
	vb     *v3Bind
	dev    netif.Device
	cancel context.CancelFunc

	dialing bool
	active  *l2tpproto.Pseudowire
	info    l2tpproto.PWInfo
	remote  bool // the peer's circuit is up
	localUp bool // the attachment circuit's link is up (watchCircuit)
}

// dynCookieLen is the cookie each end assigns to a dynamic session
// unless the l2tp-class says `cookie size`: 4 octets, as IOS and
// document 004's manual sessions.
const dynCookieLen = 4

// cookieLenOf is the l2tp-class's `cookie size`, else dynCookieLen.
func cookieLenOf(c *config.Config, pc *config.PWClass) int {
	if lc := c.L2TPClassByName(pc.L2TPClass); lc != nil && lc.CookieSize != nil {
		return *lc.CookieSize
	}
	return dynCookieLen
}

// passiveWait is how long the LCCE with the higher Router ID waits for
// the peer's ICRQ before placing the session itself.
const passiveWait = 30 * time.Second

// v3ParamsOf maps the pseudowire-class's l2tp-class (IOS defaults when it
// names none) to control connection parameters.
func v3ParamsOf(c *config.Config, pc *config.PWClass) l2tpproto.V3Params {
	p := l2tpproto.V3Params{HostName: firstNonEmpty(c.Hostname, "vpdn")}
	lc := c.L2TPClassByName(pc.L2TPClass)
	if lc == nil {
		return p
	}
	p.Class = lc.Name
	p.HostName = firstNonEmpty(lc.Hostname, p.HostName)
	if s, err := clearSecret(lc.DigestSecret); err == nil && s != "" {
		p.Secret = []byte(s)
	}
	if lc.DigestHash == "sha" {
		p.DigestType = l2tp.DigestHMACSHA1
	}
	p.NoDigestCheck = lc.NoDigestCheck
	p.RecvWindow = uint16(lc.ReceiveWindow)
	p.Retransmit = l2tpproto.RetransmitParams{InitialRetries: lc.RetransInitial, Retries: lc.RetransRetries,
		TimeoutMin: time.Duration(lc.RetransTimeoutMin) * time.Second, TimeoutMax: time.Duration(lc.RetransTimeoutMax) * time.Second}
	if lc.Hello > 0 {
		p.Hello = time.Duration(lc.Hello) * time.Second
	}
	p.SetupTimeout = time.Duration(lc.TimeoutSetup) * time.Second
	return p
}

// v3NoSessionTimeout closes a dynamic xconnect's control connection that
// carries no pseudowire: IOS's no-session default, after the passive
// LCCE's wait for the peer's ICRQ, so that a pseudowire about to be
// placed is not raced.
const v3NoSessionTimeout = passiveWait + DefaultNoSessionTimeout

// routerID is our Router ID (§5.4.3: unique per LCCE): the bind's
// address, else a hash of the host name.
func routerID(local netip.Addr, host string) uint32 {
	if local.Is4() {
		b := local.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	return h.Sum32()
}

// newDynPW is the signalled part of a dynamic xconnect, before its
// socket and attachment circuit are open.
func newDynPW(c *config.Config, pw *pseudowire) *dynPW {
	typ := l2tp.PWEthernet
	if pw.vlan != 0 {
		typ = l2tp.PWEthernetVLAN
	}
	params := v3ParamsOf(c, pw.pc)
	params.NoSessionTimeout = v3NoSessionTimeout
	return &dynPW{params: params, cookieLen: cookieLenOf(c, pw.pc), typ: typ, endID: l2tpproto.RemoteEndIDForVCID(pw.x.VCID),
		kick: make(chan struct{}, 1)}
}

// startDynamic opens pw's attachment circuit, the bind's control plane
// if it has none yet, and starts dialing.
func (d *Daemon) startDynamic(rt *runtime, xs *xconnects, c *config.Config, pw *pseudowire, vb *v3Bind) error {
	dy := pw.dyn
	if pw.ppp {
		// The attachment is the PPP session each pseudowire opens.
		dy.vb, dy.localUp = vb, true
	} else {
		nd, err := openAttachment(rt, pw)
		if err != nil {
			return err
		}
		dy.vb, dy.dev = vb, nd
		dy.localUp = pw.tap || linkUp(pw.device) // vpdn's own TAP is up
	}
	dy.ready.Store(true)
	n, err := d.v3Node(rt, xs, c, vb)
	if err != nil {
		return err
	}
	if xs.ctx == nil {
		xs.ctx, xs.cancel = context.WithCancel(context.Background())
	}
	ctx, cancel := context.WithCancel(xs.ctx)
	dy.cancel = cancel
	xs.done.Go(func() { d.dialLoop(ctx, rt, xs, n, pw) })
	if !pw.tap && !pw.ppp {
		xs.done.Go(func() { d.watchCircuit(ctx, pw) })
	}
	return nil
}

// linkUp reports whether a Linux device is administratively up with its
// carrier (IFF_UP and IFF_RUNNING): the attachment circuit's state.
func linkUp(dev string) bool {
	ifi, err := net.InterfaceByName(dev)
	return err == nil && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0
}

// circuitPoll is how often watchCircuit reads the attachment circuit's
// link state.
const circuitPoll = time.Second

// watchCircuit follows the attachment circuit's link state and tells the
// peer when it changes: SLI with the Circuit Status AVP (RFC 3931
// §5.4.5). It polls the device's flags, once a second.
func (d *Daemon) watchCircuit(ctx context.Context, pw *pseudowire) {
	t := time.NewTicker(circuitPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		up := linkUp(pw.device)
		pw.mu.Lock()
		dy := pw.dyn
		changed := up != dy.localUp
		dy.localUp = up
		s := dy.active
		pw.mu.Unlock()
		if changed {
			d.log.Info("xconnect attachment circuit", "interface", pw.ifc.Name.String(), "device", pw.device, "up", up)
		}
		// The session may have been set up with an older state: SetCircuit
		// sends SLI only when the peer was told otherwise.
		if s != nil && s.Info().LocalCircuitUp != up {
			s.SetCircuit(up)
		}
	}
}

// v3Node returns the bind's control plane, making it the first time.
func (d *Daemon) v3Node(rt *runtime, xs *xconnects, c *config.Config, vb *v3Bind) (*l2tpproto.V3Node, error) {
	if n := vb.node.Load(); n != nil {
		return n, nil
	}
	host := firstNonEmpty(c.Hostname, "vpdn")
	local := netip.Addr{}
	if la := vb.bind.LocalAddr().Addr(); la.IsValid() && !la.IsUnspecified() {
		local = la
	}
	n, err := l2tpproto.NewV3Node(l2tpproto.V3Config{Conn: vb.bind, OverUDP: vb.udp, Clock: d.opts.Clock,
		Logger: d.vpdnLog, RouterID: routerID(local, host), HostName: host, Limits: l2tpLimits(c),
		Incoming:  func(p netip.AddrPort, h string) (l2tpproto.V3Params, bool) { return xs.incoming(vb, p) },
		OnRequest: func(r l2tpproto.PWRequest) l2tpproto.PWAnswer { return d.onPWRequest(rt, xs, vb, r) },
		OnUp:      func(s *l2tpproto.Pseudowire) { d.onPWUp(xs, s) },
		OnDown:    func(s *l2tpproto.Pseudowire, err error) { d.onPWDown(rt, xs, s, err) },
		OnCircuit: func(s *l2tpproto.Pseudowire, up bool) { xs.onCircuit(s, up) },
		IDInUse:   xs.manualID,
		DataRx: func(id uint32) uint64 {
			if s := rt.plane.Lookup(dataplane.L2TPv3Key(id)); s != nil {
				return s.Counters().RxPkts
			}
			return 0
		},
	})
	if err != nil {
		return nil, err
	}
	vb.node.Store(n)
	return n, nil
}

// v3SharedControl receives the L2TPv3 control messages the L2TPv2
// service's UDP socket reads (RFC 3931 §4.1.2.1 shares port 1701).
func (d *Daemon) v3SharedControl(b []byte, from netip.AddrPort) {
	rt := d.rt.Load()
	if rt == nil || rt.xc == nil {
		return
	}
	xs := rt.xc
	xs.mu.Lock()
	var n *l2tpproto.V3Node
	for _, vb := range xs.binds {
		if vb.shared {
			n = vb.node.Load()
		}
	}
	xs.mu.Unlock()
	if n != nil {
		n.HandlePacket(b, from)
	}
}

// manualID reports whether a manual xconnect uses id as its local session.
func (xs *xconnects) manualID(id uint32) bool {
	for _, pw := range xs.pws {
		if pw.dyn == nil && pw.x.LocalSession == id {
			return true
		}
	}
	return false
}

// dynOf returns the dynamic xconnects of vb to peer.
func (xs *xconnects) dynOf(vb *v3Bind, peer netip.Addr) []*pseudowire {
	var out []*pseudowire
	for _, pw := range xs.pws {
		if pw.dyn != nil && pw.dyn.ready.Load() && pw.dyn.vb == vb && pw.x.Peer == peer {
			out = append(out, pw)
		}
	}
	return out
}

// incoming gives a peer that opens a control connection the l2tp-class
// of an xconnect to it (a dynamic one's, or a manual one's l2tp hello
// class); a peer we have no such xconnect with is refused.
func (xs *xconnects) incoming(vb *v3Bind, peer netip.AddrPort) (l2tpproto.V3Params, bool) {
	for _, pw := range xs.dynOf(vb, peer.Addr()) {
		return pw.dyn.params, true
	}
	for _, pw := range xs.pws {
		if k := pw.ka; k != nil && k.ready.Load() && k.vb == vb && pw.x.Peer == peer.Addr() {
			return k.params, true
		}
	}
	return l2tpproto.V3Params{}, false
}

// keepalive is a manual xconnect's control connection for hellos (IOS
// `l2tp hello CLASS` under `xconnect ... manual`): the session itself
// stays static, but while the connection to the peer is lost (its
// HELLOs unanswered, RFC 3931 §4.4) the session is down: detached from
// its attachment circuit, as IOS takes it down.
type keepalive struct {
	params l2tpproto.V3Params
	vb     *v3Bind
	ready  atomic.Bool
	up     bool // guarded by the pseudowire's mu
}

// startKeepalive opens and keeps the control connection of a manual
// xconnect's l2tp hello class.
func (d *Daemon) startKeepalive(rt *runtime, xs *xconnects, c *config.Config, pw *pseudowire, vb *v3Bind) error {
	lc := c.L2TPClassByName(pw.x.HelloClass)
	if lc == nil {
		return fmt.Errorf("l2tp hello %s: no such l2tp-class", pw.x.HelloClass)
	}
	params := v3ParamsOf(c, &config.PWClass{L2TPClass: lc.Name})
	k := &keepalive{params: params, vb: vb}
	pw.ka = k
	k.ready.Store(true)
	n, err := d.v3Node(rt, xs, c, vb)
	if err != nil {
		return err
	}
	if xs.ctx == nil {
		xs.ctx, xs.cancel = context.WithCancel(context.Background())
	}
	ctx := xs.ctx
	peer := netip.AddrPortFrom(pw.x.Peer, 0)
	if vb.udp {
		peer = netip.AddrPortFrom(pw.x.Peer, l2tp.UDPPort)
	}
	xs.done.Go(func() {
		for ctx.Err() == nil {
			octx, cancel := context.WithTimeout(ctx, 60*time.Second)
			cc, err := n.Open(octx, peer, params)
			cancel()
			if err == nil {
				d.keepaliveState(rt, pw, true, nil)
				select {
				case <-ctx.Done():
					return
				case <-cc.Down():
				}
				d.keepaliveState(rt, pw, false, cc.Err())
			}
			t := time.NewTimer(2*time.Second + rand.N(2*time.Second))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	})
	return nil
}

// keepaliveState takes a manual session down while its keepalive
// connection is lost, and up again when it is back.
func (d *Daemon) keepaliveState(rt *runtime, pw *pseudowire, up bool, cause error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	k := pw.ka
	if k.up == up || pw.sess == nil {
		k.up = up
		return
	}
	k.up = up
	if up {
		if pw.state != "est" {
			if err := rt.plane.Attach(pw.sess, dataplane.Attachment{Device: pw.dev, MTU: dataplane.MaxPacket - dataplane.MaxEncapLen - 20}); err != nil {
				pw.errMsg = err.Error()
				return
			}
			pw.state, pw.since, pw.errMsg = "est", time.Now(), ""
			d.log.Info("xconnect keepalive up", "interface", pw.ifc.Name.String(), "peer", pw.x.Peer.String())
		}
		return
	}
	rt.plane.Detach(pw.sess)
	pw.state, pw.since = "down", time.Now()
	pw.errMsg = fmt.Sprintf("keepalive: control connection to %s lost", pw.x.Peer)
	if cause != nil {
		pw.errMsg += ": " + cause.Error()
	}
	d.log.Info("xconnect keepalive down", "interface", pw.ifc.Name.String(), "peer", pw.x.Peer.String(), "err", cause)
}

// onPWRequest matches an ICRQ to an xconnect by peer and VCID, one of
// the ICRQ's pseudowire type first (an Ethernet xconnect and a
// Virtual-PPP may share a VCID); a VCID of another type is accepted with
// our type, which the control connection refuses with CDN result 14
// (RFC 3931 §5.4.2, "unsupported PW type").
func (d *Daemon) onPWRequest(rt *runtime, xs *xconnects, vb *v3Bind, r l2tpproto.PWRequest) l2tpproto.PWAnswer {
	cands := xs.dynOf(vb, r.Peer.Addr())
	slices.SortStableFunc(cands, func(a, b *pseudowire) int {
		return cmp.Compare(b2i(a.dyn.typ != r.Type), b2i(b.dyn.typ != r.Type))
	})
	for _, pw := range cands {
		dy := pw.dyn
		if !bytes.Equal(dy.endID, r.RemoteEndID) || r.Class != dy.params.Class {
			continue
		}
		pw.mu.Lock()
		lose := dy.active != nil || (dy.dialing && vb.node.Load() != nil && d.winsTie(vb, r))
		pw.mu.Unlock()
		if lose {
			return l2tpproto.PWAnswer{Result: l2tp.Result{Code: l2tp.CDNTieBreaker}}
		}
		return l2tpproto.PWAnswer{Accept: true, Params: xs.pwParams(d, rt, pw)}
	}
	return l2tpproto.PWAnswer{Result: l2tp.Result{Code: l2tp.CDNNoFacilities, HasError: true,
		Message: fmt.Sprintf("no xconnect for VCID %x from %v", r.RemoteEndID, r.Peer.Addr())}}
}

// winsTie: both ends placed the pseudowire at once; the lower Router ID
// keeps its own (§5.4.2 result 13 for the other).
func (d *Daemon) winsTie(vb *v3Bind, r l2tpproto.PWRequest) bool {
	n := vb.node.Load()
	for _, c := range n.Conns() {
		st := c.Stats()
		if st.Peer == r.Peer {
			return n.RouterID() < st.PeerRouterID
		}
	}
	return false
}

// pwParams are the local settings of pw's session, with the Ready hook
// that installs its data path.
func (xs *xconnects) pwParams(d *Daemon, rt *runtime, pw *pseudowire) l2tpproto.PWParams {
	dy := pw.dyn
	seq := pw.pc.Sequencing
	pw.mu.Lock()
	down := !dy.localUp
	pw.mu.Unlock()
	p := l2tpproto.PWParams{Type: dy.typ, RemoteEndID: dy.endID, CookieLen: dy.cookieLen,
		L2SS: seq != "", Sequencing: seq == "receive" || seq == "both", CircuitDown: down}
	p.Ready = func(s *l2tpproto.Pseudowire, in l2tpproto.PWInfo) { d.installDynamic(rt, pw, s, in) }
	if pw.ppp {
		p.Ready = func(s *l2tpproto.Pseudowire, in l2tpproto.PWInfo) { d.installPPP(rt, pw, s, in) }
	}
	return p
}

// installDynamic installs the data path of s for pw, unless pw has one.
func (d *Daemon) installDynamic(rt *runtime, pw *pseudowire, s *l2tpproto.Pseudowire, in l2tpproto.PWInfo) {
	dy := pw.dyn
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if dy.active != nil {
		return
	}
	seq := pw.pc.Sequencing
	p := dataplane.L2TPv3Params{UDP: dy.vb.udp, RemoteSession: in.RemoteSessionID, LocalCookie: in.LocalCookie,
		RemoteCookie: in.RemoteCookie, L2SS: in.L2SS, SeqTx: in.SendSeq || seq == "transmit" || seq == "both",
		SeqRx: in.RecvSeq}
	ds := dataplane.NewSession(dataplane.L2TPv3Key(in.LocalSessionID), in.Peer, dy.vb.bind, dataplane.PayloadEthernet, dataplane.NewL2TPv3Encap(p))
	ds.TOSReflect = pw.pc.TOSReflect
	if err := rt.plane.Add(ds); err != nil {
		pw.errMsg = err.Error()
		return
	}
	if err := rt.plane.Attach(ds, dataplane.Attachment{Device: dy.dev, MTU: dataplane.MaxPacket - dataplane.MaxEncapLen - 20}); err != nil {
		rt.plane.Remove(ds)
		pw.errMsg = err.Error()
		return
	}
	dy.active, dy.info, dy.remote = s, in, in.RemoteCircuit
	pw.sess, pw.state, pw.since, pw.errMsg = ds, "est", time.Now(), ""
	d.log.Info("xconnect up", "interface", pw.ifc.Name.String(), "device", pw.device, "vlan", pw.vlan,
		"peer", pw.x.Peer.String(), "local_session", in.LocalSessionID, "remote_session", in.RemoteSessionID,
		"control_connection", in.LocalCCID)
}

func (xs *xconnects) find(s *l2tpproto.Pseudowire) *pseudowire {
	for _, pw := range xs.pws {
		if pw.dyn != nil {
			pw.mu.Lock()
			a := pw.dyn.active
			pw.mu.Unlock()
			if a == s {
				return pw
			}
		}
	}
	return nil
}

// onPWUp closes a session the peer placed that lost to one already
// carrying the xconnect, and starts PPP on a PPP pseudowire's.
func (d *Daemon) onPWUp(xs *xconnects, s *l2tpproto.Pseudowire) {
	pw := xs.find(s)
	if pw == nil {
		go s.Close(l2tp.Result{Code: l2tp.CDNTieBreaker})
		return
	}
	if pw.ppp {
		d.startPPP(xs, pw, s)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (d *Daemon) onPWDown(rt *runtime, xs *xconnects, s *l2tpproto.Pseudowire, err error) {
	pw := xs.find(s)
	if pw == nil {
		return
	}
	pw.mu.Lock()
	if pw.ppp {
		stopPPP(pw, err)
	} else if pw.sess != nil {
		rt.plane.Remove(pw.sess)
	}
	pw.dyn.active, pw.sess, pw.state, pw.since = nil, nil, "down", time.Now()
	if err != nil {
		pw.errMsg = err.Error()
	}
	pw.mu.Unlock()
	d.log.Info("xconnect down", "interface", pw.ifc.Name.String(), "err", err)
	select {
	case pw.dyn.kick <- struct{}{}:
	default:
	}
}

func (xs *xconnects) onCircuit(s *l2tpproto.Pseudowire, up bool) {
	if pw := xs.find(s); pw != nil {
		pw.mu.Lock()
		pw.dyn.remote = up
		pw.mu.Unlock()
	}
}

// dialLoop keeps pw's session up: it dials while none carries it, and
// after a failure waits 2 to 4 seconds (jittered, so two ends that both
// dial do not keep colliding).
func (d *Daemon) dialLoop(ctx context.Context, rt *runtime, xs *xconnects, n *l2tpproto.V3Node, pw *pseudowire) {
	dy := pw.dyn
	peer := netip.AddrPortFrom(pw.x.Peer, 0)
	if dy.vb.udp {
		peer = netip.AddrPortFrom(pw.x.Peer, l2tp.UDPPort)
	}
	// When both ends know their Router IDs (the bind's address) only
	// the lower one places the session and the other answers; it dials
	// too only when nothing came for passiveWait (a peer that never
	// places sessions). Both ends placing it is resolved by CDN 13, but
	// for a moment each end may carry another session.
	local := dy.vb.bind.LocalAddr().Addr()
	passive := local.Is4() && pw.x.Peer.Less(local)
	start := time.Now()
	for ctx.Err() == nil {
		pw.mu.Lock()
		idle := dy.active == nil && (!passive || time.Since(start) > passiveWait)
		dy.dialing = idle
		pw.mu.Unlock()
		if idle {
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			s, err := n.Dial(dctx, peer, dy.params, xs.pwParams(d, rt, pw))
			cancel()
			pw.mu.Lock()
			dy.dialing = false
			lost := err == nil && dy.active != s
			if err != nil && dy.active == nil {
				pw.errMsg = err.Error()
			}
			pw.mu.Unlock()
			if lost {
				s.Close(l2tp.Result{Code: l2tp.CDNTieBreaker})
			}
		}
		t := time.NewTimer(2*time.Second + rand.N(2*time.Second))
		select {
		case <-ctx.Done():
		case <-dy.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// v3TunnelSnapshot adds the L2TPv3 control connections to the tunnels of
// show l2tun tunnel, show l2tp tunnel and show vpdn (their pseudowires
// are in show l2tp session and show xconnect).
func (d *Daemon) v3TunnelSnapshot(rt *runtime, v *show.VPDN) {
	xs := rt.xc
	if xs == nil {
		return
	}
	xs.mu.Lock()
	var nodes []*l2tpproto.V3Node
	for _, vb := range xs.binds {
		if n := vb.node.Load(); n != nil {
			nodes = append(nodes, n)
		}
	}
	xs.mu.Unlock()
	for _, n := range nodes {
		cs, _ := n.Snapshot()
		for _, t := range cs {
			role := "LNS"
			if t.Initiator {
				role = "LAC"
			}
			dg := "off"
			if t.Digest {
				dg = "md5"
				if t.DigestType == l2tp.DigestHMACSHA1 {
					dg = "sha1"
				}
			}
			r := t.PeerRouterID
			v.Tunnels = append(v.Tunnels, show.Tunnel{Protocol: show.L2TP, LocalID: t.LocalID, RemoteID: t.RemoteID,
				LocalName: t.LocalName, RemoteName: t.PeerName, RemoteVendor: t.PeerVendor, State: t.State.Short(),
				StateName: t.State.String(), RemoteAddress: t.Peer.Addr().String(), RemotePort: t.Peer.Port(),
				Sessions: t.Sessions, Group: t.Class, Role: role, LastChange: t.Since, Created: t.Created,
				Version: 3, RouterID: fmt.Sprintf("%d.%d.%d.%d", r>>24, r>>16&0xff, r>>8&0xff, r&0xff), Digest: dg,
				Control: show.ControlCounters{Sent: t.CtrlTx, Received: t.CtrlRx, Retransmitted: t.Retransmits,
					ZLBSent: t.ZLBTx, ZLBReceived: t.ZLBRx, HellosSent: t.HelloTx, CWND: t.CWND, PeerWindow: t.PeerWindow}})
		}
	}
}

// v3Drops sums the L2TPv3 control-plane drops of every bind, by reason
// (v3-digest-failed and the rest: show l2tp counters and the
// control-drop metric).
func (d *Daemon) v3Drops() []l2tpproto.Drop {
	rt := d.rt.Load()
	if rt == nil || rt.xc == nil {
		return nil
	}
	xs := rt.xc
	xs.mu.Lock()
	defer xs.mu.Unlock()
	var out []l2tpproto.Drop
	for _, vb := range xs.binds {
		n := vb.node.Load()
		if n == nil {
			continue
		}
		for i, x := range n.Stats().Drops() {
			if i < len(out) {
				out[i].Count += x.Count
			} else {
				out = append(out, x)
			}
		}
	}
	return out
}

// v3Timeouts sums the L2TPv3 set-up and no-session timeouts of every
// bind (events, not drops: show l2tp counters lists them as timeouts).
func (d *Daemon) v3Timeouts() (setup, noSession uint64) {
	rt := d.rt.Load()
	if rt == nil || rt.xc == nil {
		return 0, 0
	}
	xs := rt.xc
	xs.mu.Lock()
	defer xs.mu.Unlock()
	for _, vb := range xs.binds {
		if n := vb.node.Load(); n != nil {
			st := n.Stats()
			setup += st.SessionSetupTimeouts
			noSession += st.NoSessionClosed
		}
	}
	return setup, noSession
}

// v3Conns returns the L2TPv3 control connections of every bind.
func (d *Daemon) v3Conns() []*l2tpproto.V3Conn {
	rt := d.rt.Load()
	if rt == nil || rt.xc == nil {
		return nil
	}
	xs := rt.xc
	xs.mu.Lock()
	defer xs.mu.Unlock()
	var out []*l2tpproto.V3Conn
	for _, vb := range xs.binds {
		if n := vb.node.Load(); n != nil {
			out = append(out, n.Conns()...)
		}
	}
	return out
}
