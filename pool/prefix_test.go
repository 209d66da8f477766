package pool

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPrefixPool(t *testing.T) {
	p, err := NewPrefixPool("V6", netip.MustParsePrefix("2001:db8::/62"), 64)
	if err != nil {
		t.Fatal(err)
	}
	var got []netip.Prefix
	for range 4 {
		pf, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pf)
	}
	want := []string{"2001:db8::/64", "2001:db8:0:1::/64", "2001:db8:0:2::/64", "2001:db8:0:3::/64"}
	for i, w := range want {
		if got[i].String() != w {
			t.Fatalf("prefix %d: %s, want %s", i, got[i], w)
		}
	}
	if _, err := p.Allocate(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("fifth: %v", err)
	}
	if err := p.Release(got[1]); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(got[1]); !errors.Is(err, ErrNotAllocated) {
		t.Fatalf("double release: %v", err)
	}
	if pf, _ := p.Allocate(); pf != got[1] {
		t.Fatalf("after release: %s", pf)
	}
	if err := p.Reserve(got[2]); !errors.Is(err, ErrInUse) {
		t.Fatalf("reserve in use: %v", err)
	}
	for _, bad := range []string{"2001:db8:1::/64", "2001:db8::/63", "2001:db8::1/64"} {
		if err := p.Release(netip.MustParsePrefix(bad)); !errors.Is(err, ErrNotInPool) {
			t.Errorf("release %s: %v", bad, err)
		}
	}
	if st := p.Stats(); st.Size != 4 || st.InUse != 4 || st.ExhaustedEvents != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPrefixPoolBounds(t *testing.T) {
	for _, tc := range []struct {
		base   string
		assign int
	}{
		{"2001:db8::/16", 64}, {"2001:db8::/48", 72}, {"2001:db8::/64", 48}, {"2001:db8::1/48", 64}, {"198.19.0.0/16", 24},
	} {
		if _, err := NewPrefixPool("X", netip.MustParsePrefix(tc.base), tc.assign); !errors.Is(err, ErrBadRange) {
			t.Errorf("%s %d: %v", tc.base, tc.assign, err)
		}
	}
	p, err := NewPrefixPool("W", netip.MustParsePrefix("2001:db8::/32"), 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(netip.MustParsePrefix("2001:db8:ffff:ffff::/64")); err != nil {
		t.Fatal(err)
	}
}
