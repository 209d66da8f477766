package radius

import (
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/vpdn/vpdn/transport/memnet"
)

// fakeSessions is a DynAuthHandler over one session.
type fakeSessions struct {
	mu          sync.Mutex
	id, user    string
	addr        netip.Addr
	up          bool
	sess, idle  uint32
	interim     uint32
	port        uint32
	disconnects int
}

func (f *fakeSessions) match(m SessionMatch) bool {
	return f.up && (m.SessionID == "" || m.SessionID == f.id) && (m.User == "" || m.User == f.user) &&
		(!m.Addr.IsValid() || m.Addr == f.addr) && m.Port == "" && (!m.HasPortNumber || m.PortNumber == f.port)
}

func (f *fakeSessions) Disconnect(m SessionMatch) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.match(m) {
		return 0
	}
	f.up = false
	f.disconnects++
	return 1
}

func (f *fakeSessions) Change(m SessionMatch, c Change) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.match(m) {
		return 0
	}
	if c.SessionTimeout != nil {
		f.sess = *c.SessionTimeout
	}
	if c.IdleTimeout != nil {
		f.idle = *c.IdleTimeout
	}
	if c.InterimInterval != nil {
		f.interim = *c.InterimInterval
	}
	return 1
}

var (
	daAddr   = netip.MustParseAddrPort("198.18.0.1:3799")
	daClient = netip.MustParseAddrPort("198.18.0.5:40000")
	daOther  = netip.MustParseAddrPort("198.18.0.6:40000")
)

// TestDynAuth is RFC 5176's table: Disconnect-ACK, NAK 503 for an unknown
// session, CoA-ACK changing the timeouts, NAK 401 for an unsupported
// attribute, NAK 402 without identification, and silent drops of a bad
// authenticator, a bad Message-Authenticator and an unknown client.
func TestDynAuth(t *testing.T) {
	type tc struct {
		name   string
		from   netip.AddrPort
		code   radius.Code
		attrs  func(p *radius.Packet)
		break_ func(b []byte)
		want   radius.Code // 0: dropped
		cause  uint32
		check  func(t *testing.T, f *fakeSessions)
	}
	sid := func(id string) func(p *radius.Packet) {
		return func(p *radius.Packet) { rfc2866.AcctSessionID_SetString(p, id) }
	}
	withMA := func(p *radius.Packet) {
		rfc2866.AcctSessionID_SetString(p, "S1")
		rfc2865.SessionTimeout_Set(p, 600)
		p.Add(typeMessageAuthenticator, make(radius.Attribute, 16))
	}
	cases := []tc{
		{name: "coa session timeout", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoAACK,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.UserName_SetString(p, "alice")
				rfc2865.SessionTimeout_Set(p, 600)
				rfc2865.IdleTimeout_Set(p, 60)
			},
			check: func(t *testing.T, f *fakeSessions) {
				if f.sess != 600 || f.idle != 60 {
					t.Errorf("timeouts %d %d", f.sess, f.idle)
				}
			}},
		{name: "coa interim interval by user and nas-port", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoAACK,
			attrs: func(p *radius.Packet) {
				rfc2865.UserName_SetString(p, "alice")
				rfc2865.NASPort_Set(p, 3)
				rfc2869.AcctInterimInterval_Set(p, 300)
			},
			check: func(t *testing.T, f *fakeSessions) {
				if f.interim != 300 {
					t.Errorf("interim %d", f.interim)
				}
			}},
		{name: "coa nas-port mismatch", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoANAK, cause: ErrorCauseSessionNotFound,
			attrs: func(p *radius.Packet) {
				rfc2865.UserName_SetString(p, "alice")
				rfc2865.NASPort_Set(p, 4)
				rfc2869.AcctInterimInterval_Set(p, 300)
			}},
		{name: "coa framed-pool unsupported", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoANAK, cause: ErrorCauseUnsupportedAttribute,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				p.Add(88, radius.Attribute("P2")) // Framed-Pool: a live session keeps its address
			}},
		{name: "disconnect with interim interval", from: daClient, code: radius.CodeDisconnectRequest, want: radius.CodeDisconnectNAK, cause: ErrorCauseUnsupportedAttribute,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2869.AcctInterimInterval_Set(p, 300)
			}},
		{name: "coa with message-authenticator", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoAACK, attrs: withMA},
		{name: "coa bad message-authenticator", from: daClient, code: radius.CodeCoARequest, attrs: withMA,
			break_: func(b []byte) { b[len(b)-1] ^= 1 }},
		{name: "coa unsupported attribute", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoANAK, cause: ErrorCauseUnsupportedAttribute,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.FilterID_SetString(p, "acl-1")
			}},
		{name: "coa nothing to change", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoANAK, cause: ErrorCauseMissingAttribute, attrs: sid("S1")},
		{name: "coa user mismatch", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoANAK, cause: ErrorCauseSessionNotFound,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.UserName_SetString(p, "bob")
				rfc2865.SessionTimeout_Set(p, 600)
			}},
		{name: "disconnect unknown session", from: daClient, code: radius.CodeDisconnectRequest, want: radius.CodeDisconnectNAK, cause: ErrorCauseSessionNotFound, attrs: sid("NOPE")},
		{name: "disconnect no identification", from: daClient, code: radius.CodeDisconnectRequest, want: radius.CodeDisconnectNAK, cause: ErrorCauseMissingAttribute, attrs: func(*radius.Packet) {}},
		{name: "disconnect other nas", from: daClient, code: radius.CodeDisconnectRequest, want: radius.CodeDisconnectNAK, cause: ErrorCauseNASMismatch,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.NASIdentifier_SetString(p, "other")
			}},
		{name: "disconnect bad authenticator", from: daClient, code: radius.CodeDisconnectRequest, attrs: sid("S1"),
			break_: func(b []byte) { b[4] ^= 1 }},
		{name: "disconnect unknown client", from: daOther, code: radius.CodeDisconnectRequest, attrs: sid("S1")},
		{name: "access-request refused", from: daClient, code: radius.CodeAccessRequest, attrs: sid("S1")},
		{name: "coa event-timestamp current", from: daClient, code: radius.CodeCoARequest, want: radius.CodeCoAACK,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.IdleTimeout_Set(p, 90)
				rfc2869.EventTimestamp_Set(p, time.Now().Add(-2*time.Minute))
			},
			check: func(t *testing.T, f *fakeSessions) {
				if f.idle != 90 {
					t.Errorf("idle %d", f.idle)
				}
			}},
		{name: "coa event-timestamp stale", from: daClient, code: radius.CodeCoARequest,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.IdleTimeout_Set(p, 91)
				rfc2869.EventTimestamp_Set(p, time.Now().Add(-6*time.Minute))
			}},
		{name: "disconnect event-timestamp future", from: daClient, code: radius.CodeDisconnectRequest,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2869.EventTimestamp_Set(p, time.Now().Add(6*time.Minute))
			}},
		{name: "coa event-timestamp malformed", from: daClient, code: radius.CodeCoARequest,
			attrs: func(p *radius.Packet) {
				rfc2866.AcctSessionID_SetString(p, "S1")
				rfc2865.IdleTimeout_Set(p, 92)
				p.Add(typeEventTimestamp, radius.Attribute{1, 2, 3})
			}},
		{name: "disconnect", from: daClient, code: radius.CodeDisconnectRequest, want: radius.CodeDisconnectACK, attrs: sid("S1"),
			check: func(t *testing.T, f *fakeSessions) {
				if f.up || f.disconnects != 1 {
					t.Errorf("session up %v, disconnects %d", f.up, f.disconnects)
				}
			}},
	}
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(1)
		bind, err := n.ListenUDP(daAddr)
		if err != nil {
			t.Fatal(err)
		}
		sessions := &fakeSessions{id: "S1", user: "alice", addr: netip.MustParseAddr("198.19.1.10"), up: true, port: 3}
		s, err := NewDynAuthServer(DynAuthConfig{Bind: bind, Handler: sessions, NAS: NAS{Identifier: "lns1"},
			Clients: []DynAuthClient{{Addr: daClient.Addr(), Secret: testSecret}, {Addr: daOther.Addr(), Secret: "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		// daOther is not a client once the clients are set again.
		_ = s.SetClients([]DynAuthClient{{Addr: daClient.Addr(), Secret: testSecret}}, NAS{Identifier: "lns1"})
		go func() { _ = s.Serve() }()
		defer s.Close()
		conns := map[netip.AddrPort]Bind{}
		answers := map[netip.AddrPort]chan []byte{}
		for _, a := range []netip.AddrPort{daClient, daOther} {
			c, err := n.ListenUDP(a)
			if err != nil {
				t.Fatal(err)
			}
			ch := make(chan []byte, 4)
			go func() { _ = c.ServeBatch(func(b []byte, _ netip.AddrPort) { ch <- append([]byte(nil), b...) }, nil) }()
			conns[a], answers[a] = c, ch
			defer c.Close()
		}
		for i, c := range cases {
			p := radius.New(c.code, []byte(testSecret))
			p.Identifier = uint8(i)
			c.attrs(p)
			b, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if off, _ := findMessageAuthenticator(b); off > 0 {
				var zero [authLen]byte
				ma := messageAuthenticator(b, off, &zero, []byte(testSecret))
				copy(b[off:], ma[:])
				fixRequestAuth(b, []byte(testSecret))
			}
			if c.break_ != nil {
				c.break_(b)
			}
			if err := conns[c.from].WriteTo(b, daAddr); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
			var got []byte
			select {
			case got = <-answers[c.from]:
			default:
			}
			if c.want == 0 {
				if got != nil {
					t.Errorf("%s: answered %v, want dropped", c.name, radius.Code(got[0]))
				}
				continue
			}
			if got == nil {
				t.Errorf("%s: no answer", c.name)
				continue
			}
			var reqAuth [authLen]byte
			copy(reqAuth[:], b[4:20])
			if err := verifyResponse(got, &reqAuth, []byte(testSecret), true); err != nil {
				t.Errorf("%s: answer does not verify: %v", c.name, err)
			}
			resp, _ := radius.Parse(got, []byte(testSecret))
			if resp.Code != c.want || resp.Identifier != uint8(i) {
				t.Errorf("%s: answer %v id %d, want %v", c.name, resp.Code, resp.Identifier, c.want)
			}
			var cause uint32
			if a := resp.Get(typeErrorCause); len(a) == 4 {
				cause = binary.BigEndian.Uint32(a)
			}
			if cause != c.cause {
				t.Errorf("%s: Error-Cause %d, want %d", c.name, cause, c.cause)
			}
			if c.check != nil {
				sessions.mu.Lock()
				c.check(t, sessions)
				sessions.mu.Unlock()
			}
		}
		// A retransmission of the last request is answered from the
		// cache, not disconnected again (RFC 5176 §2.3).
		last := radius.New(radius.CodeDisconnectRequest, []byte(testSecret))
		last.Identifier = uint8(len(cases) - 1)
		rfc2866.AcctSessionID_SetString(last, "S1")
		b, _ := last.Encode()
		_ = conns[daClient].WriteTo(b, daAddr)
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case got := <-answers[daClient]:
			if radius.Code(got[0]) != radius.CodeDisconnectACK {
				t.Errorf("retransmission answered %v", radius.Code(got[0]))
			}
		default:
			t.Error("retransmission not answered")
		}
		st := s.Stats()
		if st.Duplicates != 1 || sessions.disconnects != 1 {
			t.Errorf("duplicates %d, disconnects %d", st.Duplicates, sessions.disconnects)
		}
		if st.DisconnectACKs != 1 || st.CoAACKs != 4 || st.Drops["bad_authenticator"] != 2 || st.Drops["unknown_client"] != 1 ||
			st.Drops["unexpected_code"] != 1 || st.Drops["stale"] != 2 || st.Drops["malformed"] != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// fixRequestAuth recomputes the Request Authenticator of a CoA or
// Disconnect request in b (RFC 5176 §3.5).
func fixRequestAuth(b, secret []byte) {
	h := md5.New()
	h.Write(b[:4])
	h.Write(make([]byte, 16))
	h.Write(b[20:])
	h.Write(secret)
	copy(b[4:20], h.Sum(nil))
}
