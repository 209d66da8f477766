package aaa

import (
	"container/list"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/vpdn/vpdn/internal/escape"
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
	// Peer is the address the last failure came from (the tunnel's
	// remote address); zero when the carrier has none.
	Peer netip.Addr
}

// FailureHistory keeps the last failures per user, at most a fixed number
// of users: when full, the user whose last failure is oldest is forgotten.
// Each source (peer address, when the carrier has one) holds at most a
// quarter of the table: a new
// name from a source at its share replaces that source's oldest record,
// so a flood of names from one peer cannot evict the other peers' users.
// It is safe for concurrent use.
type FailureHistory struct {
	max, perSource int
	clock          func() time.Time

	mu       sync.Mutex
	order    *list.List                // guarded by mu; *hentry, most recent first
	byUser   map[string]*list.Element  // guarded by mu
	bySource map[netip.Addr]*list.List // guarded by mu; *list.Element of order, most recent first
}

// hentry is a record and its place in its source's list.
type hentry struct {
	Failure
	inSource *list.Element
}

// NewFailureHistory returns a history bounded to max users (at least 1).
// clock supplies the time of each failure; nil means time.Now.
func NewFailureHistory(size int, clock func() time.Time) *FailureHistory {
	size = max(size, 1)
	if clock == nil {
		clock = time.Now
	}
	return &FailureHistory{
		max: size, perSource: max(1, size/4), clock: clock,
		order:    list.New(),
		byUser:   make(map[string]*list.Element),
		bySource: make(map[netip.Addr]*list.List),
	}
}

// Record notes a rejected request.
func (h *FailureHistory) Record(req *Request, reason string) {
	now := h.clock()
	user := req.Username
	if len(user) > maxNameLen {
		user = user[:maxNameLen]
	}
	src := req.PeerAddr.Unmap()
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.byUser[user]
	if !ok {
		if l := h.bySource[src]; src.IsValid() && l != nil && l.Len() >= h.perSource {
			h.removeLocked(l.Back().Value.(*list.Element))
		} else if h.order.Len() >= h.max {
			h.removeLocked(h.order.Back())
		}
		e = h.order.PushFront(&hentry{Failure: Failure{User: user, First: now, Peer: src}})
		h.byUser[user] = e
		h.addSourceLocked(e)
	} else {
		h.order.MoveToFront(e)
		he := e.Value.(*hentry)
		if he.Peer != src {
			h.dropSourceLocked(e)
			he.Peer = src
			h.addSourceLocked(e)
		} else if he.inSource != nil {
			h.bySource[src].MoveToFront(he.inSource)
		}
	}
	f := &e.Value.(*hentry).Failure
	f.Count++
	f.Last = now
	f.Reason = reason
	f.NASPort = req.NASPort
	f.CallingNumber = req.CallingNumber
	f.TunnelName = req.TunnelName
}

func (h *FailureHistory) addSourceLocked(e *list.Element) {
	he := e.Value.(*hentry)
	if !he.Peer.IsValid() {
		return // no source: only the table's bound
	}
	l := h.bySource[he.Peer]
	if l == nil {
		l = list.New()
		h.bySource[he.Peer] = l
	}
	he.inSource = l.PushFront(e)
}

func (h *FailureHistory) dropSourceLocked(e *list.Element) {
	he := e.Value.(*hentry)
	if l := h.bySource[he.Peer]; l != nil && he.inSource != nil {
		l.Remove(he.inSource)
		if l.Len() == 0 {
			delete(h.bySource, he.Peer)
		}
	}
	he.inSource = nil
}

func (h *FailureHistory) removeLocked(e *list.Element) {
	h.dropSourceLocked(e)
	delete(h.byUser, e.Value.(*hentry).User)
	h.order.Remove(e)
}

// Get returns the history of one user.
func (h *FailureHistory) Get(user string) (Failure, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.byUser[user]; ok {
		return e.Value.(*hentry).Failure, true
	}
	return Failure{}, false
}

// Entries returns every user's history, most recent failure first.
func (h *FailureHistory) Entries() []Failure {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Failure, 0, h.order.Len())
	for e := h.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*hentry).Failure)
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
		clear(h.bySource)
		return
	}
	if e, ok := h.byUser[user]; ok {
		h.removeLocked(e)
	}
}

// WriteShow writes `show vpdn history failure` in the IOS layout, with
// the peer's address after the tunnel name (an addition to IOS's line).
// Every string that came from the network is escaped (Printable).
//
//	Table size: 20
//	Entries: 1
//	User: alice@sales
//	  NAS: Vi3, CLID = 5551234, Tunnel: lac1, Peer: 198.18.0.2
//	  Log time: 2026-11-21 05:30:00, Error repetitions: 2
//	  Failure reason: bad password
func (h *FailureHistory) WriteShow(w io.Writer) error {
	entries := h.Entries()
	if _, err := fmt.Fprintf(w, "Table size: %d\nEntries: %d\n", h.max, len(entries)); err != nil {
		return err
	}
	for _, f := range entries {
		peer := "-"
		if f.Peer.IsValid() {
			peer = f.Peer.String()
		}
		_, err := fmt.Fprintf(w, "User: %s\n  NAS: %s, CLID = %s, Tunnel: %s, Peer: %s\n  Log time: %s, Error repetitions: %d\n  Failure reason: %s\n",
			escape.Text(f.User), escape.Text(f.NASPort), escape.Text(f.CallingNumber), escape.Text(f.TunnelName), peer,
			f.Last.UTC().Format(time.DateTime), f.Count, escape.Text(f.Reason))
		if err != nil {
			return err
		}
	}
	return nil
}
