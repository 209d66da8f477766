package vif

import (
	"errors"
	"io/fs"
	"net/netip"
	"slices"
	"testing"

	"github.com/vpdn/vpdn/netif"
)

// Virtual-Access numbers: lowest free first, as IOS reuses them, and new
// ones after the highest in use.
func TestUnitNumbers(t *testing.T) {
	m, _ := New(Config{Host: netif.NewFakeHost()})
	for want := 1; want <= 5; want++ {
		if got := m.AllocAccess(); got != want {
			t.Fatalf("unit %d, want %d", got, want)
		}
	}
	m.FreeAccess(4)
	m.FreeAccess(2)
	m.FreeAccess(3)
	for _, want := range []int{2, 3, 4, 6, 7} {
		if got := m.AllocAccess(); got != want {
			t.Fatalf("unit %d, want %d", got, want)
		}
	}
}

// A unit freed twice (a teardown racing a failed open did this) is handed
// out once; a unit never allocated is not handed out at all.
func TestUnitDoubleFree(t *testing.T) {
	m, _ := New(Config{Host: netif.NewFakeHost()})
	for range 3 {
		m.AllocAccess()
	}
	m.FreeAccess(2)
	m.FreeAccess(2)
	m.FreeAccess(9)
	m.FreeAccess(0)
	for _, want := range []int{2, 4, 5} {
		if got := m.AllocAccess(); got != want {
			t.Fatalf("unit %d, want %d", got, want)
		}
	}
}

// 100,000 units in and out stay O(log n) each: this would take minutes
// with a linear scan per allocation (the profile that found it).
func BenchmarkUnitChurn(b *testing.B) {
	m, _ := New(Config{Host: netif.NewFakeHost()})
	for range 100000 {
		m.AllocAccess()
	}
	b.ResetTimer()
	for i := range b.N {
		m.FreeAccess(1 + i%100000)
		m.AllocAccess()
	}
}

func TestNames(t *testing.T) {
	if s, l := Name(VirtualAccess, 3); s != "Vi3" || l != "Virtual-Access3" {
		t.Fatal(s, l)
	}
	for short, long := range map[string]string{"Vi3": "Virtual-Access3", "Vp12": "Virtual-PPP12", "Di1": "Dialer1", "eth0": "eth0", "Vi": "Vi", "Vix": "Vix"} {
		if got := LongName(short); got != long {
			t.Errorf("LongName(%s) = %s, want %s", short, got, long)
		}
	}
}

var (
	lo   = netip.MustParseAddr("198.19.0.1")
	peer = netip.MustParseAddr("198.19.1.5")
	net1 = netip.MustParsePrefix("198.19.64.0/24")
)

func hasRoute(rs []netif.Route, p netip.Prefix) bool {
	return slices.ContainsFunc(rs, func(r netif.Route) bool { return r.Dst == p })
}

// TestPerInterface: a session's interface is a device of its own with its
// point-to-point address, MTU and routes; Down removes it all.
func TestPerInterface(t *testing.T) {
	h := netif.NewFakeHost()
	m, err := New(Config{Host: h, Offload: true})
	if err != nil {
		t.Fatal(err)
	}
	ifc, err := m.Up(Spec{Name: "Vi1", Kind: VirtualAccess, Local: lo, Peer: peer, MTU: 1400, Routes: []Route{{Dst: net1}}})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := h.Link("Vi1")
	if !ok || !l.Up || l.MTU != 1400 || ifc.Device() == nil || !ifc.Offload() || m.Lookup("Vi1") != ifc {
		t.Fatalf("link %+v", l)
	}
	if addrs, _ := h.Addrs("Vi1"); len(addrs) != 1 || addrs[0].Addr() != lo {
		t.Fatalf("addresses %v", addrs)
	}
	if rs, _ := h.Routes("Vi1"); !hasRoute(rs, net1) {
		t.Fatalf("routes %v", rs)
	}
	ifc.Down()
	ifc.Down()
	if h.Exists("Vi1") || m.Lookup("Vi1") != nil {
		t.Fatal("Vi1 is still there")
	}
}

// TestUpFailsClean: an interface the kernel refuses is an *Error, whatever
// the kernel said, and nothing is left behind.
func TestUpFailsClean(t *testing.T) {
	h := netif.NewFakeHost()
	m, _ := New(Config{Host: h})
	if _, err := h.CreateTUN("Vi1", false); err != nil {
		t.Fatal(err)
	}
	_, err := m.Up(Spec{Name: "Vi1", Local: lo, Peer: peer})
	var ve *Error
	if !errors.As(err, &ve) || !errors.Is(err, fs.ErrExist) || ve.Op != "create" {
		t.Fatalf("error %v", err)
	}
	// An address that does not go on: the device goes again.
	if _, err := m.Up(Spec{Name: "Vi2", Local: lo, Peer: peer, MTU: 10}); err == nil || h.Exists("Vi2") {
		t.Fatalf("MTU 10 accepted (%v), or Vi2 left behind", err)
	}
}

// TestShared: in shared mode every session is a host route (and its
// routes) on vpdn0, which carries the local address once.
func TestShared(t *testing.T) {
	h := netif.NewFakeHost()
	m, err := New(Config{Host: h, Shared: true, SharedMTU: 1460})
	if err != nil {
		t.Fatal(err)
	}
	if m.Shared() == nil || !h.Exists(SharedName) {
		t.Fatal("no shared device")
	}
	peer2 := netip.MustParseAddr("198.19.1.6")
	a, err := m.Up(Spec{Name: "Vi1", Local: lo, Peer: peer, Shared: true, Routes: []Route{{Dst: net1}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Up(Spec{Name: "Vi2", Local: lo, Peer: peer2, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Device() != nil || b.Device() != nil {
		t.Fatal("a shared session has a device of its own")
	}
	rs, _ := h.Routes(SharedName)
	for _, p := range []netip.Prefix{netip.PrefixFrom(peer, 32), netip.PrefixFrom(peer2, 32), net1} {
		if !hasRoute(rs, p) {
			t.Errorf("no route to %v on %s: %v", p, SharedName, rs)
		}
	}
	if addrs, _ := h.Addrs(SharedName); len(addrs) != 1 {
		t.Errorf("addresses of %s: %v", SharedName, addrs)
	}
	// The same peer twice: refused, as the kernel refuses the route.
	if _, err := m.Up(Spec{Name: "Vi3", Local: lo, Peer: peer, Shared: true}); err == nil {
		t.Error("a second session with the same peer address came up")
	}
	a.Down()
	rs, _ = h.Routes(SharedName)
	if hasRoute(rs, netip.PrefixFrom(peer, 32)) || hasRoute(rs, net1) || !hasRoute(rs, netip.PrefixFrom(peer2, 32)) {
		t.Errorf("after Vi1 went: %v", rs)
	}
	b.Down()
	// The template's next session, after the last one went: its address
	// is on vpdn0 already.
	c, err := m.Up(Spec{Name: "Vi1", Local: lo, Peer: peer, Shared: true})
	if err != nil {
		t.Fatalf("a session after the last one of its address: %v", err)
	}
	c.Down()
	m.Close()
	if h.Exists(SharedName) {
		t.Error("vpdn0 is still there")
	}
}

// TestStaticRoutes: next-hop routes go in when their next hop resolves,
// and out at Close; routes no longer configured go at once.
func TestStaticRoutes(t *testing.T) {
	h := netif.NewFakeHost()
	m, _ := New(Config{Host: h})
	r := Route{Dst: netip.MustParsePrefix("198.19.100.0/24"), Gateway: peer}
	m.SetStaticRoutes([]Route{r})
	if len(h.AllRoutes()) != 0 {
		t.Fatal("a route through an unreachable next hop went in")
	}
	ifc, err := m.Up(Spec{Name: "Vp1", Local: lo, Peer: peer})
	if err != nil {
		t.Fatal(err)
	}
	m.InstallStaticRoutes()
	if !slices.ContainsFunc(h.AllRoutes(), func(fr netif.FakeRoute) bool { return fr.Route.Dst == r.Dst }) {
		t.Fatalf("static route not installed: %v", h.AllRoutes())
	}
	m.SetStaticRoutes(nil)
	if slices.ContainsFunc(h.AllRoutes(), func(fr netif.FakeRoute) bool { return fr.Route.Dst == r.Dst }) {
		t.Fatal("a route no longer configured stayed")
	}
	ifc.Down()
	m.Close()
}
