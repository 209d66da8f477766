package ike

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
)

// network is an in-memory datagram network between Nodes with loss,
// duplication and reordering (a random delay per datagram), on the
// clock of the synctest bubble.
type network struct {
	mu      sync.Mutex
	nodes   map[netip.AddrPort]*Node
	rng     *rand.Rand
	loss    float64
	dup     float64
	jitter  time.Duration
	drop    func(b []byte, from, to netip.AddrPort) bool
	packets int
	// nat maps an inside address to the outside one its datagrams carry
	// (a NAT in front of it); replies to the outside address reach it.
	nat map[netip.AddrPort]netip.AddrPort
}

func newNetwork(seed uint64, loss, dup float64) *network {
	return &network{nodes: map[netip.AddrPort]*Node{}, rng: rand.New(rand.NewPCG(seed, 1)), loss: loss, dup: dup, jitter: 20 * time.Millisecond}
}

func (w *network) sender(from netip.AddrPort) func(b []byte, to netip.AddrPort) {
	return func(b []byte, to netip.AddrPort) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.packets++
		if w.drop != nil && w.drop(b, from, to) {
			return
		}
		if w.rng.Float64() < w.loss {
			return
		}
		copies := 1
		if w.rng.Float64() < w.dup {
			copies = 2
		}
		src := from
		if o, ok := w.nat[from]; ok {
			src = o
		}
		for in, out := range w.nat {
			if to == out {
				to = in
			}
		}
		for range copies {
			d := time.Duration(w.rng.Int64N(int64(w.jitter) + 1))
			b := bytes.Clone(b)
			time.AfterFunc(d, func() {
				w.mu.Lock()
				n := w.nodes[to]
				if n == nil {
					// A node owns ports 500 and 4500 (NAT-T, RFC 3947 §4).
					n = w.nodes[netip.AddrPortFrom(to.Addr(), 500)]
				}
				w.mu.Unlock()
				if n != nil {
					n.HandlePacket(b, src)
				}
			})
		}
	}
}

// logBuf collects the debug log of a node.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) Enabled(context.Context, slog.Level) bool { return true }
func (l *logBuf) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logBuf) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logBuf) WithGroup(string) slog.Handler      { return l }

func (l *logBuf) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// peer is one Node under test with its events and log.
type peer struct {
	n      *Node
	addr   netip.AddrPort
	log    *logBuf
	mu     sync.Mutex
	events []Event
}

func (p *peer) on(e Event) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *peer) count(k EventKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := 0
	for _, e := range p.events {
		if e.Kind == k {
			c++
		}
	}
	return c
}

func (p *peer) find(k EventKind) *Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.events {
		if p.events[i].Kind == k {
			return &p.events[i]
		}
	}
	return nil
}

var (
	addrA = netip.MustParseAddrPort("198.18.0.1:500")
	addrB = netip.MustParseAddrPort("198.18.0.2:500")
	netA  = netip.MustParsePrefix("198.19.1.0/24")
	netB  = netip.MustParsePrefix("198.19.2.0/24")
)

// pair makes two nodes on w: a (198.18.0.1) and b (198.18.0.2). mod
// adjusts each config (i is 0 for a, 1 for b).
func pair(t *testing.T, w *network, mod func(i int, c *Config)) (*peer, *peer) {
	t.Helper()
	var ps [2]*peer
	for i, addr := range []netip.AddrPort{addrA, addrB} {
		p := &peer{addr: addr, log: &logBuf{}}
		cfg := Config{
			Local:    addr,
			Clock:    clock.Real,
			Log:      slog.New(p.log),
			Send:     w.sender(addr),
			OnEvent:  p.on,
			Policies: []Policy{{Priority: 10, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA1, Group: Group14}},
			Key:      func(netip.Addr, []byte) []byte { return []byte("cisco123") },
		}
		local, remote := netA, netB
		if i == 1 {
			local, remote = netB, netA
		}
		cfg.Phase2 = func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
			if l.Prefix != local || r.Prefix != remote {
				return nil
			}
			return &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Local: Selector{Prefix: local}, Remote: Selector{Prefix: remote}}
		}
		if mod != nil {
			mod(i, &cfg)
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.n = n
		w.mu.Lock()
		w.nodes[addr] = n
		w.mu.Unlock()
		ps[i] = p
		t.Cleanup(n.Close)
	}
	return ps[0], ps[1]
}

// p2For is a's crypto map entry towards b.
func p2For(ts ...TransformSet) *Phase2Policy {
	if len(ts) == 0 {
		ts = []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}
	}
	return &Phase2Policy{TransformSets: ts, Local: Selector{Prefix: netA}, Remote: Selector{Prefix: netB}}
}

// checkChildren verifies that a's and b's child SAs mirror each other.
func checkChildren(t *testing.T, a, b *peer) {
	t.Helper()
	ca, cb := a.n.Children(), b.n.Children()
	if len(ca) != 1 || len(cb) != 1 {
		t.Fatalf("children: a %d, b %d\nA:\n%s\nB:\n%s", len(ca), len(cb), a.log, b.log)
	}
	x, y := ca[0], cb[0]
	if x.SPIIn != y.SPIOut || x.SPIOut != y.SPIIn {
		t.Fatalf("SPIs: a in %#x out %#x, b in %#x out %#x", x.SPIIn, x.SPIOut, y.SPIIn, y.SPIOut)
	}
	if !bytes.Equal(x.EncKeyIn, y.EncKeyOut) || !bytes.Equal(x.AuthKeyIn, y.AuthKeyOut) ||
		!bytes.Equal(x.EncKeyOut, y.EncKeyIn) || !bytes.Equal(x.AuthKeyOut, y.AuthKeyIn) {
		t.Fatal("keys do not mirror")
	}
	if bytes.Equal(x.EncKeyIn, x.EncKeyOut) || len(x.EncKeyIn) == 0 || len(x.AuthKeyIn) == 0 {
		t.Fatalf("degenerate keys %x %x", x.EncKeyIn, x.AuthKeyIn)
	}
	if x.Local != y.Remote || x.Remote != y.Local {
		t.Fatalf("selectors: a %v -> %v, b %v -> %v", x.Local, x.Remote, y.Local, y.Remote)
	}
	_ = fmt.Sprint()
}
