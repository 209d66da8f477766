package clock

import (
	"sync"
	"time"
)

// Defaults: a revolution of 4096 × 10 ms is about 41 s, longer than the
// common PPP and L2TP periods (keepalive 10 s, Restart 3 s), so most timers
// fire on their first visit.
const (
	defaultTick  = 10 * time.Millisecond
	defaultSlots = 4096
)

// Wheel is a hashed timing wheel: one goroutine and one runtime timer
// serve any number of pending timers. It is the clock of PPP links at
// scale: 100,000 sessions each with an LCP keepalive and a Restart timer
// would otherwise be 100,000 runtime timers, each firing on its own.
//
// Time is cut into ticks (10 ms by default). A timer due at tick t lives
// in slot t mod slots on an intrusive list, so AfterFunc and Stop are
// O(1); every tick the wheel visits one slot and fires what is due there
// (timers more than one revolution away wait for their round). A timer
// never fires early, and at most one tick late plus scheduling delay.
// Expiry functions run on the wheel's goroutine, one after another, so
// they must be short: a PPP link's just posts the expiry to its owner.
//
// While no timer is pending the goroutine sleeps without ticking. Under
// testing/synctest a Wheel created inside the bubble runs on the bubble's
// clock; Close it before the test ends.
//
// The zero value is not usable; call NewWheel.
type Wheel struct {
	tick  time.Duration
	mask  int64
	start time.Time

	mu      sync.Mutex
	slots   []entry // list heads (sentinels)
	cur     int64   // ticks processed: every timer due at or before cur has fired
	pending int
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	fired uint64 // expiries run, for Stats
}

// WheelStats is a snapshot of a wheel's counters.
type WheelStats struct {
	Pending int    // timers scheduled and not yet fired or stopped
	Fired   uint64 // expiry functions run since NewWheel
}

// wheelTimer is one pending call, returned by AfterFunc.
type wheelTimer struct{ e entry }

// entry is a node of a slot's circular list; a slot's head is an entry
// that is never a timer.
type entry struct {
	w          *Wheel
	f          func()
	at         int64 // absolute tick due
	prev, next *entry
}

// NewWheel starts a wheel of the given tick and slot count (0: the
// defaults, 10 ms and 4096; slots is rounded up to a power of two).
func NewWheel(tick time.Duration, slots int) *Wheel {
	if tick <= 0 {
		tick = defaultTick
	}
	if slots <= 0 {
		slots = defaultSlots
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	w := &Wheel{
		tick: tick, mask: int64(n - 1), start: time.Now(),
		slots: make([]entry, n),
		wake:  make(chan struct{}, 1), done: make(chan struct{}),
	}
	for i := range w.slots {
		h := &w.slots[i]
		h.prev, h.next = h, h
	}
	go w.run()
	return w
}

// Now is time.Now: the wheel only schedules, it keeps the time of package
// time (the bubble's under testing/synctest).
func (w *Wheel) Now() time.Time { return time.Now() }

// tickOf returns the tick in progress at t.
func (w *Wheel) tickOf(t time.Time) int64 { return int64(t.Sub(w.start) / w.tick) }

// AfterFunc calls f on the wheel's goroutine once d has passed. After
// Close, the timer never fires.
func (w *Wheel) AfterFunc(d time.Duration, f func()) Timer {
	t := &wheelTimer{e: entry{w: w, f: f}}
	// Due at the first tick boundary at or after now+d; never the tick in
	// progress, which may already have been processed.
	at := w.tickOf(time.Now().Add(d))
	if time.Duration(at)*w.tick < time.Since(w.start)+d {
		at++
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return t
	}
	if at <= w.cur {
		at = w.cur + 1
	}
	t.e.at = at
	h := &w.slots[at&w.mask]
	t.e.prev, t.e.next = h.prev, h
	h.prev.next = &t.e
	h.prev = &t.e
	w.pending++
	first := w.pending == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return t
}

// Stop prevents the call if it has not started and reports whether it did.
func (t *wheelTimer) Stop() bool {
	w := t.e.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.e.next == nil {
		return false
	}
	t.e.prev.next = t.e.next
	t.e.next.prev = t.e.prev
	t.e.prev, t.e.next = nil, nil
	w.pending--
	return true
}

// Stats returns the wheel's counters.
func (w *Wheel) Stats() WheelStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WheelStats{Pending: w.pending, Fired: w.fired}
}

// Close stops the wheel; pending timers never fire. It waits for the
// expiries in progress to return.
func (w *Wheel) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.wake)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *Wheel) run() {
	defer close(w.done)
	sleep := time.NewTimer(time.Hour)
	sleep.Stop()
	var due []func()
	for {
		w.mu.Lock()
		idle := w.pending == 0
		if idle {
			// Nothing pending: skip the ticks that pass while asleep.
			w.cur = max(w.cur, w.tickOf(time.Now()))
		}
		w.mu.Unlock()
		if idle {
			if _, ok := <-w.wake; !ok {
				return
			}
			continue
		}
		// Sleep to the end of the tick after the last one processed.
		w.mu.Lock()
		next := w.start.Add(time.Duration(w.cur+1) * w.tick)
		w.mu.Unlock()
		if d := time.Until(next); d > 0 {
			sleep.Reset(d)
			select {
			case <-sleep.C:
			case _, ok := <-w.wake:
				sleep.Stop()
				if !ok {
					return
				}
				continue
			}
		}
		due = w.advance(time.Now(), due[:0])
		for i, f := range due {
			f()
			due[i] = nil
		}
	}
}

// advance processes every tick up to the one in progress at now, unlinking
// the timers due and returning their functions.
func (w *Wheel) advance(now time.Time, due []func()) []func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return due
	}
	target := w.tickOf(now)
	// A wheel that fell more than a revolution behind visits each slot
	// once: that already sees every timer due.
	if target-w.cur > w.mask+1 {
		w.cur = target - w.mask - 1
	}
	for w.cur < target && w.pending > 0 {
		w.cur++
		h := &w.slots[w.cur&w.mask]
		for e := h.next; e != h; {
			nx := e.next
			if e.at <= w.cur {
				e.prev.next = e.next
				e.next.prev = e.prev
				e.prev, e.next = nil, nil
				w.pending--
				w.fired++
				due = append(due, e.f)
			}
			e = nx
		}
	}
	if w.pending == 0 {
		w.cur = max(w.cur, target)
	}
	return due
}
