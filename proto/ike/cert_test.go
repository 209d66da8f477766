package ike

import (
	"crypto/rsa"
	"crypto/x509"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/testpki"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// testPKI is a CA, another CA and a certificate from the first for each
// of a (198.18.0.1) and b (198.18.0.2), made at the bubble's current
// time; testpki's keys 0 to 3.
type testPKI struct {
	ca, otherCA *x509.Certificate
	leaf        [2]*x509.Certificate
	key         [2]*rsa.PrivateKey
}

func newPKI(t testing.TB, leafLife time.Duration) *testPKI {
	ks := testpki.Keys(4)
	p := &testPKI{ca: testpki.CA(t, 1, "vpdn-ca", ks[0], 10*365*24*time.Hour), otherCA: testpki.CA(t, 2, "other-ca", ks[1], 10*365*24*time.Hour)}
	for i, name := range []string{"a.vpdn.test", "b.vpdn.test"} {
		addr := []netip.AddrPort{addrA, addrB}[i]
		p.leaf[i] = testpki.Leaf(t, int64(10+i), name, addr.Addr(), &ks[2+i].PublicKey, p.ca, ks[0], leafLife)
		p.key[i] = ks[2+i]
	}
	return p
}

func (p *testPKI) certs(i int) *Certs {
	return &Certs{Chain: []*x509.Certificate{p.leaf[i]}, Key: p.key[i], Roots: []*x509.Certificate{p.ca}}
}

// rsaSigPair makes a and b with one rsa-sig policy and no pre-shared
// key, then mod.
func rsaSigPair(t *testing.T, w *network, pki *testPKI, mod func(i int, c *Config)) (*peer, *peer) {
	return pair(t, w, func(i int, c *Config) {
		c.Policies = []Policy{{Priority: 10, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA256, Group: Group14, RSASig: true}}
		c.Key = func(netip.Addr, []byte) []byte { return nil }
		c.Cert = pki.certs(i)
		if mod != nil {
			mod(i, c)
		}
	})
}

// TestRSASigMainMode: main mode with certificates both ways, then quick
// mode; each side names the other by its certificate's subject.
func TestRSASigMainMode(t *testing.T) {
	for _, initiator := range []int{0, 1} {
		t.Run([]string{"a-initiates", "b-initiates"}[initiator], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pki := newPKI(t, 365*24*time.Hour)
				w := newNetwork(1, 0, 0)
				a, b := rsaSigPair(t, w, pki, nil)
				if initiator == 0 {
					if err := a.n.Initiate(b.addr, p2For()); err != nil {
						t.Fatal(err)
					}
				} else {
					pol := &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Local: Selector{Prefix: netB}, Remote: Selector{Prefix: netA}}
					if err := b.n.Initiate(a.addr, pol); err != nil {
						t.Fatal(err)
					}
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				checkChildren(t, a, b)
				for i, x := range []*peer{a, b} {
					sas := x.n.Phase1()
					if len(sas) != 1 || !sas[0].Policy.RSASig {
						t.Fatalf("%d: phase 1 %+v", i, sas)
					}
					want := pki.leaf[1-i].Subject.String()
					if sas[0].ID != want {
						t.Errorf("%d: peer identity %q, want %q", i, sas[0].ID, want)
					}
					if sas[0].PeerCert == nil || sas[0].PeerCert.SerialNumber.Cmp(pki.leaf[1-i].SerialNumber) != 0 {
						t.Errorf("%d: peer certificate %v", i, sas[0].PeerCert)
					}
				}
				if !a.log.has("SA authentication status: authenticated") {
					t.Error("no authentication log")
				}
			})
		})
	}
}

// TestRSASigAggressive: aggressive mode with signatures (RFC 2409 §5.1:
// SIG_R in the responder's message, SIG_I in the third), and a
// responder's certificate from another CA refused by the initiator.
func TestRSASigAggressive(t *testing.T) {
	for _, wrongCA := range []bool{false, true} {
		t.Run(map[bool]string{false: "ok", true: "other-ca"}[wrongCA], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pki := newPKI(t, 365*24*time.Hour)
				w := newNetwork(6, 0, 0)
				a, b := rsaSigPair(t, w, pki, func(i int, c *Config) {
					c.Aggressive, c.AcceptAggressive = i == 0, i == 1
					if i == 0 && wrongCA {
						c.Cert.Roots = []*x509.Certificate{pki.otherCA}
					}
				})
				if err := a.n.Initiate(b.addr, p2For()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if wrongCA {
					if len(a.n.Children()) != 0 || a.n.Stats().CertUntrusted != 1 {
						t.Fatalf("a accepted b: %+v %+v", a.n.Phase1(), a.n.Stats())
					}
					return
				}
				checkChildren(t, a, b)
				if !a.log.has("Aggressive Mode") {
					t.Error("not aggressive mode")
				}
				if sas := b.n.Phase1(); len(sas) != 1 || !sas[0].Policy.RSASig || sas[0].PeerCert == nil {
					t.Fatalf("phase 1 %+v", sas)
				}
			})
		})
	}
}

// TestRSASigAddressIdentity: with SendAddress (IOS's default identity)
// each side names itself by address, which its certificate holds as a
// subject alternative name.
func TestRSASigAddressIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pki := newPKI(t, 365*24*time.Hour)
		w := newNetwork(5, 0, 0)
		a, b := rsaSigPair(t, w, pki, func(i int, c *Config) { c.Cert.SendAddress = true })
		if err := a.n.Initiate(b.addr, p2For()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		checkChildren(t, a, b)
		if sas := b.n.Phase1(); len(sas) != 1 || sas[0].ID != "198.18.0.1" {
			t.Fatalf("phase 1 %+v", sas)
		}
		if sas := a.n.Phase1(); len(sas) != 1 || sas[0].ID != "198.18.0.2" {
			t.Fatalf("phase 1 %+v", sas)
		}
	})
}

// TestRSASigAlongsidePSK: a policy list with both methods; the peer with
// only a key gets the pre-share policy, the one with certificates the
// rsa-sig one.
func TestRSASigAlongsidePSK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pki := newPKI(t, 365*24*time.Hour)
		w := newNetwork(2, 0, 0)
		both := []Policy{
			{Priority: 5, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA256, Group: Group14, RSASig: true},
			{Priority: 10, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA1, Group: Group14},
		}
		a, b := pair(t, w, func(i int, c *Config) {
			c.Policies = both
			if i == 1 {
				c.Cert = pki.certs(1)
			}
		})
		if err := a.n.Initiate(b.addr, p2For()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		checkChildren(t, a, b)
		if sas := b.n.Phase1(); len(sas) != 1 || sas[0].Policy.RSASig {
			t.Fatalf("phase 1 %+v", sas)
		}
	})
}

// TestRSASigRefused: each way a peer's certificate or signature can be
// wrong ends phase 1 with the notification for it, counted.
func TestRSASigRefused(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(t testing.TB, p *testPKI, c *Certs) // a's certificates (the initiator's), as b sees them
		before time.Duration                            // how long to wait before initiating
		notify isakmp.NotifyType
		stat   func(s Stats) uint64
	}{
		{"wrong CA", func(t testing.TB, p *testPKI, c *Certs) {
			ks := testpki.Keys(4)
			c.Chain = []*x509.Certificate{testpki.Leaf(t, 20, "a.vpdn.test", addrA.Addr(), &ks[2].PublicKey, p.otherCA, ks[1], 24*time.Hour)}
		}, 0, isakmp.NotifyInvalidCertAuthority, func(s Stats) uint64 { return s.CertUntrusted }},
		{"expired", nil, 48 * time.Hour, isakmp.NotifyInvalidCertificate, func(s Stats) uint64 { return s.CertExpired }},
		{"wrong key", func(t testing.TB, p *testPKI, c *Certs) {
			// a signs with b's key a certificate that claims a's
			// (bypassing New's check that they match).
			c.Key = p.key[1]
		}, 0, isakmp.NotifyInvalidSignature, func(s Stats) uint64 { return s.SigInvalid }},
		// a's own certificate, but an identity it does not hold.
		{"identity not in certificate", nil, 0, isakmp.NotifyInvalidIDInformation, func(s Stats) uint64 { return s.CertIDMismatch }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pki := newPKI(t, 24*time.Hour)
				w := newNetwork(3, 0, 0)
				var got []isakmp.NotifyType
				w.drop = func(m []byte, from, to netip.AddrPort) bool {
					if h, err := isakmp.ParseHeader(m); err == nil && h.Exchange == isakmp.ExchangeInformational && !h.Encrypted() {
						if ps, err := collect(h.NextPayload, h.Body(m)); err == nil {
							for _, n := range ps.notifies {
								got = append(got, n.Type)
							}
						}
					}
					return false
				}
				a, b := rsaSigPair(t, w, pki, nil)
				if tc.setup != nil {
					a.n.mu.Lock()
					tc.setup(t, pki, a.n.cfg.Cert)
					a.n.mu.Unlock()
				}
				time.Sleep(tc.before)
				pol := p2For()
				if tc.name == "identity not in certificate" {
					pol.Profile.ID = isakmp.AppendID(nil, isakmp.IDAddr(netip.MustParseAddr("198.18.0.9"), 17, 500))
				}
				if err := a.n.Initiate(b.addr, pol); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if len(b.n.Children()) != 0 || len(b.n.Phase1()) != 0 {
					t.Fatalf("b accepted a: %+v\n%s", b.n.Phase1(), b.log)
				}
				st := b.n.Stats()
				if tc.stat(st) != 1 || st.AuthFailed != 1 {
					t.Errorf("stats %+v", st)
				}
				found := false
				for _, n := range got {
					found = found || n == tc.notify
				}
				if !found {
					t.Errorf("notifications %v, want %v", got, tc.notify)
				}
			})
		})
	}
}

// TestRSASigResponderRefused: the initiator refuses a responder whose
// certificate chains to no CA of its own.
func TestRSASigResponderRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pki := newPKI(t, 24*time.Hour)
		w := newNetwork(4, 0, 0)
		a, b := rsaSigPair(t, w, pki, func(i int, c *Config) {
			if i == 0 {
				c.Cert.Roots = []*x509.Certificate{pki.otherCA}
			}
		})
		if err := a.n.Initiate(b.addr, p2For()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if len(a.n.Children()) != 0 || len(a.n.Phase1()) != 0 {
			t.Fatalf("a accepted b: %+v", a.n.Phase1())
		}
		if st := a.n.Stats(); st.CertUntrusted != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestRSASigProfileRoots: an isakmp profile's ca trust-points (Roots)
// replace the trusted CAs for its peers, as responder (the profile the
// identity chooses) and as initiator (the crypto map entry's).
func TestRSASigProfileRoots(t *testing.T) {
	for _, tc := range []struct {
		name        string
		respRoots   func(p *testPKI) []*x509.Certificate // b's profile for a
		initRoots   func(p *testPKI) []*x509.Certificate // a's entry's profile
		up          bool
		initRefuses bool
	}{
		{"same CA", func(p *testPKI) []*x509.Certificate { return []*x509.Certificate{p.ca} }, func(p *testPKI) []*x509.Certificate { return []*x509.Certificate{p.ca} }, true, false},
		{"responder's profile trusts another CA", func(p *testPKI) []*x509.Certificate { return []*x509.Certificate{p.otherCA} }, nil, false, false},
		{"initiator's profile trusts another CA", nil, func(p *testPKI) []*x509.Certificate { return []*x509.Certificate{p.otherCA} }, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pki := newPKI(t, 365*24*time.Hour)
				w := newNetwork(7, 0, 0)
				a, b := rsaSigPair(t, w, pki, func(i int, c *Config) {
					if i == 1 && tc.respRoots != nil {
						c.Profile = func(_ netip.Addr, id, _ []byte) (P1Profile, error) {
							return P1Profile{Name: "CERT-PEERS", Roots: tc.respRoots(pki)}, nil
						}
					}
				})
				pol := p2For()
				if tc.initRoots != nil {
					pol.Profile = P1Profile{Name: "TO-B", Roots: tc.initRoots(pki)}
				}
				if err := a.n.Initiate(b.addr, pol); err != nil {
					t.Fatal(err)
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if tc.up {
					checkChildren(t, a, b)
					if sas := b.n.Phase1(); len(sas) != 1 || sas[0].Profile != "CERT-PEERS" {
						t.Fatalf("b's phase 1 %+v", sas)
					}
					return
				}
				if len(a.n.Children()) != 0 || len(b.n.Children()) != 0 {
					t.Fatal("an SA came up")
				}
				refuser := b
				if tc.initRefuses {
					refuser = a
				}
				if st := refuser.n.Stats(); st.CertUntrusted != 1 {
					t.Errorf("stats %+v", st)
				}
			})
		})
	}
}

// TestCertsValidate: New refuses a key that is not the certificate's and
// certificates without a CA.
func TestCertsValidate(t *testing.T) {
	pki := newPKI(t, time.Hour)
	bad := []*Certs{
		{Chain: []*x509.Certificate{pki.leaf[0]}, Key: pki.key[1], Roots: []*x509.Certificate{pki.ca}},
		{Chain: []*x509.Certificate{pki.leaf[0]}, Key: pki.key[0]},
		{Key: pki.key[0], Roots: []*x509.Certificate{pki.ca}},
	}
	for i, c := range bad {
		if err := c.validate(); err == nil {
			t.Errorf("%d: accepted", i)
		}
	}
	if err := pki.certs(0).validate(); err != nil {
		t.Error(err)
	}
}
