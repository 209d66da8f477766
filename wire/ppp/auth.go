package ppp

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// PAP codes, RFC 1334 §2.2.
const (
	PAPRequest Code = 1 // Authenticate-Request
	PAPAck     Code = 2 // Authenticate-Ack
	PAPNak     Code = 3 // Authenticate-Nak
)

// PAPCodeName returns the IOS debug name of a PAP code.
func PAPCodeName(c Code) string {
	switch c {
	case PAPRequest:
		return "AUTH-REQ"
	case PAPAck:
		return "AUTH-ACK"
	case PAPNak:
		return "AUTH-NAK"
	}
	return c.String()
}

// ParsePAPRequest decodes the data of an Authenticate-Request (RFC 1334
// §2.2.1):
//
//	| Peer-ID Length | Peer-Id ... | Passwd-Length | Password ... |
func ParsePAPRequest(data []byte) (peerID, password []byte, err error) {
	if len(data) < 1 {
		return nil, nil, ErrShort
	}
	n := int(data[0])
	if 1+n+1 > len(data) {
		return nil, nil, ErrFieldLength
	}
	peerID = data[1 : 1+n]
	rest := data[1+n:]
	m := int(rest[0])
	if 1+m > len(rest) {
		return nil, nil, ErrFieldLength
	}
	return peerID, rest[1 : 1+m], nil
}

// AppendPAPRequest appends the data of an Authenticate-Request. Peer-ID and
// password longer than 255 octets are truncated.
func AppendPAPRequest(dst, peerID, password []byte) []byte {
	return appendLV(appendLV(dst, peerID), password)
}

// ParsePAPMessage decodes the data of an Authenticate-Ack/Nak (RFC 1334
// §2.2.2): | Msg-Length | Message |. Empty data is accepted as an empty
// message: some servers (SoftEther) omit the Msg-Length octet.
func ParsePAPMessage(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	n := int(data[0])
	if 1+n > len(data) {
		return nil, ErrFieldLength
	}
	return data[1 : 1+n], nil
}

// AppendPAPMessage appends the data of an Authenticate-Ack/Nak.
func AppendPAPMessage(dst, msg []byte) []byte { return appendLV(dst, msg) }

func appendLV(dst, v []byte) []byte {
	if len(v) > 255 {
		v = v[:255]
	}
	dst = append(dst, byte(len(v)))
	return append(dst, v...)
}

// CHAP codes, RFC 1994 §4, and the MS-CHAP additions.
const (
	CHAPChallenge Code = 1
	CHAPResponse  Code = 2
	CHAPSuccess   Code = 3
	CHAPFailure   Code = 4
	// MSCHAPv1ChangePassword1/2 are RFC 2433 §5/§6 (Change-Password
	// packets, versions 1 and 2); MSCHAPv2ChangePassword is RFC 2759 §7.
	MSCHAPv1ChangePassword1 Code = 5
	MSCHAPv1ChangePassword2 Code = 6
	MSCHAPv2ChangePassword  Code = 7
)

// CHAPCodeName returns the IOS debug name of a CHAP code.
func CHAPCodeName(c Code) string {
	switch c {
	case CHAPChallenge:
		return "CHALLENGE"
	case CHAPResponse:
		return "RESPONSE"
	case CHAPSuccess:
		return "SUCCESS"
	case CHAPFailure:
		return "FAILURE"
	case MSCHAPv1ChangePassword1, MSCHAPv1ChangePassword2, MSCHAPv2ChangePassword:
		return "CHANGE-PASSWORD"
	}
	return c.String()
}

// ParseCHAPValue decodes the data of a CHAP Challenge or Response (RFC 1994
// §4.1), also the type data of EAP MD5-Challenge (RFC 3748 §5.4):
//
//	| Value-Size | Value ... | Name ... |
func ParseCHAPValue(data []byte) (value, name []byte, err error) {
	if len(data) < 1 {
		return nil, nil, ErrShort
	}
	n := int(data[0])
	if n == 0 {
		return nil, nil, ErrOptionValue // RFC 1994: Value is one or more octets
	}
	if 1+n > len(data) {
		return nil, nil, ErrFieldLength
	}
	return data[1 : 1+n], data[1+n:], nil
}

// AppendCHAPValue appends the data of a Challenge or Response.
func AppendCHAPValue(dst, value, name []byte) []byte {
	return append(appendLV(dst, value), name...)
}

// MS-CHAP Response Value sizes.
const (
	MSCHAPv1ChallengeLen = 8  // RFC 2433 §3
	MSCHAPv2ChallengeLen = 16 // RFC 2759 §3
	MSCHAPResponseLen    = 49 // RFC 2433 §4, RFC 2759 §4
)

// MSCHAPv1Response is the 49-octet Response Value of RFC 2433 §4.
type MSCHAPv1Response struct {
	LMResponse [24]byte
	NTResponse [24]byte
	UseNT      uint8 // 1: use the NT-Response
}

// ParseMSCHAPv1Response decodes a Response Value.
func ParseMSCHAPv1Response(v []byte) (MSCHAPv1Response, error) {
	var r MSCHAPv1Response
	if len(v) != MSCHAPResponseLen {
		return r, ErrOptionValue
	}
	copy(r.LMResponse[:], v[0:24])
	copy(r.NTResponse[:], v[24:48])
	r.UseNT = v[48]
	return r, nil
}

// Append appends the 49-octet value.
func (r *MSCHAPv1Response) Append(dst []byte) []byte {
	dst = append(dst, r.LMResponse[:]...)
	dst = append(dst, r.NTResponse[:]...)
	return append(dst, r.UseNT)
}

// MSCHAPv2Response is the 49-octet Response Value of RFC 2759 §4.
type MSCHAPv2Response struct {
	PeerChallenge [16]byte
	Reserved      [8]byte // zero
	NTResponse    [24]byte
	Flags         uint8 // zero
}

// ParseMSCHAPv2Response decodes a Response Value.
func ParseMSCHAPv2Response(v []byte) (MSCHAPv2Response, error) {
	var r MSCHAPv2Response
	if len(v) != MSCHAPResponseLen {
		return r, ErrOptionValue
	}
	copy(r.PeerChallenge[:], v[0:16])
	copy(r.Reserved[:], v[16:24])
	copy(r.NTResponse[:], v[24:48])
	r.Flags = v[48]
	return r, nil
}

// Append appends the 49-octet value.
func (r *MSCHAPv2Response) Append(dst []byte) []byte {
	dst = append(dst, r.PeerChallenge[:]...)
	dst = append(dst, r.Reserved[:]...)
	dst = append(dst, r.NTResponse[:]...)
	return append(dst, r.Flags)
}

// MS-CHAP error codes, RFC 2433 §6 and RFC 2759 §6.
const (
	MSCHAPErrRestrictedLogonHours  = 646
	MSCHAPErrAccountDisabled       = 647
	MSCHAPErrPasswordExpired       = 648
	MSCHAPErrNoDialinPermission    = 649
	MSCHAPErrAuthenticationFailure = 691
	MSCHAPErrChangingPassword      = 709
)

// MSCHAPFailure is the text of an MS-CHAP Failure packet (RFC 2433 §6,
// RFC 2759 §6): "E=eeeeeeeeee R=r C=cccccccccccccccccccccccccccccccc V=vvvvvvvvvv M=<msg>".
type MSCHAPFailure struct {
	Error     uint32
	Retry     bool
	Challenge []byte // C=: 8 (v1) or 16 (v2) octets, or nil when absent
	Version   uint32
	Message   string // M= (v2); everything after "M=" verbatim
}

// ParseMSCHAPFailure parses a Failure message. Fields other than E are
// optional; unknown fields are skipped. Challenge aliases nothing: it is
// decoded into a fresh slice only when C= is present.
func ParseMSCHAPFailure(msg string) (MSCHAPFailure, error) {
	var f MSCHAPFailure
	seenE := false
	rest := msg
	for len(rest) > 0 {
		rest = strings.TrimLeft(rest, " ")
		if len(rest) < 2 || rest[1] != '=' {
			if rest == "" {
				break
			}
			return f, ErrMessageSyntax
		}
		key := rest[0]
		if key == 'M' {
			f.Message = rest[2:]
			break
		}
		val, next, _ := strings.Cut(rest[2:], " ")
		rest = next
		switch key {
		case 'E':
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return f, ErrMessageSyntax
			}
			f.Error, seenE = uint32(n), true
		case 'R':
			switch val {
			case "0":
				f.Retry = false
			case "1":
				f.Retry = true
			default:
				return f, ErrMessageSyntax
			}
		case 'C':
			c, err := hex.DecodeString(val)
			if err != nil || (len(c) != MSCHAPv1ChallengeLen && len(c) != MSCHAPv2ChallengeLen) {
				return f, ErrMessageSyntax
			}
			f.Challenge = c
		case 'V':
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return f, ErrMessageSyntax
			}
			f.Version = uint32(n)
		}
	}
	if !seenE {
		return f, ErrMessageSyntax
	}
	return f, nil
}

// String formats the failure message; C, V and M are left out when zero.
func (f *MSCHAPFailure) String() string {
	var b strings.Builder
	b.WriteString("E=")
	b.WriteString(strconv.FormatUint(uint64(f.Error), 10))
	b.WriteString(" R=")
	if f.Retry {
		b.WriteByte('1')
	} else {
		b.WriteByte('0')
	}
	if len(f.Challenge) > 0 {
		b.WriteString(" C=")
		b.WriteString(strings.ToUpper(hex.EncodeToString(f.Challenge)))
	}
	if f.Version != 0 {
		b.WriteString(" V=")
		b.WriteString(strconv.FormatUint(uint64(f.Version), 10))
	}
	if f.Message != "" {
		b.WriteString(" M=")
		b.WriteString(f.Message)
	}
	return b.String()
}

// ParseMSCHAPv2Success parses the message of an MS-CHAPv2 Success packet
// (RFC 2759 §5): "S=<40 hex digits> M=<msg>". It returns the whole
// authenticator response token "S=..." as it is compared against
// GenerateAuthenticatorResponse, and the message.
func ParseMSCHAPv2Success(msg string) (authResponse, message string, err error) {
	if len(msg) < 42 || msg[:2] != "S=" {
		return "", "", ErrMessageSyntax
	}
	if _, err := hex.DecodeString(msg[2:42]); err != nil {
		return "", "", ErrMessageSyntax
	}
	authResponse, rest := msg[:42], msg[42:]
	rest = strings.TrimLeft(rest, " ")
	if m, ok := strings.CutPrefix(rest, "M="); ok {
		message = m
	}
	return authResponse, message, nil
}
