package transport

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// IPConn is a raw IP socket of one IP protocol (raw(7)): enhanced GRE
// (47) for PPTP, ESP (50), L2TPv3 (115). It is a Bind: WriteTo sends one
// IP payload and the kernel adds the header; received datagrams are
// batched with recvmmsg, and on an IPv4 socket the header the kernel hands
// up is checked and stripped. It is non-blocking, on the Go runtime's
// poller.
type IPConn struct {
	c     *net.IPConn
	rc    syscall.RawConn
	proto uint8
	local netip.AddrPort // port 0
	v6    bool
	bad   atomic.Uint64 // datagrams dropped for a bad IPv4 header
	// sends holds the scratch of WriteTo calls (*ipSend), so that
	// concurrent senders neither share it nor allocate.
	sends sync.Pool
}

// ListenIP opens a raw socket for IP protocol proto bound to addr: an
// AF_INET socket for an IPv4 address, AF_INET6 for an IPv6 one. The
// unspecified address (0.0.0.0 or ::) receives the protocol's datagrams
// to every address of its family; the zero Addr is 0.0.0.0. It needs
// CAP_NET_RAW.
func ListenIP(proto uint8, addr netip.Addr) (*IPConn, error) {
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	addr = addr.Unmap()
	network := "ip4:" + strconv.Itoa(int(proto))
	if addr.Is6() {
		network = "ip6:" + strconv.Itoa(int(proto))
	}
	c, err := net.ListenIP(network, &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()})
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err) // net's error names the operation and address
	}
	_ = c.SetReadBuffer(SocketBuffer)
	_ = c.SetWriteBuffer(SocketBuffer)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: listen %s %v: %w", network, addr, err)
	}
	ic := &IPConn{c: c, rc: rc, proto: proto, local: netip.AddrPortFrom(addr, 0), v6: addr.Is6()}
	ic.sends.New = func() any {
		s := &ipSend{}
		s.fn, s.fnMsg = s.sendto, s.sendmsg
		return s
	}
	return ic, nil
}

// LocalAddr returns the bound address, with port 0.
func (c *IPConn) LocalAddr() netip.AddrPort { return c.local }

// Protocol returns the IP protocol number of the socket.
func (c *IPConn) Protocol() uint8 { return c.proto }

// Close closes the socket; a blocked Read or ServeBatch returns.
func (c *IPConn) Close() error { return c.c.Close() }

// BadHeaders returns how many received datagrams were dropped because
// their IPv4 header was truncated or inconsistent.
func (c *IPConn) BadHeaders() uint64 { return c.bad.Load() }

// NewReader returns a Reader of up to BatchSize datagrams per call; it
// hands up IP payloads with the sender's address and port 0.
func (c *IPConn) NewReader() *Reader {
	if c.v6 {
		return newReader(c.rc, recvIPv6, nil)
	}
	return newReader(c.rc, recvIPv4, &c.bad)
}

// ServeBatch reads batches until the socket is closed and calls h for
// every datagram's IP payload, from the sender's address with port 0,
// then flush (when not nil) after each batch; b stays valid until flush
// returns. It returns nil after Close.
func (c *IPConn) ServeBatch(h func(b []byte, from netip.AddrPort), flush func()) error {
	return serve(c.NewReader(), h, flush)
}

// ipSend is the scratch of one WriteTo: the system call's arguments and
// the callback RawConn.Write runs.
type ipSend struct {
	sa    unix.RawSockaddrInet6
	salen uint32
	b     []byte
	errno unix.Errno
	fn    func(fd uintptr) bool
	// WriteToTOS's sendmsg: the message, its one iovec, the IP_TOS
	// control message.
	msg   unix.Msghdr
	iov   unix.Iovec
	oob   [tosCmsgLen]byte
	fnMsg func(fd uintptr) bool
}

func (s *ipSend) sendto(fd uintptr) bool {
	for {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.b))), uintptr(len(s.b)), 0,
			uintptr(unsafe.Pointer(&s.sa)), uintptr(s.salen))
		switch e {
		case 0:
			return true
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			s.errno = e
			return true
		}
	}
}

// WriteTo sends b as the payload of one IP datagram of the socket's
// protocol to the address of to (its port is ignored). It does not
// allocate.
func (c *IPConn) WriteTo(b []byte, to netip.AddrPort) error {
	a := to.Addr().Unmap()
	if a.Is6() != c.v6 || !a.IsValid() {
		return fmt.Errorf("transport: send to %v: not an address of the socket's family (%v)", to.Addr(), c.local.Addr())
	}
	s := c.sends.Get().(*ipSend)
	// Raw IPv6 sockets take a nonzero port as the protocol and refuse any
	// other (ipv6/raw.c); IPv4 ignores it. Zero for both.
	salen, err := putSockaddr(&s.sa, netip.AddrPortFrom(a, 0), c.v6)
	if err != nil {
		c.sends.Put(s)
		return err
	}
	s.salen, s.b, s.errno = salen, b, 0
	err = c.rc.Write(s.fn)
	errno := s.errno
	s.b = nil
	c.sends.Put(s)
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return fmt.Errorf("transport: send to %v: %w", to.Addr(), err)
	}
	return nil
}

// NewSegmentSender returns a SegmentSender on c. A raw IP socket has no
// segmentation offload: a train's datagrams leave in sendmmsg batches of
// up to 64, one system call where WriteTo takes one per datagram.
func (c *IPConn) NewSegmentSender() SegmentSender {
	return newSegmentWriter(c.rc, c.v6, nil, true)
}

// SetTOS sets the Type of Service octet (DSCP and ECN, RFC 2474) of the
// datagrams sent: IP_TOS, or IPV6_TCLASS (the Traffic Class) on IPv6.
func (c *IPConn) SetTOS(tos int) error {
	if tos < 0 || tos > 255 {
		return fmt.Errorf("transport: TOS %d out of range 0-255", tos)
	}
	if c.v6 {
		return c.setsockopt("IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos)
	}
	return c.setsockopt("IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, tos)
}

// SetTTL sets the Time to Live of the datagrams sent: IP_TTL, or
// IPV6_UNICAST_HOPS (the Hop Limit) on IPv6.
func (c *IPConn) SetTTL(ttl int) error {
	if ttl < 1 || ttl > 255 {
		return fmt.Errorf("transport: TTL %d out of range 1-255", ttl)
	}
	if c.v6 {
		return c.setsockopt("IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
	}
	return c.setsockopt("IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, ttl)
}

// SetDF sets or clears the Don't Fragment bit of the datagrams sent
// (RFC 791 §3.1) with IP_MTU_DISCOVER: IP_PMTUDISC_DO sets it (a datagram
// larger than the path MTU is refused with EMSGSIZE), IP_PMTUDISC_DONT
// clears it (the kernel fragments). On IPv6, which has no DF bit, it
// decides the same with IPV6_MTU_DISCOVER: refuse, or fragment at the
// source.
func (c *IPConn) SetDF(df bool) error {
	if c.v6 {
		v := unix.IPV6_PMTUDISC_DONT
		if df {
			v = unix.IPV6_PMTUDISC_DO
		}
		return c.setsockopt("IPV6_MTU_DISCOVER", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, v)
	}
	v := unix.IP_PMTUDISC_DONT
	if df {
		v = unix.IP_PMTUDISC_DO
	}
	return c.setsockopt("IP_MTU_DISCOVER", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, v)
}

func (c *IPConn) setsockopt(name string, level, opt, v int) error {
	var serr error
	if err := c.rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, opt, v) }); err != nil {
		return fmt.Errorf("transport: %s: %w", name, err)
	}
	if serr != nil {
		return fmt.Errorf("transport: %s %d: %w", name, v, serr)
	}
	return nil
}
