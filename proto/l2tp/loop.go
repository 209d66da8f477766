package l2tp

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// ctlLoop is the goroutine of a control connection, shared by L2TPv2's
// Tunnel and L2TPv3's V3Conn: its inputs (datagrams, commands, a kill),
// its one lock, the work left for after the lock, and the loop that waits
// on them and on one timer.
type ctlLoop struct {
	in       chan inPacket
	cmd      chan func()
	killc    chan struct{}
	killOnce sync.Once
	done     chan struct{}

	// mu guards the connection's state (the embedding type's fields
	// after this one); the goroutine holds it while it works.
	mu    sync.Mutex
	after []func()  // work for after the lock (OnCall, OnSessionUp, ...)
	now   time.Time // time of the event being processed
}

func newCtlLoop() ctlLoop {
	return ctlLoop{in: make(chan inPacket, inputQueue), cmd: make(chan func(), 16),
		killc: make(chan struct{}), done: make(chan struct{})}
}

// ctlMachine is what the loop drives, always with mu held.
type ctlMachine interface {
	// stopped reports whether the connection is dead: the loop ends.
	stopped() bool
	// deadline is the earliest time onTimer has work, zero for none.
	deadline() time.Time
	handle(p inPacket)
	onTimer()
	// killed ends the connection without any message.
	killed()
}

// post runs f on the goroutine; false if the connection is gone.
func (l *ctlLoop) post(f func()) bool {
	select {
	case l.cmd <- f:
		return true
	case <-l.done:
		return false
	}
}

// tryPost is post without waiting: false if the command queue is full
// or the connection is gone. Connection goroutines use it on each other,
// where waiting could deadlock.
func (l *ctlLoop) tryPost(f func()) bool {
	select {
	case l.cmd <- f:
		return true
	default:
		return false
	}
}

// kill ends the goroutine without any message (half-open eviction).
func (l *ctlLoop) kill() { l.killOnce.Do(func() { close(l.killc) }) }

// loop runs m until it is stopped; mu is held on entry and not on return.
// The goroutine sleeps until m's earliest deadline on one pending
// AfterFunc that rings wake. wake is buffered, so a ring never blocks the
// clock's goroutine and is never lost; a stale one (from a timer stopped
// after it had fired) only makes the loop look at its deadlines early,
// and onTimer acts on nothing that is not due at the clock's Now.
func (l *ctlLoop) loop(clk clock.Clock, m ctlMachine) {
	wake := make(chan struct{}, 1)
	ring := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var timer clock.Timer // pending wake-up, nil when none
	var armed time.Time   // the deadline timer is armed for
	disarm := func() {
		if timer != nil {
			timer.Stop()
		}
		timer, armed = nil, time.Time{}
	}
	defer disarm()
	for {
		// The work left for after the lock, until none is left: an
		// answer given from OnCall adds more.
		for len(l.after) > 0 {
			after := l.after
			l.after = nil
			l.mu.Unlock()
			for _, f := range after {
				f()
			}
			l.mu.Lock()
		}
		dead := m.stopped()
		dl := m.deadline()
		l.mu.Unlock()
		if dead {
			return
		}
		// Re-arm only when the deadline moved: most messages leave it
		// where it was. No deadline, no timer.
		if !dl.Equal(armed) {
			disarm()
			if !dl.IsZero() {
				armed = dl
				timer = clk.AfterFunc(max(dl.Sub(clk.Now()), 0), ring)
			}
		}
		select {
		case p := <-l.in:
			l.mu.Lock()
			l.now = clk.Now()
			m.handle(p)
		case f := <-l.cmd:
			l.mu.Lock()
			l.now = clk.Now()
			f()
		case <-wake:
			// Whichever timer rang, arm afresh for the new deadline.
			disarm()
			l.mu.Lock()
			l.now = clk.Now()
			m.onTimer()
		case <-l.killc:
			l.mu.Lock()
			l.now = clk.Now()
			m.killed()
		}
	}
}

// drain runs the commands that arrived after the end (they fail, seeing
// the connection dead), with their after-work.
func (l *ctlLoop) drain() {
	for {
		select {
		case f := <-l.cmd:
			l.mu.Lock()
			f()
			after := l.after
			l.after = nil
			l.mu.Unlock()
			for _, g := range after {
				g()
			}
		default:
			return
		}
	}
}

// placed is a control connection's answer to a session placement (an
// L2TPv2 call or an L2TPv3 pseudowire): the session, or why not.
type placed[S any] struct {
	s   S
	err error
}

// awaitPlaced posts start (which places the session and answers on res)
// to l's goroutine and waits for the answer. When ctx ends first, abort
// runs on the goroutine (it ends the placement if still pending) and a
// session that came up meanwhile is closed. retry: the connection was
// gone before it answered, so the caller may try another.
func awaitPlaced[S interface{ Close(l2tp.Result) }](ctx context.Context, l *ctlLoop, start func(res chan placed[S]), abort func()) (s S, retry bool, err error) {
	res := make(chan placed[S], 1)
	if !l.post(func() { start(res) }) {
		return s, true, errTunnelGone
	}
	var r placed[S]
	select {
	case r = <-res:
	case <-l.done:
		select {
		case r = <-res:
		default:
			r.err = errTunnelGone
		}
	case <-ctx.Done():
		l.post(abort)
		// The session may have come up meanwhile: close it.
		select {
		case r := <-res:
			if r.err == nil {
				r.s.Close(l2tp.Result{Code: l2tp.CDNAdmin})
			}
		default:
		}
		return s, false, ctx.Err()
	}
	return r.s, errors.Is(r.err, errTunnelGone), r.err
}

// closeAll sends StopCCN (result 6, shutting down) on every connection
// of a node and waits, on the node's wg, for their goroutines to finish
// their §5.7 hold, or for ctx, after which the rest are killed.
func closeAll[C interface {
	Close(l2tp.Result)
	kill()
}](ctx context.Context, wg *sync.WaitGroup, conns []C) error {
	for _, c := range conns {
		c.Close(l2tp.Result{Code: l2tp.StopShuttingDown})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.kill()
		}
		<-done
		return ctx.Err()
	}
}
