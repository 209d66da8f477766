package clock

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// Timers fire in order, never early, and within one tick of their time.
func TestWheelFiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(10*time.Millisecond, 64)
		defer w.Close()
		start := time.Now()
		type fire struct {
			want time.Duration
			got  time.Duration
		}
		var mu sync.Mutex
		var got []fire
		// Includes durations beyond one revolution (64 × 10 ms = 640 ms)
		// and zero.
		durs := []time.Duration{0, 5 * time.Millisecond, 10 * time.Millisecond, 15 * time.Millisecond,
			300 * time.Millisecond, 639 * time.Millisecond, 640 * time.Millisecond, 641 * time.Millisecond,
			2 * time.Second, 3*time.Second + 7*time.Millisecond, time.Minute}
		for _, d := range durs {
			w.AfterFunc(d, func() {
				mu.Lock()
				got = append(got, fire{d, time.Since(start)})
				mu.Unlock()
			})
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != len(durs) {
			t.Fatalf("%d of %d timers fired", len(got), len(durs))
		}
		for i, f := range got {
			if f.got < f.want {
				t.Errorf("timer of %v fired early, at %v", f.want, f.got)
			}
			if f.got > f.want+10*time.Millisecond {
				t.Errorf("timer of %v fired late, at %v", f.want, f.got)
			}
			if i > 0 && got[i-1].want > f.want {
				t.Errorf("timer of %v fired before the one of %v", got[i-1].want, f.want)
			}
		}
		if s := w.Stats(); s.Pending != 0 || s.Fired != uint64(len(durs)) {
			t.Errorf("stats %+v, want 0 pending and %d fired", s, len(durs))
		}
	})
}

// A stopped timer never fires, Stop reports it once, and Stop after the
// expiry reports false.
func TestWheelStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(0, 0)
		defer w.Close()
		var fired atomic.Int32
		a := w.AfterFunc(time.Second, func() { fired.Add(1) })
		b := w.AfterFunc(time.Second, func() { fired.Add(10) })
		if !a.Stop() {
			t.Error("Stop of a pending timer reported false")
		}
		if a.Stop() {
			t.Error("second Stop reported true")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if fired.Load() != 10 {
			t.Errorf("fired %d, want only the unstopped timer (10)", fired.Load())
		}
		if b.Stop() {
			t.Error("Stop after expiry reported true")
		}
	})
}

// The wheel sleeps while idle and picks timers up again, including after
// a long idle period.
func TestWheelIdleThenBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(0, 0)
		defer w.Close()
		time.Sleep(time.Hour)
		done := make(chan time.Duration, 1)
		start := time.Now()
		w.AfterFunc(50*time.Millisecond, func() { done <- time.Since(start) })
		if d := <-done; d < 50*time.Millisecond || d > 60*time.Millisecond {
			t.Errorf("fired after %v, want 50 ms (+1 tick)", d)
		}
	})
}

// Close stops pending timers and later AfterFunc calls never fire.
func TestWheelClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(0, 0)
		var fired atomic.Int32
		w.AfterFunc(time.Second, func() { fired.Add(1) })
		w.Close()
		w.AfterFunc(time.Millisecond, func() { fired.Add(1) })
		time.Sleep(2 * time.Second)
		if fired.Load() != 0 {
			t.Errorf("%d timers fired after Close", fired.Load())
		}
	})
}

// Many timers, set and stopped from many goroutines at random (run with
// -race): exactly the unstopped ones fire, each once.
func TestWheelConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(time.Millisecond, 256)
		defer w.Close()
		const workers, per = 8, 2000
		var fired, kept atomic.Int64
		var counts [workers * per]atomic.Int32
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 1))
				for i := range per {
					idx := g*per + i
					tm := w.AfterFunc(time.Duration(r.IntN(2000))*time.Millisecond, func() {
						counts[idx].Add(1)
						fired.Add(1)
					})
					if r.IntN(2) == 0 && tm.Stop() {
						continue
					}
					kept.Add(1)
					if r.IntN(50) == 0 {
						time.Sleep(time.Duration(r.IntN(10)) * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if fired.Load() != kept.Load() {
			t.Errorf("%d fired, want %d", fired.Load(), kept.Load())
		}
		for i := range counts {
			if c := counts[i].Load(); c > 1 {
				t.Fatalf("timer %d fired %d times", i, c)
			}
		}
	})
}

// cpuTime is the user and system CPU the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWheelKeepalives compares 100,000 periodic timers (a keepalive per
// session, re-armed at each expiry, as PPP links do) on the wheel and on
// runtime timers: per expiry, and the CPU the process spends.
func BenchmarkWheelKeepalives(b *testing.B) {
	for _, c := range []struct {
		name  string
		after func(time.Duration, func())
		close func()
	}{
		{"runtime", func(d time.Duration, f func()) { time.AfterFunc(d, f) }, func() {}},
		{"wheel", nil, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			after, closeFn := c.after, c.close
			if after == nil {
				w := NewWheel(time.Millisecond, 0)
				after = func(d time.Duration, f func()) { w.AfterFunc(d, f) }
				closeFn = w.Close
			}
			const timers = 100000
			const period = 100 * time.Millisecond
			var n atomic.Int64
			target := int64(b.N)
			done := make(chan struct{})
			var once sync.Once
			var tick func()
			tick = func() {
				if n.Add(1) >= target {
					once.Do(func() { close(done) })
					return
				}
				after(period, tick)
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range timers {
				after(time.Duration(i)*period/timers, tick)
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/expiry")
			closeFn()
		})
	}
}

// A wheel held up for several revolutions (an expiry function that blocks)
// fires everything that fell due meanwhile as soon as it runs again, not a
// revolution later.
func TestWheelFallBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWheel(10*time.Millisecond, 8) // a revolution is 80 ms
		defer w.Close()
		start := time.Now()
		w.AfterFunc(10*time.Millisecond, func() { time.Sleep(500 * time.Millisecond) })
		var mu sync.Mutex
		fired := map[time.Duration]time.Duration{}
		for _, d := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 490 * time.Millisecond, 600 * time.Millisecond} {
			w.AfterFunc(d, func() {
				mu.Lock()
				fired[d] = time.Since(start)
				mu.Unlock()
			})
		}
		time.Sleep(time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		for d, at := range fired {
			// Those due while the wheel was held up fire when it is
			// free again (510 ms); the one after, on time.
			want := max(d, 510*time.Millisecond)
			if at < want || at > want+10*time.Millisecond {
				t.Errorf("timer of %v fired at %v, want %v (+1 tick)", d, at, want)
			}
		}
		if len(fired) != 4 {
			t.Errorf("%d of 4 timers fired", len(fired))
		}
	})
}
