package ike

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// firstMessages are a main mode MM1 and an aggressive mode AM1 as the
// engine sends them.
func firstMessages(t testing.TB) [][]byte {
	pols := []Policy{{Priority: 1, Encryption: CipherAES, Hash: HashSHA1, Group: Group19}}
	mm1 := isakmp.NewEncoder(nil, isakmp.Header{ICookie: isakmp.Cookie{1}, Exchange: isakmp.ExchangeMain})
	mm1.Raw(isakmp.PayloadSA, appendP1SA(nil, pols))
	appendVIDs(mm1)
	dh, err := generateDH(Group19, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	am1 := isakmp.NewEncoder(nil, isakmp.Header{ICookie: isakmp.Cookie{2}, Exchange: isakmp.ExchangeAggressive})
	am1.Raw(isakmp.PayloadSA, appendP1SA(nil, pols))
	am1.Raw(isakmp.PayloadKE, dh.pub)
	am1.Raw(isakmp.PayloadNonce, make([]byte, 16))
	am1.Raw(isakmp.PayloadID, isakmp.AppendID(nil, isakmp.IDAddr(addrA.Addr(), 17, 500)))
	var out [][]byte
	for _, e := range []*isakmp.Encoder{mm1, am1} {
		m, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// FuzzResponder feeds arbitrary datagrams to a responder: no panic, and
// no half-open state beyond the cap.
func FuzzResponder(f *testing.F) {
	for _, p := range firstMessages(f) {
		f.Add(p)
	}
	// An MM1 offering rsa-sig, and one message with CERT, CR and SIG.
	sigPols := []Policy{{Priority: 1, Encryption: CipherAES, Hash: HashSHA1, Group: Group19, RSASig: true}}
	pki := newPKI(f, 24*time.Hour)
	for _, withCert := range []bool{false, true} {
		e := isakmp.NewEncoder(nil, isakmp.Header{ICookie: isakmp.Cookie{3}, Exchange: isakmp.ExchangeMain})
		e.Raw(isakmp.PayloadSA, appendP1SAAuth(nil, sigPols, false))
		if withCert {
			e.Raw(isakmp.PayloadCR, append([]byte{certX509Sig}, pki.ca.RawSubject...))
			e.Raw(isakmp.PayloadCert, append([]byte{certX509Sig}, pki.leaf[0].Raw...))
			e.Raw(isakmp.PayloadSig, make([]byte, 256))
		}
		m, err := e.Bytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := New(Config{Local: addrB, Clock: clock.Real, Send: func([]byte, netip.AddrPort) {},
			Policies: []Policy{{Priority: 1, Encryption: CipherAES, Hash: HashSHA1, Group: Group19}, {Priority: 2, Encryption: CipherAES, Hash: HashSHA1, Group: Group19, RSASig: true}},
			Key:      func(netip.Addr, []byte) []byte { return []byte("k") }, AcceptAggressive: true, MaxHalfOpen: 2, Cert: pki.certs(1),
			// An identity-based profile choice on whatever ID arrives.
			Profile: func(_ netip.Addr, id, _ []byte) (P1Profile, error) {
				if s := IDString(id); strings.HasPrefix(s, "x") {
					return P1Profile{}, errors.New("refused")
				}
				return P1Profile{Name: "P"}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		for range 3 {
			n.HandlePacket(b, addrA)
		}
		if len(n.Phase1()) > 1 {
			t.Fatalf("%d SAs from one message", len(n.Phase1()))
		}
		if h, err := isakmp.ParseHeader(b); err == nil && h.Exchange != isakmp.ExchangeMain && h.Exchange != isakmp.ExchangeAggressive && len(n.Phase1()) != 0 {
			t.Fatal("state from a non-phase-1 message")
		}
	})
}

// FuzzVerifySig feeds arbitrary CERT, ID and SIG bodies to the checks of
// an rsa-sig MM5: no panic, and nothing passes that is not the peer's
// certificate under our CA.
func FuzzVerifySig(f *testing.F) {
	pki := newPKI(f, 24*time.Hour)
	cert := append([]byte{certX509Sig}, pki.leaf[0].Raw...)
	id := isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDDERASN1DN, Data: pki.leaf[0].RawSubject})
	f.Add(cert, id, make([]byte, 256))
	f.Add(cert, isakmp.AppendID(nil, isakmp.IDAddr(addrA.Addr(), 17, 500)), []byte{1})
	f.Add(append([]byte{certX509Sig}, pki.ca.Raw...), id, []byte{})
	f.Add([]byte{1, 2, 3}, []byte{9, 0, 0, 0}, []byte(nil))
	f.Fuzz(func(t *testing.T, certBody, idBody, sig []byte) {
		n, err := New(Config{Local: addrB, Clock: clock.Real, Send: func([]byte, netip.AddrPort) {},
			Policies: []Policy{{Priority: 1, Encryption: CipherAES, Hash: HashSHA1, Group: Group19, RSASig: true}},
			Key:      func(netip.Addr, []byte) []byte { return nil }, Cert: pki.certs(1)})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		// The payloads as collect sorts them out of a message.
		e := isakmp.NewEncoder(nil, isakmp.Header{Exchange: isakmp.ExchangeMain})
		e.Raw(isakmp.PayloadID, idBody)
		e.Raw(isakmp.PayloadCert, certBody)
		e.Raw(isakmp.PayloadSig, sig)
		msg, err := e.Bytes()
		if err != nil {
			return
		}
		h, _ := isakmp.ParseHeader(msg)
		ps, err := collect(h.NextPayload, h.Body(msg))
		if err != nil || len(ps.ids) == 0 {
			return
		}
		p := &p1{n: n}
		hash := make([]byte, 20)
		if p.verifySig(&ps, ps.ids[0], hash) == nil {
			t.Fatal("a made-up signature verified")
		}
	})
}

// FuzzParseNATOA: a NAT-OA body that parses is one address with zero
// reserved octets, and encodes back to itself.
func FuzzParseNATOA(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 198, 19, 9, 1})
	f.Add(append([]byte{5, 0, 0, 0}, netip.MustParseAddr("2001:db8::1").AsSlice()...))
	f.Add([]byte{1, 17, 6, 165, 198, 19, 9, 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		a, ok := parseNATOA(body)
		if !ok {
			return
		}
		if got := isakmp.AppendID(nil, isakmp.IDAddr(a, 0, 0)); string(got) != string(body) {
			t.Fatalf("%x parsed as %v, which encodes as %x", body, a, got)
		}
	})
}
