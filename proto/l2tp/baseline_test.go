package l2tp

import (
	"net/netip"
	"testing"

	"github.com/vpdn/vpdn/transport/memnet"
)

// BenchmarkMemnetRoundTrip is the baseline of the set-up benchmarks: one
// 100-byte request and its reply through the same in-memory network, with
// an echo server and no protocol work. A tunnel set-up with one call is
// four such exchanges (SCCRQ/SCCRP, SCCCN/ZLB, ICRQ/ICRP, ICCN/ZLB), so
// BENCHMARKS.md compares set-up time with four round trips.
func BenchmarkMemnetRoundTrip(b *testing.B) {
	nw := memnet.New(1)
	srv, err := nw.Listen(lnsAddr)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := nw.Listen(lacAddr)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(func(p []byte, from netip.AddrPort) { srv.WriteTo(p, from) })
	defer srv.Close()
	defer cli.Close()
	msg := make([]byte, 100)
	buf := make([]byte, 2048)
	b.ResetTimer()
	for range b.N {
		if err := cli.WriteTo(msg, lnsAddr); err != nil {
			b.Fatal(err)
		}
		if _, _, err := cli.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}
