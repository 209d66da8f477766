package daemon

import (
	"context"
	"net/netip"
	goruntime "runtime"
	"testing"

	"github.com/vpdn/vpdn/loadgen"
	"github.com/vpdn/vpdn/transport/memnet"
)

// memSharedLNS is memLNS in shared-interface mode with a pool for the
// benchmark's sessions.
const memSharedLNS = `hostname lns
vpdn enable
vpdn virtual-access shared
vpdn l2tp listen 198.18.0.1:1701
username alice password 0 wonderland
ip local pool P 198.19.0.2 198.19.255.254
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 no l2tp tunnel authentication
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
`

// BenchmarkInMemoryLNS sets up and tears down 1,000 sessions (4 tunnels)
// between the load generator and a whole LNS — L2TP, PPP with CHAP
// through AAA, the pool, a Virtual-Access on the shared interface, the
// data plane — on in-memory binds and a fake interface host, and reports
// the process's allocations per session (generator and LNS together:
// both run the same access layer). Garbage per session is what the
// churn and 100,000-session runs pay in GC.
func BenchmarkInMemoryLNS(b *testing.B) {
	const tunnels, sessions = 4, 250
	for range b.N {
		b.StopTimer()
		nw := memnet.New(1)
		lns := newMemDaemon(b, nw, memSharedLNS)
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		b.StartTimer()
		rep, err := loadgen.Run(context.Background(), loadgen.Config{
			Server: netip.MustParseAddrPort("198.18.0.1:1701"), Binds: nw, Local: netip.MustParseAddrPort("198.18.0.2:0"),
			Tunnels: tunnels, Sessions: sessions, User: "alice", Password: "wonderland"})
		b.StopTimer()
		goruntime.ReadMemStats(&after)
		if err != nil || rep.Established != tunnels*sessions {
			b.Fatalf("%v %+v", err, rep)
		}
		n := float64(tunnels * sessions)
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/session")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/session")
		b.ReportMetric(rep.SetupRate, "sessions/s")
		lns.d.Stop()
	}
}
