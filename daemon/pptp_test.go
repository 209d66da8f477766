package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	pptpc "github.com/vpdn/vpdn/carrier/pptp"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/vif"
	wpptp "github.com/vpdn/vpdn/wire/pptp"
)

// pptpClient is a PC-style PPTP client made of the carrier and the shared
// parts (the client role of the access layer) on the in-memory network.
type pptpClient struct {
	svc  *pptpc.Service
	host *netif.FakeHost
	ups  chan *access.Session
}

func newPPTPClient(t *testing.T, nw *memnet.Network, addr netip.Addr) *pptpClient {
	t.Helper()
	c := &pptpClient{host: netif.NewFakeHost(), ups: make(chan *access.Session, 1)}
	plane := dataplane.New(dataplane.Config{})
	ifs, _ := vif.New(vif.Config{Host: c.host})
	acc, err := access.New(access.Config{Plane: plane, Interfaces: ifs, OnUp: func(s *access.Session) { c.ups <- s }})
	if err != nil {
		t.Fatal(err)
	}
	gre, err := nw.Host(addr).ListenIP(47, addr)
	if err != nil {
		t.Fatal(err)
	}
	if c.svc, err = pptpc.New(pptpc.Config{Role: pptp.RolePNS, GRE: gre, Plane: plane, Access: acc}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.svc.Serve(); close(done) }()
	t.Cleanup(func() {
		acc.Close(access.CauseShutdown)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c.svc.Close(ctx)
		gre.Close()
		<-done
		plane.Close()
		ifs.Close()
	})
	return c
}

// dial places a call as user cisco2 (MS-CHAPv2, MPPE auto) from client to
// server and waits until the session is up.
func (c *pptpClient) dial(t *testing.T, nw *memnet.Network, client, server netip.Addr) *access.Session {
	t.Helper()
	conn, err := nw.Host(client).DialTCP(context.Background(), client, netip.AddrPortFrom(server, 1723))
	if err != nil {
		t.Fatal(err)
	}
	prof := &access.Profile{Role: access.Client, Template: "Dialer1", Kind: vif.VirtualPPP, Unit: 1, MTU: 1400,
		Hostname: "cisco2", Password: "cisco2", ClientIPCP: true, Refuse: []aaa.Method{aaa.EAPMD5},
		MPPE: ppp.MPPEConfig{Strengths: ppp.MPPEAuto}}
	cs, err := c.svc.Dial(context.Background(), conn, client, server, prof)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.ups:
	case <-time.After(time.Minute):
		t.Fatal("the client's session did not come up")
	}
	synctest.Wait()
	return cs
}

// TestInMemoryPPTPHub runs document 004's PPTP hub as written (its
// addresses mapped into the lab range) and a PPTP client that dials it
// with MS-CHAPv2: the call comes up with a pool address, MPPE-128 (the
// hub's "ppp encrypt mppe auto"), IP crosses both ways, and show vpdn
// session prints the PPTP section after "% No active L2TP tunnels", as the
// document does.
func TestInMemoryPPTPHub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := os.ReadFile("../config/testdata/docs/004-pptp-hub.cfg")
		if err != nil {
			t.Fatal(err)
		}
		hubCfg := "hostname PPTP_HUB\nvpdn pptp listen 198.18.0.1\n" + strings.ReplaceAll(string(b), "192.168.2.", "198.19.2.")
		nw := memnet.New(7)
		hub := newMemDaemon(t, nw, hubCfg)
		server, client := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
		cl := newPPTPClient(t, nw, client)
		cs := cl.dial(t, nw, client, server)
		enc, dec := cs.Data().MPPE()
		if enc == nil || dec == nil {
			t.Fatal("no MPPE on the client's session")
		}
		vp := cl.host.Device("Vp1")
		addrs, _ := cl.host.Addrs("Vp1")
		if len(addrs) != 1 || addrs[0].Addr() != netip.MustParseAddr("198.19.2.5") {
			t.Fatalf("Vp1 addresses %v, want the pool's first", addrs)
		}
		vi := hub.host.Device("Vi1")
		if vi == nil {
			t.Fatalf("no Vi1 on the hub: %v", hub.host.Links())
		}
		up := udpPacket("198.19.2.5", "198.19.2.2", 300)
		vp.Inject(vnetPacket(vp, up))
		synctest.Wait()
		if got := stripVnet(vi, <-vi.Outbound); !bytes.Equal(got, up) {
			t.Fatalf("the hub got %x", got)
		}
		down := udpPacket("198.19.2.2", "198.19.2.5", 300)
		vi.Inject(vnetPacket(vi, down))
		synctest.Wait()
		if got := stripVnet(vp, <-vp.Outbound); !bytes.Equal(got, down) {
			t.Fatalf("the client got %x", got)
		}
		if st := dec.Stats(); st.Packets == 0 {
			t.Errorf("nothing decrypted on the client: %+v", st)
		}
		out := hub.show(t, "vpdn session", false).Text
		t.Logf("show vpdn session:\n%s", out)
		for _, want := range []string{"% No active L2TP tunnels", "PPTP", "cisco2", "Vi1"} {
			if !strings.Contains(out, want) {
				t.Errorf("show vpdn session lacks %q:\n%s", want, out)
			}
		}
		mp := hub.show(t, "ppp mppe virtual-access 1", false).Text
		t.Logf("show ppp mppe virtual-access 1:\n%s", mp)
		for _, want := range []string{"Interface Virtual-Access1", "software encryption, 128 bit encryption, Stateless mode", "packets decrypted  = 1"} {
			if !strings.Contains(mp, want) {
				t.Errorf("show ppp mppe virtual-access 1 lacks %q:\n%s", want, mp)
			}
		}
		cs.Close(access.CauseUserRequest, "test over")
		<-cs.Done()
	})
}

// pptpRouterClient is document 004's PPTP router client, with the hub's
// address mapped into the lab range: a request-dialin vpdn-group with
// protocol pptp and interface Dialer1 with MPPE.
const pptpRouterClient = `hostname PPTP_CLIENT
service internal
vpdn enable
vpdn-group 1
 request-dialin
  protocol pptp
  pool-member 1
 initiate-to ip 198.18.0.1
interface Dialer1
 ip address negotiated
 encapsulation ppp
 dialer pool 1
 dialer idle-timeout 0
 dialer string 123
 dialer vpdn
 dialer-group 1
 ppp encrypt mppe auto
 ppp chap hostname cisco2
 ppp chap password 0 cisco2
ip route 198.19.2.0 255.255.255.0 Dialer1
`

// TestInMemoryPPTPRouterClient: document 004's PPTP router client dials
// its hub (both daemons, in memory): Dialer1 comes up with a pool address
// and the route through it, MPPE-128 on both ends, IP both ways; the
// client redials after the hub clears the call.
func TestInMemoryPPTPRouterClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := os.ReadFile("../config/testdata/docs/004-pptp-hub.cfg")
		if err != nil {
			t.Fatal(err)
		}
		nw := memnet.New(9)
		hub := newMemDaemon(t, nw.Host(netip.MustParseAddr("198.18.0.1")), "hostname PPTP_HUB\nvpdn pptp listen 198.18.0.1\n"+strings.ReplaceAll(string(b), "192.168.2.", "198.19.2."))
		cl := newMemDaemon(t, nw.Host(netip.MustParseAddr("198.18.0.2")), pptpRouterClient)
		for i := 0; cl.host.Device("Di1") == nil || hub.host.Device("Vi1") == nil; i++ {
			if i > 60 {
				t.Fatalf("no session: client links %v, hub links %v", cl.host.Links(), hub.host.Links())
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if addrs, _ := cl.host.Addrs("Di1"); len(addrs) != 1 || addrs[0].Addr() != netip.MustParseAddr("198.19.2.5") {
			t.Fatalf("Di1 addresses %v", addrs)
		}
		if rs, _ := cl.host.Routes("Di1"); !strings.Contains(fmtRoutes(rs), "198.19.2.0/24") {
			t.Fatalf("Di1 routes %v", rs)
		}
		di, vi := cl.host.Device("Di1"), hub.host.Device("Vi1")
		up := udpPacket("198.19.2.5", "198.19.2.2", 500)
		di.Inject(vnetPacket(di, up))
		synctest.Wait()
		if got := stripVnet(vi, <-vi.Outbound); !bytes.Equal(got, up) {
			t.Fatalf("the hub got %x", got)
		}
		down := udpPacket("198.19.2.2", "198.19.2.5", 500)
		vi.Inject(vnetPacket(vi, down))
		synctest.Wait()
		if got := stripVnet(di, <-di.Outbound); !bytes.Equal(got, down) {
			t.Fatalf("the client got %x", got)
		}
		if mp := hub.show(t, "ppp mppe virtual-access 1", false).Text; !strings.Contains(mp, "128 bit encryption") {
			t.Errorf("show ppp mppe:\n%s", mp)
		}
		for _, s := range cl.d.rt.Load().access.Sessions() {
			if enc, _ := s.Data().MPPE(); enc == nil {
				t.Error("no MPPE on the client's session")
			}
		}
		// The hub clears the session; the client dials again.
		if r := hub.d.Do(context.Background(), &control.Request{Verb: "clear", Words: []string{"interface", "virtual-access", "1"}}); !r.OK {
			t.Fatalf("clear interface virtual-access 1: %s", r.Error)
		}
		synctest.Wait()
		if hub.host.Device("Vi1") != nil && len(hub.d.rt.Load().access.Sessions()) != 0 {
			t.Fatal("the session outlived its clear")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if cl.host.Device("Di1") == nil || hub.host.Device("Vi1") == nil {
			t.Fatalf("no session after the redial: client links %v, hub links %v", cl.host.Links(), hub.host.Links())
		}
	})
}

// metricsText is what /metrics would serve for d's own collector.
func metricsText(t *testing.T, d *Daemon) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{d})
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// do runs a control request on m and returns its response.
func (m *memDaemon) do(verb string, words ...string) *control.Response {
	return m.d.Do(context.Background(), &control.Request{Verb: verb, Words: words})
}

// TestInMemoryPPTPOps: document 004's PPTP hub with `debug vpdn
// pptp-events` and `debug ppp mppe` on, a PC-style client with MPPE-128,
// and a peer that sends a control message with a wrong Magic Cookie. The
// metrics count the connection, the call, the MPPE packets and the bad
// cookie; the log has the PPTP events and CCP's MPPE lines but not the
// rest of PPP negotiation; clear vpdn tunnel pptp ends the control
// connection with StopCCRQ and the client's session with it.
func TestInMemoryPPTPOps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := os.ReadFile("../config/testdata/docs/004-pptp-hub.cfg")
		if err != nil {
			t.Fatal(err)
		}
		hubCfg := "hostname PPTP_HUB\nvpdn pptp listen 198.18.0.1\n" + strings.ReplaceAll(string(b), "192.168.2.", "198.19.2.")
		nw := memnet.New(11)
		logs := &nstest.SyncBuffer{}
		hub := newMemDaemon(t, nw, hubCfg, func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		for _, sw := range [][]string{{"vpdn", "pptp-events"}, {"ppp", "mppe"}} {
			if r := hub.do("debug", sw...); !r.OK || !strings.Contains(r.Text, strings.Join(sw, " ")+" debugging is on") {
				t.Fatalf("debug %v: %+v", sw, r)
			}
		}
		server, client, bad := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")

		// A wrong Magic Cookie (RFC 2637 §2): the connection is closed
		// and counted.
		bc, err := nw.Host(bad).DialTCP(context.Background(), bad, netip.AddrPortFrom(server, 1723))
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, 156) // an SCCRQ's length
		binary.BigEndian.PutUint16(msg[0:], 156)
		binary.BigEndian.PutUint16(msg[2:], 1)
		binary.BigEndian.PutUint32(msg[4:], 0xdeadbeef)
		binary.BigEndian.PutUint16(msg[8:], 1)
		if _, err := bc.Write(msg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		bc.Close()

		cl := newPPTPClient(t, nw, client)
		dial := func() *access.Session { return cl.dial(t, nw, client, server) }
		cs := dial()
		vp, vi := cl.host.Device("Vp1"), hub.host.Device("Vi1")
		up := udpPacket("198.19.2.5", "198.19.2.2", 300)
		vp.Inject(vnetPacket(vp, up))
		synctest.Wait()
		<-vi.Outbound
		down := udpPacket("198.19.2.2", "198.19.2.5", 300)
		vi.Inject(vnetPacket(vi, down))
		synctest.Wait()
		<-vp.Outbound

		m := metricsText(t, hub.d)
		for _, want := range []string{
			`vpdn_pptp_tunnels{state="estabd"} 1`,
			`vpdn_pptp_sessions{state="estabd"} 1`,
			`vpdn_pptp_control_drops_total{reason="bad-cookie"} 1`,
			`vpdn_pptp_control_drops_total{reason="out-of-state"} 0`,
			`vpdn_pptp_control_timeouts_total{timer="echo"} 0`,
			`vpdn_pptp_acks_total{kind="piggybacked"} `,
			`vpdn_pptp_acks_total{kind="alone"} `,
			`vpdn_pptp_over_window_total 0`,
			`vpdn_pptp_flow_alarms_total 0`,
			`vpdn_pptp_flow_alarm_calls 0`,
			`vpdn_mppe_sessions{bits="128",mode="stateless"} 1`,
			`vpdn_mppe_packets_total{direction="in"} 1`,
			`vpdn_mppe_packets_total{direction="out"} 1`,
			`vpdn_mppe_key_changes_total{direction="in"} `,
			`vpdn_mppe_resyncs_total 0`,
			`vpdn_mppe_drops_total{reason="late"} 0`,
			// The data plane's PPTP and MPPE drop reasons.
			`vpdn_dataplane_drops_total{reason="not-pptp"} 0`,
			`vpdn_dataplane_drops_total{reason="unencrypted"} 0`,
			`vpdn_dataplane_drops_total{reason="mppe-late"} 0`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", m)
		}

		out := logs.String()
		for _, want := range []string{
			`: FSM-CC idle->established on SCCRQ-OK" debug=pptp-events`,
			`wrong magic cookie: 0xdeadbeef" debug=pptp-events,error`,
			`CCP: MPPE 128 bit, stateless" debug="ppp negotiation,ppp mppe"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the log lacks %s", want)
			}
		}
		// ppp negotiation is off: LCP's lines are not there.
		if strings.Contains(out, "LCP: ") {
			t.Error("LCP lines without debug ppp negotiation")
		}
		if t.Failed() {
			t.Logf("log:\n%s", out)
		}

		// clear vpdn tunnel pptp: bad words, no match, then by remote
		// name (the host name the client sent) and by ID.
		for _, c := range []struct {
			words []string
			err   string
		}{
			{[]string{"vpdn", "tunnel", "pptp", "id", "x"}, `% Invalid tunnel id "x"`},
			{[]string{"vpdn", "tunnel", "pptp", "id", "0"}, `% Invalid tunnel id "0"`},
			{[]string{"vpdn", "tunnel", "pptp", "id", "9999"}, "% No such PPTP tunnel"},
			{[]string{"vpdn", "tunnel", "pptp", "remote-name", "nosuch"}, "% No such PPTP tunnel"},
		} {
			if r := hub.do("clear", c.words...); r.OK || !strings.Contains(r.Error, c.err) {
				t.Errorf("clear %v: %+v, want error %q", c.words, r, c.err)
			}
		}
		cleared := func(words ...string) {
			t.Helper()
			conns := cl.svc.Node().Conns()
			if len(conns) != 1 {
				t.Fatalf("the client has %d control connections", len(conns))
			}
			if r := hub.do("clear", words...); !r.OK || r.Text != "1 tunnel(s) cleared\n" {
				t.Fatalf("clear %v: %+v", words, r)
			}
			select {
			case <-cs.Done():
			case <-time.After(time.Minute):
				t.Fatalf("clear %v: the client's session survived", words)
			}
			<-conns[0].Done()
			var ce *pptp.CloseError
			if err := conns[0].Err(); !errors.As(err, &ce) || ce.Msg != wpptp.MsgStopCCRQ || !ce.Remote || ce.Result != uint8(wpptp.StopNone) {
				t.Fatalf("clear %v: the client's connection ended with %v, want the hub's StopCCRQ reason 1", words, err)
			}
			synctest.Wait()
			if n := len(hub.d.rt.Load().pptp.Node().Snapshot()); n != 0 {
				t.Fatalf("clear %v: the hub has %d control connections", words, n)
			}
		}
		cleared("vpdn", "tunnel", "pptp", "remote-name", "VPDN")
		if m := metricsText(t, hub.d); strings.Contains(m, "vpdn_pptp_tunnels{") {
			t.Errorf("/metrics after the clear:\n%s", m)
		}
		cs = dial()
		id := hub.d.rt.Load().pptp.Node().Snapshot()[0].ID
		cleared("vpdn", "tunnel", "pptp", "id", strconv.FormatUint(id, 10))
		if r := hub.do("clear", "vpdn", "tunnel", "pptp", "all"); r.OK || r.Error != "% No such PPTP tunnel" {
			t.Errorf("clear vpdn tunnel pptp all with none: %+v", r)
		}
	})
}
