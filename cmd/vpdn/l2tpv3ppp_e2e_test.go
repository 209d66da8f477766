package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// TestL2TPv3PPPPseudowire runs document 004's L2TPv3 LNS/LAC pair
// ("Configure for L2TPv3") in namespaces, addresses mapped (55.1.1.3 ->
// 198.18.1.3, 77.1.1.7 -> 198.18.1.7, 3.3.3.3 -> 198.19.3.3, 7.7.7.7 ->
// 198.19.7.7 lent by the LNS with peer default ip address, 192.168.1.0/24
// -> 198.19.1.0/24 behind the LNS, 172.30.1.0/24 -> 198.19.30.0/24 behind
// the LAC): both Virtual-PPP1 come up with MS-CHAPv2 both ways, show
// caller user says so on both, and the two networks ping each other
// through the static routes over Virtual-PPP1; tshark decodes every
// L2TPv3 packet (PPP inside) without a malformed one.
func TestL2TPv3PPPPseudowire(t *testing.T) {
	lab := nstest.New(t)
	hl, lns, lac, hc := lab.NS("hl"), lab.NS("lns"), lab.NS("lac"), lab.NS("hc")
	lab.Link(hl, lns, mustPrefix("198.19.1.1/24"), mustPrefix("198.19.1.254/24"))
	lab.Link(hc, lac, mustPrefix("198.19.30.1/24"), mustPrefix("198.19.30.254/24"))
	lnsWAN, lacWAN := lab.Link(lns, lac, mustPrefix("198.18.1.3/24"), mustPrefix("198.18.1.7/24"))
	hl.MustIP("route", "add", "default", "via", "198.19.1.254")
	hc.MustIP("route", "add", "default", "via", "198.19.30.254")
	for _, ns := range []*nstest.NS{lns, lac} {
		if out, err := ns.Run(5*time.Second, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			t.Fatalf("ip_forward: %v %s", err, out)
		}
	}
	lnsCfg := func(proto string) string {
		return fmt.Sprintf(`hostname LNS
username LAC password 0 cisco123
pseudowire-class client.init.pw
 encapsulation l2tpv3
 protocol l2tpv3 client.inint.class
 ip local interface Ethernet0/1
%sinterface Ethernet0/1
 linux-device %s
interface Virtual-PPP1
 ip unnumbered Loopback0
 ppp authentication ms-chap-v2
 pseudowire 198.18.1.7 1 pw-class client.init.pw
interface Loopback0
 ip address 198.19.3.3 255.255.255.255
interface Virtual-PPP1
 ip unnumbered Loopback0
 peer default ip address 198.19.7.7
 ppp authentication ms-chap-v2
 pseudowire 198.18.1.7 1 pw-class client.init.pw
ip route 198.19.30.0 255.255.255.0 Virtual-PPP1
`, proto, lnsWAN)
	}
	lacCfg := func(proto string) string {
		return fmt.Sprintf(`hostname LAC
username LNS password 0 cisco123
pseudowire-class pwclass2
 encapsulation l2tpv3
 protocol l2tpv3 client.init.class
 ip local interface Ethernet0/0
%sinterface Ethernet0/0
 linux-device %s
interface Virtual-PPP1
 ip address negotiated
 ppp authentication ms-chap-v2
 no cdp enable
 pseudowire 198.18.1.3 1 pw-class pwclass2
ip route 198.19.1.0 255.255.255.0 Virtual-PPP1
`, proto, lacWAN)
	}
	for _, tc := range []struct{ name, proto, filter string }{
		{"ip", "", "ip proto 115"},
		{"udp", " ip protocol udp\n", "udp port 1701"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capture := lab.Capture(lns, lnsWAN, tc.filter)
			dl := serveIn(t, lab, lns, "LNS", lnsCfg(tc.proto))
			dc := serveIn(t, lab, lac, "LAC", lacCfg(tc.proto))
			dl.waitUp(t)
			dc.waitUp(t)
			waitFor(t, "both Virtual-PPP1 up with IPCP", func() bool {
				return strings.Contains(dl.show("show", "caller", "user", "LAC"), "IPCP") &&
					strings.Contains(dc.show("show", "caller", "user", "LNS"), "IPCP")
			})
			if out, err := hc.Run(20*time.Second, "ping", "-c", "5", "-W", "2", "198.19.1.1"); err != nil {
				t.Fatalf("ping through Virtual-PPP1: %v\n%s\nLNS:\n%s\nLAC:\n%s", err, out,
					dl.show("show", "caller", "user", "LAC"), dc.show("show", "caller", "user", "LNS"))
			}
			cu := dl.show("show", "caller", "user", "LAC")
			for _, want := range []string{"User: LAC, line Vp1, service PPP", "LCP Open, MS CHAP V2 (<-->), IPCP",
				"IP: Local 198.19.3.3, remote 198.19.7.7"} {
				if !strings.Contains(cu, want) {
					t.Errorf("LNS show caller user LAC lacks %q:\n%s", want, cu)
				}
			}
			if cu := dc.show("show", "caller", "user", "LNS"); !strings.Contains(cu, "line Vp1, service PPP") {
				t.Errorf("LAC show caller user LNS:\n%s", cu)
			}
			t.Logf("LNS:\n%s\n%s\n%s", cu, dl.show("show", "vpdn"), dl.show("show", "l2tp", "session", "all"))
			for _, d := range []*served{dl, dc} {
				if err := d.stop(); err != nil {
					t.Errorf("%s: %v", d.name, err)
				}
			}
			if capture != nil {
				capture.Stop()
				prefs := []string{"-o", "l2tp.cookie_size:4 Byte Cookie", "-o", "l2tp.l2_specific:None"}
				if tc.name == "udp" {
					prefs = append(prefs, "-d", "udp.port==1701,l2tp")
				}
				bad, err := nstest.ProblemsWith(capture.Path, prefs...)
				if err != nil || len(bad) > 0 {
					t.Errorf("tshark: %v %v", bad, err)
				}
				ppp, _ := nstest.DecodeWith(capture.Path, "l2tp.sid && ppp", prefs, "ppp.protocol")
				if len(ppp) < 10 {
					t.Errorf("capture: %d PPP frames in L2TPv3", len(ppp))
				}
				t.Logf("capture: %d PPP frames in L2TPv3 data messages, no malformed packet", len(ppp))
			}
		})
	}
}
