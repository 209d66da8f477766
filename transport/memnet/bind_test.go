package memnet

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/transport"
)

var (
	hostA = netip.MustParseAddr("198.18.0.1")
	hostB = netip.MustParseAddr("198.18.0.2")
	hostC = netip.MustParseAddr("198.18.0.3")
)

// sink collects what a bind receives through ServeBatch.
type sink struct {
	mu      sync.Mutex
	got     []string
	from    []netip.AddrPort
	batches []int
	pending int
	done    chan error
}

func serveSink(b transport.Bind) *sink {
	s := &sink{done: make(chan error, 1)}
	go func() {
		s.done <- b.ServeBatch(func(p []byte, from netip.AddrPort) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.got = append(s.got, string(p))
			s.from = append(s.from, from)
			s.pending++
		}, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.batches = append(s.batches, s.pending)
			s.pending = 0
		})
	}()
	return s
}

// take returns and forgets what arrived; call it after synctest.Wait.
func (s *sink) take() ([]string, []netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, f := s.got, s.from
	s.got, s.from = nil, nil
	return g, f
}

func mustBind(t *testing.T) func(transport.Bind, error) transport.Bind {
	return func(b transport.Bind, err error) transport.Bind {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func send(t *testing.T, b transport.Bind, msg string, to netip.AddrPort) {
	t.Helper()
	if err := b.WriteTo([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
}

// UDP binds and raw IP binds are separate namespaces: a raw bind of
// protocol P at A gets every datagram of P sent to A, whatever the port,
// from port 0; UDP to A:port reaches only the UDP bind at A:port.
func TestNamespaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		must := mustBind(t)
		udpA := must(n.ListenUDP(netip.AddrPortFrom(hostA, 1701)))
		rawA := must(n.ListenIP(115, hostA))
		greA := must(n.ListenIP(47, hostA))
		udpB := must(n.ListenUDP(netip.AddrPortFrom(hostB, 1701)))
		rawB := must(n.ListenIP(115, hostB))
		if rawA.LocalAddr() != netip.AddrPortFrom(hostA, 0) {
			t.Fatalf("raw local address %v", rawA.LocalAddr())
		}
		sUDP, sRaw, sGRE := serveSink(udpA), serveSink(rawA), serveSink(greA)

		send(t, udpB, "udp", netip.AddrPortFrom(hostA, 1701))
		send(t, rawB, "l2tpv3", netip.AddrPortFrom(hostA, 1701)) // the port is ignored
		send(t, rawB, "l2tpv3 to port 0", netip.AddrPortFrom(hostA, 0))
		send(t, udpB, "nobody on 1702", netip.AddrPortFrom(hostA, 1702))
		// An IPv4-mapped destination is its IPv4 address.
		send(t, udpB, "mapped", netip.AddrPortFrom(netip.AddrFrom16(hostA.As16()), 1701))
		synctest.Wait()

		if got, from := sUDP.take(); !slices.Equal(got, []string{"udp", "mapped"}) || from[0] != udpB.LocalAddr() {
			t.Errorf("UDP bind: %q from %v", got, from)
		}
		if got, from := sRaw.take(); !slices.Equal(got, []string{"l2tpv3", "l2tpv3 to port 0"}) ||
			from[0] != netip.AddrPortFrom(hostB, 0) || from[1] != netip.AddrPortFrom(hostB, 0) {
			t.Errorf("raw 115 bind: %q from %v", got, from)
		}
		if got, _ := sGRE.take(); len(got) != 0 {
			t.Errorf("raw 47 bind got %q", got)
		}
		if st := n.Stats(); st.NoListener != 1 || st.Delivered != 4 || st.Sent != 5 {
			t.Errorf("stats %+v", st)
		}
		for _, b := range []transport.Bind{udpA, rawA, greA, udpB, rawB} {
			b.Close()
		}
		for _, s := range []*sink{sUDP, sRaw, sGRE} {
			if err := <-s.done; err != nil {
				t.Errorf("ServeBatch after Close: %v", err)
			}
		}
		// Closed addresses are free again; writes on closed binds fail.
		if _, err := n.ListenIP(115, hostA); err != nil {
			t.Error(err)
		}
		if err := rawB.WriteTo([]byte("x"), netip.AddrPortFrom(hostA, 0)); err == nil {
			t.Error("WriteTo after Close")
		}
		if err := udpB.WriteTo([]byte("x"), netip.AddrPort{}); err == nil {
			t.Error("WriteTo to no address")
		}
	})
}

// A wildcard bind gets what is sent to any address of its port (UDP) or
// protocol (raw) that nobody bound specifically, and answers each peer
// from the address the peer reached it at.
func TestWildcard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		must := mustBind(t)
		for _, raw := range []bool{false, true} {
			open := func(a netip.Addr, port uint16) transport.Bind {
				if raw {
					return must(n.ListenIP(115, a))
				}
				return must(n.ListenUDP(netip.AddrPortFrom(a, port)))
			}
			port := uint16(1701)
			if raw {
				port = 0
			}
			wild := open(netip.Addr{}, 1701) // the zero Addr is 0.0.0.0
			if wild.LocalAddr() != netip.AddrPortFrom(netip.IPv4Unspecified(), port) {
				t.Fatalf("wildcard local address %v", wild.LocalAddr())
			}
			specific := open(hostA, 1701)
			peerB, peerC := open(hostB, 1701), open(hostC, 1701)
			sw, ss, sb, sc := serveSink(wild), serveSink(specific), serveSink(peerB), serveSink(peerC)

			send(t, peerB, "to A", netip.AddrPortFrom(hostA, 1701))
			send(t, peerB, "to .9", netip.MustParseAddrPort("198.18.0.9:1701"))
			send(t, peerC, "to .8", netip.MustParseAddrPort("198.18.0.8:1701"))
			synctest.Wait()
			if got, _ := ss.take(); !slices.Equal(got, []string{"to A"}) {
				t.Errorf("raw %v: specific bind got %q", raw, got)
			}
			if got, _ := sw.take(); !slices.Equal(got, []string{"to .9", "to .8"}) {
				t.Errorf("raw %v: wildcard bind got %q", raw, got)
			}
			// The replies leave from the addresses the peers used.
			send(t, wild, "reply to B", netip.AddrPortFrom(hostB, 1701))
			send(t, wild, "reply to C", netip.AddrPortFrom(hostC, 1701))
			synctest.Wait()
			if got, from := sb.take(); !slices.Equal(got, []string{"reply to B"}) || from[0] != netip.MustParseAddrPort(fmt.Sprintf("198.18.0.9:%d", port)) {
				t.Errorf("raw %v: B got %q from %v", raw, got, from)
			}
			if got, from := sc.take(); !slices.Equal(got, []string{"reply to C"}) || from[0] != netip.MustParseAddrPort(fmt.Sprintf("198.18.0.8:%d", port)) {
				t.Errorf("raw %v: C got %q from %v", raw, got, from)
			}
			// IPv6 is another family: the IPv4 wildcard does not get it.
			send(t, peerB, "v6", netip.MustParseAddrPort("[2001:db8::1]:1701"))
			synctest.Wait()
			if got, _ := sw.take(); len(got) != 0 {
				t.Errorf("raw %v: IPv4 wildcard got %q", raw, got)
			}
			for _, b := range []transport.Bind{wild, specific, peerB, peerC} {
				b.Close()
			}
		}
	})
}

// A Host's wildcard binds send from its address before any peer reached
// them; the Network's send from the unspecified address, where a reply
// finds them again.
func TestHostSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		must := mustBind(t)
		h := n.Host(hostA)
		wild := must(h.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 1701)))
		rawWild := must(h.ListenIP(47, netip.IPv4Unspecified()))
		bare := must(n.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 1702)))
		peer := must(n.ListenUDP(netip.AddrPortFrom(hostB, 1701)))
		rawPeer := must(n.ListenIP(47, hostB))
		sp, srp, sbare := serveSink(peer), serveSink(rawPeer), serveSink(bare)
		send(t, wild, "from the host", peer.LocalAddr())
		send(t, rawWild, "gre from the host", peer.LocalAddr())
		send(t, bare, "from nowhere", peer.LocalAddr())
		synctest.Wait()
		if got, from := sp.take(); !slices.Equal(got, []string{"from the host", "from nowhere"}) ||
			from[0] != netip.AddrPortFrom(hostA, 1701) || from[1] != netip.MustParseAddrPort("0.0.0.0:1702") {
			t.Errorf("peer got %q from %v", got, from)
		}
		if _, from := srp.take(); len(from) != 1 || from[0] != netip.AddrPortFrom(hostA, 0) {
			t.Errorf("raw peer: from %v", from)
		}
		send(t, peer, "back", netip.MustParseAddrPort("0.0.0.0:1702"))
		synctest.Wait()
		if got, _ := sbare.take(); !slices.Equal(got, []string{"back"}) {
			t.Errorf("unspecified bind got %q", got)
		}
		for _, b := range []transport.Bind{wild, rawWild, bare, peer, rawPeer} {
			b.Close()
		}
	})
}

// ServeBatch hands up what is queued in batches of at most BatchSize,
// with flush after each, and returns nil after Close.
func TestServeBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, _ := n.Listen(netip.AddrPortFrom(hostA, 1701))
		b, _ := n.Listen(netip.AddrPortFrom(hostB, 1701))
		for i := range 300 {
			send(t, b, fmt.Sprint(i), a.LocalAddr())
		}
		if a.Queued() != 300 {
			t.Fatalf("%d queued", a.Queued())
		}
		s := serveSink(a)
		synctest.Wait()
		send(t, b, "one more", a.LocalAddr())
		synctest.Wait()
		got, _ := s.take()
		if len(got) != 301 || got[0] != "0" || got[299] != "299" || got[300] != "one more" {
			t.Fatalf("got %d datagrams: %q ...", len(got), got[:3])
		}
		s.mu.Lock()
		batches := s.batches
		s.mu.Unlock()
		if want := []int{transport.BatchSize, transport.BatchSize, 300 - 2*transport.BatchSize, 1}; !slices.Equal(batches, want) {
			t.Errorf("batches %v, want %v", batches, want)
		}
		a.Close()
		if err := <-s.done; err != nil {
			t.Fatal(err)
		}
		// Serve and ReadFrom return on Close too.
		b.Close()
		b.Serve(func([]byte, netip.AddrPort) { t.Error("datagram after Close") })
		if _, _, err := b.ReadFrom(make([]byte, 10)); err == nil {
			t.Error("ReadFrom after Close")
		}
	})
}

// A memnet SegmentSender delivers a train as its datagrams, in order;
// through the Segmenter interface as the data plane sees it.
func TestSegmentSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, _ := n.Listen(netip.AddrPortFrom(hostA, 1701))
		var b transport.Bind = mustBind(t)(n.ListenUDP(netip.AddrPortFrom(hostB, 1701)))
		seg, ok := b.(transport.Segmenter)
		if !ok {
			t.Fatal("a memnet bind is not a Segmenter")
		}
		w := seg.NewSegmentSender()
		train := make([]byte, 5*100+7)
		for i := range train {
			train[i] = byte(i / 100)
		}
		if err := w.WriteSegments(train, 100, a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct {
			b   []byte
			seg int
		}{{train, 0}, {train, -1}, {nil, 100}} {
			if err := w.WriteSegments(bad.b, bad.seg, a.LocalAddr()); err == nil {
				t.Errorf("WriteSegments(%d octets, %d) succeeded", len(bad.b), bad.seg)
			}
		}
		buf := make([]byte, 200)
		for i := range 6 {
			k, from, err := a.ReadFrom(buf)
			want := 100
			if i == 5 {
				want = 7
			}
			if err != nil || k != want || buf[0] != byte(i) || from != b.LocalAddr() {
				t.Fatalf("datagram %d: %d octets starting %d from %v: %v", i, k, buf[0], from, err)
			}
		}
		if a.Queued() != 0 {
			t.Fatalf("%d left", a.Queued())
		}
		a.Close()
		b.Close()
	})
}

// Port 0 gives distinct ephemeral ports; faults apply to raw binds as to
// UDP ones.
func TestEphemeralAndRawFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(7)
		seen := map[uint16]bool{}
		for range 10 {
			c, err := n.Listen(netip.AddrPortFrom(hostA, 0))
			if err != nil {
				t.Fatal(err)
			}
			p := c.LocalAddr().Port()
			if p < firstEphemeral || seen[p] {
				t.Fatalf("ephemeral port %d (seen: %v)", p, seen)
			}
			seen[p] = true
		}
		a, _ := n.ListenRaw(115, hostA)
		b, _ := n.ListenRaw(115, hostB)
		n.SetFaults(Faults{Loss: 1})
		b.WriteTo([]byte("lost"), netip.AddrPortFrom(hostA, 0))
		synctest.Wait()
		if a.Queued() != 0 || n.Stats().Lost != 1 {
			t.Errorf("queued %d, stats %+v", a.Queued(), n.Stats())
		}
		a.Close()
		b.Close()
	})
}

// The IP settings of a raw bind are recorded and checked as IPConn
// checks them.
func TestIPOptions(t *testing.T) {
	n := New(1)
	c, _ := n.ListenRaw(115, hostA)
	opts := interface {
		SetTOS(int) error
		SetTTL(int) error
		SetDF(bool) error
	}(c)
	if err := opts.SetTOS(0xb8); err != nil {
		t.Fatal(err)
	}
	if err := opts.SetTTL(7); err != nil {
		t.Fatal(err)
	}
	if err := opts.SetDF(true); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{opts.SetTOS(256), opts.SetTOS(-1), opts.SetTTL(0), opts.SetTTL(256)} {
		if err == nil {
			t.Error("an out-of-range setting was taken")
		}
	}
	if tos, ttl, df := c.IPOptions(); tos != 0xb8 || ttl != 7 || !df {
		t.Errorf("options %#x %d %v", tos, ttl, df)
	}
}
