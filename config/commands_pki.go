package config

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Trustpoint is `crypto pki trustpoint NAME` with the certificates of
// `crypto pki certificate chain NAME`: the CA vpdn trusts and the
// router's own certificate, whose key `crypto key import rsa` gives.
type Trustpoint struct {
	Name string `json:"name"`
	Line int    `json:"line,omitempty"`
	// Enrollment is `enrollment terminal [pem]` (the certificates are
	// pasted in: the only enrollment vpdn has).
	Enrollment string `json:"enrollment,omitempty"`
	// SubjectName is `subject-name DN` (what a request would ask for;
	// shown, not used).
	SubjectName string `json:"subject_name,omitempty"`
	// Revocation is `revocation-check none` (nothing is fetched).
	Revocation string `json:"revocation_check,omitempty"`
	// RSAKeyPair is `rsakeypair LABEL`: the imported key of the router's
	// certificate ("": the imported key that matches it).
	RSAKeyPair   string            `json:"rsakeypair,omitempty"`
	Certificates []*PKICertificate `json:"certificates,omitempty"`
	ChainLine    int               `json:"chain_line,omitempty"`
}

// PKICertificate is one `certificate [ca] SERIAL` block of a certificate
// chain: the DER in hex lines, ending in `quit`.
type PKICertificate struct {
	Serial string `json:"serial"`
	CA     bool   `json:"ca,omitempty"`
	DER    []byte `json:"der"`
	Line   int    `json:"line,omitempty"`
}

// RSAKeyImport is `crypto key import rsa LABEL pem url file:PATH`. IOS
// runs it in EXEC mode and keeps the key in private NVRAM; vpdn takes it
// in the configuration, as a path to an unencrypted PEM file (PKCS #1 or
// PKCS #8), read when the configuration is loaded.
type RSAKeyImport struct {
	Label string `json:"label"`
	URL   string `json:"url"`
	Line  int    `json:"line,omitempty"`
}

func (p *parser) trustpoint() *Trustpoint { return p.cur.obj.(*Trustpoint) }

// TrustpointCAs parses the CA certificates of the named trustpoints (a
// loaded configuration's parse).
func (c *Crypto) TrustpointCAs(names []string) []*x509.Certificate {
	var out []*x509.Certificate
	for _, n := range names {
		if tp := c.TrustpointByName(n); tp != nil {
			for _, pc := range tp.Certificates {
				if x, err := x509.ParseCertificate(pc.DER); err == nil && pc.CA {
					out = append(out, x)
				}
			}
		}
	}
	return out
}

// TrustpointByName returns the trustpoint, or nil.
func (c *Crypto) TrustpointByName(name string) *Trustpoint {
	for _, t := range c.Trustpoints {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// maxCertDER bounds one certificate of a chain in the configuration.
const maxCertDER = 16384

var pkiCommands = []*command{
	{mode: mGlobal, spec: "crypto pki trustpoint <name:word>", help: "A trustpoint: a CA vpdn trusts, and the router's certificate it issued (crypto pki certificate chain NAME). With several trustpoints every CA is trusted; one trustpoint may hold the router's certificate.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			name := m.Str("name")
			section(p, &p.cfg.CryptoConfig().Trustpoints, mTrustpoint, neg, func(t *Trustpoint) bool { return t.Name == name },
				func() *Trustpoint { return &Trustpoint{Name: name, Line: p.line} })
			return nil
		}},
	{mode: mTrustpoint, spec: "enrollment <how:line>", help: "How certificates come: terminal [pem] (pasted into the certificate chain; the only way vpdn has).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			how := strings.ToLower(strings.Join(strings.Fields(m.Str("how")), " "))
			if !neg && how != "terminal" && how != "terminal pem" {
				return fmt.Errorf("enrollment %s: not supported yet; expected enrollment terminal (certificates pasted into crypto pki certificate chain)", m.Str("how"))
			}
			set(&p.trustpoint().Enrollment, how, neg)
			return nil
		}},
	{mode: mTrustpoint, spec: "subject-name <dn:line>", help: "The subject a certificate request would name (shown only: vpdn does not enroll).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.trustpoint().SubjectName, m.Str("dn"), neg)
			return nil
		}},
	{mode: mTrustpoint, spec: "revocation-check <how:line>", help: "Revocation checking: none (vpdn fetches no CRL and asks no OCSP responder).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			if !neg && !strings.EqualFold(m.Str("how"), "none") {
				return fmt.Errorf("revocation-check %s: not supported yet; expected revocation-check none", m.Str("how"))
			}
			set(&p.trustpoint().Revocation, "none", neg)
			return nil
		}},
	{mode: mTrustpoint, spec: "rsakeypair <label:word>", help: "The key of the router's certificate: a crypto key import rsa LABEL (by default the imported key that matches the certificate).", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			set(&p.trustpoint().RSAKeyPair, m.Str("label"), neg)
			return nil
		}},
	{mode: mGlobal, spec: "crypto pki certificate chain <name:word>", help: "The certificates of trustpoint NAME, as IOS writes them: certificate ca SERIAL (the CA) and certificate SERIAL (the router's), each followed by the DER in hex lines and quit.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			tp := p.cfg.CryptoConfig().TrustpointByName(m.Str("name"))
			if tp == nil {
				return fmt.Errorf("crypto pki certificate chain %s: no such trustpoint; expected crypto pki trustpoint %s before it", m.Str("name"), m.Str("name"))
			}
			if neg {
				tp.Certificates, tp.ChainLine = nil, 0
				return nil
			}
			tp.ChainLine = p.line
			p.enter(mCertChain, tp)
			return nil
		}},
	{mode: mCertChain, spec: "certificate [ca] <serial:word>", help: "A certificate of the chain, its DER in hex on the lines that follow, up to quit: the CA's (ca) or the router's.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			tp := p.trustpoint()
			serial := m.Str("serial")
			ca := m.Has("ca")
			tp.Certificates = slices.DeleteFunc(tp.Certificates, func(c *PKICertificate) bool { return c.CA == ca && strings.EqualFold(c.Serial, serial) })
			if neg {
				return nil
			}
			c := &PKICertificate{Serial: serial, CA: ca, Line: p.line}
			tp.Certificates = append(tp.Certificates, c)
			p.enter(mCertificate, c)
			return nil
		}},
	{mode: mCertChain, spec: "certificate {self-signed | rollover} <rest:line>", help: "Self-signed and rollover certificates: not supported yet.", later: "vpdn supports certificate ca SERIAL and certificate SERIAL"},
	{mode: mGlobal, spec: "crypto key import rsa <label:word> [general-purpose] pem url <url:word>", help: "The router's RSA key, from an unencrypted PEM file: url file:/absolute/path. vpdn's extension: IOS runs this in EXEC mode and keeps the key in NVRAM, vpdn reads it at each load of the configuration.", noForm: true,
		apply: func(p *parser, m *Match, neg bool) error {
			c := p.cfg.CryptoConfig()
			label := m.Str("label")
			c.RSAKeys = slices.DeleteFunc(c.RSAKeys, func(k *RSAKeyImport) bool { return k.Label == label })
			if neg {
				return nil
			}
			k := &RSAKeyImport{Label: label, URL: m.Str("url"), Line: p.line}
			if _, err := k.path(); err != nil {
				return err
			}
			c.RSAKeys = append(c.RSAKeys, k)
			return nil
		}},
	{mode: mGlobal, spec: "crypto key import rsa <rest:line>", help: "Other key imports: not supported yet.", later: "vpdn supports crypto key import rsa LABEL [general-purpose] pem url file:/PATH (an unencrypted PEM key)"},
}

// certLine takes a line of a certificate block: its DER in hex (groups
// of hex digits separated by spaces), or quit, which ends it. IOS reads
// these lines as data, not commands.
func (p *parser) certLine(toks []string) bool {
	c := p.stack[len(p.stack)-1].obj.(*PKICertificate)
	if len(toks) == 1 && strings.EqualFold(toks[0], "quit") {
		p.stack = p.stack[:len(p.stack)-1]
		return true
	}
	b, err := hex.DecodeString(strings.Join(toks, ""))
	switch {
	case err != nil:
		p.errf(p.line, "certificate %s: %q is not hex; expected the certificate's DER in hex, then quit", c.Serial, strings.Join(toks, " "))
		return false
	case len(c.DER)+len(b) > maxCertDER:
		p.errf(p.line, "certificate %s: longer than %d octets; expected a certificate's DER, then quit", c.Serial, maxCertDER)
		return false
	}
	c.DER = append(c.DER, b...)
	return true
}

func (k *RSAKeyImport) path() (string, error) {
	path, ok := strings.CutPrefix(k.URL, "file:")
	if !ok || !filepath.IsAbs(path) {
		return "", fmt.Errorf("crypto key import rsa %s: url %s: expected file:/absolute/path", k.Label, k.URL)
	}
	return path, nil
}

// Load reads and parses the key.
func (k *RSAKeyImport) Load() (crypto.Signer, error) {
	path, err := k.path()
	if err != nil {
		return nil, err
	}
	b, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("crypto key import rsa %s: %v", k.Label, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("crypto key import rsa %s: %s holds no PEM block; expected an RSA PRIVATE KEY or PRIVATE KEY", k.Label, path)
	}
	if blk.Headers["Proc-Type"] != "" || blk.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("crypto key import rsa %s: %s: encrypted keys (passphrase) are not supported yet; expected an unencrypted PEM key", k.Label, path)
	}
	var key any
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		err = fmt.Errorf("PEM block %q", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("crypto key import rsa %s: %s: %v; expected an RSA PRIVATE KEY or PRIVATE KEY", k.Label, path, err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("crypto key import rsa %s: %s is not an RSA key", k.Label, path)
	}
	return rk, nil
}

// maxKeyFile bounds a key file (a PEM RSA key of 16384 bits is ~13 KB).
const maxKeyFile = 64 << 10

// readKeyFile reads a regular file of at most maxKeyFile octets (not a
// device or a pipe that would never end).
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxKeyFile {
		return nil, fmt.Errorf("%s: expected a regular file of at most %d octets", path, maxKeyFile)
	}
	return io.ReadAll(io.LimitReader(f, maxKeyFile))
}

// PKI is what the trustpoints give IKE: the CAs trusted, and the router's
// certificate (with its issuer after it when the chain is longer) and
// key, when a trustpoint holds one.
type PKI struct {
	Roots []*x509.Certificate
	// Trustpoint names the trustpoint of Chain ("" without one).
	Trustpoint string
	Chain      []*x509.Certificate
	Key        crypto.Signer
	// Certs are every certificate of every trustpoint, for show crypto
	// pki certificates.
	Certs []TrustpointCert
}

// TrustpointCert is a parsed certificate of a trustpoint.
type TrustpointCert struct {
	Trustpoint string
	CA         bool
	Cert       *x509.Certificate
}

// PKI parses the trustpoints and loads the router's key.
func (c *Crypto) PKI() (*PKI, error) {
	var first error
	pki := c.loadPKI(func(_ int, format string, args ...any) {
		if first == nil {
			first = fmt.Errorf(format, args...)
		}
	})
	return pki, first
}

func (c *Crypto) loadPKI(errf func(line int, format string, args ...any)) *PKI {
	pki := &PKI{}
	for _, tp := range c.Trustpoints {
		var cas, ids []*x509.Certificate
		var idLine int
		for _, pc := range tp.Certificates {
			x, err := x509.ParseCertificate(pc.DER)
			if err != nil {
				errf(pc.Line, "crypto pki certificate chain %s: certificate %s does not parse (%v); expected the DER of an X.509 certificate in hex", tp.Name, pc.Serial, err)
				continue
			}
			want, ok := new(big.Int).SetString(pc.Serial, 16)
			if !ok || want.Cmp(x.SerialNumber) != 0 {
				errf(pc.Line, "crypto pki certificate chain %s: certificate %s has serial number %X; expected certificate %X", tp.Name, pc.Serial, x.SerialNumber, x.SerialNumber)
				continue
			}
			pki.Certs = append(pki.Certs, TrustpointCert{Trustpoint: tp.Name, CA: pc.CA, Cert: x})
			if pc.CA {
				if !x.IsCA {
					errf(pc.Line, "crypto pki certificate chain %s: certificate ca %s is not a CA certificate (basic constraints); expected the CA's certificate", tp.Name, pc.Serial)
					continue
				}
				cas = append(cas, x)
			} else {
				ids, idLine = append(ids, x), pc.Line
			}
		}
		pki.Roots = append(pki.Roots, cas...)
		if len(ids) == 0 {
			continue
		}
		if len(ids) > 1 {
			errf(idLine, "crypto pki certificate chain %s: more than one router certificate is not supported yet; expected one certificate SERIAL", tp.Name)
			continue
		}
		if len(cas) == 0 {
			errf(tp.Line, "crypto pki trustpoint %s: the router's certificate has no CA certificate; expected certificate ca SERIAL in crypto pki certificate chain %s", tp.Name, tp.Name)
			continue
		}
		id := ids[0]
		signed := slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return id.CheckSignatureFrom(ca) == nil })
		if !signed {
			errf(idLine, "crypto pki certificate chain %s: the router's certificate is not signed by the trustpoint's CA; expected a certificate the CA issued", tp.Name)
			continue
		}
		if pki.Trustpoint != "" {
			errf(tp.Line, "crypto pki trustpoint %s: a router certificate in more than one trustpoint (%s has one) is not supported yet", tp.Name, pki.Trustpoint)
			continue
		}
		key, err := c.keyFor(tp, id)
		if err != nil {
			errf(idLine, "crypto pki certificate chain %s: %v", tp.Name, err)
			continue
		}
		pki.Trustpoint, pki.Chain, pki.Key = tp.Name, []*x509.Certificate{id}, key
	}
	return pki
}

// keyFor finds the imported key of a trustpoint's certificate.
func (c *Crypto) keyFor(tp *Trustpoint, id *x509.Certificate) (crypto.Signer, error) {
	var tried []string
	for _, k := range c.RSAKeys {
		if tp.RSAKeyPair != "" && k.Label != tp.RSAKeyPair {
			continue
		}
		key, err := k.Load()
		if err != nil {
			return nil, err
		}
		if key.Public().(*rsa.PublicKey).Equal(id.PublicKey) {
			return key, nil
		}
		tried = append(tried, k.Label)
	}
	switch {
	case tp.RSAKeyPair != "" && len(tried) == 0:
		return nil, fmt.Errorf("rsakeypair %s: no such key; expected crypto key import rsa %s pem url file:/PATH", tp.RSAKeyPair, tp.RSAKeyPair)
	case len(tried) > 0:
		return nil, fmt.Errorf("the router's certificate does not match the key of %s; expected the key the certificate was issued for", strings.Join(tried, ", "))
	}
	return nil, errors.New("the router's certificate has no key; expected crypto key import rsa LABEL pem url file:/PATH")
}

// validatePKI checks the trustpoints and what needs them.
func (p *parser) validatePKI() {
	cr := p.cfg.Crypto
	pki := cr.loadPKI(p.errf)
	for _, tp := range cr.Trustpoints {
		if len(tp.Certificates) == 0 {
			p.warnAt(tp.Line, "crypto pki trustpoint %s has no certificates; expected crypto pki certificate chain %s", tp.Name, tp.Name)
		}
	}
	for _, pol := range cr.Policies {
		if pol.Auth != "" && pol.Auth != "rsa-sig" {
			continue
		}
		switch {
		case pol.Auth == "" && len(cr.Trustpoints) == 0:
			p.errf(pol.Line, "crypto isakmp policy %d: authentication defaults to rsa-sig, which needs a crypto pki trustpoint; expected authentication pre-share", pol.Priority)
		case pki.Trustpoint == "" && len(cr.Trustpoints) == 0:
			p.errf(pol.Line, "crypto isakmp policy %d: authentication rsa-sig needs a crypto pki trustpoint with the router's certificate and key; expected authentication pre-share or a trustpoint", pol.Priority)
		case pki.Trustpoint == "":
			p.errf(pol.Line, "crypto isakmp policy %d: authentication rsa-sig needs the router's certificate (certificate SERIAL in a crypto pki certificate chain) and its key (crypto key import rsa); no trustpoint has one", pol.Priority)
		}
	}
}

// CertificateHexLines is a certificate's DER as IOS writes it in a
// certificate chain: eight groups of four octets in upper-case hex a
// line.
func CertificateHexLines(der []byte) []string {
	h := strings.ToUpper(hex.EncodeToString(der))
	var out []string
	for len(h) > 0 {
		n := min(len(h), 64)
		var groups []string
		for i := 0; i < n; i += 8 {
			groups = append(groups, h[i:min(i+8, n)])
		}
		out = append(out, strings.Join(groups, " "))
		h = h[n:]
	}
	return out
}

func printPKI(w *printer, c *Crypto) {
	for _, k := range c.RSAKeys {
		w.line(0, "crypto key import rsa %s pem url %s", k.Label, k.URL)
	}
	for _, tp := range c.Trustpoints {
		w.line(0, "crypto pki trustpoint %s", tp.Name)
		w.opt(1, "enrollment", tp.Enrollment)
		w.opt(1, "subject-name", tp.SubjectName)
		w.opt(1, "revocation-check", tp.Revocation)
		w.opt(1, "rsakeypair", tp.RSAKeyPair)
		w.bang()
	}
	for _, tp := range c.Trustpoints {
		if len(tp.Certificates) == 0 {
			continue
		}
		w.line(0, "crypto pki certificate chain %s", tp.Name)
		for _, pc := range tp.Certificates {
			if pc.CA {
				w.line(1, "certificate ca %s", pc.Serial)
			} else {
				w.line(1, "certificate %s", pc.Serial)
			}
			for _, l := range CertificateHexLines(pc.DER) {
				w.line(2, "%s", l)
			}
			w.line(2, "quit")
		}
		w.bang()
	}
}
