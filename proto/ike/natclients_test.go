package ike

import (
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// TestClientsBehindOneNAT: three initiators behind one NAT (one public
// address, three NAT-T ports), each sending INITIAL-CONTACT, all hold
// their own phase-1 and child SA with the responder at once; the
// responder's child SAs name each client by its port and say it sits
// behind a NAT (xl2tpd #82, libreswan #322: one client's INITIAL-CONTACT
// ended the others').
func TestClientsBehindOneNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(21, 0, 0)
		pub := netip.MustParseAddr("198.18.9.9")
		w.nat = map[netip.AddrPort]netip.AddrPort{}
		_, b := pair(t, w, nil)
		var clients []*peer
		for i, port := range []uint16{4500, 1024, 1025} {
			inside := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, 9, byte(i + 1)}), 500)
			w.nat[inside] = netip.AddrPortFrom(pub, port)
			p := &peer{addr: inside, log: &logBuf{}}
			n, err := New(Config{Local: inside, Clock: clock.Real, Log: slog.New(p.log), Send: w.sender(inside), OnEvent: p.on,
				Policies: []Policy{{Priority: 10, Encryption: CipherAES, KeyBits: 256, Hash: HashSHA1, Group: Group14}},
				Key:      func(netip.Addr, []byte) []byte { return []byte("cisco123") }})
			if err != nil {
				t.Fatal(err)
			}
			p.n = n
			t.Cleanup(n.Close)
			w.mu.Lock()
			w.nodes[inside] = n
			w.mu.Unlock()
			clients = append(clients, p)
		}
		for _, c := range clients {
			if err := c.n.Initiate(addrB, p2For()); err != nil {
				t.Fatal(err)
			}
			settle(time.Second)
		}
		settle(time.Second)
		if n := len(b.n.Phase1()); n != 3 {
			t.Fatalf("responder holds %d phase-1 SAs, want 3\n%s", n, b.log)
		}
		kids := b.n.Children()
		if len(kids) != 3 {
			t.Fatalf("responder holds %d child SAs, want 3", len(kids))
		}
		ports := map[uint16]bool{}
		for _, k := range kids {
			if k.Peer.Addr() != pub || !k.PeerBehindNAT {
				t.Errorf("child %#x: peer %v behind NAT %v", k.SPIIn, k.Peer, k.PeerBehindNAT)
			}
			ports[k.Peer.Port()] = true
		}
		if len(ports) != 3 {
			t.Errorf("child SAs' peers %v: not three ports", kids)
		}
		if b.count(EventChildDown) != 0 {
			t.Errorf("a client's INITIAL-CONTACT ended another's SAs: %v", b.events)
		}
		for _, c := range clients {
			if k := c.n.Children(); len(k) != 1 || k[0].PeerBehindNAT {
				t.Errorf("client %v: children %+v", c.addr, k)
			}
		}
	})
}

// TestNATOriginalAddresses: transport mode across a NAT carries NAT-OAi
// and NAT-OAr (RFC 3947 §5.2) both ways: the responder learns the
// client's own address behind the NAT, the client the responder's; with
// no NAT, or in tunnel mode, none is sent.
func TestNATOriginalAddresses(t *testing.T) {
	ts := TransformSet{Name: "L2TP", ESP: isakmp.ESPAES, KeyBits: 128, Auth: isakmp.AuthAlgHMACSHA1, Transport: true}
	l2tp := func(a netip.Addr) Selector { return Selector{Prefix: netip.PrefixFrom(a, 32), Proto: 17, Port: 1701} }
	for _, tc := range []struct {
		name           string
		nat, transport bool
	}{{"nat-transport", true, true}, {"no-nat", false, true}, {"nat-tunnel", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNetwork(31, 0, 0)
				pub := netip.MustParseAddrPort("198.18.9.9:4500")
				if tc.nat {
					w.nat = map[netip.AddrPort]netip.AddrPort{addrA: pub}
				}
				ts := ts
				ts.Transport = tc.transport
				a, b := pair(t, w, func(i int, cfg *Config) {
					cfg.Phase2 = func(_ netip.AddrPort, _ string, l, r Selector) *Phase2Policy {
						return &Phase2Policy{TransformSets: []TransformSet{ts}, Local: l, Remote: r}
					}
				})
				if err := a.n.Initiate(addrB, &Phase2Policy{TransformSets: []TransformSet{ts}, Local: l2tp(addrA.Addr()), Remote: l2tp(addrB.Addr())}); err != nil {
					t.Fatal(err)
				}
				settle(time.Second)
				ca, cb := a.n.Children(), b.n.Children()
				if len(ca) != 1 || len(cb) != 1 {
					t.Fatalf("children %d %d\n%s", len(ca), len(cb), b.log)
				}
				wantB, wantA := netip.Addr{}, netip.Addr{}
				if tc.nat && tc.transport {
					wantB, wantA = addrA.Addr(), addrB.Addr()
				}
				if cb[0].PeerOriginal != wantB || ca[0].PeerOriginal != wantA {
					t.Errorf("NAT-OA: responder learned %v (want %v), initiator %v (want %v)", cb[0].PeerOriginal, wantB, ca[0].PeerOriginal, wantA)
				}
			})
		})
	}
}

// TestParseNATOA: NAT-OA bodies that are not one address with zero
// reserved octets are not taken.
func TestParseNATOA(t *testing.T) {
	for _, tc := range []struct {
		body []byte
		ok   bool
	}{
		{[]byte{1, 0, 0, 0, 198, 19, 9, 1}, true},
		{append([]byte{5, 0, 0, 0}, netip.MustParseAddr("2001:db8::1").AsSlice()...), true},
		{[]byte{1, 0, 0, 0, 198, 19, 9}, false},
		{[]byte{1, 17, 6, 165, 198, 19, 9, 1}, false},
		{[]byte{4, 0, 0, 0, 198, 19, 9, 0, 255, 255, 255, 0}, false},
		{[]byte{2, 0, 0, 0, 'a'}, false},
		{nil, false},
	} {
		if _, ok := parseNATOA(tc.body); ok != tc.ok {
			t.Errorf("%x: ok %v, want %v", tc.body, ok, tc.ok)
		}
	}
}
