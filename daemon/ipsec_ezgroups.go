package daemon

// Easy VPN client groups held by RADIUS: `isakmp authorization list L`
// naming `aaa authorization network L group radius [local]`. IOS asks the
// server for the group (User-Name the group's name, password "cisco") and
// reads its key and mode-config from the Access-Accept's Cisco-AVPairs
// (aaa/radius.ParseIPsecGroup).
//
// The key is needed when the aggressive-mode first message arrives, in
// proto/ike's Key callback under the IKE node's lock, which must not wait
// for a server. So answers are kept in a bounded cache: the first message
// from a group not in it starts a lookup in the background and is dropped
// (counted); the client's retransmission (10 s later for a Cisco client,
// 2-10 s for others) finds the answer. What a peer can make us hold is
// bounded: at most ezGroupMaxEntries answers, ezGroupMaxInflight lookups
// at once, lookups started at ezGroupRate a second (burst ezGroupBurst);
// a Reject is remembered ezGroupRejectTTL, no answer ezGroupFailTTL (the
// method list then moves on to its next method, as IOS does), a group
// ezGroupFoundTTL.

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa/radius"
	"github.com/vpdn/vpdn/config"
)

const (
	ezGroupMaxEntries  = 256
	ezGroupMaxInflight = 8
	ezGroupRate        = 5 // lookups started per second, sustained
	ezGroupBurst       = 10
	ezGroupFoundTTL    = 10 * time.Minute
	ezGroupRejectTTL   = 30 * time.Second
	// ezGroupFailTTL outlasts a client's retransmissions: a lookup that
	// found no server took the RADIUS client's retries (20 s by
	// default), and the next method must answer the client's next try.
	ezGroupFailTTL = time.Minute
	ezGroupTimeout = 30 * time.Second
)

type ezGroupState uint8

const (
	ezGroupMiss ezGroupState = iota
	ezGroupPending
	ezGroupFound
	ezGroupRejected
	ezGroupFailed
)

// ezGroupKey names a cached answer: the server group asked and the
// client group's name.
type ezGroupKey struct{ server, name string }

type ezGroupEntry struct {
	state   ezGroupState
	g       *config.ClientGroup // ezGroupFound
	expires time.Time           // zero while pending
	added   time.Time
	ready   chan struct{} // closed when a pending lookup ends
}

// ezGroupStats count the cache's work.
type ezGroupStats struct {
	Lookups   uint64 // Access-Requests started
	Found     uint64 // Accepts
	Rejected  uint64 // Rejects: no such group
	Failed    uint64 // no answer (or a malformed one)
	Waiting   uint64 // IKE messages dropped while a lookup was under way
	Throttled uint64 // lookups not started: rate, in-flight or entry bound
	BadPairs  uint64 // Cisco-AVPairs ignored: unknown or malformed
}

// ezGroupCache is a crypto-map service's cache of RADIUS group answers.
type ezGroupCache struct {
	mu       sync.Mutex
	entries  map[ezGroupKey]*ezGroupEntry
	inflight int
	tokens   float64
	refill   time.Time
	stats    ezGroupStats
}

func newEzGroupCache() *ezGroupCache {
	return &ezGroupCache{entries: map[ezGroupKey]*ezGroupEntry{}, tokens: ezGroupBurst}
}

// get returns the state of k at now, forgetting an expired answer.
func (c *ezGroupCache) get(k ezGroupKey, now time.Time) (ezGroupState, *config.ClientGroup) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		return ezGroupMiss, nil
	}
	if e.state != ezGroupPending && !now.Before(e.expires) {
		delete(c.entries, k)
		return ezGroupMiss, nil
	}
	return e.state, e.g
}

// reserve makes a pending entry for k when the bounds allow a lookup.
func (c *ezGroupCache) reserve(k ezGroupKey, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil && (e.state == ezGroupPending || now.Before(e.expires)) {
		return false
	}
	c.tokens = min(ezGroupBurst, c.tokens+now.Sub(c.refill).Seconds()*ezGroupRate)
	c.refill = now
	if c.inflight >= ezGroupMaxInflight || c.tokens < 1 || !c.room(now) {
		c.stats.Throttled++
		return false
	}
	c.tokens--
	c.inflight++
	c.stats.Lookups++
	c.entries[k] = &ezGroupEntry{state: ezGroupPending, added: now, ready: make(chan struct{})}
	return true
}

// room (c.mu held) makes room for one more entry: expired answers go
// first, then the oldest answer; pending lookups stay.
func (c *ezGroupCache) room(now time.Time) bool {
	if len(c.entries) < ezGroupMaxEntries {
		return true
	}
	var oldest ezGroupKey
	var at time.Time
	for k, e := range c.entries {
		if e.state == ezGroupPending {
			continue
		}
		if !now.Before(e.expires) {
			delete(c.entries, k)
			return true
		}
		if at.IsZero() || e.added.Before(at) {
			oldest, at = k, e.added
		}
	}
	if at.IsZero() {
		return false
	}
	delete(c.entries, oldest)
	return true
}

// done records the answer of a lookup reserve allowed.
func (c *ezGroupCache) done(k ezGroupKey, state ezGroupState, g *config.ClientGroup, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight--
	if e := c.entries[k]; e != nil && e.ready != nil {
		close(e.ready)
	}
	ttl := ezGroupFoundTTL
	switch state {
	case ezGroupFound:
		c.stats.Found++
	case ezGroupRejected:
		c.stats.Rejected++
		ttl = ezGroupRejectTTL
	default:
		c.stats.Failed++
		ttl = ezGroupFailTTL
	}
	c.entries[k] = &ezGroupEntry{state: state, g: g, expires: now.Add(ttl), added: now}
}

// ready returns the channel closed when the lookup of k ends (nil when
// none is under way).
func (c *ezGroupCache) ready(k ezGroupKey) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil && e.state == ezGroupPending {
		return e.ready
	}
	return nil
}

func (c *ezGroupCache) count(f func(*ezGroupStats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// snapshot returns the counters and the number of entries.
func (c *ezGroupCache) snapshot() (ezGroupStats, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats, len(c.entries)
}

// authorMethods returns the methods of the authorization list that
// governs a client of isakmp profile profile, when one of them is a
// server group (else nil: the local groups, as without a list).
func (ez *ezServer) authorMethods(c *config.Config, profile string) []string {
	list := ez.mc.AuthorList
	if pr := c.Crypto.ISAKMPProfileByName(profile); ezProfile(pr) {
		list = pr.AuthorList
	}
	if list == "" {
		return nil
	}
	for _, l := range c.AAA.Authorization {
		if l.Name != list {
			continue
		}
		for _, m := range l.Methods {
			if strings.HasPrefix(m, "group ") {
				return l.Methods
			}
		}
	}
	return nil
}

// lookupGroup walks the authorization list methods for the client group
// name, as IOS's method lists go: local decides with the configured
// groups; a server group decides with its answer, or, when it gave none,
// passes to the next method. pending is true when a server's answer is
// not in yet (a lookup is under way, or was just started): the caller
// drops the client's message and its retransmission finds the answer.
func (ez *ezServer) lookupGroup(c *config.Config, methods []string, peer netip.Addr, name string) (g *config.ClientGroup, pending bool) {
	now := ez.s.d.opts.Clock.Now()
	for _, m := range methods {
		switch {
		case m == "local" || m == "local-case":
			return c.Crypto.ClientGroupByName(name), false
		case strings.HasPrefix(m, "group "):
			k := ezGroupKey{server: strings.TrimPrefix(m, "group "), name: name}
			switch st, g := ez.groups.get(k, now); st {
			case ezGroupFound:
				return g, false
			case ezGroupRejected:
				return nil, false
			case ezGroupFailed:
				continue
			case ezGroupMiss:
				if name == "" {
					return nil, false
				}
				if ez.groups.reserve(k, now) {
					ez.startLookup(k, peer)
				}
			}
			return nil, true
		}
	}
	return nil, false
}

// awaitGroup waits, bounded by ctx, until the group of a client that
// passed XAuth is known (or known to be absent), starting its lookup if
// needed: a main-mode client's group is not looked up before, and its
// mode-config, which runs under the IKE node's lock, must find the
// answer. It runs off the lock, in XAuth's AAA goroutine.
func (ez *ezServer) awaitGroup(ctx context.Context, profile, id string, peer netip.Addr) {
	c := ez.s.d.Config()
	methods := ez.authorMethods(c, profile)
	if methods == nil {
		return
	}
	name := id
	if _, _, pn := ez.settings(c, profile); pn != "" {
		name = pn
	}
	for range 3 {
		if _, pending := ez.lookupGroup(c, methods, peer, name); !pending {
			return
		}
		var wait <-chan struct{}
		for _, m := range methods {
			if srv, ok := strings.CutPrefix(m, "group "); ok {
				if ch := ez.groups.ready(ezGroupKey{server: srv, name: name}); ch != nil {
					wait = ch
					break
				}
			}
		}
		if wait == nil {
			return // throttled: mode-config refuses the client
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return
		}
	}
}

// startLookup asks the server group k.server for group k.name off the IKE
// node's lock, and records the answer.
func (ez *ezServer) startLookup(k ezGroupKey, peer netip.Addr) {
	s, d := ez.s, ez.s.d
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(ez.ctx, ezGroupTimeout)
		defer cancel()
		d.radiusMu.Lock()
		cl := d.radius
		d.radiusMu.Unlock()
		state, g := ezGroupFailed, (*config.ClientGroup)(nil)
		if cl == nil {
			s.log.Debug(fmt.Sprintf("ISAKMP: group %q: no RADIUS client for server group %s", k.name, k.server))
		} else if ans, err := cl.Group(k.server).IPsecGroup(ctx, k.name, peer); err != nil {
			s.log.Debug(fmt.Sprintf("ISAKMP: group %q: server group %s gave no answer: %v", k.name, k.server, err))
		} else if !ans.Found {
			state = ezGroupRejected
			s.log.Debug(fmt.Sprintf("ISAKMP: group %q: rejected by RADIUS server %s", k.name, ans.Server))
		} else {
			state, g = ezGroupFound, clientGroupOf(k.name, ans.Group)
			for _, p := range ans.Problems {
				s.log.Debug(fmt.Sprintf("ISAKMP: group %q from RADIUS server %s: %s Cisco-AVPair %q ignored", k.name, ans.Server, p.Reason, p.Pair))
			}
			ez.groups.count(func(st *ezGroupStats) { st.BadPairs += uint64(len(ans.Problems)) })
			s.log.Debug(fmt.Sprintf("ISAKMP: group %q from RADIUS server %s: pool %q, split-include %q", k.name, ans.Server, g.Pool, g.ACL))
		}
		ez.groups.done(k, state, g, d.opts.Clock.Now())
	})
}

// clientGroupOf is a RADIUS group as the local groups are held, so that
// pools, mode-config and max-users treat both alike.
func clientGroupOf(name string, g radius.IPsecGroup) *config.ClientGroup {
	cg := &config.ClientGroup{Name: name, Pool: g.Pool, DNS: g.DNS, WINS: g.WINS, Domain: g.Domain, ACL: g.SplitACL,
		SavePassword: g.SavePassword, Banner: g.Banner, MaxUsers: g.MaxUsers}
	if g.Key != "" {
		cg.Key = config.Secret{Value: g.Key}
	}
	return cg
}
