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
//
// A TUN made by CreateTUNOffload may have offloads (Offload reports it):
// then every read and write carries a virtio_net_hdr of VnetHdrLen octets
// in front of the packet, and the packet may be a TCP super-packet of up
// to 64 KiB to be segmented (reads) or one made of segments (writes), or
// have a partial checksum to complete (reads).
type TUN struct {
	f       *os.File
	name    string
	offload bool
}

// VnetHdrLen is the length of the virtio_net_hdr on a TUN with offloads.
const VnetHdrLen = 10

// Offloader is implemented by devices that may carry TCP super-packets.
// When Offload reports true, Read and Write carry a virtio_net_hdr of
// VnetHdrLen octets in front of every packet.
type Offloader interface {
	Offload() bool
}

// tunOffloads are the offloads asked of the kernel: checksums and TCP
// segmentation (TSO) for IPv4 and IPv6. UDP segmentation (USO) is not
// asked for: the data plane does not split UDP super-packets.
const tunOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6

// MaxNameLen is the longest Linux interface name.
const MaxNameLen = unix.IFNAMSIZ - 1

// CreateTUN creates the TUN device name in the calling thread's network
// namespace. The file descriptor is non-blocking and integrated with the
// Go runtime poller, so Read blocks only its goroutine and Close unblocks it.
func CreateTUN(name string) (*TUN, error) {
	return createTUN(name, false)
}

// CreateTUNOffload creates the TUN device name like CreateTUN, with
// IFF_VNET_HDR and checksum and TCP segmentation offloads when the kernel
// accepts them, and without (Offload false) when it does not.
func CreateTUNOffload(name string) (*TUN, error) {
	t, err := createTUN(name, true)
	if err != nil && errors.Is(err, errNoOffload) {
		return createTUN(name, false)
	}
	return t, err
}

var errNoOffload = errors.New("netif: TUN offloads refused")

func createTUN(name string, offload bool) (*TUN, error) {
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
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if offload {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("netif: TUN %s: the name is in use", name)
		}
		if offload && errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("%w: %s: %w", errNoOffload, name, err)
		}
		return nil, fmt.Errorf("netif: TUNSETIFF %s: %w", name, err)
	}
	if offload {
		// Closing the descriptor removes the device, so a refusal here
		// leaves nothing behind for the retry without offloads.
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunOffloads); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%w: %s: TUNSETOFFLOAD: %w", errNoOffload, name, err)
		}
	}
	return &TUN{f: os.NewFile(uintptr(fd), "/dev/net/tun:"+ifr.Name()), name: ifr.Name(), offload: offload}, nil
}

// Offload reports whether reads and writes carry a virtio_net_hdr.
func (t *TUN) Offload() bool { return t.offload }

// Name returns the device name.
func (t *TUN) Name() string { return t.name }

// Read reads one packet.
func (t *TUN) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write writes one packet.
func (t *TUN) Write(b []byte) (int, error) { return t.f.Write(b) }

// WritePacket writes one bare IP packet whether or not the TUN has
// offloads (with them, behind a zero virtio_net_hdr). It allocates: it is
// for the control plane, not the data path.
func (t *TUN) WritePacket(p []byte) error {
	if t.offload {
		p = append(make([]byte, VnetHdrLen, VnetHdrLen+len(p)), p...)
	}
	_, err := t.f.Write(p)
	return err
}

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
