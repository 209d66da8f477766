package pool

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"sync"
)

// maxNameLen bounds a pool name.
const maxNameLen = 64

// Group holds the pools of one configuration by name: the IOS default
// pool group, in which no two pools may share an address.
type Group struct {
	mu    sync.RWMutex
	pools map[string]*Pool // guarded by mu
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
	p := g.Pool(name)
	if p == nil {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNoPool, name)
	}
	return p.Allocate(user)
}

// Release returns an address to the named pool.
func (g *Group) Release(name string, a netip.Addr, user string) error {
	p := g.Pool(name)
	if p == nil {
		return fmt.Errorf("%w: %q", ErrNoPool, name)
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
	}
	return nil
}
