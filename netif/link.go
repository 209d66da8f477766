package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The functions below configure links by name through netlink in the
// calling thread's network namespace. They are what the daemon uses to
// give a Virtual-Access or Virtual-PPP interface its addresses and routes.

func link(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("netif: link %s: %w", name, err)
	}
	return l, nil
}

// SetUp brings a link up.
func SetUp(name string) error {
	l, err := link(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("netif: %s up: %w", name, err)
	}
	return nil
}

// SetMTU sets a link's MTU.
func SetMTU(name string, mtu int) error {
	l, err := link(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("netif: %s mtu %d: %w", name, mtu, err)
	}
	return nil
}

// AddPeerAddress gives a point-to-point link its local address and the
// peer's address (`ip addr add LOCAL peer PEER/32`), which also installs
// the host route to the peer, as IOS does for a Virtual-Access interface.
func AddPeerAddress(name string, local, peer netip.Addr) error {
	l, err := link(name)
	if err != nil {
		return err
	}
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: local.AsSlice(), Mask: net.CIDRMask(32, 32)},
		Peer:  &net.IPNet{IP: peer.AsSlice(), Mask: net.CIDRMask(32, 32)},
	}
	if err := netlink.AddrAdd(l, a); err != nil {
		return fmt.Errorf("netif: %s address %s peer %s: %w", name, local, peer, err)
	}
	return nil
}

// AddAddress adds a prefix to a link.
func AddAddress(name string, p netip.Prefix) error {
	l, err := link(name)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := netlink.AddrAdd(l, a); err != nil {
		return fmt.Errorf("netif: %s address %s: %w", name, p, err)
	}
	return nil
}

// Addrs returns a link's addresses (for `ip unnumbered` and `ip local
// interface` on host devices).
func Addrs(name string) ([]netip.Prefix, error) {
	l, err := link(name)
	if err != nil {
		return nil, err
	}
	as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("netif: %s addresses: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range as {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

// Route is a route through a link, optionally via a gateway.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // zero: directly through the link
	Metric  int
}

func (r Route) nl(l netlink.Link) *netlink.Route {
	nr := &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())},
		Priority:  r.Metric,
		Protocol:  unix.RTPROT_STATIC,
	}
	if r.Gateway.IsValid() {
		nr.Gw = r.Gateway.AsSlice()
	} else {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr
}

// AddRoute installs a route through link name.
func AddRoute(name string, r Route) error {
	l, err := link(name)
	if err != nil {
		return err
	}
	return routeAdd(pkgHandle, l, name, r)
}

// DelRoute removes a route through link name; a route that is already
// gone is not an error.
func DelRoute(name string, r Route) error {
	l, err := link(name)
	if err != nil {
		return err
	}
	return routeDel(pkgHandle, l, name, r)
}

// pkgHandle is netlink's own default: a new socket per request, in the
// calling thread's namespace.
var pkgHandle = &netlink.Handle{}

func routeAdd(h *netlink.Handle, l netlink.Link, name string, r Route) error {
	if err := h.RouteAdd(r.nl(l)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netif: route %s via %s: a route to %s exists already", r.Dst, name, r.Dst)
		}
		return fmt.Errorf("netif: route %s via %s: %w", r.Dst, name, err)
	}
	return nil
}

func routeDel(h *netlink.Handle, l netlink.Link, name string, r Route) error {
	if err := h.RouteDel(r.nl(l)); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("netif: delete route %s via %s: %w", r.Dst, name, err)
	}
	return nil
}

// Routes returns the IPv4 routes through link name.
func Routes(name string) ([]Route, error) {
	l, err := link(name)
	if err != nil {
		return nil, err
	}
	rs, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("netif: routes of %s: %w", name, err)
	}
	var out []Route
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		ip, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		rt := Route{Dst: netip.PrefixFrom(ip.Unmap(), ones), Metric: r.Priority}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			rt.Gateway = gw.Unmap()
		}
		out = append(out, rt)
	}
	return out, nil
}

// Exists reports whether a link of that name exists.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// AddGatewayRoute installs dst via gw, letting the kernel choose the link
// that reaches gw. It fails while gw is unreachable (the caller retries
// when an interface comes up); an existing identical route is not an error.
func AddGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	r := &netlink.Route{
		Dst:      &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Gw:       gw.AsSlice(),
		Protocol: unix.RTPROT_STATIC,
	}
	if err := netlink.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netif: route %s via %s: %w", dst, gw, err)
	}
	return nil
}

// DelGatewayRoute removes dst via gw; a route that is already gone is not
// an error.
func DelGatewayRoute(dst netip.Prefix, gw netip.Addr) error {
	r := &netlink.Route{
		Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Gw:  gw.AsSlice(),
	}
	if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("netif: delete route %s via %s: %w", dst, gw, err)
	}
	return nil
}

// LinkRoutes adds and removes routes through one link over one netlink
// socket, opened once in the network namespace of the thread that calls
// OpenLinkRoutes. It is for a link that carries many routes which come and
// go quickly (the shared Virtual-Access interface, one host route per
// session): the name→index lookup and the socket are paid once, not per
// route. Safe for concurrent use.
type LinkRoutes struct {
	mu   sync.Mutex
	h    *netlink.Handle
	link netlink.Link
	name string
}

// OpenLinkRoutes looks link name up and opens the socket.
func OpenLinkRoutes(name string) (*LinkRoutes, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netif: netlink socket: %w", err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netif: link %s: %w", name, err)
	}
	return &LinkRoutes{h: h, link: l, name: name}, nil
}

// Add installs r through the link.
func (lr *LinkRoutes) Add(r Route) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return routeAdd(lr.h, lr.link, lr.name, r)
}

// Del removes r; a route that is already gone is not an error.
func (lr *LinkRoutes) Del(r Route) error {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return routeDel(lr.h, lr.link, lr.name, r)
}

// Close closes the socket.
func (lr *LinkRoutes) Close() {
	lr.mu.Lock()
	lr.h.Close()
	lr.mu.Unlock()
}
