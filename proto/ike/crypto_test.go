package ike

import (
	"bufio"
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/wire/isakmp"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cavpVectors is testdata/cavp-v1psk.txt, embedded: state machine tests
// do not open files (internal/archtest).
//
//go:embed testdata/cavp-v1psk.txt
var cavpVectors string

// TestSKEYIDKnownAnswers checks SKEYID, SKEYID_d, SKEYID_a and SKEYID_e
// (RFC 2409 §5, pre-shared keys) against libreswan's CAVP tool; the
// vectors and the command that made them are in testdata.
func TestSKEYIDKnownAnswers(t *testing.T) {
	hashes := map[string]Hash{"SHA-1": HashSHA1, "SHA-256": HashSHA256, "SHA-384": HashSHA384}
	sc := bufio.NewScanner(strings.NewReader(cavpVectors))
	sc.Buffer(nil, 1<<20)
	n := 0
	var in map[string]string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#") || line == "":
		case strings.HasPrefix(line, "hashAlg="):
			in = map[string]string{}
			for _, kv := range strings.Fields(line) {
				k, v, _ := strings.Cut(kv, "=")
				in[k] = v
			}
		default:
			var want struct{ SKeyID, SKeyIDD, SKeyIDA, SKeyIDE string }
			if err := json.Unmarshal([]byte(line), &want); err != nil {
				t.Fatal(err)
			}
			var ci, cr isakmp.Cookie
			copy(ci[:], unhex(t, in["ckyInit"]))
			copy(cr[:], unhex(t, in["ckyResp"]))
			h := hashes[in["hashAlg"]]
			k := deriveKeys(h, unhex(t, in["preSharedKey"]), unhex(t, in["nInit"]), unhex(t, in["nResp"]), unhex(t, in["gxy"]), ci, cr)
			for _, c := range []struct {
				name      string
				got, want []byte
			}{{"SKEYID", k.skeyid, unhex(t, want.SKeyID)}, {"SKEYID_d", k.d, unhex(t, want.SKeyIDD)},
				{"SKEYID_a", k.a, unhex(t, want.SKeyIDA)}, {"SKEYID_e", k.e, unhex(t, want.SKeyIDE)}} {
				if len(c.want) == 0 || !bytes.Equal(c.got, c.want) {
					t.Errorf("tcId %s %s %s: got %x want %x", in["tcId"], in["hashAlg"], c.name, c.got, c.want)
				}
			}
			n++
		}
	}
	if n != 6 {
		t.Fatalf("%d vectors", n)
	}
}

// TestECDHRFC5903 runs the test vectors of RFC 5903 §8: public values are
// x‖y and the shared secret is x alone.
func TestECDHRFC5903(t *testing.T) {
	cases := []struct {
		g           Group
		i, gix, giy string
		r, grx, gry string
		girx        string
	}{
		{Group19,
			"C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
			"DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180",
			"5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
			"C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
			"D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63",
			"56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
			"D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"},
		{Group20,
			"099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
			"", "",
			"41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
			"E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571",
			"DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
			"11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"},
	}
	for _, c := range cases {
		ik, err := c.g.curve().NewPrivateKey(unhex(t, c.i))
		if err != nil {
			t.Fatal(err)
		}
		rk, err := c.g.curve().NewPrivateKey(unhex(t, c.r))
		if err != nil {
			t.Fatal(err)
		}
		i, r := ecKey(c.g, ik), ecKey(c.g, rk)
		if c.gix != "" && !bytes.Equal(i.pub, unhex(t, c.gix+c.giy)) {
			t.Errorf("%v: g^i %x", c.g, i.pub)
		}
		if !bytes.Equal(r.pub, unhex(t, c.grx+c.gry)) {
			t.Errorf("%v: g^r %x", c.g, r.pub)
		}
		s1, err := i.shared(unhex(t, c.grx+c.gry))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := r.shared(i.pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s1, unhex(t, c.girx)) || !bytes.Equal(s2, s1) {
			t.Errorf("%v: g^ir %x / %x", c.g, s1, s2)
		}
	}
	_ = ecdh.P256
}

// TestMODP: both sides agree for every MODP group, values are padded to
// the prime's length, and degenerate public values are refused.
func TestMODP(t *testing.T) {
	for _, g := range []Group{Group2, Group5, Group14} {
		a, err := generateDH(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := generateDH(g, rand.Reader)
		s1, err1 := a.shared(b.pub)
		s2, err2 := b.shared(a.pub)
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) || len(s1) != g.publicLen() || len(a.pub) != g.publicLen() {
			t.Fatalf("%v: %v %v len %d", g, err1, err2, len(s1))
		}
		p := modpPrimes[g]
		for _, bad := range []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(p, big.NewInt(1)), p} {
			if _, err := a.shared(bad.FillBytes(make([]byte, g.publicLen()))); err == nil {
				t.Errorf("%v: accepted %v", g, bad)
			}
		}
		if _, err := a.shared(make([]byte, 3)); err == nil {
			t.Errorf("%v: accepted a short value", g)
		}
	}
	// The primes are those of the RFCs: 2^n - 2^(n-64) - 1 + 2^64 * (...)
	// has 64 one bits at each end.
	for g, bits := range map[Group]int{Group2: 1024, Group5: 1536, Group14: 2048} {
		p := modpPrimes[g]
		if p.BitLen() != bits || !p.ProbablyPrime(8) {
			t.Errorf("%v: %d bits", g, p.BitLen())
		}
	}
	if _, err := generateDH(Group(1), rand.Reader); err == nil {
		t.Error("group 1 accepted")
	}
}

// TestEncKeyExpansion: a cipher key longer than SKEYID_e is K1 | K2 ...
// with K1 = prf(SKEYID_e, 0), Ki = prf(SKEYID_e, Ki-1) (RFC 2409 App. B).
func TestEncKeyExpansion(t *testing.T) {
	e := bytes.Repeat([]byte{7}, 20) // SHA-1 SKEYID_e
	k1 := HashSHA1.prf(e, []byte{0})
	k2 := HashSHA1.prf(e, k1)
	if got := encKey(HashSHA1, e, 24); !bytes.Equal(got, append(k1, k2...)[:24]) {
		t.Errorf("3DES key %x", got)
	}
	if got := encKey(HashSHA1, e, 16); !bytes.Equal(got, e[:16]) {
		t.Errorf("AES-128 key %x", got)
	}
	// KEYMAT expansion (RFC 2409 §5.5).
	d := bytes.Repeat([]byte{9}, 20)
	ni, nr := []byte("ni-ni-ni"), []byte("nr-nr-nr")
	km := keymat(HashSHA1, d, nil, isakmp.ProtoESP, 0x01020304, ni, nr, 52)
	c1 := HashSHA1.prf(d, []byte{3}, []byte{1, 2, 3, 4}, ni, nr)
	c2 := HashSHA1.prf(d, c1, []byte{3}, []byte{1, 2, 3, 4}, ni, nr)
	c3 := HashSHA1.prf(d, c2, []byte{3}, []byte{1, 2, 3, 4}, ni, nr)
	if !bytes.Equal(km, append(append(c1, c2...), c3...)[:52]) {
		t.Errorf("KEYMAT %x", km)
	}
}

// TestCBC round-trips and chains IVs, and refuses partial blocks.
func TestCBC(t *testing.T) {
	for _, c := range []struct {
		c Cipher
		n int
	}{{Cipher3DES, 24}, {CipherAES, 16}, {CipherAES, 24}, {CipherAES, 32}} {
		key := bytes.Repeat([]byte{1}, c.n)
		iv := make([]byte, c.c.blockSize())
		msg := bytes.Repeat([]byte("0123456789abcdef"), 4)
		buf := bytes.Clone(msg)
		next, err := cbcCrypt(c.c, key, iv, buf, true)
		if err != nil || !bytes.Equal(next, buf[len(buf)-len(iv):]) {
			t.Fatal(err)
		}
		next2, err := cbcCrypt(c.c, key, iv, buf, false)
		if err != nil || !bytes.Equal(buf, msg) || !bytes.Equal(next, next2) {
			t.Fatalf("%v: round trip", c.c)
		}
		if _, err := cbcCrypt(c.c, key, iv, buf[:5], false); err == nil {
			t.Fatal("partial block accepted")
		}
	}
}

// TestMODPSecretSize: our MODP exponents are as long as the groups'
// strength calls for (RFC 3526 §8), never 0 or 1, and both sides still
// derive the same g^xy, which is 2^(xy) mod p computed another way.
func TestMODPSecretSize(t *testing.T) {
	for g, bits := range map[Group]int{Group2: 256, Group5: 256, Group14: 320} {
		if g.expBits() != bits {
			t.Errorf("%v: %d-bit exponent, want %d", g, g.expBits(), bits)
		}
		p := modpPrimes[g]
		longest := 0
		for range 40 {
			a, err := generateDH(g, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := generateDH(g, rand.Reader)
			if n := a.x.BitLen(); n <= 1 || n > bits {
				t.Fatalf("%v: exponent of %d bits", g, n)
			}
			longest = max(longest, a.x.BitLen())
			if want := new(big.Int).Exp(big.NewInt(2), a.x, p).FillBytes(make([]byte, g.publicLen())); !bytes.Equal(a.pub, want) {
				t.Fatalf("%v: public value is not 2^x mod p", g)
			}
			s1, err1 := a.shared(b.pub)
			s2, err2 := b.shared(a.pub)
			xy := new(big.Int).Mul(a.x, b.x)
			want := new(big.Int).Exp(big.NewInt(2), xy, p).FillBytes(make([]byte, g.publicLen()))
			if err1 != nil || err2 != nil || !bytes.Equal(s1, want) || !bytes.Equal(s2, want) {
				t.Fatalf("%v: g^xy differs: %v %v", g, err1, err2)
			}
		}
		// 40 draws all 8 bits short would be a 2^-320 event: the mask
		// keeps the length we asked for.
		if longest < bits-8 {
			t.Errorf("%v: longest exponent %d bits, want about %d", g, longest, bits)
		}
	}
}

// TestMODPSecretSource: the exponent comes from the random source, masked
// to its length; 0 and 1 are drawn again, and a source that gives nothing
// else is an error, as is one that fails.
func TestMODPSecretSource(t *testing.T) {
	p := modpPrimes[Group14]
	ff := bytes.Repeat([]byte{0xff}, 40)
	x, err := modpSecret(320, p, bytes.NewReader(ff))
	if err != nil || x.BitLen() != 320 || x.Cmp(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 320), big.NewInt(1))) != 0 {
		t.Fatalf("all ones: %v %v", x, err)
	}
	x, err = modpSecret(250, p, bytes.NewReader(ff))
	if err != nil || x.BitLen() != 250 {
		t.Fatalf("250 bits: %v bits, %v", x.BitLen(), err)
	}
	one := append(make([]byte, 39), 1)
	two := append(make([]byte, 39), 2)
	x, err = modpSecret(320, p, bytes.NewReader(slices.Concat(make([]byte, 40), one, two)))
	if err != nil || x.Int64() != 2 {
		t.Fatalf("0, 1 then 2: %v %v", x, err)
	}
	if _, err := modpSecret(320, p, bytes.NewReader(make([]byte, 40*8))); err == nil || !strings.Contains(err.Error(), "only 0 and 1") {
		t.Errorf("a source of zeros: %v", err)
	}
	if _, err := modpSecret(320, p, bytes.NewReader(ff[:10])); err == nil {
		t.Error("a short source accepted")
	}
	for _, bits := range []int{0, 1, 2048, 4096} {
		if _, err := modpSecret(bits, p, rand.Reader); err == nil {
			t.Errorf("%d bits accepted", bits)
		}
	}
	if _, err := generateDH(Group14, bytes.NewReader(nil)); err == nil || !strings.HasPrefix(err.Error(), "ike: group 14") {
		t.Errorf("empty source: %v", err)
	}
}

// TestFixedBase: the fixed-base table gives what math/big's Exp gives,
// for random exponents and for the edges (0, 1, all ones, one digit).
func TestFixedBase(t *testing.T) {
	for _, g := range []Group{Group2, Group5, Group14} {
		f, p := fixedBases[g], modpPrimes[g]
		bits := g.expBits()
		xs := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(15), big.NewInt(16),
			new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1)),
			new(big.Int).Lsh(big.NewInt(9), uint(bits-4))}
		for range 20 {
			x, err := modpSecret(bits, p, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, x)
		}
		for _, x := range xs {
			if got, want := f.exp(x), new(big.Int).Exp(big.NewInt(2), x, p); got.Cmp(want) != 0 {
				t.Fatalf("%v: 2^%x: fixed base %x, Exp %x", g, x, got, want)
			}
		}
	}
}
