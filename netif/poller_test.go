package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"golang.org/x/sys/unix"
)

// readLog records what ready functions read, per device, and catches a
// device read by two workers at once.
type readLog struct {
	mu      sync.Mutex
	got     map[int][]uint32 // device → sequence numbers read
	busy    []atomic.Bool
	stopped []atomic.Bool // set once Stop returned
	errs    []string
}

func newReadLog(n int) *readLog {
	return &readLog{got: map[int][]uint32{}, busy: make([]atomic.Bool, n), stopped: make([]atomic.Bool, n)}
}

func (l *readLog) fail(format string, args ...any) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// ready returns a ready function for device i that reads at most budget
// packets with TryRead; id extracts (device, sequence) from a packet.
func (l *readLog) ready(i int, dev Device, budget int, id func([]byte) (int, uint32, bool), total *atomic.Int64) func(any) bool {
	return func(local any) bool {
		if l.stopped[i].Load() {
			l.fail("device %d: ready called after Stop returned", i)
		}
		if !l.busy[i].CompareAndSwap(false, true) {
			l.fail("device %d: ready running twice at once", i)
		}
		defer l.busy[i].Store(false)
		buf := local.([]byte)
		for range budget {
			n, err := dev.TryRead(buf)
			if errors.Is(err, ErrWouldBlock) || errors.Is(err, ErrClosed) {
				return false
			}
			if err != nil {
				l.fail("device %d: %v", i, err)
				return false
			}
			d, seq, ok := id(buf[:n])
			if !ok {
				continue // not one of ours
			}
			if d != i {
				l.fail("device %d read a packet of device %d", i, d)
			}
			l.mu.Lock()
			l.got[i] = append(l.got[i], seq)
			l.mu.Unlock()
			total.Add(1)
		}
		return true
	}
}

func (l *readLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs[:min(len(l.errs), 10)] {
		t.Error(e)
	}
}

func fakeID(p []byte) (int, uint32, bool) {
	if len(p) != 8 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(p)), binary.BigEndian.Uint32(p[4:]), true
}

// TestPollerFakes: Fakes in a synctest bubble — every packet read once, in
// order, by a ready that never runs twice at once for one device and
// stops at its budget; nothing read after Stop; Close of a device and of
// the poller leave no goroutine behind (synctest.Test would fail).
func TestPollerFakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var locals atomic.Int32
		p := NewPoller(2, func() any { locals.Add(1); return make([]byte, 64) })
		const n, per = 6, 20
		log := newReadLog(n)
		var total atomic.Int64
		devs := make([]*Fake, n)
		watches := make([]*Watch, n)
		for i := range devs {
			devs[i] = NewFake(fmt.Sprintf("f%d", i), per)
			w, err := p.Watch(devs[i], log.ready(i, devs[i], 3, fakeID, &total))
			if err != nil {
				t.Fatal(err)
			}
			watches[i] = w
		}
		if _, err := p.Watch(devs[0], func(any) bool { return false }); err == nil {
			t.Error("a Fake watched twice")
		}
		inject := func(i int, seq uint32) {
			var b [8]byte
			binary.BigEndian.PutUint32(b[:], uint32(i))
			binary.BigEndian.PutUint32(b[4:], seq)
			if err := devs[i].Inject(b[:]); err != nil {
				t.Fatal(err)
			}
		}
		for seq := range uint32(per) {
			for i := range n {
				inject(i, seq)
			}
		}
		synctest.Wait()
		if total.Load() != n*per {
			t.Fatalf("%d packets read, want %d", total.Load(), n*per)
		}
		for i := range n {
			for j, seq := range log.got[i] {
				if seq != uint32(j) {
					t.Fatalf("device %d: packet %d has sequence %d", i, j, seq)
				}
			}
		}

		// Stop device 0 and close device 1: what is injected afterwards
		// stays unread (0) or is refused (1).
		watches[0].Stop()
		log.stopped[0].Store(true)
		watches[0].Stop() // twice: nothing
		devs[1].Close()
		inject(0, per)
		if err := devs[1].Inject([]byte{1}); !errors.Is(err, ErrClosed) {
			t.Errorf("Inject into a closed Fake: %v", err)
		}
		inject(2, per)
		synctest.Wait()
		if total.Load() != n*per+1 {
			t.Errorf("%d packets read, want %d", total.Load(), n*per+1)
		}
		if b := make([]byte, 8); true {
			if _, err := devs[0].TryRead(b); err != nil {
				t.Errorf("the packet for the stopped device: %v", err)
			}
		}
		// A stopped device can be watched again.
		if _, err := p.Watch(devs[0], log.ready(0, devs[0], 3, fakeID, &total)); err != nil {
			t.Fatal(err)
		}
		log.stopped[0].Store(false)
		inject(0, per+1)
		synctest.Wait()
		if total.Load() != n*per+2 {
			t.Errorf("%d packets read after watching again, want %d", total.Load(), n*per+2)
		}
		// Time passes for the bubble: nothing spins.
		time.Sleep(time.Hour)
		p.Close()
		if _, err := p.Watch(NewFake("late", 1), func(any) bool { return false }); err == nil {
			t.Error("Watch after Close succeeded")
		}
		log.check(t)
		if locals.Load() != n+1 {
			t.Errorf("newLocal called %d times, want one per watched Fake (%d)", locals.Load(), n+1)
		}
	})
}

func TestPollerRefusesOthers(t *testing.T) {
	p := NewPoller(1, nil)
	defer p.Close()
	if _, err := p.Watch(&struct{ Fake }{}, func(any) bool { return false }); err == nil {
		t.Error("watched a device of another type")
	}
	if _, err := p.Watch(NewFake("f", 1), nil); err == nil {
		t.Error("watched without a ready function")
	}
}

// udpID reads (device, sequence) from the payload of an IPv4 UDP packet
// the kernel routed into a TUN.
func udpID(p []byte) (int, uint32, bool) {
	if len(p) < 28+8 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return 0, 0, false
	}
	ihl := int(p[0]&15) * 4
	if len(p) < ihl+8+8 {
		return 0, 0, false
	}
	pl := p[ihl+8:]
	return int(binary.BigEndian.Uint32(pl)), binary.BigEndian.Uint32(pl[4:]), true
}

// tunLab makes n TUNs Vt0… in the calling thread's namespace, each a
// point-to-point link from 198.19.0.1 to its own peer in 198.19.16.0/20,
// up. It returns them and the peers.
func tunLab(t testing.TB, k *Kernel, n int) ([]*TUN, []netip.Addr) {
	t.Helper()
	tuns := make([]*TUN, n)
	peers := make([]netip.Addr, n)
	local := netip.MustParseAddr("198.19.0.1")
	for i := range n {
		name := fmt.Sprintf("Vt%d", i)
		tun, err := k.createTUN(name, false)
		if err != nil {
			t.Fatal(err)
		}
		tuns[i] = tun
		peers[i] = netip.AddrFrom4([4]byte{198, 19, byte(16 + i>>8), byte(i)})
		for _, err := range []error{k.AddPeerAddress(name, local, peers[i]), k.SetUp(name)} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return tuns, peers
}

// closeAll closes TUNs on 16 goroutines: a close waits for RCU grace
// periods in the kernel (milliseconds), which overlap.
func closeAll(tuns []*TUN) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(tuns); i = int(next.Add(1)) - 1 {
				tuns[i].Close()
			}
		})
	}
	wg.Wait()
}

// sender sends UDP datagrams from the calling thread's namespace.
type sender struct{ fd int }

func newSender(t testing.TB) *sender {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	return &sender{fd: fd}
}

func (s *sender) send(to netip.Addr, dev int, seq uint32) error {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], uint32(dev))
	binary.BigEndian.PutUint32(b[4:], seq)
	for range 100 {
		err := unix.Sendto(s.fd, b[:], 0, &unix.SockaddrInet4{Port: 9, Addr: to.As4()})
		if err != unix.ENOBUFS && err != unix.EAGAIN {
			return err
		}
		runtime.Gosched()
	}
	return unix.ENOBUFS
}

func (s *sender) close() { unix.Close(s.fd) }

// waitFor waits (bounded) until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPollerTUNs: 1,000 TUNs in a namespace watched by 2 workers; packets
// the kernel routes into them are each read exactly once, by the ready of
// their own device; a TUN costs no goroutine; Stop, Close and new TUNs
// that take over closed descriptor numbers race with the workers.
func TestPollerTUNs(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("poller")
	const n, per = 1000, 5
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		defer k.Close()
		tuns, peers := tunLab(t, k, n)
		defer func() { closeAll(tuns) }()
		g0 := runtime.NumGoroutine()
		p := NewPoller(2, func() any { return make([]byte, 2048) })
		defer p.Close()
		log := newReadLog(2 * n)
		var total atomic.Int64
		watches := make([]*Watch, n)
		for i, tun := range tuns {
			if watches[i], err = p.Watch(tun, log.ready(i, tun, 4, udpID, &total)); err != nil {
				return err
			}
		}
		if _, err := p.Watch(tuns[0], func(any) bool { return false }); err == nil {
			t.Error("a TUN watched twice")
		}
		if g := runtime.NumGoroutine(); g > g0+2 {
			t.Errorf("%d goroutines for %d watched TUNs and 2 workers (%d before)", g, n, g0)
		}
		s := newSender(t)
		defer s.close()
		for seq := range uint32(per) {
			for i := range n {
				if err := s.send(peers[i], i, seq); err != nil {
					return err
				}
			}
		}
		waitFor(t, "every packet", func() bool { return total.Load() >= n*per })
		log.mu.Lock()
		for i := range n {
			seen := map[uint32]int{}
			for _, seq := range log.got[i] {
				seen[seq]++
			}
			for seq := range uint32(per) {
				if seen[seq] != 1 {
					t.Errorf("device %d: packet %d read %d times", i, seq, seen[seq])
				}
			}
		}
		log.mu.Unlock()
		if total.Load() != n*per {
			t.Errorf("%d packets read, want %d", total.Load(), n*per)
		}

		// Races: while packets flow, stop the watches of the first
		// third, close the TUNs of the second third, and make new TUNs
		// (on the freed descriptor numbers) watched in their place.
		var wg sync.WaitGroup
		wg.Go(func() {
			for seq := uint32(per); seq < per+3; seq++ {
				for i := range n {
					s.send(peers[i], i, seq) // to a closed TUN: an error, fine
				}
			}
		})
		third := n / 3
		wg.Go(func() {
			for i := range third {
				watches[i].Stop()
				log.stopped[i].Store(true)
			}
		})
		wg.Go(func() { closeAll(tuns[third : 2*third]) })
		wg.Go(func() {
			// Watch and stop repeatedly, concurrently with the rest.
			for i := 2 * third; i < n; i += 10 {
				watches[i].Stop()
				w, err := p.Watch(tuns[i], log.ready(i, tuns[i], 4, udpID, &total))
				if err != nil {
					log.fail("watch again %d: %v", i, err)
					continue
				}
				watches[i] = w
			}
		})
		wg.Wait()

		// New TUNs take the closed ones' descriptor numbers; their
		// packets reach their own ready only.
		for i := third; i < 2*third; i++ {
			name := fmt.Sprintf("Vt%d", i)
			tun, err := k.createTUN(name, false)
			if err != nil {
				return err
			}
			tuns[i] = tun
			for _, err := range []error{k.AddPeerAddress(name, netip.MustParseAddr("198.19.0.1"), peers[i]), k.SetUp(name)} {
				if err != nil {
					return err
				}
			}
			if watches[i], err = p.Watch(tun, log.ready(n+i, tun, 4, func(b []byte) (int, uint32, bool) {
				d, seq, ok := udpID(b)
				return n + d, seq, ok
			}, &total)); err != nil {
				return err
			}
		}
		before := total.Load()
		for i := third; i < 2*third; i++ {
			if err := s.send(peers[i], i, 1<<20); err != nil {
				return err
			}
		}
		waitFor(t, "the new TUNs' packets", func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			for i := third; i < 2*third; i++ {
				if len(log.got[n+i]) == 0 {
					return false
				}
			}
			return true
		})
		if got := total.Load() - before; got < int64(third) {
			t.Errorf("%d packets read on the new TUNs, want %d", got, third)
		}
		log.check(t)
		p.Close()
		if g := runtime.NumGoroutine(); g > g0 {
			waitFor(t, "the workers to end", func() bool { return runtime.NumGoroutine() <= g0 })
		}
		for i := range third {
			// Stopped, still open: readable by anyone else.
			if _, err := tuns[i].TryRead(make([]byte, 2048)); err != nil && !errors.Is(err, ErrWouldBlock) {
				t.Errorf("TryRead of a stopped TUN: %v", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTUNReadClose: the blocking Read waits on the runtime poller and
// Close wakes it with ErrClosed; a closed TUN refuses everything.
func TestTUNReadClose(t *testing.T) {
	lab := nstest.New(t)
	ns := lab.NS("readclose")
	err := ns.Do(func() error {
		tun, err := CreateTUN("Vr1")
		if err != nil {
			return err
		}
		if _, err := tun.TryRead(make([]byte, 100)); !errors.Is(err, ErrWouldBlock) {
			t.Errorf("TryRead of an idle TUN: %v", err)
		}
		local, peer := netip.MustParseAddr("198.19.0.1"), netip.MustParseAddr("198.19.0.2")
		if err := AddPeerAddress("Vr1", local, peer); err != nil {
			return err
		}
		if err := SetUp("Vr1"); err != nil {
			return err
		}
		s := newSender(t)
		defer s.close()
		if err := s.send(peer, 7, 1); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		for range 20 { // skip anything the kernel sent before
			n, err := tun.Read(buf)
			if err != nil {
				return err
			}
			if d, seq, ok := udpID(buf[:n]); ok {
				if d != 7 || seq != 1 {
					t.Errorf("read packet %d/%d", d, seq)
				}
				break
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := tun.Read(buf)
			done <- err
		}()
		if err := tun.Close(); err != nil {
			return err
		}
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Read across Close: %v", err)
		}
		if err := tun.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := tun.Read(buf); !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
		if _, err := tun.TryRead(buf); !errors.Is(err, ErrClosed) {
			t.Errorf("TryRead after Close: %v", err)
		}
		if _, err := tun.Write([]byte{0x45}); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		p := NewPoller(1, nil)
		defer p.Close()
		if _, err := p.Watch(tun, func(any) bool { return false }); !errors.Is(err, ErrClosed) {
			t.Errorf("Watch of a closed TUN: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRead: packets the kernel routes round-robin into n TUNs, read
// by a Poller with 2 workers or by a goroutine per TUN (as
// dataplane.RunDevice reads). The same sender feeds both, keeping at most
// a window of packets in flight; cpu-ns/pkt is the process's CPU time
// (sender included) per packet.
//
//	go test ./netif -run '^$' -bench Read -benchtime 200000x
func BenchmarkRead(b *testing.B) {
	for _, n := range []int{10, 1000} {
		for _, mode := range []string{"poller", "goroutines"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) { benchRead(b, mode, n) })
		}
	}
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchRead(b *testing.B, mode string, n int) {
	lab := nstest.New(b)
	ns := lab.NS("bench")
	var tuns []*TUN
	var peers []netip.Addr
	var s *sender
	err := ns.Do(func() error {
		k, err := NewKernel()
		if err != nil {
			return err
		}
		defer k.Close()
		tuns, peers = tunLab(b, k, n)
		s = newSender(b)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	defer closeAll(tuns)
	var read atomic.Int64
	switch mode {
	case "poller":
		p := NewPoller(2, func() any { return make([]byte, 64<<10) })
		defer p.Close()
		for _, tun := range tuns {
			if _, err := p.Watch(tun, func(local any) bool {
				buf := local.([]byte)
				for range 64 {
					if _, err := tun.TryRead(buf); err != nil {
						return false
					}
					read.Add(1)
				}
				return true
			}); err != nil {
				b.Fatal(err)
			}
		}
	case "goroutines":
		var wg sync.WaitGroup
		defer wg.Wait()
		defer closeAll(tuns)
		for _, tun := range tuns {
			wg.Go(func() {
				buf := make([]byte, 64<<10)
				for {
					if _, err := tun.Read(buf); err != nil {
						return
					}
					read.Add(1)
				}
			})
		}
	}
	window := int64(min(n*16, 4096))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		for int64(i)-read.Load() >= window {
			runtime.Gosched()
		}
		if err := s.send(peers[i%n], i%n, uint32(i)); err != nil {
			b.Fatal(err)
		}
	}
	last, since := read.Load(), time.Now()
	for read.Load() < int64(b.N) {
		if r := read.Load(); r != last {
			last, since = r, time.Now()
		} else if time.Since(since) > 5*time.Second {
			b.Fatalf("%d of %d packets read: the rest were lost", r, b.N)
		}
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/pkt")
}
