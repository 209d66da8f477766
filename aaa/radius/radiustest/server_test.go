package radiustest

import (
	"crypto/hmac"
	"crypto/md5"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// request encodes a PAP Access-Request, signed with a Message-Authenticator
// unless noMA.
func request(t *testing.T, secret []byte, user, pw string, noMA bool) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, secret)
	rfc2865.UserName_SetString(p, user)
	rfc2865.UserPassword_SetString(p, pw)
	if noMA {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p.Add(typeMessageAuthenticator, make(radius.Attribute, 16))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	off := findMA(b)
	h := hmac.New(md5.New, secret)
	h.Write(b)
	copy(b[off:], h.Sum(nil))
	return b
}

// TestHandle: a signed request is answered and the answer verifies (its
// Response Authenticator and Message-Authenticator); an unsigned one, or
// one with a wrong Message-Authenticator, is dropped; a wrong password is
// rejected.
func TestHandle(t *testing.T) {
	secret := []byte("s3cret")
	s := &Server{Secret: secret, Users: map[string]string{"alice": "wonderland"},
		Reply: func(_ string, _, resp *radius.Packet) { rfc2865.SessionTimeout_Set(resp, 60) }}
	req := request(t, secret, "alice", "wonderland", false)
	out, ok := s.Handle(req)
	if !ok {
		t.Fatal("signed request dropped")
	}
	if !radius.IsAuthenticResponse(out, req, secret) {
		t.Fatal("answer's Response Authenticator does not verify")
	}
	off := findMA(out)
	if off < 0 || !s.validMA(out, req[4:20]) {
		t.Fatal("answer's Message-Authenticator does not verify")
	}
	resp, err := radius.Parse(out, secret)
	if err != nil || resp.Code != radius.CodeAccessAccept || rfc2865.SessionTimeout_Get(resp) != 60 {
		t.Fatalf("answer %v %v", resp, err)
	}
	if _, ok := s.Handle(request(t, secret, "alice", "wonderland", true)); ok {
		t.Error("request without Message-Authenticator answered")
	}
	bad := request(t, secret, "alice", "wonderland", false)
	bad[len(bad)-1] ^= 1
	if _, ok := s.Handle(bad); ok {
		t.Error("request with a wrong Message-Authenticator answered")
	}
	out, ok = s.Handle(request(t, secret, "alice", "x", false))
	if resp, err := radius.Parse(out, secret); !ok || err != nil || resp.Code != radius.CodeAccessReject {
		t.Errorf("wrong password: %v %v", ok, err)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests recorded, want 2", n)
	}
}
