package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/vpdn/vpdn/internal/csum"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/esp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// espSink is a bind that keeps the last datagram, without allocating.
type espSink struct {
	mu   sync.Mutex
	buf  [70000]byte
	n    int
	to   netip.AddrPort
	sent int
}

func (s *espSink) WriteTo(b []byte, to netip.AddrPort) error {
	s.mu.Lock()
	s.n = copy(s.buf[:], b)
	s.to = to
	s.sent++
	s.mu.Unlock()
	return nil
}
func (s *espSink) ServeBatch(h func([]byte, netip.AddrPort), flush func()) error { return nil }
func (s *espSink) LocalAddr() netip.AddrPort                                     { return netip.AddrPort{} }
func (s *espSink) Close() error                                                  { return nil }
func (s *espSink) last() []byte                                                  { return bytes.Clone(s.buf[:s.n]) }

// espDev is a TUN that keeps the last packet written, without allocating.
type espDev struct {
	buf    [70000]byte
	n      int
	writes int
}

func (d *espDev) Read(b []byte) (int, error)    { return 0, netif.ErrClosed }
func (d *espDev) TryRead(b []byte) (int, error) { return 0, netif.ErrWouldBlock }
func (d *espDev) Write(b []byte) (int, error) {
	d.n = copy(d.buf[:], b)
	d.writes++
	return len(b), nil
}
func (d *espDev) Name() string { return "crypto0" }
func (d *espDev) Close() error { return nil }

var (
	espNetA = netip.MustParsePrefix("198.19.1.0/24")
	espNetB = netip.MustParsePrefix("198.19.2.0/24")
	espPeer = netip.MustParseAddrPort("198.18.0.2:500")
)

// espPair returns the SA pair of side A and its mirror on side B.
func espPair(t testing.TB, gcm bool) (a, b ESPSAConfig) {
	k1 := bytes.Repeat([]byte{1}, 16)
	k2 := bytes.Repeat([]byte{2}, 16)
	a1 := bytes.Repeat([]byte{3}, 20)
	a2 := bytes.Repeat([]byte{4}, 20)
	mk := func(spi uint32, ek, ak []byte) esp.Config {
		if gcm {
			return esp.Config{SPI: spi, Cipher: esp.CipherAESGCM, EncKey: append(bytes.Clone(ek), 9, 9, 9, 9)}
		}
		return esp.Config{SPI: spi, Cipher: esp.CipherAESCBC, EncKey: ek, Integrity: esp.HMACSHA196, AuthKey: ak}
	}
	a = ESPSAConfig{In: mk(0x1001, k1, a1), Out: mk(0x2002, k2, a2), Peer: espPeer,
		Local: ESPSelector{Prefix: espNetA}, Remote: ESPSelector{Prefix: espNetB}}
	b = ESPSAConfig{In: mk(0x2002, k2, a2), Out: mk(0x1001, k1, a1), Peer: netip.MustParseAddrPort("198.18.0.1:500"),
		Local: ESPSelector{Prefix: espNetB}, Remote: ESPSelector{Prefix: espNetA}}
	return a, b
}

func espPacket(src, dst string, n int) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(n))
	p[8] = 64
	p[9] = 1
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	for i := 20; i < n; i++ {
		p[i] = byte(i)
	}
	return p
}

type espSide struct {
	plane *Plane
	e     *ESP
	dev   *espDev
	raw   *espSink
	acq   []int
}

func newESPSide(t testing.TB, sa ESPSAConfig, local, remote netip.Prefix) *espSide {
	s := &espSide{plane: New(Config{}), dev: &espDev{}, raw: &espSink{}}
	t.Cleanup(s.plane.Close)
	s.e = s.plane.NewESP(ESPConfig{Device: s.dev, Raw: s.raw, Acquire: func(p int, src, dst netip.Addr) { s.acq = append(s.acq, p) }})
	s.e.SetPolicies([]ESPPolicy{
		{Permit: false, Proto: 6, Src: local, Dst: remote, DstPort: 22},
		{Permit: true, Src: local, Dst: remote},
	})
	if sa.In.SPI != 0 {
		x, err := NewESPSA(sa)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.e.Install(x, 1); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestESPTunnel(t *testing.T) {
	for _, gcm := range []bool{false, true} {
		ca, cb := espPair(t, gcm)
		a := newESPSide(t, ca, espNetA, espNetB)
		b := newESPSide(t, cb, espNetB, espNetA)
		var out [70000]byte
		pkt := espPacket("198.19.1.5", "198.19.2.9", 100)
		a.e.Output(bytes.Clone(pkt), out[:])
		if a.raw.sent != 1 || a.raw.to != netip.AddrPortFrom(espPeer.Addr(), 0) {
			t.Fatalf("sent %d to %v", a.raw.sent, a.raw.to)
		}
		wire := a.raw.last()
		if binary.BigEndian.Uint32(wire) != 0x2002 {
			t.Fatalf("SPI %#x", binary.BigEndian.Uint32(wire))
		}
		b.e.Input(bytes.Clone(wire), espPeer)
		if b.dev.writes != 1 || !bytes.Equal(b.dev.buf[:b.dev.n], pkt) {
			t.Fatalf("gcm=%v: not delivered intact", gcm)
		}
		// Replayed, tampered, unknown SPI, short.
		b.e.Input(bytes.Clone(wire), espPeer)
		a.e.Output(bytes.Clone(pkt), out[:])
		bad := a.raw.last()
		bad[len(bad)-1] ^= 1
		b.e.Input(bad, espPeer)
		unk := bytes.Clone(wire)
		unk[3] = 0x77
		b.e.Input(unk, espPeer)
		b.e.Input(wire[:5], espPeer)
		// Outside the SA's selectors: sealed by a (mis)configured peer.
		c := newESPSide(t, ca, netip.MustParsePrefix("0.0.0.0/0"), espNetB)
		c.e.Output(espPacket("198.19.7.5", "198.19.2.9", 60), out[:])
		c.e.Output(espPacket("198.19.7.5", "198.19.2.9", 60), out[:])
		c.e.Output(espPacket("198.19.7.5", "198.19.2.9", 60), out[:])
		b.e.Input(c.raw.last(), espPeer)
		// Denied (bypass), unmatched, and no SA yet (acquire).
		b.e.Output(espPacket("198.19.2.9", "198.19.1.5", 60), out[:]) // matched: sent
		deny := espPacket("198.19.2.9", "198.19.1.5", 60)
		deny[9] = 6
		binary.BigEndian.PutUint16(deny[22:], 22)
		b.e.Output(deny, out[:])
		b.e.Output(espPacket("198.19.9.9", "198.19.1.5", 60), out[:])
		b.e.Remove(0x2002)
		b.e.Output(espPacket("198.19.2.9", "198.19.1.5", 60), out[:])
		b.e.Output(espPacket("198.19.2.9", "198.19.1.5", 60), out[:])
		if len(b.acq) != 1 || b.acq[0] != 1 {
			t.Errorf("acquire calls %v, want one for entry 1", b.acq)
		}
		d := b.plane.Drops()
		for r, want := range map[string]uint64{"esp-replay": 1, "esp-icv": 1, "esp-unknown-spi": 1, "esp-bad": 1, "esp-policy": 1, "esp-bypass": 2, "esp-no-sa": 2} {
			if d[r] != want {
				t.Errorf("gcm=%v: drop %s = %d, want %d (%v)", gcm, r, d[r], want, d)
			}
		}
	}
}

func mustSA(t testing.TB, c ESPSAConfig, spi uint32) *ESPSA {
	if spi != 0 {
		c.In.SPI = spi
	}
	sa, err := NewESPSA(c)
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// TestESPMakeBeforeBreak: a rekeyed SA takes the outbound traffic as soon
// as it is installed; the old one still opens what is in flight until it
// is removed.
func TestESPMakeBeforeBreak(t *testing.T) {
	ca, _ := espPair(t, true)
	a := newESPSide(t, ca, espNetA, espNetB)
	n := ca
	n.In.SPI, n.Out.SPI = 0x3003, 0x4004
	if err := a.e.Install(mustSA(t, n, 0), 1); err != nil {
		t.Fatal(err)
	}
	var out [70000]byte
	a.e.Output(espPacket("198.19.1.5", "198.19.2.9", 80), out[:])
	if spi := binary.BigEndian.Uint32(a.raw.last()); spi != 0x4004 {
		t.Fatalf("outbound SPI %#x, want the new SA's", spi)
	}
	if a.e.Lookup(0x1001) == nil || len(a.e.SAs()) != 2 {
		t.Fatal("old SA gone before it was deleted")
	}
	a.e.Remove(0x3003)
	a.e.Output(espPacket("198.19.1.5", "198.19.2.9", 80), out[:])
	if spi := binary.BigEndian.Uint32(a.raw.last()); spi != 0x2002 {
		t.Fatalf("after removing the new SA, SPI %#x", spi)
	}
	if err := a.e.Install(mustSA(t, ca, 0), 1); err == nil {
		t.Fatal("same SPI installed twice")
	}
}

// TestESPInboundFirst: a responder's successor SA, installed before QM3
// with no policy, opens what the initiator already sends on it while the
// old SA keeps the outbound traffic; Activate hands the outbound over.
func TestESPInboundFirst(t *testing.T) {
	ca, cb := espPair(t, true)
	a := newESPSide(t, ca, espNetA, espNetB)
	b := newESPSide(t, cb, espNetB, espNetA)
	na, nb := ca, cb
	na.In.SPI, na.Out.SPI = 0x3003, 0x4004
	nb.In.SPI, nb.Out.SPI = 0x4004, 0x3003
	if err := a.e.Install(mustSA(t, na, 0), 1); err != nil { // the initiator: in use at once
		t.Fatal(err)
	}
	if err := b.e.Install(mustSA(t, nb, 0), -1); err != nil { // the responder: inbound only
		t.Fatal(err)
	}
	var out [70000]byte
	pkt := espPacket("198.19.1.5", "198.19.2.9", 80)
	a.e.Output(bytes.Clone(pkt), out[:])
	b.e.Input(a.raw.last(), espPeer)
	if b.dev.writes != 1 || !bytes.Equal(b.dev.buf[:b.dev.n], pkt) {
		t.Fatal("the inbound-only SA did not open the initiator's packet")
	}
	back := espPacket("198.19.2.9", "198.19.1.5", 80)
	b.e.Output(bytes.Clone(back), out[:])
	if spi := binary.BigEndian.Uint32(b.raw.last()); spi != 0x1001 {
		t.Fatalf("before QM3 the responder sent on SPI %#x, want the old SA's", spi)
	}
	if err := b.e.Activate(0x4004, 1); err != nil {
		t.Fatal(err)
	}
	b.e.Output(bytes.Clone(back), out[:])
	if spi := binary.BigEndian.Uint32(b.raw.last()); spi != 0x3003 {
		t.Fatalf("after Activate: SPI %#x", spi)
	}
	if err := b.e.Activate(0x9999, 1); err == nil {
		t.Fatal("activated an SPI never installed")
	}
	if err := b.e.Activate(0x4004, 1); err != nil || len(b.e.spd.Load().out[1]) != 2 {
		t.Fatalf("a second Activate: %v, %d SAs on the entry", err, len(b.e.spd.Load().out[1]))
	}
}

// TestESPAllocs: neither direction allocates per packet.
func TestESPAllocs(t *testing.T) {
	ca, cb := espPair(t, false)
	a := newESPSide(t, ca, espNetA, espNetB)
	b := newESPSide(t, cb, espNetB, espNetA)
	out := make([]byte, 70000)
	pkt := espPacket("198.19.1.5", "198.19.2.9", 1400)
	if n := testing.AllocsPerRun(200, func() { a.e.Output(pkt, out) }); n != 0 {
		t.Fatalf("Output: %v allocations per packet", n)
	}
	// Seal enough distinct packets for Input's runs (each opened once).
	var wires [][]byte
	for range 210 {
		a.e.Output(pkt, out)
		wires = append(wires, a.raw.last())
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() { b.e.Input(wires[i], espPeer); i++ }); n != 0 {
		t.Fatalf("Input: %v allocations per packet", n)
	}
	if b.dev.writes < 200 {
		t.Fatalf("delivered %d", b.dev.writes)
	}
}

// FuzzESPInput: whatever arrives as ESP (raw IP 50 or UDP 4500) is
// dropped and counted or delivered intact, never a panic; the seeds are
// valid packets of each suite.
func FuzzESPInput(f *testing.F) {
	for _, gcm := range []bool{false, true} {
		ca, _ := espPair(f, gcm)
		a := newESPSide(f, ca, espNetA, espNetB)
		var out [70000]byte
		a.e.Output(espPacket("198.19.1.5", "198.19.2.9", 100), out[:])
		f.Add(gcm, a.raw.last())
	}
	f.Add(false, []byte{0, 0, 0x20, 0x02, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, gcm bool, b []byte) {
		_, cb := espPair(t, gcm)
		side := newESPSide(t, cb, espNetB, espNetA)
		side.e.Input(b, espPeer)
		if side.dev.writes > 0 {
			pkt := side.dev.buf[:side.dev.n]
			if len(pkt) < 20 || pkt[0]>>4 != 4 {
				t.Fatalf("delivered a non-IPv4 packet %x", pkt)
			}
		}
	})
}

// BenchmarkESP: one 1400-octet packet through the tunnel-mode stage,
// sealed (Output: SPD lookup, seal, send) and opened (Input: SPI lookup,
// open, selector check, device write), per suite.
func BenchmarkESP(b *testing.B) {
	for _, gcm := range []bool{true, false} {
		name := "aes-cbc-sha1"
		if gcm {
			name = "aes-gcm-128"
		}
		ca, cb := espPair(b, gcm)
		a := newESPSide(b, ca, espNetA, espNetB)
		pkt := espPacket("198.19.1.5", "198.19.2.9", 1400)
		out := make([]byte, 70000)
		b.Run(name+"/output", func(b *testing.B) {
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				a.e.Output(pkt, out)
			}
		})
		b.Run(name+"/input", func(b *testing.B) {
			rx := newESPSide(b, cb, espNetB, espNetA)
			// Replay protection wants fresh sequence numbers: seal ahead
			// in chunks, outside the timer.
			wires := make([][]byte, 0, 4096)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(wires) {
					b.StopTimer()
					wires, i = wires[:0], 0
					for range cap(wires) {
						a.e.Output(pkt, out)
						wires = append(wires, a.raw.last())
					}
					b.StartTimer()
				}
				rx.e.Input(wires[i], espPeer)
				i++
			}
		})
	}
}

// espTrains is a bind with a segment sender that keeps the datagrams of
// every train it sends, and counts the system calls they would take.
type espTrains struct {
	espSink
	calls int
	grams [][]byte
	keep  bool
}

func (s *espTrains) NewSegmentSender() transport.SegmentSender { return s }
func (s *espTrains) WriteSegments(b []byte, seg int, to netip.AddrPort) error {
	s.calls++
	s.to = to
	if s.keep {
		for off := 0; off < len(b); off += seg {
			s.grams = append(s.grams, bytes.Clone(b[off:min(off+seg, len(b))]))
		}
	}
	return nil
}

// espVnetDev is espDev with offloads: what it is written carries a
// virtio_net_hdr.
type espVnetDev struct{ espDev }

func (d *espVnetDev) Offload() bool { return true }

// espSuper is what a TSO TUN read returns for a TCP stream from network A
// to network B: a virtio_net_hdr and a super-packet of pay in segments of
// 1360 octets, its checksum field left to complete.
func espSuper(pay []byte) []byte {
	pkt := tcpSeg("198.19.1.5", "198.19.2.9", 40000, 1000, 0x18, pay)
	h := vnet.Hdr{Flags: vnet.FlagNeedsCsum, GSOType: vnet.GSOTCPv4, HdrLen: 40, GSOSize: 1360, CsumStart: 20, CsumOffset: 16}
	return append(h.Append(nil), pkt...)
}

// TestESPOffload: a TCP super-packet read from a crypto TUN with offloads
// is cut into segments, each sealed as its own ESP packet, and sent as
// one train (one system call), over raw IP and over UDP 4500; the peer's
// stage opens each one and writes it to its offload TUN behind a zero
// virtio_net_hdr, a whole TCP segment with valid checksums, the payload
// in order. A packet with only a partial checksum is completed first.
func TestESPOffload(t *testing.T) {
	for _, udp := range []bool{false, true} {
		ca, cb := espPair(t, true)
		ca.UDP = udp
		tx := &espTrains{keep: true}
		a := &espSide{plane: New(Config{}), dev: &espDev{}}
		t.Cleanup(a.plane.Close)
		a.e = a.plane.NewESP(ESPConfig{Device: &espVnetDev{}, Raw: tx, UDP: tx})
		a.e.SetPolicies([]ESPPolicy{{Permit: true, Src: espNetA, Dst: espNetB}})
		if err := a.e.Install(mustSA(t, ca, 0), 0); err != nil {
			t.Fatal(err)
		}
		bdev := &espVnetDev{}
		b := New(Config{})
		t.Cleanup(b.Close)
		be := b.NewESP(ESPConfig{Device: bdev, Raw: &espSink{}})
		be.SetPolicies([]ESPPolicy{{Permit: true, Src: espNetB, Dst: espNetA}})
		if err := be.Install(mustSA(t, cb, 0), 0); err != nil {
			t.Fatal(err)
		}
		pay := bulk(20000)
		buf := new(espBuf)
		a.e.outputVnet(buf, espSuper(pay))
		want := (len(pay) + 1359) / 1360
		if tx.calls != 1 || len(tx.grams) != want {
			t.Fatalf("udp=%v: %d datagrams in %d calls, want %d in 1", udp, len(tx.grams), tx.calls, want)
		}
		if wantTo := netip.AddrPortFrom(espPeer.Addr(), 0); !udp && tx.to != wantTo || udp && tx.to != espPeer {
			t.Errorf("udp=%v: sent to %v", udp, tx.to)
		}
		var got []byte
		for i, g := range tx.grams {
			be.Input(g, espPeer)
			w := bdev.buf[:bdev.n]
			if bdev.writes != i+1 || len(w) < vnet.HdrLen+40 || !bytes.Equal(w[:vnet.HdrLen], make([]byte, vnet.HdrLen)) {
				t.Fatalf("udp=%v: segment %d: %d writes, %x", udp, i, bdev.writes, w[:min(len(w), 16)])
			}
			seg := w[vnet.HdrLen:]
			if !tcpValid(seg) || int(binary.BigEndian.Uint16(seg[2:])) != len(seg) || len(seg) > 1400 {
				t.Fatalf("udp=%v: segment %d of %d octets invalid", udp, i, len(seg))
			}
			got = append(got, seg[40:]...)
		}
		if !bytes.Equal(got, pay) {
			t.Fatalf("udp=%v: payload differs after the tunnel", udp)
		}
		// One packet whose checksum the kernel left to us.
		single := tcpSeg("198.19.1.5", "198.19.2.9", 40000, 1, 0x18, bulk(300))
		h := vnet.Hdr{Flags: vnet.FlagNeedsCsum, CsumStart: 20, CsumOffset: 16}
		binary.BigEndian.PutUint16(single[36:], csum.Fold(csum.PseudoSum(6, single[12:16], single[16:20], len(single)-20)))
		a.e.outputVnet(buf, append(h.Append(nil), single...))
		sent := tx.last()
		if tx.espSink.sent != 1 {
			t.Fatalf("udp=%v: single packet sent %d times", udp, tx.espSink.sent)
		}
		be.Input(sent, espPeer)
		if seg := bdev.buf[vnet.HdrLen:bdev.n]; !tcpValid(seg) {
			t.Errorf("udp=%v: the completed checksum is wrong", udp)
		}
	}
}

// TestESPOffloadAllocs: the super-packet path allocates nothing per
// super-packet once its train exists, nor does delivery to an offload
// TUN.
func TestESPOffloadAllocs(t *testing.T) {
	ca, cb := espPair(t, true)
	tx := &espTrains{}
	p := New(Config{})
	t.Cleanup(p.Close)
	e := p.NewESP(ESPConfig{Device: &espVnetDev{}, Raw: tx})
	e.SetPolicies([]ESPPolicy{{Permit: true, Src: espNetA, Dst: espNetB}})
	if err := e.Install(mustSA(t, ca, 0), 0); err != nil {
		t.Fatal(err)
	}
	buf := new(espBuf)
	super := espSuper(bulk(60000))
	in := make([]byte, len(super))
	e.outputVnet(buf, append(in[:0], super...))
	if n := testing.AllocsPerRun(100, func() { e.outputVnet(buf, append(in[:0], super...)) }); n != 0 {
		t.Fatalf("outputGSO: %v allocations per super-packet", n)
	}
	b := newESPSide(t, cb, espNetB, espNetA)
	bdev := &espVnetDev{}
	b.e.cfg.Device, b.e.offload = bdev, true
	out := make([]byte, 70000)
	a := newESPSide(t, ca, espNetA, espNetB)
	pkt := espPacket("198.19.1.5", "198.19.2.9", 1400)
	var wires [][]byte
	for range 210 {
		a.e.Output(pkt, out)
		wires = append(wires, a.raw.last())
	}
	i := 0
	if n := testing.AllocsPerRun(200, func() { b.e.Input(wires[i], espPeer); i++ }); n != 0 {
		t.Fatalf("Input to an offload TUN: %v allocations per packet", n)
	}
	if bdev.writes < 200 || !bytes.Equal(bdev.buf[vnet.HdrLen:bdev.n], pkt) {
		t.Fatalf("delivered %d", bdev.writes)
	}
}

// TestESPReceiverGRO: through a receiver, the opened segments of a
// super-packet's train reach the offload TUN as one super-packet again
// (one write at Flush, a TCP GSO header, the payload in order); through
// Input they are written one by one. Neither allocates.
func TestESPReceiverGRO(t *testing.T) {
	ca, cb := espPair(t, true)
	tx := &espTrains{keep: true}
	pa := New(Config{})
	t.Cleanup(pa.Close)
	ea := pa.NewESP(ESPConfig{Device: &espVnetDev{}, Raw: tx})
	ea.SetPolicies([]ESPPolicy{{Permit: true, Src: espNetA, Dst: espNetB}})
	if err := ea.Install(mustSA(t, ca, 0), 0); err != nil {
		t.Fatal(err)
	}
	bdev := &espVnetDev{}
	pb := New(Config{})
	t.Cleanup(pb.Close)
	eb := pb.NewESP(ESPConfig{Device: bdev, Raw: &espSink{}})
	if err := eb.Install(mustSA(t, cb, 0), -1); err != nil {
		t.Fatal(err)
	}
	pay := bulk(30000)
	buf := new(espBuf)
	ea.outputVnet(buf, espSuper(pay))
	rx := eb.NewReceiver()
	for _, g := range tx.grams {
		rx.HandlePacket(g, espPeer)
	}
	if bdev.writes != 0 {
		t.Fatalf("%d writes before Flush", bdev.writes)
	}
	rx.Flush()
	w := bdev.buf[:bdev.n]
	h, err := vnet.Decode(w)
	if bdev.writes != 1 || err != nil || h.GSOType != vnet.GSOTCPv4 || !bytes.Equal(w[vnet.HdrLen+40:], pay) {
		t.Fatalf("%d writes, header %+v %v, %d octets", bdev.writes, h, err, len(w))
	}
	// Allocations of the receive side, a batch of 20 per run.
	super := espSuper(bulk(30000))
	in := make([]byte, len(super))
	var wires [][]byte
	for range 60 {
		tx.grams = nil
		ea.outputVnet(buf, append(in[:0], super...))
		wires = append(wires, tx.grams...)
	}
	i := 0
	if n := testing.AllocsPerRun(50, func() {
		for range 20 {
			rx.HandlePacket(wires[i], espPeer)
			i++
		}
		rx.Flush()
	}); n != 0 {
		t.Fatalf("receiver: %v allocations per batch", n)
	}
}
