package memnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/transport"
)

// pair dials l from local and returns both ends.
func pair(t *testing.T, f transport.Factory, l net.Listener, local netip.Addr, remote netip.AddrPort) (dialer, accepted net.Conn) {
	t.Helper()
	c, err := f.DialTCP(context.Background(), local, remote)
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		pns := netip.AddrPortFrom(hostA, 1723)
		l, err := n.ListenTCP(pns)
		if err != nil {
			t.Fatal(err)
		}
		if l.Addr().String() != "198.18.0.1:1723" {
			t.Fatalf("listener at %v", l.Addr())
		}
		if _, err := n.ListenTCP(pns); !errors.Is(err, ErrAddrInUse) {
			t.Fatalf("second listener: %v", err)
		}
		c, s := pair(t, n, l, hostB, pns)
		cl, cr := c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
		if cl.Addr() != hostB || cl.Port() < firstEphemeral || cr != pns ||
			s.LocalAddr().String() != c.RemoteAddr().String() || s.RemoteAddr().String() != c.LocalAddr().String() {
			t.Fatalf("dialer %v -> %v, accepted %v <- %v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
		}

		// Both ways, and a write larger than the buffer: it waits for
		// the reader.
		if _, err := c.Write([]byte("Start-Control-Connection-Request")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 64)
		k, err := s.Read(b)
		if err != nil || string(b[:k]) != "Start-Control-Connection-Request" {
			t.Fatalf("read %q %v", b[:k], err)
		}
		big := bytes.Repeat([]byte("0123456789abcdef"), StreamBuffer/16*2+1)
		wrote := make(chan error, 1)
		go func() {
			_, err := s.Write(big)
			wrote <- err
		}()
		synctest.Wait()
		select {
		case err := <-wrote:
			t.Fatalf("a write of twice the buffer returned before a read: %v", err)
		default:
		}
		got := make([]byte, len(big))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read %d octets: %v", len(got), err)
		}
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}

		// Close: the peer reads what was written, then EOF; its writes
		// fail; this end's own operations fail with net.ErrClosed.
		c.Write([]byte("last words"))
		c.Close()
		if k, err := io.ReadAll(s); err != nil || string(k) != "last words" {
			t.Fatalf("after the peer's close: %q %v", k, err)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("write to a closed peer: %v", err)
		}
		if _, err := c.Read(b); !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after Close: %v", err)
		}
		if _, err := c.Write(b); !errors.Is(err, net.ErrClosed) {
			t.Errorf("write after Close: %v", err)
		}
		s.Close()
		if n.Streams() != 0 {
			t.Errorf("%d streams left", n.Streams())
		}

		// Nobody listens: refused. A closed listener refuses too, and
		// Accept returns net.ErrClosed.
		if _, err := n.DialTCP(context.Background(), hostB, netip.AddrPortFrom(hostA, 1724)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to nobody: %v", err)
		}
		l.Close()
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
		if _, err := n.DialTCP(context.Background(), hostB, pns); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to a closed listener: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := n.DialTCP(ctx, hostB, pns); !errors.Is(err, context.Canceled) {
			t.Errorf("dial with a canceled context: %v", err)
		}
	})
}

// A wildcard listener accepts for any address; the accepted end is at
// the address dialed. A Host dials from its address, the Network from
// the unspecified one when no local address is given.
func TestStreamAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		l, err := n.ListenTCP(netip.MustParseAddrPort("0.0.0.0:1723"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		to := netip.MustParseAddrPort("198.18.0.77:1723")
		c, s := pair(t, n.Host(hostC), l, netip.Addr{}, to)
		if s.LocalAddr().String() != "198.18.0.77:1723" || c.LocalAddr().(*net.TCPAddr).AddrPort().Addr() != hostC {
			t.Errorf("host dial: %v -> %v, accepted at %v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr())
		}
		c.Close()
		s.Close()
		c, s = pair(t, n, l, netip.Addr{}, to)
		if c.LocalAddr().(*net.TCPAddr).AddrPort().Addr() != netip.IPv4Unspecified() || s.RemoteAddr().String() != c.LocalAddr().String() {
			t.Errorf("network dial: %v, accepted from %v", c.LocalAddr(), s.RemoteAddr())
		}
		c.Close()
		s.Close()
		// Ephemeral listener port.
		l2, err := n.ListenTCP(netip.AddrPortFrom(hostA, 0))
		if err != nil {
			t.Fatal(err)
		}
		if l2.Addr().(*net.TCPAddr).Port < firstEphemeral {
			t.Errorf("listener at %v", l2.Addr())
		}
		l2.Close()
	})
}

// Deadlines fire in (fake) time, wake a blocked Read or Write, can be
// moved while one waits, and cleared.
func TestStreamDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		l, _ := n.ListenTCP(netip.AddrPortFrom(hostA, 1723))
		defer l.Close()
		c, s := pair(t, n, l, hostB, netip.AddrPortFrom(hostA, 1723))
		defer c.Close()
		defer s.Close()

		start := time.Now()
		c.SetReadDeadline(start.Add(time.Second))
		b := make([]byte, 8)
		_, err := c.Read(b)
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read past the deadline: %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("deadline fired after %v", d)
		}
		// Expired: fails at once, even with data waiting.
		s.Write([]byte("data"))
		if _, err := c.Read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read with an expired deadline: %v", err)
		}
		c.SetReadDeadline(time.Time{})
		if k, err := c.Read(b); err != nil || string(b[:k]) != "data" {
			t.Fatalf("read after clearing: %q %v", b[:k], err)
		}

		// Moved while a Read waits: from far away to now.
		c.SetReadDeadline(time.Now().Add(time.Hour))
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(b)
			done <- err
		}()
		synctest.Wait()
		c.SetReadDeadline(time.Now())
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after the deadline moved: %v", err)
		}
		// An old timer fires nothing: the hour passes with no deadline.
		c.SetReadDeadline(time.Time{})
		go func() {
			_, err := c.Read(b)
			done <- err
		}()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("read returned with no deadline: %v", err)
		default:
		}
		s.Write([]byte("z"))
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		// A Write blocked on a full buffer gives up at its deadline.
		s.SetWriteDeadline(time.Now().Add(time.Minute))
		k, err := s.Write(make([]byte, 2*StreamBuffer))
		if !errors.Is(err, os.ErrDeadlineExceeded) || k != StreamBuffer {
			t.Fatalf("write past the deadline: %d, %v", k, err)
		}
		// SetDeadline sets both.
		c.SetDeadline(time.Now())
		if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write: %v", err)
		}
	})
}

// BreakStreams resets the streams of an address: blocked and later reads
// and writes fail with ECONNRESET; other streams and listeners go on.
func TestBreakStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		pns := netip.AddrPortFrom(hostA, 1723)
		l, _ := n.ListenTCP(pns)
		defer l.Close()
		c1, s1 := pair(t, n, l, hostB, pns)
		c2, s2 := pair(t, n, l, hostB, pns)
		c3, s3 := pair(t, n, l, hostC, pns)
		if n.Streams() != 3 {
			t.Fatalf("%d streams", n.Streams())
		}
		blocked := make(chan error, 1)
		go func() {
			_, err := s1.Read(make([]byte, 8))
			blocked <- err
		}()
		synctest.Wait()
		c2.Write([]byte("unread"))
		if k := n.BreakStreams(hostB); k != 2 {
			t.Fatalf("broke %d streams, want 2", k)
		}
		if err := <-blocked; !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("blocked read: %v", err)
		}
		for _, c := range []net.Conn{c1, c2, s2} {
			if _, err := c.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read on a broken stream: %v", err)
			}
			if _, err := c.Write([]byte("x")); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("write on a broken stream: %v", err)
			}
		}
		if n.Streams() != 1 {
			t.Errorf("%d streams after the break", n.Streams())
		}
		c3.Write([]byte("still here"))
		b := make([]byte, 16)
		if k, err := s3.Read(b); err != nil || string(b[:k]) != "still here" {
			t.Errorf("other stream: %q %v", b[:k], err)
		}
		// The listener still accepts.
		c4, s4 := pair(t, n, l, hostB, pns)
		for _, c := range []net.Conn{c1, s1, c2, s2, c3, s3, c4, s4} {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		}
		if n.Streams() != 0 {
			t.Errorf("%d streams after closing all", n.Streams())
		}
	})
}

// Closing a listener resets what waits in its backlog; a full backlog
// refuses.
func TestListenerBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		pns := netip.AddrPortFrom(hostA, 1723)
		l, _ := n.ListenTCP(pns)
		var dialed []net.Conn
		for range Backlog {
			c, err := n.DialTCP(context.Background(), hostB, pns)
			if err != nil {
				t.Fatal(err)
			}
			dialed = append(dialed, c)
		}
		if _, err := n.DialTCP(context.Background(), hostB, pns); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial beyond the backlog: %v", err)
		}
		l.Close()
		for _, c := range dialed {
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read on a stream the listener dropped: %v", err)
			}
			c.Close()
		}
		if n.Streams() != 0 {
			t.Errorf("%d streams left", n.Streams())
		}
	})
}
