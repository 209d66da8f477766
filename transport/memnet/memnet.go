// Package memnet is an in-memory network for tests and a
// transport.Factory: UDP binds addressed by netip.AddrPort, raw IP binds
// addressed by protocol and netip.Addr, and TCP-like streams, so that a
// whole daemon can run in memory. Datagrams pass through channels, and
// the network can drop, duplicate, delay and reorder them from a seeded
// RNG, so a run is reproducible. It uses the time package only through
// time.AfterFunc for delays and deadlines, which makes it deterministic
// inside a testing/synctest bubble (create the Network inside the
// bubble).
//
// Addressing, as on a host that has every address:
//   - UDP binds and raw IP binds are separate namespaces. A UDP bind at
//     A:port receives the UDP datagrams sent to A:port; a raw IP bind of
//     protocol P at A receives every datagram of protocol P sent to A,
//     as its payload, from the sender's address with port 0.
//   - A bind at the unspecified address (0.0.0.0:port, 0.0.0.0 raw; ::
//     for IPv6) receives what is sent to any address of its family, port
//     and protocol that nobody bound specifically. It sends from the
//     address each peer reached it at (the reply a host would send), else
//     from its Host's address, else from the unspecified address.
//   - Port 0 asks for an ephemeral port.
//   - Streams (ListenTCP, DialTCP) are reliable and in order, buffered
//     like a socket, not subject to Faults; BreakStreams resets them.
package memnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/transport"
)

// Faults are the impairments applied to every datagram.
type Faults struct {
	Loss      float64       // probability a packet is dropped
	Duplicate float64       // probability a packet is delivered twice
	Reorder   float64       // probability a packet is held back by a random delay
	Delay     time.Duration // base one-way delay (0: immediate)
	Jitter    time.Duration // maximum extra delay of a reordered packet
	// Drop, when set, loses the datagrams it returns true for (a test
	// losing one chosen message); it runs under the network's lock.
	Drop func(b []byte, from, to netip.AddrPort) bool
}

// Stats counts what the network did with datagrams.
type Stats struct {
	Sent, Delivered, Lost, Duplicated, Reordered, Overflow, NoListener uint64
}

// Network is a set of binds and streams and the impairments between them.
type Network struct {
	mu       sync.Mutex
	rng      *rand.Rand
	faults   Faults
	udp      map[netip.AddrPort]*Conn
	raw      map[rawKey]*Conn
	tcp      map[netip.AddrPort]*listener
	links    map[*link]struct{} // open streams
	nextPort uint16             // the next ephemeral port to try

	sent, delivered, lost, dup, reordered, overflow, nolistener atomic.Uint64
}

// rawKey is the address of a raw IP bind.
type rawKey struct {
	proto uint8
	addr  netip.Addr
}

var (
	_ transport.Factory   = (*Network)(nil)
	_ transport.Factory   = (*Host)(nil)
	_ transport.Bind      = (*Conn)(nil)
	_ transport.Segmenter = (*Conn)(nil)
)

// New returns a network whose random choices follow seed.
func New(seed uint64) *Network {
	return &Network{
		rng:      rand.New(rand.NewPCG(seed, seed+1)),
		udp:      map[netip.AddrPort]*Conn{},
		raw:      map[rawKey]*Conn{},
		tcp:      map[netip.AddrPort]*listener{},
		links:    map[*link]struct{}{},
		nextPort: firstEphemeral,
	}
}

// SetFaults changes the impairments.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	n.faults = f
	n.mu.Unlock()
}

// Stats returns the counters.
func (n *Network) Stats() Stats {
	return Stats{n.sent.Load(), n.delivered.Load(), n.lost.Load(), n.dup.Load(), n.reordered.Load(),
		n.overflow.Load(), n.nolistener.Load()}
}

// ErrAddrInUse is returned by Listen for a taken address.
var ErrAddrInUse = errors.New("memnet: address in use")

// QueueLen is the receive queue of a Conn; packets beyond it are dropped.
const QueueLen = 4096

// The ephemeral port range (RFC 6335 §6).
const (
	firstEphemeral = 49152
	lastEphemeral  = 65535
)

// ephemeralLocked returns a free port by taken, or an error when all are.
func (n *Network) ephemeralLocked(taken func(port uint16) bool) (uint16, error) {
	for range lastEphemeral - firstEphemeral + 1 {
		p := n.nextPort
		n.nextPort++
		if n.nextPort == 0 || n.nextPort < firstEphemeral {
			n.nextPort = firstEphemeral
		}
		if !taken(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("memnet: no ephemeral port left: %w", ErrAddrInUse)
}

// canon is the form addresses are kept in: IPv4 unmapped, the zero Addr
// as 0.0.0.0.
func canon(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

// wildcard is the unspecified address of a's family.
func wildcard(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// Listen opens a UDP bind at addr (port 0: an ephemeral port).
func (n *Network) Listen(addr netip.AddrPort) (*Conn, error) { return n.listenUDP(addr, netip.Addr{}) }

// ListenRaw opens a raw IP bind for protocol proto at addr (the
// unspecified or zero address: every address nobody bound).
func (n *Network) ListenRaw(proto uint8, addr netip.Addr) (*Conn, error) {
	return n.listenRaw(proto, addr, netip.Addr{})
}

// ListenUDP is Listen as a transport.Factory.
func (n *Network) ListenUDP(addr netip.AddrPort) (transport.Bind, error) {
	return bind(n.listenUDP(addr, netip.Addr{}))
}

// ListenIP is ListenRaw as a transport.Factory.
func (n *Network) ListenIP(proto uint8, addr netip.Addr) (transport.Bind, error) {
	return bind(n.listenRaw(proto, addr, netip.Addr{}))
}

// bind keeps a failed open from returning a non-nil Bind holding nil.
func bind(c *Conn, err error) (transport.Bind, error) {
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (n *Network) newConn(addr netip.AddrPort, raw bool, proto uint8, src netip.Addr) *Conn {
	return &Conn{n: n, addr: addr, raw: raw, proto: proto, src: src,
		q: make(chan packet, QueueLen), done: make(chan struct{})}
}

func (n *Network) listenUDP(addr netip.AddrPort, src netip.Addr) (*Conn, error) {
	addr = netip.AddrPortFrom(canon(addr.Addr()), addr.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr.Port() == 0 {
		p, err := n.ephemeralLocked(func(p uint16) bool { return n.udp[netip.AddrPortFrom(addr.Addr(), p)] != nil })
		if err != nil {
			return nil, err
		}
		addr = netip.AddrPortFrom(addr.Addr(), p)
	}
	if n.udp[addr] != nil {
		return nil, fmt.Errorf("memnet: listen udp %v: %w", addr, ErrAddrInUse)
	}
	c := n.newConn(addr, false, 0, src)
	n.udp[addr] = c
	return c, nil
}

func (n *Network) listenRaw(proto uint8, addr netip.Addr, src netip.Addr) (*Conn, error) {
	k := rawKey{proto, canon(addr)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.raw[k] != nil {
		return nil, fmt.Errorf("memnet: listen ip proto %d %v: %w", proto, k.addr, ErrAddrInUse)
	}
	c := n.newConn(netip.AddrPortFrom(k.addr, 0), true, proto, src)
	n.raw[k] = c
	return c, nil
}

// destLocked returns the bind a datagram of c's kind to `to` reaches:
// the one bound to its address, else the wildcard one of its family.
func (n *Network) destLocked(c *Conn, to netip.AddrPort) *Conn {
	if c.raw {
		if d := n.raw[rawKey{c.proto, to.Addr()}]; d != nil {
			return d
		}
		return n.raw[rawKey{c.proto, wildcard(to.Addr())}]
	}
	if d := n.udp[to]; d != nil {
		return d
	}
	return n.udp[netip.AddrPortFrom(wildcard(to.Addr()), to.Port())]
}

// packet is a datagram in flight: from is the source the receiver sees,
// to the address it was sent to.
type packet struct {
	b    []byte
	from netip.AddrPort
	to   netip.Addr
}

// Conn is one datagram bind: UDP, or raw IP of one protocol. It is a
// transport.Bind and a transport.Segmenter, and it implements
// proto/l2tp.Conn (WriteTo).
type Conn struct {
	n     *Network
	addr  netip.AddrPort // raw: port 0
	raw   bool
	proto uint8
	src   netip.Addr // the Host's address, if any
	q     chan packet
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	learned map[netip.Addr]netip.Addr // wildcard binds: peer -> the address it reached us at
	tos     int
	sentTOS int  // the last WriteToTOS datagram's
	tosSent bool // a WriteToTOS happened
	ttl     int
	df      bool
}

// LocalAddr returns the address the bind listens on (port 0 for raw IP).
func (c *Conn) LocalAddr() netip.AddrPort { return c.addr }

// Protocol returns the IP protocol of a raw IP bind, 0 for UDP.
func (c *Conn) Protocol() uint8 { return c.proto }

// source is the address a datagram to peer leaves from.
func (c *Conn) source(peer netip.Addr) netip.Addr {
	a := c.addr.Addr()
	if !a.IsUnspecified() {
		return a
	}
	c.mu.Lock()
	l, ok := c.learned[peer]
	c.mu.Unlock()
	switch {
	case ok:
		return l
	case c.src.IsValid():
		return c.src
	}
	return a
}

// WriteTo sends a copy of b to the bind that listens on to, subject to
// faults (raw IP binds: to the raw bind of the same protocol at to's
// address; the port is ignored). Sending to an address nobody listens on
// is not an error (like UDP).
func (c *Conn) WriteTo(b []byte, to netip.AddrPort) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	if !to.Addr().IsValid() {
		return fmt.Errorf("memnet: send to %v: no address", to)
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	if c.raw {
		to = netip.AddrPortFrom(to.Addr(), 0)
	}
	from := netip.AddrPortFrom(c.source(to.Addr()), c.addr.Port())
	n := c.n
	n.sent.Add(1)
	n.mu.Lock()
	dst := n.destLocked(c, to)
	f := n.faults
	lose := (f.Loss > 0 && n.rng.Float64() < f.Loss) || (f.Drop != nil && f.Drop(b, from, to))
	copies := 1
	if f.Duplicate > 0 && n.rng.Float64() < f.Duplicate {
		copies = 2
	}
	var delays [2]time.Duration
	for i := range copies {
		delays[i] = f.Delay
		if f.Reorder > 0 && n.rng.Float64() < f.Reorder && f.Jitter > 0 {
			delays[i] += time.Duration(n.rng.Int64N(int64(f.Jitter))) + 1
			n.reordered.Add(1)
		}
	}
	n.mu.Unlock()
	if dst == nil {
		n.nolistener.Add(1)
		return nil
	}
	if lose {
		n.lost.Add(1)
		return nil
	}
	if copies == 2 {
		n.dup.Add(1)
	}
	for i := range copies {
		p := packet{append([]byte(nil), b...), from, to.Addr()}
		if delays[i] == 0 {
			dst.enqueue(p)
			continue
		}
		time.AfterFunc(delays[i], func() { dst.enqueue(p) })
	}
	return nil
}

func (c *Conn) enqueue(p packet) {
	select {
	case <-c.done:
		return
	default:
	}
	if c.addr.Addr().IsUnspecified() {
		c.mu.Lock()
		if c.learned == nil {
			c.learned = map[netip.Addr]netip.Addr{}
		}
		c.learned[p.from.Addr()] = p.to
		c.mu.Unlock()
	}
	select {
	case c.q <- p:
		c.n.delivered.Add(1)
	default:
		c.n.overflow.Add(1)
	}
}

// ReadFrom blocks for the next packet, copies it into b and returns its
// length and source; net.ErrClosed after Close.
func (c *Conn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.q:
		return copy(b, p.b), p.from, nil
	case <-c.done:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// Serve calls h for every received packet until Close; h must not
// retain b. It is the read loop a test runs in a goroutine.
func (c *Conn) Serve(h func(b []byte, from netip.AddrPort)) {
	c.ServeBatch(h, nil)
}

// ServeBatch waits for a datagram, calls h for it and for every one
// queued behind it (up to transport.BatchSize in all), then flush (when
// not nil), until Close; b stays valid until flush returns. It returns
// nil after Close.
func (c *Conn) ServeBatch(h func(b []byte, from netip.AddrPort), flush func()) error {
	for {
		select {
		case p := <-c.q:
			h(p.b, p.from)
		drain:
			for range transport.BatchSize - 1 {
				select {
				case p := <-c.q:
					h(p.b, p.from)
				default:
					break drain
				}
			}
			if flush != nil {
				flush()
			}
		case <-c.done:
			return nil
		}
	}
}

// Queued returns how many datagrams wait to be read.
func (c *Conn) Queued() int { return len(c.q) }

// Close stops the bind and frees its address.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.done)
		n := c.n
		n.mu.Lock()
		if c.raw {
			k := rawKey{c.proto, c.addr.Addr()}
			if n.raw[k] == c {
				delete(n.raw, k)
			}
		} else if n.udp[c.addr] == c {
			delete(n.udp, c.addr)
		}
		n.mu.Unlock()
	})
	return nil
}

// NewSegmentSender returns a transport.SegmentSender that sends each
// datagram of a train with WriteTo.
func (c *Conn) NewSegmentSender() transport.SegmentSender { return segmentSender{c} }

type segmentSender struct{ c *Conn }

func (s segmentSender) WriteSegments(b []byte, seg int, to netip.AddrPort) error {
	if seg <= 0 || len(b) == 0 {
		return errors.New("memnet: WriteSegments: nothing to send")
	}
	for off := 0; off < len(b); off += seg {
		if err := s.c.WriteTo(b[off:min(off+seg, len(b))], to); err != nil {
			return err
		}
	}
	return nil
}

// SetTOS, SetTTL and SetDF record the settings transport.IPConn applies
// to the headers of what it sends (IPOptions reports them); the values
// are checked as IPConn checks them.
func (c *Conn) SetTOS(tos int) error {
	if tos < 0 || tos > 255 {
		return fmt.Errorf("memnet: TOS %d out of range 0-255", tos)
	}
	c.mu.Lock()
	c.tos = tos
	c.mu.Unlock()
	return nil
}

// SetTTL records the TTL; see SetTOS.
func (c *Conn) SetTTL(ttl int) error {
	if ttl < 1 || ttl > 255 {
		return fmt.Errorf("memnet: TTL %d out of range 1-255", ttl)
	}
	c.mu.Lock()
	c.ttl = ttl
	c.mu.Unlock()
	return nil
}

// SetDF records the DF setting; see SetTOS.
func (c *Conn) SetDF(df bool) error {
	c.mu.Lock()
	c.df = df
	c.mu.Unlock()
	return nil
}

// WriteToTOS sends b as WriteTo does and records tos as the Type of
// Service of that datagram (SentTOS reports the last one).
func (c *Conn) WriteToTOS(b []byte, to netip.AddrPort, tos uint8) error {
	c.mu.Lock()
	c.sentTOS, c.tosSent = int(tos), true
	c.mu.Unlock()
	return c.WriteTo(b, to)
}

// SentTOS returns the Type of Service the last WriteToTOS gave its
// datagram, -1 when none did.
func (c *Conn) SentTOS() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tosSent {
		return -1
	}
	return c.sentTOS
}

// IPOptions returns what SetTOS, SetTTL and SetDF recorded (0 for a TOS
// or TTL never set).
func (c *Conn) IPOptions() (tos, ttl int, df bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tos, c.ttl, c.df
}

// Host is a transport.Factory for one host of the network, at address
// addr: binds it opens at the unspecified address send from addr to peers
// that have not reached them at another address, and streams it dials
// without a local address come from addr. It restricts nothing else.
type Host struct {
	n    *Network
	addr netip.Addr
}

// Host returns the Factory of the host at addr.
func (n *Network) Host(addr netip.Addr) *Host { return &Host{n, canon(addr)} }

// ListenUDP opens a UDP bind at addr.
func (h *Host) ListenUDP(addr netip.AddrPort) (transport.Bind, error) {
	return bind(h.n.listenUDP(addr, h.addr))
}

// ListenIP opens a raw IP bind for proto at addr.
func (h *Host) ListenIP(proto uint8, addr netip.Addr) (transport.Bind, error) {
	return bind(h.n.listenRaw(proto, addr, h.addr))
}
