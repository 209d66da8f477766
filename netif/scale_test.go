package netif

// Measurements, not tests: they run only when asked for (bench/netif-setup.sh
// and bench/netif-rss.sh set the variables), in a namespace of their own,
// and assert nothing about time.

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a count", name, v)
	}
	return n
}

// TestSetupScale creates VPDN_SETUP_SCALE TUNs the way a session's
// Virtual-Access interface is made (create with offloads, MTU, peer
// address, up) and reports the time of each step as the count grows, then
// the time to close them all with VPDN_SETUP_CLOSERS goroutines.
//
// VPDN_SETUP_MODE picks what is measured:
//
//	default   one Kernel (one netlink socket, indexes remembered), IPv6 disabled on the new device
//	gennone   the same, with only IPv6 address generation off (what is left when /proc/sys is read-only)
//	v6on      the same, with the kernel's IPv6 defaults
//	fresh     a netlink socket and a name lookup per request, IPv6 defaults (the request pattern of the free functions before)
//	route     as default, but no address on the TUN: the local address once on lo, and per TUN a
//	          route to the peer with that source (`ip route add PEER dev ViN src LOCAL`), after up
func TestSetupScale(t *testing.T) {
	n := envInt(t, "VPDN_SETUP_SCALE", 0)
	if n == 0 {
		t.Skip("set VPDN_SETUP_SCALE=N to measure (bench/netif-setup.sh)")
	}
	mode := os.Getenv("VPDN_SETUP_MODE")
	closers := envInt(t, "VPDN_SETUP_CLOSERS", 16)
	predel := os.Getenv("VPDN_SETUP_PREDEL") == "1"
	var kern *Kernel
	lab := nstest.New(t)
	ns := lab.NS("scale")
	var tuns []*TUN
	var stepNames = []string{"open", "adopt", "mtu", "addr", "up"}
	steps := make([][5]time.Duration, 0, n)
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		kern = k
		switch mode {
		case "", "default":
		case "gennone":
			k.ipv6 = v6GenNone
		case "v6on", "fresh":
			k.ipv6 = v6Keep
		case "route":
			stepNames[3], stepNames[4] = "up", "route"
			if err := k.AddAddress("lo", netip.MustParsePrefix("198.19.0.1/32")); err != nil {
				return err
			}
		default:
			return fmt.Errorf("VPDN_SETUP_MODE=%q", mode)
		}
		// per returns the Kernel for one request: k, or in fresh mode a
		// new one (its own socket, and no remembered index).
		per := func(fn func(h *Kernel) error) error {
			if mode != "fresh" {
				return fn(k)
			}
			h, err := NewKernel()
			if err != nil {
				return err
			}
			defer h.Close()
			return fn(h)
		}
		local := netip.MustParseAddr("198.19.0.1")
		start := time.Now()
		for i := range n {
			name := fmt.Sprintf("Vi%d", i)
			if i >= 64*256 {
				return fmt.Errorf("at most %d TUNs", 64*256)
			}
			peer := netip.AddrFrom4([4]byte{198, 18, byte(64 + i>>8), byte(i)})
			var d [5]time.Duration
			t0 := time.Now()
			tun, err := openTUN(name, true)
			if err != nil {
				return err
			}
			tuns = append(tuns, tun)
			t1 := time.Now()
			if err := k.adopt(&tun.fdDev); err != nil {
				return err
			}
			if mode == "fresh" {
				k.forget(name, tun.index) // looked up by name every time
			}
			t2 := time.Now()
			if err := per(func(h *Kernel) error { return h.SetMTU(name, 1400) }); err != nil {
				return err
			}
			t3 := time.Now()
			var t4, t5 time.Time
			if mode == "route" {
				if err := k.SetUp(name); err != nil {
					return err
				}
				t4 = time.Now()
				if err := k.AddRoute(name, Route{Dst: netip.PrefixFrom(peer, 32), Src: local}); err != nil {
					return err
				}
				t5 = time.Now()
			} else {
				if err := per(func(h *Kernel) error { return h.AddPeerAddress(name, local, peer) }); err != nil {
					return err
				}
				t4 = time.Now()
				if err := per(func(h *Kernel) error { return h.SetUp(name) }); err != nil {
					return err
				}
				t5 = time.Now()
			}
			d[0], d[1], d[2], d[3], d[4] = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4)
			steps = append(steps, d)
		}
		total := time.Since(start)
		var b strings.Builder
		fmt.Fprintf(&b, "mode %q, %d TUNs: %v, %.0f interfaces/s\n", mode, n, total.Round(time.Millisecond), float64(n)/total.Seconds())
		fmt.Fprintf(&b, "%8s", "count")
		for _, s := range stepNames {
			fmt.Fprintf(&b, " %9s", s)
		}
		fmt.Fprintf(&b, " %9s  (µs, mean of the 100 devices up to count)\n", "total")
		rows := []int{}
		for _, at := range []int{1, 1000, 5000, 10000} {
			if at < n {
				rows = append(rows, at)
			}
		}
		for _, at := range append(rows, n) {
			lo := max(at-100, 0)
			var sum [5]time.Duration
			for _, d := range steps[lo:at] {
				for j := range d {
					sum[j] += d[j]
				}
			}
			fmt.Fprintf(&b, "%8d", at)
			var all time.Duration
			for j := range sum {
				fmt.Fprintf(&b, " %9.0f", float64(sum[j].Microseconds())/float64(at-lo))
				all += sum[j]
			}
			fmt.Fprintf(&b, " %9.0f\n", float64(all.Microseconds())/float64(at-lo))
		}
		t.Log("\n" + b.String())
		return nil
	})
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range max(closers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(tuns) {
					return
				}
				if predel {
					// Take the address away first: the kernel then has
					// no route through the device to flush at close.
					ns.Do(func() error {
						return kern.DelAddress(tuns[i].name, netip.PrefixFrom(netip.MustParseAddr("198.19.0.1"), 32))
					})
				}
				tuns[i].Close()
			}
		})
	}
	wg.Wait()
	if kern != nil {
		kern.Close()
	}
	if len(tuns) > 0 {
		el := time.Since(start)
		t.Logf("closed %d TUNs with %d goroutines: %v, %.0f/s", len(tuns), closers, el.Round(time.Millisecond), float64(len(tuns))/el.Seconds())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// rssKiB returns the resident set of the process.
func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.Atoi(f[1])
	return pages * os.Getpagesize() / 1024
}

// TestRSSPerTUN opens VPDN_RSS_TUNS TUNs, reads one packet from each, and
// reports the process's resident memory per TUN, with VPDN_RSS_MODE
// "poller" (a Poller with 2 workers, a 64 KiB buffer each) or "goroutine"
// (a goroutine per TUN with its own buffer of the data plane's size, as
// dataplane.RunDevice reads). Run each mode in its own process.
func TestRSSPerTUN(t *testing.T) {
	n := envInt(t, "VPDN_RSS_TUNS", 0)
	if n == 0 {
		t.Skip("set VPDN_RSS_TUNS=N and VPDN_RSS_MODE=poller|goroutine to measure (bench/netif-rss.sh)")
	}
	mode := os.Getenv("VPDN_RSS_MODE")
	const bufLen = 64<<10 + 64 // about dataplane.Headroom + MaxPacket
	lab := nstest.New(t)
	ns := lab.NS("rss")
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		defer k.Close()
		runtime.GC()
		debug.FreeOSMemory()
		r0, g0 := rssKiB(t), runtime.NumGoroutine()
		tuns, peers := tunLab(t, k, n)
		defer closeAll(tuns)
		runtime.GC()
		debug.FreeOSMemory()
		r1 := rssKiB(t)
		var read atomic.Int64
		var stop func()
		switch mode {
		case "poller":
			p := NewPoller(2, func() any { return make([]byte, bufLen) })
			stop = p.Close
			for _, tun := range tuns {
				if _, err := p.Watch(tun, func(local any) bool {
					b := local.([]byte)
					for {
						if _, err := tun.TryRead(b); err != nil {
							return false
						}
						read.Add(1)
					}
				}); err != nil {
					return err
				}
			}
		case "goroutine":
			var wg sync.WaitGroup
			stop = func() {
				closeAll(tuns)
				wg.Wait()
			}
			for _, tun := range tuns {
				wg.Go(func() {
					b := make([]byte, bufLen)
					for {
						if _, err := tun.Read(b); err != nil {
							return
						}
						read.Add(1)
					}
				})
			}
		default:
			return fmt.Errorf("VPDN_RSS_MODE=%q: want poller or goroutine", mode)
		}
		s := newSender(t)
		defer s.close()
		for i := range n {
			if err := s.send(peers[i], i, 0); err != nil {
				return err
			}
		}
		waitFor(t, "a packet on every TUN", func() bool { return read.Load() >= int64(n) })
		runtime.GC()
		debug.FreeOSMemory()
		r2, g2 := rssKiB(t), runtime.NumGoroutine()
		t.Logf("mode %s, %d TUNs: RSS %d KiB before, %d with the TUNs open (%.1f KiB/TUN), %d while read (%.1f KiB/TUN for reading, %.1f KiB/TUN in all); goroutines %d → %d",
			mode, n, r0, r1, float64(r1-r0)/float64(n), r2, float64(r2-r1)/float64(n), float64(r2-r0)/float64(n), g0, g2)
		stop()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
