package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// profileHubCfg is a crypto-map hub whose spokes come through isakmp
// profiles: spoke A (198.18.1.2) by profile PA with keyring KR-A, the
// spokes of 198.18.1.0/24 by profile PB with keyring KR-B; every entry
// names a profile. A global key for any address lets a stranger through
// its key but no profile takes it.
const profileHubCfg = `hostname hub
crypto keyring KR-A
 pre-shared-key address 198.18.1.2 key keyA
crypto keyring KR-B
 pre-shared-key address 198.18.1.0 255.255.255.0 key keyB
crypto isakmp policy 10
 encryption aes
 authentication pre-share
 group 14
crypto isakmp key 0 globalkey address 0.0.0.0 0.0.0.0
crypto isakmp profile PA
 keyring KR-A
 match identity address 198.18.1.2 255.255.255.255
 keepalive 10 retry 2
crypto isakmp profile PB
 keyring KR-B
 match identity address 198.18.1.0 255.255.255.0
crypto ipsec transform-set T esp-aes esp-sha-hmac
crypto map M 10 ipsec-isakmp
 set peer 198.18.1.2
 set peer 198.18.1.3
 set isakmp-profile PA
 set transform-set T
 match address TO-A
crypto map M 20 ipsec-isakmp
 set peer 198.18.1.3
 set peer 198.18.1.4
 set peer 198.18.2.5
 set transform-set T
 match address TO-B
crypto map M isakmp-profile PB
ip access-list extended TO-A
 permit ip 198.19.0.0 0.0.0.255 198.19.1.0 0.0.0.255
ip access-list extended TO-B
 permit ip 198.19.0.0 0.0.0.255 198.19.2.0 0.0.0.255
interface Ethernet0/0
 ip address 198.18.1.1 255.255.255.0
 crypto map M
`

// profileSpokeCfg is a plain crypto-map spoke at addr with key, protecting
// nets toward the hub's 198.19.0.0/24.
func profileSpokeCfg(addr, key string, nets ...string) string {
	var acl strings.Builder
	for _, n := range nets {
		fmt.Fprintf(&acl, " permit ip %s 0.0.0.255 198.19.0.0 0.0.0.255\n", n)
	}
	return `crypto isakmp policy 10
 encryption aes
 authentication pre-share
 group 14
crypto isakmp key 0 ` + key + ` address 198.18.1.1
crypto ipsec transform-set T esp-aes esp-sha-hmac
crypto map S 10 ipsec-isakmp
 set peer 198.18.1.1
 set transform-set T
 match address TO-HUB
ip access-list extended TO-HUB
` + acl.String() + `interface Ethernet0/0
 ip address ` + addr + ` 255.255.0.0
 crypto map S
`
}

// TestInMemoryCryptoProfiles: a hub with two keyrings and two isakmp
// profiles and plain spokes. Spokes A and B, each with its own key, come
// up under their own profile (shown in show crypto isakmp sa detail and
// show crypto session); a quick mode of spoke B for spoke A's entry (it
// is a backup peer there) is refused because that entry is profile PA's;
// spoke C, whose key is in no keyring, fails authentication; a stranger
// with the global key matches no profile and is refused at MM5, counted
// as an IKE drop (no-profile).
func TestInMemoryCryptoProfiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(31)
		logs := &nstest.SyncBuffer{}
		hub := newMemDaemon(t, nw, profileHubCfg, func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		for _, sw := range [][]string{{"crypto", "isakmp"}, {"crypto", "ipsec"}} {
			if r := hub.do("debug", sw...); !r.OK {
				t.Fatalf("debug %v: %s", sw, r.Error)
			}
		}
		spA := newMemDaemon(t, nw, profileSpokeCfg("198.18.1.2", "keyA", "198.19.1.0"))
		spB := newMemDaemon(t, nw, profileSpokeCfg("198.18.1.3", "keyB", "198.19.2.0", "198.19.1.0"))
		spC := newMemDaemon(t, nw, profileSpokeCfg("198.18.1.4", "keyC", "198.19.2.0"))
		spD := newMemDaemon(t, nw, profileSpokeCfg("198.18.2.5", "globalkey", "198.19.2.0"))
		h := hub.host.Device("crypto0")

		for _, sp := range []struct {
			m        *memDaemon
			src, dst string
		}{{spA, "198.19.1.7", "198.19.0.1"}, {spB, "198.19.2.7", "198.19.0.2"}} {
			p := udpPacket(sp.src, sp.dst, 40)
			dev := sp.m.host.Device("crypto0")
			waitFor(t, "the SA of "+sp.src, func() bool {
				inject(dev, p)
				synctest.Wait()
				return bytes.Equal(outbound(h), p)
			})
		}
		detail := hub.show(t, "crypto isakmp sa detail", false).Text
		for _, want := range []string{"198.18.1.2", "Profile: PA", "198.18.1.3", "Profile: PB"} {
			if !strings.Contains(detail, want) {
				t.Errorf("show crypto isakmp sa detail lacks %q:\n%s", want, detail)
			}
		}
		// Profile PA's keepalive turns DPD on for spoke A's SA alone.
		for _, l := range strings.Split(detail, "\n") {
			if strings.Contains(l, "198.18.1.2") != strings.HasSuffix(l, " D") {
				t.Errorf("DPD capability: %q", l)
			}
		}
		sess := hub.show(t, "crypto session detail", false).Text
		for _, want := range []string{"Profile: PA", "Profile: PB", "Session status: UP-ACTIVE"} {
			if !strings.Contains(sess, want) {
				t.Errorf("show crypto session detail lacks %q:\n%s", want, sess)
			}
		}
		// Spoke B asks for spoke A's networks: the entry lists it as a
		// backup peer, but it is profile PA's, and B's SA is PB's.
		inject(spB.host.Device("crypto0"), udpPacket("198.19.1.9", "198.19.0.3", 40))
		waitFor(t, "the hub to refuse spoke B's quick mode for entry 10", func() bool {
			return strings.Contains(logs.String(), `peer 198.18.1.3, isakmp profile \"PB\"`)
		})
		if n := len(saSPIs(t, hub)); n != 2 {
			t.Errorf("hub has %d SAs, want 2 (A's and B's)", n)
		}
		// Spoke C's key is in no keyring: KR-B's key is used for its
		// address, and authentication fails.
		inject(spC.host.Device("crypto0"), udpPacket("198.19.2.9", "198.19.0.4", 40))
		// The stranger has the global key but no profile.
		inject(spD.host.Device("crypto0"), udpPacket("198.19.2.10", "198.19.0.5", 40))
		waitFor(t, "the stranger refused", func() bool {
			return strings.Contains(metricsText(t, hub.d), `vpdn_ike_drops_total{reason="no-profile"} 1`)
		})
		waitFor(t, "spoke C refused", func() bool {
			return strings.Contains(metricsText(t, hub.d), `vpdn_ike_drops_total{reason="auth-failed"}`) || strings.Contains(metricsText(t, hub.d), `vpdn_ike_drops_total{reason="malformed"}`)
		})
		if n := len(saSPIs(t, hub)); n != 2 {
			t.Errorf("hub has %d SAs after C and D tried, want 2", n)
		}
		if !strings.Contains(logs.String(), "matches no isakmp profile") {
			t.Error("debug log lacks the stranger's refusal")
		}

		prof := hub.show(t, "crypto isakmp profile", false).Text
		for _, want := range []string{"ISAKMP PROFILE PA\n   Identities matched are:\n    ip-address 198.18.1.2 255.255.255.255\n   Certificate maps matched are:\n   keyring(s): KR-A\n   trustpoint(s): <all>\n", "ISAKMP PROFILE PB", "ip-address 198.18.1.0 255.255.255.0", "keepalive: 10 retry 2"} {
			if !strings.Contains(prof, want) {
				t.Errorf("show crypto isakmp profile lacks %q:\n%s", want, prof)
			}
		}
		if one := hub.show(t, "crypto isakmp profile tag PB", false).Text; strings.Contains(one, "PROFILE PA") || !strings.Contains(one, "PROFILE PB") {
			t.Errorf("show crypto isakmp profile tag PB:\n%s", one)
		}
		keys := hub.show(t, "crypto isakmp key", false).Text
		for _, want := range []string{"Keyring      Hostname/Address                            Preshared Key", "default      0.0.0.0/0.0.0.0", "KR-A         198.18.1.2", "KR-B         198.18.1.0/255.255.255.0", "<removed>"} {
			if !strings.Contains(keys, want) {
				t.Errorf("show crypto isakmp key lacks %q:\n%s", want, keys)
			}
		}
		if strings.Contains(keys, "keyB") {
			t.Errorf("show crypto isakmp key shows a key without --secrets:\n%s", keys)
		}
	})
}

// TestInMemoryCryptoProfileAggressive: a spoke whose entry's isakmp
// profile says `initiate mode aggressive` and `self-identity fqdn`
// identifies by its host name, keyed from its profile's keyring; the hub
// (accepting aggressive mode) finds its key by that host name in a
// keyring and its profile by `match identity host`.
func TestInMemoryCryptoProfileAggressive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(33)
		hub := newMemDaemon(t, nw, `hostname hub
crypto keyring BY-NAME
 pre-shared-key hostname spoke-f.example key fqdnkey
crypto isakmp policy 10
 encryption aes
 authentication pre-share
 group 14
no crypto isakmp aggressive-mode disable
crypto isakmp profile PF
 keyring BY-NAME
 match identity host spoke-f.example
crypto ipsec transform-set T esp-aes esp-sha-hmac
crypto dynamic-map DYN 10
 set isakmp-profile PF
 set transform-set T
 match address TO-F
crypto map M 10 ipsec-isakmp dynamic DYN
ip access-list extended TO-F
 permit ip 198.19.0.0 0.0.0.255 198.19.6.0 0.0.0.255
interface Ethernet0/0
 ip address 198.18.1.1 255.255.255.0
 crypto map M
`)
		spoke := newMemDaemon(t, nw, `hostname spoke-f.example
crypto keyring TO-HUB
 pre-shared-key address 198.18.1.1 key fqdnkey
crypto isakmp policy 10
 encryption aes
 authentication pre-share
 group 14
crypto isakmp key 0 wrongkey address 198.18.1.1
crypto isakmp profile HUB
 keyring TO-HUB
 match identity address 198.18.1.1 255.255.255.255
 self-identity fqdn
 initiate mode aggressive
crypto ipsec transform-set T esp-aes esp-sha-hmac
crypto map S 10 ipsec-isakmp
 set peer 198.18.1.1
 set isakmp-profile HUB
 set transform-set T
 match address TO-HUB
ip access-list extended TO-HUB
 permit ip 198.19.6.0 0.0.0.255 198.19.0.0 0.0.0.255
interface Ethernet0/0
 ip address 198.18.1.6 255.255.255.0
 crypto map S
`)
		p := udpPacket("198.19.6.1", "198.19.0.1", 40)
		h, s := hub.host.Device("crypto0"), spoke.host.Device("crypto0")
		waitFor(t, "the spoke's SA", func() bool {
			inject(s, p)
			synctest.Wait()
			return bytes.Equal(outbound(h), p)
		})
		hd := hub.show(t, "crypto isakmp sa detail", false).Text
		if !strings.Contains(hd, "Profile: PF") {
			t.Errorf("hub: show crypto isakmp sa detail lacks the profile:\n%s", hd)
		}
		if sd := spoke.show(t, "crypto isakmp sa detail", false).Text; !strings.Contains(sd, "Profile: HUB") {
			t.Errorf("spoke: show crypto isakmp sa detail lacks the profile:\n%s", sd)
		}
		keys := hub.show(t, "crypto isakmp key", false).Text
		if !strings.Contains(keys, "BY-NAME      spoke-f.example") {
			t.Errorf("hub: show crypto isakmp key:\n%s", keys)
		}
	})
}

// FuzzProfileFor feeds arbitrary phase-1 identities and peer addresses
// to the profile and key look-ups (a peer's ID is network input): no
// panic, and a chosen profile is one of the configuration's.
func FuzzProfileFor(f *testing.F) {
	res, err := config.Parse("hub.cfg", profileHubCfg)
	if err != nil {
		f.Fatal(err)
	}
	c := res.Config
	local := netip.MustParseAddr("198.18.1.1")
	f.Add([]byte{1, 17, 1, 244, 198, 18, 1, 2}, []byte{198, 18, 1, 2})
	f.Add(append([]byte{2, 0, 0, 0}, "spoke.example"...), []byte{198, 18, 1, 3})
	f.Add(append([]byte{11, 0, 0, 0}, "VPNGROUP"...), []byte{198, 18, 2, 5})
	f.Add([]byte{}, []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, id, addr []byte) {
		if len(addr) != 4 {
			return
		}
		peer := netip.AddrFrom4([4]byte(addr))
		if pr := profileFor(c, local, peer, id); pr != nil && c.Crypto.ISAKMPProfileByName(pr.Name) != pr {
			t.Fatalf("profile %q is not the configuration's", pr.Name)
		}
		for _, rings := range [][]string{nil, {"KR-A"}} {
			if k := lookupKey(c, local, peer, id, rings); k != nil && len(rings) > 0 && k.keyring != "KR-A" {
				t.Fatalf("key from keyring %q, asked for %v", k.keyring, rings)
			}
		}
	})
}

// TestProfileLookup: the key and profile choices on the hub of
// TestInMemoryCryptoProfiles: the longest prefix wins across keyrings
// and global keys (keyrings first on a tie), a profile's keyrings
// restrict the key, the longest address match picks the profile, and
// main mode's key must be of the chosen profile's keyrings.
func TestProfileLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newMemDaemon(t, memnet.New(34), profileHubCfg+"crypto keyring TIE\n pre-shared-key address 198.18.7.0 255.255.255.0 key tiekey\ncrypto isakmp key 0 globaltie address 198.18.7.0 255.255.255.0\n")
		c := hub.d.Config()
		local := netip.MustParseAddr("198.18.1.1")
		addrID := func(a string) []byte {
			return isakmp.AppendID(nil, isakmp.IDAddr(netip.MustParseAddr(a), 17, 500))
		}
		for _, tc := range []struct {
			peer    string
			rings   []string
			keyring string // "-": none
			key     string
		}{
			{"198.18.1.2", nil, "KR-A", "keyA"},
			{"198.18.1.3", nil, "KR-B", "keyB"},
			{"198.18.1.2", []string{"KR-B"}, "KR-B", "keyB"},
			{"198.18.1.3", []string{"KR-A"}, "-", ""},
			{"198.18.2.5", nil, "", "globalkey"},
			{"198.18.2.5", []string{"KR-A", "KR-B"}, "-", ""},
			{"198.18.7.9", nil, "TIE", "tiekey"},
		} {
			k := lookupKey(c, local, netip.MustParseAddr(tc.peer), nil, tc.rings)
			switch {
			case tc.keyring == "-" && k != nil:
				t.Errorf("%s in %v: key from %q, want none", tc.peer, tc.rings, k.keyring)
			case tc.keyring != "-" && (k == nil || k.keyring != tc.keyring || string(k.value()) != tc.key):
				t.Errorf("%s in %v: %+v, want %q from %q", tc.peer, tc.rings, k, tc.key, tc.keyring)
			}
		}
		for _, tc := range []struct {
			peer, id, want string
		}{
			{"198.18.1.2", "198.18.1.2", "PA"},
			{"198.18.1.3", "", "PB"},
			{"198.18.1.2", "198.18.1.9", "PB"}, // the identity, not the address
			{"198.18.2.5", "198.18.2.5", ""},
		} {
			var id []byte
			if tc.id != "" {
				id = addrID(tc.id)
			}
			got := ""
			if pr := profileFor(c, local, netip.MustParseAddr(tc.peer), id); pr != nil {
				got = pr.Name
			}
			if got != tc.want {
				t.Errorf("profile of %s (ID %q): %q, want %q", tc.peer, tc.id, got, tc.want)
			}
		}
		s := hub.d.ipsecServices()[0]
		if p, err := s.profile(netip.MustParseAddr("198.18.1.3"), addrID("198.18.1.3"), []byte("keyB")); err != nil || p.Name != "PB" {
			t.Errorf("spoke B with KR-B's key: %+v %v", p, err)
		}
		if _, err := s.profile(netip.MustParseAddr("198.18.1.3"), addrID("198.18.1.3"), []byte("globalkey")); err == nil {
			t.Error("a key not of profile PB's keyrings was accepted")
		}
		if _, err := s.profile(netip.MustParseAddr("198.18.2.5"), addrID("198.18.2.5"), []byte("globalkey")); err != errNoProfile {
			t.Errorf("an identity of no profile: %v", err)
		}
		if p, err := s.profile(netip.MustParseAddr("198.18.2.5"), nil, nil); err != nil || p.Name != "" {
			t.Errorf("main mode's first message of a stranger: %+v %v (the identity decides)", p, err)
		}
	})
}
