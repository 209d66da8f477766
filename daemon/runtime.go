package daemon

// What Run builds from the configuration, bottom up:
//
//	transport binds (UDP 1701,           ─┐
//	  TCP 1723, GRE)                     ├─ carrier/l2tpv2.Service: proto/l2tp node + data-plane port
//	dataplane.Plane (demux, encap)       │  carrier/pptp.Service: proto/pptp node + data-plane port
//	vif.Manager (Virtual-Access, vpdn0)  │
//	access.Manager (PPP sessions, AAA) ──┘
//
// and tears it down top down: sessions (CDN), tunnels (StopCCN,
// StopCCRQ), binds, devices, routes.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/carrier/l2tpv2"
	pptpc "github.com/vpdn/vpdn/carrier/pptp"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/vif"
)

// runtime is the running system: what start built.
type runtime struct {
	flush  *logFlusher
	plane  *dataplane.Plane
	ifs    *vif.Manager
	access *access.Manager
	wheel  *clock.Wheel

	l2tp *l2tpv2.Service // nil when L2TP is not served
	// l2tpESP is L2TP's bind when a crypto map protects it (L2TP/IPsec,
	// ipsec_l2tp.go); nil otherwise.
	l2tpESP  *dataplane.ESPBind
	l2tpDone chan struct{}

	pptp     *pptpc.Service // nil when PPTP is not served
	pptpGRE  interface{ Close() error }
	pptpLn   net.Listener
	pptpDone chan struct{} // closed when the GRE and control readers end

	// ipsec is one service per crypto-map interface (ipsec.go), under
	// ipsecMu: a reload that changes the crypto configuration replaces it.
	ipsecMu sync.Mutex
	ipsec   []*ipsecService

	host   netif.Host
	kernel *netif.Kernel // the host, when the daemon made it

	xc *xconnects // the L2TPv3 pseudowires (manual and dynamic); nil when none

	cancel context.CancelFunc
	vppp   sync.WaitGroup // the Virtual-PPP dial loops
}

// defaultL2TPMTU keeps a PPP-over-L2TP packet inside a 1500-byte underlay:
// 1500 - 20 (IP) - 8 (UDP) - 8 (L2TP with length) - 4 (PPP) = 1460.
// IOS leaves 1500 and fragments; `ip mtu` on the interface overrides.
const defaultL2TPMTU = 1460

// xconnectsWanted reports whether the configuration has L2TPv3
// pseudowires, manual or dynamic.
func xconnectsWanted(c *config.Config) bool {
	return slices.ContainsFunc(c.Interfaces, func(i *config.Interface) bool { return i.Xconnect != nil || v3PPPClass(c, i) != nil })
}

// l2tpWanted reports whether the configuration serves L2TP at all: a
// vpdn-group accepting it (with vpdn enable), a Virtual-PPP pseudowire,
// or an L2TPv3 pseudowire over UDP under a transport-mode crypto map.
func l2tpWanted(c *config.Config) bool {
	// An L2TPv3 PPP pseudowire is the xconnects' (xconnect_ppp.go).
	if slices.ContainsFunc(c.Interfaces, func(i *config.Interface) bool { return i.Pseudowire != nil && v3PPPClass(c, i) == nil }) {
		return true
	}
	// L2TPv3 over UDP inside IPsec (a router facing SoftEther's "L2TPv3
	// over IPsec" server, which speaks it only in ESP transport mode):
	// the pseudowires share L2TP's socket, which only then is the
	// ESP-protected bind (ipsec_l2tp.go); a socket of their own would
	// send in clear. L2TPv2 tunnels it is offered are refused without a
	// vpdn-group.
	if l2tpIPsecWanted(c) && v3UDPWanted(c) {
		return true
	}
	if !c.VPDN.Enabled {
		return false
	}
	return slices.ContainsFunc(c.VPDN.Groups, func(g *config.VPDNGroup) bool {
		return g.Accept != nil && (g.Accept.Protocol == config.ProtoL2TP || g.Accept.Protocol == config.ProtoAny)
	})
}

// v3UDPWanted reports whether an L2TPv3 pseudowire (an Ethernet
// xconnect or a Virtual-PPP one) runs over UDP (`ip protocol udp`).
func v3UDPWanted(c *config.Config) bool {
	return slices.ContainsFunc(c.Interfaces, func(i *config.Interface) bool {
		var pc *config.PWClass
		switch {
		case i.Xconnect != nil:
			pc = c.PWClassByName(i.Xconnect.PWClass)
		default:
			pc = v3PPPClass(c, i)
		}
		return pc != nil && pc.IPProtocol == "udp"
	})
}

func (d *Daemon) start(ctx context.Context) error {
	if err := d.openPoolStore(ctx); err != nil {
		return err
	}
	if err := d.startRuntime(ctx); err != nil {
		d.closePoolStore()
		return err
	}
	return nil
}

// startRuntime builds the data plane, the access layer and the carriers.
func (d *Daemon) startRuntime(ctx context.Context) error {
	c := d.Config()
	rt := &runtime{host: d.opts.Host}
	var err error
	if rt.host == nil {
		// The kernel of this namespace, one netlink socket for the
		// daemon's life.
		if rt.kernel, err = netif.NewKernel(); err != nil {
			return err
		}
		rt.host = rt.kernel
	}
	rt.plane = dataplane.New(dataplane.Config{Clock: d.opts.Clock, Logger: d.vpdnLog})
	rt.ifs, err = vif.New(vif.Config{Host: rt.host, Shared: c.VPDN.SharedAccess, SharedMTU: defaultL2TPMTU,
		Offload: true, Logger: d.vpdnLog})
	if err != nil {
		rt.plane.Close()
		if rt.kernel != nil {
			rt.kernel.Close()
		}
		return fmt.Errorf("shared interface: %w", err)
	}
	if dev := rt.ifs.Shared(); dev != nil {
		if err := rt.plane.SetShared(dev); err != nil {
			rt.ifs.Close()
			rt.plane.Close()
			return err
		}
	}
	// One timing wheel for every PPP link's timers.
	var pppClock clock.Clock = d.opts.Clock
	if d.opts.Clock == clock.Real {
		rt.wheel = clock.NewWheel(0, 0)
		pppClock = rt.wheel
	}
	if err := d.ensureAccounting(c); err != nil {
		rt.plane.Close()
		rt.ifs.Close()
		if rt.kernel != nil {
			rt.kernel.Close()
		}
		return err
	}
	rt.access, err = access.New(access.Config{
		Plane: rt.plane, Interfaces: rt.ifs, Clock: pppClock, Logger: d.vpdnLog, PPPLogger: d.pppLog,
		Authenticator: func(list string) aaa.Authenticator { return d.Authenticator(list, "") },
		AssignAddress: func(authz *aaa.Authorization, pool, session string) (*aaa.Lease, error) {
			return aaa.AssignAddressFor(d.svc.Load().pools, authz, pool, session)
		},
		AssignPrefix:    d.assignPrefix,
		Accounter:       d.accounter,
		InterimInterval: d.interimInterval,
		NewInfo:         d.accountingNewInfo,
		OnUp:            d.sessionUp,
		OnEnd:           d.sessionEnd,
	})
	if err != nil {
		rt.teardown(d)
		return err
	}
	if l2tpWanted(c) {
		if err := d.startL2TP(rt, c); err != nil {
			rt.teardown(d)
			return err
		}
	}
	if pptpGroup(c) != nil {
		if err := d.startPPTP(rt, c); err != nil {
			rt.teardown(d)
			return err
		}
	}
	if len(pptpDialers(c)) > 0 {
		if err := d.startPPTPClient(rt, c); err != nil {
			rt.teardown(d)
			return err
		}
	}
	if err := d.applyDynAuth(c); err != nil {
		rt.teardown(d)
		return err
	}
	if len(cryptoInterfaces(c)) > 0 {
		if err := d.startIPsec(rt, c); err != nil {
			rt.teardown(d)
			return err
		}
	}
	if xconnectsWanted(c) {
		if err := d.startXconnects(rt, c); err != nil {
			rt.teardown(d)
			return err
		}
	}
	rt.ifs.SetStaticRoutes(staticRoutes(c))
	rt.flush = d.startLogFlush()
	d.rt.Store(rt)
	// Client-initiated sessions of Virtual-PPP interfaces (document 001).
	vctx, cancel := context.WithCancel(ctx)
	rt.cancel = cancel
	for _, ifc := range c.Interfaces {
		if ifc.Pseudowire != nil && ifc.Name.Kind == config.IfVirtualPPP && !ifc.Shutdown && rt.l2tp != nil && v3PPPClass(c, ifc) == nil {
			rt.vppp.Go(func() { d.runVirtualPPP(vctx, rt, ifc) })
		}
	}
	// Dialer-initiated PPTP sessions (document 004's PPTP client).
	for _, ifc := range pptpDialers(c) {
		rt.vppp.Go(func() { d.runDialer(vctx, rt, ifc) })
	}
	return nil
}

func (d *Daemon) startL2TP(rt *runtime, c *config.Config) error {
	listen := c.VPDN.L2TPListen
	if listen == "" {
		listen = "0.0.0.0:1701"
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("l2tp listen %q: %w", listen, err)
	}
	bind, err := d.opts.Binds.ListenUDP(ap)
	if err != nil {
		return err
	}
	if l2tpIPsecWanted(c) {
		rt.l2tpESP = rt.plane.NewESPBind(dataplane.ESPBindConfig{Inner: bind, Acquire: d.acquireL2TP})
		bind = rt.l2tpESP
	}
	svc, err := l2tpv2.New(l2tpv2.Config{
		Bind: bind, Plane: rt.plane, Access: rt.access, Clock: d.opts.Clock, Logger: d.vpdnLog,
		Incoming: d.incomingTunnel, Profile: d.lnsProfile, Limits: l2tpLimits(c),
		OnRefused: func(cause access.Cause, err error) { d.failures.add(cause.Label()) },
		OnL2TPv3:  d.v3SharedControl,
	})
	if err != nil {
		bind.Close()
		return err
	}
	rt.l2tp, rt.l2tpDone = svc, make(chan struct{})
	go func() {
		defer close(rt.l2tpDone)
		if err := svc.Serve(); err != nil {
			d.log.Error("l2tp socket", "err", err)
		}
	}()
	d.log.Info("l2tp listening", "address", bind.LocalAddr().String())
	return nil
}

// startPPTP serves PPTP (RFC 2637) as a tunnel server: control
// connections on TCP 1723, the calls' enhanced GRE on a protocol-47 bind,
// at the vpdn pptp listen address.
func (d *Daemon) startPPTP(rt *runtime, c *config.Config) error {
	addr := netip.IPv4Unspecified()
	if c.VPDN.PPTPListen != "" {
		a, err := netip.ParseAddr(c.VPDN.PPTPListen)
		if err != nil {
			return fmt.Errorf("pptp listen %q: %w", c.VPDN.PPTPListen, err)
		}
		addr = a
	}
	g := pptpGroup(c)
	// Every PPTP client has a control connection of its own: the
	// connections are bounded by the call IDs (65535 per node, RFC 2637
	// §2.7), not by proto/pptp's default of 4096. A client places one
	// call on its connection (Windows, pptp-linux, vpdn dial): a few more
	// are allowed, not the 4096 a single connection could otherwise open
	// (each an access session until its PPP times out).
	nc := pptp.Config{HostName: c.Hostname, VendorName: "vpdn", MaxConns: 65535, MaxCallsPerConn: 8}
	if g.PPTPRecvWindow != 0 {
		nc.RecvWindow = uint16(g.PPTPRecvWindow)
	}
	if g.PPTPEcho != 0 {
		nc.EchoInterval = time.Duration(g.PPTPEcho) * time.Second
	}
	gre, err := d.opts.Binds.ListenIP(47, addr)
	if err != nil {
		return fmt.Errorf("pptp: GRE socket: %w", err)
	}
	ln, err := d.opts.Binds.ListenTCP(netip.AddrPortFrom(addr, 1723))
	if err != nil {
		gre.Close()
		return fmt.Errorf("pptp: %w", err)
	}
	svc, err := pptpc.New(pptpc.Config{Role: pptp.RolePAC, GRE: gre, Plane: rt.plane, Access: rt.access,
		Clock: d.opts.Clock, Logger: d.vpdnLog, Node: nc, Profile: d.pptpProfile,
		StaticRTT: time.Duration(g.PPTPStaticRTT) * time.Millisecond,
		OnRefused: func(cause access.Cause, err error) { d.failures.add(cause.Label()) }})
	if err != nil {
		ln.Close()
		gre.Close()
		return err
	}
	rt.pptp, rt.pptpGRE, rt.pptpLn, rt.pptpDone = svc, gre, ln, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := svc.Serve(); err != nil {
			d.log.Error("pptp GRE socket", "err", err)
		}
	})
	wg.Go(func() {
		if err := svc.ServeControl(ln); err != nil {
			d.log.Error("pptp listener", "err", err)
		}
	})
	go func() { wg.Wait(); close(rt.pptpDone) }()
	d.log.Info("pptp listening", "address", ln.Addr().String())
	return nil
}

func (d *Daemon) stop() {
	d.stopDynAuth()
	rt := d.rt.Swap(nil)
	if rt != nil {
		rt.teardown(d)
	}
	// After the sessions: their Stops are spooled; a few seconds to send
	// them, the rest stays spooled for the next run.
	d.closeAccounting()
	// Then the client: requests in flight end with an error.
	d.radiusMu.Lock()
	if d.radius != nil {
		d.radius.Close()
		d.radius = nil
	}
	d.radiusMu.Unlock()
	d.closePoolStore()
}

// teardown stops what start built, top down: the Virtual-PPP loops, every
// PPP session (its interface, its CDN), the tunnels (StopCCN), the bind,
// the shared device and the static routes.
func (rt *runtime) teardown(d *Daemon) {
	if rt.flush != nil {
		rt.flush.stop()
	}
	if rt.cancel != nil {
		rt.cancel()
	}
	rt.vppp.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rt.access != nil {
		rt.access.Close(access.CauseShutdown)
	}
	if rt.xc != nil {
		rt.xc.stop(rt.plane)
		rt.xc = nil
	}
	if rt.l2tp != nil {
		rt.l2tp.Close(ctx) // StopCCN (result 6, shutting down) on every tunnel
		rt.l2tp.Bind().Close()
		<-rt.l2tpDone
	}
	if rt.pptp != nil {
		if rt.pptpLn != nil {
			rt.pptpLn.Close()
		}
		rt.pptp.Close(ctx) // StopCCRQ on every control connection
		rt.pptpGRE.Close()
		<-rt.pptpDone
	}
	rt.ipsecMu.Lock()
	for _, s := range rt.ipsec {
		s.close()
	}
	rt.ipsec = nil
	rt.ipsecMu.Unlock()
	rt.plane.ClearShared()
	rt.plane.Close()
	rt.ifs.Close()
	if rt.kernel != nil {
		rt.kernel.Close()
	}
	if rt.wheel != nil {
		rt.wheel.Close()
	}
}

// staticRoutes are the configuration's ip route commands that name only a
// next hop (those through an interface come up with it).
func staticRoutes(c *config.Config) []vif.Route {
	var out []vif.Route
	for _, r := range c.IP.Routes {
		if r.Iface == nil && r.NextHop.IsValid() {
			out = append(out, vif.Route{Dst: r.Prefix, Gateway: r.NextHop})
		}
	}
	return out
}

// L2TPAddr returns the address the L2TP socket is bound to (zero when L2TP
// is not served).
func (d *Daemon) L2TPAddr() netip.AddrPort {
	rt := d.rt.Load()
	if rt == nil || rt.l2tp == nil {
		return netip.AddrPort{}
	}
	return rt.l2tp.Bind().LocalAddr()
}

// sessionUp is the access layer's OnUp: the interface exists.
func (d *Daemon) sessionUp(s *access.Session) {
	d.sessionsTotal.Add(1)
	if f := d.opts.OnInterfaceUp; f != nil {
		v := s.View()
		f(v.Interface, v.Local, v.Peer, s.DNS())
	}
}

// sessionEnd is the access layer's OnEnd: a session that never came up is
// a set-up failure, counted by cause.
func (d *Daemon) sessionEnd(s *access.Session, c access.Cause, wasUp bool) {
	if !wasUp {
		d.failures.add(c.Label())
	}
}

// carryLeases reserves, in the pools a reload built, the addresses that
// sessions hold from the old ones; their leases still return them to the
// old pools, which are dropped.
func (d *Daemon) carryLeases(svc *services) {
	rt := d.rt.Load()
	if rt == nil {
		return
	}
	old := d.svc.Load()
	for _, s := range rt.access.Sessions() {
		// A replaced ipv6 local pool: its sessions' prefixes are
		// reserved in the new one, where they go back.
		if name, pf := s.PoolPrefix(); pf.IsValid() && old != nil {
			if p := svc.v6pools[name]; p != nil && p != old.v6pools[name] {
				if err := p.Reserve(pf); err != nil {
					d.log.Warn("reload: IPv6 prefix of a live session", "prefix", pf.String(), "err", err)
				}
			}
		}
	}
	if svc.pools.Store() != nil {
		return // a shared store holds the addresses already, under this instance's name
	}
	for _, s := range rt.access.Sessions() {
		for _, a := range s.Leases() {
			if p := svc.pools.Find(a); p != nil {
				if err := p.Reserve(a); err != nil {
					d.log.Warn("reload: address of a live session", "address", a.String(), "err", err)
				}
			}
		}
	}
	// Easy VPN clients' addresses (ipsec_ezvpn.go) too.
	for _, is := range d.ipsecServices() {
		for _, a := range is.ez.addrs() {
			if p := svc.pools.Find(a); p != nil {
				if err := p.Reserve(a); err != nil {
					d.log.Warn("reload: address of an Easy VPN client", "address", a.String(), "err", err)
				}
			}
		}
	}
}
