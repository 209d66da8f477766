package mschap

import (
	"bytes"
	"strings"
	"testing"
)

func TestPeerSide(t *testing.T) {
	auth, peer := unhex(t, v2AuthChallenge), unhex(t, v2PeerChallenge)
	h := NTPasswordHash("clientPass")
	r, err := NewResponseV2(auth, peer, "User", h)
	if err != nil || !bytes.Equal(r.NTResponse[:], unhex(t, v2NTResponse)) {
		t.Fatalf("NewResponseV2: %X %v", r.NTResponse, err)
	}
	if _, err := NewResponseV2(auth, peer[:15], "User", h); err == nil {
		t.Error("short peer challenge accepted")
	}
	hh := h.Hash()
	for _, tc := range []struct {
		msg string
		ok  bool
	}{
		{v2AuthResponse, true},
		{strings.ToLower(v2AuthResponse[:2]) + v2AuthResponse[2:], false},
		{"S=" + strings.ToLower(v2AuthResponse[2:]), true},
		{SuccessMessage(v2AuthResponse, "Welcome"), true},
		{v2AuthResponse + "M=x", false},
		{v2AuthResponse[:41], false},
		{"S=407A5589115FD0D6209F510FE9C04566932CDA57", false},
		{"S=G07A5589115FD0D6209F510FE9C04566932CDA56", false},
		{"", false},
	} {
		if got := CheckAuthenticatorResponse(hh, r.NTResponse[:], peer, auth, "User", tc.msg); got != tc.ok {
			t.Errorf("%q: %v", tc.msg, got)
		}
	}
	if SuccessMessage("S=1", "") != "S=1" || SuccessMessage("S=1", "hi there") != "S=1 M=hi there" {
		t.Error("SuccessMessage")
	}
}

func TestParseFailure(t *testing.T) {
	f, err := ParseFailure(FailureV2(691, unhex(t, v2AuthChallenge)))
	if err != nil || f.Code != 691 || f.Retry || f.Version != 3 || !bytes.Equal(f.Challenge, unhex(t, v2AuthChallenge)) {
		t.Errorf("%+v %v", f, err)
	}
	f, err = ParseFailure("E=648 R=1 V=2 X=unknown M=Password expired, call the help desk")
	if err != nil || f.Code != 648 || !f.Retry || f.Version != 2 || f.Challenge != nil || f.Message != "Password expired, call the help desk" {
		t.Errorf("%+v %v", f, err)
	}
	for _, bad := range []string{"", "R=0", "E=x", "E=-1", "E=691 R=2", "E=691 C=12", "E=691 C=zz", "E=691 V=v", "M=E=691"} {
		if _, err := ParseFailure(bad); err == nil || !strings.HasPrefix(err.Error(), "mschap: ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := ParseFailure("E=691 M=" + strings.Repeat("x", maxFailureLen)); err == nil {
		t.Error("oversized message accepted")
	}
}

func FuzzParseFailure(f *testing.F) {
	f.Add("E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3")
	f.Add("E=648 R=1 V=2 M=text")
	f.Add("E=691  R=0")
	f.Fuzz(func(t *testing.T, msg string) {
		fl, err := ParseFailure(msg)
		if err != nil {
			return
		}
		if fl.Code < 0 || fl.Version < 0 || fl.Challenge != nil && len(fl.Challenge) != 8 && len(fl.Challenge) != 16 {
			t.Fatalf("%q: %+v", msg, fl)
		}
		if fl.Challenge != nil && fl.Message == "" && !fl.Retry && fl.Version == 3 && fl.Code >= 0 && len(fl.Challenge) == 16 {
			// Re-encoding the standard form parses to the same values.
			back, err := ParseFailure(FailureV2(fl.Code, fl.Challenge))
			if err != nil || back.Code != fl.Code || !bytes.Equal(back.Challenge, fl.Challenge) {
				t.Fatalf("round trip of %q: %+v %v", msg, back, err)
			}
		}
	})
}
