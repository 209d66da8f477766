package netif

import (
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// Host is the kernel boundary: creating devices and giving them MTUs,
// addresses and routes. System is the kernel; a FakeHost keeps everything
// in memory, so that the layers above run without root in tests.
//
// Errors: a duplicate device, address or route satisfies
// errors.Is(err, fs.ErrExist); an unknown device errors.Is(err,
// ErrNoDevice). Removing an absent route is not an error.
type Host interface {
	// CreateTUN creates a TUN device. offload: IFF_VNET_HDR and TSO when
	// the kernel accepts them (see CreateTUNOffload). The device has no
	// IPv6 until an IPv6 address is added to it (see Kernel.CreateTUN).
	CreateTUN(name string, offload bool) (Device, error)
	// CreateTAP creates a TAP device (Ethernet frames); the device
	// implements HardwareAddresser.
	CreateTAP(name string) (Device, error)
	SetMTU(name string, mtu int) error
	SetUp(name string) error
	// AddPeerAddress gives a point-to-point link its local address and the
	// peer's (`ip addr add LOCAL peer PEER`), which also installs the host
	// route to the peer, as IOS does for a Virtual-Access interface.
	AddPeerAddress(name string, local, peer netip.Addr) error
	AddAddress(name string, p netip.Prefix) error
	DelAddress(name string, p netip.Prefix) error
	Addrs(name string) ([]netip.Prefix, error)
	// AddRoute installs a route through link name; DelRoute removes it
	// (a route that is already gone is not an error).
	AddRoute(name string, r Route) error
	DelRoute(name string, r Route) error
	// AddGatewayRoute installs dst via gw, letting the kernel choose the
	// link that reaches gw. It fails while gw is unreachable (the caller
	// retries when an interface comes up); an existing route to dst is
	// not an error. DelGatewayRoute removes it (absent: not an error).
	AddGatewayRoute(dst netip.Prefix, gw netip.Addr) error
	DelGatewayRoute(dst netip.Prefix, gw netip.Addr) error
	Exists(name string) bool
}

// Route is a route through a link, optionally via a gateway.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // zero: directly through the link
	Metric  int
	// Src is the preferred source address of packets the host sends
	// along the route (RTA_PREFSRC, `ip route … src`); zero: the
	// kernel's choice. It lets a point-to-point link borrow its local
	// address from another interface (IOS `ip unnumbered`) with a route
	// instead of an address of its own.
	Src netip.Addr
}

// System is the kernel, through netlink, in the network namespace of the
// calling thread: the process's, for any goroutine that has not locked
// its thread into another one. It keeps one Kernel (one netlink socket and
// its index cache) for the process's namespace for the life of the
// process; in another namespace (a test that entered one) it keeps one
// while devices made there are open, and opens one per call otherwise, so
// that it never holds a namespace alive that nothing of ours uses.
var System Host = system{}

// nsID names a network namespace: the identity of its /proc/…/ns/net file.
type nsID struct{ dev, ino uint64 }

func nsOf(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{st.Dev, st.Ino}, nil
}

// threadNS returns the network namespace of the calling thread.
func threadNS() (nsID, error) { return nsOf("/proc/thread-self/ns/net") }

var sys struct {
	mu      sync.Mutex
	proc    nsID // the process's namespace (its main thread's)
	procErr error
	once    bool
	kernels map[nsID]*sysKernel
}

type sysKernel struct {
	k    *Kernel
	refs int
	proc bool // never closed
}

// acquireKernel returns the Kernel of the calling thread's namespace and
// the function that releases it.
func acquireKernel() (*Kernel, func(), error) {
	id, err := threadNS()
	if err != nil {
		// Without /proc there is no telling namespaces apart: a
		// Kernel for this call only.
		k, err := NewKernel()
		if err != nil {
			return nil, nil, err
		}
		return k, func() { k.Close() }, nil
	}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	if !sys.once {
		sys.once = true
		sys.proc, sys.procErr = nsOf("/proc/self/ns/net")
		sys.kernels = map[nsID]*sysKernel{}
	}
	e := sys.kernels[id]
	if e == nil {
		k, err := openKernel(id)
		if err != nil {
			return nil, nil, err
		}
		e = &sysKernel{k: k, proc: sys.procErr == nil && id == sys.proc}
		sys.kernels[id] = e
	}
	e.refs++
	var once sync.Once
	return e.k, func() { once.Do(func() { releaseKernel(id, e) }) }, nil
}

func releaseKernel(id nsID, e *sysKernel) {
	sys.mu.Lock()
	defer sys.mu.Unlock()
	e.refs--
	if e.refs == 0 && !e.proc {
		delete(sys.kernels, id)
		e.k.Close()
	}
}

type system struct{}

func systemCreateTUN(name string, offload bool) (*TUN, error) {
	k, release, err := acquireKernel()
	if err != nil {
		return nil, err
	}
	t, err := k.createTUN(name, offload)
	if err != nil {
		release()
		return nil, err
	}
	t.release = release // held while the device is open
	return t, nil
}

func systemCreateTAP(name string) (*TAP, error) {
	k, release, err := acquireKernel()
	if err != nil {
		return nil, err
	}
	t, err := k.createTAP(name)
	if err != nil {
		release()
		return nil, err
	}
	t.release = release
	return t, nil
}

func (system) CreateTUN(name string, offload bool) (Device, error) {
	t, err := systemCreateTUN(name, offload)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (system) CreateTAP(name string) (Device, error) {
	t, err := systemCreateTAP(name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// withKernel runs fn on the Kernel of the calling thread's namespace.
func withKernel(fn func(k *Kernel) error) error {
	k, release, err := acquireKernel()
	if err != nil {
		return err
	}
	defer release()
	return fn(k)
}

func (system) SetMTU(name string, mtu int) error {
	return withKernel(func(k *Kernel) error { return k.SetMTU(name, mtu) })
}

func (system) SetUp(name string) error {
	return withKernel(func(k *Kernel) error { return k.SetUp(name) })
}

func (system) AddPeerAddress(name string, local, peer netip.Addr) error {
	return withKernel(func(k *Kernel) error { return k.AddPeerAddress(name, local, peer) })
}

func (system) AddAddress(name string, p netip.Prefix) error {
	return withKernel(func(k *Kernel) error { return k.AddAddress(name, p) })
}

func (system) DelAddress(name string, p netip.Prefix) error {
	return withKernel(func(k *Kernel) error { return k.DelAddress(name, p) })
}

func (system) Addrs(name string) (ps []netip.Prefix, err error) {
	err = withKernel(func(k *Kernel) error { ps, err = k.Addrs(name); return err })
	return ps, err
}

func (system) AddRoute(name string, r Route) error {
	return withKernel(func(k *Kernel) error { return k.AddRoute(name, r) })
}

func (system) DelRoute(name string, r Route) error {
	return withKernel(func(k *Kernel) error { return k.DelRoute(name, r) })
}

func (system) AddGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	return withKernel(func(k *Kernel) error { return k.AddGatewayRoute(dst, gw) })
}

func (system) DelGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	return withKernel(func(k *Kernel) error { return k.DelGatewayRoute(dst, gw) })
}

func (system) Exists(name string) bool {
	ok := false
	withKernel(func(k *Kernel) error { ok = k.Exists(name); return nil })
	return ok
}

// WatchRoutes watches the routes of the calling thread's namespace (see
// Kernel.WatchRoutes), holding its Kernel until stop.
func (system) WatchRoutes(f func(dev string, dst netip.Prefix, del bool)) (stop func(), err error) {
	k, release, err := acquireKernel()
	if err != nil {
		return nil, err
	}
	kstop, err := k.WatchRoutes(f)
	if err != nil {
		release()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { kstop(); release() }) }, nil
}

// The functions below are shorthands for System's methods (and Routes
// for the Kernel's), for callers that configure the kernel directly.

// SetUp brings a link up.
func SetUp(name string) error { return System.SetUp(name) }

// SetMTU sets a link's MTU.
func SetMTU(name string, mtu int) error { return System.SetMTU(name, mtu) }

// AddPeerAddress gives a point-to-point link its local and peer addresses.
func AddPeerAddress(name string, local, peer netip.Addr) error {
	return System.AddPeerAddress(name, local, peer)
}

// AddAddress adds a prefix to a link.
func AddAddress(name string, p netip.Prefix) error { return System.AddAddress(name, p) }

// Addrs returns a link's addresses.
func Addrs(name string) ([]netip.Prefix, error) { return System.Addrs(name) }

// AddRoute installs a route through link name.
func AddRoute(name string, r Route) error { return System.AddRoute(name, r) }

// DelRoute removes a route through link name; absent is not an error.
func DelRoute(name string, r Route) error { return System.DelRoute(name, r) }

// AddGatewayRoute installs dst via gw.
func AddGatewayRoute(dst netip.Prefix, gw netip.Addr) error { return System.AddGatewayRoute(dst, gw) }

// DelGatewayRoute removes dst via gw; absent is not an error.
func DelGatewayRoute(dst netip.Prefix, gw netip.Addr) error { return System.DelGatewayRoute(dst, gw) }

// Exists reports whether a link of that name exists.
func Exists(name string) bool { return System.Exists(name) }

// Routes returns the IPv4 routes of the main table through link name.
func Routes(name string) (rs []Route, err error) {
	err = withKernel(func(k *Kernel) error { rs, err = k.Routes(name); return err })
	return rs, err
}

// LinkRoutes adds and removes routes through one link, looked up once. It
// is for a link that carries many routes which come and go quickly (the
// shared Virtual-Access interface, one host route per session). Safe for
// concurrent use.
type LinkRoutes struct {
	k       *Kernel
	release func()
	index   int32
	name    string
}

// OpenLinkRoutes looks link name up in the calling thread's namespace.
func OpenLinkRoutes(name string) (*LinkRoutes, error) {
	k, release, err := acquireKernel()
	if err != nil {
		return nil, err
	}
	idx, err := k.ifindex(name)
	if err != nil {
		release()
		return nil, fmt.Errorf("netif: link %s: %w", name, err)
	}
	return &LinkRoutes{k: k, release: release, index: idx, name: name}, nil
}

// Add installs r through the link.
func (lr *LinkRoutes) Add(r Route) error { return lr.k.addRoute(lr.name, lr.index, r) }

// Del removes r; a route that is already gone is not an error.
func (lr *LinkRoutes) Del(r Route) error { return lr.k.delRoute(lr.name, lr.index, r) }

// Close releases the netlink handle.
func (lr *LinkRoutes) Close() { lr.release() }
