package daemon

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/pool"
	"github.com/vpdn/vpdn/pool/pgstore"
)

// pgstoreSyncTimeout bounds a reload's sync of the ranges to the store.
const pgstoreSyncTimeout = 30 * time.Second

// poolStoreState is the pool store the daemon opened at start, kept
// across reloads.
type poolStoreState struct {
	poolStoreMu  sync.Mutex
	poolStore    *pgstore.Store // under poolStoreMu; nil: leases in memory
	poolStoreKey string         // under poolStoreMu: the DSN and owner it was opened with
}

// poolStoreOf returns the DSN and owner name of c's pool store, or an
// empty DSN for leases in memory.
func poolStoreOf(c *config.Config) (dsn, owner string, err error) {
	ps := c.VPDN.PoolStore
	if ps == nil || ps.DSN.IsZero() {
		return "", "", nil
	}
	dsn, err = clearSecret(ps.DSN)
	if err != nil {
		return "", "", fmt.Errorf("line %d: vpdn pool-store postgres: %w", ps.Line, err)
	}
	owner = ps.Owner
	if owner == "" {
		owner = c.Hostname
	}
	if owner == "" {
		owner, _ = os.Hostname()
	}
	return dsn, owner, nil
}

// openPoolStore connects to the configured pool store (at start): the
// store frees the leases this instance held before it stopped, learns the
// pools' ranges, and the pools in force lease from it. A store that
// cannot be reached fails the start.
func (d *Daemon) openPoolStore(ctx context.Context) error {
	c := d.Config()
	dsn, owner, err := poolStoreOf(c)
	if err != nil || dsn == "" {
		return err
	}
	st, err := pgstore.Open(ctx, pgstore.Options{DSN: dsn, Owner: owner, Logger: d.log})
	if err != nil {
		return fmt.Errorf("vpdn pool-store: %w", err)
	}
	pools := d.svc.Load().pools
	if err := st.Sync(ctx, pools.Ranges()); err != nil {
		st.Close()
		return fmt.Errorf("vpdn pool-store: %w", err)
	}
	pools.SetStore(st)
	d.poolStoreMu.Lock()
	d.poolStore, d.poolStoreKey = st, dsn+"\x00"+owner
	d.poolStoreMu.Unlock()
	d.log.Info("pool store: leases in PostgreSQL", "owner", owner)
	return nil
}

// attachPoolStore makes a reloaded configuration's pools lease from the
// store in force. Pool-store commands themselves take effect at start.
func (d *Daemon) attachPoolStore(c *config.Config, pools *pool.Group) error {
	d.poolStoreMu.Lock()
	st, key := d.poolStore, d.poolStoreKey
	d.poolStoreMu.Unlock()
	dsn, owner, err := poolStoreOf(c)
	if err != nil {
		return err
	}
	if st == nil {
		if dsn != "" && d.rt.Load() != nil {
			d.log.Warn("vpdn pool-store takes effect at the next start; leases stay in memory")
		}
		return nil
	}
	if dsn+"\x00"+owner != key {
		d.log.Warn("vpdn pool-store changes take effect at the next start; the store in force stays")
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgstoreSyncTimeout)
	defer cancel()
	if err := st.Sync(ctx, pools.Ranges()); err != nil {
		return fmt.Errorf("vpdn pool-store: %w", err)
	}
	pools.SetStore(st)
	return nil
}

// closePoolStore frees this instance's leases (its sessions are gone) and
// disconnects.
func (d *Daemon) closePoolStore() {
	d.poolStoreMu.Lock()
	st := d.poolStore
	d.poolStore = nil
	d.poolStoreMu.Unlock()
	if st != nil {
		if err := st.Close(); err != nil {
			d.log.Warn("pool store: closing", "err", err)
		}
	}
}
