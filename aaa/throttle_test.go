package aaa

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// papFrom is a PAP request from a peer address.
func papFrom(user, pw, peer string) *Request {
	r := pap(user, pw)
	r.PeerAddr = netip.MustParseAddr(peer)
	r.TunnelID, r.CallID = 7, 9
	return r
}

func throttledService(t *testing.T, th *Throttle, lo *Lockout, hist *FailureHistory) *Service {
	t.Helper()
	local, err := NewLocal(LocalConfig{Users: []User{{Name: "alice", Password: "wonderland"}, {Name: "bob", Password: "builder"}}, Lockout: lo})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewService(ServiceConfig{Lists: []ListCommand{{Type: AuthenticationPPP, Name: DefaultList, Methods: []ListMethod{{Kind: MethodLocal}}}},
		Local: local, Throttle: th, History: hist})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authOnce(t *testing.T, s *Service, r *Request) *Result {
	t.Helper()
	res, err := s.Authenticate(context.Background(), "", "", r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestThrottleSchedule: the holds of consecutive failures from one peer
// double up to the cap, the tenth blocks the peer, a blocked attempt is
// refused unchecked (even with the right password), the right password
// from another peer works throughout, and the block ends on time.
func TestThrottleSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := NewThrottle(ThrottleConfig{Delay: 500 * time.Millisecond, MaxDelay: 4 * time.Second, BlockAfter: 10, BlockFor: time.Minute})
		s := throttledService(t, th, nil, nil)
		want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second,
			4 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
		for i, w := range want {
			res := authOnce(t, s, papFrom("alice", fmt.Sprint("guess", i), "198.18.0.2"))
			if res.Accept || res.Reason != ReasonBadPassword || res.Hold != w {
				t.Fatalf("failure %d: accept %v reason %q hold %v; want hold %v", i+1, res.Accept, res.Reason, res.Hold, w)
			}
			// The legitimate user at another address is never held.
			if ok := authOnce(t, s, papFrom("alice", "wonderland", "198.18.0.3")); !ok.Accept || ok.Hold != 0 {
				t.Fatalf("after failure %d: the good password from another peer: %+v", i+1, ok)
			}
			time.Sleep(res.Hold) // the peer waits for its answer
		}
		// Blocked: even the right password is refused, unchecked.
		res := authOnce(t, s, papFrom("alice", "wonderland", "198.18.0.2"))
		if res.Accept || res.Reason != ReasonThrottled || res.Hold != 4*time.Second {
			t.Fatalf("blocked attempt: %+v", res)
		}
		if r := authOnce(t, s, papFrom("bob", "builder", "198.18.0.2")); r.Accept || r.Reason != ReasonThrottled {
			t.Fatalf("another user from the blocked peer: %+v", r)
		}
		if r := authOnce(t, s, papFrom("bob", "builder", "198.18.0.4")); !r.Accept {
			t.Fatalf("another peer during the block: %+v", r)
		}
		st := th.Stats()
		if st.Failures != 12 || st.Throttled != 2 || st.Blocks < 1 {
			t.Fatalf("stats %+v", st)
		}
		// The block set at the tenth failure ends a minute later.
		time.Sleep(time.Minute)
		if r := authOnce(t, s, papFrom("alice", "wonderland", "198.18.0.2")); !r.Accept {
			t.Fatalf("after the block: %+v", r)
		}
		// The success reset the peer: its next failure is held briefly.
		if r := authOnce(t, s, papFrom("bob", "nope", "198.18.0.2")); r.Hold != 500*time.Millisecond {
			t.Fatalf("first failure after a success: hold %v", r.Hold)
		}
	})
}

// TestThrottleReblock: after a block runs out, the count stands, so the
// next failure blocks again; a count left alone for Forget starts over.
func TestThrottleReblock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := NewThrottle(ThrottleConfig{BlockAfter: 3, BlockFor: time.Minute, Forget: 10 * time.Minute})
		s := throttledService(t, th, nil, nil)
		for range 3 {
			authOnce(t, s, papFrom("alice", "x", "198.18.0.2"))
		}
		time.Sleep(time.Minute)
		if r := authOnce(t, s, papFrom("alice", "y", "198.18.0.2")); r.Reason != ReasonBadPassword {
			t.Fatalf("after the block, the password is checked again: %+v", r)
		}
		if r := authOnce(t, s, papFrom("alice", "wonderland", "198.18.0.2")); r.Reason != ReasonThrottled {
			t.Fatalf("one more failure blocks again: %+v", r)
		}
		time.Sleep(11 * time.Minute)
		if r := authOnce(t, s, papFrom("alice", "z", "198.18.0.2")); r.Reason != ReasonBadPassword || r.Hold != 500*time.Millisecond {
			t.Fatalf("a forgotten count starts over: %+v", r)
		}
	})
}

// TestThrottleBound: a flood of distinct names and addresses keeps each
// table at its bound, and a flood of names from one peer does not evict
// another peer's block.
func TestThrottleBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := NewThrottle(ThrottleConfig{MaxKeys: 64, BlockAfter: 3, BlockFor: time.Hour})
		s := throttledService(t, th, nil, nil)
		for range 3 {
			authOnce(t, s, papFrom("alice", "x", "198.18.0.9"))
		}
		for i := range 5000 {
			authOnce(t, s, papFrom(fmt.Sprintf("user%d", i), "x", "198.18.0.2"))
		}
		st := th.Stats()
		if st.Users > 64 || st.Peers > 64 || st.Pairs > 64 {
			t.Fatalf("tables beyond their bound: %+v", st)
		}
		if r := authOnce(t, s, papFrom("bob", "builder", "198.18.0.9")); r.Reason != ReasonThrottled {
			t.Fatalf("the names of another peer evicted this peer's block: %+v", r)
		}
		for i := range 5000 {
			a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			th.Failed(&Request{Username: "u", PeerAddr: a}, ReasonBadPassword)
		}
		if st := th.Stats(); st.Peers > 64 || st.Pairs > 64 {
			t.Fatalf("tables beyond their bound: %+v", st)
		}
	})
}

// TestThrottleLog: a flood of failures writes at most the burst, one line
// per failure naming user, peer and tunnel/session, then one line telling
// how many were not logged; the names are escaped.
func TestThrottleLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		th := NewThrottle(ThrottleConfig{Logger: log, LogBurst: 5, LogEvery: time.Second, BlockAfter: 1000})
		for range 1000 {
			th.Failed(papFrom("mallory\x1b[2J\nfake line", "x", "198.18.0.2"), ReasonBadPassword)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 5 {
			t.Fatalf("%d lines for a flood; want the burst of 5:\n%s", len(lines), buf.String())
		}
		for _, l := range lines {
			for _, w := range []string{`user="mallory\\x1b[2J\\nfake line"`, "peer=198.18.0.2", "tunnel=7", "session=9", `reason="bad password"`} {
				if !strings.Contains(l, w) {
					t.Errorf("line lacks %s: %s", w, l)
				}
			}
		}
		buf.Reset()
		time.Sleep(10 * time.Second)
		th.Flush()
		if !strings.Contains(buf.String(), "suppressed=995") || strings.Count(buf.String(), "\n") != 1 {
			t.Fatalf("flush: %q", buf.String())
		}
		if st := th.Stats(); st.Logged != 5 || st.Suppressed != 995 {
			t.Fatalf("stats %+v", st)
		}
		if strings.Contains(buf.String(), "\x1b") {
			t.Fatal("an ESC reached the log")
		}
	})
}

// TestLockout: max-fail locks a local user after N consecutive failures
// until cleared; a success resets the count; off when 0.
func TestLockout(t *testing.T) {
	lo := NewLockout(nil)
	hist := NewFailureHistory(10, nil)
	s := throttledService(t, nil, lo, hist)
	// Off: no lockout however many failures.
	for range 5 {
		authOnce(t, s, pap("alice", "x"))
	}
	if len(lo.Locked()) != 0 {
		t.Fatal("locked while off")
	}
	lo.SetMax(3)
	authOnce(t, s, pap("alice", "x"))
	authOnce(t, s, pap("alice", "x"))
	if r := authOnce(t, s, pap("alice", "wonderland")); !r.Accept {
		t.Fatalf("before the limit: %+v", r)
	}
	for range 3 {
		authOnce(t, s, pap("alice", "x"))
	}
	if r := authOnce(t, s, pap("alice", "wonderland")); r.Accept || r.Reason != ReasonLocked {
		t.Fatalf("locked user: %+v", r)
	}
	if r := authOnce(t, s, pap("bob", "builder")); !r.Accept {
		t.Fatalf("another user: %+v", r)
	}
	if l := lo.Locked(); len(l) != 1 || l[0].User != "alice" {
		t.Fatalf("locked %+v", l)
	}
	var b strings.Builder
	WriteLockout(&b, lo.Locked())
	if !strings.HasPrefix(b.String(), "Local-user          Lock time\nalice               ") {
		t.Fatalf("show:\n%s", b.String())
	}
	if f, _ := hist.Get("alice"); f.Reason != ReasonLocked {
		t.Fatalf("history %+v", f)
	}
	if n := lo.Clear("bob", false); n != 0 {
		t.Fatal("bob was not locked")
	}
	if n := lo.Clear("alice", false); n != 1 {
		t.Fatal("clear alice")
	}
	if r := authOnce(t, s, pap("alice", "wonderland")); !r.Accept {
		t.Fatalf("after clear: %+v", r)
	}
	for range 3 {
		authOnce(t, s, pap("bob", "x"))
	}
	if n := lo.Clear("", true); n != 1 || len(lo.Locked()) != 0 {
		t.Fatal("clear all")
	}
}

// TestHistoryPerSource: a flood of names from one peer takes at most its
// share of the table; other peers' records stay.
func TestHistoryPerSource(t *testing.T) {
	h := NewFailureHistory(8, nil)
	h.Record(papFrom("alice", "x", "198.18.0.3"), "bad password")
	h.Record(papFrom("bob", "x", "198.18.0.4"), "bad password")
	for i := range 1000 {
		h.Record(papFrom(fmt.Sprintf("n%d", i), "x", "198.18.0.2"), "bad password")
	}
	for _, u := range []string{"alice", "bob", "n999", "n998"} {
		if _, ok := h.Get(u); !ok {
			t.Errorf("%s evicted", u)
		}
	}
	if n := len(h.Entries()); n != 4 {
		t.Errorf("%d entries; want 4 (the flooding peer holds 2 of 8)", n)
	}
	// A user seen again from another peer moves to that peer's share.
	h.Record(papFrom("n999", "x", "198.18.0.3"), "bad password")
	if f, _ := h.Get("n999"); f.Peer != netip.MustParseAddr("198.18.0.3") {
		t.Errorf("peer %v", f.Peer)
	}
	h.Record(papFrom("n1000", "x", "198.18.0.2"), "bad password")
	if _, ok := h.Get("n998"); !ok {
		t.Error("n998 evicted while its peer had room")
	}
}

// TestHistoryShowEscaped: a name with an escape sequence and a newline
// cannot start a line of its own in show vpdn history failure.
func TestHistoryShowEscaped(t *testing.T) {
	h := NewFailureHistory(8, nil)
	r := papFrom("\x1b[2J\nUser: admin", "x", "198.18.0.2")
	r.CallingNumber = "555\r\n  Failure reason: none"
	r.TunnelName = "lac\x00\xff"
	h.Record(r, ReasonBadPassword)
	var b bytes.Buffer
	h.WriteShow(&b)
	out := b.String()
	if strings.Contains(out, "\x1b") || strings.Contains(out, "\r") || strings.Count(out, "\n") != 6 {
		t.Fatalf("forged:\n%q", out)
	}
	for _, w := range []string{`User: \x1b[2J\nUser: admin`, `CLID = 555\r\n  Failure reason: none`, `Tunnel: lac\x00\xff, Peer: 198.18.0.2`} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}
}
