package pool

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"sync"
)

// PrefixPool is an `ipv6 local pool`: the prefixes of one length, at most
// 64 bits, carved out of a shorter prefix, one per PPP session (advertised
// to it for stateless autoconfiguration). It keeps only the prefixes in
// use: its memory grows with the sessions, not with the pool's size. The
// next prefix handed out is the one after the last (round robin), so a
// prefix a session gave back is not at once another subscriber's.
type PrefixPool struct {
	name   string
	base   netip.Prefix
	assign int
	size   uint64 // prefixes in the pool

	mu        sync.Mutex
	used      map[uint64]struct{}
	next      uint64
	exhausted uint64
}

// NewPrefixPool returns the pool of the /assign prefixes in base; base is
// at most 32 bits shorter than assign (2^32 prefixes), assign at most 64.
func NewPrefixPool(name string, base netip.Prefix, assign int) (*PrefixPool, error) {
	if !base.Addr().Is6() || base.Masked() != base || assign > 64 || base.Bits() > assign || assign-base.Bits() > 32 {
		return nil, fmt.Errorf("%w: ipv6 local pool %s %s %d", ErrBadRange, name, base, assign)
	}
	return &PrefixPool{name: name, base: base, assign: assign, size: 1 << (assign - base.Bits()), used: map[uint64]struct{}{}}, nil
}

// Name returns the pool's name; Prefix its prefix and assigned length.
func (p *PrefixPool) Name() string { return p.name }
func (p *PrefixPool) Prefix() (netip.Prefix, int) {
	return p.base, p.assign
}

func (p *PrefixPool) prefix(i uint64) netip.Prefix {
	a := p.base.Addr().As16()
	hi := binary.BigEndian.Uint64(a[:8]) + i<<(64-p.assign)
	binary.BigEndian.PutUint64(a[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(a), p.assign)
}

func (p *PrefixPool) index(pf netip.Prefix) (uint64, bool) {
	if pf.Bits() != p.assign || !p.base.Contains(pf.Addr()) || pf.Masked() != pf {
		return 0, false
	}
	a, b := pf.Addr().As16(), p.base.Addr().As16()
	return (binary.BigEndian.Uint64(a[:8]) - binary.BigEndian.Uint64(b[:8])) >> (64 - p.assign), true
}

// Allocate takes a free prefix; an *ExhaustedError when none is left.
func (p *PrefixPool) Allocate() (netip.Prefix, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if uint64(len(p.used)) >= p.size {
		p.exhausted++
		return netip.Prefix{}, &ExhaustedError{Pool: p.name}
	}
	for {
		i := p.next
		p.next = (p.next + 1) % p.size
		if _, ok := p.used[i]; !ok {
			p.used[i] = struct{}{}
			return p.prefix(i), nil
		}
	}
}

// Reserve marks pf in use (a live session's across a reload).
func (p *PrefixPool) Reserve(pf netip.Prefix) error { return p.mark(pf, true) }

// Release gives pf back.
func (p *PrefixPool) Release(pf netip.Prefix) error { return p.mark(pf, false) }

// mark sets pf in use or free; it refuses a prefix outside the pool, and
// one already so.
func (p *PrefixPool) mark(pf netip.Prefix, use bool) error {
	i, ok := p.index(pf)
	if !ok {
		return ErrNotInPool
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch _, used := p.used[i]; {
	case use && used:
		return ErrInUse
	case !use && !used:
		return ErrNotAllocated
	case use:
		p.used[i] = struct{}{}
	default:
		delete(p.used, i)
	}
	return nil
}

// PrefixStats is what show ipv6 local pool prints of a pool.
type PrefixStats struct {
	Name            string       `json:"name"`
	Prefix          netip.Prefix `json:"prefix"`
	Assign          int          `json:"assign_len"`
	Size            uint64       `json:"size"`
	InUse           uint64       `json:"in_use"`
	ExhaustedEvents uint64       `json:"exhausted"`
}

// WritePrefixShow renders show ipv6 local pool as IOS lays it out: the
// pool, its prefix and its free and used prefixes.
func WritePrefixShow(w io.Writer, stats []PrefixStats) error {
	if _, err := fmt.Fprintf(w, "%-21s %-40s %10s %7s\n", "Pool", "Prefix", "Free", "In use"); err != nil {
		return err
	}
	for _, st := range stats {
		if _, err := fmt.Fprintf(w, "%-21s %-40s %10d %7d\n", st.Name, st.Prefix, st.Size-st.InUse, st.InUse); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the pool's counts.
func (p *PrefixPool) Stats() PrefixStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PrefixStats{Name: p.name, Prefix: p.base, Assign: p.assign, Size: p.size, InUse: uint64(len(p.used)), ExhaustedEvents: p.exhausted}
}
