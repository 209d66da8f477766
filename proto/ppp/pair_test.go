package ppp

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
	"layeh.com/radius/rfc2759"
	"layeh.com/radius/rfc3079"
)

// fakeAAA verifies credentials against plaintext passwords, independently
// of the peer-side code under test (MS-CHAP through layeh's rfc2759).
type fakeAAA struct {
	mu       sync.Mutex
	users    map[string]string
	static   map[string]netip.Addr
	dns      []netip.Addr
	v6       map[string][]netip.Prefix // Framed-IPv6-Prefix by user
	requests []aaa.Request
	block    chan struct{} // when set, each call waits for it
}

func (f *fakeAAA) Authenticate(ctx context.Context, r *aaa.Request) (*aaa.Result, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, *r)
	pw, known := f.users[r.Username]
	f.mu.Unlock()
	res := &aaa.Result{Authz: aaa.Authorization{Username: r.Username, Address: f.static[r.Username], DNS: f.dns, IPv6Prefixes: f.v6[r.Username]}}
	reject := func(msg string) (*aaa.Result, error) {
		res.Accept, res.Reason, res.Message = false, "bad credentials for "+r.Username, msg
		return res, nil
	}
	if !known {
		pw = "\x00no such user"
	}
	switch r.Method {
	case aaa.PAP:
		if string(r.Password) != pw {
			return reject("Bad password for " + r.Username)
		}
	case aaa.CHAP, aaa.EAPMD5:
		h := md5.Sum(append(append([]byte{r.ID}, pw...), r.Challenge...))
		if !bytes.Equal(h[:], r.Response) {
			return reject("Bad CHAP response from " + r.Username)
		}
	case aaa.MSCHAPv1:
		u, _ := rfc2759.ToUTF16([]byte(pw))
		want := rfc2759.ChallengeResponse(r.Challenge, rfc2759.NTPasswordHash(u))
		if len(r.Response) != 49 || !bytes.Equal(r.Response[24:48], want) {
			res.MSCHAPError = "E=691 R=0 V=1"
			return reject("")
		}
	case aaa.MSCHAPv2:
		if len(r.Response) != 49 {
			return reject("")
		}
		peerChal, nt := r.Response[:16], r.Response[24:48]
		want, _ := rfc2759.GenerateNTResponse(r.Challenge, peerChal, []byte(r.Username), []byte(pw))
		if !bytes.Equal(nt, want) {
			res.MSCHAPError = "E=691 R=0 C=" + strings.ToUpper(hex.EncodeToString(r.Challenge)) + " V=3 M=Bad password"
			return reject("")
		}
		res.MSCHAPv2Success, _ = rfc2759.GenerateAuthenticatorResponse(r.Challenge, peerChal, nt, []byte(r.Username), []byte(pw))
		res.MPPESendKey, _ = rfc3079.MakeKey(nt, []byte(pw), true)
		res.MPPERecvKey, _ = rfc3079.MakeKey(nt, []byte(pw), false)
		res.Message = "Welcome"
	}
	res.Accept = true
	return res, nil
}

// fakePool hands out 198.19.0.10, .11, ... and takes them back.
type fakePool struct {
	mu    sync.Mutex
	next  int
	inUse map[netip.Addr]bool
}

func (p *fakePool) Allocate(*aaa.Authorization) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inUse == nil {
		p.inUse = map[netip.Addr]bool{}
	}
	a := netip.AddrFrom4([4]byte{198, 19, 0, byte(10 + p.next)})
	p.next++
	p.inUse[a] = true
	return a, nil
}

func (p *fakePool) Release(a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, a)
}

func (p *fakePool) used() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.inUse) }

// recorder is a Handler that keeps the events it sees.
type recorder struct {
	mu      sync.Mutex
	ups     []UpEvent
	downs   []DownEvent
	packets [][]byte
	resets  int // CCP Reset-Requests heard (ResetHandler)
}

func (r *recorder) ResetRequested() { r.mu.Lock(); r.resets++; r.mu.Unlock() }

func (r *recorder) Up(ev UpEvent) { r.mu.Lock(); r.ups = append(r.ups, ev); r.mu.Unlock() }
func (r *recorder) Down(ev DownEvent) {
	r.mu.Lock()
	r.downs = append(r.downs, ev)
	r.mu.Unlock()
}
func (r *recorder) Packet(p wire.Protocol, b []byte) {
	r.mu.Lock()
	r.packets = append(r.packets, append([]byte{byte(p >> 8), byte(p)}, b...))
	r.mu.Unlock()
}

func (r *recorder) up(p wire.Protocol) (UpEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.ups) - 1; i >= 0; i-- {
		if r.ups[i].Protocol == p {
			return r.ups[i], true
		}
	}
	return UpEvent{}, false
}

// linkDown returns the reason of the link's final Down event.
func (r *recorder) linkDown() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.downs {
		if d.Protocol == wire.ProtoLCP {
			return d.Reason, true
		}
	}
	return "", false
}

// endpoint is a Link with its own runner goroutine.
type endpoint struct {
	name string
	r    *Runner
	l    *Link
	h    *recorder
	sent *sentLog
}

// sentLog records the control packets an endpoint sent.
type sentLog struct {
	mu     sync.Mutex
	frames [][]byte
}

func (s *sentLog) add(b []byte) {
	s.mu.Lock()
	s.frames = append(s.frames, bytes.Clone(b))
	s.mu.Unlock()
}

// count returns how many packets of proto and code were sent.
func (s *sentLog) count(proto wire.Protocol, code wire.Code) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.frames {
		p, payload, err := wire.ParseFrame(f)
		if err != nil || p != proto || len(payload) < 1 {
			continue
		}
		if wire.Code(payload[0]) == code {
			n++
		}
	}
	return n
}

// find returns the data of the sent packets of proto and code.
func (s *sentLog) find(proto wire.Protocol, code wire.Code) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, f := range s.frames {
		p, payload, err := wire.ParseFrame(f)
		if err != nil || p != proto {
			continue
		}
		if pkt, err := wire.ParsePacket(payload); err == nil && pkt.Code == code {
			out = append(out, pkt.Data)
		}
	}
	return out
}

// wire connects endpoints: a frame sent by one is delivered to the other
// on its runner, unless drop says otherwise.
type link2 struct {
	a, b *endpoint
	mu   sync.Mutex
	drop func(from string, frame []byte) bool
}

func (w *link2) deliver(from string, to **endpoint, frame []byte) error {
	w.mu.Lock()
	drop := w.drop
	w.mu.Unlock()
	if drop != nil && drop(from, frame) {
		return nil
	}
	c := bytes.Clone(frame)
	dst := *to
	dst.r.Post(func() { dst.l.Input(c) })
	return nil
}

func (w *link2) setDrop(f func(from string, frame []byte) bool) {
	w.mu.Lock()
	w.drop = f
	w.mu.Unlock()
}

// testLogger returns a logger printing debug lines to the test log when
// -v is given.
func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// newPair builds two endpoints joined back to back. cfgA and cfgB get
// Post, Output, Handler and Name filled in.
func newPair(t *testing.T, cfgA, cfgB Config) (*endpoint, *endpoint, *link2) {
	t.Helper()
	w := &link2{}
	mk := func(name string, cfg Config, other **endpoint) *endpoint {
		e := &endpoint{name: name, r: NewRunner(), h: &recorder{}, sent: &sentLog{}}
		cfg.Name = name
		cfg.Post = e.r.Post
		cfg.Handler = e.h
		if cfg.Logger == nil {
			cfg.Logger = testLogger(t)
		}
		cfg.AddressControl = true
		cfg.Output = OutputFunc(func(b []byte) error {
			e.sent.add(b)
			return w.deliver(name, other, b)
		})
		l, err := NewLink(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.l = l
		return e
	}
	w.a = mk("A", cfgA, &w.b)
	w.b = mk("B", cfgB, &w.a)
	t.Cleanup(func() { w.a.r.Close(); w.b.r.Close() })
	return w.a, w.b, w
}

// startBoth starts two endpoints so that each has run Start before it
// sees any frame of the other: both runners are held at a gate while the
// Start calls are queued.
func startBoth(a, b *endpoint) {
	gate := make(chan struct{})
	a.r.Post(func() { <-gate })
	b.r.Post(func() { <-gate })
	a.r.Post(a.l.Start)
	b.r.Post(b.l.Start)
	close(gate)
}

func (e *endpoint) info() Info {
	var in Info
	e.r.Do(func() { in = e.l.Info() })
	return in
}

func (e *endpoint) String() string { return e.name }
