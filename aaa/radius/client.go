package radius

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"
)

// Bind is a datagram socket: transport.Bind's methods, so that the daemon
// passes the kernel's UDP sockets and tests transport/memnet's.
type Bind interface {
	WriteTo(b []byte, to netip.AddrPort) error
	ServeBatch(h func(b []byte, from netip.AddrPort), flush func()) error
	LocalAddr() netip.AddrPort
	Close() error
}

// ListenFunc opens a socket bound to local (port 0: any).
type ListenFunc func(local netip.AddrPort) (Bind, error)

// Clock is the time source of retransmission and deadtime.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                 { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// Port says which of a server's ports a request goes to.
type Port uint8

const (
	AuthPort Port = iota // Access-Request (RFC 2865), default 1645 in IOS, 1812 by RFC
	AcctPort             // Accounting-Request (RFC 2866)
	nPorts
)

// Defaults of IOS's radius-server commands.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultRetransmit = 3
	DefaultAuthPort   = 1812
	DefaultAcctPort   = 1813
)

// ServerConfig is one server as configured: `radius server NAME`,
// `radius-server host` or a group's `server-private`.
type ServerConfig struct {
	// Name is the `radius server` name; "" for radius-server host and
	// server-private, which are known by address.
	Name     string
	Addr     netip.Addr
	AuthPort uint16 // 0: DefaultAuthPort
	AcctPort uint16 // 0: DefaultAcctPort
	Secret   string
	// Timeout is the wait for an answer to each transmission (0:
	// DefaultTimeout); Retransmit the retransmissions after the first
	// (negative: DefaultRetransmit).
	Timeout    time.Duration
	Retransmit int
}

func (s *ServerConfig) normalize() {
	if s.AuthPort == 0 {
		s.AuthPort = DefaultAuthPort
	}
	if s.AcctPort == 0 {
		s.AcctPort = DefaultAcctPort
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Retransmit < 0 {
		s.Retransmit = DefaultRetransmit
	}
}

// key identifies a server across reconfigurations: address, ports and
// what a request to it depends on (key, timers), so that a group's
// server-private with its own key is a server of its own, as in IOS, and a
// reload that changes none of these keeps the server's state.
func (s *ServerConfig) key() string {
	h := sha256.Sum256([]byte(s.Secret))
	return fmt.Sprintf("%s/%d/%d/%x/%d/%d", s.Addr, s.AuthPort, s.AcctPort, h[:8], s.Timeout, s.Retransmit)
}

// GroupConfig is a server group: `aaa group server radius NAME`, or the
// global group "radius" of every radius server and radius-server host.
type GroupConfig struct {
	Name    string
	Servers []ServerConfig
}

// Config configures a Client.
type Config struct {
	Groups []GroupConfig
	// Deadtime is how long a server that did not answer is skipped
	// (radius-server deadtime, minutes in IOS); 0: never marked dead.
	Deadtime time.Duration
	NAS      NAS
	// Source is the address the sockets bind to (ip radius
	// source-interface); zero: the unspecified address.
	Source netip.Addr
	Listen ListenFunc
	Clock  Clock // nil: the real clock
	// Logger gets warnings; Debug gets one line per packet (debug
	// radius) at Debug level. Either may be nil.
	Logger, Debug *slog.Logger
}

// Client is the RADIUS client: the servers, their sockets and counters.
// It is safe for concurrent use. SetConfig replaces the configuration
// and keeps the state (sockets, counters, dead marks) of the servers it
// still names.
type Client struct {
	listen ListenFunc
	clock  Clock
	log    *slog.Logger
	dbg    *slog.Logger

	mu      sync.Mutex
	servers map[string]*server // by key, under mu
	source  netip.Addr         // under mu
	closed  bool               // under mu
	snap    atomic.Pointer[snapshot]
}

type snapshot struct {
	groups   map[string][]*server
	order    []*server // every server, in configuration order
	deadtime time.Duration
	nas      NAS
}

// New makes a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Listen == nil {
		return nil, errors.New("radius: Config.Listen is required")
	}
	c := &Client{listen: cfg.Listen, clock: cfg.Clock, log: cfg.Logger, dbg: cfg.Debug, servers: map[string]*server{}}
	if c.clock == nil {
		c.clock = realClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.dbg == nil {
		c.dbg = slog.New(slog.DiscardHandler)
	}
	if err := c.SetConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// SetConfig applies a new configuration (a reload). Its Listen, Clock and
// loggers are ignored. Servers it no longer names are closed.
func (c *Client) SetConfig(cfg Config) error {
	snap := &snapshot{groups: map[string][]*server{}, deadtime: cfg.Deadtime, nas: cfg.NAS}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("radius: client closed")
	}
	if cfg.Source != c.source {
		// The sockets bind to the source address: reopen them all.
		for _, s := range c.servers {
			s.close()
		}
		c.servers = map[string]*server{}
		c.source = cfg.Source
	}
	seen := map[*server]bool{}
	for _, g := range cfg.Groups {
		if g.Name == "" {
			return errors.New("radius: a server group without a name")
		}
		if _, dup := snap.groups[g.Name]; dup {
			return fmt.Errorf("radius: server group %q configured twice", g.Name)
		}
		var list []*server
		for _, sc := range g.Servers {
			sc.normalize()
			if !sc.Addr.IsValid() {
				return fmt.Errorf("radius: group %s: a server without an address", g.Name)
			}
			if sc.Secret == "" {
				return fmt.Errorf("radius: group %s: server %s has no key", g.Name, sc.Addr)
			}
			s := c.servers[sc.key()]
			if s == nil {
				s = newServer(c, sc.key())
				c.servers[sc.key()] = s
			}
			s.configure(sc)
			list = append(list, s)
			if !seen[s] {
				seen[s] = true
				snap.order = append(snap.order, s)
			}
		}
		snap.groups[g.Name] = list
	}
	for k, s := range c.servers {
		if !seen[s] {
			s.close()
			delete(c.servers, k)
		}
	}
	c.snap.Store(snap)
	return nil
}

// Close closes every socket; requests in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, s := range c.servers {
		s.close()
	}
	c.servers = map[string]*server{}
	return nil
}

// NAS returns the NAS identity in force.
func (c *Client) NAS() NAS { return c.snap.Load().nas }

// HasGroup reports whether the group is configured.
func (c *Client) HasGroup(name string) bool {
	_, ok := c.snap.Load().groups[name]
	return ok
}

// ErrTimeout is the error of a server that did not answer any
// transmission of a request.
var ErrTimeout = errors.New("radius: no answer")

// Response is an answer to a request, with the request it answers (whose
// Authenticator decrypts the response's hidden attributes).
type Response struct {
	*radius.Packet
	Request *radius.Packet
	Server  string // the server's address:port
	RTT     time.Duration
	srv     *server
}

// Exchange sends a request to the servers of a group in order until one
// answers (RFC 2865 §2.6 failover): each server gets the first
// transmission and its configured retransmissions of the same packet, one
// timeout apart; a server that answers none is marked dead for the
// deadtime and skipped by later requests while any server of the group
// lives. build adds the request's attributes; it is called once per server
// with the packet's Code, Identifier, Secret and (for Access-Request)
// Request Authenticator set, so that it can hide User-Password. For an
// Access-Request, Message-Authenticator is added first and signed. Only a
// verified answer is returned; everything else is dropped and counted.
func (c *Client) Exchange(ctx context.Context, group string, port Port, code radius.Code, build func(p *radius.Packet) error) (*Response, error) {
	return c.exchange(ctx, group, "", port, code, build)
}

// exchange is Exchange; a non-empty only names the one server of the group
// (its address:port, Response.Server) to ask, dead or alive: the server
// an EAP conversation's State belongs to.
func (c *Client) exchange(ctx context.Context, group, only string, port Port, code radius.Code, build func(p *radius.Packet) error) (*Response, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, errors.New("radius: client closed")
	}
	snap := c.snap.Load()
	servers, ok := snap.groups[group]
	if !ok {
		return nil, fmt.Errorf("radius: server group %q not configured", group)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("radius: server group %q has no servers", group)
	}
	now := c.clock.Now()
	try := make([]*server, 0, len(servers))
	for _, s := range servers {
		if only != "" {
			if s.String() == only {
				try = append(try, s)
			}
		} else if !s.isDead(now) {
			try = append(try, s)
		}
	}
	if only != "" && len(try) == 0 {
		return nil, fmt.Errorf("radius: group %s no longer has server %s, which holds the conversation", group, only)
	}
	if len(try) == 0 {
		// Every server is dead: IOS tries them all rather than fail.
		try = servers
	}
	var errs []error
	for _, s := range try {
		r, err := s.exchange(ctx, port, code, build)
		if err == nil {
			s.alive()
			return r, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.String(), err))
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, ErrTimeout) && snap.deadtime > 0 {
			s.markDead(c.clock.Now().Add(snap.deadtime))
			c.log.Warn("radius: server is not responding; marked dead", "server", s.String(), "deadtime", snap.deadtime)
		}
	}
	return nil, fmt.Errorf("radius: group %s: no server answered: %w", group, errors.Join(errs...))
}

// server is one configured server.
type server struct {
	c   *Client
	key string

	mu        sync.Mutex
	cfg       ServerConfig // under mu
	deadUntil time.Time    // under mu
	ports     [nPorts]*port

	st counters
}

func newServer(c *Client, key string) *server {
	s := &server{c: c, key: key}
	for i := range s.ports {
		s.ports[i] = &port{s: s, kind: Port(i), free: make(chan struct{}, maxInFlight)}
	}
	return s
}

func (s *server) configure(sc ServerConfig) {
	s.mu.Lock()
	s.cfg = sc
	s.mu.Unlock()
}

func (s *server) config() ServerConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *server) String() string {
	sc := s.config()
	return netip.AddrPortFrom(sc.Addr, sc.AuthPort).String()
}

func (s *server) isDead(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Before(s.deadUntil)
}

func (s *server) markDead(until time.Time) {
	s.mu.Lock()
	s.deadUntil = until
	s.mu.Unlock()
	s.st.deadCount.Add(1)
}

func (s *server) alive() {
	s.mu.Lock()
	s.deadUntil = time.Time{}
	s.mu.Unlock()
}

func (s *server) close() {
	for _, p := range s.ports {
		p.close()
	}
}

// maxInFlight is the number of request identifiers of one socket (RFC 2865
// §3: one octet).
const maxInFlight = 256

// port is a server's authentication or accounting port: its socket and
// its outstanding requests by identifier.
type port struct {
	s    *server
	kind Port
	free chan struct{} // a token per outstanding request: at most 256

	mu      sync.Mutex
	bind    Bind                   // under mu; opened on first use
	pending [maxInFlight]*outgoing // under mu
	next    uint8                  // under mu: where the search for a free ID starts
}

// outgoing is one outstanding request.
type outgoing struct {
	reqAuth [authLen]byte
	secret  []byte
	code    radius.Code
	answer  chan *radius.Packet // buffered 1: the first verified answer
}

func (p *port) open() (Bind, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bind != nil {
		return p.bind, nil
	}
	p.s.c.mu.Lock()
	src := p.s.c.source
	p.s.c.mu.Unlock()
	b, err := p.s.c.listen(netip.AddrPortFrom(src, 0))
	if err != nil {
		return nil, fmt.Errorf("radius: socket: %w", err)
	}
	p.bind = b
	go func() {
		err := b.ServeBatch(func(pkt []byte, from netip.AddrPort) { p.receive(pkt, from) }, nil)
		if err == nil {
			return // closed
		}
		// A socket error: drop the socket; the next request opens a
		// new one, and those in flight time out.
		p.s.c.log.Warn("radius: socket failed; reopening on the next request", "server", p.s.String(), "err", err)
		p.mu.Lock()
		if p.bind == b {
			p.bind = nil
		}
		p.mu.Unlock()
		_ = b.Close()
	}()
	return b, nil
}

func (p *port) close() {
	p.mu.Lock()
	b := p.bind
	p.bind = nil
	p.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
}

// to is the port's address.
func (p *port) to(sc *ServerConfig) netip.AddrPort {
	if p.kind == AcctPort {
		return netip.AddrPortFrom(sc.Addr, sc.AcctPort)
	}
	return netip.AddrPortFrom(sc.Addr, sc.AuthPort)
}

// exchange runs one request against one server: take an identifier, build
// and sign the packet, send it and retransmit it unchanged (RFC 2865 §2.5:
// same Identifier and Request Authenticator) until an answer or the last
// timeout.
func (s *server) exchange(ctx context.Context, kind Port, code radius.Code, build func(*radius.Packet) error) (*Response, error) {
	p := s.ports[kind]
	sc := s.config()
	b, err := p.open()
	if err != nil {
		return nil, err
	}
	select {
	case p.free <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.free }()
	out := &outgoing{secret: []byte(sc.Secret), code: code, answer: make(chan *radius.Packet, 1)}
	p.mu.Lock()
	id := -1
	for i := range maxInFlight {
		cand := p.next + uint8(i)
		if p.pending[cand] == nil {
			id = int(cand)
			break
		}
	}
	if id < 0 { // cannot happen: the token bounds the outstanding requests
		p.mu.Unlock()
		return nil, errors.New("radius: no free identifier")
	}
	p.next = uint8(id) + 1
	p.pending[id] = out
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.pending[id] == out {
			p.pending[id] = nil
		}
		p.mu.Unlock()
	}()

	req := &radius.Packet{Code: code, Identifier: uint8(id), Secret: out.secret}
	if code == radius.CodeAccessRequest || code == radius.CodeStatusServer {
		if _, err := rand.Read(req.Authenticator[:]); err != nil {
			return nil, fmt.Errorf("radius: random authenticator: %w", err)
		}
		// RFC 3579 §3.2 and BlastRADIUS: Message-Authenticator first.
		req.Add(typeMessageAuthenticator, make(radius.Attribute, authLen))
	}
	if err := build(req); err != nil {
		return nil, err
	}
	wire, err := req.Encode()
	if err != nil {
		return nil, fmt.Errorf("radius: encode: %w", err)
	}
	if code == radius.CodeAccessRequest || code == radius.CodeStatusServer {
		off, err := findMessageAuthenticator(wire)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("radius: encode: Message-Authenticator lost")
		}
		signRequest(wire, off, out.secret)
	}
	copy(req.Authenticator[:], wire[4:headerLen])
	p.mu.Lock()
	copy(out.reqAuth[:], wire[4:headerLen])
	p.mu.Unlock()

	to := p.to(&sc)
	start := s.c.clock.Now()
	for try := 0; try <= sc.Retransmit; try++ {
		if try > 0 {
			s.st.retransmissions.Add(1)
		}
		s.st.requests[kind].Add(1)
		s.c.debugPacket("send", to, wire, out.secret)
		if err := b.WriteTo(wire, to); err != nil {
			s.c.log.Warn("radius: send failed", "server", to, "err", err)
		}
		t := s.c.clock.NewTimer(sc.Timeout)
		select {
		case ans := <-out.answer:
			t.Stop()
			rtt := s.c.clock.Now().Sub(start)
			s.st.observe(rtt)
			s.st.count(ans.Code)
			return &Response{Packet: ans, Request: req, Server: to.String(), RTT: rtt, srv: s}, nil
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	s.st.timeouts.Add(1)
	return nil, ErrTimeout
}

// expected reports whether code answers a request of code req.
func expected(req, code radius.Code) bool {
	switch req {
	case radius.CodeAccessRequest:
		return code == radius.CodeAccessAccept || code == radius.CodeAccessReject || code == radius.CodeAccessChallenge
	case radius.CodeAccountingRequest:
		return code == radius.CodeAccountingResponse
	case radius.CodeStatusServer:
		return code == radius.CodeAccessAccept || code == radius.CodeAccountingResponse
	}
	return false
}

// receive handles one datagram from the port's socket: only a verified
// answer to an outstanding request reaches its requester.
func (p *port) receive(b []byte, from netip.AddrPort) {
	sc := p.s.config()
	if from.Addr().Unmap() != sc.Addr.Unmap() || from.Port() != p.to(&sc).Port() {
		p.s.st.drop(dropUnknownSource)
		return
	}
	b, err := checkLength(b)
	if err != nil {
		p.s.st.drop(reasonOf(err))
		return
	}
	p.mu.Lock()
	out := p.pending[b[1]]
	var reqAuth [authLen]byte
	if out != nil {
		reqAuth = out.reqAuth
	}
	p.mu.Unlock()
	if out == nil {
		p.s.st.drop(dropUnknownID)
		p.s.c.debugPacket("drop (no request)", from, b, nil)
		return
	}
	code := radius.Code(b[0])
	if !expected(out.code, code) {
		p.s.st.drop(dropBadCode)
		return
	}
	// RFC 3579 §3.2, BlastRADIUS: every answer to an Access-Request
	// carries a valid Message-Authenticator.
	needMA := out.code == radius.CodeAccessRequest
	if err := verifyResponse(b, &reqAuth, out.secret, needMA); err != nil {
		p.s.st.drop(reasonOf(err))
		p.s.c.debugPacket("drop ("+err.Error()+")", from, b, nil)
		return
	}
	pkt, err := radius.Parse(b, out.secret)
	if err != nil {
		p.s.st.drop(dropMalformed)
		return
	}
	p.s.c.debugPacket("recv", from, b, out.secret)
	select {
	case out.answer <- pkt:
	default:
		p.s.st.drop(dropDuplicate)
	}
}
