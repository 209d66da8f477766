package netif

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// icmpEcho builds an IPv4 ICMP echo request from src to dst.
func icmpEcho(src, dst netip.Addr, id, seq uint16) []byte {
	p := make([]byte, 20+8+8)
	p[0], p[8], p[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	icmp := p[20:]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	copy(icmp[8:], "vpdntest")
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	return p
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// TestTUNInNamespace creates a TUN the way a Virtual-Access interface is
// made (point-to-point address with a peer, MTU, up, a route), writes an
// ICMP echo request from the "peer" into it and reads the kernel's reply
// back out of it; then closes it and checks the device and routes are gone.
func TestTUNInNamespace(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("tun")
	local, peer := netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")
	route := Route{Dst: netip.MustParsePrefix("198.19.5.0/24")}
	err := ns.Do(func() error {
		tun, err := CreateTUN("Vi1")
		if err != nil {
			return err
		}
		if _, err := CreateTUN("Vi1"); err == nil {
			t.Error("a second TUN with the same name was created")
		}
		for _, step := range []error{
			SetMTU("Vi1", 1400), AddPeerAddress("Vi1", local, peer), SetUp("Vi1"), AddRoute("Vi1", route),
		} {
			if step != nil {
				return step
			}
		}
		addrs, err := Addrs("Vi1")
		if err != nil || !slices.Contains(addrs, netip.PrefixFrom(local, 32)) {
			t.Errorf("addresses %v %v", addrs, err)
		}
		rs, err := Routes("Vi1")
		if err != nil || !slices.ContainsFunc(rs, func(r Route) bool { return r.Dst == route.Dst }) {
			t.Errorf("routes %v %v", rs, err)
		}
		if err := AddRoute("Vi1", route); err == nil {
			t.Error("duplicate route accepted")
		}
		if _, err := tun.Write(icmpEcho(peer, local, 7, 1)); err != nil {
			return err
		}
		buf := make([]byte, 2000)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			n, err := tun.Read(buf)
			if err != nil {
				return err
			}
			p := buf[:n]
			// Skip IPv6 router solicitations and the like.
			if n >= 28 && p[0]>>4 == 4 && p[9] == 1 && p[20] == 0 {
				if got := netip.AddrFrom4([4]byte(p[16:20])); got != peer {
					t.Errorf("echo reply to %s, want %s", got, peer)
				}
				if id := binary.BigEndian.Uint16(p[24:]); id != 7 {
					t.Errorf("echo reply id %d", id)
				}
				break
			}
		}
		if err := DelRoute("Vi1", route); err != nil {
			return err
		}
		if err := DelRoute("Vi1", route); err != nil {
			t.Errorf("deleting an absent route: %v", err)
		}
		// The same through one long-lived socket, as the shared
		// interface adds a host route per session.
		lr, err := OpenLinkRoutes("Vi1")
		if err != nil {
			return err
		}
		host := Route{Dst: netip.MustParsePrefix("198.19.5.7/32")}
		if err := lr.Add(host); err != nil {
			return err
		}
		if err := lr.Add(host); err == nil || !strings.Contains(err.Error(), "exists already") {
			t.Errorf("duplicate host route: %v", err)
		}
		if rs, _ := Routes("Vi1"); !slices.ContainsFunc(rs, func(r Route) bool { return r.Dst == host.Dst }) {
			t.Errorf("host route missing: %v", rs)
		}
		if err := lr.Del(host); err != nil {
			return err
		}
		if err := lr.Del(host); err != nil {
			t.Errorf("deleting an absent host route: %v", err)
		}
		if rs, _ := Routes("Vi1"); slices.ContainsFunc(rs, func(r Route) bool { return r.Dst == host.Dst }) {
			t.Errorf("host route left behind: %v", rs)
		}
		lr.Close()
		if _, err := OpenLinkRoutes("Vi9"); err == nil {
			t.Error("OpenLinkRoutes of a missing link succeeded")
		}
		if err := tun.Close(); err != nil {
			return err
		}
		if Exists("Vi1") {
			t.Error("Vi1 still exists after Close")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateTUNBadName(t *testing.T) {
	for _, n := range []string{"", "a-name-that-is-far-too-long"} {
		if _, err := CreateTUN(n); err == nil {
			t.Errorf("CreateTUN(%q) succeeded", n)
		}
	}
}

func TestFake(t *testing.T) {
	f := NewFake("fake0", 2)
	b := make([]byte, 10)
	if _, err := f.TryRead(b); err != ErrWouldBlock {
		t.Fatalf("TryRead of an empty Fake: %v", err)
	}
	f.Inject([]byte{1, 2, 3})
	f.Inject([]byte{4})
	if n, err := f.Read(b); err != nil || n != 3 {
		t.Fatalf("read %d %v", n, err)
	}
	if n, err := f.TryRead(b); err != nil || n != 1 || b[0] != 4 {
		t.Fatalf("TryRead %d %v", n, err)
	}
	f.Write([]byte{9})
	if p := <-f.Outbound; len(p) != 1 || p[0] != 9 {
		t.Fatalf("outbound %v", p)
	}
	f.Close()
	if _, err := f.Read(b); err != ErrClosed {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := f.TryRead(b); err != ErrClosed {
		t.Fatalf("TryRead after close: %v", err)
	}
}

// TestTUNOffload: a TUN with offloads exchanges packets behind a
// virtio_net_hdr; a plain packet is written with WritePacket, and the
// kernel's reply comes back behind a header that asks for no segmentation.
func TestTUNOffload(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("tunoff")
	local, peer := netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")
	err := ns.Do(func() error {
		tun, err := CreateTUNOffload("Vi7")
		if err != nil {
			return err
		}
		defer tun.Close()
		if !tun.Offload() {
			t.Skip("the kernel refused TUN offloads")
		}
		for _, step := range []error{SetMTU("Vi7", 1400), AddPeerAddress("Vi7", local, peer), SetUp("Vi7")} {
			if step != nil {
				return step
			}
		}
		if err := tun.WritePacket(icmpEcho(peer, local, 9, 1)); err != nil {
			return err
		}
		buf := make([]byte, VnetHdrLen+65535)
		for range 50 {
			n, err := tun.Read(buf)
			if err != nil {
				return err
			}
			if n < VnetHdrLen {
				t.Fatalf("read of %d octets", n)
			}
			p := buf[VnetHdrLen:n]
			if len(p) >= 28 && p[0]>>4 == 4 && p[9] == 1 && p[20] == 0 {
				if buf[1] != 0 {
					t.Errorf("echo reply with GSO type %d", buf[1])
				}
				if id := binary.BigEndian.Uint16(p[24:]); id != 9 {
					t.Errorf("echo reply id %d", id)
				}
				return nil
			}
		}
		t.Error("no echo reply")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
