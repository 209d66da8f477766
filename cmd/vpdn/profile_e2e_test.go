package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// profileHub is document 004's crypto-map hub (after the second spoke)
// with its keys in keyrings and its spokes in isakmp profiles, one crypto
// map entry per spoke naming its profile (document 004's "Regular IPSec
// (Profile)").
const profileHub = `hostname hub
crypto keyring SPOKE1
 pre-shared-key address 198.18.1.2 key cisco123
crypto keyring SPOKE2
 pre-shared-key address 198.18.1.3 key cisco456
crypto isakmp policy 1
 hash md5
 authentication pre-share
 group 5
crypto isakmp profile SP1
 keyring SPOKE1
 match identity address 198.18.1.2 255.255.255.255
crypto isakmp profile SP2
 keyring SPOKE2
 match identity address 198.18.1.3 255.255.255.255
crypto ipsec transform-set Trans_HUB1_SP1 esp-aes 256 esp-md5-hmac
crypto ipsec profile SPOKES
 set transform-set Trans_HUB1_SP1
crypto map HUB_SPOKEs 1 ipsec-isakmp
 set peer 198.18.1.2
 set profile SPOKES
 set isakmp-profile SP1
 match address TO_SP1
crypto map HUB_SPOKEs 2 ipsec-isakmp
 set peer 198.18.1.3
 set peer 198.18.1.4
 set profile SPOKES
 set isakmp-profile SP2
 match address TO_SP2
ip access-list extended TO_SP1
 permit ip 198.19.0.0 0.0.0.255 198.19.1.0 0.0.0.255
ip access-list extended TO_SP2
 permit ip 198.19.0.0 0.0.0.255 198.19.2.0 0.0.0.255
 permit ip 198.19.0.0 0.0.0.255 198.19.3.0 0.0.0.255
interface Ethernet0/0
 ip address 198.18.1.1 255.255.255.0
 crypto map HUB_SPOKEs
`

// TestCryptoProfilesInNamespaces: the hub above and document 004's two
// spokes as written (plain crypto maps, keys cisco123 and cisco456), each
// a `vpdn serve` in its own namespace: both spokes come up under their
// own isakmp profile (show crypto isakmp sa detail, show crypto session,
// show crypto isakmp profile) and ping the hub's network; a third spoke
// whose key is in no keyring is refused ("No pre-shared key") and counted
// in the hub's IKE drops.
func TestCryptoProfilesInNamespaces(t *testing.T) {
	lab := nstest.New(t)
	hub, sp1, sp2, sp3 := lab.NS("hub"), lab.NS("sp1"), lab.NS("sp2"), lab.NS("sp3")
	lab.Link(hub, sp1, mustPrefix("198.18.1.1/24"), mustPrefix("198.18.1.2/24"))
	dev2, sp2dev := lab.Link(hub, sp2, mustPrefix("198.18.2.1/32"), mustPrefix("198.18.1.3/32"))
	hub.MustIP("route", "add", "198.18.1.3/32", "dev", dev2)
	sp2.MustIP("route", "add", "198.18.1.1/32", "dev", sp2dev)
	dev3, sp3dev := lab.Link(hub, sp3, mustPrefix("198.18.3.1/32"), mustPrefix("198.18.1.4/32"))
	hub.MustIP("route", "add", "198.18.1.4/32", "dev", dev3)
	sp3.MustIP("route", "add", "198.18.1.1/32", "dev", sp3dev)
	for ns, a := range map[*nstest.NS]string{hub: "198.19.0.1/24", sp1: "198.19.1.1/24", sp2: "198.19.2.1/24", sp3: "198.19.3.1/24"} {
		ns.MustIP("addr", "add", a, "dev", "lo")
		ns.MustIP("link", "set", "lo", "up")
	}
	iface := func(addr, m string) string {
		return "interface Ethernet0/0\n ip address " + addr + " 255.255.255.0\n crypto map " + m + "\n"
	}
	sp3Cfg := strings.NewReplacer("cisco123", "cisco789", "198.19.1.0", "198.19.3.0", "198.18.1.2 ", "198.18.1.4 ").Replace(crypto004(t, "004-crypto-map-spoke1", ""))
	hubD := serveIn(t, lab, hub, "hub", profileHub)
	sp1D := serveIn(t, lab, sp1, "spoke1", crypto004(t, "004-crypto-map-spoke1", ""))
	sp2D := serveIn(t, lab, sp2, "spoke2", crypto004(t, "004-crypto-map-spoke2", iface("198.18.1.3", "SP2_HUB")))
	sp3D := serveIn(t, lab, sp3, "spoke3", sp3Cfg)
	for _, s := range []*served{hubD, sp1D, sp2D, sp3D} {
		s.waitUp(t)
	}
	hubD.show("debug", "crypto", "isakmp")
	// The hub initiates to spoke 1 (its entry's profile, SP1, keyring
	// SPOKE1); spoke 2 initiates to the hub.
	if out, err := hub.Run(30*time.Second, "ping", "-c", "5", "-i", "0.5", "-W", "2", "-I", "198.19.0.1", "198.19.1.1"); err != nil {
		t.Fatalf("ping spoke 1: %v\n%s", err, out)
	}
	if out, err := sp2.Run(30*time.Second, "ping", "-c", "5", "-i", "0.5", "-W", "2", "-I", "198.19.2.1", "198.19.0.1"); err != nil {
		t.Fatalf("ping from spoke 2: %v\n%s", err, out)
	}
	// Spoke 3's key is in no keyring: its pings never cross.
	if out, err := sp3.Run(15*time.Second, "ping", "-c", "3", "-i", "0.5", "-W", "2", "-I", "198.19.3.1", "198.19.0.1"); err == nil {
		t.Fatalf("spoke 3 reached the hub's network without a key:\n%s", out)
	}
	waitFor(t, "the hub to refuse spoke 3", func() bool {
		return strings.Contains(hubD.logs.String(), "No pre-shared key with 198.18.1.4")
	})
	detail := hubD.show("show", "crypto", "isakmp", "sa", "detail")
	t.Logf("hub: show crypto isakmp sa detail:\n%s", detail)
	for _, want := range []string{"198.18.1.2", "Profile: SP1", "198.18.1.3", "Profile: SP2"} {
		if !strings.Contains(detail, want) {
			t.Errorf("hub: show crypto isakmp sa detail lacks %q", want)
		}
	}
	if strings.Contains(detail, "198.18.1.4") {
		t.Errorf("hub: spoke 3 has a phase-1 SA:\n%s", detail)
	}
	sess := hubD.show("show", "crypto", "session")
	for _, want := range []string{"Profile: SP1", "Profile: SP2"} {
		if !strings.Contains(sess, want) {
			t.Errorf("hub: show crypto session lacks %q:\n%s", want, sess)
		}
	}
	prof := hubD.show("show", "crypto", "isakmp", "profile", "tag", "SP2")
	for _, want := range []string{"ISAKMP PROFILE SP2", "ip-address 198.18.1.3 255.255.255.255", "keyring(s): SPOKE2"} {
		if !strings.Contains(prof, want) {
			t.Errorf("hub: show crypto isakmp profile tag SP2 lacks %q:\n%s", want, prof)
		}
	}
	for _, s := range []*served{hubD, sp1D, sp2D, sp3D} {
		if err := s.stop(); err != nil {
			t.Errorf("%s: exit %v", s.name, err)
		}
	}
}
