package ike

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
)

// benchWire delivers datagrams between two nodes synchronously, one at a
// time from a queue, and adds up the time each node spends handling
// them, so a set-up's cost splits into the initiator's and the
// responder's.
type benchWire struct {
	queue []benchPkt
	nodes map[netip.AddrPort]*Node
	spent map[*Node]time.Duration
}

type benchPkt struct {
	b        []byte
	from, to netip.AddrPort
}

func (w *benchWire) sender(from netip.AddrPort) func([]byte, netip.AddrPort) {
	return func(b []byte, to netip.AddrPort) { w.queue = append(w.queue, benchPkt{b, from, to}) }
}

// run delivers until the queue is empty (bounded: a set-up is a dozen
// datagrams).
func (w *benchWire) run(tb testing.TB) {
	for i := 0; len(w.queue) > 0; i++ {
		if i > 100 {
			tb.Fatal("more than 100 datagrams for one set-up")
		}
		p := w.queue[0]
		w.queue = w.queue[1:]
		n := w.nodes[p.to]
		if n == nil {
			continue
		}
		t0 := time.Now()
		n.HandlePacket(p.b, p.from)
		w.spent[n] += time.Since(t0)
	}
}

// setupOnce runs one main mode + quick mode between fresh nodes with
// phase-1 group g (with RSA signatures when pki is set) and reports
// whether both ends have the child SA.
func setupOnce(tb testing.TB, g Group, w *benchWire, pki *testPKI) (init, resp *Node) {
	up := 0
	mk := func(i int, addr netip.AddrPort, local, remote netip.Prefix) *Node {
		cfg := Config{
			Local: addr, Clock: clock.Real, Send: w.sender(addr),
			Policies: []Policy{{Priority: 10, Encryption: CipherAES, KeyBits: 128, Hash: HashSHA1, Group: g}},
			Key:      func(netip.Addr, []byte) []byte { return []byte("bench-psk") },
			Phase2: func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
				return &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}},
					Local: Selector{Prefix: local}, Remote: Selector{Prefix: remote}}
			},
			OnEvent: func(e Event) {
				if e.Kind == EventChildUp {
					up++
				}
			},
		}
		if pki != nil {
			cfg.Policies[0].RSASig, cfg.Cert = true, pki.certs(i)
		}
		n, err := New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		w.nodes[addr] = n
		return n
	}
	init, resp = mk(0, addrA, netA, netB), mk(1, addrB, netB, netA)
	t0 := time.Now()
	if err := init.Initiate(addrB, p2For()); err != nil {
		tb.Fatal(err)
	}
	w.spent[init] += time.Since(t0)
	w.run(tb)
	if up != 2 {
		tb.Fatalf("%v: %d of 2 child SAs up", g, up)
	}
	init.Close()
	resp.Close()
	return init, resp
}

// BenchmarkSetup is one main mode + quick mode (no PFS) per operation,
// per phase-1 group, in memory: init-ms/op and resp-ms/op are each
// side's share (the responder's is what bounds a concentrator's set-up
// rate). The rsasig cases authenticate with 2048-bit RSA certificates
// instead of the key. Profile with -cpuprofile.
func BenchmarkSetup(b *testing.B) {
	pki := newPKI(b, 24*time.Hour)
	for _, c := range []struct {
		g   Group
		pki *testPKI
	}{{Group2, nil}, {Group5, nil}, {Group14, nil}, {Group19, nil}, {Group20, nil}, {Group14, pki}, {Group19, pki}} {
		name := fmt.Sprintf("group%d", c.g)
		if c.pki != nil {
			name += "-rsasig"
		}
		b.Run(name, func(b *testing.B) {
			var ti, tr time.Duration
			for b.Loop() {
				w := &benchWire{nodes: map[netip.AddrPort]*Node{}, spent: map[*Node]time.Duration{}}
				i, r := setupOnce(b, c.g, w, c.pki)
				ti += w.spent[i]
				tr += w.spent[r]
			}
			b.ReportMetric(float64(ti.Microseconds())/1000/float64(b.N), "init-ms/op")
			b.ReportMetric(float64(tr.Microseconds())/1000/float64(b.N), "resp-ms/op")
		})
	}
}

// BenchmarkDH is each group's two operations: making a key pair (g^x)
// and the shared value (g^xy) from a peer's public value.
func BenchmarkDH(b *testing.B) {
	for _, g := range []Group{Group2, Group5, Group14, Group19, Group20} {
		peer, err := generateDH(g, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("group%d/generate", g), func(b *testing.B) {
			for b.Loop() {
				if _, err := generateDH(g, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
		k, _ := generateDH(g, rand.Reader)
		b.Run(fmt.Sprintf("group%d/shared", g), func(b *testing.B) {
			for b.Loop() {
				if _, err := k.shared(peer.pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
