package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// FakeHost is a Host in memory, for tests: devices are Fakes, and it
// records MTUs, up/down, addresses and routes, with the kernel's rules
// where callers meet them — a duplicate address or route is EEXIST, an
// unknown device ENODEV, a route through a link that is down ENETDOWN, a
// gateway that no link reaches ENETUNREACH, and closing a device removes
// its addresses and the routes through it. Errors wrap the kernel's errno
// (errors.Is(err, unix.EEXIST) holds as for the kernel, and so do
// errors.Is(err, fs.ErrExist) and errors.Is(err, ErrNoDevice)).
type FakeHost struct {
	// Depth is the queue depth of the Fakes it makes (256 when zero).
	// Set it before creating devices.
	Depth int

	nat fakeNAT

	mu      sync.Mutex
	links   map[string]*fakeLink
	routes  []FakeRoute // added with AddRoute and AddGatewayRoute
	macs    uint32
	watches map[*fakeWatch]struct{}
}

type fakeLink struct {
	dev   *Fake
	tap   bool
	mtu   int
	up    bool
	addrs []FakeAddr
}

// FakeAddr is an address of a FakeHost link.
type FakeAddr struct {
	Prefix netip.Prefix // the local address and prefix length
	Peer   netip.Addr   // the peer's, on a point-to-point address
}

// FakeRoute is a route a FakeHost keeps.
type FakeRoute struct {
	Route
	Dev       string // the link it goes through (resolved from the gateway, for AddGatewayRoute)
	ByGateway bool   // added with AddGatewayRoute
}

// FakeLink is what a FakeHost knows of one link.
type FakeLink struct {
	Name    string
	TAP     bool
	Offload bool
	MTU     int
	Up      bool
	Addrs   []FakeAddr
}

// NewFakeHost returns an empty FakeHost.
func NewFakeHost() *FakeHost {
	return &FakeHost{links: map[string]*fakeLink{}, watches: map[*fakeWatch]struct{}{}}
}

func errnoErr(e unix.Errno) error { return &kernelError{errno: e} }

func (h *FakeHost) depth() int {
	if h.Depth > 0 {
		return h.Depth
	}
	return 256
}

// CreateTUN creates a Fake standing for a TUN (with a virtio_net_hdr if
// offload), MTU 1500, down.
func (h *FakeHost) CreateTUN(name string, offload bool) (Device, error) {
	if err := checkName("TUN", name); err != nil {
		return nil, err
	}
	var f *Fake
	if offload {
		f = NewFakeOffload(name, h.depth())
	} else {
		f = NewFake(name, h.depth())
	}
	if err := h.add("TUN", f, false); err != nil {
		return nil, err
	}
	return f, nil
}

// CreateTAP creates a Fake standing for a TAP, with a locally
// administered MAC address of its own.
func (h *FakeHost) CreateTAP(name string) (Device, error) {
	if err := checkName("TAP", name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.macs++
	n := h.macs
	h.mu.Unlock()
	f := NewFakeTAP(name, h.depth(), net.HardwareAddr{0x02, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	if err := h.add("TAP", f, true); err != nil {
		return nil, err
	}
	return f, nil
}

func (h *FakeHost) add(kind string, f *Fake, tap bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.links[f.name]; ok {
		return fmt.Errorf("netif: %s %s: the name is in use: %w", kind, f.name, fs.ErrExist)
	}
	h.links[f.name] = &fakeLink{dev: f, tap: tap, mtu: 1500}
	f.onClose = func() { h.remove(f) }
	return nil
}

// remove is a device's Close: the link goes, with its addresses and the
// routes through it.
func (h *FakeHost) remove(f *Fake) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.links[f.name]; l == nil || l.dev != f {
		return
	}
	delete(h.links, f.name)
	h.routes = slices.DeleteFunc(h.routes, func(r FakeRoute) bool {
		if r.Dev == f.name {
			h.notify(r.Dev, r.Dst, true)
			return true
		}
		return false
	})
}

// link returns the link name; called with h.mu held.
func (h *FakeHost) link(name string) (*fakeLink, error) {
	l := h.links[name]
	if l == nil {
		return nil, errnoErr(unix.ENODEV)
	}
	return l, nil
}

// SetMTU sets a link's MTU (68 to 65535, as for a TUN).
func (h *FakeHost) SetMTU(name string, mtu int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err == nil && (mtu < 68 || mtu > 65535) {
		err = errnoErr(unix.EINVAL)
	}
	if err != nil {
		return fmt.Errorf("netif: %s mtu %d: %w", name, mtu, err)
	}
	l.mtu = mtu
	return nil
}

// SetUp brings a link up.
func (h *FakeHost) SetUp(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return fmt.Errorf("netif: %s up: %w", name, err)
	}
	l.up = true
	return nil
}

// AddPeerAddress adds a point-to-point address.
func (h *FakeHost) AddPeerAddress(name string, local, peer netip.Addr) error {
	local, peer = local.Unmap(), peer.Unmap()
	if !local.IsValid() || !peer.IsValid() || local.Is4() != peer.Is4() {
		return fmt.Errorf("netif: %s address %s peer %s: expected two addresses of one family", name, local, peer)
	}
	if err := h.addAddr(name, FakeAddr{Prefix: netip.PrefixFrom(local, local.BitLen()), Peer: peer}); err != nil {
		return fmt.Errorf("netif: %s address %s peer %s: %w", name, local, peer, err)
	}
	return nil
}

// AddAddress adds a prefix to a link.
func (h *FakeHost) AddAddress(name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("netif: %s address %s: invalid", name, p)
	}
	a := p.Addr().Unmap()
	if err := h.addAddr(name, FakeAddr{Prefix: netip.PrefixFrom(a, min(p.Bits(), a.BitLen()))}); err != nil {
		return fmt.Errorf("netif: %s address %s: %w", name, p, err)
	}
	return nil
}

func (h *FakeHost) addAddr(name string, a FakeAddr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return err
	}
	if slices.Contains(l.addrs, a) {
		return errnoErr(unix.EEXIST)
	}
	l.addrs = append(l.addrs, a)
	return nil
}

// DelAddress removes the address with p's local address and length
// (point-to-point or not).
func (h *FakeHost) DelAddress(name string, p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err == nil && !p.IsValid() {
		return fmt.Errorf("netif: %s delete address %s: invalid", name, p)
	}
	if err == nil {
		a := p.Addr().Unmap()
		want := netip.PrefixFrom(a, min(p.Bits(), a.BitLen()))
		i := slices.IndexFunc(l.addrs, func(x FakeAddr) bool { return x.Prefix == want })
		if i < 0 {
			err = errnoErr(unix.EADDRNOTAVAIL)
		} else {
			l.addrs = slices.Delete(l.addrs, i, i+1)
		}
	}
	if err != nil {
		return fmt.Errorf("netif: %s delete address %s: %w", name, p, err)
	}
	return nil
}

// Addrs returns a link's addresses.
func (h *FakeHost) Addrs(name string) ([]netip.Prefix, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return nil, fmt.Errorf("netif: %s addresses: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range l.addrs {
		out = append(out, a.Prefix)
	}
	return out, nil
}

// connected returns the routes the kernel derives from a link's addresses
// while it is up: to the peer of a point-to-point address, and to the
// prefix of an address shorter than a host route. Called with h.mu held.
func (l *fakeLink) connected() []Route {
	if !l.up {
		return nil
	}
	var rs []Route
	for _, a := range l.addrs {
		switch {
		case a.Peer.IsValid():
			rs = append(rs, Route{Dst: netip.PrefixFrom(a.Peer, a.Prefix.Bits()).Masked(), Src: a.Prefix.Addr()})
		case a.Prefix.Bits() < a.Prefix.Addr().BitLen():
			rs = append(rs, Route{Dst: a.Prefix.Masked(), Src: a.Prefix.Addr()})
		}
	}
	return rs
}

// routeExists reports whether the main table has a route to r.Dst with
// r's metric (the kernel's key for NLM_F_EXCL). Called with h.mu held.
func (h *FakeHost) routeExists(r Route) bool {
	for _, x := range h.routes {
		if x.Dst == r.Dst && x.Metric == r.Metric {
			return true
		}
	}
	for _, l := range h.links {
		for _, x := range l.connected() {
			if x.Dst == r.Dst && r.Metric == 0 {
				return true
			}
		}
	}
	return false
}

// reaches reports whether a is on link name's connected networks or on a
// direct route through it. Called with h.mu held.
func (h *FakeHost) reaches(name string, a netip.Addr) bool {
	l := h.links[name]
	if l == nil || !l.up {
		return false
	}
	for _, r := range l.connected() {
		if r.Dst.Contains(a) {
			return true
		}
	}
	for _, r := range h.routes {
		if r.Dev == name && !r.Gateway.IsValid() && r.Dst.Contains(a) {
			return true
		}
	}
	return false
}

// local reports whether a is an address of one of the links. Called with
// h.mu held.
func (h *FakeHost) local(a netip.Addr) bool {
	for _, l := range h.links {
		for _, x := range l.addrs {
			if x.Prefix.Addr() == a {
				return true
			}
		}
	}
	return false
}

// AddRoute installs a route through link name; the link must be up, a
// gateway reachable through it, and a source address local.
func (h *FakeHost) AddRoute(name string, r Route) error {
	r, err := checkRoute(r)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	switch {
	case err != nil:
	case !l.up:
		err = errnoErr(unix.ENETDOWN)
	case r.Gateway.IsValid() && !h.reaches(name, r.Gateway):
		err = errnoErr(unix.ENETUNREACH)
	case r.Src.IsValid() && !h.local(r.Src):
		err = errnoErr(unix.EINVAL) // the kernel: "Invalid prefsrc address"
	case h.routeExists(r):
		return fmt.Errorf("netif: route %s via %s: a route to %s exists already: %w", r.Dst, name, r.Dst, errnoErr(unix.EEXIST))
	}
	if err != nil {
		return fmt.Errorf("netif: route %s via %s: %w", r.Dst, name, err)
	}
	h.routes = append(h.routes, FakeRoute{Route: r, Dev: name})
	h.notify(name, r.Dst, false)
	return nil
}

// DelRoute removes a route through link name; absent is not an error.
func (h *FakeHost) DelRoute(name string, r Route) error {
	r, err := checkRoute(r)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.link(name); err != nil {
		return fmt.Errorf("netif: delete route %s via %s: %w", r.Dst, name, err)
	}
	i := slices.IndexFunc(h.routes, func(x FakeRoute) bool {
		return x.Dev == name && !x.ByGateway && x.Dst == r.Dst &&
			(!r.Gateway.IsValid() || x.Gateway == r.Gateway) && (r.Metric == 0 || x.Metric == r.Metric) &&
			(!r.Src.IsValid() || x.Src == r.Src)
	})
	if i >= 0 {
		h.routes = slices.Delete(h.routes, i, i+1)
		h.notify(name, r.Dst, true)
	}
	return nil
}

// AddGatewayRoute installs dst via gw through the first link (by name)
// that reaches gw.
func (h *FakeHost) AddGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	r, err := checkRoute(Route{Dst: dst, Gateway: gw})
	if err == nil && !r.Gateway.IsValid() {
		err = fmt.Errorf("netif: route %s: no gateway", dst)
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.routeExists(r) {
		return nil
	}
	names := make([]string, 0, len(h.links))
	for n := range h.links {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if h.reaches(n, r.Gateway) {
			h.routes = append(h.routes, FakeRoute{Route: r, Dev: n, ByGateway: true})
			h.notify(n, r.Dst, false)
			return nil
		}
	}
	return fmt.Errorf("netif: route %s via %s: %w", dst, gw, errnoErr(unix.ENETUNREACH))
}

// DelGatewayRoute removes dst via gw; absent is not an error.
func (h *FakeHost) DelGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	r, err := checkRoute(Route{Dst: dst, Gateway: gw})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.routes = slices.DeleteFunc(h.routes, func(x FakeRoute) bool {
		if x.ByGateway && x.Dst == r.Dst && x.Gateway == r.Gateway {
			h.notify(x.Dev, x.Dst, true)
			return true
		}
		return false
	})
	return nil
}

// Exists reports whether a link of that name exists.
func (h *FakeHost) Exists(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.links[name] != nil
}

// Device returns the Fake of link name, or nil.
func (h *FakeHost) Device(name string) *Fake {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.links[name]; l != nil {
		return l.dev
	}
	return nil
}

// Link returns what the FakeHost knows of link name.
func (h *FakeHost) Link(name string) (FakeLink, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.links[name]
	if l == nil {
		return FakeLink{}, false
	}
	return FakeLink{Name: name, TAP: l.tap, Offload: l.dev.offload, MTU: l.mtu, Up: l.up, Addrs: slices.Clone(l.addrs)}, true
}

// Links returns the names of the links, sorted.
func (h *FakeHost) Links() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.links))
	for n := range h.links {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Routes returns the IPv4 routes through link name, as Kernel.Routes
// does: those added and those the link's addresses make while it is up.
func (h *FakeHost) Routes(name string) ([]Route, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, err := h.link(name)
	if err != nil {
		return nil, fmt.Errorf("netif: routes of %s: %w", name, err)
	}
	var out []Route
	for _, r := range l.connected() {
		if r.Dst.Addr().Is4() {
			out = append(out, r)
		}
	}
	for _, r := range h.routes {
		if r.Dev == name && r.Dst.Addr().Is4() && r.Dst.Bits() > 0 {
			out = append(out, r.Route)
		}
	}
	return out, nil
}

// AllRoutes returns every route added with AddRoute or AddGatewayRoute
// that is still there, in the order they were added.
func (h *FakeHost) AllRoutes() []FakeRoute {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.routes)
}

// WatchRoutes calls f for every route the FakeHost adds (AddRoute, and
// AddGatewayRoute through the link it resolves the gateway to) and
// removes (DelRoute, DelGatewayRoute, and the routes through a device
// that closes), with del false and true, until stop is called (see
// Kernel.WatchRoutes). The routes a link's addresses make are not
// reported (the kernel's are). Reports are asynchronous, in order: f runs
// on a goroutine of the watch's, one call at a time, which waits on
// channels only, so that a watch started in a testing/synctest bubble
// idles durably there (synctest.Wait then lets every report in). stop
// waits for the goroutine and must not be called from f; reports still
// queued are dropped.
func (h *FakeHost) WatchRoutes(f func(dev string, dst netip.Prefix, del bool)) (stop func(), err error) {
	if f == nil {
		return nil, errors.New("netif: route watch without a function")
	}
	w := &fakeWatch{f: f, kick: make(chan struct{}, 1), stopc: make(chan struct{}), done: make(chan struct{})}
	h.mu.Lock()
	h.watches[w] = struct{}{}
	h.mu.Unlock()
	go w.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.watches, w)
			h.mu.Unlock()
			close(w.stopc)
			<-w.done
		})
	}, nil
}

// fakeWatch is one WatchRoutes of a FakeHost: a queue of reports and the
// goroutine that makes them.
type fakeWatch struct {
	f     func(dev string, dst netip.Prefix, del bool)
	mu    sync.Mutex
	queue []fakeRouteEvent
	kick  chan struct{} // 1-buffered: the queue has reports
	stopc chan struct{}
	done  chan struct{}
}

type fakeRouteEvent struct {
	dev string
	dst netip.Prefix
	del bool
}

// notify queues a report for every watch. Called with h.mu held, so
// reports are queued in the order of the changes.
func (h *FakeHost) notify(dev string, dst netip.Prefix, del bool) {
	for w := range h.watches {
		w.mu.Lock()
		w.queue = append(w.queue, fakeRouteEvent{dev, dst, del})
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *fakeWatch) run() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
			w.mu.Lock()
			q := w.queue
			w.queue = nil
			w.mu.Unlock()
			for _, e := range q {
				select {
				case <-w.stopc:
					return
				default:
				}
				w.f(e.dev, e.dst, e.del)
			}
		case <-w.stopc:
			return
		}
	}
}
