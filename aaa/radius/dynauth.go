package radius

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3162"
)

// DefaultDynAuthPort is the UDP port of dynamic authorization (RFC 5176
// §3.4; IOS's default is 1700, `port` changes it).
const DefaultDynAuthPort = 3799

// Error-Cause values (RFC 5176 §3.6).
const (
	ErrorCauseUnsupportedAttribute = 401
	ErrorCauseMissingAttribute     = 402
	ErrorCauseNASMismatch          = 403
	ErrorCauseInvalidRequest       = 404
	ErrorCauseSessionNotFound      = 503
	ErrorCauseResourcesUnavailable = 506
)

// Attribute types of RFC 5176 not in layeh's packages.
const (
	typeEventTimestamp = 55  // RFC 2869 §5.3
	typeErrorCause     = 101 // RFC 5176 §3.6
)

// SessionMatch names the sessions of a CoA-Request or Disconnect-Request
// (RFC 5176 §3: every identification attribute given must match).
type SessionMatch struct {
	SessionID string     // Acct-Session-Id
	User      string     // User-Name
	Addr      netip.Addr // Framed-IP-Address
	Port      string     // NAS-Port-Id: the interface ("Vi3")
	// PortNumber is NAS-Port (the interface's unit), when HasPortNumber.
	PortNumber    uint32
	HasPortNumber bool
}

// Change is what a CoA-Request changes: nil is unchanged.
// InterimInterval is Acct-Interim-Interval (RFC 2869 §5.16), in seconds.
type Change struct {
	SessionTimeout, IdleTimeout *uint32
	InterimInterval             *uint32
}

// DynAuthHandler applies dynamic authorization to the NAS's sessions.
// Both report how many sessions matched (0: NAK, Session Context Not
// Found). A request whose identification matches several sessions applies
// to each (RFC 5176 §3 lets a NAS support multiple session selection, or
// refuse it with Error-Cause 508; this one supports it: a Disconnect by
// User-Name ends every session of the user). They may block while the sessions end; they must be safe for
// concurrent use.
type DynAuthHandler interface {
	Disconnect(m SessionMatch) int
	Change(m SessionMatch, c Change) int
}

// DynAuthClient is a client allowed to send CoA and Disconnect requests
// (`client A server-key K`).
type DynAuthClient struct {
	Addr   netip.Addr
	Secret string
}

// DynAuthConfig configures a DynAuthServer.
type DynAuthConfig struct {
	Bind    Bind
	Clients []DynAuthClient
	Handler DynAuthHandler
	// NAS is this NAS's identity: a request naming another NAS
	// (NAS-IP-Address, NAS-Identifier) gets a NAK with Error-Cause 403.
	NAS NAS
	// RequireMessageAuthenticator drops requests without a valid
	// Message-Authenticator (RFC 5176 §3.3 makes it optional; a present
	// one is always checked).
	RequireMessageAuthenticator bool
	Clock                       Clock
	Logger, Debug               *slog.Logger
}

// DynAuthStats are the counters of a DynAuthServer.
type DynAuthStats struct {
	DisconnectRequests, DisconnectACKs, DisconnectNAKs uint64
	CoARequests, CoAACKs, CoANAKs                      uint64
	// Duplicates are retransmissions answered from the cache (RFC 5176
	// §2.3); Drops the requests silently discarded, by reason.
	Duplicates uint64
	Drops      map[string]uint64
}

// Reasons a dynamic authorization request is dropped.
const (
	daDropUnknownClient = iota
	daDropBadAuth
	daDropMalformed
	daDropBadCode
	daDropBusy
	daDropStale
	nDADrops
)

var daDropNames = [nDADrops]string{"unknown_client", "bad_authenticator", "malformed", "unexpected_code", "busy", "stale"}

// DynAuthServer is the dynamic authorization server of RFC 5176: it
// answers Disconnect-Requests and CoA-Requests from the configured
// clients, each verified by its Request Authenticator (RFC 5176 §3.5, as
// RFC 2866's) and its Message-Authenticator when present; anything from
// elsewhere, or not verified, is dropped and counted.
type DynAuthServer struct {
	bind    Bind
	handler DynAuthHandler
	clock   Clock
	log     *slog.Logger
	dbg     *slog.Logger
	reqMA   bool
	nas     atomic.Pointer[NAS]
	clients atomic.Pointer[map[netip.Addr][]byte]
	sem     chan struct{}

	mu    sync.Mutex
	cache map[cacheKey]*cached // answered and in-progress requests, under mu
	order []cacheKey           // oldest first, under mu

	reqs, acks, naks [2]atomic.Uint64 // Disconnect, CoA
	dups             atomic.Uint64
	drops            [nDADrops]atomic.Uint64
}

type cacheKey struct {
	from netip.AddrPort
	id   uint8
	auth [authLen]byte
}

type cached struct {
	at   time.Time
	resp []byte // nil while the request is being handled
}

// maxDynAuthInFlight bounds the requests handled at once; dupCache the
// answers kept for retransmissions, and dupWindow how long. dupWindow is
// also how far a request's Event-Timestamp may be from our clock, either
// way: RFC 5176 §2.3 wants one window for duplicates and stale requests.
const (
	maxDynAuthInFlight = 64
	dupCache           = 1024
	dupWindow          = 300 * time.Second
)

// NewDynAuthServer makes the server; Serve runs it.
func NewDynAuthServer(cfg DynAuthConfig) (*DynAuthServer, error) {
	if cfg.Bind == nil || cfg.Handler == nil {
		return nil, errors.New("radius: dynamic authorization needs a socket and a handler")
	}
	s := &DynAuthServer{bind: cfg.Bind, handler: cfg.Handler, clock: cfg.Clock, log: cfg.Logger, dbg: cfg.Debug,
		reqMA: cfg.RequireMessageAuthenticator, sem: make(chan struct{}, maxDynAuthInFlight), cache: map[cacheKey]*cached{}}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.dbg == nil {
		s.dbg = slog.New(slog.DiscardHandler)
	}
	if err := s.SetClients(cfg.Clients, cfg.NAS); err != nil {
		return nil, err
	}
	return s, nil
}

// SetClients replaces the clients and the NAS identity (a reload).
func (s *DynAuthServer) SetClients(cs []DynAuthClient, nas NAS) error {
	m := map[netip.Addr][]byte{}
	for _, c := range cs {
		if !c.Addr.IsValid() || c.Secret == "" {
			return fmt.Errorf("radius: dynamic-author client %v without an address or key", c.Addr)
		}
		m[c.Addr.Unmap()] = []byte(c.Secret)
	}
	s.clients.Store(&m)
	s.nas.Store(&nas)
	return nil
}

// LocalAddr is the socket's address.
func (s *DynAuthServer) LocalAddr() netip.AddrPort { return s.bind.LocalAddr() }

// Serve answers requests until the socket is closed.
func (s *DynAuthServer) Serve() error { return s.bind.ServeBatch(s.receive, nil) }

// Close closes the socket.
func (s *DynAuthServer) Close() error { return s.bind.Close() }

func (s *DynAuthServer) drop(r int, from netip.AddrPort, why string) {
	s.drops[r].Add(1)
	s.dbg.Debug("RADIUS/DYNAUTH: dropped", "from", from, "reason", daDropNames[r], "detail", why)
}

// receive checks one datagram and hands a verified request to a
// goroutine of its own (at most maxDynAuthInFlight at once).
func (s *DynAuthServer) receive(b []byte, from netip.AddrPort) {
	secret := (*s.clients.Load())[from.Addr().Unmap()]
	if secret == nil {
		s.drop(daDropUnknownClient, from, "")
		return
	}
	b, err := checkLength(b)
	if err != nil {
		s.drop(daDropMalformed, from, err.Error())
		return
	}
	code := radius.Code(b[0])
	if code != radius.CodeDisconnectRequest && code != radius.CodeCoARequest {
		s.drop(daDropBadCode, from, code.String())
		return
	}
	// RFC 5176 §3.5: the Request Authenticator is MD5 over the packet
	// with a zero authenticator, as for Accounting-Request; a
	// Message-Authenticator, when present, is computed over the same
	// zero authenticator (RFC 5176 §3.3, as FreeRADIUS signs it).
	var zero [authLen]byte
	if err := verifyResponse(b, &zero, secret, s.reqMA); err != nil {
		r := daDropBadAuth
		if errors.Is(err, errMalformed) {
			r = daDropMalformed
		}
		s.drop(r, from, err.Error())
		return
	}
	key := cacheKey{from: from, id: b[1]}
	copy(key.auth[:], b[4:headerLen])
	now := s.clock.Now()
	s.mu.Lock()
	if c := s.cache[key]; c != nil && now.Sub(c.at) < dupWindow {
		resp := c.resp
		s.mu.Unlock()
		s.dups.Add(1)
		if resp != nil {
			_ = s.bind.WriteTo(resp, from)
		}
		return
	}
	s.mu.Unlock()
	select {
	case s.sem <- struct{}{}:
	default:
		s.drop(daDropBusy, from, "")
		return
	}
	pkt, err := radius.Parse(b, secret)
	if err != nil {
		<-s.sem
		s.drop(daDropMalformed, from, err.Error())
		return
	}
	// RFC 5176's replay protection: a request whose Event-Timestamp
	// (RFC 2869 §5.3) is outside the window is stale or replayed, and
	// silently discarded; one without is taken (the attribute is a
	// SHOULD for the client).
	if ts := pkt.Get(typeEventTimestamp); ts != nil {
		if len(ts) != 4 {
			<-s.sem
			s.drop(daDropMalformed, from, "Event-Timestamp not 4 octets")
			return
		}
		at := time.Unix(int64(binary.BigEndian.Uint32(ts)), 0)
		if d := now.Sub(at); d > dupWindow || d < -dupWindow {
			<-s.sem
			s.drop(daDropStale, from, fmt.Sprintf("Event-Timestamp %s is %s from now", at.UTC().Format(time.RFC3339), d.Round(time.Second)))
			return
		}
	}
	s.remember(key, &cached{at: now})
	go func() {
		defer func() { <-s.sem }()
		resp := s.handle(pkt, key.auth, secret)
		s.remember(key, &cached{at: s.clock.Now(), resp: resp})
		if err := s.bind.WriteTo(resp, from); err != nil {
			s.log.Warn("radius: dynamic authorization: send", "to", from, "err", err)
		}
	}()
}

// remember keeps the answer to a request for its retransmissions.
func (s *DynAuthServer) remember(k cacheKey, c *cached) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cache[k]; !ok {
		s.order = append(s.order, k)
	}
	s.cache[k] = c
	for len(s.order) > dupCache {
		delete(s.cache, s.order[0])
		s.order = s.order[1:]
	}
}

// handle decides a verified request and returns the encoded answer.
func (s *DynAuthServer) handle(req *radius.Packet, reqAuth [authLen]byte, secret []byte) []byte {
	disc := req.Code == radius.CodeDisconnectRequest
	kind := 1
	ack, nak := radius.CodeCoAACK, radius.CodeCoANAK
	if disc {
		kind, ack, nak = 0, radius.CodeDisconnectACK, radius.CodeDisconnectNAK
	}
	s.reqs[kind].Add(1)
	var m SessionMatch
	var ch Change
	var proxyState []radius.Attribute
	cause := uint32(0)
	identified := false
	nas := s.nas.Load()
	for _, a := range req.Attributes {
		switch a.Type {
		case rfc2865.UserName_Type:
			m.User, identified = string(a.Attribute), true
		case rfc2866.AcctSessionID_Type:
			m.SessionID, identified = string(a.Attribute), true
		case rfc2869.NASPortID_Type:
			m.Port, identified = string(a.Attribute), true
		case rfc2865.NASPort_Type:
			v, err := radius.Integer(a.Attribute)
			if err != nil {
				cause = ErrorCauseInvalidRequest
				break
			}
			m.PortNumber, m.HasPortNumber, identified = v, true, true
		case rfc2865.FramedIPAddress_Type:
			ip, err := radius.IPAddr(a.Attribute)
			if err != nil {
				cause = ErrorCauseInvalidRequest
				break
			}
			m.Addr, identified = netip.AddrFrom4([4]byte(ip.To4())), true
		case rfc2865.NASIPAddress_Type, rfc3162.NASIPv6Address_Type:
			if nas.IP.IsValid() {
				if ip, ok := netip.AddrFromSlice(a.Attribute); !ok || ip.Unmap() != nas.IP.Unmap() {
					cause = ErrorCauseNASMismatch
				}
			}
		case rfc2865.NASIdentifier_Type:
			if nas.Identifier != "" && string(a.Attribute) != nas.Identifier {
				cause = ErrorCauseNASMismatch
			}
		case rfc2865.SessionTimeout_Type, rfc2865.IdleTimeout_Type, rfc2869.AcctInterimInterval_Type:
			v, err := radius.Integer(a.Attribute)
			if err != nil {
				cause = ErrorCauseInvalidRequest
				break
			}
			if disc {
				cause = ErrorCauseUnsupportedAttribute
				break
			}
			switch a.Type {
			case rfc2865.SessionTimeout_Type:
				ch.SessionTimeout = &v
			case rfc2865.IdleTimeout_Type:
				ch.IdleTimeout = &v
			default:
				ch.InterimInterval = &v
			}
		case rfc2865.ProxyState_Type:
			proxyState = append(proxyState, a.Attribute) // RFC 5176 §3: echoed
		case typeMessageAuthenticator, typeEventTimestamp:
		default:
			cause = ErrorCauseUnsupportedAttribute
		}
		if cause != 0 {
			break
		}
	}
	if cause == 0 && !identified {
		cause = ErrorCauseMissingAttribute
	}
	if cause == 0 && !disc && ch.SessionTimeout == nil && ch.IdleTimeout == nil && ch.InterimInterval == nil {
		cause = ErrorCauseMissingAttribute // nothing to change
	}
	if cause == 0 {
		var n int
		if disc {
			n = s.handler.Disconnect(m)
		} else {
			n = s.handler.Change(m, ch)
		}
		if n == 0 {
			cause = ErrorCauseSessionNotFound
		}
	}
	code := ack
	if cause != 0 {
		code = nak
		s.naks[kind].Add(1)
	} else {
		s.acks[kind].Add(1)
	}
	s.dbg.Debug("RADIUS/DYNAUTH: "+req.Code.String(), "id", req.Identifier, "session", m.SessionID, "user", m.User,
		"address", m.Addr, "nas-port-id", m.Port, "answer", code.String(), "error-cause", cause)
	return encodeDynAuthAnswer(code, req.Identifier, reqAuth, secret, cause, proxyState)
}

// encodeDynAuthAnswer signs an ACK or NAK: Message-Authenticator over
// the request's authenticator (RFC 5176 §3.3), then the Response
// Authenticator (RFC 5176 §3.5, as RFC 2865 §3).
func encodeDynAuthAnswer(code radius.Code, id uint8, reqAuth [authLen]byte, secret []byte, cause uint32, proxyState []radius.Attribute) []byte {
	b := make([]byte, headerLen, 64)
	b[0], b[1] = byte(code), id
	copy(b[4:], reqAuth[:])
	if cause != 0 {
		b = append(b, typeErrorCause, 6)
		b = binary.BigEndian.AppendUint32(b, cause)
	}
	for _, p := range proxyState {
		if len(p) <= 253 {
			b = append(b, byte(rfc2865.ProxyState_Type), byte(len(p)+2))
			b = append(b, p...)
		}
	}
	b = append(b, typeMessageAuthenticator, 2+authLen)
	off := len(b)
	b = append(b, make([]byte, authLen)...)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	ma := messageAuthenticator(b, off, &reqAuth, secret)
	copy(b[off:], ma[:])
	h := md5.New()
	h.Write(b[:4])
	h.Write(reqAuth[:])
	h.Write(b[headerLen:])
	h.Write(secret)
	h.Sum(b[4:4:headerLen])
	return b
}

// Stats returns the counters.
func (s *DynAuthServer) Stats() DynAuthStats {
	st := DynAuthStats{DisconnectRequests: s.reqs[0].Load(), DisconnectACKs: s.acks[0].Load(), DisconnectNAKs: s.naks[0].Load(),
		CoARequests: s.reqs[1].Load(), CoAACKs: s.acks[1].Load(), CoANAKs: s.naks[1].Load(), Duplicates: s.dups.Load(),
		Drops: map[string]uint64{}}
	for i, n := range daDropNames {
		st.Drops[n] = s.drops[i].Load()
	}
	return st
}

// DynAuthDropReasons lists the drop reasons of DynAuthStats.Drops.
func DynAuthDropReasons() []string { return daDropNames[:] }
