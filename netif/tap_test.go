package netif

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/vpdn/vpdn/internal/nstest"
	"golang.org/x/sys/unix"
)

// etherExp is the IEEE local experimental EtherType: nothing else in the
// namespace sends it.
const etherExp = 0x88b5

func frame(dst, src net.HardwareAddr, payload string) []byte {
	f := append(append(append([]byte{}, dst...), src...), 0, 0)
	binary.BigEndian.PutUint16(f[12:], etherExp)
	return append(f, payload...)
}

// TestTAP: a frame written to a TAP arrives on the kernel side (a packet
// socket bound to the device), a frame sent there comes out of the TAP
// (through a Poller), and the MAC address reads back as set.
func TestTAP(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("tap")
	err := ns.Do(func() error {
		tap, err := CreateTAP("tap7")
		if err != nil {
			return err
		}
		defer tap.Close()
		if _, err := CreateTAP("tap7"); err == nil {
			t.Error("a second TAP of the same name")
		}
		mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x07}
		if err := tap.SetHardwareAddr(mac); err != nil {
			return err
		}
		if got, err := tap.HardwareAddr(); err != nil || !bytes.Equal(got, mac) {
			t.Errorf("hardware address %v %v, want %v", got, err, mac)
		}
		if err := SetUp("tap7"); err != nil {
			return err
		}
		idx, err := net.InterfaceByName("tap7")
		if err != nil {
			return err
		}
		ps, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(etherExp)))
		if err != nil {
			return err
		}
		defer unix.Close(ps)
		if err := unix.Bind(ps, &unix.SockaddrLinklayer{Protocol: htons(etherExp), Ifindex: idx.Index}); err != nil {
			return err
		}
		unix.SetsockoptTimeval(ps, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10})

		// TAP → kernel.
		peer := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x99}
		in := frame(mac, peer, "to the kernel")
		if _, err := tap.Write(in); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		n, _, err := unix.Recvfrom(ps, buf, 0)
		if err != nil {
			return err
		}
		if !bytes.Equal(buf[:n], in) {
			t.Errorf("kernel side got %x, want %x", buf[:n], in)
		}

		// Kernel → TAP, read by a Poller's worker.
		p := NewPoller(1, func() any { return make([]byte, 2048) })
		defer p.Close()
		got := make(chan []byte, 4)
		w, err := p.Watch(tap, func(local any) bool {
			b := local.([]byte)
			for {
				n, err := tap.TryRead(b)
				if err != nil {
					if !errors.Is(err, ErrWouldBlock) {
						t.Error(err)
					}
					return false
				}
				got <- append([]byte(nil), b[:n]...)
			}
		})
		if err != nil {
			return err
		}
		defer w.Stop()
		out := frame(peer, mac, "to the TAP")
		if err := unix.Sendto(ps, out, 0, &unix.SockaddrLinklayer{Protocol: htons(etherExp), Ifindex: idx.Index, Halen: 6, Addr: [8]byte(append(append([]byte{}, peer...), 0, 0))}); err != nil {
			return err
		}
		if f := <-got; !bytes.Equal(f, out) {
			t.Errorf("TAP read %x, want %x", f, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTAPClosed(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("tapc")
	err := ns.Do(func() error {
		tap, err := CreateTAP("tap8")
		if err != nil {
			return err
		}
		tap.Close()
		if _, err := tap.HardwareAddr(); !errors.Is(err, ErrClosed) {
			t.Errorf("HardwareAddr of a closed TAP: %v", err)
		}
		if Exists("tap8") {
			t.Error("tap8 exists after Close")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
