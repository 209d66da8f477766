package ike

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// profileHook is a responder's Config.Profile that records its calls and
// answers by the identity: a's address is profile SPOKES, anything else
// is refused.
type profileHook struct {
	mu    sync.Mutex
	calls [][]byte // the IDs it was asked about (nil: main mode's first message)
	// refuseID refuses even a's identity once the ID is known.
	refuseID bool
	dpd      time.Duration
}

func (h *profileHook) profile(peer netip.Addr, id, psk []byte) (P1Profile, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if (id == nil) != (psk == nil) && h.calls != nil {
		return P1Profile{}, errors.New("main mode's second call without the key")
	}
	h.calls = append(h.calls, slices.Clone(id))
	if peer != addrA.Addr() {
		return P1Profile{}, errors.New("no profile for the address")
	}
	if id == nil {
		return P1Profile{Name: "BY-ADDRESS"}, nil
	}
	if h.refuseID || IDString(id) != addrA.Addr().String() {
		return P1Profile{}, errors.New("no profile matches")
	}
	return P1Profile{Name: "SPOKES", DPD: h.dpd, DPDRetry: 2 * time.Second}, nil
}

// TestProfileMainMode: in main mode the responder asks for the profile by
// address at MM1 and again with the authenticated ID after MM5; that
// answer is the SA's, given to Phase2 and carried by the child SAs and
// the phase-1 status. The initiator's SA takes the profile of the policy
// it initiates for.
func TestProfileMainMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(7, 0, 0)
		h := &profileHook{dpd: 10 * time.Second}
		var got []string
		var mu sync.Mutex
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 1 {
				cfg.Profile = h.profile
				inner := cfg.Phase2
				cfg.Phase2 = func(p netip.AddrPort, prof string, l, r Selector) *Phase2Policy {
					mu.Lock()
					got = append(got, prof)
					mu.Unlock()
					return inner(p, prof, l, r)
				}
			}
		})
		pol := p2For()
		pol.Profile = P1Profile{Name: "HUB"}
		if err := a.n.Initiate(addrB, pol); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		h.mu.Lock()
		calls := h.calls
		h.mu.Unlock()
		if len(calls) != 2 || calls[0] != nil || IDString(calls[1]) != "198.18.0.1" {
			t.Fatalf("Profile calls %q", calls)
		}
		if len(got) != 1 || got[0] != "SPOKES" {
			t.Fatalf("Phase2 saw profiles %q", got)
		}
		if c := b.n.Children()[0]; c.Profile != "SPOKES" {
			t.Errorf("responder child profile %q", c.Profile)
		}
		if c := a.n.Children()[0]; c.Profile != "HUB" {
			t.Errorf("initiator child profile %q", c.Profile)
		}
		st := b.n.Phase1()
		if len(st) != 1 || st[0].Profile != "SPOKES" || !st[0].DPD {
			t.Errorf("responder phase 1 %+v (the profile's keepalive turns DPD on)", st)
		}
		if st := a.n.Phase1(); len(st) != 1 || st[0].Profile != "HUB" || st[0].DPD {
			t.Errorf("initiator phase 1 %+v", st)
		}
	})
}

// TestProfileRefused: a peer whose authenticated identity matches no
// profile gets INVALID-ID-INFORMATION and no SA, and so does one refused
// by address at its first message; both are counted.
func TestProfileRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(8, 0, 0)
		h := &profileHook{refuseID: true}
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 1 {
				cfg.Profile = h.profile
			}
		})
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if len(a.n.Children()) != 0 || len(b.n.Children()) != 0 || len(b.n.Phase1()) != 0 {
			t.Fatalf("refused peer got SAs:\n%s", b.log)
		}
		if n := b.n.Stats().NoProfile; n != 1 {
			t.Errorf("NoProfile %d", n)
		}
		if !b.log.has("deleting SA") {
			t.Errorf("responder log lacks the refusal:\n%s", b.log)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(9, 0, 0)
		h := &profileHook{}
		// b refuses by address: the initiator is b itself talking to a.
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 0 {
				cfg.Profile = h.profile
			}
		})
		if err := b.n.Initiate(addrA, &Phase2Policy{TransformSets: p2For().TransformSets, Local: Selector{Prefix: netB}, Remote: Selector{Prefix: netA}}); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if len(a.n.Phase1()) != 0 || a.n.Stats().NoProfile == 0 {
			t.Fatalf("peer refused by address: phase 1 %+v, stats %+v", a.n.Phase1(), a.n.Stats())
		}
	})
}

// TestProfileAggressive: in aggressive mode the identity comes with the
// first message, and the profile is chosen from it there.
func TestProfileAggressive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(10, 0, 0)
		h := &profileHook{}
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 0 {
				cfg.Aggressive = true
			} else {
				cfg.AcceptAggressive = true
				cfg.Profile = h.profile
			}
		})
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.calls) != 1 || IDString(h.calls[0]) != "198.18.0.1" {
			t.Fatalf("Profile calls %q", h.calls)
		}
		if c := b.n.Children()[0]; c.Profile != "SPOKES" {
			t.Errorf("child profile %q", c.Profile)
		}
	})
}

// TestProfileInitiator: an initiation's profile gives the phase-1 SA its
// mode (aggressive), our identity (an FQDN) and the key, in place of the
// node's; the responder sees the FQDN, keys by it and takes its profile
// from it.
func TestProfileInitiator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(11, 0, 0)
		fqdn := isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDFQDN, Data: []byte("spoke.example")})
		var seen []string
		var mu sync.Mutex
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 0 {
				return // a keeps the harness's key, which b refuses
			}
			cfg.AcceptAggressive = true
			cfg.Key = func(_ netip.Addr, id []byte) []byte {
				if IDString(id) == "spoke.example" {
					return []byte("fqdnkey")
				}
				return nil
			}
			cfg.Profile = func(_ netip.Addr, id, _ []byte) (P1Profile, error) {
				mu.Lock()
				seen = append(seen, IDString(id))
				mu.Unlock()
				return P1Profile{Name: "BY-FQDN"}, nil
			}
		})
		pol := p2For()
		pol.Profile = P1Profile{Name: "SELF", Aggressive: true, ID: fqdn, Key: []byte("fqdnkey")}
		if err := a.n.Initiate(addrB, pol); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		if !a.log.has("Aggressive Mode") {
			t.Errorf("a did not start aggressive mode:\n%s", a.log)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 1 || seen[0] != "spoke.example" {
			t.Errorf("responder saw identities %q", seen)
		}
		if st := b.n.Phase1(); len(st) != 1 || st[0].ID != "spoke.example" || st[0].Profile != "BY-FQDN" {
			t.Errorf("responder phase 1 %+v", st)
		}
		if c := a.n.Children()[0]; c.Profile != "SELF" {
			t.Errorf("initiator child profile %q", c.Profile)
		}
	})
}
