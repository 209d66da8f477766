package l2tp

import (
	"fmt"
	"time"
)

// sess is what an L2TPv2 call (Session) and an L2TPv3 pseudowire
// (Pseudowire) share: their place in the §7.3 call machine (v3 §7 keeps
// it, with LCCE roles), the Dial waiting for them, and their end. S is
// the embedding type. What differs stays theirs: the messages, the IDs'
// width, how the owner hears of them (v2 OnCall/OnSessionUp, v3
// OnRequest/OnUp) and the debug line prefix. All of it runs on the
// connection's goroutine with its mu held, except Done and Err. The
// small fields come last, so that the embedding type's pack after them.
type sess[S any] struct {
	deadline time.Time // of the set-up
	since    time.Time // last state change
	dial     chan placed[S]
	done     chan struct{}
	err      error
	state    SessionState
	// notify: the owner knows the session (v2: OnCall or CallParams.Ready
	// ran; v3: Ready ran), so its end is reported even if it never came
	// up: the owner may have installed its data path.
	notify bool
	// halfOpen: the peer opened the session and it is not established
	// yet; counted by the node (admitHalfOpen) until it comes up or ends.
	halfOpen bool
}

// Done is closed when the session has ended.
func (s *sess[S]) Done() <-chan struct{} { return s.done }

// Err returns why the session ended (a *CloseError), once Done is closed.
func (s *sess[S]) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// snLogger writes a session's FSM-Sn debug lines with its version's
// prefix; on says whether they are wanted at all (so that nothing is
// formatted for nobody).
type snLogger interface {
	snLogOn() bool
	snLog(errs bool, what string)
}

// step applies a session event through the §7.3/§7.4 table at now,
// logging it the way IOS `debug vpdn l2x-events` does.
func (s *sess[S]) step(l snLogger, ev SessionEvent, outgoing bool, now time.Time) bool {
	on := l.snLogOn()
	if on {
		l.snLog(false, "ev "+ev.String())
	}
	to, ok := snNext(s.state, ev, outgoing)
	if !ok {
		if on {
			l.snLog(true, fmt.Sprintf("ev %v invalid in %v", ev, s.state))
		}
		return false
	}
	if to != s.state {
		if on {
			l.snLog(false, s.state.String()+"->"+to.String())
		}
		s.state = to
		s.since = now
	}
	return true
}

// answerDial gives the Dial that placed the session its answer: the
// session once established, or why it ended. false if none waits.
func (s *sess[S]) answerDial(r placed[S]) bool {
	if s.dial == nil {
		return false
	}
	d := s.dial
	s.dial = nil
	d <- r
	return true
}
