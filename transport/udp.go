package transport

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDPConn is a UDP socket with batched I/O: a Bind and a Segmenter. It
// implements the Conn of proto/l2tp (WriteTo), so the daemon can hand it
// to a Node directly, and Serve feeds received datagrams to a handler
// such as Node.HandlePacket.
type UDPConn struct {
	c     *net.UDPConn
	rc    syscall.RawConn
	local netip.AddrPort
	v6    bool        // an AF_INET6 socket (IPv4 peers v4-mapped)
	gso   atomic.Bool // UDP_SEGMENT works
	gro   bool        // UDP_GRO is on
}

// ListenUDP opens a UDP socket on addr (port 0: ephemeral).
func ListenUDP(addr netip.AddrPort) (*UDPConn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("transport: listen %v: %w", addr, err)
	}
	// Bursts of data messages (a TCP window through a tunnel) overflow
	// the default socket buffers; the kernel caps these at rmem_max.
	_ = c.SetReadBuffer(SocketBuffer)
	_ = c.SetWriteBuffer(SocketBuffer)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: listen %v: %w", addr, err)
	}
	u := &UDPConn{c: c, rc: rc, local: c.LocalAddr().(*net.UDPAddr).AddrPort()}
	u.offloadProbe()
	return u, nil
}

// LocalAddr returns the bound address.
func (u *UDPConn) LocalAddr() netip.AddrPort { return u.local }

// Close closes the socket; a blocked Read or Serve returns.
func (u *UDPConn) Close() error { return u.c.Close() }

// WriteTo sends one datagram.
func (u *UDPConn) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, to)
	if err != nil {
		return fmt.Errorf("transport: send to %v: %w", to, err)
	}
	return nil
}

// NewReader returns a Reader of up to BatchSize datagrams per call.
func (u *UDPConn) NewReader() *Reader { return newReader(u.rc, recvUDP, nil) }

// groSize returns the datagram size of a UDP_GRO control message in c, 0
// when there is none.
func groSize(c []byte) int {
	for len(c) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(c)
		if err != nil {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && len(data) >= 4 {
			return int(*(*int32)(unsafe.Pointer(&data[0])))
		}
		c = rest
	}
	return 0
}

// Serve reads batches until the socket is closed and calls h for every
// datagram; h must not retain b. It returns nil after Close.
func (u *UDPConn) Serve(h func(b []byte, from netip.AddrPort)) error {
	return u.ServeBatch(h, nil)
}

// ServeBatch is Serve with flush (when not nil) called after each batch
// of datagrams read with one system call: b stays valid until then, so
// the handler may keep it until flush returns. A train UDP_GRO coalesced
// is handed to h datagram by datagram.
func (u *UDPConn) ServeBatch(h func(b []byte, from netip.AddrPort), flush func()) error {
	return serve(u.NewReader(), h, flush)
}
