package mppe

import (
	"bytes"
	stdrc4 "crypto/rc4"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

var (
	key128 = []byte("0123456789abcdef")
	key8   = []byte("01234567")
)

func startKey(s Strength) []byte {
	if s == Key128 {
		return key128
	}
	return key8
}

// refSender is the sender of RFC 3078 §3, §7 and §8 written plainly, one
// crypto/rc4 cipher per key, as a model for Encrypter.
type refSender struct {
	start, session []byte
	s              Strength
	stateless      bool
	c              *stdrc4.Cipher
	count          int
}

func newRefSender(start []byte, s Strength, stateless bool) *refSender {
	start = start[:s.KeyLen()]
	r := &refSender{start: start, s: s, stateless: stateless, count: -1}
	r.session = refReduce(refNewKey(start, start), s)
	r.c, _ = stdrc4.NewCipher(r.session)
	return r
}

func (r *refSender) packet(pt []byte, reset bool) []byte {
	r.count = (r.count + 1) % 4096
	flags := byte(0x10)
	if r.stateless || r.count%256 == 255 {
		r.session = refChangeKey(r.start, r.session, r.s)
		r.c, _ = stdrc4.NewCipher(r.session)
		flags |= 0x80
	} else if reset {
		r.c, _ = stdrc4.NewCipher(r.session)
		flags |= 0x80
	}
	out := []byte{flags | byte(r.count>>8), byte(r.count)}
	ct := make([]byte, len(pt))
	r.c.XORKeyStream(ct, pt)
	return append(out, ct...)
}

// TestEncryptKnownAnswer: the first stateful packet is "test message"
// under the RFC 3079 §3.5 session key with a fresh table, count 0.
func TestEncryptKnownAnswer(t *testing.T) {
	for _, tc := range rfc3079 {
		if tc.ciph == "" {
			continue
		}
		e, err := NewEncrypter(unhex(t, tc.start), tc.s, false)
		if err != nil {
			t.Fatal(err)
		}
		got := e.Encrypt(nil, []byte("test message"))
		if want := append([]byte{0x10, 0x00}, unhex(t, tc.ciph)...); !bytes.Equal(got, want) {
			t.Errorf("%v: %X, want %X", tc.s, got, want)
		}
	}
}

// TestEncryptMatchesModel runs Encrypter beside refSender over more than a
// whole count space, with Reset-Requests at pseudo-random places.
func TestEncryptMatchesModel(t *testing.T) {
	for _, s := range []Strength{Key40, Key56, Key128} {
		for _, stateless := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/stateless=%v", s, stateless), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(s), 7))
				e, err := NewEncrypter(startKey(s), s, stateless)
				if err != nil {
					t.Fatal(err)
				}
				ref := newRefSender(startKey(s), s, stateless)
				for i := range 4200 {
					pt := make([]byte, 4+r.IntN(60))
					binary.BigEndian.PutUint32(pt, uint32(i))
					reset := r.IntN(50) == 0
					if reset {
						e.ResetRequested()
						e.ResetRequested() // two requests, one flush
					}
					got, want := e.Encrypt(nil, pt), ref.packet(pt, reset)
					if !bytes.Equal(got, want) {
						t.Fatalf("packet %d: %x, want %x", i, got[:min(len(got), 8)], want[:min(len(want), 8)])
					}
				}
				st := e.Stats()
				if st.Packets != 4200 || (stateless && st.Rekeys != 4200) || (!stateless && st.Rekeys != 16) {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

// link carries packets from an Encrypter to a Decrypter through loss,
// duplication and reordering drawn from a seeded generator, answers
// ErrResync with a Reset-Request a few packets later, and checks that
// every packet accepted decrypts to what was sent.
type link struct {
	t                  *testing.T
	r                  *rand.Rand
	e                  *Encrypter
	d                  *Decrypter
	loss, dup, reorder int // per thousand
	delivered, sent    int
	resetIn            int // packets until the Reset-Request reaches the sender, -1: none pending
	errs               map[error]int
	held               []byte
	sentPlain          map[uint32][]byte
	buf, out           []byte
}

func newLink(t *testing.T, s Strength, stateless bool, seed uint64) *link {
	e, err := NewEncrypter(startKey(s), s, stateless)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDecrypter(startKey(s), s, stateless)
	if err != nil {
		t.Fatal(err)
	}
	return &link{t: t, r: rand.New(rand.NewPCG(seed, uint64(s))), e: e, d: d, resetIn: -1, errs: map[error]int{}, sentPlain: map[uint32][]byte{}}
}

func (l *link) deliver(pkt []byte) {
	var err error
	l.out, err = l.d.Decrypt(l.out[:0], pkt)
	if err != nil {
		l.errs[err]++
		// The first ErrResync sends a Reset-Request; while discarding,
		// CCP's restart timer sends it again (RFC 1962 §2.1).
		if (err == ErrResync || err == ErrDiscarding) && l.resetIn < 0 {
			l.resetIn = l.r.IntN(4)
		}
		return
	}
	seq := binary.BigEndian.Uint32(l.out)
	if want := l.sentPlain[seq]; !bytes.Equal(l.out, want) {
		l.t.Fatalf("packet %d decrypted wrong", seq)
	}
	l.delivered++
}

func (l *link) send(n int) {
	for range n {
		if l.resetIn == 0 {
			l.e.ResetRequested()
		}
		if l.resetIn >= 0 {
			l.resetIn--
		}
		pt := make([]byte, 4+l.r.IntN(100))
		binary.BigEndian.PutUint32(pt, uint32(l.sent))
		for i := 4; i < len(pt); i++ {
			pt[i] = byte(l.r.Uint32())
		}
		l.sentPlain[uint32(l.sent)] = pt
		l.sent++
		pkt := l.e.Encrypt(nil, pt)
		switch x := l.r.IntN(1000); {
		case x < l.loss:
			continue
		case x < l.loss+l.reorder && l.held == nil:
			l.held = pkt // overtaken by the next one
			continue
		case x < l.loss+l.reorder+l.dup:
			l.deliver(pkt)
		}
		l.deliver(pkt)
		if l.held != nil {
			l.deliver(l.held)
			l.held = nil
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []Strength{Key40, Key56, Key128} {
		for _, stateless := range []bool{false, true} {
			for _, tc := range []struct {
				name               string
				loss, dup, reorder int
			}{{"clean", 0, 0, 0}, {"loss", 30, 0, 0}, {"dup", 0, 30, 0}, {"reorder", 0, 0, 30}, {"all", 20, 20, 20}} {
				t.Run(fmt.Sprintf("%v/stateless=%v/%s", s, stateless, tc.name), func(t *testing.T) {
					l := newLink(t, s, stateless, 11)
					l.loss, l.dup, l.reorder = tc.loss, tc.dup, tc.reorder
					l.send(5000) // more than one count space
					lost := tc.loss + tc.reorder
					// Stateless loses only what the link lost (and the
					// overtaken packets); stateful also what it discards
					// until the flushed packet.
					floor := l.sent * (1000 - 2*lost) / 1000
					if !stateless {
						floor = l.sent * (1000 - 8*lost) / 1000
					}
					if l.delivered < floor {
						t.Errorf("delivered %d of %d, errors %v", l.delivered, l.sent, l.errs)
					}
					if tc.name == "clean" && (l.delivered != l.sent || len(l.errs) != 0) {
						t.Errorf("clean link: %d of %d, %v", l.delivered, l.sent, l.errs)
					}
					for err := range l.errs {
						if err != ErrLate && err != ErrResync && err != ErrDiscarding {
							t.Errorf("unexpected error %v", err)
						}
					}
					if !stateless && lost > 0 && l.d.Stats().Flushes == 0 {
						t.Error("losses but no resynchronisation")
					}
					if tc.dup > 0 && l.d.Stats().Late == 0 {
						t.Error("no duplicate counted late")
					}
					if st := l.d.Stats(); st.Packets != uint64(l.delivered) || st.Late != uint64(l.errs[ErrLate]) || st.Resyncs != uint64(l.errs[ErrResync]) {
						t.Errorf("stats %+v, errors %v", st, l.errs)
					}
				})
			}
		}
	}
}

// TestStatefulResync walks the RFC 3078 §8.2 exchange by hand, across a
// flag packet lost with the rest.
// TestNextCoherency: Stats report the count the next packet gets (sender)
// or is expected with (receiver), from 0 and round the 12-bit space.
func TestNextCoherency(t *testing.T) {
	e, _ := NewEncrypter(key128, Key128, true)
	d, _ := NewDecrypter(key128, Key128, true)
	if e.Stats().NextCoherency != 0 || d.Stats().NextCoherency != 0 {
		t.Fatalf("fresh: %d %d", e.Stats().NextCoherency, d.Stats().NextCoherency)
	}
	for i := range CountSpace + 5 {
		p := e.Encrypt(nil, []byte{0x00, 0x21, 1})
		if i%7 == 0 { // some lost
			continue
		}
		if _, err := d.Decrypt(nil, p); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	// CountSpace+5 sent: the next is 5; the last one was received.
	if e.Stats().NextCoherency != 5 || d.Stats().NextCoherency != 5 {
		t.Fatalf("after a wrap: %d %d", e.Stats().NextCoherency, d.Stats().NextCoherency)
	}
}

func TestStatefulResync(t *testing.T) {
	for _, s := range []Strength{Key40, Key56, Key128} {
		e, _ := NewEncrypter(startKey(s), s, false)
		d, _ := NewDecrypter(startKey(s), s, false)
		pkt := func(i int) []byte { return e.Encrypt(nil, []byte{0x00, 0x21, byte(i), byte(i >> 8)}) }
		var out []byte
		var err error
		for i := range 250 {
			if out, err = d.Decrypt(out[:0], pkt(i)); err != nil {
				t.Fatalf("%v: packet %d: %v", s, i, err)
			}
		}
		for i := 250; i < 300; i++ { // lost, flag packet 255 with them
			pkt(i)
		}
		if _, err = d.Decrypt(nil, pkt(300)); err != ErrResync {
			t.Fatalf("%v: after loss: %v", s, err)
		}
		if _, err = d.Decrypt(nil, pkt(301)); err != ErrDiscarding {
			t.Fatalf("%v: while discarding: %v", s, err)
		}
		e.ResetRequested()
		p := pkt(302)
		if h, _ := ParseHeader(p); h.Flags != FlagFlushed|FlagEncrypted || h.Count != 302 {
			t.Fatalf("%v: flushed packet header %+v", s, h)
		}
		if out, err = d.Decrypt(nil, p); err != nil || !bytes.Equal(out, []byte{0x00, 0x21, 46, 1}) {
			t.Fatalf("%v: flushed packet: %x %v", s, out, err)
		}
		if out, err = d.Decrypt(nil, pkt(303)); err != nil || out[2] != 47 {
			t.Fatalf("%v: after resync: %x %v", s, out, err)
		}
		st := d.Stats()
		if st.Lost != 50 || st.Resyncs != 1 || st.Discarded != 2 || st.Flushes != 1 || st.Rekeys != 1 || st.NextCoherency != 304 {
			t.Errorf("%v: receiver %+v", s, st)
		}
		if st := e.Stats(); st.Flushes != 1 || st.Rekeys != 1 || st.NextCoherency != 304 {
			t.Errorf("%v: sender %+v", s, st)
		}
	}
}

// TestStatelessJump: a receiver catches up on any loss below Window, with
// one key change per count; a jump of Window or more is late.
func TestStatelessJump(t *testing.T) {
	for _, skip := range []int{0, 1, 255, 256, Window - 1, Window} {
		e, _ := NewEncrypter(key128, Key128, true)
		d, _ := NewDecrypter(key128, Key128, true)
		d.Decrypt(nil, e.Encrypt(nil, []byte{1}))
		for range skip {
			e.Encrypt(nil, []byte{1})
		}
		out, err := d.Decrypt(nil, e.Encrypt(nil, []byte{2}))
		if skip < Window && (err != nil || !bytes.Equal(out, []byte{2})) {
			t.Errorf("skip %d: %x %v", skip, out, err)
		}
		if skip >= Window && err != ErrLate {
			t.Errorf("skip %d: %v", skip, err)
		}
		if st := d.Stats(); skip < Window && (st.Rekeys != uint64(skip+2) || st.Lost != uint64(skip)) {
			t.Errorf("skip %d: %+v", skip, st)
		}
	}
}

func TestDecryptBadInputs(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		e, _ := NewEncrypter(key128, Key128, stateless)
		d, _ := NewDecrypter(key128, Key128, stateless)
		first := e.Encrypt(nil, []byte{0x00, 0x21, 0x45})
		if _, err := d.Decrypt(nil, first); err != nil {
			t.Fatal(err)
		}
		next := e.Encrypt(nil, []byte{0x00, 0x21, 0x46})
		with := func(f byte) []byte { p := bytes.Clone(next); p[0] = p[0]&0x0f | f; return p }
		cases := []struct {
			name string
			pkt  []byte
			err  error
		}{
			{"empty", nil, ErrShort},
			{"header only", next[:2], ErrShort},
			{"one octet", next[:1], ErrShort},
			{"C bit", with(0x30 | next[0]&0x80), ErrCompressed},
			{"D clear", with(next[0] & 0x80), ErrNotEncrypted},
			{"replay", first, ErrLate},
		}
		if stateless {
			cases = append(cases, struct {
				name string
				pkt  []byte
				err  error
			}{"A clear", with(0x10), ErrNotFlushed})
		}
		for _, tc := range cases {
			dst := []byte{9}
			if got, err := d.Decrypt(dst, tc.pkt); err != tc.err || len(got) != 1 {
				t.Errorf("stateless=%v %s: %x %v", stateless, tc.name, got, err)
			}
		}
		// None of them disturbed the receiver.
		if out, err := d.Decrypt(nil, next); err != nil || !bytes.Equal(out, []byte{0x00, 0x21, 0x46}) {
			t.Errorf("stateless=%v: next packet %x %v", stateless, out, err)
		}
		st := d.Stats()
		if st.Short != 3 || st.Compressed != 1 || st.NotEncrypted != 1 || st.Late != 1 || st.Packets != 2 || (stateless && st.NotFlushed != 1) {
			t.Errorf("stateless=%v: %+v", stateless, st)
		}
	}
}

func TestInPlace(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		e, _ := NewEncrypter(key128, Key128, stateless)
		d, _ := NewDecrypter(key128, Key128, stateless)
		plain := []byte("\x00\x21in place, no copy")
		buf := make([]byte, HeaderLen+len(plain))
		copy(buf[HeaderLen:], plain)
		pkt := e.Encrypt(buf[:0], buf[HeaderLen:])
		if &pkt[0] != &buf[0] {
			t.Fatal("Encrypt moved the buffer")
		}
		out, err := d.Decrypt(pkt[:0], pkt)
		if err != nil || !bytes.Equal(out, plain) {
			t.Errorf("stateless=%v: %q %v", stateless, out, err)
		}
	}
}

func TestAllocs(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		e, _ := NewEncrypter(key128, Key128, stateless)
		d, _ := NewDecrypter(key128, Key128, stateless)
		plain := make([]byte, 1400)
		pkt := make([]byte, 0, 1500)
		out := make([]byte, 0, 1500)
		var err error
		// 300 runs cross a stateful flag packet; every stateless one rekeys.
		n := testing.AllocsPerRun(300, func() {
			pkt = e.Encrypt(pkt[:0], plain)
			if out, err = d.Decrypt(out[:0], pkt); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("stateless=%v: %v allocations per packet", stateless, n)
		}
		e.ResetRequested()
		if n := testing.AllocsPerRun(10, func() { e.Encrypt(pkt[:0], plain); e.Stats() }); n != 0 {
			t.Errorf("stateless=%v: flush: %v allocations", stateless, n)
		}
	}
}

// FuzzDecrypt feeds a sequence of arbitrary packets, some of them real, to
// both kinds of receiver: no panics, bounded work (at most Window key
// changes a packet), output only on success and of the right length.
func FuzzDecrypt(f *testing.F) {
	e, _ := NewEncrypter(key128, Key128, true)
	var seed []byte
	for range 3 {
		p := e.Encrypt(nil, []byte{0x00, 0x21, 1, 2, 3})
		seed = append(append(seed, byte(len(p))), p...)
	}
	f.Add(seed, uint8(0))
	f.Add([]byte{2, 0x90, 0x00, 3, 0x9f, 0xff, 0}, uint8(1))
	f.Add([]byte{3, 0x30, 0x05, 1}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, strength uint8) {
		s := []Strength{Key40, Key56, Key128}[int(strength)%3]
		for _, stateless := range []bool{false, true} {
			d, _ := NewDecrypter(key128, s, stateless)
			rest := b
			for n := 0; len(rest) > 0 && n < 32; n++ {
				l := min(int(rest[0]), len(rest)-1)
				pkt := rest[1 : 1+l]
				rest = rest[1+l:]
				before := d.Stats().Rekeys
				out, err := d.Decrypt([]byte{7}, pkt)
				if err == nil && len(out) != 1+len(pkt)-HeaderLen {
					t.Fatalf("output of %d octets for a packet of %d", len(out), len(pkt))
				}
				if err != nil && len(out) != 1 {
					t.Fatalf("%v with output", err)
				}
				if k := d.Stats().Rekeys - before; k > Window {
					t.Fatalf("%d key changes for one packet", k)
				}
			}
		}
	})
}

func BenchmarkEncrypt(b *testing.B) {
	for _, stateless := range []bool{false, true} {
		b.Run(fmt.Sprintf("stateless=%v", stateless), func(b *testing.B) {
			e, _ := NewEncrypter(key128, Key128, stateless)
			plain := make([]byte, 1400)
			pkt := make([]byte, 0, 1500)
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				pkt = e.Encrypt(pkt[:0], plain)
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, stateless := range []bool{false, true} {
		b.Run(fmt.Sprintf("stateless=%v", stateless), func(b *testing.B) {
			e, _ := NewEncrypter(key128, Key128, stateless)
			d, _ := NewDecrypter(key128, Key128, stateless)
			plain := make([]byte, 1400)
			pkt := make([]byte, 0, 1500)
			out := make([]byte, 0, 1500)
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				pkt = e.Encrypt(pkt[:0], plain)
				out, _ = d.Decrypt(out[:0], pkt)
			}
		})
	}
}

// BenchmarkRC4 is the baseline of BenchmarkEncrypt: the keystream alone
// over a 1400-octet packet, ours and the standard library's, so that the
// MPPE figures can be read as a ratio to the cipher's own cost.
func BenchmarkRC4(b *testing.B) {
	plain := make([]byte, 1400)
	out := make([]byte, 1400)
	b.Run("ours", func(b *testing.B) {
		var c rc4
		c.reset(key128)
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			c.xorKeyStream(out, plain)
		}
	})
	b.Run("crypto-rc4", func(b *testing.B) {
		c, _ := stdrc4.NewCipher(key128)
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			c.XORKeyStream(out, plain)
		}
	})
}
