package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"sync"
)

// maxNameLen bounds a pool name.
const maxNameLen = 64

// Group holds the pools of one configuration by name: the IOS default
// pool group, in which no two pools may share an address. The pools'
// addresses are leased from this process's memory, or from a shared Store
// set with SetStore.
type Group struct {
	mu    sync.RWMutex
	pools map[string]*Pool // guarded by mu
	store Store            // set before use; nil: in memory
}

// SetStore makes the group lease its addresses from s (nil: from memory).
// Call it after the ranges are added and s is synced, before the group is
// used.
func (g *Group) SetStore(s Store) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.store = s
}

// Store returns the group's shared store, or nil.
func (g *Group) Store() Store {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.store
}

// Ranges returns every range of every pool, for Store.Sync.
func (g *Group) Ranges() []Range {
	var out []Range
	for _, st := range g.Stats() {
		for _, r := range st.Ranges {
			out = append(out, Range{Pool: st.Name, Start: r.Start, End: r.End})
		}
	}
	return out
}

// NewGroup returns an empty group.
func NewGroup() *Group { return &Group{pools: make(map[string]*Pool)} }

// AddRange adds a range to the named pool, creating the pool if needed, as
// one `ip local pool NAME START [END]` command does (end zero: start alone).
// The range may not overlap any pool of the group.
func (g *Group) AddRange(name string, start, end netip.Addr) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("pool: name must be 1 to %d characters", maxNameLen)
	}
	if _, _, err := checkRange(start, end); err != nil {
		return fmt.Errorf("%w (pool %s)", err, name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for other, p := range g.pools {
		if other != name && p.Overlaps(start, end) {
			return fmt.Errorf("%w: pool %s and pool %s", ErrOverlap, name, other)
		}
	}
	p := g.pools[name]
	fresh := p == nil
	if fresh {
		p = New(name)
	}
	if err := p.AddRange(start, end); err != nil {
		return err
	}
	if fresh {
		g.pools[name] = p
	}
	return nil
}

// Pool returns the named pool, or nil.
func (g *Group) Pool(name string) *Pool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.pools[name]
}

// Allocate allocates from the named pool.
func (g *Group) Allocate(name, user string) (netip.Addr, error) {
	return g.AllocateFor(name, LeaseInfo{User: user})
}

// AllocateFor allocates from the named pool, from the store when the
// group has one (which records info with the lease).
func (g *Group) AllocateFor(name string, info LeaseInfo) (netip.Addr, error) {
	p := g.Pool(name)
	if p == nil {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNoPool, name)
	}
	st := g.Store()
	if st == nil {
		return p.Allocate(info.User)
	}
	a, err := st.Allocate(context.Background(), name, info)
	if errors.Is(err, ErrExhausted) {
		p.countExhausted()
	}
	if err == nil && !p.Contains(a) {
		// The store's table and this configuration disagree (another
		// instance configured other ranges): give it back.
		st.Release(context.Background(), name, a)
		return netip.Addr{}, fmt.Errorf("%w: the store handed out %v (pool %s)", ErrNotInPool, a, name)
	}
	return a, err
}

// Reserve takes address a out of pool p of the group (a static address
// inside the pool), in the store when the group has one.
func (g *Group) Reserve(p *Pool, a netip.Addr, info LeaseInfo) error {
	st := g.Store()
	if st == nil {
		return p.Reserve(a)
	}
	if !p.Contains(a) {
		return fmt.Errorf("%w: %v (pool %s)", ErrNotInPool, a, p.name)
	}
	return st.Reserve(context.Background(), p.name, a, info)
}

// Release returns an address to the named pool.
func (g *Group) Release(name string, a netip.Addr, user string) error {
	p := g.Pool(name)
	if p == nil {
		return fmt.Errorf("%w: %q", ErrNoPool, name)
	}
	if st := g.Store(); st != nil {
		return st.Release(context.Background(), name, a)
	}
	return p.Release(a, user)
}

// Find returns the pool holding address a, or nil: for a static address
// that falls inside a pool and must be reserved there.
func (g *Group) Find(a netip.Addr) *Pool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, p := range g.pools {
		if p.Contains(a) {
			return p
		}
	}
	return nil
}

// Stats returns every pool's statistics, sorted by name.
func (g *Group) Stats() []Stats {
	g.mu.RLock()
	ps := make([]*Pool, 0, len(g.pools))
	for _, p := range g.pools {
		ps = append(ps, p)
	}
	g.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	out := make([]Stats, len(ps))
	for i, p := range ps {
		out[i] = p.Stats()
	}
	return out
}

// StoreStats returns every pool's statistics as the group's store sees
// them: addresses in use by this instance and by others. Without a store
// it is Stats.
func (g *Group) StoreStats(ctx context.Context) []Stats {
	out := g.Stats()
	st := g.Store()
	if st == nil {
		return out
	}
	for i := range out {
		s := &out[i]
		s.Store = st.Describe()
		s.Free, s.InUse, s.InUseHere, s.InUseOthers = 0, 0, 0, 0
		for j := range s.Ranges {
			r := &s.Ranges[j]
			size := r.Free + r.InUse
			mine, others, err := st.Usage(ctx, s.Name, r.Start, r.End)
			if err != nil {
				s.StoreError = err.Error()
				mine, others = 0, 0
			}
			r.InUse = mine + others
			r.Free = size - min(size, r.InUse)
			r.InUseOthers = others
			s.Free += r.Free
			s.InUse += r.InUse
			s.InUseHere += mine
			s.InUseOthers += others
		}
	}
	return out
}

// WriteShow writes `show ip local pool` in the IOS layout: a header, then
// per pool its first range on the pool's line and further ranges below.
//
//	Pool                     Begin           End             Free  In use
//	sales                    198.19.1.1      198.19.1.254     250       4
//	                         198.19.3.1      198.19.3.10       10       0
func WriteShow(w io.Writer, stats []Stats) error {
	if _, err := fmt.Fprintf(w, " %-24s %-15s %-15s %5s %7s\n", "Pool", "Begin", "End", "Free", "In use"); err != nil {
		return err
	}
	for _, st := range stats {
		for i, r := range st.Ranges {
			name := ""
			if i == 0 {
				name = st.Name
			}
			if _, err := fmt.Fprintf(w, " %-24s %-15s %-15s %5d %7d\n", name, r.Start, r.End, r.Free, r.InUse); err != nil {
				return err
			}
		}
		if st.Store == "" {
			continue
		}
		// vpdn extension: the shared store's view of the pool.
		line := fmt.Sprintf("   store %s: %d in use by this instance, %d by others\n", st.Store, st.InUseHere, st.InUseOthers)
		if st.StoreError != "" {
			line = fmt.Sprintf("   store %s: unavailable: %s\n", st.Store, st.StoreError)
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	return nil
}
