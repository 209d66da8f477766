package mschap

import (
	"bytes"
	"crypto/rc4"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"layeh.com/radius/rfc2759"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 2759 §9.2, "Hash Example": user "User", password "clientPass".
const (
	v2AuthChallenge = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28"
	v2PeerChallenge = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E"
	v2Challenge     = "D0 2E 43 86 BC E9 12 26"
	v2PasswordHash  = "44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE"
	v2NTResponse    = "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF"
	v2HashHash      = "41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F"
	v2AuthResponse  = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
)

func TestRFC2759HashExample(t *testing.T) {
	auth, peer := unhex(t, v2AuthChallenge), unhex(t, v2PeerChallenge)
	h := NTPasswordHash("clientPass")
	if !bytes.Equal(h[:], unhex(t, v2PasswordHash)) {
		t.Errorf("PasswordHash = %X", h)
	}
	hh := h.Hash()
	if !bytes.Equal(hh[:], unhex(t, v2HashHash)) {
		t.Errorf("PasswordHashHash = %X", hh)
	}
	c, err := ChallengeHash(peer, auth, "User")
	if err != nil || !bytes.Equal(c[:], unhex(t, v2Challenge)) {
		t.Errorf("ChallengeHash = %X, %v", c, err)
	}
	nt, err := GenerateNTResponse(auth, peer, "User", h)
	if err != nil || !bytes.Equal(nt[:], unhex(t, v2NTResponse)) {
		t.Errorf("NT-Response = %X, %v", nt, err)
	}
	s, err := AuthenticatorResponse(hh, nt[:], peer, auth, "User")
	if err != nil || s != v2AuthResponse {
		t.Errorf("AuthenticatorResponse = %q, %v", s, err)
	}
	// A Windows domain before the name is not hashed (RFC 2759 §8.2).
	s2, _ := AuthenticatorResponse(hh, nt[:], peer, auth, `BIGCO\User`)
	if s2 != v2AuthResponse {
		t.Errorf("with domain: %q", s2)
	}
	// layeh's implementation from the clear-text password agrees.
	ls, err := rfc2759.GenerateAuthenticatorResponse(auth, peer, nt[:], []byte("User"), []byte("clientPass"))
	if err != nil || ls != s {
		t.Errorf("layeh: %q, %v", ls, err)
	}
}

func TestVerifyV2(t *testing.T) {
	auth, peer := unhex(t, v2AuthChallenge), unhex(t, v2PeerChallenge)
	var r ResponseV2
	copy(r.PeerChallenge[:], peer)
	copy(r.NTResponse[:], unhex(t, v2NTResponse))
	value := r.Append(nil)
	if len(value) != ResponseLen {
		t.Fatalf("len %d", len(value))
	}
	ok, s, got, err := VerifyV2(auth, value, "User", NTPasswordHash("clientPass"))
	if !ok || err != nil || s != v2AuthResponse || got != r {
		t.Fatalf("VerifyV2 = %v %q %v", ok, s, err)
	}
	ok, s, _, err = VerifyV2(auth, value, "User", NTPasswordHash("clientpass"))
	if ok || err != nil || s != "" {
		t.Fatalf("wrong password: %v %q %v", ok, s, err)
	}
	ok, _, _, err = VerifyV2(auth, value, "Other", NTPasswordHash("clientPass"))
	if ok || err != nil {
		t.Fatalf("wrong user: %v %v", ok, err)
	}
	for _, tc := range []struct {
		name        string
		auth, value []byte
	}{
		{"short value", auth, value[:48]},
		{"long value", auth, append(value, 0)},
		{"empty value", auth, nil},
		{"short challenge", auth[:8], value},
	} {
		ok, _, _, err := VerifyV2(tc.auth, tc.value, "User", NTPasswordHash("clientPass"))
		if ok || !errors.Is(err, ErrBadLength) {
			t.Errorf("%s: %v %v", tc.name, ok, err)
		}
	}
}

func TestFailureV2(t *testing.T) {
	got := FailureV2(ErrorAuthenticationFailure, unhex(t, v2AuthChallenge))
	want := "E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := FailureV1(691); got != "E=691 R=0 V=2" {
		t.Errorf("v1: %q", got)
	}
}

// RFC 2759 §9.3 and RFC 2433 §B.3: DES key parity.
func TestExpandDESKey(t *testing.T) {
	h := NTPasswordHash("MyPw")
	if !bytes.Equal(h[:], unhex(t, "FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")) {
		t.Fatalf("hash of MyPw = %X", h)
	}
	for _, tc := range []struct{ raw, want string }{
		{"FC 15 6A F7 ED CD 6C", "FD 0B 5B 5E 7F 6E 34 D9"},
		{"0E DD E3 33 7D 42 7F", "0E 6E 79 67 37 EA 08 FE"},
		{"00 00 00 00 00 00 00", "01 01 01 01 01 01 01 01"},
		{"FF FF FF FF FF FF FF", "FE FE FE FE FE FE FE FE"},
	} {
		got := ExpandDESKey([7]byte(unhex(t, tc.raw)))
		if !bytes.Equal(got[:], unhex(t, tc.want)) {
			t.Errorf("%s: got %X want %s", tc.raw, got, tc.want)
		}
	}
}

// RFC 2433 §B.2: the MS-CHAPv1 hash example for password "MyPw".
func TestRFC2433HashExample(t *testing.T) {
	challenge := unhex(t, "10 2D B5 DF 08 5D 30 41")
	wantNT := unhex(t, "4E 9D 3C 8F 9C FD 38 5D 5B F4 D3 24 67 91 95 6C A4 C3 51 AB 40 9A 3D 61")
	h := NTPasswordHash("MyPw")
	if !bytes.Equal(utf16le("MyPw"), unhex(t, "4D 00 79 00 50 00 77 00")) {
		t.Errorf("utf16le = %X", utf16le("MyPw"))
	}
	nt, err := NTChallengeResponse(challenge, h)
	if err != nil || !bytes.Equal(nt[:], wantNT) {
		t.Fatalf("NtChallengeResponse = %X, %v", nt, err)
	}
	// The 49-octet Value field: LM response zero-filled, flag set.
	r := ResponseV1{NTResponse: nt, UseNT: true}
	value := r.Append(nil)
	ok, got, err := VerifyV1(challenge, value, h)
	if !ok || err != nil || got != r {
		t.Fatalf("VerifyV1 = %v %v", ok, err)
	}
	if ok, _, err := VerifyV1(challenge, value, NTPasswordHash("mypw")); ok || err != nil {
		t.Errorf("wrong password: %v %v", ok, err)
	}
	value[48] = 0
	if ok, _, err := VerifyV1(challenge, value, h); ok || !errors.Is(err, ErrLMOnly) {
		t.Errorf("no use-NT flag: %v %v", ok, err)
	}
	for _, tc := range []struct {
		name             string
		challenge, value []byte
	}{
		{"short value", challenge, value[:40]},
		{"nil value", challenge, nil},
		{"long challenge", append(challenge, 1), r.Append(nil)},
	} {
		if ok, _, err := VerifyV1(tc.challenge, tc.value, h); ok || !errors.Is(err, ErrBadLength) {
			t.Errorf("%s: %v %v", tc.name, ok, err)
		}
	}
}

// RFC 3079 §3.5.1–§3.5.3: keys for the RFC 2759 example, the server's send
// key (= the client's receive key), and the RC4 encryption of "test message"
// with the 40- and 128-bit session keys. (The 56-bit ciphertext printed in
// §3.5.2 is known to be wrong in its last octets and is not checked.)
func TestRFC3079Keys(t *testing.T) {
	hh := NTPasswordHash("clientPass").Hash()
	master, err := MasterKey(hh, unhex(t, v2NTResponse))
	if err != nil || !bytes.Equal(master[:], unhex(t, "FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31")) {
		t.Fatalf("MasterKey = %X, %v", master, err)
	}
	for _, tc := range []struct {
		k                    KeyStrength
		start, session, ciph string
	}{
		{Key40, "8B 7C DC 14 9B 99 3A 1B", "D1 26 9E C4 9F A6 2E 3E", "92 91 37 91 7E 58 03 D6 68 D7 58 98"},
		{Key56, "8B 7C DC 14 9B 99 3A 1B", "D1 5C 00 C4 9F A6 2E 3E", ""},
		{Key128, "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB", "40 5C B2 24 7A 79 56 E6 E2 11 00 7A E2 7B 22 D4", "81 84 83 17 DF 68 84 62 72 FB 5A BE"},
	} {
		start, err := AsymmetricStartKey(master, tc.k, true, true)
		if err != nil || !bytes.Equal(start, unhex(t, tc.start)) {
			t.Errorf("%v: SendStartKey = %X, %v", tc.k, start, err)
			continue
		}
		// The client receives with the server's send key.
		if crecv, _ := AsymmetricStartKey(master, tc.k, false, false); !bytes.Equal(crecv, start) {
			t.Errorf("%v: client receive key %X differs", tc.k, crecv)
		}
		if crecv, _ := AsymmetricStartKey(master, tc.k, false, true); bytes.Equal(crecv, start) {
			t.Errorf("%v: server receive key equals send key", tc.k)
		}
		session, err := InitialSessionKey(start, tc.k)
		if err != nil || !bytes.Equal(session, unhex(t, tc.session)) {
			t.Errorf("%v: SendSessionKey = %X, %v", tc.k, session, err)
			continue
		}
		if tc.ciph == "" {
			continue
		}
		c, err := rc4.NewCipher(session)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 12)
		c.XORKeyStream(out, []byte("test message"))
		if !bytes.Equal(out, unhex(t, tc.ciph)) {
			t.Errorf("%v: ciphertext %X", tc.k, out)
		}
	}
	send, recv, err := V2Keys(NTPasswordHash("clientPass"), unhex(t, v2NTResponse))
	if err != nil || !bytes.Equal(send, unhex(t, "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")) || len(recv) != 16 || bytes.Equal(send, recv) {
		t.Errorf("V2Keys = %X %X %v", send, recv, err)
	}
}

func TestMPPEBadInputs(t *testing.T) {
	var m [16]byte
	if _, err := AsymmetricStartKey(m, KeyStrength(64), true, true); err == nil {
		t.Error("strength 64 accepted")
	}
	if _, err := InitialSessionKey(make([]byte, 8), Key128); !errors.Is(err, ErrBadLength) {
		t.Errorf("short start key: %v", err)
	}
	if _, err := MasterKey(PasswordHash{}, make([]byte, 23)); !errors.Is(err, ErrBadLength) {
		t.Errorf("short NT-Response: %v", err)
	}
	if _, err := V1StartKey(PasswordHash{}, make([]byte, 16)); !errors.Is(err, ErrBadLength) {
		t.Errorf("v1 challenge of 16: %v", err)
	}
	if _, _, err := V2Keys(PasswordHash{}, nil); !errors.Is(err, ErrBadLength) {
		t.Errorf("V2Keys nil: %v", err)
	}
}

// RFC 3079 §2.5: MS-CHAPv1 keys for password "clientPass" and the challenge
// of RFC 2433 §B.2. (These numbers were taken from a transcription of §2.5,
// not from the RFC's own text, which was not at hand: the 128-bit start key
// is said to be misprinted in one octet in step 3, "AC CA D1" where steps 4
// and the session key imply "AC C1 D1"; the value below is the consistent
// one.)
func TestRFC3079V1Keys(t *testing.T) {
	challenge := unhex(t, "10 2D B5 DF 08 5D 30 41")
	lm, err := LMPasswordHash("clientPass")
	if err != nil || !bytes.Equal(lm[:], unhex(t, "76 A1 52 93 60 96 D7 83 0E 23 90 22 74 04 AF D2")) {
		t.Fatalf("LmPasswordHash = %X, %v", lm, err)
	}
	start40, err := V1LMStartKey("clientPass")
	if err != nil || !bytes.Equal(NewKeyFromSHA(start40, start40), unhex(t, "D8 08 01 53 8C EC 4A 08")) {
		t.Errorf("40-bit GetKey = %X, %v", NewKeyFromSHA(start40, start40), err)
	}
	if s, _ := InitialSessionKey(start40, Key40); !bytes.Equal(s, unhex(t, "D1 26 9E 53 8C EC 4A 08")) {
		t.Errorf("40-bit session key %X", s)
	}
	k, err := V1StartKey(NTPasswordHash("clientPass").Hash(), challenge)
	if err != nil || !bytes.Equal(k[:], unhex(t, "A8 94 78 50 CF C0 AC C1 D1 78 9F B6 2D DC DD B0")) {
		t.Fatalf("128-bit start key %X, %v", k, err)
	}
	s, err := InitialSessionKey(k[:], Key128)
	if err != nil || !bytes.Equal(s, unhex(t, "59 D1 59 BC 09 F7 6F 1D A2 A8 6A 28 FF EC 0B 1E")) {
		t.Errorf("128-bit session key %X, %v", s, err)
	}
	for _, pw := range []string{"fifteen chars!!", "pässword"} {
		if _, err := LMPasswordHash(pw); err == nil {
			t.Errorf("LM hash of %q", pw)
		}
		if _, err := V1LMStartKey(pw); err == nil {
			t.Errorf("LM start key of %q", pw)
		}
	}
	// Case does not matter to the LAN Manager hash.
	if a, _ := LMPasswordHash("ClientPASS"); a != lm {
		t.Error("LM hash depends on case")
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add(make([]byte, ResponseLen))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r2, err2 := ParseResponseV2(b)
		r1, err1 := ParseResponseV1(b)
		if (err1 == nil) != (len(b) == ResponseLen) || (err2 == nil) != (len(b) == ResponseLen) {
			t.Fatalf("len %d: %v %v", len(b), err1, err2)
		}
		if err1 != nil {
			return
		}
		if got := r1.Append(nil); !bytes.Equal(got[:48], b[:48]) || got[48] != b[48]&1 {
			t.Fatalf("v1 round trip %X", got)
		}
		got := r2.Append(nil)
		if !bytes.Equal(got[:16], b[:16]) || !bytes.Equal(got[24:], b[24:]) {
			t.Fatalf("v2 round trip %X", got)
		}
	})
}

// FuzzVerify feeds arbitrary peer input to both verifiers: they must not
// panic, and must accept only the exact RFC 2759 §9.2 response.
func FuzzVerify(f *testing.F) {
	auth, _ := hex.DecodeString("5B5D7C7D7B3F2F3E3C2C602132262628")
	var r ResponseV2
	hex.Decode(r.PeerChallenge[:], []byte("21402324255E262A28295F2B3A337C7E"))
	hex.Decode(r.NTResponse[:], []byte("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"))
	good := r.Append(nil)
	f.Add(auth, good, "User")
	f.Add(auth[:8], good, "")
	f.Add([]byte{}, []byte{}, `x\y`)
	h := NTPasswordHash("clientPass")
	f.Fuzz(func(t *testing.T, challenge, value []byte, user string) {
		ok, s, _, err := VerifyV2(challenge, value, user, h)
		if ok && (err != nil || len(s) != AuthResponseLen) {
			t.Fatalf("accepted with %v %q", err, s)
		}
		if ok && (!bytes.Equal(value[24:48], good[24:48]) || !bytes.Equal(challenge, auth)) {
			// Another NT-Response can only match by a SHA-1/DES collision.
			t.Fatalf("accepted a response other than the known one")
		}
		VerifyV1(challenge, value, h)
	})
}
