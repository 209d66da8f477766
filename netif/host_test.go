package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/internal/nstest"
	"golang.org/x/sys/unix"
)

// hostScenario runs one sequence of operations against a Host and checks
// each result: the same sequence passes on the FakeHost (in memory), on a
// Kernel and on System (in a namespace), which keeps the fake honest.
func hostScenario(t *testing.T, h Host, routes func(string) ([]Route, error)) {
	t.Helper()
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	is := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || !strings.HasPrefix(err.Error(), "netif: ") {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	fails := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), "netif: ") {
			t.Errorf("%s: %v, want an error", what, err)
		}
	}
	sameSet := func(what string, got, want []netip.Prefix) {
		t.Helper()
		slices.SortFunc(got, func(a, b netip.Prefix) int { return strings.Compare(a.String(), b.String()) })
		slices.SortFunc(want, func(a, b netip.Prefix) int { return strings.Compare(a.String(), b.String()) })
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	sameRoutes := func(what string, want ...Route) {
		t.Helper()
		got, err := routes("Vi1")
		ok(what, err)
		key := func(a, b Route) int { return strings.Compare(routeKey(a), routeKey(b)) }
		slices.SortFunc(got, key)
		slices.SortFunc(want, key)
		if !slices.Equal(got, want) {
			t.Errorf("%s: routes %v, want %v", what, got, want)
		}
	}

	dev, err := h.CreateTUN("Vi1", true)
	ok("CreateTUN", err)
	if dev.Name() != "Vi1" {
		t.Errorf("name %q", dev.Name())
	}
	_, err = h.CreateTUN("Vi1", false)
	is("second Vi1", err, fs.ErrExist)
	for _, bad := range []string{"", "a-name-far-too-long"} {
		_, err = h.CreateTUN(bad, false)
		fails("CreateTUN "+bad, err)
	}
	is("SetMTU of a missing link", h.SetMTU("Vi9", 1400), ErrNoDevice)
	ok("SetMTU", h.SetMTU("Vi1", 1400))
	fails("MTU 10", h.SetMTU("Vi1", 10))
	local, peer := addr("198.19.0.1"), addr("198.19.0.2")
	ok("AddPeerAddress", h.AddPeerAddress("Vi1", local, peer))
	is("AddPeerAddress again", h.AddPeerAddress("Vi1", local, peer), unix.EEXIST)
	is("AddPeerAddress to a missing link", h.AddPeerAddress("Vi9", local, peer), ErrNoDevice)
	fails("AddPeerAddress of mixed families", h.AddPeerAddress("Vi1", local, addr("2001:db8::2")))
	is("a route through a link that is down", h.AddRoute("Vi1", Route{Dst: pfx("198.19.5.0/24")}), unix.ENETDOWN)
	is("SetUp of a missing link", h.SetUp("Vi9"), ErrNoDevice)
	ok("SetUp", h.SetUp("Vi1"))

	direct, direct10 := Route{Dst: pfx("198.19.5.0/24")}, Route{Dst: pfx("198.19.5.0/24"), Metric: 10}
	viaPeer := Route{Dst: pfx("198.19.6.0/24"), Gateway: peer}
	ok("AddRoute", h.AddRoute("Vi1", direct))
	is("AddRoute again", h.AddRoute("Vi1", direct), fs.ErrExist)
	ok("AddRoute metric 10", h.AddRoute("Vi1", direct10))
	ok("AddRoute via the peer", h.AddRoute("Vi1", viaPeer))
	fails("AddRoute via an unreachable gateway", h.AddRoute("Vi1", Route{Dst: pfx("198.19.7.0/24"), Gateway: addr("198.18.99.1")}))
	is("AddRoute to a missing link", h.AddRoute("Vi9", direct), ErrNoDevice)
	withSrc := Route{Dst: pfx("198.19.11.0/24"), Src: local}
	ok("AddRoute with a source", h.AddRoute("Vi1", withSrc))
	fails("AddRoute with a source not ours", h.AddRoute("Vi1", Route{Dst: pfx("198.19.12.0/24"), Src: addr("198.18.77.1")}))
	connected := Route{Dst: pfx("198.19.0.2/32"), Src: local}
	sameRoutes("after AddRoute", connected, direct, direct10, viaPeer, withSrc)
	ok("DelRoute with a source", h.DelRoute("Vi1", withSrc))

	gwRoute := Route{Dst: pfx("198.19.8.0/24"), Gateway: peer}
	ok("AddGatewayRoute", h.AddGatewayRoute(gwRoute.Dst, peer))
	ok("AddGatewayRoute again", h.AddGatewayRoute(gwRoute.Dst, peer))
	fails("AddGatewayRoute via nowhere", h.AddGatewayRoute(pfx("198.19.9.0/24"), addr("198.18.200.1")))
	sameRoutes("after AddGatewayRoute", connected, direct, direct10, viaPeer, gwRoute)
	ok("DelGatewayRoute", h.DelGatewayRoute(gwRoute.Dst, peer))
	ok("DelGatewayRoute again", h.DelGatewayRoute(gwRoute.Dst, peer))

	ok("DelRoute metric 10", h.DelRoute("Vi1", direct10))
	ok("DelRoute", h.DelRoute("Vi1", direct))
	ok("DelRoute again", h.DelRoute("Vi1", direct))
	is("DelRoute through a missing link", h.DelRoute("Vi9", direct), ErrNoDevice)
	sameRoutes("after DelRoute", connected, viaPeer)

	ok("AddAddress", h.AddAddress("Vi1", pfx("198.19.10.1/24")))
	is("AddAddress again", h.AddAddress("Vi1", pfx("198.19.10.1/24")), unix.EEXIST)
	ok("AddAddress IPv6", h.AddAddress("Vi1", pfx("2001:db8::1/64")))
	addrs, err := h.Addrs("Vi1")
	ok("Addrs", err)
	sameSet("Addrs", addrs, []netip.Prefix{pfx("198.19.0.1/32"), pfx("198.19.10.1/24"), pfx("2001:db8::1/64")})
	sameRoutes("with a /24", connected, viaPeer, Route{Dst: pfx("198.19.10.0/24"), Src: addr("198.19.10.1")})
	ok("DelAddress", h.DelAddress("Vi1", pfx("198.19.10.1/24")))
	fails("DelAddress again", h.DelAddress("Vi1", pfx("198.19.10.1/24")))
	ok("DelAddress of the point-to-point address", h.DelAddress("Vi1", pfx("198.19.0.1/32")))
	fails("DelAddress of the point-to-point address again", h.DelAddress("Vi1", pfx("198.19.0.1/32")))
	addrs, err = h.Addrs("Vi1")
	ok("Addrs", err)
	sameSet("Addrs after DelAddress", addrs, []netip.Prefix{pfx("2001:db8::1/64")})
	_, err = h.Addrs("Vi9")
	is("Addrs of a missing link", err, ErrNoDevice)

	tap, err := h.CreateTAP("tap1")
	ok("CreateTAP", err)
	ha, isHA := tap.(HardwareAddresser)
	if !isHA {
		t.Fatalf("%T is no HardwareAddresser", tap)
	}
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	ok("SetHardwareAddr", ha.SetHardwareAddr(mac))
	if got, err := ha.HardwareAddr(); err != nil || got.String() != mac.String() {
		t.Errorf("HardwareAddr %v %v", got, err)
	}

	if !h.Exists("Vi1") || h.Exists("Vi9") {
		t.Error("Exists")
	}
	ok("Close", dev.Close())
	if h.Exists("Vi1") {
		t.Error("Vi1 exists after Close")
	}
	_, err = routes("Vi1")
	is("routes of a closed link", err, ErrNoDevice)
	// The name is free again.
	again, err := h.CreateTUN("Vi1", false)
	ok("CreateTUN after Close", err)
	ok("SetMTU of the new Vi1", h.SetMTU("Vi1", 1300))
	again.Close()
	tap.Close()
}

func routeKey(r Route) string { return fmt.Sprint(r.Dst, r.Gateway, r.Metric, r.Src) }

func TestFakeHostScenario(t *testing.T) {
	h := NewFakeHost()
	hostScenario(t, h, h.Routes)
	if n := h.Links(); len(n) != 0 {
		t.Errorf("links left: %v", n)
	}
}

func TestKernelScenario(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("kernel")
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		defer k.Close()
		hostScenario(t, k, k.Routes)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSystemScenario runs the scenario through System from a thread in a
// test namespace: System must act there, not in the process's namespace.
func TestSystemScenario(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("system")
	err := ns.Do(func() error {
		hostScenario(t, System, Routes)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if Exists("tap1") {
		t.Error("tap1 exists in the process's namespace")
	}
	// Nothing of the namespace stays held once its devices are closed.
	sys.mu.Lock()
	defer sys.mu.Unlock()
	for _, e := range sys.kernels {
		if !e.proc {
			t.Errorf("a Kernel of another namespace is still open (%d references)", e.refs)
		}
	}
}

// TestKernelIPv6Off: a TUN made by a Kernel has no IPv6 (no link-local
// address, nothing sent into the link) until it is given an IPv6 address.
func TestKernelIPv6Off(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("v6off")
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		defer k.Close()
		d, err := k.CreateTUN("Vi1", false)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := k.SetUp("Vi1"); err != nil {
			return err
		}
		addrs, err := k.Addrs("Vi1")
		if err != nil || len(addrs) != 0 {
			t.Errorf("addresses of a new TUN: %v %v", addrs, err)
		}
		if out, _ := ns.IP("-6", "addr", "show", "dev", "Vi1"); strings.Contains(string(out), "inet6") {
			t.Errorf("IPv6 on a new TUN:\n%s", out)
		}
		if err := k.AddAddress("Vi1", netip.MustParsePrefix("fe80::1/64")); err != nil {
			return err
		}
		addrs, _ = k.Addrs("Vi1")
		if len(addrs) != 1 || addrs[0] != netip.MustParsePrefix("fe80::1/64") {
			t.Errorf("addresses after adding fe80::1: %v", addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
