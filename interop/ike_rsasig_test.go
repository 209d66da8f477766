package interop

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/testpki"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// rsaSigLab is a CA and the certificates it issued to vpdn and to
// strongSwan, written where charon reads them: x509ca/ and private/
// under dir (swanctl --load-creds with SWANCTL_DIR), the peer's
// certificate by absolute path from swanctl.conf; vpdn's key beside
// them.
type rsaSigLab struct {
	dir        string
	ca         *x509.Certificate
	vpdn, swan *x509.Certificate
	vpdnKey    *rsa.PrivateKey
}

func newRSASigLab(t *testing.T) *rsaSigLab {
	t.Helper()
	ks := testpki.Keys(3)
	l := &rsaSigLab{dir: t.TempDir(), vpdnKey: ks[1]}
	l.ca = testpki.CA(t, 1, "vpdn interop CA", ks[0], 24*time.Hour)
	l.vpdn = testpki.Leaf(t, 10, "vpdn.lab", vpdnAddr, &ks[1].PublicKey, l.ca, ks[0], 24*time.Hour)
	l.swan = testpki.Leaf(t, 11, "swan.lab", peerAddr, &ks[2].PublicKey, l.ca, ks[0], 24*time.Hour)
	for path, b := range map[string][]byte{"x509ca/ca.pem": testpki.CertPEM(l.ca), "swan.pem": testpki.CertPEM(l.swan),
		"private/swan.pem": testpki.KeyPEM(ks[2]), "vpdn-key.pem": testpki.KeyPEM(ks[1])} {
		p := filepath.Join(l.dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// conf is charon's connection: IKEv1 main (or aggressive) mode with
// pubkey authentication both ways; it expects vpdn's certificate subject
// as identity, or with byAddress vpdn's address (in the certificate's
// alternative names).
func (l *rsaSigLab) conf(aggressive, byAddress bool) string {
	remoteID := `"O=vpdn lab, CN=vpdn.lab"`
	if byAddress {
		remoteID = vpdnAddr.String()
	}
	return fmt.Sprintf(`connections {
  vpdn {
    version = 1
    aggressive = %[7]v
    local_addrs = %[1]s
    remote_addrs = %[2]s
    proposals = aes256-sha256-modp2048
    rekey_time = 0
    local { auth = pubkey
            certs = %[3]s }
    remote { auth = pubkey
             id = %[8]s
             cacerts = %[4]s }
    children {
      net {
        local_ts = %[5]s
        remote_ts = %[6]s
        esp_proposals = aes256-sha1
        mode = tunnel
        rekey_time = 0
      }
    }
  }
}
`, peerAddr, vpdnAddr, filepath.Join(l.dir, "swan.pem"), filepath.Join(l.dir, "x509ca/ca.pem"), peerNet, vpdnNet, aggressive, remoteID)
}

// vpdnConfig is vpdn's trustpoint TP: the CA, vpdn's certificate and
// its key (in a file), in IOS's running-config form.
func (l *rsaSigLab) vpdnConfig(t *testing.T) string {
	t.Helper()
	key := filepath.Join(l.dir, "vpdn-key.pem")
	var b strings.Builder
	fmt.Fprintf(&b, "crypto isakmp identity dn\ncrypto key import rsa VPDN pem url file:%s\ncrypto pki trustpoint TP\n enrollment terminal\n revocation-check none\ncrypto pki certificate chain TP\n", key)
	for _, c := range []*x509.Certificate{l.vpdn, l.ca} {
		if c.IsCA {
			fmt.Fprintf(&b, " certificate ca %X\n", c.SerialNumber)
		} else {
			fmt.Fprintf(&b, " certificate %X\n", c.SerialNumber)
		}
		// The DER in hex, 32 octets a line (vpdn reads any grouping).
		for h := hex.EncodeToString(c.Raw); h != ""; {
			n := min(len(h), 64)
			fmt.Fprintf(&b, "  %s\n", h[:n])
			h = h[n:]
		}
		b.WriteString("  \tquit\n")
	}
	return b.String()
}

// swanCryptoConf turns charon's pre-shared-key connection conf into
// pubkey authentication with these certificates.
func (l *rsaSigLab) swanCryptoConf(conf string) string {
	return strings.NewReplacer(
		fmt.Sprintf("local { auth = psk\n            id = %s }", peerAddr),
		fmt.Sprintf("local { auth = pubkey\n            certs = %s }", filepath.Join(l.dir, "swan.pem")),
		fmt.Sprintf("remote { auth = psk\n             id = %s }", vpdnAddr),
		fmt.Sprintf("remote { auth = pubkey\n             id = \"O=vpdn lab, CN=vpdn.lab\"\n             cacerts = %s }", filepath.Join(l.dir, "x509ca/ca.pem")),
	).Replace(conf)
}

// loadCreds loads the CA and charon's private key.
func (l *rsaSigLab) loadCreds(t *testing.T, c *charon) {
	t.Helper()
	if out, err := c.ns.Run(30*time.Second, "env", "SWANCTL_DIR="+l.dir, "swanctl", "--load-creds", "--noprompt", "--uri", c.uri); err != nil {
		t.Fatalf("swanctl --load-creds: %v\n%s", err, out)
	}
}

func (l *rsaSigLab) ikeConfig() ike.Config {
	return ike.Config{
		Policies: []ike.Policy{{Priority: 10, Encryption: ike.CipherAES, KeyBits: 256, Hash: ike.HashSHA256, Group: ike.Group14, RSASig: true}},
		Cert:     &ike.Certs{Chain: []*x509.Certificate{l.vpdn}, Key: l.vpdnKey, Roots: []*x509.Certificate{l.ca}},
		Key:      func(netip.Addr, []byte) []byte { return nil },
	}
}

var rsaSigSuite = ikeSuite{ts: ike.TransformSet{ESP: isakmp.ESPAES, KeyBits: 256, Auth: isakmp.AuthAlgHMACSHA1}}

// TestIKEv1StrongSwanRSASig: main and aggressive mode with RSA
// signatures and X.509 certificates against charon (x509, pem, pkcs1
// plugins), vpdn as initiator and as responder: each side checks the
// other's certificate against the CA and its identity (the subject DN),
// quick mode follows, and both hold the same child SA.
func TestIKEv1StrongSwanRSASig(t *testing.T) {
	for _, name := range []string{"vpdn-initiator", "vpdn-responder", "vpdn-initiator-aggressive", "vpdn-responder-aggressive", "vpdn-initiator-address", "vpdn-responder-address"} {
		t.Run(name, func(t *testing.T) {
			role, aggressive := strings.CutSuffix(name, "-aggressive")
			role, byAddress := strings.CutSuffix(role, "-address")
			vpdnInitiates := role == "vpdn-initiator"
			l := newRSASigLab(t)
			lab, a, b, capture := newIKELab(t)
			c := startCharon(t, lab, b, l.conf(aggressive, byAddress))
			l.loadCreds(t, c)
			cfg := l.ikeConfig()
			cfg.Aggressive, cfg.AcceptAggressive = aggressive, aggressive
			// IOS's default identity: the address (crypto isakmp
			// identity address).
			cfg.Cert.SendAddress = byAddress
			cfg.Phase2 = func(_ netip.AddrPort, _ string, lo, r ike.Selector) *ike.Phase2Policy {
				if lo.Prefix != vpdnNet || r.Prefix != peerNet {
					return nil
				}
				return rsaSigSuite.phase2(vpdnNet, peerNet)
			}
			v := startIKE(t, a, cfg)
			if vpdnInitiates {
				if err := v.Initiate(netip.AddrPortFrom(peerAddr, 500), rsaSigSuite.phase2(vpdnNet, peerNet)); err != nil {
					t.Fatal(err)
				}
			} else {
				c.swanctl(t, "--initiate", "--child", "net", "--timeout", "20")
			}
			e := v.waitEvent(t, ike.EventChildUp, c)
			checkCharonSA(t, c, e.Child)
			st := v.Phase1()
			if len(st) != 1 || !st[0].Policy.RSASig || st[0].PeerCert == nil || !st[0].PeerCert.Equal(l.swan) {
				t.Errorf("phase 1: %+v", st)
			}
			if want := "CN=swan.lab,O=vpdn lab"; len(st) == 1 && st[0].ID != want {
				t.Errorf("peer identity %q, want %q", st[0].ID, want)
			}
			if want := map[bool]string{false: "remote-id=O=vpdn lab, CN=vpdn.lab", true: "remote-id=" + vpdnAddr.String()}[byAddress]; !strings.Contains(c.swanctl(t, "--list-sas", "--raw"), want) {
				out := c.swanctl(t, "--list-sas", "--raw")
				t.Errorf("strongSwan's view of vpdn's identity:\n%s", out)
			}
			// (As responder in aggressive mode vpdn's message 2, with KE,
			// certificate and signature, goes in IP fragments, which the
			// capture's port filter does not keep: the initiator's first
			// message is what is checked.)
			ex := checkIKECapture(t, capture)
			if want := map[bool]string{false: "2", true: "4"}[aggressive]; vpdnInitiates && (len(ex) == 0 || ex[0] != want) {
				t.Errorf("vpdn sent exchanges %v, want %s first", ex, want)
			}
		})
	}
}
