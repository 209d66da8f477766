package vnet

import (
	"encoding/binary"
	"errors"
)

// HdrLen is the length of a virtio_net_hdr.
const HdrLen = 10

// Flags.
const (
	// FlagNeedsCsum: the checksum from CsumStart to the end of the packet
	// is to be computed and stored at CsumStart+CsumOffset, over the
	// partial (pseudo-header) sum already there.
	FlagNeedsCsum = 1
	// FlagDataValid: the checksums were verified.
	FlagDataValid = 2
)

// GSO types.
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3
	GSOTCPv6 = 4
	GSOUDPL4 = 5
	// GSOECN is or-ed into the type when the first segment carries CWR.
	GSOECN = 0x80
)

// Hdr is a decoded virtio_net_hdr.
type Hdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // length of the headers to copy into every segment
	GSOSize    uint16 // payload octets per segment
	CsumStart  uint16 // where the checksummed part starts
	CsumOffset uint16 // where the checksum is, from CsumStart
}

// ErrShort is returned for a buffer shorter than the header.
var ErrShort = errors.New("vnet: shorter than a virtio_net_hdr")

// The kernel writes the fields in the host's byte order (tun16_to_cpu with
// the legacy header, which is what TUNSETVNETHDRSZ-less TUNs use).
var order = binary.NativeEndian

// Decode reads the header at the start of b.
func Decode(b []byte) (Hdr, error) {
	if len(b) < HdrLen {
		return Hdr{}, ErrShort
	}
	return Hdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     order.Uint16(b[2:]),
		GSOSize:    order.Uint16(b[4:]),
		CsumStart:  order.Uint16(b[6:]),
		CsumOffset: order.Uint16(b[8:]),
	}, nil
}

// Put writes h at the start of b, which must have room for HdrLen octets.
func (h Hdr) Put(b []byte) {
	_ = b[HdrLen-1]
	b[0], b[1] = h.Flags, h.GSOType
	order.PutUint16(b[2:], h.HdrLen)
	order.PutUint16(b[4:], h.GSOSize)
	order.PutUint16(b[6:], h.CsumStart)
	order.PutUint16(b[8:], h.CsumOffset)
}

// Append appends h to b.
func (h Hdr) Append(b []byte) []byte {
	var a [HdrLen]byte
	h.Put(a[:])
	return append(b, a[:]...)
}

// IsGSO reports whether h describes a super-packet to be segmented.
func (h Hdr) IsGSO() bool { return h.GSOType != GSONone }
