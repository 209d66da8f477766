package access_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/transport/memnet"
)

func acctNode(t *testing.T, nw *memnet.Network, m *aaa.MemoryAccounter, lists *[]string) *node {
	return newNodeCfg(t, nw, "198.18.0.1", newLeases(), localAAA{"alice", "wonderland"}, func(c *access.Config) {
		c.Accounter = func(list string) aaa.Accounter {
			*lists = append(*lists, list)
			return m
		}
		c.InterimInterval = func() time.Duration { return time.Minute }
	})
}

func kinds(m *aaa.MemoryAccounter) []aaa.RecordKind {
	var out []aaa.RecordKind
	for _, r := range m.Records() {
		out = append(out, r.Kind)
	}
	return out
}

// TestAccountingAndIdleTimeout: a session gives its Start when IPCP
// opens, an Interim-Update each minute, and a Stop with its cause; a CoA
// sets an Idle-Timeout which ends the session although LCP echoes (every
// 10 s) keep flowing: control frames are not activity.
func TestAccountingAndIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		m := aaa.NewMemoryAccounter(16, time.Now)
		var lists []string
		server := acctNode(t, nw, m, &lists)
		client := newNode(t, nw, "198.18.0.2", nil)
		ss, _, _, _ := call(t, server, client, clientProfile)
		<-server.ups
		<-client.ups
		synctest.Wait()
		if k := kinds(m); len(k) != 1 || k[0] != aaa.AcctStart {
			t.Fatalf("records %v, want a Start", k)
		}
		if len(lists) != 1 || lists[0] != "" {
			t.Errorf("accounting lists asked %q", lists)
		}
		start := m.Records()[0].Record
		if start.SessionID != ss.ID() || start.Username != "alice" || start.FramedAddress.String() != "198.19.1.5" ||
			start.NASPort != "Vi1" || start.Authentic != aaa.AuthenticLocal {
			t.Errorf("start record %+v", start)
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if k := kinds(m); len(k) != 2 || k[1] != aaa.AcctInterim {
			t.Fatalf("records %v, want Start, Interim", k)
		}
		if r := m.Records()[1].Record; r.SessionSeconds < 60 || r.InPackets == 0 {
			t.Errorf("interim %+v", r)
		}
		idle := uint32(30)
		if !ss.SetTimeouts(nil, &idle) {
			t.Fatal("SetTimeouts refused on a live session")
		}
		if to := ss.Timeouts(); to.Idle != 30*time.Second || to.Session != 0 {
			t.Errorf("timeouts %+v", to)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		select {
		case c := <-server.ends:
			t.Fatalf("ended early: %v", c)
		default:
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if c := <-server.ends; c != access.CauseIdleTimeout {
			t.Fatalf("cause %v, want idle timeout", c)
		}
		synctest.Wait()
		recs := m.Records()
		last := recs[len(recs)-1]
		if last.Kind != aaa.AcctStop || last.Record.TerminateCode != 4 || last.Record.SessionID != ss.ID() {
			t.Errorf("last record %v %+v, want a Stop with Idle-Timeout (4)", last.Kind, last.Record)
		}
		if ss.SetTimeouts(nil, &idle) {
			t.Error("SetTimeouts took an ended session")
		}
	})
}

// TestCoASessionTimeout: a Session-Timeout set on a live session (a CoA)
// counts from then and ends it with its cause.
func TestCoASessionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.New(1)
		m := aaa.NewMemoryAccounter(16, time.Now)
		var lists []string
		server := acctNode(t, nw, m, &lists)
		client := newNode(t, nw, "198.18.0.2", nil)
		ss, _, _, _ := call(t, server, client, clientProfile)
		<-server.ups
		<-client.ups
		time.Sleep(5 * time.Second)
		st := uint32(20)
		ss.SetTimeouts(&st, nil)
		time.Sleep(10 * time.Second)
		if to := ss.Timeouts(); to.Session != 20*time.Second || to.SessionLeft != 10*time.Second {
			t.Errorf("timeouts %+v", to)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if c := <-server.ends; c != access.CauseSessionTimeout {
			t.Fatalf("cause %v", c)
		}
		synctest.Wait()
		if k := kinds(m); len(k) != 2 || k[0] != aaa.AcctStart || k[1] != aaa.AcctStop || m.Counts().Active != 0 {
			t.Errorf("records %v", k)
		}
	})
}

// TestAccountingNewInfo: with aaa accounting update newinfo, a session
// whose IPv6CP opens after its Start (which could not tell the prefix)
// sends an Interim-Update with the prefix; without it, nothing more is
// sent until the Stop. Whichever NCP opens first, the prefix reaches
// the accounting server in the Start or in that Interim.
func TestAccountingNewInfo(t *testing.T) {
	for _, newinfo := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			nw := memnet.New(1)
			m := aaa.NewMemoryAccounter(16, time.Now)
			prefix := netip.MustParsePrefix("2001:db8:100::/64")
			server, _ := v6PoolServer(t, nw, func(c *access.Config) {
				c.Accounter = func(string) aaa.Accounter { return m }
				c.NewInfo = func() bool { return newinfo }
			})
			client := newNode(t, nw, "198.18.0.2", nil)
			sp := v6PoolProfile()
			cp := *clientProfile
			cp.IPv6 = &access.IPv6Profile{Enabled: true, SLAAC: true}
			// IPv6CP's first Configure-Requests are lost: it opens after
			// IPCP, and the Start cannot know the prefix.
			lossUntil := time.Now().Add(2 * time.Second)
			nw.SetFaults(memnet.Faults{Drop: func(b []byte, _, _ netip.AddrPort) bool {
				return time.Now().Before(lossUntil) && bytes.Contains(b, []byte{0x80, 0x57, 0x01})
			}})
			callWith(t, server, client, &sp, &cp)
			<-server.ups
			<-client.ups
			time.Sleep(5 * time.Second)
			synctest.Wait()
			recs := m.Records()
			if len(recs) == 0 || recs[0].Kind != aaa.AcctStart || len(recs[0].Record.IPv6Prefixes) != 0 {
				t.Fatalf("newinfo %v: records %+v, want a Start without the prefix", newinfo, recs)
			}
			if !newinfo {
				if len(recs) != 1 {
					t.Fatalf("without newinfo: records %v", kinds(m))
				}
				return
			}
			if len(recs) != 2 || recs[1].Kind != aaa.AcctInterim || !slices.Equal(recs[1].Record.IPv6Prefixes, []netip.Prefix{prefix}) {
				t.Fatalf("newinfo: records %+v, want an Interim-Update with %v", recs, prefix)
			}
		})
	}
}
