package pptp

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/wire/pptp"
)

func TestFSMTables(t *testing.T) {
	seen := map[[2]uint8]bool{}
	for _, tr := range connFSM {
		k := [2]uint8{uint8(tr.from), uint8(tr.ev)}
		if seen[k] {
			t.Errorf("duplicate conn transition %v/%v", tr.from, tr.ev)
		}
		seen[k] = true
		if strings.Contains(tr.to.String(), "(") || strings.Contains(tr.ev.String(), "(") {
			t.Errorf("unnamed state or event in %+v", tr)
		}
	}
	seen = map[[2]uint8]bool{}
	for _, tr := range callFSM {
		k := [2]uint8{uint8(tr.from), uint8(tr.ev)}
		if seen[k] {
			t.Errorf("duplicate call transition %v/%v", tr.from, tr.ev)
		}
		seen[k] = true
		if strings.Contains(tr.to.String(), "(") || strings.Contains(tr.ev.String(), "(") {
			t.Errorf("unnamed state or event in %+v", tr)
		}
	}
	if to, ok := connNext(ConnIdle, CevSCCRQOK); !ok || to != ConnEstablished {
		t.Error("§3.1.2 idle + SCCRQ")
	}
	if _, ok := connNext(ConnEstablished, CevSCCRPOK); ok {
		t.Error("SCCRP accepted when established")
	}
	if to, ok := connNext(ConnEstablished, CevClose); !ok || to != ConnWaitStopReply {
		t.Error("§3.1.1 close -> wait_stop_reply")
	}
	if _, ok := callNext(CallDead, SevRxCDN); ok {
		t.Error("CDN on a dead call")
	}
	if to, ok := callNext(CallWaitAnswer, SevAcceptICRQ); !ok || to != CallWaitConnect {
		t.Error("§3.2.2.2 ICRP -> wait_connect")
	}
	if RolePAC.String() != "PAC" || ConnEstablished.Short() != "estabd" || SevRxCDN.String() != "Rx-CDN" ||
		ConnState(99).String() != "ConnState(99)" {
		t.Error("names")
	}
}

func TestNewNodeNeedsRole(t *testing.T) {
	if _, err := NewNode(Config{}); err == nil || !strings.HasPrefix(err.Error(), "pptp: ") {
		t.Fatalf("err = %v", err)
	}
}

// A PNS client dials a PAC concentrator (the Windows case), and a PAC
// dials a PNS (the RFC's NAS case).
func TestEstablishBothRoles(t *testing.T) {
	for _, pnsDials := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			pac := newNode(t, Config{Role: RolePAC, HostName: "lac1", VendorName: "v1", FirmwareRevision: 7})
			pns := newNode(t, Config{Role: RolePNS, HostName: "lns1"})
			a, b := streamPair()
			var dialer, server *Node = pns, pac
			dAddr, sAddr := pnsAddr, pacAddr
			if !pnsDials {
				dialer, server, dAddr, sAddr = pac, pns, pacAddr, pnsAddr
			}
			sc, err := server.Serve(b, sAddr, dAddr)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := dialer.Dial(context.Background(), a, dAddr, sAddr)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			ds, ss := dc.Stats(), sc.Stats()
			if ds.State != ConnEstablished || ss.State != ConnEstablished || !ds.Originator || ss.Originator {
				t.Fatalf("states %+v / %+v", ds, ss)
			}
			pacSide := ss
			if !pnsDials {
				pacSide = ds
			}
			if pacSide.PeerHostName != "lns1" {
				t.Errorf("PAC sees host %q", pacSide.PeerHostName)
			}
			if ds.PeerVersion != pptp.ProtocolVersion || ds.Peer != sAddr {
				t.Errorf("dialer stats %+v", ds)
			}
			if st := dialer.Stats(); st.Conns != 1 {
				t.Errorf("node stats %+v", st)
			}
			// At rest a connection has no writer goroutine; an echo
			// starts one for its message, and it ends again.
			for _, c := range []*Conn{dc, sc} {
				if writing(c) {
					t.Errorf("%v: a writer runs with nothing to write", c.peer)
				}
			}
			time.Sleep(2 * time.Minute) // past the Echo interval (60 s): both sides echo
			synctest.Wait()
			if ds := dc.Stats(); ds.EchoTx == 0 {
				t.Errorf("no echo sent: %+v", ds)
			}
			for _, c := range []*Conn{dc, sc} {
				if writing(c) {
					t.Errorf("%v: the writer did not end after the echo", c.peer)
				}
			}
			dc.Close(pptp.StopNone)
			synctest.Wait()
			<-dc.Done()
			<-sc.Done()
			if ce := closeErr(t, sc.Err()); ce.Msg != pptp.MsgStopCCRQ || !ce.Remote || ce.Result != uint8(pptp.StopNone) {
				t.Errorf("server err %v", sc.Err())
			}
			if ce := closeErr(t, dc.Err()); ce.Msg != pptp.MsgStopCCRQ || ce.Remote {
				t.Errorf("dialer err %v", dc.Err())
			}
			if n := len(dialer.Snapshot()) + len(server.Snapshot()); n != 0 {
				t.Errorf("%d connections left", n)
			}
		})
	}
}

// writing reports whether c's writer goroutine runs.
func writing(c *Conn) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.wrunning
}

// §3.1.3: both sides send SCCRQ at once; the higher address keeps its own
// connection and both Dials return the same one.
func TestCollision(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hi := newNode(t, Config{Role: RolePNS}) // pnsAddr 198.18.0.2
		lo := newNode(t, Config{Role: RolePAC}) // pacAddr 198.18.0.1
		hiOut, loIn := streamPair()
		loOut, hiIn := streamPair()
		type res struct {
			c   *Conn
			err error
		}
		hiRes, loRes := make(chan res, 1), make(chan res, 1)
		go func() { c, err := hi.Dial(context.Background(), hiOut, pnsAddr, pacAddr); hiRes <- res{c, err} }()
		go func() { c, err := lo.Dial(context.Background(), loOut, pacAddr, pnsAddr); loRes <- res{c, err} }()
		synctest.Wait() // both SCCRQs sent, both waiting for SCCRP
		tap := &writeCounter{Stream: hiIn}
		if _, err := hi.Serve(tap, pnsAddr, pacAddr); err != nil {
			t.Fatal(err)
		}
		if _, err := lo.Serve(loIn, pacAddr, pnsAddr); err != nil {
			t.Fatal(err)
		}
		h, l := <-hiRes, <-loRes
		if h.err != nil || l.err != nil {
			t.Fatalf("dials: %v / %v", h.err, l.err)
		}
		if !h.c.Stats().Originator || l.c.Stats().Originator {
			t.Error("the higher address's own connection should win")
		}
		synctest.Wait()
		// The loser always sees the collision. The winner sees it only
		// if the loser's SCCRQ reached it before the loser closed that
		// connection: io.Pipe buffers nothing, unlike TCP.
		if hs, ls := hi.Stats(), lo.Stats(); hs.CollisionWon > 1 || ls.CollisionLost != 1 || hs.Conns != 1 || ls.Conns != 1 {
			t.Errorf("stats hi %+v lo %+v", hs, ls)
		}
		// §3.1.3: the winner MUST NOT send on the loser's connection.
		if n := tap.n.Load(); n != 0 {
			t.Errorf("the winner wrote %d octets on the connection the loser opened", n)
		}
		// The connection works: a call goes through.
		call, err := h.c.Call(context.Background(), CallParams{PhoneNumber: "1"})
		if err != nil {
			t.Fatal(err)
		}
		call.Close(0)
	})
}

func TestEchoKeepalive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pac := newNode(t, Config{Role: RolePAC, EchoInterval: 60 * time.Second})
		pns := newNode(t, Config{Role: RolePNS, EchoInterval: -1})
		pc, nc := pairUp(t, pac, pns)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		st := pc.Stats()
		if st.State != ConnEstablished || st.EchoTx != 5 || st.EchoRx != 5 {
			t.Errorf("PAC after 5 min: %+v", st)
		}
		if ns := nc.Stats(); ns.EchoTx != 0 {
			t.Errorf("PNS with echo off sent %d", ns.EchoTx)
		}
	})
}

func TestEchoTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pac := newNode(t, Config{Role: RolePAC, EchoInterval: 30 * time.Second, EchoTimeout: 10 * time.Second})
		a, b := streamPair()
		c, _ := pac.Serve(b, pacAddr, pnsAddr)
		r := newRaw(t, a)
		r.send(sccrq())
		if m, ok := r.next().(*pptp.SCCRP); !ok || m.Result != pptp.SCCRPSuccess {
			t.Fatalf("got %+v", m)
		}
		start := time.Now()
		// The peer answers a first Echo-Request (and asks its own)...
		time.Sleep(30 * time.Second)
		req, ok := r.next().(*pptp.EchoRequest)
		if !ok {
			t.Fatal("no Echo-Request")
		}
		r.send(&pptp.EchoReply{ID: req.ID, Result: pptp.EchoOK})
		r.send(&pptp.EchoRequest{ID: 77})
		if m, ok := r.next().(*pptp.EchoReply); !ok || m.ID != 77 {
			t.Fatalf("echo answer %+v", m)
		}
		// ...then goes silent.
		<-c.Done()
		if !errors.Is(c.Err(), ErrEchoTimeout) {
			t.Fatalf("err %v", c.Err())
		}
		if d := time.Since(start); d != 70*time.Second {
			t.Errorf("closed after %v, want 30+30+10 s", d)
		}
		if !r.closed() || pac.Stats().EchoTimeouts != 1 {
			t.Errorf("stream open or stats %+v", pac.Stats())
		}
	})
}

func TestSetupTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePNS, SetupTimeout: 20 * time.Second})
		// No SCCRP.
		a, b := streamPair()
		r := newRaw(t, b)
		start := time.Now()
		_, err := n.Dial(context.Background(), a, pnsAddr, pacAddr)
		if !errors.Is(err, ErrSetupTimeout) || time.Since(start) != 20*time.Second {
			t.Fatalf("dial err %v after %v", err, time.Since(start))
		}
		if _, ok := r.next().(*pptp.SCCRQ); !ok {
			t.Error("no SCCRQ sent")
		}
		// No SCCRQ after TCP open.
		a, b = streamPair()
		c, _ := n.Serve(b, pnsAddr, pacAddr)
		newRaw(t, a)
		<-c.Done()
		if !errors.Is(c.Err(), ErrSetupTimeout) || n.Stats().SetupTimeouts != 2 {
			t.Errorf("serve err %v, stats %+v", c.Err(), n.Stats())
		}
	})
}

func TestStopTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePAC, StopTimeout: 5 * time.Second})
		a, b := streamPair()
		c, _ := n.Serve(b, pacAddr, pnsAddr)
		r := newRaw(t, a)
		r.send(sccrq())
		r.next()
		start := time.Now()
		c.Close(pptp.StopLocalShutdown)
		if m, ok := r.next().(*pptp.StopCCRQ); !ok || m.Reason != pptp.StopLocalShutdown {
			t.Fatalf("got %+v", m)
		}
		<-c.Done()
		if time.Since(start) != 5*time.Second || n.Stats().StopTimeouts != 1 {
			t.Errorf("after %v stats %+v", time.Since(start), n.Stats())
		}
		if ce := closeErr(t, c.Err()); ce.Msg != pptp.MsgStopCCRQ || ce.Result != uint8(pptp.StopLocalShutdown) {
			t.Errorf("err %v", ce)
		}
	})
}

// Version checks: §3.1.2 a receiver refuses an earlier version with SCCRP
// result 5; §3.1.1 an originator stops (reason 2) on an earlier SCCRP.
func TestVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePAC})
		a, b := streamPair()
		c, _ := n.Serve(b, pacAddr, pnsAddr)
		r := newRaw(t, a)
		old := sccrq()
		old.ProtocolVersion = 0x00ff
		r.send(old)
		if m, ok := r.next().(*pptp.SCCRP); !ok || m.Result != pptp.SCCRPBadVersion {
			t.Fatalf("got %+v", m)
		}
		<-c.Done()
		if !r.closed() {
			t.Error("TCP left open")
		}
		// A later version is answered with ours.
		a, b = streamPair()
		n.Serve(b, pacAddr, pnsAddr)
		r = newRaw(t, a)
		newer := sccrq()
		newer.ProtocolVersion = 0x0200
		r.send(newer)
		if m, ok := r.next().(*pptp.SCCRP); !ok || m.Result != pptp.SCCRPSuccess || m.ProtocolVersion != pptp.ProtocolVersion {
			t.Fatalf("got %+v", m)
		}
		// Originator side.
		a, b = streamPair()
		r = newRaw(t, b)
		errc := make(chan error, 1)
		go func() { _, err := n.Dial(context.Background(), a, pacAddr, pnsAddr); errc <- err }()
		r.next()
		r.send(&pptp.SCCRP{ProtocolVersion: 0x0001, Result: pptp.SCCRPSuccess})
		if m, ok := r.next().(*pptp.StopCCRQ); !ok || m.Reason != pptp.StopProtocol {
			t.Fatalf("got %+v", m)
		}
		r.send(&pptp.StopCCRP{Result: pptp.StopOK})
		if ce := closeErr(t, <-errc); ce.Msg != pptp.MsgStopCCRQ || ce.Result != uint8(pptp.StopProtocol) {
			t.Errorf("dial err %v", ce)
		}
		// An SCCRP refusal is returned as such.
		a, b = streamPair()
		r = newRaw(t, b)
		go func() { _, err := n.Dial(context.Background(), a, pacAddr, pnsAddr); errc <- err }()
		r.next()
		r.send(&pptp.SCCRP{ProtocolVersion: pptp.ProtocolVersion, Result: pptp.SCCRPNotAuthorized})
		if ce := closeErr(t, <-errc); ce.Msg != pptp.MsgSCCRP || !ce.Remote || ce.Result != uint8(pptp.SCCRPNotAuthorized) {
			t.Errorf("dial err %v", ce)
		}
		if n.Stats().BadVersion != 2 {
			t.Errorf("stats %+v", n.Stats())
		}
	})
}

func TestConnLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePAC, MaxConns: 1})
		_, b := streamPair()
		if _, err := n.Serve(b, pacAddr, pnsAddr); err != nil {
			t.Fatal(err)
		}
		a2, b2 := streamPair()
		if _, err := n.Serve(b2, pacAddr, pnsAddr); !errors.Is(err, ErrLimit) {
			t.Fatalf("err %v", err)
		}
		if _, err := a2.Write([]byte{1}); err == nil {
			t.Error("refused stream not closed")
		}
		if n.Stats().ConnLimit != 1 {
			t.Errorf("stats %+v", n.Stats())
		}
	})
}

func TestNodeClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pe events
		cfg := Config{Role: RolePAC}
		pe.hook(&cfg)
		pac := newNode(t, cfg)
		pns := newNode(t, Config{Role: RolePNS})
		_, nc := pairUp(t, pac, pns)
		for range 3 {
			if _, err := nc.Call(context.Background(), CallParams{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := pac.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-nc.Done()
		if ce := closeErr(t, nc.Err()); ce.Msg != pptp.MsgStopCCRQ || !ce.Remote || ce.Result != uint8(pptp.StopLocalShutdown) {
			t.Errorf("PNS err %v", ce)
		}
		if ups, downs := pe.counts(); ups != 3 || downs != 3 {
			t.Errorf("PAC ups %d downs %d", ups, downs)
		}
		a, b := streamPair()
		_ = a
		if _, err := pac.Serve(b, pacAddr, pnsAddr); !errors.Is(err, ErrClosed) {
			t.Errorf("serve after close: %v", err)
		}
	})
}

// writeCounter counts what is written to a stream.
type writeCounter struct {
	Stream
	n atomic.Int64
}

func (w *writeCounter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.Stream.Write(b)
}

// TestHalfOpenBound: TCP connections that never send SCCRQ cost at most
// MaxHalfOpen; the oldest is closed for each one beyond, and counted; a
// peer that does speak still gets its connection.
func TestHalfOpenBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, Config{Role: RolePAC, MaxHalfOpen: 3})
		var peers []*memStream
		for range 5 {
			a, b := streamPair()
			if _, err := n.Serve(b, pacAddr, pnsAddr); err != nil {
				t.Fatal(err)
			}
			peers = append(peers, a)
		}
		synctest.Wait()
		st := n.Stats()
		if st.HalfOpenEvicted != 2 || st.HalfOpen != 3 || st.Conns != 3 {
			t.Fatalf("stats %+v, want 2 evicted and 3 half-open", st)
		}
		for i, a := range peers[:2] {
			if _, err := a.Write([]byte{0}); err == nil {
				t.Errorf("the %d. silent connection is still open", i+1)
			}
		}
		pns := newNode(t, Config{Role: RolePNS})
		if pc, _ := pairUp(t, n, pns); pc.Stats().State != ConnEstablished {
			t.Errorf("a speaking peer was refused: %+v", pc.Stats())
		}
		// Its arrival evicted one more silent connection; once
		// established it is no longer half-open.
		if st := n.Stats(); st.HalfOpen != 2 || st.HalfOpenEvicted != 3 {
			t.Errorf("stats %+v, want 2 half-open and 3 evicted", st)
		}
	})
}
