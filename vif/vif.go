// Package vif owns vpdn's virtual interfaces: the Virtual-Access
// interfaces cloned from a Virtual-Template for each session a server
// accepts, the Virtual-PPP and Dialer interfaces of client sessions, the
// shared interface (vpdn0) that carries every Virtual-Access session in
// shared mode, and the static routes that point at them. Later: Tunnel and
// VTI interfaces. It works through a netif.Host: the kernel, or an
// in-memory fake in tests.
//
// Virtual-Template and Loopback interfaces have no device of their own
// here: a template is the configuration a Virtual-Access is cloned from,
// and a Loopback is the address an unnumbered interface borrows.
package vif

import (
	"container/heap"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/vpdn/vpdn/netif"
)

// Kind is a kind of virtual interface.
type Kind uint8

const (
	VirtualTemplate Kind = iota + 1
	VirtualAccess
	VirtualPPP
	Dialer
	Loopback
	Tunnel
)

var kinds = [...]struct{ long, short string }{
	{}, {"Virtual-Template", "Vt"}, {"Virtual-Access", "Vi"}, {"Virtual-PPP", "Vp"}, {"Dialer", "Di"},
	{"Loopback", "Lo"}, {"Tunnel", "Tu"},
}

func (k Kind) String() string {
	if int(k) < len(kinds) && k != 0 {
		return kinds[k].long
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Name is the IOS name of unit u of kind k, short (the Linux device name,
// as IOS abbreviates it: "Vi3") and long ("Virtual-Access3").
func Name(k Kind, u int) (short, long string) {
	n := strconv.Itoa(u)
	return kinds[k].short + n, kinds[k].long + n
}

// LongName turns a short device name ("Vi3") into the IOS name
// ("Virtual-Access3"); other names are returned as they are.
func LongName(short string) string {
	for _, k := range kinds[1:] {
		if rest, ok := strings.CutPrefix(short, k.short); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return k.long + rest
		}
	}
	return short
}

// SharedName is the device of shared mode.
const SharedName = "vpdn0"

// Config configures a Manager.
type Config struct {
	Host netif.Host
	// Shared carries every Virtual-Access session on one device,
	// SharedName, with a host route per peer, instead of one device each.
	Shared bool
	// SharedMTU is the MTU of the shared device.
	SharedMTU int
	// Offload asks for TUN offloads (TSO, checksums) on the devices.
	Offload bool
	Logger  *slog.Logger
}

// Manager creates and removes the virtual interfaces of sessions.
type Manager struct {
	host    netif.Host
	offload bool
	log     *slog.Logger

	mu        sync.Mutex
	nextUnit  int
	freeUnits unitHeap
	isFree    map[int]bool // the units in freeUnits
	up        map[string]*Interface

	shared      netif.Device
	sharedLocal map[netip.Addr]bool // local addresses put on the shared device

	staticMu sync.Mutex
	static   []Route        // next-hop routes of the configuration
	applied  map[Route]bool // those installed

	routesMu  sync.Mutex
	onRoutes  func(name string, routes []netip.Prefix)
	stopWatch func()
}

// RouteWatcher is implemented by hosts that report routes appearing and
// going (netlink's route notifications; the fake host's own table):
// routes a routing protocol installs through a session's interface.
type RouteWatcher interface {
	WatchRoutes(f func(dev string, dst netip.Prefix, del bool)) (stop func(), err error)
}

// New returns a Manager; in shared mode it creates the shared device.
func New(cfg Config) (*Manager, error) {
	if cfg.Host == nil {
		return nil, errors.New("vif: Config.Host is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{host: cfg.Host, offload: cfg.Offload, log: cfg.Logger, up: map[string]*Interface{},
		sharedLocal: map[netip.Addr]bool{}, applied: map[Route]bool{}}
	if cfg.Shared {
		dev, err := m.host.CreateTUN(SharedName, cfg.Offload)
		if err == nil && cfg.SharedMTU > 0 {
			err = m.host.SetMTU(SharedName, cfg.SharedMTU)
		}
		if err == nil {
			err = m.host.SetUp(SharedName)
		}
		if err != nil {
			if dev != nil {
				dev.Close()
			}
			return nil, &Error{Interface: SharedName, Op: "create", Err: err}
		}
		m.shared = dev
	}
	return m, nil
}

// OnRoutes registers f, told the routes the host has through an
// interface of its own (the default route aside) whenever they change,
// when the host reports routes (RouteWatcher). It starts the watch.
func (m *Manager) OnRoutes(f func(name string, routes []netip.Prefix)) error {
	w, ok := m.host.(RouteWatcher)
	if !ok || m.shared != nil {
		// In shared mode no session has an interface of its own to
		// learn routes through (and vpdn0's host routes, one a session,
		// would all be reported for nothing).
		return nil
	}
	m.routesMu.Lock()
	m.onRoutes = f
	m.routesMu.Unlock()
	stop, err := w.WatchRoutes(m.routeUpdate)
	if err != nil {
		return fmt.Errorf("vif: watching routes: %w", err)
	}
	m.routesMu.Lock()
	m.stopWatch = stop
	m.routesMu.Unlock()
	return nil
}

func (m *Manager) routeUpdate(dev string, dst netip.Prefix, del bool) {
	if dst.Bits() == 0 {
		return // a default route through a session is not its sources
	}
	m.mu.Lock()
	ifc := m.up[dev]
	m.mu.Unlock()
	if ifc == nil || ifc.dev == nil {
		return
	}
	dst = dst.Masked()
	m.routesMu.Lock()
	if ifc.learnt == nil {
		ifc.learnt = map[netip.Prefix]bool{}
	}
	if ifc.learnt[dst] == !del {
		m.routesMu.Unlock()
		return
	}
	if del {
		delete(ifc.learnt, dst)
	} else {
		ifc.learnt[dst] = true
	}
	list := make([]netip.Prefix, 0, len(ifc.learnt))
	for p := range ifc.learnt {
		list = append(list, p)
	}
	f := m.onRoutes
	m.routesMu.Unlock()
	if f != nil {
		f(dev, list)
	}
}

// Shared returns the shared device, nil when not in shared mode.
func (m *Manager) Shared() netif.Device { return m.shared }

// Host returns the interface host.
func (m *Manager) Host() netif.Host { return m.host }

// Close removes the shared device and the static routes. Interfaces of
// sessions are the sessions' to remove first.
func (m *Manager) Close() {
	m.routesMu.Lock()
	stop := m.stopWatch
	m.stopWatch = nil
	m.routesMu.Unlock()
	if stop != nil {
		stop()
	}
	m.RemoveStaticRoutes()
	if m.shared != nil {
		m.shared.Close()
	}
}

// AllocAccess returns the lowest free Virtual-Access unit, as IOS numbers
// them: units freed by ended sessions are reused lowest first (a min-heap),
// otherwise the next unused number. O(log n).
func (m *Manager) AllocAccess() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freeUnits.Len() > 0 {
		u := heap.Pop(&m.freeUnits).(int)
		delete(m.isFree, u)
		return u
	}
	m.nextUnit++
	return m.nextUnit
}

// FreeAccess returns a Virtual-Access unit. A unit freed twice is freed
// once: handing it out twice would give two sessions one interface.
func (m *Manager) FreeAccess(u int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u <= 0 || u > m.nextUnit || m.isFree[u] {
		return
	}
	if m.isFree == nil {
		m.isFree = map[int]bool{}
	}
	m.isFree[u] = true
	heap.Push(&m.freeUnits, u)
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

// Route is a route through an interface, optionally via a gateway; for
// static routes of the configuration, a gateway alone (the kernel picks
// the interface).
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
}

// Spec describes the interface a session's network layer needs.
type Spec struct {
	// Name is the device name: the short IOS name ("Vi3", "Vp1").
	Name string
	Kind Kind
	// Local and Peer are the point-to-point addresses IPCP agreed.
	Local, Peer netip.Addr
	MTU         int
	// Routes go through the interface while it is up: framed routes, the
	// configuration's `ip route ... Virtual-PPP1`.
	Routes []Route
	// Shared puts a Virtual-Access on the shared device (shared mode).
	Shared bool
	// Ethernet makes a TAP (Ethernet pseudowires) instead of a TUN.
	Ethernet bool
}

// Interface is an interface that is up.
type Interface struct {
	m      *Manager
	spec   Spec
	dev    netif.Device
	routes []Route // installed
	once   sync.Once
	learnt map[netip.Prefix]bool // routes through it the host has; guarded by m.routesMu
}

// Error is a failure to make or change an interface; the access layer
// reports it as an interface failure, whatever the kernel said.
type Error struct {
	Interface string
	Op        string
	Err       error
}

func (e *Error) Error() string { return fmt.Sprintf("vif: %s: %s: %v", e.Interface, e.Op, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Up brings the interface of spec up: its own device with addresses and
// routes, or a host route on the shared device. On error nothing is left
// behind.
func (m *Manager) Up(spec Spec) (*Interface, error) {
	if spec.Shared && m.shared != nil {
		return m.upShared(spec)
	}
	h := m.host
	var dev netif.Device
	var err error
	if spec.Ethernet {
		dev, err = h.CreateTAP(spec.Name)
	} else {
		dev, err = h.CreateTUN(spec.Name, m.offload)
	}
	if err != nil {
		return nil, &Error{Interface: spec.Name, Op: "create", Err: err}
	}
	ifc := &Interface{m: m, spec: spec, dev: dev}
	fail := func(op string, err error) (*Interface, error) {
		dev.Close() // removes the device with its addresses and routes
		return nil, &Error{Interface: spec.Name, Op: op, Err: err}
	}
	if spec.MTU > 0 {
		if err := h.SetMTU(spec.Name, spec.MTU); err != nil {
			return fail("mtu", err)
		}
	}
	if spec.Local.IsValid() {
		if spec.Peer.IsValid() {
			err = h.AddPeerAddress(spec.Name, spec.Local, spec.Peer)
		} else {
			err = h.AddAddress(spec.Name, netip.PrefixFrom(spec.Local, spec.Local.BitLen()))
		}
		if err != nil {
			return fail("address", err)
		}
	}
	if err := h.SetUp(spec.Name); err != nil {
		return fail("up", err)
	}
	for _, r := range spec.Routes {
		// A route that cannot be installed is logged, not fatal: IOS
		// keeps the interface up without it.
		if err := h.AddRoute(spec.Name, netif.Route{Dst: r.Dst, Gateway: r.Gateway}); err != nil {
			m.log.Error("route", "interface", spec.Name, "route", r.Dst.String(), "err", err)
			continue
		}
		ifc.routes = append(ifc.routes, r)
	}
	m.mu.Lock()
	m.up[spec.Name] = ifc
	m.mu.Unlock()
	return ifc, nil
}

// upShared adds the local address to the shared device once and a host
// route to the peer (and the session's routes) through it.
func (m *Manager) upShared(spec Spec) (*Interface, error) {
	h := m.host
	m.mu.Lock()
	if a := spec.Local; a.IsValid() && !m.sharedLocal[a] {
		// Once on vpdn0, the address stays there for the sessions of
		// the template that come and go with it.
		if err := h.AddAddress(SharedName, netip.PrefixFrom(a, a.BitLen())); err != nil && !errors.Is(err, fs.ErrExist) {
			m.mu.Unlock()
			return nil, &Error{Interface: SharedName, Op: "address", Err: err}
		}
		m.sharedLocal[a] = true
	}
	m.mu.Unlock()
	ifc := &Interface{m: m, spec: spec}
	routes := spec.Routes
	if spec.Peer.IsValid() {
		routes = append([]Route{{Dst: netip.PrefixFrom(spec.Peer, spec.Peer.BitLen())}}, routes...)
	}
	for i, r := range routes {
		if err := h.AddRoute(SharedName, netif.Route{Dst: r.Dst, Gateway: r.Gateway}); err != nil {
			if i == 0 && spec.Peer.IsValid() {
				ifc.Down()
				return nil, &Error{Interface: spec.Name, Op: "route to the peer on " + SharedName, Err: err}
			}
			m.log.Error("route", "interface", spec.Name, "route", r.Dst.String(), "err", err)
			continue
		}
		ifc.routes = append(ifc.routes, r)
	}
	return ifc, nil
}

// Device returns the interface's own device; nil on the shared device.
func (i *Interface) Device() netif.Device { return i.dev }

// Name returns the device name.
func (i *Interface) Name() string { return i.spec.Name }

// Spec returns what the interface was made from.
func (i *Interface) Spec() Spec { return i.spec }

// Offload reports whether the device carries virtio_net_hdr offloads.
func (i *Interface) Offload() bool {
	o, ok := i.dev.(netif.Offloader)
	return ok && o.Offload()
}

// ErrSharedIPv6 is returned by AddIPv6 for an interface on the shared
// device: its sessions are told apart by their IPv4 address only.
var ErrSharedIPv6 = errors.New("vif: IPv6 is not supported yet on the shared device (vpdn0)")

// AddIPv6 gives the interface's own device an IPv6 address (the PPP
// link's link-local address, fe80::ID/64: RFC 5072 §5) and routes through
// it (the session's prefix; a delegated prefix with the peer's link-local
// address as its gateway). A route that cannot be installed is logged, as
// Up does; the address failing is an error.
func (i *Interface) AddIPv6(addr netip.Prefix, routes []Route) error {
	if i.dev == nil {
		return ErrSharedIPv6
	}
	h := i.m.host
	if err := h.AddAddress(i.spec.Name, addr); err != nil && !errors.Is(err, fs.ErrExist) {
		return &Error{Interface: i.spec.Name, Op: "ipv6 address", Err: err}
	}
	for _, r := range routes {
		if err := h.AddRoute(i.spec.Name, netif.Route{Dst: r.Dst, Gateway: r.Gateway}); err != nil && !errors.Is(err, fs.ErrExist) {
			i.m.log.Error("route", "interface", i.spec.Name, "route", r.Dst.String(), "err", err)
		}
	}
	return nil
}

// DelIPv6 takes back what AddIPv6 gave (IPv6CP closed while IPv4 stays).
func (i *Interface) DelIPv6(addr netip.Prefix, routes []Route) {
	if i.dev == nil {
		return
	}
	h := i.m.host
	for _, r := range routes {
		h.DelRoute(i.spec.Name, netif.Route{Dst: r.Dst, Gateway: r.Gateway})
	}
	h.DelAddress(i.spec.Name, addr)
}

// Down removes the interface: its device (with its addresses and routes),
// or its routes on the shared device. It may be called more than once.
func (i *Interface) Down() {
	i.once.Do(func() {
		m := i.m
		m.mu.Lock()
		if m.up[i.spec.Name] == i {
			delete(m.up, i.spec.Name)
		}
		m.mu.Unlock()
		if i.dev != nil {
			i.dev.Close()
			return
		}
		for _, r := range i.routes {
			if err := m.host.DelRoute(SharedName, netif.Route{Dst: r.Dst, Gateway: r.Gateway}); err != nil {
				m.log.Error("route", "interface", i.spec.Name, "route", r.Dst.String(), "err", err)
			}
		}

	})
}

// Lookup returns the interface of that device name that is up (those with
// a device of their own: shared ones are not kept by name).
func (m *Manager) Lookup(name string) *Interface {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up[name]
}

// SetStaticRoutes replaces the next-hop static routes of the
// configuration (`ip route PREFIX MASK NEXTHOP`); they are installed by
// InstallStaticRoutes once their next hop resolves. Routes no longer in
// the configuration are removed.
func (m *Manager) SetStaticRoutes(rs []Route) {
	m.staticMu.Lock()
	keep := map[Route]bool{}
	for _, r := range rs {
		keep[r] = true
	}
	for r := range m.applied {
		if !keep[r] {
			m.host.DelGatewayRoute(r.Dst, r.Gateway)
			delete(m.applied, r)
		}
	}
	m.static = append([]Route(nil), rs...)
	m.staticMu.Unlock()
	m.InstallStaticRoutes()
}

// InstallStaticRoutes tries the static routes not installed yet. IOS keeps
// such a route until its next hop resolves: it is tried at start and
// whenever an interface comes up (the kernel drops it with the interface
// it went through, so the applied set is re-tried too).
func (m *Manager) InstallStaticRoutes() {
	m.staticMu.Lock()
	defer m.staticMu.Unlock()
	for _, r := range m.static {
		if err := m.host.AddGatewayRoute(r.Dst, r.Gateway); err != nil {
			m.log.Debug("static route pending", "route", r.Dst.String(), "via", r.Gateway.String(), "err", err)
			continue
		}
		m.applied[r] = true
	}
}

// RemoveStaticRoutes takes out the static routes installed, so that the
// host's table is as it was.
func (m *Manager) RemoveStaticRoutes() {
	m.staticMu.Lock()
	defer m.staticMu.Unlock()
	for r := range m.applied {
		m.host.DelGatewayRoute(r.Dst, r.Gateway)
		delete(m.applied, r)
	}
}
