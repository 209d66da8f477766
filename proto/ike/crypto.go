package ike

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"math/bits"
	"slices"
	"sync"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// Hash is a phase-1 hash algorithm; its HMAC is the prf (RFC 2409 §4:
// "the HMAC version of the negotiated hash algorithm").
type Hash uint16

// Hashes, numbered as RFC 2409 Appendix A.
const (
	HashMD5    Hash = isakmp.HashMD5
	HashSHA1   Hash = isakmp.HashSHA1
	HashSHA256 Hash = isakmp.HashSHA256
	HashSHA384 Hash = isakmp.HashSHA384
)

func (h Hash) String() string {
	switch h {
	case HashMD5:
		return "MD5"
	case HashSHA1:
		return "SHA"
	case HashSHA256:
		return "SHA256"
	case HashSHA384:
		return "SHA384"
	}
	return fmt.Sprintf("hash(%d)", uint16(h))
}

func (h Hash) new() func() hash.Hash {
	switch h {
	case HashMD5:
		return md5.New
	case HashSHA1:
		return sha1.New
	case HashSHA256:
		return sha256.New
	case HashSHA384:
		return sha512.New384
	}
	return nil
}

// Size is the output length of the hash and of its prf.
func (h Hash) Size() int {
	if f := h.new(); f != nil {
		return f().Size()
	}
	return 0
}

// prf is HMAC-h keyed with key over the concatenation of parts.
func (h Hash) prf(key []byte, parts ...[]byte) []byte {
	m := hmac.New(h.new(), key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// sum is the plain hash of the concatenation of parts.
func (h Hash) sum(parts ...[]byte) []byte {
	m := h.new()()
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Cipher is a phase-1 encryption algorithm (RFC 2409 Appendix A).
type Cipher uint16

// Ciphers.
const (
	Cipher3DES Cipher = isakmp.Enc3DES
	CipherAES  Cipher = isakmp.EncAES
)

func (c Cipher) String() string {
	switch c {
	case Cipher3DES:
		return "3DES"
	case CipherAES:
		return "AES"
	}
	return fmt.Sprintf("cipher(%d)", uint16(c))
}

// keyLen is the key length in octets for keyBits (AES: 128, 192 or 256;
// 3DES: fixed 192).
func (c Cipher) keyLen(keyBits int) (int, error) {
	switch c {
	case Cipher3DES:
		if keyBits != 0 && keyBits != 192 {
			return 0, fmt.Errorf("ike: 3DES key length %d", keyBits)
		}
		return 24, nil
	case CipherAES:
		switch keyBits {
		case 0:
			return 16, nil // RFC 3602 §5.1: the default
		case 128, 192, 256:
			return keyBits / 8, nil
		}
		return 0, fmt.Errorf("ike: AES key length %d", keyBits)
	}
	return 0, fmt.Errorf("ike: unknown cipher %d", c)
}

func (c Cipher) blockSize() int {
	if c == Cipher3DES {
		return des.BlockSize
	}
	return aes.BlockSize
}

func (c Cipher) block(key []byte) (cipher.Block, error) {
	if c == Cipher3DES {
		return des.NewTripleDESCipher(key)
	}
	return aes.NewCipher(key)
}

// Group is a Diffie-Hellman group (RFC 2409 §6, RFC 3526, RFC 5903).
type Group uint16

// Groups.
const (
	Group2  Group = 2  // 1024-bit MODP, RFC 2409 §6.2
	Group5  Group = 5  // 1536-bit MODP, RFC 3526 §2
	Group14 Group = 14 // 2048-bit MODP, RFC 3526 §3
	Group19 Group = 19 // 256-bit random ECP, RFC 5903
	Group20 Group = 20 // 384-bit random ECP, RFC 5903
)

func (g Group) String() string { return fmt.Sprintf("group %d", uint16(g)) }

// The MODP primes: 2^n - 2^(n-64) - 1 + 2^64 * ( [2^(n-130) pi] + k ),
// written out in RFC 2409 §6.2 and RFC 3526 §2-3; the generator is 2.
const (
	modp1024 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"
	modp1536 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"
	modp2048 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"
)

var modpPrimes = map[Group]*big.Int{}

func init() {
	for g, s := range map[Group]string{Group2: modp1024, Group5: modp1536, Group14: modp2048} {
		p, ok := new(big.Int).SetString(s, 16)
		if !ok {
			panic("ike: bad MODP prime")
		}
		modpPrimes[g] = p
	}
}

// Supported reports whether g is one of the groups of this engine.
func (g Group) Supported() bool {
	_, modp := modpPrimes[g]
	return modp || g == Group19 || g == Group20
}

// publicLen is the length of a KE payload body for g: the prime's length
// for MODP (RFC 2409 §5), x‖y for ECP (RFC 5903 §7).
func (g Group) publicLen() int {
	switch g {
	case Group19:
		return 64
	case Group20:
		return 96
	}
	if p, ok := modpPrimes[g]; ok {
		return (p.BitLen() + 7) / 8
	}
	return 0
}

func (g Group) curve() ecdh.Curve {
	switch g {
	case Group19:
		return ecdh.P256()
	case Group20:
		return ecdh.P384()
	}
	return nil
}

// dhKey is one side's Diffie-Hellman secret and public value.
type dhKey struct {
	g   Group
	x   *big.Int         // MODP secret exponent
	ec  *ecdh.PrivateKey // ECP secret
	pub []byte           // KE payload body
}

// generateDH makes a key pair for g from rand.
func generateDH(g Group, rand io.Reader) (*dhKey, error) {
	if c := g.curve(); c != nil {
		k, err := c.GenerateKey(rand)
		if err != nil {
			return nil, fmt.Errorf("ike: %v: %w", g, err)
		}
		return ecKey(g, k), nil
	}
	p, ok := modpPrimes[g]
	if !ok {
		return nil, fmt.Errorf("ike: unsupported %v", g)
	}
	x, err := modpSecret(g.expBits(), p, rand)
	if err != nil {
		return nil, fmt.Errorf("ike: %v: %w", g, err)
	}
	return modpKey(g, x), nil
}

// expBits is the length of our MODP secret exponent. The cost of g^x
// grows with the exponent's length, and an exponent as long as the prime
// buys nothing: the best attacks on these groups cost about as much as
// an exponent of twice the group's strength (RFC 3526 §8, whose table
// gives 180-240 bits for the 1536-bit group and 220-320 for the 2048-bit
// one; RFC 2412 Appendix E makes the same point). We take the upper
// ends: 256 bits for groups 2 and 5 (as strongSwan's "optimum" sizes)
// and 320 for group 14 (strongSwan uses 384 when told not to follow
// X9.42; NSS, libreswan's library, 224). The primes are safe primes, so
// g = 2 generates a subgroup of prime order (p-1)/2 and a short exponent
// loses nothing to Pohlig-Hellman.
func (g Group) expBits() int {
	switch g {
	case Group2, Group5:
		return 256
	case Group14:
		return 320
	}
	return 0
}

// modpSecret is a uniformly random exponent of at most bits bits, never
// 0 or 1, and below p-1.
func modpSecret(bits int, p *big.Int, rand io.Reader) (*big.Int, error) {
	if bits <= 1 || bits >= p.BitLen() {
		return nil, fmt.Errorf("secret of %d bits for a %d-bit prime", bits, p.BitLen())
	}
	buf := make([]byte, (bits+7)/8)
	// 0 and 1 come once in 2^(bits-1) draws: 8 tries end only on a
	// broken source.
	for range 8 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, err
		}
		buf[0] &= byte(0xff >> (8*len(buf) - bits))
		x := new(big.Int).SetBytes(buf)
		if x.BitLen() > 1 {
			return x, nil
		}
	}
	return nil, errors.New("random source gives only 0 and 1")
}

func ecKey(g Group, k *ecdh.PrivateKey) *dhKey {
	// crypto/ecdh encodes 0x04‖x‖y (SEC 1); RFC 5903 §7 drops the 0x04.
	return &dhKey{g: g, ec: k, pub: k.PublicKey().Bytes()[1:]}
}

func modpKey(g Group, x *big.Int) *dhKey {
	var y *big.Int
	if fb := fixedBases[g]; fb != nil && x.BitLen() <= g.expBits() {
		y = fb.exp(x)
	} else {
		y = new(big.Int).Exp(big.NewInt(2), x, modpPrimes[g])
	}
	return &dhKey{g: g, x: x, pub: y.FillBytes(make([]byte, g.publicLen()))}
}

// fixedBase computes 2^x mod p for a MODP group by fixed-base windowing
// (Brickell, Gordon, McCurley and Wilson; HAC Algorithm 14.109): with x
// written in 4-bit digits d_i, 2^x = prod over i of 2^(d_i*16^i), whose
// factors are precomputed. That is one modular multiplication per digit
// (80 for a 320-bit exponent) and no squarings, where square-and-multiply
// needs about 320 squarings and 80 multiplications. The table is made on
// first use: 15 values per digit, 300 KB for group 14.
type fixedBase struct {
	p     *big.Int
	bits  int
	once  sync.Once
	table [][15]*big.Int // table[i][d-1] = 2^(d*16^i) mod p
}

// fixedBases has a table for each MODP group.
var fixedBases = map[Group]*fixedBase{}

func init() {
	for g, p := range modpPrimes {
		fixedBases[g] = &fixedBase{p: p, bits: g.expBits()}
	}
}

func (f *fixedBase) build() {
	f.table = make([][15]*big.Int, (f.bits+3)/4)
	b := big.NewInt(2) // 2^(16^i)
	for i := range f.table {
		f.table[i][0] = new(big.Int).Set(b)
		for d := 1; d < 15; d++ {
			v := new(big.Int).Mul(f.table[i][d-1], b)
			f.table[i][d] = v.Mod(v, f.p)
		}
		// 2^(16^(i+1)) = (2^(16^i))^16: the last entry is b^15.
		b = new(big.Int).Mul(f.table[i][14], b)
		b.Mod(b, f.p)
	}
}

// exp is 2^x mod p for 0 <= x < 2^bits.
func (f *fixedBase) exp(x *big.Int) *big.Int {
	f.once.Do(f.build)
	y := big.NewInt(1)
	var t big.Int
	words := x.Bits()
	for i := range f.table {
		bit := 4 * i
		w := bit / bits.UintSize
		if w >= len(words) {
			break
		}
		d := (uint(words[w]) >> (bit % bits.UintSize)) & 15
		if d == 0 {
			continue
		}
		t.Mul(y, f.table[i][d-1])
		y.Mod(&t, f.p)
	}
	return y
}

// shared computes g^xy from the peer's KE payload body: for MODP the
// value padded to the prime's length (RFC 2409 §5 "g^xy"), for ECP the x
// coordinate only (RFC 5903 §7).
func (k *dhKey) shared(peer []byte) ([]byte, error) {
	if len(peer) != k.g.publicLen() {
		return nil, fmt.Errorf("ike: %v public value of %d octets, want %d", k.g, len(peer), k.g.publicLen())
	}
	if k.ec != nil {
		pk, err := k.g.curve().NewPublicKey(append([]byte{4}, peer...))
		if err != nil {
			return nil, fmt.Errorf("ike: %v public value: %w", k.g, err)
		}
		s, err := k.ec.ECDH(pk)
		if err != nil {
			return nil, fmt.Errorf("ike: %v: %w", k.g, err)
		}
		return s, nil
	}
	p := modpPrimes[k.g]
	y := new(big.Int).SetBytes(peer)
	// Refuse 0, 1 and p-1 and anything not below p: they force the
	// shared value into a tiny subgroup.
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(new(big.Int).Sub(p, big.NewInt(1))) >= 0 {
		return nil, errors.New("ike: degenerate MODP public value")
	}
	s := new(big.Int).Exp(y, k.x, p)
	return s.FillBytes(make([]byte, k.g.publicLen())), nil
}

// keys are the SKEYID family of RFC 2409 §5.
type keys struct {
	skeyid, d, a, e []byte
}

// deriveKeys computes, for pre-shared-key authentication (RFC 2409 §5):
//
//	SKEYID   = prf(pre-shared-key, Ni_b | Nr_b)
//	SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
//	SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
//	SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
func deriveKeys(h Hash, psk, ni, nr, gxy []byte, ci, cr isakmp.Cookie) keys {
	return deriveFrom(h, h.prf(psk, ni, nr), gxy, ci, cr)
}

// deriveKeysSig computes them for signature authentication (RFC 2409
// §5): SKEYID = prf(Ni_b | Nr_b, g^xy), the rest as deriveKeys.
func deriveKeysSig(h Hash, ni, nr, gxy []byte, ci, cr isakmp.Cookie) keys {
	return deriveFrom(h, h.prf(append(slices.Clone(ni), nr...), gxy), gxy, ci, cr)
}

func deriveFrom(h Hash, skeyid, gxy []byte, ci, cr isakmp.Cookie) keys {
	k := keys{skeyid: skeyid}
	k.d = h.prf(k.skeyid, gxy, ci[:], cr[:], []byte{0})
	k.a = h.prf(k.skeyid, k.d, gxy, ci[:], cr[:], []byte{1})
	k.e = h.prf(k.skeyid, k.a, gxy, ci[:], cr[:], []byte{2})
	return k
}

// encKey derives the cipher key from SKEYID_e (RFC 2409 Appendix B): its
// first n octets, or, when it is too short, of Ka = K1 | K2 | K3 ... with
// K1 = prf(SKEYID_e, 0) and Ki = prf(SKEYID_e, Ki-1).
func encKey(h Hash, skeyidE []byte, n int) []byte {
	if len(skeyidE) >= n {
		return append([]byte(nil), skeyidE[:n]...)
	}
	ka := h.prf(skeyidE, []byte{0})
	k := ka
	for len(ka) < n {
		k = h.prf(skeyidE, k)
		ka = append(ka, k...)
	}
	return ka[:n]
}

// phase1IV is the first IV of phase 1: hash(g^xi | g^xr) cut to the
// block size (RFC 2409 Appendix B).
func phase1IV(h Hash, gxi, gxr []byte, bs int) []byte { return h.sum(gxi, gxr)[:bs] }

// phase2IV is the first IV of a quick mode or informational exchange:
// hash(last phase-1 CBC output block | M-ID) (RFC 2409 Appendix B).
func phase2IV(h Hash, lastP1 []byte, mid uint32, bs int) []byte {
	return h.sum(lastP1, binary.BigEndian.AppendUint32(nil, mid))[:bs]
}

// keymat computes n octets of keying material for one SPI (RFC 2409
// §5.5): KEYMAT = K1 | K2 | ... with
//
//	K1 = prf(SKEYID_d, [ g(qm)^xy | ] protocol | SPI | Ni_b | Nr_b)
//	Ki = prf(SKEYID_d, Ki-1 | [ g(qm)^xy | ] protocol | SPI | Ni_b | Nr_b)
func keymat(h Hash, skeyidD, gqm []byte, proto isakmp.ProtocolID, spi uint32, ni, nr []byte, n int) []byte {
	tail := [][]byte{gqm, {byte(proto)}, binary.BigEndian.AppendUint32(nil, spi), ni, nr}
	out := h.prf(skeyidD, tail...)
	k := out
	for len(out) < n {
		k = h.prf(skeyidD, append([][]byte{k}, tail...)...)
		out = append(out, k...)
	}
	return out[:n]
}

// cbc encrypts or decrypts b in place with key and iv, returning the last
// ciphertext block (the next IV, RFC 2409 Appendix B).
func cbcCrypt(c Cipher, key, iv, b []byte, encrypt bool) ([]byte, error) {
	blk, err := c.block(key)
	if err != nil {
		return nil, fmt.Errorf("ike: %v: %w", c, err)
	}
	bs := blk.BlockSize()
	if len(b) == 0 || len(b)%bs != 0 {
		return nil, fmt.Errorf("ike: encrypted body of %d octets is not a multiple of %d", len(b), bs)
	}
	next := make([]byte, bs)
	if encrypt {
		cipher.NewCBCEncrypter(blk, iv).CryptBlocks(b, b)
		copy(next, b[len(b)-bs:])
	} else {
		copy(next, b[len(b)-bs:])
		cipher.NewCBCDecrypter(blk, iv).CryptBlocks(b, b)
	}
	return next, nil
}
