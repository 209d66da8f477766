package ike

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// Certs is what RSA-signature authentication (RFC 2409 §5.1) needs: our
// certificate and key, and the CAs we trust (IOS's trustpoint).
type Certs struct {
	// Chain is our certificate first, then any intermediates to send
	// with it (not the root).
	Chain []*x509.Certificate
	// Key is Chain[0]'s private key; RSA.
	Key crypto.Signer
	// Roots are the trusted CAs: a peer's certificate must chain to one
	// of them (no system roots, nothing fetched).
	Roots []*x509.Certificate
	// SendAddress makes our identity under rsa-sig our address
	// (ID_IPV4_ADDR, IOS's `crypto isakmp identity address`, its
	// default) rather than Chain[0]'s subject (ID_DER_ASN1_DN, `crypto
	// isakmp identity dn`). The peer then needs the address among the
	// certificate's subject alternative names.
	SendAddress bool
}

// Bounds on what a peer's CERT payloads may make us parse and verify.
const (
	// maxCerts is the most CERT payloads a message may carry (the
	// peer's certificate and its intermediates).
	maxCerts = 4
	// maxCertLen bounds one certificate's DER.
	maxCertLen = 8192
	// maxRSABits bounds the peer's key, which sets the cost of checking
	// its signature.
	maxRSABits = 8192
	// certX509Sig is the CERT and CR encoding "X.509 Certificate -
	// Signature" (RFC 2408 §3.9).
	certX509Sig = 4
)

func (c *Certs) validate() error {
	if len(c.Chain) == 0 || c.Key == nil {
		return errors.New("ike: certificates without our certificate or key")
	}
	if len(c.Roots) == 0 {
		return errors.New("ike: certificates without a trusted CA")
	}
	pub, ok := c.Key.Public().(*rsa.PublicKey)
	if !ok {
		return errors.New("ike: the certificate key is not RSA")
	}
	if !pub.Equal(c.Chain[0].PublicKey) {
		return errors.New("ike: the key does not match the certificate")
	}
	return nil
}

// sigID is our identity under rsa-sig: our address, or our
// certificate's subject (ID_DER_ASN1_DN).
func (n *Node) sigID() []byte {
	if n.cfg.Cert.SendAddress {
		return isakmp.AppendID(nil, isakmp.IDAddr(n.cfg.Local.Addr(), 17, 500))
	}
	return isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDDERASN1DN, Data: n.cfg.Cert.Chain[0].RawSubject})
}

// roots are the CAs the peer's certificate must chain to: the SA's
// profile's, else every trusted one.
func (p *p1) roots() []*x509.Certificate {
	if p.prof.Roots != nil {
		return p.prof.Roots
	}
	return p.n.cfg.Cert.Roots
}

// appendCRs adds a certificate request naming each CA we trust for the
// peer (RFC 2408 §3.10: the encoding, then the CA's distinguished name).
func (p *p1) appendCRs(e *isakmp.Encoder) {
	for _, r := range p.roots() {
		e.Raw(isakmp.PayloadCR, append([]byte{certX509Sig}, r.RawSubject...))
	}
}

// appendSigAuth adds MM5's or MM6's proof after the ID payload: our
// certificates (RFC 2408 §3.9) and SIG, the private key's PKCS#1 v1.5
// signature of HASH_I or HASH_R. IKEv1 signs the hash itself, without
// the DigestInfo of RFC 8017 §9.2 (strongSwan's SIGN_RSA_EMSA_PKCS1_NULL,
// what Cisco and libreswan do too).
func (p *p1) appendSigAuth(e *isakmp.Encoder, hash []byte) error {
	c := p.n.cfg.Cert
	for _, x := range c.Chain {
		e.Raw(isakmp.PayloadCert, append([]byte{certX509Sig}, x.Raw...))
	}
	sig, err := c.Key.Sign(p.n.cfg.Rand, hash, crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	e.Raw(isakmp.PayloadSig, sig)
	return nil
}

// verifySig checks the peer's MM5 or MM6 under rsa-sig: its certificate
// chains to one of our CAs and is valid now, it names the identity of
// the ID payload, and SIG is its key's signature of hash. A failure
// carries the notification RFC 2408 §3.14.1 has for it and is counted.
func (p *p1) verifySig(ps *payloads, id, hash []byte) error {
	st := &p.n.stats
	fail := func(t isakmp.NotifyType, ctr *uint64, format string, args ...any) error {
		*ctr++
		st.AuthFailed++
		return &notifyError{t, fmt.Errorf(format, args...)}
	}
	if ps.sig == nil {
		return fail(isakmp.NotifyAuthenticationFailed, &st.SigInvalid, "no SIG payload")
	}
	if len(ps.certs) == 0 {
		// No lookup of the peer's certificate anywhere: it sends it.
		return fail(isakmp.NotifyCertificateUnavailable, &st.CertMissing, "no certificate")
	}
	var certs []*x509.Certificate
	for _, b := range ps.certs {
		if b[0] != certX509Sig {
			return fail(isakmp.NotifyCertTypeUnsupported, &st.CertEncoding, "certificate encoding %d", b[0])
		}
		c, err := x509.ParseCertificate(b[1:])
		if err != nil {
			return fail(isakmp.NotifyInvalidCertEncoding, &st.CertEncoding, "certificate: %v", err)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range p.roots() {
		roots.AddCert(r)
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: p.n.cfg.Clock.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	switch {
	case err == nil:
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return fail(isakmp.NotifyInvalidCertificate, &st.CertExpired, "certificate %s: %v", dnString(leaf.RawSubject), err)
	case errors.As(err, &unk):
		return fail(isakmp.NotifyInvalidCertAuthority, &st.CertUntrusted, "certificate %s: %v", dnString(leaf.RawSubject), err)
	default:
		return fail(isakmp.NotifyInvalidCertificate, &st.CertInvalid, "certificate %s: %v", dnString(leaf.RawSubject), err)
	}
	if err := certNames(leaf, id); err != nil {
		return fail(isakmp.NotifyInvalidIDInformation, &st.CertIDMismatch, "%v", err)
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok || pub.N.BitLen() > maxRSABits {
		return fail(isakmp.NotifyInvalidCertificate, &st.CertInvalid, "certificate %s: not an RSA key of at most %d bits", dnString(leaf.RawSubject), maxRSABits)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), hash, ps.sig); err != nil {
		return fail(isakmp.NotifyInvalidSignature, &st.SigInvalid, "signature of %s does not verify", dnString(leaf.RawSubject))
	}
	p.peerCert = leaf
	p.debugf("SA authentication status: authenticated")
	return nil
}

// certNames checks that the certificate names the identity of an ID
// payload body: a DN is its subject, an address, FQDN or user FQDN one
// of its subject alternative names.
func certNames(c *x509.Certificate, idBody []byte) error {
	id, err := isakmp.ParseID(idBody)
	if err != nil {
		return err
	}
	ok := false
	switch id.Type {
	case isakmp.IDDERASN1DN:
		ok = bytes.Equal(id.Data, c.RawSubject)
	case isakmp.IDIPv4Addr, isakmp.IDIPv6Addr:
		a, _ := netip.AddrFromSlice(id.Data)
		for _, ip := range c.IPAddresses {
			b, _ := netip.AddrFromSlice(ip)
			ok = ok || b.Unmap() == a.Unmap()
		}
	case isakmp.IDFQDN:
		ok = slices.ContainsFunc(c.DNSNames, func(n string) bool { return bytes.EqualFold([]byte(n), id.Data) })
	case isakmp.IDUserFQDN:
		ok = slices.ContainsFunc(c.EmailAddresses, func(n string) bool { return bytes.EqualFold([]byte(n), id.Data) })
	}
	if !ok {
		return fmt.Errorf("identity %v %s is not in certificate %s", id.Type, IDString(idBody), dnString(c.RawSubject))
	}
	return nil
}

// dnString renders a DER distinguished name as IOS does (cn=..., o=...),
// or "" when it does not parse.
func dnString(der []byte) string {
	var rdn pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &rdn); err != nil || len(rest) != 0 {
		return ""
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	return n.String()
}
