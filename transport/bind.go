package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Bind is a datagram endpoint: a UDP socket, a raw IP socket of one
// protocol, or an in-memory fake.
type Bind interface {
	// WriteTo sends one datagram (for raw IP binds: one IP payload; the
	// kernel adds the IP header; the port of to is ignored). It must not
	// retain b.
	WriteTo(b []byte, to netip.AddrPort) error
	// ServeBatch reads until Close and calls h for every datagram (raw
	// IPv4: the payload after the IP header, the header's IHL honoured and
	// checked; from has port 0), then flush (if non-nil) after every batch
	// read with one system call; b stays valid until flush returns. It
	// returns nil after Close.
	ServeBatch(h func(b []byte, from netip.AddrPort), flush func()) error
	LocalAddr() netip.AddrPort
	Close() error
}

// SegmentSender sends a train of datagrams of seg octets each (the last
// may be shorter) to one peer with one system call (UDP_SEGMENT), or one
// datagram at a time where the kernel has no UDP GSO. Each sending
// goroutine has its own.
type SegmentSender interface {
	WriteSegments(b []byte, seg int, to netip.AddrPort) error
}

// Segmenter is implemented by binds that can make SegmentSenders
// (UDPConn, IPConn; memnet conns for tests).
type Segmenter interface{ NewSegmentSender() SegmentSender }

// Factory opens binds and streams: the kernel's (System) or an in-memory
// network (memnet).
type Factory interface {
	ListenUDP(addr netip.AddrPort) (Bind, error)
	// ListenIP opens a raw IP socket for IP protocol proto (47, 50, 115,
	// ...) bound to addr (the unspecified address: every address).
	ListenIP(proto uint8, addr netip.Addr) (Bind, error)
	ListenTCP(addr netip.AddrPort) (net.Listener, error)
	DialTCP(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error)
}

// System is the Factory of the kernel's sockets.
var System Factory = system{}

var (
	_ Bind      = (*UDPConn)(nil)
	_ Segmenter = (*UDPConn)(nil)
	_ Bind      = (*IPConn)(nil)
	_ Segmenter = (*IPConn)(nil)
)

type system struct{}

// The conversions below keep a failed open from returning a non-nil Bind
// holding a nil pointer.

func (system) ListenUDP(addr netip.AddrPort) (Bind, error) {
	u, err := ListenUDP(addr)
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (system) ListenIP(proto uint8, addr netip.Addr) (Bind, error) {
	c, err := ListenIP(proto, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (system) ListenTCP(addr netip.AddrPort) (net.Listener, error) {
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err) // net's error names the operation and address
	}
	return l, nil
}

// DialTCP connects to remote from local when local is a valid address
// (an ephemeral port), from the address the kernel picks when not.
func (system) DialTCP(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	}
	c, err := d.DialContext(ctx, "tcp", remote.String())
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	return c, nil
}
