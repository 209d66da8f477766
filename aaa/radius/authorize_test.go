package radius

import (
	"net"
	"net/netip"
	"testing"
	"testing/synctest"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport/memnet"
)

// TestAuthorizeOnly: a user authenticated by another method is authorized
// by an Access-Request with Service-Type Authorize Only and no
// credentials; the Accept's attributes are the authorization, a Reject
// refuses, a dead server is an error.
func TestAuthorizeOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		f.authz = func(req *radius.Packet) *radius.Packet {
			if rfc2865.UserName_GetString(req) != "alice" {
				return req.Response(radius.CodeAccessReject)
			}
			resp := req.Response(radius.CodeAccessAccept)
			rfc2865.FramedIPAddress_Set(resp, net.IPv4(198, 19, 7, 5))
			rfc2865.SessionTimeout_Set(resp, 600)
			return resp
		}
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		g := c.Group("radius")
		req := testRequests(t)["chap"]
		a, found, err := g.Authorize(t.Context(), req)
		if err != nil || !found {
			t.Fatalf("found %v err %v", found, err)
		}
		if a.Address != netip.MustParseAddr("198.19.7.5") || a.SessionTimeout != 600 || a.Username != "alice" {
			t.Fatalf("authorization %+v", a)
		}
		reqs := f.received()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		p := reqs[0]
		if st, err := rfc2865.ServiceType_Gets(p); err != nil || len(st) != 1 || st[0] != serviceTypeAuthorizeOnly {
			t.Errorf("Service-Type %v %v", st, err)
		}
		for _, typ := range []radius.Type{rfc2865.UserPassword_Type, rfc2865.CHAPPassword_Type, rfc2865.CHAPChallenge_Type} {
			if p.Get(typ) != nil {
				t.Errorf("credential attribute %d sent", typ)
			}
		}
		if p.Attributes[0].Type != typeMessageAuthenticator || rfc2865.NASIdentifier_GetString(p) != "lns1" || rfc2865.NASPort_Get(p) != 3 {
			t.Errorf("attributes %v", p.Attributes)
		}
		bob := *req
		bob.Username = "bob"
		if _, found, err := g.Authorize(t.Context(), &bob); err != nil || found {
			t.Errorf("rejected user: found %v err %v", found, err)
		}
		f.mode.Store(int32(fakeSilent))
		if _, _, err := g.Authorize(t.Context(), req); err == nil {
			t.Error("a silent server gave no error")
		}
	})
}

// TestServiceLocalThenRadiusAuthz: aaa's method lists with local
// authentication and RADIUS authorization take the RADIUS attributes,
// keep Acct-Authentic local, and a RADIUS refusal rejects the user.
func TestServiceLocalThenRadiusAuthz(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		f.authz = func(req *radius.Packet) *radius.Packet {
			if rfc2865.UserName_GetString(req) != "alice" {
				return req.Response(radius.CodeAccessReject)
			}
			resp := req.Response(radius.CodeAccessAccept)
			rfc2865.FramedIPAddress_Set(resp, net.IPv4(198, 19, 7, 5))
			return resp
		}
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		local, err := aaa.NewLocal(aaa.LocalConfig{Users: []aaa.User{{Name: "alice", Password: "wonderland"}, {Name: "bob", Password: "builder"}}})
		if err != nil {
			t.Fatal(err)
		}
		grp := aaa.ListMethod{Kind: aaa.MethodGroup, Group: "radius"}
		svc, err := aaa.NewService(aaa.ServiceConfig{Local: local, Groups: map[string]aaa.Authenticator{"radius": c.Group("radius")},
			Lists: []aaa.ListCommand{{Type: aaa.AuthenticationPPP, Name: "default", Methods: []aaa.ListMethod{{Kind: aaa.MethodLocal}}},
				{Type: aaa.AuthorizationNetwork, Name: "default", Methods: []aaa.ListMethod{grp}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := svc.Authenticate(t.Context(), "", "", &aaa.Request{Method: aaa.PAP, Username: "alice", Password: []byte("wonderland")})
		if err != nil || !r.Accept || r.Authz.Address != netip.MustParseAddr("198.19.7.5") || r.Authz.Authentic == aaa.AuthenticRADIUS {
			t.Fatalf("alice: %+v %v", r, err)
		}
		r, err = svc.Authenticate(t.Context(), "", "", &aaa.Request{Method: aaa.PAP, Username: "bob", Password: []byte("builder")})
		if err != nil || r.Accept {
			t.Fatalf("bob, refused by RADIUS authorization: %+v %v", r, err)
		}
	})
}
