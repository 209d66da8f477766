package interop

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/transport"
	wl2tp "github.com/vpdn/vpdn/wire/l2tp"
)

var (
	vpdnAddr = netip.MustParseAddr("198.18.0.1")
	peerAddr = netip.MustParseAddr("198.18.0.2")
)

// vpdnNode is vpdn's L2TP control plane on a real UDP socket in a namespace.
type vpdnNode struct {
	*l2tp.Node
	ups  chan *l2tp.Session
	logs *nstest.SyncBuffer
}

func startVPDN(t *testing.T, ns *nstest.NS, cfg l2tp.Config) *vpdnNode {
	t.Helper()
	var conn *transport.UDPConn
	if err := ns.Do(func() (err error) {
		conn, err = transport.ListenUDP(netip.AddrPortFrom(vpdnAddr, 1701))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	v := &vpdnNode{ups: make(chan *l2tp.Session, 16), logs: &nstest.SyncBuffer{}}
	cfg.Conn = conn
	cfg.Logger = slog.New(slog.NewTextHandler(v.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.OnSessionUp = func(s *l2tp.Session) { v.ups <- s }
	node, err := l2tp.NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v.Node = node
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn.Serve(node.HandlePacket)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		node.Close(ctx)
		conn.Close()
		<-done
		if t.Failed() {
			t.Logf("vpdn log:\n%s", v.logs.String())
		}
	})
	return v
}

// newLab makes the two-namespace lab of every interop test: vpdn on
// 198.18.0.1, the peer on 198.18.0.2, and a capture of UDP 1701 on vpdn's side.
func newLab(t *testing.T) (*nstest.Lab, *nstest.NS, *nstest.NS, *nstest.Capture) {
	lab := nstest.New(t)
	a, b := lab.NS("vpdn"), lab.NS("peer")
	devA, _ := lab.Link(a, b, netip.PrefixFrom(vpdnAddr, 24), netip.PrefixFrom(peerAddr, 24))
	return lab, a, b, lab.Capture(a, devA, "udp port 1701")
}

// checkCapture stops the capture and fails on any malformed packet or
// expert error in what vpdn sent; it returns the L2TP message types vpdn
// sent, in order.
func checkCapture(t *testing.T, c *nstest.Capture) []string {
	t.Helper()
	if c == nil {
		return nil
	}
	c.Stop()
	if dir := os.Getenv("VPDN_KEEP_PCAP"); dir != "" {
		if b, err := os.ReadFile(c.Path); err == nil {
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pcap"), b, 0o644)
		}
	}
	if t.Failed() {
		if b, err := os.ReadFile(c.Path); err == nil {
			dst := filepath.Join(os.TempDir(), "vpdn-interop-"+strings.ReplaceAll(t.Name(), "/", "_")+".pcap")
			os.WriteFile(dst, b, 0o644)
			t.Logf("capture kept at %s", dst)
		}
	}
	ours := fmt.Sprintf("ip.src == %s", vpdnAddr)
	bad, err := nstest.Decode(c.Path, ours+" && (_ws.malformed || _ws.expert.severity >= error)")
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("tshark finds problems in what vpdn sent:\n%s", strings.Join(bad, "\n"))
	}
	types, err := nstest.Decode(c.Path, ours+" && l2tp.type == 1", "l2tp.avp.message_type")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := nstest.Decode(c.Path, ours)
	t.Logf("vpdn sent %d L2TP packets (%d control messages with AVPs); tshark found no malformed packet", len(all), len(types))
	return types
}

func waitSession(t *testing.T, v *vpdnNode, timeout time.Duration) *l2tp.Session {
	t.Helper()
	select {
	case s := <-v.ups:
		return s
	case <-time.After(timeout):
		t.Fatalf("no session came up within %v", timeout)
		return nil
	}
}

// TestLACToXL2TPD: vpdn as LAC opens a tunnel and a session to xl2tpd as
// LNS, with and without tunnel authentication, then tears both down.
func TestLACToXL2TPD(t *testing.T) {
	for _, secret := range []string{"", "tunnel-s3cret"} {
		t.Run(fmt.Sprintf("secret=%q", secret), func(t *testing.T) {
			peers.Require(t, "xl2tpd")
			lab, a, b, capture := newLab(t)
			var opts []peers.XL2TPDOption
			if secret != "" {
				opts = append(opts, peers.TunnelSecret(secret))
			}
			lns := peers.XL2TPDLNS(t, lab, b, peerAddr, opts...)
			v := startVPDN(t, a, l2tp.Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := v.Dial(ctx, netip.AddrPortFrom(peerAddr, 1701), l2tp.TunnelParams{LocalName: "vpdn-lac", Secret: []byte(secret)}, l2tp.CallParams{CalledNumber: "1234"})
			if err != nil {
				if capture != nil {
					capture.Stop()
					hex, _ := exec.Command("tshark", "-r", capture.Path, "-x", "-c", "1").Output()
					t.Logf("first SCCRQ:\n%s", hex)
				}
				t.Fatalf("dial: %v\nxl2tpd log:\n%s", err, lns.Log())
			}
			info := s.Info()
			if info.PeerName != lns.Hostname {
				t.Errorf("peer host name %q, want %q", info.PeerName, lns.Hostname)
			}
			if _, err := lns.WaitLog(peers.XL2TPDCallUp, 10*time.Second); err != nil {
				t.Fatalf("xl2tpd never logged the call: %v\n%s", err, lns.Log())
			}
			t.Logf("session up: tunnel %d/%d session %d/%d; xl2tpd: %s", info.LocalTunnelID, info.RemoteTunnelID, info.LocalSessionID, info.RemoteSessionID, lns.Calls()[0])
			// xl2tpd's pppd fails at once (no /dev/ppp) and xl2tpd clears
			// the call with a CDN; either way, close everything cleanly.
			s.Close(wl2tp.Result{Code: 3})
			for _, tn := range v.Tunnels() {
				tn.Close(wl2tp.Result{Code: 1})
			}
			if _, err := lns.WaitLog(peers.XL2TPDTunnelClosed, 10*time.Second); err != nil {
				t.Errorf("xl2tpd never saw the tunnel close: %v\n%s", err, lns.Log())
			}
			types := checkCapture(t, capture)
			for _, want := range []string{"1", "3", "10", "12"} { // SCCRQ, SCCCN, ICRQ, ICCN
				found := false
				for _, ty := range types {
					if ty == want {
						found = true
					}
				}
				if capture != nil && !found {
					t.Errorf("vpdn never sent message type %s: %v", want, types)
				}
			}
		})
	}
}

// TestXL2TPDLACToVPDN: xl2tpd as LAC dials vpdn as LNS; the tunnel and the
// session reach the established state on both sides.
func TestXL2TPDLACToVPDN(t *testing.T) {
	peers.Require(t, "xl2tpd")
	lab, a, b, capture := newLab(t)
	v := startVPDN(t, a, l2tp.Config{Defaults: l2tp.TunnelParams{LocalName: "vpdn-lns"}})
	lac := peers.XL2TPDLAC(t, lab, b, peerAddr, vpdnAddr)
	if err := lac.Dial(); err != nil {
		t.Fatal(err)
	}
	s := waitSession(t, v, 30*time.Second)
	info := s.Info()
	if info.PeerName != lac.Hostname || info.LAC {
		t.Errorf("session info %+v", info)
	}
	if _, err := lac.WaitLog(peers.XL2TPDCallUp, 10*time.Second); err != nil {
		t.Fatalf("xl2tpd never logged the call: %v\n%s", err, lac.Log())
	}
	t.Logf("session up on vpdn (LNS): tunnel %d/%d session %d/%d from %q", info.LocalTunnelID, info.RemoteTunnelID, info.LocalSessionID, info.RemoteSessionID, info.PeerName)
	for _, tn := range v.Tunnels() {
		tn.Close(wl2tp.Result{Code: 6})
	}
	if _, err := lac.WaitLog(peers.XL2TPDTunnelClosed, 10*time.Second); err != nil {
		t.Errorf("xl2tpd never saw the StopCCN: %v\n%s", err, lac.Log())
	}
	types := checkCapture(t, capture)
	if capture != nil && !strings.Contains(strings.Join(types, ","), "2") {
		t.Errorf("vpdn sent no SCCRP: %v", types)
	}
}

// TestLACToL2TPNS: vpdn as LAC toward l2tpns (with its tunnel secret, so
// with Challenge / Challenge Response) reaches an established tunnel and
// session.
func TestLACToL2TPNS(t *testing.T) {
	peers.Require(t, "l2tpns", "freeradius")
	lab, a, b, capture := newLab(t)
	radius := peers.FreeRADIUS(t, lab, b, peers.User{Name: "labuser", Password: "labpass"})
	lns := peers.L2TPNS(t, lab, b, peerAddr, radius)
	v := startVPDN(t, a, l2tp.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := v.Dial(ctx, netip.AddrPortFrom(peerAddr, 1701), l2tp.TunnelParams{LocalName: "vpdn-lac", Secret: []byte(lns.Secret)}, l2tp.CallParams{})
	if err != nil {
		t.Fatalf("dial: %v\nl2tpns log:\n%s", err, lns.Log())
	}
	info := s.Info()
	t.Logf("session up: tunnel %d/%d session %d/%d, peer %q", info.LocalTunnelID, info.RemoteTunnelID, info.LocalSessionID, info.RemoteSessionID, info.PeerName)
	if _, err := lns.WaitLog(peers.L2TPNSNewTunnel, 5*time.Second); err != nil {
		t.Errorf("l2tpns did not log the tunnel: %v", err)
	}
	s.Close(wl2tp.Result{Code: 3})
	for _, tn := range v.Tunnels() {
		tn.Close(wl2tp.Result{Code: 1})
	}
	checkCapture(t, capture)
}

// TestLACToSoftEther: vpdn as LAC toward SoftEther's raw L2TP server (no
// IPsec) reaches an established tunnel and session.
func TestLACToSoftEther(t *testing.T) {
	peers.Require(t, peers.SoftEtherServerBin, peers.SoftEtherCmdBin)
	lab, a, b, capture := newLab(t)
	se := peers.SoftEther(t, lab, b, peerAddr)
	v := startVPDN(t, a, l2tp.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := v.Dial(ctx, se.AddrPort(), l2tp.TunnelParams{LocalName: "vpdn-lac"}, l2tp.CallParams{})
	if err != nil {
		t.Fatalf("dial: %v\nSoftEther log:\n%s", err, se.Log())
	}
	info := s.Info()
	t.Logf("session up: tunnel %d/%d session %d/%d, peer %q", info.LocalTunnelID, info.RemoteTunnelID, info.LocalSessionID, info.RemoteSessionID, info.PeerName)
	s.Close(wl2tp.Result{Code: 3})
	for _, tn := range v.Tunnels() {
		tn.Close(wl2tp.Result{Code: 1})
	}
	checkCapture(t, capture)
}
