package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Device is a packet device: a TUN (IP packets) or a TAP (Ethernet
// frames) in production, a Fake in tests.
//
// Read waits for one packet; TryRead returns one if it is waiting and
// ErrWouldBlock if not (a Poller calls it from its workers). Write sends
// one packet and never blocks: a full queue is an error the caller counts
// as a drop.
type Device interface {
	Read(b []byte) (int, error)
	TryRead(b []byte) (int, error)
	Write(b []byte) (int, error)
	Name() string
	Close() error
}

// ErrWouldBlock is returned by TryRead when no packet is waiting, and by
// Write when the device's queue is full.
var ErrWouldBlock = errors.New("netif: would block")

// ErrClosed is returned by a closed device.
var ErrClosed = errors.New("netif: device closed")

// ErrNoDevice is wrapped by the errors of Host operations on a device
// that does not exist (the kernel's ENODEV).
var ErrNoDevice = errors.New("netif: no such device")

// Offloader is implemented by devices that may carry TCP super-packets.
// When Offload reports true, Read and Write carry a virtio_net_hdr of
// VnetHdrLen octets in front of every packet.
type Offloader interface {
	Offload() bool
}

// HardwareAddresser is implemented by Ethernet devices (TAP, and a Fake
// made by a FakeHost's CreateTAP).
type HardwareAddresser interface {
	HardwareAddr() (net.HardwareAddr, error)
	SetHardwareAddr(mac net.HardwareAddr) error
}

// VnetHdrLen is the length of the virtio_net_hdr on a TUN with offloads.
const VnetHdrLen = 10

// MaxNameLen is the longest Linux interface name.
const MaxNameLen = unix.IFNAMSIZ - 1

func checkName(kind, name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("netif: %s name %q: expected 1 to %d characters", kind, name, MaxNameLen)
	}
	return nil
}

// fdDev is the descriptor of a TUN or TAP: raw and non-blocking, read by a
// Poller's workers with TryRead, written directly, and put on the Go
// runtime's poller only if someone calls the blocking Read.
//
// Every use of fd holds mu for reading and checks closed; Close holds it
// for writing, so a descriptor number is never used after it was closed
// (and perhaps reused for another file).
type fdDev struct {
	name string
	kind string // "TUN" or "TAP"

	mu     sync.RWMutex
	fd     int
	closed bool
	file   *os.File // for the blocking Read; owns fd once set
	watch  *Watch   // the Poller's, while watched

	// host is the Kernel the device was made through (for its index
	// cache and its netlink socket); release, when set, is called once
	// on Close to drop the device's reference to it.
	host    *Kernel
	index   int32
	release func()
}

// Name returns the device name.
func (d *fdDev) Name() string { return d.name }

// TryRead reads one waiting packet, or returns ErrWouldBlock.
func (d *fdDev) TryRead(b []byte) (int, error) { return d.io(unix.Read, b) }

// io runs one non-blocking read or write on the descriptor, unless the
// device is closed (the lock keeps Close from reusing the descriptor
// number under it).
func (d *fdDev) io(op func(int, []byte) (int, error), b []byte) (int, error) {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return 0, ErrClosed
	}
	n, err := op(d.fd, b)
	d.mu.RUnlock()
	if err != nil {
		if err == unix.EAGAIN {
			return 0, ErrWouldBlock
		}
		return 0, err
	}
	return n, nil
}

// Read waits for one packet. The first call puts the descriptor on the Go
// runtime's poller, so that the wait parks only the calling goroutine;
// Close wakes it with ErrClosed.
func (d *fdDev) Read(b []byte) (int, error) {
	f, err := d.blockingFile()
	if err != nil {
		return 0, err
	}
	n, err := f.Read(b)
	if err != nil && errors.Is(err, fs.ErrClosed) {
		return n, ErrClosed
	}
	return n, err
}

func (d *fdDev) blockingFile() (*os.File, error) {
	d.mu.RLock()
	f, closed := d.file, d.closed
	d.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if f != nil {
		return f, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if d.file == nil {
		// The descriptor is non-blocking, so os.NewFile registers it
		// with the runtime poller.
		d.file = os.NewFile(uintptr(d.fd), "/dev/net/tun:"+d.name)
	}
	return d.file, nil
}

// Write writes one packet; ErrWouldBlock when the queue is full.
func (d *fdDev) Write(b []byte) (int, error) { return d.io(unix.Write, b) }

// Close stops the device's watch, if any, closes the descriptor and so
// removes the device with its addresses and routes. It does not wait for
// a running ready call of the watch (so it may be called from inside
// one): that call's reads fail with ErrClosed. Call Watch.Stop first to
// wait for it.
func (d *fdDev) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	if w := d.watch; w != nil {
		d.watch = nil
		w.disarm()
	}
	var err error
	if d.file != nil {
		err = d.file.Close()
	} else {
		err = unix.Close(d.fd)
	}
	d.mu.Unlock()
	if d.host != nil {
		d.host.forget(d.name, d.index)
	}
	if d.release != nil {
		d.release()
	}
	if err != nil {
		return fmt.Errorf("netif: close %s: %w", d.name, err)
	}
	return nil
}

// Fd returns the raw descriptor. It is valid until Close; the caller must
// not use it after.
func (d *fdDev) Fd() uintptr {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return uintptr(d.fd)
}

// openTunFd opens /dev/net/tun and attaches it to device name with flags
// (TUNSETIFF), in the calling thread's network namespace. It returns the
// non-blocking descriptor and the name the kernel confirmed.
func openTunFd(kind, name string, flags uint16) (int, string, error) {
	if err := checkName(kind, name); err != nil {
		return -1, "", err
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, "", fmt.Errorf("netif: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("netif: %w", err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EBUSY) {
			return -1, "", fmt.Errorf("netif: %s %s: the name is in use: %w", kind, name, fs.ErrExist)
		}
		return -1, "", fmt.Errorf("netif: TUNSETIFF %s: %w", name, err)
	}
	return fd, ifr.Name(), nil
}
