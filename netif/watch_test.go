package netif

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// routeEvent is one report of a route watch.
type routeEvent struct {
	dev string
	dst netip.Prefix
	del bool
}

func (e routeEvent) String() string {
	if e.del {
		return fmt.Sprintf("-%s %s", e.dev, e.dst)
	}
	return fmt.Sprintf("+%s %s", e.dev, e.dst)
}

func ev(dev, dst string, del bool) routeEvent {
	return routeEvent{dev, netip.MustParsePrefix(dst), del}
}

// TestFakeHostWatchRoutes: a FakeHost reports, in order, the routes it
// adds and removes — through the link a gateway resolves to, and those
// that go with a closed device — on a goroutine that idles durably in a
// synctest bubble, and nothing after stop.
func TestFakeHostWatchRoutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewFakeHost()
		var got []routeEvent
		stop, err := h.WatchRoutes(func(dev string, dst netip.Prefix, del bool) {
			got = append(got, routeEvent{dev, dst, del})
		})
		if err != nil {
			t.Fatal(err)
		}
		pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
		vi1, err := h.CreateTUN("Vi1", false)
		if err != nil {
			t.Fatal(err)
		}
		vi2, err := h.CreateTUN("Vi2", false)
		if err != nil {
			t.Fatal(err)
		}
		peer := addr("198.19.0.2")
		for _, err := range []error{
			h.AddPeerAddress("Vi1", addr("198.19.0.1"), peer), h.SetUp("Vi1"), h.SetUp("Vi2"),
			h.AddRoute("Vi1", Route{Dst: pfx("198.19.77.0/24")}),
			h.AddRoute("Vi1", Route{Dst: pfx("198.19.77.0/24")}), // exists: no report
			h.AddRoute("Vi2", Route{Dst: pfx("198.19.78.0/24")}),
			h.AddGatewayRoute(pfx("198.19.79.0/24"), peer),
			h.AddRoute("Vi1", Route{Dst: pfx("2001:db8:77::/48")}),
			h.DelRoute("Vi1", Route{Dst: pfx("198.19.77.0/24")}),
			h.DelRoute("Vi1", Route{Dst: pfx("198.19.77.0/24")}), // gone already: no report
			h.DelGatewayRoute(pfx("198.19.79.0/24"), peer),
			h.AddRoute("Vi1", Route{Dst: pfx("198.19.80.0/24")}),
			vi1.Close(),
		} {
			if err != nil && !strings.Contains(err.Error(), "exists already") {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		want := []routeEvent{
			ev("Vi1", "198.19.77.0/24", false),
			ev("Vi2", "198.19.78.0/24", false),
			ev("Vi1", "198.19.79.0/24", false),
			ev("Vi1", "2001:db8:77::/48", false),
			ev("Vi1", "198.19.77.0/24", true),
			ev("Vi1", "198.19.79.0/24", true),
			ev("Vi1", "198.19.80.0/24", false),
			// Vi1 closes: its routes go, in the order they came.
			ev("Vi1", "2001:db8:77::/48", true),
			ev("Vi1", "198.19.80.0/24", true),
		}
		if !slices.Equal(got, want) {
			t.Errorf("reports\n got %v\nwant %v", got, want)
		}
		stop()
		stop() // idempotent
		if err := h.AddRoute("Vi2", Route{Dst: pfx("198.19.81.0/24")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(got) != len(want) {
			t.Errorf("reports after stop: %v", got[len(want):])
		}
		vi2.Close()
		if _, err := h.WatchRoutes(nil); err == nil {
			t.Error("a watch without a function")
		}
	})
}

// watchRecorder collects a watch's reports for a test on real kernels:
// next waits (bounded) for the following ones.
type watchRecorder struct {
	t  *testing.T
	ch chan routeEvent
}

func newWatchRecorder(t *testing.T) *watchRecorder {
	return &watchRecorder{t: t, ch: make(chan routeEvent, 4096)}
}

func (r *watchRecorder) f(dev string, dst netip.Prefix, del bool) {
	select {
	case r.ch <- routeEvent{dev, dst, del}:
	default:
		r.t.Errorf("more reports than %d", cap(r.ch))
	}
}

// expect reads len(want) reports and compares them with want as sets
// (the order of the kernel's notifications within one change is its own).
func (r *watchRecorder) expect(what string, want ...routeEvent) {
	r.t.Helper()
	var got []routeEvent
	timeout := time.After(20 * time.Second) // a guard, not a measurement
	for len(got) < len(want) {
		select {
		case e := <-r.ch:
			got = append(got, e)
		case <-timeout:
			r.t.Fatalf("%s: reports %v, want %v", what, got, want)
		}
	}
	key := func(a, b routeEvent) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	if !slices.Equal(got, want) {
		r.t.Errorf("%s: reports %v, want %v", what, got, want)
	}
}

// TestKernelWatchRoutes: routes that `ip route` adds in a namespace through
// TUNs a Kernel made are reported, and their removal: deleted, replaced
// through another TUN, each next hop of a multipath route, IPv6, and with
// a TUN that closes; routes through another device are not; stop ends the
// goroutine. The watch is started from a thread outside the namespace.
func TestKernelWatchRoutes(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("watch")
	var k *Kernel
	var vi1, vi2 Device
	err := ns.Do(func() error {
		var err error
		if k, err = NewKernel(); err != nil {
			return err
		}
		if vi1, err = k.CreateTUN("Vi1", false); err != nil {
			return err
		}
		if vi2, err = k.CreateTUN("Vi2", false); err != nil {
			return err
		}
		for _, n := range []string{"Vi1", "Vi2"} {
			if err := k.SetUp(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	defer vi2.Close()
	ns.MustIP("tuntap", "add", "dev", "dum0", "mode", "tun") // a device the Kernel did not make
	ns.MustIP("link", "set", "dum0", "up")
	ns.MustIP("route", "add", "198.19.76.0/24", "dev", "Vi1") // there before the watch

	rec := newWatchRecorder(t)
	stop, err := k.WatchRoutes(rec.f)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	var w *routeWatch
	for x := range k.watches {
		w = x
	}
	k.mu.Unlock()

	ns.MustIP("route", "add", "198.19.77.0/24", "dev", "Vi1")
	rec.expect("ip route add", ev("Vi1", "198.19.77.0/24", false))
	ns.MustIP("route", "replace", "198.19.77.0/24", "dev", "Vi2")
	rec.expect("ip route replace", ev("Vi1", "198.19.77.0/24", true), ev("Vi2", "198.19.77.0/24", false))
	ns.MustIP("route", "del", "198.19.77.0/24", "dev", "Vi2")
	rec.expect("ip route del", ev("Vi2", "198.19.77.0/24", true))

	// Not ours: not reported, so the next report is the next route's.
	ns.MustIP("route", "add", "198.19.78.0/24", "dev", "dum0")
	ns.MustIP("route", "add", "198.19.79.0/24", "nexthop", "dev", "Vi1", "nexthop", "dev", "Vi2", "nexthop", "dev", "dum0")
	rec.expect("multipath", ev("Vi1", "198.19.79.0/24", false), ev("Vi2", "198.19.79.0/24", false))
	ns.MustIP("route", "del", "198.19.79.0/24")
	rec.expect("multipath deleted", ev("Vi1", "198.19.79.0/24", true), ev("Vi2", "198.19.79.0/24", true))

	// A route from before the watch, deleted: reported gone.
	ns.MustIP("route", "del", "198.19.76.0/24", "dev", "Vi1")
	rec.expect("a route from before", ev("Vi1", "198.19.76.0/24", true))

	// IPv6: the kernel's prefix route of an address (no traffic).
	err = ns.Do(func() error { return k.AddAddress("Vi1", netip.MustParsePrefix("2001:db8:77::1/64")) })
	if err != nil {
		t.Fatal(err)
	}
	rec.expect("IPv6 address", ev("Vi1", "2001:db8:77::/64", false))

	// Vi1 closes with an IPv4 route through it (the kernel tells nothing
	// of it) and the IPv6 one (it does): each reported gone once.
	ns.MustIP("route", "add", "198.19.80.0/24", "dev", "Vi1")
	rec.expect("before close", ev("Vi1", "198.19.80.0/24", false))
	vi1.Close()
	rec.expect("close", ev("Vi1", "198.19.80.0/24", true), ev("Vi1", "2001:db8:77::/64", true))

	ns.MustIP("route", "add", "198.19.81.0/24", "dev", "Vi2")
	rec.expect("after close", ev("Vi2", "198.19.81.0/24", false))
	stop()
	select {
	case <-w.finished:
	default:
		t.Error("the watch's goroutine runs after stop")
	}
	k.mu.Lock()
	left := len(k.watches)
	k.mu.Unlock()
	if left != 0 {
		t.Errorf("%d watches left after stop", left)
	}
	stop()
	ns.MustIP("route", "add", "198.19.82.0/24", "dev", "Vi2")
	select {
	case e := <-rec.ch:
		t.Errorf("a report after stop: %v", e)
	default:
	}
	if w.resyncs.Load() != 0 {
		t.Errorf("%d subscriptions made again", w.resyncs.Load())
	}
}

// TestKernelWatchResync: when the kernel drops notifications (the
// subscription's buffer overflows while f is slow), the watch subscribes
// again and reports the differences, ending with what the kernel has.
func TestKernelWatchResync(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("resync")
	var k *Kernel
	var vi Device
	err := ns.Do(func() error {
		var err error
		if k, err = NewKernel(); err != nil {
			return err
		}
		k.watchRcvBuf = 1 // the kernel's least, a few notifications
		if vi, err = k.CreateTUN("Vi1", false); err != nil {
			return err
		}
		return k.SetUp("Vi1")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	defer vi.Close()

	var mu sync.Mutex
	state := map[netip.Prefix]bool{}
	release := make(chan struct{})
	changed := make(chan struct{}, 1)
	var once sync.Once
	stop, err := k.WatchRoutes(func(dev string, dst netip.Prefix, del bool) {
		once.Do(func() { <-release }) // slow at first: the kernel's notifications pile up
		mu.Lock()
		if del {
			delete(state, dst)
		} else {
			state[dst] = true
		}
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	k.mu.Lock()
	var w *routeWatch
	for x := range k.watches {
		w = x
	}
	k.mu.Unlock()

	// 300 routes, then 100 of them deleted, in one `ip -batch`.
	want := map[netip.Prefix]bool{}
	var b strings.Builder
	for i := range 300 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(100 + i/250), byte(i % 250)}), 32)
		fmt.Fprintf(&b, "route add %s dev Vi1\n", p)
		want[p] = true
	}
	for i := range 100 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, 100, byte(i)}), 32)
		fmt.Fprintf(&b, "route del %s dev Vi1\n", p)
		delete(want, p)
	}
	batch := filepath.Join(t.TempDir(), "routes")
	if err := os.WriteFile(batch, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", ns.Name, "-batch", batch).CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	close(release)

	timeout := time.After(30 * time.Second) // a guard, not a measurement
	for {
		mu.Lock()
		same := len(state) == len(want)
		for p := range want {
			same = same && state[p]
		}
		n := len(state)
		mu.Unlock()
		if same {
			break
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the watch reports %d routes, the kernel has %d (subscribed again %d times)", n, len(want), w.resyncs.Load())
		}
	}
	if w.resyncs.Load() == 0 {
		t.Error("no notification was lost: the test did not test a new subscription")
	}
}

// TestSystemWatchRoutes: System watches the namespace of the calling
// thread, and holds its Kernel until stop.
func TestSystemWatchRoutes(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("syswatch")
	type watcher interface {
		WatchRoutes(f func(dev string, dst netip.Prefix, del bool)) (stop func(), err error)
	}
	rec := newWatchRecorder(t)
	var stop func()
	var tun *TUN
	err := ns.Do(func() error {
		var err error
		if tun, err = CreateTUN("Vi1"); err != nil {
			return err
		}
		if err := SetUp("Vi1"); err != nil {
			return err
		}
		stop, err = System.(watcher).WatchRoutes(rec.f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.MustIP("route", "add", "198.19.77.0/24", "dev", "Vi1")
	rec.expect("ip route add", ev("Vi1", "198.19.77.0/24", false))
	tun.Close()
	rec.expect("close", ev("Vi1", "198.19.77.0/24", true))
	stop()
	stop()
	sys.mu.Lock()
	defer sys.mu.Unlock()
	for _, e := range sys.kernels {
		if !e.proc {
			t.Errorf("a Kernel of another namespace is still open (%d references)", e.refs)
		}
	}
}
