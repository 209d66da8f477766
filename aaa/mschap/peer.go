package mschap

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// This file holds the peer's side of MS-CHAPv2 (vpdn as a client or LAC)
// and the text formats of the Success and Failure packets.

// NewResponseV2 builds the peer's Response Value field (RFC 2759 §4) for an
// authenticator challenge, with the peer challenge the caller drew at random.
func NewResponseV2(authChallenge, peerChallenge []byte, username string, h PasswordHash) (ResponseV2, error) {
	var r ResponseV2
	if len(peerChallenge) != ChallengeLenV2 {
		return r, fmt.Errorf("%w: peer challenge is %d octets, want %d", ErrBadLength, len(peerChallenge), ChallengeLenV2)
	}
	nt, err := GenerateNTResponse(authChallenge, peerChallenge, username, h)
	if err != nil {
		return r, err
	}
	copy(r.PeerChallenge[:], peerChallenge)
	r.NTResponse = nt
	return r, nil
}

// SuccessMessage builds the Message of a Success packet (RFC 2759 §5):
// the authenticator response, and " M=" and a text if msg is not empty.
func SuccessMessage(authResponse, msg string) string {
	if msg == "" {
		return authResponse
	}
	return authResponse + " M=" + msg
}

// CheckAuthenticatorResponse is RFC 2759 §8.8 on the peer: it compares the
// "S=" field at the start of a received Success message with the expected
// authenticator response, in constant time. Hex digits of either case are
// accepted.
func CheckAuthenticatorResponse(hashHash PasswordHash, ntResponse, peerChallenge, authChallenge []byte, username, received string) bool {
	want, err := AuthenticatorResponse(hashHash, ntResponse, peerChallenge, authChallenge, username)
	if err != nil {
		return false
	}
	if len(received) < AuthResponseLen || received[:2] != "S=" {
		return false
	}
	if len(received) > AuthResponseLen && received[AuthResponseLen] != ' ' {
		return false
	}
	got, err := hex.DecodeString(received[2:AuthResponseLen])
	if err != nil {
		return false
	}
	w, _ := hex.DecodeString(want[2:])
	return subtle.ConstantTimeCompare(got, w) == 1
}

// Failure is a parsed Failure message, "E=eeee R=r C=cccc V=vvvv M=text"
// (RFC 2433 §8, RFC 2759 §6).
type Failure struct {
	Code      int
	Retry     bool
	Challenge []byte // nil if absent
	Version   int    // 0 if absent
	Message   string
}

// maxFailureLen bounds the text ParseFailure looks at; a CHAP packet cannot
// carry more.
const maxFailureLen = 65535

// ParseFailure parses the Message of a Failure packet. The E= field is
// required; unknown fields are ignored as RFC 2433 §8 asks; M= takes the
// rest of the text.
func ParseFailure(msg string) (Failure, error) {
	var f Failure
	if len(msg) > maxFailureLen {
		return f, fmt.Errorf("mschap: failure message of %d octets", len(msg))
	}
	haveE := false
	rest := msg
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		if strings.HasPrefix(rest, "M=") {
			f.Message = rest[2:]
			break
		}
		field := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			field, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			continue
		}
		var err error
		switch key {
		case "E":
			f.Code, err = strconv.Atoi(val)
			if err != nil || f.Code < 0 {
				return f, fmt.Errorf("mschap: failure message: bad error code %q", val)
			}
			haveE = true
		case "R":
			if val != "0" && val != "1" {
				return f, fmt.Errorf("mschap: failure message: bad retry flag %q", val)
			}
			f.Retry = val == "1"
		case "C":
			f.Challenge, err = hex.DecodeString(val)
			if err != nil || (len(f.Challenge) != ChallengeLenV1 && len(f.Challenge) != ChallengeLenV2) {
				return f, fmt.Errorf("mschap: failure message: bad challenge %q", val)
			}
		case "V":
			f.Version, err = strconv.Atoi(val)
			if err != nil || f.Version < 0 {
				return f, fmt.Errorf("mschap: failure message: bad version %q", val)
			}
		}
	}
	if !haveE {
		return f, fmt.Errorf("mschap: failure message %q without an error code", msg)
	}
	return f, nil
}
