package esp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// step is a packet offered to the window: accepted or not.
type step struct {
	seq uint64
	ok  bool
}

func TestWindowTable(t *testing.T) {
	cases := []struct {
		name  string
		size  int
		steps []step
	}{
		{"in order", 64, []step{{1, true}, {2, true}, {3, true}, {4, true}}},
		{"zero never", 64, []step{{0, false}, {1, true}, {0, false}}},
		{"duplicates", 64, []step{{1, true}, {1, false}, {5, true}, {5, false}, {3, true}, {3, false}}},
		{"reordered within", 64, []step{{10, true}, {3, true}, {9, true}, {4, true}, {3, false}}},
		{"left edge", 64, []step{{100, true}, {37, true}, {36, false}, {37, false}}},
		{"far ahead", 64, []step{{1, true}, {1 << 20, true}, {1<<20 - 63, true}, {1<<20 - 64, false}, {1, false}}},
		{"slide by one block", 64, []step{{63, true}, {64, true}, {127, true}, {64, false}, {65, true}, {63, false}}},
		{"ring reuse", 64, []step{{1, true}, {130, true}, {66, false}, {67, true}, {129, true}, {130, false}, {194, true}, {131, true}, {130, false}}},
		{"bigger window", 1024, []step{{2000, true}, {977, true}, {976, false}, {1500, true}, {1500, false}}},
		{"window 100 is 128", 100, []step{{200, true}, {73, true}, {72, false}}},
		{"top of 32 bits", 64, []step{{math.MaxUint32, true}, {math.MaxUint32 - 63, true}, {math.MaxUint32 - 64, false}}},
		{"into the next 2^32 (ESN)", 64, []step{{math.MaxUint32 - 1, true}, {1<<32 + 1, true}, {math.MaxUint32, true}, {math.MaxUint32 - 1, false}, {1 << 32, true}}},
	}
	for _, c := range cases {
		w := newWindow(c.size)
		for i, s := range c.steps {
			ok := w.check(s.seq)
			if ok {
				w.update(s.seq)
			}
			if ok != s.ok {
				t.Errorf("%s: step %d, seq %d: accepted %v, want %v", c.name, i, s.seq, ok, s.ok)
			}
		}
	}
}

// TestWindowModel runs the bitmap beside a plain model (a set of what was
// seen and the highest number) over random arrivals: in order, reordered,
// duplicated and jumping, for several window sizes.
func TestWindowModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{32, 64, 128, 200, 1024} {
		w := newWindow(size)
		wsize := w.size
		seen := map[uint64]bool{}
		var top uint64
		next := uint64(1)
		for range 200000 {
			var s uint64
			switch r.IntN(10) {
			case 0: // a duplicate or an old one
				s = next - uint64(r.IntN(int(2*wsize)+1))
			case 1: // a jump
				next += uint64(r.IntN(3 * int(wsize)))
				s = next
			default: // roughly in order
				s = next + uint64(r.IntN(8))
				next++
			}
			if s > 1<<62 { // underflow of next-...
				s = 0
			}
			want := s != 0 && !seen[s] && (s > top || top-s < wsize)
			got := w.check(s)
			if got != want {
				t.Fatalf("window %d: seq %d (top %d): %v, model %v", size, s, top, got, want)
			}
			if got {
				w.update(s)
				seen[s] = true
				top = max(top, s)
			}
		}
	}
}

// TestInferHigh is RFC 4303 Appendix A2.2, both cases, at the edges.
func TestInferHigh(t *testing.T) {
	const W = 64
	cases := []struct {
		top  uint64
		low  uint32
		high uint32
		ok   bool
	}{
		// Case A: Tl >= W-1.
		{1000, 1000, 0, true},
		{1000, 1001, 0, true},
		{1000, 937, 0, true},             // the window's left edge
		{1000, 936, 1, true},             // below it: the next subspace wrapped round
		{5<<32 | 100, 99, 5, true},       // in the window
		{5<<32 | 100, 37, 5, true},       // left edge
		{5<<32 | 100, 36, 6, true},       // taken as ahead
		{5<<32 | 0xffffffff, 3, 6, true}, // just across 2^32
		// Case B: Tl < W-1.
		{5<<32 | 10, 10, 5, true},
		{5<<32 | 10, 11, 5, true},
		{5<<32 | 10, 0, 5, true},
		{5<<32 | 10, 0xffffffff, 4, true}, // the end of the previous subspace
		{5<<32 | 10, 0xffffffff - 52, 4, true},
		{5<<32 | 10, 0xffffffff - 53, 5, true}, // left of the window: far ahead
		{10, 0xfffffff0, 0, false},             // before the SA's first packet
		{0, 1, 0, true},
	}
	for _, c := range cases {
		w := newWindow(W)
		w.top = c.top
		high, ok := w.inferHigh(c.low)
		if high != c.high || ok != c.ok {
			t.Errorf("top %#x low %#x: high %d %v, want %d %v", c.top, c.low, high, ok, c.high, c.ok)
		}
	}
}

// TestESNReorderAcrossWrap: an ESN SA delivers packets reordered within
// the window while the low half wraps, and refuses their duplicates.
func TestESNReorderAcrossWrap(t *testing.T) {
	c := Config{SPI: 7, Cipher: CipherAESCBC, EncKey: seq(1, 16), Integrity: HMACSHA196, AuthKey: seq(2, 20), ESN: true}
	s, o := pair(t, c)
	s.seq.Store(math.MaxUint32 - 40)
	o.win.top = math.MaxUint32 - 41
	var pkts [][]byte
	for i := range 80 {
		p, _ := s.Seal(nil, []byte{byte(i)}, 4)
		pkts = append(pkts, p)
	}
	r := rand.New(rand.NewPCG(5, 6))
	// Shuffle within runs of 16: reordering smaller than the window.
	for i := 0; i < len(pkts); i += 16 {
		run := pkts[i:min(i+16, len(pkts))]
		r.Shuffle(len(run), func(a, b int) { run[a], run[b] = run[b], run[a] })
	}
	copies := make([][]byte, len(pkts))
	for i, p := range pkts {
		copies[i] = append([]byte(nil), p...)
	}
	for i, p := range pkts {
		if _, _, err := o.Open(p); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	for i, p := range copies {
		if _, _, err := o.Open(p); err == nil {
			t.Fatalf("duplicate %d accepted", i)
		}
	}
	// The oldest duplicates are left of the window once it has moved on;
	// RFC 4303 A2.2 takes their low half as the next 2^32 ahead, and the
	// ICV, computed with that high half, refuses them.
	if st := o.Stats(); st.Decaps != 80 || st.ReplayFailed+st.VerifyFailed != 80 || st.ReplayFailed < 60 {
		t.Fatalf("%+v", st)
	}
}
