package loadgen

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
)

// lossyLAC puts deterministic faults on the generator's binds: the first
// transmission of every ICRQ is lost (its §5.8 retransmission gets
// through, a second later) and every control message from the LNS is
// delivered twice.
type lossyLAC struct {
	costly
	mu      sync.Mutex
	dropped map[uint16]bool // Ns of the ICRQs whose first copy was lost, per LAC
}

func (f *lossyLAC) ListenUDP(a netip.AddrPort) (transport.Bind, error) {
	b, err := f.costly.ListenUDP(a)
	if err != nil {
		return nil, err
	}
	return &lossyBind{Bind: b, f: f}, nil
}

type lossyBind struct {
	transport.Bind
	f *lossyLAC
}

// controlType returns the Message Type of an L2TP control message (RFC
// 2661 §3.1: the T bit; §4.4.1: the first AVP is the Message Type), or
// -1 for a data message, a ZLB or a runt.
func controlType(p []byte) int {
	if len(p) < 20 || p[0]&0x80 == 0 {
		return -1
	}
	return int(binary.BigEndian.Uint16(p[18:20]))
}

func (b *lossyBind) WriteTo(p []byte, to netip.AddrPort) error {
	if controlType(p) == 10 { // ICRQ
		ns := binary.BigEndian.Uint16(p[8:10])
		b.f.mu.Lock()
		first := !b.f.dropped[ns]
		b.f.dropped[ns] = true
		b.f.mu.Unlock()
		if first {
			return nil
		}
	}
	return b.Bind.WriteTo(p, to)
}

func (b *lossyBind) ServeBatch(h func([]byte, netip.AddrPort), flush func()) error {
	return b.Bind.ServeBatch(func(p []byte, from netip.AddrPort) {
		h(p, from)
		if controlType(p) >= 0 {
			h(p, from)
		}
	}, flush)
}

// TestRunLossySetupTimer: calls placed one at a time on one tunnel, each
// ICRQ lost once, so each call takes a retransmission (about a second)
// and the last calls start long after they were dispatched. The set-up
// timeout bounds a session's set-up, from its ICRQ to IPCP open, not its
// wait for the tunnel: a timer armed at dispatch used to fire just after
// the late calls' LCP began and failed them as timeouts.
func TestRunLossySetupTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New(1)
		lns, err := newTestLNS(net, lnsAddr, &fakeAAA{user: "lac1", password: "lacpass"}, []aaa.Method{aaa.CHAP}, lnsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer lns.close()
		f := &lossyLAC{costly: costly{net, 20 * time.Microsecond}, dropped: map[uint16]bool{}}
		cfg := Config{Tunnels: 1, Sessions: 12, MaxDialsPerTunnel: 1, User: "lac1", Password: "lacpass",
			Timeout: 5 * time.Second, Server: lnsAddr, Binds: f, Local: netip.MustParseAddrPort("198.18.0.1:0")}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", rep)
		if rep.Established != 12 || rep.Failed != 0 {
			t.Fatalf("established %d, failed %d (%v), want 12 and 0", rep.Established, rep.Failed, rep.FailuresByReason)
		}
		// Each call waited one retransmission: the latency is the call's,
		// not the queue's.
		if rep.Max >= cfg.Timeout || rep.P50 < time.Second {
			t.Errorf("latency p50 %v max %v: want a retransmission (1 s) per call, under the %v timeout", rep.P50, rep.Max, cfg.Timeout)
		}
	})
}
