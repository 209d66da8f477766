package interop

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
)

// TestIKEScanDaemon: ike-scan (NTA Monitor's IKEv1 scanner) against the
// whole daemon (TestIKEScan probes proto/ike alone): vpdn serve with a
// crypto map in one namespace, ike-scan in another. Main
// mode and aggressive mode probes with a transform vpdn's policy accepts
// (3DES, SHA-1, pre-shared key, group 2) return a handshake that ike-scan
// decodes (the chosen SA, DPD and NAT-T vendor IDs); probes with a
// transform it refuses (DES, MD5, group 1) return none, and vpdn answers
// NO-PROPOSAL-CHOSEN (RFC 2408 §3.14.1).

const ikeScanConf = `hostname vpdn
crypto isakmp policy 10
 encr 3des
 hash sha
 authentication pre-share
 group 2
crypto isakmp key scan-psk-1 address 198.18.0.2
no crypto isakmp aggressive-mode disable
crypto ipsec transform-set TS esp-aes 128 esp-sha-hmac
crypto map M 10 ipsec-isakmp
 set peer 198.18.0.2
 set transform-set TS
 match address NETS
ip access-list extended NETS
 permit ip 198.19.1.0 0.0.0.255 198.19.2.0 0.0.0.255
interface GigabitEthernet0/0
 ip address 198.18.0.1 255.255.255.0
 crypto map M
`

func TestIKEScanDaemon(t *testing.T) {
	path, err := exec.LookPath("ike-scan")
	if err != nil {
		if os.Getenv("VPDN_REQUIRE_PEERS") == "1" {
			t.Fatal("ike-scan not installed (.ci/peers-packages.txt lists it)")
		}
		t.Skip("ike-scan not installed: apt-get install ike-scan")
	}
	lab := nstest.New(t)
	a, b := lab.NS("vpdn"), lab.NS("scan")
	lab.Link(a, b, netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("198.18.0.2/24"))
	bin := nstest.GoBuild(t, "../cmd/vpdn")
	logs, sock, stop := vpdnServe(t, lab, a, bin, ikeScanConf)
	waitLine(t, "vpdn to answer", 15*time.Second, func() bool {
		out, _ := a.Run(10*time.Second, bin, "show", "version", "--socket", sock)
		return strings.Contains(string(out), "vpdn")
	})
	a.Run(10*time.Second, bin, "debug", "crypto", "isakmp", "--socket", sock)
	scan := func(args ...string) string {
		t.Helper()
		out, err := b.Run(30*time.Second, path, append([]string{"-M", "-N", "--retry=2", "--timeout=1000"}, append(args, "198.18.0.1")...)...)
		if err != nil {
			// ike-scan exits non-zero when no host answered with a handshake.
			t.Logf("ike-scan %v: %v", args, err)
		}
		return string(out)
	}
	accept, refuse := "--trans=5,2,1,2", "--trans=1,1,1,1"
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string
		avoid []string
	}{
		{"main mode, accepted", []string{accept},
			[]string{"Main Mode Handshake returned", "Enc=3DES", "Hash=SHA1", "Group=2:modp1024", "Auth=PSK", "Dead Peer Detection", "1 returned handshake"}, nil},
		{"main mode, refused", []string{refuse},
			[]string{"NO-PROPOSAL-CHOSEN", "0 returned handshake"}, []string{"Handshake returned"}},
		{"aggressive mode, accepted", []string{"-A", "--id=scanner@lab.example", accept},
			[]string{"Aggressive Mode Handshake returned", "Enc=3DES", "Hash=SHA1", "Group=2:modp1024", "KeyExchange(128 bytes)", "ID(Type=ID_IPV4_ADDR, Value=198.18.0.1)", "1 returned handshake"}, nil},
		{"aggressive mode, refused", []string{"-A", "--id=scanner@lab.example", refuse},
			[]string{"NO-PROPOSAL-CHOSEN", "0 returned handshake"}, []string{"Handshake returned"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			out := scan(tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("ike-scan output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.avoid {
				if strings.Contains(out, w) {
					t.Errorf("ike-scan output has %q:\n%s", w, out)
				}
			}
		})
	}
	if err := stop(); err != nil {
		t.Errorf("vpdn serve exit: %v", err)
	}
	if t.Failed() {
		t.Logf("vpdn log:\n%s", logs)
	}
}
