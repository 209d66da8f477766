// Package mschap holds the cryptography of Microsoft's CHAP dialects and the
// MPPE keys derived from them: MS-CHAPv1 (RFC 2433), MS-CHAPv2 (RFC 2759)
// and the MPPE key derivation of RFC 3079. Everything here is a pure
// function: no I/O, no state, no logging.
//
// Passwords are taken as Go strings and hashed as UTF-16LE ("unicode-char"
// in the RFCs' pseudocode). Backends that store only the NT hash can call
// the functions that take a [16]byte hash directly.
package mschap

import (
	"crypto/des"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"layeh.com/radius/rfc2759"
)

// Sizes of the protocol fields.
const (
	ChallengeLenV1  = 8  // RFC 2433 §5: the authenticator's challenge
	ChallengeLenV2  = 16 // RFC 2759 §3: authenticator and peer challenges
	ResponseLen     = 49 // RFC 2433 §6 and RFC 2759 §4: the Value field
	NTResponseLen   = 24
	HashLen         = 16
	AuthResponseLen = 42 // "S=" and 40 hex digits, RFC 2759 §8.7
)

// ErrBadLength is wrapped by every error about a field of the wrong size.
var ErrBadLength = errors.New("mschap: bad field length")

// PasswordHash is the NT password hash, MD4 over the UTF-16LE password
// (RFC 2759 §8.3, RFC 2433 §A.2 NtPasswordHash).
type PasswordHash [HashLen]byte

// NTPasswordHash hashes a password as RFC 2759 §8.3 describes.
func NTPasswordHash(password string) PasswordHash {
	var h PasswordHash
	copy(h[:], rfc2759.NTPasswordHash(utf16le(password)))
	return h
}

// Hash returns HashNtPasswordHash (RFC 2759 §8.4): MD4 of the hash.
func (h PasswordHash) Hash() PasswordHash {
	var hh PasswordHash
	copy(hh[:], rfc2759.NTPasswordHash(h[:]))
	return hh
}

// utf16le encodes s as the little-endian UTF-16 the RFCs call unicode-char.
// Invalid UTF-8 is encoded as U+FFFD, as Go's range loop decodes it.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return b
}

// ExpandDESKey inserts odd parity bits into a 56-bit key, turning 7 octets
// into the 8 that DES takes (RFC 2759 §8.6 and the example of §9.3).
func ExpandDESKey(k [7]byte) [8]byte {
	var v uint64
	for _, b := range k {
		v = v<<8 | uint64(b)
	}
	var out [8]byte
	for i := range out {
		b := byte(v>>(49-7*uint(i))) << 1
		// Odd parity in the low bit.
		p := b ^ b>>4
		p ^= p >> 2
		p ^= p >> 1
		if p&1 == 0 {
			b |= 1
		}
		out[i] = b
	}
	return out
}

// desEncrypt is DesEncrypt of RFC 2759 §8.6: one DES block in ECB mode.
func desEncrypt(key7 []byte, clear []byte, out []byte) {
	k := ExpandDESKey([7]byte(key7))
	c, err := des.NewCipher(k[:])
	if err != nil {
		// des.NewCipher fails only on a key that is not 8 bytes.
		panic("mschap: " + err.Error())
	}
	c.Encrypt(out, clear)
}

// ChallengeResponse computes the 24-octet response to an 8-octet challenge
// (RFC 2759 §8.5, RFC 2433 §A.5): three DES encryptions of the challenge
// keyed by the password hash zero-padded to 21 octets.
func ChallengeResponse(challenge [8]byte, h PasswordHash) [NTResponseLen]byte {
	var z [21]byte
	copy(z[:], h[:])
	var r [NTResponseLen]byte
	for i := 0; i < 3; i++ {
		desEncrypt(z[7*i:7*i+7], challenge[:], r[8*i:8*i+8])
	}
	return r
}

// StripDomain removes a Windows domain prepended to a user name
// ("BIGCO\johndoe" → "johndoe", RFC 2433 §6). RFC 2759 §8.2 hashes only the
// name without the domain.
func StripDomain(username string) string {
	if i := strings.LastIndexByte(username, '\\'); i >= 0 {
		return username[i+1:]
	}
	return username
}

// ChallengeHash is RFC 2759 §8.2: the first 8 octets of
// SHA1(PeerChallenge | AuthenticatorChallenge | UserName), the user name
// taken without a Windows domain.
func ChallengeHash(peerChallenge, authChallenge []byte, username string) ([8]byte, error) {
	if len(peerChallenge) != ChallengeLenV2 || len(authChallenge) != ChallengeLenV2 {
		return [8]byte{}, fmt.Errorf("%w: challenges are %d and %d octets, want %d",
			ErrBadLength, len(peerChallenge), len(authChallenge), ChallengeLenV2)
	}
	var c [8]byte
	copy(c[:], rfc2759.ChallengeHash(peerChallenge, authChallenge, []byte(StripDomain(username))))
	return c, nil
}

// GenerateNTResponse is RFC 2759 §8.1, from the password hash.
func GenerateNTResponse(authChallenge, peerChallenge []byte, username string, h PasswordHash) ([NTResponseLen]byte, error) {
	c, err := ChallengeHash(peerChallenge, authChallenge, username)
	if err != nil {
		return [NTResponseLen]byte{}, err
	}
	return ChallengeResponse(c, h), nil
}

// Magic constants of RFC 2759 §8.7.
var (
	authMagic1 = []byte("Magic server to client signing constant")
	authMagic2 = []byte("Pad to make it do more than one iteration")
)

// AuthenticatorResponse is GenerateAuthenticatorResponse of RFC 2759 §8.7,
// from HashNtPasswordHash: "S=" followed by 40 upper-case hex digits.
func AuthenticatorResponse(hashHash PasswordHash, ntResponse []byte, peerChallenge, authChallenge []byte, username string) (string, error) {
	if len(ntResponse) != NTResponseLen {
		return "", fmt.Errorf("%w: NT-Response is %d octets, want %d", ErrBadLength, len(ntResponse), NTResponseLen)
	}
	c, err := ChallengeHash(peerChallenge, authChallenge, username)
	if err != nil {
		return "", err
	}
	s := sha1.New()
	s.Write(hashHash[:])
	s.Write(ntResponse)
	s.Write(authMagic1)
	digest := s.Sum(nil)
	s.Reset()
	s.Write(digest)
	s.Write(c[:])
	s.Write(authMagic2)
	digest = s.Sum(digest[:0])
	return "S=" + strings.ToUpper(hex.EncodeToString(digest)), nil
}

// ResponseV2 is the 49-octet Value field of an MS-CHAPv2 Response packet
// (RFC 2759 §4):
//
//	16 octets  Peer-Challenge
//	 8 octets  Reserved, zero
//	24 octets  NT-Response
//	 1 octet   Flags, zero
type ResponseV2 struct {
	PeerChallenge [ChallengeLenV2]byte
	NTResponse    [NTResponseLen]byte
	Flags         byte
}

// ParseResponseV2 splits a Response Value field. The reserved octets and
// the flags are not checked: RFC 2759 §4 says they are zero, but a peer that
// sets them is still answering the challenge.
func ParseResponseV2(b []byte) (ResponseV2, error) {
	var r ResponseV2
	if len(b) != ResponseLen {
		return r, fmt.Errorf("%w: MS-CHAPv2 response is %d octets, want %d", ErrBadLength, len(b), ResponseLen)
	}
	copy(r.PeerChallenge[:], b[0:16])
	copy(r.NTResponse[:], b[24:48])
	r.Flags = b[48]
	return r, nil
}

// Append appends the 49-octet wire form of r.
func (r ResponseV2) Append(b []byte) []byte {
	b = append(b, r.PeerChallenge[:]...)
	b = append(b, make([]byte, 8)...)
	b = append(b, r.NTResponse[:]...)
	return append(b, r.Flags)
}

// VerifyV2 checks an MS-CHAPv2 Response Value field against the password
// hash. On success it returns the authenticator response "S=..." for the
// Success packet (RFC 2759 §5) and the NT-Response, from which the MPPE
// keys are derived. The comparison is constant-time.
func VerifyV2(authChallenge, value []byte, username string, h PasswordHash) (ok bool, authResponse string, r ResponseV2, err error) {
	r, err = ParseResponseV2(value)
	if err != nil {
		return false, "", r, err
	}
	want, err := GenerateNTResponse(authChallenge, r.PeerChallenge[:], username, h)
	if err != nil {
		return false, "", r, err
	}
	if subtle.ConstantTimeCompare(want[:], r.NTResponse[:]) != 1 {
		return false, "", r, nil
	}
	s, err := AuthenticatorResponse(h.Hash(), r.NTResponse[:], r.PeerChallenge[:], authChallenge, username)
	if err != nil {
		return false, "", r, err
	}
	return true, s, r, nil
}

// Error codes of the Failure packet (RFC 2433 §8, RFC 2759 §6).
const (
	ErrorRestrictedLogonHours  = 646
	ErrorAcctDisabled          = 647
	ErrorPasswdExpired         = 648
	ErrorNoDialinPermission    = 649
	ErrorAuthenticationFailure = 691
	ErrorChangingPassword      = 709
)

// FailureV2 builds the Message of an MS-CHAPv2 Failure packet, RFC 2759 §6:
// "E=691 R=0 C=<32 hex digits> V=3". The challenge is the authenticator
// challenge of the failed attempt; retry is not offered.
func FailureV2(code int, authChallenge []byte) string {
	return fmt.Sprintf("E=%d R=0 C=%s V=3", code, strings.ToUpper(hex.EncodeToString(authChallenge)))
}

// FailureV1 builds the Message of an MS-CHAPv1 Failure packet, RFC 2433 §8,
// without a new challenge and with version 2: "E=691 R=0 V=2".
func FailureV1(code int) string {
	return fmt.Sprintf("E=%d R=0 V=2", code)
}
