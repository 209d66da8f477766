package loadgen

// PPTP (RFC 2637) as the generator's carrier: the sessions are PC-style
// clients, each with a TCP control connection of its own to the server's
// port 1723 (§1.4), one Outgoing-Call-Request on it (we are the PNS on
// the wire, as Windows and pptp-linux are), and PPP as a client over the
// call's enhanced GRE. The GRE of every call shares one raw IP protocol
// 47 bind, demultiplexed by our call ID (§4.1) in the data plane; call
// IDs are unique per node, so one generator runs at most 65535 sessions.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/access"
	pptpc "github.com/vpdn/vpdn/carrier/pptp"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/transport"
)

// pptpClients is the PPTP side of a run: one carrier (one control-plane
// node) on one GRE bind.
type pptpClients struct {
	svc  *pptpc.Service
	gre  transport.Bind
	done chan struct{} // the GRE reader has returned
}

// newPPTP opens the GRE bind at the run's local address and the PPTP
// carrier in the client role on it.
func (g *gen) newPPTP(clk clock.Clock) error {
	cfg := g.cfg
	gre, err := cfg.Binds.ListenIP(47, cfg.Local.Addr())
	if err != nil {
		return fmt.Errorf("loadgen: GRE socket: %w", err)
	}
	total := cfg.Tunnels * cfg.Sessions
	// One call per control connection; the echo timer of §2.5 stays at its
	// default, as a client's does. The set-up timers follow Timeout.
	nc := pptp.Config{HostName: cfg.TunnelName, VendorName: "vpdn bench", MaxConns: total, MaxCallsPerConn: 1,
		SetupTimeout: cfg.Timeout, CallTimeout: cfg.Timeout}
	svc, err := pptpc.New(pptpc.Config{Role: pptp.RolePNS, GRE: gre, Plane: g.plane, Access: g.acc,
		Clock: clk, Logger: cfg.Logger, Node: nc})
	if err != nil {
		gre.Close()
		return fmt.Errorf("loadgen: %w", err)
	}
	p := &pptpClients{svc: svc, gre: gre, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := svc.Serve(); err != nil {
			g.log.Error("loadgen: GRE socket", "err", err)
		}
	}()
	g.pptp = p
	return nil
}

// dialPPTP opens the session's control connection and places its call
// (TCP connect, SCCRQ/SCCRP, OCRQ/OCRP), holding an opening slot for
// that; PPP then runs in the access layer, which reports the outcome.
// The latency counts from the TCP connect (s.start).
func (s *session) dialPPTP(ctx context.Context) {
	g := s.g
	s.startClock()
	dctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	as, err := g.pptp.dial(dctx, g.cfg.Binds, g.cfg.Local.Addr(), g.cfg.Server, g.profile(s))
	<-g.opening
	if err != nil {
		reason := ReasonPPTP
		switch {
		case ctx.Err() != nil:
			reason = ReasonCanceled
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pptp.ErrSetupTimeout):
			reason = ReasonTimeout
		}
		g.log.Debug("loadgen: PPTP call failed", "session", s.idx, "err", err)
		s.fail(reason)
		return
	}
	s.as.Store(as)
	if s.state.Load() == stFailed {
		// Canceled or timed out while the call was placed.
		as.Close(access.CauseAdmin, "canceled")
	}
}

// dial connects to server (port 1723 unless given) from local and places
// a call on a new control connection.
func (p *pptpClients) dial(ctx context.Context, binds transport.Factory, local netip.Addr, server netip.AddrPort, prof *access.Profile) (*access.Session, error) {
	conn, err := binds.DialTCP(ctx, local, server)
	if err != nil {
		return nil, err
	}
	from := local
	if ap, err := netip.ParseAddrPort(conn.LocalAddr().String()); err == nil {
		from = ap.Addr().Unmap()
	}
	// Service.Dial closes the stream when the control connection fails.
	return p.svc.Dial(ctx, conn, from, server.Addr(), prof)
}

// stop sends Stop-Control-Connection-Request (§2.3) on every control
// connection, behind the calls' CDNs, and waits up to wait for the
// replies before it drops what is left.
func (p *pptpClients) stop(wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p.svc.Close(ctx)
}

// close stops the GRE reader.
func (p *pptpClients) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.svc.Close(ctx) // a no-op after stop
	p.gre.Close()
	<-p.done
}
