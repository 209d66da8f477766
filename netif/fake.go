package netif

import (
	"fmt"
	"net"
	"sync"
)

// Fake is an in-memory Device for tests: packets the code under test
// writes come out of Outbound; packets pushed with Inject are what it
// reads. It uses channels only, so it runs inside a testing/synctest
// bubble, also when a Poller watches it.
//
// A Fake made by NewFakeOffload stands for a TUN with offloads: what is
// injected and what comes out carries a virtio_net_hdr (Offload true).
// One made by NewFakeTAP stands for a TAP: it has a MAC address.
type Fake struct {
	name     string
	offload  bool
	inbound  chan []byte
	avail    chan struct{} // a token after every Inject, for a watch
	Outbound chan []byte
	once     sync.Once
	closed   chan struct{}

	mu      sync.Mutex
	mac     net.HardwareAddr // TAP only
	watch   *Watch
	onClose func() // the FakeHost's bookkeeping
}

// NewFake returns a Fake with room for depth packets each way.
func NewFake(name string, depth int) *Fake {
	return &Fake{name: name, inbound: make(chan []byte, depth), avail: make(chan struct{}, 1),
		Outbound: make(chan []byte, depth), closed: make(chan struct{})}
}

// NewFakeOffload returns a Fake whose packets carry a virtio_net_hdr.
func NewFakeOffload(name string, depth int) *Fake {
	f := NewFake(name, depth)
	f.offload = true
	return f
}

// NewFakeTAP returns a Fake standing for a TAP with MAC address mac.
func NewFakeTAP(name string, depth int, mac net.HardwareAddr) *Fake {
	f := NewFake(name, depth)
	f.mac = append(net.HardwareAddr{}, mac...)
	return f
}

// Offload reports whether packets carry a virtio_net_hdr.
func (f *Fake) Offload() bool { return f.offload }

// IsTAP reports whether the Fake stands for a TAP.
func (f *Fake) IsTAP() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mac != nil
}

// Inject queues a packet for the code under test to read, waiting while
// the queue is full. It copies p.
func (f *Fake) Inject(p []byte) error {
	select {
	case <-f.closed:
		return ErrClosed
	default:
	}
	select {
	case f.inbound <- append([]byte(nil), p...):
	case <-f.closed:
		return ErrClosed
	}
	select {
	case f.avail <- struct{}{}:
	default:
	}
	return nil
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

// TryRead returns the next injected packet if there is one, and
// ErrWouldBlock if not.
func (f *Fake) TryRead(b []byte) (int, error) {
	select {
	case <-f.closed:
		return 0, ErrClosed
	default:
	}
	select {
	case p := <-f.inbound:
		return copy(b, p), nil
	default:
		return 0, ErrWouldBlock
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

// Close unblocks readers and stops the Fake's watch, if any (without
// waiting for a running ready, like a TUN's Close). A Fake made by a
// FakeHost leaves it, with its addresses and routes.
func (f *Fake) Close() error {
	f.once.Do(func() {
		close(f.closed)
		f.mu.Lock()
		w, onClose := f.watch, f.onClose
		f.mu.Unlock()
		if w != nil {
			w.stopFake()
		}
		if onClose != nil {
			onClose()
		}
	})
	return nil
}

// HardwareAddr returns the MAC address of a Fake TAP.
func (f *Fake) HardwareAddr() (net.HardwareAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mac == nil {
		return nil, fmt.Errorf("netif: %s is not a TAP", f.name)
	}
	return append(net.HardwareAddr{}, f.mac...), nil
}

// SetHardwareAddr sets the MAC address of a Fake TAP.
func (f *Fake) SetHardwareAddr(mac net.HardwareAddr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mac == nil {
		return fmt.Errorf("netif: %s is not a TAP", f.name)
	}
	if len(mac) != 6 {
		return fmt.Errorf("netif: %s hardware address %s: want 6 octets", f.name, mac)
	}
	f.mac = append(net.HardwareAddr{}, mac...)
	return nil
}

func (f *Fake) setWatch(w *Watch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		return ErrClosed
	default:
	}
	if f.watch != nil {
		return fmt.Errorf("netif: %s is watched already", f.name)
	}
	f.watch = w
	return nil
}

func (f *Fake) clearWatch(w *Watch) {
	f.mu.Lock()
	if f.watch == w {
		f.watch = nil
	}
	f.mu.Unlock()
}
