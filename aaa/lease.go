package aaa

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vpdn/vpdn/pool"
)

// Lease is the peer address of one session, as AssignAddress chose it.
type Lease struct {
	Addr netip.Addr
	// Pool is the pool the address came from or was reserved in; nil for a
	// static address outside every pool.
	Pool *pool.Pool
	// Static is true for an address from the user's authorization.
	Static bool
	user   string
	group  *pool.Group
}

// ErrNoAddress is returned when neither the authorization nor the caller
// names a pool or an address.
var ErrNoAddress = errors.New("aaa: no address or pool for the peer")

// AssignAddress picks the peer address of an authorized session: the
// static address of the authorization (reserved in its pool when it falls
// inside one), else an address from the authorization's pool, else from
// defaultPool (the interface's `peer default ip address pool`). A user gets
// the same pool address back when it is still free. Exhaustion is returned
// as the pool's error, errors.Is(err, pool.ErrExhausted); a shared store
// that cannot answer as errors.Is(err, pool.ErrStoreUnavailable).
func AssignAddress(g *pool.Group, a *Authorization, defaultPool string) (*Lease, error) {
	return AssignAddressFor(g, a, defaultPool, "")
}

// AssignAddressFor is AssignAddress for the session named session (its
// accounting session id), which a shared pool store records with the
// lease.
func AssignAddressFor(g *pool.Group, a *Authorization, defaultPool, session string) (*Lease, error) {
	user := a.Username
	if a.Domain != "" {
		user += "@" + a.Domain
	}
	if a.Address.IsValid() {
		l := &Lease{Addr: a.Address, Static: true, user: user, group: g}
		if g != nil {
			if p := g.Find(a.Address); p != nil {
				if err := g.Reserve(p, a.Address, pool.LeaseInfo{User: user, Session: session}); err != nil {
					return nil, fmt.Errorf("aaa: static address of %s: %w", user, err)
				}
				l.Pool = p
			}
		}
		return l, nil
	}
	name := a.Pool
	if name == "" {
		name = defaultPool
	}
	if name == "" {
		return nil, fmt.Errorf("%w: user %s", ErrNoAddress, user)
	}
	if g == nil {
		return nil, fmt.Errorf("aaa: user %s: %w: %q", user, pool.ErrNoPool, name)
	}
	p := g.Pool(name)
	if p == nil {
		return nil, fmt.Errorf("aaa: user %s: %w: %q", user, pool.ErrNoPool, name)
	}
	addr, err := g.AllocateFor(name, pool.LeaseInfo{User: user, Session: session})
	if err != nil {
		return nil, fmt.Errorf("aaa: user %s: %w", user, err)
	}
	return &Lease{Addr: addr, Pool: p, user: user, group: g}, nil
}

// Release gives the address back to its pool, remembering it as the
// user's. Releasing a static address outside every pool does nothing.
func (l *Lease) Release() error {
	if l.Pool == nil {
		return nil
	}
	user := l.user
	if l.Static {
		user = "" // a reserved static address is nobody's to come back to
	}
	if l.group != nil {
		return l.group.Release(l.Pool.Name(), l.Addr, user)
	}
	return l.Pool.Release(l.Addr, user)
}
