package ike

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// qm is one quick mode (RFC 2409 §5.5) and, once complete, the child SA
// it made.
type qm struct {
	p     *p1
	n     *Node
	mid   uint32
	role  Role
	state qmState
	pol   *Phase2Policy
	iv    []byte
	ni    []byte
	nr    []byte
	dh    *dhKey
	gqm   []byte // g(qm)^xy with PFS
	group Group

	spiIn, spiOut uint32
	peerSPI       []byte // responder: the SPI the peer proposed, for notifications
	idci, idcr    []byte // ID payload bodies
	local, remote Selector
	chosen        p2offer

	lastRecv, lastSent, replyFor []byte
	sends, retries               int
	rtx                          clock.Timer
	gen                          uint64

	origPeer      netip.Addr // the peer's own address, from NAT-OA
	child         *ChildSA
	inbound       *ChildSA // responder: announced at QM2, not yet installed
	espSeen       uint64   // Config.InboundESP at the last DPD check
	rekey, expire clock.Timer
	octets        uint64
	rekeyed       bool
}

func (q *qm) debugf(format string, args ...any) { q.n.debugf(q.p.id, format, args...) }

func (q *qm) setState(s qmState) {
	q.debugf("Node %d, Old State = %v  New State = %v", q.mid, q.state, s)
	q.state = s
}

func (q *qm) stopTimers() {
	q.gen++
	for _, t := range []clock.Timer{q.rtx, q.rekey, q.expire} {
		if t != nil {
			t.Stop()
		}
	}
}

func (q *qm) send(msg []byte, retransmit bool) {
	q.lastSent = msg
	q.sends++
	q.retries = 0
	q.debugf(" sending packet to %v my_port %d peer_port %d (%v) QM_IDLE", q.p.peer.Addr(), q.n.cfg.Local.Port(), q.p.peer.Port(), q.role)
	q.n.sendTo(msg, q.p.peer)
	q.arm(retransmit)
}

func (q *qm) arm(on bool) {
	if q.rtx != nil {
		q.rtx.Stop()
		q.rtx = nil
	}
	if !on {
		return
	}
	q.gen++
	gen := q.gen
	q.rtx = q.n.after(q.n.cfg.Retransmit, func() {
		if q.gen != gen {
			return
		}
		if q.retries >= q.n.cfg.MaxRetransmits {
			q.debugf(" deleting node %d error TRUE reason \"Death by retransmission P2\"", q.mid)
			q.fail("Death by retransmission P2", 0)
			return
		}
		q.retries++
		q.debugf(" retransmitting phase 2 QM_IDLE %d ...", q.mid)
		q.debugf(" incrementing error counter on node, attempt %d of %d: retransmit phase 2", q.retries, q.n.cfg.MaxRetransmits)
		q.n.sendTo(q.lastSent, q.p.peer)
		r := q.retries
		q.arm(true)
		q.retries = r
	})
}

// fail ends a quick mode that did not complete.
func (q *qm) fail(reason string, t isakmp.NotifyType) {
	q.stopTimers()
	delete(q.p.qms, q.mid)
	q.n.emit(Event{Kind: EventChildFailed, Peer: q.p.peer, ConnID: q.p.id, Reason: reason, Notify: t, Child: q.failedChild()})
}

// newMID returns an unused non-zero message ID.
func (p *p1) newMID() uint32 {
	for {
		mid := p.n.randomUint32()
		if p.qms[mid] == nil && mid != p.ez.mid && mid != p.ez.ansMID {
			return mid
		}
	}
}

func (n *Node) newSPI() uint32 {
	for {
		spi := n.randomUint32()
		if n.children[spi] != nil {
			continue
		}
		used := false
		for _, p := range n.sas {
			for _, q := range p.qms {
				used = used || q.spiIn == spi
			}
		}
		if !used {
			return spi
		}
	}
}

// selectorID returns the ID of a traffic selector: an address for a host,
// else a subnet (RFC 2407 §4.6.2).
func selectorID(s Selector) []byte {
	if s.Prefix.IsSingleIP() {
		return isakmp.AppendID(nil, isakmp.IDAddr(s.Prefix.Addr(), s.Proto, s.Port))
	}
	return isakmp.AppendID(nil, isakmp.IDSubnet(s.Prefix, s.Proto, s.Port))
}

func idSelector(body []byte) (Selector, error) {
	id, err := isakmp.ParseID(body)
	if err != nil {
		return Selector{}, err
	}
	pfx, err := id.Prefix()
	if err != nil {
		return Selector{}, err
	}
	return Selector{Prefix: pfx, Proto: id.Protocol, Port: id.Port}, nil
}

// startQM begins a quick mode as initiator (QM1: HDR*, HASH(1), SA, Ni [,
// KE] [, IDci, IDcr]).
func (p *p1) startQM(pol *Phase2Policy) {
	n := p.n
	q := &qm{p: p, n: n, mid: p.newMID(), role: Initiator, pol: pol, spiIn: n.newSPI(), local: pol.Local, remote: pol.Remote}
	q.iv = phase2IV(p.pol.Hash, p.iv, q.mid, p.pol.Encryption.blockSize())
	q.ni = make([]byte, nonceLen)
	n.random(q.ni)
	q.debugf(" beginning Quick Mode exchange, M-ID of %d", q.mid)
	q.debugf("QM Initiator gets spi")
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeQuick, q.mid, 0))
	hoff := hashPlaceholder(e, p.pol.Hash.Size())
	udp := *pol
	udp.UDPEncap = pol.UDPEncap || p.natLocal || p.natRemote
	e.Raw(isakmp.PayloadSA, appendP2SA(nil, &udp, q.spiIn))
	e.Raw(isakmp.PayloadNonce, q.ni)
	if pol.PFS != 0 {
		dh, err := generateDH(pol.PFS, n.cfg.Rand)
		if err != nil {
			q.debugf(" %v", err)
			return
		}
		q.dh, q.group = dh, pol.PFS
		e.Raw(isakmp.PayloadKE, dh.pub)
	}
	if pol.Local.Prefix.IsValid() && pol.Remote.Prefix.IsValid() {
		q.idci, q.idcr = selectorID(pol.Local), selectorID(pol.Remote)
		e.Raw(isakmp.PayloadID, q.idci)
		e.Raw(isakmp.PayloadID, q.idcr)
	}
	if p.natOA(slices.ContainsFunc(pol.TransformSets, func(t TransformSet) bool { return t.Transport })) {
		appendNATOA(e, n.cfg.Local.Addr(), p.peer.Addr())
	}
	msg, err := e.Bytes()
	if err != nil {
		q.debugf(" %v", err)
		return
	}
	// HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ) (RFC 2409 §5.5)
	copy(msg[hoff:], p.pol.Hash.prf(p.k.a, be32(q.mid), msg[hoff+p.pol.Hash.Size():]))
	msg, q.iv = p.seal(msg, q.iv)
	p.qms[q.mid] = q
	q.debugf("Node %d, Input = IKE_MESG_INTERNAL, IKE_INIT_QM", q.mid)
	q.setState(qmIQM1)
	q.send(msg, true)
}

// hashPlaceholder appends a HASH payload of n zero octets and returns the
// offset of its value.
func hashPlaceholder(e *isakmp.Encoder, n int) int {
	off := e.Start(isakmp.PayloadHash)
	e.SetBuf(append(e.Buf(), make([]byte, n)...))
	e.End(off)
	return off + isakmp.GenericHeaderLen
}

// handleQM handles a quick-mode message.
func (p *p1) handleQM(h isakmp.Header, msg []byte) {
	if p.state == stRAM2 && h.Encrypted() && p.early == nil {
		// The initiator is done after AM3 and may begin quick mode at
		// once: its QM1 can overtake AM3. Keep one until AM3 is in.
		p.early = msg
		return
	}
	if p.state != stP1Complete || !h.Encrypted() || h.MessageID == 0 {
		p.n.stats.Malformed++
		p.debugf(" quick mode message in %v dropped", p.state)
		return
	}
	q := p.qms[h.MessageID]
	if q != nil {
		if bytes.Equal(msg, q.replyFor) {
			p.n.stats.Duplicates++
			q.debugf(" phase 2 packet is a duplicate of a previous packet.")
			q.n.sendTo(q.lastSent, p.peer)
			return
		}
		if bytes.Equal(msg, q.lastRecv) {
			p.n.stats.Duplicates++
			return
		}
	}
	iv := phase2IV(p.pol.Hash, p.iv, h.MessageID, p.pol.Encryption.blockSize())
	if q != nil {
		iv = q.iv
	}
	body, next, err := p.open(h, msg, iv)
	if err != nil {
		p.n.stats.Decrypt++
		return
	}
	ps, err := collect(h.NextPayload, body)
	if err == nil && (!ps.firstHash || len(ps.hash) != p.pol.Hash.Size()) {
		err = &notifyError{isakmp.NotifyInvalidHashInformation, errors.New("quick mode message without leading HASH")}
	}
	if err != nil {
		p.n.stats.Malformed++
		p.debugf(" quick mode message %d: %v", h.MessageID, err)
		p.sendNotify(notifyOf(err), isakmp.ProtoISAKMP, nil)
		return
	}
	switch {
	case q == nil && !p.ezReady():
		// IOS drops a quick mode before XAuth has authenticated the
		// user; the client retransmits it.
		p.n.stats.NoSA++
		p.debugf(" quick mode %d from %v before XAuth completed, dropped", h.MessageID, p.peer.Addr())
	case q == nil:
		p.qm1(h.MessageID, msg, &ps, next)
	case q.state == qmIQM1:
		sends := q.sends
		if err := q.qm2(&ps, next); err != nil {
			q.debugf(" %v", err)
			return
		}
		q.lastRecv = msg
		if q.sends != sends {
			q.replyFor = msg
		}
	case q.state == qmRQM2:
		if err := q.qm3(&ps); err != nil {
			q.debugf(" %v", err)
			return
		}
		q.lastRecv = msg
	default:
		p.n.stats.Duplicates++
	}
}

func (q *qm) verifyHash(got []byte, parts ...[]byte) error {
	if !hmacEqual(got, q.p.pol.Hash.prf(q.p.k.a, parts...)) {
		q.n.stats.AuthFailed++
		return &notifyError{isakmp.NotifyInvalidHashInformation, errors.New("hash in quick mode does not verify")}
	}
	return nil
}

// qm1 answers a quick mode a peer begins: HASH(1) checked, the proposal
// chosen against the crypto map's transform sets, QM2 sent.
// MaxResponderQMs bounds the quick modes a peer may have under way with
// us at once on one phase-1 SA: each holds its state, and an inbound SA
// installed from its QM2 on, until QM3 or its retransmissions give up
// (about a minute). Legitimate peers run a few at a time (one per crypto
// map entry or flow being set up).
const MaxResponderQMs = 32

func (p *p1) qm1(mid uint32, msg []byte, ps *payloads, next []byte) {
	n := p.n
	pending := 0
	for _, q := range p.qms {
		if q.role == Responder && q.state != qmComplete {
			pending++
		}
	}
	if pending >= MaxResponderQMs {
		n.stats.QMLimit++
		p.debugf(" quick mode %d from %v dropped: %d already under way", mid, p.peer.Addr(), pending)
		return
	}
	q := &qm{p: p, n: n, mid: mid, role: Responder}
	if err := q.verifyHash(ps.hash, be32(mid), ps.afterHash); err != nil {
		q.debugf(" %v", err)
		return
	}
	if ps.sa == nil || ps.nonce == nil || (len(ps.ids) != 0 && len(ps.ids) != 2) {
		q.debugf(" quick mode without SA or nonce, or with %d IDs", len(ps.ids))
		p.sendNotify(isakmp.NotifyPayloadMalformed, isakmp.ProtoISAKMP, nil)
		return
	}
	q.debugf("Node %d, Input = IKE_MESG_FROM_PEER, IKE_QM_EXCH", mid)
	q.setState(qmRQM1)
	q.ni = slices.Clone(ps.nonce)
	if len(ps.ids) == 2 {
		var err1, err2 error
		q.remote, err1 = idSelector(ps.ids[0])
		q.local, err2 = idSelector(ps.ids[1])
		if err := errors.Join(err1, err2); err != nil {
			q.debugf(" %v", err)
			p.sendNotify(isakmp.NotifyInvalidIDInformation, isakmp.ProtoISAKMP, nil)
			return
		}
		q.idci, q.idcr = slices.Clone(ps.ids[0]), slices.Clone(ps.ids[1])
	} else {
		q.remote = Selector{Prefix: netip.PrefixFrom(p.peer.Addr(), p.peer.Addr().BitLen())}
		q.local = Selector{Prefix: netip.PrefixFrom(n.cfg.Local.Addr(), n.cfg.Local.Addr().BitLen())}
	}
	var pol *Phase2Policy
	if n.cfg.Phase2 != nil {
		pol = n.cfg.Phase2(p.peer, p.prof.Name, q.local, q.remote)
	}
	if pol == nil {
		q.debugf(" IPSEC(validate_proposal_request): proxy identities not supported (local %v remote %v)", q.local, q.remote)
		p.sendNotify(isakmp.NotifyInvalidIDInformation, isakmp.ProtoISAKMP, nil)
		q.debugf(" deleting node %d error TRUE reason \"QM rejected\"", mid)
		return
	}
	q.pol = pol
	o, prop, err := q.chooseP2(ps.sa)
	if err == nil && o.group != 0 && ps.ke == nil {
		err = errors.New("PFS group without KE")
	}
	if err != nil {
		q.debugf(" IPSec policy invalidated proposal with error 256")
		q.debugf(" phase 2 SA policy not acceptable! (local %v remote %v)", n.cfg.Local.Addr(), p.peer.Addr())
		spi := prop.SPI
		p.sendNotify(isakmp.NotifyNoProposalChosen, isakmp.ProtoESP, spi)
		q.debugf(" deleting node %d error TRUE reason \"QM rejected\"", mid)
		n.emit(Event{Kind: EventChildFailed, Peer: p.peer, ConnID: p.id, Reason: "phase 2 SA policy not acceptable", Notify: isakmp.NotifyNoProposalChosen})
		return
	}
	q.chosen = o
	q.peerSPI = slices.Clone(prop.SPI)
	q.spiOut = binary.BigEndian.Uint32(prop.SPI)
	q.spiIn = n.newSPI()
	q.nr = make([]byte, nonceLen)
	n.random(q.nr)
	var ke []byte
	if o.group != 0 {
		dh, err := generateDH(o.group, n.cfg.Rand)
		if err == nil {
			q.gqm, err = dh.shared(ps.ke)
		}
		if err != nil {
			q.debugf(" PFS: %v", err)
			p.sendNotify(isakmp.NotifyInvalidKeyInformation, isakmp.ProtoESP, prop.SPI)
			return
		}
		q.dh, q.group, ke = dh, o.group, dh.pub
	}
	life, lifeKB := min(o.life, pol.lifetime()), min(nz(o.lifeKB), pol.lifeKB())
	// QM2: HDR*, HASH(2), SA, Nr [, KE ] [, IDci, IDcr ] [, N(RESPONDER-LIFETIME)]
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeQuick, mid, 0))
	hoff := hashPlaceholder(e, p.pol.Hash.Size())
	pr := prop
	pr.SPI = be32(q.spiIn)
	e.Raw(isakmp.PayloadSA, appendChosenSA(nil, pr, offer{num: o.num, raw: o.raw}, o.tid))
	e.Raw(isakmp.PayloadNonce, q.nr)
	if ke != nil {
		e.Raw(isakmp.PayloadKE, ke)
	}
	if q.idci != nil {
		e.Raw(isakmp.PayloadID, q.idci)
		e.Raw(isakmp.PayloadID, q.idcr)
	}
	if q.origPeer = peerOriginal(ps.natoa, true); p.natOA(o.transport()) {
		// NAT-OAi as the initiator's packets reach us, NAT-OAr ours.
		appendNATOA(e, p.peer.Addr(), n.cfg.Local.Addr())
	}
	if life < o.life || lifeKB < nz(o.lifeKB) {
		// RFC 2407 §4.6.3.1: our lifetime is shorter than the offer's.
		var data []byte
		data = isakmp.AppendAttr(data, isakmp.BasicAttr(isakmp.IPsecAttrLifeType, isakmp.LifeSeconds))
		data = isakmp.AppendAttr(data, isakmp.UintAttr(isakmp.IPsecAttrLifeDur, uint64(life/time.Second)))
		data = isakmp.AppendAttr(data, isakmp.BasicAttr(isakmp.IPsecAttrLifeType, isakmp.LifeKilobytes))
		data = isakmp.AppendAttr(data, isakmp.UintAttr(isakmp.IPsecAttrLifeDur, lifeKB))
		e.Raw(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec,
			Protocol: isakmp.ProtoESP, Type: isakmp.NotifyResponderLifetime, SPI: be32(q.spiIn), Data: data}))
	}
	out, err := e.Bytes()
	if err != nil {
		return
	}
	// HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ) (RFC 2409 §5.5)
	copy(out[hoff:], p.pol.Hash.prf(p.k.a, be32(mid), q.ni, out[hoff+p.pol.Hash.Size():]))
	q.iv = next
	out, q.iv = p.seal(out, q.iv)
	q.chosen.life, q.chosen.lifeKB = life, lifeKB
	p.qms[mid] = q
	q.lastRecv, q.replyFor = msg, msg
	q.setState(qmRQM2)
	q.announceInbound()
	q.send(out, true)
}

// qm2 is the initiator's answer to QM2: HASH(2) checked, the choice
// checked against our offer, QM3 sent and the SA installed.
func (q *qm) qm2(ps *payloads, next []byte) error {
	p := q.p
	if ps.nonce == nil || ps.sa == nil {
		return errors.New("QM2 without SA or nonce")
	}
	if err := q.verifyHash(ps.hash, be32(q.mid), q.ni, ps.afterHash); err != nil {
		return err
	}
	sa, err := isakmp.ParseSA(ps.sa)
	if err != nil {
		return err
	}
	pd := isakmp.NewProposalDecoder(sa.Proposals)
	if !pd.Next() {
		return fmt.Errorf("QM2 SA without proposal: %v", pd.Err())
	}
	prop := pd.Proposal()
	if prop.Protocol != isakmp.ProtoESP || len(prop.SPI) != 4 {
		return errors.New("QM2 proposal is not ESP with a 4-octet SPI")
	}
	td := isakmp.NewTransformDecoder(prop)
	if !td.Next() {
		return fmt.Errorf("QM2 SA without transform: %v", td.Err())
	}
	o, err := parseP2Offer(td.Transform())
	if err != nil {
		return err
	}
	ok := false
	for _, ts := range q.pol.TransformSets {
		ok = ok || o.matches(ts)
	}
	if !ok || o.group != q.group {
		return errors.New("responder chose a transform we did not offer")
	}
	if q.dh != nil {
		if ps.ke == nil {
			return errors.New("QM2 without KE for PFS")
		}
		if q.gqm, err = q.dh.shared(ps.ke); err != nil {
			return err
		}
	}
	o.life, o.lifeKB = min(o.life, q.pol.lifetime()), min(nz(o.lifeKB), q.pol.lifeKB())
	for _, nt := range ps.notifies {
		if nt.Type == isakmp.NotifyResponderLifetime {
			l, kb := parseLifeAttrs(nt.Data)
			if l > 0 {
				o.life = min(o.life, l)
			}
			if kb > 0 {
				o.lifeKB = min(o.lifeKB, kb)
			}
		}
	}
	q.chosen = o
	q.spiOut = binary.BigEndian.Uint32(prop.SPI)
	q.nr = slices.Clone(ps.nonce)
	q.origPeer = peerOriginal(ps.natoa, false)
	q.iv = next
	// HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) (RFC 2409 §5.5)
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeQuick, q.mid, 0))
	e.Raw(isakmp.PayloadHash, p.pol.Hash.prf(p.k.a, []byte{0}, be32(q.mid), q.ni, q.nr))
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	out, q.iv = p.seal(out, q.iv)
	q.send(out, false)
	q.install()
	return nil
}

func (q *qm) qm3(ps *payloads) error {
	if err := q.verifyHash(ps.hash, []byte{0}, be32(q.mid), q.ni, q.nr); err != nil {
		return err
	}
	q.arm(false)
	q.install()
	return nil
}
