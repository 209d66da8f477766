package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// Attribute types this file handles.
const (
	typeMessageAuthenticator = 80 // RFC 2869 §5.14
	headerLen                = 20 // Code, Identifier, Length, Authenticator
	maxPacketLen             = 4096
	authLen                  = 16
)

// findMessageAuthenticator returns the offset of the value of the first
// Message-Authenticator attribute in packet b, -1 if there is none, or an
// error if the attribute chain is malformed. b is a whole packet whose
// Length field has been checked.
func findMessageAuthenticator(b []byte) (int, error) {
	off := -1
	for i := headerLen; i < len(b); {
		if len(b)-i < 2 {
			return -1, errMalformed
		}
		t, l := b[i], int(b[i+1])
		if l < 2 || i+l > len(b) {
			return -1, errMalformed
		}
		if t == typeMessageAuthenticator {
			if l != 2+authLen || off >= 0 {
				// RFC 3579 §3.2: exactly one, of 16 octets.
				return -1, errBadMessageAuth
			}
			off = i + 2
		}
		i += l
	}
	return off, nil
}

// messageAuthenticator computes HMAC-MD5(secret, packet) over b with the
// Message-Authenticator value at off taken as zero and the Authenticator
// field replaced by auth (RFC 3579 §3.2: the Request Authenticator, for
// requests their own and for responses the request's). b is not changed.
func messageAuthenticator(b []byte, off int, auth *[authLen]byte, secret []byte) [authLen]byte {
	var zero [authLen]byte
	h := hmac.New(md5.New, secret)
	h.Write(b[:4])
	h.Write(auth[:])
	h.Write(b[headerLen:off])
	h.Write(zero[:])
	h.Write(b[off+authLen:])
	var sum [authLen]byte
	h.Sum(sum[:0])
	return sum
}

// signRequest fills the Message-Authenticator at off of an Access-Request
// encoded in b (whose Authenticator field is the Request Authenticator).
func signRequest(b []byte, off int, secret []byte) {
	var auth [authLen]byte
	copy(auth[:], b[4:headerLen])
	sum := messageAuthenticator(b, off, &auth, secret)
	copy(b[off:off+authLen], sum[:])
}

// Reasons a response is dropped, counted per server (RFC 2865 §3: an
// invalid response is silently discarded).
var (
	errShort          = errors.New("radius: packet shorter than its header or its Length")
	errOversize       = errors.New("radius: packet longer than 4096 octets")
	errMalformed      = errors.New("radius: malformed attributes")
	errUnknownID      = errors.New("radius: response to no outstanding request")
	errBadAuth        = errors.New("radius: bad response authenticator")
	errNoMessageAuth  = errors.New("radius: response without Message-Authenticator")
	errBadMessageAuth = errors.New("radius: bad Message-Authenticator")
	errBadCode        = errors.New("radius: unexpected response code")
)

// checkLength returns b cut to its Length field (RFC 2865 §3: octets beyond
// it are padding and ignored; a packet shorter than it is discarded).
func checkLength(b []byte) ([]byte, error) {
	if len(b) > maxPacketLen {
		return nil, errOversize
	}
	if len(b) < headerLen {
		return nil, errShort
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > len(b) {
		return nil, errShort
	}
	if n > maxPacketLen {
		return nil, errOversize
	}
	return b[:n], nil
}

// verifyResponse checks a response b (cut to its Length) to a request
// whose Request Authenticator is reqAuth: the Response Authenticator of
// RFC 2865 §3, MD5(Code|ID|Length|RequestAuth|Attributes|Secret), and,
// when needMA (Access-Accept, -Reject, -Challenge: RFC 3579 §3.2 and the
// BlastRADIUS hardening), a valid Message-Authenticator.
func verifyResponse(b []byte, reqAuth *[authLen]byte, secret []byte, needMA bool) error {
	off, err := findMessageAuthenticator(b)
	if err != nil {
		return err
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(reqAuth[:])
	h.Write(b[headerLen:])
	h.Write(secret)
	var sum [authLen]byte
	h.Sum(sum[:0])
	if subtle.ConstantTimeCompare(sum[:], b[4:headerLen]) != 1 {
		return errBadAuth
	}
	if off < 0 {
		if needMA {
			return errNoMessageAuth
		}
		return nil
	}
	ma := messageAuthenticator(b, off, reqAuth, secret)
	if !hmac.Equal(ma[:], b[off:off+authLen]) {
		return errBadMessageAuth
	}
	return nil
}
