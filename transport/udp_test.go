package transport

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// inNetns re-runs the current test inside a fresh network namespace with
// 198.18.0.1 on its loopback (DESIGN.md lab rules: never the host's
// interfaces). It returns true in the child, false in the parent after
// the child ran; it skips when namespaces are unavailable.
func inNetns(t *testing.T) bool {
	if os.Getenv("VPDN_TRANSPORT_NETNS") == "1" {
		return true
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not available")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip not available")
	}
	script := `ip link set lo up && ip addr add 198.18.0.1/32 dev lo && ip addr add 198.18.0.2/32 dev lo && exec "$0" -test.run "^` + t.Name() + `$" -test.v -test.timeout=60s`
	cmd := exec.Command("unshare", "-n", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), "VPDN_TRANSPORT_NETNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 0 && exec.Command("unshare", "-n", "true").Run() == nil {
			t.Fatalf("in netns: %v\n%s", err, out)
		}
		t.Skipf("network namespaces unavailable: %v", err)
	}
	t.Logf("in netns:\n%s", out)
	return false
}

func TestUDPBatch(t *testing.T) {
	if !inNetns(t) {
		return
	}
	a, err := ListenUDP(netip.MustParseAddrPort("198.18.0.1:1701"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ListenUDP(netip.MustParseAddrPort("198.18.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 64 // well inside the default socket receive buffer
	var mu sync.Mutex
	got := map[string]bool{}
	done := make(chan struct{})
	go func() {
		a.Serve(func(p []byte, from netip.AddrPort) {
			mu.Lock()
			defer mu.Unlock()
			if from != b.LocalAddr() {
				t.Errorf("from %v, want %v", from, b.LocalAddr())
			}
			got[string(p)] = true
			if len(got) == n {
				close(done)
			}
		})
	}()
	pkts := make([]Packet, n)
	for i := range pkts {
		pkts[i] = Packet{Buf: []byte(fmt.Sprintf("datagram %d", i)), Addr: a.LocalAddr()}
	}
	if k, err := b.WriteBatch(pkts); err != nil || k != n {
		t.Fatalf("WriteBatch %d %v", k, err)
	}
	<-done
	// And a reply through the single-datagram path.
	if err := a.WriteTo([]byte("reply"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	r := b.NewReader()
	in := make([]Packet, BatchSize)
	k, err := r.Read(in)
	if err != nil || k != 1 || string(in[0].Buf) != "reply" || in[0].Addr != a.LocalAddr() {
		t.Fatalf("read %d %v %q %v", k, err, in[0].Buf, in[0].Addr)
	}
	a.Close()
	b.Close()
}
