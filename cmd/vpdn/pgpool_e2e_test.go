package main

import (
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// pgLNS is an LNS whose pool leases live in PostgreSQL (issue 12 item 6):
// both instances configure the same pool of 20,480 addresses; the owner
// name is the hostname.
const pgLNS = `hostname %s
username lac1 password 0 lacpass
vpdn enable
vpdn l2tp listen %s:1701
vpdn virtual-access shared
vpdn pool-store postgres "host=%s port=5432 user=postgres dbname=vpdn sslmode=disable"
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
 peer default ip address pool SHARED
 ppp authentication chap
ip local pool SHARED 198.19.16.0 198.19.95.255
`

// pgSessionsEnv sets the total number of sessions of
// TestSharedPoolInNamespaces; CI runs 2,000 (1,000 per LNS), the issue's
// figure is VPDN_PG_SESSIONS=20000.
const pgSessionsEnv = "VPDN_PG_SESSIONS"

// TestSharedPoolInNamespaces is issue 12's "several LNSes, one address
// space": two vpdn serve LNS instances in two namespaces share one
// PostgreSQL in a third; vpdn bench sets up half the sessions on each at
// the same time; no address is held twice (the database's view and each
// instance's show ip local pool agree). LNS1 is killed with SIGKILL and
// started again: its addresses come back free, LNS2's stay held.
func TestSharedPoolInNamespaces(t *testing.T) {
	peers.RequirePostgreSQL(t)
	total := 2000
	if v := os.Getenv(pgSessionsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 || n > 20000 || n%20 != 0 {
			t.Fatalf("%s=%q: want a multiple of 20 from 20 to 20000", pgSessionsEnv, v)
		}
		total = n
	}
	per := total / 2
	tunnels := 10
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	gen, lns1, lns2, db := lab.NS("gen"), lab.NS("lns1"), lab.NS("lns2"), lab.NS("db")
	lab.Link(gen, lns1, mustPrefix("198.18.1.1/24"), mustPrefix("198.18.1.2/24"))
	lab.Link(gen, lns2, mustPrefix("198.18.2.1/24"), mustPrefix("198.18.2.2/24"))
	lab.Link(lns1, db, mustPrefix("198.18.3.1/24"), mustPrefix("198.18.3.2/24"))
	lab.Link(lns2, db, mustPrefix("198.18.4.1/24"), mustPrefix("198.18.4.2/24"))
	pg := peers.PostgreSQLIn(t, lab, db, "vpdn", netip.MustParseAddr("198.18.3.2"), netip.MustParseAddr("198.18.4.2"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgresql log (tail):\n%s", tail(pg.Log(), 40))
		}
	})
	cfg1 := fmt.Sprintf(pgLNS, "LNS1", "198.18.1.2", "198.18.3.2")
	cfg2 := fmt.Sprintf(pgLNS, "LNS2", "198.18.2.2", "198.18.4.2")
	d1 := serveIn(t, lab, lns1, "LNS1", cfg1)
	d2 := serveIn(t, lab, lns2, "LNS2", cfg2)
	defer d2.stop()
	d1.waitUp(t)
	d2.waitUp(t)

	query := func(sql string) string {
		t.Helper()
		out, err := pg.Query(sql)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := query("SELECT count(*) FROM vpdn_pool_leases WHERE pool = 'SHARED'"); got != "20480" {
		t.Fatalf("rows of pool SHARED: %s, want 20480", got)
	}

	// Both benches at once, each holding its sessions until killed.
	type run struct {
		out, err *nstest.SyncBuffer
		server   string
	}
	runs := []*run{{server: "198.18.1.2"}, {server: "198.18.2.2"}}
	for _, r := range runs {
		r.out, r.err = &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		cmd := gen.Command(bin, "bench", "--server", r.server, "--tunnels", strconv.Itoa(tunnels),
			"--sessions", strconv.Itoa(per/tunnels), "--user", "lac1", "--password", "lacpass",
			"--tunnel-name", "LAC", "--tunnel-password", "tunnelpw", "--timeout", "60s", "--hold", "20m", "--json")
		cmd.Stdout, cmd.Stderr = r.out, r.err
		if err := lab.Start(cmd); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("bench %s stderr (tail):\n%s", r.server, tail(r.err.String(), 10))
			}
		})
	}
	// The progress line: "  12s  established 990  failed 10  in flight 0".
	progress := regexp.MustCompile(`established (\d+)\s+failed (\d+)\s+in flight (\d+)`)
	counts := func(r *run) (est, failed int) {
		m := progress.FindAllStringSubmatch(r.err.String(), -1)
		if len(m) == 0 {
			return 0, 0
		}
		last := m[len(m)-1]
		est, _ = strconv.Atoi(last[1])
		failed, _ = strconv.Atoi(last[2])
		return est, failed
	}
	begin := time.Now()
	deadline := begin.Add(time.Duration(60+total/50) * time.Second)
	for {
		e1, f1 := counts(runs[0])
		e2, f2 := counts(runs[1])
		if e1+f1 >= per && e2+f2 >= per {
			if f1+f2 > 0 {
				t.Fatalf("failed sessions: %d on LNS1, %d on LNS2", f1, f2)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("set-up not done: LNS1 %d up %d failed, LNS2 %d up %d failed", e1, f1, e2, f2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d sessions up over both LNSes in %v", total, time.Since(begin).Round(time.Millisecond))

	// The database: every session's lease, one row per address (the
	// unique key), half per instance, none held twice.
	want := fmt.Sprintf("%d|%d|%d|%d", per, per, total, total)
	got := query(`SELECT count(*) FILTER (WHERE owner = 'LNS1'), count(*) FILTER (WHERE owner = 'LNS2'),
		count(*), count(DISTINCT address) FROM vpdn_pool_leases WHERE owner IS NOT NULL`)
	if got != want {
		t.Fatalf("leases by LNS1 | LNS2 | all | distinct addresses: %s, want %s", got, want)
	}
	if got := query(`SELECT count(*) FROM (SELECT address FROM vpdn_pool_leases WHERE owner IS NOT NULL GROUP BY address HAVING count(*) > 1) d`); got != "0" {
		t.Fatalf("addresses held twice: %s", got)
	}
	// Session ids are unique per instance (two instances started in the
	// same second share some), so a session is its owner and its id.
	if got := query(`SELECT count(DISTINCT (owner, session_id)) FROM vpdn_pool_leases WHERE owner IS NOT NULL`); got != strconv.Itoa(total) {
		t.Errorf("distinct sessions holding leases: %s, want %d", got, total)
	}
	// Each instance's show ip local pool: its own and the other's.
	storeLine := func(d *served) string {
		out := d.show("show", "ip", "local", "pool")
		return out
	}
	for _, c := range []struct {
		d    *served
		name string
	}{{d1, "LNS1"}, {d2, "LNS2"}} {
		out := storeLine(c.d)
		w := fmt.Sprintf("store postgres, owner %s: %d in use by this instance, %d by others", c.name, per, per)
		if !strings.Contains(out, w) {
			t.Errorf("%s show ip local pool lacks %q:\n%s", c.name, w, out)
		}
		if c.name == "LNS1" {
			t.Logf("LNS1 show ip local pool:\n%s", out)
		}
	}

	// LNS1 dies without a word, and starts again.
	if err := d1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	d1.cmd.Wait()
	if got := query(`SELECT count(*) FROM vpdn_pool_leases WHERE owner = 'LNS1'`); got != strconv.Itoa(per) {
		t.Errorf("LNS1's leases after SIGKILL: %s, want %d (held until restart or expiry)", got, per)
	}
	d1 = serveIn(t, lab, lns1, "LNS1", cfg1)
	defer d1.stop()
	d1.waitUp(t)
	// Right after the restart the database has been seen to list LNS1's
	// old leases for a moment although the new LNS1 logged them freed as
	// it connected (not explained yet; they are free within a second or
	// two): wait for it, bounded.
	want = fmt.Sprintf("0|%d", per)
	waitForWithin(t, "LNS1's leases to be freed at its restart", 20*time.Second, func() bool {
		got := query(`SELECT count(*) FILTER (WHERE owner = 'LNS1'), count(*) FILTER (WHERE owner = 'LNS2') FROM vpdn_pool_leases`)
		return got == want
	})
	out := storeLine(d1)
	if w := fmt.Sprintf("store postgres, owner LNS1: 0 in use by this instance, %d by others", per); !strings.Contains(out, w) {
		t.Errorf("restarted LNS1 show ip local pool lacks %q:\n%s", w, out)
	}
	if e2, f2 := counts(runs[1]); e2 != per || f2 != 0 {
		t.Errorf("LNS2's sessions after LNS1's restart: %d up, %d failed", e2, f2)
	}
}
