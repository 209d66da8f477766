package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/esp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// ESP tunnel mode without XFRM. The kernel has no ESP here, so the
// protected traffic of a crypto map reaches vpdn the way a Virtual-Access
// interface's does: through a TUN. The control plane routes the crypto
// ACLs' destination networks into the crypto TUN (vpdn's equivalent of a
// crypto map on an egress interface); every packet read from it is looked
// up in the security policy database (the crypto ACLs in order, first
// match, RFC 4301 §4.4.1), sealed with the SA the matching entry is bound
// to and sent over raw IP protocol 50 or UDP 4500 (RFC 3948). Received ESP
// is demultiplexed by SPI, opened, checked against the SA's selectors
// (RFC 4301 §5.2) and written to the TUN.
//
//	TUN ─▶ SPD (first match) ─┬─ permit, SA ─▶ Sealer.Seal ─▶ raw 50 / UDP 4500
//	                          ├─ permit, no SA ─▶ Acquire (IKE), drop (esp-no-sa)
//	                          └─ deny / none ─▶ drop (esp-bypass)
//	raw 50 / UDP 4500 ─▶ SPI ─▶ Opener.Open ─▶ selectors ─▶ TUN

// ESPSelector is one side of an SA's traffic selectors: a prefix, an IP
// protocol (0: any) and a port (0: any).
type ESPSelector struct {
	Prefix netip.Prefix
	Proto  uint8
	Port   uint16
}

func (s ESPSelector) contains(a netip.Addr, proto uint8, port uint16) bool {
	return s.Prefix.Contains(a) && (s.Proto == 0 || s.Proto == proto) && (s.Port == 0 || s.Port == port)
}

// ESPPolicy is one entry of the security policy database: one line of a
// crypto ACL, from our side (Src is ours).
type ESPPolicy struct {
	Permit           bool
	Proto            uint8 // 0: any
	Src, Dst         netip.Prefix
	SrcPort, DstPort uint16 // 0: any
}

func (p *ESPPolicy) matches(proto uint8, src, dst netip.Addr, sport, dport uint16) bool {
	if p.Proto != 0 && p.Proto != proto {
		return false
	}
	if !p.Src.Contains(src) || !p.Dst.Contains(dst) {
		return false
	}
	return (p.SrcPort == 0 || p.SrcPort == sport) && (p.DstPort == 0 || p.DstPort == dport)
}

// ESPSAConfig describes an SA pair as IKE's quick mode produced it.
type ESPSAConfig struct {
	// In is the inbound SA (our SPI, the peer's sending keys), Out the
	// outbound one.
	In, Out esp.Config
	// Peer is where ESP goes; with UDP, its UDP port (RFC 3948).
	Peer netip.AddrPort
	UDP  bool
	// Local and Remote are the selectors: what we protect and what the
	// peer does.
	Local, Remote ESPSelector
}

// ESPSA is an installed SA pair.
type ESPSA struct {
	cfg    ESPSAConfig
	sealer *esp.Sealer
	openMu sync.Mutex
	opener *esp.Opener

	sendErrors, recvErrors, policyDrops atomic.Uint64
}

// NewESPSA builds the Sealer and the Opener of an SA pair.
func NewESPSA(c ESPSAConfig) (*ESPSA, error) {
	s, err := esp.NewSealer(c.Out)
	if err != nil {
		return nil, fmt.Errorf("dataplane: outbound SA: %w", err)
	}
	o, err := esp.NewOpener(c.In)
	if err != nil {
		return nil, fmt.Errorf("dataplane: inbound SA: %w", err)
	}
	return &ESPSA{cfg: c, sealer: s, opener: o}, nil
}

// SPIIn and SPIOut are the SA pair's SPIs.
func (sa *ESPSA) SPIIn() uint32  { return sa.cfg.In.SPI }
func (sa *ESPSA) SPIOut() uint32 { return sa.cfg.Out.SPI }

// Peer returns where the SA sends.
func (sa *ESPSA) Peer() netip.AddrPort { return sa.cfg.Peer }

// Transform is the SA's transform as show crypto ipsec sa prints it.
func (sa *ESPSA) Transform() string { return sa.sealer.Transform() }

// IVLen is the SA's IV size.
func (sa *ESPSA) IVLen() int { return sa.sealer.IVLen() }

// ReplayWindow is the inbound anti-replay window in packets.
func (sa *ESPSA) ReplayWindow() int { return sa.opener.ReplayWindow() }

// PacketsIn is how many packets the inbound SA opened (authenticated):
// the peer's liveness for DPD.
func (sa *ESPSA) PacketsIn() uint64 { return sa.opener.Stats().Decaps }

// ESPSAStats are an SA pair's counters: the Sealer's (Out) and the
// Opener's (In), and what `show crypto ipsec sa` calls send and receive
// errors.
type ESPSAStats struct {
	In, Out                esp.Stats
	SendErrors, RecvErrors uint64
	PolicyDrops            uint64
}

// Stats returns the SA's counters.
func (sa *ESPSA) Stats() ESPSAStats {
	return ESPSAStats{In: sa.opener.Stats(), Out: sa.sealer.Stats(),
		SendErrors: sa.sendErrors.Load(), RecvErrors: sa.recvErrors.Load(), PolicyDrops: sa.policyDrops.Load()}
}

// ESPConfig configures an ESP tunnel-mode stage.
type ESPConfig struct {
	// Device is the crypto TUN: cleartext packets to protect are read
	// from it, opened ones written to it.
	Device netif.Device
	// Raw is the IP protocol 50 bind, UDP the port-4500 bind; ESP goes
	// out through the one the SA says. Either may be nil.
	Raw, UDP transport.Bind
	// Acquire asks the control plane for an SA for SPD entry policy (a
	// packet from src to dst matched it); it is called on the TUN
	// reader, at most once a second per entry, and must not block.
	Acquire func(policy int, src, dst netip.Addr)
}

// spd is the policy table with, per entry, its SAs newest first: the
// outbound one is the first (make-before-break: a rekeyed SA takes over
// as soon as it is installed, the old one stays until deleted).
type spd struct {
	pols     []ESPPolicy
	out      [][]*ESPSA
	acquired []atomic.Int64 // unix nanoseconds of the last Acquire
}

// ESP is the tunnel-mode crypto stage of one crypto-map interface.
type ESP struct {
	p       *Plane
	cfg     ESPConfig
	offload bool // the device carries virtio_net_hdrs

	mu  sync.Mutex // writers of sas and spd
	sas atomic.Pointer[map[Key]*ESPSA]
	spd atomic.Pointer[spd]

	done chan struct{}
}

// NewESP returns an ESP stage; Run reads its TUN.
func (p *Plane) NewESP(cfg ESPConfig) *ESP {
	e := &ESP{p: p, cfg: cfg, offload: hasOffload(cfg.Device), done: make(chan struct{})}
	m := map[Key]*ESPSA{}
	e.sas.Store(&m)
	e.spd.Store(&spd{})
	return e
}

// SetPolicies replaces the SPD; installed SAs stay bound to the entry of
// the same index when there is one.
func (e *ESP) SetPolicies(pols []ESPPolicy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.spd.Load()
	n := &spd{pols: slices.Clone(pols), out: make([][]*ESPSA, len(pols)), acquired: make([]atomic.Int64, len(pols))}
	for i := range n.out {
		if i < len(old.out) {
			n.out[i] = old.out[i]
		}
	}
	e.spd.Store(n)
}

// Install adds sa: its inbound SPI is demultiplexed from now on, and, when
// policy is an SPD index, it carries that entry's outbound packets (ahead
// of any older SA of the entry).
func (e *ESP) Install(sa *ESPSA, policy int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := MakeKey(KindESP, uint64(sa.SPIIn()))
	old := *e.sas.Load()
	if _, ok := old[k]; ok {
		return fmt.Errorf("dataplane: ESP SPI %#x already installed", sa.SPIIn())
	}
	m := make(map[Key]*ESPSA, len(old)+1)
	for kk, v := range old {
		m[kk] = v
	}
	m[k] = sa
	e.sas.Store(&m)
	e.bind(sa, policy)
	return nil
}

// Activate makes the installed SA with inbound SPI spiIn (installed
// inbound-only, with no policy: a responder between QM2 and QM3) carry
// the outbound packets of SPD entry policy, ahead of its older SAs.
func (e *ESP) Activate(spiIn uint32, policy int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := (*e.sas.Load())[MakeKey(KindESP, uint64(spiIn))]
	if sa == nil {
		return fmt.Errorf("dataplane: ESP SPI %#x not installed", spiIn)
	}
	e.bind(sa, policy)
	return nil
}

// bind (e.mu held) puts sa at the head of SPD entry policy's SAs; a
// policy that is no index, or an SA already bound there, is left alone.
func (e *ESP) bind(sa *ESPSA, policy int) {
	s := e.spd.Load()
	if policy < 0 || policy >= len(s.pols) || slices.Contains(s.out[policy], sa) {
		return
	}
	n := &spd{pols: s.pols, out: slices.Clone(s.out), acquired: s.acquired}
	n.out[policy] = append([]*ESPSA{sa}, s.out[policy]...)
	e.spd.Store(n)
}

// Remove uninstalls the SA pair with inbound SPI spiIn.
func (e *ESP) Remove(spiIn uint32) *ESPSA {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := MakeKey(KindESP, uint64(spiIn))
	old := *e.sas.Load()
	sa := old[k]
	if sa == nil {
		return nil
	}
	m := make(map[Key]*ESPSA, len(old))
	for kk, v := range old {
		if kk != k {
			m[kk] = v
		}
	}
	e.sas.Store(&m)
	s := e.spd.Load()
	n := &spd{pols: s.pols, out: slices.Clone(s.out), acquired: s.acquired}
	for i, l := range n.out {
		if slices.Contains(l, sa) {
			n.out[i] = slices.DeleteFunc(slices.Clone(l), func(x *ESPSA) bool { return x == sa })
		}
	}
	e.spd.Store(n)
	return sa
}

// Lookup returns the SA pair with inbound SPI spiIn.
func (e *ESP) Lookup(spiIn uint32) *ESPSA {
	return (*e.sas.Load())[MakeKey(KindESP, uint64(spiIn))]
}

// SAs returns the installed SA pairs.
func (e *ESP) SAs() []*ESPSA {
	m := *e.sas.Load()
	out := make([]*ESPSA, 0, len(m))
	for _, sa := range m {
		out = append(out, sa)
	}
	slices.SortFunc(out, func(a, b *ESPSA) int { return int(int64(a.SPIIn()) - int64(b.SPIIn())) })
	return out
}

// errESP maps the Opener's errors to drop reasons.
func espDrop(err error) DropReason {
	switch {
	case errors.Is(err, esp.ErrReplay):
		return DropESPReplay
	case errors.Is(err, esp.ErrICV):
		return DropESPICV
	}
	return DropESPBad
}

// ESPReceiver is the receive path of one bind reader: Input, except that
// on a TUN with offloads the opened TCP segments of a flow are merged into
// one super-packet (vnet.Coalescer, as the L2TP path's Receiver does) and
// written by Flush, which the reader calls after every batch
// (transport.Bind.ServeBatch): one TUN write per batch and flow instead of
// one per packet. It is not safe for concurrent use.
type ESPReceiver struct {
	e *ESP
	r *Receiver
}

// NewReceiver returns a receiver for one bind reader; on a TUN without
// offloads it is Input.
func (e *ESP) NewReceiver() *ESPReceiver {
	er := &ESPReceiver{e: e}
	if e.offload {
		er.r = (&Port{p: e.p}).NewReceiver()
	}
	return er
}

// HandlePacket is Input through the receiver's merging.
func (er *ESPReceiver) HandlePacket(b []byte, from netip.AddrPort) { er.e.input(b, er.r) }

// Flush writes what the batch merged.
func (er *ESPReceiver) Flush() {
	if er.r != nil {
		er.r.Flush()
	}
}

// Input handles one received ESP packet (the IP payload of protocol 50,
// or a UDP 4500 datagram that esp.Classify found to be ESP). b is opened
// in place.
func (e *ESP) Input(b []byte, from netip.AddrPort) { e.input(b, nil) }

// input is Input; with r, a TCP segment for a TUN with offloads is merged
// by r instead of written.
func (e *ESP) input(b []byte, r *Receiver) {
	if len(b) < esp.HeaderLen {
		e.p.drop(DropESPBad)
		return
	}
	spi := binary.BigEndian.Uint32(b[0:4])
	sa := (*e.sas.Load())[MakeKey(KindESP, uint64(spi))]
	if sa == nil {
		e.p.drop(DropESPUnknownSPI)
		return
	}
	sa.openMu.Lock()
	payload, nh, err := sa.opener.Open(b)
	sa.openMu.Unlock()
	if err != nil {
		sa.recvErrors.Add(1)
		e.p.drop(espDrop(err))
		return
	}
	if nh == esp.NextHeaderNone {
		return // a dummy packet (RFC 4303 §2.6)
	}
	if nh != esp.NextHeaderIPv4 || len(payload) < 20 || payload[0]>>4 != 4 {
		sa.recvErrors.Add(1)
		e.p.drop(DropESPNotIP)
		return
	}
	proto, src, dst, sport, dport := ipv4Flow(payload)
	// RFC 4301 §5.2 step 4: what came out of the SA must be what the SA
	// was negotiated for.
	if !sa.cfg.Remote.contains(src, proto, sport) || !sa.cfg.Local.contains(dst, proto, dport) {
		sa.policyDrops.Add(1)
		e.p.drop(DropESPPolicy)
		return
	}
	if r != nil {
		if r.deliver(e.cfg.Device, payload) != nil {
			e.p.drop(DropDeviceWrite)
		}
		return
	}
	if e.offload {
		// The virtio_net_hdr goes in front of the payload, over the ESP
		// header and IV it leaves behind (at least 16 octets).
		if at := cap(b) - cap(payload); at >= vnet.HdrLen {
			pkt := b[at-vnet.HdrLen : at+len(payload)]
			clear(pkt[:vnet.HdrLen])
			if _, err := e.cfg.Device.Write(pkt); err != nil {
				e.p.drop(DropDeviceWrite)
			}
			return
		}
		bp := vnetScratch.Get().(*[]byte)
		err := writeVnet(e.cfg.Device, *bp, payload)
		vnetScratch.Put(bp)
		if err != nil {
			e.p.drop(DropDeviceWrite)
		}
		return
	}
	if _, err := e.cfg.Device.Write(payload); err != nil {
		e.p.drop(DropDeviceWrite)
	}
}

// ipv4Flow reads the protocol, addresses and (TCP, UDP, first fragment)
// ports of an IPv4 packet at least 20 octets long.
func ipv4Flow(pkt []byte) (proto uint8, src, dst netip.Addr, sport, dport uint16) {
	proto = pkt[9]
	src = netip.AddrFrom4([4]byte(pkt[12:16]))
	dst = netip.AddrFrom4([4]byte(pkt[16:20]))
	ihl := int(pkt[0]&0x0f) * 4
	frag := binary.BigEndian.Uint16(pkt[6:8]) & 0x1fff
	if (proto == 6 || proto == 17) && frag == 0 && ihl >= 20 && len(pkt) >= ihl+4 {
		sport = binary.BigEndian.Uint16(pkt[ihl:])
		dport = binary.BigEndian.Uint16(pkt[ihl+2:])
	}
	return
}

// espBuf is the TUN reader's buffers: a packet (on a TUN with offloads,
// a TCP super-packet behind its virtio_net_hdr), a segment cut from it,
// the sealed form of a single packet, and a train of sealed segments with
// the segment senders of the binds.
type espBuf struct {
	in      [vnet.HdrLen + MaxPacket]byte
	seg     [MaxPacket]byte
	out     [MaxPacket + 128]byte
	train   []byte // trainBuf octets, made at the first super-packet
	senders map[transport.Bind]transport.SegmentSender
}

// sender returns the segment sender of b, nil when b has none.
func (buf *espBuf) sender(b transport.Bind) transport.SegmentSender {
	s, ok := buf.senders[b]
	if !ok {
		if sg, can := b.(transport.Segmenter); can {
			s = sg.NewSegmentSender()
		}
		if buf.senders == nil {
			buf.senders = map[transport.Bind]transport.SegmentSender{}
		}
		buf.senders[b] = s
	}
	return s
}

// route finds the SA that protects the cleartext IPv4 packet pkt: the
// SPD's first matching entry decides. nil: the packet is dropped
// (counted), and quick mode is asked for when the entry has no SA yet.
func (e *ESP) route(pkt []byte) *ESPSA {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		e.p.drop(DropNotIP)
		return nil
	}
	proto, src, dst, sport, dport := ipv4Flow(pkt)
	s := e.spd.Load()
	for i := range s.pols {
		pol := &s.pols[i]
		if !pol.matches(proto, src, dst, sport, dport) {
			continue
		}
		if !pol.Permit {
			break
		}
		if len(s.out[i]) == 0 {
			e.p.drop(DropESPNoSA)
			now := e.p.clock.Now().UnixNano()
			if last := s.acquired[i].Load(); now-last >= int64(time.Second) && s.acquired[i].CompareAndSwap(last, now) && e.cfg.Acquire != nil {
				e.cfg.Acquire(i, src, dst)
			}
			return nil
		}
		return s.out[i][0]
	}
	e.p.drop(DropESPBypass)
	return nil
}

// dest is where sa's ESP goes: the raw IP bind, or UDP 4500 (RFC 3948).
func (e *ESP) dest(sa *ESPSA) (transport.Bind, netip.AddrPort) {
	if sa.cfg.UDP {
		return e.cfg.UDP, sa.cfg.Peer
	}
	return e.cfg.Raw, netip.AddrPortFrom(sa.cfg.Peer.Addr(), 0)
}

// Output protects one cleartext IPv4 packet read from the crypto TUN:
// the SPD's first matching entry decides. out is scratch for the sealed
// packet.
func (e *ESP) Output(pkt, out []byte) {
	sa := e.route(pkt)
	if sa == nil {
		return
	}
	sealed, err := sa.sealer.Seal(out[:0], pkt, esp.NextHeaderIPv4)
	if err != nil {
		sa.sendErrors.Add(1)
		e.p.drop(DropESPSeal)
		return
	}
	bind, to := e.dest(sa)
	if bind == nil || bind.WriteTo(sealed, to) != nil {
		sa.sendErrors.Add(1)
		e.p.drop(DropUnderlayWrite)
	}
}

// outputGSO protects a TCP super-packet read from a TUN with offloads:
// it is cut into segments of the size the kernel asked for (vnet.PlanTCP,
// each with its own IP and TCP checksums), every segment sealed as its own
// ESP packet (its own sequence number, RFC 4303 §3.3.3) back to back in a
// train, and the train sent with one system call where the bind can
// (UDP_SEGMENT on UDP 4500, sendmmsg on raw IP). All segments share the
// super-packet's addresses and ports, so one SPD lookup serves them.
func (e *ESP) outputGSO(buf *espBuf, h vnet.Hdr, pkt []byte) {
	sa := e.route(pkt)
	if sa == nil {
		return
	}
	plan, err := vnet.PlanTCP(h, pkt, 0)
	if err != nil {
		e.p.drop(DropBadOffload)
		return
	}
	if buf.train == nil {
		buf.train = make([]byte, trainBuf)
	}
	bind, to := e.dest(sa)
	if bind == nil {
		sa.sendErrors.Add(uint64(plan.N))
		e.p.dropN(DropUnderlayWrite, plan.N)
		return
	}
	snd := buf.sender(bind)
	room := sa.sealer.MaxOverhead() + 8 // Seal's slack for AES-GCM
	for i := 0; i < plan.N; {
		first, end, stride := i, 0, 0
		for ; i < plan.N; i++ {
			n := plan.Segment(buf.seg[:], pkt, i)
			if end+n+room > len(buf.train) {
				break
			}
			sealed, err := sa.sealer.Seal(buf.train[end:end], buf.seg[:n], esp.NextHeaderIPv4)
			if err != nil {
				sa.sendErrors.Add(uint64(plan.N - i))
				e.p.dropN(DropESPSeal, plan.N-i)
				i = plan.N
				break
			}
			if stride == 0 {
				stride = len(sealed)
			}
			end += len(sealed)
		}
		if end == 0 {
			return
		}
		var err error
		if snd != nil {
			err = snd.WriteSegments(buf.train[:end], stride, to)
		} else {
			for off := 0; off < end && err == nil; off += stride {
				err = bind.WriteTo(buf.train[off:min(off+stride, end)], to)
			}
		}
		if err != nil {
			sa.sendErrors.Add(uint64(i - first))
			e.p.dropN(DropUnderlayWrite, i-first)
		}
	}
}

// Run reads the crypto TUN until it is closed, protecting every packet.
func (e *ESP) Run() {
	defer close(e.done)
	buf := new(espBuf)
	for {
		n, err := e.cfg.Device.Read(buf.in[:])
		if err != nil {
			if errors.Is(err, netif.ErrClosed) || errors.Is(err, netif.ErrNoDevice) {
				return
			}
			if errors.Is(err, netif.ErrWouldBlock) {
				continue
			}
			return
		}
		if !e.offload {
			e.Output(buf.in[:n], buf.out[:])
			continue
		}
		e.outputVnet(buf, buf.in[:n])
	}
}

// outputVnet protects what a TUN with offloads returned: a virtio_net_hdr
// and a packet, a super-packet to cut or a packet whose checksum is left
// to complete.
func (e *ESP) outputVnet(buf *espBuf, b []byte) {
	h, err := vnet.Decode(b)
	if err != nil {
		e.p.drop(DropShort)
		return
	}
	pkt := b[vnet.HdrLen:]
	if h.IsGSO() {
		e.outputGSO(buf, h, pkt)
		return
	}
	if h.Flags&vnet.FlagNeedsCsum != 0 && vnet.CompleteChecksum(pkt, int(h.CsumStart), int(h.CsumOffset)) != nil {
		e.p.drop(DropBadOffload)
		return
	}
	e.Output(pkt, buf.out[:])
}

// Done is closed when Run returns.
func (e *ESP) Done() <-chan struct{} { return e.done }
