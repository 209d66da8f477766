package l2tp

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/vpdn/vpdn/wire/l2tp"
)

// nodeBase is what L2TPv2's Node and L2TPv3's V3Node share: the table of
// their control connections and its indexes under the node's lock, the
// half-open accounting, the connections' goroutines, the call serial
// numbers and the shutdown. ID is the width of the connection IDs, C the
// connection (*Tunnel, *V3Conn), R the key under which Dials share one.
// What stays each node's: demultiplexing (the headers differ), the
// SCCRQ admission and tie break (v2 drops the losing SCCRQ, v3 refuses
// it with StopCCN and breaks ties both ways), its counters and sessions.
type nodeBase[ID uint16 | uint32, C nodeConn[ID, R], R comparable] struct {
	mu      sync.Mutex
	conns   map[ID]C           // by local ID
	bySCCRQ map[sccrqKey[ID]]C // connections peers opened, by peer and the peer's Assigned ID
	byReuse map[R]C            // connections a Dial may share
	// halfOpen are the connections peers opened, not established yet,
	// oldest first.
	halfOpen []C
	// peerConns counts the connections each source address opened
	// (Limits.MaxTunnelsPerPeer); half the half-open sessions per
	// source address and on the node.
	peerConns map[netip.Addr]int
	half      halfOpenBook
	serial    uint32
	closed    bool
	wg        sync.WaitGroup
}

// sccrqKey names a connection a peer opened: its address and its
// Assigned Tunnel (v2) or Control Connection (v3) ID.
type sccrqKey[ID uint16 | uint32] struct {
	peer netip.AddrPort
	id   ID
}

// nodeConn is a control connection as its node's table sees it.
type nodeConn[ID uint16 | uint32, R comparable] interface {
	comparable
	halfOpenConn
	conn() *ccn[ID, R]
	run()
	kill()
	Close(l2tp.Result)
	// evictHalfOpen closes the connection's oldest half-open session.
	evictHalfOpen()
}

func (t *Tunnel) conn() *ccn[uint16, reuseKey] { return &t.ccn }
func (c *V3Conn) conn() *ccn[uint32, string]   { return &c.ccn }

func newNodeBase[ID uint16 | uint32, C nodeConn[ID, R], R comparable]() nodeBase[ID, C, R] {
	return nodeBase[ID, C, R]{conns: map[ID]C{}, bySCCRQ: map[sccrqKey[ID]]C{}, byReuse: map[R]C{},
		peerConns: map[netip.Addr]int{}, half: halfOpenBook{peer: map[netip.Addr]int{}}}
}

// newIDLocked returns a random, non-zero local ID no connection has.
func (b *nodeBase[ID, C, R]) newIDLocked(rng *rand.Rand) ID {
	var id ID
	for {
		if _, used := b.conns[id]; id != 0 && !used {
			return id
		}
		id = ID(rng.Uint32())
	}
}

// addLocked enters a new connection in the table and starts its
// goroutine.
func (b *nodeBase[ID, C, R]) addLocked(c C) {
	cc := c.conn()
	b.conns[cc.localID] = c
	if !cc.initiator {
		b.peerConns[cc.peer0.Addr()]++
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		c.run()
	}()
}

// reuseOrOpen returns the connection Dials with key share, or a new one
// from open (mu held) entered under key: ErrClosed once the node is
// closing, ErrLimit at max connections (noun names them in the error).
func (b *nodeBase[ID, C, R]) reuseOrOpen(key R, max int, noun string, open func() C) (C, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var zero C
	if b.closed {
		return zero, ErrClosed
	}
	c, ok := b.byReuse[key]
	if !ok {
		if len(b.conns) >= max {
			return zero, fmt.Errorf("%w: %d %s", ErrLimit, len(b.conns), noun)
		}
		c = open()
		c.conn().reuse = key
		b.byReuse[key] = c
	}
	return c, nil
}

// forgetLocked removes c from every index (its sessions are its own).
func (b *nodeBase[ID, C, R]) forgetLocked(c C) {
	cc := c.conn()
	if x, ok := b.conns[cc.localID]; ok && x == c {
		delete(b.conns, cc.localID)
		if !cc.initiator {
			a := cc.peer0.Addr()
			if b.peerConns[a]--; b.peerConns[a] <= 0 {
				delete(b.peerConns, a)
			}
		}
	}
	if x, ok := b.bySCCRQ[cc.sccrqKey]; ok && x == c {
		delete(b.bySCCRQ, cc.sccrqKey)
	}
	b.removeHalfOpenLocked(c)
	b.notReusableLocked(c)
}

// removeConn forgets a connection whose goroutine ends.
func (b *nodeBase[ID, C, R]) removeConn(c C) {
	b.mu.Lock()
	b.forgetLocked(c)
	b.mu.Unlock()
}

// established takes c off the half-open list. It stays in bySCCRQ until
// it is gone, so a late duplicate of the peer's SCCRQ is acknowledged by
// c instead of opening a ghost connection.
func (b *nodeBase[ID, C, R]) established(c C) {
	b.mu.Lock()
	b.removeHalfOpenLocked(c)
	b.mu.Unlock()
}

func (b *nodeBase[ID, C, R]) removeHalfOpenLocked(c C) {
	for i, h := range b.halfOpen {
		if h == c {
			b.halfOpen = append(b.halfOpen[:i], b.halfOpen[i+1:]...)
			return
		}
	}
}

// halfOpenOfLocked returns the oldest half-open connection address a
// opened, and how many it holds.
func (b *nodeBase[ID, C, R]) halfOpenOfLocked(a netip.Addr) (oldest C, n int) {
	for _, h := range b.halfOpen {
		if h.conn().peer0.Addr() == a {
			if n == 0 {
				oldest = h
			}
			n++
		}
	}
	return oldest, n
}

// inputTo queues a control message for the connection with local ID id;
// false if there is none.
func (b *nodeBase[ID, C, R]) inputTo(id ID, msg []byte, from netip.AddrPort) bool {
	b.mu.Lock()
	c, ok := b.conns[id]
	b.mu.Unlock()
	if ok {
		c.conn().input(msg, from)
	}
	return ok
}

// sccrqLocked takes mu for a new SCCRQ under key, and keeps it unless a
// connection holds key already (the SCCRQ is a retransmission: it goes
// to that connection) or the node is closing (it is dropped); then it
// releases mu and reports false.
func (b *nodeBase[ID, C, R]) sccrqLocked(key sccrqKey[ID], msg []byte, from netip.AddrPort) bool {
	b.mu.Lock()
	if c, ok := b.bySCCRQ[key]; ok {
		b.mu.Unlock()
		c.conn().input(msg, from)
		return false
	}
	if b.closed {
		b.mu.Unlock()
		return false
	}
	return true
}

// awaitingLocked yields our connections to address a whose SCCRQ is
// still unanswered: the ones a tie break (or a v3 StopCCN to ID 0)
// concerns.
func (b *nodeBase[ID, C, R]) awaitingLocked(a netip.Addr) iter.Seq[C] {
	return func(yield func(C) bool) {
		for _, c := range b.conns {
			if cc := c.conn(); cc.initiator && cc.awaitingReply.Load() && cc.peer0.Addr() == a && !yield(c) {
				return
			}
		}
	}
}

// admitLocked decides on a connection a peer at a asks for with its
// SCCRQ. refuse: the table, or a's share of it, is full of established
// connections (those are never evicted). Otherwise evict, when not the
// zero C, is the half-open connection that must make room: a's own
// oldest when a holds its share of half-open ones (one flooding address
// cannot push others out), else, at the node's bounds, the one atBound
// picks.
func (b *nodeBase[ID, C, R]) admitLocked(lim Limits, a netip.Addr, atBound func() C) (evict C, refuse bool) {
	oldestSame, same := b.halfOpenOfLocked(a)
	if (len(b.conns) >= lim.MaxTunnels && len(b.halfOpen) == 0) || b.peerConns[a]-same >= lim.MaxTunnelsPerPeer {
		return evict, true
	}
	switch {
	case same >= lim.MaxHalfOpenPerPeer:
		evict = oldestSame
	case len(b.halfOpen) >= lim.MaxHalfOpen || len(b.conns) >= lim.MaxTunnels:
		evict = atBound()
	}
	return evict, false
}

// enterLocked enters c, made for the peer's SCCRQ, under key as a
// half-open connection. lost, when not the zero C, is our connection
// whose SCCRQ lost the tie break to this one: Dials that waited on it
// retry and find c, one control connection between the two peers.
func (b *nodeBase[ID, C, R]) enterLocked(c C, key sccrqKey[ID], lost C) {
	b.bySCCRQ[key] = c
	cc := c.conn()
	cc.sccrqKey = key
	b.halfOpen = append(b.halfOpen, c)
	var none C
	if lost == none {
		return
	}
	r := lost.conn().reuse
	if _, taken := b.byReuse[r]; !taken {
		cc.reuse = r
		b.byReuse[r] = c
	}
}

// notReusable keeps Dials from picking c any more: it is closing.
func (b *nodeBase[ID, C, R]) notReusable(c C) {
	b.mu.Lock()
	b.notReusableLocked(c)
	b.mu.Unlock()
}

func (b *nodeBase[ID, C, R]) notReusableLocked(c C) {
	r := c.conn().reuse
	if x, ok := b.byReuse[r]; ok && x == c {
		delete(b.byReuse, r)
	}
}

// abandonLocked gives up our connection c, whose SCCRQ lost the tie
// break: Dials no longer find it (they retry, and find the winner).
func (b *nodeBase[ID, C, R]) abandonLocked(c C) {
	b.notReusableLocked(c)
	c.conn().abandon()
}

// admitHalfOpen counts a new half-open session of c and names the
// connection that must give up its oldest half-open session
// (halfOpenBook): the zero C, c itself, or another connection of the
// offending address.
func (b *nodeBase[ID, C, R]) admitHalfOpen(lim Limits, c C) C {
	b.mu.Lock()
	defer b.mu.Unlock()
	return admitHalfOpen(&b.half, lim, c, c.conn().peer0.Addr(), maps.Values(b.conns))
}

// makeRoom counts a new half-open session of c and makes room for it
// within the bounds (halfOpenBook): the connection admitHalfOpen names
// gives up its oldest half-open session, on its own goroutine when it is
// another. false: that one is too busy to make room now, and the caller
// refuses the new session rather than go beyond the bound.
func (b *nodeBase[ID, C, R]) makeRoom(lim Limits, c C) bool {
	var none C
	switch victim := b.admitHalfOpen(lim, c); victim {
	case none:
	case c:
		c.evictHalfOpen()
	default:
		return victim.conn().tryPost(victim.evictHalfOpen)
	}
	return true
}

// releaseHalfOpen uncounts a half-open session of c that came up or
// ended.
func (b *nodeBase[ID, C, R]) releaseHalfOpen(c C) {
	cc := c.conn()
	b.mu.Lock()
	b.half.release(cc.peer0.Addr())
	b.mu.Unlock()
	cc.nHalf.Add(-1)
}

func (b *nodeBase[ID, C, R]) nextSerial() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.serial++
	return b.serial
}

// list returns the live connections.
func (b *nodeBase[ID, C, R]) list() []C {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listLocked()
}

func (b *nodeBase[ID, C, R]) listLocked() []C {
	out := make([]C, 0, len(b.conns))
	for _, c := range b.conns {
		out = append(out, c)
	}
	return out
}

// closeConns closes the node: StopCCN (result 6) on every connection,
// then it waits for them to finish their §5.7 hold, or for ctx.
func (b *nodeBase[ID, C, R]) closeConns(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	cs := b.listLocked()
	b.mu.Unlock()
	return closeAll(ctx, &b.wg, cs)
}

// snapshotAll is the node's Snapshot: each connection's and its
// sessions', in one go for show commands.
func snapshotAll[C any, S any, X any](conns []C, snap func(C) (S, []X)) ([]S, []X) {
	var cs []S
	var xs []X
	for _, c := range conns {
		st, more := snap(c)
		cs = append(cs, st)
		xs = append(xs, more...)
	}
	return cs, xs
}
