package radius

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport/memnet"
)

// eapPacket builds an EAP packet of n octets in all (RFC 3748 §4).
func eapPacket(code, id, typ byte, n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = code, id
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	if n > 4 {
		b[4] = typ
		for i := 5; i < n; i++ {
			b[i] = byte(i)
		}
	}
	return b
}

// TestEAPPassThrough: a 600-octet EAP Response goes out as EAP-Message
// attributes of 253, 253 and 94 octets with no other credentials; the
// Access-Challenge's 700-octet EAP Request comes back whole with its
// State; the next request echoes the State, and the Access-Accept's EAP
// Success and MS-MPPE keys reach the Result.
func TestEAPPassThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		f := newFakeServer(t, n, srv1, testSecret)
		defer f.Close()
		next := eapPacket(1, 8, 13, 700)
		sendKey, recvKey := bytes.Repeat([]byte{0x11}, 32), bytes.Repeat([]byte{0x22}, 32)
		f.eap = func(req *radius.Packet) *radius.Packet {
			if req.Get(attrState) == nil {
				resp := req.Response(radius.CodeAccessChallenge)
				for m := next; len(m) > 0; m = m[min(len(m), 253):] {
					resp.Add(attrEAPMessage, radius.Attribute(m[:min(len(m), 253)]))
				}
				resp.Add(attrState, radius.Attribute("step-1"))
				return resp
			}
			resp := req.Response(radius.CodeAccessAccept)
			resp.Add(attrEAPMessage, radius.Attribute{3, 8, 0, 4})
			microsoft.MSMPPESendKey_Add(resp, sendKey)
			microsoft.MSMPPERecvKey_Add(resp, recvKey)
			rfc2865.SessionTimeout_Set(resp, 600)
			return resp
		}
		c := newTestClient(t, n, 0, srv1)
		defer c.Close()
		first := eapPacket(2, 7, 1, 600)
		req := &aaa.Request{Method: aaa.EAPMD5, Username: "alice", EAPMessage: first,
			NASPort: "Vi3", SessionID: "00000001000000A1", PortNumber: 3, PortType: 5,
			CallingNumber: "5551234", CalledNumber: "5550000", PeerAddr: netip.MustParseAddr("198.18.1.1")}
		res, err := c.Group("radius").Authenticate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Challenge || res.Accept || !bytes.Equal(res.EAPMessage, next) || string(res.State) != "step-1" {
			t.Fatalf("challenge: %+v", res)
		}
		req2 := &aaa.Request{Method: aaa.EAPMD5, Username: "alice", EAPMessage: eapPacket(2, 8, 13, 40), State: res.State}
		res, err = c.Group("radius").Authenticate(t.Context(), req2)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Accept || res.Challenge || !bytes.Equal(res.EAPMessage, []byte{3, 8, 0, 4}) || res.Authz.SessionTimeout != 600 {
			t.Fatalf("accept: %+v", res)
		}
		if !bytes.Equal(res.MPPESendKey, sendKey[:16]) || !bytes.Equal(res.MPPERecvKey, recvKey[:16]) {
			t.Fatalf("keys %x %x", res.MPPESendKey, res.MPPERecvKey)
		}
		reqs := f.received()
		if len(reqs) != 2 {
			t.Fatalf("%d requests", len(reqs))
		}
		var sizes []int
		var got []byte
		for _, a := range reqs[0].Attributes {
			switch a.Type {
			case attrEAPMessage:
				sizes = append(sizes, len(a.Attribute))
				got = append(got, a.Attribute...)
			case rfc2865.UserPassword_Type, rfc2865.CHAPPassword_Type, attrState:
				t.Errorf("first request carries attribute %d", a.Type)
			}
		}
		if !bytes.Equal(got, first) || len(sizes) != 3 || sizes[0] != 253 || sizes[1] != 253 || sizes[2] != 94 {
			t.Fatalf("EAP-Message sizes %v, reassembled equal %v", sizes, bytes.Equal(got, first))
		}
		if s := reqs[1].Get(attrState); string(s) != "step-1" {
			t.Fatalf("State echoed %q", s)
		}
		checkNASAttributes(t, reqs[0])
	})
}

// TestEAPConversationPinned: the steps after a challenge go to the server
// that sent it alone (its State means nothing to another): when that
// server falls silent the step fails rather than carry its State to the
// next server of the group, and new conversations fail over as usual.
func TestEAPConversationPinned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		first := newFakeServer(t, n, srv1, testSecret)
		defer first.Close()
		second := newFakeServer(t, n, srv2, testSecret)
		defer second.Close()
		challenge := func(req *radius.Packet) *radius.Packet {
			if req.Get(attrState) != nil {
				return req.Response(radius.CodeAccessAccept)
			}
			resp := req.Response(radius.CodeAccessChallenge)
			resp.Add(attrEAPMessage, radius.Attribute(eapPacket(1, 8, 4, 22)))
			resp.Add(attrState, radius.Attribute("first-server"))
			return resp
		}
		first.eap, second.eap = challenge, challenge
		c := newTestClient(t, n, time.Minute, srv1, srv2)
		defer c.Close()
		g := c.Group("radius")
		res, err := g.Authenticate(t.Context(), &aaa.Request{Method: aaa.EAPMD5, Username: "alice", EAPMessage: eapPacket(2, 7, 1, 10)})
		if err != nil || !res.Challenge || res.Server != srv1.String() {
			t.Fatalf("challenge: %+v %v", res, err)
		}
		first.mode.Store(int32(fakeSilent))
		step := &aaa.Request{Method: aaa.EAPMD5, Username: "alice", EAPMessage: eapPacket(2, 8, 4, 22), State: res.State, Server: res.Server}
		if r, err := g.Authenticate(t.Context(), step); err == nil {
			t.Fatalf("a step whose server is silent: %+v", r)
		}
		if got := len(second.received()); got != 0 {
			t.Fatalf("the step went to the other server (%d requests)", got)
		}
		// The first server is now dead: a new conversation begins on the
		// second, and its step goes there even after the first revives.
		res, err = g.Authenticate(t.Context(), &aaa.Request{Method: aaa.EAPMD5, Username: "bob", EAPMessage: eapPacket(2, 7, 1, 8)})
		if err != nil || res.Server != srv2.String() {
			t.Fatalf("after failover: %+v %v", res, err)
		}
		first.mode.Store(int32(fakeGood))
		step = &aaa.Request{Method: aaa.EAPMD5, Username: "bob", EAPMessage: eapPacket(2, 8, 4, 22), State: res.State, Server: res.Server}
		if r, err := g.Authenticate(t.Context(), step); err != nil || !r.Accept || len(second.received()) != 2 {
			t.Fatalf("step on the second server: %+v %v (%d requests)", r, err, len(second.received()))
		}
		step.Server = "198.18.99.99:1812"
		if _, err := g.Authenticate(t.Context(), step); err == nil || !strings.Contains(err.Error(), "no longer has server") {
			t.Fatalf("a server not in the group: %v", err)
		}
	})
}

// TestEAPPassThroughBad: requests that cannot be relayed are refused
// before anything is sent, and answers that contradict themselves or
// carry no EAP are not taken as a step.
func TestEAPPassThroughBad(t *testing.T) {
	bad := map[string][]byte{
		"short":            {2, 1, 0},
		"length mismatch":  {2, 1, 0, 9, 1},
		"code 5":           {5, 1, 0, 4},
		"over the maximum": eapPacket(2, 1, 1, MaxEAPMessage+1),
	}
	for name, m := range bad {
		t.Run(name, func(t *testing.T) {
			p := radius.New(radius.CodeAccessRequest, []byte(testSecret))
			err := buildAccessRequest(p, &NAS{}, &aaa.Request{Method: aaa.EAPMD5, Username: "alice", EAPMessage: m})
			if err == nil || !strings.HasPrefix(err.Error(), "radius: ") {
				t.Fatalf("err %v", err)
			}
		})
	}
	answers := []struct {
		name   string
		code   radius.Code
		eap    []byte
		accept bool
		chal   bool
	}{
		{"challenge without EAP", radius.CodeAccessChallenge, nil, false, false},
		{"challenge with EAP Success", radius.CodeAccessChallenge, []byte{3, 1, 0, 4}, false, false},
		{"accept with EAP Failure", radius.CodeAccessAccept, []byte{4, 1, 0, 4}, false, false},
		{"reject with EAP Failure", radius.CodeAccessReject, []byte{4, 1, 0, 4}, false, false},
		{"accept with EAP Success", radius.CodeAccessAccept, []byte{3, 1, 0, 4}, true, false},
		{"challenge", radius.CodeAccessChallenge, eapPacket(1, 2, 4, 22), false, true},
	}
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(1)
				f := newFakeServer(t, n, srv1, testSecret)
				defer f.Close()
				f.eap = func(req *radius.Packet) *radius.Packet {
					resp := req.Response(a.code)
					if a.eap != nil {
						resp.Add(attrEAPMessage, radius.Attribute(a.eap))
					}
					return resp
				}
				c := newTestClient(t, n, 0, srv1)
				defer c.Close()
				res, err := c.Group("radius").Authenticate(t.Context(), &aaa.Request{Method: aaa.EAPMD5, Username: "alice", EAPMessage: eapPacket(2, 1, 1, 10)})
				if err != nil {
					t.Fatal(err)
				}
				if res.Accept != a.accept || res.Challenge != a.chal {
					t.Fatalf("accept %v challenge %v (%s)", res.Accept, res.Challenge, res.Reason)
				}
			})
		})
	}
}
