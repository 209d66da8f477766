package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/debug"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// memPE is document 004's R5 or R9 on an in-memory network, with the
// attachment circuit a TAP vpdn creates (linux-device pw0 tap).
func memPE(local, peer string, lid, rid int, lcookie, rcookie int, extra string) string {
	return `hostname PE
pseudowire-class L2TP_Class
 encapsulation l2tpv3
 protocol none
 ip local interface GigabitEthernet1/0
` + extra + `interface GigabitEthernet1/0
 ip address ` + local + ` 255.255.255.0
interface GigabitEthernet0/0
 no ip address
 linux-device pw0 tap
 xconnect ` + peer + ` 1 encapsulation l2tpv3 manual pw-class L2TP_Class
  l2tp id ` + itoa(lid) + ` ` + itoa(rid) + `
  l2tp cookie local 4 ` + itoa(lcookie) + `
  l2tp cookie remote 4 ` + itoa(rcookie) + `
`
}

func itoa(n int) string { return strconv.Itoa(n) }

func ether(n int) []byte {
	f := make([]byte, 14+n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 7, 0x88, 0xb5})
	for i := 14; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}

// TestInMemoryXconnect: two manual pseudowires back to back on an
// in-memory network: Ethernet frames cross both ways between the TAPs,
// the class's ToS, TTL and DF reach the socket, the show commands count
// the data, and a frame with a wrong cookie or to an unknown session is
// dropped and counted.
func TestInMemoryXconnect(t *testing.T) {
	for _, udp := range []bool{false, true} {
		name := "ip"
		extra := " ip tos value 184\n ip ttl 17\n ip dfbit set\n"
		if udp {
			name, extra = "udp", extra+" ip protocol udp\n sequencing both\n"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(1)
				r5a, r9a := netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("198.18.1.9")
				r5 := newMemDaemon(t, nw, memPE("198.18.1.5", "198.18.1.9", 1, 2, 55111, 44119, extra), func(o *Options) { o.Binds = nw.Host(r5a) })
				r9 := newMemDaemon(t, nw, memPE("198.18.1.9", "198.18.1.5", 2, 1, 44119, 55111, extra), func(o *Options) { o.Binds = nw.Host(r9a) })
				t5, t9 := r5.host.Device("pw0"), r9.host.Device("pw0")
				if t5 == nil || t9 == nil || !t5.IsTAP() {
					t.Fatalf("TAPs: %v %v", r5.host.Links(), r9.host.Links())
				}
				f := ether(100)
				for range 3 {
					if err := t5.Inject(f); err != nil {
						t.Fatal(err)
					}
				}
				for range 3 {
					select {
					case g := <-t9.Outbound:
						if !bytes.Equal(g, f) {
							t.Fatalf("R9 got %x", g)
						}
					case <-time.After(5 * time.Second):
						t.Fatal("no frame across")
					}
				}
				t9.Inject(f)
				select {
				case <-t5.Outbound:
				case <-time.After(5 * time.Second):
					t.Fatal("no frame back")
				}
				synctest.Wait()

				// Forged traffic from R9's address: a wrong cookie and an
				// unknown session ID.
				// R9's own socket sends them, so that they come from R9's
				// address (and port).
				var forge transport.Bind
				for _, vb := range r9.d.rt.Load().xc.binds {
					forge = vb.bind
				}
				to := netip.AddrPortFrom(r5a, 0)
				if udp {
					to = netip.AddrPortFrom(r5a, 1701)
				}
				forge.WriteTo(append(l2tp.AppendV3DataHeader(nil, udp, 1, l2tp.Cookie4(1), udp, udp, 100), f...), to)
				forge.WriteTo(append(l2tp.AppendV3DataHeader(nil, udp, 99, l2tp.Cookie4(55111), udp, udp, 100), f...), to)
				synctest.Wait()

				all := r5.show(t, "l2tp session all", false).Text
				for _, want := range []string{"Session is manually signaled", "3 Packets sent, 1 received", "wrong cookie:             1",
					"DF bit on, ToS reflect disabled, ToS value 184, TTL value 17"} {
					if !strings.Contains(all, want) {
						t.Errorf("show l2tp session all lacks %q:\n%s", want, all)
					}
				}
				var js show.PWSessionsJSON
				if err := json.Unmarshal(r5.show(t, "l2tun session", true).Data, &js); err != nil || len(js.L2TPv3) != 1 ||
					js.L2TPv3[0].Counters.PacketsOut != 3 || js.L2TPv3[0].CookieDrops != 1 {
					t.Fatalf("JSON: %v %+v", err, js)
				}
				if d := r5.d.rt.Load().plane.Drops(); d["bad-cookie"] != 1 || d["unknown-session"] != 1 {
					t.Fatalf("drops %v", d)
				}
				// The class's IP options are on the socket.
				for _, vb := range r5.d.rt.Load().xc.binds {
					c, ok := vb.bind.(*memnet.Conn)
					if !ok {
						t.Fatalf("bind %T", vb.bind)
					}
					if tos, ttl, df := c.IPOptions(); tos != 184 || ttl != 17 || !df {
						t.Fatalf("socket options tos %d ttl %d df %v", tos, ttl, df)
					}
				}
			})
		})
	}
}

// TestXconnectFailures: a pseudowire whose attachment circuit cannot be
// opened stays down and says why; two pseudowire-classes that share a
// socket but ask for different ToS/TTL/DF make start fail, naming both.
func TestXconnectFailures(t *testing.T) {
	nw := memnet.New(1)
	a := netip.MustParseAddr("198.18.1.5")
	cfg := strings.Replace(memPE("198.18.1.5", "198.18.1.9", 1, 2, 55111, 44119, ""), "linux-device pw0 tap", "linux-device vpdn-nosuch0", 1)
	d := newMemDaemon(t, nw, cfg, func(o *Options) { o.Binds = nw.Host(a) })
	all := d.show(t, "l2tp session all", false).Text
	if !strings.Contains(all, "Session id 1 is down") || !strings.Contains(all, "Last error: attachment circuit vpdn-nosuch0") {
		t.Fatalf("show l2tp session all:\n%s", all)
	}
	if xc := d.show(t, "xconnect all", false).Text; !strings.Contains(xc, "DN     pri:Gi0/0(Ethernet)") {
		t.Fatalf("show xconnect all:\n%s", xc)
	}

	two := memPE("198.18.1.5", "198.18.1.9", 1, 2, 55111, 44119, " ip ttl 9\n") + `pseudowire-class OTHER
 encapsulation l2tpv3
 protocol none
 ip local interface GigabitEthernet1/0
 ip ttl 10
interface GigabitEthernet0/1
 linux-device pw1 tap
 xconnect 198.18.1.9 2 encapsulation l2tpv3 manual pw-class OTHER
  l2tp id 3 4
`
	path := filepath.Join(t.TempDir(), "two.cfg")
	if err := os.WriteFile(path, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	dd, err := New(Options{ConfigPath: path, Debug: debug.New(), Binds: memnet.New(2).Host(a), Host: netif.NewFakeHost()})
	if err != nil {
		t.Fatal(err)
	}
	err = dd.Start(context.Background())
	if err == nil {
		dd.Stop()
		t.Fatal("two classes with different TTLs on one socket started")
	}
	if !strings.Contains(err.Error(), "pseudowire-class OTHER") || !strings.Contains(err.Error(), "L2TP_Class") {
		t.Fatalf("error %v", err)
	}
}
