package netif

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/internal/nstest"
)

// TestPacket: a frame written to a Packet leaves through its veth and is
// read, by a Poller, from a Packet on the other end, whatever its
// destination MAC (promiscuous); a Packet does not read its own writes.
// Frames carry a virtio_net_hdr (PACKET_VNET_HDR) both ways.
func TestPacket(t *testing.T) {
	lab := nstest.New(t)
	a, b := lab.NS("pka"), lab.NS("pkb")
	devA, devB := lab.Link(a, b, netip.MustParsePrefix("198.18.40.1/30"), netip.MustParsePrefix("198.18.40.2/30"))
	a.MustIP("addr", "flush", "dev", devA)
	b.MustIP("addr", "flush", "dev", devB)
	var pb *Packet
	if err := b.Do(func() (err error) { pb, err = OpenPacket(devB); return err }); err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	if !pb.Offload() {
		t.Skip("no PACKET_VNET_HDR on this kernel")
	}
	var zero [VnetHdrLen]byte
	withHdr := func(f []byte) []byte { return append(zero[:], f...) }
	rb := make([]byte, 2048)
	if n := testing.AllocsPerRun(100, func() { pb.TryRead(rb) }); n != 0 {
		t.Errorf("TryRead: %.1f allocations per call", n)
	}
	p := NewPoller(1, func() any { return make([]byte, 2048) })
	defer p.Close()
	got := make(chan []byte, 16)
	w, err := p.Watch(pb, func(local any) bool {
		buf := local.([]byte)
		for {
			n, err := pb.TryRead(buf)
			if err != nil {
				if !errors.Is(err, ErrWouldBlock) {
					t.Error(err)
				}
				return false
			}
			if f := buf[VnetHdrLen:n]; n >= VnetHdrLen+18 && (f[12] == 0x88 && f[13] == 0xb5 || f[12] == 0x81 && f[16] == 0x88 && f[17] == 0xb5) {
				got <- append([]byte(nil), f...)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	other := net.HardwareAddr{0x02, 0, 0x5e, 0, 0, 0x42} // neither end's address
	err = a.Do(func() error {
		pa, err := OpenPacket(devA)
		if err != nil {
			return err
		}
		defer pa.Close()
		f := frame(other, net.HardwareAddr{2, 0, 0x5e, 0, 0, 1}, "across the segment")
		if _, err := pa.Write(withHdr(f)); err != nil {
			return err
		}
		if g := <-got; !bytes.Equal(g, f) {
			t.Errorf("read %x, want %x", g, f)
		}
		// A tagged frame arrives tagged, though the veth strips the tag
		// into metadata (rx-vlan-offload): TryRead puts it back.
		tagged := append(append(append([]byte{}, f[:12]...), 0x81, 0x00, 0x00, 0x0a), f[12:]...)
		if _, err := pa.Write(withHdr(tagged)); err != nil {
			return err
		}
		if g := <-got; !bytes.Equal(g, tagged) {
			t.Errorf("tagged: read %x, want %x", g, tagged)
		}
		// Our own write on b is not read back on b.
		if _, err := pb.Write(withHdr(frame(other, net.HardwareAddr{2, 0, 0x5e, 0, 0, 2}, "back"))); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		for {
			n, err := pa.Read(buf)
			if err != nil {
				return err
			}
			if f := buf[VnetHdrLen:n]; n >= VnetHdrLen+14 && f[12] == 0x88 && f[13] == 0xb5 {
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		t.Fatalf("b read its own write %x", g)
	default:
	}
	if _, err := OpenPacket("nosuchdev0"); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("missing device: %v", err)
	}
}
