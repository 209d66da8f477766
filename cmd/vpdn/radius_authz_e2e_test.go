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

// radiusAuthzLNS authenticates locally and authorizes through RADIUS.
const radiusAuthzLNS = `hostname LNS
aaa new-model
aaa authentication ppp default local
aaa authorization network default group radius
username raduser password 0 radpass
username localonly password 0 localpass
radius server FREERADIUS
 address ipv4 198.18.0.2 auth-port 1812 acct-port 1813
 key 0 testing123
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
ip local pool P 198.19.1.10 198.19.1.200
`

// TestRADIUSAuthorizeOnlyInNamespaces: a user CHAP-authenticated by the
// local database is authorized by FreeRADIUS through an authorization-only
// Access-Request: the address and route FreeRADIUS gives are the
// session's; a local user FreeRADIUS does not know is refused.
func TestRADIUSAuthorizeOnlyInNamespaces(t *testing.T) {
	lab, bin, client, _, lnsD := newRadiusLab(t, radiusAuthzLNS, func(lab *nstest.Lab, lns *nstest.NS) *peers.FreeRADIUSPeer {
		return peers.FreeRADIUSAuthorizeOnly(t, lab, lns, peers.User{Name: "raduser", Password: "not-used",
			Reply: []string{"Framed-IP-Address = 198.19.1.77", `Framed-Route = "198.19.77.0/24"`}})
	})

	dial := func(user, password, wantUp string) (bool, string, func()) {
		stdout, stderr := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		cmd := client.Command(bin, "dial", "--server", "198.18.0.2", "--user", user, "--password", password, "--auth", "chap", "--timeout", "8s")
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := lab.Start(cmd); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- cmd.Wait() }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-errc:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-errc
			}
		}
		deadline := time.After(20 * time.Second)
		for !strings.Contains(stdout.String(), wantUp) {
			select {
			case err := <-errc:
				return false, fmt.Sprintf("exit %v\n%s%s", err, stdout, stderr), func() {}
			case <-deadline:
				stop()
				return false, "hung\n" + stdout.String() + stderr.String(), func() {}
			case <-time.After(100 * time.Millisecond):
			}
		}
		return true, stdout.String(), stop
	}

	ok, out, stop := dial("raduser", "radpass", "is up: address 198.19.1.77")
	if !ok {
		t.Fatalf("raduser did not come up with RADIUS's address: %s\nLNS log:\n%s", out, tail(lnsD.logs.String(), 40))
	}
	if rt, err := lnsD.ns.Run(5*time.Second, "ip", "route", "show", "198.19.77.0/24"); err != nil || !strings.Contains(string(rt), "198.19.77.0/24") {
		t.Errorf("no Framed-Route on the LNS: %v %s", err, rt)
	}
	if u := lnsD.show("show", "caller", "user", "raduser"); !strings.Contains(u, "routes 198.19.77.0/24") {
		t.Errorf("show caller user:\n%s", u)
	}
	stop()
	waitFor(t, "the LNS to clear the session", func() bool {
		return !strings.Contains(lnsD.show("show", "vpdn", "session"), "raduser")
	})
	if ok, out, stop := dial("localonly", "localpass", "is up: address"); ok {
		stop()
		t.Fatalf("a user RADIUS does not know was authorized: %s", out)
	}
	hist := lnsD.show("show", "vpdn", "history", "failure")
	if !strings.Contains(hist, "localonly") {
		t.Errorf("show vpdn history failure:\n%s", hist)
	}
	t.Logf("show vpdn history failure:\n%s", hist)
	t.Logf("show aaa servers:\n%s", lnsD.show("show", "aaa", "servers"))
}
