package pgstore

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/peers"
	"github.com/vpdn/vpdn/pool"
)

var (
	first = netip.MustParseAddr("198.19.1.1")
	last  = netip.MustParseAddr("198.19.1.200")
)

func open(t *testing.T, dsn, owner string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: dsn, Owner: owner, Heartbeat: time.Hour, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Sync(context.Background(), []pool.Range{{Pool: "P", Start: first, End: last}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// crash ends a store as a killed process would: no release of its leases.
func crash(s *Store) {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.db.Close()
	})
}

func usage(t *testing.T, s *Store) (mine, others uint32) {
	t.Helper()
	mine, others, err := s.Usage(context.Background(), "P", first, last)
	if err != nil {
		t.Fatal(err)
	}
	return mine, others
}

// TestStore runs two instances' stores against one real PostgreSQL:
// concurrent allocators never share an address, exhaustion is typed,
// release and reuse, a restarted instance's leases come back free while
// the other's stay held, expired leases of a dead owner are freed, the
// heartbeat renews, and a database that went away is "unavailable", not
// "exhausted".
func TestStore(t *testing.T) {
	pg := peers.PostgreSQL(t, "vpdn")
	dsn := pg.DSN("vpdn", false)
	a, b := open(t, dsn, "LNS-A"), open(t, dsn, "LNS-B")
	ctx := context.Background()

	// 200 addresses, 2 instances × 6 allocators at once, each instance
	// taking 100: the pool ends full and both hold some for what follows.
	// (Left to race for all of it, one instance can take the whole pool
	// on a loaded machine before the other's allocators run.)
	var mu sync.Mutex
	got := map[netip.Addr]string{}
	var dup []string
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b} {
		var budget atomic.Int32
		budget.Store(100)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; budget.Add(-1) >= 0; i++ {
					addr, err := s.Allocate(ctx, "P", pool.LeaseInfo{User: "", Session: s.Owner() + "-" + string(rune('a'+w)) + "-" + strconv.Itoa(i)})
					if errors.Is(err, pool.ErrExhausted) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if o, ok := got[addr]; ok {
						dup = append(dup, addr.String()+" "+o+" "+s.Owner())
					}
					got[addr] = s.Owner()
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(dup) > 0 {
		t.Fatalf("addresses handed out twice: %v", dup)
	}
	if len(got) != 200 {
		t.Fatalf("%d addresses handed out, want 200", len(got))
	}
	var ex *pool.ExhaustedError
	if _, err := a.Allocate(ctx, "P", pool.LeaseInfo{}); !errors.As(err, &ex) || ex.Pool != "P" {
		t.Fatalf("full pool: %v", err)
	}
	ma, oa := usage(t, a)
	mb, ob := usage(t, b)
	if ma+oa != 200 || ma != ob || mb != oa || ma != 100 {
		t.Fatalf("usage: A %d/%d, B %d/%d", ma, oa, mb, ob)
	}
	t.Logf("A holds %d, B %d", ma, mb)

	// Release and reuse: B gets the address A gave back; a user gets
	// their last address back.
	var fromA netip.Addr
	for addr, o := range got {
		if o == "LNS-A" {
			fromA = addr
			break
		}
	}
	if err := a.Release(ctx, "P", fromA); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx, "P", fromA); err != nil { // not B's: no effect
		t.Fatal(err)
	}
	if m, _ := usage(t, a); m != ma-1 {
		t.Fatalf("A holds %d after a release, want %d", m, ma-1)
	}
	if addr, err := b.Allocate(ctx, "P", pool.LeaseInfo{User: "alice"}); err != nil || addr != fromA {
		t.Fatalf("B after A's release: %v %v, want %v", addr, err, fromA)
	}
	if err := b.Release(ctx, "P", fromA); err != nil {
		t.Fatal(err)
	}
	if addr, err := a.Allocate(ctx, "P", pool.LeaseInfo{User: "alice"}); err != nil || addr != fromA {
		t.Fatalf("alice again: %v %v, want %v", addr, err, fromA)
	}
	// Reserve: a held address is in use, an address outside the store
	// is not in the pool.
	if err := a.Reserve(ctx, "P", fromA, pool.LeaseInfo{}); !errors.Is(err, pool.ErrInUse) {
		t.Fatalf("reserve of a held address: %v", err)
	}
	if err := a.Reserve(ctx, "P", netip.MustParseAddr("198.19.9.9"), pool.LeaseInfo{}); !errors.Is(err, pool.ErrNotInPool) {
		t.Fatalf("reserve outside: %v", err)
	}

	// A dies and starts again: its leases come back free, B's stay held.
	_, heldB := usage(t, a)
	crash(a)
	a = open(t, dsn, "LNS-A")
	if m, o := usage(t, a); m != 0 || o != heldB {
		t.Fatalf("after A's restart: A holds %d, B %d; want 0 and %d", m, o, heldB)
	}

	// Heartbeat: B's leases about to expire are renewed.
	if _, err := b.db.Exec(ctx, `UPDATE vpdn_pool_leases SET expires_at = now() + interval '1 second' WHERE owner = 'LNS-B'`); err != nil {
		t.Fatal(err)
	}
	b.Beat()
	var soon int
	if err := b.db.QueryRow(ctx, `SELECT count(*) FROM vpdn_pool_leases WHERE owner = 'LNS-B' AND expires_at < now() + interval '60 seconds'`).Scan(&soon); err != nil {
		t.Fatal(err)
	}
	if soon != 0 {
		t.Fatalf("%d of B's leases not renewed", soon)
	}

	// B dies and never comes back; once its leases expire (moved into
	// the past here rather than waited for), A's heartbeat frees them.
	crash(b)
	if _, err := a.db.Exec(ctx, `UPDATE vpdn_pool_leases SET expires_at = now() - interval '1 second' WHERE owner = 'LNS-B'`); err != nil {
		t.Fatal(err)
	}
	a.Beat()
	if m, o := usage(t, a); m != 0 || o != 0 {
		t.Fatalf("after B's leases expired: A %d, others %d", m, o)
	}

	// Through a Group: the store decides, the group checks the ranges
	// and shows the store's view.
	g := pool.NewGroup()
	if err := g.AddRange("P", first, last); err != nil {
		t.Fatal(err)
	}
	g.SetStore(a)
	addr, err := g.AllocateFor("P", pool.LeaseInfo{User: "bob", Session: "42"})
	if err != nil || addr != first {
		t.Fatalf("group allocation: %v %v", addr, err)
	}
	st := g.StoreStats(ctx)
	if st[0].InUse != 1 || st[0].InUseHere != 1 || st[0].Free != 199 || !strings.Contains(st[0].Store, "LNS-A") {
		t.Fatalf("store stats: %+v", st[0])
	}
	var show strings.Builder
	pool.WriteShow(&show, st)
	if !strings.Contains(show.String(), "1 in use by this instance, 0 by others") {
		t.Errorf("show:\n%s", show.String())
	}
	t.Logf("show ip local pool:\n%s", show.String())
	ls, err := a.Leases(ctx, "P")
	if err != nil || len(ls) != 1 || ls[0].Session != "42" || ls[0].User != "bob" || ls[0].Owner != "LNS-A" {
		t.Fatalf("leases: %+v %v", ls, err)
	}
	if err := g.Release("P", addr, "bob"); err != nil {
		t.Fatal(err)
	}

	// The database goes away: allocation fails as unavailable, within the
	// request timeout, and a release is kept for later.
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = g.AllocateFor("P", pool.LeaseInfo{User: "carol"})
	if !errors.Is(err, pool.ErrStoreUnavailable) || errors.Is(err, pool.ErrExhausted) {
		t.Fatalf("allocation with the database down: %v", err)
	}
	if err := a.Release(ctx, "P", first); !errors.Is(err, pool.ErrStoreUnavailable) {
		t.Fatalf("release with the database down: %v", err)
	}
	if len(a.pending) != 1 {
		t.Errorf("pending releases: %d", len(a.pending))
	}
	if _, err := Open(ctx, Options{DSN: dsn, Owner: "LNS-C", RequestTimeout: time.Second}); err == nil {
		t.Error("Open with the database down succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), Options{DSN: "host=/nonexistent"}); err == nil || !strings.Contains(err.Error(), "owner") {
		t.Errorf("no owner: %v", err)
	}
	_, err := Open(context.Background(), Options{DSN: "postgres://u:secretpw@[bad", Owner: "x"})
	if err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("bad DSN: %v", err)
	}
}

// BenchmarkAllocate measures one allocation (and its release every
// other time) against a real PostgreSQL on a unix socket, 8 allocators.
func BenchmarkAllocate(b *testing.B) {
	pg := peers.PostgreSQL(b, "vpdn")
	s, err := Open(context.Background(), Options{DSN: pg.DSN("vpdn", false), Owner: "B", Heartbeat: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Sync(context.Background(), []pool.Range{{Pool: "P", Start: netip.MustParseAddr("198.19.0.0"), End: netip.MustParseAddr("198.19.127.255")}}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := s.Allocate(ctx, "P", pool.LeaseInfo{User: "lac1"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
