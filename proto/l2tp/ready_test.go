package l2tp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// TestReadyBeforeICCN: a dialling owner learns the session's IDs and peer
// from CallParams.Ready before the ICCN goes out, so it can install the
// data path before the LNS (which starts PPP at ICCN) sends a frame; the
// LNS's owner learns them in OnCall, before the ICRP.
func TestReadyBeforeICCN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(11)
		calls := make(chan SessionInfo, 1)
		lns := newPeer(t, nw, lnsAddr, Config{OnCall: func(c *Call) {
			calls <- c.Session.Info()
			c.Accept()
		}})
		lac := newPeer(t, nw, lacAddr, Config{})
		var ready []SessionInfo
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{
			Ready: func(s *Session, in SessionInfo) { ready = append(ready, in) },
		})
		if err != nil {
			t.Fatal(err)
		}
		got := s.Info()
		if len(ready) != 1 || ready[0].RemoteSessionID != got.RemoteSessionID || ready[0].LocalSessionID != got.LocalSessionID ||
			ready[0].Peer != lnsAddr || ready[0].RemoteTunnelID != got.RemoteTunnelID || ready[0].RemoteSessionID == 0 {
			t.Fatalf("Ready %+v, session %+v", ready, got)
		}
		in := <-calls
		if in.Peer != lacAddr || in.RemoteSessionID != got.LocalSessionID || in.RemoteTunnelID != got.LocalTunnelID {
			t.Fatalf("OnCall info %+v, LAC %+v", in, got)
		}
		lac.close(t)
		lns.close(t)
	})
}

// TestOfferedSessionDown: a call offered to OnCall that ends before it is
// established (refused, or cleared by the peer while the owner was still
// deciding) is reported to OnSessionDown: the owner may hold a data path
// for it.
func TestOfferedSessionDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(12)
		downs := make(chan error, 2)
		pending := make(chan *Call, 2)
		lns := newPeer(t, nw, lnsAddr, Config{
			OnCall:        func(c *Call) { pending <- c },
			OnSessionDown: func(s *Session, err error) { downs <- err },
		})
		lac := newPeer(t, nw, lacAddr, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := lac.node.Dial(ctx, lnsAddr, TunnelParams{}, CallParams{})
			errc <- err
		}()
		c := <-pending
		c.Reject(l2tp.Result{Code: l2tp.CDNNoFacilitiesTmp})
		var ce *CloseError
		if err := <-downs; !errors.As(err, &ce) || ce.Remote || ce.Result.Code != l2tp.CDNNoFacilitiesTmp {
			t.Fatalf("refused call reported with %v", err)
		}
		if err := <-errc; !errors.As(err, &ce) || !ce.Remote {
			t.Fatalf("LAC's Dial: %v", err)
		}
		// The peer gives up while the owner decides: the LAC's Dial is
		// canceled.
		go func() {
			_, err := lac.node.Dial(ctx, lnsAddr, TunnelParams{}, CallParams{})
			errc <- err
		}()
		<-pending
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled Dial: %v", err)
		}
		// The LAC had no session ID of ours to address a CDN to: the
		// LNS's set-up timeout ends the call, and it is reported.
		if err := <-downs; !errors.Is(err, ErrSetupTimeout) {
			t.Fatalf("abandoned call reported with %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}

// TestManyCallsAnsweredInOnCall: calls answered from within OnCall, 300 at
// once on one tunnel, all come up (the answer is applied when OnCall
// returns, not posted back to the tunnel's own goroutine).
func TestManyCallsAnsweredInOnCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(13)
		var ups atomic.Int64
		lns := newPeer(t, nw, lnsAddr, Config{OnCall: func(c *Call) { c.Accept() },
			OnSessionUp: func(*Session) { ups.Add(1) }})
		lac := newPeer(t, nw, lacAddr, Config{})
		p := TunnelParams{RecvWindow: 512}
		if _, err := lac.node.Dial(context.Background(), lnsAddr, p, CallParams{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 300 {
			wg.Go(func() {
				if _, err := lac.node.Dial(context.Background(), lnsAddr, p, CallParams{}); err != nil {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if failed.Load() != 0 || ups.Load() != 301 {
			t.Fatalf("%d calls failed, %d up on the LNS, want 301", failed.Load(), ups.Load())
		}
		lac.close(t)
		lns.close(t)
	})
}
