package aaa

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/internal/escape"
)

// ReasonLocked is the rejection of a locked-out local user.
const ReasonLocked = "user locked out"

// Lockout is the local user lockout of IOS's `aaa local authentication
// attempts max-fail N`: a user of the local database that fails N times in
// a row is locked — refused without a look at the password — until `clear
// aaa local user lockout username NAME` (or `all`). A success resets the
// count. It counts configured users only, so its size is the database's.
// It is safe for concurrent use and outlives configuration reloads, which
// set the limit (SetMax).
type Lockout struct {
	now func() time.Time

	mu     sync.Mutex
	max    int                  // guarded by mu; 0: off
	fails  map[string]int       // guarded by mu; by configured name
	locked map[string]time.Time // guarded by mu; when it was locked
}

// NewLockout returns a Lockout, off until SetMax; now is the clock of the
// lock times (nil: time.Now).
func NewLockout(now func() time.Time) *Lockout {
	if now == nil {
		now = time.Now
	}
	return &Lockout{now: now, fails: map[string]int{}, locked: map[string]time.Time{}}
}

// SetMax sets the failures that lock a user; 0 turns the lockout off
// (the users locked stay listed, and refused again once it is back on,
// until cleared).
func (l *Lockout) SetMax(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max(n, 0)
}

// Max returns the limit in force.
func (l *Lockout) Max() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

func (l *Lockout) isLocked(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, locked := l.locked[name]
	return l.max > 0 && locked
}

// failed counts a failure of a configured user and reports whether it is
// locked now.
func (l *Lockout) failed(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max == 0 {
		return false
	}
	l.fails[name]++
	if l.fails[name] >= l.max {
		if _, ok := l.locked[name]; !ok {
			l.locked[name] = l.now()
		}
		return true
	}
	return false
}

func (l *Lockout) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, name)
}

// Clear unlocks a user and resets its count (`clear aaa local user
// lockout username NAME`), or every user when all is set; it returns how
// many were locked.
func (l *Lockout) Clear(name string, all bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if all {
		n := len(l.locked)
		clear(l.locked)
		clear(l.fails)
		return n
	}
	_, was := l.locked[name]
	delete(l.locked, name)
	delete(l.fails, name)
	if was {
		return 1
	}
	return 0
}

// LockedUser is a row of `show aaa local user lockout`.
type LockedUser struct {
	User     string    `json:"user"`
	LockedAt time.Time `json:"locked_at"`
}

// Locked returns the locked users by name.
func (l *Lockout) Locked() []LockedUser {
	l.mu.Lock()
	out := make([]LockedUser, 0, len(l.locked))
	for n, t := range l.locked {
		out = append(out, LockedUser{User: n, LockedAt: t})
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b LockedUser) int { return strings.Compare(a.User, b.User) })
	return out
}

// WriteLockout renders `show aaa local user lockout` in IOS's two
// columns.
//
//	Local-user          Lock time
//	alice               05:30:00 UTC Sat Nov 21 2026
func WriteLockout(w io.Writer, us []LockedUser) error {
	if _, err := fmt.Fprintf(w, "%-20s%s\n", "Local-user", "Lock time"); err != nil {
		return err
	}
	for _, u := range us {
		if _, err := fmt.Fprintf(w, "%-20s%s\n", escape.Text(u.User), u.LockedAt.UTC().Format("15:04:05 MST Mon Jan 2 2006")); err != nil {
			return err
		}
	}
	return nil
}
