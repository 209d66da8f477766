// Package type7 is Cisco's reversible "password 7" encoding, shared by
// config (which writes it under service password-encryption) and aaa and
// the daemon (which decode it). It is obfuscation, not encryption.
package type7

import (
	"errors"
	"fmt"
)

// type7Key is the constant that Cisco's reversible "password 7" encoding
// XORs the password with, starting at the offset given by the two leading
// decimal digits of the encoded string.
const type7Key = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"

// ErrBad is wrapped by every error decoding a type 7 password.
var ErrBad = errors.New("type7: bad type 7 password")

// maxType7Plain bounds the decoded length; IOS limits passwords to far less.
const maxType7Plain = 256

// Decode reverses the Cisco "password 7" encoding: two decimal digits
// giving an offset into the key, then two hex digits per password octet.
// It is obfuscation, not encryption.
func Decode(s string) (string, error) {
	if len(s) < 2 || len(s)%2 != 0 {
		return "", fmt.Errorf("%w: length %d", ErrBad, len(s))
	}
	if len(s)/2-1 > maxType7Plain {
		return "", fmt.Errorf("%w: longer than %d octets", ErrBad, maxType7Plain)
	}
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return "", fmt.Errorf("%w: offset %q is not decimal", ErrBad, s[:2])
	}
	seed := int(s[0]-'0')*10 + int(s[1]-'0')
	if seed >= len(type7Key) {
		return "", fmt.Errorf("%w: offset %d out of range", ErrBad, seed)
	}
	out := make([]byte, 0, len(s)/2-1)
	for i := 2; i+1 < len(s); i += 2 {
		hi, ok1 := unhexDigit(s[i])
		lo, ok2 := unhexDigit(s[i+1])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: %q at %d is not hex", ErrBad, s[i:i+2], i)
		}
		k := type7Key[(seed+len(out))%len(type7Key)]
		out = append(out, (hi<<4|lo)^k)
	}
	return string(out), nil
}

// Encode encodes a password as "password 7" with the given offset
// (IOS picks 0 to 15). It is used to write configuration back out.
func Encode(plain string, seed int) (string, error) {
	if seed < 0 || seed > 15 {
		return "", fmt.Errorf("%w: offset %d not in 0..15", ErrBad, seed)
	}
	if len(plain) > maxType7Plain {
		return "", fmt.Errorf("%w: longer than %d octets", ErrBad, maxType7Plain)
	}
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2+2*len(plain))
	out = append(out, byte('0'+seed/10), byte('0'+seed%10))
	for i := 0; i < len(plain); i++ {
		c := plain[i] ^ type7Key[(seed+i)%len(type7Key)]
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out), nil
}

func unhexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
