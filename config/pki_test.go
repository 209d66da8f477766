package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/testpki"
)

// testChain is a CA (testpki key 0), a router certificate it issued
// (key 1) and the router's key written to a file (and key 2 to another).
type testChain struct {
	ca, leaf *x509.Certificate
	keyFile  string // key 1, PKCS #1
	other    string // key 2
}

func newTestChain(t *testing.T) *testChain {
	t.Helper()
	ks := testpki.Keys(3)
	c := &testChain{ca: testpki.CA(t, 1, "vpdn-ca", ks[0], 24*time.Hour)}
	c.leaf = testpki.Leaf(t, 0x1a2b, "vpdn.example", netip.Addr{}, &ks[1].PublicKey, c.ca, ks[0], 24*time.Hour)
	dir := t.TempDir()
	c.keyFile = filepath.Join(dir, "router.pem")
	c.other = filepath.Join(dir, "other.pem")
	for f, k := range map[string]*rsa.PrivateKey{c.keyFile: ks[1], c.other: ks[2]} {
		if err := os.WriteFile(f, testpki.KeyPEM(k), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// hexLines is a DER as IOS writes it in a certificate chain.
func hexLines(der []byte) string {
	var b strings.Builder
	for _, l := range CertificateHexLines(der) {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}

// text is a configuration with the chain: lines 1-2 the key import and
// trustpoint, the chain from line 7.
func (c *testChain) text() string {
	return "crypto key import rsa ROUTER pem url file:" + c.keyFile + "\n" +
		"crypto pki trustpoint TP\n enrollment terminal\n subject-name CN=vpdn.example\n revocation-check none\n" +
		"!\ncrypto pki certificate chain TP\n" +
		" certificate 1A2B\n" + hexLines(c.leaf.Raw) + "  \tquit\n" +
		" certificate ca 01\n" + hexLines(c.ca.Raw) + "  \tquit\n" +
		"crypto isakmp policy 10\n encryption aes 256\n hash sha256\n authentication rsa-sig\n group 14\ncrypto isakmp identity dn\n"
}

func TestPKIConfig(t *testing.T) {
	c := newTestChain(t)
	res, err := Parse("pki.cfg", c.text())
	if err != nil {
		t.Fatal(err)
	}
	cr := res.Config.Crypto
	tp := cr.TrustpointByName("TP")
	if tp == nil || len(tp.Certificates) != 2 || tp.Enrollment != "terminal" || tp.Revocation != "none" {
		t.Fatalf("trustpoint %+v", tp)
	}
	pki, err := cr.PKI()
	if err != nil {
		t.Fatal(err)
	}
	if pki.Trustpoint != "TP" || len(pki.Chain) != 1 || !pki.Chain[0].Equal(c.leaf) || len(pki.Roots) != 1 || !pki.Roots[0].Equal(c.ca) || pki.Key == nil {
		t.Fatalf("pki %+v", pki)
	}
	if cr.Policies[0].Auth != "rsa-sig" || cr.Identity != "dn" {
		t.Fatalf("auth %q", cr.Policies[0].Auth)
	}
	// What vpdn prints parses to the same.
	out := res.Config.String()
	res2, err := Parse("printed", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res2.Config.String() != out {
		t.Fatalf("printed twice differs:\n%s\n---\n%s", out, res2.Config.String())
	}
	// An isakmp profile's ca trust-point.
	res3, err := Parse("profile.cfg", c.text()+"crypto isakmp profile P\n ca trust-point TP\n match identity address 198.18.0.2\n")
	if err != nil {
		t.Fatal(err)
	}
	pr := res3.Config.Crypto.ISAKMPProfileByName("P")
	if len(pr.TrustPoints) != 1 || len(res3.Config.Crypto.TrustpointCAs(pr.TrustPoints)) != 1 || !strings.Contains(res3.Config.String(), " ca trust-point TP\n") {
		t.Fatalf("profile %+v", pr)
	}
	// No authentication line: IOS's default, rsa-sig, is accepted now.
	if _, err := Parse("default.cfg", strings.Replace(c.text(), " authentication rsa-sig\n", "", 1)); err != nil {
		t.Fatal(err)
	}
}

func TestPKIConfigBroken(t *testing.T) {
	c := newTestChain(t)
	ok := c.text()
	leafHex := hexLines(c.leaf.Raw)
	firstHex := strings.SplitN(leafHex, "\n", 2)[0] + "\n"
	for _, tc := range []struct {
		name, text string
		line       int
		want       []string
	}{
		{"bad hex", strings.Replace(ok, firstHex, "  3082ZZ\n", 1), 9, []string{"certificate 1A2B", "not hex"}},
		{"not a certificate", strings.Replace(ok, leafHex, "  30820102 0304\n", 1), 8, []string{"certificate 1A2B does not parse", "X.509"}},
		{"serial", strings.Replace(ok, " certificate 1A2B\n", " certificate 1A2C\n", 1), 8, []string{"serial number 1A2B", "expected certificate 1A2B"}},
		{"key mismatch", strings.Replace(ok, c.keyFile, c.other, 1), 8, []string{"does not match the key of ROUTER"}},
		{"no key", strings.SplitN(ok, "\n", 2)[1], 7, []string{"has no key", "crypto key import rsa"}},
		{"no CA", strings.Replace(ok, " certificate ca 01\n"+hexLines(c.ca.Raw)+"  \tquit\n", "", 1), 2, []string{"no CA certificate", "certificate ca SERIAL"}},
		{"ca not a CA", strings.Replace(ok, " certificate 1A2B\n", " certificate ca 1A2B\n", 1), 8, []string{"not a CA certificate"}},
		{"rsakeypair", strings.Replace(ok, " revocation-check none\n", " revocation-check none\n rsakeypair NOPE\n", 1), 9, []string{"rsakeypair NOPE: no such key"}},
		{"relative url", strings.Replace(ok, "file:"+c.keyFile, "file:router.pem", 1), 1, []string{"expected file:/absolute/path"}},
		{"missing file", strings.Replace(ok, c.keyFile, c.keyFile+".none", 1), 8, []string{"no such file"}},
		{"enrollment url", strings.Replace(ok, " enrollment terminal\n", " enrollment url http://198.18.0.9\n", 1), 3, []string{"not supported yet", "enrollment terminal"}},
		{"revocation crl", strings.Replace(ok, " revocation-check none\n", " revocation-check crl\n", 1), 5, []string{"not supported yet", "revocation-check none"}},
		{"chain without trustpoint", strings.Replace(ok, "certificate chain TP", "certificate chain TQ", 1), 7, []string{"no such trustpoint"}},
		{"rsa-sig without certificate", "crypto pki trustpoint TP\ncrypto isakmp policy 1\n authentication rsa-sig\n", 2, []string{"no trustpoint has one"}},
		{"self-signed", strings.Replace(ok, " certificate 1A2B\n", " certificate self-signed 01\n", 1), 8, []string{"not supported yet"}},
		{"other pki", "crypto pki server CS\n", 1, []string{"not supported yet", "crypto pki trustpoint"}},
		{"rsa-encr", "crypto isakmp policy 1\n authentication rsa-encr\n", 2, []string{"not supported yet"}},
		{"identity hostname", "crypto isakmp identity hostname\n", 1, []string{"not supported yet", "address or dn"}},
		{"profile trustpoint", ok + "crypto isakmp profile P\n ca trust-point NOPE\n match identity address 198.18.0.2\n", strings.Count(ok, "\n") + 1, []string{"ca trust-point NOPE: no such trustpoint", "expected one of: TP"}},
	} {
		t.Run(tc.name, func(t *testing.T) { firstError(t, "pki.cfg", tc.text, tc.line, tc.want...) })
	}
}

func TestPKIEncryptedKey(t *testing.T) {
	c := newTestChain(t)
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
	if err := os.WriteFile(c.keyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	firstError(t, "pki.cfg", c.text(), 8, "encrypted keys (passphrase) are not supported yet")
}
