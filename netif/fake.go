package netif

import (
	"errors"
	"sync"
)

// Fake is an in-memory Device for tests: packets the code under test
// writes come out of Outbound; packets pushed with Inject are what it reads.
//
// A Fake made by NewFakeOffload stands for a TUN with offloads: what is
// injected and what comes out carries a virtio_net_hdr (Offload true).
type Fake struct {
	name     string
	offload  bool
	inbound  chan []byte
	Outbound chan []byte
	once     sync.Once
	closed   chan struct{}
}

// NewFake returns a Fake with room for depth packets each way.
func NewFake(name string, depth int) *Fake {
	return &Fake{name: name, inbound: make(chan []byte, depth), Outbound: make(chan []byte, depth), closed: make(chan struct{})}
}

// NewFakeOffload returns a Fake whose packets carry a virtio_net_hdr.
func NewFakeOffload(name string, depth int) *Fake {
	f := NewFake(name, depth)
	f.offload = true
	return f
}

// Offload reports whether packets carry a virtio_net_hdr.
func (f *Fake) Offload() bool { return f.offload }

// ErrClosed is returned by a closed Fake.
var ErrClosed = errors.New("netif: device closed")

// Inject queues a packet for the code under test to read. It copies p.
func (f *Fake) Inject(p []byte) error {
	select {
	case f.inbound <- append([]byte(nil), p...):
		return nil
	case <-f.closed:
		return ErrClosed
	}
}

// Read returns the next injected packet.
func (f *Fake) Read(b []byte) (int, error) {
	select {
	case p := <-f.inbound:
		return copy(b, p), nil
	case <-f.closed:
		return 0, ErrClosed
	}
}

// Write delivers a copy of b to Outbound; it drops the packet (as a full
// TUN queue would) when Outbound is full.
func (f *Fake) Write(b []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, ErrClosed
	default:
	}
	select {
	case f.Outbound <- append([]byte(nil), b...):
	default:
	}
	return len(b), nil
}

// Name returns the device name.
func (f *Fake) Name() string { return f.name }

// Close unblocks readers.
func (f *Fake) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}
