package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"golang.org/x/sys/unix"
)

var (
	labA = netip.MustParseAddr("198.18.1.1")
	labB = netip.MustParseAddr("198.18.1.2")
)

// twoHosts returns namespaces a (198.18.1.1) and b (198.18.1.2) joined by
// a veth pair.
func twoHosts(t *testing.T) (a, b *nstest.NS) {
	lab := nstest.New(t)
	a, b = lab.NS("a"), lab.NS("b")
	lab.Link(a, b, netip.PrefixFrom(labA, 24), netip.PrefixFrom(labB, 24))
	return a, b
}

// in runs open inside ns and fails the test on error.
func in[T any](t *testing.T, ns *nstest.NS, open func() (T, error)) T {
	t.Helper()
	var v T
	if err := ns.Do(func() error {
		var err error
		v, err = open()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// headerSocket is a second raw socket of the protocol that reads the
// datagrams whole, IPv4 header included, to see what went on the wire.
type headerSocket struct {
	c  *net.IPConn
	rc syscall.RawConn
}

func openHeaderSocket(proto uint8) (*headerSocket, error) {
	c, err := net.ListenIP("ip4:"+strconv.Itoa(int(proto)), nil)
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &headerSocket{c, rc}, nil
}

// read returns the next datagram, header and all. The deadline only keeps
// a broken test from hanging; nothing is timed.
func (h *headerSocket) read(t *testing.T) []byte {
	t.Helper()
	h.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, 2048)
	var n int
	var rerr error
	err := h.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), b)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		t.Fatalf("header socket: %v", err)
	}
	return b[:n]
}

// received is what a ServeBatch delivered: the datagrams and the size of
// every batch.
type received struct {
	mu      sync.Mutex
	dgrams  []string
	from    []netip.AddrPort
	batches []int
	pending int
	more    chan struct{}
}

func serveInto(t *testing.T, c *IPConn) (*received, chan error) {
	r := &received{more: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- c.ServeBatch(func(b []byte, from netip.AddrPort) {
			r.mu.Lock()
			r.dgrams = append(r.dgrams, string(b))
			r.from = append(r.from, from)
			r.pending++
			r.mu.Unlock()
		}, func() {
			r.mu.Lock()
			r.batches = append(r.batches, r.pending)
			r.pending = 0
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
		})
	}()
	return r, done
}

// wait blocks until n datagrams arrived and returns them with the batch
// sizes.
func (r *received) wait(t *testing.T, n int) ([]string, []netip.AddrPort, []int) {
	t.Helper()
	for {
		r.mu.Lock()
		if len(r.dgrams) >= n {
			d, f, b := r.dgrams, r.from, r.batches
			r.dgrams, r.from, r.batches = nil, nil, nil
			r.mu.Unlock()
			return d, f, b
		}
		r.mu.Unlock()
		select {
		case <-r.more:
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			t.Fatalf("%d of %d datagrams arrived", len(r.dgrams), n)
		}
	}
}

// TestIPConn sends raw IP datagrams of L2TPv3 (115) and enhanced GRE (47)
// both ways between two namespaces: every datagram arrives once, in order,
// as its payload from the sender's address with port 0, received in
// batches; the TOS, TTL and DF each side set are in the headers on the
// wire; sending and receiving do not allocate.
func TestIPConn(t *testing.T) {
	na, nb := twoHosts(t)
	for _, proto := range []uint8{115, 47} {
		t.Run(fmt.Sprintf("proto %d", proto), func(t *testing.T) {
			// a binds its address, b the wildcard.
			ca := in(t, na, func() (*IPConn, error) { return ListenIP(proto, labA) })
			cb := in(t, nb, func() (*IPConn, error) { return ListenIP(proto, netip.IPv4Unspecified()) })
			ha := in(t, na, func() (*headerSocket, error) { return openHeaderSocket(proto) })
			hb := in(t, nb, func() (*headerSocket, error) { return openHeaderSocket(proto) })
			defer ha.c.Close()
			defer hb.c.Close()
			if ca.LocalAddr() != netip.AddrPortFrom(labA, 0) || cb.LocalAddr() != netip.AddrPortFrom(netip.IPv4Unspecified(), 0) {
				t.Fatalf("local addresses %v %v", ca.LocalAddr(), cb.LocalAddr())
			}
			type dir struct {
				name         string
				from, to     *IPConn
				fromIP, toIP netip.Addr
				hdr          *headerSocket
				tos, ttl     int
				df           bool
			}
			var done []chan error
			for _, d := range []dir{
				{"a to b", ca, cb, labA, labB, hb, 0xb8, 7, true},
				{"b to a", cb, ca, labB, labA, ha, 0x28, 200, false},
			} {
				if err := d.from.SetTOS(d.tos); err != nil {
					t.Fatal(err)
				}
				if err := d.from.SetTTL(d.ttl); err != nil {
					t.Fatal(err)
				}
				if err := d.from.SetDF(d.df); err != nil {
					t.Fatal(err)
				}
				const n = 32
				for i := range n {
					// The port is ignored.
					if err := d.from.WriteTo(fmt.Appendf(nil, "%s %d", d.name, i), netip.AddrPortFrom(d.toIP, uint16(i))); err != nil {
						t.Fatal(err)
					}
				}
				// The wire: n headers with the settings of the sender.
				for i := range n {
					h := d.hdr.read(t)
					p, err := ipv4Payload(h)
					if err != nil {
						t.Fatalf("%s: header socket: %v", d.name, err)
					}
					df := h[ipv4Flags]&0x40 != 0
					if int(h[ipv4TOS]) != d.tos || int(h[ipv4TTL]) != d.ttl || df != d.df || h[ipv4Protocol] != proto ||
						netip.AddrFrom4([4]byte(h[12:16])) != d.fromIP || netip.AddrFrom4([4]byte(h[16:20])) != d.toIP {
						t.Fatalf("%s: header % x: TOS %#x TTL %d DF %v, want %#x %d %v", d.name, h[:20], h[ipv4TOS], h[ipv4TTL], df, d.tos, d.ttl, d.df)
					}
					if want := fmt.Sprintf("%s %d", d.name, i); string(p) != want {
						t.Fatalf("%s: on the wire %q, want %q", d.name, p, want)
					}
				}
				// The kernel hands each datagram to every raw socket of
				// its protocol before it takes the next, so once the
				// header socket has seen them all, all but the one or two
				// in flight wait in the queue of the receiving IPConn:
				// its first read takes them in one batch.
				rx, serveDone := serveInto(t, d.to)
				done = append(done, serveDone)
				got, from, batches := rx.wait(t, n)
				for i, g := range got {
					if want := fmt.Sprintf("%s %d", d.name, i); g != want || from[i] != netip.AddrPortFrom(d.fromIP, 0) {
						t.Fatalf("%s: datagram %d: %q from %v, want %q from %v:0", d.name, i, g, from[i], want, d.fromIP)
					}
				}
				if len(got) != n {
					t.Fatalf("%s: %d datagrams, want %d", d.name, len(got), n)
				}
				t.Logf("%s: %d datagrams in batches %v", d.name, n, batches)
				if largest := slicesMax(batches); largest < 2 {
					t.Errorf("%s: no batch of more than one datagram: %v", d.name, batches)
				}
			}
			if ca.BadHeaders() != 0 || cb.BadHeaders() != 0 {
				t.Errorf("bad headers: %d %d", ca.BadHeaders(), cb.BadHeaders())
			}
			ca.Close()
			cb.Close()
			for _, done := range done {
				if err := <-done; err != nil {
					t.Errorf("ServeBatch after Close: %v", err)
				}
			}
			if err := ca.WriteTo([]byte("x"), netip.AddrPortFrom(labB, 0)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("WriteTo after Close: %v", err)
			}

			// Steady state: neither WriteTo nor Read allocates.
			sa := in(t, na, func() (*IPConn, error) { return ListenIP(proto, labA) })
			sb := in(t, nb, func() (*IPConn, error) { return ListenIP(proto, labB) })
			defer sa.Close()
			defer sb.Close()
			r := sb.NewReader()
			pkts := make([]Packet, BatchSize)
			msg := []byte("steady")
			if allocs := fewestAllocs(func() {
				if err := sa.WriteTo(msg, netip.AddrPortFrom(labB, 0)); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Read(pkts); err != nil {
					t.Fatal(err)
				}
			}); allocs != 0 {
				t.Errorf("WriteTo and Read: %.1f allocations", allocs)
			}
		})
	}
}

func slicesMax(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

// TestIPConnErrors: bad settings and peers of the wrong family are
// refused with clear errors; no namespace needed for what fails before a
// system call, but opening the socket needs one.
func TestIPConnErrors(t *testing.T) {
	na, _ := twoHosts(t)
	c := in(t, na, func() (*IPConn, error) { return ListenIP(115, labA) })
	defer c.Close()
	for _, err := range []error{
		c.SetTOS(-1), c.SetTOS(256), c.SetTTL(0), c.SetTTL(256),
		c.WriteTo([]byte("x"), netip.MustParseAddrPort("[2001:db8::1]:0")),
		c.WriteTo([]byte("x"), netip.AddrPort{}),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "transport: ") {
			t.Errorf("error %v", err)
		}
	}
	if c.Protocol() != 115 {
		t.Errorf("protocol %d", c.Protocol())
	}
	// An address the namespace does not have.
	if err := na.Do(func() error {
		_, err := ListenIP(115, labB)
		return err
	}); err == nil {
		t.Error("ListenIP on a foreign address succeeded")
	}
	var nilBind Bind
	if err := na.Do(func() error {
		var err error
		nilBind, err = System.ListenIP(115, labB)
		return err
	}); err == nil || nilBind != nil {
		t.Errorf("System.ListenIP on a foreign address: %v, %v", nilBind, err)
	}
}

// TestIPConn6: a raw IPv6 socket on the namespace's loopback gets its own
// datagrams as their payloads (the kernel strips IPv6 headers), and takes
// the IPv6 settings.
func TestIPConn6(t *testing.T) {
	na, _ := twoHosts(t)
	var c *IPConn
	if err := na.Do(func() error {
		var err error
		c, err = ListenIP(115, netip.IPv6Loopback())
		return err
	}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer c.Close()
	for _, err := range []error{c.SetTOS(0x20), c.SetTTL(9), c.SetDF(true), c.SetDF(false)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteTo([]byte("over ::1"), netip.AddrPortFrom(netip.IPv6Loopback(), 1701)); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteTo([]byte("x"), netip.AddrPortFrom(labA, 0)); err == nil {
		t.Error("an IPv4 peer on an IPv6 raw socket")
	}
	r := c.NewReader()
	pkts := make([]Packet, BatchSize)
	n, err := r.Read(pkts)
	if err != nil || n != 1 || string(pkts[0].Buf) != "over ::1" || pkts[0].Addr != netip.AddrPortFrom(netip.IPv6Loopback(), 0) {
		t.Fatalf("read %d %v: %q from %v", n, err, pkts[0].Buf, pkts[0].Addr)
	}
}

// TestSystemTCP: System's streams between the namespaces, from a chosen
// local address.
func TestSystemTCP(t *testing.T) {
	na, nb := twoHosts(t)
	l := in(t, na, func() (net.Listener, error) { return System.ListenTCP(netip.AddrPortFrom(labA, 1723)) })
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
			close(accepted)
			return
		}
		accepted <- c
	}()
	c := in(t, nb, func() (net.Conn, error) {
		return System.DialTCP(context.Background(), labB, netip.AddrPortFrom(labA, 1723))
	})
	defer c.Close()
	s, ok := <-accepted
	if !ok {
		t.Fatal("no connection accepted")
	}
	defer s.Close()
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	if local.Addr() != labB || c.RemoteAddr().String() != "198.18.1.1:1723" || s.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("dialer %v -> %v, accepted %v <- %v", c.LocalAddr(), c.RemoteAddr(), s.LocalAddr(), s.RemoteAddr())
	}
	if _, err := c.Write([]byte("SCCRQ")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(s, b); err != nil || string(b) != "SCCRQ" {
		t.Fatalf("%q %v", b, err)
	}
	// Nobody listens on 1724.
	if err := nb.Do(func() error {
		_, err := System.DialTCP(context.Background(), netip.Addr{}, netip.AddrPortFrom(labA, 1724))
		return err
	}); err == nil || !strings.HasPrefix(err.Error(), "transport: ") {
		t.Errorf("dial to a closed port: %v", err)
	}
}

// TestIPConnSegments: a raw IP socket sends a train of equal-stride
// datagrams (the last shorter) in sendmmsg batches: every datagram arrives
// whole and in order, the port of the peer is ignored, a peer of the other
// family is refused, and the steady state does not allocate.
func TestIPConnSegments(t *testing.T) {
	na, nb := twoHosts(t)
	ca := in(t, na, func() (*IPConn, error) { return ListenIP(47, labA) })
	cb := in(t, nb, func() (*IPConn, error) { return ListenIP(47, labB) })
	defer ca.Close()
	defer cb.Close()
	const n, stride = 150, 100 // more than one sendmmsg of 64
	train := make([]byte, 0, n*stride)
	for i := range n {
		d := fmt.Appendf(nil, "segment %03d ", i)
		if i < n-1 {
			d = append(d, bytes.Repeat([]byte{byte(i)}, stride-len(d))...)
		}
		train = append(train, d...)
	}
	snd := ca.NewSegmentSender()
	if err := snd.WriteSegments(train, stride, netip.AddrPortFrom(labB, 1701)); err != nil {
		t.Fatal(err)
	}
	rx, done := serveInto(t, cb)
	got, from, batches := rx.wait(t, n)
	for i, g := range got {
		want := string(train[i*stride : min((i+1)*stride, len(train))])
		if g != want || from[i] != netip.AddrPortFrom(labA, 0) {
			t.Fatalf("datagram %d: %q from %v, want %q from %v", i, g, from[i], want, labA)
		}
	}
	t.Logf("%d datagrams in batches %v", len(got), batches)
	if err := snd.WriteSegments([]byte("x"), 1, netip.MustParseAddrPort("[2001:db8::1]:0")); err == nil {
		t.Error("an IPv6 peer on an IPv4 socket was accepted")
	}
	if err := snd.WriteSegments(nil, 1, netip.AddrPortFrom(labB, 0)); err == nil {
		t.Error("an empty train was accepted")
	}
	cb.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeBatch after Close: %v", err)
	}
	// Counted with the receiver closed: AllocsPerRun counts every
	// goroutine's allocations, and the receiver's copies would count.
	if allocs := fewestAllocs(func() {
		if err := snd.WriteSegments(train[:10*stride], stride, netip.AddrPortFrom(labB, 0)); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("WriteSegments: %.1f allocations", allocs)
	}
}
