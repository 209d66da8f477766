package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/escape"
	"github.com/vpdn/vpdn/proto/l2tp"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

// DefaultNoSessionTimeout is IOS's "l2tp tunnel timeout no-session"
// default: a tunnel a LAC opened to us is closed 10 s after its last
// session (or its establishment without one).
const DefaultNoSessionTimeout = 10 * time.Second

// l2tpLimits are the node's bounds from the configuration.
func l2tpLimits(c *config.Config) l2tp.Limits {
	return l2tp.Limits{MaxSessions: c.VPDN.SessionLimit, MaxTunnelsPerPeer: c.VPDN.TunnelLimitPerPeer}
}

// incomingTunnel matches a peer's SCCRQ to a vpdn-group: the one whose
// terminate-from hostname is the peer's host name, else one without
// terminate-from. No match refuses the tunnel (StopCCN result 4).
func (d *Daemon) incomingTunnel(peer netip.AddrPort, hostname string) (l2tp.TunnelParams, bool) {
	c := d.Config()
	var match *config.VPDNGroup
	for _, g := range c.VPDN.Groups {
		if g.Accept == nil || (g.Accept.Protocol != config.ProtoL2TP && g.Accept.Protocol != config.ProtoAny) {
			continue
		}
		switch {
		case g.TerminateFrom != "" && strings.EqualFold(g.TerminateFrom, hostname):
			match = g
		case g.TerminateFrom == "" && match == nil:
			match = g
		}
		if match != nil && match.TerminateFrom != "" {
			break
		}
	}
	if match == nil {
		d.vpdnLog.Info("L2TP tunnel refused: no vpdn-group accepts it", "peer", peer.String(), "hostname", escape.Text(hostname))
		d.failures.add("no-vpdn-group")
		return l2tp.TunnelParams{}, false
	}
	p := l2tp.TunnelParams{
		LocalName:  firstNonEmpty(match.LocalName, c.Hostname, "vpdn"),
		RemoteName: match.TerminateFrom,
		RecvWindow: uint16(match.TunnelRecvWindow),
		Class:      match.Name,
	}
	if match.TunnelHello != 0 {
		p.Hello = time.Duration(match.TunnelHello) * time.Second
	}
	// l2tp tunnel timeout no-session: IOS's default is 10 s; never (-1)
	// keeps sessionless tunnels.
	switch ns := match.TunnelTimeoutNoSession; {
	case ns > 0:
		p.NoSessionTimeout = time.Duration(ns) * time.Second
	case ns == 0:
		p.NoSessionTimeout = DefaultNoSessionTimeout
	}
	if match.SessionTimeoutSetup > 0 {
		p.SessionSetupTimeout = time.Duration(match.SessionTimeoutSetup) * time.Second
	}
	authOn := match.TunnelAuth == nil || *match.TunnelAuth
	if authOn {
		secret := match.TunnelPassword
		if secret.IsZero() {
			// IOS: without a tunnel password, the username entry of the
			// peer's host name is the secret.
			if u := c.User(hostname); u != nil {
				secret = u.Password
			}
		}
		if !secret.IsZero() {
			pw, err := clearSecret(secret)
			if err != nil {
				d.vpdnLog.Error("L2TP tunnel refused: tunnel password does not decode", "group", match.Name, "err", err)
				return l2tp.TunnelParams{}, false
			}
			p.Secret = []byte(pw)
		}
	}
	return p, true
}

func (d *Daemon) registerL2TPClears() {
	// match3 picks L2TPv3 control connections (dynamic xconnects'); nil
	// picks none.
	clearTunnels := func(match func(l2tp.TunnelStats) bool, match3 func(l2tp.V3ConnStats) bool) (*control.Response, error) {
		rt := d.rt.Load()
		v3 := d.v3Conns()
		if rt == nil || (rt.l2tp == nil && len(v3) == 0) {
			return nil, errors.New("% No active L2TP tunnels")
		}
		n := 0
		if rt.l2tp != nil {
			for _, t := range rt.l2tp.Node().Tunnels() {
				if match(t.Stats()) {
					t.Close(wl2tp.Result{Code: wl2tp.StopClear, Message: "cleared by administrator"})
					n++
				}
			}
		}
		for _, c := range v3 {
			if match3 != nil && match3(c.Stats()) {
				c.Close(wl2tp.Result{Code: wl2tp.StopClear, Message: "cleared by administrator"})
				n++
			}
		}
		if n == 0 {
			return nil, errors.New("% No such L2TP tunnel")
		}
		return &control.Response{OK: true, Text: fmt.Sprintf("%d tunnel(s) cleared\n", n)}, nil
	}
	d.clears.Add(&control.Command{Words: "vpdn tunnel l2tp all", Help: "clear every L2TP tunnel (StopCCN)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearTunnels(func(l2tp.TunnelStats) bool { return true }, func(l2tp.V3ConnStats) bool { return true })
		}})
	byID := func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		// 32 bits: an L2TPv3 Control Connection ID (RFC 3931 §3.2.1).
		id, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%% Invalid tunnel id %q; expected a number 1-4294967295", args[0])
		}
		return clearTunnels(func(t l2tp.TunnelStats) bool { return uint64(t.LocalID) == id },
			func(c l2tp.V3ConnStats) bool { return uint64(c.LocalID) == id })
	}
	d.clears.Add(&control.Command{Words: "vpdn tunnel l2tp id", Args: 1, Help: "clear one L2TP tunnel by its local ID", Run: byID})
	d.clears.Add(&control.Command{Words: "l2tun tunnel id", Args: 1, Help: "clear one L2TP tunnel by its local ID", Run: byID})
	d.clears.Add(&control.Command{Words: "vpdn tunnel l2tp remote-name", Args: 1, Help: "clear the L2TP tunnels to the peer of that host name",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearTunnels(func(t l2tp.TunnelStats) bool { return strings.EqualFold(t.PeerName, args[0]) },
				func(c l2tp.V3ConnStats) bool { return strings.EqualFold(c.PeerName, args[0]) })
		}})
}
