package loadgen

import (
	"context"
	"encoding/json"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport/memnet"
)

var lnsAddr = netip.MustParseAddrPort("198.18.0.2:1701")

// memSocket opens each LAC's socket on the in-memory network, at
// 198.18.0.1 and a port of its own.
func memSocket(n *memnet.Network) Socket {
	var port atomic.Uint32
	return func(deliver func(b []byte, from netip.AddrPort)) (Conn, func() error, error) {
		c, err := n.Listen(netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), uint16(20000+port.Add(1))))
		if err != nil {
			return nil, nil, err
		}
		done := make(chan struct{})
		go func() {
			// memnet delays with one timer per packet, and timers due at
			// the same instant fire in any order: packets sent back to
			// back would be reordered. Instead the reader charges a fake
			// per-datagram cost, which keeps the order and gives the
			// latencies a non-zero, deterministic value.
			c.Serve(func(b []byte, from netip.AddrPort) {
				time.Sleep(20 * time.Microsecond)
				deliver(b, from)
			})
			close(done)
		}()
		return c, func() error { err := c.Close(); <-done; return err }, nil
	}
}

// runAgainst runs the generator against an in-memory LNS inside a
// synctest bubble (fake time: latencies are the memnet delays and the
// protocol timers, deterministic).
func runAgainst(t *testing.T, methods []aaa.Method, cfg Config, noAddress bool) (Report, *testLNS) {
	t.Helper()
	var rep Report
	var lns *testLNS
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New(1)
		var err error
		lns, err = newTestLNS(net, lnsAddr, &fakeAAA{user: "lac1", password: "lacpass"}, methods)
		if err != nil {
			t.Fatal(err)
		}
		lns.noAddress = noAddress
		defer lns.close()
		cfg.Server, cfg.Socket = lnsAddr, memSocket(net)
		rep, err = Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("memnet %+v; LNS node %+v", net.Stats(), lns.node.Stats())
		// Teardown sent CDN and StopCCN: the LNS holds no session.
		synctest.Wait()
		if n := lns.sessions(); n != 0 {
			t.Errorf("the LNS still holds %d sessions after the teardown", n)
		}
	})
	return rep, lns
}

// TestRunInMemory: 10 tunnels × 100 sessions against the in-memory LNS
// (CHAP): every session comes up, none fails, the latencies are those of
// a clean exchange (no PPP retransmission: the Restart timer is 3 s).
func TestRunInMemory(t *testing.T) {
	rep, lns := runAgainst(t, []aaa.Method{aaa.CHAP}, Config{Tunnels: 10, Sessions: 100, User: "lac1", Password: "lacpass"}, false)
	t.Logf("%s", rep)
	if rep.Established != 1000 || rep.Failed != 0 || rep.Sessions != 1000 {
		t.Fatalf("established %d failed %d (%v) of %d, want 1000 0", rep.Established, rep.Failed, rep.FailuresByReason, rep.Sessions)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 || rep.SetupRate <= 0 {
		t.Errorf("p50 %v p99 %v max %v rate %v", rep.P50, rep.P99, rep.Max, rep.SetupRate)
	}
	if rep.Max >= 3*time.Second {
		t.Errorf("max latency %v: some session waited for a PPP retransmission", rep.Max)
	}
	if n := lns.aaa.calls.Load(); n != 1000 {
		t.Errorf("the LNS authenticated %d times, want 1000", n)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"established", "failed", "setup_rate_per_s", "p50_ms", "p99_ms", "failures_by_reason", "tunnels", "sessions", "elapsed_s"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON report lacks %q: %s", k, b)
		}
	}
}

// TestRunWrongPassword: every session fails, for authentication.
func TestRunWrongPassword(t *testing.T) {
	rep, _ := runAgainst(t, []aaa.Method{aaa.CHAP}, Config{Tunnels: 3, Sessions: 20, User: "lac1", Password: "wrong"}, false)
	t.Logf("%s", rep)
	if rep.Established != 0 || rep.Failed != 60 || rep.FailuresByReason[ReasonAuth] != 60 {
		t.Fatalf("established %d failed %d %v, want 0 established, 60 failed for %q", rep.Established, rep.Failed, rep.FailuresByReason, ReasonAuth)
	}
}
