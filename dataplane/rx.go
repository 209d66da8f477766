package dataplane

import (
	"net/netip"
	"sync"

	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/link6"
	"github.com/vpdn/vpdn/wire/mppe"
	"github.com/vpdn/vpdn/wire/ppp"
	"github.com/vpdn/vpdn/wire/vnet"
)

// Port is the receive side of one bind: its carrier's Decoder, and the
// control plane that gets its control messages.
type Port struct {
	p       *Plane
	bind    transport.Bind
	dec     Decoder
	control func(b []byte, from netip.AddrPort)
}

// NewPort returns the port of bind: datagrams decoded by dec, control
// messages passed to control (which must not keep b), data to the sessions.
func (p *Plane) NewPort(bind transport.Bind, dec Decoder, control func(b []byte, from netip.AddrPort)) *Port {
	return &Port{p: p, bind: bind, dec: dec, control: control}
}

// Serve reads the bind until it is closed, through a Receiver (IP for
// devices with offloads is coalesced per TCP flow within each batch).
func (pt *Port) Serve() error {
	r := pt.NewReceiver()
	return pt.bind.ServeBatch(r.HandlePacket, r.Flush)
}

// HandlePacket takes one datagram from the bind; b is not kept, but IP
// packets are written to a device from it in place. A reader does better
// with a Receiver.
func (pt *Port) HandlePacket(b []byte, from netip.AddrPort) { pt.handle(b, from, nil) }

func (pt *Port) handle(b []byte, from netip.AddrPort, r *Receiver) {
	p := pt.p
	var d Decoded
	switch dec := pt.dec.(type) {
	case L2TPv2Decoder:
		// The common carrier without the interface call.
		dec.decode(b, &d)
	case PPTPDecoder:
		dec.decode(b, &d)
	case L2TPv3Decoder:
		dec.decode(b, &d)
	default:
		d = pt.dec.Decode(b)
	}
	if d.Drop != dropNone {
		p.drop(d.Drop)
		return
	}
	if d.Flags&Control != 0 {
		if pt.control != nil {
			pt.control(b, from)
		}
		return
	}
	s := p.Lookup(d.Key)
	if s == nil {
		p.drop(DropUnknownSession)
		return
	}
	if from != s.Peer {
		// Only the session's peer may inject into it: anyone can guess or
		// see a session's IDs.
		p.drop(DropWrongPeer)
		return
	}
	e := s.encap.Load().e
	if ve, ok := e.(*L2TPv3Encap); ok {
		// The cookie and sublayer are the session's: checked and
		// stripped only now (RFC 3931 §4.1).
		if r := ve.unwrap(d.Payload, &d); r != dropNone {
			if r == DropBadCookie {
				s.cookieDrops.Add(1)
			}
			p.drop(r)
			return
		}
	}
	if pe, ok := e.(*PPTPEncap); ok {
		if !p.acceptPPTP(s, pe, &d) {
			return
		}
	} else if !e.Accept(d.Flags&HasSeq != 0, d.Seq) {
		s.seqDrops.Add(1)
		p.drop(DropOutOfOrder)
		return
	}
	p.receive(s, d.Payload, r)
}

// receive is the payload stage of a data message accepted for s.
func (p *Plane) receive(s *Session, payload []byte, r *Receiver) {
	switch s.Payload {
	case PayloadPPP:
		proto, info, err := ppp.ParseFrame(payload)
		if err != nil {
			p.drop(DropBadPPP)
			return
		}
		if m := s.mppe.Load(); m != nil {
			switch proto {
			case mppe.Protocol:
				p.receiveMPPE(s, m, payload, info, r)
				return
			case ppp.ProtoIPv4, ppp.ProtoIPv6:
				// RFC 3078 §3: with MPPE open, IP goes encrypted only.
				p.drop(DropUnencrypted)
				return
			}
		}
		if proto == ppp.ProtoIPv4 || proto == ppp.ProtoIPv6 {
			p.receiveIP(s, info, len(payload), r)
			return
		}
		if s.OnFrame == nil {
			p.drop(DropUnhandledPPP)
			return
		}
		s.rxPkts.Add(1)
		s.rxBytes.Add(uint64(len(payload)))
		s.ctlRx.Add(1)
		s.OnFrame(payload)
	case PayloadIP:
		p.receiveIP(s, payload, len(payload), r)
	case PayloadEthernet:
		att := s.att.Load()
		if att == nil || att.Device == nil {
			p.drop(DropNotAttached)
			return
		}
		s.rxPkts.Add(1)
		s.rxBytes.Add(uint64(len(payload)))
		var err error
		switch {
		case hasOffload(att.Device) && r != nil:
			// A packet socket with PACKET_VNET_HDR: TCP segments merged
			// into super-frames (GRO), the rest as it is.
			err = r.deliverEthernet(att.Device, payload)
		case hasOffload(att.Device):
			bp := vnetScratch.Get().(*[]byte)
			err = writeVnet(att.Device, *bp, payload)
			vnetScratch.Put(bp)
		default:
			_, err = att.Device.Write(payload)
		}
		if err != nil {
			p.drop(DropDeviceWrite)
		}
	}
}

// receiveIP delivers the IP packet pkt (of a frame of frameLen octets).
func (p *Plane) receiveIP(s *Session, pkt []byte, frameLen int, r *Receiver) {
	att := s.att.Load()
	if att == nil {
		p.drop(DropNotAttached)
		return
	}
	dev := att.Device
	if dev == nil {
		if dev = p.sharedDevice(); dev == nil {
			p.drop(DropNotAttached)
			return
		}
	}
	if s.OnLink6 != nil && (link6.IsND(pkt) || (s.Link6DHCP != 0 && link6.IsDHCPTo(pkt, s.Link6DHCP))) {
		s.ctlRx.Add(1)
		s.rxPkts.Add(1)
		s.rxBytes.Add(uint64(frameLen))
		s.OnLink6(pkt)
		return
	}
	if att.Sources != nil && !att.Sources.Allows(pkt) {
		s.spoofDrops.Add(1)
		p.drop(DropSpoofed)
		return
	}
	if att.MSS != 0 {
		ClampMSS(pkt, att.MSS)
	}
	// Counted when received, before the device write (as the GRO path
	// counts a segment when it takes it): a write that fails is a
	// device-write drop on top.
	s.rxPkts.Add(1)
	s.rxBytes.Add(uint64(frameLen))
	var err error
	switch {
	case !hasOffload(dev):
		_, err = dev.Write(pkt)
	case r != nil:
		err = r.deliver(dev, pkt)
	default:
		bp := vnetScratch.Get().(*[]byte)
		err = writeVnet(dev, *bp, pkt)
		vnetScratch.Put(bp)
	}
	if err != nil {
		p.drop(DropDeviceWrite)
	}
}

// hasOffload reports whether dev's packets carry a virtio_net_hdr.
func hasOffload(dev netif.Device) bool {
	o, ok := dev.(netif.Offloader)
	return ok && o.Offload()
}

// writeVnet writes pkt behind a zero virtio_net_hdr, through scratch.
func writeVnet(dev netif.Device, scratch, pkt []byte) error {
	clear(scratch[:vnet.HdrLen])
	n := copy(scratch[vnet.HdrLen:], pkt)
	_, err := dev.Write(scratch[:vnet.HdrLen+n])
	return err
}

// vnetScratch serves Port.HandlePacket, which has no Receiver, on devices
// with offloads.
var vnetScratch = sync.Pool{New: func() any { b := make([]byte, vnet.HdrLen+MaxPacket); return &b }}
