package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Kernel is the Host of one network namespace: the one of the thread that
// called NewKernel. It keeps one netlink handle (vishvananda/netlink: one
// NETLINK_ROUTE socket) for all its requests and remembers the index of
// every device it created while that device is open, so that configuring
// a device by name costs one request (other names are looked up with one
// ioctl). Devices must be created from a thread in its namespace. Safe for
// concurrent use; requests are serialised on the socket (the kernel
// serialises them on its RTNL lock anyway).
type Kernel struct {
	ns  nsID           // zero if unknown
	nsh netns.NsHandle // the namespace, for subscriptions opened from other threads; closed if unknown

	// hmu is held for reading by every use of h and ctl, for writing by
	// Close: a closed Handle would quietly open sockets in the calling
	// thread's namespace, which may be another one.
	hmu    sync.RWMutex
	h      *netlink.Handle
	ctl    int // a socket of the namespace for the interface ioctls
	closed bool

	mu      sync.Mutex
	links   map[string]*klink // created through k and open
	names   map[int32]string  // the same, by index
	watches map[*routeWatch]struct{}

	// ipv6 is what adopt does to a new device's IPv6; other policies
	// than the default are for the set-up measurements.
	ipv6 v6Policy
	// watchRcvBuf is the receive buffer of route subscriptions (a test
	// makes it tiny to overflow it).
	watchRcvBuf int
}

type v6Policy uint8

const (
	v6Disable v6Policy = iota // disable_ipv6, else no link-local address
	v6GenNone                 // no link-local address only
	v6Keep                    // the kernel's defaults
)

type klink struct {
	index int32
	v6off bool // IPv6 disabled by us until an IPv6 address is added
}

// kernelTimeout bounds the wait for the kernel's answer to a request.
const kernelTimeout = 10 * time.Second

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (rtnetlink(7),
// IFLA_INET6_ADDR_GEN_MODE): the kernel makes no IPv6 link-local address
// for the link.
const in6AddrGenModeNone = 1

// NewKernel opens a Kernel in the calling thread's network namespace.
func NewKernel() (*Kernel, error) {
	id, _ := threadNS()
	return openKernel(id)
}

// openKernel opens a Kernel in the calling thread's namespace, id.
func openKernel(id nsID) (*Kernel, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netif: netlink handle: %w", err)
	}
	if err := h.SetSocketTimeout(kernelTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("netif: netlink timeout: %w", err)
	}
	// Best effort (4.20): dumps filtered in the kernel by interface and
	// table (Routes), not in user space after a dump of the namespace.
	h.SetStrictCheck(true)
	// Interface ioctls (SIOCGIFINDEX) act in the namespace of the socket
	// they are made on; this one never sends or receives.
	ctl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netif: control socket: %w", err)
	}
	nsh, err := netns.Get()
	if err != nil {
		nsh = netns.None() // without /proc: subscriptions from this namespace's threads only
	}
	return &Kernel{ns: id, nsh: nsh, h: h, ctl: ctl, links: map[string]*klink{}, names: map[int32]string{},
		watches: map[*routeWatch]struct{}{}}, nil
}

// Close stops the route watches (see WatchRoutes; not from inside one's
// function) and closes the netlink handle. Devices created through k stay
// open.
func (k *Kernel) Close() error {
	k.hmu.Lock()
	if k.closed {
		k.hmu.Unlock()
		return nil
	}
	k.closed = true // no new requests, nor watches
	k.hmu.Unlock()
	k.mu.Lock()
	ws := make([]*routeWatch, 0, len(k.watches))
	for w := range k.watches {
		ws = append(ws, w)
	}
	k.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
	k.hmu.Lock()
	defer k.hmu.Unlock()
	k.h.Close()
	unix.Close(k.ctl)
	k.nsh.Close()
	return nil
}

var errKernelClosed = errors.New("netif: netlink handle closed")

// do runs fn on the handle, and gives its error the shape of kernelError.
func (k *Kernel) do(fn func(h *netlink.Handle) error) error {
	k.hmu.RLock()
	defer k.hmu.RUnlock()
	if k.closed {
		return errKernelClosed
	}
	return kerr(fn(k.h))
}

// dump runs a dump again while the kernel reports it interrupted
// (NLM_F_DUMP_INTR: its tables changed meanwhile); fn starts afresh.
func (k *Kernel) dump(fn func(h *netlink.Handle) error) error {
	var err error
	for range 5 {
		if err = k.do(fn); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return fmt.Errorf("netif: netlink dump interrupted 5 times: %w", err)
}

// kernelError is an error the kernel answered, with its extended
// acknowledgement message when it gave one.
type kernelError struct {
	errno unix.Errno
	msg   string
}

func (e *kernelError) Error() string {
	if e.msg == "" {
		return e.errno.Error()
	}
	return e.errno.Error() + " (" + e.msg + ")"
}

func (e *kernelError) Unwrap() error { return e.errno }

func (e *kernelError) Is(target error) bool {
	return target == ErrNoDevice && e.errno == unix.ENODEV
}

// kerr turns the netlink library's errors for what the kernel answered
// (an errno, perhaps wrapped with the kernel's message; a link not found)
// into a *kernelError, which errors.Is matches against the errno and, for
// ENODEV, ErrNoDevice, as FakeHost's errors do.
func kerr(err error) error {
	if err == nil {
		return nil
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return &kernelError{errno: unix.ENODEV}
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err
	}
	msg, _ := strings.CutPrefix(err.Error(), errno.Error())
	msg, _ = strings.CutPrefix(msg, ": ")
	return &kernelError{errno: errno, msg: msg}
}

// ifindex looks a link's index up by name (SIOCGIFINDEX).
func (k *Kernel) ifindex(name string) (int32, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("netif: link %q: %w", name, err)
	}
	k.hmu.RLock()
	defer k.hmu.RUnlock()
	if k.closed {
		return 0, errKernelClosed
	}
	if err := unix.IoctlIfreq(k.ctl, unix.SIOCGIFINDEX, ifr); err != nil {
		if errno, ok := err.(unix.Errno); ok {
			return 0, &kernelError{errno: errno}
		}
		return 0, err
	}
	return int32(ifr.Uint32()), nil
}

// link is the netlink.Link the library's requests take: only its index
// is sent (and its name is in the library's errors).
func link(index int32, name string) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: int(index), Name: name}}
}

// inNamespace fails unless the calling thread is in k's namespace: devices
// and sysctl files belong to the namespace of the thread that opens them.
func (k *Kernel) inNamespace() error {
	if k.ns == (nsID{}) {
		return nil
	}
	id, err := threadNS()
	if err != nil || id == k.ns {
		return nil
	}
	return errors.New("netif: the calling thread is not in the Kernel's network namespace")
}

// CreateTUN creates a TUN device (see Host). The kernel gives every new
// device IPv6 — a link-local address, router solicitations and MLD
// reports sent into the link, and routes in the IPv6 table that every
// later device change walks, so that setting up and tearing down grow
// with the number of devices. A TUN made here has IPv6 disabled
// (net.ipv6.conf.NAME.disable_ipv6, or where /proc/sys is read-only, no
// automatic link-local address) until an IPv6 address is added to it: a
// PPP link carries IPv6 only once IPv6CP has opened (RFC 5072 §4), and
// then with the link-local address negotiated there.
func (k *Kernel) CreateTUN(name string, offload bool) (Device, error) {
	t, err := k.createTUN(name, offload)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// CreateTAP creates a TAP device, with IPv6 disabled like a TUN.
func (k *Kernel) CreateTAP(name string) (Device, error) {
	t, err := k.createTAP(name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (k *Kernel) createTUN(name string, offload bool) (*TUN, error) {
	if err := k.inNamespace(); err != nil {
		return nil, err
	}
	t, err := openTUN(name, offload)
	if err != nil {
		return nil, err
	}
	if err := k.adopt(&t.fdDev); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (k *Kernel) createTAP(name string) (*TAP, error) {
	if err := k.inNamespace(); err != nil {
		return nil, err
	}
	t, err := openTAP(name)
	if err != nil {
		return nil, err
	}
	if err := k.adopt(&t.fdDev); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// adopt records a new device's index and disables its IPv6.
func (k *Kernel) adopt(d *fdDev) error {
	idx, err := k.ifindex(d.name)
	if err != nil {
		return fmt.Errorf("netif: %s %s: %w", d.kind, d.name, err)
	}
	l := &klink{index: idx}
	switch err := k.disableIPv6(d.name); {
	case k.ipv6 == v6Keep:
	case k.ipv6 == v6GenNone:
		k.setAddrGenModeNone(idx, d.name)
	case err == nil:
		l.v6off = true
	case errors.Is(err, fs.ErrNotExist):
		// No IPv6 in this kernel.
	default:
		// /proc/sys is read-only (a container): at least no
		// link-local address, so nothing is sent into the link.
		k.setAddrGenModeNone(idx, d.name)
	}
	k.mu.Lock()
	k.links[d.name] = l
	k.names[idx] = d.name
	k.mu.Unlock()
	d.host, d.index = k, idx
	return nil
}

func (k *Kernel) disableIPv6(name string) error {
	if k.ipv6 != v6Disable {
		return nil
	}
	return writeSysctl(name, "disable_ipv6", "1")
}

func writeSysctl(dev, key, val string) error {
	f, err := os.OpenFile("/proc/sys/net/ipv6/conf/"+dev+"/"+key, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(val)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// forget drops a closed device from the index cache (unless the name
// already belongs to a newer device).
func (k *Kernel) forget(name string, index int32) {
	k.mu.Lock()
	if l := k.links[name]; l != nil && l.index == index {
		k.dropLocked(name, l)
	}
	k.mu.Unlock()
}

// dropLocked forgets link name and tells the route watches that its
// routes went with it. Called with k.mu held.
func (k *Kernel) dropLocked(name string, l *klink) {
	delete(k.links, name)
	if k.names[l.index] == name {
		delete(k.names, l.index)
	}
	for w := range k.watches {
		w.linkGone(l.index)
	}
}

// nameOf returns the name of a device k created, by index.
func (k *Kernel) nameOf(index int32) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok := k.names[index]
	return n, ok
}

// withLink runs op with the index of link name: the remembered one, or
// one looked up. A remembered index that the kernel no longer knows (the
// device was removed behind our back) is looked up again.
func (k *Kernel) withLink(name string, op func(index int32) error) error {
	k.mu.Lock()
	l := k.links[name]
	k.mu.Unlock()
	if l != nil {
		err := op(l.index)
		if !errors.Is(err, ErrNoDevice) {
			return err
		}
		k.mu.Lock()
		if k.links[name] == l {
			k.dropLocked(name, l)
		}
		k.mu.Unlock()
	}
	idx, err := k.ifindex(name)
	if err != nil {
		return err
	}
	return op(idx)
}

// setAddrGenModeNone: no automatic IPv6 link-local address on the link.
func (k *Kernel) setAddrGenModeNone(index int32, name string) error {
	return k.do(func(h *netlink.Handle) error {
		return h.LinkSetIP6AddrGenMode(link(index, name), in6AddrGenModeNone)
	})
}

// SetMTU sets a link's MTU.
func (k *Kernel) SetMTU(name string, mtu int) error {
	if mtu <= 0 || mtu > 1<<20 {
		return fmt.Errorf("netif: %s mtu %d: out of range", name, mtu)
	}
	err := k.withLink(name, func(i int32) error {
		return k.do(func(h *netlink.Handle) error { return h.LinkSetMTU(link(i, name), mtu) })
	})
	if err != nil {
		return fmt.Errorf("netif: %s mtu %d: %w", name, mtu, err)
	}
	return nil
}

// SetUp brings a link up.
func (k *Kernel) SetUp(name string) error {
	err := k.withLink(name, func(i int32) error {
		return k.do(func(h *netlink.Handle) error { return h.LinkSetUp(link(i, name)) })
	})
	if err != nil {
		return fmt.Errorf("netif: %s up: %w", name, err)
	}
	return nil
}

// HardwareAddr returns a link's MAC address.
func (k *Kernel) HardwareAddr(name string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := k.withLink(name, func(i int32) error {
		return k.do(func(h *netlink.Handle) error {
			l, err := h.LinkByIndex(int(i))
			if err == nil {
				mac = append(net.HardwareAddr(nil), l.Attrs().HardwareAddr...)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("netif: %s hardware address: %w", name, err)
	}
	return mac, nil
}

// SetHardwareAddr sets a link's MAC address.
func (k *Kernel) SetHardwareAddr(name string, mac net.HardwareAddr) error {
	if len(mac) == 0 {
		return fmt.Errorf("netif: %s hardware address: empty", name)
	}
	err := k.withLink(name, func(i int32) error {
		return k.do(func(h *netlink.Handle) error { return h.LinkSetHardwareAddr(link(i, name), mac) })
	})
	if err != nil {
		return fmt.Errorf("netif: %s hardware address %s: %w", name, mac, err)
	}
	return nil
}

// ipNet converts a prefix for the library.
func ipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

// AddPeerAddress gives a point-to-point link its local address and the
// peer's (see Host).
func (k *Kernel) AddPeerAddress(name string, local, peer netip.Addr) error {
	local, peer = local.Unmap(), peer.Unmap()
	if !local.IsValid() || !peer.IsValid() || local.Is4() != peer.Is4() {
		return fmt.Errorf("netif: %s address %s peer %s: expected two addresses of one family", name, local, peer)
	}
	// IFA_LOCAL local, IFA_ADDRESS peer; the prefix length is the peer's.
	a := &netlink.Addr{IPNet: ipNet(local, local.BitLen()), Peer: ipNet(peer, peer.BitLen())}
	if err := k.addAddr(name, a); err != nil {
		return fmt.Errorf("netif: %s address %s peer %s: %w", name, local, peer, err)
	}
	return nil
}

// AddAddress adds a prefix to a link (an IPv4 one shorter than /31 with
// its broadcast address, which the library adds).
func (k *Kernel) AddAddress(name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("netif: %s address %s: invalid", name, p)
	}
	a := p.Addr().Unmap()
	if err := k.addAddr(name, &netlink.Addr{IPNet: ipNet(a, min(p.Bits(), a.BitLen()))}); err != nil {
		return fmt.Errorf("netif: %s address %s: %w", name, p, err)
	}
	return nil
}

func (k *Kernel) addAddr(name string, a *netlink.Addr) error {
	if a.IP.To4() == nil {
		if err := k.enableIPv6(name); err != nil {
			return err
		}
	}
	return k.withLink(name, func(i int32) error {
		return k.do(func(h *netlink.Handle) error { return h.AddrAdd(link(i, name), a) })
	})
}

// enableIPv6 undoes what adopt did, for a device that gets an IPv6
// address: IPv6 on, still without an automatic link-local address.
func (k *Kernel) enableIPv6(name string) error {
	k.mu.Lock()
	l := k.links[name]
	off := l != nil && l.v6off
	k.mu.Unlock()
	if !off {
		return nil
	}
	if err := k.inNamespace(); err != nil {
		return err
	}
	if err := k.setAddrGenModeNone(l.index, name); err != nil {
		return fmt.Errorf("IPv6 address generation: %w", err)
	}
	if err := writeSysctl(name, "disable_ipv6", "0"); err != nil {
		return fmt.Errorf("enabling IPv6: %w", err)
	}
	k.mu.Lock()
	l.v6off = false
	k.mu.Unlock()
	return nil
}

// DelAddress removes a prefix (or a point-to-point address, given as
// local/32 or local/128) from a link.
func (k *Kernel) DelAddress(name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("netif: %s delete address %s: invalid", name, p)
	}
	a := p.Addr().Unmap()
	bits := min(p.Bits(), a.BitLen())
	err := k.withLink(name, func(i int32) error {
		l := link(i, name)
		del := &netlink.Addr{IPNet: ipNet(a, bits)}
		err := k.do(func(h *netlink.Handle) error { return h.AddrDel(l, del) })
		if !errors.Is(err, unix.EADDRNOTAVAIL) || !a.Is4() {
			return err
		}
		// The library sends IFA_ADDRESS, the local address unless a
		// peer is given, and IPv4 matches it against the peer of a
		// point-to-point address (inet_rtm_deladdr): ask again with
		// the peer the address has.
		var peer *net.IPNet
		lerr := k.dump(func(h *netlink.Handle) error {
			as, err := h.AddrList(l, netlink.FAMILY_V4)
			for _, x := range as {
				if x.Peer != nil && x.IP.Equal(del.IP) {
					if ones, _ := x.Peer.Mask.Size(); ones == bits {
						peer = x.Peer
					}
				}
			}
			return err
		})
		if lerr != nil || peer == nil {
			return err
		}
		del.Peer = peer
		return k.do(func(h *netlink.Handle) error { return h.AddrDel(l, del) })
	})
	if err != nil {
		return fmt.Errorf("netif: %s delete address %s: %w", name, p, err)
	}
	return nil
}

// Addrs returns a link's addresses, IPv4 and IPv6 (for a point-to-point
// address, the local one with its prefix length). The library asks the
// kernel for the addresses of the namespace and keeps the link's.
func (k *Kernel) Addrs(name string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := k.withLink(name, func(i int32) error {
		return k.dump(func(h *netlink.Handle) error {
			out = out[:0]
			as, err := h.AddrList(link(i, name), netlink.FAMILY_ALL)
			for _, x := range as {
				a, ok := netip.AddrFromSlice(x.IP)
				if !ok {
					continue
				}
				mask := x.Mask
				if x.Peer != nil {
					mask = x.Peer.Mask // the local address's own is a host mask
				}
				ones, _ := mask.Size()
				out = append(out, netip.PrefixFrom(a.Unmap(), ones))
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("netif: %s addresses: %w", name, err)
	}
	return out, nil
}

// checkRoute validates a route and returns it with its destination masked.
func checkRoute(r Route) (Route, error) {
	if !r.Dst.IsValid() {
		return r, fmt.Errorf("netif: route to %s: invalid destination", r.Dst)
	}
	r.Dst = netip.PrefixFrom(r.Dst.Addr().Unmap(), min(r.Dst.Bits(), r.Dst.Addr().Unmap().BitLen())).Masked()
	r.Gateway, r.Src = r.Gateway.Unmap(), r.Src.Unmap()
	if r.Gateway.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() {
		return r, fmt.Errorf("netif: route to %s via %s: the gateway is of another family", r.Dst, r.Gateway)
	}
	if r.Src.IsValid() && r.Src.Is4() != r.Dst.Addr().Is4() {
		return r, fmt.Errorf("netif: route to %s from %s: the source is of another family", r.Dst, r.Src)
	}
	if r.Metric < 0 {
		return r, fmt.Errorf("netif: route to %s: metric %d", r.Dst, r.Metric)
	}
	return r, nil
}

// nlRoute is r in the main table for the library; index 0: no output
// interface. A route to add is static and unicast, of link scope without
// a gateway; one to delete has scope RT_SCOPE_NOWHERE and neither type
// nor protocol, so that the kernel matches it on destination, link,
// gateway, source and metric only (fib_table_delete).
func nlRoute(index int32, r Route, add bool) *netlink.Route {
	nr := &netlink.Route{LinkIndex: int(index), Dst: ipNet(r.Dst.Addr(), r.Dst.Bits()), Table: unix.RT_TABLE_MAIN,
		Priority: r.Metric}
	if r.Gateway.IsValid() {
		nr.Gw = r.Gateway.AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice() // RTA_PREFSRC
	}
	switch {
	case !add:
		nr.Scope = netlink.SCOPE_NOWHERE
	case r.Gateway.IsValid():
		nr.Protocol, nr.Type = unix.RTPROT_STATIC, unix.RTN_UNICAST
	default:
		nr.Protocol, nr.Type, nr.Scope = unix.RTPROT_STATIC, unix.RTN_UNICAST, netlink.SCOPE_LINK
	}
	return nr
}

// AddRoute installs a route through link name.
func (k *Kernel) AddRoute(name string, r Route) error {
	err := k.withLink(name, func(i int32) error { return k.addRoute(name, i, r) })
	if _, lookup := err.(*kernelError); lookup {
		return fmt.Errorf("netif: route %s via %s: %w", r.Dst, name, err)
	}
	return err
}

func (k *Kernel) addRoute(name string, index int32, r Route) error {
	r, err := checkRoute(r)
	if err != nil {
		return err
	}
	err = k.do(func(h *netlink.Handle) error { return h.RouteAdd(nlRoute(index, r, true)) })
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: route %s via %s: a route to %s exists already: %w", r.Dst, name, r.Dst, err)
	}
	if err != nil {
		return fmt.Errorf("netif: route %s via %s: %w", r.Dst, name, err)
	}
	return nil
}

// DelRoute removes a route through link name; a route that is already
// gone is not an error.
func (k *Kernel) DelRoute(name string, r Route) error {
	err := k.withLink(name, func(i int32) error { return k.delRoute(name, i, r) })
	if errors.Is(err, ErrNoDevice) {
		return fmt.Errorf("netif: delete route %s via %s: %w", r.Dst, name, err)
	}
	return err
}

func (k *Kernel) delRoute(name string, index int32, r Route) error {
	r, err := checkRoute(r)
	if err != nil {
		return err
	}
	err = k.do(func(h *netlink.Handle) error { return h.RouteDel(nlRoute(index, r, false)) })
	if err != nil && !errors.Is(err, unix.ESRCH) {
		if errors.Is(err, ErrNoDevice) {
			return err // for withLink's second look
		}
		return fmt.Errorf("netif: delete route %s via %s: %w", r.Dst, name, err)
	}
	return nil
}

// AddGatewayRoute installs dst via gw (see Host).
func (k *Kernel) AddGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	r, err := checkRoute(Route{Dst: dst, Gateway: gw})
	if err == nil && !r.Gateway.IsValid() {
		err = fmt.Errorf("netif: route %s: no gateway", dst)
	}
	if err != nil {
		return err
	}
	err = k.do(func(h *netlink.Handle) error { return h.RouteAdd(nlRoute(0, r, true)) })
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: route %s via %s: %w", dst, gw, err)
	}
	return nil
}

// DelGatewayRoute removes dst via gw; absent is not an error.
func (k *Kernel) DelGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	r, err := checkRoute(Route{Dst: dst, Gateway: gw})
	if err != nil {
		return err
	}
	err = k.do(func(h *netlink.Handle) error { return h.RouteDel(nlRoute(0, r, false)) })
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("netif: delete route %s via %s: %w", dst, gw, err)
	}
	return nil
}

// prefixOf returns a route's destination (nil: the default route of its
// family).
func prefixOf(r *netlink.Route) (netip.Prefix, bool) {
	if r.Dst == nil {
		switch r.Family {
		case netlink.FAMILY_V4:
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
		case netlink.FAMILY_V6:
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
		}
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(r.Dst.IP)
	ones, bits := r.Dst.Mask.Size()
	if !ok || bits != len(r.Dst.IP)*8 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Routes returns the IPv4 routes of the main table through link name.
func (k *Kernel) Routes(name string) ([]Route, error) {
	var out []Route
	err := k.withLink(name, func(i int32) error {
		// With strict checking the kernel dumps only the link's
		// routes of the main table; the library filters again.
		filter := &netlink.Route{LinkIndex: int(i), Table: unix.RT_TABLE_MAIN}
		return k.dump(func(h *netlink.Handle) error {
			out = out[:0]
			return h.RouteListFilteredIter(netlink.FAMILY_V4, filter, netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE,
				func(nr netlink.Route) bool {
					dst, ok := prefixOf(&nr)
					if !ok || dst.Bits() == 0 {
						return true
					}
					r := Route{Dst: dst, Metric: nr.Priority}
					r.Gateway, _ = netip.AddrFromSlice(nr.Gw)
					r.Src, _ = netip.AddrFromSlice(nr.Src)
					r.Gateway, r.Src = r.Gateway.Unmap(), r.Src.Unmap()
					out = append(out, r)
					return true
				})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("netif: routes of %s: %w", name, err)
	}
	return out, nil
}

// Exists reports whether a link of that name exists.
func (k *Kernel) Exists(name string) bool {
	_, err := k.ifindex(name)
	return err == nil
}
