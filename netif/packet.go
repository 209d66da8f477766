package netif

import (
	"encoding/binary"
	"fmt"
	"net"
	"unsafe"

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
	// vlan, when not 0, is the VLAN of an Ethernet subinterface: only
	// frames tagged with it are read (a socket filter), and frames
	// written carry it (their tag's VLAN ID rewritten).
	vlan uint16

	// The scratch of TryRead's recvmsg: a Poller never reads one device
	// from two workers at once, so one set serves (and allocates
	// nothing per frame).
	msg unix.Msghdr
	iov unix.Iovec
	oob [64]byte
}

// Offload reports whether frames carry a virtio_net_hdr (PACKET_VNET_HDR):
// then a read returns the header and a frame that may be a TCP
// super-frame (the segment offload of a veth's peer, a NIC's GRO) or
// carry a checksum still to compute, which the header describes, and a
// write takes a header in front of the frame.
func (p *Packet) Offload() bool { return p.offload }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacketVLAN opens the VLAN vlan (1-4094) of host device name, an
// Ethernet subinterface (IOS's GigabitEthernet0/0.10 with encapsulation
// dot1Q 10): a socket filter passes only the frames tagged with vlan,
// whether the device strips tags into metadata or not, and Write sets
// vlan in the tag of the frames it sends (the VLAN ID the peer's
// subinterface used is rewritten, as IOS does at the egress of an
// Ethernet VLAN pseudowire, RFC 4719 §4.2). Frames read keep their tag.
func OpenPacketVLAN(name string, vlan uint16) (*Packet, error) {
	if vlan == 0 || vlan > 4094 {
		return nil, fmt.Errorf("netif: VLAN %d of %s: expected 1 to 4094", vlan, name)
	}
	p, err := OpenPacket(name)
	if err != nil {
		return nil, err
	}
	// Classic BPF (filter(2)): the tag from the metadata when the device
	// stripped it, else from the frame, and its VLAN ID compared.
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		ldh  = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		and  = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
		meta = 0xfffff000 // SKF_AD_OFF
	)
	prog := []unix.SockFilter{
		{Code: ld, K: meta + 48},                       // 0: SKF_AD_VLAN_TAG_PRESENT
		{Code: jeq, K: 0, Jt: 3, Jf: 0},                // 1: absent: to 5
		{Code: ld, K: meta + 44},                       // 2: SKF_AD_VLAN_TAG
		{Code: and, K: 0x0fff},                         // 3
		{Code: jeq, K: uint32(vlan), Jt: 5, Jf: 6},     // 4: to 10 or 11
		{Code: ldh, K: 12},                             // 5: the EtherType
		{Code: jeq, K: unix.ETH_P_8021Q, Jt: 0, Jf: 4}, // 6: untagged: to 11
		{Code: ldh, K: 14},                             // 7: the TCI
		{Code: and, K: 0x0fff},                         // 8
		{Code: jeq, K: uint32(vlan), Jt: 0, Jf: 1},     // 9: to 10 or 11
		{Code: ret, K: 0x40000},                        // 10: accept
		{Code: ret, K: 0},                              // 11: drop
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(p.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		p.Close()
		return nil, fmt.Errorf("netif: VLAN %d of %s: socket filter: %w", vlan, name, err)
	}
	// Frames queued before the filter was attached are drained.
	buf := make([]byte, 2048)
	for range 1024 {
		if _, err := p.TryRead(buf); err != nil {
			break
		}
	}
	p.vlan = vlan
	return p, nil
}

// Write sends one frame (behind its virtio_net_hdr when Offload). On a
// VLAN (OpenPacketVLAN) the VLAN ID of a tagged frame is set to the
// subinterface's, in place.
func (p *Packet) Write(b []byte) (int, error) {
	if p.vlan != 0 {
		off := 0
		if p.offload {
			off = VnetHdrLen
		}
		if len(b) >= off+16 && b[off+12] == 0x81 && b[off+13] == 0x00 {
			tci := binary.BigEndian.Uint16(b[off+14:])
			binary.BigEndian.PutUint16(b[off+14:], tci&^0x0fff|p.vlan)
		}
	}
	return p.fdDev.Write(b)
}

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
	// The device may strip 802.1Q tags into metadata (rx-vlan-offload):
	// PACKET_AUXDATA hands them up beside the frame, and TryRead puts
	// them back, so that tagged frames cross the pseudowire tagged.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("PACKET_AUXDATA", err)
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

// tpacket_auxdata's status bits (linux/if_packet.h).
const (
	tpStatusVLANValid     = 0x10
	tpStatusVLANTPIDValid = 0x40
	vlanTagLen            = 4
)

// TryRead reads one waiting frame (behind its virtio_net_hdr when
// Offload), or returns ErrWouldBlock. An 802.1Q tag the device stripped
// is put back into the frame, which needs 4 octets of room in b beyond
// the frame.
func (p *Packet) TryRead(b []byte) (int, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return 0, ErrClosed
	}
	if len(b) <= vlanTagLen {
		return 0, fmt.Errorf("netif: %s: read buffer of %d octets", p.name, len(b))
	}
	room := b[:len(b)-vlanTagLen]
	p.iov.Base = unsafe.SliceData(room)
	p.iov.SetLen(len(room))
	p.msg.Iov = &p.iov
	p.msg.SetIovlen(1)
	p.msg.Control = &p.oob[0]
	p.msg.SetControllen(len(p.oob))
	p.msg.Flags = 0
	var n int
	for {
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(p.fd), uintptr(unsafe.Pointer(&p.msg)), unix.MSG_DONTWAIT)
		switch e {
		case 0:
			n = int(r)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, ErrWouldBlock
		default:
			return 0, e
		}
		break
	}
	tci, tpid, ok := auxVLAN(p.oob[:p.msg.Controllen])
	if !ok {
		return n, nil
	}
	off := 0
	if p.offload {
		off = VnetHdrLen
	}
	if n < off+12 {
		return n, nil
	}
	// Move everything after the MAC addresses 4 octets on and put the
	// tag there (IEEE 802.1Q §9.3).
	copy(b[off+12+vlanTagLen:n+vlanTagLen], b[off+12:n])
	binary.BigEndian.PutUint16(b[off+12:], tpid)
	binary.BigEndian.PutUint16(b[off+14:], tci)
	if p.offload {
		// The header's offsets count from the frame's start: they move
		// with what follows the tag (virtio_net_hdr fields in the
		// host's byte order, as wire/vnet decodes them).
		if b[0] != 0 || b[1] != 0 {
			binary.NativeEndian.PutUint16(b[2:], binary.NativeEndian.Uint16(b[2:])+vlanTagLen)
			binary.NativeEndian.PutUint16(b[6:], binary.NativeEndian.Uint16(b[6:])+vlanTagLen)
		}
	}
	return n + vlanTagLen, nil
}

// auxVLAN finds the PACKET_AUXDATA control message in oob and returns the
// VLAN tag it carries, if any.
func auxVLAN(oob []byte) (tci, tpid uint16, ok bool) {
	const hdr = unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0, 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= hdr+int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			a := (*unix.TpacketAuxdata)(unsafe.Pointer(&oob[hdr]))
			if a.Status&tpStatusVLANValid == 0 {
				return 0, 0, false
			}
			tpid = unix.ETH_P_8021Q
			if a.Status&tpStatusVLANTPIDValid != 0 && a.Vlan_tpid != 0 {
				tpid = a.Vlan_tpid
			}
			return a.Vlan_tci, tpid, true
		}
		step := (l + unix.SizeofPtr - 1) &^ (unix.SizeofPtr - 1)
		if step >= len(oob) {
			break
		}
		oob = oob[step:]
	}
	return 0, 0, false
}

// HardwareAddr returns the device's MAC address.
func (p *Packet) HardwareAddr() (net.HardwareAddr, error) {
	ifi, err := net.InterfaceByName(p.name)
	if err != nil {
		return nil, fmt.Errorf("netif: %s: %w", p.name, err)
	}
	return ifi.HardwareAddr, nil
}
