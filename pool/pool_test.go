package pool

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

var ip = netip.MustParseAddr

func newPool(t testing.TB, name string, ranges ...string) *Pool {
	t.Helper()
	p := New(name)
	for _, r := range ranges {
		s, e, _ := strings.Cut(r, "-")
		var end netip.Addr
		if e != "" {
			end = ip(e)
		}
		if err := p.AddRange(ip(s), end); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestAddRangeValidation(t *testing.T) {
	p := newPool(t, "p", "198.19.0.10-198.19.0.20")
	for _, tc := range []struct {
		start, end string
		want       error
	}{
		{"198.19.0.21", "198.19.0.10", ErrBadRange},
		{"2001:db8::1", "2001:db8::2", ErrBadRange},
		{"198.19.0.1", "2001:db8::2", ErrBadRange},
		{"198.19.0.20", "198.19.0.30", ErrOverlap},
		{"198.19.0.1", "198.19.0.10", ErrOverlap},
		{"198.19.0.15", "", ErrOverlap},
		{"198.19.0.0", "198.19.0.255", ErrOverlap},
		{"10.0.0.0", "11.0.0.0", ErrBadRange}, // a /8 and one more
		{"::ffff:198.19.9.1", "", ErrBadRange},
	} {
		var end netip.Addr
		if tc.end != "" {
			end = ip(tc.end)
		}
		err := p.AddRange(ip(tc.start), end)
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "pool: ") || !strings.HasSuffix(err.Error(), "(pool p)") {
			t.Errorf("%s-%s: %v, want %v", tc.start, tc.end, err, tc.want)
		}
	}
	if err := p.AddRange(netip.Addr{}, netip.Addr{}); !errors.Is(err, ErrBadRange) {
		t.Errorf("zero address: %v", err)
	}
	// Good ones: adjacent ranges, a single address.
	for _, r := range [][2]string{{"198.19.0.21", "198.19.0.30"}, {"198.19.0.9", ""}} {
		var end netip.Addr
		if r[1] != "" {
			end = ip(r[1])
		}
		if err := p.AddRange(ip(r[0]), end); err != nil {
			t.Errorf("%v: %v", r, err)
		}
	}
	if st := p.Stats(); st.Free != 11+10+1 || len(st.Ranges) != 3 {
		t.Errorf("stats %+v", st.Free)
	}
	// A whole /8 fits; the pool as a whole is limited too.
	big := New("big")
	if err := big.AddRange(ip("10.0.0.0"), ip("10.255.255.255")); err != nil {
		t.Fatal(err)
	}
	if err := big.AddRange(ip("11.0.0.0"), ip("11.0.0.0")); !errors.Is(err, ErrBadRange) {
		t.Errorf("pool above the limit: %v", err)
	}
}

func TestAllocateAll(t *testing.T) {
	p := newPool(t, "p", "198.19.0.1-198.19.0.3", "198.19.5.7")
	seen := map[netip.Addr]bool{}
	for i := 0; i < 4; i++ {
		a, err := p.Allocate("")
		if err != nil || seen[a] || !p.Contains(a) || !p.InUse(a) {
			t.Fatalf("allocation %d: %v %v", i, a, err)
		}
		seen[a] = true
	}
	_, err := p.Allocate("x")
	var ex *ExhaustedError
	if !errors.Is(err, ErrExhausted) || !errors.As(err, &ex) || ex.Pool != "p" || err.Error() != "pool: p: exhausted" {
		t.Fatalf("exhausted: %v", err)
	}
	if st := p.Stats(); st.Exhausted != 1 || st.Free != 0 || st.InUse != 4 {
		t.Errorf("stats after exhaustion %+v", st)
	}
	if err := p.Release(ip("198.19.5.7"), ""); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(ip("198.19.5.7"), ""); !errors.Is(err, ErrNotAllocated) {
		t.Errorf("double release: %v", err)
	}
	if err := p.Release(ip("198.19.9.9"), ""); !errors.Is(err, ErrNotInPool) {
		t.Errorf("foreign release: %v", err)
	}
	if a, err := p.Allocate(""); err != nil || a != ip("198.19.5.7") {
		t.Errorf("after release: %v %v", a, err)
	}
}

func TestStickyAndReserve(t *testing.T) {
	p := newPool(t, "p", "198.19.0.1-198.19.0.10")
	a, _ := p.Allocate("alice")
	b, _ := p.Allocate("bob")
	p.Release(a, "alice")
	p.Release(b, "bob")
	// Bob gets his address back although alice's heads the free list.
	if got, _ := p.Allocate("bob"); got != b {
		t.Errorf("bob got %v, want %v back", got, b)
	}
	if got, _ := p.Allocate("alice"); got != a {
		t.Errorf("alice got %v, want %v back", got, a)
	}
	// Released addresses are reused, oldest first, before fresh ones.
	p.Release(a, "alice")
	if got, _ := p.Allocate("carol"); got != a {
		t.Errorf("carol got %v, want the released %v", got, a)
	}
	// Someone else took it: alice gets another one.
	if got, _ := p.Allocate("alice"); got == a {
		t.Errorf("alice got carol's %v", got)
	}
	if err := p.Release(a, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(a); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Allocate("carol"); got == a {
		t.Errorf("alice got the reserved %v", got)
	}
	if err := p.Reserve(a); !errors.Is(err, ErrInUse) {
		t.Errorf("reserve twice: %v", err)
	}
	if err := p.Reserve(ip("198.19.1.1")); !errors.Is(err, ErrNotInPool) {
		t.Errorf("reserve outside: %v", err)
	}
	// Reserve an address the bump index has not reached; allocation skips it.
	q := newPool(t, "q", "198.19.0.1-198.19.0.3")
	if err := q.Reserve(ip("198.19.0.2")); err != nil {
		t.Fatal(err)
	}
	x, _ := q.Allocate("")
	y, _ := q.Allocate("")
	if x != ip("198.19.0.1") || y != ip("198.19.0.3") {
		t.Errorf("got %v %v", x, y)
	}
	if _, err := q.Allocate(""); !errors.Is(err, ErrExhausted) {
		t.Errorf("want exhausted: %v", err)
	}
	q.Release(ip("198.19.0.2"), "dora")
	if got, _ := q.Allocate("dora"); got != ip("198.19.0.2") {
		t.Errorf("dora got %v", got)
	}
}

func TestStatsAndShow(t *testing.T) {
	g := NewGroup()
	for _, r := range []struct {
		name       string
		start, end netip.Addr
	}{
		{"sales", ip("198.19.1.1"), ip("198.19.1.254")},
		{"eng", ip("198.19.2.1"), ip("198.19.2.10")},
		{"sales", ip("198.19.3.1"), ip("198.19.3.10")},
		{"one", ip("198.19.4.1"), netip.Addr{}},
	} {
		if err := g.AddRange(r.name, r.start, r.end); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if _, err := g.Allocate("sales", fmt.Sprint("u", i)); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := WriteShow(&b, g.Stats()); err != nil {
		t.Fatal(err)
	}
	want := ` Pool                     Begin           End              Free  In use
 eng                      198.19.2.1      198.19.2.10        10       0
 one                      198.19.4.1      198.19.4.1          1       0
 sales                    198.19.1.1      198.19.1.254      250       4
                          198.19.3.1      198.19.3.10        10       0
`
	if b.String() != want {
		t.Errorf("show:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestGroup(t *testing.T) {
	g := NewGroup()
	if err := g.AddRange("a", ip("198.19.0.1"), ip("198.19.0.10")); err != nil {
		t.Fatal(err)
	}
	if err := g.AddRange("b", ip("198.19.0.10"), ip("198.19.0.20")); !errors.Is(err, ErrOverlap) {
		t.Errorf("overlap across pools: %v", err)
	}
	if g.Pool("b") != nil {
		t.Error("failed command created pool b")
	}
	if _, err := g.Allocate("nope", ""); !errors.Is(err, ErrNoPool) {
		t.Errorf("no pool: %v", err)
	}
	if err := g.Release("nope", ip("198.19.0.1"), ""); !errors.Is(err, ErrNoPool) {
		t.Errorf("no pool: %v", err)
	}
	a, err := g.Allocate("a", "u")
	if err != nil {
		t.Fatal(err)
	}
	if g.Find(a) != g.Pool("a") || g.Find(ip("198.19.9.9")) != nil {
		t.Error("Find")
	}
	if err := g.Release("a", a, "u"); err != nil {
		t.Fatal(err)
	}
	if err := g.AddRange("", ip("198.19.7.1"), netip.Addr{}); err == nil {
		t.Error("empty name accepted")
	}
}

// TestGroupAddRange checks the values of `ip local pool NAME START [END]`
// that a Group accepts, one range to a fresh group each.
func TestGroupAddRange(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, end netip.Addr
		ok         bool
		want       error // for a refused range, the error it wraps if any
	}{
		{"p", ip("198.19.0.1"), ip("198.19.0.9"), true, nil},
		{"p", ip("198.19.0.1"), netip.Addr{}, true, nil},
		{strings.Repeat("n", 64), ip("198.19.0.1"), netip.Addr{}, true, nil},
		{"p", ip("198.19.0.9"), ip("198.19.0.1"), false, ErrBadRange},
		{"p", ip("2001:db8::1"), netip.Addr{}, false, ErrBadRange},
		{"p", ip("198.19.0.1"), ip("fe80::1"), false, ErrBadRange},
		{"p", ip("8.0.0.0"), ip("10.0.0.0"), false, ErrBadRange},
		{"p", netip.Addr{}, netip.Addr{}, false, ErrBadRange},
		{strings.Repeat("n", 65), ip("198.19.0.1"), netip.Addr{}, false, nil},
		{"", ip("198.19.0.1"), netip.Addr{}, false, nil},
	} {
		g := NewGroup()
		err := g.AddRange(tc.name, tc.start, tc.end)
		if (err == nil) != tc.ok || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%.10s %v-%v: %v", tc.name, tc.start, tc.end, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pool: ") {
				t.Errorf("%.10s %v-%v: error %v", tc.name, tc.start, tc.end, err)
			}
			if g.Pool(tc.name) != nil {
				t.Errorf("%.10s: refused range created the pool", tc.name)
			}
			continue
		}
		end := tc.end
		if !end.IsValid() {
			end = tc.start
		}
		st := g.Stats()
		if len(st) != 1 || st[0].Name != tc.name || len(st[0].Ranges) != 1 ||
			st[0].Ranges[0].Start != tc.start || st[0].Ranges[0].End != end {
			t.Errorf("%.10s %v-%v: stats %+v", tc.name, tc.start, tc.end, st)
		}
	}
}

func TestConcurrent(t *testing.T) {
	p := newPool(t, "p", "198.19.0.0-198.19.7.255")
	const workers, rounds = 8, 500
	var mu sync.Mutex
	owner := map[netip.Addr]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			user := fmt.Sprint("user", w)
			var mine []netip.Addr
			for i := 0; i < rounds; i++ {
				a, err := p.Allocate(user)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if o, dup := owner[a]; dup {
					t.Errorf("%v handed to %d and %d", a, o, w)
				}
				owner[a] = w
				mu.Unlock()
				mine = append(mine, a)
				if i%3 != 0 {
					a, mine = mine[0], mine[1:]
					mu.Lock()
					delete(owner, a)
					mu.Unlock()
					if err := p.Release(a, user); err != nil {
						t.Error(err)
					}
				}
				_ = p.Stats()
			}
		}(w)
	}
	wg.Wait()
	if st := p.Stats(); int(st.InUse) != len(owner) || st.Free+st.InUse != 2048 {
		t.Errorf("stats %+v, owners %d", st, len(owner))
	}
}

func TestAllocateReleaseDoesNotAllocate(t *testing.T) {
	p := newPool(t, "p", "198.19.0.0-198.19.0.255")
	// Warm up: touch part of the pool so the link arrays and maps exist.
	var held []netip.Addr
	for i := 0; i < 100; i++ {
		a, _ := p.Allocate(fmt.Sprint("warm", i))
		held = append(held, a)
	}
	for i, a := range held {
		p.Release(a, fmt.Sprint("warm", i))
	}
	users := []string{"alice", "bob", "carol"}
	for _, u := range users {
		a, _ := p.Allocate(u)
		p.Release(a, u)
	}
	n := testing.AllocsPerRun(1000, func() {
		for _, u := range users {
			a, err := p.Allocate(u)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Release(a, u); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := p.Allocate("")
		p.Release(a, "")
	})
	if n != 0 {
		t.Errorf("%v allocations per allocate/release round", n)
	}
	full := newPool(t, "full", "198.19.1.1")
	full.Allocate("")
	if n := testing.AllocsPerRun(100, func() { full.Allocate("x") }); n != 0 {
		t.Errorf("exhaustion allocates %v", n)
	}
}

func BenchmarkAllocateRelease(b *testing.B) {
	p := New("bench")
	if err := p.AddRange(ip("10.0.0.0"), ip("10.1.255.255")); err != nil {
		b.Fatal(err)
	}
	// 100,000 sessions up, then churn one at a time.
	held := make([]netip.Addr, 100000)
	for i := range held {
		held[i], _ = p.Allocate("")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(held)
		if err := p.Release(held[j], ""); err != nil {
			b.Fatal(err)
		}
		a, err := p.Allocate("")
		if err != nil {
			b.Fatal(err)
		}
		held[j] = a
	}
}

func BenchmarkAllocateReleaseSticky(b *testing.B) {
	p := New("bench")
	if err := p.AddRange(ip("10.0.0.0"), ip("10.1.255.255")); err != nil {
		b.Fatal(err)
	}
	users := make([]string, 1000)
	held := make([]netip.Addr, len(users))
	for i := range users {
		users[i] = fmt.Sprint("user", i)
		held[i], _ = p.Allocate(users[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(users)
		p.Release(held[j], users[j])
		held[j], _ = p.Allocate(users[j])
	}
}

func BenchmarkAllocateReleaseParallel(b *testing.B) {
	p := New("bench")
	if err := p.AddRange(ip("10.0.0.0"), ip("10.0.255.255")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, err := p.Allocate("")
			if err != nil {
				b.Fatal(err)
			}
			p.Release(a, "")
		}
	})
}
