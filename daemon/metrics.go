package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/wire/mppe"
)

// failureCounter counts session set-up failures by reason (the VPDN-MIB
// idea of document 000; per user they are in show vpdn history failure).
type failureCounter struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (f *failureCounter) add(reason string) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]uint64{}
	}
	f.m[reason]++
	f.mu.Unlock()
}

func (f *failureCounter) snapshot() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]uint64, len(f.m))
	for k, v := range f.m {
		out[k] = v
	}
	return out
}

// collector exports the daemon's state at scrape time: nothing is counted
// twice and the data path is not touched.
type collector struct{ d *Daemon }

var (
	descTunnels   = prometheus.NewDesc("vpdn_l2tp_tunnels", "L2TP tunnels by state.", []string{"state"}, nil)
	descSessions  = prometheus.NewDesc("vpdn_l2tp_sessions", "L2TP sessions by state.", []string{"state"}, nil)
	descPPP       = prometheus.NewDesc("vpdn_ppp_sessions", "PPP sessions by interface type and whether the network protocol is up.", []string{"role", "up"}, nil)
	descPackets   = prometheus.NewDesc("vpdn_session_packets_total", "Frames carried by the PPP sessions now up (IP and PPP control).", []string{"direction"}, nil)
	descBytes     = prometheus.NewDesc("vpdn_session_bytes_total", "Bytes of the frames carried by the PPP sessions now up.", []string{"direction"}, nil)
	descDrops     = prometheus.NewDesc("vpdn_dataplane_drops_total", "Packets the data plane dropped, by reason.", []string{"reason"}, nil)
	descFailures  = prometheus.NewDesc("vpdn_setup_failures_total", "Session and tunnel set-ups that failed, by reason.", []string{"reason"}, nil)
	descPool      = prometheus.NewDesc("vpdn_pool_addresses", "Addresses of ip local pools.", []string{"pool", "state"}, nil)
	descV6Pool    = prometheus.NewDesc("vpdn_ipv6_pool_prefixes", "Prefixes of ipv6 local pools.", []string{"pool", "state"}, nil)
	descNDDrops   = prometheus.NewDesc("vpdn_ipv6_nd_drops_total", "Neighbor Discovery (Router Solicitations and Advertisements) and DHCPv6 messages from sessions dropped, by reason.", []string{"reason"}, nil)
	descExhausted = prometheus.NewDesc("vpdn_pool_exhausted_total", "Allocations refused because the pool was full.", []string{"pool"}, nil)
	descReloads   = prometheus.NewDesc("vpdn_config_reloads_total", "Configuration reloads by result.", []string{"result"}, nil)
	descCtlDrops  = prometheus.NewDesc("vpdn_l2tp_control_drops_total", "L2TP control messages dropped or refused, by reason (show l2tp counters).", []string{"reason"}, nil)
	descCtlEvents = prometheus.NewDesc("vpdn_l2tp_control_timeouts_total", "L2TP half-open sessions and sessionless tunnels closed by their timeouts.", []string{"timeout"}, nil)
	descHalfOpen  = prometheus.NewDesc("vpdn_l2tp_half_open", "L2TP tunnels and sessions the peer opened that are not established yet.", []string{"kind"}, nil)

	// The authentication throttle and lockout (package aaa).
	descAuthFailures  = prometheus.NewDesc("vpdn_aaa_auth_failures_total", "PPP authentications rejected, throttled ones included.", nil, nil)
	descAuthThrottled = prometheus.NewDesc("vpdn_aaa_auth_throttled_total", "PPP authentications refused unchecked because the peer (or the user at that peer) was blocked after repeated failures.", nil, nil)
	descAuthBlocks    = prometheus.NewDesc("vpdn_aaa_auth_blocks_total", "Blocks the authentication throttle imposed on a peer or a user at a peer.", nil, nil)
	descAuthLogDrops  = prometheus.NewDesc("vpdn_aaa_auth_failure_log_suppressed_total", "Authentication failure log lines the rate limit dropped.", nil, nil)
	descAuthKeys      = prometheus.NewDesc("vpdn_aaa_throttle_keys", "Keys the authentication throttle holds, by table.", []string{"table"}, nil)
	descLockedUsers   = prometheus.NewDesc("vpdn_aaa_locked_users", "Local users locked out by aaa local authentication attempts max-fail.", nil, nil)

	// PPTP (RFC 2637): control connections are IOS's PPTP tunnels, calls
	// its sessions.
	descPPTPTunnels    = prometheus.NewDesc("vpdn_pptp_tunnels", "PPTP control connections by state.", []string{"state"}, nil)
	descPPTPSessions   = prometheus.NewDesc("vpdn_pptp_sessions", "PPTP calls by state.", []string{"state"}, nil)
	descPPTPCtlDrops   = prometheus.NewDesc("vpdn_pptp_control_drops_total", "PPTP control messages and connections dropped or refused, by reason.", []string{"reason"}, nil)
	descPPTPTimeouts   = prometheus.NewDesc("vpdn_pptp_control_timeouts_total", "PPTP control connections and calls ended by a timer, by timer.", []string{"timer"}, nil)
	descPPTPAcks       = prometheus.NewDesc("vpdn_pptp_acks_total", "Enhanced GRE acknowledgments of the PPTP calls now up: sent on data (piggybacked), sent alone, received.", []string{"kind"}, nil)
	descPPTPOverWindow = prometheus.NewDesc("vpdn_pptp_over_window_total", "GRE packets of the PPTP calls now up sent beyond the peer's receive window.", nil, nil)
	descPPTPAlarms     = prometheus.NewDesc("vpdn_pptp_flow_alarms_total", "Flow alarms raised on the PPTP calls now up.", nil, nil)
	descPPTPAlarmsOn   = prometheus.NewDesc("vpdn_pptp_flow_alarm_calls", "PPTP calls whose flow alarm is raised now.", nil, nil)

	// MPPE (RFC 3078), summed over the sessions now up, whatever carries them.
	descMPPESessions = prometheus.NewDesc("vpdn_mppe_sessions", "Sessions running MPPE, by key length and mode.", []string{"bits", "mode"}, nil)
	descMPPEPackets  = prometheus.NewDesc("vpdn_mppe_packets_total", "Packets MPPE encrypted (out) and decrypted (in) on the sessions now up.", []string{"direction"}, nil)
	descMPPEKeys     = prometheus.NewDesc("vpdn_mppe_key_changes_total", "MPPE session key changes on the sessions now up.", []string{"direction"}, nil)
	descMPPEFlushes  = prometheus.NewDesc("vpdn_mppe_flushes_total", "MPPE RC4 re-initialisations: the sender's for a peer's CCP Reset-Request (out), the receiver's on a flushed packet (in).", []string{"direction"}, nil)
	descMPPEResyncs  = prometheus.NewDesc("vpdn_mppe_resyncs_total", "Losses on stateful MPPE links that asked the peer for a CCP Reset-Request.", nil, nil)
	descMPPEMissed   = prometheus.NewDesc("vpdn_mppe_missed_packets_total", "Packets the MPPE coherency count skipped (lost before they arrived).", nil, nil)
	descMPPEDrops    = prometheus.NewDesc("vpdn_mppe_drops_total", "Received packets MPPE dropped, by reason.", []string{"reason"}, nil)
	// Counted by the access layer over every session it ran, not only
	// those up now: a fallback is an event to alert on.
	descMPPEFallbacks = prometheus.NewDesc("vpdn_mppe_fallbacks_total", "Sessions whose MPPE fell back from stateful to stateless (the PPTP flow-control alarm, this end's or the peer's).", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTunnels, descSessions, descPPP, descPackets, descBytes, descDrops, descFailures, descPool, descV6Pool, descNDDrops, descExhausted, descReloads, descCtlDrops, descCtlEvents, descHalfOpen,
		descPPTPTunnels, descPPTPSessions, descPPTPCtlDrops, descPPTPTimeouts, descPPTPAcks, descPPTPOverWindow, descPPTPAlarms, descPPTPAlarmsOn,
		descMPPESessions, descMPPEPackets, descMPPEKeys, descMPPEFlushes, descMPPEResyncs, descMPPEMissed, descMPPEDrops,
		descAuthFailures, descAuthThrottled, descAuthBlocks, descAuthLogDrops, descAuthKeys, descLockedUsers, descMPPEFallbacks} {
		ch <- d
	}
	for _, d := range radiusDescs {
		ch <- d
	}
	for _, d := range cryptoDescs {
		ch <- d
	}
}

// counterSet is a list of labelled counter values, sent in its order.
type counterSet []struct {
	label string
	n     uint64
}

func (cs counterSet) send(ch chan<- prometheus.Metric, d *prometheus.Desc) {
	for _, c := range cs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(c.n), c.label)
	}
}

// pptpSums are the GRE flow numbers of the PPTP calls and the MPPE
// counters of the sessions, summed at scrape time from their snapshots.
type pptpSums struct {
	flow     dataplane.PPTPFlow
	alarmsOn int
	mppe     map[[2]string]int // bits, mode
	tx, rx   mppe.Stats
}

func (p *pptpSums) add(v access.View) {
	if e, ok := v.Encap.(*dataplane.PPTPEncap); ok {
		f := e.Flow()
		p.flow.AcksPiggybacked += f.AcksPiggybacked
		p.flow.AcksAlone += f.AcksAlone
		p.flow.AcksReceived += f.AcksReceived
		p.flow.OverWindow += f.OverWindow
		p.flow.Alarms += f.Alarms
		if f.Alarm {
			p.alarmsOn++
		}
	}
	m := v.MPPE
	if m == nil {
		return
	}
	mode := "stateful"
	if m.Stateless {
		mode = "stateless"
	}
	p.mppe[[2]string{strconv.Itoa(m.Bits), mode}]++
	t, r := &p.tx, &p.rx
	t.Packets += m.Tx.Packets
	t.Rekeys += m.Tx.Rekeys
	t.Flushes += m.Tx.Flushes
	r.Packets += m.Rx.Packets
	r.Rekeys += m.Rx.Rekeys
	r.Flushes += m.Rx.Flushes
	r.Lost += m.Rx.Lost
	r.Resyncs += m.Rx.Resyncs
	r.Discarded += m.Rx.Discarded
	r.Late += m.Rx.Late
	r.Short += m.Rx.Short
	r.Compressed += m.Rx.Compressed
	r.NotEncrypted += m.Rx.NotEncrypted
	r.NotFlushed += m.Rx.NotFlushed
}

func (p *pptpSums) send(ch chan<- prometheus.Metric, withPPTP bool) {
	if withPPTP {
		f := p.flow
		counterSet{{"piggybacked", f.AcksPiggybacked}, {"alone", f.AcksAlone}, {"received", f.AcksReceived}}.send(ch, descPPTPAcks)
		ch <- prometheus.MustNewConstMetric(descPPTPOverWindow, prometheus.CounterValue, float64(f.OverWindow))
		ch <- prometheus.MustNewConstMetric(descPPTPAlarms, prometheus.CounterValue, float64(f.Alarms))
		ch <- prometheus.MustNewConstMetric(descPPTPAlarmsOn, prometheus.GaugeValue, float64(p.alarmsOn))
	}
	for k, n := range p.mppe {
		ch <- prometheus.MustNewConstMetric(descMPPESessions, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	t, r := p.tx, p.rx
	counterSet{{"in", r.Packets}, {"out", t.Packets}}.send(ch, descMPPEPackets)
	counterSet{{"in", r.Rekeys}, {"out", t.Rekeys}}.send(ch, descMPPEKeys)
	counterSet{{"in", r.Flushes}, {"out", t.Flushes}}.send(ch, descMPPEFlushes)
	ch <- prometheus.MustNewConstMetric(descMPPEResyncs, prometheus.CounterValue, float64(r.Resyncs))
	ch <- prometheus.MustNewConstMetric(descMPPEMissed, prometheus.CounterValue, float64(r.Lost))
	// The reasons of wire/mppe's receiver errors; their sum is show ppp
	// mppe's "rx pkt dropped".
	counterSet{{"resync", r.Resyncs}, {"discarding", r.Discarded}, {"late", r.Late}, {"short", r.Short},
		{"compressed", r.Compressed}, {"not-encrypted", r.NotEncrypted}, {"not-flushed", r.NotFlushed}}.send(ch, descMPPEDrops)
}

// pptpControl sends the PPTP node's drop and timeout counters.
func pptpControl(ch chan<- prometheus.Metric, st pptp.NodeStats) {
	counterSet{
		{"truncated", st.Truncated}, {"bad-length", st.BadLength}, {"bad-cookie", st.BadCookie},
		{"bad-message-type", st.BadMessageType}, {"unknown-type", st.UnknownType}, {"out-of-state", st.OutOfState},
		{"wrong-role", st.WrongRole}, {"unknown-call", st.UnknownCall}, {"bad-version", st.BadVersion},
		{"conn-limit", st.ConnLimit}, {"call-limit", st.CallLimit}, {"half-open-evicted", st.HalfOpenEvicted}, {"collision-won", st.CollisionWon},
		{"collision-lost", st.CollisionLost}, {"send-overflow", st.SendOverflow},
	}.send(ch, descPPTPCtlDrops)
	counterSet{{"setup", st.SetupTimeouts}, {"echo", st.EchoTimeouts}, {"stop", st.StopTimeouts}, {"call", st.CallTimeouts}}.send(ch, descPPTPTimeouts)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	c.collectAuth(ch)
	c.collectCrypto(ch)
	v := d.vpdnSnapshot()
	// By carrier, then state.
	tstates, sstates := map[string]map[string]float64{}, map[string]map[string]float64{}
	for _, p := range []string{show.L2TP, show.PPTP} {
		tstates[p], sstates[p] = map[string]float64{}, map[string]float64{}
	}
	for _, t := range v.Tunnels {
		if m := tstates[t.Protocol]; m != nil {
			m[t.State]++
		}
	}
	for _, s := range v.Sessions {
		if m := sstates[s.Protocol]; m != nil {
			m[s.State]++
		}
	}
	for _, g := range []struct {
		m    map[string]float64
		desc *prometheus.Desc
	}{{tstates[show.L2TP], descTunnels}, {sstates[show.L2TP], descSessions}, {tstates[show.PPTP], descPPTPTunnels}, {sstates[show.PPTP], descPPTPSessions}} {
		for k, v := range g.m {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, k)
		}
	}
	ppp := map[[2]string]float64{}
	var rxP, rxB, txP, txB float64
	sums := pptpSums{mppe: map[[2]string]int{}}
	rt := d.rt.Load()
	if rt != nil {
		for _, s := range rt.access.Sessions() {
			v := s.View()
			sums.add(v)
			role := "virtual-access"
			if v.Role == access.Client {
				role = "virtual-ppp"
			}
			up := "false"
			if v.Up {
				up = "true"
			}
			ppp[[2]string{role, up}]++
			rxP += float64(v.Counters.RxPkts)
			rxB += float64(v.Counters.RxBytes)
			txP += float64(v.Counters.TxPkts)
			txB += float64(v.Counters.TxBytes)
		}
	}
	for k, v := range ppp {
		ch <- prometheus.MustNewConstMetric(descPPP, prometheus.GaugeValue, v, k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, rxP, "in")
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, txP, "out")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, rxB, "in")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, txB, "out")
	if rt != nil {
		for reason, n := range rt.plane.Drops() {
			ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(n), reason)
		}
		if rt.l2tp != nil {
			st := rt.l2tp.Node().Stats()
			for _, r := range st.Drops() {
				ch <- prometheus.MustNewConstMetric(descCtlDrops, prometheus.CounterValue, float64(r.Count), r.Reason)
			}
			ch <- prometheus.MustNewConstMetric(descCtlEvents, prometheus.CounterValue, float64(st.SessionSetupTimeouts), "session-setup-timeout")
			ch <- prometheus.MustNewConstMetric(descCtlEvents, prometheus.CounterValue, float64(st.NoSessionClosed), "no-session-timeout")
			ch <- prometheus.MustNewConstMetric(descHalfOpen, prometheus.GaugeValue, float64(st.HalfOpen), "tunnel")
			ch <- prometheus.MustNewConstMetric(descHalfOpen, prometheus.GaugeValue, float64(st.HalfOpenSessions), "session")
		}
		for _, r := range d.v3Drops() {
			ch <- prometheus.MustNewConstMetric(descCtlDrops, prometheus.CounterValue, float64(r.Count), r.Reason)
		}
		if rt.pptp != nil {
			pptpControl(ch, rt.pptp.Node().Stats())
		}
		sums.send(ch, rt.pptp != nil)
		ch <- prometheus.MustNewConstMetric(descMPPEFallbacks, prometheus.CounterValue, float64(rt.access.MPPEFallbacks()))
		for reason, n := range rt.access.NDDrops() {
			ch <- prometheus.MustNewConstMetric(descNDDrops, prometheus.CounterValue, float64(n), reason)
		}
	}
	for reason, n := range d.failures.snapshot() {
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(n), reason)
	}
	if svc := d.svc.Load(); svc != nil {
		for _, st := range svc.pools.Stats() {
			ch <- prometheus.MustNewConstMetric(descPool, prometheus.GaugeValue, float64(st.Free), st.Name, "free")
			ch <- prometheus.MustNewConstMetric(descPool, prometheus.GaugeValue, float64(st.InUse), st.Name, "in_use")
			ch <- prometheus.MustNewConstMetric(descExhausted, prometheus.CounterValue, float64(st.Exhausted), st.Name)
		}
		for _, st := range d.v6PoolStats() {
			ch <- prometheus.MustNewConstMetric(descV6Pool, prometheus.GaugeValue, float64(st.Size-st.InUse), st.Name, "free")
			ch <- prometheus.MustNewConstMetric(descV6Pool, prometheus.GaugeValue, float64(st.InUse), st.Name, "in_use")
		}
	}
	d.collectRadius(ch)
	d.collectAccounting(ch)
	d.reloadMu.Lock()
	ok, bad := d.reloads, d.reloadFailures
	d.reloadMu.Unlock()
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(ok), "ok")
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(bad), "refused")
}

// serveMetrics serves /metrics on addr until ctx ends.
func (d *Daemon) serveMetrics(ctx context.Context, addr string) error {
	reg := prometheus.NewRegistry()
	// The Go runtime's and the process's own (go_goroutines,
	// process_resident_memory_bytes, ...): what shows a leak under churn.
	reg.MustRegister(collector{d}, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	d.metricsAddr.Store(ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics", "err", err)
		}
	}()
	d.log.Info("metrics listening", "address", ln.Addr().String())
	return nil
}

// MetricsAddr returns where /metrics is served ("" when it is not).
func (d *Daemon) MetricsAddr() string {
	s, _ := d.metricsAddr.Load().(string)
	return s
}

// collectAuth exports the authentication throttle's and lockout's numbers.
func (c collector) collectAuth(ch chan<- prometheus.Metric) {
	st := c.d.throttle.Stats()
	for _, m := range []struct {
		d *prometheus.Desc
		n uint64
	}{{descAuthFailures, st.Failures}, {descAuthThrottled, st.Throttled}, {descAuthBlocks, st.Blocks}, {descAuthLogDrops, st.Suppressed}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.n))
	}
	for _, k := range []struct {
		table string
		n     int
	}{{"user", st.Users}, {"peer", st.Peers}, {"user_at_peer", st.Pairs}} {
		ch <- prometheus.MustNewConstMetric(descAuthKeys, prometheus.GaugeValue, float64(k.n), k.table)
	}
	ch <- prometheus.MustNewConstMetric(descLockedUsers, prometheus.GaugeValue, float64(len(c.d.lockout.Locked())))
}
