package ppp

import "sync"

// Runner serializes calls onto one goroutine: the owner of one or more
// Links for standalone use and tests. Post never blocks, so clock
// goroutines and AAA calls can always hand their results back.
type Runner struct {
	mu     sync.Mutex
	queue  []func()
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// NewRunner starts a runner goroutine.
func NewRunner() *Runner {
	r := &Runner{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// Post queues f to run on the runner's goroutine. Calls posted after Close
// are dropped.
func (r *Runner) Post(f func()) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.queue = append(r.queue, f)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Do runs f on the runner's goroutine and waits for it to return.
func (r *Runner) Do(f func()) {
	ch := make(chan struct{})
	r.Post(func() { f(); close(ch) })
	select {
	case <-ch:
	case <-r.done:
	}
}

// Close stops the runner after the call in progress and waits for its
// goroutine to exit. Queued calls are dropped.
func (r *Runner) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	<-r.done
}

func (r *Runner) run() {
	defer close(r.done)
	var batch []func()
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		}
		for {
			r.mu.Lock()
			batch, r.queue = r.queue, batch[:0]
			r.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, f := range batch {
				select {
				case <-r.stop:
					return
				default:
				}
				f()
				batch[i] = nil
			}
		}
	}
}
