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
	d.shows.Add(&control.Command{Words: "aaa sessions", Help: "AAA sessions: unique id (Acct-Session-Id), user, address, idle time; the accounting spool's pending records",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			v := d.acctSessions()
			return reply(renderAAASessions(v), v, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "aaa servers", Help: "RADIUS servers: state, dead time left, requests, answers, retransmissions, timeouts, round-trip time",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			st := d.radiusStats()
			return reply(renderAAAServers(st, d.acctStats()), st, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "radius statistics", Help: "RADIUS packet counters over every server, and answers dropped by reason",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			st := d.radiusStats()
			return reply(renderRadiusStatistics(st, d.acctStats(), d.dynAuthStats()), st, asJSON)
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
func renderAAAServers(st []radius.ServerStats, acct *radius.AccountingStats) string {
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
		fmt.Fprintf(&b, "     Account: request %d, response %d\n", s.AcctRequests, s.AcctResponses)
	}
	if acct != nil {
		fmt.Fprintf(&b, "Accounting spool: %d sessions, %d octets, %d with records pending\n", acct.Records, acct.Bytes, acct.Pending)
		fmt.Fprintf(&b, "     Start: queued %d, sent %d, acknowledged %d\n", acct.QueuedStart, acct.SentStart, acct.AckedStart)
		fmt.Fprintf(&b, "     Interim: queued %d, sent %d, acknowledged %d\n", acct.QueuedInterim, acct.SentInterim, acct.AckedInterim)
		fmt.Fprintf(&b, "     Stop: queued %d, sent %d, acknowledged %d\n", acct.QueuedStop, acct.SentStop, acct.AckedStop)
		if acct.QueuedOn+acct.QueuedOff > 0 {
			fmt.Fprintf(&b, "     Accounting-On: queued %d, sent %d, acknowledged %d\n", acct.QueuedOn, acct.SentOn, acct.AckedOn)
			fmt.Fprintf(&b, "     Accounting-Off: queued %d, sent %d, acknowledged %d\n", acct.QueuedOff, acct.SentOff, acct.AckedOff)
		}
		fmt.Fprintf(&b, "     Retries %d, refused (spool full) %d, interims dropped %d, write errors %d\n", acct.Retries, acct.RefusedFull, acct.InterimsDropped, acct.WriteErrors)
	}
	if len(st) == 0 {
		b.WriteString("No RADIUS servers configured\n")
	}
	return b.String()
}

// renderRadiusStatistics prints `show radius statistics`: IOS's Auth./
// Acct./Both table, then the drops by reason (Message-Authenticator
// included).
func renderRadiusStatistics(st []radius.ServerStats, acctSt *radius.AccountingStats, da *radius.DynAuthStats) string {
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
	var acctRetries uint64
	if acctSt != nil {
		// Accounting records sent again after no server answered (the
		// servers' retransmission counters do not tell the ports apart).
		acctRetries = acctSt.Retries
	}
	row("Retransmissions", retrans, acctRetries)
	row("Number of Radius timeouts", timeouts, 0)
	fmt.Fprintf(&b, "%28s: %10d\n", "Access Accepts", accepts)
	fmt.Fprintf(&b, "%28s: %10d\n", "Access Rejects", rejects)
	fmt.Fprintf(&b, "%28s: %10d\n", "Access Challenges", challenges)
	fmt.Fprintf(&b, "%28s: %10d\n", "Average response delay(ms)", avg)
	b.WriteString("Dropped responses:\n")
	for _, r := range radius.DropReasons() {
		fmt.Fprintf(&b, "%28s: %10d\n", r, drops[r])
	}
	if acctSt != nil {
		fmt.Fprintf(&b, "%28s: %10d\n", "Accounting spool records", acctSt.Records)
		fmt.Fprintf(&b, "%28s: %10d\n", "Accounting records pending", acctSt.Pending)
	}
	if da != nil {
		b.WriteString("Dynamic authorization:\n")
		fmt.Fprintf(&b, "%28s: %10d %10d %10d\n", "Disconnect req/ACK/NAK", da.DisconnectRequests, da.DisconnectACKs, da.DisconnectNAKs)
		fmt.Fprintf(&b, "%28s: %10d %10d %10d\n", "CoA req/ACK/NAK", da.CoARequests, da.CoAACKs, da.CoANAKs)
		fmt.Fprintf(&b, "%28s: %10d\n", "duplicates", da.Duplicates)
		for _, r := range radius.DynAuthDropReasons() {
			fmt.Fprintf(&b, "%28s: %10d\n", "dropped "+r, da.Drops[r])
		}
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

var (
	descAcctRecords  = prometheus.NewDesc("vpdn_radius_accounting_records_total", "RADIUS accounting records by status type (start, interim, stop, accounting_on, accounting_off) and stage (queued, sent, acknowledged).", []string{"type", "stage"}, nil)
	descAcctRetries  = prometheus.NewDesc("vpdn_radius_accounting_retries_total", "Accounting records sent again after no server acknowledged them.", nil, nil)
	descAcctDropped  = prometheus.NewDesc("vpdn_radius_accounting_dropped_total", "Accounting records not spooled, by reason: spool_full (a Start refused), interim_superseded (or spool full), write_error.", []string{"reason"}, nil)
	descSpoolRecords = prometheus.NewDesc("vpdn_accounting_spool_records", "Sessions in the accounting spool (each with its pending records).", nil, nil)
	descSpoolPending = prometheus.NewDesc("vpdn_accounting_spool_pending", "Sessions in the accounting spool with a record not yet acknowledged.", nil, nil)
	descSpoolBytes   = prometheus.NewDesc("vpdn_accounting_spool_bytes", "Size of the accounting spool's files.", nil, nil)
	descCoARequests  = prometheus.NewDesc("vpdn_coa_requests_total", "RFC 5176 requests answered, by kind (disconnect, coa) and answer (ack, nak).", []string{"kind", "answer"}, nil)
	descCoADrops     = prometheus.NewDesc("vpdn_coa_drops_total", "RFC 5176 requests dropped, by reason.", []string{"reason"}, nil)
)

var radiusDescs = []*prometheus.Desc{descRadiusRequests, descRadiusAnswers, descRadiusRetrans, descRadiusTimeouts, descRadiusDrops, descRadiusRTT, descRadiusDead, descRadiusDeadN,
	descAcctRecords, descAcctRetries, descAcctDropped, descSpoolRecords, descSpoolPending, descSpoolBytes, descCoARequests, descCoADrops}

func (d *Daemon) acctStats() *radius.AccountingStats {
	if a := d.radiusAccounting(); a != nil {
		st := a.Stats()
		return &st
	}
	return nil
}

// collectAccounting exports the accounting spool's and the dynamic
// authorization server's counters.
func (d *Daemon) collectAccounting(ch chan<- prometheus.Metric) {
	cnt := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	if st := d.acctStats(); st != nil {
		for _, r := range []struct {
			typ                 string
			queued, sent, acked uint64
		}{{"start", st.QueuedStart, st.SentStart, st.AckedStart}, {"interim", st.QueuedInterim, st.SentInterim, st.AckedInterim}, {"stop", st.QueuedStop, st.SentStop, st.AckedStop},
			{"accounting_on", st.QueuedOn, st.SentOn, st.AckedOn}, {"accounting_off", st.QueuedOff, st.SentOff, st.AckedOff}} {
			cnt(descAcctRecords, r.queued, r.typ, "queued")
			cnt(descAcctRecords, r.sent, r.typ, "sent")
			cnt(descAcctRecords, r.acked, r.typ, "acknowledged")
		}
		cnt(descAcctRetries, st.Retries)
		cnt(descAcctDropped, st.RefusedFull, "spool_full")
		cnt(descAcctDropped, st.InterimsDropped, "interim_superseded")
		cnt(descAcctDropped, st.WriteErrors, "write_error")
		gauge(descSpoolRecords, float64(st.Records))
		gauge(descSpoolPending, float64(st.Pending))
		gauge(descSpoolBytes, float64(st.Bytes))
	}
	if da := d.dynAuthStats(); da != nil {
		cnt(descCoARequests, da.DisconnectACKs, "disconnect", "ack")
		cnt(descCoARequests, da.DisconnectNAKs, "disconnect", "nak")
		cnt(descCoARequests, da.CoAACKs, "coa", "ack")
		cnt(descCoARequests, da.CoANAKs, "coa", "nak")
		cnt(descCoADrops, da.Duplicates, "duplicate")
		for _, r := range radius.DynAuthDropReasons() {
			cnt(descCoADrops, da.Drops[r], r)
		}
	}
}

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
