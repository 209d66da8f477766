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
	"github.com/vpdn/vpdn/transport/memnet"
)

// memDynPE is a PE with a dynamic xconnect: protocol l2tpv3 with an
// l2tp-class that authenticates control messages.
func memDynPE(host, local, peer, extra string) string {
	return `hostname ` + host + `
l2tp-class L2TP_CTL
 digest secret 0 s3cret hash sha
 hello 10
pseudowire-class L2TP_Class
 encapsulation l2tpv3
 protocol l2tpv3 L2TP_CTL
 ip local interface GigabitEthernet1/0
` + extra + `interface GigabitEthernet1/0
 ip address ` + local + ` 255.255.255.0
interface GigabitEthernet0/0
 no ip address
 linux-device pw0 tap
 xconnect ` + peer + ` 7 encapsulation l2tpv3 pw-class L2TP_Class
`
}

// TestInMemoryDynamicXconnect: both ends of a dynamic Ethernet pseudowire
// configured, over IP and over UDP: one control connection with digests
// comes up, the session's IDs and cookies are exchanged, frames cross,
// and the show commands say so.
func TestInMemoryDynamicXconnect(t *testing.T) {
	for _, udp := range []bool{false, true} {
		name, extra := "ip", ""
		if udp {
			name, extra = "udp", " ip protocol udp\n"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(1)
				r5a, r9a := netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("198.18.1.9")
				r5 := newMemDaemon(t, nw, memDynPE("R5", "198.18.1.5", "198.18.1.9", extra), func(o *Options) { o.Binds = nw.Host(r5a) })
				r9 := newMemDaemon(t, nw, memDynPE("R9", "198.18.1.9", "198.18.1.5", extra), func(o *Options) { o.Binds = nw.Host(r9a) })
				// Bounded: the pseudowire comes up within a minute.
				waitPWUp(t, r5, r9, 60)
				frameAcross(t, r5, r9, 100)
				synctest.Wait()

				var a, b show.PWSessionsJSON
				if err := json.Unmarshal(r5.show(t, "l2tp session", true).Data, &a); err != nil || len(a.L2TPv3) != 1 {
					t.Fatalf("R5 JSON: %v %+v", err, a)
				}
				if err := json.Unmarshal(r9.show(t, "l2tp session", true).Data, &b); err != nil || len(b.L2TPv3) != 1 {
					t.Fatalf("R9 JSON: %v %+v", err, b)
				}
				x, y := a.L2TPv3[0], b.L2TPv3[0]
				if x.LocalID == 0 || x.LocalID != y.RemoteID || y.LocalID != x.RemoteID || x.TunnelID == 0 || x.Manual ||
					x.LocalCookie == "" || x.LocalCookie != y.RemoteCookie || y.LocalCookie != x.RemoteCookie {
					t.Fatalf("sessions do not match:\n%+v\n%+v", x, y)
				}
				all := r5.show(t, "l2tp session all", false).Text
				if !strings.Contains(all, "Session is L2TP signaled") {
					t.Errorf("show l2tp session all:\n%s", all)
				}
				tun := r5.show(t, "l2tun tunnel all", false).Text
				for _, want := range []string{"Protocol version 3 (L2TPv3), remote router ID 198.18.1.9",
					"Control message authentication is sha1", "Remote tunnel name is R9", "1 active sessions"} {
					if !strings.Contains(tun, want) {
						t.Errorf("show l2tun tunnel all lacks %q:\n%s", want, tun)
					}
				}
				if s := r9.show(t, "l2tp tunnel", false).Text; !strings.Contains(s, "R5") || !strings.Contains(s, "est") {
					t.Errorf("show l2tp tunnel:\n%s", s)
				}
				if s := r5.show(t, "l2tp counters", false).Text; !strings.Contains(s, "v3-digest-failed") {
					t.Errorf("show l2tp counters:\n%s", s)
				}

				// clear l2tun tunnel id N takes the control connection
				// down (StopCCN) with its pseudowire; the xconnect
				// brings both up again.
				var tuns []show.Tunnel
				if err := json.Unmarshal(r5.show(t, "l2tun tunnel", true).Data, &tuns); err != nil || len(tuns) != 1 || tuns[0].Version != 3 {
					t.Fatalf("tunnels: %v %+v", err, tuns)
				}
				if r := r5.do("clear", "l2tun", "tunnel", "id", strconv.FormatUint(uint64(tuns[0].LocalID), 10)); !r.OK {
					t.Fatalf("clear: %+v", r)
				}
				for i := 0; ; i++ {
					var again []show.Tunnel
					_ = json.Unmarshal(r5.show(t, "l2tun tunnel", true).Data, &again)
					if len(again) == 1 && again[0].LocalID != tuns[0].LocalID && again[0].State == "est" &&
						strings.Contains(r9.show(t, "xconnect all", false).Text, "UP     pri") {
						break
					}
					if i == 120 {
						t.Fatalf("not up again after clear: %+v", again)
					}
					time.Sleep(time.Second)
				}
			})
		})
	}
}

// TestInMemoryManualHello: document 004's manual pair with `l2tp hello
// HELLO` under the xconnect: a control connection for keepalives comes
// up beside the static session (show l2tun tunnel lists it); when it is
// lost (here cleared on R9) R5's session is down, and up again once the
// connection is back.
func TestInMemoryManualHello(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		r5a, r9a := netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("198.18.1.9")
		cls := "l2tp-class HELLO\n hello 5\n digest secret 0 k\n"
		withHello := func(cfg string) string { return cls + cfg + "  l2tp hello HELLO\n" }
		r5 := newMemDaemon(t, nw, withHello(memPE("198.18.1.5", "198.18.1.9", 1, 2, 55111, 44119, "")), func(o *Options) { o.Binds = nw.Host(r5a) })
		r9 := newMemDaemon(t, nw, withHello(memPE("198.18.1.9", "198.18.1.5", 2, 1, 44119, 55111, "")), func(o *Options) { o.Binds = nw.Host(r9a) })
		tunnel := func(m *memDaemon) []show.Tunnel {
			var ts []show.Tunnel
			_ = json.Unmarshal(m.show(t, "l2tun tunnel", true).Data, &ts)
			return ts
		}
		waitUntil := func(what string, cond func() bool) {
			t.Helper()
			for i := 0; !cond(); i++ {
				if i == 120 {
					t.Fatalf("%s:\n%s", what, r5.show(t, "l2tp session all", false).Text)
				}
				time.Sleep(time.Second)
			}
		}
		waitUntil("keepalive connection up", func() bool {
			a, b := tunnel(r5), tunnel(r9)
			return len(a) == 1 && len(b) == 1 && a[0].State == "est" && a[0].Digest == "md5"
		})
		if s := r5.show(t, "l2tp session all", false).Text; !strings.Contains(s, "Session is manually signaled") || !strings.Contains(s, "Session id 1 is up") {
			t.Fatalf("manual session:\n%s", s)
		}
		id := tunnel(r9)[0].LocalID
		if r := r9.do("clear", "l2tun", "tunnel", "id", strconv.FormatUint(uint64(id), 10)); !r.OK {
			t.Fatalf("clear: %+v", r)
		}
		synctest.Wait()
		if s := r5.show(t, "l2tp session all", false).Text; !strings.Contains(s, "Session id 1 is down") {
			t.Fatalf("R5's session with its keepalive connection lost:\n%s", s)
		}
		waitUntil("session up again on both", func() bool {
			return strings.Contains(r5.show(t, "l2tp session all", false).Text, "Session id 1 is up") &&
				strings.Contains(r9.show(t, "l2tp session all", false).Text, "Session id 2 is up")
		})
		// Frames cross again.
		frameAcross(t, r5, r9, 60)
	})
}

// TestInMemoryDynamicCookieSizes: R5's l2tp-class says `cookie size 8`,
// R9's keeps the default 4: each end assigns its own size, checks the
// cookie it assigned on what it receives, and frames cross both ways.
// R5's pseudowire-class also says `ip tos reflect`, which its show says.
func TestInMemoryDynamicCookieSizes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		r5a, r9a := netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("198.18.1.9")
		c5 := strings.Replace(memDynPE("R5", "198.18.1.5", "198.18.1.9", " ip tos reflect\n"), " hello 10\n", " hello 10\n cookie size 8\n", 1)
		r5 := newMemDaemon(t, nw, c5, func(o *Options) { o.Binds = nw.Host(r5a) })
		r9 := newMemDaemon(t, nw, memDynPE("R9", "198.18.1.9", "198.18.1.5", ""), func(o *Options) { o.Binds = nw.Host(r9a) })
		waitPWUp(t, r5, r9, 60)
		s5, s9 := r5.show(t, "l2tp session all", false).Text, r9.show(t, "l2tp session all", false).Text
		if !strings.Contains(s5, "local cookie, size 8 bytes") || !strings.Contains(s5, "remote cookie, size 4 bytes") ||
			!strings.Contains(s9, "local cookie, size 4 bytes") || !strings.Contains(s9, "remote cookie, size 8 bytes") {
			t.Fatalf("cookies:\n%s\n%s", s5, s9)
		}
		if !strings.Contains(s5, "ToS reflect enabled") || !strings.Contains(s9, "ToS reflect disabled") {
			t.Fatalf("ToS reflect:\n%s\n%s", s5, s9)
		}
		// show l2tp session lists the pseudowire once, as a pseudowire.
		if n := strings.Count(s5, "Session id "); !strings.Contains(s5, "Total tunnels 1 sessions 1") || n != 1 {
			t.Fatalf("show l2tp session all lists %d sessions:\n%s", n, s5)
		}
		// show vpdn counts the pseudowire among L2TP's sessions.
		if v := r5.show(t, "vpdn", false).Text; !strings.Contains(v, "L2TP Tunnel and Session Information Total tunnels 1 sessions 1") ||
			!strings.Contains(v, "Gi0/0") {
			t.Fatalf("show vpdn:\n%s", v)
		}
		frameAcross(t, r5, r9, 100)
		frameAcross(t, r9, r5, 100)
		synctest.Wait()
	})
}

// memDynIPsecPE is memDynPE over UDP under a transport-mode crypto map
// protecting UDP 1701 to the peer (as a router facing SoftEther's "L2TPv3
// over IPsec" is configured), with no vpdn-group (L2TP's socket on the
// local address: in-memory binds have no wildcard); extra goes into the
// pseudowire-class.
func memDynIPsecPE(host, local, peer, extra string) string {
	return memDynPE(host, local, peer, " ip protocol udp\n"+extra) + `vpdn l2tp listen ` + local + `:1701
crypto isakmp policy 10
 encr aes 256
 hash sha
 authentication pre-share
 group 14
crypto isakmp key l2tpv3key address ` + peer + `
crypto ipsec transform-set T esp-aes 256 esp-sha-hmac
 mode transport
crypto map M 10 ipsec-isakmp
 set peer ` + peer + `
 set transform-set T
 match address PW
ip access-list extended PW
 permit udp host ` + local + ` eq 1701 host ` + peer + ` eq 1701
interface GigabitEthernet1/0
 crypto map M
`
}

// TestInMemoryDynamicXconnectIPsec: a dynamic Ethernet pseudowire over
// UDP whose pseudowire-class names `ip local interface`, under a
// transport-mode crypto map and without a vpdn-group: its control
// connection and data ride L2TP's ESP-protected socket (transport-mode
// SAs count them), frames cross; a class that sets ip tos under IPsec
// fails start with a clear error.
func TestInMemoryDynamicXconnectIPsec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(41)
		r5a, r9a := netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("198.18.1.9")
		r5 := newMemDaemon(t, nw, memDynIPsecPE("R5", "198.18.1.5", "198.18.1.9", ""), func(o *Options) { o.Binds = nw.Host(r5a) })
		r9 := newMemDaemon(t, nw, memDynIPsecPE("R9", "198.18.1.9", "198.18.1.5", ""), func(o *Options) { o.Binds = nw.Host(r9a) })
		waitPWUp(t, r5, r9, 120, "crypto ipsec sa")
		frameAcross(t, r5, r9, 100)
		synctest.Wait()
		sa := r5.show(t, "crypto ipsec sa", false).Text
		if !strings.Contains(sa, "{Transport") || strings.Contains(sa, "#pkts encaps: 0,") || strings.Contains(sa, "#pkts decaps: 0,") {
			t.Fatalf("the pseudowire is not in the transport-mode SA:\n%s", sa)
		}

		path := filepath.Join(t.TempDir(), "vpdn.cfg")
		if err := os.WriteFile(path, []byte(memDynIPsecPE("R7", "198.18.1.7", "198.18.1.9", " ip tos value 10\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := New(Options{ConfigPath: path, Debug: debug.New(), Binds: nw.Host(netip.MustParseAddr("198.18.1.7")), Host: netif.NewFakeHost()})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Start(context.Background())
		if err == nil {
			d.Stop()
			t.Fatal("ip tos value under IPsec: started")
		}
		if !strings.Contains(err.Error(), "not applied to L2TPv3 inside IPsec") {
			t.Fatalf("ip tos value under IPsec: %v", err)
		}
	})
}

// waitPWUp waits, a second at a time and at most limit seconds, until
// both ends' show xconnect all say the pseudowire is up; more adds to
// what a failure prints.
func waitPWUp(t *testing.T, r5, r9 *memDaemon, limit int, more ...string) {
	t.Helper()
	for i := 0; ; i++ {
		if strings.Contains(r5.show(t, "xconnect all", false).Text, "UP     pri") &&
			strings.Contains(r9.show(t, "xconnect all", false).Text, "UP     pri") {
			return
		}
		if i == limit {
			out := []string{r5.show(t, "l2tp session all", false).Text, r9.show(t, "l2tp session all", false).Text}
			for _, m := range more {
				out = append(out, r5.show(t, m, false).Text)
			}
			t.Fatalf("not up:\n%s", strings.Join(out, "\n"))
		}
		time.Sleep(time.Second)
	}
}

// frameAcross sends an Ethernet frame of n octets into from's pw0 and
// wants it, unchanged, out of to's within five seconds.
func frameAcross(t *testing.T, from, to *memDaemon, n int) {
	t.Helper()
	f := ether(n)
	if err := from.host.Device("pw0").Inject(f); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-to.host.Device("pw0").Outbound:
		if !bytes.Equal(g, f) {
			t.Fatalf("got %x", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame across")
	}
}
