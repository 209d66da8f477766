package access

import (
	"context"
	"fmt"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/internal/clock"
)

// acctTimeout bounds one call to the accounter: a durable spool answers
// in the time of a write, never of a RADIUS exchange.
const acctTimeout = 10 * time.Second

// idleStep is the coarse period of the idle check: a session with an
// Idle-Timeout of N seconds ends between N and N+idleStep after its last
// data packet.
const idleStep = 10 * time.Second

// accountingUp sends the session's Start (RFC 2866 §5.1) once its network
// layer is up, and arms the Interim-Update timer: the authorization's
// Acct-Interim-Interval (RFC 2869 §5.16) or the configuration's
// `aaa accounting update periodic`. The Start is given on a goroutine of
// its own: the runner does not wait for the spool's write.
func (s *Session) accountingUp(authz *aaa.Authorization) {
	m := s.m
	if m.cfg.Accounter == nil {
		return
	}
	acct := m.cfg.Accounter(s.prof.AcctList)
	if acct == nil {
		return
	}
	var every time.Duration
	if authz != nil && authz.InterimInterval > 0 {
		every = time.Duration(authz.InterimInterval) * time.Second
	} else if m.cfg.InterimInterval != nil {
		every = m.cfg.InterimInterval()
	}
	s.acctMu.Lock()
	s.acct = acct
	s.acctMu.Unlock()
	go func() {
		s.acctMu.Lock()
		defer s.acctMu.Unlock()
		if s.acctStopped {
			return // ended before its Start was given: neither is sent
		}
		// Described now, under acctMu: what a newinfo Interim-Update
		// that came first skipped (no Start yet) is in it.
		rec := s.acctRecord(time.Time{})
		ctx, cancel := context.WithTimeout(context.Background(), acctTimeout)
		defer cancel()
		if err := acct.Start(ctx, rec); err != nil {
			m.log.Warn("accounting start", "interface", s.name, "session", s.id, "err", err)
			return
		}
		s.acctStarted = true
	}()
	if every > 0 {
		s.mu.Lock()
		if !s.ended {
			s.armInterimLocked(every)
		}
		s.mu.Unlock()
	}
}

func (s *Session) armInterimLocked(every time.Duration) {
	s.interimEvery = every
	gen := s.interimGen
	s.interim = s.m.cfg.Clock.AfterFunc(every, func() {
		s.mu.Lock()
		if s.ended || gen != s.interimGen {
			s.mu.Unlock()
			return
		}
		s.armInterimLocked(every)
		s.mu.Unlock()
		go s.accountingInterim()
	})
}

// accountingNewInfo sends an Interim-Update, when aaa accounting update
// newinfo asks for one, for what the session learnt after its Start.
func (s *Session) accountingNewInfo() {
	if f := s.m.cfg.NewInfo; f != nil && f() {
		go s.accountingInterim()
	}
}

// accountingInterim sends an Interim-Update with the counters now.
func (s *Session) accountingInterim() {
	rec := s.acctRecord(time.Time{})
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	if s.acct == nil || !s.acctStarted || s.acctStopped {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), acctTimeout)
	defer cancel()
	if err := s.acct.Interim(ctx, rec); err != nil {
		s.m.log.Warn("accounting interim", "interface", s.name, "session", s.id, "err", err)
	}
}

// accountingStop sends the Stop (RFC 2866 §5.10: Acct-Terminate-Cause
// from the typed cause) of a session whose Start was given.
func (s *Session) accountingStop(c Cause) {
	rec := s.acctRecord(time.Time{})
	rec.TerminateCause, rec.TerminateCode = c.String(), c.AcctTerminateCause()
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	s.acctStopped = true
	if s.acct == nil || !s.acctStarted {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), acctTimeout)
	defer cancel()
	if err := s.acct.Stop(ctx, rec); err != nil {
		s.m.log.Warn("accounting stop", "interface", s.name, "session", s.id, "err", err)
	}
}

// acctRecord describes the session now: its identity, the call, the
// address and the data plane's counters.
func (s *Session) acctRecord(at time.Time) *aaa.AccountingRecord {
	bi := s.b.Info()
	c := s.dp.Counters()
	now := s.m.cfg.Clock.Now()
	s.mu.Lock()
	in, upAt := s.info, s.upAt
	v6, delegated := s.ipv6PrefixesLocked()
	s.mu.Unlock()
	r := &aaa.AccountingRecord{SessionID: s.id, Username: in.Username, NASPort: s.name, FramedAddress: in.PeerAddr,
		InOctets: c.RxBytes, OutOctets: c.TxBytes, InPackets: c.RxPkts, OutPackets: c.TxPkts,
		TunnelClientEnd: bi.Peer.Addr().Unmap(), PortNumber: uint32(s.unit), PortType: bi.NASPortType,
		CallingNumber: bi.CallingNumber, CalledNumber: bi.CalledNumber, Time: at, Authentic: aaa.AuthenticLocal,
		IPv6Prefixes: v6, DelegatedPrefixes: delegated}
	if r.CallingNumber == "" && bi.Peer.IsValid() {
		r.CallingNumber = bi.Peer.Addr().Unmap().String()
	}
	if !upAt.IsZero() && now.After(upAt) {
		r.SessionSeconds = uint32(now.Sub(upAt) / time.Second)
	}
	if in.Authz != nil {
		r.Class = in.Authz.Class
		if in.Authz.Authentic != 0 {
			r.Authentic = in.Authz.Authentic
		}
	}
	if r.Time.IsZero() {
		r.Time = now
	}
	return r
}

// setSessionTimeoutLocked (re)arms the Session-Timeout: the session ends
// secs seconds from now; 0 removes the limit.
func (s *Session) setSessionTimeoutLocked(secs uint32) {
	if s.timeout != nil {
		s.timeout.Stop()
		s.timeout = nil
	}
	s.sessLimit, s.sessDeadline = 0, time.Time{}
	if secs == 0 {
		return
	}
	d := time.Duration(secs) * time.Second
	s.sessLimit, s.sessDeadline = d, s.m.cfg.Clock.Now().Add(d)
	s.timeout = s.m.cfg.Clock.AfterFunc(d, func() {
		s.Close(CauseSessionTimeout, fmt.Sprintf("session timeout (%d s)", secs))
	})
}

// setIdleTimeoutLocked (re)arms the Idle-Timeout (RFC 2865 §5.28): the
// session ends after secs seconds without a data packet either way; 0
// removes the limit. The idle time counts from now.
func (s *Session) setIdleTimeoutLocked(secs uint32) {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	s.idleLimit = time.Duration(secs) * time.Second
	if secs == 0 {
		return
	}
	s.idleCount = s.dataPackets()
	s.lastActive = s.m.cfg.Clock.Now()
	s.idle = s.m.cfg.Clock.AfterFunc(min(idleStep, s.idleLimit), s.idleCheck)
}

// dataPackets is the number of data (non-control) packets either way.
func (s *Session) dataPackets() uint64 {
	c := s.dp.Counters()
	return c.RxPkts + c.TxPkts - c.CtlRxPkts - c.CtlTxPkts
}

// idleCheck is the coarse idle timer: traffic since the last check makes
// the session active now; none for the limit ends it.
func (s *Session) idleCheck() {
	now := s.m.cfg.Clock.Now()
	n := s.dataPackets()
	s.mu.Lock()
	if s.ended || s.idleLimit == 0 {
		s.mu.Unlock()
		return
	}
	if n != s.idleCount {
		s.idleCount, s.lastActive = n, now
	}
	idleFor, limit := now.Sub(s.lastActive), s.idleLimit
	if idleFor >= limit {
		s.mu.Unlock()
		s.Close(CauseIdleTimeout, fmt.Sprintf("idle timeout (%d s)", limit/time.Second))
		return
	}
	s.idle = s.m.cfg.Clock.AfterFunc(min(idleStep, limit-idleFor), s.idleCheck)
	s.mu.Unlock()
}

func (s *Session) stopTimersLocked() {
	for _, t := range []clock.Timer{s.timeout, s.idle, s.interim} {
		if t != nil {
			t.Stop()
		}
	}
}

// SetTimeouts changes a live session's Session-Timeout and Idle-Timeout
// (a RADIUS CoA-Request, RFC 5176 §3.1): a nil value is left as it is, 0
// removes the limit, and a new Session-Timeout counts from now. It
// reports false when the session is not up (or has ended).
func (s *Session) SetTimeouts(sessionTimeout, idleTimeout *uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.upAt.IsZero() {
		return false
	}
	if sessionTimeout != nil {
		s.setSessionTimeoutLocked(*sessionTimeout)
	}
	if idleTimeout != nil {
		s.setIdleTimeoutLocked(*idleTimeout)
	}
	return true
}

// SetInterimInterval changes a live session's Acct-Interim-Interval (a
// RADIUS CoA-Request, RFC 5176 §3.1; RFC 2869 §5.16): the next
// Interim-Update comes secs seconds from now, and every secs seconds
// after; 0 stops them. It reports false when the session is not up (or
// has ended).
func (s *Session) SetInterimInterval(secs uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.upAt.IsZero() {
		return false
	}
	if s.interim != nil {
		s.interim.Stop()
		s.interim = nil
	}
	s.interimGen++
	s.interimEvery = 0
	if secs > 0 {
		s.armInterimLocked(time.Duration(secs) * time.Second)
	}
	return true
}

// Timeouts is a session's Session-Timeout and Idle-Timeout, for show
// caller user: the limits (0: none), what is left of the session's, and
// how long the session has been idle (known while an idle limit runs);
// Interim is the Interim-Update interval (0: none).
type Timeouts struct {
	Session, SessionLeft time.Duration
	Idle, IdleFor        time.Duration
	Interim              time.Duration
}

// Timeouts returns the session's timeouts now.
func (s *Session) Timeouts() Timeouts {
	now := s.m.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Timeouts{Session: s.sessLimit, Idle: s.idleLimit, Interim: s.interimEvery}
	if t.Session > 0 {
		t.SessionLeft = max(0, s.sessDeadline.Sub(now))
	}
	if t.Idle > 0 {
		t.IdleFor = max(0, now.Sub(s.lastActive))
	}
	return t
}
