package show

import (
	"fmt"
	"strings"
	"time"
)

// PKICertificate is a certificate of a trustpoint: a block of show
// crypto pki certificates.
type PKICertificate struct {
	CA     bool   `json:"ca"`
	Status string `json:"status"` // Available, Expired, Pending (not valid yet)
	Serial string `json:"serial"` // hex
	// Issuer and Subject are distinguished names, one attribute a line
	// as IOS prints them (cn=..., o=...); Name the subject's common name.
	Issuer    []string  `json:"issuer"`
	Subject   []string  `json:"subject"`
	Name      string    `json:"name,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Trustpoints are the trustpoints that hold it.
	Trustpoints []string `json:"trustpoints"`
}

// Trustpoint is a block of show crypto pki trustpoints.
type Trustpoint struct {
	Name string `json:"name"`
	// CASubject is the CA certificate's subject and CASerial its serial
	// number ("" until the chain has one); RouterCert says whether the
	// router's certificate is there.
	CASubject  []string `json:"ca_subject"`
	CASerial   string   `json:"ca_serial,omitempty"`
	RouterCert bool     `json:"router_certificate"`
	Revocation string   `json:"revocation_check,omitempty"`
}

// iosTime is IOS's certificate date: 10:00:00 UTC Dec 1 2026.
func iosTime(t time.Time) string { return t.UTC().Format("15:04:05 MST Jan 2 2006") }

// WritePKICertificates renders show crypto pki certificates: the
// router's certificates first, then the CA certificates.
func WritePKICertificates(b *strings.Builder, cs []PKICertificate) {
	for _, ca := range []bool{false, true} {
		for _, c := range cs {
			if c.CA != ca {
				continue
			}
			if ca {
				b.WriteString("CA Certificate\n")
			} else {
				b.WriteString("Certificate\n")
			}
			fmt.Fprintf(b, "  Status: %s\n", c.Status)
			fmt.Fprintf(b, "  Certificate Serial Number (hex): %s\n", c.Serial)
			if ca {
				b.WriteString("  Certificate Usage: Signature\n")
			} else {
				b.WriteString("  Certificate Usage: General Purpose\n")
			}
			b.WriteString("  Issuer: \n")
			for _, l := range c.Issuer {
				fmt.Fprintf(b, "    %s\n", l)
			}
			b.WriteString("  Subject: \n")
			if c.Name != "" && !ca {
				fmt.Fprintf(b, "    Name: %s\n", c.Name)
			}
			for _, l := range c.Subject {
				fmt.Fprintf(b, "    %s\n", l)
			}
			b.WriteString("  Validity Date: \n")
			fmt.Fprintf(b, "    start date: %s\n", iosTime(c.NotBefore))
			fmt.Fprintf(b, "    end   date: %s\n", iosTime(c.NotAfter))
			fmt.Fprintf(b, "  Associated Trustpoints: %s \n\n", strings.Join(c.Trustpoints, " "))
		}
	}
}

// WriteTrustpoints renders show crypto pki trustpoints.
func WriteTrustpoints(b *strings.Builder, ts []Trustpoint) {
	for _, t := range ts {
		fmt.Fprintf(b, "Trustpoint %s:\n", t.Name)
		if t.CASerial == "" {
			b.WriteString("    Not authenticated.\n\n")
			continue
		}
		b.WriteString("    Subject Name: \n")
		for _, l := range t.CASubject {
			fmt.Fprintf(b, "    %s\n", l)
		}
		fmt.Fprintf(b, "          Serial Number (hex): %s\n", t.CASerial)
		if t.RouterCert {
			b.WriteString("    Certificate configured.\n")
		} else {
			b.WriteString("    Certificate not configured.\n")
		}
		if t.Revocation != "" {
			fmt.Fprintf(b, "    Revocation check: %s\n", t.Revocation)
		}
		b.WriteString("\n")
	}
}
