package clock

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// clocks runs f on each Clock, inside a synctest bubble: Real, and a
// Wheel created in the bubble (so it runs on the bubble's time). slack is
// how late the clock may fire.
func clocks(t *testing.T, f func(t *testing.T, c Clock, slack time.Duration)) {
	t.Run("real", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { f(t, Real, 0) })
	})
	t.Run("wheel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := NewWheel(0, 0)
			defer w.Close()
			f(t, w, defaultTick)
		})
	})
}

// Now is the bubble's time on both clocks.
func TestNowFollowsBubble(t *testing.T) {
	clocks(t, func(t *testing.T, c Clock, _ time.Duration) {
		t0 := c.Now()
		time.Sleep(90 * time.Minute)
		if d := c.Now().Sub(t0); d != 90*time.Minute {
			t.Errorf("Now moved %v over a 90 min sleep", d)
		}
	})
}

// The contract of Clock: f runs once, never before d, on another
// goroutine; Stop before the expiry prevents it and reports true once;
// Stop after the expiry reports false.
func TestContract(t *testing.T) {
	clocks(t, func(t *testing.T, c Clock, slack time.Duration) {
		start := c.Now()
		var mu sync.Mutex
		fired := map[string][]time.Duration{}
		mark := func(name string) func() {
			return func() {
				mu.Lock()
				fired[name] = append(fired[name], c.Now().Sub(start))
				mu.Unlock()
			}
		}
		// The caller holds mu while arming: an expiry run on the
		// caller's goroutine would deadlock here, not pass.
		mu.Lock()
		kept := c.AfterFunc(3*time.Second, mark("kept"))
		zero := c.AfterFunc(0, mark("zero"))
		stopped := c.AfterFunc(2*time.Second, mark("stopped"))
		mu.Unlock()
		if !stopped.Stop() {
			t.Error("Stop of a pending call reported false")
		}
		if stopped.Stop() {
			t.Error("second Stop reported true")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if got := fired["kept"]; len(got) != 1 || got[0] < 3*time.Second || got[0] > 3*time.Second+slack {
			t.Errorf("3 s call fired at %v, want once at 3 s (+%v)", got, slack)
		}
		if got := fired["zero"]; len(got) != 1 || got[0] > slack {
			t.Errorf("0 s call fired at %v, want once, at 0 s (+%v)", got, slack)
		}
		if got := fired["stopped"]; len(got) != 0 {
			t.Errorf("stopped call fired at %v", got)
		}
		if kept.Stop() || zero.Stop() {
			t.Error("Stop after the expiry reported true")
		}
	})
}

// An expiry may arm the next one (a keepalive re-arms itself, as PPP
// links do) without deadlocking the clock.
func TestRearmFromExpiry(t *testing.T) {
	clocks(t, func(t *testing.T, c Clock, slack time.Duration) {
		const period, rounds = 10 * time.Second, 30
		start := c.Now()
		done := make(chan time.Duration, 1)
		n := 0
		var tick func()
		tick = func() {
			if n++; n == rounds {
				done <- c.Now().Sub(start)
				return
			}
			c.AfterFunc(period, tick)
		}
		c.AfterFunc(period, tick)
		got := <-done
		if want := rounds * period; got < want || got > want+rounds*slack {
			t.Errorf("%d rounds of %v took %v", rounds, period, got)
		}
	})
}
