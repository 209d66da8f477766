package daemon

// Dialer-initiated PPTP client tunnels (document 004's PPTP router
// client): `interface Dialer N` with `dialer vpdn` and `dialer pool P`
// dials through the vpdn-group whose request-dialin is `pool-member P`
// and `protocol pptp`: a control connection to its initiate-to address
// (TCP 1723), an outgoing call, and PPP as a client on the Dialer
// interface, with MPPE when the interface says `ppp encrypt mppe`. The
// session is redialled when it drops.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vpdn/vpdn/access"
	pptpc "github.com/vpdn/vpdn/carrier/pptp"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/proto/pptp"
)

// dialerGroup is the request-dialin vpdn-group that serves Dialer ifc
// (its `dialer pool` is the group's pool-member), if any.
func dialerGroup(c *config.Config, ifc *config.Interface) *config.VPDNGroup {
	if ifc.Name.Kind != config.IfDialer || !ifc.Dialer.VPDN || ifc.Dialer.Pool == 0 || ifc.Shutdown || !c.VPDN.Enabled {
		return nil
	}
	for _, g := range c.VPDN.Groups {
		if g.Request != nil && g.Request.PoolMember == ifc.Dialer.Pool && len(g.InitiateTo) > 0 {
			return g
		}
	}
	return nil
}

// pptpDialers returns the Dialer interfaces that dial PPTP.
func pptpDialers(c *config.Config) []*config.Interface {
	var out []*config.Interface
	for _, ifc := range c.Interfaces {
		if g := dialerGroup(c, ifc); g != nil && g.Request.Protocol == config.ProtoPPTP {
			out = append(out, ifc)
		}
	}
	return out
}

// startPPTPClient makes the PPTP service of the client role (the PNS on
// the wire, as a PC client is) on a protocol-47 bind.
func (d *Daemon) startPPTPClient(rt *runtime, c *config.Config) error {
	if rt.pptp != nil {
		return errors.New("pptp: a PPTP client (interface Dialer) and a PPTP tunnel server in one configuration are not supported yet")
	}
	gre, err := d.opts.Binds.ListenIP(47, netip.IPv4Unspecified())
	if err != nil {
		return fmt.Errorf("pptp: GRE socket: %w", err)
	}
	// static-rtt: one value for the service, the first PPTP dialer's group's.
	var rtt time.Duration
	for _, ifc := range pptpDialers(c) {
		if g := dialerGroup(c, ifc); g != nil && g.PPTPStaticRTT != 0 {
			rtt = time.Duration(g.PPTPStaticRTT) * time.Millisecond
			break
		}
	}
	svc, err := pptpc.New(pptpc.Config{Role: pptp.RolePNS, GRE: gre, Plane: rt.plane, Access: rt.access,
		Clock: d.opts.Clock, Logger: d.vpdnLog, Node: pptp.Config{HostName: c.Hostname, VendorName: "vpdn"}, StaticRTT: rtt})
	if err != nil {
		gre.Close()
		return err
	}
	rt.pptp, rt.pptpGRE, rt.pptpDone = svc, gre, make(chan struct{})
	go func() {
		defer close(rt.pptpDone)
		if err := svc.Serve(); err != nil {
			d.log.Error("pptp GRE socket", "err", err)
		}
	}()
	return nil
}

// runDialer keeps the PPTP session of a Dialer interface up: dial, run
// PPP, redial after it drops, until ctx ends.
func (d *Daemon) runDialer(ctx context.Context, rt *runtime, ifc *config.Interface) {
	d.keepDialing(ctx, func(ctx context.Context) (*access.Session, error) { return d.dialPPTP(ctx, rt, ifc) },
		func(err error) { d.vpdnLog.Error("Dialer dial failed", "interface", ifc.Name.String(), "err", err) })
}

func (d *Daemon) dialPPTP(ctx context.Context, rt *runtime, ifc *config.Interface) (*access.Session, error) {
	c := d.Config()
	g := dialerGroup(c, ifc)
	if g == nil {
		return nil, errors.New("no request-dialin vpdn-group for its dialer pool")
	}
	prof, err := d.profile(c, ifc, access.Client)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	peer := g.InitiateTo[0].Addr
	conn, err := d.opts.Binds.DialTCP(dctx, g.SourceIP, netip.AddrPortFrom(peer, 1723))
	if err != nil {
		return nil, fmt.Errorf("pptp: %w", err)
	}
	local := g.SourceIP
	if ap, err := netip.ParseAddrPort(conn.LocalAddr().String()); err == nil {
		local = ap.Addr().Unmap()
	}
	s, err := rt.pptp.Dial(dctx, conn, local, peer, prof)
	if err != nil {
		return nil, fmt.Errorf("pptp: %w", err)
	}
	return s, nil
}
