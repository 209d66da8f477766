package radius

import (
	"errors"
	"sync/atomic"
	"time"

	"layeh.com/radius"
)

// DropReason is why a datagram from a server was discarded.
type DropReason uint8

const (
	dropShort DropReason = iota
	dropOversize
	dropMalformed
	dropUnknownID
	dropUnknownSource
	dropBadAuth
	dropNoMessageAuth
	dropBadMessageAuth
	dropBadCode
	dropDuplicate
	nDrops
)

var dropNames = [nDrops]string{
	dropShort:          "short",
	dropOversize:       "oversize",
	dropMalformed:      "malformed",
	dropUnknownID:      "unknown_id",
	dropUnknownSource:  "unknown_source",
	dropBadAuth:        "bad_authenticator",
	dropNoMessageAuth:  "missing_message_authenticator",
	dropBadMessageAuth: "bad_message_authenticator",
	dropBadCode:        "unexpected_code",
	dropDuplicate:      "duplicate",
}

func (r DropReason) String() string {
	if r < nDrops {
		return dropNames[r]
	}
	return "unknown"
}

func reasonOf(err error) DropReason {
	switch {
	case errors.Is(err, errShort):
		return dropShort
	case errors.Is(err, errOversize):
		return dropOversize
	case errors.Is(err, errBadAuth):
		return dropBadAuth
	case errors.Is(err, errNoMessageAuth):
		return dropNoMessageAuth
	case errors.Is(err, errBadMessageAuth):
		return dropBadMessageAuth
	case errors.Is(err, errUnknownID):
		return dropUnknownID
	case errors.Is(err, errBadCode):
		return dropBadCode
	}
	return dropMalformed
}

type counters struct {
	requests        [nPorts]atomic.Uint64 // transmissions, retransmissions included
	retransmissions atomic.Uint64
	timeouts        atomic.Uint64
	accepts         atomic.Uint64
	rejects         atomic.Uint64
	challenges      atomic.Uint64
	acctResponses   atomic.Uint64
	drops           [nDrops]atomic.Uint64
	deadCount       atomic.Uint64
	rttLast         atomic.Int64 // nanoseconds
	rttSum          atomic.Int64
	rttN            atomic.Uint64
}

func (c *counters) drop(r DropReason) { c.drops[r].Add(1) }

func (c *counters) observe(rtt time.Duration) {
	c.rttLast.Store(int64(rtt))
	c.rttSum.Add(int64(rtt))
	c.rttN.Add(1)
}

func (c *counters) count(code radius.Code) {
	switch code {
	case radius.CodeAccessAccept:
		c.accepts.Add(1)
	case radius.CodeAccessReject:
		c.rejects.Add(1)
	case radius.CodeAccessChallenge:
		c.challenges.Add(1)
	case radius.CodeAccountingResponse:
		c.acctResponses.Add(1)
	}
}

// ServerStats is a snapshot of one server's counters, for `show aaa
// servers`, `show radius statistics` and the metrics.
type ServerStats struct {
	Name     string `json:"name,omitempty"`
	Address  string `json:"address"`
	AuthPort uint16 `json:"auth_port"`
	AcctPort uint16 `json:"acct_port"`
	// Groups names the server groups the server is in.
	Groups []string `json:"groups"`

	AuthRequests    uint64 `json:"auth_requests"` // transmissions
	AcctRequests    uint64 `json:"acct_requests"`
	Retransmissions uint64 `json:"retransmissions"`
	Timeouts        uint64 `json:"timeouts"`
	Accepts         uint64 `json:"accepts"`
	Rejects         uint64 `json:"rejects"`
	Challenges      uint64 `json:"challenges"`
	AcctResponses   uint64 `json:"acct_responses"`
	// Drops counts discarded datagrams by reason.
	Drops map[string]uint64 `json:"drops"`

	RTTLast    time.Duration `json:"rtt_last_ns"`
	RTTAverage time.Duration `json:"rtt_average_ns"`

	Dead     bool          `json:"dead"`
	DeadLeft time.Duration `json:"dead_left_ns"`
	// DeadCount is how many times the server was marked dead.
	DeadCount uint64        `json:"dead_count"`
	Deadtime  time.Duration `json:"deadtime_ns"`
}

// Dropped is the total of Drops.
func (s *ServerStats) Dropped() uint64 {
	var n uint64
	for _, v := range s.Drops {
		n += v
	}
	return n
}

// DropReasons lists the drop reasons in a fixed order, for tables.
func DropReasons() []string { return dropNames[:] }

// Stats returns every configured server's counters, in configuration order.
func (c *Client) Stats() []ServerStats {
	snap := c.snap.Load()
	now := c.clock.Now()
	groupsOf := map[*server][]string{}
	for name, list := range snap.groups {
		for _, s := range list {
			groupsOf[s] = append(groupsOf[s], name)
		}
	}
	out := make([]ServerStats, 0, len(snap.order))
	for _, s := range snap.order {
		s.mu.Lock()
		sc, dead := s.cfg, s.deadUntil
		s.mu.Unlock()
		st := &s.st
		ss := ServerStats{
			Name: sc.Name, Address: sc.Addr.String(), AuthPort: sc.AuthPort, AcctPort: sc.AcctPort,
			Groups:       sortedStrings(groupsOf[s]),
			AuthRequests: st.requests[AuthPort].Load(), AcctRequests: st.requests[AcctPort].Load(),
			Retransmissions: st.retransmissions.Load(), Timeouts: st.timeouts.Load(),
			Accepts: st.accepts.Load(), Rejects: st.rejects.Load(), Challenges: st.challenges.Load(),
			AcctResponses: st.acctResponses.Load(), Drops: map[string]uint64{},
			RTTLast: time.Duration(st.rttLast.Load()), DeadCount: st.deadCount.Load(), Deadtime: snap.deadtime,
		}
		if n := st.rttN.Load(); n > 0 {
			ss.RTTAverage = time.Duration(st.rttSum.Load() / int64(n))
		}
		for i := range st.drops {
			ss.Drops[dropNames[i]] = st.drops[i].Load()
		}
		if now.Before(dead) {
			ss.Dead, ss.DeadLeft = true, dead.Sub(now)
		}
		out = append(out, ss)
	}
	return out
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
