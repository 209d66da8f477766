package mschap

import (
	"crypto/sha1"
	"fmt"

	"layeh.com/radius/rfc3079"
)

// KeyStrength is an MPPE session key strength (RFC 3078 §2, RFC 3079).
type KeyStrength uint8

const (
	Key40  KeyStrength = 40
	Key56  KeyStrength = 56
	Key128 KeyStrength = 128
)

func (k KeyStrength) String() string {
	switch k {
	case Key40, Key56, Key128:
		return fmt.Sprintf("%d-bit", uint8(k))
	}
	return fmt.Sprintf("KeyStrength(%d)", uint8(k))
}

// keyLen is the length in octets of the start and session keys: 8 for the
// 40- and 56-bit strengths (whose first octets are then fixed), 16 for 128.
func (k KeyStrength) keyLen() (int, error) {
	switch k {
	case Key40, Key56:
		return 8, nil
	case Key128:
		return 16, nil
	}
	return 0, fmt.Errorf("mschap: unknown MPPE key strength %d", uint8(k))
}

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
	n, err := k.keyLen()
	if err != nil {
		return nil, err
	}
	// layeh's isSend is the server's point of view (Magic3 for the send key).
	key, err := rfc3079.GetAsymmetricStartKey(master[:], rfc3079.KeyLength(n), isSend == isServer)
	if err != nil {
		return nil, fmt.Errorf("mschap: %w", err)
	}
	return key, nil
}

// Pads of GetNewKeyFromSHA, RFC 3078 §7.3 and RFC 3079 §3.4.
var (
	shaPad1 = make([]byte, 40)
	shaPad2 = func() []byte {
		b := make([]byte, 40)
		for i := range b {
			b[i] = 0xf2
		}
		return b
	}()
)

// NewKeyFromSHA is GetNewKeyFromSHA of RFC 3078 §7.3: the first len(start)
// octets of SHA1(StartKey | SHApad1 | SessionKey | SHApad2).
func NewKeyFromSHA(startKey, sessionKey []byte) []byte {
	s := sha1.New()
	s.Write(startKey)
	s.Write(shaPad1)
	s.Write(sessionKey)
	s.Write(shaPad2)
	return s.Sum(nil)[:len(startKey)]
}

// InitialSessionKey derives the first MPPE session key from a start key
// (RFC 3079 §3.1–§3.3, §2.1–§2.3): GetNewKeyFromSHA(StartKey, StartKey),
// then for 40-bit keys the first three octets are set to 0xD1 0x26 0x9E and
// for 56-bit keys the first octet to 0xD1.
func InitialSessionKey(startKey []byte, k KeyStrength) ([]byte, error) {
	n, err := k.keyLen()
	if err != nil {
		return nil, err
	}
	if len(startKey) < n {
		return nil, fmt.Errorf("%w: start key is %d octets, %v needs %d", ErrBadLength, len(startKey), k, n)
	}
	key := NewKeyFromSHA(startKey[:n], startKey[:n])
	switch k {
	case Key40:
		key[0], key[1], key[2] = 0xd1, 0x26, 0x9e
	case Key56:
		key[0] = 0xd1
	}
	return key, nil
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
