package memnet

// TCP-like streams: a listener per address with a backlog, and
// connections made of two buffered pipes, one per direction, with the
// deadlines, EOF and reset behaviour of a socket. Nothing here polls or
// sleeps: waits are on channels and time.AfterFunc timers, durably
// blocking inside a testing/synctest bubble.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

const (
	// Backlog is how many connections wait for Accept; dials beyond it
	// are refused.
	Backlog = 128
	// StreamBuffer is how many octets one direction of a stream holds
	// unread before Write blocks (a socket's buffers and window).
	StreamBuffer = 256 << 10
)

// ListenTCP opens a stream listener at addr (port 0: an ephemeral port;
// the unspecified address: every address nobody listens on specifically).
func (n *Network) ListenTCP(addr netip.AddrPort) (net.Listener, error) {
	l, err := n.listenTCP(addr)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// DialTCP connects to the listener at remote, from local (an ephemeral
// port) or, when local is invalid or unspecified, from the unspecified
// address.
func (n *Network) DialTCP(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error) {
	return n.dialTCP(ctx, local, netip.Addr{}, remote)
}

// ListenTCP opens a stream listener at addr.
func (h *Host) ListenTCP(addr netip.AddrPort) (net.Listener, error) { return h.n.ListenTCP(addr) }

// DialTCP connects to remote from local, or from the host's address when
// local is invalid or unspecified.
func (h *Host) DialTCP(ctx context.Context, local netip.Addr, remote netip.AddrPort) (net.Conn, error) {
	return h.n.dialTCP(ctx, local, h.addr, remote)
}

func (n *Network) listenTCP(addr netip.AddrPort) (*listener, error) {
	addr = netip.AddrPortFrom(canon(addr.Addr()), addr.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr.Port() == 0 {
		p, err := n.ephemeralLocked(func(p uint16) bool { return n.tcp[netip.AddrPortFrom(addr.Addr(), p)] != nil })
		if err != nil {
			return nil, err
		}
		addr = netip.AddrPortFrom(addr.Addr(), p)
	}
	if n.tcp[addr] != nil {
		return nil, fmt.Errorf("memnet: listen tcp %v: %w", addr, ErrAddrInUse)
	}
	l := &listener{n: n, addr: addr, q: make(chan *stream, Backlog), done: make(chan struct{})}
	n.tcp[addr] = l
	return l, nil
}

func (n *Network) dialTCP(ctx context.Context, local, hostAddr netip.Addr, remote netip.AddrPort) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memnet: dial tcp %v: %w", remote, err)
	}
	if !remote.Addr().IsValid() {
		return nil, fmt.Errorf("memnet: dial tcp %v: no address", remote)
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	src := local.Unmap()
	if !src.IsValid() || src.IsUnspecified() {
		src = hostAddr
	}
	if !src.IsValid() {
		src = wildcard(remote.Addr())
	}
	n.mu.Lock()
	l := n.tcp[remote]
	if l == nil {
		l = n.tcp[netip.AddrPortFrom(wildcard(remote.Addr()), remote.Port())]
	}
	if l == nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("memnet: dial tcp %v: %w", remote, syscall.ECONNREFUSED)
	}
	port, err := n.ephemeralLocked(func(p uint16) bool { return n.tcp[netip.AddrPortFrom(src, p)] != nil })
	if err != nil {
		n.mu.Unlock()
		return nil, err
	}
	lk := &link{a: netip.AddrPortFrom(src, port), b: remote, ab: newPipe(), ba: newPipe()}
	c := newStream(n, lk, lk.a, lk.b, lk.ba, lk.ab)
	s := newStream(n, lk, lk.b, lk.a, lk.ab, lk.ba)
	// A closed listener is no longer in n.tcp, so l is open.
	select {
	case l.q <- s:
	default:
		n.mu.Unlock()
		return nil, fmt.Errorf("memnet: dial tcp %v: backlog full: %w", remote, syscall.ECONNREFUSED)
	}
	n.links[lk] = struct{}{}
	n.mu.Unlock()
	return c, nil
}

// BreakStreams resets every open stream with an end at addr, as a link
// or host failure would: reads and writes on both ends fail with
// ECONNRESET. Listeners stay. It returns how many streams it broke.
func (n *Network) BreakStreams(addr netip.Addr) int {
	addr = canon(addr)
	n.mu.Lock()
	var broken []*link
	for lk := range n.links {
		if lk.a.Addr() == addr || lk.b.Addr() == addr {
			broken = append(broken, lk)
			delete(n.links, lk)
		}
	}
	n.mu.Unlock()
	for _, lk := range broken {
		lk.reset()
	}
	return len(broken)
}

// Streams returns how many streams are open (not yet closed at both ends,
// nor broken).
func (n *Network) Streams() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.links)
}

// listener is a net.Listener of the network.
type listener struct {
	n    *Network
	addr netip.AddrPort
	q    chan *stream // the backlog
	done chan struct{}
	once sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case s := <-l.q:
		return s, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close stops the listener and resets the connections in its backlog.
func (l *listener) Close() error {
	l.once.Do(func() {
		l.n.mu.Lock()
		close(l.done)
		if l.n.tcp[l.addr] == l {
			delete(l.n.tcp, l.addr)
		}
		l.n.mu.Unlock()
		for {
			select {
			case s := <-l.q:
				l.n.mu.Lock()
				delete(l.n.links, s.lk)
				l.n.mu.Unlock()
				s.lk.reset()
				s.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// link is one stream: its two ends' addresses and a pipe each way.
type link struct {
	a, b   netip.AddrPort // dialer, listener
	ab, ba *pipe
	closed int // ends closed, under Network.mu
}

// reset breaks both directions (the caller took lk out of Network.links).
func (lk *link) reset() {
	lk.ab.reset()
	lk.ba.reset()
}

// pipe is one direction of a stream: the octets written and not read.
// readable and writable carry one wake-up each; a waiter that leaves
// something for others passes the wake-up on.
type pipe struct {
	mu       sync.Mutex
	buf      []byte
	eof      bool // the writer closed
	gone     bool // the reader closed: writes fail
	broken   bool // reset: reads and writes fail
	readable chan struct{}
	writable chan struct{}
}

func newPipe() *pipe {
	return &pipe{readable: make(chan struct{}, 1), writable: make(chan struct{}, 1)}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (p *pipe) reset() {
	p.mu.Lock()
	p.broken, p.buf = true, nil
	p.mu.Unlock()
	wake(p.readable)
	wake(p.writable)
}

// stream is one end of a link: a net.Conn.
type stream struct {
	n             *Network
	lk            *link
	local, remote netip.AddrPort
	rx, tx        *pipe
	closed        chan struct{}
	once          sync.Once
	rd, wd        deadline
}

func newStream(n *Network, lk *link, local, remote netip.AddrPort, rx, tx *pipe) *stream {
	s := &stream{n: n, lk: lk, local: local, remote: remote, rx: rx, tx: tx, closed: make(chan struct{})}
	s.rd.expired = make(chan struct{})
	s.wd.expired = make(chan struct{})
	return s
}

var (
	errReset = fmt.Errorf("memnet: connection reset: %w", syscall.ECONNRESET)
	errPipe  = fmt.Errorf("memnet: broken pipe: %w", syscall.EPIPE)
)

func (s *stream) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: err}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Read reads what the peer wrote; io.EOF once the peer closed and all
// was read.
func (s *stream) Read(b []byte) (int, error) {
	p := s.rx
	for {
		switch {
		case isClosed(s.closed):
			return 0, s.opError("read", net.ErrClosed)
		case isClosed(s.rd.wait()):
			return 0, s.opError("read", os.ErrDeadlineExceeded)
		}
		p.mu.Lock()
		switch {
		case p.broken:
			p.mu.Unlock()
			wake(p.readable)
			return 0, s.opError("read", errReset)
		case len(p.buf) > 0:
			k := copy(b, p.buf)
			p.buf = p.buf[k:]
			more := len(p.buf) > 0
			if !more {
				p.buf = nil
			}
			p.mu.Unlock()
			if more {
				wake(p.readable)
			}
			if k > 0 {
				wake(p.writable)
			}
			return k, nil
		case p.eof:
			p.mu.Unlock()
			wake(p.readable)
			return 0, io.EOF
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		}
		p.mu.Unlock()
		select {
		case <-p.readable:
		case <-s.closed:
		case <-s.rd.wait():
		}
	}
}

// Write queues b for the peer, waiting while its buffer is full.
func (s *stream) Write(b []byte) (int, error) {
	p := s.tx
	w := 0
	for {
		switch {
		case isClosed(s.closed):
			return w, s.opError("write", net.ErrClosed)
		case isClosed(s.wd.wait()):
			return w, s.opError("write", os.ErrDeadlineExceeded)
		}
		p.mu.Lock()
		switch {
		case p.broken:
			p.mu.Unlock()
			wake(p.writable)
			return w, s.opError("write", errReset)
		case p.gone:
			p.mu.Unlock()
			wake(p.writable)
			return w, s.opError("write", errPipe)
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		}
		if room := StreamBuffer - len(p.buf); room > 0 {
			k := min(room, len(b)-w)
			p.buf = append(p.buf, b[w:w+k]...)
			w += k
			full := len(p.buf) >= StreamBuffer
			p.mu.Unlock()
			wake(p.readable)
			if w == len(b) {
				if !full {
					wake(p.writable) // for another writer
				}
				return w, nil
			}
			continue
		}
		p.mu.Unlock()
		select {
		case <-p.writable:
		case <-s.closed:
		case <-s.wd.wait():
		}
	}
}

// Close closes this end: the peer reads EOF after what was written, and
// its writes fail.
func (s *stream) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.tx.mu.Lock()
		s.tx.eof = true
		s.tx.mu.Unlock()
		wake(s.tx.readable)
		s.rx.mu.Lock()
		s.rx.gone, s.rx.buf = true, nil
		s.rx.mu.Unlock()
		wake(s.rx.writable)
		s.n.mu.Lock()
		s.lk.closed++
		if s.lk.closed == 2 {
			delete(s.n.links, s.lk)
		}
		s.n.mu.Unlock()
		s.rd.stop()
		s.wd.stop()
	})
	return nil
}

func (s *stream) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(s.local) }
func (s *stream) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(s.remote) }

func (s *stream) SetDeadline(t time.Time) error {
	s.rd.set(t)
	s.wd.set(t)
	return nil
}
func (s *stream) SetReadDeadline(t time.Time) error  { s.rd.set(t); return nil }
func (s *stream) SetWriteDeadline(t time.Time) error { s.wd.set(t); return nil }

// deadline is a read or write deadline: expired is closed once it has
// passed. Each set makes a new generation, so a timer of an older one
// closes nothing.
type deadline struct {
	mu      sync.Mutex
	gen     uint64
	timer   *time.Timer
	expired chan struct{}
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if isClosed(d.expired) {
		d.expired = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.expired)
		return
	}
	gen, ch := d.gen, d.expired
	d.timer = time.AfterFunc(dur, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			close(ch)
		}
	})
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// stop drops the timer of a closed stream.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
