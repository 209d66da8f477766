package ppp

import (
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/internal/clock"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// scripted is a Link whose peer is a test function: every frame the link
// sends is handed to script (on the link's goroutine), which may answer
// through reply.
type scripted struct {
	r    *Runner
	l    *Link
	h    *recorder
	sent *sentLog
	mu   sync.Mutex
}

func newScripted(t *testing.T, cfg Config, script func(s *scripted, proto wire.Protocol, p wire.Packet)) *scripted {
	t.Helper()
	s := &scripted{r: NewRunner(), h: &recorder{}, sent: &sentLog{}}
	cfg.Name = "S"
	cfg.Post = s.r.Post
	cfg.Handler = s.h
	cfg.AddressControl = true
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	cfg.Output = OutputFunc(func(b []byte) error {
		s.sent.add(b)
		proto, payload, err := wire.ParseFrame(b)
		if err != nil {
			t.Errorf("malformed frame %x", b)
			return nil
		}
		p, err := wire.ParsePacket(payload)
		if err == nil && script != nil {
			script(s, proto, p)
		}
		return nil
	})
	l, err := NewLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.l = l
	t.Cleanup(s.r.Close)
	return s
}

// reply delivers a control packet from the scripted peer to the link.
func (s *scripted) reply(proto wire.Protocol, code wire.Code, id uint8, data []byte) {
	f := wire.Framing{AddressControl: true}.Append(nil, proto)
	f = wire.AppendPacket(f, code, id, data)
	s.r.Post(func() { s.l.Input(f) })
}

// TestMaxFailureWeRefuse: a peer that insists on MRU 10 gets Max-Failure
// Naks, then Rejects, and when even those do not end the loop the link
// gives up (RFC 1661 §4.6).
func TestMaxFailureWeRefuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var peerID uint8
		badReq := wire.AppendOptionUint16(nil, wire.LCPOptMRU, 10)
		s := newScripted(t, Config{}, func(s *scripted, proto wire.Protocol, p wire.Packet) {
			if proto != wire.ProtoLCP {
				return
			}
			switch p.Code {
			case wire.ConfReq:
				s.reply(proto, wire.ConfAck, p.ID, p.Data)
				if peerID == 0 {
					peerID++
					s.reply(proto, wire.ConfReq, peerID, badReq)
				}
			case wire.ConfNak, wire.ConfRej:
				peerID++
				s.reply(proto, wire.ConfReq, peerID, badReq)
			case wire.TermReq:
				s.reply(proto, wire.TermAck, p.ID, nil)
			}
		})
		s.r.Post(s.l.Start)
		synctest.Wait()
		naks, rejs := s.sent.count(wire.ProtoLCP, wire.ConfNak), s.sent.count(wire.ProtoLCP, wire.ConfRej)
		if naks != 5 || rejs != 5 {
			t.Fatalf("sent %d Naks and %d Rejects, want 5 and 5 (Max-Failure 5)", naks, rejs)
		}
		if r, ok := s.h.linkDown(); !ok || !strings.Contains(r, "did not converge") {
			t.Fatalf("down %v %q", ok, r)
		}
		if s.sent.count(wire.ProtoLCP, wire.TermReq) != 1 {
			t.Fatal("no Terminate-Request")
		}
	})
}

// TestMaxFailurePeerRefuses: a peer that Naks every request with a value
// this end cannot take ends the loop too.
func TestMaxFailurePeerRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, Config{}, func(s *scripted, proto wire.Protocol, p wire.Packet) {
			switch p.Code {
			case wire.ConfReq:
				s.reply(proto, wire.ConfNak, p.ID, wire.AppendOptionUint16(nil, wire.LCPOptMRU, 10))
			case wire.TermReq:
				s.reply(proto, wire.TermAck, p.ID, nil)
			}
		})
		start := time.Now()
		s.r.Post(s.l.Start)
		synctest.Wait()
		if r, ok := s.h.linkDown(); !ok || !strings.Contains(r, "did not converge") {
			t.Fatalf("down %v %q", ok, r)
		}
		if n := s.sent.count(wire.ProtoLCP, wire.ConfReq); n != 11 {
			t.Fatalf("sent %d requests, want 11", n)
		}
		if time.Since(start) != 0 {
			t.Fatalf("the loop took %v: it should end without waiting for timers", time.Since(start))
		}
	})
}

// TestRestartTimerRecoversLoss drops the first two LCP requests of one end
// and the first IPCP Ack of the other: the Restart timer brings the link up.
func TestRestartTimerRecoversLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lns, cli, w := newPair(t, lnsConfig(users, &fakePool{}, aaa.CHAP), clientConfig("labuser", "labpass"))
		var mu sync.Mutex
		dropped := map[string]int{}
		w.setDrop(func(from string, frame []byte) bool {
			proto, payload, _ := wire.ParseFrame(frame)
			mu.Lock()
			defer mu.Unlock()
			key := ""
			switch {
			case from == "A" && proto == wire.ProtoLCP && payload[0] == byte(wire.ConfReq):
				key = "lcp-req"
			case from == "B" && proto == wire.ProtoIPCP && payload[0] == byte(wire.ConfAck):
				key = "ipcp-ack"
			case from == "B" && proto == wire.ProtoCHAP:
				key = "chap-resp"
			default:
				return false
			}
			limit := map[string]int{"lcp-req": 2, "ipcp-ack": 1, "chap-resp": 1}[key]
			if dropped[key] < limit {
				dropped[key]++
				return true
			}
			return false
		})
		start := time.Now()
		var upAt time.Time
		startBoth(lns, cli)
		for range 600 {
			time.Sleep(100 * time.Millisecond)
			_, ok1 := cli.h.up(wire.ProtoIPCP)
			_, ok2 := lns.h.up(wire.ProtoIPCP)
			if ok1 && ok2 {
				upAt = time.Now()
				break
			}
		}
		synctest.Wait()
		if _, ok := cli.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("client not up")
		}
		if _, ok := lns.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("lns not up")
		}
		// Two lost LCP requests cost two Restart intervals; the lost CHAP
		// Response and IPCP Ack one more each.
		if d := upAt.Sub(start); d < 12*time.Second || d > 13*time.Second {
			t.Fatalf("up after %v, want 12 s (four Restart intervals)", d)
		}
		if dropped["lcp-req"] != 2 || dropped["ipcp-ack"] != 1 || dropped["chap-resp"] != 1 {
			t.Fatalf("dropped %v", dropped)
		}
	})
}

// TestSilentPeer: nobody answers. After Max-Configure requests, Restart
// apart, LCP gives up in Stopped (RFC 1661 §4.1, TO-: tlf/3).
func TestSilentPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, Config{}, nil)
		start := time.Now()
		s.r.Post(s.l.Start)
		synctest.Wait()
		time.Sleep(time.Hour)
		synctest.Wait()
		r, ok := s.h.linkDown()
		if !ok || r != "LCP negotiation timed out (Max-Configure)" {
			t.Fatalf("down %v %q", ok, r)
		}
		if n := s.sent.count(wire.ProtoLCP, wire.ConfReq); n != 10 {
			t.Fatalf("%d requests, want Max-Configure = 10", n)
		}
		var st State
		s.r.Do(func() { st = s.l.lcp.state })
		if st != Stopped {
			t.Fatalf("LCP in %s", st)
		}
		_ = start
	})
	// With other counters.
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, Config{MaxConfigure: 3, Restart: time.Second}, nil)
		start := time.Now()
		var downAt time.Time
		s.r.Post(s.l.Start)
		for {
			time.Sleep(100 * time.Millisecond)
			if _, ok := s.h.linkDown(); ok {
				downAt = time.Now()
				break
			}
		}
		if n := s.sent.count(wire.ProtoLCP, wire.ConfReq); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
		if d := downAt.Sub(start); d < 3*time.Second || d > 3100*time.Millisecond {
			t.Fatalf("gave up after %v, want 3 s", d)
		}
	})
}

// TestTerminateUnanswered: closing toward a vanished peer sends
// Max-Terminate requests and then finishes.
func TestTerminateUnanswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lns, cli, w := newPair(t, Config{}, Config{})
		startBoth(lns, cli)
		synctest.Wait()
		var st State
		lns.r.Do(func() { st = lns.l.lcp.state })
		if st != Opened {
			t.Fatalf("LCP %s", st)
		}
		w.setDrop(func(string, []byte) bool { return true })
		start := time.Now()
		lns.r.Post(func() { lns.l.Close("Administratively closed") })
		time.Sleep(time.Minute)
		synctest.Wait()
		r, ok := lns.h.linkDown()
		if !ok || r != "Administratively closed" {
			t.Fatalf("down %v %q", ok, r)
		}
		if n := lns.sent.count(wire.ProtoLCP, wire.TermReq); n != 2 {
			t.Fatalf("%d Terminate-Requests, want Max-Terminate = 2", n)
		}
		_ = start
	})
}

// TestEchoDeadPeer: keepalives pass while the peer answers; when it goes
// silent, KeepaliveMisses unanswered echoes end the link. Both clocks: the
// runtime's timers and the timing wheel the daemon uses.
func TestEchoDeadPeer(t *testing.T) {
	t.Run("runtime", func(t *testing.T) { testEchoDeadPeer(t, false) })
	t.Run("wheel", func(t *testing.T) { testEchoDeadPeer(t, true) })
}

func testEchoDeadPeer(t *testing.T, useWheel bool) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
		lc := lnsConfig(users, &fakePool{}, aaa.PAP)
		cc := clientConfig("labuser", "labpass")
		if useWheel {
			wh := clock.NewWheel(0, 0)
			defer wh.Close()
			lc.Clock, cc.Clock = wh, wh
		}
		lc.Keepalive, lc.KeepaliveMisses = 10*time.Second, 3
		lns, cli, w := newPair(t, lc, cc)
		startBoth(lns, cli)
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if _, ok := lns.h.linkDown(); ok {
			t.Fatal("link went down while the peer answered echoes")
		}
		if n := lns.sent.count(wire.ProtoLCP, wire.EchoReq); n < 29 || n > 31 {
			t.Fatalf("%d echo requests in 5 minutes at 10 s", n)
		}
		if n := cli.sent.count(wire.ProtoLCP, wire.EchoRep); n < 29 {
			t.Fatalf("%d echo replies", n)
		}
		w.setDrop(func(string, []byte) bool { return true })
		cut := time.Now()
		var downAt time.Time
		for range 200 {
			time.Sleep(time.Second)
			if _, ok := lns.h.linkDown(); ok {
				downAt = time.Now()
				break
			}
		}
		r, ok := lns.h.linkDown()
		if !ok || r != "Keepalive timeout" {
			t.Fatalf("down %v %q", ok, r)
		}
		// Three unanswered echoes, the fourth tick declares the peer dead,
		// then Max-Terminate Terminate-Requests 3 s apart.
		if d := downAt.Sub(cut); d < 30*time.Second || d > 50*time.Second {
			t.Fatalf("dead peer detected after %v", d)
		}
	})
}

// TestAAADoesNotBlockOwner: while an AAA call is outstanding, the link's
// owner keeps serving the link (an Echo-Request is answered).
func TestAAADoesNotBlockOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := &fakeAAA{users: map[string]string{"labuser": "labpass"}, block: make(chan struct{})}
		lns, cli, _ := newPair(t, lnsConfig(users, &fakePool{}, aaa.CHAP), clientConfig("labuser", "labpass"))
		startBoth(lns, cli)
		synctest.Wait()
		if lns.l.Phase() != PhaseAuthenticate {
			t.Fatalf("phase %s", lns.l.Phase())
		}
		echo := wire.Framing{AddressControl: true}.Append(nil, wire.ProtoLCP)
		echo = wire.AppendPacket(echo, wire.EchoReq, 77, binary.BigEndian.AppendUint32(nil, 0x01020304))
		lns.r.Post(func() { lns.l.Input(echo) })
		synctest.Wait()
		if lns.sent.count(wire.ProtoLCP, wire.EchoRep) != 1 {
			t.Fatal("echo not answered while AAA was pending")
		}
		close(users.block)
		synctest.Wait()
		if _, ok := lns.h.up(wire.ProtoIPCP); !ok {
			t.Fatal("not up after AAA answered")
		}
	})
}
