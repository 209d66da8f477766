package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// vpdnDaemon runs the vpdn binary in ns with configuration cfg, and
// returns its log and a function that stops it and reports its exit.
func vpdnDaemon(t *testing.T, lab *nstest.Lab, ns *nstest.NS, cfg string) (*nstest.SyncBuffer, func() error) {
	t.Helper()
	bin := nstest.GoBuild(t, "../cmd/vpdn")
	dir := t.TempDir()
	path := filepath.Join(dir, "vpdn.cfg")
	os.WriteFile(path, []byte(cfg), 0o644)
	logs := &nstest.SyncBuffer{}
	cmd := ns.Command(bin, "serve", "-c", path, "--socket", filepath.Join(dir, "s"))
	cmd.Stderr = logs
	if err := lab.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vpdn log:\n%s", logs)
		}
	})
	return logs, func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		errc := make(chan error, 1)
		go func() { errc <- cmd.Wait() }()
		select {
		case err := <-errc:
			return err
		case <-time.After(15 * time.Second):
			return os.ErrDeadlineExceeded
		}
	}
}

func lacConfig(secret, user, pass string) string {
	auth := ""
	if secret != "" {
		auth = " authentication\n password 0 " + secret + "\n"
	}
	return fmt.Sprintf(`hostname vpdn-lac
vpdn l2tp listen 198.18.0.1:1701
l2tp-class peer
%spseudowire-class pw
 encapsulation l2tpv2
 protocol l2tpv2 peer
interface Virtual-PPP1
 ip address negotiated
 ppp chap hostname %s
 ppp chap password 0 %s
 ppp pap sent-username %s password 0 %s
 pseudowire 198.18.0.2 1 pw-class pw
`, auth, user, pass, user, pass)
}

// waitAddr waits (bounded) for Vp1 to get an address and returns it.
func waitAddr(t *testing.T, ns *nstest.NS, logs *nstest.SyncBuffer, peerLog func() string) string {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		out, err := ns.IP("-4", "-o", "addr", "show", "dev", "Vp1")
		if err == nil && strings.Contains(string(out), " inet ") {
			return string(out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("Vp1 never got an address\npeer log:\n%s\nvpdn log:\n%s", peerLog(), logs)
	return ""
}

// TestPPPClientToL2TPNS: the vpdn client (Virtual-PPP) against l2tpns,
// which authenticates through FreeRADIUS (CHAP) and assigns from its pool;
// pings pass through l2tpns's data plane.
func TestPPPClientToL2TPNS(t *testing.T) {
	peers.Require(t, "l2tpns", "freeradius", "ping")
	lab, a, b, capture := newLab(t)
	radius := peers.FreeRADIUS(t, lab, b, peers.User{Name: "labuser", Password: "labpass"})
	lns := peers.L2TPNS(t, lab, b, peerAddr, radius)
	// A host behind the LNS: l2tpns hands the client's packets to its
	// kernel, where this address answers.
	b.MustIP("addr", "add", lns.Gateway.String()+"/32", "dev", "lo")
	logs, stop := vpdnDaemon(t, lab, a, lacConfig(lns.Secret, "labuser", "labpass"))
	addr := waitAddr(t, a, logs, lns.Log)
	t.Logf("Vp1: %s", strings.TrimSpace(addr))
	if !strings.Contains(addr, "198.19.0.") {
		t.Errorf("address not from l2tpns's pool %s: %s", lns.Pool, addr)
	}
	out, err := a.Run(20*time.Second, "ping", "-c", "3", "-W", "2", "-I", "Vp1", lns.Gateway.String())
	if err != nil {
		t.Fatalf("ping %s through l2tpns: %v\n%s\nl2tpns log:\n%s", lns.Gateway, err, out, lns.Log())
	}
	t.Logf("ping %s: %s", lns.Gateway, lastLine(string(out)))
	if err := stop(); err != nil {
		t.Errorf("vpdn exit: %v", err)
	}
	checkCapture(t, capture)
}

// TestPPPClientToSoftEther: the vpdn client against SoftEther's raw L2TP
// server: PPP authenticates labuser, IPCP gives a SecureNAT DHCP address,
// pings reach the SecureNAT host through SoftEther's data plane.
func TestPPPClientToSoftEther(t *testing.T) {
	peers.Require(t, peers.SoftEtherServerBin, peers.SoftEtherCmdBin, "ping")
	lab, a, b, capture := newLab(t)
	se := peers.SoftEther(t, lab, b, peerAddr)
	logs, stop := vpdnDaemon(t, lab, a, lacConfig("", se.User.Name, se.User.Password))
	addr := waitAddr(t, a, logs, se.Log)
	t.Logf("Vp1: %s", strings.TrimSpace(addr))
	out, err := a.Run(20*time.Second, "ping", "-c", "3", "-W", "2", "-I", "Vp1", se.Gateway.String())
	if err != nil {
		t.Fatalf("ping %s through SoftEther: %v\n%s", se.Gateway, err, out)
	}
	t.Logf("ping %s: %s", se.Gateway, lastLine(string(out)))
	if err := stop(); err != nil {
		t.Errorf("vpdn exit: %v", err)
	}
	checkCapture(t, capture)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
