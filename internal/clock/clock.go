// Package clock is the one time source of vpdn: every state machine (PPP
// links, L2TP tunnels) and the data plane take a Clock instead of calling
// package time, so a process can put 100,000 sessions' timers on one
// timing wheel and a test can run them on fake time.
//
// Two clocks implement it. Real is package time: runtime timers, one per
// pending call. Wheel is a hashed timing wheel: one goroutine and one
// runtime timer for any number of pending calls, each at most one tick
// late. Both keep the time of package time, so inside a testing/synctest
// bubble they run on the bubble's fake clock: that is how the tests fake
// time, deterministically and without sleeping.
//
// Expiry functions run on a goroutine of the clock's choosing, never the
// caller's. They must be short: an owner that is the only goroutine
// allowed to touch its state posts the expiry to itself, and a late
// expiry of a stopped timer must be harmless there (a generation count, or
// a deadline re-computed from Now).
package clock

import "time"

// Clock is the time source of every state machine and of the data plane.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed, on a goroutine of the clock's
	// choosing; f must be short (post the expiry to the owner's
	// goroutine). Like time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started and reports whether it
	// did.
	Stop() bool
}

// Real is the clock of package time (runtime timers). Inside a
// testing/synctest bubble its time is the bubble's fake time.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc: *time.Timer's Stop is the Timer's.
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

var _ Clock = (*Wheel)(nil)
