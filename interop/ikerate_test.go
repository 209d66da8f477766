package interop

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// IKE set-ups per second (BENCHMARKS.md): the same initiator — N
// proto/ike nodes, each on UDP port 500 of its own underlay address
// (198.18.1.1, 198.18.1.2, ...: one peer each, as N branch routers would
// be) — brings up N main mode + quick mode exchanges against a vpdn
// responder (vpdn serve, a dynamic crypto map) and then against
// strongSwan's charon (kernel-libipsec) in the same namespace with the
// same address, AES-128/SHA-1/MODP-2048 phase 1 and esp-aes 128
// esp-sha-hmac without PFS on both. At most VPDN_IKE_INFLIGHT (32) are
// under way at once. It runs with N = 4 as a test (every SA must come
// up; nothing is timed); VPDN_IKE_RATE=N makes it the benchmark and logs
// the rates, VPDN_IKE_CPUPROFILE=FILE has vpdn serve write a CPU profile.

const (
	rateResponder = "198.18.0.2"
	ratePSK       = "rate-psk-1"
)

const rateVPDNConf = `hostname resp
crypto isakmp policy 10
 encr aes
 hash sha
 authentication pre-share
 group 14
crypto isakmp key ` + ratePSK + ` address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TS esp-aes 128 esp-sha-hmac
crypto dynamic-map DYN 10
 set transform-set TS
 match address BRANCHES
crypto map M 10 ipsec-isakmp dynamic DYN
ip access-list extended BRANCHES
 permit ip 198.19.2.0 0.0.0.255 198.19.128.0 0.0.127.255
interface GigabitEthernet0/0
 ip address ` + rateResponder + ` 255.255.0.0
 crypto map M
`

const rateSwanConf = `connections {
  branches {
    version = 1
    local_addrs = ` + rateResponder + `
    remote_addrs = 198.18.0.0/16
    proposals = aes128-sha1-modp2048
    rekey_time = 0
    local { auth = psk
            id = ` + rateResponder + ` }
    remote { auth = psk }
    children {
      net {
        local_ts = 198.19.2.0/24
        remote_ts = 198.19.128.0/17
        esp_proposals = aes128-sha1
        mode = tunnel
        rekey_time = 0
      }
    }
  }
}
secrets {
  ike-any { secret = "` + ratePSK + `" }
}
`

// rateAddr is initiator i's underlay address and the /32 it protects.
func rateAddr(i int) (netip.Addr, netip.Prefix) {
	return netip.AddrFrom4([4]byte{198, 18, byte(1 + i/250), byte(1 + i%250)}),
		netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(128 + i/256), byte(i % 256)}), 32)
}

type rateResult struct {
	up        int
	elapsed   time.Duration
	latencies []time.Duration
	failures  []string
}

func (r rateResult) String() string {
	if r.up == 0 {
		return "none up"
	}
	slices.Sort(r.latencies)
	q := func(f float64) time.Duration { return r.latencies[int(f*float64(len(r.latencies)-1))] }
	return fmt.Sprintf("%d up in %v: %.1f set-ups/s, p50 %v, p99 %v, max %v",
		r.up, r.elapsed.Round(time.Millisecond), float64(r.up)/r.elapsed.Seconds(),
		q(0.5).Round(time.Millisecond), q(0.99).Round(time.Millisecond), q(1).Round(time.Millisecond))
}

// runInitiators brings up n main + quick modes from the initiator
// namespace, at most inflight at once, and waits (bounded) for them.
func runInitiators(t *testing.T, ns *nstest.NS, n, inflight int) rateResult {
	t.Helper()
	type done struct {
		i   int
		err string
	}
	results := make(chan done, 2*n)
	var conns []*net.UDPConn
	var nodes []*ike.Node
	var wg sync.WaitGroup
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	resp := netip.AddrPortFrom(netip.MustParseAddr(rateResponder), 500)
	pol := ike.Policy{Priority: 10, Encryption: ike.CipherAES, KeyBits: 128, Hash: ike.HashSHA1, Group: ike.Group14}
	for i := range n {
		addr, _ := rateAddr(i)
		var c *net.UDPConn
		if err := ns.Do(func() (err error) {
			c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 500)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var once sync.Once
		report := func(err string) { once.Do(func() { results <- done{i, err} }) }
		nd, err := ike.New(ike.Config{
			Local: netip.AddrPortFrom(addr, 500), Clock: clock.Real,
			Send:     func(b []byte, to netip.AddrPort) { c.WriteToUDPAddrPort(b, to) },
			Policies: []ike.Policy{pol},
			Key:      func(netip.Addr, []byte) []byte { return []byte(ratePSK) },
			OnEvent: func(e ike.Event) {
				switch e.Kind {
				case ike.EventChildUp:
					report("")
				case ike.EventChildFailed, ike.EventPhase1Down:
					report(fmt.Sprintf("%v: %s (%v)", e.Kind, e.Reason, e.Notify))
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
		wg.Go(func() {
			buf := make([]byte, 65536)
			for {
				k, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				nd.HandlePacket(buf[:k], from)
			}
		})
	}
	var res rateResult
	started := make([]time.Time, n)
	next := 0
	start := time.Now()
	launch := func() {
		i := next
		next++
		_, local := rateAddr(i)
		started[i] = time.Now()
		p2 := &ike.Phase2Policy{TransformSets: []ike.TransformSet{{ESP: isakmp.ESPAES, KeyBits: 128, Auth: isakmp.AuthAlgHMACSHA1}},
			Local: ike.Selector{Prefix: local}, Remote: ike.Selector{Prefix: peerNet}}
		if err := nodes[i].Initiate(resp, p2); err != nil {
			results <- done{i, err.Error()}
		}
	}
	for next < n && next < inflight {
		launch()
	}
	deadline := time.After(60*time.Second + time.Duration(n)*200*time.Millisecond)
	for got := 0; got < n; got++ {
		select {
		case d := <-results:
			if d.err != "" {
				res.failures = append(res.failures, fmt.Sprintf("initiator %d: %s", d.i, d.err))
			} else {
				res.up++
				res.latencies = append(res.latencies, time.Since(started[d.i]))
			}
			if next < n {
				launch()
			}
		case <-deadline:
			res.failures = append(res.failures, fmt.Sprintf("%d of %d still under way at the deadline", n-got, n))
			res.elapsed = time.Since(start)
			return res
		}
	}
	res.elapsed = time.Since(start)
	return res
}

func TestIKESetupRate(t *testing.T) {
	n, inflight := 4, 32
	bench := false
	if v := os.Getenv("VPDN_IKE_RATE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 5000 {
			t.Fatalf("VPDN_IKE_RATE=%q: expected 1 to 5000 set-ups", v)
		}
		bench = true
	}
	if v := os.Getenv("VPDN_IKE_INFLIGHT"); v != "" {
		var err error
		if inflight, err = strconv.Atoi(v); err != nil || inflight < 1 {
			t.Fatalf("VPDN_IKE_INFLIGHT=%q: expected a positive count", v)
		}
	}
	lab := nstest.New(t)
	a, b := lab.NS("ikeinit"), lab.NS("ikeresp")
	devA, devB := lab.Link(a, b, netip.MustParsePrefix("198.18.0.1/16"), netip.MustParsePrefix(rateResponder+"/16"))
	// The initiators' addresses, and permanent neighbour entries both
	// ways: no set-up waits for ARP (the first responder would pay for
	// what the second finds cached).
	var addrs, neighs strings.Builder
	macA, macB := linkMAC(t, a, devA), linkMAC(t, b, devB)
	for i := range n {
		addr, _ := rateAddr(i)
		fmt.Fprintf(&addrs, "addr add %v dev %s\n", netip.PrefixFrom(addr, 16), devA)
		fmt.Fprintf(&neighs, "neigh replace %v lladdr %s dev %s nud permanent\n", addr, macA, devB)
	}
	ipBatch(t, a, addrs.String())
	ipBatch(t, b, neighs.String())
	a.MustIP("neigh", "replace", rateResponder, "lladdr", macB, "dev", devA, "nud", "permanent")
	b.MustIP("addr", "add", "198.19.2.1/32", "dev", "lo")
	loadavg := func() string {
		b, _ := os.ReadFile("/proc/loadavg")
		return strings.Join(strings.Fields(string(b))[:3], " ")
	}
	var rates []rateResult
	t.Run("vpdn", func(t *testing.T) {
		bin := nstest.GoBuild(t, "../cmd/vpdn")
		var extra []string
		if f := os.Getenv("VPDN_IKE_CPUPROFILE"); f != "" {
			extra = []string{"--cpuprofile", f} // where the responder's time goes
		}
		logs, sock, stop := vpdnServe(t, lab, b, bin, rateVPDNConf, extra...)
		waitLine(t, "vpdn to answer", 15*time.Second, func() bool {
			out, _ := b.Run(10*time.Second, bin, "show", "version", "--socket", sock)
			return strings.Contains(string(out), "vpdn")
		})
		if !bench {
			b.Run(10*time.Second, bin, "debug", "crypto", "isakmp", "--socket", sock)
		}
		t.Logf("load average before: %s", loadavg())
		r := runInitiators(t, a, n, inflight)
		t.Logf("vpdn responder: %v (load average after: %s)", r, loadavg())
		if len(r.failures) > 0 {
			t.Errorf("%d failed: %s\nvpdn log (tail):\n%s", len(r.failures), strings.Join(r.failures[:min(len(r.failures), 5)], "; "), tail(logs.String(), 3000))
		}
		if !bench {
			out, _ := b.Run(10*time.Second, bin, "show", "crypto", "isakmp", "sa", "--socket", sock)
			if c := strings.Count(string(out), "QM_IDLE"); c != n {
				t.Errorf("vpdn shows %d QM_IDLE SAs, want %d:\n%s", c, n, out)
			}
		}
		if err := stop(); err != nil {
			t.Errorf("vpdn serve exit: %v", err)
		}
		rates = append(rates, r)
	})
	t.Run("strongswan", func(t *testing.T) {
		c := startCharon(t, lab, b, rateSwanConf)
		t.Logf("load average before: %s", loadavg())
		r := runInitiators(t, a, n, inflight)
		t.Logf("strongSwan responder: %v (load average after: %s)", r, loadavg())
		if len(r.failures) > 0 {
			t.Errorf("%d failed: %s\ncharon log (tail):\n%s", len(r.failures), strings.Join(r.failures[:min(len(r.failures), 5)], "; "), tail(c.log(), 3000))
		}
		if !bench {
			if list := c.swanctl(t, "--list-sas"); strings.Count(list, "INSTALLED") != n {
				t.Errorf("strongSwan's SAs:\n%s", list)
			}
		}
		rates = append(rates, r)
	})
	if len(rates) == 2 && rates[0].up > 0 && rates[1].up > 0 {
		v := float64(rates[0].up) / rates[0].elapsed.Seconds()
		s := float64(rates[1].up) / rates[1].elapsed.Seconds()
		t.Logf("set-ups per second, vpdn / strongSwan: %.1f / %.1f = %.2f", v, s, v/s)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// linkMAC is dev's Ethernet address in ns.
func linkMAC(t *testing.T, ns *nstest.NS, dev string) string {
	t.Helper()
	out, err := ns.IP("-o", "link", "show", dev)
	if err != nil {
		t.Fatalf("ip link show %s: %v %s", dev, err, out)
	}
	f := strings.Fields(string(out))
	for i, w := range f {
		if w == "link/ether" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no link/ether in %q", out)
	return ""
}

// ipBatch runs `ip -batch` with cmds inside ns.
func ipBatch(t *testing.T, ns *nstest.NS, cmds string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ip.batch")
	if err := os.WriteFile(f, []byte(cmds), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.MustIP("-batch", f)
}
