package transport

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// inNetns re-runs the current test inside a fresh network namespace with
// 198.18.0.1 on its loopback (DESIGN.md lab rules: never the host's
// interfaces). It returns true in the child, false in the parent after
// the child ran; it skips when namespaces are unavailable.
func inNetns(t *testing.T) bool {
	if os.Getenv("VPDN_TRANSPORT_NETNS") == "1" {
		return true
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not available")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not available")
	}
	script := `ip link set lo up && ip addr add 198.18.0.1/32 dev lo && ip addr add 198.18.0.2/32 dev lo && exec "$0" -test.run "^` + t.Name() + `$" -test.v -test.timeout=60s`
	cmd := exec.Command("unshare", "-n", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), "VPDN_TRANSPORT_NETNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 0 && exec.Command("unshare", "-n", "true").Run() == nil {
			t.Fatalf("in netns: %v\n%s", err, out)
		}
		t.Skipf("network namespaces unavailable: %v", err)
	}
	t.Logf("in netns:\n%s", out)
	return false
}

func TestUDPBatch(t *testing.T) {
	if !inNetns(t) {
		return
	}
	a, err := ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ListenUDP(netip.MustParseAddrPort("198.18.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 64 // well inside the default socket receive buffer
	var mu sync.Mutex
	got := map[string]bool{}
	done := make(chan struct{})
	go func() {
		a.Serve(func(p []byte, from netip.AddrPort) {
			mu.Lock()
			defer mu.Unlock()
			if from != b.LocalAddr() {
				t.Errorf("from %v, want %v", from, b.LocalAddr())
			}
			got[string(p)] = true
			if len(got) == n {
				close(done)
			}
		})
	}()
	for i := range n {
		if err := b.WriteTo([]byte(fmt.Sprintf("datagram %d", i)), a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	// And a reply through the single-datagram path.
	if err := a.WriteTo([]byte("reply"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	r := b.NewReader()
	in := make([]Packet, BatchSize)
	k, err := r.Read(in)
	if err != nil || k != 1 || string(in[0].Buf) != "reply" || in[0].Addr != a.LocalAddr() {
		t.Fatalf("read %d %v %q %v", k, err, in[0].Buf, in[0].Addr)
	}
	a.Close()
	b.Close()
}

// TestSegments: a train of datagrams sent with WriteSegments arrives as
// the same datagrams, in order, with UDP_SEGMENT/UDP_GRO and without;
// neither sending nor receiving allocates.
func TestSegments(t *testing.T) {
	if !inNetns(t) {
		return
	}
	for _, off := range []bool{false, true} {
		a, err := ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ListenUDP(netip.MustParseAddrPort("198.18.0.2:0"))
		if err != nil {
			t.Fatal(err)
		}
		if off {
			a.setOffloads(false, false)
			b.setOffloads(false, false)
		}
		gso, gro := b.Offloads()
		t.Logf("offloads off=%v: gso %v gro %v", off, gso, gro)
		// 100 datagrams of 1000 octets and one of 123: more than one
		// UDP_SEGMENT send can carry.
		train := make([]byte, 100*1000+123)
		for i := range train {
			train[i] = byte(i / 1000)
		}
		type dg struct {
			b    []byte
			from netip.AddrPort
		}
		got := make(chan dg, 1000)
		coalesced := 0
		done := make(chan error, 1)
		go func() {
			r := a.NewReader()
			pkts := make([]Packet, BatchSize)
			n := 0
			for n < 101 {
				k, err := r.Read(pkts)
				if err != nil {
					done <- err
					return
				}
				for _, p := range pkts[:k] {
					if p.Seg > 0 && p.Seg < p.N {
						coalesced++
						for o := 0; o < p.N; o += p.Seg {
							got <- dg{append([]byte(nil), p.Buf[o:min(o+p.Seg, p.N)]...), p.Addr}
							n++
						}
						continue
					}
					got <- dg{append([]byte(nil), p.Buf...), p.Addr}
					n++
				}
			}
			done <- nil
		}()
		w := b.NewSegmentSender()
		if err := w.WriteSegments(train, 1000, a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		close(got)
		i := 0
		for d := range got {
			want := 1000
			if i == 100 {
				want = 123
			}
			if len(d.b) != want || d.b[0] != byte(i) || d.from != b.LocalAddr() {
				t.Fatalf("datagram %d: %d octets starting %d from %v", i, len(d.b), d.b[0], d.from)
			}
			i++
		}
		t.Logf("%d datagrams, %d coalesced reads", i, coalesced)
		if off && coalesced != 0 {
			t.Error("coalesced with UDP_GRO off")
		}
		// Steady state: no allocations either way.
		small := train[:3000]
		if n := fewestAllocs(func() {
			if err := w.WriteSegments(small, 1000, a.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("WriteSegments: %.1f allocations", n)
		}
		r := a.NewReader()
		pkts := make([]Packet, BatchSize)
		if n := fewestAllocs(func() {
			w.WriteSegments(small[:100], 1000, a.LocalAddr())
			if _, err := r.Read(pkts); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Read: %.1f allocations", n)
		}
		a.Close()
		b.Close()
	}
}

// TestSegmentsWildcard: a socket on 0.0.0.0 is AF_INET6 (Go listens dual
// stack); trains to and datagrams from IPv4 peers go as v4-mapped
// addresses and come back unmapped. An IPv6 peer works too.
func TestSegmentsWildcard(t *testing.T) {
	if !inNetns(t) {
		return
	}
	a, err := ListenUDP(netip.MustParseAddrPort("0.0.0.0:1702"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ListenUDP(netip.MustParseAddrPort("198.18.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := ListenUDP(netip.MustParseAddrPort("[::1]:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Logf("wildcard socket AF_INET6: %v", a.v6)
	train := make([]byte, 5*500+7)
	for _, peer := range []*UDPConn{b, c} {
		to := netip.AddrPortFrom(netip.MustParseAddr("198.18.0.2"), peer.LocalAddr().Port())
		if peer == c {
			to = peer.LocalAddr()
		}
		if err := a.NewSegmentSender().WriteSegments(train, 500, to); err != nil {
			t.Fatal(err)
		}
		r := peer.NewReader()
		pkts := make([]Packet, BatchSize)
		got := 0
		for got < len(train) {
			k, err := r.Read(pkts)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pkts[:k] {
				got += p.N
				if p.Addr.Port() != 1702 || p.Addr.Addr().Is4In6() {
					t.Errorf("from %v", p.Addr)
				}
			}
		}
		// And back: the wildcard socket sees the peer unmapped.
		if err := peer.WriteTo([]byte("x"), netip.AddrPortFrom(to.Addr(), 1702)); err != nil {
			t.Fatal(err)
		}
		ra := a.NewReader()
		k, err := ra.Read(pkts)
		if err != nil || k != 1 || pkts[0].Addr != peer.LocalAddr() && !(peer == b && pkts[0].Addr == to) {
			t.Fatalf("read %d %v from %v, want %v", k, err, pkts[0].Addr, peer.LocalAddr())
		}
	}
}
