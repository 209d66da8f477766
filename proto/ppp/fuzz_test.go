package ppp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/wire/mppe"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// Link-level fuzzing: a fuzz input is a sequence of frames, each prefixed
// with a 16-bit length; a zero length fires the link's pending timers. The
// frames are fed to a fresh link as if they came from the peer, which
// exercises LCP, IPCP, IPv6CP, CCP, PAP, CHAP, MS-CHAP and EAP handling in
// every state the fuzzer can reach. Seeds are the frames a real peer sent
// in recorded exchanges.

// lockedQueue is a Post target safe for AAA goroutines.
type lockedQueue struct {
	mu sync.Mutex
	q  []func()
}

func (l *lockedQueue) post(f func()) { l.mu.Lock(); l.q = append(l.q, f); l.mu.Unlock() }
func (l *lockedQueue) drain() {
	for {
		l.mu.Lock()
		if len(l.q) == 0 {
			l.mu.Unlock()
			return
		}
		f := l.q[0]
		l.q = l.q[1:]
		l.mu.Unlock()
		f()
	}
}
func (l *lockedQueue) empty() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.q) == 0 }

type fuzzHarness struct {
	q     lockedQueue
	clock manualClock
	l     *Link
	a     *fakeAAA
	out   [][]byte
}

func newFuzzHarness(t testing.TB, cfg Config, seed byte) *fuzzHarness {
	h := &fuzzHarness{a: &fakeAAA{users: map[string]string{"labuser": "labpass", "LNS": "lnspass"}}}
	cfg.Post = h.q.post
	cfg.Clock = &h.clock
	cfg.Rand = &countRand{n: seed}
	cfg.AddressControl = true
	cfg.Output = OutputFunc(func(b []byte) error { h.out = append(h.out, bytes.Clone(b)); return nil })
	if len(cfg.Auth.Methods) > 0 {
		cfg.Auth.AAA = h.a
	}
	l, err := NewLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.l = l
	return h
}

// settle runs posted work, waiting for an outstanding AAA answer (the
// link marks it pending on this goroutine) to come back.
func (h *fuzzHarness) settle() {
	h.q.drain()
	for h.l.auth.srv.pending {
		for h.q.empty() {
			runtime.Gosched()
		}
		h.q.drain()
	}
}

func (h *fuzzHarness) fireTimers() {
	h.clock.mu.Lock()
	ts := h.clock.timers
	h.clock.timers = nil
	h.clock.mu.Unlock()
	for _, t := range ts {
		if !t.stopped {
			t.stopped = true
			t.f()
		}
	}
}

// feed plays a fuzz input into the link.
func (h *fuzzHarness) feed(data []byte) {
	h.l.Start()
	h.settle()
	for n := 0; len(data) >= 2 && n < 64; n++ {
		size := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if size > len(data) {
			size = len(data)
		}
		frame := data[:size]
		data = data[size:]
		if size == 0 {
			h.fireTimers()
		} else {
			h.l.Input(frame)
		}
		h.settle()
	}
}

func (h *fuzzHarness) check(t *testing.T) {
	for _, f := range h.out {
		proto, payload, err := wire.ParseFrame(f)
		if err != nil {
			t.Fatalf("link sent a malformed frame %x", f)
		}
		if proto.IsControl() {
			if _, err := wire.ParsePacket(payload); err != nil {
				t.Fatalf("link sent a malformed %v packet %x", proto, payload)
			}
		}
	}
	in := h.l.Info()
	if (in.IPCP == Opened || in.IPv6CP == Opened) && (in.LCP != Opened || in.Phase != PhaseNetwork) {
		t.Fatalf("network open with LCP %s in phase %s", in.LCP, in.Phase)
	}
	if in.MPPE != nil && (in.CCP != Opened || len(in.MPPE.SendKey) != 16 || len(in.MPPE.RecvKey) != 16) {
		t.Fatalf("MPPE %+v with CCP %s", in.MPPE, in.CCP)
	}
	if in.Phase == PhaseNetwork && in.AuthPeer != 0 && in.Username == "" {
		t.Fatalf("network phase without an authenticated user: %+v", in)
	}
}

const serverSeed, clientSeed byte = 0x10, 0x80

func serverFuzzConfig(m aaa.Method) Config {
	return Config{
		Auth: AuthConfig{Methods: []aaa.Method{m}, Hostname: "LNS", MSCHAPv2Retries: 1},
		IPCP: IPCPConfig{Local: netip.MustParseAddr("198.19.0.1"), Peer: netip.MustParseAddr("198.19.0.10"),
			DNS: [2]netip.Addr{netip.MustParseAddr("198.19.0.53")}},
		IPv6CP: IPv6CPConfig{Enabled: true}, Keepalive: 10e9,
		MPPE: MPPEConfig{Strengths: MPPEAuto},
	}
}

func clientFuzzConfig() Config {
	return Config{
		Auth:   AuthConfig{Hostname: "labuser", Password: "labpass"},
		IPCP:   IPCPConfig{Client: true, RequestDNS: true},
		IPv6CP: IPv6CPConfig{Enabled: true},
		MPPE:   MPPEConfig{Strengths: MPPEAuto | mppe.Opt56},
	}
}

// recordPeer runs a server harness and a client harness back to back and
// returns, encoded as a fuzz input, the frames the "peer" side sent to
// the "self" side.
func recordPeer(t testing.TB, selfCfg, peerCfg Config, selfSeed, peerSeed byte) []byte {
	self := newFuzzHarness(t, selfCfg, selfSeed)
	peer := newFuzzHarness(t, peerCfg, peerSeed)
	var rec []byte
	self.l.Start()
	peer.l.Start()
	for range 200 {
		self.settle()
		peer.settle()
		so, po := self.out, peer.out
		self.out, peer.out = nil, nil
		if len(so) == 0 && len(po) == 0 {
			break
		}
		for _, f := range so {
			peer.l.Input(f)
		}
		for _, f := range po {
			rec = binary.BigEndian.AppendUint16(rec, uint16(len(f)))
			rec = append(rec, f...)
			self.l.Input(f)
		}
	}
	return rec
}

func addSeeds(f *testing.F, server bool) {
	for _, m := range allMethods {
		s, c := serverFuzzConfig(m), clientFuzzConfig()
		if server {
			f.Add(byte(m-1), recordPeer(f, s, c, serverSeed, clientSeed))
		} else {
			f.Add(byte(m-1), recordPeer(f, c, s, clientSeed, serverSeed))
		}
	}
	f.Add(byte(1), []byte{0, 0, 0, 0})
	// MPPE open (MS-CHAPv2), then Reset-Request, Reset-Ack, plain IPv4,
	// an MPPE packet and a Configure-Request with MPPC and the D bit.
	s, c := serverFuzzConfig(aaa.MSCHAPv2), clientFuzzConfig()
	var rec []byte
	if server {
		rec = recordPeer(f, s, c, serverSeed, clientSeed)
	} else {
		rec = recordPeer(f, c, s, clientSeed, serverSeed)
	}
	for _, fr := range [][]byte{
		{0xff, 0x03, 0x80, 0xfd, 14, 9, 0, 4},
		{0xff, 0x03, 0x80, 0xfd, 15, 2, 0, 4},
		{0xff, 0x03, 0x00, 0x21, 0x45, 0, 0, 20},
		{0xff, 0x03, 0x00, 0xfd, 0x90, 0x01, 0xaa},
		{0xff, 0x03, 0x80, 0xfd, 1, 7, 0, 10, 18, 6, 0, 0, 0, 0xf1},
	} {
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(fr)))
		rec = append(rec, fr...)
	}
	f.Add(byte(aaa.MSCHAPv2-1), rec)
}

// FuzzServerInput fuzzes a link that authenticates its peer.
func FuzzServerInput(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, method byte, data []byte) {
		m := aaa.Method(method%5 + 1)
		h := newFuzzHarness(t, serverFuzzConfig(m), serverSeed)
		h.feed(data)
		h.check(t)
	})
}

// FuzzClientInput fuzzes a link that is authenticated by its peer.
func FuzzClientInput(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, method byte, data []byte) {
		h := newFuzzHarness(t, clientFuzzConfig(), clientSeed)
		h.feed(data)
		h.check(t)
	})
}

// TestRecordedSeedsComplete makes sure the seeds reach the Network phase,
// so that the fuzzers start from deep states.
func TestRecordedSeedsComplete(t *testing.T) {
	for _, m := range allMethods {
		for _, server := range []bool{true, false} {
			s, c := serverFuzzConfig(m), clientFuzzConfig()
			self, peer, ss, ps := s, c, serverSeed, clientSeed
			if !server {
				self, peer, ss, ps = c, s, clientSeed, serverSeed
			}
			rec := recordPeer(t, self, peer, ss, ps)
			h := newFuzzHarness(t, self, ss)
			h.feed(rec)
			in := h.l.Info()
			if in.IPCP != Opened {
				t.Errorf("%v server=%v: replay ends with IPCP %s, phase %s", m, server, in.IPCP, in.Phase)
			}
			if m == aaa.MSCHAPv2 && in.MPPE == nil {
				t.Errorf("server=%v: MS-CHAPv2 replay ends without MPPE (CCP %s)", server, in.CCP)
			}
		}
	}
}
