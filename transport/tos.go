package transport

import (
	"fmt"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TOSWriter is implemented by binds that can give one datagram its own
// Type of Service octet (DSCP and ECN, RFC 2474, RFC 3168), whatever the
// socket's SetTOS says: a pseudowire-class's `ip tos reflect` copies the
// inner packet's into each. IPConn and UDPConn implement it with an
// IP_TOS (IPv6: IPV6_TCLASS) control message; memnet conns record it.
type TOSWriter interface {
	WriteToTOS(b []byte, to netip.AddrPort, tos uint8) error
}

// tosCmsgLen is the room of one control message with an int: the header
// and the aligned data (CMSG_SPACE(sizeof(int))).
const tosCmsgLen = unix.SizeofCmsghdr + 8

// putTOSCmsg writes the control message that sets the Type of Service
// (IPv4) or Traffic Class (IPv6) of one datagram into oob and returns
// its length. The kernel takes an int for both (ip_cmsg_send,
// ip6_datagram_send_ctl).
func putTOSCmsg(oob *[tosCmsgLen]byte, v6 bool, tos uint8) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TOS
	if v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	}
	h.SetLen(unix.CmsgLen(4))
	*(*int32)(unsafe.Pointer(&oob[unix.SizeofCmsghdr])) = int32(tos)
	return unix.CmsgSpace(4)
}

// WriteToTOS is WriteTo with the datagram's Type of Service set to tos.
// It does not allocate.
func (c *IPConn) WriteToTOS(b []byte, to netip.AddrPort, tos uint8) error {
	a := to.Addr().Unmap()
	if a.Is6() != c.v6 || !a.IsValid() {
		return fmt.Errorf("transport: send to %v: not an address of the socket's family (%v)", to.Addr(), c.local.Addr())
	}
	s := c.sends.Get().(*ipSend)
	salen, err := putSockaddr(&s.sa, netip.AddrPortFrom(a, 0), c.v6)
	if err != nil {
		c.sends.Put(s)
		return err
	}
	n := putTOSCmsg(&s.oob, c.v6, tos)
	s.iov = unix.Iovec{Base: unsafe.SliceData(b)}
	s.iov.SetLen(len(b))
	s.msg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&s.sa)), Namelen: salen, Iov: &s.iov, Iovlen: 1,
		Control: &s.oob[0]}
	s.msg.SetControllen(n)
	s.errno = 0
	err = c.rc.Write(s.fnMsg)
	errno := s.errno
	s.iov, s.msg = unix.Iovec{}, unix.Msghdr{}
	c.sends.Put(s)
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return fmt.Errorf("transport: send to %v: %w", to.Addr(), err)
	}
	return nil
}

func (s *ipSend) sendmsg(fd uintptr) bool {
	for {
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0)
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

// udpOOB are the control message buffers of UDPConn.WriteToTOS.
var udpOOB = sync.Pool{New: func() any { return new([tosCmsgLen]byte) }}

// WriteToTOS is WriteTo with the datagram's Type of Service (IPv6:
// Traffic Class) set to tos.
func (u *UDPConn) WriteToTOS(b []byte, to netip.AddrPort, tos uint8) error {
	oob := udpOOB.Get().(*[tosCmsgLen]byte)
	// An IPv4 peer (v4-mapped on an AF_INET6 socket) takes IP_TOS.
	n := putTOSCmsg(oob, u.v6 && !to.Addr().Unmap().Is4(), tos)
	_, _, err := u.c.WriteMsgUDPAddrPort(b, oob[:n], to)
	udpOOB.Put(oob)
	if err != nil {
		return fmt.Errorf("transport: send to %v: %w", to, err)
	}
	return nil
}
