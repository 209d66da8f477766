package transport

import (
	"net/netip"
	"testing"
)

// TestWriteToTOS: in namespaces, a datagram sent with WriteToTOS carries
// its own Type of Service on the wire, over raw IP protocol 115 and over
// UDP, whatever the socket's (SetTOS); the next WriteTo has the socket's
// again. WriteToTOS does not allocate on a raw IP socket.
func TestWriteToTOS(t *testing.T) {
	na, nb := twoHosts(t)
	hb := in(t, nb, func() (*headerSocket, error) { return openHeaderSocket(115) })
	defer hb.c.Close()
	hu := in(t, nb, func() (*headerSocket, error) { return openHeaderSocket(17) })
	defer hu.c.Close()
	ip := in(t, na, func() (*IPConn, error) { return ListenIP(115, labA) })
	defer ip.Close()
	udp := in(t, na, func() (*UDPConn, error) { return ListenUDP(netip.AddrPortFrom(labA, 0)) })
	defer udp.Close()
	sink := in(t, nb, func() (*UDPConn, error) { return ListenUDP(netip.AddrPortFrom(labB, 1701)) })
	defer sink.Close()
	for _, c := range []interface {
		SetTOS(int) error
	}{ip, udp} {
		if err := c.SetTOS(0x20); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		w     TOSWriter
		plain interface {
			WriteTo([]byte, netip.AddrPort) error
		}
		hdr *headerSocket
	}{{"ip", ip, ip, hb}, {"udp", udp, udp, hu}} {
		to := netip.AddrPortFrom(labB, 1701)
		for _, tos := range []uint8{0xb8, 0x01, 0x00, 0xff} {
			if err := tc.w.WriteToTOS([]byte("reflected"), to, tos); err != nil {
				t.Fatal(err)
			}
			if h := tc.hdr.read(t); h[ipv4TOS] != tos {
				t.Fatalf("%s: ToS %#x on the wire, want %#x", tc.name, h[ipv4TOS], tos)
			}
		}
		if err := tc.plain.WriteTo([]byte("socket's"), to); err != nil {
			t.Fatal(err)
		}
		if h := tc.hdr.read(t); h[ipv4TOS] != 0x20 {
			t.Fatalf("%s: ToS %#x after WriteToTOS, want the socket's 0x20", tc.name, h[ipv4TOS])
		}
	}
	msg := []byte("steady")
	to := netip.AddrPortFrom(labB, 0)
	if n := fewestAllocs(func() {
		if err := ip.WriteToTOS(msg, to, 0xb8); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("IPConn.WriteToTOS: %.1f allocations", n)
	}
	if n := fewestAllocs(func() {
		if err := udp.WriteToTOS(msg, netip.AddrPortFrom(labB, 1701), 0xb8); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("UDPConn.WriteToTOS: %.1f allocations", n)
	}
}

// fewestAllocs is the fewest allocations per call of f over three rounds
// of testing.AllocsPerRun. The count is the whole process's: a round that
// met a collection emptying the send pool (the race detector also drops a
// quarter of what is put back) or another goroutine's allocation reads
// high (CI once read 1.0 under load); an allocation f makes on every call
// reads in every round.
func fewestAllocs(f func()) float64 {
	least := testing.AllocsPerRun(100, f)
	for range 2 {
		least = min(least, testing.AllocsPerRun(100, f))
	}
	return least
}
