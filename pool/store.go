package pool

import (
	"context"
	"errors"
	"net/netip"
)

// ErrStoreUnavailable matches the errors of a shared store that could not
// answer in time (unreachable, timed out, out of connections): the session
// is refused for want of a resource of this node, not because the pool is
// full.
var ErrStoreUnavailable = errors.New("pool: store unavailable")

// Range is one `ip local pool` range of a named pool, as a store learns it.
type Range struct {
	Pool       string
	Start, End netip.Addr
}

// Store keeps the leases of a Group's pools somewhere other than this
// process's memory, so that several LNS instances can draw from one
// address space (a vpdn extension: `vpdn pool-store`). The Group keeps the
// ranges and checks addresses against them; the store decides which
// address is free.
//
// Allocate returns an *ExhaustedError when the pool has no free address
// and an error matching ErrStoreUnavailable when it cannot tell. Release
// of an address the store does not hold for this instance is not an
// error. Every call is bounded by ctx and by the store's own per-request
// timeout.
type Store interface {
	// Sync makes the store hold every address of ranges (all the
	// configuration's ranges, for every pool).
	Sync(ctx context.Context, ranges []Range) error
	Allocate(ctx context.Context, pool string, lease LeaseInfo) (netip.Addr, error)
	// Reserve takes a given address (a user's static address inside a
	// pool); ErrInUse when someone holds it.
	Reserve(ctx context.Context, pool string, a netip.Addr, lease LeaseInfo) error
	Release(ctx context.Context, pool string, a netip.Addr) error
	// Usage counts the addresses of start..end held by this instance
	// (mine) and by others.
	Usage(ctx context.Context, pool string, start, end netip.Addr) (mine, others uint32, err error)
	// Describe names the store for show commands ("postgres, owner LNS1").
	Describe() string
}

// LeaseInfo is what a store records with a lease besides its owner.
type LeaseInfo struct {
	User    string
	Session string
}
