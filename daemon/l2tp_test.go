package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/debug"
	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport"
)

const lnsCfg = `hostname lns
vpdn enable
vpdn l2tp listen 127.0.0.1:0
vpdn metrics listen 127.0.0.1:0
ip local pool P 198.19.1.1 198.19.1.10
vpdn-group FROM-LAC1
 accept-dialin
  protocol l2tp
  virtual-template 1
 terminate-from hostname lac1
 l2tp tunnel password 0 s3cret
vpdn-group ANY
 accept-dialin
  protocol l2tp
  virtual-template 1
 no l2tp tunnel authentication
interface Virtual-Template1
 ip unnumbered Loopback0
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
`

// lacNode is a LAC on loopback for dialing the daemon.
func lacNode(t *testing.T) *l2tp.Node {
	conn, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := l2tp.NewNode(l2tp.Config{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	go conn.Serve(n.HandlePacket)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
		conn.Close()
	})
	return n
}

func TestL2TPLNS(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "lns.cfg")
	os.WriteFile(cfgPath, []byte(lnsCfg), 0o644)
	sock := filepath.Join(dir, "s")
	logs := &nstest.SyncBuffer{}
	sw := debug.New()
	d, err := New(Options{ConfigPath: cfgPath, Socket: sock, Debug: sw,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := 0; d.L2TPAddr().Port() == 0 || !socketUp(sock); i++ {
		if i > 300 {
			t.Fatal("daemon did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"vpdn"}}); !strings.Contains(r.Text, "No active L2TP tunnels") {
		t.Fatalf("show vpdn with no tunnels: %q", r.Text)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"l2tun"}}); r.Text != "% No active L2TP tunnels\n" {
		t.Fatalf("show l2tun with no tunnels: %+v", r)
	}
	do(t, sock, &control.Request{Verb: "debug", Words: []string{"vpdn", "l2x-events"}})
	lns := d.L2TPAddr()
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer dcancel()

	// lac1 must authenticate with the group's password.
	lac := lacNode(t)
	start := time.Now()
	if _, err := lac.Dial(dctx, lns, l2tp.TunnelParams{LocalName: "lac1", Secret: []byte("wrong")}, l2tp.CallParams{}); err == nil {
		t.Fatal("wrong tunnel password accepted")
	} else {
		t.Logf("wrong password refused after %v: %v", time.Since(start), err)
	}
	s1, err := lac.Dial(dctx, lns, l2tp.TunnelParams{LocalName: "lac1", Secret: []byte("s3cret")}, l2tp.CallParams{})
	if err != nil {
		t.Fatalf("lac1: %v", err)
	}
	// Any other host name lands in group ANY, without authentication.
	lac2 := lacNode(t)
	if _, err := lac2.Dial(dctx, lns, l2tp.TunnelParams{LocalName: "branch7"}, l2tp.CallParams{}); err != nil {
		t.Fatalf("branch7: %v", err)
	}
	// The LNS side of the second session is established once our ICCN
	// arrives: poll (bounded) until both sessions show est.
	var r *control.Response
	for i := 0; i < 200; i++ {
		r = do(t, sock, &control.Request{Verb: "show", Words: []string{"vpdn", "session"}})
		if strings.Count(r.Text, " est ") == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"vpdn"}})
	for _, want := range []string{"L2TP Tunnel and Session Information Total tunnels", "sessions 2", "LocTunID   RemTunID   Remote Name", "lac1", "branch7", "FROM-LAC1", "ANY", " est "} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("show vpdn lacks %q:\n%s", want, r.Text)
		}
	}
	// Bare show l2tun: the tunnel summary, then the session summary, each
	// with its IOS title.
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"l2tun"}})
	// (The tunnel refused for its password may still be listed, down.)
	tunTitle := strings.Index(r.Text, "L2TP Tunnel Information Total tunnels ")
	sessTitle := strings.Index(r.Text, "L2TP Session Information Total tunnels ")
	if tunTitle != 0 || sessTitle < 0 || !strings.Contains(r.Text[:sessTitle], " sessions 2\n\n"+show.L2TPTunnelHeader) ||
		!strings.Contains(r.Text[sessTitle:], " sessions 2\n\n"+show.L2TPSessionHeader) ||
		!strings.Contains(r.Text[:sessTitle], "branch7") || strings.Count(r.Text[sessTitle:], " est ") != 2 {
		t.Errorf("show l2tun: want the tunnel summary, then the session summary:\n%s", r.Text)
	}
	if r := do(t, sock, &control.Request{Verb: "show", Words: []string{"l2tun"}, JSON: true}); !strings.Contains(string(r.Data), `"tunnels":[`) || !strings.Contains(string(r.Data), `"sessions":[`) {
		t.Errorf("show l2tun --json: %s", r.Data)
	}
	// Prometheus: the tunnels and the pool, read at scrape time.
	resp, err := http.Get("http://" + d.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`vpdn_l2tp_tunnels{state="est"} 2`, `vpdn_pool_addresses{pool="P",state="free"} 10`, `vpdn_config_reloads_total{result="ok"} 0`, `vpdn_l2tp_control_drops_total{reason="input-overflow"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"l2tun", "tunnel", "all"}})
	if !strings.Contains(r.Text, "Remote tunnel name is lac1") || !strings.Contains(r.Text, "Tunnel state is established") {
		t.Errorf("show l2tun tunnel all:\n%s", r.Text)
	}
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"l2tun", "session", "all"}})
	if !strings.Contains(r.Text, "Session state is established") || strings.Count(r.Text, "Session id ") != 2 {
		t.Errorf("show l2tun session all:\n%s", r.Text)
	}
	r = do(t, sock, &control.Request{Verb: "show", Words: []string{"vpdn", "tunnel"}, JSON: true})
	if !strings.Contains(string(r.Data), `"remote_name":"lac1"`) {
		t.Errorf("show vpdn tunnel --json: %s", r.Data)
	}
	if !strings.Contains(logs.String(), "FSM-CC Wt-SCCCN->Proc-SCCCN") && !strings.Contains(logs.String(), "FSM-CC") {
		t.Errorf("debug vpdn l2x-events logged nothing:\n%s", logs.String())
	}
	// clear vpdn tunnel l2tp remote-name lac1: its session ends with the tunnel.
	if r := do(t, sock, &control.Request{Verb: "clear", Words: []string{"vpdn", "tunnel", "l2tp", "remote-name", "lac1"}}); !r.OK {
		t.Fatalf("clear: %+v", r)
	}
	start = time.Now()
	select {
	case <-s1.Done():
		t.Logf("session ended %v after clear", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("lac1's session survived clear vpdn tunnel")
	}
	if r := do(t, sock, &control.Request{Verb: "clear", Words: []string{"vpdn", "tunnel", "l2tp", "id", "9"}}); r.OK {
		t.Fatal("clearing an unknown tunnel succeeded")
	}
}

func socketUp(path string) bool {
	c, err := control.Dial(path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
