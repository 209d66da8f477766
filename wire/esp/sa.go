package esp

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync/atomic"
)

// Errors of Open, one per drop reason, each also a counter of Stats. An
// SPI no SA has is the caller's to count (it demultiplexes); ErrSPI is a
// packet handed to the wrong Opener.
var (
	ErrShort   = errors.New("esp: packet shorter than the ESP header")
	ErrLength  = errors.New("esp: bad length for the SA's transforms (IV, cipher blocks, ICV)")
	ErrSPI     = errors.New("esp: SPI is not this SA's")
	ErrReplay  = errors.New("esp: replayed or too old sequence number (RFC 4303 §3.4.3)")
	ErrICV     = errors.New("esp: integrity check failed")
	ErrPadding = errors.New("esp: bad padding or pad length (RFC 4303 §2.4)")
)

// Errors of Seal.
var (
	// ErrSeqExhausted: the sequence number would cycle; the SA must be
	// replaced (RFC 4303 §3.3.3).
	ErrSeqExhausted = errors.New("esp: sequence number space exhausted; rekey the SA")
	// ErrRandom wraps a failure of the IV source.
	ErrRandom = errors.New("esp: IV source failed")
)

// Stats are the counters of one SA direction, with the names of IOS's
// `show crypto ipsec sa [detail]`. They are safe to read while the data
// path runs.
type Stats struct {
	// Outbound.
	Encaps        uint64 // #pkts encaps: packets sealed
	Encrypt       uint64 // #pkts encrypt: of those, encrypted (not NULL)
	Digest        uint64 // #pkts digest: of those, given an ICV
	OctetsOut     uint64 // payload octets sealed
	SendRollover  uint64 // #pkts replay rollover (send): refused, ErrSeqExhausted
	SendIVFailure uint64 // refused, ErrRandom

	// Inbound.
	Decaps       uint64 // #pkts decaps: packets opened
	Decrypt      uint64 // #pkts decrypt: of those, decrypted (not NULL)
	Verify       uint64 // #pkts verify: of those, with an ICV verified
	OctetsIn     uint64 // payload octets opened
	Short        uint64 // ErrShort
	InvalidLen   uint64 // #pkts invalid len (rcv): ErrLength
	InvalidSA    uint64 // #pkts invalid sa (rcv): ErrSPI
	ReplayFailed uint64 // #pkts replay failed (rcv): ErrReplay
	VerifyFailed uint64 // #pkts verify failed: ErrICV
	BadPadding   uint64 // ErrPadding
}

type counters struct {
	encaps, encrypt, digest, octetsOut, sendRollover, sendIV             atomic.Uint64
	decaps, decrypt, verify, octetsIn                                    atomic.Uint64
	short, invalidLen, invalidSA, replayFailed, verifyFailed, badPadding atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Encaps: c.encaps.Load(), Encrypt: c.encrypt.Load(), Digest: c.digest.Load(), OctetsOut: c.octetsOut.Load(),
		SendRollover: c.sendRollover.Load(), SendIVFailure: c.sendIV.Load(),
		Decaps: c.decaps.Load(), Decrypt: c.decrypt.Load(), Verify: c.verify.Load(), OctetsIn: c.octetsIn.Load(),
		Short: c.short.Load(), InvalidLen: c.invalidLen.Load(), InvalidSA: c.invalidSA.Load(),
		ReplayFailed: c.replayFailed.Load(), VerifyFailed: c.verifyFailed.Load(), BadPadding: c.badPadding.Load(),
	}
}

// Sealer is the outbound side of an SA. Seal is not safe for concurrent
// use; Stats and Seq may be called at any time.
type Sealer struct {
	t      transform
	cbc    cbcMode
	rand   io.Reader
	seq    atomic.Uint64 // the last sequence number sent
	ivPool [ivPoolLen]byte
	ivPos  int
	gcmIV  [8]byte
	stats  counters
}

// NewSealer returns the outbound side of the SA c describes.
func NewSealer(c Config) (*Sealer, error) {
	s := new(Sealer)
	if err := s.t.init(&c); err != nil {
		return nil, err
	}
	if s.t.cipher == CipherAESCBC || s.t.cipher == Cipher3DES {
		var err error
		if s.cbc, err = newCBC(s.t.block, true); err != nil {
			return nil, err
		}
	}
	s.rand = c.Rand
	if s.rand == nil {
		s.rand = defaultRand
	}
	s.ivPos = ivPoolLen
	return s, nil
}

// SPI, IVLen, ICVLen and Transform describe the SA.
func (s *Sealer) SPI() uint32       { return s.t.SPI() }
func (s *Sealer) IVLen() int        { return s.t.IVLen() }
func (s *Sealer) ICVLen() int       { return s.t.ICVLen() }
func (s *Sealer) Transform() string { return s.t.Transform() }

// Stats returns the counters.
func (s *Sealer) Stats() Stats { return s.stats.snapshot() }

// Seq returns the last sequence number sent (0 before the first packet),
// for the lifetime checks of IKE.
func (s *Sealer) Seq() uint64 { return s.seq.Load() }

// HeaderLen is what precedes the payload in an ESP packet: SPI, sequence
// number and IV.
func (s *Sealer) HeaderLen() int { return HeaderLen + s.t.ivLen }

// Overhead is how many octets Seal adds to a payload of n octets.
func (s *Sealer) Overhead(n int) int {
	return HeaderLen + s.t.ivLen + s.t.padLen(n) + 2 + s.t.icvLen
}

// MaxOverhead is the most Seal adds to any payload.
func (s *Sealer) MaxOverhead() int {
	return HeaderLen + s.t.ivLen + s.t.align - 1 + 2 + s.t.icvLen
}

// Seal appends the ESP packet carrying payload, with nextHeader in its
// trailer, to dst and returns the extended slice. It does not allocate
// when dst has room for Overhead(len(payload)) more octets than the
// payload, plus 8 for AES-GCM with an 8-octet ICV, which seals a 16-octet
// tag before truncating it. For in-place use the payload may sit at
// dst[len(dst)+HeaderLen():], where the packet will carry it.
func (s *Sealer) Seal(dst, payload []byte, nextHeader uint8) ([]byte, error) {
	limit := uint64(math.MaxUint32)
	if s.t.esn {
		limit = math.MaxUint64
	}
	seq := s.seq.Load()
	if seq >= limit {
		s.stats.sendRollover.Add(1)
		return dst, ErrSeqExhausted
	}
	seq++
	var iv []byte
	switch s.t.cipher {
	case CipherAESCBC, Cipher3DES:
		// RFC 3602 §3, RFC 2451 §3: an unpredictable IV per packet.
		if s.ivPos+s.t.ivLen > len(s.ivPool) {
			if _, err := io.ReadFull(s.rand, s.ivPool[:]); err != nil {
				s.stats.sendIV.Add(1)
				return dst, fmt.Errorf("%w: %w", ErrRandom, err)
			}
			s.ivPos = 0
		}
		iv = s.ivPool[s.ivPos : s.ivPos+s.t.ivLen]
		s.ivPos += s.t.ivLen
	case CipherAESGCM:
		// RFC 4106 §3.1: the IV must never repeat under a key; the
		// sequence number is the usual choice and costs nothing.
		iv = binary.BigEndian.AppendUint64(s.gcmIV[:0], seq)
	}
	s.seq.Store(seq)
	return s.seal(dst, payload, nextHeader, seq, iv), nil
}

// seal builds the packet with the given sequence number and IV.
func (s *Sealer) seal(dst, payload []byte, nextHeader uint8, seq uint64, iv []byte) []byte {
	t := &s.t
	n := len(payload)
	hdr := HeaderLen + t.ivLen
	pad := t.padLen(n)
	plainLen := n + pad + 2
	total := hdr + plainLen + t.icvLen
	extra := 0
	if t.aead != nil && t.icvLen == 8 {
		extra = 8
	}
	start := len(dst)
	dst = slices.Grow(dst, total+extra)
	out := dst[start : start+total]
	copy(out[hdr:], payload) // a no-op in place
	binary.BigEndian.PutUint32(out[0:4], t.spi)
	binary.BigEndian.PutUint32(out[4:8], uint32(seq))
	copy(out[HeaderLen:hdr], iv)
	// RFC 4303 §2.4: the default padding is 1, 2, 3, ...
	trailer := out[hdr+n : hdr+plainLen]
	for i := range pad {
		trailer[i] = byte(i + 1)
	}
	trailer[pad] = byte(pad)
	trailer[pad+1] = nextHeader
	plain := out[hdr : hdr+plainLen]

	switch {
	case t.aead != nil:
		copy(t.nonce[SaltLen:], iv)
		aad := t.gcmAAD(seq)
		t.aead.Seal(plain[:0], t.nonce[:], plain, aad)
		s.stats.encrypt.Add(1)
		s.stats.digest.Add(1)
	default:
		if s.cbc != nil {
			s.cbc.SetIV(iv)
			s.cbc.CryptBlocks(plain, plain)
			s.stats.encrypt.Add(1)
		}
		if t.mac != nil {
			t.hmacICV(out[:hdr+plainLen], seq)
			copy(out[hdr+plainLen:], t.sum[:t.icvLen])
			s.stats.digest.Add(1)
		}
	}
	s.stats.encaps.Add(1)
	s.stats.octetsOut.Add(uint64(n))
	return dst[:start+total]
}

// gcmAAD is the additional authenticated data of RFC 4106 §5: SPI and
// the 32-bit sequence number, or SPI and the 64-bit extended one.
func (t *transform) gcmAAD(seq uint64) []byte {
	binary.BigEndian.PutUint32(t.aad[0:4], t.spi)
	if t.esn {
		binary.BigEndian.PutUint64(t.aad[4:12], seq)
		return t.aad[:12]
	}
	binary.BigEndian.PutUint32(t.aad[4:8], uint32(seq))
	return t.aad[:8]
}

// hmacICV computes the HMAC of the ESP header, IV and ciphertext into
// t.sum, with the high half of an extended sequence number appended
// (RFC 4303 §2.2.1, §3.3.2.1): it is covered but not sent.
func (t *transform) hmacICV(covered []byte, seq uint64) {
	t.mac.Reset()
	t.mac.Write(covered)
	if t.esn {
		binary.BigEndian.PutUint32(t.seqHi[:], uint32(seq>>32))
		t.mac.Write(t.seqHi[:])
	}
	t.mac.Sum(t.sum[:0])
}

// Opener is the inbound side of an SA. Open is not safe for concurrent
// use; Stats may be called at any time.
type Opener struct {
	t      transform
	cbc    cbcMode
	win    window
	replay bool // the anti-replay service is on (an ICV is there)
	stats  counters
	tag    [16]byte
}

// NewOpener returns the inbound side of the SA c describes.
func NewOpener(c Config) (*Opener, error) {
	o := new(Opener)
	if err := o.t.init(&c); err != nil {
		return nil, err
	}
	if o.t.cipher == CipherAESCBC || o.t.cipher == Cipher3DES {
		var err error
		if o.cbc, err = newCBC(o.t.block, false); err != nil {
			return nil, err
		}
	}
	w := c.ReplayWindow
	if w == 0 {
		w = DefaultReplayWindow
	}
	if w < 32 || w > MaxReplayWindow {
		return nil, configErr("replay window of %d packets, want 32 to %d", w, MaxReplayWindow)
	}
	o.win = newWindow(w)
	o.replay = o.t.icvLen > 0
	return o, nil
}

// SPI, IVLen, ICVLen and Transform describe the SA.
func (o *Opener) SPI() uint32       { return o.t.SPI() }
func (o *Opener) IVLen() int        { return o.t.IVLen() }
func (o *Opener) ICVLen() int       { return o.t.ICVLen() }
func (o *Opener) Transform() string { return o.t.Transform() }

// ReplayWindow is the window size in packets; 0 when the SA has no
// anti-replay service (no ICV).
func (o *Opener) ReplayWindow() int {
	if !o.replay {
		return 0
	}
	return int(o.win.size)
}

// Stats returns the counters.
func (o *Opener) Stats() Stats { return o.stats.snapshot() }

// Open checks and decrypts the ESP packet pkt in place and returns its
// payload, a subslice of pkt, and the next-header value of its trailer.
// pkt is overwritten whatever the outcome. In the order of RFC 4303 §3.4:
// the length, the anti-replay window (a cheap refusal of what is old or
// seen, before any cryptography), the ICV in constant time and before
// decryption, then the window is moved (only now: a forged packet cannot
// move it), the packet decrypted and its padding checked. A next header of
// NextHeaderNone is a dummy packet (RFC 4303 §2.6) for the caller to drop.
func (o *Opener) Open(pkt []byte) (payload []byte, nextHeader uint8, err error) {
	t := &o.t
	if len(pkt) < HeaderLen {
		o.stats.short.Add(1)
		return nil, 0, ErrShort
	}
	if binary.BigEndian.Uint32(pkt[0:4]) != t.spi {
		o.stats.invalidSA.Add(1)
		return nil, 0, ErrSPI
	}
	hdr := HeaderLen + t.ivLen
	ctLen := len(pkt) - hdr - t.icvLen
	if ctLen < 2 || (t.align > 4 && ctLen%t.align != 0) {
		o.stats.invalidLen.Add(1)
		return nil, 0, ErrLength
	}
	low := binary.BigEndian.Uint32(pkt[4:8])
	seq := uint64(low)
	if t.esn {
		high, ok := o.win.inferHigh(low)
		if !ok {
			o.stats.replayFailed.Add(1)
			return nil, 0, ErrReplay
		}
		seq |= uint64(high) << 32
	}
	if o.replay && !o.win.check(seq) {
		o.stats.replayFailed.Add(1)
		return nil, 0, ErrReplay
	}
	iv := pkt[HeaderLen:hdr]
	ct := pkt[hdr : hdr+ctLen]
	icv := pkt[hdr+ctLen:]

	switch {
	case t.aead != nil && t.icvLen == 8:
		copy(t.nonce[SaltLen:], iv)
		if !t.gcmICV8(pkt, ctLen, seq, &o.tag) {
			o.stats.verifyFailed.Add(1)
			return nil, 0, ErrICV
		}
		t.gcmCTR(ct)
	case t.aead != nil:
		copy(t.nonce[SaltLen:], iv)
		if _, err := t.aead.Open(ct[:0], t.nonce[:], pkt[hdr:], t.gcmAAD(seq)); err != nil {
			o.stats.verifyFailed.Add(1)
			return nil, 0, ErrICV
		}
	default:
		if t.mac != nil {
			t.hmacICV(pkt[:hdr+ctLen], seq)
			if subtle.ConstantTimeCompare(t.sum[:t.icvLen], icv) != 1 {
				o.stats.verifyFailed.Add(1)
				return nil, 0, ErrICV
			}
		}
	}
	if t.icvLen > 0 {
		o.stats.verify.Add(1)
	}
	if o.replay {
		o.win.update(seq)
	}
	if o.cbc != nil {
		o.cbc.SetIV(iv)
		o.cbc.CryptBlocks(ct, ct)
	}
	if t.cipher != CipherNull {
		o.stats.decrypt.Add(1)
	}
	// RFC 4303 §2.4: pad length, then the padding 1, 2, 3, ...
	pad := int(ct[ctLen-2])
	nextHeader = ct[ctLen-1]
	if pad > ctLen-2 {
		o.stats.badPadding.Add(1)
		return nil, 0, ErrPadding
	}
	n := ctLen - 2 - pad
	for i, b := range ct[n : ctLen-2] {
		if b != byte(i+1) {
			o.stats.badPadding.Add(1)
			return nil, 0, ErrPadding
		}
	}
	o.stats.decaps.Add(1)
	o.stats.octetsIn.Add(uint64(n))
	return ct[:n], nextHeader, nil
}
