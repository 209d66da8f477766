package main

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// sqlippoolLNS takes every address from RADIUS (Framed-IP-Address): no
// local pool at all.
const sqlippoolLNS = `hostname LNS
aaa new-model
aaa authentication ppp default group radius
aaa authorization network default group radius
radius server FREERADIUS
 address ipv4 198.18.0.2 auth-port 1812 acct-port 1813
 key 0 testing123
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn virtual-access shared
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 no l2tp tunnel authentication
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 ppp authentication chap
`

// TestSQLIPPoolInNamespaces is issue 12's alternative to vpdn pool-store:
// FreeRADIUS's sqlippool hands out the addresses from PostgreSQL
// (radippool) as Framed-IP-Address, which vpdn applies. Ten sessions of
// vpdn bench come up with ten distinct addresses, each leased in
// radippool to the user.
func TestSQLIPPoolInNamespaces(t *testing.T) {
	peers.Require(t, "freeradius")
	peers.RequirePostgreSQL(t)
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	gen, lns := lab.NS("gen"), lab.NS("lns")
	lab.Link(gen, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	pg := peers.PostgreSQLIn(t, lab, lns, "radius")
	first, last := netip.MustParseAddr("198.19.40.1"), netip.MustParseAddr("198.19.40.50")
	rad := peers.FreeRADIUSSQLIPPool(t, lab, lns, pg, "vpdnpool", first, last, peers.User{Name: "raduser", Password: "radpass"})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("freeradius log (tail):\n%s", tail(rad.Log(), 60))
			t.Logf("postgresql log (tail):\n%s", tail(pg.Log(), 20))
		}
	})
	d := serveIn(t, lab, lns, "LNS", sqlippoolLNS)
	defer d.stop()
	d.waitUp(t)

	errOut := &nstest.SyncBuffer{}
	bench := gen.Command(bin, "bench", "--server", "198.18.0.2", "--tunnels", "2", "--sessions", "5",
		"--user", "raduser", "--password", "radpass", "--auth", "chap", "--timeout", "30s", "--hold", "5m", "--json")
	bench.Stderr = errOut
	if err := lab.Start(bench); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bench.Process.Kill()
		bench.Wait()
		if t.Failed() {
			t.Logf("bench stderr (tail):\n%s", tail(errOut.String(), 10))
		}
	})
	progress := regexp.MustCompile(`established (\d+)\s+failed (\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := progress.FindAllStringSubmatch(errOut.String(), -1)
		if len(m) > 0 {
			est, _ := strconv.Atoi(m[len(m)-1][1])
			failed, _ := strconv.Atoi(m[len(m)-1][2])
			if failed > 0 {
				t.Fatalf("%d sessions failed", failed)
			}
			if est == 10 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions not up:\n%s", tail(errOut.String(), 5))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// radippool: ten leases of raduser, ten distinct addresses.
	out, err := pg.Query(`SELECT host(framedipaddress) FROM radippool WHERE pool_name = 'vpdnpool'
		AND expiry_time > now() AND username = 'raduser' ORDER BY framedipaddress`)
	if err != nil {
		t.Fatal(err)
	}
	leased := strings.Fields(out)
	if len(leased) != 10 {
		t.Fatalf("radippool leases: %q, want 10", leased)
	}
	// Every leased address is a session's peer address on the LNS.
	users := d.show("show", "users")
	t.Logf("show users:\n%s", users)
	for _, a := range leased {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(a) + `\b`).MatchString(users) {
			t.Errorf("leased %s is not a session's address", a)
		}
	}
}
