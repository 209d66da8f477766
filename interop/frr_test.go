package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

const (
	frrZebra = "/usr/lib/frr/zebra"
	frrOSPF  = "/usr/lib/frr/ospfd"
)

// frr runs zebra and ospfd in ns (foreground processes the lab stops by
// PID), with private configuration and vty sockets owned by user frr, and
// returns a vtysh runner.
func frr(t *testing.T, lab *nstest.Lab, ns *nstest.NS, routerID, iface string) func(cmd string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vpdn-frr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ospf := fmt.Sprintf(`hostname %s
router ospf
 ospf router-id %s
 network 198.19.0.0/16 area 0
!
interface %s
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
`, ns.Tag, routerID, iface)
	os.WriteFile(filepath.Join(dir, "zebra.conf"), []byte("hostname "+ns.Tag+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ospfd.conf"), []byte(ospf), 0o644)
	exec.Command("chown", "-R", "frr:frr", dir).Run()
	for _, d := range []struct{ bin, conf string }{{frrZebra, "zebra"}, {frrOSPF, "ospfd"}} {
		cmd := ns.Command(d.bin, "-f", filepath.Join(dir, d.conf+".conf"), "-i", filepath.Join(dir, d.conf+".pid"),
			"--vty_socket", dir, "-z", filepath.Join(dir, "zserv.api"))
		out, _ := os.Create(filepath.Join(dir, d.conf+".out"))
		cmd.Stdout, cmd.Stderr = out, out
		if err := lab.Start(cmd); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // ospfd connects to zebra's socket
	}
	return func(c string) string {
		out, _ := exec.Command("vtysh", "--vty_socket", dir, "-c", c).CombinedOutput()
		return string(out)
	}
}

// TestOSPFOverTunnel: FRR's ospfd on both ends of a vpdn tunnel (the LAC's
// Virtual-PPP1, the LNS's Virtual-Access1), as document 004 runs OSPF over
// L2TP: the adjacency reaches Full and each side learns the network behind
// the other, which then answers pings through the tunnel.
func TestOSPFOverTunnel(t *testing.T) {
	peers.Require(t, frrZebra, frrOSPF, "vtysh", "ping")
	lab, a, b, _ := newLab(t)
	// The networks behind each end, to be advertised.
	a.MustIP("addr", "add", "198.19.50.1/32", "dev", "lo")
	b.MustIP("addr", "add", "198.19.100.1/32", "dev", "lo")
	_, stopLNS := vpdnDaemon(t, lab, b, `hostname LNS
aaa new-model
aaa authentication ppp default local
username branch password 0 branchpw
vpdn enable
vpdn l2tp listen 198.18.0.2:1701
vpdn-group BRANCHES
 accept-dialin
  protocol l2tp
  virtual-template 1
 no l2tp tunnel authentication
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool BR
 ppp authentication chap
ip local pool BR 198.19.1.10 198.19.1.20
`)
	lacLogs, stopLAC := vpdnDaemon(t, lab, a, lacConfig("", "branch", "branchpw"))
	waitAddr(t, a, lacLogs, func() string { return "(the LNS is vpdn: see its log)" })
	vtyA := frr(t, lab, a, "198.19.50.1", "Vp1")
	vtyB := frr(t, lab, b, "198.19.100.1", "Vi1")
	deadline := time.Now().Add(60 * time.Second)
	for {
		na, nb := vtyA("show ip ospf neighbor"), vtyB("show ip ospf neighbor")
		if strings.Contains(na, "Full") && strings.Contains(nb, "Full") {
			t.Logf("LAC: %s", lastLine(na))
			t.Logf("LNS: %s", lastLine(nb))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Full adjacency:\nLAC:\n%s\nLNS:\n%s", na, nb)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for deadline = time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		ra, _ := a.IP("route", "show", "198.19.100.1")
		rb, _ := b.IP("route", "show", "198.19.50.1")
		if strings.Contains(string(ra), "dev Vp1") && strings.Contains(string(rb), "dev Vi1") {
			t.Logf("LAC learned: %s", strings.TrimSpace(string(ra)))
			t.Logf("LNS learned: %s", strings.TrimSpace(string(rb)))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OSPF routes not installed:\nLAC: %s\nLNS: %s\n%s", ra, rb, vtyA("show ip ospf route"))
		}
	}
	if out, err := a.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "-I", "198.19.50.1", "198.19.100.1"); err != nil {
		t.Fatalf("ping between the networks behind each end: %v\n%s", err, out)
	}
	stopLAC()
	stopLNS()
}
