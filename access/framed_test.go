package access

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vpdn/vpdn/aaa"
)

// TestFramedMTU: Framed-MTU caps the MTU; out-of-range values are ignored.
func TestFramedMTU(t *testing.T) {
	for _, c := range []struct {
		mtu    int
		framed uint32
		want   int
	}{
		{1460, 0, 1460}, {1460, 1400, 1400}, {1460, 1500, 1460}, {0, 1400, 1400},
		{1460, 67, 1460}, {1460, 68, 68}, {1460, 70000, 1460}, {0, 0, 0},
	} {
		if got := framedMTU(c.mtu, c.framed); got != c.want {
			t.Errorf("framedMTU(%d, %d) = %d, want %d", c.mtu, c.framed, got, c.want)
		}
	}
}

// TestFramedRoutes: Framed-IP-Netmask routes the peer's network unless it
// is a host mask, no mask, or not contiguous; Framed-Routes are kept and
// not repeated.
func TestFramedRoutes(t *testing.T) {
	peer := netip.MustParseAddr("198.19.7.5")
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	for _, c := range []struct {
		mask   string
		routes []netip.Prefix
		want   []netip.Prefix
	}{
		{"255.255.255.0", nil, pfx("198.19.7.0/24")},
		{"255.255.255.252", nil, pfx("198.19.7.4/30")},
		{"255.255.255.255", nil, nil},
		{"0.0.0.0", nil, nil},
		{"255.0.255.0", nil, nil},
		{"", pfx("198.19.50.0/24"), pfx("198.19.50.0/24")},
		{"255.255.255.0", pfx("198.19.7.0/24"), pfx("198.19.7.0/24")},
	} {
		a := &aaa.Authorization{Routes: c.routes}
		if c.mask != "" {
			a.Netmask = netip.MustParseAddr(c.mask)
		}
		if got := framedRoutes(a, peer); !slices.Equal(got, c.want) {
			t.Errorf("mask %q routes %v: %v, want %v", c.mask, c.routes, got, c.want)
		}
	}
}
