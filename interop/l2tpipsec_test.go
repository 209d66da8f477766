package interop

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/internal/peers"
)

// TestDialL2TPIPsecToSoftEther is issue 14's L2TP/IPsec interop: `vpdn
// dial --ipsec-psk` as the client of SoftEther's L2TP/IPsec server (IKEv1
// main mode with the pre-shared key, quick mode in transport mode,
// MS-CHAPv2, an IPCP address from SecureNAT's pool, pings to its
// gateway). The client sits behind an nftables masquerade, which forces
// NAT-T (UDP 4500): SoftEther 5.01's raw ESP is broken (INTEROP.md).
func TestDialL2TPIPsecToSoftEther(t *testing.T) {
	peers.Require(t, peers.SoftEtherServerBin, peers.SoftEtherCmdBin, "nft")
	lab := nstest.New(t)
	cli, nat, sb := lab.NS("vpdn"), lab.NS("nat"), lab.NS("sb")
	lab.Link(cli, nat, netip.MustParsePrefix("198.18.21.2/24"), netip.MustParsePrefix("198.18.21.1/24"))
	natOut, sbDev := lab.Link(nat, sb, netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("198.18.0.2/24"))
	cli.Route(netip.MustParsePrefix("198.18.0.0/24"), netip.MustParseAddr("198.18.21.1"))
	if out, err := nat.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatalf("sysctl: %v %s", err, out)
	}
	nat.Masquerade(natOut, netip.Prefix{})
	capture := lab.Capture(sb, sbDev, "udp port 500 or udp port 4500 or udp port 1701 or ip proto 50")
	se := peers.SoftEther(t, lab, sb, netip.MustParseAddr("198.18.0.2"))
	bin := nstest.GoBuild(t, "../cmd/vpdn")
	out, errOut := &nstest.SyncBuffer{}, &nstest.SyncBuffer{}
	dial := cli.Command(bin, "dial", "--server", "198.18.0.2", "--ipsec-psk", se.PSK, "--auth", "ms-chap-v2",
		"--user", se.User.Name, "--password", se.User.Password, "--route", "198.19.30.0/24", "--log-level", "info")
	dial.Stdout, dial.Stderr = out, errOut
	if err := lab.Start(dial); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vpdn dial stdout:\n%s\nstderr:\n%s\nSoftEther log:\n%s", out, errOut, se.Log())
		}
	})
	upRE := regexp.MustCompile(`Virtual-PPP1 is up: address (198\.19\.30\.\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for !upRE.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("vpdn dial not up after 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s", strings.TrimSpace(out.String()))
	if o, err := cli.Run(30*time.Second, "ping", "-c", "10", "-i", "0.2", "-W", "2", se.Gateway.String()); err != nil {
		t.Fatalf("ping %v: %v\n%s", se.Gateway, err, o)
	}
	if capture != nil {
		capture.Stop()
		if bad, err := nstest.Problems(capture.Path); err != nil || len(bad) > 0 {
			t.Errorf("tshark: %v %v", err, bad)
		}
		clear, _ := nstest.Decode(capture.Path, "l2tp")
		esp, _ := nstest.Decode(capture.Path, "udp.port == 4500 && esp")
		t.Logf("capture at SoftEther: %d ESP-in-UDP packets, %d L2TP in clear", len(esp), len(clear))
		if len(clear) != 0 || len(esp) < 10 {
			t.Errorf("capture: %d ESP in UDP 4500, %d L2TP in clear", len(esp), len(clear))
		}
	}
}
