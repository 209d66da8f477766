package memnet

import (
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestFaultsDeterministic(t *testing.T) {
	run := func() (Stats, []byte) {
		var order []byte
		synctest.Test(t, func(t *testing.T) {
			n := New(42)
			n.SetFaults(Faults{Loss: 0.3, Duplicate: 0.2, Reorder: 0.3, Jitter: 50 * time.Millisecond})
			a, _ := n.Listen(netip.MustParseAddrPort("198.18.0.1:1701"))
			b, _ := n.Listen(netip.MustParseAddrPort("198.18.0.2:1701"))
			for i := range 200 {
				a.WriteTo([]byte{byte(i)}, b.LocalAddr())
			}
			time.Sleep(time.Second) // fake time: lets delayed packets arrive
			synctest.Wait()
			buf := make([]byte, 10)
			for len(b.q) > 0 {
				k, from, _ := b.ReadFrom(buf)
				if from != a.LocalAddr() || k != 1 {
					t.Fatal("bad packet")
				}
				order = append(order, buf[0])
			}
			a.Close()
			b.Close()
			st := n.Stats()
			if st.Lost == 0 || st.Duplicated == 0 || st.Reordered == 0 {
				t.Errorf("faults not applied: %+v", st)
			}
			if int(st.Delivered) != len(order) {
				t.Errorf("delivered %d, read %d", st.Delivered, len(order))
			}
		})
		return Stats{}, order
	}
	_, o1 := run()
	_, o2 := run()
	if string(o1) != string(o2) {
		t.Fatal("same seed, different outcome")
	}
	reordered := false
	for i := 1; i < len(o1); i++ {
		if o1[i] < o1[i-1] {
			reordered = true
		}
	}
	if !reordered {
		t.Fatal("no reordering seen")
	}
}

func TestListenTwice(t *testing.T) {
	n := New(1)
	a := netip.MustParseAddrPort("198.18.0.1:1")
	if _, err := n.Listen(a); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(a); !errors.Is(err, ErrAddrInUse) {
		t.Fatal(err)
	}
	// The Factory's open returns a nil Bind with the error.
	if b, err := n.ListenUDP(a); !errors.Is(err, ErrAddrInUse) || b != nil {
		t.Fatalf("ListenUDP: %v, %v", b, err)
	}
	if _, err := n.ListenRaw(115, a.Addr()); err != nil {
		t.Fatal(err)
	}
	if b, err := n.ListenIP(115, a.Addr()); !errors.Is(err, ErrAddrInUse) || b != nil {
		t.Fatalf("ListenIP: %v, %v", b, err)
	}
}
