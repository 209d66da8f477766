// Package testpki makes the certificates tests use: RSA keys made once
// per test binary, a CA and the certificates it issues. Validity starts
// an hour before time.Now (inside a synctest bubble, its fake time).
// Tests only.
package testpki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// Organization is every subject's O: a subject renders as "CN=name,O=vpdn
// lab" (Go) or "O=vpdn lab, CN=name" (strongSwan).
const Organization = "vpdn lab"

var (
	mu   sync.Mutex
	keys []*rsa.PrivateKey
)

// Keys returns n 2048-bit RSA keys, the same ones to every caller of the
// binary (key i is always the same key).
func Keys(n int) []*rsa.PrivateKey {
	mu.Lock()
	defer mu.Unlock()
	for len(keys) < n {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys[:n:n]
}

func issue(tb testing.TB, tmpl, parent *x509.Certificate, pub *rsa.PublicKey, signer *rsa.PrivateKey) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func template(serial int64, cn string, life time.Duration) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{Organization}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(life)}
}

// CA is a self-signed CA certificate for key, valid for life.
func CA(tb testing.TB, serial int64, cn string, key *rsa.PrivateKey, life time.Duration) *x509.Certificate {
	tb.Helper()
	t := template(serial, cn, life)
	t.IsCA, t.BasicConstraintsValid = true, true
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return issue(tb, t, t, &key.PublicKey, key)
}

// Leaf is a router's certificate for pub, issued by ca (caKey): subject
// cn, and cn and addr (when valid) as subject alternative names.
func Leaf(tb testing.TB, serial int64, cn string, addr netip.Addr, pub *rsa.PublicKey, ca *x509.Certificate, caKey *rsa.PrivateKey, life time.Duration) *x509.Certificate {
	tb.Helper()
	t := template(serial, cn, life)
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.DNSNames = []string{cn}
	if addr.IsValid() {
		t.IPAddresses = append(t.IPAddresses, addr.AsSlice())
	}
	return issue(tb, t, ca, pub, caKey)
}

// KeyPEM is key as an unencrypted PKCS #1 PEM block.
func KeyPEM(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// CertPEM is c as a PEM block.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
