package pptp

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/wire/pptp"
)

var (
	pacAddr = netip.MustParseAddr("198.18.0.1")
	pnsAddr = netip.MustParseAddr("198.18.0.2")
)

// memStream is one end of an in-memory duplex byte stream made of two
// io.Pipes; under synctest a goroutine blocked on it is durably blocked.
type memStream struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func (s *memStream) Read(b []byte) (int, error)  { return s.r.Read(b) }
func (s *memStream) Write(b []byte) (int, error) { return s.w.Write(b) }
func (s *memStream) Close() error {
	s.r.Close()
	s.w.Close()
	return nil
}

func streamPair() (*memStream, *memStream) {
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	return &memStream{r1, w2}, &memStream{r2, w1}
}

// events records the callbacks of a node.
type events struct {
	mu    sync.Mutex
	ups   []*Call
	downs []error
	wens  []pptp.WEN
	slis  []pptp.SLI
}

func (e *events) hook(cfg *Config) {
	cfg.OnCallUp = func(c *Call) { e.mu.Lock(); e.ups = append(e.ups, c); e.mu.Unlock() }
	cfg.OnCallDown = func(_ *Call, err error) { e.mu.Lock(); e.downs = append(e.downs, err); e.mu.Unlock() }
	cfg.OnWEN = func(_ *Call, w pptp.WEN) { e.mu.Lock(); e.wens = append(e.wens, w); e.mu.Unlock() }
	cfg.OnSLI = func(_ *Call, s pptp.SLI) { e.mu.Lock(); e.slis = append(e.slis, s); e.mu.Unlock() }
}

func (e *events) counts() (ups, downs int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ups), len(e.downs)
}

func (e *events) lastDown() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.downs) == 0 {
		return nil
	}
	return e.downs[len(e.downs)-1]
}

func newNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n.Close(ctx)
	})
	return n
}

// pairUp connects a PNS node (the client, which dials) to a PAC node
// (which serves), as a Windows client reaches a concentrator.
func pairUp(t testing.TB, pac, pns *Node) (pacConn, pnsConn *Conn) {
	t.Helper()
	a, b := streamPair()
	pacConn, err := pac.Serve(b, pacAddr, pnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	pnsConn, err = pns.Dial(context.Background(), a, pnsAddr, pacAddr)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	if st := pacConn.Stats().State; st != ConnEstablished {
		t.Fatalf("PAC side in %v", st)
	}
	return pacConn, pnsConn
}

// raw is a hand-driven peer on a stream: it sends what a test says and
// collects every message it receives.
type raw struct {
	t    testing.TB
	s    *memStream
	msgs chan pptp.Message
	errc chan error
}

func newRaw(t testing.TB, s *memStream) *raw {
	r := &raw{t: t, s: s, msgs: make(chan pptp.Message, 8192), errc: make(chan error, 1)}
	go func() {
		var buf []byte
		b := make([]byte, 512)
		for {
			k, err := s.Read(b)
			buf = append(buf, b[:k]...)
			for {
				msg, rest, serr := pptp.Split(buf)
				if serr != nil || msg == nil {
					break
				}
				m, perr := pptp.Parse(msg)
				if perr == nil {
					r.msgs <- m
				}
				buf = append(buf[:0], rest...)
			}
			if err != nil {
				r.errc <- err
				return
			}
		}
	}()
	t.Cleanup(func() { s.Close() })
	return r
}

func (r *raw) send(m pptp.Message) {
	r.t.Helper()
	b, err := pptp.Append(nil, m)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(b)
}

func (r *raw) write(b []byte) {
	// A write to a connection that is gone fails; that is what some
	// tests are after.
	_, _ = r.s.Write(b)
}

// next returns the next message received, once everything has settled.
func (r *raw) next() pptp.Message {
	r.t.Helper()
	synctest.Wait()
	select {
	case m := <-r.msgs:
		return m
	default:
		r.t.Fatal("raw peer: no message")
		return nil
	}
}

func (r *raw) none() {
	r.t.Helper()
	synctest.Wait()
	select {
	case m := <-r.msgs:
		r.t.Fatalf("raw peer: unexpected %v %+v", m.Type(), m)
	default:
	}
}

// closed reports whether the other side closed the stream.
func (r *raw) closed() bool {
	synctest.Wait()
	select {
	case err := <-r.errc:
		r.errc <- err
		return true
	default:
		return false
	}
}

func sccrq() *pptp.SCCRQ {
	return &pptp.SCCRQ{ProtocolVersion: pptp.ProtocolVersion, FramingCaps: 1, BearerCaps: 1, HostName: "raw"}
}

func closeErr(t testing.TB, err error) *CloseError {
	t.Helper()
	var ce *CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *CloseError", err, err)
	}
	return ce
}
