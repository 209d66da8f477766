package interop

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// TestOSPFOverPseudowire: document 004's OSPF across the L2TPv3
// pseudowire. R5 and R9 run its manual xconnect pair (vpdn, addresses
// mapped into the lab); R7 and R10, the hosts on the two LAN segments,
// run FRR's ospfd on the segment that the pseudowire makes one: the
// adjacency reaches Full across it, each learns the network behind the
// other, which then answers pings.
func TestOSPFOverPseudowire(t *testing.T) {
	peers.Require(t, frrZebra, frrOSPF, "vtysh", "ping")
	lab := nstest.New(t)
	r7, r5, r9, r10 := lab.NS("r7"), lab.NS("r5"), lab.NS("r9"), lab.NS("r10")
	p := netip.MustParsePrefix
	r7dev, r5lan := lab.Link(r7, r5, p("198.19.1.7/24"), p("198.19.1.254/24"))
	r10dev, r9lan := lab.Link(r10, r9, p("198.19.1.10/24"), p("198.19.1.253/24"))
	r5wan, r9wan := lab.Link(r5, r9, p("198.18.1.5/24"), p("198.18.1.9/24"))
	r5.MustIP("addr", "flush", "dev", r5lan)
	r9.MustIP("addr", "flush", "dev", r9lan)
	r7.MustIP("addr", "add", "198.19.50.1/32", "dev", "lo")
	r10.MustIP("addr", "add", "198.19.100.1/32", "dev", "lo")
	read := func(name string) string {
		b, err := os.ReadFile("../config/testdata/docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	_, stop5 := vpdnDaemon(t, lab, r5, "hostname R5\n"+strings.ReplaceAll(read("004-l2tpv3-manual-r5.cfg"), "44.1.1.9", "198.18.1.9")+
		"interface GigabitEthernet0/0\n linux-device "+r5lan+"\ninterface GigabitEthernet1/0\n linux-device "+r5wan+"\n")
	_, stop9 := vpdnDaemon(t, lab, r9, "hostname R9\n"+strings.ReplaceAll(read("004-l2tpv3-manual-r9.cfg"), "55.1.1.1", "198.18.1.5")+
		"interface GigabitEthernet1/0\n linux-device "+r9lan+"\ninterface GigabitEthernet0/0\n linux-device "+r9wan+"\n")
	for i := 0; ; i++ {
		if _, err := r7.Run(5*time.Second, "ping", "-c", "1", "-W", "1", "198.19.1.10"); err == nil {
			break
		}
		if i > 30 {
			t.Fatal("the pseudowire does not carry pings")
		}
		time.Sleep(200 * time.Millisecond)
	}
	vty7 := frr(t, lab, r7, "198.19.50.1", r7dev)
	vty10 := frr(t, lab, r10, "198.19.100.1", r10dev)
	deadline := time.Now().Add(60 * time.Second)
	for {
		n7, n10 := vty7("show ip ospf neighbor"), vty10("show ip ospf neighbor")
		if strings.Contains(n7, "Full") && strings.Contains(n10, "Full") {
			t.Logf("R7: %s", lastLine(n7))
			t.Logf("R10: %s", lastLine(n10))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Full adjacency across the pseudowire:\nR7:\n%s\nR10:\n%s", n7, n10)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The ping's answer needs R10's route back as well as R7's route out:
	// wait for both (CI once pinged when only R7's was in).
	learned := func(who string, ns *nstest.NS, vty func(string) string, dst, via string) {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			r, _ := ns.IP("route", "show", dst)
			if strings.Contains(string(r), "via "+via) {
				t.Logf("%s learned: %s", who, strings.TrimSpace(string(r)))
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("OSPF route not installed on %s: %s\n%s", who, r, vty("show ip ospf route"))
			}
		}
	}
	learned("R7", r7, vty7, "198.19.100.1", "198.19.1.10")
	learned("R10", r10, vty10, "198.19.50.1", "198.19.1.7")
	if out, err := r7.Run(15*time.Second, "ping", "-c", "2", "-W", "2", "-I", "198.19.50.1", "198.19.100.1"); err != nil {
		t.Fatalf("ping between the networks behind R7 and R10: %v\n%s", err, out)
	}
	stop5()
	stop9()
}
