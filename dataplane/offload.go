package dataplane

// The data path on devices with offloads (a TUN with IFF_VNET_HDR and
// TSO; netif.Offloader): packets carry a virtio_net_hdr.
//
// Transmit: a read may return a TCP super-packet of up to 64 KiB. It is
// cut into segments that fit the session MTU (vnet.Plan), each written
// straight into a train of L2TP data messages of equal stride,
//
//	[L2TP][PPP][IP][TCP][payload] [L2TP][PPP][IP][TCP][payload] ...
//
// and the train leaves with one UDP_SEGMENT sendmsg (a transport
// SegmentSender), or one datagram at a time on underlays without it.
// Partial checksums of single packets are completed first.
//
// Receive: a Receiver, one per socket reader, gathers the in-order TCP
// segments of each flow of a batch into super-packets (vnet.Coalescer)
// and writes each one to its device once, at Flush, after the batch;
// everything else is written at once behind a zero header, after what is
// held of its own flow so nothing is reordered within a flow.

import (
	"net/netip"
	"sync"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/l2tp"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// SegmentSender sends a train of datagrams of seg octets (the last may be
// shorter) to one peer. A goroutine that sends has its own.
type SegmentSender = transport.SegmentSender

// newSegmentSender returns the underlay's SegmentSender, nil when it has
// none: a transport.Segmenter (UDPConn, memnet conns, fakes).
func newSegmentSender(u Underlay) SegmentSender {
	if s, ok := u.(transport.Segmenter); ok {
		return s.NewSegmentSender()
	}
	return nil
}

// hasOffload reports whether dev's packets carry a virtio_net_hdr.
func hasOffload(dev netif.Device) bool {
	o, ok := dev.(netif.Offloader)
	return ok && o.Offload()
}

// trainBuf is the room for one train of encapsulated segments: a 64 KiB
// super-packet in segments of 536 octets of payload with headers.
const trainBuf = 2 * 65536

// txState is a device reader's transmit scratch.
type txState struct {
	train  []byte
	sender SegmentSender
}

func newTxState(u Underlay) *txState {
	return &txState{train: make([]byte, trainBuf), sender: newSegmentSender(u)}
}

// sendGSO segments the super-packet pkt described by h and sends the
// segments to the session's peer.
func (p *Plane) sendGSO(tx *txState, s *Session, h vnet.Hdr, pkt []byte) {
	att := s.att.Load()
	plan, err := vnet.PlanTCP(h, pkt, att.mtu)
	if err != nil {
		p.drop(DropBadOffload)
		return
	}
	proto := ppp.ProtoIPv4
	if plan.IPv6 {
		proto = ppp.ProtoIPv6
	}
	hl := l2tp.DataHeaderLen(s.Sequencing)
	encap := hl + att.framing.HeaderLen(proto)
	stride := encap + plan.HdrLen + plan.SegSize
	per := len(tx.train) / stride
	if per < 1 {
		p.drop(DropTooBig)
		return
	}
	var ns uint16
	if s.Sequencing {
		ns = uint16(s.txNs.Add(uint32(plan.N)) - uint32(plan.N))
	}
	for first := 0; first < plan.N; first += per {
		end := 0
		bytes := 0
		last := min(first+per, plan.N)
		for i := first; i < last; i++ {
			o := end
			n := plan.Segment(tx.train[o+encap:], pkt, i)
			att.framing.Put(tx.train[o+hl:], proto)
			l2tp.AppendDataHeader(tx.train[o:o], s.RemoteTunnel, s.RemoteSession, s.Sequencing, ns+uint16(i), encap-hl+n)
			end = o + encap + n
			bytes += n
		}
		if err := p.sendTrain(tx, tx.train[:end], stride, s.Peer); err != nil {
			p.dropN(DropUnderlayWrite, last-first)
			continue
		}
		s.TxPkts.Add(uint64(last - first))
		s.TxBytes.Add(uint64(bytes))
	}
}

// sendTrain sends datagrams of stride octets back to back in b.
func (p *Plane) sendTrain(tx *txState, b []byte, stride int, to netip.AddrPort) error {
	if tx.sender != nil {
		return tx.sender.WriteSegments(b, stride, to)
	}
	for off := 0; off < len(b); off += stride {
		if err := p.under.WriteTo(b[off:min(off+stride, len(b))], to); err != nil {
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

// Receiver is the receive path of one socket reader: HandlePacket is
// Plane.HandlePacket, except that IP packets for devices with offloads
// are coalesced and written by Flush, which the reader calls after every
// batch (transport.UDPConn.ServeBatch). It is not safe for concurrent use.
// Session receive counters count a segment when it is handed to the
// merging; a device that then refuses the merged packet counts a
// device-write drop per segment.
type Receiver struct {
	p      *Plane
	slots  [groSlots]groSlot
	single []byte
	tick   uint64
}

// NewReceiver returns a Receiver for p; it holds about half a megabyte of
// buffers.
func (p *Plane) NewReceiver() *Receiver {
	r := &Receiver{p: p, single: make([]byte, vnet.HdrLen+MaxPacket)}
	for i := range r.slots {
		r.slots[i].c.Init(make([]byte, vnet.HdrLen+vnet.MaxIPLen))
	}
	return r
}

// HandlePacket takes one datagram from the underlay socket; b is not kept.
func (r *Receiver) HandlePacket(b []byte, from netip.AddrPort) { r.p.handle(b, from, r) }

// Flush writes what the batch coalesced.
func (r *Receiver) Flush() {
	for i := range r.slots {
		if !r.slots[i].c.Empty() {
			r.flushSlot(&r.slots[i])
		}
	}
}

func (r *Receiver) flushSlot(sl *groSlot) {
	segs := sl.c.Segments()
	if _, err := sl.dev.Write(sl.c.Finish()); err != nil {
		r.p.dropN(DropDeviceWrite, segs)
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

// writeVnet writes pkt behind a zero virtio_net_hdr, through scratch.
func writeVnet(dev netif.Device, scratch, pkt []byte) error {
	clear(scratch[:vnet.HdrLen])
	n := copy(scratch[vnet.HdrLen:], pkt)
	_, err := dev.Write(scratch[:vnet.HdrLen+n])
	return err
}

// vnetScratch serves Plane.HandlePacket, which has no Receiver, on
// devices with offloads.
var vnetScratch = sync.Pool{New: func() any { b := make([]byte, vnet.HdrLen+MaxPacket); return &b }}
