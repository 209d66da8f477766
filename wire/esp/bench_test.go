package esp

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// benchSuites are the suites benchmarked, as IOS transform sets name them.
var benchSuites = []suite{
	{"esp-gcm", Config{Cipher: CipherAESGCM, EncKey: seq(1, 20)}},
	{"esp-gcm_256", Config{Cipher: CipherAESGCM, EncKey: seq(1, 36)}},
	{"esp-gcm_icv8", Config{Cipher: CipherAESGCM, EncKey: seq(1, 20), ICVLen: 8}},
	{"esp-aes_esp-sha-hmac", Config{Cipher: CipherAESCBC, EncKey: seq(1, 16), Integrity: HMACSHA196, AuthKey: seq(2, 20)}},
	{"esp-256-aes_esp-sha256-hmac", Config{Cipher: CipherAESCBC, EncKey: seq(1, 32), Integrity: HMACSHA256128, AuthKey: seq(2, 32)}},
	{"esp-256-aes_esp-md5-hmac", Config{Cipher: CipherAESCBC, EncKey: seq(1, 32), Integrity: HMACMD596, AuthKey: seq(2, 16)}},
	{"esp-3des_esp-sha-hmac", Config{Cipher: Cipher3DES, EncKey: seq(1, 24), Integrity: HMACSHA196, AuthKey: seq(2, 20)}},
	{"esp-null_esp-sha-hmac", Config{Cipher: CipherNull, Integrity: HMACSHA196, AuthKey: seq(2, 20)}},
}

const benchLen = 1400

// BenchmarkSeal seals 1400-octet payloads in place.
func BenchmarkSeal(b *testing.B) {
	for _, su := range benchSuites {
		b.Run(su.name, func(b *testing.B) {
			su.cfg.SPI = 1
			s, _ := pair(b, su.cfg)
			buf := make([]byte, benchLen+s.MaxOverhead()+8)
			h := s.HeaderLen()
			b.SetBytes(benchLen)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Seal(buf[:0], buf[h:h+benchLen], 4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen opens 1400-octet payloads in place; each iteration copies
// a fresh packet in (the copy is part of the time) with the next sequence
// number so that the window accepts it.
func BenchmarkOpen(b *testing.B) {
	for _, su := range benchSuites {
		b.Run(su.name, func(b *testing.B) {
			su.cfg.SPI = 1
			s, o := pair(b, su.cfg)
			const batch = 1024
			pkts := make([][]byte, batch)
			for i := range pkts {
				pkts[i], _ = s.Seal(nil, make([]byte, benchLen), 4)
			}
			work := make([]byte, len(pkts[0]))
			b.SetBytes(benchLen)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == batch {
					// Reseal the batch past the window (not timed).
					b.StopTimer()
					for j := range pkts {
						pkts[j], _ = s.Seal(pkts[j][:0], make([]byte, benchLen), 4)
					}
					i = 0
					b.StartTimer()
				}
				copy(work, pkts[i])
				i++
				if _, _, err := o.Open(work); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAEAD compares the AEADs alone on 1400 octets, in place: AES-GCM
// (what ESP AES-GCM-128 spends) against ChaCha20-Poly1305 (what WireGuard
// spends).
func BenchmarkAEAD(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	c, _ := NewSealer(Config{SPI: 1, Cipher: CipherAESGCM, EncKey: seq(1, 20)})
	cc, _ := chacha20poly1305.New(key)
	for _, a := range []struct {
		name string
		seal func(dst, nonce, pt, ad []byte) []byte
	}{
		{"aes-gcm-128", c.t.aead.Seal},
		{"chacha20poly1305", cc.Seal},
	} {
		b.Run(a.name, func(b *testing.B) {
			buf := make([]byte, benchLen+16)
			nonce := make([]byte, 12)
			ad := make([]byte, 8)
			b.SetBytes(benchLen)
			b.ReportAllocs()
			for b.Loop() {
				a.seal(buf[:0], nonce, buf[:benchLen], ad)
			}
		})
	}
}
