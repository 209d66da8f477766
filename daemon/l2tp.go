package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/transport"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

// l2tpService is the L2TP control plane of the daemon: one node on the
// L2TP UDP socket. Incoming tunnels are matched against the vpdn-groups
// that accept L2TP, with the configuration in force at the time.
//
// What is wired today: tunnels and sessions (LNS role) with group
// matching, tunnel authentication and the l2tp settings of the group;
// show and clear. PPP on the sessions and the LAC role (Virtual-PPP
// pseudowires, vpdn dial) come with the remote-access work.
type l2tpService struct {
	node  *l2tp.Node
	plane *dataplane.Plane
	conn  *transport.UDPConn
	done  chan struct{}

	// shared is the one interface of all Virtual-Access sessions in
	// shared mode (vpdn virtual-access shared); nil otherwise.
	shared       *netif.TUN
	sharedCancel context.CancelFunc
	sharedMu     sync.Mutex
	sharedLocal  map[netip.Addr]bool // local addresses added to it
	sharedRoutes *netif.LinkRoutes   // the host routes to its peers
}

// SharedInterface is the name of the shared Virtual-Access interface.
const SharedInterface = "vpdn0"

// l2tpWanted reports whether the configuration serves L2TP at all: a
// vpdn-group accepting it (with vpdn enable), or a Virtual-PPP pseudowire.
func l2tpWanted(c *config.Config) bool {
	if slices.ContainsFunc(c.Interfaces, func(i *config.Interface) bool { return i.Pseudowire != nil }) {
		return true
	}
	if !c.VPDNEnabled {
		return false
	}
	return slices.ContainsFunc(c.VPDNGroups, func(g *config.VPDNGroup) bool {
		return g.Accept != nil && (g.Accept.Protocol == config.ProtoL2TP || g.Accept.Protocol == config.ProtoAny)
	})
}

func (d *Daemon) startL2TP() error {
	c := d.Config()
	if !l2tpWanted(c) {
		return nil
	}
	listen := c.L2TPListen
	if listen == "" {
		listen = "0.0.0.0:1701"
	}
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("l2tp listen %q: %w", listen, err)
	}
	conn, err := transport.ListenUDP(ap)
	if err != nil {
		return err
	}
	node, err := l2tp.NewNode(l2tp.Config{
		Conn:          conn,
		Logger:        d.vpdnLog,
		Incoming:      d.incomingTunnel,
		OnSessionUp:   d.lnsSessionUp,
		OnSessionDown: d.sessionDown,
	})
	if err != nil {
		conn.Close()
		return err
	}
	// The data plane sits in front of the node: control messages go to
	// the node, data messages to the sessions.
	plane := dataplane.New(conn, node.HandlePacket, d.vpdnLog)
	s := &l2tpService{node: node, plane: plane, conn: conn, done: make(chan struct{})}
	if c.SharedAccess {
		tun, err := netif.CreateTUNOffload(SharedInterface)
		if err == nil {
			err = netif.SetMTU(SharedInterface, defaultL2TPMTU)
		}
		if err == nil {
			err = netif.SetUp(SharedInterface)
		}
		var routes *netif.LinkRoutes
		if err == nil {
			routes, err = netif.OpenLinkRoutes(SharedInterface)
		}
		if err != nil {
			if tun != nil {
				tun.Close()
			}
			conn.Close()
			return fmt.Errorf("shared interface %s: %w", SharedInterface, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.shared, s.sharedCancel, s.sharedLocal, s.sharedRoutes = tun, cancel, map[netip.Addr]bool{}, routes
		go plane.RunShared(ctx, tun)
	}
	go func() {
		defer close(s.done)
		rx := plane.NewReceiver()
		if err := conn.ServeBatch(rx.HandlePacket, rx.Flush); err != nil {
			d.log.Error("l2tp socket", "err", err)
		}
	}()
	d.l2tp.Store(s)
	gso, gro := conn.Offloads()
	d.log.Info("l2tp listening", "address", conn.LocalAddr().String(), "udp-gso", gso, "udp-gro", gro)
	return nil
}

func (d *Daemon) stopL2TP() {
	// PPP sessions first: their interfaces go, CDNs are sent.
	var wg sync.WaitGroup
	for _, r := range d.ra.list() {
		wg.Add(1)
		go func() { defer wg.Done(); r.end("shutting down") }()
	}
	wg.Wait()
	s := d.l2tp.Swap(nil)
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.node.Close(ctx) // StopCCN (result 6, shutting down) on every tunnel
	s.conn.Close()
	<-s.done
	if s.shared != nil {
		s.sharedCancel()
		s.shared.Close()
		s.sharedRoutes.Close()
	}
}

// incomingTunnel matches a peer's SCCRQ to a vpdn-group: the one whose
// terminate-from hostname is the peer's host name, else one without
// terminate-from. No match refuses the tunnel (StopCCN result 4).
func (d *Daemon) incomingTunnel(peer netip.AddrPort, hostname string) (l2tp.TunnelParams, bool) {
	c := d.Config()
	var match *config.VPDNGroup
	for _, g := range c.VPDNGroups {
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
		d.vpdnLog.Info("L2TP tunnel refused: no vpdn-group accepts it", "peer", peer.String(), "hostname", hostname)
		d.failures.add("no vpdn-group")
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

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// ---- show and clear ---------------------------------------------------

func (d *Daemon) snapshot() ([]l2tp.TunnelStats, []l2tp.SessionStats) {
	s := d.l2tp.Load()
	if s == nil {
		return nil, nil
	}
	return s.node.Snapshot()
}

func hms(since time.Time) string {
	s := int(time.Since(since).Seconds())
	if since.IsZero() || s < 0 {
		s = 0
	}
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

const tunnelHeader = "LocTunID   RemTunID   Remote Name   State  Remote Address  Sessn L2TP Class/\n" +
	"                                                           Count VPDN Group\n"

const sessionHeader = "LocID      RemID      TunID      Username, Intf/      State  Last Chg Uniq ID\n" +
	"                                 Vcid, Circuit\n"

func writeTunnelTable(b *strings.Builder, ts []l2tp.TunnelStats) {
	b.WriteString(tunnelHeader)
	for _, t := range ts {
		fmt.Fprintf(b, "%-10d %-10d %-13s %-6s %-15s %-5d %s\n", t.LocalID, t.RemoteID, trunc(t.PeerName, 13),
			t.State.Short(), t.Peer.Addr(), t.Sessions, trunc(t.Class, 15))
	}
}

func (d *Daemon) writeSessionTable(b *strings.Builder, ss []l2tp.SessionStats) {
	b.WriteString(sessionHeader)
	for _, s := range ss {
		user := d.sessionLabel(dataplane.Key{Tunnel: s.LocalTunnelID, Session: s.LocalID})
		if user == "" {
			user = s.Username
		}
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(b, "%-10d %-10d %-10d %-20s %-6s %s %d\n", s.LocalID, s.RemoteID, s.LocalTunnelID,
			trunc(user, 20), s.State.Short(), hms(s.Since), s.LocalID)
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (d *Daemon) registerL2TPShows() {
	show := func(words string, opts []string, help string, run func(all bool, asJSON bool) (*control.Response, error)) {
		d.shows.Add(&control.Command{Words: words, Optional: opts, Help: help,
			Run: func(ctx context.Context, args, o []string, asJSON bool) (*control.Response, error) {
				return run(slices.Contains(o, "all"), asJSON)
			}})
	}
	tunnels := func(all, asJSON bool, title string) (*control.Response, error) {
		ts, ss := d.snapshot()
		var b strings.Builder
		if len(ts) == 0 {
			b.WriteString("% No active L2TP tunnels\n")
			return reply(b.String(), ts, asJSON)
		}
		fmt.Fprintf(&b, "%s Total tunnels %d sessions %d\n\n", title, len(ts), len(ss))
		if !all {
			writeTunnelTable(&b, ts)
			return reply(b.String(), ts, asJSON)
		}
		for _, t := range ts {
			writeTunnelDetail(&b, t)
		}
		return reply(b.String(), ts, asJSON)
	}
	sessions := func(all, asJSON bool, title string) (*control.Response, error) {
		ts, ss := d.snapshot()
		var b strings.Builder
		if len(ss) == 0 {
			b.WriteString("% No active L2TP sessions\n")
			return reply(b.String(), ss, asJSON)
		}
		fmt.Fprintf(&b, "%s Total tunnels %d sessions %d\n\n", title, len(ts), len(ss))
		if !all {
			d.writeSessionTable(&b, ss)
			return reply(b.String(), ss, asJSON)
		}
		for _, s := range ss {
			writeSessionDetail(&b, s, ts)
		}
		return reply(b.String(), ss, asJSON)
	}
	show("l2tun tunnel", []string{"all"}, "L2TP tunnels; all: in detail", func(all, j bool) (*control.Response, error) {
		return tunnels(all, j, "L2TP Tunnel Information")
	})
	show("l2tun session", []string{"all"}, "L2TP sessions; all: in detail", func(all, j bool) (*control.Response, error) {
		return sessions(all, j, "L2TP Session Information")
	})
	// Bare show l2tun: as on IOS, the tunnel summary and then the session
	// summary, each under its own title, from one snapshot.
	show("l2tun", nil, "L2TP tunnels, then L2TP sessions", func(_, asJSON bool) (*control.Response, error) {
		ts, ss := d.snapshot()
		var b strings.Builder
		if len(ts) == 0 {
			b.WriteString("% No active L2TP tunnels\n")
		} else {
			fmt.Fprintf(&b, "L2TP Tunnel Information Total tunnels %d sessions %d\n\n", len(ts), len(ss))
			writeTunnelTable(&b, ts)
			b.WriteString("\n")
			if len(ss) == 0 {
				b.WriteString("% No active L2TP sessions\n")
			} else {
				fmt.Fprintf(&b, "L2TP Session Information Total tunnels %d sessions %d\n\n", len(ts), len(ss))
				d.writeSessionTable(&b, ss)
			}
		}
		return reply(b.String(), map[string]any{"tunnels": ts, "sessions": ss}, asJSON)
	})
	show("vpdn tunnel", []string{"all"}, "VPDN tunnels", func(all, j bool) (*control.Response, error) {
		return tunnels(all, j, "L2TP Tunnel Information")
	})
	show("vpdn session", []string{"all"}, "VPDN sessions", func(all, j bool) (*control.Response, error) {
		return sessions(all, j, "L2TP Session Information")
	})
	show("vpdn", nil, "VPDN tunnels and sessions", func(all, asJSON bool) (*control.Response, error) {
		ts, ss := d.snapshot()
		var b strings.Builder
		if len(ts) == 0 {
			b.WriteString("% No active L2TP tunnels\n")
		} else {
			fmt.Fprintf(&b, "L2TP Tunnel and Session Information Total tunnels %d sessions %d\n\n", len(ts), len(ss))
			writeTunnelTable(&b, ts)
			if len(ss) > 0 {
				b.WriteString("\n")
				d.writeSessionTable(&b, ss)
			}
		}
		return reply(b.String(), map[string]any{"tunnels": ts, "sessions": ss}, asJSON)
	})
	clearTunnels := func(match func(l2tp.TunnelStats) bool) (*control.Response, error) {
		s := d.l2tp.Load()
		if s == nil {
			return nil, errors.New("% No active L2TP tunnels")
		}
		n := 0
		for _, t := range s.node.Tunnels() {
			if match(t.Stats()) {
				t.Close(wl2tp.Result{Code: 1, Message: "cleared by administrator"})
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
			return clearTunnels(func(l2tp.TunnelStats) bool { return true })
		}})
	byID := func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		id, err := strconv.ParseUint(args[0], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%% Invalid tunnel id %q; expected a number 1-65535", args[0])
		}
		return clearTunnels(func(t l2tp.TunnelStats) bool { return t.LocalID == uint16(id) })
	}
	d.clears.Add(&control.Command{Words: "vpdn tunnel l2tp id", Args: 1, Help: "clear one L2TP tunnel by its local ID", Run: byID})
	d.clears.Add(&control.Command{Words: "l2tun tunnel id", Args: 1, Help: "clear one L2TP tunnel by its local ID", Run: byID})
	d.clears.Add(&control.Command{Words: "vpdn tunnel l2tp remote-name", Args: 1, Help: "clear the L2TP tunnels to the peer of that host name",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			return clearTunnels(func(t l2tp.TunnelStats) bool { return strings.EqualFold(t.PeerName, args[0]) })
		}})
}

func writeTunnelDetail(b *strings.Builder, t l2tp.TunnelStats) {
	up := "down"
	if t.State.Short() == "est" {
		up = "up"
	}
	fmt.Fprintf(b, "Tunnel id %d is %s, remote id is %d, %d active sessions\n", t.LocalID, up, t.RemoteID, t.Sessions)
	fmt.Fprintf(b, "  Tunnel state is %s, time since change %s\n", t.State, hms(t.Since))
	fmt.Fprintf(b, "  Remote tunnel name is %s\n", t.PeerName)
	fmt.Fprintf(b, "    Internet Address %s, port %d\n", t.Peer.Addr(), t.Peer.Port())
	if t.PeerVendor != "" {
		fmt.Fprintf(b, "    Remote vendor name is %s\n", t.PeerVendor)
	}
	fmt.Fprintf(b, "  Local tunnel name is %s\n", t.LocalName)
	role := "LNS"
	if t.Initiator {
		role = "LAC"
	}
	fmt.Fprintf(b, "  Tunnel role is %s\n", role)
	if t.Class != "" {
		fmt.Fprintf(b, "  VPDN group for tunnel is %s\n", t.Class)
	}
	fmt.Fprintf(b, "  Control messages: %d sent, %d received, %d retransmitted, %d duplicates, %d out of order\n", t.CtrlTx, t.CtrlRx, t.Retransmits, t.Duplicates, t.OutOfOrder)
	fmt.Fprintf(b, "  ZLB ACKs: %d sent, %d received; HELLOs sent %d\n", t.ZLBTx, t.ZLBRx, t.HelloTx)
	fmt.Fprintf(b, "  Congestion window %d, remote receive window %d\n\n", t.CWND, t.PeerWindow)
}

func writeSessionDetail(b *strings.Builder, s l2tp.SessionStats, ts []l2tp.TunnelStats) {
	var t l2tp.TunnelStats
	for _, x := range ts {
		if x.LocalID == s.LocalTunnelID {
			t = x
		}
	}
	up := "down"
	if s.State.Short() == "est" {
		up = "up"
	}
	fmt.Fprintf(b, "Session id %d is %s, tunnel id %d\n", s.LocalID, up, s.LocalTunnelID)
	fmt.Fprintf(b, "Remote session id is %d, remote tunnel id %d\n", s.RemoteID, s.RemoteTunnelID)
	fmt.Fprintf(b, "Remote tunnel name is %s\n", t.PeerName)
	fmt.Fprintf(b, "  Internet address is %s\n", t.Peer.Addr())
	fmt.Fprintf(b, "  Session state is %s, time since change %s\n", s.State, hms(s.Since))
	fmt.Fprintf(b, "    %d Packets sent, %d received\n", s.TxPkts, s.RxPkts)
	fmt.Fprintf(b, "    %d Bytes sent, %d received\n", s.TxBytes, s.RxBytes)
	b.WriteString("  Receive packets dropped:\n")
	fmt.Fprintf(b, "    out-of-order:             %d\n", s.SeqDrops)
	fmt.Fprintf(b, "    no receiver:              %d\n", s.NoReceiver)
	fmt.Fprintf(b, "    total:                    %d\n", s.SeqDrops+s.NoReceiver)
	if s.Username != "" {
		fmt.Fprintf(b, "  Proxy authentication user is %s\n", s.Username)
	}
	if s.Sequencing {
		b.WriteString("  Sequencing is on\n\n")
	} else {
		b.WriteString("  Sequencing is off\n\n")
	}
}

// L2TPAddr returns the address the L2TP socket is bound to (zero when L2TP
// is not served).
func (d *Daemon) L2TPAddr() netip.AddrPort {
	s := d.l2tp.Load()
	if s == nil {
		return netip.AddrPort{}
	}
	return s.conn.LocalAddr()
}
