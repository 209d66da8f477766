package l2tp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

var (
	v3A = netip.MustParseAddr("198.18.3.1")
	v3B = netip.MustParseAddr("198.18.3.2")
)

type v3peer struct {
	node *V3Node
	conn *memnet.Conn
	addr netip.AddrPort // where the peer sends to reach this node
	ups  chan *Pseudowire
	down chan error
	circ chan bool
	log  *logLines
}

// newV3Peer starts a node on IP protocol 115 (udp=false) or UDP 1701 at a.
func newV3Peer(t testing.TB, nw *memnet.Network, a netip.Addr, udp bool, cfg V3Config) *v3peer {
	t.Helper()
	var c *memnet.Conn
	var err error
	addr := netip.AddrPortFrom(a, 0)
	if udp {
		addr = netip.AddrPortFrom(a, l2tp.UDPPort)
		c, err = nw.Listen(addr)
	} else {
		c, err = nw.ListenRaw(l2tp.IPProtoL2TPv3, a)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &v3peer{conn: c, addr: addr, ups: make(chan *Pseudowire, 16), down: make(chan error, 16),
		circ: make(chan bool, 16), log: &logLines{}}
	cfg.Conn, cfg.OverUDP = c, udp
	if cfg.Logger == nil {
		cfg.Logger = slog.New(p.log)
	}
	if cfg.OnUp == nil {
		cfg.OnUp = func(s *Pseudowire) { p.ups <- s }
	}
	cfg.OnDown = func(_ *Pseudowire, err error) { p.down <- err }
	cfg.OnCircuit = func(_ *Pseudowire, up bool) { p.circ <- up }
	n, err := NewV3Node(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.node = n
	go c.Serve(n.HandlePacket)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n.Close(ctx)
		c.Close()
	})
	return p
}

// xconnects is a responder's table: VCID -> pseudowire type.
func xconnects(table map[uint32]l2tp.PWType) func(PWRequest) PWAnswer {
	return func(r PWRequest) PWAnswer {
		for vcid, typ := range table {
			if bytes.Equal(RemoteEndIDForVCID(vcid), r.RemoteEndID) {
				return PWAnswer{Accept: true, Params: PWParams{Type: typ, CookieLen: 4, L2SS: true}}
			}
		}
		return PWAnswer{Result: l2tp.Result{Code: l2tp.CDNNoFacilities, HasError: true, Message: "unknown VCID"}}
	}
}

func pwParams(typ l2tp.PWType, vcid uint32) PWParams {
	return PWParams{Type: typ, RemoteEndID: RemoteEndIDForVCID(vcid), CookieLen: 8, L2SS: true}
}

// TestV3Pseudowires: an Ethernet and an Ethernet VLAN pseudowire over one
// control connection, over IP and over UDP, without and with digests of
// both types: IDs and cookies cross-match, circuit status travels by
// SLI, and CDN tears a pseudowire down.
func TestV3Pseudowires(t *testing.T) {
	for _, tc := range []struct {
		name   string
		udp    bool
		secret string
		hash   uint8
	}{
		{"ip", false, "", 0}, {"udp", true, "", 0},
		{"ip-md5", false, "cisco", l2tp.DigestHMACMD5}, {"udp-sha1", true, "cisco", l2tp.DigestHMACSHA1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.New(1)
				cls := V3Params{Secret: []byte(tc.secret), DigestType: tc.hash, Class: "L2TP_Class"}
				b := newV3Peer(t, nw, v3B, tc.udp, V3Config{RouterID: 2, HostName: "R9", Defaults: cls,
					OnRequest: xconnects(map[uint32]l2tp.PWType{100: l2tp.PWEthernet, 200: l2tp.PWEthernetVLAN})})
				a := newV3Peer(t, nw, v3A, tc.udp, V3Config{RouterID: 1, HostName: "R5"})
				ctx := context.Background()
				var readyInfo PWInfo
				pp := pwParams(l2tp.PWEthernet, 100)
				pp.Ready = func(_ *Pseudowire, in PWInfo) { readyInfo = in }
				pw, err := a.node.Dial(ctx, b.addr, cls, pp)
				if err != nil {
					t.Fatal(err)
				}
				rpw := <-b.ups
				ai, bi := pw.Info(), rpw.Info()
				if ai.LocalSessionID != bi.RemoteSessionID || ai.RemoteSessionID != bi.LocalSessionID ||
					ai.LocalCCID != bi.RemoteCCID || ai.RemoteCCID != bi.LocalCCID {
					t.Fatalf("IDs do not match: %+v / %+v", ai, bi)
				}
				if ai.LocalCookie.Len() != 8 || bi.LocalCookie.Len() != 4 ||
					ai.LocalCookie.String() != bi.RemoteCookie.String() || bi.LocalCookie.String() != ai.RemoteCookie.String() {
					t.Fatalf("cookies: %v/%v vs %v/%v", ai.LocalCookie, ai.RemoteCookie, bi.LocalCookie, bi.RemoteCookie)
				}
				if readyInfo.RemoteSessionID != ai.RemoteSessionID || !ai.L2SS || !bi.L2SS || bi.Type != l2tp.PWEthernet ||
					!bytes.Equal(bi.RemoteEndID, RemoteEndIDForVCID(100)) || bi.PeerName != "R5" || ai.PeerName != "R9" {
					t.Fatalf("info %+v / %+v (ready %+v)", ai, bi, readyInfo)
				}
				cs := b.node.Conns()[0].Stats()
				if cs.PeerRouterID != 1 || cs.Digest != (tc.secret != "") || cs.State != TunEstablished || cs.Class != "L2TP_Class" {
					t.Fatalf("control connection %+v", cs)
				}

				// A second pseudowire to the same peer shares the
				// connection (one per peer pair and l2tp-class).
				vpw, err := a.node.Dial(ctx, b.addr, cls, pwParams(l2tp.PWEthernetVLAN, 200))
				if err != nil {
					t.Fatal(err)
				}
				<-b.ups
				if vpw.Info().LocalCCID != ai.LocalCCID || len(a.node.Conns()) != 1 || len(b.node.Conns()) != 1 {
					t.Fatal("second pseudowire opened another control connection")
				}

				// Circuit status: SLI (§5.4.5).
				pw.SetCircuit(false)
				if up := <-b.circ; up {
					t.Fatal("remote circuit reported up")
				}
				if rpw.Info().RemoteCircuit {
					t.Fatal("remote circuit state not recorded")
				}
				pw.SetCircuit(true)
				if up := <-b.circ; !up {
					t.Fatal("remote circuit reported down")
				}

				pw.Close(l2tp.Result{Code: l2tp.CDNAdmin})
				var ce *CloseError
				if err := <-b.down; !errors.As(err, &ce) || !ce.Remote || ce.Result.Code != l2tp.CDNAdmin {
					t.Fatalf("peer's end: %v", err)
				}
				<-a.down
				if st := b.node.Stats(); st.DigestFailed+st.NoDigest+st.BadAVP != 0 {
					t.Fatalf("drops %+v", st)
				}
				if !a.log.has("Control channel up") || !b.log.has("Ethernet pseudowire established") {
					a.log.dump(t)
					t.Fatal("debug lines missing")
				}
			})
		})
	}
}

// TestV3Lossy: set-up with digests over a network that drops, duplicates
// and reorders; hellos keep the connection through idle time.
func TestV3Lossy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(7)
		nw.SetFaults(memnet.Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.2, Delay: time.Millisecond, Jitter: 30 * time.Millisecond})
		cls := V3Params{Secret: []byte("s3cret"), Hello: 10 * time.Second,
			Retransmit: RetransmitParams{InitialRetries: 10, Retries: 10}}
		table := map[uint32]l2tp.PWType{}
		for v := uint32(1); v <= 6; v++ {
			table[v] = l2tp.PWEthernet
		}
		b := newV3Peer(t, nw, v3B, false, V3Config{Defaults: cls, OnRequest: xconnects(table)})
		a := newV3Peer(t, nw, v3A, false, V3Config{})
		for v := uint32(1); v <= 6; v++ {
			if _, err := a.node.Dial(context.Background(), b.addr, cls, pwParams(l2tp.PWEthernet, v)); err != nil {
				t.Fatalf("VCID %d: %v", v, err)
			}
		}
		for range 6 {
			<-b.ups
		}
		time.Sleep(2 * time.Minute) // idle: hellos, retransmitted through loss
		synctest.Wait()
		cs := a.node.Conns()
		if len(cs) != 1 || cs[0].Stats().State != TunEstablished || cs[0].Stats().HelloTx == 0 {
			t.Fatalf("connections %d, %+v", len(cs), cs[0].Stats())
		}
		if st := b.node.Stats(); st.DigestFailed != 0 || st.Sessions != 6 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestV3DigestFailure: a peer with another secret never gets a
// connection: its SCCRQ is dropped and counted, never acknowledged; a
// forged message on an established connection is dropped too.
func TestV3DigestFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		b := newV3Peer(t, nw, v3B, true, V3Config{Defaults: V3Params{Secret: []byte("right")},
			OnRequest: xconnects(map[uint32]l2tp.PWType{1: l2tp.PWEthernet})})
		a := newV3Peer(t, nw, v3A, true, V3Config{})
		_, err := a.node.Dial(context.Background(), b.addr, V3Params{Secret: []byte("wrong")}, pwParams(l2tp.PWEthernet, 1))
		if !errors.Is(err, ErrPeerUnreachable) {
			t.Fatalf("dial with the wrong secret: %v", err)
		}
		if st := b.node.Stats(); st.DigestFailed == 0 {
			t.Fatalf("digest failures not counted: %+v", st)
		}

		// The right secret works; then a forged HELLO (zero digest) to
		// B's connection is dropped and not acknowledged.
		pw, err := a.node.Dial(context.Background(), b.addr, V3Params{Secret: []byte("right")}, pwParams(l2tp.PWEthernet, 1))
		if err != nil {
			t.Fatal(err)
		}
		<-b.ups
		synctest.Wait()
		bc := b.node.Conns()[0]
		before, failed := bc.Stats(), b.node.Stats().DigestFailed
		m := &l2tp.V3Message{Type: l2tp.MsgHELLO, Digests: []l2tp.MessageDigest{{Type: l2tp.DigestHMACMD5, Digest: make([]byte, 16)}}}
		m.Set(l2tp.AVPMessageDigest)
		raw, _ := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, true, bc.LocalID(), 9, 9))
		_ = l2tp.FinishV3Control(raw, true)
		b.node.HandlePacket(raw, a.addr)
		synctest.Wait()
		after := bc.Stats()
		if b.node.Stats().DigestFailed != failed+1 || after.CtrlRx != before.CtrlRx || after.ZLBTx != before.ZLBTx {
			t.Fatalf("forged HELLO: failures %d, before %+v after %+v", b.node.Stats().DigestFailed, before, after)
		}
		if pw.Info().State != SnEstablished {
			t.Fatal("pseudowire hurt by a forged message")
		}
	})
}

// TestV3TieBreak: both LCCEs open a control connection to each other at
// once (§5.4.3): one connection survives and carries both pseudowires.
func TestV3TieBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(3)
		// A one-way delay keeps both SCCRQs in flight at once.
		nw.SetFaults(memnet.Faults{Delay: 10 * time.Millisecond})
		a := newV3Peer(t, nw, v3A, false, V3Config{HostName: "A", OnRequest: xconnects(map[uint32]l2tp.PWType{2: l2tp.PWEthernet})})
		b := newV3Peer(t, nw, v3B, false, V3Config{HostName: "B", OnRequest: xconnects(map[uint32]l2tp.PWType{1: l2tp.PWEthernet})})
		errs := make(chan error, 2)
		go func() {
			_, err := a.node.Dial(context.Background(), b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 1))
			errs <- err
		}()
		go func() {
			_, err := b.node.Dial(context.Background(), a.addr, V3Params{}, pwParams(l2tp.PWEthernet, 2))
			errs <- err
		}()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		time.Sleep(time.Minute) // the loser's connection is gone by then
		synctest.Wait()
		ac, bc := a.node.Conns(), b.node.Conns()
		if len(ac) != 1 || len(bc) != 1 || ac[0].Stats().RemoteID != bc[0].LocalID() {
			t.Fatalf("connections: %d and %d", len(ac), len(bc))
		}
		if ac[0].Stats().Sessions != 2 {
			t.Fatalf("sessions on the surviving connection: %d", ac[0].Stats().Sessions)
		}
		if a.node.Stats().TieBreakLost+b.node.Stats().TieBreakLost == 0 {
			t.Fatal("no tie detected")
		}
	})
}

// TestV3Refusals: an ICRQ with a pseudowire type that does not match
// the xconnect gets CDN result 14, an unknown VCID result 5, an unknown
// mandatory AVP in an ICRQ result 2 / error 8 (§5.2), and one in an
// SCCRQ a StopCCN with result 2 / error 8.
func TestV3Refusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		b := newV3Peer(t, nw, v3B, true, V3Config{OnRequest: xconnects(map[uint32]l2tp.PWType{1: l2tp.PWEthernetVLAN, 2: l2tp.PWEthernet})})
		a := newV3Peer(t, nw, v3A, true, V3Config{})
		ctx := context.Background()
		var ce *CloseError
		_, err := a.node.Dial(ctx, b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 1))
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.CDNPWType || !errors.Is(err, ErrPWType) {
			t.Fatalf("wrong type: %v", err)
		}
		_, err = a.node.Dial(ctx, b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 99))
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.CDNNoFacilities || !ce.Remote {
			t.Fatalf("unknown VCID: %v", err)
		}
		_, err = a.node.Dial(ctx, b.addr, V3Params{}, pwParams(l2tp.PWFrameRelay, 2))
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.CDNPWType {
			t.Fatalf("type not in our capabilities: %v", err)
		}

		// An unknown mandatory AVP (IETF type 200, M set) in an ICRQ.
		c := a.node.Conns()[0]
		unknown := []byte{0x80, 8, 0, 0, 0, 200, 0, 1}
		c.post(func() { c.testAVPs = map[l2tp.MsgType][]byte{l2tp.MsgICRQ: unknown} })
		_, err = a.node.Dial(ctx, b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 2))
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.CDNGeneralError || ce.Result.Error != l2tp.ErrCodeUnknownMandatory {
			t.Fatalf("unknown mandatory AVP in ICRQ: %v", err)
		}
		if c.Stats().State != TunEstablished {
			t.Fatal("the control connection went down for a session's AVP")
		}

		// The same in an SCCRQ, sent by hand from a third address.
		x, err := nw.Listen(netip.MustParseAddrPort("198.18.3.3:1701"))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		m := &l2tp.V3Message{Type: l2tp.MsgSCCRQ, HostName: "x", RouterID: 3, AssignedCCID: 77,
			PWCapabilities: []l2tp.PWType{l2tp.PWEthernet}}
		m.Set(l2tp.AVPHostName, l2tp.AVPRouterID, l2tp.AVPAssignedCCID, l2tp.AVPPWCapabilities)
		raw, _ := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, true, 0, 0, 0))
		raw = append(raw, unknown...)
		_ = l2tp.FinishV3Control(raw, true)
		if err := x.WriteTo(raw, b.addr); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		for range 5 {
			n, _, err := x.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			h, err := l2tp.ParseV3Control(buf[:n], true)
			if err != nil || h.CCID != 77 {
				t.Fatalf("reply %x: %v", buf[:n], err)
			}
			var r l2tp.V3Message
			if len(h.Payload(buf[:n])) == 0 {
				continue // a ZLB
			}
			if err := r.Decode(h.Payload(buf[:n]), nil); err != nil {
				t.Fatal(err)
			}
			if r.Type != l2tp.MsgStopCCN || r.Result.Code != l2tp.StopGeneralError || r.Result.Error != l2tp.ErrCodeUnknownMandatory {
				t.Fatalf("reply %v %+v", r.Type, r.Result)
			}
			return
		}
		t.Fatal("no StopCCN")
	})
}

// TestV3Open: a control connection without sessions (the keepalive of
// a manual session) comes up, sends HELLOs when idle, and its end is
// seen when the peer goes away.
func TestV3Open(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		cls := V3Params{Secret: []byte("k"), Hello: 5 * time.Second, Retransmit: RetransmitParams{Retries: 5, TimeoutMax: 2 * time.Second}}
		b := newV3Peer(t, nw, v3B, false, V3Config{Defaults: cls})
		a := newV3Peer(t, nw, v3A, false, V3Config{})
		c, err := a.node.Open(context.Background(), b.addr, cls)
		if err != nil {
			t.Fatal(err)
		}
		if c2, err := a.node.Open(context.Background(), b.addr, cls); err != nil || c2 != c {
			t.Fatalf("second Open: %v, same connection %v", err, c2 == c)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		// HELLOs cross the idle connection: from whichever end's
		// (jittered) timer fires first, the other's then reset by it.
		hellos := c.Stats().HelloTx
		for _, bc := range b.node.Conns() {
			hellos += bc.Stats().HelloTx
		}
		if st := c.Stats(); st.State != TunEstablished || hellos == 0 || st.Sessions != 0 {
			t.Fatalf("after a minute idle (%d HELLOs from both ends): %+v", hellos, st)
		}
		// The peer vanishes: the hellos go unanswered and the
		// connection ends.
		b.conn.Close()
		select {
		case <-c.Down():
		case <-time.After(5 * time.Minute):
			t.Fatal("connection to a dead peer still up")
		}
		<-c.Done()
		if !errors.Is(c.Err(), ErrPeerUnreachable) {
			t.Fatalf("end: %v", c.Err())
		}
	})
}

// TestV3OpenDuringIncomingSCCRQ: B begins its own Open to A after A's
// SCCRQ has reached B's node but before B knows its parameters (the
// moment the node's §5.4.3 check has passed and B's connection for the
// peer is not yet offered for reuse). Both ends are then opening at once;
// the tie breaker is applied again when the parameters are known, so the
// two end with one control connection, which both Opens return.
func TestV3OpenDuringIncomingSCCRQ(t *testing.T) {
	for round := range 8 {
		synctest.Test(t, func(t *testing.T) {
			nw := memnet.New(uint64(round) + 1)
			cls := V3Params{Secret: []byte("k"), DigestType: l2tp.DigestHMACMD5, Class: "HELLO", Hello: 5 * time.Second}
			var b *v3peer
			bOpen := make(chan *V3Conn, 1)
			started := false
			b = newV3Peer(t, nw, v3B, false, V3Config{RouterID: 2, HostName: "B", Incoming: func(netip.AddrPort, string) (V3Params, bool) {
				if !started {
					started = true
					go func() {
						c, err := b.node.Open(context.Background(), netip.AddrPortFrom(v3A, 0), cls)
						if err != nil {
							t.Errorf("B's Open: %v", err)
						}
						bOpen <- c
					}()
					// B's own connection exists (and its SCCRQ is on the
					// way) before this SCCRQ's parameters are known.
					for len(b.node.Conns()) < 2 {
						time.Sleep(time.Millisecond)
					}
				}
				return cls, true
			}})
			a := newV3Peer(t, nw, v3A, false, V3Config{RouterID: 1, HostName: "A", Incoming: func(netip.AddrPort, string) (V3Params, bool) { return cls, true }})
			ca, err := a.node.Open(context.Background(), netip.AddrPortFrom(v3B, 0), cls)
			if err != nil {
				t.Fatalf("A's Open: %v", err)
			}
			cb := <-bOpen
			time.Sleep(2 * time.Minute) // the losing half-open connection's setup timeout
			synctest.Wait()
			sa, _ := a.node.Snapshot()
			sb, _ := b.node.Snapshot()
			if len(sa) != 1 || len(sb) != 1 || sa[0].State != TunEstablished || sb[0].State != TunEstablished {
				t.Fatalf("round %d: A has %+v\nB has %+v", round, sa, sb)
			}
			if cb == nil || sa[0].LocalID != ca.LocalID() || sb[0].LocalID != cb.LocalID() || sa[0].RemoteID != cb.LocalID() {
				t.Fatalf("round %d: the Opens returned %v and %v, the connection is %d-%d", round, ca, cb, sa[0].LocalID, sa[0].RemoteID)
			}
		})
	}
}
