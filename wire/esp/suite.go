package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Protocol is the IP protocol number of ESP (RFC 4303 §2).
const Protocol = 50

// Next-header values a caller meets most (IANA protocol numbers).
const (
	NextHeaderIPv4 = 4  // tunnel mode, an IPv4 packet
	NextHeaderTCP  = 6  // transport mode
	NextHeaderUDP  = 17 // transport mode (L2TP/IPsec: UDP 1701)
	NextHeaderIPv6 = 41 // tunnel mode, an IPv6 packet
	NextHeaderNone = 59 // a dummy packet, to be dropped (RFC 4303 §2.6)
)

// HeaderLen is the SPI and the sequence number, before the IV.
const HeaderLen = 8

// Cipher is the encryption transform of an SA.
type Cipher uint8

const (
	// CipherNull is NULL encryption (RFC 2410): no IV, no confidentiality;
	// it needs an integrity algorithm (RFC 4303 §3.2).
	CipherNull Cipher = iota + 1
	// CipherAESCBC is AES-CBC with a 16-octet explicit IV (RFC 3602); the
	// key is 16, 24 or 32 octets.
	CipherAESCBC
	// Cipher3DES is 3DES-CBC (RFC 2451) with an 8-octet IV and a 24-octet
	// key.
	Cipher3DES
	// CipherAESGCM is AES-GCM (RFC 4106): the key is 16, 24 or 32 octets
	// followed by the 4-octet salt, the explicit IV is 8 octets and the
	// ICV 8, 12 or 16. It is its own integrity algorithm.
	CipherAESGCM
)

func (c Cipher) String() string {
	switch c {
	case CipherNull:
		return "NULL"
	case CipherAESCBC:
		return "AES-CBC"
	case Cipher3DES:
		return "3DES-CBC"
	case CipherAESGCM:
		return "AES-GCM"
	}
	return fmt.Sprintf("Cipher(%d)", uint8(c))
}

// Integrity is the integrity algorithm of an SA that is not AES-GCM.
type Integrity uint8

const (
	// IntegrityNone leaves the packet without an ICV: confidentiality
	// only, which RFC 4303 §3.2 allows and IOS's "esp-aes" alone means.
	// Such an SA has no anti-replay service (RFC 4303 §3.4.3).
	IntegrityNone Integrity = iota
	// HMACMD596 is HMAC-MD5-96 (RFC 2403): a 16-octet key, 12-octet ICV.
	HMACMD596
	// HMACSHA196 is HMAC-SHA1-96 (RFC 2404): a 20-octet key, 12-octet ICV.
	HMACSHA196
	// HMACSHA256128 is HMAC-SHA2-256-128 (RFC 4868 §2.3): a 32-octet key,
	// 16-octet ICV.
	HMACSHA256128
)

func (i Integrity) String() string {
	switch i {
	case IntegrityNone:
		return "none"
	case HMACMD596:
		return "HMAC-MD5-96"
	case HMACSHA196:
		return "HMAC-SHA1-96"
	case HMACSHA256128:
		return "HMAC-SHA2-256-128"
	}
	return fmt.Sprintf("Integrity(%d)", uint8(i))
}

// keyLen is the key length the RFCs fix for ESP, and ICV the truncated
// output (RFC 2403 §3, RFC 2404 §3, RFC 4868 §2.1.1 and §2.3).
func (i Integrity) keyLen() int {
	switch i {
	case HMACMD596:
		return md5.Size
	case HMACSHA196:
		return sha1.Size
	case HMACSHA256128:
		return sha256.Size
	}
	return 0
}

func (i Integrity) icvLen() int {
	switch i {
	case HMACMD596, HMACSHA196:
		return 12
	case HMACSHA256128:
		return 16
	}
	return 0
}

func (i Integrity) newHash() func() hash.Hash {
	switch i {
	case HMACMD596:
		return md5.New
	case HMACSHA196:
		return sha1.New
	case HMACSHA256128:
		return sha256.New
	}
	return nil
}

// Replay windows, in packets (RFC 4303 §3.4.3: 32 at least, 64 by
// default; IOS's "set security-association replay window-size" goes to
// 1024). A window is kept in whole 64-bit blocks (RFC 6479), so a size is
// rounded up to a multiple of 64.
const (
	DefaultReplayWindow = 64
	MaxReplayWindow     = 1024
)

// SaltLen is the length of the AES-GCM salt at the end of its key (RFC
// 4106 §8.1).
const SaltLen = 4

// Config describes one direction of an SA. The same Config, with the
// peer's keys, builds the Sealer on one side and the Opener on the other.
type Config struct {
	SPI uint32 // must not be 0 (RFC 4303 §2.1)

	Cipher Cipher
	// EncKey is the encryption key (AES-GCM: the key and then the salt).
	EncKey []byte
	// ICVLen is the ICV length of AES-GCM: 8, 12 or 16 (0 means 16).
	ICVLen int

	// Integrity and its key, for the ciphers that are not AES-GCM.
	Integrity Integrity
	AuthKey   []byte

	// ESN selects 64-bit extended sequence numbers (RFC 4303 §2.2.1):
	// the high 32 bits go into the ICV but not onto the wire.
	ESN bool

	// ReplayWindow is the size of the anti-replay window of an Opener in
	// packets: 0 is DefaultReplayWindow; 32 to MaxReplayWindow.
	ReplayWindow int

	// Rand is where a Sealer takes CBC IVs from (crypto/rand if nil). It
	// reads ivPoolLen octets at a time.
	Rand io.Reader
}

// ErrConfig is wrapped by every error of NewSealer and NewOpener.
var ErrConfig = errors.New("esp: bad SA configuration")

func configErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
}

// ivPoolLen is how many random octets a Sealer reads at once for CBC IVs.
const ivPoolLen = 1024

// transform is what Sealer and Opener share: the keyed algorithms and the
// lengths they imply. Everything per packet lives in fixed arrays here.
type transform struct {
	spi       uint32
	cipher    Cipher
	integ     Integrity
	esn       bool
	aesBits   int
	ivLen     int // explicit IV on the wire
	align     int // the encrypted part is a multiple of this (RFC 4303 §2.4)
	icvLen    int
	block     cipher.Block
	aead      cipher.AEAD // AES-GCM; with a 16-octet tag when icvLen is 8
	salt      [SaltLen]byte
	mac       hash.Hash
	nonce     [12]byte // salt ‖ explicit IV
	aad       [12]byte // SPI ‖ [seq high] ‖ seq low
	sum       [sha256.Size]byte
	seqHi     [4]byte
	ghashKey  ghashKey // AES-GCM with an 8-octet ICV only
	ctrBlock  [16]byte
	keyStream [16]byte
}

func (t *transform) init(c *Config) error {
	if c.SPI == 0 {
		return configErr("SPI 0 is reserved (RFC 4303 §2.1)")
	}
	t.spi, t.cipher, t.integ, t.esn = c.SPI, c.Cipher, c.Integrity, c.ESN
	switch c.Cipher {
	case CipherNull:
		if c.Integrity == IntegrityNone {
			return configErr("NULL encryption needs an integrity algorithm (RFC 4303 §3.2)")
		}
		if len(c.EncKey) != 0 {
			return configErr("NULL encryption takes no key")
		}
		t.ivLen, t.align = 0, 4
	case CipherAESCBC:
		switch len(c.EncKey) {
		case 16, 24, 32:
		default:
			return configErr("AES-CBC key of %d octets, want 16, 24 or 32", len(c.EncKey))
		}
		t.block, _ = aes.NewCipher(c.EncKey)
		t.aesBits = 8 * len(c.EncKey)
		t.ivLen, t.align = aes.BlockSize, aes.BlockSize
	case Cipher3DES:
		if len(c.EncKey) != 24 {
			return configErr("3DES key of %d octets, want 24", len(c.EncKey))
		}
		t.block, _ = des.NewTripleDESCipher(c.EncKey)
		t.ivLen, t.align = des.BlockSize, des.BlockSize
	case CipherAESGCM:
		k := len(c.EncKey) - SaltLen
		switch k {
		case 16, 24, 32:
		default:
			return configErr("AES-GCM key and salt of %d octets, want 20, 28 or 36", len(c.EncKey))
		}
		if c.Integrity != IntegrityNone {
			return configErr("AES-GCM is combined mode; no separate integrity algorithm (RFC 4106 §2)")
		}
		t.block, _ = aes.NewCipher(c.EncKey[:k])
		t.aesBits = 8 * k
		copy(t.salt[:], c.EncKey[k:])
		copy(t.nonce[:SaltLen], t.salt[:])
		t.icvLen = c.ICVLen
		if t.icvLen == 0 {
			t.icvLen = 16
		}
		var err error
		switch t.icvLen {
		case 8:
			// Go's GCM has no 8-octet tags: seal with 16 and truncate,
			// verify with the GHASH here.
			t.aead, err = cipher.NewGCM(t.block)
			t.ghashKey.init(t.block)
		case 12, 16:
			t.aead, err = cipher.NewGCMWithTagSize(t.block, t.icvLen)
		default:
			return configErr("AES-GCM ICV of %d octets, want 8, 12 or 16 (RFC 4106 §8)", t.icvLen)
		}
		if err != nil {
			return configErr("%v", err)
		}
		// RFC 4106 §3: GCM is a stream mode; the 4-octet alignment of RFC
		// 4303 §2.4 is the only padding.
		t.ivLen, t.align = 8, 4
		return nil
	default:
		return configErr("unknown cipher %v", c.Cipher)
	}
	if c.ICVLen != 0 {
		return configErr("ICVLen is for AES-GCM only")
	}
	switch c.Integrity {
	case IntegrityNone:
		if len(c.AuthKey) != 0 {
			return configErr("an integrity key without an integrity algorithm")
		}
		if c.ESN {
			return configErr("extended sequence numbers need an integrity algorithm (RFC 4303 §2.2.1)")
		}
	case HMACMD596, HMACSHA196, HMACSHA256128:
		if len(c.AuthKey) != c.Integrity.keyLen() {
			return configErr("%v key of %d octets, want %d", c.Integrity, len(c.AuthKey), c.Integrity.keyLen())
		}
		t.mac = hmac.New(c.Integrity.newHash(), c.AuthKey)
		t.icvLen = c.Integrity.icvLen()
	default:
		return configErr("unknown integrity algorithm %v", c.Integrity)
	}
	return nil
}

// cbcMode is the IV-resettable BlockMode the standard library's CBC
// implements (crypto/tls uses it the same way), so that a packet does not
// allocate a new one.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

func newCBC(b cipher.Block, enc bool) (cbcMode, error) {
	iv := make([]byte, b.BlockSize())
	var m cipher.BlockMode
	if enc {
		m = cipher.NewCBCEncrypter(b, iv)
	} else {
		m = cipher.NewCBCDecrypter(b, iv)
	}
	c, ok := m.(cbcMode)
	if !ok {
		return nil, configErr("this Go's CBC cannot reset its IV")
	}
	return c, nil
}

// padLen is the padding for a payload of n octets: the payload, the
// padding and the two trailer octets fill whole blocks of the cipher and
// end on a 4-octet boundary (RFC 4303 §2.4).
func (t *transform) padLen(n int) int {
	return (t.align - (n+2)%t.align) % t.align
}

// IVLen is the length of the explicit IV.
func (t *transform) IVLen() int { return t.ivLen }

// ICVLen is the length of the ICV.
func (t *transform) ICVLen() int { return t.icvLen }

// SPI is the SA's security parameters index.
func (t *transform) SPI() uint32 { return t.spi }

// Transform names the SA's transforms as IOS's `show crypto ipsec sa`
// does ("esp-256-aes esp-sha-hmac", "esp-gcm 256").
func (t *transform) Transform() string {
	var enc string
	switch t.cipher {
	case CipherNull:
		enc = "esp-null"
	case Cipher3DES:
		enc = "esp-3des"
	case CipherAESCBC:
		enc = "esp-aes"
		if b := t.keyBits(); b != 128 {
			enc = fmt.Sprintf("esp-%d-aes", b)
		}
	case CipherAESGCM:
		enc = "esp-gcm"
		if b := t.keyBits(); b != 128 {
			enc = fmt.Sprintf("esp-gcm %d", b)
		}
		return enc
	}
	switch t.integ {
	case HMACMD596:
		return enc + " esp-md5-hmac"
	case HMACSHA196:
		return enc + " esp-sha-hmac"
	case HMACSHA256128:
		return enc + " esp-sha256-hmac"
	}
	return enc
}

func (t *transform) keyBits() int { return t.aesBits }

var defaultRand io.Reader = rand.Reader
