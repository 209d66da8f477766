package ike

import (
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
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
