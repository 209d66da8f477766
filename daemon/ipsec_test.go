package daemon

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/nstest"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport/memnet"
)

// doc004 reads one of document 004's crypto-map configurations with its
// addresses mapped into the lab range: the underlay 192.168.1.1 (hub),
// 172.16.1.2 and 172.16.2.3 (spokes) into 198.18.1.x, the protected
// networks 10.0.0.0/24, 1.1.1.0/24 and 2.2.2.0/24 into 198.19.x.0/24.
func doc004(t testing.TB, name string, edits ...string) string {
	t.Helper()
	b, err := os.ReadFile("../config/testdata/docs/" + name + ".cfg")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer("192.168.1.1", "198.18.1.1", "172.16.1.2", "198.18.1.2", "172.16.2.3", "198.18.1.3",
		"172.16.1.1 ", "198.18.1.2 ", "10.0.0.0", "198.19.0.0", "1.1.1.0", "198.19.1.0", "2.2.2.0", "198.19.2.0")
	s := r.Replace(string(b))
	for i := 0; i+1 < len(edits); i += 2 {
		s = strings.ReplaceAll(s, edits[i], edits[i+1])
	}
	return s
}

// spoke2Cfg is document 004's second spoke, with the interface the
// document leaves out.
func spoke2Cfg(t testing.TB) string {
	return doc004(t, "004-crypto-map-spoke2") + "interface Ethernet0/0\n ip address 198.18.1.3 255.255.255.0\n crypto map SP2_HUB\n"
}

// waitFor runs in a synctest bubble: fake seconds pass until ok.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for i := 0; !ok(); i++ {
		if i > 120 {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Second)
	}
}

func outbound(d *netif.Fake) []byte {
	select {
	case p := <-d.Outbound:
		return stripVnet(d, p)
	default:
		return nil
	}
}

// inject queues the IP packet p on the crypto TUN d, behind a
// virtio_net_hdr (the crypto TUN has offloads).
func inject(d *netif.Fake, p []byte) { d.Inject(vnetPacket(d, p)) }

// mustCross injects p into from's TUN and fails unless to's TUN puts
// out exactly p once the bubble is quiet.
func mustCross(t *testing.T, what string, from, to *netif.Fake, p []byte) {
	t.Helper()
	inject(from, p)
	synctest.Wait()
	if got := outbound(to); !bytes.Equal(got, p) {
		t.Fatalf("%s: got %x", what, got)
	}
}

// hubToSpoke1 brings up document 004's hub–spoke 1 SA from the hub's
// side, in a synctest bubble: the first packet toward spoke 1's network
// starts IKE and is dropped (as IOS does); once the SA is up a packet
// crosses each way.
func hubToSpoke1(t *testing.T, hub *memDaemon, h, s1 *netif.Fake) {
	t.Helper()
	p1 := udpPacket("198.19.0.1", "198.19.1.1", 64)
	inject(h, p1)
	waitFor(t, "the hub's SA with spoke 1", func() bool {
		return strings.Contains(hub.show(t, "crypto isakmp sa", false).Text, "QM_IDLE") && strings.Contains(hub.show(t, "crypto ipsec sa", false).Text, "current outbound spi")
	})
	synctest.Wait()
	if got := outbound(s1); got != nil {
		t.Fatalf("the packet that started IKE was delivered: %x", got)
	}
	inject(h, p1)
	synctest.Wait()
	if got := outbound(s1); !bytes.Equal(got, p1) {
		t.Fatalf("spoke 1 got %x, want %x", got, p1)
	}
	back := udpPacket("198.19.1.1", "198.19.0.1", 300)
	mustCross(t, "hub got", s1, h, back)
}

// TestInMemoryCryptoMap: document 004's crypto-map hub and its two spokes,
// each a whole daemon on in-memory binds and interfaces. The first packet
// toward a spoke's network is dropped and starts IKE (as IOS does); the
// SAs come up and packets cross both ways; show crypto isakmp sa, show
// crypto ipsec sa, show crypto map and show crypto session see it; clear
// crypto sa removes the SAs and traffic renegotiates them.
func TestInMemoryCryptoMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(14)
		logs := &nstest.SyncBuffer{}
		hub := newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub-two-spokes"), func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		for _, sw := range [][]string{{"crypto", "isakmp"}, {"crypto", "ipsec"}} {
			if r := hub.do("debug", sw...); !r.OK {
				t.Fatalf("debug %v: %s", sw, r.Error)
			}
		}
		sp1 := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1"))
		sp2 := newMemDaemon(t, nw, spoke2Cfg(t))
		for _, m := range []*memDaemon{hub, sp1, sp2} {
			if rs, _ := m.host.Routes("crypto0"); len(rs) == 0 {
				t.Fatalf("no routes into the crypto TUN: %v", m.host.AllRoutes())
			}
		}
		h, s1, s2 := hub.host.Device("crypto0"), sp1.host.Device("crypto0"), sp2.host.Device("crypto0")

		hubToSpoke1(t, hub, h, s1)
		// Spoke 2 initiates toward the hub (the entry lists it second).
		p2 := udpPacket("198.19.2.7", "198.19.0.9", 10)
		inject(s2, p2)
		waitFor(t, "spoke 2's SA", func() bool {
			return strings.Contains(sp2.show(t, "crypto ipsec sa", false).Text, "current outbound spi")
		})
		inject(s2, p2)
		synctest.Wait()
		if got := outbound(h); !bytes.Equal(got, p2) {
			t.Fatalf("hub got %x from spoke 2", got)
		}
		// The hub reaches spoke 2's network on its own too: the entry's
		// first peer (spoke 1) refuses those selectors, and the next
		// packet goes to the backup peer, spoke 2, which has an SA for
		// them already; clear it first so that the hub must initiate.
		if r := hub.do("clear", "crypto", "sa", "peer", "198.18.1.3"); !r.OK {
			t.Fatal(r.Error)
		}
		synctest.Wait()
		toSp2 := udpPacket("198.19.0.9", "198.19.2.7", 20)
		waitFor(t, "the hub's SA with spoke 2 through the backup peer", func() bool {
			inject(h, toSp2)
			synctest.Wait()
			return bytes.Equal(outbound(s2), toSp2)
		})
		// Spoke 1's network may not reach spoke 2's through spoke 2's SA:
		// spoke 2's ACL does not cover it (document 004: "no
		// communication between offices").
		inject(s1, udpPacket("198.19.1.1", "198.19.2.7", 10))
		synctest.Wait()

		isakmp := hub.show(t, "crypto isakmp sa", false).Text
		for _, want := range []string{"IPv4 Crypto ISAKMP SA", "dst             src             state          conn-id status", "198.18.1.2", "198.18.1.3", "QM_IDLE", "ACTIVE"} {
			if !strings.Contains(isakmp, want) {
				t.Errorf("show crypto isakmp sa lacks %q:\n%s", want, isakmp)
			}
		}
		detail := hub.show(t, "crypto isakmp sa detail", false).Text
		for _, want := range []string{"C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH Lifetime Cap.", "198.18.1.1      198.18.1.2", "ACTIVE 3des md5    psk  5  23:59:", "State: QM_IDLE (IKE_P1_COMPLETE)"} {
			if !strings.Contains(detail, want) {
				t.Errorf("show crypto isakmp sa detail lacks %q:\n%s", want, detail)
			}
		}
		ipsec := hub.show(t, "crypto ipsec sa peer 198.18.1.2", false).Text
		for _, want := range []string{"interface: Ethernet0/0", "Crypto map tag: HUB_SPOKEs, local addr 198.18.1.1",
			"local  ident (addr/mask/prot/port): (198.19.0.0/255.255.255.0/256/0)", "remote ident (addr/mask/prot/port): (198.19.1.0/255.255.255.0/256/0)",
			"current_peer 198.18.1.2 port 500", "#pkts encaps: 1, #pkts encrypt: 1, #pkts digest: 1", "#pkts decaps: 1, #pkts decrypt: 1, #pkts verify: 1",
			"transform: esp-256-aes esp-md5-hmac ,", "in use settings ={Tunnel, }", "replay detection support: Y", "Status: ACTIVE(ACTIVE)", "PFS (Y/N): N, DH group: none"} {
			if !strings.Contains(ipsec, want) {
				t.Errorf("show crypto ipsec sa lacks %q:\n%s", want, ipsec)
			}
		}
		if strings.Contains(ipsec, "198.18.1.3") {
			t.Errorf("show crypto ipsec sa peer 198.18.1.2 shows the other spoke:\n%s", ipsec)
		}
		var sas []map[string]any
		if err := json.Unmarshal(hub.show(t, "crypto ipsec sa", true).Data, &sas); err != nil || len(sas) != 2 {
			t.Fatalf("show crypto ipsec sa --json: %v %v", err, sas)
		}
		cmap := hub.show(t, "crypto map", false).Text
		for _, want := range []string{`Crypto Map "HUB_SPOKEs" 1 ipsec-isakmp`, "Peer = 198.18.1.2", "Peer = 198.18.1.3", "Extended IP access list TO_Spokes",
			"access-list TO_Spokes permit ip 198.19.0.0 0.0.0.255 198.19.2.0 0.0.0.255", "Trans_HUB1_SP1:  { esp-256-aes esp-md5-hmac  }", "Reverse Route Injection Enabled", "Ethernet0/0"} {
			if !strings.Contains(cmap, want) {
				t.Errorf("show crypto map lacks %q:\n%s", want, cmap)
			}
		}
		sess := hub.show(t, "crypto session detail", false).Text
		for _, want := range []string{"Session status: UP-ACTIVE", "Peer: 198.18.1.2 port 500", "IPSEC FLOW: permit ip 198.19.0.0/255.255.255.0 198.19.1.0/255.255.255.0", "Inbound:  #pkts dec'ed 1"} {
			if !strings.Contains(sess, want) {
				t.Errorf("show crypto session detail lacks %q:\n%s", want, sess)
			}
		}
		m := metricsText(t, hub.d)
		for _, want := range []string{`vpdn_ike_sas{peer="198.18.1.2",state="QM_IDLE"} 1`, `vpdn_ipsec_packets_total{direction="encaps",peer="198.18.1.2"`,
			`vpdn_ipsec_errors_total{kind="replay",peer="198.18.1.3"`, `vpdn_dataplane_drops_total{reason="esp-no-sa"}`} {
			if !strings.Contains(m, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		log := strings.Join(logsLines(logs), "\n")
		for _, want := range []string{"ISAKMP:(", "IPSEC(create_sa): sa created", "IPSEC(sa_request)"} {
			if !strings.Contains(log, want) {
				t.Errorf("debug log lacks %q", want)
			}
		}

		// clear crypto sa: both ends drop the SAs; traffic renegotiates.
		if r := hub.do("clear", "crypto", "sa", "peer", "198.18.1.2"); !r.OK {
			t.Fatal(r.Error)
		}
		synctest.Wait()
		if strings.Contains(sp1.show(t, "crypto ipsec sa", false).Text, "current outbound spi") {
			t.Fatal("spoke 1 kept its SA after the hub cleared it")
		}
		// (The entry's current peer may be spoke 2 after the failover
		// above: the first attempt fails over back to spoke 1.)
		p1 := udpPacket("198.19.0.1", "198.19.1.1", 64)
		waitFor(t, "the SA renegotiated", func() bool {
			inject(h, p1)
			synctest.Wait()
			outbound(s1)
			return strings.Contains(hub.show(t, "crypto ipsec sa peer 198.18.1.2", false).Text, "current outbound spi")
		})
		mustCross(t, "after renegotiation spoke 1 got", h, s1, p1)
		if r := hub.do("clear", "crypto", "isakmp"); !r.OK {
			t.Fatal(r.Error)
		}
		synctest.Wait()
		if strings.Contains(hub.show(t, "crypto isakmp sa", false).Text, "QM_IDLE") {
			t.Fatal("clear crypto isakmp left phase-1 SAs")
		}
	})
}

func logsLines(l *nstest.SyncBuffer) []string { return strings.Split(l.String(), "\n") }

// TestInMemoryCryptoFailures: document 004's failure cases through the
// daemon, as its debug log shows them: 3DES against AES in phase 1,
// esp-md5-hmac against esp-sha-hmac in phase 2 (NO_PROPOSAL_CHOSEN), and
// a wrong key (retransmissions, then "Death by retransmission P1").
func TestInMemoryCryptoFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hub, spoke []string // edits
		want       []string
	}{
		{"phase 1 3des against aes", []string{" hash md5\n", " encr aes\n hash md5\n"}, []string{" hash md5\n", " encr 3des\n hash md5\n"},
			[]string{"phase 1 SA policy not acceptable", "Death by retransmission P1"}},
		{"phase 2 md5 against sha", []string{"esp-md5-hmac", "esp-sha-hmac"}, nil,
			[]string{"phase 2 SA policy not acceptable", "PROPOSAL_NOT_CHOSEN"}},
		{"wrong key", []string{"cisco123", "cisco"}, nil,
			[]string{"retransmitting phase 1 MM_KEY_EXCH", "Death by retransmission P1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(15)
				logs := &nstest.SyncBuffer{}
				withLog := func(o *Options) {
					o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				}
				hub := newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub", tc.hub...), withLog)
				sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1", tc.spoke...), withLog)
				for _, m := range []*memDaemon{hub, sp} {
					m.do("debug", "crypto", "isakmp")
					m.do("debug", "crypto", "ipsec")
				}
				inject(sp.host.Device("crypto0"), udpPacket("198.19.1.1", "198.19.0.1", 10))
				time.Sleep(3 * time.Minute)
				synctest.Wait()
				log := logs.String()
				for _, w := range tc.want {
					if !strings.Contains(log, w) {
						t.Errorf("debug log lacks %q:\n%s", w, lastLines(log, 40))
					}
				}
				if strings.Contains(sp.show(t, "crypto ipsec sa", false).Text, "current outbound spi") {
					t.Error("an SA came up")
				}
			})
		})
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestInMemoryCryptoGCM: an esp-gcm 256 transform set end to end (IKE's
// KEYMAT with the salt, the data plane's AES-GCM), with PFS group 14.
func TestInMemoryCryptoGCM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(16)
		edits := []string{"esp-aes 256 esp-md5-hmac", "esp-gcm 256", " reverse-route static\n", " set pfs group14\n reverse-route static\n"}
		hub := newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub", edits...))
		sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1", edits...))
		h, s := hub.host.Device("crypto0"), sp.host.Device("crypto0")
		p := udpPacket("198.19.1.1", "198.19.0.1", 200)
		inject(s, p)
		waitFor(t, "the SA", func() bool {
			return strings.Contains(sp.show(t, "crypto ipsec sa", false).Text, "current outbound spi")
		})
		mustCross(t, "hub got", s, h, p)
		text := hub.show(t, "crypto ipsec sa", false).Text
		for _, want := range []string{"PFS (Y/N): Y, DH group: group14", "#pkts decaps: 1"} {
			if !strings.Contains(text, want) {
				t.Errorf("show crypto ipsec sa lacks %q:\n%s", want, text)
			}
		}
	})
}

// saSPIs returns the inbound SPIs of a daemon's SA pairs.
func saSPIs(t *testing.T, m *memDaemon) []float64 {
	t.Helper()
	var sas []map[string]any
	if err := json.Unmarshal(m.show(t, "crypto ipsec sa", true).Data, &sas); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, s := range sas {
		out = append(out, s["spi_in"].(float64))
	}
	return out
}

// lifetimePair brings up document 004's hub and spoke 1 on nw with `set
// security-association lifetime LIFE` on both, and their first SA: the
// spoke's packet p starts it.
func lifetimePair(t *testing.T, nw *memnet.Network, life string) (hub, sp *memDaemon, h, s *netif.Fake, p []byte) {
	t.Helper()
	edits := []string{" reverse-route static\n", " set security-association lifetime " + life + "\n reverse-route static\n"}
	hub = newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub", edits...))
	sp = newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1", edits...))
	h, s = hub.host.Device("crypto0"), sp.host.Device("crypto0")
	p = udpPacket("198.19.1.1", "198.19.0.1", 100)
	inject(s, p)
	waitFor(t, "the first SA", func() bool { return len(saSPIs(t, sp)) == 1 })
	return hub, sp, h, s, p
}

// TestInMemoryCryptoRekey: SAs with a 120-second lifetime are rekeyed by
// the initiator at 90 % of it; the new pair is installed and carries the
// traffic before the old one is deleted (make-before-break), and no
// packet is lost across the change.
func TestInMemoryCryptoRekey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub, sp, h, s, p := lifetimePair(t, memnet.New(17), "seconds 120")
		first := saSPIs(t, sp)[0]
		delivered := 0
		for range 140 {
			inject(s, p)
			synctest.Wait()
			if got := outbound(h); bytes.Equal(got, p) {
				delivered++
			}
			time.Sleep(time.Second)
		}
		if delivered != 140 {
			t.Errorf("%d of 140 packets crossed the rekey", delivered)
		}
		spis := saSPIs(t, sp)
		if len(spis) != 1 || spis[0] == first {
			t.Fatalf("after the lifetime: SAs %v (the first was %v)", spis, first)
		}
		if hs := saSPIs(t, hub); len(hs) != 1 {
			t.Fatalf("hub SAs %v", hs)
		}
	})
}

// TestInMemoryCryptoRekeyQM3Lost: the spoke's QM3 of a rekey is lost.
// The spoke sends on the new SA at once; the hub, which installed the new
// SA's inbound half when its QM2 left, still takes those packets, and
// keeps sending on the old SA until the retransmitted QM3 arrives.
func TestInMemoryCryptoRekeyQM3Lost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(23)
		spokeAddr := netip.MustParseAddr("198.18.1.2")
		quick := 0
		nw.SetFaults(memnet.Faults{Drop: func(b []byte, from, to netip.AddrPort) bool {
			if from.Addr() != spokeAddr || to.Port() != 500 || len(b) < 28 || b[18] != 32 {
				return false
			}
			quick++ // QM1, QM3 of the first SA; QM1, QM3 of its successor
			return quick == 4
		}})
		hub, sp, h, s, p := lifetimePair(t, nw, "seconds 300")
		for i := 0; len(saSPIs(t, sp)) < 2; i++ {
			if i > 300 {
				t.Fatal("the spoke never rekeyed")
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		if hs := saSPIs(t, hub); len(hs) != 1 || quick != 4 {
			t.Fatalf("hub SAs %v after %d quick mode messages: the QM3 was not lost", hs, quick)
		}
		mustCross(t, "the spoke's packet on the new SA did not cross before QM3", s, h, p)
		back := udpPacket("198.19.0.1", "198.19.1.1", 60)
		mustCross(t, "the hub's answer did not cross", h, s, back)
		// The hub's QM2 retransmission fetches the QM3 again.
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if hs := saSPIs(t, hub); len(hs) != 2 {
			t.Fatalf("after the retransmission, hub SAs %v", hs)
		}
	})
}

// TestInMemoryCryptoKilobytes: `set security-association lifetime
// kilobytes` counts the data plane's bytes: past 90 % of the volume the
// initiator negotiates a new pair, which takes the traffic while the old
// one is still installed (it expires later: make-before-break).
func TestInMemoryCryptoKilobytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(18)
		edits := []string{" reverse-route static\n", " set security-association lifetime kilobytes 2560\n reverse-route static\n"}
		hub := newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub", edits...))
		sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1", edits...))
		h, s := hub.host.Device("crypto0"), sp.host.Device("crypto0")
		small := udpPacket("198.19.1.1", "198.19.0.1", 10)
		inject(s, small)
		waitFor(t, "the first SA", func() bool { return len(saSPIs(t, sp)) == 1 })
		first := saSPIs(t, sp)[0]
		big := udpPacket("198.19.1.1", "198.19.0.1", 1372) // 1400 octets
		// 2,400 KB: past 90 % of 2,560 KB, short of all of it.
		for range 1756 {
			inject(s, big)
			outbound(h)
		}
		synctest.Wait()
		waitFor(t, "the rekeyed SA", func() bool { return len(saSPIs(t, sp)) == 2 })
		inject(s, small)
		synctest.Wait()
		for outbound(h) != nil {
		}
		// The new pair carries the traffic now.
		var sas []map[string]any
		json.Unmarshal(sp.show(t, "crypto ipsec sa", true).Data, &sas)
		for _, sa := range sas {
			if sa["spi_in"].(float64) != first && sa["pkts_encaps"].(float64) == 0 {
				t.Errorf("the new SA carries nothing: %v", sa)
			}
		}
		if len(hub.show(t, "crypto ipsec sa", false).Text) == 0 {
			t.Fatal("hub has no SA")
		}
	})
}

// TestInMemoryDynamicCryptoMap: document 004's "multiple crypto map" hub,
// whose crypto map is a dynamic map of three entries taking an IPsec
// profile (3DES-MD5, reverse-route), and its spoke: the spoke initiates,
// the hub accepts it on the dynamic entry whose ACL covers the spoke's
// network and injects the reverse route; the entry whose ACL does not
// exist stays disabled. The document leaves out the IKE policy and keys;
// a wildcard key is added on both sides, and the spoke's address (the
// document's `ip address negotiated`) is given.
func TestInMemoryDynamicCryptoMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(19)
		ike := "crypto isakmp policy 10\n encr aes\n authentication pre-share\n group 14\ncrypto isakmp key dyn0key address 0.0.0.0 0.0.0.0\n"
		r := strings.NewReplacer("55.1.1.5", "198.18.5.5", "192.168.33.", "198.19.33.")
		hubCfg := ike + r.Replace(doc004(t, "004-multiple-crypto-map-hub"))
		spCfg := ike + r.Replace(doc004(t, "004-multiple-crypto-map-spoke", " ip address negotiated\n", " ip address 198.18.5.33 255.255.255.0\n"))
		hub := newMemDaemon(t, nw, hubCfg)
		sp := newMemDaemon(t, nw, spCfg)
		h, s := hub.host.Device("crypto0"), sp.host.Device("crypto0")
		// The spoke protects its network to anywhere: no default route
		// into its TUN (it would swallow IKE), so inject directly.
		p := udpPacket("198.19.33.33", "198.19.200.1", 50)
		inject(s, p)
		waitFor(t, "the spoke's SA", func() bool { return len(saSPIs(t, sp)) == 1 })
		mustCross(t, "hub got", s, h, p)
		back := udpPacket("198.19.200.1", "198.19.33.33", 60)
		mustCross(t, "spoke got", h, s, back)
		text := hub.show(t, "crypto ipsec sa", false).Text
		for _, want := range []string{"Crypto map tag: VPN", "remote ident (addr/mask/prot/port): (198.19.33.32/255.255.255.240/256/0)", "esp-3des esp-md5-hmac"} {
			if !strings.Contains(text, want) {
				t.Errorf("hub's show crypto ipsec sa lacks %q:\n%s", want, text)
			}
		}
		cm := hub.show(t, "crypto map", false).Text
		for _, want := range []string{"Dynamic map template tag: hq-vpn", `Crypto Map "hq-vpn" 30 ipsec-isakmp`, "Security association lifetime: 4608000 kilobytes/86400 seconds", "Reverse Route Injection Enabled"} {
			if !strings.Contains(cm, want) {
				t.Errorf("hub's show crypto map lacks %q:\n%s", want, cm)
			}
		}
		if rs, _ := hub.host.Routes("crypto0"); !strings.Contains(fmtRoutes(rs), "198.19.33.32/28") {
			t.Errorf("hub's routes into crypto0: %v", fmtRoutes(rs))
		}
	})
}

// TestInMemoryCryptoDPD: `crypto isakmp keepalive 10 2` turns on dead peer
// detection (RFC 3706); when the spoke falls silent the hub sends
// R-U-THERE, gives up, and removes the phase-1 SA and the IPsec SAs.
func TestInMemoryCryptoDPD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(20)
		logs := &nstest.SyncBuffer{}
		edits := []string{"crypto isakmp key", "crypto isakmp keepalive 10 2\ncrypto isakmp key"}
		hub := newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub", edits...), func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		hub.do("debug", "crypto", "isakmp")
		sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1", edits...))
		inject(sp.host.Device("crypto0"), udpPacket("198.19.1.1", "198.19.0.1", 10))
		waitFor(t, "the SA", func() bool { return len(saSPIs(t, hub)) == 1 })
		time.Sleep(30 * time.Second) // the peer answers: the SA stays
		if len(saSPIs(t, hub)) != 1 {
			t.Fatal("the SA went while the peer answered DPD")
		}
		nw.SetFaults(memnet.Faults{Loss: 1})
		waitFor(t, "DPD to declare the peer dead", func() bool {
			return len(saSPIs(t, hub)) == 0 && !strings.Contains(hub.show(t, "crypto isakmp sa", false).Text, "QM_IDLE")
		})
		if !strings.Contains(logs.String(), "R_U_THERE") {
			t.Error("no R-U-THERE in the debug log")
		}
	})
}

// TestInMemoryCryptoReload: a reload that changes the crypto map (a new
// protected network in the hub's ACL) restarts IPsec: the old SAs are
// deleted at both ends, the new network is routed into the crypto TUN, and
// traffic renegotiates; a reload that changes only a key restarts nothing.
func TestInMemoryCryptoReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(21)
		hubCfg := doc004(t, "004-crypto-map-hub")
		hub := newMemDaemon(t, nw, hubCfg)
		sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1"))
		p := udpPacket("198.19.1.1", "198.19.0.1", 40)
		inject(sp.host.Device("crypto0"), p)
		waitFor(t, "the SA", func() bool { return len(saSPIs(t, hub)) == 1 })
		first := saSPIs(t, hub)[0]
		path := hub.d.opts.ConfigPath
		// A key change only: the services stay.
		os.WriteFile(path, []byte(strings.Replace(hubCfg, "key cisco123 address", "key cisco123 address 198.18.9.9\ncrypto isakmp key other address", 1)), 0o644)
		if err := hub.d.Reload(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := saSPIs(t, hub); len(s) != 1 || s[0] != first {
			t.Fatalf("a key change restarted IPsec: %v", s)
		}
		os.WriteFile(path, []byte(strings.Replace(hubCfg, " permit ip 198.19.0.0 0.0.0.255 198.19.1.0 0.0.0.255\n",
			" permit ip 198.19.0.0 0.0.0.255 198.19.1.0 0.0.0.255\n permit ip 198.19.0.0 0.0.0.255 198.19.9.0 0.0.0.255\n", 1)), 0o644)
		if err := hub.d.Reload(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(saSPIs(t, hub)) != 0 || len(saSPIs(t, sp)) != 0 {
			t.Fatalf("SAs after the restart: hub %v, spoke %v", saSPIs(t, hub), saSPIs(t, sp))
		}
		if rs, _ := hub.host.Routes("crypto0"); !strings.Contains(fmtRoutes(rs), "198.19.9.0/24") {
			t.Fatalf("routes into crypto0: %s", fmtRoutes(rs))
		}
		h := hub.host.Device("crypto0")
		back := udpPacket("198.19.0.1", "198.19.1.1", 40)
		inject(h, back)
		waitFor(t, "the renegotiated SA", func() bool { return len(saSPIs(t, hub)) == 1 })
		inject(h, back)
		synctest.Wait()
		if got := outbound(sp.host.Device("crypto0")); !bytes.Equal(got, back) {
			t.Fatalf("after the reload the spoke got %x", got)
		}
	})
}

// TestInMemoryCryptoDPDCountsESP: with `crypto isakmp keepalive 10 2`
// (on-demand) the hub reads its SAs' inbound ESP counters when DPD's
// timer fires: while the spoke sends ESP no R-U-THERE goes out; when the
// spoke falls quiet one does. With `periodic` R-U-THERE goes out every
// 10 s whatever the traffic.
func TestInMemoryCryptoDPDCountsESP(t *testing.T) {
	for _, mode := range []string{"", " periodic"} {
		t.Run("keepalive 10 2"+mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(22)
				logs := &nstest.SyncBuffer{}
				edits := []string{"crypto isakmp key", "crypto isakmp keepalive 10 2" + mode + "\ncrypto isakmp key"}
				hub := newMemDaemon(t, nw, doc004(t, "004-crypto-map-hub", edits...), func(o *Options) {
					o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				})
				hub.do("debug", "crypto", "isakmp")
				// The spoke runs no DPD of its own: its R-U-THEREs would be
				// proof of life for the hub, whose checks are what is tested
				// (which side's timer fired first made the test flaky).
				sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1"))
				dev := sp.host.Device("crypto0")
				inject(dev, udpPacket("198.19.1.1", "198.19.0.1", 10))
				waitFor(t, "the SA", func() bool { return len(saSPIs(t, hub)) == 1 })
				for range 8 { // 40 s of ESP from the spoke
					inject(dev, udpPacket("198.19.1.1", "198.19.0.1", 10))
					time.Sleep(5 * time.Second)
				}
				sent := strings.Count(logs.String(), "DPD/R_U_THERE sequence")
				if mode == "" && sent != 0 {
					t.Fatalf("on-demand: %d R-U-THERE while the spoke sent ESP", sent)
				}
				if mode != "" && sent < 3 {
					t.Fatalf("periodic: %d R-U-THERE in 40 s", sent)
				}
				time.Sleep(25 * time.Second) // the spoke quiet
				if n := strings.Count(logs.String(), "DPD/R_U_THERE sequence"); n <= sent {
					t.Errorf("no R-U-THERE once the spoke fell quiet (%d before, %d after)", sent, n)
				}
				if len(saSPIs(t, hub)) != 1 {
					t.Error("the SA went while the spoke answered")
				}
			})
		})
	}
}

// TestInMemoryCryptoLocalAddress: `crypto map NAME local-address
// Loopback0` makes the map's IKE and ESP use the loopback's address
// instead of the interface's (the spoke peers with that address), and a
// second interface carrying the same map shares the one service.
func TestInMemoryCryptoLocalAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(23)
		hubCfg := doc004(t, "004-crypto-map-hub") + "interface Ethernet0/1\n ip address 198.18.2.1 255.255.255.0\n crypto map HUB_SPOKEs\n" +
			"interface Loopback0\n ip address 198.18.9.1 255.255.255.255\ncrypto map HUB_SPOKEs local-address Loopback0\n"
		hub := newMemDaemon(t, nw, hubCfg)
		sp := newMemDaemon(t, nw, doc004(t, "004-crypto-map-spoke1", "address 198.18.1.1", "address 198.18.9.1", "set peer 198.18.1.1", "set peer 198.18.9.1"))
		if hub.host.Device("crypto1") != nil {
			t.Fatal("a second crypto service for the map's second interface")
		}
		h, s := hub.host.Device("crypto0"), sp.host.Device("crypto0")
		p := udpPacket("198.19.1.1", "198.19.0.1", 30)
		inject(s, p)
		waitFor(t, "the SA", func() bool { return len(saSPIs(t, hub)) == 1 })
		mustCross(t, "hub got", s, h, p)
		if text := hub.show(t, "crypto isakmp sa", false).Text; !strings.Contains(text, "198.18.9.1") || strings.Contains(text, "198.18.1.1") {
			t.Errorf("hub's show crypto isakmp sa:\n%s", text)
		}
		if text := hub.show(t, "crypto ipsec sa", false).Text; !strings.Contains(text, "local crypto endpt.: 198.18.9.1") {
			t.Errorf("hub's show crypto ipsec sa:\n%s", text)
		}
	})
}
