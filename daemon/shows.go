package daemon

// The show commands of tunnels, sessions and users: each carrier's state
// turned into the neutral snapshots of package show, which renders them.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/vif"
)

// vpdnSnapshot is every carrier's tunnels and sessions, with what the
// access layer and the data plane know of each session.
func (d *Daemon) vpdnSnapshot() show.VPDN {
	var v show.VPDN
	rt := d.rt.Load()
	if rt == nil {
		v.Normalize()
		return v
	}
	byKey := map[dataplane.Key]access.View{}
	for _, s := range rt.access.Sessions() {
		vw := s.View()
		byKey[vw.Key] = vw
	}
	if rt.l2tp != nil {
		ts, ss := rt.l2tp.Node().Snapshot()
		names := map[uint16]string{}
		addrs := map[uint16]string{}
		for _, t := range ts {
			role := "LNS"
			if t.Initiator {
				role = "LAC"
			}
			names[t.LocalID], addrs[t.LocalID] = t.PeerName, t.Peer.Addr().String()
			v.Tunnels = append(v.Tunnels, show.Tunnel{Protocol: show.L2TP, LocalID: uint32(t.LocalID), RemoteID: uint32(t.RemoteID),
				LocalName: t.LocalName, RemoteName: t.PeerName, RemoteVendor: t.PeerVendor, State: t.State.Short(),
				StateName: t.State.String(), RemoteAddress: t.Peer.Addr().String(), RemotePort: t.Peer.Port(),
				Sessions: t.Sessions, Group: t.Class, Role: role, LastChange: t.Since,
				Control: show.ControlCounters{Sent: t.CtrlTx, Received: t.CtrlRx, Retransmitted: t.Retransmits,
					Duplicates: t.Duplicates, OutOfOrder: t.OutOfOrder, ZLBSent: t.ZLBTx, ZLBReceived: t.ZLBRx,
					HellosSent: t.HelloTx, CWND: t.CWND, PeerWindow: t.PeerWindow}})
		}
		for _, s := range ss {
			ses := show.Session{Protocol: show.L2TP, LocalID: uint32(s.LocalID), RemoteID: uint32(s.RemoteID),
				TunnelID: uint32(s.LocalTunnelID), RemoteTunnelID: uint32(s.RemoteTunnelID),
				RemoteName: names[s.LocalTunnelID], RemoteAddress: addrs[s.LocalTunnelID], User: s.Username,
				State: s.State.Short(), StateName: s.State.String(), LastChange: s.Since, UniqueID: s.UniqueID,
				Sequencing: s.Sequencing, CallingNumber: s.CallingNumber, CalledNumber: s.CalledNumber}
			if vw, ok := byKey[dataplane.L2TPv2Key(s.LocalTunnelID, s.LocalID)]; ok {
				ses.Interface = vw.Interface
				if vw.User != "" {
					ses.User = vw.User
				}
				if vw.Role == access.Client {
					ses.VCID = d.vcid(vw.Template)
				}
				ses.Counters = counters(vw.Counters)
			}
			v.Sessions = append(v.Sessions, ses)
		}
	}
	if rt.pptp != nil {
		d.pptpSnapshot(rt, &v, byKey)
	}
	d.v3TunnelSnapshot(rt, &v)
	// L2TPv3 sessions count among L2TP's, as on IOS: every established
	// pseudowire of an xconnect, with its attachment circuit for the
	// interface (its control connection, if signalled, is among the
	// tunnels above); PPP pseudowires come next, with their PPP session.
	for _, pw := range d.pwSnapshot() {
		if pw.State != "est" || pw.CircuitType == "PPP" {
			continue
		}
		v.Sessions = append(v.Sessions, show.Session{Protocol: show.L2TP, LocalID: pw.LocalID, RemoteID: pw.RemoteID,
			TunnelID: pw.TunnelID, RemoteTunnelID: pw.RemoteTunnelID, RemoteAddress: pw.RemoteAddress,
			Interface: pw.Interface, VCID: pw.VCID, State: pw.State, StateName: pw.StateName, LastChange: pw.LastChange,
			UniqueID: pw.UniqueID, Sequencing: pw.Sequencing != "off", Counters: pw.Counters})
	}
	d.v3PPPSnapshot(rt, &v, byKey)
	v.Normalize()
	return v
}

// pptpSnapshot adds the PPTP control connections (IOS's PPTP "tunnels")
// and calls to v.
func (d *Daemon) pptpSnapshot(rt *runtime, v *show.VPDN, byKey map[dataplane.Key]access.View) {
	group := ""
	if g := pptpGroup(d.Config()); g != nil {
		group = g.Name
	}
	node := rt.pptp.Node()
	for _, cs := range node.Snapshot() {
		role := "PAC"
		if cs.Role == pptp.RolePNS {
			role = "PNS"
		}
		v.Tunnels = append(v.Tunnels, show.Tunnel{Protocol: show.PPTP, LocalID: uint32(cs.ID), NoRemoteID: true,
			RemoteName: cs.PeerHostName, RemoteVendor: cs.PeerVendor, State: cs.State.Short(),
			StateName: cs.State.String(), RemoteAddress: cs.Peer.String(), LocalAddress: cs.Local.String(),
			Sessions: cs.Calls, Group: group, Role: role, LastChange: cs.Since, Created: cs.Created,
			Control: show.ControlCounters{Sent: cs.MsgsTx, Received: cs.MsgsRx, HellosSent: cs.EchoTx}})
	}
	for _, c := range node.Calls() {
		ses := show.Session{Protocol: show.PPTP, LocalID: uint32(c.LocalID), RemoteID: uint32(c.PeerID),
			TunnelID: uint32(c.ConnID), RemoteAddress: c.Peer.String(), State: c.State.Short(),
			StateName: c.State.String(), LastChange: c.Since}
		if vw, ok := byKey[dataplane.PPTPKey(c.LocalID)]; ok {
			ses.Interface, ses.User, ses.Counters = vw.Interface, vw.User, counters(vw.Counters)
			if e, ok := vw.Encap.(*dataplane.PPTPEncap); ok {
				f := e.Flow()
				rtt := f.RTT
				if f.StaticRTT != 0 {
					rtt = f.StaticRTT // static-rtt is the RTT in use
				}
				ses.Flow = &show.FlowControl{Sent: f.NextSeq - 1, Received: f.LastReceived, PeerAck: f.PeerAck,
					PeerWindow: int(f.PeerWindow), Unacked: int(f.Unacked), RTTMillis: uint32(rtt.Milliseconds()),
					AckTimeoutMillis: uint32(f.AckTimeout.Milliseconds()), Alarm: f.Alarm, Alarms: f.Alarms}
			}
		}
		v.Sessions = append(v.Sessions, ses)
	}
}

// vcid is the pseudowire VC ID of a configured Virtual-PPP interface.
func (d *Daemon) vcid(ifname string) uint32 {
	for _, i := range d.Config().Interfaces {
		if i.Name.String() == ifname && i.Pseudowire != nil {
			return i.Pseudowire.VCID
		}
	}
	return 0
}

func counters(c dataplane.Counters) show.Counters {
	return show.Counters{PacketsIn: c.RxPkts, BytesIn: c.RxBytes, PacketsOut: c.TxPkts, BytesOut: c.TxBytes,
		OutOfOrder: c.SeqDrops, Spoofed: c.SpoofDrops}
}

// users is every PPP session on a virtual interface.
func (d *Daemon) users() []show.User {
	out := []show.User{}
	rt := d.rt.Load()
	if rt == nil {
		return out
	}
	for _, s := range rt.access.Sessions() {
		out = append(out, userOf(s.View()))
	}
	return out
}

func secs(d time.Duration) int { return int(d / time.Second) }

func userOf(v access.View) show.User {
	u := show.User{Interface: v.Interface, LongName: v.LongName, Template: v.Template, Unnumbered: v.Unnumbered,
		User: v.User, Service: "PPPoVPDN", Protocol: v.Bearer.Protocol, Up: v.Up,
		Auth: authName(v.AuthPeer, v.AuthSelf), ConnectedAt: v.UpSince, Counters: counters(v.Counters),
		SessionTimeout: secs(v.Timeouts.Session), SessionLeft: secs(v.Timeouts.SessionLeft),
		IdleTimeout: secs(v.Timeouts.Idle), IdleFor: secs(v.Timeouts.IdleFor), InterimInterval: secs(v.Timeouts.Interim)}
	u.Hardware = "Virtual Access interface"
	if v.Role == access.Client {
		// Document 004: "User: LAC, line Vp1, service PPP".
		u.Hardware, u.Service = "Virtual PPP interface", "PPP"
	}
	if v.Local.IsValid() {
		u.LocalAddr, u.PeerAddr = v.Local.String(), v.Peer.String()
	}
	u.MTU = v.MTU
	u.FramedRoutes = prefixStrings(v.FramedRoutes)
	u.IPv6Prefixes = prefixStrings(v.IPv6Prefixes)
	u.DelegatedPrefixes = prefixStrings(v.DelegatedPrefixes)
	if x := v.IPv6; x != nil {
		u.IPv6 = &show.UserIPv6{LocalID: x.LocalID.String(), PeerID: x.PeerID.String(), LinkLocal: x.LinkLocal.String(),
			PeerLinkLocal: x.PeerLL.String(), PrefixSource: x.PrefixSource, Delegated: prefixStrings(x.Delegated),
			Applied: x.Applied, Error: x.Err, RAsSent: x.RAsSent, RSsReceived: x.RSsReceived, RSsSent: x.RSsSent,
			RAsReceived: x.RAsReceived, NDDropped: x.NDDropped, DHCPIn: x.DHCPIn, DHCPOut: x.DHCPOut, Client: v.Role == access.Client}
		if x.Prefix.IsValid() {
			u.IPv6.Prefix = x.Prefix.String()
		}
		for _, a := range x.Addrs {
			u.IPv6.Addresses = append(u.IPv6.Addresses, a.String())
		}
	}
	return u
}

func prefixStrings(ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// authName renders the authentication as IOS does: "MS CHAP V2 (<-->)"
// (mutual), "CHAP (<--)" (we authenticated the peer), "(-->)" (the peer
// authenticated us).
func authName(peer, self aaa.Method) string {
	name := func(m aaa.Method) string {
		switch m {
		case aaa.MSCHAPv2:
			return "MS CHAP V2"
		case aaa.MSCHAPv1:
			return "MS CHAP"
		}
		return m.String()
	}
	switch {
	case peer != 0 && self != 0:
		return name(peer) + " (<-->)"
	case peer != 0:
		return name(peer) + " (<--)"
	case self != 0:
		return name(self) + " (-->)"
	}
	return ""
}

func (d *Daemon) registerVPDNShows() {
	render := func(words string, opts []string, help string, f func(b *strings.Builder, v show.VPDN, all bool) any) {
		d.shows.Add(&control.Command{Words: words, Optional: opts, Help: help,
			Run: func(ctx context.Context, args, o []string, asJSON bool) (*control.Response, error) {
				v := d.vpdnSnapshot()
				var b strings.Builder
				data := f(&b, v, slices.Contains(o, "all"))
				return reply(b.String(), data, asJSON)
			}})
	}
	render("vpdn", nil, "VPDN tunnels and sessions of every protocol", func(b *strings.Builder, v show.VPDN, _ bool) any {
		show.WriteVPDN(b, v)
		return v
	})
	render("vpdn tunnel", []string{"all"}, "VPDN tunnels; all: in detail", func(b *strings.Builder, v show.VPDN, all bool) any {
		show.WriteTunnels(b, v, all)
		return v.Tunnels
	})
	render("vpdn session", []string{"all"}, "VPDN sessions; all: in detail", func(b *strings.Builder, v show.VPDN, all bool) any {
		show.WriteSessions(b, v, all)
		return v.Sessions
	})
	render("l2tun", nil, "L2TP tunnels and sessions", func(b *strings.Builder, v show.VPDN, _ bool) any {
		show.WriteL2Tun(b, v)
		return v.Filter(show.L2TP)
	})
	render("l2tun tunnel", []string{"all"}, "L2TP tunnels (L2TPv3 control connections included); all: in detail", func(b *strings.Builder, v show.VPDN, all bool) any {
		pws := d.pwSnapshot()
		show.WriteL2TunTunnelsV3(b, withoutPWs(v, pws), pws, all)
		return v.Filter(show.L2TP).Tunnels
	})
	render("l2tp tunnel", []string{"all"}, "L2TP tunnels (IOS's newer name of show l2tun tunnel); all: in detail", func(b *strings.Builder, v show.VPDN, all bool) any {
		pws := d.pwSnapshot()
		show.WriteL2TunTunnelsV3(b, withoutPWs(v, pws), pws, all)
		return v.Filter(show.L2TP).Tunnels
	})
	d.shows.Add(&control.Command{Words: "l2tun session", Optional: []string{"all"}, Help: "L2TP sessions (L2TPv3 pseudowires included); all: in detail",
		Run: func(ctx context.Context, args, o []string, asJSON bool) (*control.Response, error) {
			return d.sessionsReply(slices.Contains(o, "all"), asJSON)
		}})
	d.shows.Add(&control.Command{Words: "l2tp counters", Help: "L2TP control-plane counters: drops and refusals by reason, timeouts, half-open state",
		Run: func(ctx context.Context, args, o []string, asJSON bool) (*control.Response, error) {
			c := d.l2tpCounters()
			var b strings.Builder
			show.WriteL2TPCounters(&b, c)
			return reply(b.String(), c, asJSON)
		}})
	d.registerL2TPClears()
	d.registerPPTPClears()
}

// l2tpCounters is the L2TP node's counters for show l2tp counters (zero
// when L2TP is not served).
func (d *Daemon) l2tpCounters() show.L2TPCounters {
	var st l2tp.NodeStats
	if rt := d.rt.Load(); rt != nil && rt.l2tp != nil {
		st = rt.l2tp.Node().Stats()
	}
	c := show.L2TPCounters{Tunnels: st.Tunnels, HalfOpenTunnels: st.HalfOpen, Sessions: st.Sessions,
		HalfOpenSessions: st.HalfOpenSessions,
		Timeouts: []show.Counter{{Reason: "session-setup-timeout", Count: st.SessionSetupTimeouts},
			{Reason: "no-session-timeout", Count: st.NoSessionClosed}}}
	for _, x := range st.Drops() {
		c.Drops = append(c.Drops, show.Counter{Reason: x.Reason, Count: x.Count})
	}
	// The password throttle is the access layer's, for every carrier; its
	// refusals are listed here too, as the operators look for them
	// beside the control plane's drops.
	c.Drops = append(c.Drops, show.Counter{Reason: "auth-throttled", Count: d.throttle.Stats().Throttled})
	for _, x := range d.v3Drops() {
		c.Drops = append(c.Drops, show.Counter{Reason: x.Reason, Count: x.Count})
	}
	if setup, none := d.v3Timeouts(); setup+none > 0 {
		c.Timeouts = append(c.Timeouts, show.Counter{Reason: "v3-session-setup-timeout", Count: setup},
			show.Counter{Reason: "v3-no-session-timeout", Count: none})
	}
	// L2TP/IPsec: clear text from a peer the crypto map protects, and
	// datagrams to one whose SA is still being negotiated.
	if rt := d.rt.Load(); rt != nil && rt.l2tpESP != nil {
		st := rt.l2tpESP.Stats()
		c.Drops = append(c.Drops, show.Counter{Reason: "ipsec-cleartext", Count: st.Cleartext}, show.Counter{Reason: "ipsec-no-sa", Count: st.NoSA})
	}
	return c
}

func (d *Daemon) findUsers(match func(show.User) bool) []show.User {
	out := []show.User{}
	for _, u := range d.users() {
		if match(u) {
			out = append(out, u)
		}
	}
	return out
}

func (d *Daemon) registerUserShows() {
	d.shows.Add(&control.Command{Words: "caller user", Args: 1, Help: "a PPP user's session: interface, PPP state, addresses, counters",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			us := d.findUsers(func(u show.User) bool { return strings.EqualFold(u.User, args[0]) })
			if len(us) == 0 {
				return nil, fmt.Errorf("%% No user %q is connected", args[0])
			}
			var b strings.Builder
			show.WriteCallerUser(&b, us)
			return reply(b.String(), us, asJSON)
		}})
	ifShow := func(kind vif.Kind) runFunc {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			short, long := ifName(kind, args[0])
			us := d.findUsers(func(u show.User) bool { return u.Interface == short })
			if len(us) == 0 {
				return nil, fmt.Errorf("%% Interface %s does not exist", long)
			}
			var b strings.Builder
			show.WriteInterface(&b, us[0])
			return reply(b.String(), us[0], asJSON)
		}
	}
	d.shows.Add(&control.Command{Words: "interfaces virtual-access", Args: 1, Help: "a Virtual-Access interface: addresses, template, counters", Run: ifShow(vif.VirtualAccess)})
	d.shows.Add(&control.Command{Words: "interfaces virtual-ppp", Args: 1, Help: "a Virtual-PPP interface", Run: ifShow(vif.VirtualPPP)})
	d.shows.Add(&control.Command{Words: "ppp mppe virtual-access", Args: 1,
		Help: "MPPE of a Virtual-Access interface: mode, key strength, packets, CCP resets, coherency counts, key changes (never the keys)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			short, long := ifName(vif.VirtualAccess, args[0])
			m, ok := d.mppeOf(short, long)
			if !ok {
				return nil, fmt.Errorf("%% MPPE is not running on %s", long)
			}
			var b strings.Builder
			show.WriteMPPE(&b, []show.MPPE{m})
			return reply(b.String(), m, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "users", Help: "the PPP sessions on virtual interfaces",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			us := d.users()
			var b strings.Builder
			show.WriteUsers(&b, us)
			return reply(b.String(), us, asJSON)
		}})
	clearIf := func(kind vif.Kind) runFunc {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			short, long := ifName(kind, args[0])
			rt := d.rt.Load()
			var s *access.Session
			if rt != nil {
				s = rt.access.Lookup(short)
			}
			if s == nil {
				return nil, fmt.Errorf("%% Interface %s does not exist", long)
			}
			s.Close(access.CauseAdmin, "cleared by administrator")
			return &control.Response{OK: true, Text: long + " cleared\n"}, nil
		}
	}
	d.clears.Add(&control.Command{Words: "interface virtual-access", Args: 1, Help: "end the session of a Virtual-Access interface (CDN)", Run: clearIf(vif.VirtualAccess)})
	d.clears.Add(&control.Command{Words: "interface virtual-ppp", Args: 1, Help: "end the session of a Virtual-PPP interface; it redials", Run: clearIf(vif.VirtualPPP)})
}

// ifName is the short and long name of unit arg of kind k; a unit that
// is not a number gives names nothing matches.
func ifName(k vif.Kind, arg string) (short, long string) {
	n := 0
	if _, err := fmt.Sscanf(arg, "%d", &n); err != nil || n < 0 {
		return "", vif.LongName(arg)
	}
	return vif.Name(k, n)
}

type runFunc = func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error)

// mppeOf is the show ppp mppe snapshot of the session on interface short.
func (d *Daemon) mppeOf(short, long string) (show.MPPE, bool) {
	rt := d.rt.Load()
	if rt == nil {
		return show.MPPE{}, false
	}
	for _, s := range rt.access.Sessions() {
		vw := s.View()
		if vw.Interface != short || vw.MPPE == nil {
			continue
		}
		mv := vw.MPPE
		rx := mv.Rx
		return show.MPPE{Interface: short, LongName: long, Engine: "software", Bits: mv.Bits, Stateless: mv.Stateless,
			PacketsEncrypted: mv.Tx.Packets, PacketsDecrypted: rx.Packets,
			ResetsSent: rx.Resyncs, ResetsReceived: mv.Tx.Flushes,
			TxKeyChanges: mv.Tx.Rekeys, RxKeyChanges: rx.Rekeys,
			RxDropped:    rx.Discarded + rx.Late + rx.Short + rx.Compressed + rx.NotEncrypted + rx.NotFlushed + rx.Resyncs,
			RxOutOfOrder: rx.Late, RxMissed: rx.Lost,
			NextTxCoherency: mv.Tx.NextCoherency, NextRxCoherency: rx.NextCoherency}, true
	}
	return show.MPPE{}, false
}
