package netif

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Packet is a host Ethernet device (a veth, a NIC) opened through a raw
// packet socket (packet(7)): every read is one frame the device received,
// every write one frame sent out of it, without the frame check sequence.
// It is how an L2TPv3 Ethernet pseudowire's attachment circuit is a device
// vpdn did not create (IOS's `xconnect` on a physical interface). The
// device is put in promiscuous mode (the pseudowire carries every frame of
// the segment, not only those to the device's address) and frames the
// host sends on it, our own writes included, are not read back
// (PACKET_IGNORE_OUTGOING). Like a TAP its descriptor is non-blocking and
// a Poller can watch it. Closing it leaves the device as it was but for
// the promiscuous membership, which the kernel drops with the socket.
//
// The kernel hands a packet socket what the device received as it holds
// it: a device that aggregates (GRO) or a veth whose peer uses TCP
// segmentation offload delivers frames larger than its MTU, and a veth's
// peer leaves TCP checksums to "hardware" that is never there. With
// PACKET_VNET_HDR (Offload) each frame comes with the virtio_net_hdr that
// says so, and the data plane cuts and completes them; VLAN tags the
// device strips into metadata (rx-vlan-offload) are not in the frames.
type Packet struct {
	fdDev
	offload bool
}

// Offload reports whether frames carry a virtio_net_hdr (PACKET_VNET_HDR):
// then a read returns the header and a frame that may be a TCP
// super-frame (the segment offload of a veth's peer, a NIC's GRO) or
// carry a checksum still to compute, which the header describes, and a
// write takes a header in front of the frame.
func (p *Packet) Offload() bool { return p.offload }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacket opens the host device name, in the calling thread's network
// namespace, as a Packet. It needs CAP_NET_RAW. The device must exist; it
// is set up (administratively up) if it is not.
func OpenPacket(name string) (*Packet, error) {
	if err := checkName("packet device", name); err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("netif: packet device %s: %w", name, ErrNoDevice)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("netif: packet socket for %s: %w", name, err)
	}
	fail := func(what string, err error) (*Packet, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("netif: packet device %s: %s: %w", name, what, err)
	}
	// Ignore outgoing frames before binding, so that none is queued.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	// A virtio_net_hdr on every frame, when the kernel has it: frames
	// larger than the MTU (segmentation offload, GRO) and frames whose
	// checksum the sender left to hardware arrive with what it takes to
	// cut and complete them, where without it they would be forwarded
	// too big or with a checksum nobody computes.
	offload := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1) == nil
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("bind", err)
	}
	mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
		return fail("promiscuous mode", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	if ifi.Flags&net.FlagUp == 0 {
		if err := setUp(fd, name); err != nil {
			return fail("set up", err)
		}
	}
	return &Packet{fdDev: fdDev{name: name, kind: "packet", fd: fd}, offload: offload}, nil
}

// setUp sets IFF_UP on name with the SIOCSIFFLAGS ioctl on fd.
func setUp(fd int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// HardwareAddr returns the device's MAC address.
func (p *Packet) HardwareAddr() (net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(p.name)
	if err != nil {
		return nil, fmt.Errorf("netif: %s: %w", p.name, err)
	}
	return ifi.HardwareAddr, nil
}
