package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func seq(n byte, l int) []byte { return bytes.Repeat([]byte{n}, l) }

type suite struct {
	name string
	cfg  Config
}

// suites are every transform combination this package offers.
func suites() []suite {
	var out []suite
	add := func(name string, c Config) {
		c.SPI = 0x1000 + uint32(len(out))
		out = append(out, suite{name, c})
	}
	for _, k := range []int{16, 24, 32} {
		for _, icv := range []int{8, 12, 16} {
			add(strings.Join([]string{"gcm", itoa(8 * k), "icv" + itoa(icv)}, "-"),
				Config{Cipher: CipherAESGCM, EncKey: seq(byte(k), k+SaltLen), ICVLen: icv})
		}
	}
	integs := []Integrity{HMACMD596, HMACSHA196, HMACSHA256128}
	for _, k := range []int{16, 24, 32} {
		for _, in := range integs {
			add("aes"+itoa(8*k)+"-"+in.String(), Config{Cipher: CipherAESCBC, EncKey: seq(0xa0, k), Integrity: in, AuthKey: seq(0xb0, in.keyLen())})
		}
	}
	for _, in := range integs {
		add("3des-"+in.String(), Config{Cipher: Cipher3DES, EncKey: seq(0xc0, 24), Integrity: in, AuthKey: seq(0xd0, in.keyLen())})
		add("null-"+in.String(), Config{Cipher: CipherNull, Integrity: in, AuthKey: seq(0xe0, in.keyLen())})
	}
	add("aes128-none", Config{Cipher: CipherAESCBC, EncKey: seq(1, 16)})
	add("3des-none", Config{Cipher: Cipher3DES, EncKey: seq(2, 24)})
	add("gcm128-esn", Config{Cipher: CipherAESGCM, EncKey: seq(3, 20), ESN: true})
	add("gcm256-icv8-esn", Config{Cipher: CipherAESGCM, EncKey: seq(3, 36), ICVLen: 8, ESN: true})
	add("aes256-sha256-esn", Config{Cipher: CipherAESCBC, EncKey: seq(4, 32), Integrity: HMACSHA256128, AuthKey: seq(5, 32), ESN: true})
	add("null-sha1-esn", Config{Cipher: CipherNull, Integrity: HMACSHA196, AuthKey: seq(6, 20), ESN: true})
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func pair(t testing.TB, c Config) (*Sealer, *Opener) {
	t.Helper()
	s, err := NewSealer(c)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(c)
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

// TestRoundTrip seals and opens payloads of 0 to 1500 octets in every
// suite, as tunnel-mode packets (next header 4) and transport-mode
// segments (17), half of them in place, and checks the layout: length,
// alignment, SPI, sequence number.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, su := range suites() {
		t.Run(su.name, func(t *testing.T) {
			s, o := pair(t, su.cfg)
			step := 1
			if testing.Short() {
				step = 37
			}
			var n uint64
			for l := 0; l <= 1500; l += step {
				for _, nh := range []uint8{NextHeaderIPv4, NextHeaderUDP} {
					payload := make([]byte, l)
					for i := range payload {
						payload[i] = byte(r.Uint32())
					}
					var pkt []byte
					var err error
					if l%2 == 0 {
						pkt, err = s.Seal(nil, payload, nh)
					} else {
						buf := make([]byte, 0, l+s.MaxOverhead()+8)
						copy(buf[s.HeaderLen():cap(buf)], payload)
						pkt, err = s.Seal(buf, buf[s.HeaderLen():cap(buf)][:l], nh)
						if &pkt[0] != &buf[:1][0] {
							t.Fatal("in-place seal moved the packet")
						}
					}
					if err != nil {
						t.Fatal(err)
					}
					n++
					if len(pkt) != l+s.Overhead(l) {
						t.Fatalf("len %d: packet of %d, Overhead says %d", l, len(pkt), l+s.Overhead(l))
					}
					if enc := len(pkt) - s.HeaderLen() - s.ICVLen(); enc%4 != 0 || enc%s.t.align != 0 {
						t.Fatalf("len %d: encrypted part of %d octets is not aligned", l, enc)
					}
					if binary.BigEndian.Uint32(pkt) != su.cfg.SPI || binary.BigEndian.Uint32(pkt[4:]) != uint32(n) {
						t.Fatalf("len %d: header %x", l, pkt[:8])
					}
					got, gnh, err := o.Open(pkt)
					if err != nil || gnh != nh || !bytes.Equal(got, payload) {
						t.Fatalf("len %d: open: %v nh %d, payload equal %v", l, err, gnh, bytes.Equal(got, payload))
					}
				}
			}
			ss, os := s.Stats(), o.Stats()
			if ss.Encaps != n || os.Decaps != n || os.Verify != n*b2u(s.ICVLen() > 0) || ss.Digest != n*b2u(s.ICVLen() > 0) ||
				ss.Encrypt != n*b2u(su.cfg.Cipher != CipherNull) || os.Decrypt != ss.Encrypt || ss.OctetsOut != os.OctetsIn {
				t.Errorf("stats out %+v in %+v after %d packets", ss, os, n)
			}
		})
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestTamper flips every bit of sealed packets, truncates and extends
// them, and opens them with the wrong keys: every suite with an ICV must
// refuse all of it, and count each refusal once under its reason.
func TestTamper(t *testing.T) {
	for _, su := range suites() {
		if su.cfg.Integrity == IntegrityNone && su.cfg.Cipher != CipherAESGCM {
			continue
		}
		t.Run(su.name, func(t *testing.T) {
			s, o := pair(t, su.cfg)
			payload := seq(0x45, 61)
			for range 3 { // a few sequence numbers in
				good, _ := s.Seal(nil, payload, 4)
				var refused uint64
				for i := range 8 * len(good) {
					bad := bytes.Clone(good)
					bad[i/8] ^= 1 << (i % 8)
					if _, _, err := o.Open(bad); err == nil {
						t.Fatalf("bit %d flipped: accepted", i)
					} else if i/8 >= 8 && !errors.Is(err, ErrICV) {
						t.Fatalf("bit %d flipped: %v, want ErrICV", i, err)
					}
					refused++
				}
				for _, l := range []int{0, 7, 8, len(good) - 1, len(good) - 4, len(good) - s.ICVLen()} {
					if _, _, err := o.Open(bytes.Clone(good[:l])); err == nil {
						t.Fatalf("truncated to %d: accepted", l)
					}
					refused++
				}
				if _, _, err := o.Open(append(bytes.Clone(good), 0, 0, 0, 0)); err == nil {
					t.Fatal("extended: accepted")
				}
				refused++
				st := o.Stats()
				if sum := st.Short + st.InvalidLen + st.InvalidSA + st.ReplayFailed + st.VerifyFailed + st.BadPadding; sum != refused {
					t.Fatalf("%d refusals, counters %+v", refused, st)
				}
				o.stats = counters{}
				if p, _, err := o.Open(good); err != nil || !bytes.Equal(p, payload) {
					t.Fatalf("the untouched packet: %v", err)
				}
			}
			// A wrong encryption key: AES-GCM's ICV catches it; behind an
			// HMAC the packet verifies and decrypts to garbage.
			wrong := su.cfg
			if len(wrong.EncKey) > 0 {
				wrong.EncKey = bytes.Clone(wrong.EncKey)
				wrong.EncKey[len(wrong.EncKey)-1] ^= 0x80 // the salt for GCM; not a DES parity bit
				wo, err := NewOpener(wrong)
				if err != nil {
					t.Fatal(err)
				}
				pkt, _ := s.Seal(nil, payload, 4)
				p, _, err := wo.Open(pkt)
				if su.cfg.Cipher == CipherAESGCM && !errors.Is(err, ErrICV) {
					t.Fatalf("wrong key: %v, want ErrICV", err)
				}
				if err == nil && bytes.Equal(p, payload) {
					t.Fatal("wrong key: the payload came out")
				}
			}
			if su.cfg.Integrity != IntegrityNone {
				wrong = su.cfg
				wrong.AuthKey = bytes.Clone(wrong.AuthKey)
				wrong.AuthKey[5] ^= 0x80
				wo, _ := NewOpener(wrong)
				pkt, _ := s.Seal(nil, payload, 4)
				if _, _, err := wo.Open(pkt); !errors.Is(err, ErrICV) {
					t.Fatalf("wrong integrity key: %v, want ErrICV", err)
				}
			}
		})
	}
}

// sealPlain builds an ESP packet around plain, which already ends in its
// trailer, whatever that trailer says: the only way to make a packet whose
// ICV verifies and whose padding is wrong.
func sealPlain(s *Sealer, plain []byte, seq uint64) []byte {
	t := &s.t
	out := binary.BigEndian.AppendUint32(nil, t.spi)
	out = binary.BigEndian.AppendUint32(out, uint32(seq))
	iv := bytes.Repeat([]byte{0x5a}, t.ivLen)
	out = append(out, iv...)
	hdr := len(out)
	out = append(out, plain...)
	switch {
	case t.aead != nil:
		copy(t.nonce[SaltLen:], iv)
		out = t.aead.Seal(out[:hdr], t.nonce[:], out[hdr:], t.gcmAAD(seq))
		out = out[:hdr+len(plain)+t.icvLen]
	default:
		if s.cbc != nil {
			s.cbc.SetIV(iv)
			s.cbc.CryptBlocks(out[hdr:], out[hdr:])
		}
		if t.mac != nil {
			t.hmacICV(out, seq)
			out = append(out, t.sum[:t.icvLen]...)
		}
	}
	return out
}

// TestPadding: trailers whose ICV verifies but whose padding does not
// follow RFC 4303 §2.4 are dropped as ErrPadding (and still move the
// window: the packet is authentic); good ones, with more padding than the
// minimum too, open.
func TestPadding(t *testing.T) {
	cases := []struct {
		name  string
		plain string // 16 octets: a multiple of every block and of 4
		want  error
		n     int
		nh    uint8
	}{
		{"minimal", "45 45 45 45 45 45 45 45 45 45 45 45 45 45 00 04", nil, 14, 4},
		{"padded", "45 45 45 45 45 45 45 45 45 45 01 02 03 04 04 04", nil, 10, 4},
		{"all padding", "01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0e 3b", nil, 0, NextHeaderNone},
		{"pad length past the start", "01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 04", ErrPadding, 0, 0},
		{"pad length 255", "45 45 45 45 45 45 45 45 45 45 45 45 45 45 ff 04", ErrPadding, 0, 0},
		{"zero padding", "45 45 45 45 45 45 45 45 45 45 00 00 00 00 04 04", ErrPadding, 0, 0},
		{"not monotonic", "45 45 45 45 45 45 45 45 45 45 01 02 04 03 04 04", ErrPadding, 0, 0},
		{"off by one", "45 45 45 45 45 45 45 45 45 45 02 03 04 05 04 04", ErrPadding, 0, 0},
	}
	for _, su := range suites() {
		if su.cfg.Integrity == IntegrityNone && su.cfg.Cipher != CipherAESGCM {
			continue
		}
		if su.cfg.Cipher == CipherAESGCM && su.cfg.ICVLen == 8 {
			continue // sealPlain has no truncation; the 16-octet suites cover GCM
		}
		s, o := pair(t, su.cfg)
		for i, c := range cases {
			pkt := sealPlain(s, unhex(t, c.plain), uint64(i+1))
			p, nh, err := o.Open(pkt)
			if !errors.Is(err, c.want) || (err == nil && (len(p) != c.n || nh != c.nh)) {
				t.Errorf("%s, %s: %d octets nh %d, %v; want %d nh %d, %v", su.name, c.name, len(p), nh, err, c.n, c.nh, c.want)
			}
			if _, _, err := o.Open(sealPlain(s, unhex(t, c.plain), uint64(i+1))); !errors.Is(err, ErrReplay) {
				t.Errorf("%s, %s: the same sequence number again: %v", su.name, c.name, err)
			}
		}
		if st := o.Stats(); st.BadPadding != 5 || st.ReplayFailed != uint64(len(cases)) {
			t.Errorf("%s: %+v", su.name, st)
		}
	}
}

// TestOpenErrors: the drop reasons a packet can have before any
// cryptography, each with its counter.
func TestOpenErrors(t *testing.T) {
	c := Config{SPI: 0x1234, Cipher: CipherAESCBC, EncKey: seq(1, 16), Integrity: HMACSHA196, AuthKey: seq(2, 20)}
	_, o := pair(t, c)
	ok := append([]byte{0, 0, 0x12, 0x34, 0, 0, 0, 1}, make([]byte, 16+16+12)...)
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"seven octets", ok[:7], ErrShort},
		{"header only", ok[:8], ErrLength},
		{"no ciphertext", ok[:8+16+12], ErrLength},
		{"half a block", ok[:8+16+8+12], ErrLength},
		{"other SPI", append([]byte{0, 0, 0x12, 0x35}, ok[4:]...), ErrSPI},
		{"sequence number 0", append([]byte{0, 0, 0x12, 0x34, 0, 0, 0, 0}, ok[8:]...), ErrReplay},
		{"forged", ok, ErrICV},
	}
	for _, tc := range cases {
		if _, _, err := o.Open(bytes.Clone(tc.pkt)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	want := Stats{Short: 2, InvalidLen: 3, InvalidSA: 1, ReplayFailed: 1, VerifyFailed: 1}
	if st := o.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestForgeryDoesNotMoveWindow: a packet far ahead with a bad ICV leaves
// the window where it was (RFC 4303 §3.4.3), so the packets that follow
// still open.
func TestForgeryDoesNotMoveWindow(t *testing.T) {
	c := Config{SPI: 9, Cipher: CipherAESGCM, EncKey: seq(7, 20)}
	s, o := pair(t, c)
	forged := sealPlain(s, unhex(t, "00 04 00 04"), 1<<20)
	forged[len(forged)-1] ^= 1
	if _, _, err := o.Open(forged); !errors.Is(err, ErrICV) {
		t.Fatal(err)
	}
	for range 100 {
		pkt, _ := s.Seal(nil, []byte{1, 2, 3}, 4)
		if _, _, err := o.Open(pkt); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeqExhausted: a sender without ESN stops at 2^32-1 (RFC 4303
// §3.3.3); with ESN it goes on into the next 2^32, and the receiver
// follows.
func TestSeqExhausted(t *testing.T) {
	c := Config{SPI: 9, Cipher: CipherAESGCM, EncKey: seq(7, 20)}
	s, o := pair(t, c)
	s.seq.Store(math.MaxUint32 - 1)
	o.win.top = math.MaxUint32 - 2
	pkt, err := s.Seal(nil, []byte{1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Open(pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(nil, []byte{1}, 4); !errors.Is(err, ErrSeqExhausted) {
		t.Fatalf("%v, want ErrSeqExhausted", err)
	}
	if st := s.Stats(); st.SendRollover != 1 || st.Encaps != 1 {
		t.Fatalf("%+v", st)
	}

	c.ESN = true
	s, o = pair(t, c)
	s.seq.Store(math.MaxUint32 - 10)
	o.win.top = math.MaxUint32 - 11
	for i := range 20 {
		pkt, err := s.Seal(nil, []byte{byte(i)}, 4)
		if err != nil {
			t.Fatal(err)
		}
		if p, _, err := o.Open(pkt); err != nil || p[0] != byte(i) {
			t.Fatalf("packet %d across 2^32: %v", i, err)
		}
	}
	if o.win.top != 1<<32+9 {
		t.Fatalf("top %#x", o.win.top)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestIVSourceFailure(t *testing.T) {
	s, err := NewSealer(Config{SPI: 1, Cipher: CipherAESCBC, EncKey: seq(1, 16), Integrity: HMACSHA196, AuthKey: seq(2, 20), Rand: failingReader{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(nil, []byte{1}, 4); !errors.Is(err, ErrRandom) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%v", err)
	}
	if s.Seq() != 0 || s.Stats().SendIVFailure != 1 {
		t.Fatalf("seq %d, %+v", s.Seq(), s.Stats())
	}
}

// TestConfigErrors: every bad SA description is refused with ErrConfig.
func TestConfigErrors(t *testing.T) {
	k := func(n int) []byte { return seq(1, n) }
	cases := []struct {
		name string
		c    Config
	}{
		{"SPI 0", Config{Cipher: CipherAESGCM, EncKey: k(20)}},
		{"no cipher", Config{SPI: 1}},
		{"unknown cipher", Config{SPI: 1, Cipher: 99}},
		{"NULL and no integrity", Config{SPI: 1, Cipher: CipherNull}},
		{"NULL with a key", Config{SPI: 1, Cipher: CipherNull, EncKey: k(16), Integrity: HMACSHA196, AuthKey: k(20)}},
		{"AES-CBC key 15", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(15), Integrity: HMACSHA196, AuthKey: k(20)}},
		{"3DES key 16", Config{SPI: 1, Cipher: Cipher3DES, EncKey: k(16), Integrity: HMACSHA196, AuthKey: k(20)}},
		{"GCM without salt", Config{SPI: 1, Cipher: CipherAESGCM, EncKey: k(16)}},
		{"GCM ICV 4", Config{SPI: 1, Cipher: CipherAESGCM, EncKey: k(20), ICVLen: 4}},
		{"GCM with an HMAC", Config{SPI: 1, Cipher: CipherAESGCM, EncKey: k(20), Integrity: HMACSHA196, AuthKey: k(20)}},
		{"ICVLen for CBC", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), Integrity: HMACSHA196, AuthKey: k(20), ICVLen: 12}},
		{"SHA1 key 16", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), Integrity: HMACSHA196, AuthKey: k(16)}},
		{"SHA256 key 20", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), Integrity: HMACSHA256128, AuthKey: k(20)}},
		{"MD5 key 20", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), Integrity: HMACMD596, AuthKey: k(20)}},
		{"auth key and no integrity", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), AuthKey: k(20)}},
		{"ESN without integrity", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), ESN: true}},
		{"unknown integrity", Config{SPI: 1, Cipher: CipherAESCBC, EncKey: k(16), Integrity: 9, AuthKey: k(20)}},
		{"window 16", Config{SPI: 1, Cipher: CipherAESGCM, EncKey: k(20), ReplayWindow: 16}},
		{"window 2048", Config{SPI: 1, Cipher: CipherAESGCM, EncKey: k(20), ReplayWindow: 2048}},
	}
	for _, tc := range cases {
		_, errS := NewSealer(tc.c)
		_, errO := NewOpener(tc.c)
		if !errors.Is(errO, ErrConfig) || (!strings.HasPrefix(tc.name, "window") && !errors.Is(errS, ErrConfig)) {
			t.Errorf("%s: sealer %v, opener %v", tc.name, errS, errO)
		} else if !strings.HasPrefix(errO.Error(), "esp: ") {
			t.Errorf("%s: %v", tc.name, errO)
		}
	}
}

func TestTransformNames(t *testing.T) {
	for _, c := range []struct {
		c    Config
		want string
	}{
		{Config{SPI: 1, Cipher: CipherAESCBC, EncKey: seq(1, 32), Integrity: HMACMD596, AuthKey: seq(1, 16)}, "esp-256-aes esp-md5-hmac"},
		{Config{SPI: 1, Cipher: CipherAESCBC, EncKey: seq(1, 16), Integrity: HMACSHA196, AuthKey: seq(1, 20)}, "esp-aes esp-sha-hmac"},
		{Config{SPI: 1, Cipher: Cipher3DES, EncKey: seq(1, 24), Integrity: HMACSHA256128, AuthKey: seq(1, 32)}, "esp-3des esp-sha256-hmac"},
		{Config{SPI: 1, Cipher: CipherNull, Integrity: HMACSHA196, AuthKey: seq(1, 20)}, "esp-null esp-sha-hmac"},
		{Config{SPI: 1, Cipher: CipherAESGCM, EncKey: seq(1, 20)}, "esp-gcm"},
		{Config{SPI: 1, Cipher: CipherAESGCM, EncKey: seq(1, 36)}, "esp-gcm 256"},
		{Config{SPI: 1, Cipher: CipherAESCBC, EncKey: seq(1, 24)}, "esp-192-aes"},
	} {
		s, err := NewSealer(c.c)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Transform(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

// TestAllocs: Seal and Open, plain and in transport mode, allocate
// nothing per packet in any suite.
func TestAllocs(t *testing.T) {
	for _, su := range suites() {
		s, o := pair(t, su.cfg)
		payload := seq(0x45, 1400)
		buf := make([]byte, 0, 2048)
		ip := append(unhex(t, "45000000 00000000 40110000 c6120001 c6120002"), seq(0x11, 1000)...)
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
		work := make([]byte, 2048)
		n := testing.AllocsPerRun(200, func() {
			pkt, err := s.Seal(buf[:0], payload, 4)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := o.Open(pkt); err != nil {
				t.Fatal(err)
			}
			h := s.HeaderLen()
			copy(work[h:], ip)
			pkt, err = s.SealTransport4(work[:0], work[h:h+len(ip)])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := o.OpenTransport4(pkt); err != nil {
				t.Fatal(err)
			}
			_ = s.Stats()
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per packet", su.name, n)
		}
	}
}
