package aaa

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/pool"
)

func TestAssignAddress(t *testing.T) {
	g := pool.NewGroup()
	for _, r := range []struct{ name, start, end string }{
		{"sales-pool", "198.19.1.1", "198.19.1.2"},
		{"default", "198.19.9.1", "198.19.9.10"},
	} {
		if err := g.AddRange(r.name, netip.MustParseAddr(r.start), netip.MustParseAddr(r.end)); err != nil {
			t.Fatal(err)
		}
	}
	l := testLocal(t)
	authz := func(name string) *Authorization {
		a, ok := l.Authorize(name, false)
		if !ok {
			t.Fatalf("%s unknown", name)
		}
		return &a
	}
	// The domain's pool; the same address back after release.
	x, err := AssignAddress(g, authz("User@sales"), "default")
	if err != nil || x.Pool.Name() != "sales-pool" || x.Static {
		t.Fatalf("%+v %v", x, err)
	}
	if err := x.Release(); err != nil {
		t.Fatal(err)
	}
	other, _ := AssignAddress(g, authz("bob@eng"), "sales-pool") // bob has his own pool "bobs"
	if other != nil {
		t.Fatalf("bob's pool does not exist, got %+v", other)
	}
	y, _ := AssignAddress(g, authz("User@sales"), "default")
	if y.Addr != x.Addr {
		t.Errorf("returning user got %v, had %v", y.Addr, x.Addr)
	}
	// Exhaustion is the pool's typed error.
	if _, err := AssignAddress(g, &Authorization{Username: "a", Pool: "sales-pool"}, ""); err != nil {
		t.Fatal(err)
	}
	_, err = AssignAddress(g, &Authorization{Username: "b", Pool: "sales-pool"}, "")
	var ex *pool.ExhaustedError
	if !errors.Is(err, pool.ErrExhausted) || !errors.As(err, &ex) || ex.Pool != "sales-pool" {
		t.Errorf("exhausted: %v", err)
	}
	// No pool from the user or domain: the interface's default.
	z, err := AssignAddress(g, authz("User"), "default")
	if err != nil || z.Pool.Name() != "default" {
		t.Errorf("default: %+v %v", z, err)
	}
	if _, err := AssignAddress(g, authz("User"), ""); !errors.Is(err, ErrNoAddress) {
		t.Errorf("no pool at all: %v", err)
	}
	if _, err := AssignAddress(g, authz("bob"), ""); !errors.Is(err, pool.ErrNoPool) {
		t.Errorf("missing pool: %v", err)
	}
	// A static address outside the pools is used as is.
	s, err := AssignAddress(g, authz("alice"), "default")
	if err != nil || !s.Static || s.Pool != nil || s.Addr != netip.MustParseAddr("198.19.1.7") || s.Release() != nil {
		t.Errorf("static: %+v %v", s, err)
	}
	// A static address inside a pool is reserved there, once.
	in := &Authorization{Username: "st", Address: netip.MustParseAddr("198.19.9.5")}
	s, err = AssignAddress(g, in, "")
	if err != nil || s.Pool == nil || !s.Pool.InUse(in.Address) {
		t.Fatalf("static in pool: %+v %v", s, err)
	}
	if _, err := AssignAddress(g, in, ""); !errors.Is(err, pool.ErrInUse) {
		t.Errorf("static twice: %v", err)
	}
	if err := s.Release(); err != nil || s.Pool.InUse(in.Address) {
		t.Errorf("release static: %v", err)
	}
}
