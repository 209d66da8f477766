package transport

// UDP segmentation and receive offloads (Linux udp(7), UDP_SEGMENT and
// UDP_GRO) and the recvmmsg/sendmmsg system calls behind them, written
// against golang.org/x/sys/unix so that no call allocates.
//
// Send: a train of equal-sized datagrams to one peer (the last may be
// shorter) leaves in one sendmsg with a UDP_SEGMENT control message
// giving the size: the kernel splits it, late, or the NIC does. Without
// UDP_SEGMENT, or when the kernel refuses it, the datagrams leave with
// one sendmmsg per up to maxMsgs of them.
//
// Receive: with UDP_GRO on the socket the kernel may hand up several
// datagrams of one flow in one buffer, with a UDP_GRO control message
// giving their size; Serve splits them again.

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// maxMsgs is how many messages one sendmmsg of a segmentWriter sends.
	maxMsgs = 64
	// maxGSOSegs is UDP_MAX_SEGMENTS of older kernels (64; newer allow
	// 128): the most datagrams one UDP_SEGMENT send may carry.
	maxGSOSegs = 64
	// maxGSOBytes bounds the bytes of one UDP_SEGMENT send: they form
	// one IP packet before segmentation, at most 65535 octets with headers.
	maxGSOBytes = 65535 - 40 - 8
	// ctrlWords is the room for one control message with a 4-octet
	// payload, in uint64s (control messages are 8-octet aligned).
	ctrlWords = 3
)

// offloadProbe reads the socket's family and enables UDP_GRO; it reports
// whether the socket is AF_INET6 and which offloads it has.
func (u *UDPConn) offloadProbe() {
	u.rc.Control(func(fd uintptr) {
		if d, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil {
			u.v6 = d == unix.AF_INET6
		}
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		u.gso.Store(err == nil)
		u.gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	})
}

// Offloads reports whether the socket sends with UDP_SEGMENT and
// receives with UDP_GRO.
func (u *UDPConn) Offloads() (gso, gro bool) { return u.gso.Load(), u.gro }

// setOffloads turns the offloads off (tests of the fallbacks).
func (u *UDPConn) setOffloads(gso, gro bool) {
	u.gso.Store(gso && u.gso.Load())
	if !gro && u.gro {
		u.rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 0) })
		u.gro = false
	}
}

// segmentWriter is the SegmentSender of a UDPConn or an IPConn. It is not
// safe for concurrent use: each sending goroutine has its own.
type segmentWriter struct {
	rc syscall.RawConn
	v6 bool
	// gso is the UDP socket's UDP_SEGMENT switch; nil on a raw IP socket,
	// which has no segmentation offload: its trains leave in sendmmsg
	// batches.
	gso *atomic.Bool
	// raw: the socket is a raw IP one, whose peers have no port (IPv6
	// refuses any but 0, ipv6/raw.c).
	raw   bool
	ms    [maxMsgs]mmsghdr
	iov   [maxMsgs]unix.Iovec
	ctrl  [maxMsgs][ctrlWords]uint64
	sa    unix.RawSockaddrInet6
	salen uint32
	// The system call in flight: messages [next, nmsg) of ms.
	nmsg, next int
	errno      unix.Errno
	fn         func(fd uintptr) bool
}

// NewSegmentSender returns a SegmentSender on u: trains leave with one
// sendmsg with UDP_SEGMENT when the socket has it, in sendmmsg batches of
// single datagrams when not.
func (u *UDPConn) NewSegmentSender() SegmentSender {
	return newSegmentWriter(u.rc, u.v6, &u.gso, false)
}

func newSegmentWriter(rc syscall.RawConn, v6 bool, gso *atomic.Bool, raw bool) *segmentWriter {
	w := &segmentWriter{rc: rc, v6: v6, gso: gso, raw: raw}
	w.fn = w.sendmmsg
	return w
}

// sendmmsg is the RawConn.Write callback: it sends what is left of the
// batch, and asks the poller to wait when the socket buffer is full.
func (w *segmentWriter) sendmmsg(fd uintptr) bool {
	for w.next < w.nmsg {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.ms[w.next])), uintptr(w.nmsg-w.next), 0, 0, 0)
		switch e {
		case 0:
			w.next += int(r)
		case unix.EAGAIN:
			return false
		case unix.EINTR:
		default:
			w.errno = e
			return true
		}
	}
	return true
}

// add appends a message carrying b (with UDP_SEGMENT seg when seg > 0).
func (w *segmentWriter) add(b []byte, seg int) {
	i := w.nmsg
	w.iov[i].Base = &b[0]
	w.iov[i].SetLen(len(b))
	h := &w.ms[i].hdr
	*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&w.sa)), Namelen: w.salen, Iov: &w.iov[i]}
	h.SetIovlen(1)
	if seg > 0 {
		c := unsafe.Slice((*byte)(unsafe.Pointer(&w.ctrl[i])), ctrlWords*8)
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		ch.Level, ch.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
		ch.SetLen(unix.CmsgLen(2))
		*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(seg)
		h.Control = &c[0]
		h.SetControllen(unix.CmsgSpace(2))
	}
	w.nmsg++
}

// flush sends the messages added and returns how many octets of them
// left, and the error that stopped the rest.
func (w *segmentWriter) flush() (int, error) {
	w.next, w.errno = 0, 0
	err := w.rc.Write(w.fn)
	sent := 0
	for i := range w.next {
		sent += int(w.iov[i].Len)
	}
	w.nmsg = 0
	if err != nil {
		return sent, err
	}
	if w.errno != 0 {
		return sent, w.errno
	}
	return sent, nil
}

// WriteSegments sends b, datagrams of seg octets back to back (the last
// may be shorter), to the peer to, with UDP_SEGMENT when the socket has
// it and as separate datagrams batched by sendmmsg when not.
func (w *segmentWriter) WriteSegments(b []byte, seg int, to netip.AddrPort) error {
	if seg <= 0 || len(b) == 0 {
		return errors.New("transport: WriteSegments: nothing to send")
	}
	if w.raw {
		a := to.Addr().Unmap()
		if a.Is6() != w.v6 || !a.IsValid() {
			return fmt.Errorf("transport: send to %v: not an address of the socket's family", to.Addr())
		}
		to = netip.AddrPortFrom(a, 0)
	}
	salen, err := putSockaddr(&w.sa, to, w.v6)
	if err != nil {
		return err
	}
	w.salen = salen
	if w.gso != nil && w.gso.Load() && len(b) > seg {
		per := min(maxGSOSegs, maxGSOBytes/seg) * seg
		if per > 0 {
			for off := 0; off < len(b); off += per {
				c := b[off:min(off+per, len(b))]
				if len(c) > seg {
					w.add(c, seg)
				} else {
					w.add(c, 0)
				}
			}
			sent, err := w.flush()
			if err == nil {
				return nil
			}
			switch {
			case errors.Is(err, unix.EIO):
				// udp_send_skb: the device cannot checksum; GSO is off
				// for good (udp(7)).
				w.gso.Store(false)
			case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EMSGSIZE):
				// Segments larger than the path allows; the plain
				// path lets the kernel fragment.
			default:
				return fmt.Errorf("transport: send to %v: %w", to, err)
			}
			b = b[sent:]
		}
	}
	for len(b) > 0 {
		for len(b) > 0 && w.nmsg < maxMsgs {
			n := min(seg, len(b))
			w.add(b[:n], 0)
			b = b[n:]
		}
		if _, err := w.flush(); err != nil {
			return fmt.Errorf("transport: send to %v: %w", to, err)
		}
	}
	return nil
}
