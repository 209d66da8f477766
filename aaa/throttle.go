package aaa

import (
	"container/list"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/internal/escape"
)

// ThrottleConfig configures a Throttle; zero fields take the defaults
// named beside them.
type ThrottleConfig struct {
	// Now is the clock (nil: time.Now). Tests give a fake one.
	Now func() time.Time
	// Delay is the hold of a first failure; each consecutive failure
	// doubles it, up to MaxDelay (500 ms, 4 s).
	Delay, MaxDelay time.Duration
	// BlockAfter consecutive failures from one peer address, or of one
	// user from one peer address, block it for BlockFor: its attempts are
	// refused without a look at the password (10, 5 min). After a block
	// the count stands, so the next failure blocks again at once.
	BlockAfter int
	BlockFor   time.Duration
	// Forget drops the count of a key without a failure for this long
	// (15 min).
	Forget time.Duration
	// MaxKeys bounds each of the three tables — users, peers, user at
	// peer — on its own, so that a flood of names cannot evict the peers
	// (4096 each; the least recently failed key goes first).
	MaxKeys int
	// Logger gets one INFO line per failure, rate-limited to LogBurst
	// lines at once and one more per LogEvery (20, 1 s); what the limit
	// drops is counted and reported in one line when a line is allowed
	// again, or on Flush. Nil: no log.
	Logger   *slog.Logger
	LogBurst int
	LogEvery time.Duration
}

// ThrottleStats are the throttle's counters, for metrics.
type ThrottleStats struct {
	// Failures counts rejected attempts, throttled ones included.
	Failures uint64 `json:"failures"`
	// Throttled counts attempts refused by a block, unchecked.
	Throttled uint64 `json:"throttled"`
	// Blocks counts the blocks imposed (a peer or a user at a peer).
	Blocks uint64 `json:"blocks"`
	// Logged and Suppressed count failure log lines written and dropped
	// by the rate limit.
	Logged     uint64 `json:"logged"`
	Suppressed uint64 `json:"suppressed"`
	// Users, Peers and Pairs are the keys held now.
	Users int `json:"users"`
	Peers int `json:"peers"`
	Pairs int `json:"pairs"`
}

// Throttle slows password guessing. Each rejection is counted against the
// user name, the peer address and the pair; the peer is told of it only
// after a hold that grows with the consecutive failures of any of the
// three (Result.Hold; the authenticator waits on its own timer), and a
// peer address, or a user at a peer address, with BlockAfter failures in a
// row is blocked for a while. A user name alone is never blocked, and
// nothing delays or refuses an accepted password from another address:
// guessing at a name from one address cannot lock its owner out (that is
// the opt-in local lockout's choice, `aaa local authentication attempts
// max-fail`). A success resets the pair, the peer and the user.
//
// State is bounded (MaxKeys per table). It is safe for concurrent use and
// outlives configuration reloads.
type Throttle struct {
	cfg ThrottleConfig
	log *slog.Logger

	mu     sync.Mutex
	users  *lru // guarded by mu
	peers  *lru // guarded by mu
	pairs  *lru // guarded by mu
	bucket bucket
	stats  ThrottleStats // guarded by mu
}

// NewThrottle returns a Throttle.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Delay, 500*time.Millisecond)
	def(&cfg.MaxDelay, 4*time.Second)
	def(&cfg.BlockFor, 5*time.Minute)
	def(&cfg.Forget, 15*time.Minute)
	def(&cfg.LogEvery, time.Second)
	if cfg.MaxDelay < cfg.Delay {
		cfg.MaxDelay = cfg.Delay
	}
	if cfg.BlockAfter <= 0 {
		cfg.BlockAfter = 10
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 4096
	}
	if cfg.LogBurst <= 0 {
		cfg.LogBurst = 20
	}
	t := &Throttle{cfg: cfg, log: cfg.Logger,
		users: newLRU(cfg.MaxKeys), peers: newLRU(cfg.MaxKeys), pairs: newLRU(cfg.MaxKeys)}
	t.bucket = bucket{tokens: float64(cfg.LogBurst), burst: float64(cfg.LogBurst), every: cfg.LogEvery}
	return t
}

// ReasonThrottled is the rejection of an attempt refused by a block.
const ReasonThrottled = "throttled: too many failures"

// tkey is a throttle table's key: a user, a peer, or both.
type tkey struct {
	user string
	peer netip.Addr
}

// tentry is what a key has done.
type tentry struct {
	key     tkey
	fails   int       // consecutive failures
	last    time.Time // of the last failure
	blocked time.Time // refused until then
}

// lru is a table bounded to max keys, least recently failed first out.
type lru struct {
	max   int
	order *list.List // *tentry, most recent first
	m     map[tkey]*list.Element
}

func newLRU(max int) *lru { return &lru{max: max, order: list.New(), m: make(map[tkey]*list.Element)} }

func (l *lru) get(k tkey) *tentry {
	if e, ok := l.m[k]; ok {
		return e.Value.(*tentry)
	}
	return nil
}

// touch returns k's entry, made if new (evicting the oldest when full),
// and makes it the most recent.
func (l *lru) touch(k tkey) *tentry {
	if e, ok := l.m[k]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*tentry)
	}
	if l.order.Len() >= l.max {
		old := l.order.Back()
		delete(l.m, old.Value.(*tentry).key)
		l.order.Remove(old)
	}
	te := &tentry{key: k}
	l.m[k] = l.order.PushFront(te)
	return te
}

func (l *lru) remove(k tkey) {
	if e, ok := l.m[k]; ok {
		l.order.Remove(e)
		delete(l.m, k)
	}
}

// keys returns the throttle's keys of a request; a request without a peer
// address has neither a peer nor a pair key.
func throttleKeys(req *Request) (user, peer, pair tkey, hasPeer bool) {
	name := strings.ToLower(req.Username)
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	a := req.PeerAddr.Unmap()
	return tkey{user: name}, tkey{peer: a}, tkey{user: name, peer: a}, a.IsValid()
}

// Check is asked before the credentials are: whether the request comes
// from a blocked peer, or for a user blocked at that peer. A blocked
// request counts as a failure (logged as such) and should be refused,
// unchecked, after hold.
func (t *Throttle) Check(req *Request) (hold time.Duration, blocked bool) {
	_, peer, pair, hasPeer := throttleKeys(req)
	if !hasPeer {
		return 0, false
	}
	now := t.cfg.Now()
	t.mu.Lock()
	for _, k := range []struct {
		l *lru
		k tkey
	}{{t.peers, peer}, {t.pairs, pair}} {
		if e := k.l.get(k.k); e != nil && now.Before(e.blocked) {
			blocked = true
			break
		}
	}
	var line *failLine
	if blocked {
		t.stats.Failures++
		t.stats.Throttled++
		hold = t.cfg.MaxDelay
		line = t.lineLocked(now, req, ReasonThrottled, hold)
	}
	t.mu.Unlock()
	line.write(t.log)
	return hold, blocked
}

// Failed counts a rejection and returns how long to hold its answer.
func (t *Throttle) Failed(req *Request, reason string) (hold time.Duration) {
	user, peer, pair, hasPeer := throttleKeys(req)
	now := t.cfg.Now()
	t.mu.Lock()
	t.stats.Failures++
	n := t.failLocked(t.users, user, now, false)
	if hasPeer {
		n = max(n, t.failLocked(t.peers, peer, now, true), t.failLocked(t.pairs, pair, now, true))
	}
	hold = t.cfg.Delay
	for i := 1; i < n && hold < t.cfg.MaxDelay; i++ {
		hold *= 2
	}
	hold = min(hold, t.cfg.MaxDelay)
	line := t.lineLocked(now, req, reason, hold)
	t.mu.Unlock()
	line.write(t.log)
	return hold
}

// failLocked counts a failure of key k and returns its consecutive count;
// block says whether the key may be blocked.
func (t *Throttle) failLocked(l *lru, k tkey, now time.Time, block bool) int {
	e := l.touch(k)
	if !e.last.IsZero() && now.Sub(e.last) >= t.cfg.Forget {
		e.fails = 0
	}
	e.fails++
	e.last = now
	if block && e.fails >= t.cfg.BlockAfter && !now.Before(e.blocked) {
		e.blocked = now.Add(t.cfg.BlockFor)
		t.stats.Blocks++
	}
	return e.fails
}

// Succeeded forgets the failures of the request's user, peer and pair.
func (t *Throttle) Succeeded(req *Request) {
	user, peer, pair, hasPeer := throttleKeys(req)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users.remove(user)
	if hasPeer {
		t.pairs.remove(pair)
		if e := t.peers.get(peer); e != nil && !t.cfg.Now().Before(e.blocked) {
			// A success from a peer that is not blocked (an LAC carries
			// many users) restarts its count; a block runs its course.
			t.peers.remove(peer)
		}
	}
}

// Clear forgets every count and block (`clear aaa throttle`).
func (t *Throttle) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users, t.peers, t.pairs = newLRU(t.cfg.MaxKeys), newLRU(t.cfg.MaxKeys), newLRU(t.cfg.MaxKeys)
}

// Stats returns the counters.
func (t *Throttle) Stats() ThrottleStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Users, s.Peers, s.Pairs = t.users.order.Len(), t.peers.order.Len(), t.pairs.order.Len()
	return s
}

// Flush writes the count of failure lines the rate limit dropped, if any
// and the limit allows a line: a caller's periodic tick, so that the count
// of a flood that stopped is not left untold.
func (t *Throttle) Flush() {
	now := t.cfg.Now()
	t.mu.Lock()
	var line *failLine
	if t.bucket.suppressed > 0 && t.bucket.take(now) {
		line = &failLine{suppressed: t.bucket.suppressed}
		t.bucket.suppressed = 0
	}
	t.mu.Unlock()
	line.write(t.log)
}

// failLine is a log line decided under the lock and written outside it.
type failLine struct {
	suppressed uint64 // dropped before this line
	req        *Request
	reason     string
	hold       time.Duration
}

// lineLocked decides whether a failure is logged.
func (t *Throttle) lineLocked(now time.Time, req *Request, reason string, hold time.Duration) *failLine {
	if t.log == nil {
		return nil
	}
	if !t.bucket.take(now) {
		t.bucket.suppressed++
		t.stats.Suppressed++
		return nil
	}
	t.stats.Logged++
	l := &failLine{suppressed: t.bucket.suppressed, req: req, reason: reason, hold: hold}
	t.bucket.suppressed = 0
	return l
}

func (l *failLine) write(log *slog.Logger) {
	if l == nil || log == nil {
		return
	}
	if l.suppressed > 0 {
		log.Info("aaa: more authentication failures not logged", "suppressed", l.suppressed)
	}
	if l.req == nil {
		return
	}
	r := l.req
	peer := ""
	if r.PeerAddr.IsValid() {
		peer = r.PeerAddr.Unmap().String()
	}
	// Every string a peer chose is escaped: a name cannot forge a line.
	log.Info("aaa: authentication failed", "user", escape.Text(r.Username), "peer", peer,
		"tunnel", r.TunnelID, "session", r.CallID, "nas_port", r.NASPort,
		"calling", escape.Text(r.CallingNumber), "method", r.Method.String(), "reason", l.reason, "hold", l.hold)
}

// bucket is a token bucket: burst lines at once, one more per every.
type bucket struct {
	tokens, burst float64
	every         time.Duration
	last          time.Time
	suppressed    uint64
}

func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(b.every))
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
