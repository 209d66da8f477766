package netif

// The Poller reads many devices on a fixed number of goroutines:
//
//	kernel devices (TUN, TAP)               Fakes (tests)
//	  │ each on one worker's epoll set,       │ one goroutine per watch,
//	  │ edge-triggered                        │ channels only
//	  ▼                                       ▼
//	worker 1..n: epoll_wait → ready(local) [→ reported again if it stopped at its budget]
//
// A device costs no goroutine and no buffer of its own: ready runs on its
// worker with that worker's local value (the data plane's read buffers
// and transmit state). Each worker has an epoll set of its own and a
// device lives in one (the least loaded when it was watched), so the
// workers never wait for each other, and one device is never read by two
// at once. Edge-triggered, a device is reported when packets arrive; ready
// reads until it would block, so no re-arm is needed per wake-up; when it
// stops at its budget, the device is reported again after the devices
// already waiting, so a busy device cannot starve the others.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Poller calls a function whenever one of its devices has something to
// read.
type Poller struct {
	workers  int
	newLocal func() any

	// mu guards the epoll set's life: it is made with the first kernel
	// device and closed by Close; epoll_ctl happens under mu held for
	// reading, so never on a closed (and perhaps reused) descriptor.
	mu      sync.RWMutex
	closed  bool
	started bool
	ws      []*pollWorker
	evfd    int // written by Close to wake the workers
	closing atomic.Bool
	wg      sync.WaitGroup
	fakes   map[*Watch]struct{}

	// The watches by slot, for the workers to find them from an event;
	// slot 0 is the eventfd.
	tab   sync.RWMutex
	slots []*Watch
	free  []uint32
	gen   uint32
}

// pollWorker is one worker's epoll set.
type pollWorker struct {
	epfd    int
	epf     *os.File        // epfd on the Go runtime's poller
	eprc    syscall.RawConn // for the worker's waits
	devices atomic.Int64    // watched in this set
}

// Watch is one device watched by a Poller.
type Watch struct {
	p     *Poller
	ready func(local any) (more bool)

	// Kernel devices.
	pw      *pollWorker // the epoll set it is in
	dev     *fdDev
	fd      int
	slot    uint32
	gen     uint32
	mu      sync.Mutex
	idle    sync.Cond // signalled when running turns false
	running bool
	pending bool // an event came while ready ran
	gone    bool // the device reported an error or hang-up
	stopped bool

	// Fakes.
	fake     *Fake
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// pollEvents: readable, edge-triggered. A device is reported when packets
// arrive; ready reads until it would block (nothing more is reported
// until new packets come, so no re-arm per wake-up: one system call less
// per burst than one-shot), or, when it stops at its budget, the watch
// asks epoll to report it again behind the devices already waiting.
const pollEvents = unix.EPOLLIN | unix.EPOLLET

// maxEvents is the number of events one epoll_wait returns at most.
const maxEvents = 128

// NewPoller returns a Poller with that many workers (at least 1). Each
// worker calls newLocal (which may be nil) once, when it starts, and so
// does the goroutine that serves a watched Fake. The workers start with
// the first kernel device, so that a Poller with only Fakes has no
// goroutine in a system call.
func NewPoller(workers int, newLocal func() any) *Poller {
	return &Poller{workers: max(workers, 1), newLocal: newLocal, fakes: map[*Watch]struct{}{}, slots: []*Watch{nil}}
}

var errPollerClosed = errors.New("netif: poller closed")

// Watch arranges for ready(local) to be called on one of the poller's
// workers whenever dev has something to read; local is that worker's value
// from newLocal. ready reads with dev.TryRead until ErrWouldBlock, or
// until it has read a budget it chooses: then it returns more, and it is
// called again after the devices already waiting. ready is never called
// for one device on two workers at once. When the device reports an error
// or a hang-up (it was removed), ready is called once more to read the
// error, and not again.
//
// dev must be a *TUN, a *TAP, a *Packet or a *Fake, watched by one Poller at a time.
func (p *Poller) Watch(dev Device, ready func(local any) (more bool)) (*Watch, error) {
	if ready == nil {
		return nil, errors.New("netif: Watch without a ready function")
	}
	switch d := dev.(type) {
	case *TUN:
		return p.watchFd(&d.fdDev, ready)
	case *TAP:
		return p.watchFd(&d.fdDev, ready)
	case *Packet:
		return p.watchFd(&d.fdDev, ready)
	case *Fake:
		return p.watchFake(d, ready)
	}
	return nil, fmt.Errorf("netif: a Poller cannot watch a device of type %T", dev)
}

// start makes the workers' epoll sets and starts them. Called with p.mu
// held.
func (p *Poller) start() error {
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("netif: eventfd: %w", err)
	}
	var ws []*pollWorker
	fail := func(err error) error {
		for _, w := range ws {
			w.epf.Close()
		}
		unix.Close(evfd)
		return fmt.Errorf("netif: epoll: %w", err)
	}
	for range p.workers {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return fail(err)
		}
		// Level-triggered and never read: once written, the worker sees it.
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
			unix.Close(epfd)
			return fail(err)
		}
		// The worker waits for its epoll set on the Go runtime's own
		// poller (an epoll descriptor is readable while it has events):
		// waiting parks a goroutine, not a thread in epoll_wait.
		if err := unix.SetNonblock(epfd, true); err != nil {
			unix.Close(epfd)
			return fail(err)
		}
		epf := os.NewFile(uintptr(epfd), "epoll")
		rc, err := epf.SyscallConn()
		if err != nil {
			epf.Close()
			return fail(err)
		}
		ws = append(ws, &pollWorker{epfd: epfd, epf: epf, eprc: rc})
	}
	p.ws, p.evfd, p.started = ws, evfd, true
	p.wg.Add(len(ws))
	for _, w := range ws {
		go p.worker(w)
	}
	return nil
}

// leastLoaded returns the worker with the fewest devices.
func (p *Poller) leastLoaded() *pollWorker {
	best := p.ws[0]
	for _, w := range p.ws[1:] {
		if w.devices.Load() < best.devices.Load() {
			best = w
		}
	}
	return best
}

func (p *Poller) watchFd(d *fdDev, ready func(any) bool) (*Watch, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPollerClosed
	}
	if !p.started {
		if err := p.start(); err != nil {
			p.mu.Unlock()
			return nil, err
		}
	}
	p.mu.Unlock()

	w := &Watch{p: p, ready: ready, dev: d}
	w.idle.L = &w.mu
	p.tab.Lock()
	p.gen++
	w.gen = p.gen
	if n := len(p.free); n > 0 {
		w.slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.slots[w.slot] = w
	} else {
		w.slot = uint32(len(p.slots))
		p.slots = append(p.slots, w)
	}
	p.tab.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()
	err := func() error {
		if d.closed {
			return ErrClosed
		}
		if d.watch != nil {
			return fmt.Errorf("netif: %s is watched already", d.name)
		}
		w.fd = d.fd
		p.mu.RLock()
		defer p.mu.RUnlock()
		if p.closed {
			return errPollerClosed
		}
		w.pw = p.leastLoaded()
		ev := unix.EpollEvent{Events: pollEvents, Fd: int32(w.slot), Pad: int32(w.gen)}
		if err := unix.EpollCtl(w.pw.epfd, unix.EPOLL_CTL_ADD, w.fd, &ev); err != nil {
			return fmt.Errorf("netif: epoll add %s: %w", d.name, err)
		}
		w.pw.devices.Add(1)
		return nil
	}()
	if err != nil {
		w.stopped = true
		p.release(w)
		return nil, err
	}
	d.watch = w
	return w, nil
}

// release frees w's slot: events still in flight for it find nothing.
func (p *Poller) release(w *Watch) {
	p.tab.Lock()
	if int(w.slot) < len(p.slots) && p.slots[w.slot] == w {
		p.slots[w.slot] = nil
		p.free = append(p.free, w.slot)
	}
	p.tab.Unlock()
}

func (p *Poller) lookup(slot, gen uint32) *Watch {
	p.tab.RLock()
	defer p.tab.RUnlock()
	if int(slot) >= len(p.slots) {
		return nil
	}
	w := p.slots[slot]
	if w == nil || w.gen != gen {
		return nil
	}
	return w
}

func (p *Poller) worker(pw *pollWorker) {
	defer p.wg.Done()
	var local any
	if p.newLocal != nil {
		local = p.newLocal()
	}
	events := make([]unix.EpollEvent, maxEvents)
	var n int
	var werr error
	wait := func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), events, 0)
		return n > 0 || (werr != nil && werr != unix.EINTR)
	}
	for {
		if err := pw.eprc.Read(wait); err != nil || werr != nil {
			return // the set is gone: nothing left to do
		}
		for i := range events[:n] {
			ev := &events[i]
			if ev.Fd == 0 || p.closing.Load() {
				return // the eventfd: Close
			}
			if w := p.lookup(uint32(ev.Fd), uint32(ev.Pad)); w != nil {
				w.dispatch(local, ev.Events)
			}
		}
	}
}

// dispatch runs ready for one event. An event for a device that a worker
// is reading already is noted (pending) and that worker reads again: an
// edge that came while it read is not lost.
func (w *Watch) dispatch(local any, events uint32) {
	w.mu.Lock()
	if w.stopped || w.gone {
		w.mu.Unlock()
		return
	}
	if w.running {
		w.pending = true
		w.mu.Unlock()
		return
	}
	w.running = true
	w.mu.Unlock()
	for {
		more := w.ready(local)
		w.mu.Lock()
		switch {
		case w.stopped:
			w.running = false
			w.idle.Broadcast()
		case events&(unix.EPOLLERR|unix.EPOLLHUP) != 0:
			// The device is gone: nothing more to read.
			w.running, w.gone = false, true
		case w.pending:
			w.pending = false
			w.mu.Unlock()
			continue
		default:
			w.running = false
			if more {
				// Stopped at its budget: epoll re-evaluates the
				// device and reports it again, after the others.
				ev := unix.EpollEvent{Events: pollEvents, Fd: int32(w.slot), Pad: int32(w.gen)}
				unix.EpollCtl(w.pw.epfd, unix.EPOLL_CTL_MOD, w.fd, &ev)
			}
		}
		w.mu.Unlock()
		return
	}
}

// disarm takes the device out of the epoll set and frees its slot,
// without waiting for a running ready. Called with w.dev.mu held, so the
// descriptor is still open.
func (w *Watch) disarm() {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		w.p.mu.RLock()
		if !w.p.closed {
			unix.EpollCtl(w.pw.epfd, unix.EPOLL_CTL_DEL, w.fd, nil)
			w.pw.devices.Add(-1)
		}
		w.p.mu.RUnlock()
	}
	w.mu.Unlock()
	w.p.release(w)
}

// Stop waits for a running ready call of this device to return; after it
// returns ready is never called again. It must not be called from inside
// ready. Stopping a stopped watch does nothing.
func (w *Watch) Stop() {
	if w.fake != nil {
		w.stopFake()
		<-w.done
		return
	}
	d := w.dev
	d.mu.Lock()
	if d.watch == w {
		d.watch = nil
		w.disarm()
	}
	d.mu.Unlock()
	w.mu.Lock()
	for w.running {
		w.idle.Wait()
	}
	w.mu.Unlock()
}

// Close stops every watch and the workers, waiting for running ready
// calls to return. It must not be called from inside ready. The devices
// stay open.
func (p *Poller) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	started := p.started
	fakes := p.fakes
	p.fakes = nil
	p.mu.Unlock()
	for w := range fakes {
		w.Stop()
	}
	if !started {
		return
	}
	p.closing.Store(true)
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1) // an eventfd counter is in host order
	unix.Write(p.evfd, one[:])
	p.wg.Wait()
	for _, w := range p.ws {
		w.epf.Close()
	}
	unix.Close(p.evfd)
}

// watchFake serves a Fake with a goroutine of its own, on channels only,
// so that tests with Fakes run in a testing/synctest bubble.
func (p *Poller) watchFake(f *Fake, ready func(any) bool) (*Watch, error) {
	w := &Watch{p: p, ready: ready, fake: f, stop: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPollerClosed
	}
	if err := f.setWatch(w); err != nil {
		return nil, err
	}
	p.fakes[w] = struct{}{}
	go w.serveFake()
	return w, nil
}

func (w *Watch) stopFake() {
	w.stopOnce.Do(func() {
		close(w.stop)
		w.fake.clearWatch(w)
		w.p.mu.Lock()
		delete(w.p.fakes, w)
		w.p.mu.Unlock()
	})
}

func (w *Watch) serveFake() {
	defer close(w.done)
	var local any
	if w.p.newLocal != nil {
		local = w.p.newLocal()
	}
	f := w.fake
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		if len(f.inbound) > 0 {
			w.ready(local)
			continue
		}
		select {
		case <-w.stop:
			return
		case <-f.avail:
		}
	}
}
