package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/loadgen"
	"github.com/vpdn/vpdn/transport/memnet"
)

// logBuffer is a log sink safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimRight(l.b.String(), "\n"), "\n")
}

// forgedName is a CHAP name that would clear an operator's screen and
// start a line of its own if written raw.
const forgedName = "\x1b[2J\nfake line"

// TestPasswordGuessing: one peer sends 1,000 wrong passwords for alice
// (1,000 L2TP sessions, one CHAP attempt each, 100 in flight) while a
// second peer logs alice in with the right password, in rounds, the whole
// time. In fake time: the throttle holds each failure and soon blocks the
// guessing peer, so few passwords are checked at all; every round of the
// other peer gets in; the log holds a bounded number of lines naming the
// user and the guessing peer; the failure history and the log carry a
// forged name escaped.
func TestPasswordGuessing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		var logs logBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		lns := newMemDaemon(t, nw, memSharedLNS, func(o *Options) { o.Logger = log })
		server := netip.MustParseAddrPort("198.18.0.1:1701")

		start := time.Now()
		// The guessing peer: until AAA has seen 1,000 wrong passwords (a
		// call the L2TP layer loses under the burst is dialled again in
		// the next run), at most 8 runs.
		attack := make(chan *loadgen.Report, 1)
		go func() {
			total := loadgen.Report{FailuresByReason: map[string]int{}}
			for i := 0; i < 8; i++ {
				left := 1000 - int(lns.d.throttle.Stats().Failures)
				if left <= 0 {
					break
				}
				tunnels := min(4, (left+99)/100)
				rep, err := loadgen.Run(context.Background(), loadgen.Config{Server: server, Binds: nw,
					Local: netip.MustParseAddrPort("198.18.0.2:0"), Tunnels: tunnels, Sessions: (left + tunnels - 1) / tunnels, MaxInFlight: 100,
					User: "alice", Password: "guess", Clock: clock.Real, Timeout: 2 * time.Minute})
				if err != nil {
					t.Error(err)
				}
				total.Established += rep.Established
				total.Failed += rep.Failed
				for k, v := range rep.FailuresByReason {
					total.FailuresByReason[k] += v
				}
			}
			attack <- &total
		}()
		var attackRep *loadgen.Report
		rounds := 0
		for attackRep == nil {
			rep, err := loadgen.Run(context.Background(), loadgen.Config{Server: server, Binds: nw,
				Local: netip.MustParseAddrPort("198.18.0.3:0"), Tunnels: 1, Sessions: 5,
				User: "alice", Password: "wonderland", Clock: clock.Real})
			if err != nil || rep.Established != 5 {
				t.Fatalf("round %d from the other peer: %v %+v", rounds, err, rep)
			}
			rounds++
			select {
			case attackRep = <-attack:
			case <-time.After(5 * time.Second):
			}
		}
		elapsed := time.Since(start)
		if attackRep.Established != 0 || attackRep.Failed < 1000 {
			t.Fatalf("the guessing peer: %+v", attackRep)
		}
		st := lns.d.throttle.Stats()
		checked := st.Failures - st.Throttled
		t.Logf("%d wrong passwords in %v of fake time: %.1f attempts/s, %d passwords checked (%.2f/s), %d refused unchecked; %d rounds of 5 good logins from the other peer all established",
			st.Failures, elapsed, float64(st.Failures)/elapsed.Seconds(), checked, float64(checked)/elapsed.Seconds(), st.Throttled, rounds)
		t.Logf("the guessing peer's failures by reason: %v", attackRep.FailuresByReason)
		// The throttle decides before the password is looked at (Check)
		// and counts the failure after (Failed): attempts that passed
		// Check before the peer's BlockAfter-th failure was counted are
		// checked still. How many depends on the scheduler (usually
		// none; under load, the goroutines of a whole burst can pass
		// Check while one that has, holding a lock, waits for a CPU), so
		// the bound is what the throttle guarantees: the blocking
		// failures and the attempts in flight at the time (10 + 100),
		// once per 5 min block.
		maxChecked := uint64(10+100) * uint64(1+elapsed/(5*time.Minute))
		if st.Failures < 1000 || st.Throttled == 0 || st.Blocks == 0 || checked > maxChecked {
			t.Fatalf("throttle stats %+v", st)
		}
		if rounds < 2 {
			t.Fatalf("only %d rounds ran during the attack", rounds)
		}

		// The log: one line per failure, rate-limited (a burst of 20,
		// one a second), plus the counts of what was dropped.
		naming := 0
		for _, l := range logs.lines() {
			if strings.Contains(l, "alice") && strings.Contains(l, "198.18.0.2") {
				naming++
			}
		}
		bound := 20 + int(elapsed/time.Second) + 1
		t.Logf("%d log lines name alice and the guessing peer (bound %d)", naming, bound)
		if naming == 0 || naming > bound {
			t.Fatalf("%d lines name alice and 198.18.0.2; want 1 to %d", naming, bound)
		}

		// A forged name from a third peer: escaped in the log and in
		// show vpdn history failure, raw (valid) in its JSON.
		rep, err := loadgen.Run(context.Background(), loadgen.Config{Server: server, Binds: nw,
			Local: netip.MustParseAddrPort("198.18.0.4:0"), Tunnels: 1, Sessions: 1,
			User: forgedName, Password: "x", Clock: clock.Real})
		if err != nil || rep.Failed != 1 {
			t.Fatalf("forged name: %v %+v", err, rep)
		}
		time.Sleep(20 * time.Second) // the log bucket refills; the flush reports the dropped lines
		synctest.Wait()
		for _, l := range logs.lines() {
			if strings.HasPrefix(l, "fake line") || strings.Contains(l, "\x1b") {
				t.Fatalf("a forged log line: %q", l)
			}
		}
		text := lns.show(t, "vpdn history failure", false).Text
		checkNotForged(t, "show vpdn history failure", text)
		if !strings.Contains(text, `User: \x1b[2J\nfake line`) || !strings.Contains(text, "Peer: 198.18.0.4") ||
			!strings.Contains(text, "User: alice\n") {
			t.Fatalf("show vpdn history failure:\n%s", text)
		}
		if js := lns.show(t, "vpdn history failure", true); !bytes.Contains(js.Data, []byte(`\u001b[2J\nfake line`)) {
			t.Fatalf("JSON: %s", js.Data)
		}
		if th := lns.show(t, "aaa throttle", false).Text; !strings.Contains(th, "Authentication throttled: ") {
			t.Fatalf("show aaa throttle:\n%s", th)
		}
		if lc, want := lns.show(t, "l2tp counters", false).Text, fmt.Sprintf("  %-30s %12d\n", "auth-throttled", st.Throttled); !strings.Contains(lc, want) {
			t.Fatalf("show l2tp counters lacks %q:\n%s", want, lc)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(collector{lns.d})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if m := mf.GetMetric(); len(m) == 1 && m[0].GetCounter() != nil {
				got[mf.GetName()] = m[0].GetCounter().GetValue()
			}
		}
		if got["vpdn_aaa_auth_throttled_total"] != float64(st.Throttled) || got["vpdn_aaa_auth_failures_total"] < 1001 {
			t.Fatalf("metrics %v; throttle %+v", got, st)
		}
	})
}

// checkNotForged fails if text carries a control character or a line a
// peer wrote.
func checkNotForged(t *testing.T, what, text string) {
	t.Helper()
	for _, r := range text {
		if r != '\n' && r < 0x20 {
			t.Fatalf("%s: control character %U:\n%q", what, r, text)
		}
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "fake line") {
			t.Fatalf("%s: a forged line:\n%s", what, text)
		}
	}
}

// memNoneLNS accepts any name (aaa authentication ppp default none): a
// session with a hostile name comes up.
var memNoneLNS = strings.Replace(memSharedLNS, "vpdn enable\n", "vpdn enable\naaa new-model\naaa authentication ppp default none\n", 1)

// TestHostileNameShows: a session up under a CHAP name with an escape
// sequence and a newline cannot forge lines in show vpdn session, show
// users, show caller user or the log.
func TestHostileNameShows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		var logs logBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		lns := newMemDaemon(t, nw, memNoneLNS, func(o *Options) { o.Logger = log })
		done := make(chan error, 1)
		go func() {
			rep, err := loadgen.Run(context.Background(), loadgen.Config{Server: netip.MustParseAddrPort("198.18.0.1:1701"), Binds: nw,
				Local: netip.MustParseAddrPort("198.18.0.2:0"), Tunnels: 1, Sessions: 1, Hold: time.Minute,
				User: forgedName, Password: "x", Clock: clock.Real})
			if err == nil && rep.Established != 1 {
				err = fmt.Errorf("report %+v", rep)
			}
			done <- err
		}()
		time.Sleep(30 * time.Second) // well within the hold
		synctest.Wait()
		for _, words := range []string{"vpdn", "vpdn session", "vpdn session all", "l2tun session all", "users"} {
			text := lns.show(t, words, false).Text
			checkNotForged(t, "show "+words, text)
			if !strings.Contains(text, `\x1b[2J`) {
				t.Errorf("show %s lacks the escaped name:\n%s", words, text)
			}
		}
		r := lns.d.Do(context.Background(), &control.Request{Verb: "show", Words: []string{"caller", "user", forgedName}})
		if !r.OK {
			t.Fatalf("show caller user: %s", r.Error)
		}
		checkNotForged(t, "show caller user", r.Text)
		if !strings.Contains(r.Text, `User: \x1b[2J\nfake line, line Vi`) {
			t.Errorf("show caller user:\n%s", r.Text)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, l := range logs.lines() {
			if strings.HasPrefix(l, "fake line") || strings.Contains(l, "\x1b") {
				t.Fatalf("a forged log line: %q", l)
			}
		}
	})
}
