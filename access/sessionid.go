package access

import (
	"fmt"
	"sync/atomic"
	"time"
)

// sessionSeq numbers the sessions of the process; with the start time it
// makes the unique session id.
var sessionSeq atomic.Uint32

// newSessionID returns the session's unique id: the RADIUS Acct-Session-Id
// (RFC 2866 §5.5), also used by accounting. Sixteen hex digits, the Unix
// second the session was made then a process-wide counter, so that ids
// stay unique across a restart (a restart takes more than a second) and
// the Start and Stop of one session share one id.
func (m *Manager) newSessionID(at time.Time) string {
	return fmt.Sprintf("%08X%08X", uint32(at.Unix()), sessionSeq.Add(1))
}

// ID returns the session's unique id (Acct-Session-Id).
func (s *Session) ID() string { return s.id }
