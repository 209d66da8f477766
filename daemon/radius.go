package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/aaa/radius"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/clock"
)

// radiusConfig turns the RADIUS section of the configuration into the
// client's: the group "radius" of every radius server and radius-server
// host in order, and each aaa group server radius. Server values fall back
// to the radius-server defaults (key, timeout, retransmit).
func radiusConfig(c *config.Config) (radius.Config, error) {
	r := c.AAA.RADIUS
	var rc radius.Config
	if r == nil {
		return rc, nil
	}
	globalKey, err := clearSecret(r.Key)
	if err != nil {
		return rc, fmt.Errorf("radius-server key: %w", err)
	}
	server := func(s *config.RadiusServer, what string) (radius.ServerConfig, error) {
		sc := radius.ServerConfig{Name: s.Name, Addr: s.Addr, AuthPort: uint16(s.AuthPort), AcctPort: uint16(s.AcctPort),
			Timeout: time.Duration(r.Timeout) * time.Second, Retransmit: r.Retransmit}
		if s.Timeout != 0 {
			sc.Timeout = time.Duration(s.Timeout) * time.Second
		}
		if s.Retransmit >= 0 {
			sc.Retransmit = s.Retransmit
		}
		sc.Secret = globalKey
		if !s.Key.IsZero() {
			k, err := clearSecret(s.Key)
			if err != nil {
				return sc, fmt.Errorf("line %d: %s: key: %w", s.Line, what, err)
			}
			sc.Secret = k
		}
		return sc, nil
	}
	all := radius.GroupConfig{Name: "radius"}
	for _, s := range r.Servers {
		sc, err := server(s, "radius server "+s.Name)
		if err != nil {
			return rc, err
		}
		all.Servers = append(all.Servers, sc)
	}
	for _, h := range r.Hosts {
		sc, err := server(h, "radius-server host "+h.Addr.String())
		if err != nil {
			return rc, err
		}
		all.Servers = append(all.Servers, sc)
	}
	rc.Groups = append(rc.Groups, all)
	for _, g := range r.Groups {
		gc := radius.GroupConfig{Name: g.Name}
		for _, m := range g.Members {
			var s *config.RadiusServer
			switch {
			case m.Server != "":
				s = r.RadiusServerByName(m.Server)
			case m.Private != nil:
				s = m.Private
			default:
				s = r.HostByAddr(m.Host, m.AuthPort, m.AcctPort)
			}
			if s == nil {
				continue // config validation refuses this
			}
			sc, err := server(s, "aaa group server radius "+g.Name)
			if err != nil {
				return rc, err
			}
			gc.Servers = append(gc.Servers, sc)
		}
		rc.Groups = append(rc.Groups, gc)
	}
	rc.Deadtime = time.Duration(r.Deadtime) * time.Minute
	// NAS-IP-Address: the source interface's address, else the address
	// L2TP is served on; the sockets bind to the source interface's.
	if r.SourceInterface != nil {
		if ifc := c.Interface(*r.SourceInterface); ifc != nil && ifc.Address.IsValid() {
			rc.Source = ifc.Address.Addr()
		}
	}
	rc.NAS.IP = rc.Source
	if !rc.NAS.IP.IsValid() && c.VPDN.L2TPListen != "" {
		if ap, err := netip.ParseAddrPort(c.VPDN.L2TPListen); err == nil && !ap.Addr().IsUnspecified() {
			rc.NAS.IP = ap.Addr()
		} else if a, err := netip.ParseAddr(c.VPDN.L2TPListen); err == nil && !a.IsUnspecified() {
			rc.NAS.IP = a
		}
	}
	rc.NAS.Identifier = c.Hostname
	if rc.NAS.Identifier == "" {
		rc.NAS.Identifier = "vpdn"
	}
	return rc, nil
}

// radiusGroups configures the daemon's RADIUS client for c (making it on
// first use) and returns the server groups for the method lists.
func (d *Daemon) radiusGroups(c *config.Config) (map[string]aaa.Authenticator, error) {
	rc, err := radiusConfig(c)
	if err != nil {
		return nil, err
	}
	d.radiusMu.Lock()
	defer d.radiusMu.Unlock()
	if c.AAA.RADIUS == nil {
		if d.radius != nil {
			// Keep the client (and its counters) but with no servers.
			if err := d.radius.SetConfig(rc); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	if d.radius == nil {
		rc.Listen = func(a netip.AddrPort) (radius.Bind, error) {
			b, err := d.opts.Binds.ListenUDP(a)
			if err != nil {
				return nil, err
			}
			return b, nil
		}
		rc.Clock = radiusClock{d.opts.Clock}
		rc.Logger = d.log
		rc.Debug = d.opts.Debug.Logger(d.log, "radius")
		cl, err := radius.New(rc)
		if err != nil {
			return nil, err
		}
		d.radius = cl
	} else if err := d.radius.SetConfig(rc); err != nil {
		return nil, err
	}
	groups := map[string]aaa.Authenticator{}
	for _, g := range rc.Groups {
		groups[g.Name] = d.radius.Group(g.Name)
	}
	return groups, nil
}

// radiusClient returns the RADIUS client, nil if none was configured.
func (d *Daemon) radiusClient() *radius.Client {
	d.radiusMu.Lock()
	defer d.radiusMu.Unlock()
	return d.radius
}

// radiusClock adapts the daemon's clock to the RADIUS client's.
type radiusClock struct{ c clock.Clock }

func (c radiusClock) Now() time.Time { return c.c.Now() }

func (c radiusClock) NewTimer(d time.Duration) radius.Timer {
	t := &clockTimer{ch: make(chan time.Time, 1)}
	t.t = c.c.AfterFunc(d, func() {
		select {
		case t.ch <- c.c.Now():
		default:
		}
	})
	return t
}

type clockTimer struct {
	t  clock.Timer
	ch chan time.Time
}

func (t *clockTimer) C() <-chan time.Time { return t.ch }
func (t *clockTimer) Stop() bool          { return t.t.Stop() }

func (d *Daemon) registerRadiusShows() {
	d.shows.Add(&control.Command{Words: "aaa servers", Help: "RADIUS servers: state, dead time left, requests, answers, retransmissions, timeouts, round-trip time",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			st := d.radiusStats()
			return reply(renderAAAServers(st), st, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "radius statistics", Help: "RADIUS packet counters over every server, and answers dropped by reason",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			st := d.radiusStats()
			return reply(renderRadiusStatistics(st), st, asJSON)
		}})
}

func (d *Daemon) radiusStats() []radius.ServerStats {
	if c := d.radiusClient(); c != nil {
		return c.Stats()
	}
	return []radius.ServerStats{}
}

func ms(t time.Duration) int64 { return t.Milliseconds() }

// renderAAAServers prints `show aaa servers` in IOS's layout.
func renderAAAServers(st []radius.ServerStats) string {
	var b strings.Builder
	for i, s := range st {
		fmt.Fprintf(&b, "RADIUS: id %d, priority %d, host %s, auth-port %d, acct-port %d\n", i+1, i+1, s.Address, s.AuthPort, s.AcctPort)
		if s.Name != "" {
			fmt.Fprintf(&b, "     Server name: %s\n", s.Name)
		}
		if len(s.Groups) > 0 {
			fmt.Fprintf(&b, "     Groups: %s\n", strings.Join(s.Groups, ", "))
		}
		if s.Dead {
			fmt.Fprintf(&b, "     State: current DEAD, dead time left %s\n", s.DeadLeft.Round(time.Second))
		} else {
			b.WriteString("     State: current UP\n")
		}
		fmt.Fprintf(&b, "     Dead: count %d, deadtime %s\n", s.DeadCount, s.Deadtime)
		fmt.Fprintf(&b, "     Authen: request %d, timeouts %d, retransmission %d\n", s.AuthRequests, s.Timeouts, s.Retransmissions)
		fmt.Fprintf(&b, "             Response: accept %d, reject %d, challenge %d\n", s.Accepts, s.Rejects, s.Challenges)
		fmt.Fprintf(&b, "             Response: dropped %d, time %dms (last %dms)\n", s.Dropped(), ms(s.RTTAverage), ms(s.RTTLast))
		fmt.Fprintf(&b, "     Account: request %d, response %d (accounting to RADIUS is later work)\n", s.AcctRequests, s.AcctResponses)
	}
	if len(st) == 0 {
		b.WriteString("No RADIUS servers configured\n")
	}
	return b.String()
}

// renderRadiusStatistics prints `show radius statistics`: IOS's Auth./
// Acct./Both table, then the drops by reason (Message-Authenticator
// included).
func renderRadiusStatistics(st []radius.ServerStats) string {
	var auth, acct, accepts, rejects, challenges, acctResp, timeouts, retrans uint64
	var rttSum time.Duration
	var rttN int64
	drops := map[string]uint64{}
	for _, s := range st {
		auth += s.AuthRequests
		acct += s.AcctRequests
		accepts += s.Accepts
		rejects += s.Rejects
		challenges += s.Challenges
		acctResp += s.AcctResponses
		timeouts += s.Timeouts
		retrans += s.Retransmissions
		if s.RTTAverage > 0 {
			rttSum += s.RTTAverage
			rttN++
		}
		for k, v := range s.Drops {
			drops[k] += v
		}
	}
	var avg int64
	if rttN > 0 {
		avg = ms(rttSum / time.Duration(rttN))
	}
	authResp := accepts + rejects + challenges
	var b strings.Builder
	row := func(name string, a, c uint64) {
		fmt.Fprintf(&b, "%28s: %10d %10d %10d\n", name, a, c, a+c)
	}
	fmt.Fprintf(&b, "%28s  %10s %10s %10s\n", "", "Auth.", "Acct.", "Both")
	row("Requests sent", auth, acct)
	row("Total responses seen", authResp, acctResp)
	row("Retransmissions", retrans, 0)
	row("Number of Radius timeouts", timeouts, 0)
	fmt.Fprintf(&b, "%28s: %10d\n", "Access Accepts", accepts)
	fmt.Fprintf(&b, "%28s: %10d\n", "Access Rejects", rejects)
	fmt.Fprintf(&b, "%28s: %10d\n", "Access Challenges", challenges)
	fmt.Fprintf(&b, "%28s: %10d\n", "Average response delay(ms)", avg)
	b.WriteString("Dropped responses:\n")
	for _, r := range radius.DropReasons() {
		fmt.Fprintf(&b, "%28s: %10d\n", r, drops[r])
	}
	return b.String()
}

var (
	descRadiusRequests = prometheus.NewDesc("vpdn_radius_requests_total", "RADIUS requests sent per server and port, retransmissions included.", []string{"server", "port"}, nil)
	descRadiusAnswers  = prometheus.NewDesc("vpdn_radius_responses_total", "Verified RADIUS answers per server, by code.", []string{"server", "code"}, nil)
	descRadiusRetrans  = prometheus.NewDesc("vpdn_radius_retransmissions_total", "RADIUS retransmissions per server.", []string{"server"}, nil)
	descRadiusTimeouts = prometheus.NewDesc("vpdn_radius_timeouts_total", "RADIUS requests a server answered none of the transmissions of.", []string{"server"}, nil)
	descRadiusDrops    = prometheus.NewDesc("vpdn_radius_drops_total", "Datagrams from RADIUS servers dropped, by reason.", []string{"server", "reason"}, nil)
	descRadiusRTT      = prometheus.NewDesc("vpdn_radius_rtt_seconds", "Average round-trip time of a RADIUS server's answers.", []string{"server"}, nil)
	descRadiusDead     = prometheus.NewDesc("vpdn_radius_server_dead", "1 while a RADIUS server is marked dead (radius-server deadtime).", []string{"server"}, nil)
	descRadiusDeadN    = prometheus.NewDesc("vpdn_radius_dead_total", "Times a RADIUS server was marked dead.", []string{"server"}, nil)
)

var radiusDescs = []*prometheus.Desc{descRadiusRequests, descRadiusAnswers, descRadiusRetrans, descRadiusTimeouts, descRadiusDrops, descRadiusRTT, descRadiusDead, descRadiusDeadN}

// collectRadius exports the RADIUS servers' counters.
func (d *Daemon) collectRadius(ch chan<- prometheus.Metric) {
	for _, s := range d.radiusStats() {
		srv := fmt.Sprintf("%s:%d", s.Address, s.AuthPort)
		c := func(desc *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append([]string{srv}, labels...)...)
		}
		c(descRadiusRequests, s.AuthRequests, "auth")
		c(descRadiusRequests, s.AcctRequests, "acct")
		c(descRadiusAnswers, s.Accepts, "accept")
		c(descRadiusAnswers, s.Rejects, "reject")
		c(descRadiusAnswers, s.Challenges, "challenge")
		c(descRadiusAnswers, s.AcctResponses, "accounting")
		c(descRadiusRetrans, s.Retransmissions)
		c(descRadiusTimeouts, s.Timeouts)
		for _, r := range radius.DropReasons() {
			c(descRadiusDrops, s.Drops[r], r)
		}
		c(descRadiusDeadN, s.DeadCount)
		ch <- prometheus.MustNewConstMetric(descRadiusRTT, prometheus.GaugeValue, s.RTTAverage.Seconds(), srv)
		dead := 0.0
		if s.Dead {
			dead = 1
		}
		ch <- prometheus.MustNewConstMetric(descRadiusDead, prometheus.GaugeValue, dead, srv)
	}
}
