package daemon

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/show"
)

// dnLines is a distinguished name as IOS prints it: one attribute a
// line, most specific first (cn=..., ou=..., o=...).
func dnLines(n pkix.Name) []string {
	parts := strings.Split(n.String(), ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			k, v, _ := strings.Cut(p, "=")
			out = append(out, strings.ToLower(k)+"="+v)
		}
	}
	return out
}

// pkiShows reads the trustpoints of c for show crypto pki certificates
// and trustpoints (what parses: a configuration that loaded is whole).
func pkiShows(c *config.Config, now time.Time) ([]show.PKICertificate, []show.Trustpoint) {
	certs, tps := []show.PKICertificate{}, []show.Trustpoint{}
	if c == nil || c.Crypto == nil {
		return certs, tps
	}
	pki, _ := c.Crypto.PKI()
	for _, tc := range pki.Certs {
		x := tc.Cert
		serial := fmt.Sprintf("%X", x.SerialNumber)
		i := slices.IndexFunc(certs, func(s show.PKICertificate) bool { return s.Serial == serial && s.CA == tc.CA })
		if i >= 0 {
			certs[i].Trustpoints = append(certs[i].Trustpoints, tc.Trustpoint)
			continue
		}
		status := "Available"
		switch {
		case now.After(x.NotAfter):
			status = "Expired"
		case now.Before(x.NotBefore):
			status = "Pending"
		}
		certs = append(certs, show.PKICertificate{CA: tc.CA, Status: status, Serial: serial, Issuer: dnLines(x.Issuer),
			Subject: dnLines(x.Subject), Name: x.Subject.CommonName, NotBefore: x.NotBefore, NotAfter: x.NotAfter,
			Trustpoints: []string{tc.Trustpoint}})
	}
	for _, tp := range c.Crypto.Trustpoints {
		t := show.Trustpoint{Name: tp.Name, CASubject: []string{}, Revocation: tp.Revocation}
		for _, tc := range pki.Certs {
			if tc.Trustpoint != tp.Name {
				continue
			}
			if tc.CA && t.CASerial == "" {
				t.CASubject, t.CASerial = dnLines(tc.Cert.Subject), fmt.Sprintf("%X", tc.Cert.SerialNumber)
			}
			t.RouterCert = t.RouterCert || !tc.CA
		}
		tps = append(tps, t)
	}
	return certs, tps
}

func (d *Daemon) registerPKIShows() {
	d.shows.Add(&control.Command{Words: "crypto pki certificates", Help: "the trustpoints' certificates: the router's and the CAs', serial numbers, issuer, subject, validity",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			cs, _ := pkiShows(d.Config(), d.opts.Clock.Now())
			var b strings.Builder
			show.WritePKICertificates(&b, cs)
			return reply(b.String(), cs, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "crypto pki trustpoints", Help: "the trustpoints: their CA and whether the router's certificate is there",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			_, ts := pkiShows(d.Config(), d.opts.Clock.Now())
			var b strings.Builder
			show.WriteTrustpoints(&b, ts)
			return reply(b.String(), ts, asJSON)
		}})
}
