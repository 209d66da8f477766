package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport/memnet"
)

var (
	nasAddr = netip.MustParseAddr("198.18.0.1")
	srv1    = netip.MustParseAddrPort("198.18.0.2:1812")
	srv2    = netip.MustParseAddrPort("198.18.0.3:1812")
)

const testSecret = "s3cr3t"

func listenOn(n *memnet.Network) ListenFunc {
	return func(a netip.AddrPort) (Bind, error) { return n.ListenUDP(a) }
}

func serverCfg(a netip.AddrPort) ServerConfig {
	return ServerConfig{Addr: a.Addr(), AuthPort: a.Port(), Secret: testSecret, Timeout: 2 * time.Second, Retransmit: 2}
}

func newTestClient(t *testing.T, n *memnet.Network, deadtime time.Duration, servers ...netip.AddrPort) *Client {
	t.Helper()
	g := GroupConfig{Name: "radius"}
	for _, s := range servers {
		g.Servers = append(g.Servers, serverCfg(s))
	}
	c, err := New(Config{Groups: []GroupConfig{g}, Deadtime: deadtime, Source: nasAddr, Listen: listenOn(n),
		NAS: NAS{Identifier: "lns1", IP: nasAddr}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testRequests are one request per method for the users the fake knows,
// with the values the local backend's tests use (RFC 2759 §9.2).
func testRequests(t *testing.T) map[string]*aaa.Request {
	authChal, _ := hex.DecodeString("5B5D7C7D7B3F2F3E3C2C602132262628")
	peerChal, _ := hex.DecodeString("21402324255E262A28295F2B3A337C7E")
	nt, _ := hex.DecodeString("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
	v2 := append(append(append([]byte(nil), peerChal...), make([]byte, 8)...), nt...)
	v2 = append(v2, 0)
	v1chal := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	v1resp := make([]byte, 49)
	ntr := mschapV1Response(v1chal, "wonderland")
	copy(v1resp[24:48], ntr[:])
	v1resp[48] = 1
	chal := []byte("0123456789abcdef")
	ctx := func(r *aaa.Request) *aaa.Request {
		r.NASPort, r.SessionID, r.PortNumber, r.PortType = "Vi3", "00000001000000A1", 3, 5
		r.CallingNumber, r.CalledNumber, r.PeerAddr = "5551234", "5550000", netip.MustParseAddr("198.18.1.1")
		return r
	}
	resp := aaa.CHAPResponse(7, "wonderland", chal)
	return map[string]*aaa.Request{
		"pap":      ctx(&aaa.Request{Method: aaa.PAP, Username: "alice", Password: []byte("wonderland")}),
		"chap":     ctx(&aaa.Request{Method: aaa.CHAP, Username: "alice", ID: 7, Challenge: chal, Response: resp[:]}),
		"mschapv1": ctx(&aaa.Request{Method: aaa.MSCHAPv1, Username: "alice", ID: 9, Challenge: v1chal, Response: v1resp}),
		"mschapv2": ctx(&aaa.Request{Method: aaa.MSCHAPv2, Username: "User", ID: 1, Challenge: authChal, Response: v2}),
	}
}

// TestAuthenticateSameAsLocal: every method accepted through RADIUS gives
// PPP the Result the local database gives for the same user: the MS-CHAP-V2
// authenticator response and the MPPE keys included.
func TestAuthenticateSameAsLocal(t *testing.T) {
	local, err := aaa.NewLocal(aaa.LocalConfig{Users: []aaa.User{{Name: "alice", Password: "wonderland"}, {Name: "User", Password: "clientPass"}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range testRequests(t) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(1)
				f := newFakeServer(t, n, srv1, testSecret)
				defer f.Close()
				c := newTestClient(t, n, 0, srv1)
				defer c.Close()
				got, err := c.Group("radius").Authenticate(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := local.Authenticate(t.Context(), req)
				if !got.Accept || !want.Accept {
					t.Fatalf("accept: radius %v local %v (%s)", got.Accept, want.Accept, got.Reason)
				}
				if got.MSCHAPv2Success != want.MSCHAPv2Success {
					t.Errorf("MS-CHAP2-Success %q, local %q", got.MSCHAPv2Success, want.MSCHAPv2Success)
				}
				if !bytes.Equal(got.MPPESendKey, want.MPPESendKey) || !bytes.Equal(got.MPPERecvKey, want.MPPERecvKey) {
					t.Errorf("MPPE keys %x/%x, local %x/%x", got.MPPESendKey, got.MPPERecvKey, want.MPPESendKey, want.MPPERecvKey)
				}
				if got.Authz.Username != req.Username {
					t.Errorf("authorized as %q", got.Authz.Username)
				}
				reqs := f.received()
				if len(reqs) != 1 {
					t.Fatalf("%d requests", len(reqs))
				}
				checkNASAttributes(t, reqs[0])
			})
		})
	}
}

func checkNASAttributes(t *testing.T, p *radius.Packet) {
	t.Helper()
	if p.Attributes[0].Type != typeMessageAuthenticator {
		t.Errorf("first attribute %d, want Message-Authenticator", p.Attributes[0].Type)
	}
	if ip := rfc2865.NASIPAddress_Get(p); !ip.Equal(nasAddr.AsSlice()) {
		t.Errorf("NAS-IP-Address %v", ip)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"NAS-Identifier", rfc2865.NASIdentifier_GetString(p), "lns1"},
		{"NAS-Port", rfc2865.NASPort_Get(p), rfc2865.NASPort(3)},
		{"NAS-Port-Type", rfc2865.NASPortType_Get(p), rfc2865.NASPortType_Value_Virtual},
		{"NAS-Port-Id", rfc2869.NASPortID_GetString(p), "Vi3"},
		{"Service-Type", rfc2865.ServiceType_Get(p), rfc2865.ServiceType_Value_FramedUser},
		{"Framed-Protocol", rfc2865.FramedProtocol_Get(p), rfc2865.FramedProtocol_Value_PPP},
		{"Calling-Station-Id", rfc2865.CallingStationID_GetString(p), "5551234"},
		{"Called-Station-Id", rfc2865.CalledStationID_GetString(p), "5550000"},
		{"Acct-Session-Id", rfc2866.AcctSessionID_GetString(p), "00000001000000A1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestReject: an Access-Reject is the rejection a local bad password
// gives, with the server's MS-CHAP-Error for MS-CHAP-V2.
func TestReject(t *testing.T) {
	for name, req := range testRequests(t) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(1)
				f := newFakeServer(t, n, srv1, testSecret)
				defer f.Close()
				f.users["alice"], f.users["User"] = "other", "other"
				c := newTestClient(t, n, 0, srv1)
				defer c.Close()
				got, err := c.Group("radius").Authenticate(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				want := aaa.Reject(req, "")
				if got.Accept || got.Message != want.Message || got.MSCHAPError != want.MSCHAPError || got.MPPESendKey != nil {
					t.Errorf("got %+v, want %+v", got, want)
				}
				if !strings.HasPrefix(got.Reason, ReasonReject) {
					t.Errorf("reason %q", got.Reason)
				}
				if s := c.Stats()[0]; s.Rejects != 1 || s.Accepts != 0 {
					t.Errorf("stats %+v", s)
				}
			})
		})
	}
}

// TestHostileAnswers: answers that fail a check are dropped and counted
// per reason, never accepted; the request then times out.
func TestHostileAnswers(t *testing.T) {
	cases := []struct {
		mode   fakeMode
		reason string
	}{
		{fakeNoMA, "missing_message_authenticator"},
		{fakeBadMA, "bad_message_authenticator"},
		{fakeBadAuth, "bad_authenticator"},
		{fakeWrongID, "unknown_id"},
		{fakeOversize, "oversize"},
		{fakeMalformed, "malformed"},
		{fakeShortLength, "short"},
		{fakeBadCode, "unexpected_code"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(1)
				f := newFakeServer(t, n, srv1, testSecret)
				defer f.Close()
				f.mode.Store(int32(tc.mode))
				c := newTestClient(t, n, 0, srv1)
				defer c.Close()
				r, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"])
				if err == nil || !errors.Is(err, ErrTimeout) {
					t.Fatalf("got %+v, %v; want a timeout", r, err)
				}
				s := c.Stats()[0]
				if s.Drops[tc.reason] != 3 { // the first transmission and 2 retransmissions
					t.Errorf("drops %v", s.Drops)
				}
				if s.Accepts+s.Rejects != 0 || s.Timeouts != 1 || s.Retransmissions != 2 {
					t.Errorf("stats %+v", s)
				}
			})
		})
	}
}

// TestBadAttributeValueRefused: a correctly signed Access-Accept with an
// attribute of the wrong size is refused as malformed, not accepted.
func TestBadAttributeValueRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeBadAttrValue))
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		r, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"])
		if err == nil || r != nil {
			t.Fatalf("got %+v, %v", r, err)
		}
		if c.Stats()[0].Drops["malformed"] != 1 {
			t.Errorf("drops %v", c.Stats()[0].Drops)
		}
	})
}

// TestFailoverAndDeadtime: a silent first server costs its timeouts once,
// then is skipped for the deadtime, then is tried again.
func TestFailoverAndDeadtime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		dead := newFakeServer(t, n, srv1, testSecret)
		defer dead.Close()
		dead.mode.Store(int32(fakeSilent))
		good := newFakeServer(t, n, srv2, testSecret)
		defer good.Close()
		c := newTestClient(t, n, 10*time.Minute, srv1, srv2)
		defer c.Close()
		g := c.Group("radius")
		start := time.Now()
		r, err := g.Authenticate(t.Context(), testRequests(t)["pap"])
		if err != nil || !r.Accept {
			t.Fatalf("%+v %v", r, err)
		}
		// Three transmissions two seconds apart to the first server.
		if d := time.Since(start); d != 6*time.Second {
			t.Errorf("failover after %v, want 6s", d)
		}
		st := c.Stats()
		if !st[0].Dead || st[0].DeadLeft != 10*time.Minute || st[0].Timeouts != 1 || st[0].AuthRequests != 3 {
			t.Errorf("first server %+v", st[0])
		}
		start = time.Now()
		if _, err := g.Authenticate(t.Context(), testRequests(t)["pap"]); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 || len(dead.received()) != 3 {
			t.Errorf("dead server asked again (%v, %d requests)", d, len(dead.received()))
		}
		time.Sleep(10 * time.Minute)
		dead.mode.Store(int32(fakeGood))
		if _, err := g.Authenticate(t.Context(), testRequests(t)["pap"]); err != nil {
			t.Fatal(err)
		}
		if len(dead.received()) != 4 || c.Stats()[0].Dead {
			t.Errorf("after the deadtime: %d requests, %+v", len(dead.received()), c.Stats()[0])
		}
	})
}

// TestAllDeadTriesAll: when every server of the group is dead, they are
// all tried rather than none, as IOS does.
func TestAllDeadTriesAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		f.mode.Store(int32(fakeSilent))
		c := newTestClient(t, n, time.Hour, srv1)
		defer c.Close()
		if _, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"]); !errors.Is(err, ErrTimeout) {
			t.Fatal(err)
		}
		f.mode.Store(int32(fakeGood))
		r, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"])
		if err != nil || !r.Accept {
			t.Fatalf("%+v %v", r, err)
		}
	})
}

// TestIdentifiersBounded: 300 requests at once to one socket use at most
// 256 identifiers, distinct among the outstanding ones, and all complete.
func TestIdentifiersBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		n.SetFaults(memnet.Faults{Delay: 100 * time.Millisecond})
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		var wg sync.WaitGroup
		errs := make(chan error, 300)
		for range 300 {
			wg.Go(func() {
				r, err := c.Group("radius").Authenticate(context.Background(), testRequests(t)["pap"])
				if err == nil && !r.Accept {
					err = errors.New("rejected")
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		reqs := f.received()
		if len(reqs) != 300 {
			t.Fatalf("%d requests reached the server, want 300 (no retransmission)", len(reqs))
		}
		// The first 256 went out at once, each with its own identifier.
		seen := map[byte]bool{}
		for _, r := range reqs[:256] {
			if seen[r.Identifier] {
				t.Fatalf("identifier %d used twice among outstanding requests", r.Identifier)
			}
			seen[r.Identifier] = true
		}
	})
}

// TestGroupNotConfigured is an error (the method list moves on).
func TestGroupNotConfigured(t *testing.T) {
	n := memnet.New(1)
	c := newTestClient(t, n, 0, srv1)
	defer c.Close()
	if _, err := c.Group("other").Authenticate(t.Context(), testRequests(t)["pap"]); err == nil {
		t.Fatal("no error")
	}
}

// TestConfigErrors: what New refuses.
func TestConfigErrors(t *testing.T) {
	n := memnet.New(1)
	bad := []Config{
		{Groups: []GroupConfig{{Name: "", Servers: []ServerConfig{serverCfg(srv1)}}}},
		{Groups: []GroupConfig{{Name: "g", Servers: []ServerConfig{{Addr: srv1.Addr()}}}}},
		{Groups: []GroupConfig{{Name: "g", Servers: []ServerConfig{{Secret: "k"}}}}},
		{Groups: []GroupConfig{{Name: "g"}, {Name: "g"}}},
	}
	for i, cfg := range bad {
		cfg.Listen = listenOn(n)
		if _, err := New(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no Listen accepted")
	}
}

// TestSetConfigKeepsState: a reload keeps a server's counters.
func TestSetConfigKeepsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		if _, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"]); err != nil {
			t.Fatal(err)
		}
		err := c.SetConfig(Config{Source: nasAddr, Groups: []GroupConfig{{Name: "radius", Servers: []ServerConfig{serverCfg(srv1)}}, {Name: "corp", Servers: []ServerConfig{serverCfg(srv1)}}}})
		if err != nil {
			t.Fatal(err)
		}
		st := c.Stats()
		if len(st) != 1 || st[0].Accepts != 1 || len(st[0].Groups) != 2 {
			t.Errorf("%+v", st)
		}
		if _, err := c.Group("corp").Authenticate(t.Context(), testRequests(t)["chap"]); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMessageAuthenticatorVector: HMAC-MD5 over the packet with the
// attribute zeroed (RFC 3579 §3.2), against an independent computation
// and a fixed vector.
func TestMessageAuthenticatorVector(t *testing.T) {
	p := &radius.Packet{Code: radius.CodeAccessRequest, Identifier: 0x2a, Secret: []byte("testing123")}
	copy(p.Authenticator[:], "0123456789abcdef")
	p.Add(typeMessageAuthenticator, make(radius.Attribute, 16))
	rfc2865.UserName_SetString(p, "bob")
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	signRequest(b, 22, p.Secret)
	zeroed := append([]byte(nil), b...)
	clear(zeroed[22:38])
	m := hmac.New(md5.New, []byte("testing123"))
	m.Write(zeroed)
	if !bytes.Equal(m.Sum(nil), b[22:38]) {
		t.Fatalf("Message-Authenticator %x", b[22:38])
	}
	// Computed independently with Python's hmac module over the same
	// octets: Access-Request id 42, authenticator "0123456789abcdef",
	// Message-Authenticator then User-Name "bob", secret "testing123".
	if got, want := hex.EncodeToString(b[22:38]), "585c4afa8ea5b0c6844cb5ff3642f7b1"; got != want {
		t.Errorf("Message-Authenticator %s, want %s", got, want)
	}
}

// TestMPPEKeyHiding: RFC 2548 §2.4.2 hiding as the library does it, undone
// by ours.
func TestMPPEKeyHiding(t *testing.T) {
	req := radius.New(radius.CodeAccessRequest, []byte("k"))
	resp := req.Response(radius.CodeAccessAccept)
	key := bytes.Repeat([]byte{0xA5}, 16)
	addMS := func(typ byte, v []byte) {
		b := []byte{0, 0, 1, 0x37, typ, byte(2 + len(v))}
		resp.Add(rfc2865.VendorSpecific_Type, append(b, v...))
	}
	a, err := radius.NewTunnelPassword(key, []byte{0x81, 0x02}, []byte("k"), req.Authenticator[:])
	if err != nil {
		t.Fatal(err)
	}
	addMS(msMPPESendKey, a)
	r, err := parseReply(resp, req)
	if err != nil || !bytes.Equal(r.SendKey, key) {
		t.Fatalf("%x %v", r, err)
	}
	if _, err := unhideSalted(a[:17], []byte("k"), req.Authenticator[:]); err == nil {
		t.Error("short hidden value accepted")
	}
	b := append([]byte(nil), a...)
	b[0] &^= 0x80
	if _, err := unhideSalted(b, []byte("k"), req.Authenticator[:]); err == nil {
		t.Error("salt without high bit accepted")
	}
}

// TestSourceAddress: the sockets bind to the configured source address.
func TestSourceAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		var bound []netip.AddrPort
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		c, err := New(Config{Groups: []GroupConfig{{Name: "radius", Servers: []ServerConfig{serverCfg(srv1)}}}, Source: nasAddr,
			Listen: func(a netip.AddrPort) (Bind, error) { bound = append(bound, a); return n.ListenUDP(a) }})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"]); err != nil {
			t.Fatal(err)
		}
		if len(bound) != 1 || bound[0].Addr() != nasAddr {
			t.Errorf("bound %v", bound)
		}
	})
}

// TestSameAddressTwoKeys: a server-private at the address of a global
// server, with another key, is a server of its own: each group's requests
// are signed with its key.
func TestSameAddressTwoKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		wrong := serverCfg(srv1)
		wrong.Secret = "other"
		c, err := New(Config{Listen: listenOn(n), Groups: []GroupConfig{
			{Name: "radius", Servers: []ServerConfig{serverCfg(srv1)}},
			{Name: "private", Servers: []ServerConfig{wrong}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if r, err := c.Group("radius").Authenticate(t.Context(), testRequests(t)["pap"]); err != nil || !r.Accept {
			t.Fatalf("right key: %+v %v", r, err)
		}
		// The fake drops a request whose Message-Authenticator does not
		// verify under its key, so the wrong key times out.
		if _, err := c.Group("private").Authenticate(t.Context(), testRequests(t)["pap"]); !errors.Is(err, ErrTimeout) {
			t.Fatalf("wrong key: %v", err)
		}
		if st := c.Stats(); len(st) != 2 || st[0].Accepts != 1 || st[1].Timeouts != 1 {
			t.Errorf("%+v", st)
		}
	})
}
