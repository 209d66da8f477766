package dataplane

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// txState is a poller worker's transmit scratch: one read buffer, one
// train buffer and a segment sender per bind, whatever the number of
// devices the worker reads.
type txState struct {
	p       *Plane
	buf     []byte
	train   []byte
	senders map[transport.Bind]transport.SegmentSender
}

// trainBuf is the room for one train of encapsulated segments: a 64 KiB
// super-packet in segments of 536 octets of payload with headers.
const trainBuf = 2 * 65536

// readBudget is how many packets a worker reads from one device before it
// lets the others have their turn.
const readBudget = 64

func newTxState(p *Plane) *txState {
	return &txState{p: p, buf: make([]byte, Headroom+MaxPacket), senders: map[transport.Bind]transport.SegmentSender{}}
}

// sender returns the worker's segment sender for b, nil when b has none.
func (tx *txState) sender(b transport.Bind) transport.SegmentSender {
	s, ok := tx.senders[b]
	if !ok {
		if sg, can := b.(transport.Segmenter); can {
			s = sg.NewSegmentSender()
		}
		tx.senders[b] = s
	}
	return s
}

// deviceReady reads what dev has, up to readBudget packets, and sends each
// into the tunnel of own (the device's session), or of the session its
// destination names when own is nil (the shared device). It reports more
// when it stopped at its budget with packets left.
func (p *Plane) deviceReady(tx *txState, dev netif.Device, own *Session) (more bool) {
	off := hasOffload(dev)
	rd := tx.buf[Headroom:]
	if off {
		// The virtio_net_hdr is read into the end of the headroom, which
		// it leaves free again once decoded.
		rd = tx.buf[Headroom-vnet.HdrLen:]
	}
	for range readBudget {
		n, err := dev.TryRead(rd)
		if err != nil {
			if !errors.Is(err, netif.ErrWouldBlock) && !errors.Is(err, netif.ErrClosed) {
				p.log.Debug("device read", "device", dev.Name(), "err", err)
			}
			return false
		}
		var h vnet.Hdr
		if off {
			if h, err = vnet.Decode(rd[:n]); err != nil {
				p.drop(DropShort)
				continue
			}
			n -= vnet.HdrLen
		}
		if n < 1 {
			p.drop(DropShort)
			continue
		}
		pkt := tx.buf[Headroom : Headroom+n]
		s := own
		if s == nil {
			s = p.byDest(pkt)
		}
		if s == nil {
			p.drop(DropNoSession)
			continue
		}
		att := s.att.Load()
		if att == nil {
			p.drop(DropNotAttached)
			continue
		}
		if off {
			if h.IsGSO() {
				p.sendGSO(tx, s, att, h, pkt)
				continue
			}
			if h.Flags&vnet.FlagNeedsCsum != 0 && vnet.CompleteChecksum(pkt, int(h.CsumStart), int(h.CsumOffset)) != nil {
				p.drop(DropBadOffload)
				continue
			}
		}
		p.sendPacket(s, att, tx.buf, n)
	}
	return true
}

// sendPacket is the transmit path of one packet at buf[Headroom:Headroom+n]
// read from s's interface.
func (p *Plane) sendPacket(s *Session, att *attachment, buf []byte, n int) {
	pkt := buf[Headroom : Headroom+n]
	if att.MTU != 0 && n > att.MTU {
		p.drop(DropTooBig)
		return
	}
	start := Headroom
	switch s.Payload {
	case PayloadPPP, PayloadIP:
		var proto ppp.Protocol
		switch pkt[0] >> 4 {
		case 4:
			proto = ppp.ProtoIPv4
		case 6:
			proto = ppp.ProtoIPv6
		default:
			p.drop(DropNotIP)
			return
		}
		if att.MSS != 0 {
			ClampMSS(pkt, att.MSS)
		}
		if s.Payload == PayloadPPP {
			if m := s.mppe.Load(); m != nil {
				p.sendMPPE(s, att, m, buf, n, proto)
				return
			}
			var err error
			if start, err = att.Framing.Prepend(buf, Headroom, proto); err != nil {
				p.drop(DropTooBig)
				return
			}
		}
	}
	p.send(s, buf, start, Headroom+n)
}

// send encapsulates the payload buf[start:end] (headroom before start) and
// sends it to the session's peer.
func (p *Plane) send(s *Session, buf []byte, start, end int) error {
	e := s.encap.Load().e
	var hl int
	if l, ok := e.(*L2TPv2Encap); ok {
		hl = l.Len() // the common carrier, without interface calls
	} else {
		hl = e.Len()
	}
	if start < hl {
		return fmt.Errorf("dataplane: %d octets of headroom, need %d", start, hl)
	}
	var lock sync.Locker
	if l, ok := e.(*L2TPv2Encap); ok {
		if lock = l.SendLock(); lock != nil {
			lock.Lock()
		}
		l.Put(buf[start-hl:start], end-start)
	} else {
		if o, ok := e.(Ordered); ok {
			if lock = o.SendLock(); lock != nil {
				lock.Lock()
			}
		}
		e.Put(buf[start-hl:start], end-start)
	}
	var err error
	if tos, ok := s.reflectTOS(buf[start:end]); ok {
		err = s.Bind.(transport.TOSWriter).WriteToTOS(buf[start-hl:end], s.Peer, tos)
	} else {
		err = s.Bind.WriteTo(buf[start-hl:end], s.Peer)
	}
	if lock != nil {
		lock.Unlock()
	}
	if err != nil {
		p.drop(DropUnderlayWrite)
		return err
	}
	s.txPkts.Add(1)
	s.txBytes.Add(uint64(end - start))
	return nil
}

// frameBufs hold the frames WriteFrame and SendIP encapsulate.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, Headroom+2048); return &b }}

// ErrNotAttached is returned by SendIP for a session whose network layer
// is not up.
var ErrNotAttached = errors.New("dataplane: session not attached")

// SendIP sends the IP packet pkt into the session's tunnel as if its
// interface had read it (MTU, MSS clamp, PPP framing as attached). It does
// not keep pkt. It is for load generators and tests; safe for concurrent
// use.
func (s *Session) SendIP(pkt []byte) error { return s.sendIP(pkt, false) }

// SendControlIP is SendIP for an IP packet of the control plane's own (a
// Router Advertisement the access layer sends on the PPP link): counted
// as the link's control frames are, so that it does not keep an idle
// session alive, and encrypted like any IP packet while MPPE is on.
func (s *Session) SendControlIP(pkt []byte) error { return s.sendIP(pkt, true) }

func (s *Session) sendIP(pkt []byte, ctl bool) error {
	p := s.p
	att := s.att.Load()
	if p == nil || att == nil {
		return ErrNotAttached
	}
	if len(pkt) == 0 || len(pkt) > MaxPacket {
		return fmt.Errorf("dataplane: IP packet of %d octets", len(pkt))
	}
	bp := frameBufs.Get().(*[]byte)
	buf := *bp
	if len(buf) < Headroom+len(pkt) {
		buf = make([]byte, Headroom+len(pkt))
	}
	n := copy(buf[Headroom:], pkt)
	p.sendPacket(s, att, buf, n)
	frameBufs.Put(bp)
	if ctl {
		s.ctlTx.Add(1)
	}
	return nil
}

// WriteFrame sends one whole PPP frame (address/control and protocol
// fields as the link framed it) on the session's data channel: the PPP
// link's control traffic takes the same encapsulation, and the same
// sequence numbers, as IP. It does not keep frame. Safe for concurrent use.
func (s *Session) WriteFrame(frame []byte) error {
	p := s.p
	if p == nil {
		return errors.New("dataplane: session not installed")
	}
	if len(frame) > MaxPacket {
		return fmt.Errorf("dataplane: frame of %d octets", len(frame))
	}
	bp := frameBufs.Get().(*[]byte)
	buf := *bp
	if len(buf) < MaxEncapLen+len(frame) {
		buf = make([]byte, MaxEncapLen+len(frame))
	}
	n := copy(buf[MaxEncapLen:], frame)
	err := p.send(s, buf, MaxEncapLen, MaxEncapLen+n)
	frameBufs.Put(bp)
	s.ctlTx.Add(1)
	return err
}

// reflectTOS returns the Type of Service the datagram carrying payload
// takes when the session reflects it: ok=false keeps the socket's.
func (s *Session) reflectTOS(payload []byte) (uint8, bool) {
	if !s.TOSReflect {
		return 0, false
	}
	if _, can := s.Bind.(transport.TOSWriter); !can {
		return 0, false
	}
	return innerTOS(s.Payload, payload)
}

// innerTOS reads the Type of Service octet of the IP packet in payload:
// the IPv4 header's second octet (RFC 2474 §3 DSCP, RFC 3168 §5 ECN), or
// IPv6's Traffic Class across its first two octets (RFC 8200 §3). An
// Ethernet frame's packet follows its EtherType, past up to two 802.1Q /
// 802.1ad tags. ok=false: no IP packet.
func innerTOS(kind Payload, b []byte) (tos uint8, ok bool) {
	var ip []byte
	v4, v6 := false, false
	switch kind {
	case PayloadEthernet:
		off := 12
	tags:
		for range 3 {
			if len(b) < off+2 {
				return 0, false
			}
			et := uint16(b[off])<<8 | uint16(b[off+1])
			off += 2
			switch et {
			case 0x8100, 0x88a8:
				off += 2 // the tag's TCI; its EtherType follows
				continue
			case 0x0800:
				v4 = true
			case 0x86dd:
				v6 = true
			}
			break tags
		}
		ip = b[min(off, len(b)):]
	case PayloadIP:
		if len(b) > 0 {
			v4, v6 = b[0]>>4 == 4, b[0]>>4 == 6
		}
		ip = b
	}
	switch {
	case v4 && len(ip) >= 2:
		return ip[1], true
	case v6 && len(ip) >= 2:
		return ip[0]<<4 | ip[1]>>4, true
	}
	return 0, false
}
