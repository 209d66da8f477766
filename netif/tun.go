package netif

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Device is a layer-3 packet device: a TUN in production, a Fake in tests.
// Read returns one IP packet; Write sends one.
type Device interface {
	Read(b []byte) (int, error)
	Write(b []byte) (int, error)
	Name() string
	Close() error
}

// TUN is a Linux TUN device (IFF_TUN | IFF_NO_PI): every read and write is
// one bare IP packet. The device exists while the TUN is open; Close
// removes it, with its addresses and routes.
type TUN struct {
	f    *os.File
	name string
}

// MaxNameLen is the longest Linux interface name.
const MaxNameLen = unix.IFNAMSIZ - 1

// CreateTUN creates the TUN device name in the calling thread's network
// namespace. The file descriptor is non-blocking and integrated with the
// Go runtime poller, so Read blocks only its goroutine and Close unblocks it.
func CreateTUN(name string) (*TUN, error) {
	if name == "" || len(name) > MaxNameLen {
		return nil, fmt.Errorf("netif: TUN name %q: expected 1 to %d characters", name, MaxNameLen)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("netif: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netif: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("netif: TUN %s: the name is in use", name)
		}
		return nil, fmt.Errorf("netif: TUNSETIFF %s: %w", name, err)
	}
	return &TUN{f: os.NewFile(uintptr(fd), "/dev/net/tun:"+ifr.Name()), name: ifr.Name()}, nil
}

// Name returns the device name.
func (t *TUN) Name() string { return t.name }

// Read reads one packet.
func (t *TUN) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write writes one packet.
func (t *TUN) Write(b []byte) (int, error) { return t.f.Write(b) }

// Close removes the device.
func (t *TUN) Close() error { return t.f.Close() }

// Fd returns the raw descriptor (for batched I/O in the data plane).
func (t *TUN) Fd() uintptr {
	var fd uintptr
	rc, err := t.f.SyscallConn()
	if err == nil {
		rc.Control(func(f uintptr) { fd = f })
	}
	return fd
}
