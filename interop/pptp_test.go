package interop

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// PPTP against pptpd and pptp-linux (RFC 2637). pppd cannot run here, so
// both get pppstdio — vpdn's PPP engine on a pty in async HDLC — as their
// PPP (see internal/peers/pptp.go). No MPPE: no MPPE peer exists here.

// newPPTPLab is newLab with a capture of the PPTP control connection and
// of enhanced GRE on vpdn's side.
func newPPTPLab(t *testing.T) (*nstest.Lab, *nstest.NS, *nstest.NS, *nstest.Capture) {
	lab := nstest.New(t)
	a, b := lab.NS("vpdn"), lab.NS("peer")
	devA, _ := lab.Link(a, b, netip.PrefixFrom(vpdnAddr, 24), netip.PrefixFrom(peerAddr, 24))
	return lab, a, b, lab.Capture(a, devA, "tcp port 1723 or ip proto 47")
}

// checkPPTPCapture stops the capture and fails on any malformed packet or
// expert error, in either direction, and unless both sides sent a
// control message of each type in want (by sender: "vpdn" or "peer";
// RFC 2637 §2 numbers them). It returns the number of enhanced GRE
// packets (RFC 2637 §4.1, protocol type 0x880B) tshark decoded.
func checkPPTPCapture(t *testing.T, c *nstest.Capture, want map[string][]int) (gre int) {
	t.Helper()
	if c == nil {
		return 0
	}
	c.Stop()
	if dir := os.Getenv("VPDN_KEEP_PCAP"); dir != "" {
		if b, err := os.ReadFile(c.Path); err == nil {
			os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pcap"), b, 0o644)
		}
	}
	bad, err := nstest.Problems(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("tshark finds problems in the PPTP capture:\n%s", strings.Join(bad, "\n"))
	}
	greLines, err := nstest.Decode(c.Path, "gre && gre.proto == 0x880b")
	if err != nil {
		t.Fatal(err)
	}
	// One line per TCP segment; a segment may carry several messages.
	lines, err := nstest.Decode(c.Path, "pptp", "ip.src", "pptp.control_message_type")
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string][]int{}
	n := 0
	for _, l := range lines {
		src, types, _ := strings.Cut(l, "\t")
		who := "peer"
		if src == vpdnAddr.String() {
			who = "vpdn"
		}
		for _, ty := range strings.Split(types, ",") {
			var v int
			if _, err := fmt.Sscan(ty, &v); err == nil {
				sent[who] = append(sent[who], v)
				n++
			}
		}
	}
	t.Logf("capture: %d PPTP control messages (types vpdn sent %v, the peer sent %v), %d enhanced GRE packets, nothing malformed",
		n, sent["vpdn"], sent["peer"], len(greLines))
	for who, types := range want {
		for _, ty := range types {
			if !slices.Contains(sent[who], ty) {
				t.Errorf("%s sent no PPTP control message of type %d (RFC 2637 §2): %v", who, ty, sent[who])
			}
		}
	}
	return len(greLines)
}

// TestDialToPPTPD: vpdn dial --protocol pptp --mppe none against pptpd
// (pptpd answers the Outgoing-Call-Request; pppstdio is its pppd, the
// server role): control connection, call, PPP with MS-CHAPv2 or CHAP,
// IPCP with pptpd's addresses, pings across the GRE data plane.
func TestDialToPPTPD(t *testing.T) {
	for _, auth := range []string{"ms-chap-v2", "chap"} {
		t.Run(auth, func(t *testing.T) {
			peers.Require(t, "pptpd", "ping")
			lab, a, b, capture := newPPTPLab(t)
			standIn := nstest.GoBuild(t, "../internal/peers/pppstdio")
			pd := peers.PPTPD(t, lab, b, peerAddr, peers.PPTPConfig{StandIn: standIn, Auth: auth})
			bin := nstest.GoBuild(t, "../cmd/vpdn")
			out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
			dial := a.Command(bin, "dial", "--protocol", "pptp", "--mppe", "none", "--server", peerAddr.String(),
				"--user", pd.User.Name, "--password", pd.User.Password, "--route", "198.19.5.0/24", "--log-level", "debug")
			dial.Stdout, dial.Stderr = out, errOut
			if err := lab.Start(dial); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("vpdn dial stdout:\n%s\nstderr:\n%s\npptpd log:\n%s", out, errOut, pd.Log())
				}
			}()
			want := fmt.Sprintf("Dialer1 is up: address %s, peer %s", pd.Remote, pd.Local)
			waitLine(t, "vpdn dial to report "+want, 40*time.Second, func() bool { return strings.Contains(out.String(), want) })
			if _, _, err := pd.PPPUp(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			for _, l := range []string{peers.PPTPDControlUp, peers.PPTPDCallUp} {
				line, err := pd.WaitLog(l, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("pptpd: %s", line)
			}
			t.Logf("pppstdio: %s", pd.LogLines(peers.PPPStdioUp)[0])
			p, err := a.Run(20*time.Second, "ping", "-c", "3", "-W", "2", pd.Local.String())
			if err != nil {
				t.Fatalf("ping %s through pptpd: %v\n%s", pd.Local, err, p)
			}
			t.Logf("ping %s: %s", pd.Local, lastLine(string(p)))
			// pptpd logs each GRE packet from vpdn it accepts (with -d).
			if n := len(pd.LogLines(peers.PPTPDGREAccepted)); n < 3 {
				t.Errorf("pptpd accepted %d GRE packets from vpdn", n)
			} else {
				t.Logf("pptpd accepted %d GRE packets from vpdn", n)
			}
			dial.Process.Signal(syscall.SIGTERM)
			if err := waitExit(dial, 15*time.Second); err != nil {
				t.Errorf("vpdn dial exit: %v", err)
			}
			if line, err := pd.WaitLog(peers.PPTPDControlDown, 10*time.Second); err != nil {
				t.Errorf("pptpd never saw the control connection end: %v", err)
			} else {
				t.Logf("pptpd: %s", line)
			}
			// vpdn: Start-Control-Connection-Request (1), Outgoing-Call-
			// Request (7); pptpd: the replies (2, 8).
			gre := checkPPTPCapture(t, capture, map[string][]int{"vpdn": {1, 7}, "peer": {2, 8}})
			if capture != nil && gre < 6 {
				t.Errorf("capture: %d enhanced GRE packets", gre)
			}
		})
	}
}

// TestPPTPLinuxToVPDN: pptp-linux (pptp --nolaunchpppd under pppstdio in
// the client role) dials vpdn serve's PPTP group (document 004's hub
// without MPPE): control connection, call, PPP with the authentication
// vpdn asks, a pool address, pings, and show vpdn session lists the user.
func TestPPTPLinuxToVPDN(t *testing.T) {
	for _, auth := range []string{"ms-chap-v2", "chap"} {
		t.Run(auth, func(t *testing.T) {
			peers.Require(t, "pptp", "ping")
			lab, a, b, capture := newPPTPLab(t)
			standIn := nstest.GoBuild(t, "../internal/peers/pppstdio")
			bin := nstest.GoBuild(t, "../cmd/vpdn")
			u := peers.LabUser
			cfg := fmt.Sprintf(`hostname PPTP_HUB
vpdn pptp listen %s
username %s password %s
interface Loopback1
 ip address 198.19.2.2 255.255.255.0
vpdn enable
vpdn-group 1
 accept-dialin
  protocol pptp
  virtual-template 1
interface Virtual-Template1
 ip unnumbered Loopback1
 peer default ip address pool PPTP-Pool
 ppp authentication %s callin
ip local pool PPTP-Pool 198.19.2.5 198.19.2.50
`, vpdnAddr, u.Name, u.Password, auth)
			logs, sock, stop := vpdnServe(t, lab, a, bin, cfg)
			show := func(words ...string) string {
				out, _ := a.Run(10*time.Second, bin, append(words, "--socket", sock)...)
				return string(out)
			}
			waitLine(t, "vpdn to answer", 20*time.Second, func() bool { return strings.Contains(show("show", "version"), "vpdn") })
			pc := peers.PPTPClient(t, lab, b, vpdnAddr, peers.PPTPConfig{StandIn: standIn, User: u})
			local, peer, err := pc.PPPUp(40 * time.Second)
			if err != nil {
				t.Fatalf("%v\npptp log:\n%s\nvpdn log:\n%s", err, pc.Log(), logs)
			}
			t.Logf("pppstdio: %s", pc.LogLines(peers.PPPStdioUp)[0])
			if local != netip.MustParseAddr("198.19.2.5") || peer != netip.MustParseAddr("198.19.2.2") {
				t.Errorf("IPCP gave local %s peer %s, want 198.19.2.5 from the pool and 198.19.2.2", local, peer)
			}
			p, err := b.Run(20*time.Second, "ping", "-c", "3", "-W", "2", peer.String())
			if err != nil {
				t.Fatalf("ping %s through vpdn: %v\n%s\npptp log:\n%s", peer, err, p, pc.Log())
			}
			t.Logf("ping %s: %s", peer, lastLine(string(p)))
			call, err := pc.WaitLog(peers.PPTPCallUp, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("pptp: %s", call)
			if n := len(pc.LogLines(peers.PPTPGREAccepted)); n < 3 {
				t.Errorf("pptp accepted %d GRE packets from vpdn", n)
			} else {
				t.Logf("pptp accepted %d GRE packets from vpdn", n)
			}
			// vpdn's session shows pptp's call IDs the other way round:
			// LocID is the peer's call ID, RemID pptp's own.
			var ours, theirs int
			if m := callIDsRE.FindStringSubmatch(call); m != nil {
				fmt.Sscan(m[1], &ours)
				fmt.Sscan(m[2], &theirs)
			}
			ses := show("show", "vpdn", "session")
			row := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+%d\s+\d+\s+Vi\d+\s+%s\s+estabd`, theirs, ours, u.Name))
			if !strings.Contains(ses, "PPTP Session Information") || !row.MatchString(ses) {
				t.Errorf("show vpdn session has no row %q:\n%s", row, ses)
			}
			t.Logf("show vpdn session:\n%s", ses)
			if err := pc.Stop(); err != nil {
				t.Error(err)
			}
			waitLine(t, "vpdn to see the call end", 20*time.Second, func() bool {
				return !strings.Contains(show("show", "vpdn", "session"), u.Name)
			})
			if err := stop(); err != nil {
				t.Errorf("vpdn exit: %v", err)
			}
			// pptp-linux: requests 1 and 7; vpdn: the replies 2 and 8.
			gre := checkPPTPCapture(t, capture, map[string][]int{"peer": {1, 7}, "vpdn": {2, 8}})
			if capture != nil && gre < 6 {
				t.Errorf("capture: %d enhanced GRE packets", gre)
			}
		})
	}
}

// callIDsRE reads pptp-linux's "Outgoing call established (call ID 3106,
// peer's call ID 34660)".
var callIDsRE = regexp.MustCompile(`call ID (\d+), peer's call ID (\d+)`)

// vpdnServe runs vpdn serve in ns on cfg; it returns its log, its control
// socket and a function that stops it and reports its exit.
func vpdnServe(t *testing.T, lab *nstest.Lab, ns *nstest.NS, bin, cfg string, extra ...string) (*nstest.SyncBuffer, string, func() error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "vpdn.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	logs := &nstest.SyncBuffer{}
	cmd := ns.Command(bin, append([]string{"serve", "-c", path, "--socket", sock, "--log-level", "debug"}, extra...)...)
	cmd.Stderr = logs
	if err := lab.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vpdn log:\n%s", logs)
		}
	})
	return logs, sock, func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		return waitExit(cmd, 15*time.Second)
	}
}

// waitLine polls cond (bounded) and fails the test when it never holds.
func waitLine(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits (bounded) for a started command to exit and returns its
// exit error; it kills the command when it outlasts timeout.
func waitExit(cmd *exec.Cmd, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-errc
		return os.ErrDeadlineExceeded
	}
}
