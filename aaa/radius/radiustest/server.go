// Package radiustest is an in-memory RADIUS server for tests of the
// layers above aaa/radius: a function from a request datagram to its
// answer, which a test serves on whatever transport it has (a memnet
// listener). It checks and signs Message-Authenticator as a hardened
// FreeRADIUS does (RFC 3579 §3.2), authenticates PAP and CHAP users, adds
// the reply attributes the test gives per user, and acknowledges
// accounting. It checks PAP, CHAP, MS-CHAPv1 and MS-CHAPv2 (with
// MS-CHAP2-Success and the MPPE keys of RFC 2548 in the Accept). It is
// not a RADIUS server for anything but tests; aaa/radius's own tests wrap
// it to answer in hostile ways.
package radiustest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/crypto/md4"
	"layeh.com/radius"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc3079"
	"layeh.com/radius/vendors/microsoft"
)

const typeMessageAuthenticator = 80 // RFC 3579 §3.2

// Server is a test RADIUS server. Set its fields before the first Handle.
type Server struct {
	Secret []byte
	// Users are the accepted users and their passwords.
	Users map[string]string
	// Reply, if set, adds attributes to the answer to an accepted user's
	// Access-Request (and may change its Code).
	Reply func(user string, req, resp *radius.Packet)
	// Access, if set, answers an Access-Request itself (an authorization-
	// only request, say); returning nil falls back to the password check.
	Access func(req *radius.Packet) *radius.Packet

	mu       sync.Mutex
	requests []*radius.Packet
}

// Requests returns every request received, in order.
func (s *Server) Requests() []*radius.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*radius.Packet(nil), s.requests...)
}

// Handle answers one request datagram; ok is false when the request is
// dropped (unparsable, a bad authenticator or Message-Authenticator).
func (s *Server) Handle(b []byte) (answer []byte, ok bool) {
	req, err := radius.Parse(b, s.Secret)
	if err != nil {
		return nil, false
	}
	switch req.Code {
	case radius.CodeAccountingRequest, radius.CodeDisconnectRequest, radius.CodeCoARequest:
		// RFC 2866 §3: the Request Authenticator is an MD5 over the
		// packet and the secret.
		if !radius.IsAuthenticRequest(b, s.Secret) {
			return nil, false
		}
	case radius.CodeAccessRequest:
		if !s.validMA(b, b[4:20]) {
			return nil, false
		}
	default:
		return nil, false
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	var resp *radius.Packet
	switch req.Code {
	case radius.CodeAccountingRequest:
		resp = req.Response(radius.CodeAccountingResponse)
		out, err := resp.Encode()
		return out, err == nil
	case radius.CodeAccessRequest:
		resp = s.Answer(req)
	default:
		return nil, false
	}
	return s.Sign(req, resp)
}

// Answer decides a verified Access-Request: Access's answer if it gives
// one, else the credential check with Reply's attributes on an accept.
func (s *Server) Answer(req *radius.Packet) *radius.Packet {
	if s.Access != nil {
		if resp := s.Access(req); resp != nil {
			return resp
		}
	}
	return s.check(req)
}

// check authenticates a PAP, CHAP (RFC 2865 §5.2, §5.3) or MS-CHAP
// (RFC 2548 §2.3) Access-Request.
func (s *Server) check(req *radius.Packet) *radius.Packet {
	user := rfc2865.UserName_GetString(req)
	pw, known := s.Users[user]
	reject := req.Response(radius.CodeAccessReject)
	rfc2865.ReplyMessage_SetString(reject, "no")
	resp := req.Response(radius.CodeAccessAccept)
	ok := false
	switch {
	case !known:
	case microsoft.MSCHAP2Response_Get(req) != nil:
		// RFC 2548 §2.3.2 (draft form): Ident, Flags, Peer-Challenge,
		// Reserved, NT-Response. Checked with layeh's rfc2759 and
		// rfc3079, independently of vpdn's own MS-CHAP code.
		v := microsoft.MSCHAP2Response_Get(req)
		ch := microsoft.MSCHAPChallenge_Get(req)
		if len(v) != 50 || len(ch) != 16 {
			return reject
		}
		peer, nt := v[2:18], v[26:50]
		want, err := rfc2759.GenerateNTResponse(ch, peer, []byte(user), []byte(pw))
		if err != nil || !bytes.Equal(want, nt) {
			rej := req.Response(radius.CodeAccessReject)
			microsoft.MSCHAPError_Add(rej, fmt.Appendf([]byte{v[0]}, "E=691 R=0 C=%X V=3", ch))
			return rej
		}
		success, _ := rfc2759.GenerateAuthenticatorResponse(ch, peer, nt, []byte(user), []byte(pw))
		send, _ := rfc3079.MakeKey(nt, []byte(pw), true)
		recv, _ := rfc3079.MakeKey(nt, []byte(pw), false)
		microsoft.MSCHAP2Success_Add(resp, append([]byte{v[0]}, success...))
		microsoft.MSMPPESendKey_Add(resp, send)
		microsoft.MSMPPERecvKey_Add(resp, recv)
		ok = true
	case microsoft.MSCHAPResponse_Get(req) != nil:
		v := microsoft.MSCHAPResponse_Get(req)
		ch := microsoft.MSCHAPChallenge_Get(req)
		if len(v) != 50 || len(ch) != 8 {
			return reject
		}
		u, _ := rfc2759.ToUTF16([]byte(pw))
		h := rfc2759.NTPasswordHash(u)
		ok = bytes.Equal(rfc2759.ChallengeResponse(ch, h), v[26:50])
		if ok {
			// RFC 2548 §2.4.1: LM-Key, NT-Key (the hash of the hash,
			// RFC 3079 §2.4), padding, hidden as User-Password.
			m := md4.New()
			m.Write(h)
			pt := make([]byte, 32)
			copy(pt[8:24], m.Sum(nil))
			a, _ := radius.NewUserPassword(pt, s.Secret, req.Authenticator[:])
			addMicrosoft(resp, 12, a)
		}
	case req.Get(rfc2865.UserPassword_Type) != nil:
		got, err := radius.UserPassword(req.Get(rfc2865.UserPassword_Type), s.Secret, req.Authenticator[:])
		ok = err == nil && string(got) == pw
	case req.Get(rfc2865.CHAPPassword_Type) != nil:
		cp := req.Get(rfc2865.CHAPPassword_Type)
		ch := req.Get(rfc2865.CHAPChallenge_Type)
		if ch == nil {
			ch = req.Authenticator[:]
		}
		if len(cp) == 17 {
			h := md5.New()
			h.Write(cp[:1])
			h.Write([]byte(pw))
			h.Write(ch)
			ok = bytes.Equal(h.Sum(nil), cp[1:])
		}
	}
	if !ok {
		return reject
	}
	if s.Reply != nil {
		s.Reply(user, req, resp)
	}
	return resp
}

// addMicrosoft adds a Microsoft Vendor-Specific attribute (RFC 2548).
func addMicrosoft(p *radius.Packet, typ byte, v []byte) {
	b := binary.BigEndian.AppendUint32(nil, 311)
	b = append(b, typ, byte(2+len(v)))
	p.Add(rfc2865.VendorSpecific_Type, append(b, v...))
}

// validMA checks a packet's Message-Authenticator: HMAC-MD5 keyed with the
// secret over the packet with the attribute's value zeroed and auth in the
// Authenticator field (RFC 3579 §3.2). A packet without one is invalid.
func (s *Server) validMA(b, auth []byte) bool {
	off := findMA(b)
	if off < 0 {
		return false
	}
	sum := s.ma(b, off, auth)
	return hmac.Equal(sum, b[off:off+16])
}

func (s *Server) ma(b []byte, off int, auth []byte) []byte {
	c := bytes.Clone(b)
	copy(c[4:20], auth)
	clear(c[off : off+16])
	h := hmac.New(md5.New, s.Secret)
	h.Write(c)
	return h.Sum(nil)
}

// findMA returns the offset of the Message-Authenticator's value, -1 if
// there is none or the attributes are malformed.
func findMA(b []byte) int {
	if len(b) < 20 {
		return -1
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > len(b) || n < 20 {
		return -1
	}
	for i := 20; i+2 <= n; {
		l := int(b[i+1])
		if l < 2 || i+l > n {
			return -1
		}
		if b[i] == typeMessageAuthenticator && l == 18 {
			return i + 2
		}
		i += l
	}
	return -1
}

// Sign encodes an answer with a Message-Authenticator computed over the
// request's authenticator, then the Response Authenticator (RFC 2865 §3,
// RFC 3579 §3.2).
func (s *Server) Sign(req, resp *radius.Packet) ([]byte, bool) {
	resp.Set(typeMessageAuthenticator, make(radius.Attribute, 16))
	b, err := resp.MarshalBinary()
	if err != nil {
		return nil, false
	}
	off := findMA(b)
	copy(b[off:], s.ma(b, off, req.Authenticator[:]))
	h := md5.New()
	h.Write(b[:4])
	h.Write(req.Authenticator[:])
	h.Write(b[20:])
	h.Write(s.Secret)
	copy(b[4:20], h.Sum(nil))
	return b, true
}

// AddCiscoAVPair adds a Cisco-AVPair (Vendor-Specific, vendor 9, type 1)
// of value s to p, as a server holding Easy VPN groups answers.
func AddCiscoAVPair(p *radius.Packet, s string) {
	b := make([]byte, 0, 6+len(s))
	b = binary.BigEndian.AppendUint32(b, 9)
	b = append(b, 1, byte(2+len(s)))
	b = append(b, s...)
	p.Add(rfc2865.VendorSpecific_Type, b)
}
