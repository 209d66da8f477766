package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestKernelErrorIs(t *testing.T) {
	e := error(&kernelError{errno: unix.ENODEV})
	if !errors.Is(e, ErrNoDevice) || !errors.Is(e, unix.ENODEV) || errors.Is(e, unix.EEXIST) {
		t.Error("ENODEV")
	}
	e = &kernelError{errno: unix.EEXIST, msg: "File exists"}
	if !errors.Is(e, unix.EEXIST) || errors.Is(e, ErrNoDevice) || e.Error() != "file exists (File exists)" {
		t.Errorf("EEXIST: %v", e)
	}
}

// TestKerr: the netlink library's errors become the kernelErrors that
// callers and FakeHost share.
func TestKerr(t *testing.T) {
	other := errors.New("either Dst.IP, Src.IP or Gw must be set")
	for _, c := range []struct {
		name  string
		in    error
		errno unix.Errno // 0: passed through
		msg   string
	}{
		{"errno", unix.EEXIST, unix.EEXIST, ""},
		{"errno with the kernel's message", fmt.Errorf("%w: %s", unix.ENETDOWN, "Nexthop device is not up"), unix.ENETDOWN, "Nexthop device is not up"},
		{"link not found", netlink.LinkNotFoundError{}, unix.ENODEV, ""},
		{"not the kernel's", other, 0, ""},
	} {
		got := kerr(c.in)
		var ke *kernelError
		if !errors.As(got, &ke) {
			if c.errno != 0 || got != c.in {
				t.Errorf("%s: %v (%T)", c.name, got, got)
			}
			continue
		}
		if ke.errno != c.errno || ke.msg != c.msg || !errors.Is(got, c.errno) {
			t.Errorf("%s: %#v, want %v %q", c.name, ke, c.errno, c.msg)
		}
	}
	if kerr(nil) != nil {
		t.Error("kerr(nil)")
	}
	if !errors.Is(kerr(netlink.LinkNotFoundError{}), ErrNoDevice) {
		t.Error("a link not found is no ErrNoDevice")
	}
}

// TestNLRoute: the routes the Kernel asks the library for — added static
// and unicast (link scope without a gateway), deleted with any scope.
func TestNLRoute(t *testing.T) {
	r := Route{Dst: netip.MustParsePrefix("198.19.5.0/24"), Src: netip.MustParseAddr("198.19.0.1"), Metric: 7}
	add := nlRoute(3, r, true)
	if add.LinkIndex != 3 || add.Dst.String() != "198.19.5.0/24" || add.Src.String() != "198.19.0.1" || add.Gw != nil ||
		add.Priority != 7 || add.Table != unix.RT_TABLE_MAIN || add.Scope != netlink.SCOPE_LINK ||
		add.Protocol != unix.RTPROT_STATIC || add.Type != unix.RTN_UNICAST {
		t.Errorf("add %+v", add)
	}
	r.Gateway = netip.MustParseAddr("198.19.0.2")
	if add := nlRoute(0, r, true); add.Scope != netlink.SCOPE_UNIVERSE || add.Gw.String() != "198.19.0.2" {
		t.Errorf("add via a gateway %+v", add)
	}
	del := nlRoute(3, r, false)
	if del.Scope != netlink.SCOPE_NOWHERE || del.Protocol != 0 || del.Type != 0 || del.Table != unix.RT_TABLE_MAIN {
		t.Errorf("delete %+v", del)
	}
	six := nlRoute(3, Route{Dst: netip.MustParsePrefix("2001:db8::/32")}, true)
	if six.Dst.String() != "2001:db8::/32" || len(six.Dst.IP) != 16 {
		t.Errorf("IPv6 %+v", six)
	}
}

// TestPrefixOf: the destinations read from the library's routes.
func TestPrefixOf(t *testing.T) {
	for _, c := range []struct {
		r    netlink.Route
		want netip.Prefix
		ok   bool
	}{
		{netlink.Route{Dst: ipNet(netip.MustParseAddr("198.19.5.0"), 24)}, netip.MustParsePrefix("198.19.5.0/24"), true},
		{netlink.Route{Family: netlink.FAMILY_V4}, netip.MustParsePrefix("0.0.0.0/0"), true},
		{netlink.Route{Family: netlink.FAMILY_V6}, netip.MustParsePrefix("::/0"), true},
		{netlink.Route{Family: 28}, netip.Prefix{}, false},
		{netlink.Route{Dst: ipNet(netip.MustParseAddr("2001:db8::"), 32)}, netip.MustParsePrefix("2001:db8::/32"), true},
	} {
		got, ok := prefixOf(&c.r)
		if got != c.want || ok != c.ok {
			t.Errorf("prefixOf(%v) = %v %v, want %v %v", c.r.Dst, got, ok, c.want, c.ok)
		}
	}
}
