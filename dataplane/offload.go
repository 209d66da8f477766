package dataplane

// The data path on devices with offloads (a TUN with IFF_VNET_HDR and
// TSO; netif.Offloader): packets carry a virtio_net_hdr.
//
// Transmit: a read may return a TCP super-packet of up to 64 KiB. It is
// cut into segments that fit the session MTU (vnet.Plan), each written
// straight into a train of data messages of equal stride,
//
//	[encap][PPP][IP][TCP][payload] [encap][PPP][IP][TCP][payload] ...
//
// and the train leaves with one UDP_SEGMENT sendmsg (a bind's
// transport.SegmentSender), or one datagram at a time on binds without it.
// Partial checksums of single packets are completed first.
//
// Receive: a Receiver, one per bind reader, gathers the in-order TCP
// segments of each flow of a batch into super-packets (vnet.Coalescer)
// and writes each one to its device once, at Flush, after the batch;
// everything else is written at once behind a zero header, after what is
// held of its own flow so nothing is reordered within a flow.

import (
	"bytes"
	"net/netip"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// sendGSO segments the super-packet pkt described by h and sends the
// segments to the session's peer.
func (p *Plane) sendGSO(tx *txState, s *Session, att *attachment, h vnet.Hdr, pkt []byte) {
	if s.Payload == PayloadEthernet {
		p.sendGSOEthernet(tx, s, att, h, pkt)
		return
	}
	plan, err := vnet.PlanTCP(h, pkt, att.MTU)
	if err != nil {
		p.drop(DropBadOffload)
		return
	}
	if tx.train == nil {
		tx.train = make([]byte, trainBuf)
	}
	if s.Payload == PayloadPPP && s.mppe.Load() != nil {
		// Each segment is its own MPPE packet: cut first, then each one
		// takes the single-packet path, encryption included.
		for i := range plan.N {
			n := plan.Segment(tx.train[Headroom:], pkt, i)
			p.sendPacket(s, att, tx.train, n)
		}
		return
	}
	proto := ppp.ProtoIPv4
	if plan.IPv6 {
		proto = ppp.ProtoIPv6
	}
	// The PPP framing is the same in front of every segment: made once,
	// copied like an Ethernet pseudowire's header.
	var framing [8]byte
	fl := 0
	if s.Payload == PayloadPPP {
		fl = att.Framing.Put(framing[:], proto)
	}
	p.sendSegments(tx, s, &plan, pkt, framing[:fl], reflected(s, pkt))
}

// sendSegments sends the segments of plan, cut from the IP packet ip,
// each behind the session's encapsulation header and prefix (a PPP
// framing, an Ethernet header), in trains of as many as fit in
// tx.train: one system call each (sendTrain).
func (p *Plane) sendSegments(tx *txState, s *Session, plan *vnet.Plan, ip, prefix []byte, tos int) {
	if tx.train == nil {
		tx.train = make([]byte, trainBuf)
	}
	e := s.encap.Load().e
	hl := e.Len()
	encap := hl + len(prefix)
	stride := encap + plan.HdrLen + plan.SegSize
	per := len(tx.train) / stride
	if per < 1 {
		p.drop(DropTooBig)
		return
	}
	if o, ok := e.(Ordered); ok {
		if lock := o.SendLock(); lock != nil {
			// The train's numbers leave in order, as one burst.
			lock.Lock()
			defer lock.Unlock()
		}
	}
	for first := 0; first < plan.N; first += per {
		end, bytes := 0, 0
		last := min(first+per, plan.N)
		for i := first; i < last; i++ {
			o := end
			copy(tx.train[o+hl:], prefix)
			n := len(prefix) + plan.Segment(tx.train[o+encap:], ip, i)
			e.Put(tx.train[o:o+hl], n)
			end = o + hl + n
			bytes += n
		}
		if err := p.sendTrain(tx, s, tx.train[:end], stride, tos); err != nil {
			p.dropN(DropUnderlayWrite, last-first)
			continue
		}
		s.txPkts.Add(uint64(last - first))
		s.txBytes.Add(uint64(bytes))
	}
}

// reflected is the ToS a super-packet's segments take (reflectTOS), -1
// for the socket's.
func reflected(s *Session, payload []byte) int {
	if tos, ok := s.reflectTOS(payload); ok {
		return int(tos)
	}
	return -1
}

// sendTrain sends datagrams of stride octets back to back in b. With a
// reflected ToS (tos >= 0, the same for every segment of one
// super-packet) they leave one by one, each with its control message.
func (p *Plane) sendTrain(tx *txState, s *Session, b []byte, stride int, tos int) error {
	if w, ok := s.Bind.(transport.TOSWriter); ok && tos >= 0 {
		for off := 0; off < len(b); off += stride {
			if err := w.WriteToTOS(b[off:min(off+stride, len(b))], s.Peer, uint8(tos)); err != nil {
				return err
			}
		}
		return nil
	}
	if snd := tx.sender(s.Bind); snd != nil {
		return snd.WriteSegments(b, stride, s.Peer)
	}
	for off := 0; off < len(b); off += stride {
		if err := s.Bind.WriteTo(b[off:min(off+stride, len(b))], s.Peer); err != nil {
			return err
		}
	}
	return nil
}

// groSlots is how many flows a Receiver coalesces at once.
const groSlots = 8

type groSlot struct {
	dev  netif.Device
	c    vnet.Coalescer
	used uint64
}

// Receiver is the receive path of one bind reader: HandlePacket is
// Port.HandlePacket, except that IP packets for devices with offloads are
// coalesced and written by Flush, which the reader calls after every batch
// (transport.Bind.ServeBatch). It is not safe for concurrent use. Session
// receive counters count a segment when it is handed to the merging; a
// device that then refuses the merged packet counts a device-write drop
// per segment.
type Receiver struct {
	pt     *Port
	slots  [groSlots]groSlot
	eth    [groSlots]ethSlot
	single []byte
	tick   uint64
}

// ethSlot is a groSlot for the frames of an Ethernet pseudowire: the
// Coalescer merges the IP part, whose Ethernet header (the first frame's,
// the same for every frame merged) is put back in front when it is
// written. base holds maxEthHdr octets of room, then the Coalescer's
// buffer.
type ethSlot struct {
	groSlot
	base []byte
	hdr  [maxEthHdr]byte
	hl   int
}

// maxEthHdr is the longest Ethernet header coalesced: with an 802.1Q tag.
const maxEthHdr = 18

// NewReceiver returns a Receiver for pt; it holds about half a megabyte of
// buffers.
func (pt *Port) NewReceiver() *Receiver {
	r := &Receiver{pt: pt, single: make([]byte, vnet.HdrLen+maxEthHdr+MaxPacket)}
	for i := range r.slots {
		r.slots[i].c.Init(make([]byte, vnet.HdrLen+vnet.MaxIPLen))
	}
	return r
}

// ethBuffers allocates the Ethernet slots' buffers on first use: most
// binds never carry an Ethernet pseudowire.
func (r *Receiver) ethBuffers() {
	if r.eth[0].base != nil {
		return
	}
	for i := range r.eth {
		r.eth[i].base = make([]byte, maxEthHdr+vnet.HdrLen+vnet.MaxIPLen)
		r.eth[i].c.Init(r.eth[i].base[maxEthHdr:])
	}
}

// HandlePacket takes one datagram from the bind; b is not kept after Flush.
func (r *Receiver) HandlePacket(b []byte, from netip.AddrPort) { r.pt.handle(b, from, r) }

// Flush writes what the batch coalesced.
func (r *Receiver) Flush() {
	for i := range r.slots {
		if !r.slots[i].c.Empty() {
			r.flushSlot(&r.slots[i])
		}
	}
	for i := range r.eth {
		if !r.eth[i].c.Empty() {
			r.flushEth(&r.eth[i])
		}
	}
}

// flushEth writes an Ethernet slot's super-frame: the Coalescer's header
// moved in front of the Ethernet header, its offsets counting from the
// frame's start (as a packet socket's virtio_net_hdr does).
func (r *Receiver) flushEth(sl *ethSlot) {
	segs := sl.c.Segments()
	out := sl.c.Finish() // virtio_net_hdr and IP packet, at base[maxEthHdr:]
	h, _ := vnet.Decode(out)
	n := len(out) - vnet.HdrLen
	if h.Flags != 0 || h.GSOType != 0 {
		h.CsumStart += uint16(sl.hl)
		h.HdrLen += uint16(sl.hl)
	}
	start := maxEthHdr - sl.hl
	copy(sl.base[start+vnet.HdrLen:], sl.hdr[:sl.hl])
	h.Put(sl.base[start:])
	if _, err := sl.dev.Write(sl.base[start : maxEthHdr+vnet.HdrLen+n]); err != nil {
		r.pt.p.dropN(DropDeviceWrite, segs)
	}
	sl.c.Reset()
	sl.dev = nil
}

// deliverEthernet passes a frame for an Ethernet device with offloads (a
// packet socket with PACKET_VNET_HDR) to GRO: in-order TCP segments of
// one flow between the same two MAC addresses leave as one super-frame,
// which the kernel cuts again where it must. Anything else is written at
// once, after what was merged of its flow.
func (r *Receiver) deliverEthernet(dev netif.Device, frame []byte) error {
	r.ethBuffers()
	r.tick++
	el := ethHeaderLen(frame)
	if el == 0 || !vnet.IsCandidate(frame[el:]) {
		for i := range r.eth {
			sl := &r.eth[i]
			if !sl.c.Empty() && sl.dev == dev && el != 0 && sl.hl == el && vnet.SameFlow(sl.c.Head(), frame[el:]) {
				r.flushEth(sl)
			}
		}
		return writeVnet(dev, r.single, frame)
	}
	ip := frame[el:]
	var free, lru *ethSlot
	for i := range r.eth {
		sl := &r.eth[i]
		if sl.c.Empty() {
			if free == nil {
				free = sl
			}
			continue
		}
		if sl.dev == dev && sl.hl == el && bytes.Equal(sl.hdr[:el], frame[:el]) && vnet.SameFlow(sl.c.Head(), ip) {
			sl.used = r.tick
			if sl.c.Add(ip) {
				return nil
			}
			r.flushEth(sl)
			sl.dev, sl.hl = dev, el
			copy(sl.hdr[:], frame[:el])
			sl.c.Start(ip)
			return nil
		}
		if lru == nil || sl.used < lru.used {
			lru = sl
		}
	}
	if free == nil {
		r.flushEth(lru)
		free = lru
	}
	free.dev, free.used, free.hl = dev, r.tick, el
	copy(free.hdr[:], frame[:el])
	free.c.Start(ip)
	return nil
}

func (r *Receiver) flushSlot(sl *groSlot) {
	segs := sl.c.Segments()
	if _, err := sl.dev.Write(sl.c.Finish()); err != nil {
		r.pt.p.dropN(DropDeviceWrite, segs)
	}
	sl.c.Reset()
	sl.dev = nil
}

// deliver passes an IP packet for an offload device to GRO.
func (r *Receiver) deliver(dev netif.Device, pkt []byte) error {
	r.tick++
	if vnet.IsCandidate(pkt) {
		var free, lru *groSlot
		for i := range r.slots {
			sl := &r.slots[i]
			if sl.c.Empty() {
				if free == nil {
					free = sl
				}
				continue
			}
			if sl.dev == dev && vnet.SameFlow(sl.c.Head(), pkt) {
				sl.used = r.tick
				if sl.c.Add(pkt) {
					return nil
				}
				r.flushSlot(sl)
				sl.dev = dev
				sl.c.Start(pkt)
				return nil
			}
			if lru == nil || sl.used < lru.used {
				lru = sl
			}
		}
		if free == nil {
			r.flushSlot(lru)
			free = lru
		}
		free.dev, free.used = dev, r.tick
		free.c.Start(pkt)
		return nil
	}
	for i := range r.slots {
		sl := &r.slots[i]
		if !sl.c.Empty() && sl.dev == dev && vnet.SameFlow(sl.c.Head(), pkt) {
			r.flushSlot(sl)
		}
	}
	return writeVnet(dev, r.single, pkt)
}

// ethHeaderLen is the length of an Ethernet frame's header: 14, or 18 with
// an 802.1Q tag; 0 when the frame is too short or carries neither IPv4 nor
// IPv6.
func ethHeaderLen(f []byte) int {
	if len(f) < 14 {
		return 0
	}
	n, et := 14, uint16(f[12])<<8|uint16(f[13])
	if et == 0x8100 {
		if len(f) < 18 {
			return 0
		}
		n, et = 18, uint16(f[16])<<8|uint16(f[17])
	}
	if et != 0x0800 && et != 0x86dd {
		return 0
	}
	return n
}

// sendGSOEthernet is sendGSO for an Ethernet pseudowire: frame is a TCP
// super-frame read from a packet socket (a veth's peer's segmentation
// offload, a NIC's GRO). Each segment goes out as a frame of its own, the
// Ethernet header copied in front of the IP segment, as many as fit in a
// train sent with one system call (UDP_SEGMENT over UDP, sendmmsg over
// IP). Offsets of h count from the frame's start.
func (p *Plane) sendGSOEthernet(tx *txState, s *Session, att *attachment, h vnet.Hdr, frame []byte) {
	el := ethHeaderLen(frame)
	if el == 0 || int(h.CsumStart) < el {
		p.drop(DropBadOffload)
		return
	}
	h.CsumStart -= uint16(el)
	ip := frame[el:]
	plan, err := vnet.PlanTCP(h, ip, 0)
	if err != nil {
		p.drop(DropBadOffload)
		return
	}
	if att.MTU != 0 && el+plan.HdrLen+plan.SegSize > att.MTU {
		p.drop(DropTooBig)
		return
	}
	p.sendSegments(tx, s, &plan, ip, frame[:el], reflected(s, frame))
}
