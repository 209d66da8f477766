package daemon

import (
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/vpdn/vpdn/show"
	"github.com/vpdn/vpdn/transport/memnet"
	"github.com/vpdn/vpdn/wire/l2tp"
)

// dropsLNS takes a tunnel from anyone, one per address, and one session.
// Its tunnels stay without sessions: the test's fake clock may run while
// the show commands wait.
const dropsLNS = `hostname lns
vpdn enable
vpdn l2tp listen 198.18.0.1:1701
vpdn session-limit 1
vpdn tunnel-limit per-peer 1
vpdn-group LNS
 accept-dialin
  protocol l2tp
  virtual-template 1
 no l2tp tunnel authentication
 l2tp tunnel timeout no-session never
ip local pool P 198.19.1.1 198.19.1.10
interface Loopback0
 ip address 198.19.0.1 255.255.255.255
interface Virtual-Template1
 ip unnumbered Loopback0
 peer default ip address pool P
 ppp authentication chap
`

// rawTunnel is a hand-driven LAC on the in-memory network: it opens a
// tunnel, then sends what the test builds.
type rawTunnel struct {
	c      *memnet.Conn
	mu     sync.Mutex
	tid    uint16 // the LNS's
	ns, nr uint16
	up     chan struct{}
}

var memLNSAddr = netip.MustParseAddrPort("198.18.0.1:1701")

func openRawTunnel(t *testing.T, nw *memnet.Network, from netip.AddrPort, ourTID uint16) *rawTunnel {
	t.Helper()
	c, err := nw.Listen(from)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawTunnel{c: c, up: make(chan struct{}), ns: 1} // the SCCRQ below is Ns 0
	go c.Serve(func(b []byte, _ netip.AddrPort) {
		h, err := l2tp.ParseHeader(b)
		if err != nil || len(h.Payload(b)) == 0 {
			return
		}
		var m l2tp.Message
		_ = m.Decode(h.Payload(b), nil)
		r.mu.Lock()
		defer r.mu.Unlock()
		if h.Ns == r.nr {
			r.nr++
		}
		if m.Type == l2tp.MsgSCCRP {
			r.tid = m.AssignedTunnelID
			b, _ := (&l2tp.Message{Type: l2tp.MsgSCCCN}).Append(nil, r.tid, 0, r.ns, r.nr, nil)
			r.ns++
			r.c.WriteTo(b, memLNSAddr)
			close(r.up)
			return
		}
		r.c.WriteTo(l2tp.AppendZLB(nil, r.tid, r.ns, r.nr), memLNSAddr)
	})
	r.c.WriteTo(sccrq(ourTID), memLNSAddr)
	return r
}

func sccrq(tid uint16) []byte {
	m := &l2tp.Message{Type: l2tp.MsgSCCRQ, ProtocolVersion: 1, HostName: "raw", FramingCaps: 3, AssignedTunnelID: tid}
	m.Set(l2tp.AVPProtocolVersion, l2tp.AVPHostName, l2tp.AVPFramingCapabilities, l2tp.AVPAssignedTunnelID)
	b, _ := m.Append(nil, 0, 0, 0, 0, nil)
	return b
}

// msg encodes m in the tunnel with the next Ns (nsSkip moves it ahead).
func (r *rawTunnel) msg(m *l2tp.Message, sid, nsSkip uint16) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := m.Append(nil, r.tid, sid, r.ns+nsSkip, r.nr, nil)
	if err != nil {
		panic(err)
	}
	if nsSkip == 0 {
		r.ns++
	}
	return b
}

// TestControlDropCounters sends each kind of malformed or refused control
// packet through the in-memory transport to a whole daemon and reads its
// counter in show l2tp counters --json (issue 13: every drop visible).
func TestControlDropCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(13)
		lns := newMemDaemon(t, nw, dropsLNS)
		counters := func() map[string]uint64 {
			var c show.L2TPCounters
			if err := json.Unmarshal(lns.show(t, "l2tp counters", true).Data, &c); err != nil {
				t.Fatal(err)
			}
			out := map[string]uint64{}
			for _, x := range c.Drops {
				out[x.Reason] = x.Count
			}
			return out
		}
		tun := openRawTunnel(t, nw, netip.MustParseAddrPort("198.18.0.9:1701"), 7)
		<-tun.up
		synctest.Wait()
		other, err := nw.Listen(netip.MustParseAddrPort("198.18.0.10:1701"))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		samePeerOtherPort, err := nw.Listen(netip.MustParseAddrPort("198.18.0.9:1702"))
		if err != nil {
			t.Fatal(err)
		}
		defer samePeerOtherPort.Close()
		icrq := func(sid uint16) *l2tp.Message {
			m := &l2tp.Message{Type: l2tp.MsgICRQ, AssignedSessionID: sid, CallSerialNumber: 1}
			m.Set(l2tp.AVPAssignedSessionID, l2tp.AVPCallSerialNumber)
			return m
		}
		for _, tc := range []struct {
			reason string
			send   func()
		}{
			{"bad-header", func() { other.WriteTo([]byte{0xc8, 0x02, 0x00}, memLNSAddr) }},
			{"no-tunnel", func() {
				b, _ := (&l2tp.Message{Type: l2tp.MsgHELLO}).Append(nil, 4242, 0, 0, 0, nil)
				other.WriteTo(b, memLNSAddr)
			}},
			{"version-3", func() { other.WriteTo([]byte{0xc0, 0x03, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0}, memLNSAddr) }},
			{"bad-avp", func() { other.WriteTo(sccrq(0), memLNSAddr) }},               // §4.4.3: Assigned Tunnel ID 0
			{"bad-avp", func() { tun.c.WriteTo(tun.msg(icrq(0), 0, 0), memLNSAddr) }}, // §4.4.4: Assigned Session ID 0
			{"hidden-avp-no-random-vector", func() {
				b := l2tp.AppendControlHeader(nil, tun.tid, 0, 0, 0)
				e := l2tp.NewAVPEncoder(b)
				e.Uint16(true, l2tp.AVPMessageType, uint16(l2tp.MsgICRQ))
				e.Uint16(true, l2tp.AVPAssignedSessionID, 5)
				e.Uint32(true, l2tp.AVPCallSerialNumber, 5)
				e.SetHiding([]byte("x"), []byte("rv-not-sent"), nil)
				e.Hidden(true, l2tp.AVPCallingNumber, []byte("555"))
				b, _ = e.Bytes()
				tun.mu.Lock()
				h := l2tp.AppendControlHeader(nil, tun.tid, 0, tun.ns, tun.nr)
				copy(b, h)
				tun.ns++
				tun.mu.Unlock()
				l2tp.FinishControl(b)
				tun.c.WriteTo(b, memLNSAddr)
			}},
			{"out-of-window", func() { tun.c.WriteTo(tun.msg(&l2tp.Message{Type: l2tp.MsgHELLO}, 0, 1000), memLNSAddr) }},
			{"wrong-peer", func() {
				samePeerOtherPort.WriteTo(tun.msg(&l2tp.Message{Type: l2tp.MsgHELLO}, 0, 5), memLNSAddr)
			}},
			{"no-session", func() {
				m := &l2tp.Message{Type: l2tp.MsgICCN, TxConnectSpeed: 1, FramingType: 1}
				m.Set(l2tp.AVPTxConnectSpeed, l2tp.AVPFramingType)
				tun.c.WriteTo(tun.msg(m, 999, 0), memLNSAddr)
			}},
			{"tunnel-limit", func() { samePeerOtherPort.WriteTo(sccrq(8), memLNSAddr) }}, // vpdn tunnel-limit per-peer 1
			{"session-limit", func() { // vpdn session-limit 1
				tun.c.WriteTo(tun.msg(icrq(11), 0, 0), memLNSAddr)
				tun.c.WriteTo(tun.msg(icrq(12), 0, 0), memLNSAddr)
			}},
		} {
			before := counters()
			tc.send()
			synctest.Wait()
			after := counters()
			if after[tc.reason] <= before[tc.reason] {
				t.Errorf("%s: counter did not move (%d -> %d); all: %v", tc.reason, before[tc.reason], after[tc.reason], after)
			}
		}
		text := lns.show(t, "l2tp counters", false).Text
		for _, want := range []string{"L2TP Control Plane Counters", "hidden-avp-no-random-vector", "session-setup-timeout"} {
			if !strings.Contains(text, want) {
				t.Errorf("show l2tp counters lacks %q:\n%s", want, text)
			}
		}
	})
}
