package ike

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// TestWrongPSK is document 004's case 3: with different keys MM5 decrypts
// to garbage at the responder; both sides retransmit in MM_KEY_EXCH until
// "Death by retransmission P1".
func TestWrongPSK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(7, 0, 0)
		a, b := pair(t, w, func(i int, cfg *Config) {
			key := []byte("cisco123")
			if i == 1 {
				key = []byte("cisco")
			}
			cfg.Key = func(netip.Addr, []byte) []byte { return key }
		})
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(2 * time.Minute)
		for _, s := range []string{"retransmitting phase 1 MM_KEY_EXCH...", "incrementing error counter on sa, attempt 3 of 5: retransmit phase 1",
			`deleting SA reason "Death by retransmission P1" state (I) MM_KEY_EXCH (peer 198.18.0.2)`, "New State = IKE_DEST_SA"} {
			if !a.log.has(s) {
				t.Errorf("a's log lacks %q", s)
			}
		}
		if !b.log.has("failed its sanity check or is malformed") && !b.log.has("AUTHENTICATION_FAILED") {
			t.Errorf("b's log:\n%s", b.log)
		}
		if len(a.n.Phase1())+len(b.n.Phase1())+len(a.n.Children())+len(b.n.Children()) != 0 {
			t.Errorf("state left: %v %v", a.n.Phase1(), b.n.Phase1())
		}
		if e := a.find(EventPhase1Down); e == nil || e.Reason != "Death by retransmission P1" {
			t.Errorf("a's events %v", a.events)
		}
		if a.count(EventPhase1Up) != 0 || b.count(EventPhase1Up) != 0 {
			t.Error("phase 1 came up with different keys")
		}
	})
}

// TestPhase1Mismatch is document 004's case 1: 3DES against AES. The
// responder says why and sends NO_PROPOSAL_CHOSEN in the clear; the
// initiator, which cannot trust it, retransmits MM1 until death.
func TestPhase1Mismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(8, 0, 0)
		var notes []isakmp.NotifyType
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 0 {
				cfg.Policies = []Policy{{Priority: 10, Encryption: Cipher3DES, Hash: HashSHA1, Group: Group2}}
			} else {
				cfg.Policies = []Policy{{Priority: 10, Encryption: CipherAES, Hash: HashSHA1, Group: Group2}}
			}
		})
		w.drop = func(b []byte, from, to netip.AddrPort) bool {
			if h, err := isakmp.ParseHeader(b); err == nil && h.Exchange == isakmp.ExchangeInformational && h.NextPayload == isakmp.PayloadNotify {
				d := isakmp.NewPayloadDecoder(h.NextPayload, h.Body(b))
				if d.Next() {
					if n, err := isakmp.ParseNotification(d.Payload().Body); err == nil {
						notes = append(notes, n.Type)
					}
				}
			}
			return false
		}
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(2 * time.Minute)
		for _, s := range []string{"Encryption algorithm offered does not match policy!", "atts are not acceptable. Next payload is 3",
			"phase 1 SA policy not acceptable! (local 198.18.0.2 remote 198.18.0.1)", "sending NOTIFY PROPOSAL_NOT_CHOSEN protocol 1"} {
			if !b.log.has(s) {
				t.Errorf("b's log lacks %q", s)
			}
		}
		for _, s := range []string{"retransmitting phase 1 MM_NO_STATE", "unauthenticated NOTIFY PROPOSAL_NOT_CHOSEN",
			`deleting SA reason "Death by retransmission P1" state (I) MM_NO_STATE (peer 198.18.0.2)`, "IKE_I_MM1  New State = IKE_DEST_SA"} {
			if !a.log.has(s) {
				t.Errorf("a's log lacks %q", s)
			}
		}
		if len(notes) == 0 || notes[0] != isakmp.NotifyNoProposalChosen {
			t.Errorf("notifications on the wire: %v", notes)
		}
		if len(b.n.Phase1()) != 0 {
			t.Error("the responder kept state for a refused proposal")
		}
	})
}

// TestPhase2Mismatch is document 004's case 2: esp-md5-hmac against
// esp-sha-hmac. The responder logs "phase 2 SA policy not acceptable!"
// and sends NO_PROPOSAL_CHOSEN for protocol 3 with the peer's SPI, under
// the phase-1 SA; the initiator's quick mode fails on it.
func TestPhase2Mismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(9, 0, 0)
		a, b := pair(t, w, nil)
		if err := a.n.Initiate(addrB, p2For(TransformSet{Name: "TRANSFORM", ESP: isakmp.ESPAES, Auth: isakmp.AuthAlgHMACMD5})); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		for _, s := range []string{"Checking IPSec proposal 1", "transform 1, ESP_AES", "authenticator is HMAC-MD5", "IPSec policy invalidated proposal with error 256",
			"phase 2 SA policy not acceptable! (local 198.18.0.2 remote 198.18.0.1)", "Sending NOTIFY PROPOSAL_NOT_CHOSEN protocol 3 spi ",
			`reason "QM rejected"`} {
			if !b.log.has(s) {
				t.Errorf("b's log lacks %q", s)
			}
		}
		e := a.find(EventChildFailed)
		if e == nil || e.Notify != isakmp.NotifyNoProposalChosen {
			t.Fatalf("a's events %v\n%s", a.events, a.log)
		}
		if len(a.n.Children())+len(b.n.Children()) != 0 {
			t.Error("children despite the mismatch")
		}
		// Phase 1 stays up (QM_IDLE) and a matching entry still works.
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
	})
}

// TestNoCryptoMap: selectors no entry of the responder covers get
// INVALID_ID_INFORMATION.
func TestNoCryptoMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(10, 0, 0)
		a, b := pair(t, w, nil)
		pol := p2For()
		pol.Remote.Prefix = netip.MustParsePrefix("198.19.9.0/24")
		if err := a.n.Initiate(addrB, pol); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if e := a.find(EventChildFailed); e == nil || e.Notify != isakmp.NotifyInvalidIDInformation {
			t.Errorf("a's events %v", a.events)
		}
		if !b.log.has("proxy identities not supported") {
			t.Error("b's log")
		}
	})
}

// TestDPD: R-U-THERE / ACK with sequence numbers while the peer answers;
// when it goes silent, the SAs are deleted.
func TestDPD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(11, 0, 0)
		a, b := pair(t, w, func(i int, cfg *Config) {
			if i == 0 {
				cfg.DPD = 10 * time.Second
				cfg.DPDRetry = 2 * time.Second
				cfg.DPDMaxRetries = 3
			}
		})
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(35 * time.Second)
		if !a.log.has("DPD/R_U_THERE sequence") || !b.log.has("received DPD R_U_THERE seq") || !a.log.has("DPD/R_U_THERE_ACK received") {
			t.Fatalf("no DPD exchange:\n%s", a.log)
		}
		if a.count(EventDPDDead) != 0 || len(a.n.Children()) != 1 {
			t.Fatal("DPD declared a live peer dead")
		}
		w.mu.Lock()
		w.drop = func([]byte, netip.AddrPort, netip.AddrPort) bool { return true }
		w.mu.Unlock()
		settle(time.Minute)
		if a.count(EventDPDDead) != 1 || len(a.n.Children()) != 0 || len(a.n.Phase1()) != 0 {
			t.Errorf("after silence: dead %d, children %d, SAs %v", a.count(EventDPDDead), len(a.n.Children()), a.n.Phase1())
		}
		if a.find(EventChildDown) == nil || !a.log.has("peer does not do paranoid keepalives.") {
			t.Errorf("events %v", a.events)
		}
	})
}

// TestDelete: clear crypto sa sends a Delete for the child; clear crypto
// isakmp one for the phase-1 SA.
func TestDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(12, 0, 0)
		a, b := pair(t, w, nil)
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		a.n.DeleteChild(a.n.Children()[0].SPIIn)
		settle(time.Second)
		if len(a.n.Children())+len(b.n.Children()) != 0 || b.find(EventChildDown) == nil || b.find(EventChildDown).Reason != "deleted by peer" {
			t.Fatalf("after DeleteChild: %d/%d, b %v", len(a.n.Children()), len(b.n.Children()), b.events)
		}
		b.n.DeletePeer(addrA.Addr())
		settle(time.Second)
		if len(a.n.Phase1())+len(b.n.Phase1()) != 0 || a.find(EventPhase1Down) == nil || a.find(EventPhase1Down).Reason != "deleted by peer" {
			t.Fatalf("after DeletePeer: %v %v, a %v", a.n.Phase1(), b.n.Phase1(), a.events)
		}
	})
}

// TestLifetimes: a rekey event at 90% of the child's lifetime, deletion
// at its end; the kilobyte lifetime through CountBytes; the phase-1 SA
// expires on its own lifetime; a shorter responder lifetime wins
// (RESPONDER-LIFETIME).
func TestLifetimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(13, 0, 0)
		a, b := pair(t, w, func(i int, cfg *Config) {
			life := 2 * time.Hour
			if i == 1 {
				life = time.Hour
			}
			cfg.Policies = []Policy{{Priority: 1, Encryption: CipherAES, Hash: HashSHA1, Group: Group14, Lifetime: life}}
		})
		pol := p2For()
		pol.Lifetime = 600 * time.Second
		if err := a.n.Initiate(addrB, pol); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		if c := b.n.Children()[0]; c.Lifetime != 600*time.Second {
			t.Errorf("responder took lifetime %v", c.Lifetime)
		}
		settle(530 * time.Second)
		if a.count(EventChildRekey) != 0 {
			t.Fatal("rekey too early")
		}
		settle(20 * time.Second)
		if a.count(EventChildRekey) != 1 || b.count(EventChildRekey) != 1 {
			t.Fatalf("rekey events %d/%d", a.count(EventChildRekey), b.count(EventChildRekey))
		}
		// The owner negotiates the successor.
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(60 * time.Second)
		if a.count(EventChildDown) != 1 || len(a.n.Children()) != 1 || len(b.n.Children()) != 1 {
			t.Fatalf("after expiry: down %d, children %d/%d", a.count(EventChildDown), len(a.n.Children()), len(b.n.Children()))
		}
		// Kilobytes: rekey at 90%, delete at 100%.
		spi := a.n.Children()[0].SPIIn
		lim := a.n.Children()[0].LifeKB * 1024
		a.n.CountBytes(spi, lim/10*9)
		if a.count(EventChildRekey) != 2 {
			t.Errorf("no kilobyte rekey")
		}
		a.n.CountBytes(spi, lim)
		settle(time.Second)
		if len(a.n.Children()) != 0 || len(b.n.Children()) != 0 {
			t.Errorf("kilobyte expiry left %d/%d", len(a.n.Children()), len(b.n.Children()))
		}
		// Phase 1: the responder's hour wins over the initiator's two.
		if a.find(EventPhase1Down) != nil {
			t.Fatal("phase 1 down early")
		}
		settle(time.Hour - 10*time.Minute)
		if a.find(EventPhase1Down) == nil || b.find(EventPhase1Down) == nil || len(a.n.Phase1())+len(b.n.Phase1()) != 0 {
			t.Errorf("phase 1 after its lifetime: %v %v", a.n.Phase1(), b.n.Phase1())
		}
	})
}

// TestHalfOpenCap: a flood of MM1 from spoofed sources is capped overall
// and per source; the half-open SAs die by retransmission and free their
// slots; a real peer still comes up afterwards.
func TestHalfOpenCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(14, 0, 0)
		a, b := pair(t, w, func(i int, cfg *Config) {
			cfg.MaxHalfOpen, cfg.MaxHalfOpenPerPeer = 50, 4
			cfg.Retransmit = time.Second
		})
		mm1 := func(i int) []byte {
			e := isakmp.NewEncoder(nil, isakmp.Header{ICookie: isakmp.Cookie{byte(i >> 8), byte(i), 1}, Exchange: isakmp.ExchangeMain})
			e.Raw(isakmp.PayloadSA, appendP1SA(nil, b.n.cfg.Policies))
			m, _ := e.Bytes()
			return m
		}
		for i := range 400 {
			from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 10, byte(i % 20)}), 500)
			b.n.HandlePacket(mm1(i), from)
		}
		if n := len(b.n.Phase1()); n != 50 {
			t.Errorf("%d half-open SAs", n)
		}
		if st := b.n.Stats(); st.HalfOpenRefused != 350 {
			t.Errorf("refused %d", st.HalfOpenRefused)
		}
		for i := range 10 {
			b.n.HandlePacket(mm1(1000+i), netip.MustParseAddrPort("198.18.20.1:500"))
		}
		if n := len(b.n.Phase1()); n != 50 {
			t.Errorf("per-peer cap: %d", n)
		}
		settle(30 * time.Second)
		if n := len(b.n.Phase1()); n != 0 {
			t.Fatalf("%d half-open SAs left", n)
		}
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
	})
}

// TestBadPackets: garbage is counted and dropped; an MM1 with an unknown
// payload type is answered with INVALID_PAYLOAD_TYPE, one with a broken
// proposal with BAD_PROPOSAL_SYNTAX; nothing is kept.
func TestBadPackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(15, 0, 0)
		var got []isakmp.NotifyType
		_, b := pair(t, w, nil)
		w.drop = func(m []byte, from, to netip.AddrPort) bool {
			h, err := isakmp.ParseHeader(m)
			if err == nil && h.NextPayload == isakmp.PayloadNotify {
				d := isakmp.NewPayloadDecoder(h.NextPayload, h.Body(m))
				if d.Next() {
					n, _ := isakmp.ParseNotification(d.Payload().Body)
					got = append(got, n.Type)
				}
			}
			return true
		}
		from := netip.MustParseAddrPort("198.18.0.9:500")
		for _, m := range [][]byte{nil, {1, 2, 3}, make([]byte, 28), make([]byte, 100)} {
			b.n.HandlePacket(m, from)
		}
		hdr := isakmp.Header{ICookie: isakmp.Cookie{9}, Exchange: isakmp.ExchangeMain}
		e := isakmp.NewEncoder(nil, hdr)
		e.Raw(isakmp.PayloadType(99), []byte{1, 2, 3, 4})
		m, _ := e.Bytes()
		b.n.HandlePacket(m, from)
		e = isakmp.NewEncoder(nil, hdr)
		sa := appendP1SA(nil, b.n.cfg.Policies)
		sa[8+7] = 5 // the proposal claims 5 transforms
		e.Raw(isakmp.PayloadSA, sa)
		m, _ = e.Bytes()
		b.n.HandlePacket(m, from)
		// A message for an SA that does not exist.
		e = isakmp.NewEncoder(nil, isakmp.Header{ICookie: isakmp.Cookie{7}, RCookie: isakmp.Cookie{8}, Exchange: isakmp.ExchangeQuick, MessageID: 5})
		e.Raw(isakmp.PayloadHash, make([]byte, 20))
		m, _ = e.Bytes()
		b.n.HandlePacket(m, from)
		settle(time.Second)
		st := b.n.Stats()
		if st.Malformed < 5 || st.NoSA != 1 {
			t.Errorf("stats %+v", st)
		}
		if len(got) != 2 || got[0] != isakmp.NotifyInvalidPayloadType || got[1] != isakmp.NotifyBadProposalSyntax {
			t.Errorf("notifications %v", got)
		}
		if len(b.n.Phase1()) != 0 {
			t.Error("state kept")
		}
	})
}

// TestInitialContact: a peer that restarts and comes back sends
// INITIAL-CONTACT in MM5; the responder drops what it held of the old one.
func TestInitialContact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(17, 0, 0)
		a, b := pair(t, w, nil)
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		checkChildren(t, a, b)
		a.n.Close() // a reboots, silently
		a2, _ := pair(t, w, nil)
		w.mu.Lock()
		w.nodes[addrB] = b.n // pair made a fresh b too; keep the old one
		w.mu.Unlock()
		if err := a2.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if len(b.n.Phase1()) != 1 || len(b.n.Children()) != 1 {
			t.Fatalf("b holds %d SAs, %d children", len(b.n.Phase1()), len(b.n.Children()))
		}
		if e := b.find(EventChildDown); e == nil || e.Reason != "initial contact" {
			t.Errorf("b's events %v", b.events)
		}
		checkChildren(t, a2, b)
	})
}

// TestCookieTakeover: an MM1 from elsewhere carrying the initiator cookie
// of an SA we hold does not replace it.
func TestCookieTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNetwork(18, 0, 0)
		a, b := pair(t, w, nil)
		if err := a.n.Initiate(addrB, p2For()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		var ci isakmp.Cookie
		for c := range b.n.sas {
			ci = c
		}
		e := isakmp.NewEncoder(nil, isakmp.Header{ICookie: ci, Exchange: isakmp.ExchangeMain})
		e.Raw(isakmp.PayloadSA, appendP1SA(nil, b.n.cfg.Policies))
		m, _ := e.Bytes()
		b.n.HandlePacket(m, netip.MustParseAddrPort("198.18.0.66:500"))
		if st := b.n.Phase1(); len(st) != 1 || st[0].State != "QM_IDLE" || st[0].Src != addrA.Addr() {
			t.Errorf("after the forged MM1: %+v", st)
		}
	})
}
