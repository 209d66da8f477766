package l2tp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// rawLAC is a hand-driven LAC for the flood tests: it opens a tunnel with
// SCCRQ/SCCCN, then sends whatever the test asks, acknowledging every
// message of the LNS with a ZLB (it is a live peer, not a dead one).
type rawLAC struct {
	c    *memnet.Conn
	to   netip.AddrPort
	mu   sync.Mutex
	tid  uint16 // the LNS's tunnel ID
	ns   uint16
	nr   uint16
	cdns map[uint16]int // CDN result codes received
	last l2tp.Result    // the last CDN's result
	stop *l2tp.Message  // StopCCN received
	up   chan struct{}
	down chan struct{} // closed by the StopCCN
}

func dialRaw(t *testing.T, nw *memnet.Network, from, to netip.AddrPort, ourTID uint16) *rawLAC {
	t.Helper()
	c, err := nw.Listen(from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawLAC{c: c, to: to, cdns: map[uint16]int{}, up: make(chan struct{}), down: make(chan struct{})}
	go c.Serve(r.recv)
	m := &l2tp.Message{Type: l2tp.MsgSCCRQ, ProtocolVersion: 1, HostName: "raw", FramingCaps: 3, AssignedTunnelID: ourTID}
	m.Set(l2tp.AVPProtocolVersion, l2tp.AVPHostName, l2tp.AVPFramingCapabilities, l2tp.AVPAssignedTunnelID)
	r.send(m, 0)
	return r
}

func (r *rawLAC) recv(b []byte, _ netip.AddrPort) {
	h, err := l2tp.ParseHeader(b)
	if err != nil || !h.IsControl() || len(h.Payload(b)) == 0 {
		return
	}
	var m l2tp.Message
	_ = m.Decode(h.Payload(b), nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.Ns != r.nr {
		r.c.WriteTo(l2tp.AppendZLB(nil, r.tid, r.ns, r.nr), r.to)
		return
	}
	r.nr++
	switch m.Type {
	case l2tp.MsgSCCRP:
		r.tid = m.AssignedTunnelID
		c := &l2tp.Message{Type: l2tp.MsgSCCCN}
		b, _ := c.Append(nil, r.tid, 0, r.ns, r.nr, nil)
		r.ns++
		r.c.WriteTo(b, r.to)
		close(r.up)
		return
	case l2tp.MsgCDN:
		r.cdns[m.Result.Code]++
		r.last = m.Result
	case l2tp.MsgStopCCN:
		if r.stop == nil {
			r.stop = &m
			close(r.down)
		}
	}
	r.c.WriteTo(l2tp.AppendZLB(nil, r.tid, r.ns, r.nr), r.to)
}

func (r *rawLAC) send(m *l2tp.Message, sid uint16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := m.Append(nil, r.tid, sid, r.ns, r.nr, nil)
	if err != nil {
		panic(err)
	}
	r.ns++
	r.c.WriteTo(b, r.to)
}

func (r *rawLAC) icrq(sid uint16) {
	m := &l2tp.Message{Type: l2tp.MsgICRQ, AssignedSessionID: sid, CallSerialNumber: uint32(sid)}
	m.Set(l2tp.AVPAssignedSessionID, l2tp.AVPCallSerialNumber)
	r.send(m, 0)
}

func (r *rawLAC) cdnCount(code uint16) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cdns[code]
}

// TestHalfOpenEvictionFair: a peer flooding ICRQs on two tunnels loses
// its own oldest half-open calls at the per-tunnel and per-peer bounds; at
// the node bound a second flooder's calls evict the heaviest peer's, not
// its own; nobody's established sessions are touched; the session set-up
// timeout then clears every half-open call.
func TestHalfOpenEvictionFair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(131)
		lim := Limits{MaxHalfOpenSessionsPerTunnel: 8, MaxHalfOpenSessionsPerPeer: 12, MaxHalfOpenSessions: 16}
		lns := newPeer(t, nw, lnsAddr, Config{Limits: lim,
			Defaults: TunnelParams{SessionSetupTimeout: 10 * time.Second, Hello: -1}})
		lac := newPeer(t, nw, lacAddr, Config{})
		var good []*Session
		for range 5 {
			s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{Hello: -1}, CallParams{})
			if err != nil {
				t.Fatal(err)
			}
			good = append(good, s)
		}
		start := time.Now()
		evil := netip.MustParseAddr("198.18.0.66")
		a1 := dialRaw(t, nw, netip.AddrPortFrom(evil, 1701), lnsAddr, 11)
		a2 := dialRaw(t, nw, netip.AddrPortFrom(evil, 1702), lnsAddr, 12)
		<-a1.up
		<-a2.up
		for i := range 100 {
			a1.icrq(uint16(1000 + i))
			a2.icrq(uint16(2000 + i))
			synctest.Wait()
			if st := lns.node.Stats(); st.HalfOpenSessions > lim.MaxHalfOpenSessionsPerPeer {
				t.Fatalf("%d half-open sessions from one peer, bound %d", st.HalfOpenSessions, lim.MaxHalfOpenSessionsPerPeer)
			}
		}
		st := lns.node.Stats()
		if st.HalfOpenSessions != lim.MaxHalfOpenSessionsPerPeer || st.SessionEvicted != 200-uint64(lim.MaxHalfOpenSessionsPerPeer) {
			t.Fatalf("half-open %d, evicted %d", st.HalfOpenSessions, st.SessionEvicted)
		}
		if got := a1.cdnCount(l2tp.CDNNoFacilitiesTmp) + a2.cdnCount(l2tp.CDNNoFacilitiesTmp); got != int(st.SessionEvicted) {
			t.Fatalf("flooder got %d CDN result 4, %d evicted", got, st.SessionEvicted)
		}
		// A second flooding address: at the node bound the heaviest peer
		// (the first) pays, the newcomer keeps its calls.
		b := dialRaw(t, nw, netip.MustParseAddrPort("198.18.0.67:1701"), lnsAddr, 13)
		<-b.up
		before := a1.cdnCount(l2tp.CDNNoFacilitiesTmp) + a2.cdnCount(l2tp.CDNNoFacilitiesTmp)
		for i := range 6 {
			b.icrq(uint16(3000 + i))
		}
		synctest.Wait()
		after := a1.cdnCount(l2tp.CDNNoFacilitiesTmp) + a2.cdnCount(l2tp.CDNNoFacilitiesTmp)
		if b.cdnCount(l2tp.CDNNoFacilitiesTmp) != 0 || after-before != 2 {
			t.Fatalf("newcomer lost %d, heaviest lost %d; want 0 and 2", b.cdnCount(l2tp.CDNNoFacilitiesTmp), after-before)
		}
		if st := lns.node.Stats(); st.HalfOpenSessions != lim.MaxHalfOpenSessions {
			t.Fatalf("half-open %d, want the node bound %d", st.HalfOpenSessions, lim.MaxHalfOpenSessions)
		}
		// The legitimate LAC still sets up calls, and lost none.
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{Hello: -1}, CallParams{})
		if err != nil {
			t.Fatalf("Dial during the flood: %v", err)
		}
		good = append(good, s)
		// The session set-up timeout clears every half-open call: CDN
		// result 10 at 10 s after its ICRQ.
		time.Sleep(10*time.Second - time.Since(start) + time.Second)
		synctest.Wait()
		st = lns.node.Stats()
		// Every flood call ended, evicted or timed out; the legitimate
		// call placed at the node bound cost the heaviest peer one more.
		if st.HalfOpenSessions != 0 || st.SessionSetupTimeouts+st.SessionEvicted != 206 || b.cdnCount(l2tp.CDNTimeout) != 6 {
			t.Fatalf("after the set-up timeout: %d half-open, %d timed out, %d evicted, newcomer got %d CDN 10",
				st.HalfOpenSessions, st.SessionSetupTimeouts, st.SessionEvicted, b.cdnCount(l2tp.CDNTimeout))
		}
		for _, s := range good {
			if s.Stats().State != SnEstablished {
				t.Fatal("an established session was lost")
			}
		}
		if st.Sessions != len(good) {
			t.Fatalf("LNS holds %d sessions, want %d", st.Sessions, len(good))
		}
		lac.close(t)
		lns.close(t)
	})
}

// TestNoSessionTimeout: a tunnel without sessions is closed with StopCCN
// result 1 exactly NoSessionTimeout after its last session ended; one with
// a session stays.
func TestNoSessionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(132)
		lns := newPeer(t, nw, lnsAddr, Config{Defaults: TunnelParams{NoSessionTimeout: 10 * time.Second}})
		lac := newPeer(t, nw, lacAddr, Config{})
		s, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if s.Stats().State != SnEstablished {
			t.Fatal("a tunnel with a session was closed")
		}
		s.Close(l2tp.Result{Code: l2tp.CDNAdmin})
		<-s.Done()
		tun := s.Tunnel()
		<-tun.Done()
		var ce *CloseError
		if err := tun.Err(); !errors.As(err, &ce) || !ce.Remote || ce.Result.Code != l2tp.StopClear {
			t.Fatalf("tunnel ended with %v", err)
		}
		// The LAC's tunnel ends after its §5.7 hold; the StopCCN left
		// the LNS at 10 s.
		if st := lns.node.Stats(); st.NoSessionClosed != 1 {
			t.Fatalf("NoSessionClosed %d", st.NoSessionClosed)
		}
		lac.close(t)
		lns.close(t)
	})
}

// TestNoSessionTimeoutExact checks the instant the idle tunnel is closed,
// with a raw LAC that opens a tunnel and never places a call.
func TestNoSessionTimeoutExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(133)
		lns := newPeer(t, nw, lnsAddr, Config{Defaults: TunnelParams{NoSessionTimeout: 10 * time.Second}})
		r := dialRaw(t, nw, lacAddr, lnsAddr, 5)
		<-r.up
		synctest.Wait()
		up := time.Now()
		<-r.down
		if d := time.Since(up); d != 10*time.Second {
			t.Fatalf("StopCCN %v after establishment, want 10s", d)
		}
		if r.stop.Result.Code != l2tp.StopClear {
			t.Fatalf("StopCCN result %d", r.stop.Result.Code)
		}
		lns.close(t)
	})
}

// TestTunnelLimitPerPeer: beyond MaxTunnelsPerPeer established tunnels,
// an address's SCCRQ gets a stateless StopCCN result 2, error 4; another
// address is still served.
func TestTunnelLimitPerPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(134)
		lns := newPeer(t, nw, lnsAddr, Config{Limits: Limits{MaxTunnelsPerPeer: 2}})
		evil := netip.MustParseAddr("198.18.0.66")
		for i := range 2 {
			r := dialRaw(t, nw, netip.AddrPortFrom(evil, uint16(2000+i)), lnsAddr, uint16(20+i))
			<-r.up
		}
		synctest.Wait()
		r := dialRaw(t, nw, netip.AddrPortFrom(evil, 3000), lnsAddr, 30)
		synctest.Wait()
		r.mu.Lock()
		stop := r.stop
		r.mu.Unlock()
		if stop == nil || stop.Result.Code != l2tp.StopGeneralError || stop.Result.Error != l2tp.ErrCodeResources {
			t.Fatalf("third tunnel from one address: StopCCN %+v", stop)
		}
		if st := lns.node.Stats(); st.TunnelLimit != 1 || st.Tunnels != 2 {
			t.Fatalf("TunnelLimit %d, %d tunnels", st.TunnelLimit, st.Tunnels)
		}
		lac := newPeer(t, nw, lacAddr, Config{})
		if _, err := lac.node.Dial(context.Background(), lnsAddr, TunnelParams{}, CallParams{}); err != nil {
			t.Fatalf("another address: %v", err)
		}
		lac.close(t)
		lns.close(t)
	})
}

// TestZeroSessionID: an ICRQ with Assigned Session ID 0 (§4.4.4 requires
// non-zero) is refused with CDN result 2, error 5 on session 0, and
// counted as a bad AVP; no session is made.
func TestZeroSessionID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(135)
		lns := newPeer(t, nw, lnsAddr, Config{})
		r := dialRaw(t, nw, lacAddr, lnsAddr, 5)
		<-r.up
		synctest.Wait()
		r.icrq(0)
		synctest.Wait()
		if r.cdnCount(l2tp.CDNGeneralError) != 1 || r.last.Error != l2tp.ErrCodeSessionID {
			t.Fatalf("CDNs %v, last %+v", r.cdns, r.last)
		}
		if st := lns.node.Stats(); st.BadAVP != 1 || st.Sessions != 0 {
			t.Fatalf("BadAVP %d, sessions %d", st.BadAVP, st.Sessions)
		}
		lns.close(t)
	})
}

// TestFreedSessionIDsNotReused: a session ID freed is not handed out
// again within the tunnel's next recentIDs frees (the carrier may still
// hold its data path: under an ICRQ flood a reused ID collided with the
// evicted call's data-plane session, and the new call was refused).
func TestFreedSessionIDsNotReused(t *testing.T) {
	n := &Node{rng: rand.New(rand.NewPCG(1, 2)), lim: Limits{}.withDefaults()}
	tu := &Tunnel{n: n, sessions: map[uint16]*Session{}, p: TunnelParams{}}
	freedAt := map[uint16]int{}
	for i := range 20000 {
		s, err := tu.newSession(false, false, &CallParams{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if at, ok := freedAt[s.localID]; ok && i-at < recentIDs {
			t.Fatalf("session ID %d handed out %d allocations after it was freed", s.localID, i-at)
		}
		s.finishQuiet()
		freedAt[s.localID] = i
	}
	if len(tu.recent) != recentIDs || len(tu.recentSet) > recentIDs {
		t.Fatalf("remembered %d IDs (%d distinct), want %d", len(tu.recent), len(tu.recentSet), recentIDs)
	}
}
