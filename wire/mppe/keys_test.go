package mppe

import (
	"bytes"
	stdrc4 "crypto/rc4"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The server's send start keys of RFC 3079 §3.5.1–§3.5.3 (password
// "clientPass", the MS-CHAPv2 exchange of RFC 2759 §9.2), the session keys
// derived from them and "test message" encrypted with a fresh RC4 table.
// (The 56-bit ciphertext printed in §3.5.2 is known to be wrong in its
// last octets and is not checked.)
var rfc3079 = []struct {
	s                    Strength
	start, session, ciph string
}{
	{Key40, "8B 7C DC 14 9B 99 3A 1B", "D1 26 9E C4 9F A6 2E 3E", "92 91 37 91 7E 58 03 D6 68 D7 58 98"},
	{Key56, "8B 7C DC 14 9B 99 3A 1B", "D1 5C 00 C4 9F A6 2E 3E", ""},
	{Key128, "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB", "40 5C B2 24 7A 79 56 E6 E2 11 00 7A E2 7B 22 D4", "81 84 83 17 DF 68 84 62 72 FB 5A BE"},
}

func TestRFC3079SessionKeys(t *testing.T) {
	for _, tc := range rfc3079 {
		got, err := InitialSessionKey(unhex(t, tc.start), tc.s)
		if err != nil || !bytes.Equal(got, unhex(t, tc.session)) {
			t.Errorf("%v: session key %X, %v", tc.s, got, err)
			continue
		}
		if tc.ciph == "" {
			continue
		}
		var c rc4
		c.reset(got)
		out := make([]byte, 12)
		c.xorKeyStream(out, []byte("test message"))
		if !bytes.Equal(out, unhex(t, tc.ciph)) {
			t.Errorf("%v: ciphertext %X", tc.s, out)
		}
	}
}

// RFC 6229 §2: the keystream at offsets 0 and 16 for a 40-, a 56- and a
// 128-bit key.
func TestRC4RFC6229(t *testing.T) {
	for _, tc := range []struct {
		key, at0, at16 string
	}{
		{"0102030405", "b2396305f03dc027ccc3524a0a1118a8", "6982944f18fc82d589c403a47a0d0919"},
		{"01020304050607", "293f02d47f37c9b633f2af5285feb46b", ""},
		{"0102030405060708090a0b0c0d0e0f10", "9ac7cc9a609d1ef7b2932899cde41b97", ""},
	} {
		var c rc4
		c.reset(unhex(t, tc.key))
		ks := make([]byte, 32)
		c.xorKeyStream(ks, ks)
		if !bytes.Equal(ks[:16], unhex(t, tc.at0)) {
			t.Errorf("key %s: offset 0: %x", tc.key, ks[:16])
		}
		if tc.at16 != "" && !bytes.Equal(ks[16:], unhex(t, tc.at16)) {
			t.Errorf("key %s: offset 16: %x", tc.key, ks[16:])
		}
	}
}

// TestRC4MatchesStdlib compares the in-place RC4 with crypto/rc4 over
// random keys and a stream cut into random pieces, re-keying the same value.
func TestRC4MatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var c rc4
	for range 200 {
		key := make([]byte, 1+r.IntN(40))
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		c.reset(key)
		ref, err := stdrc4.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			src := make([]byte, r.IntN(600))
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			got, want := make([]byte, len(src)), make([]byte, len(src))
			c.xorKeyStream(got, src)
			ref.XORKeyStream(want, src)
			if !bytes.Equal(got, want) {
				t.Fatalf("key %x: stream differs from crypto/rc4", key)
			}
		}
	}
}

// refNewKey and refChangeKey are RFC 3078 §7.3 written the plain way, with
// a streaming SHA-1 and crypto/rc4, as a reference for the fixed-array code.
func refNewKey(start, session []byte) []byte {
	h := sha1.New()
	h.Write(start)
	h.Write(make([]byte, 40))
	h.Write(session)
	h.Write(bytes.Repeat([]byte{0xf2}, 40))
	return h.Sum(nil)[:len(start)]
}

func refReduce(k []byte, s Strength) []byte {
	switch s {
	case Key40:
		copy(k, []byte{0xd1, 0x26, 0x9e})
	case Key56:
		k[0] = 0xd1
	}
	return k
}

func refChangeKey(start, session []byte, s Strength) []byte {
	interim := refNewKey(start, session)
	c, _ := stdrc4.NewCipher(interim)
	out := make([]byte, len(interim))
	c.XORKeyStream(out, interim)
	return refReduce(out, s)
}

func TestChangeKeyMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range []Strength{Key40, Key56, Key128} {
		for range 10 {
			start := make([]byte, s.KeyLen())
			for i := range start {
				start[i] = byte(r.Uint32())
			}
			want := refReduce(refNewKey(start, start), s)
			got, err := InitialSessionKey(start, s)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%v: initial %X, want %X (%v)", s, got, want, err)
			}
			// A chain of key changes, longer than a stateful count cycle.
			for i := range 300 {
				want = refChangeKey(start, want, s)
				if got, err = ChangeKey(start, got, s); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%v: change %d: %X, want %X (%v)", s, i, got, want, err)
				}
			}
		}
	}
	k, err := GetNewKeyFromSHA([]byte("0123456789abcdef"), []byte("x"))
	if err != nil || !bytes.Equal(k, refNewKey([]byte("0123456789abcdef"), []byte("x"))) {
		t.Errorf("GetNewKeyFromSHA = %X, %v", k, err)
	}
}

func TestKeyBadInputs(t *testing.T) {
	k16 := make([]byte, 16)
	for _, tc := range []struct {
		name string
		err  error
		f    func() error
	}{
		{"strength 64", ErrStrength, func() error { _, err := InitialSessionKey(k16, Strength(64)); return err }},
		{"short 128-bit start", ErrKeyLength, func() error { _, err := InitialSessionKey(k16[:8], Key128); return err }},
		{"short 40-bit start", ErrKeyLength, func() error { _, err := InitialSessionKey(k16[:7], Key40); return err }},
		{"short session", ErrKeyLength, func() error { _, err := ChangeKey(k16, k16[:15], Key128); return err }},
		{"change, strength 0", ErrStrength, func() error { _, err := ChangeKey(k16, k16, 0); return err }},
		{"empty start", ErrKeyLength, func() error { _, err := GetNewKeyFromSHA(nil, k16); return err }},
		{"long start", ErrKeyLength, func() error { _, err := GetNewKeyFromSHA(make([]byte, 17), k16); return err }},
		{"long session", ErrKeyLength, func() error { _, err := GetNewKeyFromSHA(k16, make([]byte, 17)); return err }},
		{"encrypter, short key", ErrKeyLength, func() error { _, err := NewEncrypter(k16[:8], Key128, false); return err }},
		{"decrypter, strength 0", ErrStrength, func() error { _, err := NewDecrypter(k16, 0, true); return err }},
	} {
		if err := tc.f(); !errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "mppe: ") {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	if got := Strength(64).String(); got != "Strength(64)" {
		t.Errorf("String = %q", got)
	}
	if got := Key56.String(); got != "56-bit" {
		t.Errorf("String = %q", got)
	}
}
