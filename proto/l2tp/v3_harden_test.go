package l2tp

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// rawSCCRQ is an SCCRQ over IP from a peer that will never answer.
func rawSCCRQ(ccid uint32) []byte {
	m := &l2tp.V3Message{Type: l2tp.MsgSCCRQ, HostName: "flood", RouterID: ccid, AssignedCCID: ccid,
		PWCapabilities: []l2tp.PWType{l2tp.PWEthernet}}
	m.Set(l2tp.AVPHostName, l2tp.AVPRouterID, l2tp.AVPAssignedCCID, l2tp.AVPPWCapabilities)
	b, _ := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, false, 0, 0, 0))
	_ = l2tp.FinishV3Control(b, false)
	return b
}

// TestV3SCCRQFlood: sources flooding SCCRQs each lose their own oldest
// half-open connection (StopCCN 2, error 4), the node holds no more than
// its half-open bounds, an established connection is never evicted, and
// a legitimate peer still gets through during the flood.
func TestV3SCCRQFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		b := newV3Peer(t, nw, v3B, false, V3Config{Limits: Limits{MaxHalfOpen: 8, MaxHalfOpenPerPeer: 4},
			OnRequest: xconnects(map[uint32]l2tp.PWType{100: l2tp.PWEthernet})})
		a := newV3Peer(t, nw, v3A, false, V3Config{})
		pw, err := a.node.Dial(context.Background(), b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 100))
		if err != nil {
			t.Fatal(err)
		}
		<-b.ups
		var stops atomic.Int64
		var flooders []*memnet.Conn
		for i := range 3 {
			fc, err := nw.ListenRaw(l2tp.IPProtoL2TPv3, netip.AddrFrom4([4]byte{198, 18, 3, byte(60 + i)}))
			if err != nil {
				t.Fatal(err)
			}
			defer fc.Close()
			go fc.Serve(func(p []byte, _ netip.AddrPort) {
				h, err := l2tp.ParseV3Control(p, false)
				if err != nil {
					return
				}
				var m l2tp.V3Message
				if m.Decode(h.Payload(p[:h.End]), nil) == nil && m.Type == l2tp.MsgStopCCN &&
					m.Result.Code == l2tp.StopGeneralError && m.Result.Error == l2tp.ErrCodeResources {
					stops.Add(1)
				}
			})
			flooders = append(flooders, fc)
		}
		const perSource = 50
		for k := range perSource {
			for i, fc := range flooders {
				_ = fc.WriteTo(rawSCCRQ(uint32(1000*(i+1)+k+1)), b.addr)
			}
			synctest.Wait()
			if st := b.node.Stats(); st.HalfOpen > 8 || st.Conns > 9 {
				t.Fatalf("after %d rounds: %d half-open, %d connections", k+1, st.HalfOpen, st.Conns)
			}
		}
		// A legitimate peer comes in during the flood.
		c := newV3Peer(t, nw, netip.MustParseAddr("198.18.3.3"), false, V3Config{})
		if _, err := c.node.Dial(context.Background(), b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 100)); err != nil {
			t.Fatalf("legitimate peer during the flood: %v", err)
		}
		<-b.ups
		st := b.node.Stats()
		if want := uint64(3*perSource - 8); st.HalfOpenEvicted < want {
			t.Fatalf("%d evicted, want at least %d", st.HalfOpenEvicted, want)
		}
		if stops.Load() == 0 {
			t.Fatal("no StopCCN with result 2, error 4 for the evicted")
		}
		if pw.Info().State != SnEstablished {
			t.Fatalf("established pseudowire: %v", pw.Info().State)
		}
		found := false
		for _, d := range st.Drops() {
			found = found || (d.Reason == "v3-half-open-evicted" && d.Count == st.HalfOpenEvicted)
		}
		if !found {
			t.Fatalf("drops %+v", st.Drops())
		}
	})
}

// noICCN turns our ICCNs into HELLOs on the wire: the peer's sessions
// stay half-open while reliable delivery stays in order.
type noICCN struct{ *memnet.Conn }

func (c noICCN) WriteTo(b []byte, to netip.AddrPort) error {
	if msgTypeOf(b, false) == l2tp.MsgICCN {
		b = append([]byte(nil), b...)
		off := l2tp.V3IPControlPrefix + l2tp.V3ControlHeaderLen
		binary.BigEndian.PutUint16(b[off+6:], uint16(l2tp.MsgHELLO))
	}
	return c.Conn.WriteTo(b, to)
}

// TestV3ICRQFlood: a peer that places pseudowires and never completes
// them loses its own oldest half-open ones (CDN 4, error 4) at the
// per-connection bound; the set-up timeout clears the rest; a
// legitimate peer's pseudowire comes up meanwhile.
func TestV3ICRQFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		b := newV3Peer(t, nw, v3B, false, V3Config{Limits: Limits{MaxHalfOpenSessionsPerTunnel: 4,
			MaxHalfOpenSessionsPerPeer: 4, MaxHalfOpenSessions: 6},
			Defaults:  V3Params{SessionSetupTimeout: 10 * time.Second},
			OnRequest: xconnects(map[uint32]l2tp.PWType{100: l2tp.PWEthernet})})
		fa := netip.MustParseAddr("198.18.3.66")
		fc, err := nw.ListenRaw(l2tp.IPProtoL2TPv3, fa)
		if err != nil {
			t.Fatal(err)
		}
		defer fc.Close()
		f, err := NewV3Node(V3Config{Conn: noICCN{fc}})
		if err != nil {
			t.Fatal(err)
		}
		go fc.Serve(f.HandlePacket)
		defer func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			f.Close(ctx)
		}()
		for range 20 {
			if _, err := f.Dial(context.Background(), b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 100)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if st := b.node.Stats(); st.HalfOpenSessions > 4 {
				t.Fatalf("%d half-open sessions", st.HalfOpenSessions)
			}
			drain(b.down)
		}
		a := newV3Peer(t, nw, v3A, false, V3Config{})
		if _, err := a.node.Dial(context.Background(), b.addr, V3Params{}, pwParams(l2tp.PWEthernet, 100)); err != nil {
			t.Fatalf("legitimate peer: %v", err)
		}
		<-b.ups
		synctest.Wait()
		st := b.node.Stats()
		if st.SessionEvicted < 16 || st.HalfOpenSessions > 4 {
			t.Fatalf("stats %+v", st)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		drain(b.down)
		if st := b.node.Stats(); st.HalfOpenSessions != 0 || st.SessionSetupTimeouts != 4 {
			t.Fatalf("after the set-up timeout: %+v", st)
		}
	})
}

// TestV3NoSessionTimeout: a connection whose pseudowires are gone is
// closed after the no-session timeout; one an Open asked for (l2tp hello
// keepalives) is not.
func TestV3NoSessionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		cls := V3Params{NoSessionTimeout: 10 * time.Second}
		b := newV3Peer(t, nw, v3B, false, V3Config{Defaults: V3Params{Hello: -1},
			OnRequest: xconnects(map[uint32]l2tp.PWType{100: l2tp.PWEthernet})})
		a := newV3Peer(t, nw, v3A, false, V3Config{})
		pw, err := a.node.Dial(context.Background(), b.addr, cls, pwParams(l2tp.PWEthernet, 100))
		if err != nil {
			t.Fatal(err)
		}
		<-b.ups
		c := pw.Conn()
		time.Sleep(time.Minute)
		synctest.Wait()
		if c.Stats().State != TunEstablished {
			t.Fatal("connection with a pseudowire closed")
		}
		pw.Close(l2tp.Result{Code: l2tp.CDNAdmin})
		<-a.down
		<-b.down
		time.Sleep(11 * time.Second)
		synctest.Wait()
		select {
		case <-c.Down():
		default:
			t.Fatal("sessionless connection still up after the no-session timeout")
		}
		if a.node.Stats().NoSessionClosed != 1 {
			t.Fatalf("stats %+v", a.node.Stats())
		}

		ka, err := a.node.Open(context.Background(), b.addr, cls)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if ka.Stats().State != TunEstablished {
			t.Fatal("keepalive-only connection closed by the no-session timeout")
		}
	})
}

func drain(c chan error) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// TestV3HelloCountsData: §4.4 — a HELLO goes out only after a period
// without any message from the peer, data included: while the peer's
// data arrives on a session, no HELLO; once it stops, HELLOs resume.
func TestV3HelloCountsData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		var rx atomic.Uint64
		b := newV3Peer(t, nw, v3B, false, V3Config{Defaults: V3Params{Hello: -1},
			OnRequest: xconnects(map[uint32]l2tp.PWType{100: l2tp.PWEthernet})})
		a := newV3Peer(t, nw, v3A, false, V3Config{DataRx: func(uint32) uint64 { return rx.Load() }})
		pw, err := a.node.Dial(context.Background(), b.addr, V3Params{Hello: 10 * time.Second}, pwParams(l2tp.PWEthernet, 100))
		if err != nil {
			t.Fatal(err)
		}
		<-b.ups
		for range 24 {
			rx.Add(1)
			time.Sleep(5 * time.Second)
		}
		synctest.Wait()
		if n := pw.Conn().Stats().HelloTx; n != 0 {
			t.Fatalf("%d HELLOs while data arrived", n)
		}
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if n := pw.Conn().Stats().HelloTx; n == 0 {
			t.Fatal("no HELLO after the data stopped")
		}
	})
}

// TestV3OutOfWindow: a message whose Ns is far beyond the receive window
// is dropped and counted as v3-out-of-window; the connection stays.
func TestV3OutOfWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		b := newV3Peer(t, nw, v3B, false, V3Config{Defaults: V3Params{Hello: -1}})
		a := newV3Peer(t, nw, v3A, false, V3Config{Defaults: V3Params{Hello: -1}})
		c, err := a.node.Open(context.Background(), b.addr, V3Params{Hello: -1})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		m := &l2tp.V3Message{Type: l2tp.MsgHELLO}
		msg, _ := m.AppendAVPs(l2tp.AppendV3ControlHeader(nil, false, c.LocalID(), 30000, 0))
		_ = l2tp.FinishV3Control(msg, false)
		a.node.HandlePacket(msg, b.addr)
		synctest.Wait()
		st := a.node.Stats()
		if st.OutOfWindow != 1 || c.Stats().State != TunEstablished {
			t.Fatalf("out of window %d, state %v", st.OutOfWindow, c.Stats().State)
		}
		found := false
		for _, d := range st.Drops() {
			found = found || (d.Reason == "v3-out-of-window" && d.Count == 1)
		}
		if !found {
			t.Fatalf("drops %v", st.Drops())
		}
	})
}
