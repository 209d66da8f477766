package ppp

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"layeh.com/radius/rfc2759"
)

func h(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMSCHAPv1KnownAnswer is RFC 2433 Appendix B.2 ("MyPw").
func TestMSCHAPv1KnownAnswer(t *testing.T) {
	hash := ntPasswordHash("MyPw")
	if !bytes.Equal(hash[:], h(t, "FC156AF7EDCD6C0EDDE3337D427F4EAC")) {
		t.Fatalf("NtPasswordHash = %X", hash)
	}
	nt := mschapv1NTResponse(h(t, "102DB5DF085D3041"), "MyPw")
	if !bytes.Equal(nt[:], h(t, "4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61")) {
		t.Fatalf("NtChallengeResponse = %X", nt)
	}
	// Non-ASCII passwords are hashed as UTF-16LE, as layeh does.
	u, _ := rfc2759.ToUTF16([]byte("pässwörd"))
	want := rfc2759.NTPasswordHash(u)
	if got := ntPasswordHash("pässwörd"); !bytes.Equal(got[:], want) {
		t.Fatalf("UTF-16 hash %X, want %X", got, want)
	}
}

// TestMSCHAPv2KnownAnswer is RFC 2759 §9.2.
func TestMSCHAPv2KnownAnswer(t *testing.T) {
	nt, auth, err := mschapv2Response(h(t, "5B5D7C7D7B3F2F3E3C2C602132262628"), h(t, "21402324255E262A28295F2B3A337C7E"), "User", "clientPass")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nt, h(t, "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")) {
		t.Fatalf("NT-Response %X", nt)
	}
	if auth != "S=407A5589115FD0D6209F510FE9C04566932CDA56" {
		t.Fatalf("AuthenticatorResponse %s", auth)
	}
	// A Windows domain is stripped before hashing (§8.2).
	nt2, auth2, _ := mschapv2Response(h(t, "5B5D7C7D7B3F2F3E3C2C602132262628"), h(t, "21402324255E262A28295F2B3A337C7E"), `LAB\User`, "clientPass")
	if !bytes.Equal(nt2, nt) || auth2 != auth {
		t.Fatalf("with a domain: %X %s", nt2, auth2)
	}
}

// TestMPPEKeysKnownAnswer is RFC 3079 §3.5.3 (128-bit keys): the start key
// printed there is the server's send key, the client's receive key.
func TestMPPEKeysKnownAnswer(t *testing.T) {
	k, err := mppeClientKeys("clientPass", h(t, "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Recv, h(t, "8B7CDC149B993A1BA118CB153F56DCCB")) {
		t.Fatalf("client receive key %X", k.Recv)
	}
	if len(k.Send) != 16 || bytes.Equal(k.Send, k.Recv) {
		t.Fatalf("client send key %X", k.Send)
	}
}

// TestCHAPMD5 checks RFC 1994 §2: MD5 over Identifier, secret, challenge.
func TestCHAPMD5(t *testing.T) {
	got := chapMD5Response(1, "sepp", h(t, "102DB5DF085D3041"))
	if hex.EncodeToString(got) != "d39bfaf5d6855a948c8c81a85947502c" {
		t.Fatalf("%x", got)
	}
}
