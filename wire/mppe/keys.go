package mppe

import (
	"crypto/sha1"
	"errors"
	"fmt"
)

// Strength is an MPPE session key strength (RFC 3078 §2, RFC 3079).
type Strength uint8

const (
	Key40  Strength = 40
	Key56  Strength = 56
	Key128 Strength = 128
)

func (s Strength) String() string {
	switch s {
	case Key40, Key56, Key128:
		return fmt.Sprintf("%d-bit", uint8(s))
	}
	return fmt.Sprintf("Strength(%d)", uint8(s))
}

// KeyLen is the length in octets of the start and session keys: 8 for the
// 40- and 56-bit strengths (whose first octets are then fixed), 16 for
// 128, and 0 for an unknown strength.
func (s Strength) KeyLen() int {
	switch s {
	case Key40, Key56:
		return 8
	case Key128:
		return 16
	}
	return 0
}

// maxKeyLen is the longest start or session key (128-bit MPPE).
const maxKeyLen = 16

var (
	ErrStrength  = errors.New("mppe: unknown key strength")
	ErrKeyLength = errors.New("mppe: key length does not fit the strength")
)

// shaPad2 is SHApad2 of RFC 3078 §7.3 (SHApad1 is forty zero octets).
var shaPad2 = [40]byte{
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
}

// newKeyFromSHA is GetNewKeyFromSHA of RFC 3078 §7.3 (and RFC 3079 §3.4):
// the first len(start) octets of SHA1(StartKey | SHApad1 | SessionKey |
// SHApad2), written to dst. Both keys are at most 16 octets, so the input
// fits an array on the stack and sha1.Sum does not allocate.
func newKeyFromSHA(dst *[maxKeyLen]byte, start, session []byte) {
	var in [maxKeyLen + 40 + maxKeyLen + 40]byte
	n := copy(in[:maxKeyLen], start)
	n += 40 // SHApad1: zeros
	n += copy(in[n:n+maxKeyLen], session)
	n += copy(in[n:], shaPad2[:])
	sum := sha1.Sum(in[:n])
	copy(dst[:], sum[:len(start)])
}

// reduce applies the 40- and 56-bit key reduction of RFC 3079 §3.1–§3.3
// (§2.1–§2.3 for MS-CHAPv1): a 40-bit key starts 0xD1 0x26 0x9E, a 56-bit
// key 0xD1. 128-bit keys are used whole.
func reduce(key []byte, s Strength) {
	switch s {
	case Key40:
		key[0], key[1], key[2] = 0xd1, 0x26, 0x9e
	case Key56:
		key[0] = 0xd1
	}
}

// changeKey replaces session[:n] by the next session key of RFC 3078 §7.3:
// InterimKey = GetNewKeyFromSHA(StartKey, SessionKey), then SessionKey =
// RC4(InterimKey) applied to InterimKey, reduced for 40 and 56 bits. It
// uses rc as scratch: the caller re-keys rc afterwards.
func changeKey(rc *rc4, start []byte, session *[maxKeyLen]byte, s Strength) {
	n := len(start)
	var interim [maxKeyLen]byte
	newKeyFromSHA(&interim, start, session[:n])
	rc.reset(interim[:n])
	rc.xorKeyStream(session[:n], interim[:n])
	reduce(session[:n], s)
}

// checkKey returns the key length of s and checks that start holds it.
func checkKey(start []byte, s Strength) (int, error) {
	n := s.KeyLen()
	if n == 0 {
		return 0, fmt.Errorf("%w %d", ErrStrength, uint8(s))
	}
	if len(start) < n {
		return 0, fmt.Errorf("%w: start key is %d octets, %v needs %d", ErrKeyLength, len(start), s, n)
	}
	return n, nil
}

// GetNewKeyFromSHA is GetNewKeyFromSHA of RFC 3078 §7.3: the first
// len(startKey) octets of SHA1(StartKey | SHApad1 | SessionKey | SHApad2).
// Keys are 1 to 16 octets.
func GetNewKeyFromSHA(startKey, sessionKey []byte) ([]byte, error) {
	if len(startKey) == 0 || len(startKey) > maxKeyLen || len(sessionKey) > maxKeyLen {
		return nil, fmt.Errorf("%w: keys of %d and %d octets, want 1 to %d", ErrKeyLength, len(startKey), len(sessionKey), maxKeyLen)
	}
	var k [maxKeyLen]byte
	newKeyFromSHA(&k, startKey, sessionKey)
	return append([]byte(nil), k[:len(startKey)]...), nil
}

// InitialSessionKey derives the first session key from a start key (RFC
// 3079 §3.1–§3.3, §2.1–§2.3): GetNewKeyFromSHA(StartKey, StartKey), reduced
// for 40 and 56 bits. Only the first s.KeyLen() octets of startKey are used.
func InitialSessionKey(startKey []byte, s Strength) ([]byte, error) {
	n, err := checkKey(startKey, s)
	if err != nil {
		return nil, err
	}
	var k [maxKeyLen]byte
	newKeyFromSHA(&k, startKey[:n], startKey[:n])
	reduce(k[:n], s)
	return append([]byte(nil), k[:n]...), nil
}

// ChangeKey returns the session key that follows sessionKey (RFC 3078
// §7.3), for the start key it was derived from. Only the first s.KeyLen()
// octets of each key are used.
func ChangeKey(startKey, sessionKey []byte, s Strength) ([]byte, error) {
	n, err := checkKey(startKey, s)
	if err != nil {
		return nil, err
	}
	if len(sessionKey) < n {
		return nil, fmt.Errorf("%w: session key is %d octets, %v needs %d", ErrKeyLength, len(sessionKey), s, n)
	}
	var k [maxKeyLen]byte
	copy(k[:], sessionKey[:n])
	var rc rc4
	changeKey(&rc, startKey[:n], &k, s)
	return append([]byte(nil), k[:n]...), nil
}
