package netif

import (
	"errors"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vpdn/vpdn/internal/nstest"
)

// TestZeroAllocs: reading and writing a TUN allocate nothing, whether a
// packet is there or not, and neither does a Poller delivering packets.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace")
	}
	lab := nstest.New(t)
	ns := lab.NS("allocs")
	local, peer := netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		defer k.Close()
		tun, err := k.createTUN("Va1", false)
		if err != nil {
			return err
		}
		defer tun.Close()
		for _, err := range []error{k.AddPeerAddress("Va1", local, peer), k.SetUp("Va1")} {
			if err != nil {
				return err
			}
		}
		echo := icmpEcho(peer, local, 1, 1)
		buf := make([]byte, 2048)
		if n := testing.AllocsPerRun(100, func() {
			if _, err := tun.TryRead(buf); !errors.Is(err, ErrWouldBlock) {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("TryRead of an empty TUN: %.1f allocations", n)
		}
		// Each echo request written comes back as a reply to read.
		if n := testing.AllocsPerRun(100, func() {
			if _, err := tun.Write(echo); err != nil {
				t.Fatal(err)
			}
			for range 1000 {
				if _, err := tun.TryRead(buf); err == nil {
					return
				}
				runtime.Gosched()
			}
			t.Fatal("no echo reply")
		}); n != 0 {
			t.Errorf("Write and TryRead: %.1f allocations", n)
		}

		var got atomic.Int64
		p := NewPoller(1, func() any { return make([]byte, 2048) })
		defer p.Close()
		if _, err := p.Watch(tun, func(local any) bool {
			b := local.([]byte)
			for {
				if _, err := tun.TryRead(b); err != nil {
					return false
				}
				got.Add(1)
			}
		}); err != nil {
			return err
		}
		const rounds = 2000
		send := func() {
			before := got.Load()
			if _, err := tun.Write(echo); err != nil {
				t.Fatal(err)
			}
			for i := 0; got.Load() == before; i++ {
				if i > 1e7 {
					t.Fatal("the Poller delivered no echo reply")
				}
				runtime.Gosched()
			}
		}
		for range 100 { // warm up: the workers start, buffers are made
			send()
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range rounds {
			send()
		}
		runtime.ReadMemStats(&m1)
		if per := float64(m1.Mallocs-m0.Mallocs) / rounds; per > 0.05 {
			t.Errorf("%.2f allocations per packet delivered by the Poller", per)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
