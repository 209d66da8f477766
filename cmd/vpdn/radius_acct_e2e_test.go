package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// acctLNS authenticates and accounts through FreeRADIUS (beside it in the
// LNS namespace), and takes CoA and Disconnect requests from it. No
// keepalive and no MPPE: after IPCP, the frames are the test's (and the
// client's LCP echoes, every 10 s, with their replies).
const acctLNS = `hostname LNS
aaa new-model
aaa authentication ppp default group radius
aaa authorization network default group radius
aaa accounting network default start-stop group radius
aaa accounting system default start-stop group radius
radius server FREERADIUS
 address ipv4 198.18.0.2 auth-port 1812 acct-port 1813
 key 0 testing123
radius-server timeout 1
radius-server retransmit 1
aaa server radius dynamic-author
 client 198.18.0.2 server-key 0 coasecret
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
 ppp authentication chap pap
 no keepalive
ip local pool P 198.19.1.10 198.19.1.200
`

// callerCounts are show caller user's counters.
type callerCounts struct{ pktsIn, bytesIn, pktsOut, bytesOut uint64 }

var (
	reCallerIn  = regexp.MustCompile(`(\d+) packets input, (\d+) bytes`)
	reCallerOut = regexp.MustCompile(`(\d+) packets output, (\d+) bytes`)
)

func parseCaller(t *testing.T, s string) callerCounts {
	t.Helper()
	in, out := reCallerIn.FindStringSubmatch(s), reCallerOut.FindStringSubmatch(s)
	if in == nil || out == nil {
		t.Fatalf("show caller user without counters:\n%s", s)
	}
	n := func(x string) uint64 { v, _ := strconv.ParseUint(x, 10, 64); return v }
	return callerCounts{n(in[1]), n(in[2]), n(out[1]), n(out[2])}
}

// TestRADIUSAccountingInNamespaces is issue 12's accounting and dynamic
// authorization with FreeRADIUS: a session through vpdn serve, a known
// amount of traffic, then Start, Interim-Update and Stop in FreeRADIUS's
// detail file whose octets and packets are vpdn's counters; radclient's
// CoA changes the session's timeouts (show caller user), its
// Disconnect-Request ends the session (Disconnect-ACK, Stop with
// Admin-Reset) and one for an unknown session gets a Disconnect-NAK with
// Error-Cause 503. System accounting: Accounting-On before the session's
// Start, Accounting-Off at the clean shutdown, in the detail file too.
func TestRADIUSAccountingInNamespaces(t *testing.T) {
	peers.Require(t, "radclient")
	lab, bin, client, rad, lnsD := newRadiusLab(t, acctLNS, func(lab *nstest.Lab, lns *nstest.NS) *peers.FreeRADIUSPeer {
		return peers.FreeRADIUSSigning(t, lab, lns, peers.User{Name: "raduser", Password: "radpass",
			Reply: []string{"Acct-Interim-Interval = 2", `Class = "vpdn-class"`}})
	}, "--acct-spool", t.TempDir())
	lnsD.show("debug", "aaa", "accounting")

	stdout, stderr := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := client.Command(bin, "dial", "--server", "198.18.0.2", "--user", "raduser", "--password", "radpass", "--auth", "chap", "--timeout", "20s")
	dial.Stdout, dial.Stderr = stdout, stderr
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	dialDone := make(chan struct{}) // closed when vpdn dial exits
	go func() { dial.Wait(); close(dialDone) }()
	defer func() {
		select {
		case <-dialDone:
		default:
			dial.Process.Kill()
			<-dialDone
		}
	}()
	waitForWithin(t, "the session", 30*time.Second, func() bool { return strings.Contains(stdout.String(), "is up: address 198.19.1.") })

	sessions := lnsD.show("show", "aaa", "sessions")
	m := regexp.MustCompile(`Session Id: ([0-9A-F]{24})`).FindStringSubmatch(sessions)
	if m == nil {
		t.Fatalf("show aaa sessions:\n%s", sessions)
	}
	sid := m[1]
	t.Logf("show aaa sessions:\n%s", sessions)

	// A known amount of traffic: 5 echo requests of 1028 octets of IP in,
	// 5 replies out.
	c0 := parseCaller(t, lnsD.show("show", "caller", "user", "raduser"))
	if out, err := client.Run(20*time.Second, "ping", "-c", "5", "-i", "0.2", "-s", "1000", "-W", "2", "198.19.0.1"); err != nil {
		t.Fatalf("ping through the session: %v\n%s", err, out)
	}
	c1 := parseCaller(t, lnsD.show("show", "caller", "user", "raduser"))
	dIn, dOut := c1.bytesIn-c0.bytesIn, c1.bytesOut-c0.bytesOut
	if c1.pktsIn-c0.pktsIn != 5 || c1.pktsOut-c0.pktsOut != 5 || dIn < 5*1028 || dIn > 5*1032 || dOut < 5*1028 || dOut > 5*1032 {
		t.Errorf("the ping counted %d packets / %d octets in, %d / %d out; want 5 of 1028 octets of IP (and the PPP header) each way",
			c1.pktsIn-c0.pktsIn, dIn, c1.pktsOut-c0.pktsOut, dOut)
	}

	// CoA: new timeouts, visible in show caller user.
	coa, err := rad.RadClient("198.18.0.2:3799", "coa", "coasecret", "Acct-Session-Id = "+sid, "Session-Timeout = 3600", "Idle-Timeout = 600")
	if err != nil || !strings.Contains(coa, "CoA-ACK") {
		t.Fatalf("radclient coa: %v\n%s", err, coa)
	}
	caller := lnsD.show("show", "caller", "user", "raduser")
	if !regexp.MustCompile(`01:00:00  0[01]:[0-9:]+ +Session timer`).MatchString(caller) || !regexp.MustCompile(`00:10:00  00:(10:00|0\d:\d\d) +Idle timer`).MatchString(caller) {
		t.Errorf("show caller user after the CoA:\n%s", caller)
	}
	t.Logf("show caller user after the CoA:\n%s", caller)
	nak, _ := rad.RadClient("198.18.0.2:3799", "coa", "coasecret", "Acct-Session-Id = "+sid, "Filter-Id = \"acl\"")
	if !strings.Contains(nak, "CoA-NAK") || !strings.Contains(nak, "Unsupported-Attribute") {
		t.Errorf("CoA with Filter-Id:\n%s", nak)
	}
	bad, _ := rad.RadClient("198.18.0.2:3799", "disconnect", "wrongsecret", "Acct-Session-Id = "+sid)
	if strings.Contains(bad, "Disconnect-ACK") || strings.Contains(bad, "Disconnect-NAK") {
		t.Errorf("a request with the wrong key was answered:\n%s", bad)
	}

	// Let at least one Interim-Update go (Acct-Interim-Interval 2 s).
	time.Sleep(3 * time.Second)
	c2 := parseCaller(t, lnsD.show("show", "caller", "user", "raduser"))
	if c2 != c1 {
		t.Logf("counters moved (an LCP echo of the client): %+v then %+v", c1, c2)
	}

	disc, err := rad.RadClient("198.18.0.2:3799", "disconnect", "coasecret", "Acct-Session-Id = "+sid)
	if err != nil || !strings.Contains(disc, "Disconnect-ACK") {
		t.Fatalf("radclient disconnect: %v\n%s", err, disc)
	}
	// The ACK follows the teardown: the session is gone now. vpdn dial
	// would dial again 2 s later; it is stopped first.
	if s := lnsD.show("show", "aaa", "sessions"); strings.Contains(s, "Session Id: "+sid) {
		t.Errorf("session still there after the Disconnect-ACK:\n%s", s)
	}
	dial.Process.Signal(syscall.SIGTERM)
	select {
	case <-dialDone:
	case <-time.After(15 * time.Second):
		t.Errorf("vpdn dial did not exit")
	}
	unknown, _ := rad.RadClient("198.18.0.2:3799", "disconnect", "coasecret", "Acct-Session-Id = 000000000000000000000000")
	if !strings.Contains(unknown, "Disconnect-NAK") || !strings.Contains(unknown, "Session-Context-Not-Found") {
		t.Errorf("Disconnect-Request for an unknown session:\n%s", unknown)
	}

	waitForWithin(t, "the spool to empty", 30*time.Second, func() bool {
		return strings.Contains(lnsD.show("show", "aaa", "servers"), "Accounting spool: 0 sessions")
	})
	recs, err := rad.AcctRecords()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var stop peers.AcctRecord
	onBefore := false
	for _, r := range recs {
		if r["Acct-Status-Type"] == "Accounting-On" && len(kinds) == 0 && r["NAS-Identifier"] == "LNS" && len(r["Acct-Session-Id"]) == 24 {
			onBefore = true
		}
		if r["Acct-Session-Id"] != sid {
			continue
		}
		kinds = append(kinds, r["Acct-Status-Type"])
		if r["Acct-Status-Type"] == "Stop" {
			stop = r
		}
		if r["NAS-Identifier"] != "LNS" || r["User-Name"] != "raduser" || !strings.HasPrefix(r["Framed-IP-Address"], "198.19.1.") ||
			!strings.Contains(r["Class"], "vpdn-class") && r["Class"] != "0x"+fmt.Sprintf("%x", "vpdn-class") {
			t.Errorf("record %v", r)
		}
	}
	if len(kinds) < 3 || kinds[0] != "Start" || kinds[len(kinds)-1] != "Stop" || !strings.Contains(strings.Join(kinds, " "), "Interim-Update") {
		t.Fatalf("records of %s: %v; want Start, Interim-Update..., Stop", sid, kinds)
	}
	want := map[string]uint64{"Acct-Input-Octets": c2.bytesIn, "Acct-Output-Octets": c2.bytesOut, "Acct-Input-Packets": c2.pktsIn, "Acct-Output-Packets": c2.pktsOut}
	for k, v := range want {
		if got, _ := strconv.ParseUint(stop[k], 10, 64); got != v {
			t.Errorf("Stop %s = %s, vpdn counted %d", k, stop[k], v)
		}
	}
	if stop["Acct-Terminate-Cause"] != "Admin-Reset" || stop["Acct-Input-Gigawords"] != "0" {
		t.Errorf("Stop: %v", stop)
	}
	t.Logf("records of %s: %v; Stop: %v", sid, kinds, stop)
	t.Logf("show radius statistics:\n%s", lnsD.show("show", "radius", "statistics"))
	if !onBefore {
		t.Errorf("no Accounting-On before the session's Start in the detail file")
	}
	// A clean shutdown sends Accounting-Off.
	if err := lnsD.stop(); err != nil {
		t.Errorf("vpdn serve: %v", err)
	}
	waitForWithin(t, "Accounting-Off in the detail file", 10*time.Second, func() bool {
		recs, _ := rad.AcctRecords()
		return slices.ContainsFunc(recs, func(r peers.AcctRecord) bool {
			return r["Acct-Status-Type"] == "Accounting-Off" && r["NAS-Identifier"] == "LNS"
		})
	})
}

// faultLNS authenticates locally (the bench's user) and accounts to
// FreeRADIUS with one transmission of 1 s per try, so that an outage
// costs the senders little.
const faultLNS = `hostname LNS
aaa new-model
aaa authentication ppp default local
aaa authorization network default local
aaa accounting network default start-stop group radius
username lac1 password 0 lacpass
radius server FREERADIUS
 address ipv4 198.18.0.2 auth-port 1812 acct-port 1813
 key 0 testing123
radius-server timeout 1
radius-server retransmit 0
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
 peer default ip address pool REMOTE
 ppp authentication chap
ip local pool REMOTE 198.19.1.1 198.19.8.254
`

// TestRADIUSAccountingSurvivesFaults is issue 12's fault test: FreeRADIUS
// is stopped for 60 s; meanwhile 500 sessions come up and go down, and
// 500 more come up, then vpdn is killed with SIGKILL and started again
// on the same spool. Once FreeRADIUS is back every Acct-Session-Id has
// exactly one Start and one Stop in its detail file, the killed sessions'
// Stops with NAS-Reboot.
func TestRADIUSAccountingSurvivesFaults(t *testing.T) {
	peers.Require(t, "freeradius")
	lab := nstest.New(t)
	bin := vpdnBinary(t)
	lac, lns := lab.NS("bench"), lab.NS("lns")
	lab.Link(lac, lns, mustPrefix("198.18.0.1/24"), mustPrefix("198.18.0.2/24"))
	rad := peers.FreeRADIUS(t, lab, lns)
	spool := t.TempDir()
	lnsD := serveIn(t, lab, lns, "LNS", faultLNS, "--acct-spool", spool)
	lnsD.waitUp(t)

	if err := rad.Stop(); err != nil {
		t.Fatal(err)
	}
	outage := time.Now()
	t.Logf("FreeRADIUS stopped")

	bench := func(hold time.Duration) (*nstest.SyncBuffer, chan error, func()) {
		out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
		cmd := lac.Command(bin, "bench", "--server", "198.18.0.2", "--tunnels", "5", "--sessions", "100",
			"--user", "lac1", "--password", "lacpass", "--tunnel-name", "LAC", "--tunnel-password", "tunnelpw",
			"--timeout", "30s", "--hold", hold.String(), "--json")
		cmd.Stdout, cmd.Stderr = out, errOut
		if err := lab.Start(cmd); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- cmd.Wait() }()
		return out, errc, func() { cmd.Process.Kill() }
	}
	// Run A: 500 sessions up and down during the outage.
	outA, errA, killA := bench(2 * time.Second)
	select {
	case <-errA:
	case <-time.After(60 * time.Second):
		killA()
		<-errA
		t.Fatal("bench A did not finish")
	}
	var rep struct {
		Established int `json:"established"`
		Failed      int `json:"failed"`
	}
	if err := json.Unmarshal([]byte(outA.String()), &rep); err != nil || rep.Established != 500 {
		t.Fatalf("bench A: %v %+v\n%s", err, rep, outA)
	}
	// Run B: 500 more, up when vpdn is killed.
	_, errB, killB := bench(5 * time.Minute)
	waitForWithin(t, "bench B's sessions", 60*time.Second, func() bool {
		return strings.Contains(lnsD.show("show", "aaa", "sessions"), "Total sessions since last reload: 1000")
	})
	st := lnsD.show("show", "aaa", "servers")
	t.Logf("before the kill:\n%s", st)
	if !strings.Contains(st, "Accounting spool: 1000 sessions") {
		t.Errorf("spool before the kill:\n%s", st)
	}
	lnsD.cmd.Process.Signal(syscall.SIGKILL)
	lnsD.cmd.Wait()
	killB()
	<-errB
	t.Logf("vpdn killed")

	lnsD = serveIn(t, lab, lns, "LNS-restarted", faultLNS, "--acct-spool", spool)
	defer lnsD.stop()
	lnsD.waitUp(t)
	if st := lnsD.show("show", "aaa", "servers"); !strings.Contains(st, "Accounting spool: 1000 sessions") {
		t.Errorf("spool after the restart:\n%s", st)
	}
	if left := 60*time.Second - time.Since(outage); left > 0 {
		time.Sleep(left)
	}
	rad.Restart(t)
	t.Logf("FreeRADIUS back after %v", time.Since(outage).Round(time.Second))
	waitForWithin(t, "the spool to empty", 90*time.Second, func() bool {
		return strings.Contains(lnsD.show("show", "aaa", "servers"), "Accounting spool: 0 sessions")
	})
	t.Logf("spool empty %v after the outage began:\n%s", time.Since(outage).Round(time.Second), lnsD.show("show", "aaa", "servers"))

	recs, err := rad.AcctRecords()
	if err != nil {
		t.Fatal(err)
	}
	starts, stops := map[string]int{}, map[string]int{}
	reboots := 0
	for _, r := range recs {
		id := r["Acct-Session-Id"]
		switch r["Acct-Status-Type"] {
		case "Start":
			starts[id]++
		case "Stop":
			stops[id]++
			if r["Acct-Terminate-Cause"] == "NAS-Reboot" {
				reboots++
			}
		}
	}
	bad := 0
	for id := range starts {
		if starts[id] != 1 || stops[id] != 1 {
			bad++
			if bad < 10 {
				t.Errorf("session %s: %d Start, %d Stop", id, starts[id], stops[id])
			}
		}
	}
	for id := range stops {
		if starts[id] == 0 {
			t.Errorf("session %s: a Stop without Start", id)
		}
	}
	if len(starts) != 1000 || bad != 0 || reboots != 500 {
		t.Errorf("%d sessions in the detail file (want 1000), %d without exactly one Start and one Stop, %d NAS-Reboot Stops (want 500)", len(starts), bad, reboots)
	}
	t.Logf("%d records: %d sessions, each one Start and one Stop; %d Stops with NAS-Reboot", len(recs), len(starts), reboots)
}
