package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/debug"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/transport/memnet"
)

// The LNS and the LAC of the in-memory tests: document 002's remote access
// server with a pool, and a router-style client (Virtual-PPP).
const memLNS = `hostname lns
vpdn enable
vpdn l2tp listen 198.18.0.1:1701
username alice password 0 wonderland
ip local pool P 198.19.1.1 198.19.1.10
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 terminate-from hostname lac
 l2tp tunnel password 0 s3cret
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
`

const memLAC = `hostname lac
vpdn l2tp listen 198.18.0.2:1701
l2tp-class lns
 hostname lac
 authentication
 password 0 s3cret
pseudowire-class pw
 encapsulation l2tpv2
 protocol l2tpv2 lns
interface Virtual-PPP1
 ip address negotiated
 ppp chap hostname alice
 ppp chap password 0 wonderland
 pseudowire 198.18.0.1 1 pw-class pw
ip route 198.19.100.0 255.255.255.0 Virtual-PPP1
`

// memDaemon is a daemon on an in-memory network and interface host.
type memDaemon struct {
	d    *Daemon
	host *netif.FakeHost
}

// newMemDaemon starts a daemon on nw with configuration cfg; mods change
// its Options (a logger, say) before it is made.
func newMemDaemon(t testing.TB, nw transport.Factory, cfg string, mods ...func(*Options)) *memDaemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vpdn.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	host := netif.NewFakeHost()
	opts := Options{ConfigPath: path, Debug: debug.New(), Binds: nw, Host: host}
	for _, m := range mods {
		m(&opts)
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return &memDaemon{d, host}
}

func (m *memDaemon) show(t *testing.T, words string, asJSON bool) *control.Response {
	t.Helper()
	r := m.d.Do(context.Background(), &control.Request{Verb: "show", Words: strings.Fields(words), JSON: asJSON})
	if !r.OK {
		t.Fatalf("show %s: %s", words, r.Error)
	}
	return r
}

// udpPacket is an IPv4 UDP datagram from src to dst with n octets of data.
func udpPacket(src, dst string, n int) []byte {
	p := make([]byte, 28+n)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[24:], uint16(8+n))
	return p
}

// TestInMemoryLNS runs a whole LNS — L2TP, PPP with CHAP through AAA, a
// pool, a Virtual-Access cloned from its template, the data plane — and a
// LAC dialling it from a Virtual-PPP, on in-memory binds and interface
// hosts, without root, in fake time: IP crosses the tunnel both ways, the
// show commands see it, and clearing the session tears both ends down.
func TestInMemoryLNS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		lns := newMemDaemon(t, nw, memLNS)
		lac := newMemDaemon(t, nw, memLAC)
		// The client dials, authenticates and gets a pool address.
		for i := 0; lac.host.Device("Vp1") == nil || lns.host.Device("Vi1") == nil; i++ {
			if i > 60 {
				t.Fatalf("no session: LAC links %v, LNS links %v", lac.host.Links(), lns.host.Links())
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if addrs, _ := lac.host.Addrs("Vp1"); len(addrs) != 1 || addrs[0].Addr() != netip.MustParseAddr("198.19.1.1") {
			t.Fatalf("Vp1 addresses %v", addrs)
		}
		if rs, _ := lac.host.Routes("Vp1"); !strings.Contains(fmtRoutes(rs), "198.19.100.0/24") {
			t.Fatalf("Vp1 routes %v", rs)
		}
		vi, vp := lns.host.Device("Vi1"), lac.host.Device("Vp1")
		// IP both ways; the offloaded Fakes carry a virtio header.
		up := udpPacket("198.19.1.1", "198.19.0.1", 100)
		vp.Inject(vnetPacket(vp, up))
		synctest.Wait()
		if got := stripVnet(vi, <-vi.Outbound); !bytes.Equal(got, up) {
			t.Fatalf("LNS got %x", got)
		}
		down := udpPacket("198.19.0.1", "198.19.1.1", 200)
		vi.Inject(vnetPacket(vi, down))
		synctest.Wait()
		if got := stripVnet(vp, <-vp.Outbound); !bytes.Equal(got, down) {
			t.Fatalf("LAC got %x", got)
		}
		// A spoofed source from the client is dropped at the LNS.
		vp.Inject(vnetPacket(vp, udpPacket("198.19.1.7", "198.19.0.1", 10)))
		synctest.Wait()
		if len(vi.Outbound) != 0 {
			t.Fatal("the LNS forwarded a packet from a source the session does not own")
		}

		text := lns.show(t, "vpdn", false).Text
		for _, want := range []string{"L2TP Tunnel and Session Information Total tunnels 1 sessions 1", "alice, Vi1", "est"} {
			if !strings.Contains(text, want) {
				t.Errorf("show vpdn lacks %q:\n%s", want, text)
			}
		}
		all := lns.show(t, "l2tun session all", false).Text
		if !strings.Contains(all, "Interface Vi1") || strings.Contains(all, " 0 Packets sent, 0 received") {
			t.Errorf("show l2tun session all:\n%s", all)
		}
		var v struct {
			Tunnels  []map[string]any `json:"tunnels"`
			Sessions []map[string]any `json:"sessions"`
		}
		if err := json.Unmarshal(lns.show(t, "vpdn", true).Data, &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Tunnels) != 1 || v.Tunnels[0]["state"] != "est" || len(v.Sessions) != 1 || v.Sessions[0]["interface"] != "Vi1" {
			t.Fatalf("show vpdn --json: %+v", v)
		}
		c := v.Sessions[0]["counters"].(map[string]any)
		if c["packets_in"].(float64) < 2 || c["spoofed_source"].(float64) != 1 {
			t.Fatalf("counters %v", c)
		}
		if u := lns.show(t, "caller user alice", false).Text; !strings.Contains(u, "IP: Local 198.19.0.1, remote 198.19.1.1") {
			t.Errorf("show caller user:\n%s", u)
		}
		if lacV := lac.show(t, "vpdn", false).Text; !strings.Contains(lacV, "1, Vp1") {
			t.Errorf("LAC's show vpdn:\n%s", lacV)
		}

		// Clearing the Virtual-Access ends the session on both sides:
		// the LAC's interface goes, and it redials.
		r := lns.d.Do(context.Background(), &control.Request{Verb: "clear", Words: []string{"interface", "virtual-access", "1"}})
		if !r.OK {
			t.Fatal(r.Error)
		}
		synctest.Wait()
		if lns.host.Exists("Vi1") {
			t.Fatal("Vi1 is still there")
		}
		for i := 0; lac.host.Exists("Vp1") && i < 10; i++ {
			time.Sleep(time.Second)
		}
		if lac.host.Exists("Vp1") {
			t.Fatal("the LAC did not notice the CDN")
		}
		for i := 0; !lns.host.Exists("Vi1") && i < 60; i++ {
			time.Sleep(time.Second)
		}
		if !lns.host.Exists("Vi1") {
			t.Fatal("the LAC did not redial")
		}
	})
}

func fmtRoutes(rs []netif.Route) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Dst.String() + " ")
	}
	return b.String()
}

// vnetPacket puts a zero virtio_net_hdr in front of p on a device with
// offloads.
func vnetPacket(d *netif.Fake, p []byte) []byte {
	if d.Offload() {
		return append(make([]byte, netif.VnetHdrLen), p...)
	}
	return p
}

func stripVnet(d *netif.Fake, p []byte) []byte {
	if d.Offload() && len(p) >= netif.VnetHdrLen {
		return p[netif.VnetHdrLen:]
	}
	return p
}
