package l2tp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// lossyParams tolerate 30 % loss: with loss in both directions a round
// trip fails half the time, so the retry budget is raised as an operator
// would with "retransmit retries".
var lossyParams = TunnelParams{
	LocalName:    "LAC",
	Secret:       []byte("s3cret"),
	Retransmit:   RetransmitParams{InitialRetries: 20, Retries: 20, TimeoutMin: time.Second, TimeoutMax: 8 * time.Second},
	SetupTimeout: 30 * time.Minute,
	// The calls are set up under heavy loss: the LNS must wait for them.
	SessionSetupTimeout: 30 * time.Minute,
	Hello:               -1,
}

// Test1000SessionsLossy is the "must show": 1,000 sessions over 10
// tunnels come up through 30 % loss, duplication and reordering, and all
// are torn down cleanly with CDN, then the tunnels with StopCCN.
func Test1000SessionsLossy(t *testing.T) {
	const tunnels, perTunnel = 10, 100
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(2661)
		nw.SetFaults(memnet.Faults{Loss: 0.3, Duplicate: 0.1, Reorder: 0.2, Delay: 5 * time.Millisecond, Jitter: 300 * time.Millisecond})
		var up, down atomic.Int64
		var badDown atomic.Int64
		lnsP := lossyParams
		lnsP.LocalName = "LNS"
		lns := newPeer(t, nw, lnsAddr, Config{Defaults: lnsP,
			OnSessionUp: func(*Session) { up.Add(1) },
			OnSessionDown: func(s *Session, err error) {
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Msg != l2tp.MsgCDN || !ce.Remote || ce.Result.Code != l2tp.CDNAdmin {
					badDown.Add(1)
				}
				down.Add(1)
			}})
		var lacs []*peer
		var wg sync.WaitGroup
		sessions := make(chan *Session, tunnels*perTunnel)
		var failed atomic.Int64
		for i := range tunnels {
			lac := newPeer(t, nw, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)}), 1701), Config{})
			lacs = append(lacs, lac)
			for range perTunnel {
				wg.Go(func() {
					s, err := lac.node.Dial(context.Background(), lnsAddr, lossyParams, CallParams{})
					if err != nil {
						t.Errorf("Dial: %v", err)
						failed.Add(1)
						return
					}
					sessions <- s
				})
			}
		}
		wg.Wait()
		close(sessions)
		if failed.Load() > 0 {
			t.Fatalf("%d dials failed", failed.Load())
		}
		var all []*Session
		for s := range sessions {
			all = append(all, s)
		}
		if len(all) != tunnels*perTunnel {
			t.Fatalf("%d sessions", len(all))
		}
		for _, lac := range lacs {
			if n := len(lac.node.Tunnels()); n != 1 {
				t.Fatalf("LAC has %d tunnels, want 1 shared by its calls", n)
			}
		}
		// Let the last ICCNs reach the LNS (ICCN is reliable: it arrives).
		for up.Load() != tunnels*perTunnel {
			time.Sleep(time.Second)
		}
		if ts, ss := lns.node.Snapshot(); len(ts) != tunnels || len(ss) != tunnels*perTunnel {
			t.Fatalf("LNS has %d tunnels, %d sessions", len(ts), len(ss))
		}

		for _, s := range all {
			s.Close(l2tp.Result{Code: l2tp.CDNAdmin})
		}
		for _, s := range all {
			<-s.Done()
		}
		for down.Load() != tunnels*perTunnel {
			time.Sleep(time.Second)
		}
		if badDown.Load() != 0 {
			t.Fatalf("%d sessions ended without the CDN sent", badDown.Load())
		}
		if _, ss := lns.node.Snapshot(); len(ss) != 0 || lns.node.Stats().Sessions != 0 {
			t.Fatalf("%d sessions left on the LNS", len(ss))
		}
		lnsTunnels := lns.node.Tunnels()
		for _, lac := range lacs {
			lac.close(t)
		}
		for _, tn := range lnsTunnels {
			<-tn.Done()
			var ce *CloseError
			if !errors.As(tn.Err(), &ce) || !ce.Remote || ce.Result.Code != l2tp.StopShuttingDown {
				t.Errorf("LNS tunnel %d ended with %v", tn.LocalID(), tn.Err())
			}
		}
		st := nw.Stats()
		t.Logf("network: %+v", st)
		if st.Lost == 0 || st.Duplicated == 0 || st.Reordered == 0 {
			t.Fatal("faults not exercised")
		}
		var retrans, dups uint64
		for _, tn := range lnsTunnels {
			s := tn.Stats()
			retrans += s.Retransmits
			dups += s.Duplicates
		}
		t.Logf("LNS retransmissions %d, duplicates acked again %d", retrans, dups)
		lns.close(t)
	})
}

// TestSCCRQFlood: 10,000 SCCRQs from random sources that never answer
// cannot grow the LNS beyond its half-open cap, and a real LAC gets its
// tunnel both during the flood and after it.
func TestSCCRQFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(99)
		nw.SetFaults(memnet.Faults{Delay: 2 * time.Millisecond})
		const halfOpen = 128
		lns := newPeer(t, nw, lnsAddr, Config{Limits: Limits{MaxHalfOpen: halfOpen}})
		lac := newPeer(t, nw, lacAddr, Config{})
		rng := rand.New(rand.NewPCG(1, 2))
		var maxTunnels atomic.Int64
		flood := func(n int, pace bool) {
			for i := range n {
				m := &l2tp.Message{Type: l2tp.MsgSCCRQ, ProtocolVersion: 1, HostName: "x", FramingCaps: 1,
					AssignedTunnelID: uint16(i | 1)}
				m.Set(l2tp.AVPProtocolVersion, l2tp.AVPHostName, l2tp.AVPFramingCapabilities, l2tp.AVPAssignedTunnelID)
				b, _ := m.Append(nil, 0, 0, 0, 0, nil)
				from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(rng.UintN(256)), byte(rng.UintN(256))}),
					uint16(1024+rng.UintN(60000)))
				lns.node.HandlePacket(b, from)
				if n := int64(len(lns.node.Tunnels())); n > maxTunnels.Load() {
					maxTunnels.Store(n)
				}
				if pace && i%10 == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
		// During: 1,000 SCCRQ/s while the LAC dials.
		done := make(chan struct{})
		go func() { flood(10000, true); close(done) }()
		time.Sleep(time.Second)
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		if err != nil {
			t.Fatalf("Dial during the flood: %v", err)
		}
		<-done
		// After: a burst, then a second LAC.
		flood(10000, false)
		lac2 := newPeer(t, nw, netip.MustParseAddrPort("198.18.0.3:1701"), Config{})
		s2, err := lac2.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		if err != nil {
			t.Fatalf("Dial after the flood: %v", err)
		}
		if m := maxTunnels.Load(); m > halfOpen+2 {
			t.Fatalf("%d tunnels at the peak, cap %d half-open + 2 real", m, halfOpen)
		}
		st := lns.node.Stats()
		t.Logf("evicted %d half-open tunnels, peak %d tunnels", st.HalfOpenEvicted, maxTunnels.Load())
		if st.HalfOpenEvicted < 20000-halfOpen-1000 {
			t.Fatalf("evicted only %d", st.HalfOpenEvicted)
		}
		if s.Stats().State != SnEstablished || s2.Stats().State != SnEstablished {
			t.Fatal("real sessions lost")
		}
		lac.close(t)
		lac2.close(t)
		lns.close(t)
	})
}

func TestSessionLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(5)
		lns := newPeer(t, nw, lnsAddr, Config{Limits: Limits{MaxSessionsPerTunnel: 3}})
		lac := newPeer(t, nw, lacAddr, Config{})
		for i := range 4 {
			_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
			var ce *CloseError
			if i < 3 && err != nil {
				t.Fatal(err)
			}
			if i == 3 && (!errors.As(err, &ce) || ce.Result.Code != l2tp.CDNNoFacilitiesTmp || ce.Result.Error != l2tp.ErrCodeResources) {
				t.Fatalf("4th call: %v", err)
			}
		}
		// The node-wide cap on the LAC side refuses locally.
		lac2 := newPeer(t, nw, netip.MustParseAddrPort("198.18.0.3:1701"), Config{Limits: Limits{MaxSessions: 1}})
		if _, err := lac2.node.Dial(context.Background(), lnsAddr, TunnelParams{Class: "x"}, CallParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := lac2.node.Dial(context.Background(), lnsAddr, TunnelParams{Class: "x"}, CallParams{}); !errors.Is(err, ErrLimit) {
			t.Fatalf("second session over MaxSessions=1: %v", err)
		}
		lac2.close(t)
		lac.close(t)
		lns.close(t)
	})
}

// BenchmarkTunnelSetup measures in-memory control connection set-up:
// SCCRQ/SCCRP/SCCCN plus one call, a new tunnel per iteration.
func BenchmarkTunnelSetup(b *testing.B) {
	nw := memnet.New(1)
	lns := newPeer(b, nw, lnsAddr, Config{Limits: Limits{MaxTunnels: 1 << 16, MaxTunnelsPerPeer: 1 << 16}})
	_ = lns
	lac := newPeer(b, nw, lacAddr, Config{Limits: Limits{MaxTunnels: 1 << 16}})
	b.ResetTimer()
	for i := range b.N {
		p := TunnelParams{Class: strconv.Itoa(i)} // distinct: no reuse
		if _, err := lac.node.Dial(context.Background(), lnsAddr, p, CallParams{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tunnels/s")
}

// BenchmarkSessionSetup measures ICRQ/ICRP/ICCN over one tunnel, 64 calls
// in flight.
func BenchmarkSessionSetup(b *testing.B) {
	nw := memnet.New(1)
	lns := newPeer(b, nw, lnsAddr, Config{})
	lac := newPeer(b, nw, lacAddr, Config{})
	_ = lns
	p := TunnelParams{RecvWindow: 256}
	if _, err := lac.node.Dial(context.Background(), lnsAddr, p, CallParams{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.SetParallelism(64)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := lac.node.Dial(context.Background(), lnsAddr, p, CallParams{})
			if err != nil {
				b.Error(err)
				return
			}
			if n.Add(1)%60000 == 0 {
				// Stay under 65535 sessions per tunnel.
				_ = s
			}
			s.Close(l2tp.Result{Code: l2tp.CDNAdmin})
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
