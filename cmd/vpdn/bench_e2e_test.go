package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// benchLNS is raLNS with a pool for 2,000 sessions and the shared
// interface, so no TUN is made per session.
const benchLNS = `hostname LNS
aaa new-model
aaa authentication ppp default local
aaa authorization network default local
username lac1 password 0 lacpass
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn virtual-access shared
vpdn-group REMOTE
 accept-dialin
  protocol l2tp
  virtual-template 1
 terminate-from hostname LAC
 l2tp tunnel password 0 tunnelpw
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 ip mtu 1400
 peer default ip address pool REMOTE
 ppp authentication chap
ip local pool REMOTE 198.19.1.1 198.19.8.254
`

// TestBenchInNamespaces is issue 6's CI smoke: vpdn bench emulates 10
// LACs with 100 sessions each against a real vpdn serve in another
// namespace; every session must reach IPCP open with a pool address and
// none may fail; during a 3 s hold each pings the LNS through its tunnel.
func TestBenchInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	lac, lns := lab.NS("bench"), lab.NS("lns")
	lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	lnsD := serveIn(t, lab, lns, "LNS", benchLNS)
	defer lnsD.stop()
	lnsD.waitUp(t)
	lnsLogs, sock := lnsD.logs, lnsD.sock

	out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	bench := lac.Command(bin, "bench", "--server", "198.18.0.2", "--tunnels", "10", "--sessions", "100",
		"--user", "lac1", "--password", "lacpass", "--tunnel-name", "LAC", "--tunnel-password", "tunnelpw",
		"--timeout", "20s", "--hold", "3s", "--traffic-interval", "1s", "--traffic-size", "300", "--json")
	bench.Stdout, bench.Stderr = out, errOut
	if err := lab.Start(bench); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- bench.Wait() }()
	var runErr error
	select {
	case runErr = <-errc:
	case <-time.After(60 * time.Second):
		bench.Process.Kill()
		<-errc
		t.Fatalf("vpdn bench did not finish\nstderr:\n%s", errOut)
	}
	defer func() {
		if t.Failed() {
			t.Logf("bench stderr:\n%s\nLNS log (tail):\n%s", errOut, tail(lnsLogs.String(), 40))
		}
	}()
	var rep struct {
		Established      int            `json:"established"`
		Failed           int            `json:"failed"`
		FailuresByReason map[string]int `json:"failures_by_reason"`
		SetupRate        float64        `json:"setup_rate_per_s"`
		P50              float64        `json:"p50_ms"`
		P99              float64        `json:"p99_ms"`
		Tunnels          int            `json:"tunnels"`
		Sessions         int            `json:"sessions"`
		ElapsedS         float64        `json:"elapsed_s"`
		TrafficSent      uint64         `json:"traffic_sent"`
		TrafficReceived  uint64         `json:"traffic_received"`
		Unanswered       int            `json:"traffic_unanswered_sessions"`
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("vpdn bench output is not one JSON object: %v\n%s", err, out)
	}
	t.Logf("vpdn bench: %s", strings.TrimSpace(out.String()))
	if rep.Established != 1000 || rep.Failed != 0 || rep.Tunnels != 10 || rep.Sessions != 1000 {
		t.Errorf("established %d, failed %d %v over %d tunnels / %d sessions; want 1000, 0, 10, 1000",
			rep.Established, rep.Failed, rep.FailuresByReason, rep.Tunnels, rep.Sessions)
	}
	// Traffic: every session pinged the LNS's address through the shared
	// interface's data plane (about 3 each) and got its replies.
	if rep.TrafficSent < 2500 || rep.Unanswered != 0 || rep.TrafficReceived < rep.TrafficSent*99/100 {
		t.Errorf("traffic: %d sent, %d received, %d sessions unanswered", rep.TrafficSent, rep.TrafficReceived, rep.Unanswered)
	}
	if rep.SetupRate <= 0 || rep.P50 <= 0 || rep.P99 < rep.P50 {
		t.Errorf("rate %v/s, p50 %v ms, p99 %v ms", rep.SetupRate, rep.P50, rep.P99)
	}
	if runErr != nil {
		t.Errorf("vpdn bench exited with %v", runErr)
	}
	if !strings.Contains(errOut.String(), "established") {
		t.Errorf("no progress lines on stderr:\n%s", errOut)
	}
	// Torn down: the LNS sees every session go (CDN, StopCCN).
	waitFor(t, "the LNS to clear every session", func() bool {
		s, _ := lns.Run(5*time.Second, bin, "show", "vpdn", "session", "--socket", sock)
		return strings.Contains(string(s), "No active L2TP sessions")
	})

	// A wrong password: every session fails, for authentication, and the
	// exit status says so.
	out, errOut = &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	bad := lac.Command(bin, "bench", "--server", "198.18.0.2:1701", "--tunnels", "2", "--sessions", "50",
		"--user", "lac1", "--password", "wrong", "--tunnel-password", "tunnelpw", "--timeout", "20s", "--json")
	bad.Stdout, bad.Stderr = out, errOut
	if err := lab.Start(bad); err != nil {
		t.Fatal(err)
	}
	go func() { errc <- bad.Wait() }()
	select {
	case runErr = <-errc:
	case <-time.After(40 * time.Second):
		bad.Process.Kill()
		<-errc
		t.Fatalf("vpdn bench (wrong password) did not finish\nstderr:\n%s", errOut)
	}
	rep.FailuresByReason = nil
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("vpdn bench output is not one JSON object: %v\n%s", err, out)
	}
	t.Logf("vpdn bench, wrong password: %s", strings.TrimSpace(out.String()))
	if rep.Established != 0 || rep.Failed != 100 || rep.FailuresByReason["authentication"] != 100 {
		t.Errorf("wrong password: established %d, failed %d %v; want 0, 100 for authentication", rep.Established, rep.Failed, rep.FailuresByReason)
	}
	if ee, ok := runErr.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("wrong password: exit %v, want status 1", runErr)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
