package aaa

import (
	"container/list"
	"fmt"
	"io"
	"sync"
	"time"
)

// Failure is the failure history of one user, the row of `show vpdn
// history failure` (the VPDN-MIB's failure history table of seed document
// 000: per-user count, time and reason of the last failure).
type Failure struct {
	User          string
	Count         uint64
	First, Last   time.Time
	Reason        string // of the last failure
	NASPort       string
	CallingNumber string
	TunnelName    string
}

// FailureHistory keeps the last failures per user, at most a fixed number
// of users: when full, the user whose last failure is oldest is forgotten.
// It is safe for concurrent use.
type FailureHistory struct {
	max   int
	clock func() time.Time

	mu     sync.Mutex
	order  *list.List               // guarded by mu; *Failure, most recent first
	byUser map[string]*list.Element // guarded by mu
}

// NewFailureHistory returns a history bounded to max users (at least 1).
// clock supplies the time of each failure; nil means time.Now.
func NewFailureHistory(max int, clock func() time.Time) *FailureHistory {
	if max < 1 {
		max = 1
	}
	if clock == nil {
		clock = time.Now
	}
	return &FailureHistory{
		max: max, clock: clock,
		order:  list.New(),
		byUser: make(map[string]*list.Element),
	}
}

// Record notes a rejected request.
func (h *FailureHistory) Record(req *Request, reason string) {
	now := h.clock()
	user := req.Username
	if len(user) > maxNameLen {
		user = user[:maxNameLen]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.byUser[user]
	if !ok {
		if h.order.Len() >= h.max {
			old := h.order.Back()
			delete(h.byUser, old.Value.(*Failure).User)
			h.order.Remove(old)
		}
		e = h.order.PushFront(&Failure{User: user, First: now})
		h.byUser[user] = e
	} else {
		h.order.MoveToFront(e)
	}
	f := e.Value.(*Failure)
	f.Count++
	f.Last = now
	f.Reason = reason
	f.NASPort = req.NASPort
	f.CallingNumber = req.CallingNumber
	f.TunnelName = req.TunnelName
}

// Get returns the history of one user.
func (h *FailureHistory) Get(user string) (Failure, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.byUser[user]; ok {
		return *e.Value.(*Failure), true
	}
	return Failure{}, false
}

// Entries returns every user's history, most recent failure first.
func (h *FailureHistory) Entries() []Failure {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Failure, 0, h.order.Len())
	for e := h.order.Front(); e != nil; e = e.Next() {
		out = append(out, *e.Value.(*Failure))
	}
	return out
}

// Clear forgets one user's history (`clear vpdn history failure USER`), or
// everyone's when user is empty.
func (h *FailureHistory) Clear(user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if user == "" {
		h.order.Init()
		clear(h.byUser)
		return
	}
	if e, ok := h.byUser[user]; ok {
		h.order.Remove(e)
		delete(h.byUser, user)
	}
}

// WriteShow writes `show vpdn history failure` in the IOS layout.
//
//	Table size: 20
//	Entries: 1
//	User: alice@sales
//	  NAS: Vi3, CLID = 5551234, Tunnel: lac1
//	  Log time: 2026-11-21 05:30:00, Error repetitions: 2
//	  Failure reason: bad password
func (h *FailureHistory) WriteShow(w io.Writer) error {
	entries := h.Entries()
	if _, err := fmt.Fprintf(w, "Table size: %d\nEntries: %d\n", h.max, len(entries)); err != nil {
		return err
	}
	for _, f := range entries {
		_, err := fmt.Fprintf(w, "User: %s\n  NAS: %s, CLID = %s, Tunnel: %s\n  Log time: %s, Error repetitions: %d\n  Failure reason: %s\n",
			f.User, f.NASPort, f.CallingNumber, f.TunnelName, f.Last.UTC().Format(time.DateTime), f.Count, f.Reason)
		if err != nil {
			return err
		}
	}
	return nil
}
