package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BatchSize is how many datagrams one Reader.Read system call
// moves (recvmmsg/sendmmsg on Linux).
const BatchSize = 128

// SocketBuffer is the send and receive buffer asked of the kernel.
const SocketBuffer = 4 << 20

// MaxDatagram is the receive buffer size per datagram.
const MaxDatagram = 65535

// Packet is one datagram of a batch.
type Packet struct {
	Buf  []byte // payload (on receive: Buf[:N] is valid)
	N    int
	Addr netip.AddrPort
	Seg  int // on receive: UDP_GRO datagram size, 0 if one datagram
}

// UDPConn is a UDP socket with batched I/O. It implements the Conn of
// proto/l2tp (WriteTo), so the daemon can hand it to a Node directly, and
// Serve feeds received datagrams to a handler such as Node.HandlePacket.
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

// Reader reads batches of datagrams with buffers allocated once, with
// one recvmmsg per batch; it does not allocate.
type Reader struct {
	u     *UDPConn
	ms    []mmsghdr
	iov   []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  [][ctrlWords]uint64
	bufs  [][]byte
	// The system call in flight.
	want, got int
	errno     unix.Errno
	fn        func(fd uintptr) bool
}

// NewReader returns a Reader of up to BatchSize datagrams per call.
func (u *UDPConn) NewReader() *Reader {
	r := &Reader{
		u:     u,
		ms:    make([]mmsghdr, BatchSize),
		iov:   make([]unix.Iovec, BatchSize),
		names: make([]unix.RawSockaddrInet6, BatchSize),
		ctrl:  make([][ctrlWords]uint64, BatchSize),
		bufs:  make([][]byte, BatchSize),
	}
	for i := range r.ms {
		r.bufs[i] = make([]byte, MaxDatagram)
		r.iov[i].Base = &r.bufs[i][0]
		r.iov[i].SetLen(MaxDatagram)
		h := &r.ms[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iov[i]
		h.SetIovlen(1)
		h.Control = (*byte)(unsafe.Pointer(&r.ctrl[i]))
	}
	r.fn = r.recvmmsg
	return r
}

func (r *Reader) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.ms[0])), uintptr(r.want), 0, 0, 0)
		switch e {
		case 0:
			r.got = int(n)
			return true
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			r.errno = e
			return true
		}
	}
}

// Read blocks for at least one datagram and fills pkts (which must have
// room for BatchSize); the buffers are reused by the next Read. A packet
// with Seg set holds several datagrams of Seg octets (the last may be
// shorter) that UDP_GRO coalesced.
func (r *Reader) Read(pkts []Packet) (int, error) {
	r.want = min(len(pkts), len(r.ms))
	for i := range r.want {
		h := &r.ms[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(ctrlWords * 8)
		h.Flags = 0
	}
	r.got, r.errno = 0, 0
	if err := r.u.rc.Read(r.fn); err != nil {
		return 0, fmt.Errorf("transport: batch receive: %w", err)
	}
	if r.errno != 0 {
		return 0, fmt.Errorf("transport: batch receive: %w", r.errno)
	}
	for i := range r.got {
		m := &r.ms[i]
		pkts[i].Buf = r.bufs[i][:m.n]
		pkts[i].N = int(m.n)
		pkts[i].Addr = parseSockaddr(&r.names[i])
		pkts[i].Seg = groSize(unsafe.Slice((*byte)(unsafe.Pointer(&r.ctrl[i])), ctrlWords*8)[:m.hdr.Controllen])
	}
	return r.got, nil
}

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
// the handler may keep it until flush returns.
func (u *UDPConn) ServeBatch(h func(b []byte, from netip.AddrPort), flush func()) error {
	r := u.NewReader()
	pkts := make([]Packet, BatchSize)
	for {
		n, err := r.Read(pkts)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		for i := range n {
			p := &pkts[i]
			if p.Seg <= 0 || p.Seg >= p.N {
				h(p.Buf, p.Addr)
				continue
			}
			for off := 0; off < p.N; off += p.Seg {
				h(p.Buf[off:min(off+p.Seg, p.N)], p.Addr)
			}
		}
		if flush != nil {
			flush()
		}
	}
}
