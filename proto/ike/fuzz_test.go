package ike

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"testing"

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
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := New(Config{Local: addrB, Clock: clock.Real, Send: func([]byte, netip.AddrPort) {},
			Policies: []Policy{{Priority: 1, Encryption: CipherAES, Hash: HashSHA1, Group: Group19}},
			Key:      func(netip.Addr, []byte) []byte { return []byte("k") }, AcceptAggressive: true, MaxHalfOpen: 2,
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
