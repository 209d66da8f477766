package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// BatchSize is how many datagrams one ReadBatch/WriteBatch system call
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
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// UDPConn is a UDP socket with batched I/O. It implements the Conn of
// proto/l2tp (WriteTo), so the daemon can hand it to a Node directly, and
// Serve feeds received datagrams to a handler such as Node.HandlePacket.
type UDPConn struct {
	c     *net.UDPConn
	batch batchConn
	local netip.AddrPort
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
	u := &UDPConn{c: c, local: c.LocalAddr().(*net.UDPAddr).AddrPort()}
	if addr.Addr().Is4() {
		u.batch = ipv4.NewPacketConn(c)
	} else {
		u.batch = ipv6.NewPacketConn(c)
	}
	return u, nil
}

// LocalAddr returns the bound address.
func (u *UDPConn) LocalAddr() netip.AddrPort { return u.local }

// Close closes the socket; a blocked ReadBatch or Serve returns.
func (u *UDPConn) Close() error { return u.c.Close() }

// WriteTo sends one datagram.
func (u *UDPConn) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, to)
	if err != nil {
		return fmt.Errorf("transport: send to %v: %w", to, err)
	}
	return nil
}

// WriteBatch sends pkts[i].Buf to pkts[i].Addr with as few system calls
// as the platform allows, and returns how many were sent.
func (u *UDPConn) WriteBatch(pkts []Packet) (int, error) {
	ms := make([]ipv4.Message, len(pkts))
	for i := range pkts {
		ms[i].Buffers = [][]byte{pkts[i].Buf}
		ms[i].Addr = net.UDPAddrFromAddrPort(pkts[i].Addr)
	}
	sent := 0
	for sent < len(ms) {
		n, err := u.batch.WriteBatch(ms[sent:], 0)
		if err != nil {
			return sent, fmt.Errorf("transport: batch send: %w", err)
		}
		sent += n
	}
	return sent, nil
}

// Reader reads batches of datagrams with buffers allocated once.
type Reader struct {
	u    *UDPConn
	ms   []ipv4.Message
	bufs [][]byte
}

// NewReader returns a Reader of up to BatchSize datagrams per call.
func (u *UDPConn) NewReader() *Reader {
	r := &Reader{u: u, ms: make([]ipv4.Message, BatchSize), bufs: make([][]byte, BatchSize)}
	for i := range r.ms {
		r.bufs[i] = make([]byte, MaxDatagram)
		r.ms[i].Buffers = [][]byte{r.bufs[i]}
	}
	return r
}

// Read blocks for at least one datagram and fills pkts (which must have
// room for BatchSize); the buffers are reused by the next Read.
func (r *Reader) Read(pkts []Packet) (int, error) {
	n, err := r.u.batch.ReadBatch(r.ms[:min(len(pkts), len(r.ms))], 0)
	if err != nil {
		return 0, fmt.Errorf("transport: batch receive: %w", err)
	}
	for i := range n {
		m := &r.ms[i]
		pkts[i].Buf = r.bufs[i][:m.N]
		pkts[i].N = m.N
		if a, ok := m.Addr.(*net.UDPAddr); ok {
			ap := a.AddrPort()
			pkts[i].Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		} else {
			pkts[i].Addr = netip.AddrPort{}
		}
	}
	return n, nil
}

// Serve reads batches until the socket is closed and calls h for every
// datagram; h must not retain b. It returns nil after Close.
func (u *UDPConn) Serve(h func(b []byte, from netip.AddrPort)) error {
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
			h(pkts[i].Buf, pkts[i].Addr)
		}
	}
}
