// Package vnet holds the codec of the virtio_net_hdr that a Linux TUN
// opened with IFF_VNET_HDR puts in front of every packet, and the packet
// surgery that header asks for: completing a partial checksum, splitting
// a TCP super-packet into segments (GSO, in user space) and merging
// in-order TCP segments into one (GRO, in user space). It does no I/O,
// starts no goroutines, does not log and does not allocate.
//
// The header (include/uapi/linux/virtio_net.h, struct virtio_net_hdr),
// in the host's byte order on a TUN (legacy virtio):
//
//	 0        1        2                 4                 6
//	+--------+--------+--------+--------+--------+--------+
//	| flags  |gso_type|     hdr_len     |    gso_size     |
//	+--------+--------+--------+--------+--------+--------+
//	|    csum_start   |   csum_offset   |
//	+--------+--------+--------+--------+
//	 6                 8                10
package vnet
