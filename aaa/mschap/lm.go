package mschap

import (
	"crypto/des"
	"fmt"
)

// lmMagic is the clear text that LmPasswordHash encrypts (RFC 2433 §A.4).
var lmMagic = []byte("KGS!@#$%")

// maxLMPassword is the longest password with a LAN Manager hash.
const maxLMPassword = 14

// LMPasswordHash is LmPasswordHash of RFC 2433 §A.3: the password upper-cased,
// zero-padded to 14 octets, and each half used as a DES key to encrypt
// "KGS!@#$%". Only ASCII passwords of at most 14 characters have one (the
// OEM code page conversion is not implemented beyond ASCII).
//
// MS-CHAPv1 responses never use it here (the use-NT flag is required); it
// exists for the 40- and 56-bit MPPE keys of RFC 3079 §2.1 and §2.2.
func LMPasswordHash(password string) (PasswordHash, error) {
	var h PasswordHash
	if len(password) > maxLMPassword {
		return h, fmt.Errorf("mschap: password longer than %d characters has no LAN Manager hash", maxLMPassword)
	}
	var pw [maxLMPassword]byte
	for i := 0; i < len(password); i++ {
		c := password[i]
		if c >= 0x80 {
			return h, fmt.Errorf("mschap: non-ASCII password has no LAN Manager hash here")
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		pw[i] = c
	}
	for i := 0; i < 2; i++ {
		k := ExpandDESKey([7]byte(pw[7*i : 7*i+7]))
		c, err := des.NewCipher(k[:])
		if err != nil {
			panic("mschap: " + err.Error())
		}
		c.Encrypt(h[8*i:8*i+8], lmMagic)
	}
	return h, nil
}

// V1LMStartKey is the start key of 40- and 56-bit MPPE after MS-CHAPv1
// (RFC 3079 §2.1, §2.2): the first 8 octets of the LAN Manager hash; feed it
// to InitialSessionKey.
func V1LMStartKey(password string) ([]byte, error) {
	h, err := LMPasswordHash(password)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), h[:8]...), nil
}
