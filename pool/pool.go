package pool

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
)

// Limits of a pool, so that a typing error cannot make the daemon reserve
// memory for a whole address space: a range is at most a /8, and so is a
// whole pool.
const (
	MaxRangeSize = 1 << 24
	MaxPoolSize  = 1 << 24
)

// Errors callers branch on. Allocation from a full pool returns an
// *ExhaustedError, which matches ErrExhausted with errors.Is.
var (
	ErrExhausted    = errors.New("pool: exhausted")
	ErrNotInPool    = errors.New("pool: address not in pool")
	ErrInUse        = errors.New("pool: address in use")
	ErrNotAllocated = errors.New("pool: address not allocated")
	ErrBadRange     = errors.New("pool: bad range")
	ErrOverlap      = errors.New("pool: ranges overlap")
	ErrNoPool       = errors.New("pool: no such pool")
)

// ExhaustedError names the pool that had no free address.
type ExhaustedError struct{ Pool string }

func (e *ExhaustedError) Error() string { return "pool: " + e.Pool + ": exhausted" }

// Is makes errors.Is(err, ErrExhausted) true.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// noIdx marks the end of the free list.
const noIdx = ^uint32(0)

// span is one `ip local pool` range. Addresses of all spans are numbered
// by one index space: span s holds the indices [base, base+size).
type span struct {
	first uint32 // first address, as a big-endian integer
	size  uint32
	base  uint32
	inUse uint32
}

func (s *span) last() uint32 { return s.first + s.size - 1 }

// Pool is one `ip local pool`: one or more IPv4 ranges handed out one
// address at a time. Allocation and release are O(1) (plus a walk over the
// pool's few ranges), allocate no memory in steady state, and are safe for
// concurrent use.
//
// Structure: a bitmap of the addresses in use covers the whole pool (one bit
// per address). Addresses at or above the "bump" index have never been
// handed out and need nothing more. Released addresses below it sit on a
// doubly linked FIFO free list kept in two index arrays, 8 octets per
// address ever used; the arrays grow with the peak number of sessions, not
// with the size of the ranges. The free list is used before the bump index
// advances, so a pool stays compact; FIFO order keeps a released address
// free for as long as possible, so that a returning user can get it back: a
// user's last address is remembered (the sticky hint) until someone else
// takes it.
type Pool struct {
	name      string
	exhausted error

	mu    sync.Mutex
	spans []span // guarded by mu; bases ascending
	total uint32 // guarded by mu
	inUse uint32 // guarded by mu
	// exhaustions counts allocations refused for want of an address.
	exhaustions uint64 // guarded by mu
	used        []uint64
	bump        uint32
	next        []uint32 // free-list links for indices < bump
	prev        []uint32
	head        uint32
	tail        uint32
	// Sticky hints: a user's last released address while it stays free.
	hintByUser map[string]uint32
	userByIdx  map[uint32]string
}

// New returns an empty pool; add ranges with AddRange.
func New(name string) *Pool {
	return &Pool{
		name:       name,
		exhausted:  &ExhaustedError{Pool: name},
		head:       noIdx,
		tail:       noIdx,
		hintByUser: make(map[string]uint32),
		userByIdx:  make(map[uint32]string),
	}
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

func addrToU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32ToAddr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// checkRange validates START and END of a range; end may be zero for a
// single address.
func checkRange(start, end netip.Addr) (first, last uint32, err error) {
	if !end.IsValid() {
		end = start
	}
	if !start.Is4() || !end.Is4() {
		return 0, 0, fmt.Errorf("%w: %v-%v is not IPv4", ErrBadRange, start, end)
	}
	first, last = addrToU32(start), addrToU32(end)
	if first > last {
		return 0, 0, fmt.Errorf("%w: start %v after end %v", ErrBadRange, start, end)
	}
	if uint64(last)-uint64(first)+1 > MaxRangeSize {
		return 0, 0, fmt.Errorf("%w: %v-%v holds more than %d addresses", ErrBadRange, start, end, MaxRangeSize)
	}
	return first, last, nil
}

// AddRange adds the addresses start..end (end zero: start alone) to the
// pool, as a repeated `ip local pool NAME START END` does in IOS. The range
// must not overlap the pool's other ranges.
func (p *Pool) AddRange(start, end netip.Addr) error {
	first, last, err := checkRange(start, end)
	if err != nil {
		return fmt.Errorf("%w (pool %s)", err, p.name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.overlapLocked(first, last); s != nil {
		return fmt.Errorf("%w: %v-%v and %v-%v (pool %s)", ErrOverlap,
			u32ToAddr(first), u32ToAddr(last), u32ToAddr(s.first), u32ToAddr(s.last()), p.name)
	}
	size := last - first + 1
	if uint64(p.total)+uint64(size) > MaxPoolSize {
		return fmt.Errorf("%w: more than %d addresses (pool %s)", ErrBadRange, MaxPoolSize, p.name)
	}
	p.spans = append(p.spans, span{first: first, size: size, base: p.total})
	p.total += size
	words := (int(p.total) + 63) / 64
	if words > len(p.used) {
		p.used = append(p.used, make([]uint64, words-len(p.used))...)
	}
	return nil
}

// overlapLocked returns the span that shares an address with first..last.
func (p *Pool) overlapLocked(first, last uint32) *span {
	for i := range p.spans {
		s := &p.spans[i]
		if first <= s.last() && s.first <= last {
			return s
		}
	}
	return nil
}

// Overlaps reports whether any address of start..end is in the pool.
func (p *Pool) Overlaps(start, end netip.Addr) bool {
	first, last, err := checkRange(start, end)
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.overlapLocked(first, last) != nil
}

// indexLocked maps an address to its index.
func (p *Pool) indexLocked(a netip.Addr) (uint32, *span, bool) {
	if !a.Is4() {
		return 0, nil, false
	}
	v := addrToU32(a)
	for i := range p.spans {
		s := &p.spans[i]
		if v-s.first < s.size {
			return s.base + (v - s.first), s, true
		}
	}
	return 0, nil, false
}

// spanOfLocked finds the span holding an index.
func (p *Pool) spanOfLocked(idx uint32) *span {
	i := sort.Search(len(p.spans), func(i int) bool { return p.spans[i].base+p.spans[i].size > idx })
	return &p.spans[i]
}

func (p *Pool) addrLocked(idx uint32) (netip.Addr, *span) {
	s := p.spanOfLocked(idx)
	return u32ToAddr(s.first + (idx - s.base)), s
}

func (p *Pool) isUsed(idx uint32) bool { return p.used[idx/64]&(1<<(idx%64)) != 0 }
func (p *Pool) setUsed(idx uint32)     { p.used[idx/64] |= 1 << (idx % 64) }
func (p *Pool) clearUsed(idx uint32)   { p.used[idx/64] &^= 1 << (idx % 64) }

// Contains reports whether a is one of the pool's addresses.
func (p *Pool) Contains(a netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _, ok := p.indexLocked(a)
	return ok
}

// Allocate hands out a free address. A user that had an address before
// gets the same one again if it is still free; user may be empty. A full
// pool returns an *ExhaustedError (errors.Is(err, ErrExhausted)).
func (p *Pool) Allocate(user string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := noIdx
	if user != "" {
		if h, ok := p.hintByUser[user]; ok && !p.isUsed(h) {
			idx = h
			if idx < p.bump {
				p.unlinkLocked(idx)
			}
		}
	}
	if idx == noIdx && p.head != noIdx {
		idx = p.head
		p.unlinkLocked(idx)
	}
	if idx == noIdx {
		for p.bump < p.total && p.isUsed(p.bump) {
			p.growLocked() // reserved addresses the bump index passes by
		}
		if p.bump == p.total {
			p.exhaustions++
			return netip.Addr{}, p.exhausted
		}
		idx = p.bump
		p.growLocked()
	}
	return p.takeLocked(idx), nil
}

// growLocked advances the bump index by one, extending the link arrays.
func (p *Pool) growLocked() {
	p.next = append(p.next, noIdx)
	p.prev = append(p.prev, noIdx)
	p.bump++
}

// takeLocked marks idx in use and forgets any hint naming it.
func (p *Pool) takeLocked(idx uint32) netip.Addr {
	p.setUsed(idx)
	p.inUse++
	a, s := p.addrLocked(idx)
	s.inUse++
	if len(p.userByIdx) > 0 {
		if u, ok := p.userByIdx[idx]; ok {
			delete(p.userByIdx, idx)
			if p.hintByUser[u] == idx {
				delete(p.hintByUser, u)
			}
		}
	}
	return a
}

func (p *Pool) unlinkLocked(idx uint32) {
	n, pr := p.next[idx], p.prev[idx]
	if pr == noIdx {
		p.head = n
	} else {
		p.next[pr] = n
	}
	if n == noIdx {
		p.tail = pr
	} else {
		p.prev[n] = pr
	}
	p.next[idx], p.prev[idx] = noIdx, noIdx
}

func (p *Pool) pushTailLocked(idx uint32) {
	p.next[idx], p.prev[idx] = noIdx, p.tail
	if p.tail == noIdx {
		p.head = idx
	} else {
		p.next[p.tail] = idx
	}
	p.tail = idx
}

// Reserve takes a specific address out of the pool, for a user with a
// static address inside a pool's range.
func (p *Pool) Reserve(a netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx, _, ok := p.indexLocked(a)
	if !ok {
		return fmt.Errorf("%w: %v (pool %s)", ErrNotInPool, a, p.name)
	}
	if p.isUsed(idx) {
		return fmt.Errorf("%w: %v (pool %s)", ErrInUse, a, p.name)
	}
	if idx < p.bump {
		p.unlinkLocked(idx)
	}
	p.takeLocked(idx)
	return nil
}

// Release returns an address to the pool. If user is not empty the address
// is remembered as that user's, to be handed back on the user's next
// Allocate while nobody else has taken it.
func (p *Pool) Release(a netip.Addr, user string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx, s, ok := p.indexLocked(a)
	if !ok {
		return fmt.Errorf("%w: %v (pool %s)", ErrNotInPool, a, p.name)
	}
	if !p.isUsed(idx) {
		return fmt.Errorf("%w: %v (pool %s)", ErrNotAllocated, a, p.name)
	}
	p.clearUsed(idx)
	p.inUse--
	s.inUse--
	if idx < p.bump {
		p.pushTailLocked(idx)
	}
	if user != "" {
		if old, ok := p.hintByUser[user]; ok && old != idx {
			delete(p.userByIdx, old)
		}
		p.hintByUser[user] = idx
		p.userByIdx[idx] = user
	}
	return nil
}

// InUse reports whether a is allocated or reserved.
func (p *Pool) InUse(a netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	idx, _, ok := p.indexLocked(a)
	return ok && p.isUsed(idx)
}

// RangeStats describes one range of a pool.
type RangeStats struct {
	Start, End  netip.Addr
	Free, InUse uint32
	// InUseOthers is the part of InUse held by other instances of a
	// shared store.
	InUseOthers uint32 `json:",omitempty"`
}

// Stats is what `show ip local pool` prints for a pool.
type Stats struct {
	Name        string
	Free, InUse uint32
	// Exhausted counts allocations refused because the pool was full.
	Exhausted uint64
	Ranges    []RangeStats
	// With a shared store (Group.StoreStats): its description, the
	// addresses in use by this instance and by others, and why it could
	// not be read.
	Store       string `json:",omitempty"`
	InUseHere   uint32 `json:",omitempty"`
	InUseOthers uint32 `json:",omitempty"`
	StoreError  string `json:",omitempty"`
}

// countExhausted counts an allocation a shared store refused for want of
// an address.
func (p *Pool) countExhausted() {
	p.mu.Lock()
	p.exhaustions++
	p.mu.Unlock()
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Stats{
		Name: p.name, Free: p.total - p.inUse, InUse: p.inUse, Exhausted: p.exhaustions,
		Ranges: make([]RangeStats, len(p.spans)),
	}
	for i, s := range p.spans {
		st.Ranges[i] = RangeStats{
			Start: u32ToAddr(s.first), End: u32ToAddr(s.last()),
			Free: s.size - s.inUse, InUse: s.inUse,
		}
	}
	return st
}
