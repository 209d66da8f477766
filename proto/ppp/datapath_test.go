package ppp

import (
	"bytes"
	"net/netip"
	"testing"

	wire "github.com/vpdn/vpdn/wire/ppp"
)

// syncPair runs two links on one synchronous queue, without goroutines:
// frames sent while deliver is set are queued for the other link.
type syncPair struct {
	q       syncPost
	a, b    *Link
	ha, hb  *countHandler
	deliver bool
}

// countHandler counts data packets without keeping them.
type countHandler struct {
	recorder
	n    int
	last []byte
}

func (c *countHandler) Packet(p wire.Protocol, b []byte) { c.n++; c.last = b }

func newSyncPair(t testing.TB, ca, cb Config) *syncPair {
	t.Helper()
	sp := &syncPair{deliver: true, ha: &countHandler{}, hb: &countHandler{}}
	seed := byte(0)
	mk := func(cfg Config, h *countHandler, peer **Link) *Link {
		seed += 0x40
		cfg.Post = sp.q.post
		cfg.Handler = h
		cfg.AddressControl = true
		cfg.Clock = &manualClock{}
		cfg.Rand = &countRand{n: seed}
		cfg.Output = OutputFunc(func(b []byte) error {
			if sp.deliver {
				c := bytes.Clone(b)
				sp.q.post(func() { (*peer).Input(c) })
			}
			return nil
		})
		l, err := NewLink(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	sp.a = mk(ca, sp.ha, &sp.b)
	sp.b = mk(cb, sp.hb, &sp.a)
	sp.a.Start()
	sp.b.Start()
	sp.q.drain()
	return sp
}

func openPair(t testing.TB) *syncPair {
	sp := newSyncPair(t,
		Config{IPCP: IPCPConfig{Local: netip.MustParseAddr("198.19.0.1"), Peer: netip.MustParseAddr("198.19.0.2")}, PFC: true, ACFC: true},
		Config{IPCP: IPCPConfig{Client: true}, PFC: true, ACFC: true})
	if sp.a.ipcp.state != Opened || sp.b.ipcp.state != Opened {
		t.Fatalf("IPCP %s/%s", sp.a.ipcp.state, sp.b.ipcp.state)
	}
	return sp
}

// TestDataPathZeroAlloc proves an open link hands a received IPv4 frame up
// and encapsulates one down without allocating.
func TestDataPathZeroAlloc(t *testing.T) {
	sp := openPair(t)
	if f := sp.a.Framing(); !f.ACFC || !f.PFC {
		t.Fatalf("compression not agreed: %+v", f)
	}
	// Down: encapsulate in place into the headroom and hand to Output.
	pkt := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 198, 19, 0, 1, 198, 19, 0, 2}
	buf := make([]byte, wire.MaxHeaderLen+len(pkt))
	copy(buf[wire.MaxHeaderLen:], pkt)
	if err := sp.a.SendPacket(wire.ProtoIPv4, buf, wire.MaxHeaderLen); err != nil {
		t.Fatal(err)
	}
	sp.q.drain()
	if sp.hb.n != 1 || !bytes.Equal(sp.hb.last, pkt) {
		t.Fatalf("peer got %d packets, last %x", sp.hb.n, sp.hb.last)
	}
	sp.deliver = false
	allocs := testing.AllocsPerRun(1000, func() {
		if err := sp.a.SendPacket(wire.ProtoIPv4, buf, wire.MaxHeaderLen); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("SendPacket allocates %v times per packet", allocs)
	}
	// Up: a compressed frame (PFC+ACFC) and a full one.
	for _, frame := range [][]byte{append([]byte{0x21}, pkt...), append([]byte{0xff, 0x03, 0x00, 0x21}, pkt...)} {
		n := sp.ha.n
		allocs = testing.AllocsPerRun(1000, func() { sp.a.Input(frame) })
		if allocs != 0 {
			t.Fatalf("Input allocates %v times per packet", allocs)
		}
		if sp.ha.n != n+1001 || !bytes.Equal(sp.ha.last, pkt) {
			t.Fatalf("handler saw %d packets", sp.ha.n-n)
		}
	}
	st := sp.a.Stats()
	if st.InPackets < 2002 || st.OutPackets < 1002 {
		t.Fatalf("stats %+v", st)
	}
	// Closed network protocol: dropped and counted, no allocation either.
	if err := sp.a.SendPacket(wire.ProtoIPv6, buf, wire.MaxHeaderLen); err != ErrNotOpen {
		t.Fatalf("IPv6 without IPv6CP: %v", err)
	}
	sp.a.Input(append([]byte{0x57}, 0x60))
	if sp.a.Stats().DropNotOpen != 1 {
		t.Fatalf("stats %+v", sp.a.Stats())
	}
}

func BenchmarkInput(b *testing.B) {
	sp := openPair(b)
	frame := append([]byte{0x21}, make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		sp.a.Input(frame)
	}
}

func BenchmarkSendPacket(b *testing.B) {
	sp := openPair(b)
	sp.deliver = false
	buf := make([]byte, wire.MaxHeaderLen+1400)
	b.ReportAllocs()
	b.SetBytes(1400)
	for b.Loop() {
		sp.a.SendPacket(wire.ProtoIPv4, buf, wire.MaxHeaderLen)
	}
}

// countRand is a deterministic byte source; links given different seeds
// pick different magic numbers.
type countRand struct{ n byte }

func (c *countRand) Read(b []byte) (int, error) {
	for i := range b {
		c.n++
		b[i] = c.n
	}
	return len(b), nil
}
