// Package pgstore keeps the leases of `ip local pool` pools in PostgreSQL,
// so that several vpdn LNS instances draw from one address space and never
// hand out the same address (a vpdn extension, configured with `vpdn
// pool-store postgres "DSN"` and `vpdn pool-store owner NAME`).
//
// Every address of every configured range is one row of the table
// vpdn_pool_leases, unique on (pool, address). A free address has no
// owner; an allocation takes the first free row in one UPDATE whose
// sub-select locks it FOR UPDATE SKIP LOCKED, so that concurrent
// allocators, in this process or another, never take the same row and
// never wait for each other. A lease carries its owner (the instance), the
// session and user, and an expiry that the owner's heartbeat pushes
// forward in bounded batches. On start an instance frees the leases that
// name it (it lost its sessions when it stopped), and every instance frees
// the expired leases of owners that stopped renewing them.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vpdn/vpdn/pool"
)

// Defaults of Options.
const (
	DefaultLeaseTime      = 120 * time.Second
	DefaultRequestTimeout = 2 * time.Second
	DefaultMaxConns       = 8
	DefaultBatch          = 5000
	// MaxStoreRange bounds one range in the store: a row per address.
	MaxStoreRange = 1 << 20
	// maxPending bounds the releases kept for retry while the database
	// cannot be reached.
	maxPending = 1 << 16
)

// Options configure a Store.
type Options struct {
	// DSN is a libpq connection string or URL ("host=/tmp/pg dbname=vpdn",
	// "postgres://vpdn:pw@198.18.0.9/vpdn").
	DSN string
	// Owner names this instance in the leases; it must differ between
	// instances sharing a database (the configuration's hostname by
	// default).
	Owner string
	// LeaseTime is how long a lease lives without renewal; the heartbeat
	// renews every LeaseTime/4 (Heartbeat overrides it).
	LeaseTime, Heartbeat time.Duration
	// RequestTimeout bounds each request, waiting for a connection
	// included (default 2 s); MaxConns bounds the connections (default 8).
	RequestTimeout time.Duration
	MaxConns       int32
	// Batch is the most rows one heartbeat statement touches (default
	// 5000).
	Batch  int
	Logger *slog.Logger
}

// Store is a pool.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	db   *pgxpool.Pool
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	pending []pendingRelease // guarded by mu: releases that failed, retried by the heartbeat

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type pendingRelease struct {
	pool string
	addr netip.Addr
}

// Schema is created when absent (README: "Several LNSes, one address
// space"). The partial indexes keep the free rows, the owners' rows and
// the expiries each in an index of their own.
const schema = `
CREATE TABLE IF NOT EXISTS vpdn_pool_leases (
	pool       text        NOT NULL,
	address    inet        NOT NULL,
	owner      text,
	session_id text,
	username   text,
	expires_at timestamptz,
	PRIMARY KEY (pool, address)
);
CREATE INDEX IF NOT EXISTS vpdn_pool_leases_free ON vpdn_pool_leases (pool, address) WHERE owner IS NULL;
CREATE INDEX IF NOT EXISTS vpdn_pool_leases_user ON vpdn_pool_leases (pool, username) WHERE owner IS NULL;
CREATE INDEX IF NOT EXISTS vpdn_pool_leases_owner ON vpdn_pool_leases (owner) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS vpdn_pool_leases_expiry ON vpdn_pool_leases (expires_at) WHERE owner IS NOT NULL;
`

// schemaLock is the advisory lock key under which instances starting
// together create the schema one at a time.
const schemaLock = 0x7670646e // "vpdn"

// Open connects, creates the schema if absent, frees the leases of
// opts.Owner and starts the heartbeat. Close stops it.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Owner == "" {
		return nil, errors.New("pgstore: no owner name")
	}
	if opts.LeaseTime <= 0 {
		opts.LeaseTime = DefaultLeaseTime
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.LeaseTime / 4
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// The parser's message may quote the DSN, password included.
		return nil, errors.New("pgstore: the DSN does not parse")
	}
	cfg.MaxConns = opts.MaxConns
	cfg.ConnConfig.ConnectTimeout = opts.RequestTimeout
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s := &Store{db: db, opts: opts, log: opts.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	go s.heartbeat()
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 4*s.opts.RequestTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: creating the schema: %w", err)
	}
	n, err := s.batched(ctx, `UPDATE vpdn_pool_leases SET owner = NULL, session_id = NULL, expires_at = NULL
		WHERE (pool, address) IN (SELECT pool, address FROM vpdn_pool_leases WHERE owner = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		s.opts.Owner)
	if err != nil {
		return fmt.Errorf("pgstore: releasing the leases of %s: %w", s.opts.Owner, err)
	}
	s.log.Info("pgstore: connected", "owner", s.opts.Owner, "released", n)
	return nil
}

// batched runs an UPDATE whose sub-select takes at most $2 rows ($1 is
// the owner) until it touches fewer than a batch, at most a bounded number
// of times, and returns the rows touched.
func (s *Store) batched(ctx context.Context, sql, owner string, args ...any) (int64, error) {
	var total int64
	for range MaxStoreRange/s.opts.Batch + 2 {
		tag, err := s.db.Exec(ctx, sql, append([]any{owner, s.opts.Batch}, args...)...)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(s.opts.Batch) {
			break
		}
	}
	return total, nil
}

// Close stops the heartbeat, frees this instance's leases (its sessions
// are gone) and closes the connections.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), 4*s.opts.RequestTimeout)
		defer cancel()
		_, err = s.batched(ctx, `UPDATE vpdn_pool_leases SET owner = NULL, session_id = NULL, expires_at = NULL
			WHERE (pool, address) IN (SELECT pool, address FROM vpdn_pool_leases WHERE owner = $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			s.opts.Owner)
		s.db.Close()
		if err != nil {
			err = fmt.Errorf("pgstore: releasing the leases of %s: %w", s.opts.Owner, err)
		}
	})
	return err
}

// Describe implements pool.Store.
func (s *Store) Describe() string { return "postgres, owner " + s.opts.Owner }

// Owner returns the name this instance's leases carry.
func (s *Store) Owner() string { return s.opts.Owner }

func (s *Store) unavailable(err error) error {
	return fmt.Errorf("pgstore: %w: %v", pool.ErrStoreUnavailable, err)
}

// Sync implements pool.Store: it inserts the rows of the ranges' addresses
// that are missing, and deletes the free rows of the ranges' pools that
// fall outside them (a range removed from the configuration). Instances
// sharing a database should configure the same ranges.
func (s *Store) Sync(ctx context.Context, ranges []pool.Range) error {
	ctx, cancel := context.WithTimeout(ctx, 30*s.opts.RequestTimeout)
	defer cancel()
	byPool := map[string][2][]string{}
	for _, r := range ranges {
		first, last := u32(r.Start), u32(r.End)
		if !r.Start.Is4() || !r.End.Is4() || first > last {
			return fmt.Errorf("pgstore: pool %s: bad range %v-%v", r.Pool, r.Start, r.End)
		}
		if last-first >= MaxStoreRange {
			return fmt.Errorf("pgstore: pool %s: range %v-%v holds more than %d addresses", r.Pool, r.Start, r.End, MaxStoreRange)
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO vpdn_pool_leases (pool, address)
			SELECT $1, $2::inet + g FROM generate_series(0::bigint, $3::bigint) AS g
			ON CONFLICT DO NOTHING`, r.Pool, r.Start.String(), int64(last-first)); err != nil {
			return fmt.Errorf("pgstore: pool %s: adding %v-%v: %w", r.Pool, r.Start, r.End, err)
		}
		b := byPool[r.Pool]
		b[0], b[1] = append(b[0], r.Start.String()), append(b[1], r.End.String())
		byPool[r.Pool] = b
	}
	for name, b := range byPool {
		tag, err := s.db.Exec(ctx, `DELETE FROM vpdn_pool_leases l WHERE pool = $1 AND owner IS NULL AND NOT EXISTS
			(SELECT 1 FROM unnest($2::inet[], $3::inet[]) AS r(s, e) WHERE l.address BETWEEN r.s AND r.e)`, name, b[0], b[1])
		if err != nil {
			return fmt.Errorf("pgstore: pool %s: removing addresses outside its ranges: %w", name, err)
		}
		if n := tag.RowsAffected(); n > 0 {
			s.log.Info("pgstore: free addresses outside the configured ranges removed", "pool", name, "count", n)
		}
	}
	// Fresh statistics, so that the planner takes the partial indexes
	// (a table just filled looks empty to it, and a sequential scan per
	// allocation costs milliseconds).
	if _, err := s.db.Exec(ctx, `ANALYZE vpdn_pool_leases`); err != nil {
		return fmt.Errorf("pgstore: analyze: %w", err)
	}
	return nil
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// allocateSQL takes the user's last address if it is free, else the
// lowest free address: each candidate is locked FOR UPDATE SKIP LOCKED, so
// that a row another allocator is taking is passed over instead of waited
// for, and the UPDATE checks again that the row is free.
const allocateSQL = `UPDATE vpdn_pool_leases SET owner = $2, session_id = $3, username = $4,
	expires_at = now() + make_interval(secs => $5)
WHERE pool = $1 AND owner IS NULL AND address = COALESCE(
	(SELECT address FROM vpdn_pool_leases WHERE $4 <> '' AND pool = $1 AND owner IS NULL AND username = $4
		LIMIT 1 FOR UPDATE SKIP LOCKED),
	(SELECT address FROM vpdn_pool_leases WHERE pool = $1 AND owner IS NULL
		ORDER BY address LIMIT 1 FOR UPDATE SKIP LOCKED))
RETURNING host(address)`

// Allocate implements pool.Store.
func (s *Store) Allocate(ctx context.Context, name string, info pool.LeaseInfo) (netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	// Every free row locked by other allocators at the same instant looks
	// like exhaustion: look again while free rows remain, a few times.
	for range 4 {
		var text string
		err := s.db.QueryRow(ctx, allocateSQL, name, s.opts.Owner, info.Session, info.User, s.opts.LeaseTime.Seconds()).Scan(&text)
		if err == nil {
			a, perr := netip.ParseAddr(text)
			if perr != nil {
				return netip.Addr{}, fmt.Errorf("pgstore: pool %s: address %q: %w", name, text, perr)
			}
			return a, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return netip.Addr{}, s.unavailable(err)
		}
		var free bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vpdn_pool_leases WHERE pool = $1 AND owner IS NULL)`, name).Scan(&free); err != nil {
			return netip.Addr{}, s.unavailable(err)
		}
		if !free {
			break
		}
	}
	return netip.Addr{}, &pool.ExhaustedError{Pool: name}
}

// Reserve implements pool.Store.
func (s *Store) Reserve(ctx context.Context, name string, a netip.Addr, info pool.LeaseInfo) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	tag, err := s.db.Exec(ctx, `UPDATE vpdn_pool_leases SET owner = $3, session_id = $4, username = $5,
		expires_at = now() + make_interval(secs => $6)
		WHERE pool = $1 AND address = $2::inet AND owner IS NULL`,
		name, a.String(), s.opts.Owner, info.Session, info.User, s.opts.LeaseTime.Seconds())
	if err != nil {
		return s.unavailable(err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vpdn_pool_leases WHERE pool = $1 AND address = $2::inet)`,
		name, a.String()).Scan(&exists); err != nil {
		return s.unavailable(err)
	}
	if !exists {
		return fmt.Errorf("%w: %v (pool %s, not in the store)", pool.ErrNotInPool, a, name)
	}
	return fmt.Errorf("%w: %v (pool %s)", pool.ErrInUse, a, name)
}

// Release implements pool.Store. A release the database does not take is
// kept and retried by the heartbeat, so that the lease does not stay
// renewed for a session that is gone.
func (s *Store) Release(ctx context.Context, name string, a netip.Addr) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	if err := s.release(ctx, name, a); err != nil {
		s.mu.Lock()
		if len(s.pending) < maxPending {
			s.pending = append(s.pending, pendingRelease{name, a})
		}
		s.mu.Unlock()
		return s.unavailable(err)
	}
	return nil
}

func (s *Store) release(ctx context.Context, name string, a netip.Addr) error {
	_, err := s.db.Exec(ctx, `UPDATE vpdn_pool_leases SET owner = NULL, session_id = NULL, expires_at = NULL
		WHERE pool = $1 AND address = $2::inet AND owner = $3`, name, a.String(), s.opts.Owner)
	return err
}

// Usage implements pool.Store.
func (s *Store) Usage(ctx context.Context, name string, start, end netip.Addr) (mine, others uint32, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	var m, o int64
	err = s.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE owner = $4), count(*) FILTER (WHERE owner <> $4)
		FROM vpdn_pool_leases WHERE pool = $1 AND address BETWEEN $2::inet AND $3::inet AND owner IS NOT NULL`,
		name, start.String(), end.String(), s.opts.Owner).Scan(&m, &o)
	if err != nil {
		return 0, 0, s.unavailable(err)
	}
	return uint32(m), uint32(o), nil
}

// Lease is one row of the store, for tests and tools.
type Lease struct {
	Pool, Owner, Session, User string
	Addr                       netip.Addr
	Expires                    time.Time
}

// Leases lists the leases held (by anyone) in the named pool, "" for all.
func (s *Store) Leases(ctx context.Context, name string) ([]Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*s.opts.RequestTimeout)
	defer cancel()
	rows, err := s.db.Query(ctx, `SELECT pool, host(address), owner, coalesce(session_id, ''), coalesce(username, ''), expires_at
		FROM vpdn_pool_leases WHERE owner IS NOT NULL AND ($1 = '' OR pool = $1) ORDER BY pool, address`, name)
	if err != nil {
		return nil, s.unavailable(err)
	}
	var out []Lease
	for rows.Next() {
		var l Lease
		var addr string
		if err := rows.Scan(&l.Pool, &addr, &l.Owner, &l.Session, &l.User, &l.Expires); err != nil {
			rows.Close()
			return nil, s.unavailable(err)
		}
		l.Addr, _ = netip.ParseAddr(addr)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unavailable(err)
	}
	return out, nil
}

// heartbeat renews this instance's leases, retries failed releases and
// frees the expired leases of other owners, once per Heartbeat.
func (s *Store) heartbeat() {
	defer close(s.done)
	t := time.NewTicker(s.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.Beat()
	}
}

// Beat runs one heartbeat now.
func (s *Store) Beat() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.opts.RequestTimeout)
	defer cancel()
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for i, p := range pending {
		if err := s.release(ctx, p.pool, p.addr); err != nil {
			s.mu.Lock()
			s.pending = append(s.pending, pending[i:]...)
			if len(s.pending) > maxPending {
				s.pending = s.pending[:maxPending]
			}
			s.mu.Unlock()
			break
		}
	}
	// Renew the leases not renewed during the last heartbeat interval.
	renewed, err := s.batched(ctx, `UPDATE vpdn_pool_leases SET expires_at = now() + make_interval(secs => $3)
		WHERE (pool, address) IN (SELECT pool, address FROM vpdn_pool_leases
			WHERE owner = $1 AND expires_at < now() + make_interval(secs => $4) LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		s.opts.Owner, s.opts.LeaseTime.Seconds(), (s.opts.LeaseTime - min(s.opts.Heartbeat, s.opts.LeaseTime/2)/2).Seconds())
	if err != nil {
		s.log.Warn("pgstore: renewing leases failed", "owner", s.opts.Owner, "err", err)
		return
	}
	freed, err := s.batched(ctx, `UPDATE vpdn_pool_leases SET owner = NULL, session_id = NULL, expires_at = NULL
		WHERE (pool, address) IN (SELECT pool, address FROM vpdn_pool_leases
			WHERE owner IS NOT NULL AND owner <> $1 AND expires_at < now() LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		s.opts.Owner)
	if err != nil {
		s.log.Warn("pgstore: freeing expired leases failed", "err", err)
		return
	}
	if freed > 0 {
		s.log.Info("pgstore: expired leases of other owners freed", "count", freed)
	}
	s.log.Debug("pgstore: heartbeat", "owner", s.opts.Owner, "renewed", renewed)
}

var _ pool.Store = (*Store)(nil)
