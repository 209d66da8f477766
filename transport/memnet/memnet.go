// Package memnet is an in-memory datagram network for tests: connections
// addressed by netip.AddrPort exchange packets through channels, and the
// network can drop, duplicate, delay and reorder them from a seeded RNG,
// so a run is reproducible. It uses the time package only through
// time.AfterFunc for delays, which makes it deterministic inside a
// testing/synctest bubble.
package memnet

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the impairments applied to every packet.
type Faults struct {
	Loss      float64       // probability a packet is dropped
	Duplicate float64       // probability a packet is delivered twice
	Reorder   float64       // probability a packet is held back by a random delay
	Delay     time.Duration // base one-way delay (0: immediate)
	Jitter    time.Duration // maximum extra delay of a reordered packet
}

// Stats counts what the network did.
type Stats struct {
	Sent, Delivered, Lost, Duplicated, Reordered, Overflow, NoListener uint64
}

// Network is a set of connections and the impairments between them.
type Network struct {
	mu     sync.Mutex
	rng    *rand.Rand
	faults Faults
	conns  map[netip.AddrPort]*Conn

	sent, delivered, lost, dup, reordered, overflow, nolistener atomic.Uint64
}

// New returns a network whose random choices follow seed.
func New(seed uint64) *Network {
	return &Network{rng: rand.New(rand.NewPCG(seed, seed+1)), conns: map[netip.AddrPort]*Conn{}}
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

// Listen opens a connection at addr.
func (n *Network) Listen(addr netip.AddrPort) (*Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[addr] != nil {
		return nil, ErrAddrInUse
	}
	c := &Conn{n: n, addr: addr, q: make(chan packet, QueueLen), done: make(chan struct{})}
	n.conns[addr] = c
	return c, nil
}

type packet struct {
	b    []byte
	from netip.AddrPort
}

// Conn is one endpoint. It implements proto/l2tp.Conn (WriteTo).
type Conn struct {
	n    *Network
	addr netip.AddrPort
	q    chan packet
	done chan struct{}
	once sync.Once
}

// LocalAddr returns the address the connection listens on.
func (c *Conn) LocalAddr() netip.AddrPort { return c.addr }

// WriteTo sends a copy of b to the connection at to, subject to faults.
// Sending to an address nobody listens on is not an error (like UDP).
func (c *Conn) WriteTo(b []byte, to netip.AddrPort) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	n := c.n
	n.sent.Add(1)
	n.mu.Lock()
	dst := n.conns[to]
	f := n.faults
	lose := f.Loss > 0 && n.rng.Float64() < f.Loss
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
		p := packet{append([]byte(nil), b...), c.addr}
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
	for {
		select {
		case p := <-c.q:
			h(p.b, p.from)
		case <-c.done:
			return
		}
	}
}

// Close stops the connection and frees its address.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.done)
		c.n.mu.Lock()
		if c.n.conns[c.addr] == c {
			delete(c.n.conns, c.addr)
		}
		c.n.mu.Unlock()
	})
	return nil
}
