package transport

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ipv4Hdr builds an IPv4 datagram of protocol 115 from 198.18.0.1 to
// 198.18.0.2 with ihl 32-bit words of header and payload.
func ipv4Hdr(ihl int, payload []byte) []byte {
	b := make([]byte, ihl*4, ihl*4+len(payload))
	b[ipv4VerIHL] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[ipv4TotalLen:], uint16(ihl*4+len(payload)))
	b[ipv4Flags] = 0x40
	b[ipv4TTL], b[ipv4Protocol] = 64, 115
	copy(b[12:], []byte{198, 18, 0, 1, 198, 18, 0, 2})
	for i := 20; i < ihl*4; i++ {
		b[i] = 1 // NOP options
	}
	return append(b, payload...)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestIPv4Payload(t *testing.T) {
	payload := []byte("l2tpv3 session")
	for _, c := range []struct {
		name string
		b    []byte
		want []byte
		err  error
	}{
		// An L2TPv3 data message as captured: IHL 5, total length 28,
		// session ID 0x00001234 and 4 octets of payload.
		{"captured", mustHex("4500 001c 0001 4000 4073 0000 c612 0001 c612 0002 0000 1234 cafe f00d"), mustHex("00001234 cafef00d"), nil},
		{"IHL 5", ipv4Hdr(5, payload), payload, nil},
		{"IHL 6: one word of options", ipv4Hdr(6, payload), payload, nil},
		{"IHL 15: the largest header", ipv4Hdr(15, payload), payload, nil},
		{"no payload", ipv4Hdr(5, nil), []byte{}, nil},
		{"link padding after the total length", append(ipv4Hdr(5, payload), 0, 0, 0, 0), payload, nil},

		{"empty", nil, nil, errIPv4Short},
		{"19 octets", ipv4Hdr(5, nil)[:19], nil, errIPv4Short},
		{"version 6", func() []byte { b := ipv4Hdr(5, payload); b[0] = 0x65; return b }(), nil, errIPv4Version},
		{"version 0", func() []byte { b := ipv4Hdr(5, payload); b[0] = 0x05; return b }(), nil, errIPv4Version},
		{"IHL 4", func() []byte { b := ipv4Hdr(5, payload); b[0] = 0x44; return b }(), nil, errIPv4IHL},
		{"IHL 0", func() []byte { b := ipv4Hdr(5, payload); b[0] = 0x40; return b }(), nil, errIPv4IHL},
		{"options cut off", ipv4Hdr(15, nil)[:40], nil, errIPv4Short},
		{"IHL 15 in a 20-octet datagram", func() []byte { b := ipv4Hdr(5, nil); b[0] = 0x4f; return b }(), nil, errIPv4Short},
		{"total length below the header", func() []byte {
			b := ipv4Hdr(6, payload)
			binary.BigEndian.PutUint16(b[ipv4TotalLen:], 20)
			return b
		}(), nil, errIPv4TotalLen},
		{"total length past the datagram", func() []byte {
			b := ipv4Hdr(5, payload)
			binary.BigEndian.PutUint16(b[ipv4TotalLen:], uint16(len(b)+1))
			return b
		}(), nil, errIPv4TotalLen},
		{"total length zero", func() []byte {
			b := ipv4Hdr(5, payload)
			binary.BigEndian.PutUint16(b[ipv4TotalLen:], 0)
			return b
		}(), nil, errIPv4TotalLen},
	} {
		got, err := ipv4Payload(c.b)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			continue
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "transport: ") {
				t.Errorf("%s: error %q lacks the package prefix", c.name, err)
			}
			continue
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: payload %x, want %x", c.name, got, c.want)
		}
	}
}

// FuzzIPv4Payload: any datagram parses without panicking, and an accepted
// one yields exactly the octets between the header and the total length.
func FuzzIPv4Payload(f *testing.F) {
	f.Add(ipv4Hdr(5, []byte("payload")))
	f.Add(ipv4Hdr(15, []byte{1}))
	f.Add(mustHex("4500 001c 0001 4000 4073 0000 c612 0001 c612 0002 0000 1234 cafe f00d"))
	f.Add([]byte{0x4f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ipv4Payload(b)
		if err != nil {
			if p != nil {
				t.Fatal("payload with an error")
			}
			return
		}
		hl := int(b[0]&0x0f) * 4
		tl := int(binary.BigEndian.Uint16(b[2:]))
		if b[0]>>4 != 4 || hl < 20 || tl < hl || tl > len(b) || len(p) != tl-hl {
			t.Fatalf("accepted %x: payload of %d octets", b, len(p))
		}
		if len(p) > 0 && &p[0] != &b[hl] {
			t.Fatal("payload is not the datagram's own octets")
		}
	})
}

// A raw IPv4 Reader hands up payloads from port 0 and counts and leaves
// out datagrams with a bad header, in any position of the batch.
func TestReaderDropsBadHeaders(t *testing.T) {
	var bad atomic.Uint64
	r := newReader(nil, recvIPv4, &bad)
	in := [][]byte{
		ipv4Hdr(5, []byte("first")),
		ipv4Hdr(5, nil)[:12],
		ipv4Hdr(6, []byte("second")),
		func() []byte { b := ipv4Hdr(5, nil); b[0] = 0x46; return b }(),
	}
	src := netip.MustParseAddr("198.18.0.1")
	for i, b := range in {
		r.ms[i].n = uint32(copy(r.bufs[i], b))
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.names[i]))
		sa.Family, sa.Addr, sa.Port = unix.AF_INET, src.As4(), 0x1234
	}
	r.got = len(in)
	pkts := make([]Packet, BatchSize)
	n := r.fill(pkts)
	if n != 2 || bad.Load() != 2 {
		t.Fatalf("kept %d, bad %d; want 2 and 2", n, bad.Load())
	}
	for i, want := range []string{"first", "second"} {
		p := pkts[i]
		if string(p.Buf) != want || p.N != len(want) || p.Addr != netip.AddrPortFrom(src, 0) || p.Seg != 0 {
			t.Errorf("packet %d: %q (%d) from %v seg %d", i, p.Buf, p.N, p.Addr, p.Seg)
		}
	}
	// A batch of bad headers only keeps nothing.
	r.got = 1
	r.ms[0].n = 3
	if n := r.fill(pkts); n != 0 || bad.Load() != 3 {
		t.Fatalf("kept %d, bad %d", n, bad.Load())
	}
}
