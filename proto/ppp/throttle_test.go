package ppp

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// holdingAAA is fakeAAA with the throttle's hold on every rejection.
type holdingAAA struct {
	*fakeAAA
	hold time.Duration
}

func (h holdingAAA) Authenticate(ctx context.Context, r *aaa.Request) (*aaa.Result, error) {
	res, err := h.fakeAAA.Authenticate(ctx, r)
	if err == nil && !res.Accept {
		res.Hold = h.hold
	}
	return res, err
}

// TestRejectionHeld: a rejection with a Hold reaches the peer only once
// the hold has passed, on the link's timer; an acceptance is not held.
func TestRejectionHeld(t *testing.T) {
	for _, m := range []aaa.Method{aaa.PAP, aaa.CHAP, aaa.MSCHAPv2} {
		t.Run(m.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := holdingAAA{&fakeAAA{users: map[string]string{"labuser": "labpass"}}, 3 * time.Second}
				lc := lnsConfig(nil, &fakePool{}, m)
				lc.Auth.AAA = a
				lc.Auth.Timeout = 30 * time.Second
				lns, cli, _ := newPair(t, lc, clientConfig("labuser", "wrong"))
				start := time.Now()
				startBoth(lns, cli)
				synctest.Wait()
				proto, code := wire.ProtoCHAP, wire.CHAPFailure
				if m == aaa.PAP {
					proto, code = wire.ProtoPAP, wire.PAPNak
				}
				if n := lns.sent.count(proto, code); n != 0 {
					t.Fatalf("failure sent before the hold")
				}
				time.Sleep(3*time.Second - time.Since(start) - time.Millisecond)
				synctest.Wait()
				if n := lns.sent.count(proto, code); n != 0 {
					t.Fatalf("failure sent before the hold ended")
				}
				time.Sleep(10 * time.Millisecond)
				synctest.Wait()
				if n := lns.sent.count(proto, code); n != 1 {
					t.Fatalf("%d failures sent after the hold; want 1", n)
				}
				if _, down := cli.h.linkDown(); !down {
					t.Fatal("the client's link is still up")
				}
			})
		})
	}
	// A good password is answered at once.
	synctest.Test(t, func(t *testing.T) {
		a := holdingAAA{&fakeAAA{users: map[string]string{"labuser": "labpass"}}, time.Hour}
		lc := lnsConfig(nil, &fakePool{}, aaa.CHAP)
		lc.Auth.AAA = a
		lns, cli, _ := newPair(t, lc, clientConfig("labuser", "labpass"))
		startBoth(lns, cli)
		synctest.Wait()
		if _, up := cli.h.up(wire.ProtoIPCP); !up {
			t.Fatal("an accepted password was held")
		}
		_ = lns
	})
}

// TestMaxBadAuth: with ppp max-bad-auth N, a CHAP failure is followed by
// a fresh challenge with the next Identifier (RFC 1994 §4.1), N times;
// without it the first failure ends the phase.
func TestMaxBadAuth(t *testing.T) {
	for _, n := range []int{0, 2} {
		synctest.Test(t, func(t *testing.T) {
			a := &fakeAAA{users: map[string]string{"labuser": "labpass"}}
			lc := lnsConfig(a, &fakePool{}, aaa.CHAP)
			lc.Auth.MaxBadAuth = n
			lns, cli, _ := newPair(t, lc, clientConfig("labuser", "wrong"))
			startBoth(lns, cli)
			synctest.Wait()
			challenges := lns.sent.count(wire.ProtoCHAP, wire.CHAPChallenge)
			failures := lns.sent.count(wire.ProtoCHAP, wire.CHAPFailure)
			// Our client gives up on the first Failure; the LNS offers
			// one more challenge when a retry is allowed.
			want := 1
			if n > 0 {
				want = 2
			}
			if challenges != want || failures != 1 {
				t.Fatalf("max-bad-auth %d: %d challenges, %d failures; want %d and 1", n, challenges, failures, want)
			}
			_ = cli
		})
	}
}
