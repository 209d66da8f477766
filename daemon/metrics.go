package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/show"
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
	descExhausted = prometheus.NewDesc("vpdn_pool_exhausted_total", "Allocations refused because the pool was full.", []string{"pool"}, nil)
	descReloads   = prometheus.NewDesc("vpdn_config_reloads_total", "Configuration reloads by result.", []string{"result"}, nil)
	descCtlDrops  = prometheus.NewDesc("vpdn_l2tp_control_drops_total", "L2TP control datagrams dropped before their tunnel handled them, by reason.", []string{"reason"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTunnels, descSessions, descPPP, descPackets, descBytes, descDrops, descFailures, descPool, descExhausted, descReloads, descCtlDrops} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	d := c.d
	v := d.vpdnSnapshot()
	tstates, sstates := map[string]float64{}, map[string]float64{}
	for _, t := range v.Tunnels {
		if t.Protocol == show.L2TP {
			tstates[t.State]++
		}
	}
	for _, s := range v.Sessions {
		if s.Protocol == show.L2TP {
			sstates[s.State]++
		}
	}
	for k, v := range tstates {
		ch <- prometheus.MustNewConstMetric(descTunnels, prometheus.GaugeValue, v, k)
	}
	for k, v := range sstates {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, v, k)
	}
	ppp := map[[2]string]float64{}
	var rxP, rxB, txP, txB float64
	rt := d.rt.Load()
	if rt != nil {
		for _, s := range rt.access.Sessions() {
			v := s.View()
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
			for _, r := range []struct {
				reason string
				n      uint64
			}{
				{"bad-header", st.BadHeader}, {"no-tunnel", st.NoTunnel}, {"no-session", st.NoSession},
				{"wrong-peer", st.WrongPeer}, {"half-open-evicted", st.HalfOpenEvicted},
				{"tunnel-limit", st.TunnelLimit}, {"version-3", st.Version3},
				{"input-overflow", st.InputOverflow}, {"tie-break-lost", st.TieBreakLost}, {"data-message", st.DataMessages},
			} {
				ch <- prometheus.MustNewConstMetric(descCtlDrops, prometheus.CounterValue, float64(r.n), r.reason)
			}
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
	}
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
