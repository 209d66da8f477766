package pool

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// model is the naive pool: a map of every address to its state, scanned on
// every operation. The real Pool must agree with it on every answer.
type model struct {
	addrs []netip.Addr        // all addresses, in range order
	inUse map[netip.Addr]bool // every address of the pool
	hint  map[string]netip.Addr
}

func (m *model) addRange(first netip.Addr, n int) {
	a := first
	for i := 0; i < n; i++ {
		m.addrs = append(m.addrs, a)
		m.inUse[a] = false
		a = a.Next()
	}
}

func (m *model) free() int {
	n := 0
	for _, u := range m.inUse {
		if !u {
			n++
		}
	}
	return n
}

func (m *model) take(a netip.Addr) {
	m.inUse[a] = true
	for u, h := range m.hint {
		if h == a {
			delete(m.hint, u)
		}
	}
}

func TestRandomAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		randomRun(t, seed)
	}
}

func randomRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed*7))
	p := New("r")
	m := &model{inUse: map[netip.Addr]bool{}, hint: map[string]netip.Addr{}}
	users := []string{"", "a", "b", "c", "d", "e", "f"}
	next := netip.MustParseAddr("198.19.0.1")
	addRange := func() {
		n := 1 + r.IntN(40)
		// Leave a gap so that ranges are not adjacent by accident.
		first := next
		last := first
		for i := 1; i < n; i++ {
			last = last.Next()
		}
		if err := p.AddRange(first, last); err != nil {
			t.Fatalf("seed %d: AddRange: %v", seed, err)
		}
		m.addRange(first, n)
		next = last.Next().Next()
		// An overlapping range is refused and changes nothing.
		if err := p.AddRange(last, last.Next()); !errors.Is(err, ErrOverlap) {
			t.Fatalf("seed %d: overlap accepted: %v", seed, err)
		}
	}
	addRange()
	held := map[netip.Addr]string{}
	for op := 0; op < 3000; op++ {
		switch k := r.IntN(100); {
		case k < 2:
			addRange()
		case k < 50:
			user := users[r.IntN(len(users))]
			want, hasHint := m.hint[user]
			hasHint = hasHint && user != "" && !m.inUse[want]
			a, err := p.Allocate(user)
			if m.free() == 0 {
				if !errors.Is(err, ErrExhausted) {
					t.Fatalf("seed %d op %d: full model, pool gave %v %v", seed, op, a, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("seed %d op %d: %v with %d free", seed, op, err, m.free())
			}
			used, ok := m.inUse[a]
			if !ok || used {
				t.Fatalf("seed %d op %d: allocated %v (in pool %v, in use %v)", seed, op, a, ok, used)
			}
			if hasHint && a != want {
				t.Fatalf("seed %d op %d: %s got %v, its free address was %v", seed, op, user, a, want)
			}
			m.take(a)
			held[a] = user
		case k < 90:
			if len(held) == 0 {
				continue
			}
			// Release a random held address, sometimes under another name.
			var a netip.Addr
			i := r.IntN(len(held))
			for x := range held {
				if i == 0 {
					a = x
					break
				}
				i--
			}
			user := held[a]
			if r.IntN(4) == 0 {
				user = users[r.IntN(len(users))]
			}
			if err := p.Release(a, user); err != nil {
				t.Fatalf("seed %d op %d: release %v: %v", seed, op, a, err)
			}
			delete(held, a)
			m.inUse[a] = false
			if user != "" {
				m.hint[user] = a
			}
		case k < 95:
			// Reserve a random address, free or not.
			a := m.addrs[r.IntN(len(m.addrs))]
			err := p.Reserve(a)
			if m.inUse[a] != errors.Is(err, ErrInUse) || !m.inUse[a] && err != nil {
				t.Fatalf("seed %d op %d: reserve %v (in use %v): %v", seed, op, a, m.inUse[a], err)
			}
			if err == nil {
				m.take(a)
				held[a] = ""
			}
		default:
			// Releasing a free or foreign address fails and changes nothing.
			a := m.addrs[r.IntN(len(m.addrs))]
			if !m.inUse[a] {
				if err := p.Release(a, "z"); !errors.Is(err, ErrNotAllocated) {
					t.Fatalf("seed %d op %d: release of free %v: %v", seed, op, a, err)
				}
			}
			if err := p.Release(netip.MustParseAddr("198.18.0.1"), "z"); !errors.Is(err, ErrNotInPool) {
				t.Fatalf("seed %d: foreign release: %v", seed, err)
			}
		}
		if op%50 == 0 {
			checkStats(t, seed, p, m)
		}
	}
	checkStats(t, seed, p, m)
}

func checkStats(t *testing.T, seed uint64, p *Pool, m *model) {
	t.Helper()
	st := p.Stats()
	if int(st.Free) != m.free() || int(st.Free+st.InUse) != len(m.addrs) {
		t.Fatalf("seed %d: stats free %d in use %d, model free %d of %d", seed, st.Free, st.InUse, m.free(), len(m.addrs))
	}
	for _, rg := range st.Ranges {
		var inUse uint32
		for a := rg.Start; ; a = a.Next() {
			if m.inUse[a] != p.InUse(a) {
				t.Fatalf("seed %d: %v in use: pool %v, model %v", seed, a, p.InUse(a), m.inUse[a])
			}
			if m.inUse[a] {
				inUse++
			}
			if a == rg.End {
				break
			}
		}
		if inUse != rg.InUse {
			t.Fatalf("seed %d: range %v-%v in use %d, model %d", seed, rg.Start, rg.End, rg.InUse, inUse)
		}
	}
}
