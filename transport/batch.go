package transport

// Batched receive (recvmmsg(2)) shared by the UDP and raw IP sockets, and
// the socket addresses the system calls read and write, without
// allocating.

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

// mmsghdr is struct mmsghdr of sendmmsg(2)/recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

// recvKind says what a socket's datagrams look like when recvmmsg
// returns them.
type recvKind uint8

const (
	recvUDP  recvKind = iota // payload; peer address and port; UDP_GRO
	recvIPv4                 // raw AF_INET: the IPv4 header, then the payload (raw(7))
	recvIPv6                 // raw AF_INET6: the payload only (RFC 3542 §3)
)

// Reader reads batches of datagrams with buffers allocated once, with
// one recvmmsg per batch; it does not allocate. Each reading goroutine
// has its own.
type Reader struct {
	rc    syscall.RawConn
	kind  recvKind
	bad   *atomic.Uint64 // raw IPv4: datagrams dropped for a bad header
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

func newReader(rc syscall.RawConn, kind recvKind, bad *atomic.Uint64) *Reader {
	r := &Reader{
		rc:    rc,
		kind:  kind,
		bad:   bad,
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
// shorter) that UDP_GRO coalesced. On a raw IP socket Buf is the IP
// payload and Addr has port 0; raw IPv4 datagrams with a bad header are
// counted and left out.
func (r *Reader) Read(pkts []Packet) (int, error) {
	r.want = min(len(pkts), len(r.ms))
	if r.want == 0 {
		return 0, errors.New("transport: batch receive: no room for a packet")
	}
	for {
		for i := range r.want {
			h := &r.ms[i].hdr
			h.Namelen = unix.SizeofSockaddrInet6
			h.SetControllen(ctrlWords * 8)
			h.Flags = 0
		}
		r.got, r.errno = 0, 0
		if err := r.rc.Read(r.fn); err != nil {
			return 0, fmt.Errorf("transport: batch receive: %w", err)
		}
		if r.errno != 0 {
			return 0, fmt.Errorf("transport: batch receive: %w", r.errno)
		}
		// A batch of nothing but bad headers: wait for the next one.
		if n := r.fill(pkts); n > 0 {
			return n, nil
		}
	}
}

// fill turns the r.got messages the system call returned into pkts and
// returns how many it kept.
func (r *Reader) fill(pkts []Packet) int {
	k := 0
	for i := range r.got {
		m := &r.ms[i]
		b := r.bufs[i][:min(int(m.n), len(r.bufs[i]))]
		from := parseSockaddr(&r.names[i])
		seg := 0
		switch r.kind {
		case recvUDP:
			seg = groSize(unsafe.Slice((*byte)(unsafe.Pointer(&r.ctrl[i])), ctrlWords*8)[:min(int(m.hdr.Controllen), ctrlWords*8)])
		case recvIPv4:
			p, err := ipv4Payload(b)
			if err != nil {
				r.bad.Add(1)
				continue
			}
			b, from = p, netip.AddrPortFrom(from.Addr(), 0)
		case recvIPv6:
			from = netip.AddrPortFrom(from.Addr(), 0)
		}
		pkts[k] = Packet{Buf: b, N: len(b), Addr: from, Seg: seg}
		k++
	}
	return k
}

// serve is ServeBatch of the sockets: it reads batches with r until the
// socket is closed, splits UDP_GRO packets into their datagrams, and
// flushes after each batch.
func serve(r *Reader, h func(b []byte, from netip.AddrPort), flush func()) error {
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

// putSockaddr writes to into sa in the family of the socket (AF_INET6
// when v6) and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, to netip.AddrPort, v6 bool) (uint32, error) {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(to.Port()>>8), byte(to.Port())
	if v6 {
		if !to.Addr().IsValid() {
			return 0, fmt.Errorf("transport: send to %v: no address", to)
		}
		sa.Family = unix.AF_INET6
		sa.Flowinfo, sa.Scope_id = 0, 0
		sa.Addr = to.Addr().As16() // IPv4 as ::ffff:a.b.c.d
		return unix.SizeofSockaddrInet6, nil
	}
	a := to.Addr().Unmap()
	if !a.Is4() {
		return 0, fmt.Errorf("transport: send to %v: not an IPv4 address on an IPv4 socket", to)
	}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	sa4.Family = unix.AF_INET
	sa4.Addr = a.As4()
	sa4.Zero = [8]byte{}
	return unix.SizeofSockaddrInet4, nil
}

// parseSockaddr reads the peer address recvmmsg wrote into sa.
func parseSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p := uint16(port[0])<<8 | uint16(port[1])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), p)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), p)
	}
	return netip.AddrPort{}
}
