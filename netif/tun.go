package netif

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// TUN is a Linux TUN device (IFF_TUN | IFF_NO_PI): every read and write is
// one bare IP packet. The device exists while the TUN is open; Close
// removes it, with its addresses and routes.
//
// A TUN made with offloads (CreateTUNOffload, Host.CreateTUN with offload)
// may have them (Offload reports it): then every read and write carries a
// virtio_net_hdr of VnetHdrLen octets in front of the packet, and the
// packet may be a TCP super-packet of up to 64 KiB to be segmented (reads)
// or one made of segments (writes), or have a partial checksum to
// complete (reads).
//
// The descriptor is non-blocking: TryRead and Write never wait, a Poller
// watches the TUN without a goroutine of its own, and Read waits on the Go
// runtime's poller.
type TUN struct {
	fdDev
	offload bool
}

// tunOffloads are the offloads asked of the kernel: checksums and TCP
// segmentation (TSO) for IPv4 and IPv6. UDP segmentation (USO) is not
// asked for: the data plane does not split UDP super-packets.
const tunOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6

// CreateTUN creates the TUN device name in the calling thread's network
// namespace, through System: like System.CreateTUN(name, false).
func CreateTUN(name string) (*TUN, error) {
	return systemCreateTUN(name, false)
}

// CreateTUNOffload creates the TUN device name like CreateTUN, with
// IFF_VNET_HDR and checksum and TCP segmentation offloads when the kernel
// accepts them, and without (Offload false) when it does not.
func CreateTUNOffload(name string) (*TUN, error) {
	return systemCreateTUN(name, true)
}

var errNoOffload = errors.New("netif: TUN offloads refused")

// openTUN opens the TUN, with offloads if asked and accepted.
func openTUN(name string, offload bool) (*TUN, error) {
	t, err := openTUNFlags(name, offload)
	if err != nil && offload && errors.Is(err, errNoOffload) {
		return openTUNFlags(name, false)
	}
	return t, err
}

func openTUNFlags(name string, offload bool) (*TUN, error) {
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if offload {
		flags |= unix.IFF_VNET_HDR
	}
	fd, kname, err := openTunFd("TUN", name, flags)
	if err != nil {
		if offload && errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("%w: %s: %w", errNoOffload, name, err)
		}
		return nil, err
	}
	if offload {
		// Closing the descriptor removes the device, so a refusal here
		// leaves nothing behind for the retry without offloads.
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunOffloads); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%w: %s: TUNSETOFFLOAD: %w", errNoOffload, name, err)
		}
	}
	return &TUN{fdDev: fdDev{name: kname, kind: "TUN", fd: fd}, offload: offload}, nil
}

// Offload reports whether reads and writes carry a virtio_net_hdr.
func (t *TUN) Offload() bool { return t.offload }

// WritePacket writes one bare IP packet whether or not the TUN has
// offloads (with them, behind a zero virtio_net_hdr). It allocates: it is
// for the control plane, not the data path.
func (t *TUN) WritePacket(p []byte) error {
	if t.offload {
		p = append(make([]byte, VnetHdrLen, VnetHdrLen+len(p)), p...)
	}
	_, err := t.Write(p)
	return err
}
