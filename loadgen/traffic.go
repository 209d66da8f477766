package loadgen

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/internal/csum"
)

// Traffic makes every established session carry data during the hold:
// ICMP echo requests (ping) from the session's address through its tunnel,
// and the replies counted. It shows that the LNS forwards for every
// session, not only that it negotiated them.
type Traffic struct {
	// Interval between two echo requests of one session; 0: no traffic.
	// The sessions' sends are spread evenly over the interval.
	Interval time.Duration
	// Size is the IP packet size (default 84, as ping's: 20 IP + 8 ICMP
	// + 56 data); at least 28.
	Size int
	// Target is the address pinged; the zero value pings the address the
	// LNS gave as its own in IPCP.
	Target netip.Addr
}

// TrafficReport counts the echo traffic of a run.
type TrafficReport struct {
	Sent, Received uint64
	// Unanswered counts sessions that sent and never got a reply.
	Unanswered int
}

// trafficTick is the pump's granularity: the sessions are split into
// Interval/trafficTick groups, one group sends per tick.
const trafficTick = 10 * time.Millisecond

// minEcho is an IPv4 header and an ICMP echo header.
const minEcho = 28

// echoState is a session's part of the traffic: target and seq belong to
// the pump, got to the data plane's receive path.
type echoState struct {
	local  atomic.Uint32 // IPv4, set when the session came up
	target netip.Addr
	seq    uint16
	sent   atomic.Uint32
	got    atomic.Uint32
}

func (e *echoState) setLocal(a netip.Addr) {
	if a.Is4() {
		b := a.As4()
		e.local.Store(binary.BigEndian.Uint32(b[:]))
	}
}

func (e *echoState) localAddr() netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], e.local.Load())
	return netip.AddrFrom4(b)
}

// trafficCounters are the run's totals.
type trafficCounters struct {
	sent, received atomic.Uint64
}

// startTraffic starts pinging from the established sessions and returns
// the function that stops it (waiting for the pump to exit).
func (g *gen) startTraffic() (stop func()) {
	tr := g.cfg.Traffic
	if tr.Interval <= 0 {
		return func() {}
	}
	g.mu.Lock()
	up := append([]*session(nil), g.up...)
	g.mu.Unlock()
	groups := max(1, int(tr.Interval/trafficTick))
	buckets := make([][]*session, groups)
	for i, s := range up {
		buckets[i%groups] = append(buckets[i%groups], s)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(tr.Interval / time.Duration(groups))
		defer t.Stop()
		for i := 0; ; i++ {
			for _, s := range buckets[i%groups] {
				s.sendEcho()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// sendEcho sends one echo request into the session's tunnel.
func (s *session) sendEcho() {
	e := &s.echo
	as := s.as.Load()
	local := e.localAddr()
	if s.state.Load() != stUp || as == nil || !e.target.Is4() || local == netip.IPv4Unspecified() {
		return
	}
	size := max(minEcho, s.g.cfg.Traffic.Size)
	e.seq++
	pkt := appendEcho(make([]byte, 0, size), local, e.target, uint16(s.idx), e.seq, size)
	if as.Data().SendIP(pkt) == nil {
		e.sent.Add(1)
		s.g.traffic.sent.Add(1)
	}
}

// appendEcho appends an IPv4 ICMP echo request of size octets.
func appendEcho(b []byte, src, dst netip.Addr, id, seq uint16, size int) []byte {
	s4, d4 := src.As4(), dst.As4()
	start := len(b)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(size))
	b = binary.BigEndian.AppendUint16(b, seq) // IP ID
	b = append(b, 0, 0, 64, 1, 0, 0)          // no fragment flags, TTL 64, ICMP, checksum later
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	binary.BigEndian.PutUint16(b[start+10:], csum.Checksum(b[start:start+20]))
	icmp := len(b)
	b = append(b, 8, 0, 0, 0) // echo request, code 0, checksum later
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, seq)
	for i := 0; len(b)-start < size; i++ {
		b = append(b, byte(i))
	}
	binary.BigEndian.PutUint16(b[icmp+2:], csum.Checksum(b[icmp:]))
	return b
}

// parseEchoReply returns the identifier of an ICMP echo reply to local.
func parseEchoReply(b []byte, local netip.Addr) (uint16, bool) {
	if len(b) < minEcho || b[0]>>4 != 4 {
		return 0, false
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl+8 || b[9] != 1 || netip.AddrFrom4([4]byte(b[16:20])) != local {
		return 0, false
	}
	if icmp := b[ihl:]; icmp[0] == 0 && icmp[1] == 0 && csum.Checksum(icmp) == 0 {
		return binary.BigEndian.Uint16(icmp[4:]), true
	}
	return 0, false
}

// trafficReport totals the traffic of the established sessions (after the
// runners are idle).
func (g *gen) trafficReport() TrafficReport {
	r := TrafficReport{Sent: g.traffic.sent.Load(), Received: g.traffic.received.Load()}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.up {
		if s.echo.sent.Load() > 0 && s.echo.got.Load() == 0 {
			r.Unanswered++
		}
	}
	return r
}
