package pool

import (
	"net/netip"
	"runtime"
	"testing"
)

// TestMemoryPerSession bounds the pool's memory for 100,000 sessions (issue
// 6 budgets 16 KiB per session for everything): a bit per address of the
// ranges plus two link words per address ever handed out.
func TestMemoryPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 addresses")
	}
	const sessions = 100000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := New("mem")
	if err := p.AddRange(netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.1.255.255")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sessions; i++ {
		if _, err := p.Allocate(""); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / sessions
	t.Logf("%.1f bytes of pool per session", per)
	if per > 64 {
		t.Errorf("%.1f bytes per session, want at most 64", per)
	}
	runtime.KeepAlive(p)
}
