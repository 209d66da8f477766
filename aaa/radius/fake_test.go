package radius

import (
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/vpdn/vpdn/aaa/mschap"
	"github.com/vpdn/vpdn/aaa/radius/radiustest"
	"github.com/vpdn/vpdn/transport/memnet"
)

// fakeMode makes the fake server misbehave, for the hostile-answer table.
type fakeMode int

const (
	fakeGood           fakeMode = iota
	fakeSilent                  // never answers (a dead server)
	fakeNoMA                    // no Message-Authenticator
	fakeBadMA                   // a Message-Authenticator of the wrong value
	fakeBadAuth                 // a wrong Response Authenticator
	fakeWrongID                 // the answer's Identifier is another
	fakeOversize                // a datagram longer than 4096 octets
	fakeMalformed               // an attribute whose length runs past the packet (re-signed)
	fakeShortLength             // a Length field beyond the datagram
	fakeBadCode                 // an Accounting-Response to an Access-Request
	fakeBadAttrValue            // a Session-Timeout of 3 octets, correctly signed
	fakeMAInRequestOff          // answers even requests without Message-Authenticator (never sent by us)
)

// fakeServer is a test-only RADIUS server on a memnet network: it checks
// the request's Message-Authenticator as FreeRADIUS does with
// require_message_authenticator, authenticates against users through
// radiustest (the importable fake the daemon's tests use), answers with
// the attributes of accept, and breaks its answers as mode says.
type fakeServer struct {
	t      testing.TB
	conn   *memnet.Conn
	secret []byte
	users  map[string]string
	accept func(req *radius.Packet, resp *radius.Packet)
	// eap, when set, answers the Access-Requests that carry EAP-Message
	// (RFC 3579) instead of the credential check.
	eap func(req *radius.Packet) *radius.Packet
	// authz, when set, answers the authorization-only requests
	// (Service-Type Authorize Only).
	authz func(req *radius.Packet) *radius.Packet
	mode  atomic.Int32

	mu       sync.Mutex
	requests []*radius.Packet // every request received, retransmissions included
	badMA    int
}

func newFakeServer(t testing.TB, n *memnet.Network, addr netip.AddrPort, secret string) *fakeServer {
	t.Helper()
	c, err := n.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, conn: c, secret: []byte(secret), users: map[string]string{"alice": "wonderland", "User": "clientPass"}}
	go func() { _ = c.ServeBatch(f.serve, nil) }()
	return f
}

func (f *fakeServer) Close() { _ = f.conn.Close() }

func (f *fakeServer) received() []*radius.Packet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*radius.Packet(nil), f.requests...)
}

func (f *fakeServer) serve(b []byte, from netip.AddrPort) {
	req, err := radius.Parse(b, f.secret)
	if err != nil {
		f.t.Errorf("fake: bad request: %v", err)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	mode := fakeMode(f.mode.Load())
	if mode == fakeSilent {
		return
	}
	if req.Code == radius.CodeAccountingRequest {
		// RFC 2866 §3: the Request Authenticator is checked, then the
		// Accounting-Response carries nothing.
		if !radius.IsAuthenticRequest(b, f.secret) {
			f.t.Errorf("fake: accounting request with a bad authenticator")
			return
		}
		out, err := req.Response(radius.CodeAccountingResponse).Encode()
		if err != nil {
			f.t.Errorf("fake: %v", err)
			return
		}
		_ = f.conn.WriteTo(out, from)
		return
	}
	// The request must carry a valid Message-Authenticator, first.
	if len(req.Attributes) == 0 || req.Attributes[0].Type != typeMessageAuthenticator {
		f.mu.Lock()
		f.badMA++
		f.mu.Unlock()
		return
	}
	off, _ := findMessageAuthenticator(b)
	var auth [16]byte
	copy(auth[:], b[4:20])
	want := messageAuthenticator(b, off, &auth, f.secret)
	if string(want[:]) != string(b[off:off+16]) {
		f.mu.Lock()
		f.badMA++
		f.mu.Unlock()
		return
	}
	resp := f.decide(req)
	out := f.encode(req, resp, mode)
	_ = f.conn.WriteTo(out, from)
}

// decide answers an Access-Request: the EAP and authorization-only hooks,
// else radiustest's credential check (PAP, CHAP, MS-CHAPv1, MS-CHAPv2)
// with accept's attributes.
func (f *fakeServer) decide(req *radius.Packet) *radius.Packet {
	if f.eap != nil && req.Get(attrEAPMessage) != nil {
		return f.eap(req)
	}
	if f.authz != nil && rfc2865.ServiceType_Get(req) == serviceTypeAuthorizeOnly {
		return f.authz(req)
	}
	srv := &radiustest.Server{Secret: f.secret, Users: f.users, Reply: func(_ string, req, resp *radius.Packet) {
		if f.accept != nil {
			f.accept(req, resp)
		}
	}}
	return srv.Answer(req)
}

// encode signs resp as a server does (Message-Authenticator with the
// request's authenticator, then the Response Authenticator), and breaks
// it as mode says.
func (f *fakeServer) encode(req, resp *radius.Packet, mode fakeMode) []byte {
	if mode == fakeBadCode {
		resp.Code = radius.CodeAccountingResponse
	}
	if mode == fakeBadAttrValue {
		resp.Add(rfc2865.SessionTimeout_Type, radius.Attribute{0, 1, 2})
	}
	if mode != fakeNoMA {
		resp.Add(typeMessageAuthenticator, make(radius.Attribute, 16))
	}
	b, err := resp.MarshalBinary()
	if err != nil {
		f.t.Errorf("fake: %v", err)
		return nil
	}
	if off, err := findMessageAuthenticator(b); err == nil && off >= 0 {
		sum := messageAuthenticator(b, off, &req.Authenticator, f.secret)
		copy(b[off:], sum[:])
		if mode == fakeBadMA {
			b[off] ^= 1
		}
	}
	if mode == fakeMalformed {
		// A Reply-Message that declares 9 octets and has 3, with the
		// Length and Response Authenticator made to agree.
		b = append(b, 18, 9, 'x')
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(req.Authenticator[:])
	h.Write(b[20:])
	h.Write(f.secret)
	copy(b[4:20], h.Sum(nil))
	switch mode {
	case fakeBadAuth:
		b[5] ^= 1
	case fakeWrongID:
		b[1]++
	case fakeOversize:
		b = append(b, make([]byte, 4097)...)
	case fakeShortLength:
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)+1))
	}
	return b
}

func mschapV1Response(ch []byte, pw string) [24]byte {
	return mschap.ChallengeResponse([8]byte(ch), mschap.NTPasswordHash(pw))
}
