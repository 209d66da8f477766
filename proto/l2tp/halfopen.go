package l2tp

import (
	"iter"
	"net/netip"
	"sync/atomic"
)

// halfOpenBook counts a node's half-open sessions per peer address and in
// all, for the bounds of Limits; the node's mu guards it. L2TPv2's Node
// and L2TPv3's V3Node each keep one.
type halfOpenBook struct {
	peer map[netip.Addr]int
	n    int
}

// halfOpenConn is a control connection as the book sees it (an L2TPv2
// Tunnel or an L2TPv3 V3Conn): its peer's address and its own count of
// half-open sessions.
type halfOpenConn interface {
	comparable
	halfOpen() (peer netip.Addr, n *atomic.Int32)
}

// Both get halfOpen from their ccn.

// admitHalfOpen counts a new half-open session of c, from address a, and
// names the connection that must give up its oldest half-open session to
// keep the bounds: the zero C when none, c itself, or another connection
// of the offending address. At the node-wide bound the offender is the
// address holding the most half-open sessions: a flooding peer loses its
// own entries first, and nobody loses an established session. The
// node's mu is held; conns are the node's connections.
func admitHalfOpen[C halfOpenConn](b *halfOpenBook, l Limits, c C, a netip.Addr, conns iter.Seq[C]) (victim C) {
	_, own := c.halfOpen()
	switch {
	case int(own.Load()) >= l.MaxHalfOpenSessionsPerTunnel:
		victim = c
	case b.peer[a] >= l.MaxHalfOpenSessionsPerPeer:
		victim = heaviest(a, c, conns)
	case b.n >= l.MaxHalfOpenSessions:
		heavy, most := a, b.peer[a]
		for p, k := range b.peer {
			if k > most {
				heavy, most = p, k
			}
		}
		victim = heaviest(heavy, c, conns)
	}
	b.peer[a]++
	b.n++
	own.Add(1)
	return victim
}

// heaviest returns pref if it is a connection of a with half-open
// sessions, else a's connection holding the most of them.
func heaviest[C halfOpenConn](a netip.Addr, pref C, conns iter.Seq[C]) (best C) {
	if pa, n := pref.halfOpen(); pa == a && n.Load() > 0 {
		return pref
	}
	var most int32
	for x := range conns {
		if xa, n := x.halfOpen(); xa == a && n.Load() > most {
			best, most = x, n.Load()
		}
	}
	return best
}

// release uncounts a half-open session from a that came up or ended
// (the connection's own count is the caller's, outside the node's mu).
func (b *halfOpenBook) release(a netip.Addr) {
	if b.peer[a]--; b.peer[a] <= 0 {
		delete(b.peer, a)
	}
	b.n--
}
