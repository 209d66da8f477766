package interop

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// vpdn as an Easy VPN server (XAuth + mode-config, IKEv1 aggressive mode
// with the group name as identity) and strongSwan's charon as its client
// (xauth-generic, `vips = 0.0.0.0`, kernel-libipsec: tunnel mode,
// UDP-encapsulated). The client gets its address from vpdn's pool and
// pings vpdn's network through the tunnel; a wrong XAuth password fails
// cleanly on both sides and takes no address.

const ezvpnServerCfg = `hostname vpdn
aaa new-model
aaa authentication login XAUTH local
aaa authorization network GROUPS local
username alice password 0 s3cret
ip local pool EZPOOL 198.19.5.10 198.19.5.20
ip access-list extended SPLIT
 permit ip 198.19.1.0 0.0.0.255 any
crypto isakmp policy 10
 encr aes 256
 authentication pre-share
 group 14
no crypto isakmp aggressive-mode disable
crypto isakmp client configuration group VPNGROUP
 key 0 groupkey
 pool EZPOOL
 dns 198.19.1.53
 domain example.test
 acl SPLIT
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto dynamic-map DYN 10
 set transform-set TS
crypto map CMAP client authentication list XAUTH
crypto map CMAP isakmp authorization list GROUPS
crypto map CMAP client configuration address respond
crypto map CMAP 10 ipsec-isakmp dynamic DYN
interface GigabitEthernet0/0
 ip address 198.18.0.1 255.255.255.0
 crypto map CMAP
`

// swanEzConf is charon's client connection for XAuth user user with
// password pass: aggressive mode with the group name as identity, or main
// mode with its address; with push, mode-config pushed by vpdn (pull = no).
func swanEzConf(user, pass string, aggressive, push bool) string {
	local := "keyid:VPNGROUP"
	if !aggressive {
		local = peerAddr.String()
	}
	return fmt.Sprintf(`connections {
  ez {
    version = 1
    aggressive = %[5]s
    pull = %[6]s
    encap = yes
    local_addrs = %[1]s
    remote_addrs = %[2]s
    proposals = aes256-sha1-modp2048
    vips = 0.0.0.0
    rekey_time = 0
    local-psk { auth = psk
                id = %[7]s }
    local-xauth { auth = xauth
                  xauth_id = %[3]s }
    remote { auth = psk
             id = %[2]s }
    children {
      ez {
        remote_ts = 198.19.1.0/24
        esp_proposals = aes256-sha1
        mode = tunnel
        rekey_time = 0
      }
    }
  }
}
secrets {
  ike-group {
    secret = "groupkey"
  }
  xauth-user {
    id = %[3]s
    secret = "%[4]s"
  }
}
`, peerAddr, vpdnAddr, user, pass, yesNo(aggressive), yesNo(!push), local)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ezvpnProfile moves the server's Easy VPN settings from the crypto map
// into an isakmp profile that matches the group, taken by the dynamic
// entry through its IPsec profile (document 004's Easy VPN hub, with a
// crypto map in place of its virtual template).
var ezvpnProfile = strings.NewReplacer(
	"crypto map CMAP client authentication list XAUTH\ncrypto map CMAP isakmp authorization list GROUPS\ncrypto map CMAP client configuration address respond\n", "",
	"crypto dynamic-map DYN 10\n set transform-set TS\n", `crypto isakmp profile PROFILE-ISAKMP
 match identity group VPNGROUP
 client authentication list XAUTH
 isakmp authorization list GROUPS
 client configuration address respond
 client configuration group VPNGROUP
crypto ipsec profile PROFILE-IPSEC
 set transform-set TS
 set isakmp-profile PROFILE-ISAKMP
crypto dynamic-map DYN 10
 set profile PROFILE-IPSEC
`)

func TestEzVPNStrongSwanClient(t *testing.T) {
	for _, tc := range []struct {
		name, pass       string
		ok               bool
		aggressive, push bool
		profile          bool
	}{
		{"aggressive-respond", "s3cret", true, true, false, false},
		{"main-initiate", "s3cret", true, false, true, false},
		{"wrong-password", "wrong", false, true, false, false},
		{"isakmp-profile", "s3cret", true, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ezvpnServerCfg
			if tc.profile {
				cfg = ezvpnProfile.Replace(cfg)
				if !strings.Contains(cfg, "set profile PROFILE-IPSEC") || strings.Contains(cfg, "crypto map CMAP client") {
					t.Fatalf("config edit failed:\n%s", cfg)
				}
			}
			if !tc.aggressive {
				// A main-mode client identifies by address: its key is
				// the wildcard one, its group the only one.
				cfg = strings.Replace(cfg, "no crypto isakmp aggressive-mode disable\n", "crypto isakmp key 0 groupkey address 0.0.0.0 0.0.0.0\n", 1)
			}
			if tc.push {
				cfg = strings.Replace(cfg, "client configuration address respond", "client configuration address initiate", 1)
			}
			lab, a, b, capture := newIKELab(t)
			a.MustIP("addr", "add", "198.19.1.1/32", "dev", "lo")
			a.MustIP("link", "set", "lo", "up")
			b.MustIP("link", "set", "lo", "up")
			c := startCharonPlugins(t, lab, b, swanEzConf("alice", tc.pass, tc.aggressive, tc.push), "xauth-generic")
			bin := nstest.GoBuild(t, "../cmd/vpdn")
			logs, sock, stop := vpdnServe(t, lab, a, bin, cfg)
			show := vpdnCLI(t, a, bin, sock)
			show("debug", "crypto", "isakmp")
			show("debug", "crypto", "ipsec")
			out, err := b.Run(40*time.Second, "swanctl", "--initiate", "--child", "ez", "--timeout", "30", "--uri", c.uri)
			if !tc.ok {
				if err == nil && strings.Contains(c.swanctl(t, "--list-sas"), "INSTALLED") {
					t.Fatalf("a wrong password brought the tunnel up:\n%s", out)
				}
				waitLine(t, "vpdn to refuse the user", 15*time.Second, func() bool {
					return strings.Contains(logs.String(), `XAUTH user \"alice\" failed authentication`)
				})
				waitLine(t, "vpdn to delete the IKE SA", 15*time.Second, func() bool {
					return !strings.Contains(show("show", "crypto", "isakmp", "sa"), "198.18.0.2")
				})
				if !strings.Contains(c.log(), "XAuth authentication of 'alice' (myself) failed") {
					t.Errorf("charon's log lacks the XAuth failure:\n%s", c.log())
				}
				if strings.Contains(show("show", "crypto", "session"), "Assigned address") {
					t.Error("a refused user holds an address")
				}
				if err := stop(); err != nil {
					t.Errorf("vpdn serve exit: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("swanctl --initiate: %v\n%s\ncharon:\n%s", err, out, c.log())
			}
			sas := c.swanctl(t, "--list-sas")
			if !strings.Contains(sas, "INSTALLED") || !strings.Contains(sas, "198.19.5.10") {
				t.Fatalf("strongSwan's SAs lack the virtual IP from vpdn's pool:\n%s", sas)
			}
			// kernel-libipsec: route vpdn's network into charon's TUN,
			// from the address vpdn assigned.
			for i := 0; ; i++ {
				if out, err := b.IP("route", "replace", "198.19.1.0/24", "dev", "ipsec0", "src", "198.19.5.10"); err == nil {
					break
				} else if i == 50 {
					t.Fatalf("route into ipsec0: %v %s\n%s", err, out, c.log())
				}
				time.Sleep(100 * time.Millisecond)
			}
			if out, err := b.Run(20*time.Second, "ping", "-c", "4", "-i", "0.3", "-W", "2", "-I", "198.19.5.10", "198.19.1.1"); err != nil {
				t.Fatalf("ping from the client's address: %v\n%s\nvpdn SAs:\n%s\ncharon:\n%s", err, out, show("show", "crypto", "ipsec", "sa"), c.log())
			}
			if out, err := a.Run(20*time.Second, "ping", "-c", "3", "-i", "0.3", "-W", "2", "-I", "198.19.1.1", "198.19.5.10"); err != nil {
				t.Fatalf("ping to the client from vpdn's network: %v\n%s", err, out)
			}
			sess := show("show", "crypto", "session", "detail")
			group := "Group: VPNGROUP"
			if !tc.aggressive {
				group = "Group: 198.18.0.2"
			}
			for _, want := range []string{"Username: alice", group, "Assigned address: 198.19.5.10", "Session status: UP-ACTIVE"} {
				if !strings.Contains(sess, want) {
					t.Errorf("show crypto session detail lacks %q:\n%s", want, sess)
				}
			}
			if tc.profile {
				if d := show("show", "crypto", "isakmp", "sa", "detail"); !strings.Contains(d, "Profile: PROFILE-ISAKMP") || !strings.Contains(sess, "Profile: PROFILE-ISAKMP") {
					t.Errorf("the client's SA is not shown under its profile:\n%s\n%s", d, sess)
				}
			}
			log := logs.String()
			wantLog := []string{"New State = IKE_XAUTH_REQ_SENT", "IKE_XAUTH_SET_SENT  New State = IKE_P1_COMPLETE", "Sending private address: 198.19.5.10"}
			if tc.push {
				wantLog = append(wantLog, "New State = IKE_CONFIG_MODE_SET_SENT")
			}
			for _, want := range wantLog {
				if !strings.Contains(log, want) {
					t.Errorf("vpdn's debug log lacks %q", want)
				}
			}
			if !strings.Contains(c.log(), "XAuth authentication of 'alice' (myself) successful") {
				t.Errorf("charon's log lacks the XAuth success")
			}
			// The client leaves: its address goes back to the pool.
			c.swanctl(t, "--terminate", "--ike", "ez", "--timeout", "10")
			waitLine(t, "the address released", 15*time.Second, func() bool {
				return !strings.Contains(show("show", "crypto", "session"), "Assigned address")
			})
			if !strings.Contains(logs.String(), "released 198.19.5.10 to pool EZPOOL") {
				t.Error("vpdn did not log the release")
			}
			if err := stop(); err != nil {
				t.Errorf("vpdn serve exit: %v", err)
			}
			checkIKECapture(t, capture)
		})
	}
}

// swanEzServer is charon as an Easy VPN server: XAuth with
// xauth-generic, a pool of two addresses, aggressive mode with the group
// name as the client's identity.
func swanEzServer() string {
	return fmt.Sprintf(`connections {
  rw {
    version = 1
    aggressive = yes
    local_addrs = %[1]s
    remote_addrs = %[2]s
    proposals = aes256-sha1-modp2048
    pools = ez
    rekey_time = 0
    local { auth = psk
            id = %[1]s }
    remote-psk { auth = psk
                 id = keyid:VPNGROUP }
    remote-xauth { auth = xauth }
    children {
      net {
        local_ts = 198.19.2.0/24
        esp_proposals = aes256-sha1
        mode = tunnel
        rekey_time = 0
      }
    }
  }
}
pools {
  ez {
    addrs = 198.19.6.10-198.19.6.11
    dns = 198.19.2.53
  }
}
secrets {
  ike-group {
    secret = "groupkey"
  }
  xauth-alice {
    id = alice
    secret = "s3cret"
  }
}
`, peerAddr, vpdnAddr)
}

// TestEzVPNClientStrongSwanServer: proto/ike as an Easy VPN client
// (XAuth answered with configured credentials, mode-config asked for an
// address) of charon as the server; a wrong password is told by
// XAUTH_STATUS and ends the IKE SA.
func TestEzVPNClientStrongSwanServer(t *testing.T) {
	for _, tc := range []struct {
		name, pass string
		ok         bool
	}{{"xauth-ok", "s3cret", true}, {"wrong-password", "nope", false}} {
		t.Run(tc.name, func(t *testing.T) {
			lab, a, b, capture := newIKELab(t)
			c := startCharonPlugins(t, lab, b, swanEzServer(), "xauth-generic")
			v := startIKE(t, a, ike.Config{
				Policies:   []ike.Policy{{Priority: 10, Encryption: ike.CipherAES, KeyBits: 256, Hash: ike.HashSHA1, Group: ike.Group14}},
				Key:        func(netip.Addr, []byte) []byte { return []byte("groupkey") },
				Aggressive: true, GroupID: "VPNGROUP",
				XAuthCredentials:  func(netip.Addr) (string, string) { return "alice", tc.pass },
				RequestModeConfig: true,
			})
			pol := &ike.Phase2Policy{TransformSets: []ike.TransformSet{{ESP: isakmp.ESPAES, KeyBits: 256, Auth: isakmp.AuthAlgHMACSHA1}},
				Remote: ike.Selector{Prefix: peerNet}}
			if err := v.Initiate(netip.AddrPortFrom(peerAddr, 500), pol); err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				x := v.waitEvent(t, ike.EventXAuth, c)
				if x.Reason != "rejected" {
					t.Fatalf("XAuth with a wrong password: %+v", x)
				}
				if n := len(v.Phase1()); n != 0 {
					t.Errorf("%d phase-1 SAs left after the rejection", n)
				}
				if v.Stats().XAuthFailed != 1 {
					t.Errorf("stats %+v", v.Stats())
				}
				return
			}
			mc := v.waitEvent(t, ike.EventModeConfig, c)
			if mc.Config.Address != netip.MustParseAddr("198.19.6.10") || len(mc.Config.DNS) != 1 || mc.Config.DNS[0] != netip.MustParseAddr("198.19.2.53") {
				t.Fatalf("mode-config from strongSwan: %v", mc.Config)
			}
			up := v.waitEvent(t, ike.EventChildUp, c)
			if up.Child.Local.Prefix != netip.MustParsePrefix("198.19.6.10/32") || up.Child.Remote.Prefix != peerNet {
				t.Errorf("selectors %v -> %v", up.Child.Local, up.Child.Remote)
			}
			checkCharonSA(t, c, up.Child)
			if !strings.Contains(c.log(), "XAuth authentication of 'alice' successful") {
				t.Errorf("charon's log lacks the XAuth success:\n%s", c.log())
			}
			for _, want := range []string{"New State = IKE_XAUTH_REPLY_AWAIT", "New State = IKE_XAUTH_REPLY_SENT", "New State = IKE_CONFIG_MODE_REQ_SENT"} {
				if !strings.Contains(v.logs.String(), want) {
					t.Errorf("vpdn's log lacks %q", want)
				}
			}
			checkIKECapture(t, capture)
		})
	}
}
