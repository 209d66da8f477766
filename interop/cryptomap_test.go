package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// A vpdn crypto map (vpdn serve: IKE, the crypto TUN and the data plane's
// ESP) against strongSwan's charon with kernel-libipsec, which carries ESP
// in user space too and only UDP-encapsulated: charon is told to force
// encapsulation (encap = yes, RFC 3947's NAT-D faked), so vpdn floats to
// port 4500 when it initiates and follows charon there when it responds.
// Pings cross in both roles, and a TCP transfer in one.

const swanCryptoMap = `hostname vpdn
crypto isakmp policy 10
 encr aes 256
 authentication pre-share
 group 14
crypto isakmp key %[1]s address 198.18.0.2
crypto isakmp keepalive 10
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto map SWAN 10 ipsec-isakmp
 set peer 198.18.0.2
 set transform-set TS
 match address TO_SWAN
ip access-list extended TO_SWAN
 permit ip 198.19.1.0 0.0.0.255 198.19.2.0 0.0.0.255
interface GigabitEthernet0/0
 ip address 198.18.0.1 255.255.255.0
 crypto map SWAN
`

// swanProfile puts the peer's key in a keyring, beside a decoy keyring
// whose key covers the peer's network with a shorter mask, and the
// peer in an isakmp profile that the map entry names (document 004's
// "Regular IPSec (Profile)").
var swanProfile = strings.NewReplacer(
	"crypto isakmp key %[1]s address 198.18.0.2\ncrypto isakmp keepalive 10\n", `crypto keyring DECOY
 pre-shared-key address 198.18.0.0 255.255.255.0 key wrongkey
crypto keyring SWAN-KEYS
 pre-shared-key address 198.18.0.2 key %[1]s
crypto isakmp profile SWAN-PROF
 keyring SWAN-KEYS
 match identity address 198.18.0.2 255.255.255.255
 keepalive 10 retry 2
`,
	" set transform-set TS\n", " set transform-set TS\n set isakmp-profile SWAN-PROF\n")

func swanCryptoConf() string {
	return fmt.Sprintf(`connections {
  vpdn {
    version = 1
    encap = yes
    local_addrs = %[1]s
    remote_addrs = %[2]s
    proposals = aes256-sha1-modp2048
    rekey_time = 0
    local { auth = psk
            id = %[1]s }
    remote { auth = psk
             id = %[2]s }
    children {
      net {
        local_ts = 198.19.2.0/24
        remote_ts = 198.19.1.0/24
        esp_proposals = aes256-sha1
        mode = tunnel
        rekey_time = 0
      }
    }
  }
}
secrets {
  ike-vpdn {
    id-a = %[1]s
    id-b = %[2]s
    secret = "%[3]s"
  }
}
`, peerAddr, vpdnAddr, ikePSK)
}

func TestCryptoMapStrongSwan(t *testing.T) {
	for _, name := range []string{"vpdn-initiator", "vpdn-responder", "vpdn-initiator-profile", "vpdn-responder-profile", "vpdn-initiator-rsasig", "vpdn-responder-rsasig"} {
		t.Run(name, func(t *testing.T) {
			role, profile := strings.CutSuffix(name, "-profile")
			role, rsaSig := strings.CutSuffix(role, "-rsasig")
			cfg, swanConf := swanCryptoMap, swanCryptoConf()
			if profile {
				cfg = swanProfile.Replace(cfg)
			}
			var l *rsaSigLab
			if rsaSig {
				// Certificates instead of the key: vpdn's trustpoint,
				// charon's pubkey authentication.
				l = newRSASigLab(t)
				cfg = l.vpdnConfig(t) + strings.Replace(cfg, " authentication pre-share\n", " authentication rsa-sig\n", 1)
				swanConf = l.swanCryptoConf(swanConf)
			}
			lab, a, b, capture := newIKELab(t)
			a.MustIP("addr", "add", "198.19.1.1/32", "dev", "lo")
			a.MustIP("link", "set", "lo", "up")
			b.MustIP("link", "set", "lo", "up")
			c := startCharon(t, lab, b, swanConf)
			if rsaSig {
				l.loadCreds(t, c)
			}
			// install_routes = no: route vpdn's network into charon's
			// TUN ourselves, from its own traffic selector.
			for i := 0; ; i++ {
				if out, err := b.IP("route", "replace", "198.19.1.0/24", "dev", "ipsec0", "src", "198.19.2.1"); err == nil {
					break
				} else if i == 50 {
					t.Fatalf("route into ipsec0: %v %s\n%s", err, out, c.log())
				}
				time.Sleep(100 * time.Millisecond)
			}
			bin := nstest.GoBuild(t, "../cmd/vpdn")
			logs, sock, stop := vpdnServe(t, lab, a, bin, fmt.Sprintf(cfg, ikePSK))
			show := func(words ...string) string {
				out, _ := a.Run(10*time.Second, bin, append(words, "--socket", sock)...)
				return string(out)
			}
			waitLine(t, "vpdn to answer", 15*time.Second, func() bool { return strings.Contains(show("show", "version"), "vpdn") })
			// Each switch confirmed on: the output was ignored before, and
			// under load the test has ended with debug crypto ipsec lines
			// but no ISAKMP ones, as if that command had not run.
			for _, sw := range []string{"isakmp", "ipsec"} {
				waitLine(t, "debug crypto "+sw+" on", 15*time.Second, func() bool {
					return strings.Contains(show("debug", "crypto", sw), "debugging is on")
				})
			}
			if role == "vpdn-initiator" {
				// The first packet starts IKE (and is lost).
				a.Run(5*time.Second, "ping", "-c", "1", "-W", "1", "-I", "198.19.1.1", "198.19.2.1")
			} else {
				c.swanctl(t, "--initiate", "--child", "net", "--timeout", "20")
			}
			waitLine(t, "an IPsec SA in vpdn", 30*time.Second, func() bool {
				return strings.Contains(show("show", "crypto", "ipsec", "sa"), "current outbound spi")
			})
			if out, err := a.Run(20*time.Second, "ping", "-c", "4", "-i", "0.3", "-W", "2", "-I", "198.19.1.1", "198.19.2.1"); err != nil {
				t.Fatalf("ping from vpdn's network: %v\n%s\ncharon:\n%s", err, out, c.log())
			}
			if out, err := b.Run(20*time.Second, "ping", "-c", "4", "-i", "0.3", "-W", "2", "-I", "198.19.2.1", "198.19.1.1"); err != nil {
				t.Fatalf("ping from strongSwan's network: %v\n%s", err, out)
			}
			sa := show("show", "crypto", "ipsec", "sa")
			for _, want := range []string{"in use settings ={Tunnel UDP-Encaps, }", "current_peer 198.18.0.2 port 4500", "esp-256-aes esp-sha-hmac"} {
				if !strings.Contains(sa, want) {
					t.Errorf("show crypto ipsec sa lacks %q:\n%s", want, sa)
				}
			}
			if strings.Contains(sa, "#pkts decaps: 0") || strings.Contains(sa, "#pkts encaps: 0") {
				t.Errorf("counters did not move:\n%s", sa)
			}
			if !strings.Contains(show("show", "crypto", "isakmp", "sa"), "QM_IDLE") {
				t.Error("no QM_IDLE phase-1 SA")
			}
			if d := show("show", "crypto", "isakmp", "sa", "detail"); profile && !strings.Contains(d, "Profile: SWAN-PROF") {
				t.Errorf("show crypto isakmp sa detail lacks the profile:\n%s", d)
			} else if rsaSig && !strings.Contains(d, " rsig ") {
				t.Errorf("show crypto isakmp sa detail lacks rsig:\n%s", d)
			}
			if rsaSig {
				if certs := show("show", "crypto", "pki", "certificates"); !strings.Contains(certs, "Associated Trustpoints: TP") || !strings.Contains(certs, "cn=vpdn.lab") {
					t.Errorf("show crypto pki certificates:\n%s", certs)
				}
			}
			if list := c.swanctl(t, "--list-sas"); !strings.Contains(list, "INSTALLED") {
				t.Errorf("strongSwan's SAs:\n%s", list)
			}
			if !strings.Contains(logs.String(), "ISAKMP:(") {
				t.Error("no debug crypto isakmp lines in vpdn's log")
			}
			if role == "vpdn-initiator" && !strings.Contains(logs.String(), "floating to port 4500") {
				t.Error("vpdn did not float to port 4500")
			}
			if err := stop(); err != nil {
				t.Errorf("vpdn serve exit: %v", err)
			}
			if capture != nil {
				capture.Stop()
				bad, err := nstest.Problems(capture.Path)
				if err != nil || len(bad) > 0 {
					t.Errorf("tshark: %v %v", err, bad)
				}
				if dir := os.Getenv("VPDN_KEEP_PCAP"); dir != "" {
					b, _ := os.ReadFile(capture.Path)
					os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pcap"), b, 0o644)
				}
			}
		})
	}
}
