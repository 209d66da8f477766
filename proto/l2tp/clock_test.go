package l2tp

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// countingClock wraps a clock and counts its outstanding timers: armed,
// and neither fired nor stopped.
type countingClock struct {
	clock.Clock
	mu          sync.Mutex
	outstanding int
	armed       int
}

type countingTimer struct {
	c     *countingClock
	inner clock.Timer
}

func (c *countingClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	c.outstanding++
	c.armed++
	c.mu.Unlock()
	return &countingTimer{c, c.Clock.AfterFunc(d, func() {
		c.mu.Lock()
		c.outstanding--
		c.mu.Unlock()
		f()
	})}
}

// Stop reports true only when the call had not started, so exactly one of
// Stop and the expiry counts a timer out.
func (t *countingTimer) Stop() bool {
	if !t.inner.Stop() {
		return false
	}
	t.c.mu.Lock()
	t.c.outstanding--
	t.c.mu.Unlock()
	return true
}

func (c *countingClock) counts() (outstanding, armed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outstanding, c.armed
}

// TestTunnelTimers checks the tunnel goroutine's use of its clock, on both
// clocks: at rest each tunnel has exactly one timer pending when it has a
// deadline (HELLO, §6.5) and none without one, and closing the nodes
// leaves none behind.
func TestTunnelTimers(t *testing.T) {
	for _, c := range []struct {
		name     string
		useWheel bool
		hello    time.Duration
		pending  int // at rest: one per tunnel with HELLO on, none without
	}{
		{"real/hello", false, 10 * time.Second, 2},
		{"real/nohello", false, -1, 0},
		{"wheel/hello", true, 10 * time.Second, 2},
		{"wheel/nohello", true, -1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var w *clock.Wheel
				clk := &countingClock{Clock: clock.Real}
				if c.useWheel {
					w = clock.NewWheel(0, 0)
					defer w.Close()
					clk.Clock = w
				}
				nw := memnet.New(9)
				lns := newPeer(t, nw, lnsAddr, Config{Clock: clk, Defaults: TunnelParams{Hello: c.hello}})
				lac := newPeer(t, nw, lacAddr, Config{Clock: clk})
				s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{Hello: c.hello}, CallParams{})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Minute)
				synctest.Wait()
				out, armed := clk.counts()
				if out != c.pending {
					t.Errorf("%d timers pending at rest (%d armed in all), want %d", out, armed, c.pending)
				}
				if w != nil && w.Stats().Pending != out {
					t.Errorf("wheel has %d timers pending, the tunnels %d", w.Stats().Pending, out)
				}
				// A HELLO goes out after a period without anything from the
				// peer (§6.5), and the peer's HELLO counts: together the two
				// ends send one a period, split between them as their timers
				// fall.
				hello := s.Tunnel().Stats().HelloTx
				for _, lt := range lns.node.Tunnels() {
					hello += lt.Stats().HelloTx
				}
				if c.hello > 0 && hello < 25 {
					t.Errorf("%d HELLOs in 5 minutes at %v", hello, c.hello)
				}
				s.Close(l2tp.Result{Code: l2tp.CDNAdmin})
				lac.close(t)
				lns.close(t)
				synctest.Wait()
				if out, _ := clk.counts(); out != 0 {
					t.Errorf("%d timers pending after Close", out)
				}
			})
		})
	}
}
