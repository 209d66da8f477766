package pool

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// fakeStore hands out addresses from a list and counts its calls.
type fakeStore struct {
	next     []netip.Addr
	held     map[netip.Addr]bool
	released []netip.Addr
	synced   []Range
	down     bool
}

func (f *fakeStore) Sync(_ context.Context, r []Range) error { f.synced = r; return nil }
func (f *fakeStore) Allocate(_ context.Context, pool string, _ LeaseInfo) (netip.Addr, error) {
	if f.down {
		return netip.Addr{}, ErrStoreUnavailable
	}
	if len(f.next) == 0 {
		return netip.Addr{}, &ExhaustedError{Pool: pool}
	}
	a := f.next[0]
	f.next = f.next[1:]
	f.held[a] = true
	return a, nil
}
func (f *fakeStore) Reserve(_ context.Context, _ string, a netip.Addr, _ LeaseInfo) error {
	if f.held[a] {
		return ErrInUse
	}
	f.held[a] = true
	return nil
}
func (f *fakeStore) Release(_ context.Context, _ string, a netip.Addr) error {
	delete(f.held, a)
	f.released = append(f.released, a)
	return nil
}
func (f *fakeStore) Usage(_ context.Context, _ string, start, end netip.Addr) (uint32, uint32, error) {
	if f.down {
		return 0, 0, errors.New("fake: down")
	}
	var n uint32
	for a := range f.held {
		if a.Compare(start) >= 0 && a.Compare(end) <= 0 {
			n++
		}
	}
	return n, 7, nil
}
func (f *fakeStore) Describe() string { return "fake" }

// TestGroupStore: with a store the group allocates, reserves and releases
// through it, checks what it hands out against the ranges, counts
// exhaustion, and shows the store's view.
func TestGroupStore(t *testing.T) {
	g := NewGroup()
	a1, a2 := netip.MustParseAddr("198.19.1.1"), netip.MustParseAddr("198.19.1.2")
	outside := netip.MustParseAddr("198.19.9.9")
	if err := g.AddRange("P", a1, netip.MustParseAddr("198.19.1.100")); err != nil {
		t.Fatal(err)
	}
	f := &fakeStore{next: []netip.Addr{a2, outside}, held: map[netip.Addr]bool{}}
	if err := f.Sync(context.Background(), g.Ranges()); err != nil || len(f.synced) != 1 || f.synced[0].Pool != "P" {
		t.Fatalf("ranges: %+v", f.synced)
	}
	g.SetStore(f)
	if a, err := g.AllocateFor("P", LeaseInfo{User: "u", Session: "1"}); err != nil || a != a2 {
		t.Fatalf("allocate: %v %v", a, err)
	}
	// An address outside the ranges is given back and refused.
	if _, err := g.AllocateFor("P", LeaseInfo{}); !errors.Is(err, ErrNotInPool) || len(f.released) != 1 || f.released[0] != outside {
		t.Fatalf("outside: %v, released %v", err, f.released)
	}
	if _, err := g.AllocateFor("P", LeaseInfo{}); !errors.Is(err, ErrExhausted) {
		t.Fatalf("exhausted: %v", err)
	}
	if _, err := g.AllocateFor("Q", LeaseInfo{}); !errors.Is(err, ErrNoPool) {
		t.Fatalf("no pool: %v", err)
	}
	p := g.Find(a1)
	if err := g.Reserve(p, a1, LeaseInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := g.Reserve(p, a1, LeaseInfo{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("reserve twice: %v", err)
	}
	if err := g.Reserve(p, outside, LeaseInfo{}); !errors.Is(err, ErrNotInPool) {
		t.Fatalf("reserve outside: %v", err)
	}
	st := g.StoreStats(context.Background())
	if st[0].InUse != 9 || st[0].InUseHere != 2 || st[0].InUseOthers != 7 || st[0].Free != 91 || st[0].Exhausted != 1 {
		t.Fatalf("stats: %+v", st[0])
	}
	var b strings.Builder
	WriteShow(&b, st)
	if !strings.Contains(b.String(), "store fake: 2 in use by this instance, 7 by others") {
		t.Errorf("show:\n%s", b.String())
	}
	if err := g.Release("P", a2, "u"); err != nil || f.held[a2] {
		t.Fatalf("release: %v", err)
	}
	// The in-memory pool was not used.
	if s := g.Stats()[0]; s.InUse != 0 {
		t.Errorf("memory pool in use: %d", s.InUse)
	}
	f.down = true
	if _, err := g.AllocateFor("P", LeaseInfo{}); !errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrExhausted) {
		t.Fatalf("down: %v", err)
	}
	b.Reset()
	WriteShow(&b, g.StoreStats(context.Background()))
	if !strings.Contains(b.String(), "store fake: unavailable") {
		t.Errorf("show, store down:\n%s", b.String())
	}
}
