package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Kernel is the Host of one network namespace: the one of the thread that
// called NewKernel. It keeps one netlink socket for all its requests and
// remembers the index of every device it created while that device is
// open, so that configuring a device by name costs one request (other
// names are looked up with one ioctl). Devices must be created from a
// thread in its namespace. Safe for concurrent use; requests are
// serialised on the socket (the kernel serialises them on its RTNL lock
// anyway).
type Kernel struct {
	nl *rtnl
	ns nsID // zero if unknown

	mu    sync.Mutex
	links map[string]*klink // created through k and open

	// ipv6 is what adopt does to a new device's IPv6; other policies
	// than the default are for the set-up measurements.
	ipv6 v6Policy
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

// NewKernel opens a Kernel in the calling thread's network namespace.
func NewKernel() (*Kernel, error) {
	c, err := openRTNL()
	if err != nil {
		return nil, err
	}
	id, _ := threadNS()
	return newKernel(c, id), nil
}

func newKernel(c *rtnl, id nsID) *Kernel {
	return &Kernel{nl: c, ns: id, links: map[string]*klink{}}
}

// Close closes the netlink socket. Devices created through k stay open.
func (k *Kernel) Close() error {
	k.nl.close()
	return nil
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
	idx, err := k.nl.ifindex(d.name)
	if err != nil {
		return fmt.Errorf("netif: %s %s: %w", d.kind, d.name, err)
	}
	l := &klink{index: idx}
	switch err := k.disableIPv6(d.name); {
	case k.ipv6 == v6Keep:
	case k.ipv6 == v6GenNone:
		k.setAddrGenModeNone(idx)
	case err == nil:
		l.v6off = true
	case errors.Is(err, fs.ErrNotExist):
		// No IPv6 in this kernel.
	default:
		// /proc/sys is read-only (a container): at least no
		// link-local address, so nothing is sent into the link.
		k.setAddrGenModeNone(idx)
	}
	k.mu.Lock()
	k.links[d.name] = l
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
		delete(k.links, name)
	}
	k.mu.Unlock()
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
			delete(k.links, name)
		}
		k.mu.Unlock()
	}
	idx, err := k.nl.ifindex(name)
	if err != nil {
		return err
	}
	return op(idx)
}

func (k *Kernel) setLink(index int32, flags, change uint32, attrs func(m *nlBuilder)) error {
	return k.nl.do(false, func(m *nlBuilder, seq uint32) {
		m.begin(unix.RTM_NEWLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq)
		m.ifinfo(index, flags, change)
		if attrs != nil {
			attrs(m)
		}
		m.end()
	}, nil)
}

// setAddrGenModeNone: no automatic IPv6 link-local address on the link
// (IFLA_INET6_ADDR_GEN_MODE, rtnetlink(7)).
func (k *Kernel) setAddrGenModeNone(index int32) error {
	return k.setLink(index, 0, 0, func(m *nlBuilder) {
		spec := m.nest(unix.IFLA_AF_SPEC)
		inet6 := m.nest(unix.AF_INET6)
		m.attrU8(unix.IFLA_INET6_ADDR_GEN_MODE, in6AddrGenModeNone)
		m.endNest(inet6)
		m.endNest(spec)
	})
}

// SetMTU sets a link's MTU.
func (k *Kernel) SetMTU(name string, mtu int) error {
	if mtu <= 0 || mtu > 1<<20 {
		return fmt.Errorf("netif: %s mtu %d: out of range", name, mtu)
	}
	err := k.withLink(name, func(i int32) error {
		return k.setLink(i, 0, 0, func(m *nlBuilder) { m.attrU32(unix.IFLA_MTU, uint32(mtu)) })
	})
	if err != nil {
		return fmt.Errorf("netif: %s mtu %d: %w", name, mtu, err)
	}
	return nil
}

// SetUp brings a link up.
func (k *Kernel) SetUp(name string) error {
	err := k.withLink(name, func(i int32) error { return k.setLink(i, unix.IFF_UP, unix.IFF_UP, nil) })
	if err != nil {
		return fmt.Errorf("netif: %s up: %w", name, err)
	}
	return nil
}

// HardwareAddr returns a link's MAC address.
func (k *Kernel) HardwareAddr(name string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := k.withLink(name, func(i int32) error {
		return k.nl.do(false, func(m *nlBuilder, seq uint32) {
			m.begin(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq)
			m.ifinfo(i, 0, 0)
			m.end()
		}, func(typ uint16, body []byte) error {
			if typ != unix.RTM_NEWLINK {
				return nil
			}
			l, err := parseLink(body)
			if err == nil && l.index == i {
				mac = l.mac
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
		return k.setLink(i, 0, 0, func(m *nlBuilder) { m.attr(unix.IFLA_ADDRESS, mac) })
	})
	if err != nil {
		return fmt.Errorf("netif: %s hardware address %s: %w", name, mac, err)
	}
	return nil
}

// AddPeerAddress gives a point-to-point link its local address and the
// peer's (see Host).
func (k *Kernel) AddPeerAddress(name string, local, peer netip.Addr) error {
	local, peer = local.Unmap(), peer.Unmap()
	if !local.IsValid() || !peer.IsValid() || local.Is4() != peer.Is4() {
		return fmt.Errorf("netif: %s address %s peer %s: expected two addresses of one family", name, local, peer)
	}
	err := k.addAddr(name, netip.PrefixFrom(local, local.BitLen()), peer)
	if err != nil {
		return fmt.Errorf("netif: %s address %s peer %s: %w", name, local, peer, err)
	}
	return nil
}

// AddAddress adds a prefix to a link.
func (k *Kernel) AddAddress(name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("netif: %s address %s: invalid", name, p)
	}
	if err := k.addAddr(name, netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen())), netip.Addr{}); err != nil {
		return fmt.Errorf("netif: %s address %s: %w", name, p, err)
	}
	return nil
}

func (k *Kernel) addAddr(name string, p netip.Prefix, peer netip.Addr) error {
	if p.Addr().Is6() {
		if err := k.enableIPv6(name); err != nil {
			return err
		}
	}
	return k.withLink(name, func(i int32) error {
		return k.nl.do(false, func(m *nlBuilder, seq uint32) {
			m.begin(unix.RTM_NEWADDR, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq)
			a := p.Addr()
			m.ifaddr(family(a), uint8(p.Bits()), unix.RT_SCOPE_UNIVERSE, i)
			m.attrAddr(unix.IFA_LOCAL, a)
			if peer.IsValid() {
				m.attrAddr(unix.IFA_ADDRESS, peer)
			} else {
				m.attrAddr(unix.IFA_ADDRESS, a)
				if a.Is4() && p.Bits() < 31 {
					m.attrAddr(unix.IFA_BROADCAST, lastAddr(p))
				}
			}
			m.end()
		}, nil)
	})
}

// lastAddr returns the highest address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
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
	if err := k.setAddrGenModeNone(l.index); err != nil {
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
	err := k.withLink(name, func(i int32) error {
		return k.nl.do(false, func(m *nlBuilder, seq uint32) {
			m.begin(unix.RTM_DELADDR, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq)
			m.ifaddr(family(a), uint8(min(p.Bits(), a.BitLen())), 0, i)
			m.attrAddr(unix.IFA_LOCAL, a)
			m.end()
		}, nil)
	})
	if err != nil {
		return fmt.Errorf("netif: %s delete address %s: %w", name, p, err)
	}
	return nil
}

// Addrs returns a link's addresses, IPv4 and IPv6 (for a point-to-point
// address, the local one with its prefix length).
func (k *Kernel) Addrs(name string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := k.withLink(name, func(i int32) error {
		return k.nl.dumpRetry(func() { out = out[:0] }, func(m *nlBuilder, seq uint32) {
			m.begin(unix.RTM_GETADDR, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
			m.ifaddr(unix.AF_UNSPEC, 0, 0, i)
			m.end()
		}, func(typ uint16, body []byte) error {
			if typ != unix.RTM_NEWADDR {
				return nil
			}
			a, err := parseAddr(body)
			if err != nil {
				return err
			}
			if a.index == i {
				out = append(out, a.prefix)
			}
			return nil
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
	err = k.nl.do(false, func(m *nlBuilder, seq uint32) {
		appendRoute(m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, index, r)
	}, nil)
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
	err = k.nl.do(false, func(m *nlBuilder, seq uint32) {
		appendRoute(m, unix.RTM_DELROUTE, 0, seq, index, r)
	}, nil)
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
	err = k.nl.do(false, func(m *nlBuilder, seq uint32) {
		appendRoute(m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, 0, r)
	}, nil)
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
	err = k.nl.do(false, func(m *nlBuilder, seq uint32) {
		appendRoute(m, unix.RTM_DELROUTE, 0, seq, 0, r)
	}, nil)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("netif: delete route %s via %s: %w", dst, gw, err)
	}
	return nil
}

// Routes returns the IPv4 routes of the main table through link name.
func (k *Kernel) Routes(name string) ([]Route, error) {
	var out []Route
	err := k.withLink(name, func(i int32) error {
		return k.nl.dumpRetry(func() { out = out[:0] }, func(m *nlBuilder, seq uint32) {
			m.begin(unix.RTM_GETROUTE, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, seq)
			m.rtmsg(rtHdr{family: unix.AF_INET, table: unix.RT_TABLE_MAIN})
			m.attrU32(unix.RTA_OIF, uint32(i)) // a filter under strict checking
			m.end()
		}, func(typ uint16, body []byte) error {
			if typ != unix.RTM_NEWROUTE {
				return nil
			}
			r, err := parseRoute(body)
			if err != nil {
				return err
			}
			if r.oif == i && r.table == unix.RT_TABLE_MAIN && r.flags&unix.RTM_F_CLONED == 0 && r.Dst.Bits() > 0 {
				out = append(out, r.Route)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("netif: routes of %s: %w", name, err)
	}
	return out, nil
}

// Exists reports whether a link of that name exists.
func (k *Kernel) Exists(name string) bool {
	_, err := k.nl.ifindex(name)
	return err == nil
}
