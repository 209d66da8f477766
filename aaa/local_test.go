package aaa

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpdn/vpdn/aaa/mschap"
	"github.com/vpdn/vpdn/internal/type7"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 2759 §9.2 values, reused as a login.
const (
	authChallenge = "5B5D7C7D7B3F2F3E3C2C602132262628"
	peerChallenge = "21402324255E262A28295F2B3A337C7E"
	ntResponse    = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
)

func testLocal(t testing.TB) *Local {
	t.Helper()
	cisco, err := type7.Decode("0822455D0A16") // as the daemon decodes `password 7`
	if err != nil {
		t.Fatal(err)
	}
	users := []User{
		{Name: "User", Password: "clientPass"},
		{Name: "alice", Password: cisco, Address: netip.MustParseAddr("198.19.1.7")},
		{Name: "bob", Password: "with spaces inside", Pool: "bobs",
			Authz: Authorization{DNS: []netip.Addr{netip.MustParseAddr("198.19.0.53")}}},
		{Name: "carol@sales", Password: "carol"},
	}
	l, err := NewLocal(LocalConfig{
		Users: users,
		Domains: DomainOptions{
			Strip: true,
			Domains: []Domain{
				{Name: "sales", Pool: "sales-pool", Authz: Authorization{
					DNS: []netip.Addr{netip.MustParseAddr("198.19.2.53")}, SessionTimeout: 3600,
				}},
				{Name: "eng", Pool: "eng-pool"},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// chapResponse computes RFC 1994 §4.1 independently of CHAPResponse.
func chapResponse(id uint8, secret string, challenge []byte) []byte {
	b := append([]byte{id}, secret...)
	sum := md5.Sum(append(b, challenge...))
	return sum[:]
}

func v2Value(t testing.TB) []byte {
	var r mschap.ResponseV2
	copy(r.PeerChallenge[:], mustHex(t, peerChallenge))
	copy(r.NTResponse[:], mustHex(t, ntResponse))
	return r.Append(nil)
}

func v1Value(t testing.TB, challenge []byte, password string) []byte {
	nt, err := mschap.NTChallengeResponse(challenge, mschap.NTPasswordHash(password))
	if err != nil {
		t.Fatal(err)
	}
	return mschap.ResponseV1{NTResponse: nt, UseNT: true}.Append(nil)
}

func TestLocalAuthenticate(t *testing.T) {
	l := testLocal(t)
	chal := []byte("0123456789abcdef")
	v1chal := mustHex(t, "102DB5DF085D3041")
	badV1 := v1Value(t, v1chal, "clientPass")
	badV1[48] = 0
	for _, tc := range []struct {
		name   string
		req    Request
		accept bool
		reason string
	}{
		{"pap ok", Request{Method: PAP, Username: "User", Password: []byte("clientPass")}, true, ""},
		{"pap case-insensitive name", Request{Method: PAP, Username: "user", Password: []byte("clientPass")}, true, ""},
		{"pap bad", Request{Method: PAP, Username: "User", Password: []byte("clientpass")}, false, ReasonBadPassword},
		{"pap prefix", Request{Method: PAP, Username: "User", Password: []byte("client")}, false, ReasonBadPassword},
		{"pap empty", Request{Method: PAP, Username: "User"}, false, ReasonBadPassword},
		{"pap unknown", Request{Method: PAP, Username: "mallory", Password: []byte("x")}, false, ReasonNoSuchUser},
		{"pap type 7", Request{Method: PAP, Username: "alice", Password: []byte("cisco")}, true, ""},
		{"pap spaces", Request{Method: PAP, Username: "bob", Password: []byte("with spaces inside")}, true, ""},
		{"chap ok", Request{Method: CHAP, Username: "alice", ID: 7, Challenge: chal, Response: chapResponse(7, "cisco", chal)}, true, ""},
		{"chap wrong id", Request{Method: CHAP, Username: "alice", ID: 8, Challenge: chal, Response: chapResponse(7, "cisco", chal)}, false, ReasonBadPassword},
		{"chap bad secret", Request{Method: CHAP, Username: "alice", ID: 7, Challenge: chal, Response: chapResponse(7, "Cisco", chal)}, false, ReasonBadPassword},
		{"chap short", Request{Method: CHAP, Username: "alice", ID: 7, Challenge: chal, Response: chapResponse(7, "cisco", chal)[:15]}, false, ReasonMalformed},
		{"chap no challenge", Request{Method: CHAP, Username: "alice", ID: 7, Response: chapResponse(7, "cisco", nil)}, false, ReasonMalformed},
		{"eap-md5 ok", Request{Method: EAPMD5, Username: "alice", ID: 1, Challenge: chal, Response: chapResponse(1, "cisco", chal)}, true, ""},
		{"eap-md5 bad", Request{Method: EAPMD5, Username: "alice", ID: 1, Challenge: chal, Response: chapResponse(1, "x", chal)}, false, ReasonBadPassword},
		{"mschapv2 ok", Request{Method: MSCHAPv2, Username: "User", ID: 1, Challenge: mustHex(t, authChallenge), Response: v2Value(t)}, true, ""},
		{"mschapv2 windows domain", Request{Method: MSCHAPv2, Username: `BIGCO\User`, ID: 1, Challenge: mustHex(t, authChallenge), Response: v2Value(t)}, true, ""},
		{"mschapv2 bad", Request{Method: MSCHAPv2, Username: "alice", ID: 1, Challenge: mustHex(t, authChallenge), Response: v2Value(t)}, false, ReasonBadPassword},
		{"mschapv2 short", Request{Method: MSCHAPv2, Username: "User", ID: 1, Challenge: mustHex(t, authChallenge), Response: v2Value(t)[:30]}, false, ReasonMalformed},
		{"mschapv2 v1 challenge", Request{Method: MSCHAPv2, Username: "User", ID: 1, Challenge: v1chal, Response: v2Value(t)}, false, ReasonMalformed},
		{"pap windows domain", Request{Method: PAP, Username: `BIGCO\User`, Password: []byte("clientPass")}, false, ReasonNoSuchUser},
		{"mschapv1 windows domain", Request{Method: MSCHAPv1, Username: `BIGCO\User`, Challenge: v1chal, Response: v1Value(t, v1chal, "clientPass")}, true, ""},
		{"mschapv1 ok", Request{Method: MSCHAPv1, Username: "User", Challenge: v1chal, Response: v1Value(t, v1chal, "clientPass")}, true, ""},
		{"mschapv1 bad", Request{Method: MSCHAPv1, Username: "User", Challenge: v1chal, Response: v1Value(t, v1chal, "nope")}, false, ReasonBadPassword},
		{"mschapv1 lm only", Request{Method: MSCHAPv1, Username: "User", Challenge: v1chal, Response: badV1}, false, ReasonLMOnly},
		{"mschapv1 short challenge", Request{Method: MSCHAPv1, Username: "User", Challenge: v1chal[:7], Response: v1Value(t, v1chal, "clientPass")}, false, ReasonMalformed},
		{"unknown method", Request{Method: Method(99), Username: "User"}, false, ReasonUnsupportedMethod},
		{"zero method", Request{Username: "User"}, false, ReasonUnsupportedMethod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.Authenticate(context.Background(), &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Accept != tc.accept || r.Reason != tc.reason {
				t.Fatalf("accept %v reason %q, want %v %q", r.Accept, r.Reason, tc.accept, tc.reason)
			}
			if !r.Accept && r.Message == "" {
				t.Error("rejection without a peer message")
			}
		})
	}
}

func TestLocalCaseSensitive(t *testing.T) {
	l := testLocal(t)
	r, _ := l.AuthenticateCase(context.Background(), &Request{Method: PAP, Username: "user", Password: []byte("clientPass")})
	if r.Accept || r.Reason != ReasonNoSuchUser {
		t.Errorf("local-case accepted a name of other case: %+v", r)
	}
	r, _ = l.AuthenticateCase(context.Background(), &Request{Method: PAP, Username: "User", Password: []byte("clientPass")})
	if !r.Accept {
		t.Errorf("local-case: %+v", r)
	}
}

func TestLocalMSCHAPv2Result(t *testing.T) {
	l := testLocal(t)
	req := &Request{Method: MSCHAPv2, Username: "User", ID: 1, Challenge: mustHex(t, authChallenge), Response: v2Value(t)}
	r, err := l.Authenticate(context.Background(), req)
	if err != nil || !r.Accept {
		t.Fatalf("%+v %v", r, err)
	}
	if r.MSCHAPv2Success != "S=407A5589115FD0D6209F510FE9C04566932CDA56" {
		t.Errorf("success %q", r.MSCHAPv2Success)
	}
	// RFC 3079 §3.5.3: the server's send start key.
	if got := hex.EncodeToString(r.MPPESendKey); got != "8b7cdc149b993a1ba118cb153f56dccb" {
		t.Errorf("send key %s", got)
	}
	if len(r.MPPERecvKey) != 16 {
		t.Errorf("recv key %x", r.MPPERecvKey)
	}

	req.Response = v2Value(t)
	req.Response[30] ^= 1
	r, _ = l.Authenticate(context.Background(), req)
	want := "E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3"
	if r.Accept || r.MSCHAPError != want || r.Message != want || r.MSCHAPv2Success != "" || r.MPPESendKey != nil {
		t.Errorf("reject %+v", r)
	}
	// An unknown user gets the same peer-facing text as a bad password.
	req.Username = "nobody"
	r, _ = l.Authenticate(context.Background(), req)
	if r.Accept || r.MSCHAPError != want || r.Reason != ReasonNoSuchUser {
		t.Errorf("unknown %+v", r)
	}
}

func TestLocalMSCHAPv1Keys(t *testing.T) {
	l := testLocal(t)
	ch := mustHex(t, "102DB5DF085D3041")
	r, _ := l.Authenticate(context.Background(), &Request{Method: MSCHAPv1, Username: "User", Challenge: ch, Response: v1Value(t, ch, "clientPass")})
	k, _ := mschap.V1StartKey(mschap.NTPasswordHash("clientPass").Hash(), ch)
	if !r.Accept || string(r.MPPESendKey) != string(k[:]) || string(r.MPPERecvKey) != string(k[:]) {
		t.Errorf("%+v", r)
	}
}

func TestLocalDomains(t *testing.T) {
	l := testLocal(t)
	ctx := context.Background()
	auth := func(name, pw string) *Result {
		r, err := l.Authenticate(ctx, &Request{Method: PAP, Username: name, Password: []byte(pw)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Stripped lookup; the domain picks the pool and default attributes.
	r := auth("User@sales", "clientPass")
	if !r.Accept || r.Authz.Username != "User" || r.Authz.Domain != "sales" || r.Authz.Pool != "sales-pool" ||
		len(r.Authz.DNS) != 1 || r.Authz.DNS[0] != netip.MustParseAddr("198.19.2.53") || r.Authz.SessionTimeout != 3600 {
		t.Errorf("User@sales: %+v", r.Authz)
	}
	// Domains match without regard to case.
	if r := auth("User@ENG", "clientPass"); r.Authz.Pool != "eng-pool" {
		t.Errorf("User@ENG: %+v", r.Authz)
	}
	// A user's own pool and attributes win over the domain's.
	r = auth("bob@sales", "with spaces inside")
	if r.Authz.Pool != "bobs" || r.Authz.DNS[0] != netip.MustParseAddr("198.19.0.53") || r.Authz.SessionTimeout != 3600 {
		t.Errorf("bob@sales: %+v", r.Authz)
	}
	// A static address: no pool from the domain.
	r = auth("alice@sales", "cisco")
	if r.Authz.Address != netip.MustParseAddr("198.19.1.7") || r.Authz.Pool != "" {
		t.Errorf("alice@sales: %+v", r.Authz)
	}
	// An unknown domain: no policy, still authenticated.
	r = auth("User@other", "clientPass")
	if !r.Accept || r.Authz.Domain != "other" || r.Authz.Pool != "" {
		t.Errorf("User@other: %+v", r.Authz)
	}
	// The last delimiter splits: with stripping, "carol@sales" is looked up
	// as "carol", which does not exist.
	if r := auth("carol@sales", "carol"); r.Accept || r.Reason != ReasonNoSuchUser {
		t.Errorf("carol@sales stripped: %+v", r)
	}
	// Authorization results do not share slices with the configuration.
	r = auth("User@sales", "clientPass")
	r.Authz.DNS[0] = netip.Addr{}
	if r2 := auth("User@sales", "clientPass"); !r2.Authz.DNS[0].IsValid() {
		t.Error("authorization aliases the domain's DNS slice")
	}

	// Without stripping the full name is looked up.
	nl, err := NewLocal(LocalConfig{
		Users:   []User{{Name: "carol@sales", Password: "carol"}, {Name: "dave%x", Password: "d"}},
		Domains: DomainOptions{Domains: []Domain{{Name: "sales", Pool: "sp"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = nl.Authenticate(ctx, &Request{Method: PAP, Username: "carol@sales", Password: []byte("carol")})
	if !r.Accept || r.Authz.Username != "carol@sales" || r.Authz.Domain != "sales" || r.Authz.Pool != "sp" {
		t.Errorf("unstripped: %+v", r)
	}
	// Another delimiter.
	pl, _ := NewLocal(LocalConfig{
		Users:   []User{{Name: "dave", Password: "d"}},
		Domains: DomainOptions{Delimiter: '%', Strip: true, Domains: []Domain{{Name: "x", Pool: "xp"}}},
	})
	r, _ = pl.Authenticate(ctx, &Request{Method: PAP, Username: "dave%x", Password: []byte("d")})
	if !r.Accept || r.Authz.Pool != "xp" {
		t.Errorf("delimiter %%: %+v", r)
	}
	if a, ok := pl.Authorize("dave%x", true); !ok || a.Pool != "xp" {
		t.Errorf("Authorize: %+v %v", a, ok)
	}
	if _, ok := pl.Authorize("eve", false); ok {
		t.Error("Authorize of an unknown user")
	}
}

func TestNewLocalBad(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  LocalConfig
	}{
		{"empty name", LocalConfig{Users: []User{{Password: "x"}}}},
		{"long name", LocalConfig{Users: []User{{Name: strings.Repeat("a", 254)}}}},
		{"duplicate", LocalConfig{Users: []User{{Name: "a"}, {Name: "a"}}}},
		{"ipv6 address", LocalConfig{Users: []User{{Name: "a", Address: netip.MustParseAddr("2001:db8::1")}}}},
		{"empty domain", LocalConfig{Domains: DomainOptions{Domains: []Domain{{}}}}},
		{"duplicate domain", LocalConfig{Domains: DomainOptions{Domains: []Domain{{Name: "d"}, {Name: "D"}}}}},
	} {
		if _, err := NewLocal(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), "aaa: ") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestNewLocalRefusesEmptyPassword(t *testing.T) {
	if _, err := NewLocal(LocalConfig{Users: []User{{Name: "a", Password: ""}}}); err == nil {
		t.Fatal("a user with an empty password was accepted")
	}
}
