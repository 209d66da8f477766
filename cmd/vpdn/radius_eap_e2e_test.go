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

// radiusEAPLNS offers EAP only and passes it through to FreeRADIUS.
const radiusEAPLNS = `hostname LNS
aaa new-model
aaa authentication ppp default group radius
aaa authorization network default group radius
radius server FREERADIUS
 address ipv4 198.18.0.2 auth-port 1812 acct-port 1813
 key 0 testing123
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
 ppp authentication eap
ip local pool P 198.19.1.10 198.19.1.200
`

// TestRADIUSEAPInNamespaces is EAP pass-through (RFC 3579) against
// FreeRADIUS's eap module: EAP-MD5 over L2TP (FreeRADIUS's default EAP
// type), EAP-MSCHAPv2 over PPTP with MPPE required (the client Naks
// MD5-Challenge for it, as MD5 gives no keys; the MPPE keys come from the
// Access-Accept's MS-MPPE-Send-Key/Recv-Key), and wrong passwords
// rejected with EAP Failure.
func TestRADIUSEAPInNamespaces(t *testing.T) {
	lab, bin, client, _, lnsD := newRadiusLab(t, radiusEAPLNS, func(lab *nstest.Lab, lns *nstest.NS) *peers.FreeRADIUSPeer {
		return peers.FreeRADIUSSigning(t, lab, lns,
			peers.User{Name: "md5user", Password: "md5pass"},
			peers.User{Name: "msuser", Password: "mspass"})
	})
	lnsD.show("debug", "ppp", "authentication")

	// dial runs vpdn dial until wantUp shows (true) or it exits (false).
	dial := func(t *testing.T, user, password, wantUp string, check func(), args ...string) (bool, string) {
		t.Helper()
		stdout, stderr := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		cmd := client.Command(bin, append([]string{"dial", "--server", "198.18.0.2", "--user", user, "--password", password, "--auth", "eap"}, args...)...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := lab.Start(cmd); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- cmd.Wait() }()
		deadline := time.After(30 * time.Second)
		for !strings.Contains(stdout.String(), wantUp) {
			select {
			case err := <-errc:
				return false, fmt.Sprintf("exit %v\n%s%s", err, stdout, stderr)
			case <-deadline:
				cmd.Process.Kill()
				<-errc
				t.Fatalf("vpdn dial hung\n%s%s", stdout, stderr)
			case <-time.After(100 * time.Millisecond):
			}
		}
		if ses := lnsD.show("show", "vpdn", "session"); !strings.Contains(ses, user) {
			t.Errorf("show vpdn session has no %s:\n%s", user, ses)
		}
		if check != nil {
			check()
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
			return !strings.Contains(lnsD.show("show", "vpdn", "session"), user)
		})
		return true, stdout.String()
	}

	t.Run("eap-md5-l2tp", func(t *testing.T) {
		ok, out := dial(t, "md5user", "md5pass", "is up: address 198.19.1.", nil, "--timeout", "20s")
		if !ok {
			t.Fatalf("EAP-MD5 through RADIUS failed: %s\nLNS log:\n%s", out, tail(lnsD.logs.String(), 60))
		}
		t.Logf("EAP-MD5: %s", lastLine(out))
	})
	t.Run("eap-mschapv2-pptp-mppe", func(t *testing.T) {
		ok, out := dial(t, "msuser", "mspass", "Dialer1 is up: address 198.19.1.", func() {
			mp := lnsD.show("show", "ppp", "mppe", "virtual-access", "1")
			if !strings.Contains(mp, "128 bit encryption") {
				t.Errorf("no MPPE-128 on the LNS:\n%s", mp)
			}
			if p, err := client.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "198.19.0.1"); err != nil {
				t.Errorf("ping through the MPPE call (keys from EAP-MSCHAPv2): %v\n%s", err, p)
			}
		}, "--protocol", "pptp", "--mppe", "required", "--timeout", "20s")
		if !ok {
			t.Fatalf("EAP-MSCHAPv2 through RADIUS failed: %s\nLNS log:\n%s", out, tail(lnsD.logs.String(), 60))
		}
		t.Logf("EAP-MSCHAPv2 + MPPE-128: %s", lastLine(out))
	})
	t.Run("reject", func(t *testing.T) {
		for _, u := range []string{"md5user", "msuser"} {
			ok, out := dial(t, u, "wrong", "is up: address", nil, "--timeout", "8s")
			if ok {
				t.Fatalf("%s: a wrong password was accepted: %s", u, out)
			}
		}
		hist := lnsD.show("show", "vpdn", "history", "failure")
		if !strings.Contains(hist, "msuser") || !strings.Contains(hist, "rejected by RADIUS server") {
			t.Errorf("show vpdn history failure:\n%s", hist)
		}
	})
	srv := lnsD.show("show", "aaa", "servers")
	t.Logf("show aaa servers:\n%s", srv)
	t.Logf("show radius statistics:\n%s", lnsD.show("show", "radius", "statistics"))
	// Two accepts; the rejected clients try again until their timeout.
	if !strings.Contains(srv, "Response: accept 2, reject ") || strings.Contains(srv, "reject 0,") || strings.Contains(srv, "challenge 0\n") {
		t.Errorf("show aaa servers: want 2 accepts, rejects and challenges:\n%s", srv)
	}
}
