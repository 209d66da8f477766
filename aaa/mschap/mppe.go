package mschap

import (
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/vpdn/vpdn/wire/mppe"
	"layeh.com/radius/rfc3079"
)

// KeyStrength is an MPPE session key strength (RFC 3078 §2, RFC 3079),
// the type of wire/mppe.
type KeyStrength = mppe.Strength

const (
	Key40  = mppe.Key40
	Key56  = mppe.Key56
	Key128 = mppe.Key128
)

// MasterKey is GetMasterKey of RFC 3079 §3.4: the 16-octet master key of an
// MS-CHAPv2 exchange, from HashNtPasswordHash and the NT-Response.
func MasterKey(hashHash PasswordHash, ntResponse []byte) ([16]byte, error) {
	if len(ntResponse) != NTResponseLen {
		return [16]byte{}, fmt.Errorf("%w: NT-Response is %d octets, want %d", ErrBadLength, len(ntResponse), NTResponseLen)
	}
	return [16]byte(rfc3079.GetMasterKey(hashHash[:], ntResponse)), nil
}

// AsymmetricStartKey is GetAsymmetricStartKey of RFC 3079 §3.4. The key the
// server sends with is the key the client receives with: isSend and isServer
// pick one of the two magic constants.
func AsymmetricStartKey(master [16]byte, k KeyStrength, isSend, isServer bool) ([]byte, error) {
	n := k.KeyLen()
	if n == 0 {
		return nil, fmt.Errorf("mschap: unknown MPPE key strength %d", uint8(k))
	}
	// layeh's isSend is the server's point of view (Magic3 for the send key).
	key, err := rfc3079.GetAsymmetricStartKey(master[:], rfc3079.KeyLength(n), isSend == isServer)
	if err != nil {
		return nil, fmt.Errorf("mschap: %w", err)
	}
	return key, nil
}

// NewKeyFromSHA is GetNewKeyFromSHA of RFC 3078 §7.3 (see
// mppe.GetNewKeyFromSHA); it returns nil for keys longer than 16 octets.
func NewKeyFromSHA(startKey, sessionKey []byte) []byte {
	k, err := mppe.GetNewKeyFromSHA(startKey, sessionKey)
	if err != nil {
		return nil
	}
	return k
}

// InitialSessionKey derives the first MPPE session key from a start key
// (RFC 3079 §3.1–§3.3, §2.1–§2.3); see mppe.InitialSessionKey. A start key
// too short for k wraps ErrBadLength.
func InitialSessionKey(startKey []byte, k KeyStrength) ([]byte, error) {
	key, err := mppe.InitialSessionKey(startKey, k)
	if errors.Is(err, mppe.ErrKeyLength) {
		return nil, fmt.Errorf("%w: %w", ErrBadLength, err)
	}
	return key, err
}

// V2Keys returns the server's MPPE send and receive start keys of an
// MS-CHAPv2 exchange (RFC 3079 §3): the 16-octet MasterSendKey and
// MasterReceiveKey that RADIUS carries as MS-MPPE-Send-Key and
// MS-MPPE-Recv-Key (RFC 2548 §2.4.2, §2.4.3). The 40- and 56-bit start
// keys are their first 8 octets.
func V2Keys(h PasswordHash, ntResponse []byte) (send, recv []byte, err error) {
	master, err := MasterKey(h.Hash(), ntResponse)
	if err != nil {
		return nil, nil, err
	}
	if send, err = AsymmetricStartKey(master, Key128, true, true); err != nil {
		return nil, nil, err
	}
	if recv, err = AsymmetricStartKey(master, Key128, false, true); err != nil {
		return nil, nil, err
	}
	return send, recv, nil
}

// V1StartKey is GetStartKey of RFC 3079 §2.4 for 128-bit MPPE after
// MS-CHAPv1: the first 16 octets of SHA1(NtPasswordHashHash |
// NtPasswordHashHash | Challenge). The same key is used in both directions.
// The 40- and 56-bit keys come from the LAN Manager hash instead
// (V1LMStartKey, RFC 3079 §2.1, §2.2).
func V1StartKey(hashHash PasswordHash, challenge []byte) ([16]byte, error) {
	if len(challenge) != ChallengeLenV1 {
		return [16]byte{}, fmt.Errorf("%w: MS-CHAPv1 challenge is %d octets, want %d", ErrBadLength, len(challenge), ChallengeLenV1)
	}
	s := sha1.New()
	s.Write(hashHash[:])
	s.Write(hashHash[:])
	s.Write(challenge)
	return [16]byte(s.Sum(nil)), nil
}
