package access

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// sessionSeq numbers the sessions of the process; with the start time and
// the process's random tag it makes the unique session id.
var sessionSeq atomic.Uint32

// processTag tells this process's session ids from another instance's:
// several LNSes share one RADIUS server's accounting (and one PostgreSQL
// pool store, whose leases name the session), and two started in the same
// second would otherwise number their sessions alike.
var processTag = func() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}()

// newSessionID returns the session's unique id: the RADIUS Acct-Session-Id
// (RFC 2866 §5.5), also used by accounting. Twenty-four hex digits: the
// process's random tag, the Unix second the session was made, then a
// process-wide counter, so that ids stay unique across instances and
// restarts, and the Start and Stop of one session share one id.
func (m *Manager) newSessionID(at time.Time) string {
	return fmt.Sprintf("%08X%08X%08X", processTag, uint32(at.Unix()), sessionSeq.Add(1))
}

// ID returns the session's unique id (Acct-Session-Id).
func (s *Session) ID() string { return s.id }
