package ppp

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// manualClock is a clock.Clock whose timers fire only when the test says so.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// pending counts timers not yet stopped or fired.
func (c *manualClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// capture records frames a link sends.
type capture struct{ frames [][]byte }

func (c *capture) SendFrame(b []byte) error {
	c.frames = append(c.frames, bytes.Clone(b))
	return nil
}

// packets returns the control packets of proto sent so far.
func (c *capture) packets(t *testing.T, proto wire.Protocol) []wire.Packet {
	t.Helper()
	var out []wire.Packet
	for _, f := range c.frames {
		p, payload, err := wire.ParseFrame(f)
		if err != nil {
			t.Fatalf("link sent a malformed frame %x: %v", f, err)
		}
		if p != proto {
			continue
		}
		pkt, err := wire.ParsePacket(payload)
		if err != nil {
			t.Fatalf("link sent a malformed packet %x: %v", payload, err)
		}
		out = append(out, pkt)
	}
	return out
}

// syncPost runs posted functions in a queue the test drains.
type syncPost struct{ q []func() }

func (s *syncPost) post(f func()) { s.q = append(s.q, f) }
func (s *syncPost) drain() {
	for len(s.q) > 0 {
		f := s.q[0]
		s.q = s.q[1:]
		f()
	}
}

// syncBuffer is a bytes.Buffer safe for a logger writing and a test
// reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
