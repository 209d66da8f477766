package aaa

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// RecordKind says which accounting event a stored record was.
type RecordKind uint8

const (
	AcctStart RecordKind = iota + 1
	AcctInterim
	AcctStop
)

func (k RecordKind) String() string {
	switch k {
	case AcctStart:
		return "start"
	case AcctInterim:
		return "interim"
	case AcctStop:
		return "stop"
	}
	return fmt.Sprintf("RecordKind(%d)", uint8(k))
}

// StoredRecord is one accounting event as MemoryAccounter kept it.
type StoredRecord struct {
	Kind   RecordKind
	Time   time.Time
	Record AccountingRecord
}

// AccountingCounts are the totals of a MemoryAccounter.
type AccountingCounts struct {
	Starts, Interims, Stops uint64
	// Orphans counts Interim and Stop records for sessions never started.
	Orphans uint64
	Active  int
}

// MemoryAccounter is an Accounter that keeps the last records in memory,
// for `show` commands and tests. The number of records kept is bounded
// (a ring); the set of active sessions is bounded by the sessions the
// daemon runs. It is safe for concurrent use and never blocks for long.
type MemoryAccounter struct {
	clock func() time.Time

	mu     sync.Mutex
	ring   []StoredRecord // guarded by mu
	next   int            // guarded by mu; where the next record goes
	full   bool
	active map[string]AccountingRecord // guarded by mu; by SessionID
	counts AccountingCounts
}

var _ Accounter = (*MemoryAccounter)(nil)

// NewMemoryAccounter keeps the last max records (at least 1). clock stamps
// them; nil means time.Now.
func NewMemoryAccounter(max int, clock func() time.Time) *MemoryAccounter {
	if max < 1 {
		max = 1
	}
	if clock == nil {
		clock = time.Now
	}
	return &MemoryAccounter{clock: clock, ring: make([]StoredRecord, max), active: map[string]AccountingRecord{}}
}

func (m *MemoryAccounter) store(k RecordKind, r *AccountingRecord) {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ring[m.next] = StoredRecord{Kind: k, Time: now, Record: *r}
	m.next++
	if m.next == len(m.ring) {
		m.next, m.full = 0, true
	}
	_, known := m.active[r.SessionID]
	switch k {
	case AcctStart:
		m.counts.Starts++
		m.active[r.SessionID] = *r
	case AcctInterim:
		m.counts.Interims++
		if known {
			m.active[r.SessionID] = *r
		} else {
			m.counts.Orphans++
		}
	case AcctStop:
		m.counts.Stops++
		if known {
			delete(m.active, r.SessionID)
		} else {
			m.counts.Orphans++
		}
	}
}

// Start records the start of a session.
func (m *MemoryAccounter) Start(_ context.Context, r *AccountingRecord) error {
	m.store(AcctStart, r)
	return nil
}

// Interim records an interim update.
func (m *MemoryAccounter) Interim(_ context.Context, r *AccountingRecord) error {
	m.store(AcctInterim, r)
	return nil
}

// Stop records the end of a session.
func (m *MemoryAccounter) Stop(_ context.Context, r *AccountingRecord) error {
	m.store(AcctStop, r)
	return nil
}

// Records returns the records kept, oldest first.
func (m *MemoryAccounter) Records() []StoredRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.full {
		return append([]StoredRecord(nil), m.ring[:m.next]...)
	}
	out := make([]StoredRecord, 0, len(m.ring))
	out = append(out, m.ring[m.next:]...)
	return append(out, m.ring[:m.next]...)
}

// Active returns the sessions started and not stopped, by session ID, with
// their latest counters.
func (m *MemoryAccounter) Active() []AccountingRecord {
	m.mu.Lock()
	out := make([]AccountingRecord, 0, len(m.active))
	for _, r := range m.active {
		out = append(out, r)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].SessionID < out[j].SessionID })
	return out
}

// Counts returns the totals.
func (m *MemoryAccounter) Counts() AccountingCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counts
	c.Active = len(m.active)
	return c
}
