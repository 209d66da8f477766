package l2tp

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vpdn/vpdn/wire/l2tp"
)

type sent struct {
	ns, nr uint16
	zlb    bool
	at     time.Duration
}

func newTestRel(t0 time.Time, out *[]sent, now *time.Time) *reliable {
	r := newReliable(relConfig{timeoutMin: time.Second, timeoutMax: 8 * time.Second, retries: 5,
		ackDelay: 100 * time.Millisecond, recvWindow: 8}, func(b []byte) {
		h, err := l2tp.ParseHeader(b)
		if err != nil {
			panic(err)
		}
		*out = append(*out, sent{h.Ns, h.Nr, len(h.Payload(b)) == 0, now.Sub(t0)})
	})
	return r
}

func hello(t *testing.T) []byte {
	m := l2tp.Message{Type: l2tp.MsgHELLO}
	b, err := m.Append(nil, 1, 0, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReliableSlowStart(t *testing.T) {
	t0 := time.Unix(0, 0)
	now := t0
	var out []sent
	r := newTestRel(t0, &out, &now)
	r.setPeerWindow(4)
	for range 6 {
		r.queue(now, hello(t), l2tp.MsgHELLO, 6)
	}
	if len(out) != 1 {
		t.Fatalf("CWND starts at 1 (Appendix A): %d sent", len(out))
	}
	r.ack(now, 1) // cwnd 2
	if len(out) != 3 {
		t.Fatalf("after one ack: %d sent", len(out))
	}
	r.ack(now, 3) // cwnd 4 = ssthresh = peer window
	if len(out) != 6 || len(r.unacked) != 3 {
		t.Fatalf("after acks: %d sent, %d unacked", len(out), len(r.unacked))
	}
	if r.window() != 4 {
		t.Fatalf("window %d, want the peer's 4", r.window())
	}
	for i, s := range out {
		if int(s.ns) != i {
			t.Fatalf("Ns %d at %d", s.ns, i)
		}
	}
}

func TestReliableBackoff(t *testing.T) {
	t0 := time.Unix(0, 0)
	now := t0
	var out []sent
	r := newTestRel(t0, &out, &now)
	r.queue(now, hello(t), l2tp.MsgHELLO, 6)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		now = r.deadline()
		err = r.tick(now, 1)
	}
	if err != ErrRetransmit {
		t.Fatalf("err %v", err)
	}
	want := []time.Duration{0, 1, 3, 7, 15, 23}
	if len(out) != len(want) {
		t.Fatalf("%d transmissions: %+v", len(out), out)
	}
	for i, s := range out {
		if s.at != want[i]*time.Second || s.ns != 0 {
			t.Errorf("transmission %d at %v ns %d, want %v", i, s.at, s.ns, want[i]*time.Second)
		}
	}
	if now.Sub(t0) != 31*time.Second || r.cycle() != 31*time.Second {
		t.Errorf("gave up at %v, cycle %v; want 31s (1+2+4+8+8+8)", now.Sub(t0), r.cycle())
	}
	if r.cwnd != 1 || r.ssthresh != 1 {
		t.Errorf("cwnd %d ssthresh %d after loss", r.cwnd, r.ssthresh)
	}
}

func TestReliableReceive(t *testing.T) {
	t0 := time.Unix(0, 0)
	now := t0
	var out []sent
	r := newTestRel(t0, &out, &now)
	var got []uint16
	deliver := func(b []byte) {
		h, _ := l2tp.ParseHeader(b)
		got = append(got, h.Ns)
	}
	in := func(ns uint16) bool {
		b := hello(t)
		l2tp.PatchNsNr(b, ns, 0)
		h, _ := l2tp.ParseHeader(b)
		return r.recv(now, h.Ns, h.Nr, b, false, deliver)
	}
	in(2) // held
	in(1) // held
	if len(got) != 0 || r.stats.OutOfOrder != 2 {
		t.Fatalf("delivered early: %v", got)
	}
	in(0)
	if len(got) != 3 || got[0] != 0 || got[2] != 2 || r.nr != 3 {
		t.Fatalf("delivered %v nr %d", got, r.nr)
	}
	if !in(1) {
		t.Fatal("duplicate must be acked at once (§5.8)")
	}
	if in(3 + 8) {
		t.Fatal("beyond window")
	}
	if r.stats.BeyondWindow != 1 || len(got) != 3 {
		t.Fatal("beyond-window message delivered")
	}
	// Delayed ack: a ZLB goes out after ackDelay unless a message carries Nr.
	if d := r.deadline(); d.Sub(t0) != 100*time.Millisecond {
		t.Fatalf("ack due at %v", d.Sub(t0))
	}
	now = r.deadline()
	if err := r.tick(now, 9); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !out[0].zlb || out[0].nr != 3 {
		t.Fatalf("ZLB %+v", out)
	}
	in(3)
	r.queue(now, hello(t), l2tp.MsgHELLO, 6)
	if !r.ackDue.IsZero() || out[1].nr != 4 {
		t.Fatalf("piggy-backed ack: %+v", out)
	}
}

// TestReliableCongestionAvoidance: after a retransmission SSTHRESH is half
// of CWND and CWND restarts at 1; above SSTHRESH, CWND grows by one per
// CWND acknowledged messages (Appendix A).
func TestReliableCongestionAvoidance(t *testing.T) {
	t0 := time.Unix(0, 0)
	now := t0
	var out []sent
	r := newTestRel(t0, &out, &now)
	r.setPeerWindow(8)
	next := uint16(0)
	ackAll := func() {
		for len(r.unacked) > 0 {
			next = r.unacked[len(r.unacked)-1].ns + 1
			r.ack(now, next)
		}
	}
	for range 40 {
		r.queue(now, hello(t), l2tp.MsgHELLO, 6)
	}
	// Slow start to the peer's window.
	for r.cwnd < 8 {
		r.ack(now, r.unacked[0].ns+1)
	}
	// Loss: the oldest times out.
	now = r.deadline()
	if err := r.tick(now, 1); err != nil {
		t.Fatal(err)
	}
	if r.cwnd != 1 || r.ssthresh != 4 {
		t.Fatalf("after loss cwnd %d ssthresh %d, want 1 and 4", r.cwnd, r.ssthresh)
	}
	// Slow start again up to 4, then one step per 4 acks.
	for r.cwnd < 4 {
		r.ack(now, r.unacked[0].ns+1)
	}
	for i := 0; i < 3; i++ {
		r.ack(now, r.unacked[0].ns+1)
	}
	if r.cwnd != 4 {
		t.Fatalf("cwnd %d after 3 acks in congestion avoidance", r.cwnd)
	}
	r.ack(now, r.unacked[0].ns+1)
	if r.cwnd != 5 {
		t.Fatalf("cwnd %d after 4 acks in congestion avoidance, want 5", r.cwnd)
	}
	ackAll()
	_ = next
}

// TestReliableLossyModel drives two reliable endpoints over a simulated
// link that drops 30 %, duplicates 10 % and delays packets at random
// (reordering them), with a virtual clock, and checks the model property:
// both sides deliver every message exactly once and in order.
func TestReliableLossyModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		type pkt struct {
			at  time.Time
			to  int
			b   []byte
			seq int
		}
		var queue []pkt
		now := time.Unix(0, 0)
		seq := 0
		cfg := relConfig{timeoutMin: time.Second, timeoutMax: 8 * time.Second, retries: 50,
			ackDelay: 100 * time.Millisecond, recvWindow: 16}
		var ends [2]*reliable
		for i := range ends {
			other := 1 - i
			ends[i] = newReliable(cfg, func(b []byte) {
				if rng.Float64() < 0.3 {
					return
				}
				copies := 1
				if rng.Float64() < 0.1 {
					copies = 2
				}
				for range copies {
					d := time.Duration(rng.Int64N(int64(400 * time.Millisecond)))
					seq++
					queue = append(queue, pkt{now.Add(d), other, append([]byte(nil), b...), seq})
				}
			})
			ends[i].setPeerWindow(8)
		}
		const n = 300
		var got [2][]uint16
		for i := range n {
			for side := range 2 {
				m := l2tp.Message{Type: l2tp.MsgHELLO, FirmwareRevision: uint16(i)}
				m.Set(l2tp.AVPFirmwareRevision)
				b, _ := m.Append(nil, 1, 0, 0, 0, nil)
				ends[side].queue(now, b, l2tp.MsgHELLO, 51)
			}
		}
		for steps := 0; steps < 1_000_000; steps++ {
			if len(got[0]) == n && len(got[1]) == n && ends[0].idle() && ends[1].idle() {
				break
			}
			// Next event: earliest packet or timer.
			next := time.Time{}
			pi := -1
			for i, p := range queue {
				if pi < 0 || p.at.Before(queue[pi].at) || (p.at.Equal(queue[pi].at) && p.seq < queue[pi].seq) {
					pi = i
				}
			}
			if pi >= 0 {
				next = queue[pi].at
			}
			for _, e := range ends {
				if d := e.deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
					next, pi = d, -1
				}
			}
			if next.IsZero() {
				t.Fatalf("seed %d: stalled with %d and %d delivered", seed, len(got[0]), len(got[1]))
			}
			now = next
			if pi >= 0 {
				p := queue[pi]
				queue = append(queue[:pi], queue[pi+1:]...)
				h, err := l2tp.ParseHeader(p.b)
				if err != nil {
					t.Fatal(err)
				}
				e := ends[p.to]
				ack := e.recv(now, h.Ns, h.Nr, p.b, len(h.Payload(p.b)) == 0, func(b []byte) {
					hh, _ := l2tp.ParseHeader(b)
					var m l2tp.Message
					if err := m.Decode(hh.Payload(b), nil); err != nil {
						t.Fatal(err)
					}
					got[p.to] = append(got[p.to], m.FirmwareRevision)
				})
				if ack {
					e.sendZLB(1)
				}
				continue
			}
			for _, e := range ends {
				if d := e.deadline(); !d.IsZero() && !now.Before(d) {
					if err := e.tick(now, 1); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
			}
		}
		if seed == 1 {
			t.Logf("side 0 %+v; side 1 %+v; virtual time %v", ends[0].stats, ends[1].stats, now.Sub(time.Unix(0, 0)))
		}
		if ends[0].stats.Retransmits == 0 || ends[0].stats.Duplicates == 0 || ends[0].stats.OutOfOrder == 0 {
			t.Fatalf("seed %d: faults not exercised: %+v", seed, ends[0].stats)
		}
		for side := range 2 {
			if len(got[side]) != n {
				t.Fatalf("seed %d: side %d delivered %d of %d", seed, side, len(got[side]), n)
			}
			for i, v := range got[side] {
				if int(v) != i {
					t.Fatalf("seed %d: side %d delivered %d at %d", seed, side, v, i)
				}
			}
		}
	}
}

// TestReliableZLBNs: a ZLB carries the Ns of the next message to be sent,
// which is that of the first one waiting for window space when the window
// is full, not the next Ns to assign (RFC 2661 §5.8). Found against
// l2tpns, which drops a ZLB whose Ns is not the one it expects.
func TestReliableZLBNs(t *testing.T) {
	t0 := time.Unix(0, 0)
	now := t0
	var out []sent
	r := newTestRel(t0, &out, &now)
	r.setPeerWindow(4)
	r.sendZLB(1)
	if z := out[len(out)-1]; !z.zlb || z.ns != 0 {
		t.Fatalf("ZLB before any message: %+v, want Ns 0", z)
	}
	for range 6 { // CWND 1: message 0 sent, 1-5 waiting
		r.queue(now, hello(t), l2tp.MsgHELLO, 6)
	}
	r.sendZLB(1)
	if z := out[len(out)-1]; !z.zlb || z.ns != 1 {
		t.Fatalf("ZLB with messages waiting: %+v, want Ns 1 (the first waiting)", z)
	}
	r.ack(now, 1) // CWND 2: messages 1 and 2 go
	r.sendZLB(1)
	if z := out[len(out)-1]; !z.zlb || z.ns != 3 {
		t.Fatalf("ZLB after an ack: %+v, want Ns 3", z)
	}
	r.ack(now, 3) // 3, 4 and 5 go
	r.ack(now, 6)
	if len(r.waiting) != 0 {
		t.Fatalf("%d still waiting", len(r.waiting))
	}
	r.sendZLB(1)
	if z := out[len(out)-1]; !z.zlb || z.ns != 6 {
		t.Fatalf("ZLB with nothing waiting: %+v, want Ns 6", z)
	}
}
