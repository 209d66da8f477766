package ike

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// settle lets the bubble run for d of fake time and waits for quiet.
func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func TestMainModeQuickMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(1, 0, 0)
		a, b := pair(t, w, nil)
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		for _, s := range []string{"IKE_READY  New State = IKE_I_MM1", "New State = IKE_I_MM2", "New State = IKE_I_MM3", "New State = IKE_I_MM4",
			"New State = IKE_I_MM5", "IKE_I_MM5  New State = IKE_I_MM6", "New State = IKE_P1_COMPLETE", "beginning Quick Mode exchange",
			"IKE_QM_READY  New State = IKE_QM_I_QM1", "New State = IKE_QM_PHASE2_COMPLETE"} {
			if !a.log.has(s) {
				t.Errorf("a's log lacks %q", s)
			}
		}
		for _, s := range []string{"New State = IKE_R_MM1", "IKE_R_MM4", "IKE_R_MM5", "atts are acceptable", "IKE_QM_R_QM1", "IKE_QM_R_QM2"} {
			if !b.log.has(s) {
				t.Errorf("b's log lacks %q", s)
			}
		}
		sa, sb := a.n.Phase1(), b.n.Phase1()
		if len(sa) != 1 || sa[0].State != "QM_IDLE" || sa[0].Dst != addrB.Addr() || sa[0].Src != addrA.Addr() || sa[0].ConnID == 0 {
			t.Errorf("a: show crypto isakmp sa: %+v", sa)
		}
		if len(sb) != 1 || sb[0].State != "QM_IDLE" || sb[0].Dst != addrB.Addr() || sb[0].Src != addrA.Addr() {
			t.Errorf("b: show crypto isakmp sa: %+v", sb)
		}
		c := a.n.Children()[0]
		if c.Transform != isakmp.ESPAES || c.KeyBits != 256 || c.Auth != isakmp.AuthAlgHMACSHA1 || c.Encap != isakmp.EncapTunnel ||
			len(c.EncKeyIn) != 32 || len(c.AuthKeyIn) != 20 || c.Lifetime != time.Hour || c.LifeKB != 4608000 || !c.Initiator {
			t.Errorf("child %+v", c)
		}
		if a.count(EventPhase1Up) != 1 || b.count(EventPhase1Up) != 1 || a.count(EventChildUp) != 1 || b.count(EventChildUp) != 1 {
			t.Errorf("events a %v b %v", a.events, b.events)
		}
		// A second crypto map entry reuses the phase-1 SA.
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if len(a.n.Children()) != 2 || len(b.n.Children()) != 2 || a.count(EventPhase1Up) != 1 {
			t.Errorf("second quick mode: %d/%d children", len(a.n.Children()), len(b.n.Children()))
		}
	})
}

// TestSuites negotiates every group with every cipher and hash, in main
// mode, and a quick mode under it.
func TestSuites(t *testing.T) {
	type suite struct {
		c  Cipher
		kb int
	}
	ciphers := []suite{{Cipher3DES, 0}, {CipherAES, 128}, {CipherAES, 192}, {CipherAES, 256}}
	for _, g := range []Group{Group2, Group5, Group14, Group19, Group20} {
		for _, c := range ciphers {
			for _, h := range []Hash{HashMD5, HashSHA1, HashSHA256, HashSHA384} {
				pol := Policy{Priority: 1, Encryption: c.c, KeyBits: c.kb, Hash: h, Group: g}
				t.Run(fmt.Sprintf("%v-%v%d-%v", g, c.c, c.kb, h), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						w := newNetwork(2, 0, 0)
						a, b := pair(t, w, func(i int, cfg *Config) { cfg.Policies = []Policy{pol} })
						if err := a.n.Initiate(addrB, p2For()); err != nil {
							t.Fatal(err)
						}
						settle(time.Second)
						checkChildren(t, a, b)
					})
				})
			}
		}
	}
}

// TestAggressiveMode: three messages, then quick mode; the responder
// needs AcceptAggressive.
func TestAggressiveMode(t *testing.T) {
	for _, g := range []Group{Group2, Group14, Group19, Group20} {
		t.Run(g.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNetwork(3, 0, 0)
				a, b := pair(t, w, func(i int, cfg *Config) {
					cfg.Policies = []Policy{{Priority: 5, Encryption: CipherAES, KeyBits: 128, Hash: HashSHA256, Group: g}}
					cfg.Aggressive = i == 0
					cfg.AcceptAggressive = i == 1
				})
				if err := a.n.Initiate(addrB, p2For()); err != nil {
					t.Fatal(err)
				}
				settle(time.Second)
				checkChildren(t, a, b)
				for _, s := range []string{"beginning Aggressive Mode exchange", "New State = IKE_I_AM1", "IKE_I_AM2", "IKE_P1_COMPLETE"} {
					if !a.log.has(s) {
						t.Errorf("a's log lacks %q", s)
					}
				}
				if !b.log.has("IKE_R_AM2") {
					t.Error("b's log lacks IKE_R_AM2")
				}
			})
		})
	}
	t.Run("refused", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newNetwork(3, 0, 0)
			a, b := pair(t, w, func(i int, cfg *Config) { cfg.Aggressive = i == 0; cfg.Retransmit = time.Second })
			if err := a.n.Initiate(addrB, p2For()); err != nil {
				t.Fatal(err)
			}
			settle(time.Minute)
			if len(b.n.Phase1()) != 0 || !b.log.has("Aggressive Mode is not enabled") || !a.log.has("Death by retransmission P1") {
				t.Errorf("b kept %v\n%s", b.n.Phase1(), b.log)
			}
		})
	})
}

// TestPFS: quick mode with a KE of its own; KEYMAT includes g(qm)^xy.
func TestPFS(t *testing.T) {
	for _, g := range []Group{Group2, Group5, Group14, Group19, Group20} {
		t.Run(g.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNetwork(4, 0, 0)
				a, b := pair(t, w, func(i int, cfg *Config) {
					inner := cfg.Phase2
					cfg.Phase2 = func(p netip.AddrPort, prof string, l, r Selector) *Phase2Policy {
						pol := inner(p, prof, l, r)
						if pol != nil {
							pol.PFS = g
						}
						return pol
					}
				})
				pol := p2For()
				pol.PFS = g
				if err := a.n.Initiate(addrB, pol); err != nil {
					t.Fatal(err)
				}
				settle(time.Second)
				checkChildren(t, a, b)
				if c := a.n.Children()[0]; c.PFS != g {
					t.Errorf("PFS %v", c.PFS)
				}
			})
		})
	}
	// Our crypto map wants PFS, the peer offers none: refused.
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(4, 0, 0)
		a, b := pair(t, w, func(i int, cfg *Config) {
			inner := cfg.Phase2
			cfg.Phase2 = func(p netip.AddrPort, prof string, l, r Selector) *Phase2Policy {
				pol := inner(p, prof, l, r)
				if pol != nil {
					pol.PFS = Group14
				}
				return pol
			}
		})
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if len(a.n.Children())+len(b.n.Children()) != 0 || a.find(EventChildFailed) == nil {
			t.Errorf("PFS mismatch accepted")
		}
	})
}

// TestTransportAndSelectors: transport mode (L2TP/IPsec: UDP 1701 between
// the hosts) and host IDs.
func TestTransportAndSelectors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(5, 0, 0)
		ts := TransformSet{Name: "L2TP", ESP: isakmp.ESP3DES, Auth: isakmp.AuthAlgHMACMD5, Transport: true}
		sel := func(a netip.AddrPort) Selector {
			return Selector{Prefix: netip.PrefixFrom(a.Addr(), 32), Proto: 17, Port: 1701}
		}
		a, b := pair(t, w, func(i int, cfg *Config) {
			cfg.Phase2 = func(p netip.AddrPort, prof string, l, r Selector) *Phase2Policy {
				if l != sel(cfg.Local) || r != sel(p) {
					return nil
				}
				return &Phase2Policy{TransformSets: []TransformSet{ts}, Local: l, Remote: r}
			}
		})
		if err := a.n.Initiate(addrB, &Phase2Policy{TransformSets: []TransformSet{ts}, Local: sel(addrA), Remote: sel(addrB)}); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		c := b.n.Children()[0]
		if !c.Transport() || c.Transform != isakmp.ESP3DES || c.KeyBits != 192 || len(c.EncKeyIn) != 24 || len(c.AuthKeyIn) != 16 || c.Remote != sel(addrA) {
			t.Errorf("child %+v", c)
		}
	})
}

// TestLossyNetwork: loss, duplication and reordering; retransmissions and
// duplicate detection carry every exchange through.
func TestLossyNetwork(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		for _, aggr := range []bool{false, true} {
			t.Run(fmt.Sprintf("seed%d-aggressive=%v", seed, aggr), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					w := newNetwork(seed, 0.05, 0.15)
					w.jitter = 300 * time.Millisecond
					a, b := pair(t, w, func(i int, cfg *Config) {
						cfg.Aggressive = aggr && i == 0
						cfg.AcceptAggressive = aggr
						cfg.Retransmit = 2 * time.Second
						cfg.Policies = []Policy{{Priority: 1, Encryption: CipherAES, KeyBits: 128, Hash: HashSHA1, Group: Group19}}
					})
					pol := p2For()
					pol.PFS = Group19
					if err := a.n.Initiate(addrB, pol); err != nil {
						t.Fatal(err)
					}
					settle(2 * time.Minute)
					checkChildren(t, a, b)
					if a.count(EventChildUp) != 1 || b.count(EventChildUp) != 1 {
						t.Errorf("child-up a %d b %d", a.count(EventChildUp), b.count(EventChildUp))
					}
				})
			})
		}
	}
}

// TestNATDetection: behind a NAT, NAT-D (RFC 3947 §3.2) tells both sides,
// and quick mode asks for the UDP-encapsulated mode; without one, the
// plain mode.
func TestNATDetection(t *testing.T) {
	for _, natted := range []bool{false, true} {
		t.Run(fmt.Sprintf("nat=%v", natted), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNetwork(16, 0, 0)
				outside := netip.MustParseAddrPort("198.18.9.9:4500")
				if natted {
					w.nat = map[netip.AddrPort]netip.AddrPort{addrA: outside}
				}
				a, b := pair(t, w, nil)
				if err := a.n.Initiate(addrB, p2For()); err != nil {
					t.Fatal(err)
				}
				settle(time.Second)
				checkChildren(t, a, b)
				want := uint16(isakmp.EncapTunnel)
				if natted {
					want = isakmp.EncapUDPTunnel
				}
				if c := b.n.Children()[0]; c.Encap != want || c.Peer != map[bool]netip.AddrPort{false: addrA, true: outside}[natted] {
					t.Errorf("encap %d peer %v", c.Encap, c.Peer)
				}
				if natted != a.log.has("floating to port 4500") {
					t.Errorf("the initiator behind a NAT did not float to 4500")
				}
				if natted != a.log.has("NAT found") || natted != b.log.has("NAT found") {
					t.Errorf("NAT-D: a %v b %v", a.log.has("NAT found"), b.log.has("NAT found"))
				}
			})
		})
	}
}

// TestOneNegotiationPerFlow: requests for the same flow repeated while
// phase 1 or the flow's quick mode is under way (L2TP retransmitting to a
// protected peer behind a slow IKE) make one SA pair, not one each.
func TestOneNegotiationPerFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(1, 0, 0)
		a, b := pair(t, w, nil)
		for range 3 {
			if err := a.n.Initiate(addrB, p2For()); err != nil {
				t.Fatal(err)
			}
		}
		settle(time.Second)
		if na, nb := len(a.n.Children()), len(b.n.Children()); na != 1 || nb != 1 {
			t.Fatalf("three requests during phase 1: %d/%d child SAs, want 1/1", na, nb)
		}
		// Phase 1 is up: two requests at once make one quick mode.
		for range 2 {
			if err := a.n.Initiate(addrB, p2For()); err != nil {
				t.Fatal(err)
			}
		}
		settle(time.Second)
		if na, nb := len(a.n.Children()), len(b.n.Children()); na != 2 || nb != 2 {
			t.Fatalf("two requests during a quick mode: %d/%d child SAs, want 2/2", na, nb)
		}
	})
}

// TestResponderInboundFirst: the responder hands out the inbound half of
// its child SA before its QM2 leaves (the initiator sends on the new SA
// as soon as QM2 is in, and those packets can overtake QM3), the whole
// SA when QM3 arrives; a quick mode whose QM3 never comes reports the
// announced child with its failure, so that it is uninstalled.
func TestResponderInboundFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(7, 0, 0)
		var mu sync.Mutex
		var order []string
		a, b := pair(t, w, func(i int, c *Config) {
			if i != 1 {
				return
			}
			send, on := c.Send, c.OnEvent
			c.Send = func(m []byte, to netip.AddrPort) {
				mu.Lock()
				order = append(order, fmt.Sprintf("send-%d", m[18])) // exchange type
				mu.Unlock()
				send(m, to)
			}
			c.OnEvent = func(e Event) {
				mu.Lock()
				order = append(order, e.Kind.String())
				mu.Unlock()
				on(e)
			}
		})
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		mu.Lock()
		got := strings.Join(order, " ")
		mu.Unlock()
		if !strings.Contains(got, "child-inbound send-32 child-up") {
			t.Errorf("responder's events and sends: %s", got)
		}
		in, up := b.find(EventChildInbound), b.find(EventChildUp)
		if in == nil || up == nil || in.Child.SPIIn != up.Child.SPIIn || !bytes.Equal(in.Child.EncKeyIn, up.Child.EncKeyIn) ||
			!bytes.Equal(in.Child.AuthKeyIn, up.Child.AuthKeyIn) {
			t.Fatalf("inbound %+v, up %+v", in, up)
		}
		if a.count(EventChildInbound) != 0 {
			t.Error("the initiator announced an inbound half")
		}

		// QM3 lost for good: the responder gives up and names the child.
		w.mu.Lock()
		w.drop = func(_ []byte, from, _ netip.AddrPort) bool { return from == addrA && b.count(EventChildInbound) == 2 }
		w.mu.Unlock()
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(2 * time.Minute)
		var failed *Event
		b.mu.Lock()
		var inbound []uint32
		for i, e := range b.events {
			switch e.Kind {
			case EventChildInbound:
				inbound = append(inbound, e.Child.SPIIn)
			case EventChildFailed:
				failed = &b.events[i]
			}
		}
		b.mu.Unlock()
		if len(inbound) != 2 || failed == nil || failed.Child == nil || failed.Child.SPIIn != inbound[1] {
			t.Fatalf("announced %x, failed %+v\n%s", inbound, failed, b.log)
		}
		if len(b.n.Children()) != 1 {
			t.Errorf("responder's children: %d", len(b.n.Children()))
		}
	})
}

// TestResponderQMLimit: a peer that keeps starting quick modes it never
// completes holds at most MaxResponderQMs of them (and their inbound SAs)
// on us; the rest are dropped and counted, and the ones held give up.
func TestResponderQMLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(9, 0, 0)
		a, b := pair(t, w, func(i int, c *Config) {
			if i == 1 {
				c.Phase2 = func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
					return &Phase2Policy{TransformSets: []TransformSet{{Name: "TS", ESP: 12, KeyBits: 256, Auth: 2}}, Local: l, Remote: r}
				}
			}
		})
		// Once b's phase 1 is up, a hears nothing more from it: no QM2
		// reaches a, no QM3 comes back.
		w.mu.Lock()
		w.drop = func(_ []byte, from, _ netip.AddrPort) bool { return from == addrB && b.count(EventPhase1Up) > 0 }
		w.mu.Unlock()
		const n = MaxResponderQMs + 8
		for i := range n {
			pol := p2For()
			pol.Local = Selector{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, 1, byte(i + 1)}), 32)}
			if err := a.n.Initiate(addrB, pol); err != nil {
				t.Fatal(err)
			}
		}
		settle(time.Second)
		if got := b.count(EventChildInbound); got != MaxResponderQMs || b.n.Stats().QMLimit != n-MaxResponderQMs {
			t.Fatalf("b announced %d inbound SAs and refused %d quick modes, want %d and %d", got, b.n.Stats().QMLimit, MaxResponderQMs, n-MaxResponderQMs)
		}
		settle(2 * time.Minute)
		failed := 0
		b.mu.Lock()
		for _, e := range b.events {
			if e.Kind == EventChildFailed && e.Child != nil {
				failed++
			}
		}
		b.mu.Unlock()
		if failed != MaxResponderQMs {
			t.Fatalf("%d of the held quick modes gave up naming their child, want %d", failed, MaxResponderQMs)
		}
	})
}
