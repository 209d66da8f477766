package daemon

// Manual L2TPv3 Ethernet pseudowires (RFC 3931, RFC 4719): `xconnect PEER
// VCID encapsulation l2tpv3 manual pw-class NAME` on an interface whose
// Linux device is the attachment circuit. Each one is a data-plane session
// with a PayloadEthernet attachment (a TAP vpdn creates, or the host
// device through a packet socket) and an L2TPv3Encap; no control
// connection exists (document 004: "Session is manually signaled").
//
// Sockets: one bind per transport and local address (the pseudowire-
// class's ip protocol and ip local interface). Over IP it is a raw socket
// of protocol 115 read through an L2TPv3Decoder; over UDP it is port 1701,
// the L2TPv2 service's socket when it runs (L2TPv2Decoder hands v3 data
// to v3 sessions). ip tos value, ip ttl and ip dfbit set are socket
// options of that bind, so classes sharing a bind must agree on them.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	l2tpproto "github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// xconnects are the running manual pseudowires.
type xconnects struct {
	mu    sync.Mutex
	pws   []*pseudowire
	binds map[v3BindKey]*v3Bind
	done  sync.WaitGroup
	// ctx ends the dynamic xconnects' dial loops (nil when none).
	ctx    context.Context
	cancel context.CancelFunc
}

type v3BindKey struct {
	udp   bool
	local netip.Addr
}

type v3Bind struct {
	bind   transport.Bind
	shared bool // the L2TPv2 service's: not ours to close
	udp    bool
	opts   v3Opts
	class  string
	// node is the L2TPv3 control plane of the bind, made with its first
	// dynamic xconnect (xconnect_dyn.go); nil while there is none.
	node atomic.Pointer[l2tpproto.V3Node]
}

// control hands the bind's control messages (Session ID 0 over IP,
// version 3 over UDP) to its node.
func (vb *v3Bind) control(b []byte, from netip.AddrPort) {
	if n := vb.node.Load(); n != nil {
		n.HandlePacket(b, from)
	}
}

// v3Opts are the socket options a pseudowire-class asks for.
type v3Opts struct {
	tos int // -1: default
	ttl int // 0: default
	df  int // 0: clear (IOS's default, "DF bit off"), 1: kernel PMTU discovery (ip pmtu), 2: set (ip dfbit set)
}

type pseudowire struct {
	ifc    *config.Interface
	x      *config.Xconnect
	pc     *config.PWClass
	uid    uint32
	udp    bool
	local  netip.Addr
	opts   v3Opts
	device string
	tap    bool
	// vlan is the subinterface's dot1Q VLAN: an Ethernet VLAN pseudowire
	// (RFC 4719 §4.2) on the parent's device; 0: Ethernet (port mode).
	vlan int

	sess *dataplane.Session
	dev  netif.Device
	// dyn is the signalled part of a dynamic xconnect; nil for a manual one.
	dyn *dynPW
	// ka is a manual xconnect's keepalive (l2tp hello CLASS); nil without.
	ka *keepalive
	// ppp: a Virtual-PPP interface's PPP pseudowire (xconnect_ppp.go),
	// whose attachment is the access session as (guarded by mu) and whose
	// sess is as's data-plane session, the access layer's to remove.
	ppp bool
	as  *access.Session

	mu     sync.Mutex
	state  string // "est" or "down"
	since  time.Time
	errMsg string
}

func classOpts(pc *config.PWClass) v3Opts {
	o := v3Opts{tos: -1, ttl: pc.TTL}
	if pc.TOSValue != nil {
		o.tos = *pc.TOSValue
	}
	switch {
	case pc.DFBitSet:
		o.df = 2
	case pc.IPPMTU:
		o.df = 1
	}
	return o
}

// localAddr is the pseudowire-class's ip local interface's address: the
// configured interface's own, else the first IPv4 address of its Linux
// device; the zero Addr (any) without one.
func localAddr(c *config.Config, pc *config.PWClass) (netip.Addr, error) {
	if pc.LocalIf == nil {
		return netip.Addr{}, nil
	}
	dev := ""
	if pc.LocalIf.Kind == config.IfLinux {
		dev = pc.LocalIf.Linux
	}
	if ifc := c.Interface(*pc.LocalIf); ifc != nil {
		if ifc.Address.IsValid() {
			return ifc.Address.Addr(), nil
		}
		if ifc.LinuxDevice != "" {
			dev = ifc.LinuxDevice
		}
	}
	if dev == "" {
		return netip.Addr{}, nil
	}
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("ip local interface %s: %w", pc.LocalIf, err)
	}
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("ip local interface %s: %s has no IPv4 address", pc.LocalIf, dev)
}

// ipOptioner is a bind whose IP header fields can be set.
type ipOptioner interface {
	SetTOS(int) error
	SetTTL(int) error
}

type dfSetter interface{ SetDF(bool) error }

func applyOpts(b transport.Bind, o v3Opts) error {
	ip, ok := b.(ipOptioner)
	if !ok {
		if o.tos >= 0 || o.ttl != 0 || o.df != 1 {
			return errors.New("the socket cannot set ToS, TTL or DF")
		}
		return nil
	}
	if o.tos >= 0 {
		if err := ip.SetTOS(o.tos); err != nil {
			return err
		}
	}
	if o.ttl != 0 {
		if err := ip.SetTTL(o.ttl); err != nil {
			return err
		}
	}
	if ds, ok := b.(dfSetter); ok && o.df != 1 {
		// ip pmtu leaves the kernel's path MTU discovery as it is.
		return ds.SetDF(o.df == 2)
	}
	return nil
}

// startXconnects brings up every manual pseudowire of c. A pseudowire
// whose device or socket cannot be had stays down with its error (shown
// by show l2tp session all); sockets whose options conflict fail start.
func (d *Daemon) startXconnects(rt *runtime, c *config.Config) error {
	xs := &xconnects{binds: map[v3BindKey]*v3Bind{}}
	rt.xc = xs
	var uid uint32
	for _, ifc := range c.Interfaces {
		x := ifc.Xconnect
		if x == nil {
			continue
		}
		pc := c.PWClassByName(x.PWClass)
		if pc == nil {
			continue
		}
		uid++
		pw := &pseudowire{ifc: ifc, x: x, pc: pc, uid: uid, udp: pc.IPProtocol == "udp", opts: classOpts(pc),
			state: "down", since: time.Now(), vlan: ifc.Dot1Q}
		pw.device, pw.tap = c.LinuxDeviceOf(ifc)
		if !x.Manual {
			pw.dyn = newDynPW(c, pw)
		}
		xs.pws = append(xs.pws, pw)
	}
	for _, ifc := range c.Interfaces {
		if pc := v3PPPClass(c, ifc); pc != nil {
			uid++
			xs.pws = append(xs.pws, pppPseudowire(c, ifc, pc, uid))
		}
	}
	// The list is complete before any control plane reads it.
	for _, pw := range xs.pws {
		ifc, x, pc := pw.ifc, pw.x, pw.pc
		if ifc.Shutdown {
			pw.errMsg = "administratively down"
			continue
		}
		local, err := localAddr(c, pc)
		if err != nil {
			pw.errMsg = err.Error()
			d.log.Error("xconnect", "interface", ifc.Name.String(), "err", err)
			continue
		}
		pw.local = local
		vb, err := d.v3Bind(rt, xs, pw)
		if err != nil {
			return fmt.Errorf("xconnect on %s: %w", ifc.Name, err)
		}
		if !x.Manual {
			if err := d.startDynamic(rt, xs, c, pw, vb); err != nil {
				pw.errMsg = err.Error()
				d.log.Error("xconnect", "interface", ifc.Name.String(), "err", err)
			}
			continue
		}
		if err := d.upPseudowire(rt, pw, vb); err != nil {
			pw.errMsg = err.Error()
			d.log.Error("xconnect", "interface", ifc.Name.String(), "err", err)
			continue
		}
		if x.HelloClass != "" {
			if err := d.startKeepalive(rt, xs, c, pw, vb); err != nil {
				d.log.Error("xconnect keepalive", "interface", ifc.Name.String(), "err", err)
			}
		}
	}
	return nil
}

// v3Bind returns the bind pw's packets travel on, opening it (and its
// reader) the first time.
func (d *Daemon) v3Bind(rt *runtime, xs *xconnects, pw *pseudowire) (*v3Bind, error) {
	k := v3BindKey{udp: pw.udp, local: pw.local}
	if vb := xs.binds[k]; vb != nil {
		if vb.opts != pw.opts {
			return nil, fmt.Errorf("pseudowire-class %s: ip tos, ip ttl, ip dfbit set or ip pmtu differ from pseudowire-class %s on the same socket (%s); vpdn sets them per socket: expected the same settings", pw.pc.Name, vb.class, describeBind(k))
		}
		return vb, nil
	}
	vb := &v3Bind{opts: pw.opts, class: pw.pc.Name, udp: pw.udp}
	switch {
	case pw.udp && rt.l2tp != nil && (!pw.local.IsValid() || rt.l2tp.Bind().LocalAddr().Addr() == pw.local):
		vb.bind, vb.shared = rt.l2tp.Bind(), true
	case pw.udp && rt.l2tpESP != nil && rt.l2tp.Bind().LocalAddr().Addr().IsUnspecified():
		// Under a transport-mode crypto map, L2TP's socket on every
		// address serves `ip local interface` too: what leaves is ESP
		// from the crypto map's address.
		vb.bind, vb.shared = rt.l2tp.Bind(), true
	case pw.udp && rt.l2tpESP != nil:
		// A socket of its own would bypass the transport-mode crypto map.
		return nil, fmt.Errorf("pseudowire-class %s: ip local interface address %v is not the address of L2TP's IPsec-protected socket (%v): expected vpdn l2tp listen %v:1701", pw.pc.Name, pw.local, rt.l2tp.Bind().LocalAddr(), pw.local)
	case pw.udp:
		a := pw.local
		if !a.IsValid() {
			a = netip.IPv4Unspecified()
		}
		b, err := d.opts.Binds.ListenUDP(netip.AddrPortFrom(a, l2tp.UDPPort))
		if err != nil {
			return nil, err
		}
		vb.bind = b
		pt := rt.plane.NewPort(b, dataplane.L2TPv2Decoder{}, vb.control)
		xs.done.Go(func() { _ = pt.Serve() })
	default:
		b, err := d.opts.Binds.ListenIP(l2tp.IPProtoL2TPv3, pw.local)
		if err != nil {
			return nil, fmt.Errorf("L2TPv3 socket: %w", err)
		}
		vb.bind = b
		pt := rt.plane.NewPort(b, dataplane.L2TPv3Decoder{}, vb.control)
		xs.done.Go(func() { _ = pt.Serve() })
	}
	switch {
	case vb.shared && rt.l2tpESP != nil:
		// L2TP's socket under a transport-mode crypto map: what leaves
		// is ESP from IPsec's own sockets (IP 50 or UDP 4500), whose
		// header options a pseudowire-class does not set.
		if pw.opts.tos >= 0 || pw.opts.ttl != 0 || pw.opts.df == 2 {
			return nil, fmt.Errorf("pseudowire-class %s: ip tos value, ip ttl and ip dfbit set are not applied to L2TPv3 inside IPsec (L2TP's socket under a transport-mode crypto map): expected none of them", pw.pc.Name)
		}
	default:
		if err := applyOpts(vb.bind, pw.opts); err != nil {
			if !vb.shared {
				vb.bind.Close()
			}
			return nil, fmt.Errorf("pseudowire-class %s: %w", pw.pc.Name, err)
		}
	}
	xs.binds[k] = vb
	d.log.Info("l2tpv3 socket", "transport", describeBind(k), "class", pw.pc.Name)
	return vb, nil
}

func describeBind(k v3BindKey) string {
	a := "any address"
	if k.local.IsValid() {
		a = k.local.String()
	}
	if k.udp {
		return "UDP port 1701 on " + a
	}
	return "IP protocol 115 on " + a
}

func cookieOf(c *config.Cookie) l2tp.Cookie {
	switch {
	case c == nil:
		return l2tp.Cookie{}
	case c.Size == 8:
		return l2tp.Cookie8(c.Low, c.High)
	}
	return l2tp.Cookie4(c.Low)
}

// upPseudowire opens pw's attachment circuit and installs its session.
func (d *Daemon) upPseudowire(rt *runtime, pw *pseudowire, vb *v3Bind) error {
	nd, err := openAttachment(rt, pw)
	if err != nil {
		return err
	}
	return d.installManual(rt, pw, vb, nd)
}

// openAttachment opens pw's attachment circuit: a TAP vpdn creates, the
// host device, or one VLAN of it.
func openAttachment(rt *runtime, pw *pseudowire) (netif.Device, error) {
	ifc, dev := pw.ifc, pw.device
	if dev == "" {
		return nil, fmt.Errorf("no attachment circuit: expected linux-device DEV under interface %s", ifc.Name)
	}
	var nd netif.Device
	var err error
	switch {
	case pw.tap && pw.vlan != 0:
		err = fmt.Errorf("VLAN %d of a TAP: a subinterface's xconnect needs a host device", pw.vlan)
	case pw.tap:
		if nd, err = rt.host.CreateTAP(dev); err == nil {
			if err = rt.host.SetUp(dev); err != nil {
				nd.Close()
			}
		}
	case pw.vlan != 0:
		nd, err = netif.OpenPacketVLAN(dev, uint16(pw.vlan))
	default:
		nd, err = netif.OpenPacket(dev)
	}
	if err != nil {
		return nil, fmt.Errorf("attachment circuit %s: %w", dev, err)
	}
	return nd, nil
}

// installManual installs a manual pseudowire's session on nd.
func (d *Daemon) installManual(rt *runtime, pw *pseudowire, vb *v3Bind, nd netif.Device) error {
	ifc, dev := pw.ifc, pw.device
	peer := netip.AddrPortFrom(pw.x.Peer, 0)
	if pw.udp {
		peer = netip.AddrPortFrom(pw.x.Peer, l2tp.UDPPort)
	}
	p := dataplane.L2TPv3Params{UDP: pw.udp, RemoteSession: pw.x.RemoteSession,
		LocalCookie: cookieOf(pw.x.LocalCookie), RemoteCookie: cookieOf(pw.x.RemoteCookie)}
	switch pw.pc.Sequencing {
	case "transmit":
		p.SeqTx = true
	case "receive":
		p.SeqRx = true
	case "both":
		p.SeqTx, p.SeqRx = true, true
	}
	s := dataplane.NewSession(dataplane.L2TPv3Key(pw.x.LocalSession), peer, vb.bind, dataplane.PayloadEthernet, dataplane.NewL2TPv3Encap(p))
	s.TOSReflect = pw.pc.TOSReflect
	if err := rt.plane.Add(s); err != nil {
		nd.Close()
		return err
	}
	// Frames up to the largest IP datagram the header leaves room for;
	// the kernel fragments what exceeds the path MTU unless DF is set.
	if err := rt.plane.Attach(s, dataplane.Attachment{Device: nd, MTU: dataplane.MaxPacket - dataplane.MaxEncapLen - 20}); err != nil {
		rt.plane.Remove(s)
		nd.Close()
		return err
	}
	pw.mu.Lock()
	pw.sess, pw.dev, pw.state, pw.since, pw.errMsg = s, nd, "est", time.Now(), ""
	pw.mu.Unlock()
	d.log.Info("xconnect up", "interface", ifc.Name.String(), "device", dev, "vlan", pw.vlan, "peer", pw.x.Peer.String(),
		"local_session", pw.x.LocalSession, "remote_session", pw.x.RemoteSession)
	return nil
}

// stop removes the sessions, closes the devices and the sockets vpdn
// opened for them, and waits for their readers.
func (xs *xconnects) stop(plane *dataplane.Plane) {
	if xs.cancel != nil {
		xs.cancel()
	}
	// StopCCN on every control connection (result 6, shutting down),
	// while the sockets are still open.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	for _, vb := range xs.binds {
		if n := vb.node.Load(); n != nil {
			_ = n.Close(ctx)
		}
	}
	cancel()
	xs.mu.Lock()
	defer xs.mu.Unlock()
	for _, pw := range xs.pws {
		if dy := pw.dyn; dy != nil {
			pw.mu.Lock()
			if pw.ppp {
				stopPPP(pw, errors.New("shutting down"))
			} else if pw.sess != nil {
				plane.Remove(pw.sess)
			}
			if dy.dev != nil {
				dy.dev.Close()
			}
			pw.sess, dy.dev, dy.active, pw.state = nil, nil, nil, "down"
			pw.mu.Unlock()
			continue
		}
		pw.mu.Lock()
		if pw.sess != nil {
			plane.Remove(pw.sess)
			pw.dev.Close()
			pw.sess, pw.dev, pw.state = nil, nil, "down"
		}
		pw.mu.Unlock()
	}
	for _, vb := range xs.binds {
		if !vb.shared {
			vb.bind.Close()
		}
	}
	xs.done.Wait()
}

// pwSnapshot is what show l2tp session and show xconnect render.
func (d *Daemon) pwSnapshot() []show.PWSession {
	rt := d.rt.Load()
	if rt == nil || rt.xc == nil {
		return nil
	}
	xs := rt.xc
	xs.mu.Lock()
	defer xs.mu.Unlock()
	out := make([]show.PWSession, 0, len(xs.pws))
	for _, pw := range xs.pws {
		pw.mu.Lock()
		s := show.PWSession{LocalID: pw.x.LocalSession, RemoteID: pw.x.RemoteSession, VCID: pw.x.VCID,
			Interface: pw.ifc.Name.Short(), CircuitName: pw.ifc.Name.String(), CircuitType: "Ethernet", Device: pw.device,
			State: pw.state, StateName: "established", LastChange: pw.since, UniqueID: pw.uid,
			CircuitUp: pw.state == "est", LocalCircuitUp: pw.sess != nil, RemoteCircuitUp: pw.state == "est",
			RemoteAddress: pw.x.Peer.String(), LocalAddress: "0.0.0.0", Transport: "IP protocol 115", Manual: true, Locally: true,
			DF: pw.opts.df != 0, TOS: pw.opts.tos, TOSReflect: pw.pc.TOSReflect, TTL: pw.opts.ttl, Sequencing: pw.pc.Sequencing, Error: pw.errMsg}
		if pw.state != "est" {
			s.StateName = "down"
		}
		if pw.vlan != 0 {
			s.CircuitType = "Ethernet VLAN"
			s.VLAN = pw.vlan
		}
		if pw.ppp {
			s.CircuitType = "PPP"
		}
		if pw.local.IsValid() {
			s.LocalAddress = pw.local.String()
		}
		if pw.udp {
			s.Transport = "UDP port 1701"
		}
		if s.Sequencing == "" {
			s.Sequencing = "off"
		}
		if c := cookieOf(pw.x.LocalCookie); c.Len() > 0 {
			s.LocalCookie = c.String()
		}
		if c := cookieOf(pw.x.RemoteCookie); c.Len() > 0 {
			s.RemoteCookie = c.String()
		}
		if dy := pw.dyn; dy != nil {
			// Signalled: the IDs and cookies of the session carrying it.
			in := dy.info
			s.Manual, s.Locally = false, in.Initiator
			s.LocalID, s.RemoteID, s.TunnelID = 0, 0, 0
			s.LocalCookie, s.RemoteCookie = "", ""
			s.RemoteCircuitUp = false
			if dy.active != nil {
				s.LocalID, s.RemoteID, s.TunnelID, s.RemoteTunnelID = in.LocalSessionID, in.RemoteSessionID, in.LocalCCID, in.RemoteCCID
				s.LocalCookie, s.RemoteCookie = in.LocalCookie.String(), in.RemoteCookie.String()
				s.RemoteCircuitUp = dy.remote
				s.CircuitUp = dy.remote && dy.localUp
			}
			s.LocalCircuitUp = dy.localUp
		}
		if pw.sess != nil {
			c := pw.sess.Counters()
			s.Counters = show.Counters{PacketsIn: c.RxPkts, BytesIn: c.RxBytes, PacketsOut: c.TxPkts, BytesOut: c.TxBytes,
				OutOfOrder: c.SeqDrops}
			s.CookieDrops = c.CookieDrops
		}
		pw.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// registerXconnectShows adds show l2tp session [all] (IOS's newer name of
// show l2tun session, with the L2TPv3 pseudowires) and show xconnect all.
func (d *Daemon) registerXconnectShows() {
	d.shows.Add(&control.Command{Words: "l2tp session", Optional: []string{"all"}, Help: "L2TP sessions, L2TPv2 and L2TPv3 pseudowires; all: in detail",
		Run: func(ctx context.Context, args, o []string, asJSON bool) (*control.Response, error) {
			return d.sessionsReply(slices.Contains(o, "all"), asJSON)
		}})
	d.shows.Add(&control.Command{Words: "xconnect all", Help: "the xconnects: attachment circuit and pseudowire segments",
		Run: func(ctx context.Context, args, o []string, asJSON bool) (*control.Response, error) {
			pws := d.pwSnapshot()
			var b strings.Builder
			show.WriteXconnect(&b, pws)
			if pws == nil {
				pws = []show.PWSession{}
			}
			return reply(b.String(), pws, asJSON)
		}})
}

// sessionsReply answers show l2tp session and show l2tun session.
func (d *Daemon) sessionsReply(all, asJSON bool) (*control.Response, error) {
	pws := d.pwSnapshot()
	v := withoutPWs(d.vpdnSnapshot(), pws)
	var b strings.Builder
	show.WriteL2TPSessions(&b, v, pws, all)
	if len(pws) == 0 {
		// Unchanged for L2TPv2 only: the sessions' list.
		return reply(b.String(), v.Filter(show.L2TP).Sessions, asJSON)
	}
	return reply(b.String(), show.PWSessionsJSON{L2TPv2: v.Filter(show.L2TP).Sessions, L2TPv3: pws}, asJSON)
}
