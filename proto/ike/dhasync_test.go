package ike

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
)

// TestAsyncDH: with DHWorkers, a responder whose g^xy is still being
// computed answers other peers meanwhile, counts a retransmitted MM3 as a
// duplicate, and sends its MM4 once the worker is done; the set-ups then
// complete. The test holds the only worker slot to keep the computation
// pending as long as it likes.
func TestAsyncDH(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(1, 0, 0)
		a, b := pair(t, w, func(i int, c *Config) {
			if i == 1 {
				c.DHWorkers = 1
			}
		})
		addrC := netip.MustParseAddrPort("198.18.0.3:500")
		c := &peer{addr: addrC, log: &logBuf{}}
		nc, err := New(Config{Local: addrC, Clock: clock.Real, Log: slog.New(c.log), Send: w.sender(addrC), OnEvent: c.on,
			Policies: []Policy{{Priority: 10, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA1, Group: Group14}},
			Key:      func(netip.Addr, []byte) []byte { return []byte("cisco123") }})
		if err != nil {
			t.Fatal(err)
		}
		c.n = nc
		t.Cleanup(nc.Close)
		w.mu.Lock()
		w.nodes[addrC] = nc
		w.mu.Unlock()

		b.n.dhSem <- struct{}{} // the worker is busy
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if err := c.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		// Both peers got their MM2 and sent MM3; b holds both SAs in
		// IKE_R_MM3 and has sent no MM4.
		for _, s := range b.n.Phase1() {
			if s.Debug != "IKE_R_MM3" {
				t.Fatalf("b: %+v, want IKE_R_MM3 while g^xy is pending", s)
			}
		}
		if n := len(b.n.Phase1()); n != 2 {
			t.Fatalf("b has %d SAs, want 2", n)
		}
		// a's and c's retransmitted MM3s are duplicates.
		settle(defaultRetransmit + time.Second)
		if d := b.n.Stats().Duplicates; d < 2 {
			t.Errorf("b counted %d duplicates, want a's and c's MM3 again", d)
		}
		<-b.n.dhSem // the worker is free
		settle(time.Second)
		for _, x := range append(a.n.Children(), c.n.Children()...) {
			found := false
			for _, y := range b.n.Children() {
				found = found || (x.SPIIn == y.SPIOut && x.SPIOut == y.SPIIn && string(x.EncKeyIn) == string(y.EncKeyOut))
			}
			if !found {
				t.Errorf("child SA %#x/%#x has no mirror at b", x.SPIIn, x.SPIOut)
			}
		}
		if a.count(EventChildUp) != 1 || c.count(EventChildUp) != 1 || b.count(EventChildUp) != 2 {
			t.Errorf("child SAs up: a %d, c %d, b %d", a.count(EventChildUp), c.count(EventChildUp), b.count(EventChildUp))
		}
		if n := len(c.n.Children()); n != 1 {
			t.Errorf("c has %d child SAs", n)
		}
		// One MM4 each: the duplicates did not start a second
		// computation or a second answer.
		if n := len(b.n.Phase1()); n != 2 {
			t.Errorf("b has %d SAs, want 2", n)
		}
	})
}

// TestAsyncDHClosed: a Node closed while g^xy is pending sends nothing
// when the worker finishes.
func TestAsyncDHClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(1, 0, 0)
		a, b := pair(t, w, func(i int, c *Config) {
			if i == 1 {
				c.DHWorkers = 1
			}
		})
		b.n.dhSem <- struct{}{}
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		w.mu.Lock()
		sent := w.packets
		w.mu.Unlock()
		b.n.Close()
		<-b.n.dhSem
		settle(time.Second)
		w.mu.Lock()
		after := w.packets
		w.mu.Unlock()
		if after != sent {
			t.Errorf("%d datagrams after Close", after-sent)
		}
		if a.count(EventPhase1Up) != 0 {
			t.Error("phase 1 came up with a closed responder")
		}
	})
}

// TestAsyncDHLossy: main mode with the responder's g^xy on a worker comes
// up over a network that loses, duplicates and reorders.
func TestAsyncDHLossy(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNetwork(seed, 0.05, 0.3)
				w.jitter = 300 * time.Millisecond
				a, b := pair(t, w, func(i int, c *Config) {
					c.Retransmit = 2 * time.Second
					c.DHWorkers = 2
				})
				if err := a.n.Initiate(addrB, p2For()); err != nil {
					t.Fatal(err)
				}
				settle(2 * time.Minute)
				checkChildren(t, a, b)
			})
		})
	}
}
