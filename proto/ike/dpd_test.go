package ike

import (
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func (l *logBuf) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			c++
		}
	}
	return c
}

// dpdPair is a (DPD 10 s, retries every 2 s, 3 of them; periodic or
// on-demand) and b with one child SA between them; esp is what a's
// InboundESP reports for every SA.
func dpdPair(t *testing.T, w *network, periodic bool, esp *atomic.Uint64) (*peer, *peer) {
	t.Helper()
	a, b := pair(t, w, func(i int, cfg *Config) {
		if i == 0 {
			cfg.DPD = 10 * time.Second
			cfg.DPDRetry = 2 * time.Second
			cfg.DPDMaxRetries = 3
			cfg.DPDPeriodic = periodic
			cfg.InboundESP = func(uint32) uint64 { return esp.Load() }
		}
	})
	if err := a.n.Initiate(addrB, p2For()); err != nil {
		t.Fatal(err)
	}
	settle(time.Second)
	if len(a.n.Children()) != 1 {
		t.Fatalf("no child SA:\n%s", a.log)
	}
	return a, b
}

func dropAll(w *network) {
	w.mu.Lock()
	w.drop = func([]byte, netip.AddrPort, netip.AddrPort) bool { return true }
	w.mu.Unlock()
}

// TestDPDOnDemandCountsESP: on-demand DPD (IOS's default) takes ESP from
// the peer as proof that it lives: with IKE cut off but ESP arriving,
// no R-U-THERE goes out for a minute and the SAs stay; once ESP stops
// too, R-U-THERE goes out, goes unanswered, and the peer is dead.
func TestDPDOnDemandCountsESP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(31, 0, 0)
		var esp atomic.Uint64
		a, _ := dpdPair(t, w, false, &esp)
		dropAll(w)
		for range 12 {
			esp.Add(3)
			settle(5 * time.Second)
		}
		if n := a.log.count("DPD/R_U_THERE sequence"); n != 0 {
			t.Fatalf("%d R-U-THERE sent while ESP arrived:\n%s", n, a.log)
		}
		if a.count(EventDPDDead) != 0 || len(a.n.Children()) != 1 {
			t.Fatal("a peer sending ESP was declared dead")
		}
		settle(time.Minute)
		if a.log.count("DPD/R_U_THERE sequence") == 0 || a.count(EventDPDDead) != 1 || len(a.n.Children()) != 0 {
			t.Errorf("after ESP stopped: R-U-THERE %d, dead %d, children %d\n%s",
				a.log.count("DPD/R_U_THERE sequence"), a.count(EventDPDDead), len(a.n.Children()), a.log)
		}
	})
}

// TestDPDOnDemandESPAnswersRetry: ESP that arrives while an R-U-THERE
// waits for its ACK is an answer too: the retries stop and the peer
// stays.
func TestDPDOnDemandESPAnswersRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(32, 0, 0)
		var esp atomic.Uint64
		a, _ := dpdPair(t, w, false, &esp)
		dropAll(w)
		settle(11 * time.Second) // idle: the first R-U-THERE is out, unanswered
		if a.log.count("DPD/R_U_THERE sequence") != 1 {
			t.Fatalf("no R-U-THERE after 10 s idle:\n%s", a.log)
		}
		esp.Add(1)
		settle(9 * time.Second) // the retry timer fires, finds ESP
		if n := a.log.count("DPD/R_U_THERE sequence"); n != 1 || a.count(EventDPDDead) != 0 || len(a.n.Children()) != 1 {
			t.Fatalf("after ESP: %d R-U-THERE, dead %d, children %d\n%s", n, a.count(EventDPDDead), len(a.n.Children()), a.log)
		}
	})
}

// TestDPDPeriodic: `periodic` sends R-U-THERE every interval whatever
// the traffic, and a peer that stops answering is dead even while ESP
// keeps arriving.
func TestDPDPeriodic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(33, 0, 0)
		var esp atomic.Uint64
		a, _ := dpdPair(t, w, true, &esp)
		for range 7 {
			esp.Add(3)
			settle(5 * time.Second)
		}
		if n := a.log.count("DPD/R_U_THERE sequence"); n < 3 || a.log.count("DPD/R_U_THERE_ACK received") < 3 {
			t.Fatalf("periodic: %d R-U-THERE in 35 s of traffic:\n%s", n, a.log)
		}
		if a.count(EventDPDDead) != 0 {
			t.Fatal("a peer answering DPD was declared dead")
		}
		dropAll(w)
		for range 8 {
			esp.Add(3)
			settle(5 * time.Second)
		}
		if a.count(EventDPDDead) != 1 || len(a.n.Children()) != 0 {
			t.Errorf("periodic, no ACKs but ESP: dead %d, children %d\n%s", a.count(EventDPDDead), len(a.n.Children()), a.log)
		}
	})
}
