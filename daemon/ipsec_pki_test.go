package daemon

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/internal/testpki"
	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport/memnet"
)

// routerPKI is the configuration of a router's trustpoint TP: the CA,
// the router's certificate (serial, cn, and cn and addr as alternative
// names) and its key in a file.
func routerPKI(t testing.TB, ca *x509.Certificate, caKey *rsa.PrivateKey, key *rsa.PrivateKey, serial int64, cn string, addr netip.Addr) string {
	t.Helper()
	leaf := testpki.Leaf(t, serial, cn, addr, &key.PublicKey, ca, caKey, 365*24*time.Hour)
	path := filepath.Join(t.TempDir(), "router.pem")
	if err := os.WriteFile(path, testpki.KeyPEM(key), 0o600); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "crypto key import rsa ROUTER pem url file:%s\ncrypto pki trustpoint TP\n enrollment terminal\n revocation-check none\n!\ncrypto pki certificate chain TP\n", path)
	for _, c := range []struct {
		head string
		der  []byte
	}{{fmt.Sprintf("certificate %X", leaf.SerialNumber), leaf.Raw}, {fmt.Sprintf("certificate ca %X", ca.SerialNumber), ca.Raw}} {
		fmt.Fprintf(&b, " %s\n", c.head)
		for _, l := range config.CertificateHexLines(c.der) {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		b.WriteString("  \tquit\n")
	}
	return b.String() + "!\n"
}

// TestInMemoryCryptoMapRSASig: document 004's hub and first spoke with
// authentication rsa-sig: certificates from one CA instead of keys. The
// SAs come up and packets cross; show crypto isakmp sa detail says rsig;
// show crypto pki certificates and trustpoints list the chain. A spoke
// whose certificate another CA issued gets no SA.
func TestInMemoryCryptoMapRSASig(t *testing.T) {
	for _, wrongCA := range []bool{false, true} {
		t.Run(map[bool]string{false: "same-ca", true: "other-ca"}[wrongCA], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ks := testpki.Keys(4)
				ca := testpki.CA(t, 1, "vpdn-lab-ca", ks[0], 365*24*time.Hour)
				other := testpki.CA(t, 2, "other-ca", ks[1], 365*24*time.Hour)
				spokeCA, spokeCAKey := ca, ks[0]
				if wrongCA {
					spokeCA, spokeCAKey = other, ks[1]
				}
				rsaSig := []string{"authentication pre-share", "authentication rsa-sig"}
				nw := memnet.New(15)
				// The hub names itself by its certificate's subject
				// (crypto isakmp identity dn), the spoke by its address
				// (IOS's default), which its certificate holds.
				hub := newMemDaemon(t, nw, routerPKI(t, ca, ks[0], ks[2], 0x1001, "hub.vpdn.lab", netip.Addr{})+"crypto isakmp identity dn\n"+doc004(t, "004-crypto-map-hub-two-spokes", rsaSig...))
				sp1 := newMemDaemon(t, nw, routerPKI(t, spokeCA, spokeCAKey, ks[3], 0x1002, "spoke1.vpdn.lab", netip.MustParseAddr("198.18.1.2"))+doc004(t, "004-crypto-map-spoke1", rsaSig...))
				h, s1 := hub.host.Device("crypto0"), sp1.host.Device("crypto0")
				if wrongCA {
					p1 := udpPacket("198.19.0.1", "198.19.1.1", 64)
					for range 30 {
						inject(h, p1)
						time.Sleep(time.Second)
					}
					synctest.Wait()
					if strings.Contains(hub.show(t, "crypto isakmp sa", false).Text, "QM_IDLE") || outbound(s1) != nil {
						t.Fatalf("an SA with a spoke of another CA:\n%s", hub.show(t, "crypto isakmp sa", false).Text)
					}
					// The spoke (the responder) refused the hub's certificate
					// and counted it.
					if text := metricsText(t, sp1.d); !regexp.MustCompile(`vpdn_ike_drops_total\{reason="cert-untrusted"\} [1-9]`).MatchString(text) {
						t.Errorf("no cert-untrusted drop:\n%s", text)
					}
					return
				}
				hubToSpoke1(t, hub, h, s1)
				detail := hub.show(t, "crypto isakmp sa detail", false).Text
				if !strings.Contains(detail, "ACTIVE 3des md5    rsig 5 ") {
					t.Errorf("show crypto isakmp sa detail:\n%s", detail)
				}
				certs := hub.show(t, "crypto pki certificates", false).Text
				for _, want := range []string{"Certificate\n  Status: Available\n  Certificate Serial Number (hex): 1001", "CA Certificate\n  Status: Available\n  Certificate Serial Number (hex): 1",
					"    cn=hub.vpdn.lab\n    o=vpdn lab", "  Issuer: \n    cn=vpdn-lab-ca", "    start date: ", "  Associated Trustpoints: TP "} {
					if !strings.Contains(certs, want) {
						t.Errorf("show crypto pki certificates lacks %q:\n%s", want, certs)
					}
				}
				tps := hub.show(t, "crypto pki trustpoints", false).Text
				for _, want := range []string{"Trustpoint TP:", "cn=vpdn-lab-ca", "Serial Number (hex): 1", "Certificate configured."} {
					if !strings.Contains(tps, want) {
						t.Errorf("show crypto pki trustpoints lacks %q:\n%s", want, tps)
					}
				}
			})
		})
	}
}

// TestProfileTrustpointRoots: an isakmp profile's ca trust-point gives
// the engine's profile that trustpoint's CA (and a profile without one
// none: every trustpoint's CAs then), and show crypto isakmp profile
// names it.
func TestProfileTrustpointRoots(t *testing.T) {
	ks := testpki.Keys(3)
	ca := testpki.CA(t, 1, "vpdn-lab-ca", ks[0], 24*time.Hour)
	text := routerPKI(t, ca, ks[0], ks[2], 0x1001, "hub.vpdn.lab", netip.Addr{}) +
		"crypto isakmp profile CERTS\n ca trust-point TP\n match identity address 198.18.1.2 255.255.255.255\n" +
		"crypto isakmp profile ANY\n match identity address 198.18.1.3 255.255.255.255\n"
	res, err := config.Parse("tp.cfg", text)
	if err != nil {
		t.Fatal(err)
	}
	cr := res.Config.Crypto
	if p := ikeProfile(cr, cr.ISAKMPProfileByName("CERTS")); len(p.Roots) != 1 || !p.Roots[0].Equal(ca) {
		t.Fatalf("CERTS: roots %v", p.Roots)
	}
	if p := ikeProfile(cr, cr.ISAKMPProfileByName("ANY")); p.Roots != nil {
		t.Fatalf("ANY: roots %v", p.Roots)
	}
	ps, err := isakmpProfiles(res.Config, nil)
	if err != nil || len(ps) != 2 {
		t.Fatalf("%v %+v", err, ps)
	}
	var b strings.Builder
	show.WriteISAKMPProfiles(&b, ps)
	if !strings.Contains(b.String(), "trustpoint(s): TP\n") || !strings.Contains(b.String(), "trustpoint(s): <all>\n") {
		t.Errorf("show crypto isakmp profile:\n%s", b.String())
	}
}
