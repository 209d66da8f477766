package mschap

import (
	"crypto/subtle"
	"fmt"
)

// ResponseV1 is the 49-octet Value field of an MS-CHAPv1 Response packet
// (RFC 2433 §6):
//
//	24 octets  LAN Manager compatible challenge response (zero-filled)
//	24 octets  Windows NT compatible challenge response
//	 1 octet   "use Windows NT compatible challenge response" flag
type ResponseV1 struct {
	LMResponse [NTResponseLen]byte
	NTResponse [NTResponseLen]byte
	UseNT      bool
}

// ParseResponseV1 splits an MS-CHAPv1 Response Value field.
func ParseResponseV1(b []byte) (ResponseV1, error) {
	var r ResponseV1
	if len(b) != ResponseLen {
		return r, fmt.Errorf("%w: MS-CHAPv1 response is %d octets, want %d", ErrBadLength, len(b), ResponseLen)
	}
	copy(r.LMResponse[:], b[0:24])
	copy(r.NTResponse[:], b[24:48])
	r.UseNT = b[48]&1 == 1
	return r, nil
}

// Append appends the 49-octet wire form of r.
func (r ResponseV1) Append(b []byte) []byte {
	b = append(b, r.LMResponse[:]...)
	b = append(b, r.NTResponse[:]...)
	var f byte
	if r.UseNT {
		f = 1
	}
	return append(b, f)
}

// NTChallengeResponse is RFC 2433 §A.5: the response to the
// authenticator's 8-octet challenge, keyed by the NT password hash.
func NTChallengeResponse(challenge []byte, h PasswordHash) ([NTResponseLen]byte, error) {
	if len(challenge) != ChallengeLenV1 {
		return [NTResponseLen]byte{}, fmt.Errorf("%w: MS-CHAPv1 challenge is %d octets, want %d", ErrBadLength, len(challenge), ChallengeLenV1)
	}
	return ChallengeResponse([8]byte(challenge), h), nil
}

// ErrLMOnly is returned for a response whose use-NT flag is clear: it asks
// the authenticator to use the LAN Manager response, which RFC 2433 §6
// deprecates and this package does not implement.
var ErrLMOnly = fmt.Errorf("mschap: MS-CHAPv1 response without the use-NT flag (LAN Manager only)")

// VerifyV1 checks an MS-CHAPv1 Response Value field against the password
// hash, in constant time. A response that does not set the use-NT flag is
// an error (ErrLMOnly), not a match.
func VerifyV1(challenge, value []byte, h PasswordHash) (bool, ResponseV1, error) {
	r, err := ParseResponseV1(value)
	if err != nil {
		return false, r, err
	}
	if !r.UseNT {
		return false, r, ErrLMOnly
	}
	want, err := NTChallengeResponse(challenge, h)
	if err != nil {
		return false, r, err
	}
	return subtle.ConstantTimeCompare(want[:], r.NTResponse[:]) == 1, r, nil
}
