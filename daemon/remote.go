package daemon

// Client-initiated tunnels (document 001): interface Virtual-PPP N with a
// pseudowire dials its LNS, runs PPP as a client and, once IPCP is up, has
// its interface with the negotiated address and the `ip route ...
// Virtual-PPPN` routes; it redials when the session drops.

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/proto/l2tp"
)

// runVirtualPPP keeps the client-initiated session of a Virtual-PPP
// interface up: dial, run PPP, redial after it drops, until ctx ends.
func (d *Daemon) runVirtualPPP(ctx context.Context, rt *runtime, ifc *config.Interface) {
	d.keepDialing(ctx, func(ctx context.Context) (*access.Session, error) { return d.dialVirtualPPP(ctx, rt, ifc) },
		func(err error) {
			d.vpdnLog.Error("Virtual-PPP dial failed", "interface", ifc.Name.String(), "peer", ifc.Pseudowire.Peer.String(), "err", err)
		})
}

// keepDialing keeps a client session up until ctx ends: dial, wait for
// the session to end, dial again two seconds later; after a failed dial,
// back off from 1 to 30 s. A dial failure is logged and counted.
func (d *Daemon) keepDialing(ctx context.Context, dial func(context.Context) (*access.Session, error), failed func(error)) {
	backoff := time.Second
	for ctx.Err() == nil {
		s, err := dial(ctx)
		if err != nil {
			failed(err)
			d.failures.add("dial")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		select {
		case <-ctx.Done():
			s.Close(access.CauseShutdown, "shutting down")
			<-s.Done()
			return
		case <-s.Done():
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (d *Daemon) dialVirtualPPP(ctx context.Context, rt *runtime, ifc *config.Interface) (*access.Session, error) {
	c := d.Config()
	pw := ifc.Pseudowire
	p := l2tp.TunnelParams{LocalName: firstNonEmpty(c.Hostname, "vpdn")}
	call := l2tp.CallParams{}
	if pc := c.PWClassByName(pw.PWClass); pc != nil {
		if lc := c.L2TPClassByName(pc.L2TPClass); lc != nil {
			p.LocalName = firstNonEmpty(lc.Hostname, p.LocalName)
			p.Hidden = lc.Hidden
			p.Retransmit = l2tp.RetransmitParams{
				InitialRetries: lc.RetransInitial, Retries: lc.RetransRetries,
				TimeoutMin: time.Duration(lc.RetransTimeoutMin) * time.Second,
				TimeoutMax: time.Duration(lc.RetransTimeoutMax) * time.Second,
			}
			if lc.TimeoutSetup != 0 {
				p.SetupTimeout = time.Duration(lc.TimeoutSetup) * time.Second
			}
			p.RecvWindow = uint16(lc.ReceiveWindow)
			if lc.Hello != 0 {
				p.Hello = time.Duration(lc.Hello) * time.Second
			}
			if lc.Authentication && !lc.Password.IsZero() {
				s, err := clearSecret(lc.Password)
				if err != nil {
					return nil, err
				}
				p.Secret = []byte(s)
			}
			p.Class = lc.Name
		}
		call.Sequencing = pc.Sequencing != "" || pw.Sequencing != ""
	}
	prof, err := d.profile(c, ifc, access.Client)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s, err := rt.l2tp.Dial(dctx, netip.AddrPortFrom(pw.Peer, 1701), p, call, prof)
	if err != nil {
		return nil, fmt.Errorf("l2tp: %w", err)
	}
	return s, nil
}
