package transport

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cmsg builds one control message of level/type with data, padded as the
// kernel pads it.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafeCmsg(b))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func gro32(v int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(v)) }

// groSize finds the UDP_GRO size among other control messages and
// returns 0 for anything short, truncated or of another kind.
func TestGROSize(t *testing.T) {
	other := cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMP, make([]byte, 16))
	for _, c := range []struct {
		name string
		c    []byte
		want int
	}{
		{"none", nil, 0},
		{"UDP_GRO 1360", cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, gro32(1360)), 1360},
		{"after another message", append(append([]byte(nil), other...), cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, gro32(512))...), 512},
		{"another message only", other, 0},
		{"UDP_GRO with 2 octets of data", cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, []byte{1, 2}), 0},
		{"truncated header", cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, gro32(1360))[:unix.SizeofCmsghdr-1], 0},
		{"length beyond the buffer", cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, gro32(1360))[:unix.CmsgLen(2)], 0},
		{"other level, same type", cmsg(unix.SOL_IP, unix.UDP_GRO, gro32(1360)), 0},
	} {
		if got := groSize(c.c); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// FuzzGROSize: any control buffer parses without panicking.
func FuzzGROSize(f *testing.F) {
	f.Add(cmsg(unix.IPPROTO_UDP, unix.UDP_GRO, gro32(1360)))
	f.Add([]byte{})
	f.Add(make([]byte, unix.SizeofCmsghdr))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The kernel's buffers are 8-octet aligned; so is this copy.
		a := make([]uint64, (len(b)+7)/8)
		c := unsafeBytes(a, len(b))
		copy(c, b)
		groSize(c)
	})
}

func unsafeCmsg(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

func unsafeBytes(a []uint64, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), n)
}
