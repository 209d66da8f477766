package l2tp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// TestIncomingCall: a LAC dials an LNS, PPP frames flow both ways, the
// session and then the tunnel are torn down with CDN and StopCCN.
func TestIncomingCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		lnsLog, lacLog := &logLines{}, &logLines{}
		ups := make(chan *Session, 1)
		downs := make(chan error, 1)
		lns := newPeer(t, nw, lnsAddr, Config{Logger: slog.New(lnsLog),
			Incoming: func(p netip.AddrPort, host string) (TunnelParams, bool) {
				return TunnelParams{LocalName: "LNS", Secret: []byte("cisco123"), Hidden: true}, host == "LAC"
			},
			OnSessionUp:   func(s *Session) { ups <- s },
			OnSessionDown: func(s *Session, err error) { downs <- err },
		})
		lac := newPeer(t, nw, lacAddr, Config{Logger: slog.New(lacLog)})
		tp := TunnelParams{LocalName: "LAC", Secret: []byte("cisco123"), Hidden: true, Sequencing: true}
		proxy := &ProxyInfo{AuthType: l2tp.ProxyAuthPAP, AuthName: "alice", AuthResponse: []byte("pw"),
			InitialRecvLCP: []byte{1, 4, 5, 0xdc}}
		s, err := lac.node.Dial(context.Background(), lnsAddr, tp, CallParams{CallingNumber: "5551234", Proxy: proxy})
		if err != nil {
			t.Fatal(err)
		}
		ls := <-ups
		li, ri := s.Info(), ls.Info()
		if li.LocalSessionID != ri.RemoteSessionID || li.RemoteSessionID != ri.LocalSessionID ||
			li.LocalTunnelID != ri.RemoteTunnelID || li.RemoteTunnelID != ri.LocalTunnelID {
			t.Fatalf("IDs do not match: %+v vs %+v", li, ri)
		}
		if !li.Sequencing || !ri.Sequencing || ri.PeerName != "LAC" || li.PeerName != "LNS" || ri.Peer != lacAddr {
			t.Fatalf("info %+v / %+v", li, ri)
		}
		p := ri.Call.Proxy
		if p == nil || p.AuthName != "alice" || string(p.AuthResponse) != "pw" || !bytes.Equal(p.InitialRecvLCP, proxy.InitialRecvLCP) ||
			ri.Call.CallingNumber != "5551234" {
			t.Fatalf("proxy data on the LNS: %+v", ri.Call)
		}

		// Data messages are the data plane's: the node counts and drops one.
		lns.node.HandlePacket(append(l2tp.AppendDataHeader(nil, ri.LocalTunnelID, ri.LocalSessionID, false, 0, 2), 0xff, 0x03), lacAddr)
		if st := lns.node.Stats(); st.DataMessages != 1 {
			t.Fatalf("data message not counted: %+v", st)
		}

		// Snapshot for show commands.
		ts, ss := lns.node.Snapshot()
		if len(ts) != 1 || ts[0].State != TunEstablished || ts[0].PeerName != "LAC" || ts[0].Sessions != 1 ||
			len(ss) != 1 || ss[0].Username != "alice" || ss[0].CallingNumber != "5551234" {
			t.Fatalf("snapshot %+v %+v", ts, ss)
		}

		// A second Dial reuses the tunnel.
		s2, err := lac.node.Dial(context.Background(), lnsAddr, tp, CallParams{})
		if err != nil {
			t.Fatal(err)
		}
		<-ups
		if s2.Tunnel() != s.Tunnel() || len(lac.node.Tunnels()) != 1 {
			t.Fatal("tunnel not reused")
		}

		s.CloseQ931(l2tp.Result{Code: l2tp.CDNAdmin}, l2tp.Q931{Cause: 16, Msg: 0x5a})
		err = <-downs
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Msg != l2tp.MsgCDN || ce.Result.Code != l2tp.CDNAdmin || !ce.Remote || ce.Q931.Cause != 16 {
			t.Fatalf("LNS saw %v", err)
		}
		<-s.Done()

		s.Tunnel().Close(l2tp.Result{Code: l2tp.StopClear})
		<-s2.Done()
		<-downs
		<-s.Tunnel().Done()
		for _, tn := range lns.node.Tunnels() {
			<-tn.Done()
			if !errors.As(tn.Err(), &ce) || ce.Result.Code != l2tp.StopClear || !ce.Remote {
				t.Fatalf("LNS tunnel end: %v", tn.Err())
			}
		}
		lac.close(t)
		lns.close(t)

		for _, want := range []string{"FSM-CC Idle->Proc-SCCRQ", "FSM-CC Proc-SCCRQ->Wt-SCCCN", "FSM-CC Wt-SCCCN->Proc-SCCCN",
			"FSM-CC Proc-SCCCN->established", "FSM-Sn ev Rx-ICRQ", "FSM-Sn Idle->Proc-ICRQ", "FSM-Sn Wt-Tx-ICRP->Wt-Rx-ICCN",
			"FSM-Sn Proc-ICCN->established", "Tunnel Authentication success"} {
			if !lnsLog.has(want) {
				lnsLog.dump(t)
				t.Fatalf("LNS log lacks %q", want)
			}
		}
		if !lacLog.has("FSM-CC Idle->Wt-SCCRP") || !lacLog.has("FSM-Sn Wt-ICRP->established") {
			lacLog.dump(t)
			t.Fatal("LAC log")
		}
	})
}

func TestWrongTunnelPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(2)
		lns := newPeer(t, nw, lnsAddr, Config{Defaults: TunnelParams{LocalName: "LNS", Secret: []byte("right")}})
		lac := newPeer(t, nw, lacAddr, Config{})
		_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{LocalName: "LAC", Secret: []byte("wrong")}, CallParams{})
		var ce *CloseError
		// The LAC checks the LNS's Challenge Response in SCCRP and refuses
		// with StopCCN result 4 (§4.4.2: not authorized).
		if !errors.As(err, &ce) || ce.Msg != l2tp.MsgStopCCN || ce.Result.Code != l2tp.StopNotAuthorized || !errors.Is(err, ErrTunnelAuth) {
			t.Fatalf("Dial: %v", err)
		}
		synctest.Wait()
		for _, tn := range lns.node.Tunnels() {
			<-tn.Done()
			if !errors.As(tn.Err(), &ce) || ce.Result.Code != l2tp.StopNotAuthorized || !ce.Remote {
				t.Fatalf("LNS got %v", tn.Err())
			}
		}
		lac.close(t)
		lns.close(t)
	})
}

func TestWrongPasswordLNSChecks(t *testing.T) {
	// The LAC has no secret but the LNS does: the LNS challenges, the LAC
	// cannot answer and refuses with result 4.
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(3)
		lns := newPeer(t, nw, lnsAddr, Config{Defaults: TunnelParams{Secret: []byte("right")}})
		lac := newPeer(t, nw, lacAddr, Config{})
		_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.StopNotAuthorized {
			t.Fatalf("Dial: %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}

// rawPeer speaks L2TP by hand to test reactions to bad input.
type rawPeer struct {
	c  *memnet.Conn
	in chan []byte
}

func newRaw(t *testing.T, nw *memnet.Network, addr netip.AddrPort) *rawPeer {
	c, err := nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawPeer{c, make(chan []byte, 100)}
	t.Cleanup(func() { c.Close() })
	go c.Serve(func(b []byte, _ netip.AddrPort) { r.in <- append([]byte(nil), b...) })
	return r
}

// next returns the next non-ZLB control message.
func (r *rawPeer) next(t *testing.T) (l2tp.Header, *l2tp.Message) {
	for {
		b := <-r.in
		h, err := l2tp.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Payload(b)) == 0 {
			continue
		}
		var m l2tp.Message
		if err := m.Decode(h.Payload(b), nil); err != nil {
			t.Fatal(err)
		}
		return h, &m
	}
}

func TestUnknownMandatoryAVP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(4)
		lns := newPeer(t, nw, lnsAddr, Config{})
		raw := newRaw(t, nw, lacAddr)
		m := &l2tp.Message{Type: l2tp.MsgSCCRQ, ProtocolVersion: 1, HostName: "raw", FramingCaps: 3, AssignedTunnelID: 77}
		m.Set(l2tp.AVPProtocolVersion, l2tp.AVPHostName, l2tp.AVPFramingCapabilities, l2tp.AVPAssignedTunnelID)
		b, _ := m.Append(nil, 0, 0, 0, 0, nil)
		e := l2tp.NewAVPEncoder(b)
		e.Raw(true, 0, 99, []byte{1, 2}) // unknown, M set
		b, _ = e.Bytes()
		l2tp.FinishControl(b)
		raw.c.WriteTo(b, lnsAddr)
		h, r := raw.next(t)
		if r.Type != l2tp.MsgStopCCN || h.TunnelID != 77 || r.Result.Code != l2tp.StopGeneralError ||
			r.Result.Error != l2tp.ErrCodeUnknownMandatory {
			t.Fatalf("got %v %+v", r.Type, r.Result)
		}
		raw.c.Close()
		lns.close(t)
	})
}

func TestTunnelSetupTimeout(t *testing.T) {
	// The peer acknowledges SCCRQ but never answers it.
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(5)
		raw := newRaw(t, nw, lnsAddr)
		lac := newPeer(t, nw, lacAddr, Config{})
		go func() {
			b := <-raw.in
			h, _ := l2tp.ParseHeader(b)
			var m l2tp.Message
			m.Decode(h.Payload(b), nil)
			raw.c.WriteTo(l2tp.AppendZLB(nil, m.AssignedTunnelID, 0, h.Ns+1), lacAddr)
		}()
		start := time.Now()
		_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{SetupTimeout: 20 * time.Second}, CallParams{})
		if !errors.Is(err, ErrSetupTimeout) {
			t.Fatalf("Dial: %v", err)
		}
		if d := time.Since(start); d != 20*time.Second {
			t.Fatalf("timed out after %v", d)
		}
		raw.c.Close()
		lac.close(t)
	})
}

func TestSessionSetupTimeout(t *testing.T) {
	// The LNS owner never answers the call: the LNS sends CDN result 10
	// after the setup timeout (§4.4.2) and the LAC's Dial fails with it.
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(6)
		lns := newPeer(t, nw, lnsAddr, Config{OnCall: func(*Call) {}, Defaults: TunnelParams{SetupTimeout: 10 * time.Second}})
		lac := newPeer(t, nw, lacAddr, Config{})
		_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{SetupTimeout: time.Minute}, CallParams{})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Msg != l2tp.MsgCDN || ce.Result.Code != l2tp.CDNTimeout || !ce.Remote {
			t.Fatalf("Dial: %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}

func TestCallRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(7)
		lns := newPeer(t, nw, lnsAddr, Config{OnCall: func(c *Call) {
			c.Reject(l2tp.Result{Code: l2tp.CDNNoFacilities, HasError: true, Message: "no pool"})
		}})
		lac := newPeer(t, nw, lacAddr, Config{})
		_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.CDNNoFacilities || ce.Result.Message != "no pool" {
			t.Fatalf("Dial: %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}

// TestPeerFallsSilent: HELLO and its retransmissions detect a dead peer.
// Both clocks: the runtime's timers and a timing wheel.
func TestPeerFallsSilent(t *testing.T) {
	t.Run("real", func(t *testing.T) { testPeerFallsSilent(t, false) })
	t.Run("wheel", func(t *testing.T) { testPeerFallsSilent(t, true) })
}

func testPeerFallsSilent(t *testing.T, useWheel bool) {
	synctest.Test(t, func(t *testing.T) {
		var clk clock.Clock
		if useWheel {
			w := clock.NewWheel(0, 0)
			defer w.Close()
			clk = w
		}
		nw := memnet.New(8)
		lns := newPeer(t, nw, lnsAddr, Config{Clock: clk})
		lac := newPeer(t, nw, lacAddr, Config{Clock: clk})
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{Hello: 10 * time.Second}, CallParams{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // fake time: the ICCN's ack goes out
		// The LNS vanishes without a word.
		for _, tn := range lns.node.Tunnels() {
			tn.kill()
		}
		lns.conn.Close()
		start := time.Now()
		<-s.Done()
		// 10 s of silence, then HELLO and its 5 retransmissions (1+2+4+8+8+8 s).
		if d := time.Since(start); d < 10*time.Second+31*time.Second-time.Second || d > 45*time.Second {
			t.Errorf("detected after %v", d)
		}
		if !errors.Is(s.Err(), ErrPeerUnreachable) || s.Tunnel().Stats().HelloTx != 1 {
			t.Fatalf("session end: %v, hello %d", s.Err(), s.Tunnel().Stats().HelloTx)
		}
		lac.close(t)
		lns.close(t)
	})
}

func TestOutgoingCallAndLinkInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(9)
		sli := make(chan l2tp.ACCM, 1)
		wen := make(chan l2tp.CallErrors, 1)
		lacUp := make(chan *Session, 1)
		lac := newPeer(t, nw, lacAddr, Config{
			OnCall: func(c *Call) {
				if !c.Outgoing || c.Params.CalledNumber != "5550000" {
					c.Reject(l2tp.Result{Code: l2tp.CDNInvalidDest})
					return
				}
				c.Accept()
			},
			OnSessionUp: func(s *Session) { lacUp <- s },
			OnSLI:       func(_ *Session, a l2tp.ACCM) { sli <- a },
		})
		lns := newPeer(t, nw, lnsAddr, Config{OnWEN: func(_ *Session, e l2tp.CallErrors) { wen <- e }})
		s, err := lns.node.DialOutgoing(context.Background(), lacAddr, TunnelParams{}, CallParams{CalledNumber: "5550000"})
		if err != nil {
			t.Fatal(err)
		}
		ls := <-lacUp
		if !s.Info().Outgoing || s.Info().LAC || !ls.Info().LAC || ls.Info().RemoteSessionID != s.Info().LocalSessionID {
			t.Fatalf("%+v %+v", s.Info(), ls.Info())
		}
		s.SendSLI(l2tp.ACCM{Send: 0xffffffff, Recv: 0})
		ls.SendWEN(l2tp.CallErrors{CRC: 3})
		if a := <-sli; a.Send != 0xffffffff {
			t.Fatal(a)
		}
		if e := <-wen; e.CRC != 3 {
			t.Fatal(e)
		}
		_, err = lns.node.DialOutgoing(context.Background(), lacAddr, TunnelParams{}, CallParams{CalledNumber: "1"})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Result.Code != l2tp.CDNInvalidDest {
			t.Fatalf("rejected call: %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}

// portChanger sends from another port than the one it receives on, like
// an LNS that answers SCCRQ from an ephemeral port (§8.1).
func TestPeerPortChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(10)
		listen, _ := nw.Listen(lnsAddr)
		eph, _ := nw.Listen(netip.MustParseAddrPort("198.18.0.1:50123"))
		lnsNode, _ := NewNode(Config{Conn: eph})
		go listen.Serve(lnsNode.HandlePacket)
		go eph.Serve(lnsNode.HandlePacket)
		lac := newPeer(t, nw, lacAddr, Config{})
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		if err != nil {
			t.Fatal(err)
		}
		if p := s.Info().Peer; p != eph.LocalAddr() {
			t.Fatalf("peer %v, want the SCCRP's port", p)
		}
		lac.close(t)
		lnsNode.Close(context.Background())
		listen.Close()
		eph.Close()
	})
}

func TestTieBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(11)
		nw.SetFaults(memnet.Faults{Delay: 10 * time.Millisecond}) // the SCCRQs cross
		a := newPeer(t, nw, lnsAddr, Config{})
		b := newPeer(t, nw, lacAddr, Config{})
		errs := make(chan error, 2)
		go func() {
			_, err := a.node.Dial(context.Background(), lacAddr, TunnelParams{}, CallParams{})
			errs <- err
		}()
		go func() {
			_, err := b.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
			errs <- err
		}()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if a.node.Stats().TieBreakLost+b.node.Stats().TieBreakLost == 0 {
			t.Fatal("SCCRQs did not cross; tie-break not exercised")
		}
		synctest.Wait()
		if na, nb := len(a.node.Tunnels()), len(b.node.Tunnels()); na != 1 || nb != 1 {
			t.Fatalf("%d and %d tunnels after the tie-break, want one each", na, nb)
		}
		a.close(t)
		b.close(t)
	})
}

// TestUnknownAVPInCall: an unknown mandatory AVP in ICRQ costs the call
// (CDN result 2, error 8, §4.1) but not the tunnel; an unknown optional
// one is skipped and counted.
func TestUnknownAVPInCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(14)
		lns := newPeer(t, nw, lnsAddr, Config{})
		lac := newPeer(t, nw, lacAddr, Config{})
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		if err != nil {
			t.Fatal(err)
		}
		tn := s.Tunnel()
		avp := func(m bool, typ l2tp.AVPType) []byte {
			e := l2tp.NewAVPEncoder(nil)
			e.Raw(m, 0, typ, []byte{1})
			b, _ := e.Bytes()
			return b
		}
		tn.post(func() { tn.testAVPs = map[l2tp.MsgType][]byte{l2tp.MsgICRQ: avp(true, 200)} })
		_, err = lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Msg != l2tp.MsgCDN || ce.Result.Code != l2tp.CDNGeneralError ||
			ce.Result.Error != l2tp.ErrCodeUnknownMandatory || !ce.Remote {
			t.Fatalf("Dial: %v", err)
		}
		tn.post(func() { tn.testAVPs = map[l2tp.MsgType][]byte{l2tp.MsgICRQ: avp(false, 200)} })
		if _, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{}); err != nil {
			t.Fatalf("optional unknown AVP refused: %v", err)
		}
		lt := lns.node.Tunnels()[0].Stats()
		if lt.State != TunEstablished || lt.UnknownAVPs != 1 || lt.Sessions != 2 {
			t.Fatalf("LNS tunnel %+v", lt)
		}
		lac.close(t)
		lns.close(t)
	})
}

// FuzzNodeInput feeds arbitrary datagrams to an LNS with an established
// tunnel and session: as a new SCCRQ (tunnel 0), and addressed to the live
// tunnel and session. Nothing may panic or wedge the tunnel goroutine; the
// bubble checks every goroutine ends.
func FuzzNodeInput(f *testing.F) {
	for _, s := range []string{
		"c802 0014 0000 0000 0000 0000 8008 0000 0000 0001",
		"c802 0014 0001 0000 0001 0001 8008 0000 0000 0006",
		"c802 000c 0001 0000 0004 0003",
		"4802 0010 0001 0001 0000 0000 ff03 c021",
		"c802 0022 0001 0001 0001 0001 8008 0000 0000 000e 800a 0000 0001 0003 0000 8008 0000 000e 0001",
	} {
		b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, addressed bool) {
		synctest.Test(t, func(t *testing.T) {
			nw := memnet.New(1)
			lns := newPeer(t, nw, lnsAddr, Config{})
			lac := newPeer(t, nw, lacAddr, Config{})
			s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
			if err != nil {
				t.Fatal(err)
			}
			in := append([]byte(nil), b...)
			if addressed && len(in) >= 8 {
				// Aim at the live tunnel and session, whatever the flags.
				off := 2
				if in[0]&0x40 != 0 {
					off = 4
				}
				if len(in) >= off+4 {
					binary.BigEndian.PutUint16(in[off:], s.Info().RemoteTunnelID)
					binary.BigEndian.PutUint16(in[off+2:], s.Info().RemoteSessionID)
				}
			}
			lns.node.HandlePacket(in, lacAddr)
			synctest.Wait()
			lns.node.Snapshot()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			lac.node.Close(ctx)
			lns.node.Close(ctx)
		})
	})
}

// TestLNSRefusesHostname: an SCCRQ whose Host Name matches no vpdn-group
// ("terminate-from hostname") is refused with StopCCN result 4.
func TestLNSRefusesHostname(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(15)
		lns := newPeer(t, nw, lnsAddr, Config{Incoming: func(_ netip.AddrPort, host string) (TunnelParams, bool) {
			return TunnelParams{RemoteName: "LAC"}, true // terminate-from hostname LAC
		}})
		lac := newPeer(t, nw, lacAddr, Config{})
		_, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{LocalName: "intruder"}, CallParams{})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Msg != l2tp.MsgStopCCN || ce.Result.Code != l2tp.StopNotAuthorized || !ce.Remote {
			t.Fatalf("Dial: %v", err)
		}
		if _, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{LocalName: "LAC"}, CallParams{}); err != nil {
			t.Fatalf("the right hostname: %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}
