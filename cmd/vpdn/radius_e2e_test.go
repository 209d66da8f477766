package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// radiusLNS authenticates and authorizes through RADIUS only: a dead
// first server (nothing listens on 11812), then FreeRADIUS; one second
// per transmission, one retransmission, so failover takes 2 s.
const radiusLNS = `hostname LNS
aaa new-model
aaa authentication ppp default group radius
aaa authorization network default group radius
radius server DEAD
 address ipv4 198.18.0.2 auth-port 11812 acct-port 11813
 key 0 testing123
radius server FREERADIUS
 address ipv4 198.18.0.2 auth-port 1812 acct-port 1813
 key 7 03105E1812062F4B1F5B4A
radius-server timeout 1
radius-server retransmit 1
radius-server deadtime 10
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn pptp listen 198.18.0.2
vpdn-group LNS
 accept-dialin
  protocol any
  virtual-template 1
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp encrypt mppe auto
 ppp authentication ms-chap-v2 ms-chap chap pap
ip local pool P 198.19.1.10 198.19.1.200
`

// TestRADIUSInNamespaces is issue 12's FreeRADIUS interop: vpdn serve as
// LNS authenticates vpdn dial clients through FreeRADIUS (its packaged
// configuration, users in its files module): PAP, CHAP and MS-CHAPv1 over
// L2TP, MS-CHAPv2 over PPTP with MPPE required (the MPPE keys come from
// MS-MPPE-Send-Key/Recv-Key), a wrong password rejected, and the dead
// first server skipped after the first request's timeouts.
func TestRADIUSInNamespaces(t *testing.T) {
	lab, bin, client, _, lnsD := newRadiusLab(t, radiusLNS, func(lab *nstest.Lab, lns *nstest.NS) *peers.FreeRADIUSPeer {
		return peers.FreeRADIUSSigning(t, lab, lns, peers.User{Name: "raduser", Password: "radpass"})
	})
	if out := lnsD.show("debug", "radius"); strings.Contains(out, "%") {
		t.Logf("debug radius: %s", out)
	}

	dial := func(t *testing.T, password, wantUp string, args ...string) (ok bool, out string, upAfter time.Duration) {
		t.Helper()
		stdout, stderr := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		cmd := client.Command(bin, append([]string{"dial", "--server", "198.18.0.2", "--user", "raduser", "--password", password, "--timeout", "20s"}, args...)...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := lab.Start(cmd); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- cmd.Wait() }()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case err := <-errc:
				return false, fmt.Sprintf("exit %v\n%s%s", err, stdout, stderr), 0
			case <-deadline:
				cmd.Process.Kill()
				<-errc
				t.Fatalf("vpdn dial hung\n%s%s", stdout, stderr)
			case <-time.After(100 * time.Millisecond):
			}
			if strings.Contains(stdout.String(), wantUp) {
				break
			}
		}
		out, upAfter = stdout.String(), time.Since(start)
		// Up: check the LNS's view, then hang up.
		ses := lnsD.show("show", "vpdn", "session")
		if !strings.Contains(ses, "raduser") {
			t.Errorf("show vpdn session has no raduser:\n%s", ses)
		}
		if strings.Contains(strings.Join(args, " "), "pptp") {
			mp := lnsD.show("show", "ppp", "mppe", "virtual-access", "1")
			if !strings.Contains(mp, "128 bit encryption") {
				t.Errorf("no MPPE-128 on the LNS:\n%s", mp)
			}
			if p, err := client.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "198.19.0.1"); err != nil {
				t.Errorf("ping through the MPPE call: %v\n%s", err, p)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-errc:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-errc
			t.Errorf("vpdn dial did not exit on SIGTERM")
		}
		waitFor(t, "the LNS to clear the session", func() bool {
			return !strings.Contains(lnsD.show("show", "vpdn", "session"), "raduser")
		})
		return true, out, upAfter
	}

	t.Run("pap-with-failover", func(t *testing.T) {
		ok, out, up := dial(t, "radpass", "is up: address 198.19.1.", "--auth", "pap")
		if !ok {
			t.Fatalf("PAP through RADIUS failed: %s", out)
		}
		t.Logf("PAP up after %v (the dead server's 2 s included): %s", up.Round(time.Millisecond), lastLine(out))
		srv := lnsD.show("show", "aaa", "servers")
		// The dead server: two transmissions (timeout 1 s, retransmit
		// 1), one timeout, then marked dead for 10 minutes.
		if !strings.Contains(srv, "host 198.18.0.2, auth-port 11812") || !strings.Contains(srv, "State: current DEAD") ||
			!strings.Contains(srv, "Authen: request 2, timeouts 1, retransmission 1") {
			t.Errorf("show aaa servers, dead server:\n%s", srv)
		}
		t.Logf("show aaa servers:\n%s", srv)
	})
	t.Run("chap", func(t *testing.T) {
		ok, out, up := dial(t, "radpass", "is up: address 198.19.1.", "--auth", "chap")
		if !ok {
			t.Fatalf("CHAP through RADIUS failed: %s", out)
		}
		t.Logf("CHAP up after %v (the dead server skipped): %s", up.Round(time.Millisecond), lastLine(out))
	})
	t.Run("mschapv1", func(t *testing.T) {
		ok, out, _ := dial(t, "radpass", "is up: address 198.19.1.", "--auth", "ms-chap")
		if !ok {
			t.Fatalf("MS-CHAPv1 through RADIUS failed: %s", out)
		}
		t.Logf("MS-CHAPv1: %s", lastLine(out))
	})
	t.Run("mschapv2-pptp-mppe", func(t *testing.T) {
		ok, out, _ := dial(t, "radpass", "Dialer1 is up: address 198.19.1.", "--protocol", "pptp", "--mppe", "required", "--auth", "ms-chap-v2")
		if !ok {
			t.Fatalf("MS-CHAPv2 with MPPE through RADIUS failed: %s", out)
		}
		t.Logf("MS-CHAPv2 + MPPE-128: %s", lastLine(out))
	})
	t.Run("reject", func(t *testing.T) {
		ok, out, _ := dial(t, "wrong", "is up: address", "--auth", "chap", "--timeout", "8s")
		if ok {
			t.Fatalf("a wrong password was accepted: %s", out)
		}
		hist := lnsD.show("show", "vpdn", "history", "failure")
		if !strings.Contains(hist, "raduser") || !strings.Contains(hist, "rejected by RADIUS server") {
			t.Errorf("show vpdn history failure:\n%s", hist)
		}
		t.Logf("show vpdn history failure:\n%s", hist)
	})
	stats := lnsD.show("show", "radius", "statistics")
	t.Logf("show radius statistics:\n%s", stats)
	srv := lnsD.show("show", "aaa", "servers")
	if !strings.Contains(srv, "host 198.18.0.2, auth-port 1812") || !strings.Contains(srv, "Response: accept 4, reject ") {
		t.Errorf("show aaa servers, FreeRADIUS:\n%s", srv)
	}
	if strings.Contains(stats, "missing_message_authenticator:          0") == false {
		t.Errorf("FreeRADIUS answers dropped for a missing Message-Authenticator:\n%s", stats)
	}
	if strings.Contains(lnsD.logs.String(), "radpass") || strings.Contains(lnsD.logs.String(), "testing123") {
		t.Error("a password or the RADIUS key is in the LNS log")
	}
}

// newRadiusLab is the set-up the FreeRADIUS namespace tests share: a
// client and an LNS namespace on 198.18.0.0/24, FreeRADIUS started in the
// LNS's by start (the tail of its log printed when the test fails), and
// vpdn serve with cfg (and args) in the LNS's, answering and stopped at
// the test's end.
func newRadiusLab(t *testing.T, cfg string, start func(*nstest.Lab, *nstest.NS) *peers.FreeRADIUSPeer, args ...string) (lab *nstest.Lab, bin string, client *nstest.NS, rad *peers.FreeRADIUSPeer, lnsD *served) {
	t.Helper()
	peers.Require(t, "freeradius")
	lab = nstest.New(t)
	bin = vpdnBinary(t)
	client, lns := lab.NS("client"), lab.NS("lns")
	lab.Link(client, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	rad = start(lab, lns)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("freeradius log (tail):\n%s", tail(rad.Log(), 120))
		}
	})
	lnsD = serveIn(t, lab, lns, "LNS", cfg, args...)
	t.Cleanup(func() { lnsD.stop() })
	lnsD.waitUp(t)
	return lab, bin, client, rad, lnsD
}
