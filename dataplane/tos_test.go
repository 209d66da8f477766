package dataplane

import (
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// tosBind records the Type of Service each datagram leaves with: -1 when
// it went through WriteTo (the socket's).
type tosBind struct {
	nullBind
	tos []int
}

func (b *tosBind) WriteTo(p []byte, to netip.AddrPort) error {
	b.tos = append(b.tos, -1)
	return b.nullBind.WriteTo(p, to)
}

func (b *tosBind) WriteToTOS(p []byte, to netip.AddrPort, tos uint8) error {
	b.tos = append(b.tos, int(tos))
	return b.nullBind.WriteTo(p, to)
}

// TestTOSReflect: `ip tos reflect` gives each L2TPv3 datagram the DSCP
// and ECN of the packet the Ethernet frame carries — IPv4, IPv6, past
// 802.1Q and QinQ tags — and leaves the rest (ARP, truncated headers) to
// the socket's ToS; without reflect nothing changes. Zero allocations.
func TestTOSReflect(t *testing.T) {
	mac := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
	frame := func(parts ...[]byte) []byte {
		f := append([]byte{}, mac...)
		for _, p := range parts {
			f = append(f, p...)
		}
		return f
	}
	v4 := []byte{0x45, 0xb9, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 19, 0, 1, 198, 19, 0, 2}
	v6 := []byte{0x6b, 0x81, 0, 0, 0, 0, 17, 64} // Traffic Class 0xb8 | ECN 1
	for _, tc := range []struct {
		name    string
		frame   []byte
		reflect bool
		want    int
	}{
		{"ipv4", frame([]byte{0x08, 0x00}, v4), true, 0xb9},
		{"ipv6", frame([]byte{0x86, 0xdd}, v6), true, 0xb8},
		{"vlan-ipv4", frame([]byte{0x81, 0x00, 0x00, 0x0a, 0x08, 0x00}, v4), true, 0xb9},
		{"qinq-ipv6", frame([]byte{0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd}, v6), true, 0xb8},
		{"arp", frame([]byte{0x08, 0x06, 0, 1, 8, 0}), true, -1},
		{"truncated-ipv4", frame([]byte{0x08, 0x00, 0x45}), true, -1},
		{"truncated-tag", frame([]byte{0x81, 0x00, 0x00}), true, -1},
		{"off", frame([]byte{0x08, 0x00}, v4), false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{})
			defer p.Close()
			b := &tosBind{}
			s := NewSession(L2TPv3Key(2), addrA, b, PayloadEthernet, NewL2TPv3Encap(L2TPv3Params{RemoteSession: 1,
				RemoteCookie: l2tp.Cookie4(55111)}))
			s.TOSReflect = tc.reflect
			mustAdd(t, p, s)
			s.att.Store(&attachment{Attachment: Attachment{Device: &nullDev{}}})
			buf := make([]byte, Headroom+len(tc.frame))
			copy(buf[Headroom:], tc.frame)
			p.sendPacket(s, s.att.Load(), buf, len(tc.frame))
			if len(b.tos) != 1 || b.tos[0] != tc.want {
				t.Fatalf("ToS %v, want [%d]", b.tos, tc.want)
			}
			b.tos = make([]int, 0, 1024)
			if n := testing.AllocsPerRun(200, func() {
				b.tos = b.tos[:0]
				p.sendPacket(s, s.att.Load(), buf, len(tc.frame))
			}); n != 0 {
				t.Fatalf("%.1f allocations per packet", n)
			}
		})
	}
}

// FuzzInnerTOS: any frame, of any payload kind: no panic, and a ToS only
// for an IP packet.
func FuzzInnerTOS(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00, 0x45, 0xb8}, uint8(PayloadEthernet))
	f.Add([]byte{0x60, 0x10}, uint8(PayloadIP))
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		k := Payload(kind % 3)
		tos, ok := innerTOS(k, b)
		if k == PayloadPPP && ok {
			t.Fatalf("ToS %#x from a PPP frame", tos)
		}
	})
}
