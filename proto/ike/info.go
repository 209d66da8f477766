package ike

import (
	"crypto/hmac"
	"encoding/binary"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }

// sendInfo sends an informational exchange protected by the phase-1 SA:
// HDR*, HASH(1), N/D with HASH(1) = prf(SKEYID_a, M-ID | N/D) (RFC 2409
// §5.7), under an IV derived for its message ID.
func (p *p1) sendInfo(t isakmp.PayloadType, body []byte) {
	if p.key == nil {
		return
	}
	mid := p.newMID()
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeInformational, mid, 0))
	hs := p.pol.Hash.Size()
	hoff := hashPlaceholder(e, hs)
	e.Raw(t, body)
	msg, err := e.Bytes()
	if err != nil {
		return
	}
	copy(msg[hoff:], p.pol.Hash.prf(p.k.a, be32(mid), msg[hoff+hs:]))
	msg, _ = p.seal(msg, phase2IV(p.pol.Hash, p.iv, mid, p.pol.Encryption.blockSize()))
	p.n.sendTo(msg, p.peer)
}

// sendNotify sends a notification: protected once keys exist, else in the
// clear.
func (p *p1) sendNotify(t isakmp.NotifyType, proto isakmp.ProtocolID, spi []byte) {
	p.debugf(" Sending NOTIFY %v protocol %d spi %d", t, proto, spiNum(spi))
	if p.key == nil {
		p.n.plainNotify(p.ci, p.peer, t)
		return
	}
	p.sendInfo(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: proto, Type: t, SPI: spi}))
}

func spiNum(spi []byte) uint64 {
	var v uint64
	for _, c := range spi {
		v = v<<8 | uint64(c)
	}
	return v
}

// handleInfo processes an informational exchange (RFC 2408 §4.8, RFC 2409
// §5.7): notifications, deletes and DPD.
func (p *p1) handleInfo(h isakmp.Header, msg []byte) {
	body := h.Body(msg)
	authentic := false
	if h.Encrypted() {
		if p.key == nil {
			p.n.stats.Decrypt++
			return
		}
		iv := phase2IV(p.pol.Hash, p.iv, h.MessageID, p.pol.Encryption.blockSize())
		var err error
		if body, _, err = p.open(h, msg, iv); err != nil {
			p.n.stats.Decrypt++
			return
		}
	}
	ps, err := collect(h.NextPayload, body)
	if err != nil {
		p.n.stats.Malformed++
		p.debugf(" informational from %v: %v", p.peer.Addr(), err)
		return
	}
	if h.Encrypted() {
		if !ps.firstHash || !hmacEqual(ps.hash, p.pol.Hash.prf(p.k.a, be32(h.MessageID), ps.afterHash)) {
			p.n.stats.AuthFailed++
			p.debugf(" informational from %v: hash does not verify, dropped", p.peer.Addr())
			return
		}
		authentic = true
	}
	for _, nt := range ps.notifies {
		p.notify(nt, authentic, h.MessageID)
	}
	if !authentic {
		return
	}
	for _, d := range ps.deletes {
		p.deleted(d)
	}
}

func (p *p1) notify(nt isakmp.Notification, authentic bool, mid uint32) {
	p.debugf(" processing NOTIFY %v protocol %d spi %d, message ID = %d", nt.Type, nt.Protocol, spiNum(nt.SPI), mid)
	if !authentic {
		// An unprotected notification can be forged by anyone on the
		// path: it is logged, and the exchange goes on (IOS keeps
		// retransmitting until "Death by retransmission").
		p.debugf(" unauthenticated NOTIFY %v from %v ignored", nt.Type, p.peer.Addr())
		return
	}
	switch nt.Type {
	case isakmp.NotifyRUThere:
		if len(nt.Data) != 4 {
			return
		}
		p.debugf(" received DPD R_U_THERE seq %d, sending R_U_THERE_ACK", binary.BigEndian.Uint32(nt.Data))
		spi := append(p.ci[:len(p.ci):len(p.ci)], p.cr[:]...)
		p.sendInfo(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec,
			Protocol: isakmp.ProtoISAKMP, Type: isakmp.NotifyRUThereAck, SPI: spi, Data: nt.Data}))
	case isakmp.NotifyRUThereAck:
		if len(nt.Data) == 4 && p.dpdWait != 0 && binary.BigEndian.Uint32(nt.Data) == p.dpdWait {
			p.debugf(" DPD/R_U_THERE_ACK received from peer %v, sequence %d", p.peer.Addr(), p.dpdWait)
			p.dpdWait, p.dpdMiss = 0, 0
			p.armDPD()
		}
	case isakmp.NotifyResponderLifetime:
		if nt.Protocol != isakmp.ProtoISAKMP {
			return
		}
		if l, _ := parseLifeAttrs(nt.Data); l > 0 && l < p.lifetime {
			p.lifetime = l
			if p.expire != nil {
				p.expire.Stop()
			}
			gen := p.gen
			p.expire = p.n.after(l-p.n.cfg.Clock.Now().Sub(p.established), func() {
				if p.gen == gen && !p.dying {
					p.destroy("lifetime expired", true)
				}
			})
		}
	default:
		if !nt.Type.IsError() {
			return
		}
		// The SPI names our proposal; strongSwan sends zeros (or none) and
		// then the pending quick mode is the one refused.
		spi := uint32(spiNum(nt.SPI))
		for _, q := range p.qms {
			if q.role == Initiator && q.state == qmIQM1 && (nt.Protocol != isakmp.ProtoESP || q.spiIn == spi || spi == 0) {
				q.debugf(" deleting node %d error TRUE reason \"peer sent %v\"", q.mid, nt.Type)
				q.fail(nt.Type.String(), nt.Type)
				return
			}
		}
	}
}

func (p *p1) deleted(d isakmp.Delete) {
	switch d.Protocol {
	case isakmp.ProtoISAKMP:
		for i := range int(d.NumSPIs) {
			spi := d.SPI(i)
			if len(spi) == 16 && [8]byte(spi[:8]) == p.ci && [8]byte(spi[8:]) == p.cr {
				p.debugf(" peer %v deleted the ISAKMP SA", p.peer.Addr())
				p.destroy("deleted by peer", false)
				return
			}
		}
	case isakmp.ProtoESP:
		for i := range int(d.NumSPIs) {
			spi := d.SPI(i)
			if len(spi) != 4 {
				continue
			}
			v := binary.BigEndian.Uint32(spi)
			for _, q := range p.n.children {
				if q.p.peer == p.peer && (q.spiOut == v || q.spiIn == v) {
					q.debugf(" IPSEC(delete_sa): peer deleted SA spi %#x", v)
					q.remove("deleted by peer", false)
					break
				}
			}
		}
	}
}

// dpdIdle is the SA's DPD interval: its profile's keepalive, else the
// Node's; dpdRetry the interval between unanswered R-U-THEREs.
func (p *p1) dpdIdle() time.Duration {
	if p.prof.DPD > 0 {
		return p.prof.DPD
	}
	return p.n.cfg.DPD
}

func (p *p1) dpdRetry() time.Duration {
	if p.prof.DPD > 0 && p.prof.DPDRetry > 0 {
		return p.prof.DPDRetry
	}
	return p.n.cfg.DPDRetry
}

// armDPD schedules the next DPD check (RFC 3706 §5): after DPD of
// silence an R-U-THERE, then every DPDRetry until an ACK or the limit.
func (p *p1) armDPD() {
	if p.dpdIdle() <= 0 || !p.peerDPD || p.dying {
		return
	}
	if p.dpdTimer != nil {
		p.dpdTimer.Stop()
	}
	d := p.dpdIdle()
	if p.dpdWait != 0 {
		d = p.dpdRetry()
	}
	gen := p.gen
	p.dpdTimer = p.n.after(d, func() {
		if p.gen != gen || p.dying {
			return
		}
		p.dpdFire()
	})
}

func (p *p1) dpdFire() {
	now := p.n.cfg.Clock.Now()
	if !p.n.cfg.DPDPeriodic || p.prof.DPD > 0 {
		if p.espMoved() {
			// ESP from the peer since the last check: it is alive
			// (RFC 3706 §5.3), an R-U-THERE awaiting its ACK included.
			p.lastSeen = now
			p.dpdWait, p.dpdMiss = 0, 0
		}
		if p.dpdWait == 0 {
			if idle := now.Sub(p.lastSeen); idle < p.dpdIdle() {
				p.rearmDPDIn(p.dpdIdle() - idle)
				return
			}
		}
	}
	if p.dpdMiss >= p.n.cfg.DPDMaxRetries {
		p.debugf(" peer does not do paranoid keepalives.")
		p.debugf(" deleting SA reason \"No reply to DPD\" state (%v) QM_IDLE (peer %v)", p.role, p.peer.Addr())
		p.n.emit(Event{Kind: EventDPDDead, Peer: p.peer, ConnID: p.id, Reason: "DPD"})
		for _, q := range p.n.children {
			if q.p.peer == p.peer {
				q.remove("peer dead (DPD)", false)
			}
		}
		p.destroy("peer dead (DPD)", false)
		return
	}
	if p.dpdSeq == 0 {
		p.dpdSeq = p.n.randomUint32() >> 1 // RFC 3706 §7: a random start, room to count
	}
	p.dpdSeq++
	p.dpdWait = p.dpdSeq
	p.dpdMiss++
	p.debugf(" DPD/R_U_THERE sequence %d sent to %v", p.dpdSeq, p.peer.Addr())
	spi := append(p.ci[:len(p.ci):len(p.ci)], p.cr[:]...)
	p.sendInfo(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec,
		Protocol: isakmp.ProtoISAKMP, Type: isakmp.NotifyRUThere, SPI: spi, Data: be32(p.dpdSeq)}))
	p.armDPD()
}

func (p *p1) rearmDPDIn(d time.Duration) {
	gen := p.gen
	p.dpdTimer = p.n.after(d, func() {
		if p.gen == gen && !p.dying {
			p.dpdFire()
		}
	})
}

// espMoved reads Config.InboundESP for the peer's child SAs and reports
// whether any count moved since the last read.
func (p *p1) espMoved() bool {
	f := p.n.cfg.InboundESP
	if f == nil {
		return false
	}
	moved := false
	for spi, q := range p.n.children {
		if q.p.peer.Addr() != p.peer.Addr() {
			continue
		}
		if c := f(spi); c != q.espSeen {
			q.espSeen = c
			moved = true
		}
	}
	return moved
}
