package ike

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// nonceLen is the length of our nonces (RFC 2409 §5 allows 8 to 256).
const nonceLen = 20

// p1 is one phase-1 SA (an ISAKMP SA) and its exchange.
type p1 struct {
	n          *Node
	id         int // IOS's conn-id, 0 until keys exist
	role       Role
	aggressive bool
	state      p1State
	peer       netip.AddrPort
	ci, cr     isakmp.Cookie

	policies []Policy // initiator: what we offered
	pol      Policy   // the chosen one
	lifetime time.Duration
	respLife bool // responder: tell the peer our shorter lifetime
	psk      []byte
	saib     []byte // the initiator's SA payload body (RFC 2409 §5 SAi_b)
	idI, idR []byte // ID payload bodies (IDii_b, IDir_b)
	dh       *dhKey
	gxi, gxr []byte
	ni, nr   []byte
	k        keys
	key      []byte
	iv       []byte // phase 1 CBC state; after completion, the last phase-1 block

	lastRecv, lastSent []byte
	replyFor           []byte // the message lastSent answers (a duplicate of it gets lastSent again)
	sends              int
	retries            int
	rtx                clock.Timer
	gen                uint64
	halfOpen           bool
	dying              bool

	established time.Time
	expire      clock.Timer
	qms         map[uint32]*qm
	pending     []*Phase2Policy

	early []byte // a quick-mode message that overtook AM3

	// NAT-T (RFC 3947): natt when both sides sent the RFC's VID;
	// natLocal / natRemote when NAT-D says we / the peer sit behind a NAT.
	natt, natLocal, natRemote bool

	peerDPD  bool
	dpdSeq   uint32
	dpdWait  uint32 // the sequence number awaiting an ACK, 0 if none
	dpdMiss  int
	dpdTimer clock.Timer
	lastSeen time.Time
}

func (p *p1) debugf(format string, args ...any) { p.n.debugf(p.id, format, args...) }

func (p *p1) setState(s p1State) {
	p.debugf("Old State = %v  New State = %v", p.state, s)
	p.state = s
}

func (p *p1) stopTimers() {
	p.gen++
	for _, t := range []clock.Timer{p.rtx, p.expire, p.dpdTimer} {
		if t != nil {
			t.Stop()
		}
	}
}

// send queues msg to the peer and remembers it for retransmission; with
// retransmit, the retransmission timer is armed (it is for every message
// that expects an answer).
func (p *p1) send(msg []byte, retransmit bool) {
	p.lastSent = msg
	p.sends++
	p.retries = 0
	p.debugf(" sending packet to %v my_port %d peer_port %d (%v) %s", p.peer.Addr(), p.n.cfg.Local.Port(), p.peer.Port(), p.role, p.state.show())
	p.n.sendTo(msg, p.peer)
	p.armRetransmit(retransmit)
}

func (p *p1) armRetransmit(on bool) {
	if p.rtx != nil {
		p.rtx.Stop()
		p.rtx = nil
	}
	if !on {
		return
	}
	p.gen++
	gen := p.gen
	p.rtx = p.n.after(p.n.cfg.Retransmit, func() {
		if p.gen == gen {
			p.retransmit()
		}
	})
}

// retransmit is IOS's phase-1 retransmission with its give-up: after
// MaxRetransmits, "Death by retransmission P1".
func (p *p1) retransmit() {
	max := p.n.cfg.MaxRetransmits
	if p.retries >= max {
		p.debugf(" deleting SA reason \"Death by retransmission P1\" state (%v) %s (peer %v)", p.role, p.state.show(), p.peer.Addr())
		p.debugf("Input = IKE_MESG_INTERNAL, IKE_PHASE1_DEL")
		p.destroy("Death by retransmission P1", false)
		return
	}
	p.retries++
	p.debugf(" retransmitting phase 1 %s...", p.state.show())
	p.debugf(" incrementing error counter on sa, attempt %d of %d: retransmit phase 1", p.retries, max)
	p.debugf(" retransmitting phase 1 %s", p.state.show())
	p.debugf(" sending packet to %v my_port %d peer_port %d (%v) %s", p.peer.Addr(), p.n.cfg.Local.Port(), p.peer.Port(), p.role, p.state.show())
	p.n.sendTo(p.lastSent, p.peer)
	retries := p.retries
	p.armRetransmit(true)
	p.retries = retries
}

// destroy removes the SA; with notify, a Delete is sent to the peer when
// the SA is established.
func (p *p1) destroy(reason string, notify bool) {
	if p.dying {
		return
	}
	p.dying = true
	if notify && p.state == stP1Complete {
		spi := append(p.ci[:len(p.ci):len(p.ci)], p.cr[:]...)
		p.sendInfo(isakmp.PayloadDelete, isakmp.AppendDelete(nil, isakmp.ProtoISAKMP, spi))
	}
	p.stopTimers()
	for _, q := range p.qms {
		if q.state != qmComplete {
			q.stopTimers()
		}
	}
	if p.halfOpen {
		p.n.releaseHalfOpen(p)
	}
	old := p.state
	p.setState(stDestSA)
	delete(p.n.sas, p.ci)
	if old == stP1Complete || reason != "" {
		p.n.emit(Event{Kind: EventPhase1Down, Peer: p.peer, ConnID: p.id, Reason: reason})
	}
}

func (n *Node) releaseHalfOpen(p *p1) {
	p.halfOpen = false
	n.halfOpen--
	if n.halfOpenPeer[p.peer.Addr()]--; n.halfOpenPeer[p.peer.Addr()] <= 0 {
		delete(n.halfOpenPeer, p.peer.Addr())
	}
}

func (p *p1) header(ex isakmp.ExchangeType, mid uint32, flags uint8) isakmp.Header {
	return isakmp.Header{ICookie: p.ci, RCookie: p.cr, Exchange: ex, MessageID: mid, Flags: flags}
}

// seal encrypts the body of msg (a whole message with its header) with
// the negotiated cipher from iv, padding it with zeros to the block size
// (RFC 2408 §3.1 lets the padding be anything; RFC 2409 Appendix B), and
// returns the next IV.
func (p *p1) seal(msg, iv []byte) ([]byte, []byte) {
	bs := p.pol.Encryption.blockSize()
	for (len(msg)-isakmp.HeaderLen)%bs != 0 {
		msg = append(msg, 0)
	}
	msg[19] |= isakmp.FlagEncryption
	isakmp.SetLength(msg)
	next, err := cbcCrypt(p.pol.Encryption, p.key, iv, msg[isakmp.HeaderLen:], true)
	if err != nil {
		panic(err) // the key length was checked when the policy was chosen
	}
	return msg, next
}

// open decrypts a copy of the body of msg from iv and returns it with the
// next IV.
func (p *p1) open(h isakmp.Header, msg, iv []byte) ([]byte, []byte, error) {
	if p.key == nil {
		return nil, nil, errors.New("ike: encrypted message before keys")
	}
	body := slices.Clone(h.Body(msg))
	next, err := cbcCrypt(p.pol.Encryption, p.key, iv, body, false)
	if err != nil {
		return nil, nil, err
	}
	return body, next, nil
}

// ----- initiator -----

func (n *Node) newCookie() isakmp.Cookie {
	var c isakmp.Cookie
	for c.IsZero() || n.sas[c] != nil {
		n.random(c[:])
	}
	return c
}

// initiate starts main or aggressive mode with peer.
func (n *Node) initiate(peer netip.AddrPort, pol *Phase2Policy) error {
	psk := n.cfg.Key(peer.Addr(), nil)
	if psk == nil {
		return fmt.Errorf("ike: no pre-shared key for %v", peer.Addr())
	}
	p := &p1{n: n, role: Initiator, aggressive: n.cfg.Aggressive, peer: peer, ci: n.newCookie(), psk: psk,
		qms: map[uint32]*qm{}, pending: []*Phase2Policy{pol}}
	p.policies = n.cfg.Policies
	if p.aggressive {
		// One KE goes out with the offer, so every proposal has its group
		// (RFC 2409 §5.4).
		g := p.policies[0].Group
		p.policies = slices.DeleteFunc(slices.Clone(p.policies), func(x Policy) bool { return x.Group != g })
	}
	n.sas[p.ci] = p
	p.saib = appendP1SA(nil, p.policies)
	e := isakmp.NewEncoder(nil, p.header(exchangeOf(p.aggressive), 0, 0))
	e.Raw(isakmp.PayloadSA, p.saib)
	if p.aggressive {
		p.debugf(" beginning Aggressive Mode exchange")
		var err error
		if p.dh, err = generateDH(p.policies[0].Group, n.cfg.Rand); err != nil {
			delete(n.sas, p.ci)
			return err
		}
		p.gxi = p.dh.pub
		p.ni = make([]byte, nonceLen)
		n.random(p.ni)
		p.idI = isakmp.AppendID(nil, isakmp.IDAddr(n.cfg.Local.Addr(), 17, 500))
		e.Raw(isakmp.PayloadKE, p.gxi)
		e.Raw(isakmp.PayloadNonce, p.ni)
		e.Raw(isakmp.PayloadID, p.idI)
	} else {
		p.debugf(" beginning Main Mode exchange")
	}
	appendVIDs(e)
	msg, err := e.Bytes()
	if err != nil {
		delete(n.sas, p.ci)
		return err
	}
	if p.aggressive {
		p.setState(stIAM1)
	} else {
		p.setState(stIMM1)
	}
	p.send(msg, true)
	return nil
}

func exchangeOf(aggressive bool) isakmp.ExchangeType {
	if aggressive {
		return isakmp.ExchangeAggressive
	}
	return isakmp.ExchangeMain
}

func appendVIDs(e *isakmp.Encoder) {
	e.Raw(isakmp.PayloadVendorID, isakmp.VIDDPD)
	e.Raw(isakmp.PayloadVendorID, isakmp.VIDNATTRFC3947)
}

// appendP1SA encodes our phase-1 offer: one proposal of KEY_IKE with a
// transform per policy, in priority order (RFC 2409 §5, Appendix A).
func appendP1SA(b []byte, pols []Policy) []byte {
	prop := isakmp.ProposalSpec{Num: 1, Protocol: isakmp.ProtoISAKMP}
	for i, pol := range pols {
		attrs := []isakmp.Attr{isakmp.BasicAttr(isakmp.AttrEncryption, uint16(pol.Encryption))}
		if pol.Encryption == CipherAES {
			attrs = append(attrs, isakmp.BasicAttr(isakmp.AttrKeyLength, uint16(pol.keyLen()*8)))
		}
		attrs = append(attrs,
			isakmp.BasicAttr(isakmp.AttrHash, uint16(pol.Hash)),
			isakmp.BasicAttr(isakmp.AttrAuthMethod, isakmp.AuthPSK),
			isakmp.BasicAttr(isakmp.AttrGroupDesc, uint16(pol.Group)),
			isakmp.BasicAttr(isakmp.AttrLifeType, isakmp.LifeSeconds),
			isakmp.UintAttr(isakmp.AttrLifeDur, uint64(pol.lifetime()/time.Second)))
		prop.Transforms = append(prop.Transforms, isakmp.TransformSpec{Num: uint8(i + 1), ID: isakmp.TransformKeyIKE, Attrs: attrs})
	}
	return isakmp.AppendSA(b, []isakmp.ProposalSpec{prop})
}

// offer is a phase-1 transform as the peer proposed it.
type offer struct {
	num     uint8
	enc     Cipher
	keyBits int
	hash    Hash
	auth    uint16
	group   Group
	life    time.Duration
	raw     []byte // the transform's attributes as sent
}

// parseOffer decodes the attributes of a phase-1 transform (RFC 2409
// Appendix A).
func parseOffer(t isakmp.Transform) (offer, error) {
	o := offer{num: t.Num, raw: t.Attrs}
	if t.ID != isakmp.TransformKeyIKE {
		return o, fmt.Errorf("transform ID %d", t.ID)
	}
	d := isakmp.NewAttrDecoder(t.Attrs)
	lifeType := uint64(0)
	for d.Next() {
		a := d.Attr()
		v, ok := a.Uint()
		if !ok {
			return o, fmt.Errorf("attribute %d of %d octets", a.Type, len(a.Data))
		}
		switch a.Type {
		case isakmp.AttrEncryption:
			o.enc = Cipher(v)
		case isakmp.AttrKeyLength:
			o.keyBits = int(v)
		case isakmp.AttrHash:
			o.hash = Hash(v)
		case isakmp.AttrAuthMethod:
			o.auth = uint16(v)
		case isakmp.AttrGroupDesc:
			o.group = Group(v)
		case isakmp.AttrLifeType:
			lifeType = v
		case isakmp.AttrLifeDur:
			if lifeType == isakmp.LifeSeconds {
				o.life = time.Duration(min(v, 1<<31)) * time.Second
			}
		default:
			return o, fmt.Errorf("unsupported attribute %d", a.Type)
		}
	}
	if err := d.Err(); err != nil {
		return o, err
	}
	if o.enc == CipherAES && o.keyBits == 0 {
		o.keyBits = 128
	}
	if o.life == 0 {
		o.life = 86400 * time.Second
	}
	return o, nil
}

// matches reports whether o is pol's suite (the lifetime is compared by
// the caller).
func (o offer) matches(pol Policy) (bool, string) {
	kb := pol.keyLen() * 8
	switch {
	case o.enc != pol.Encryption || (pol.Encryption == CipherAES && o.keyBits != kb):
		return false, "Encryption algorithm offered does not match policy!"
	case o.hash != pol.Hash:
		return false, "Hash algorithm offered does not match policy!"
	case o.auth != isakmp.AuthPSK:
		return false, "Auth method offered does not match policy!"
	case o.group != pol.Group:
		return false, "Diffie-Hellman group offered does not match policy!"
	}
	return true, ""
}

// chooseP1 picks, as IOS does, the first of our policies in priority
// order that matches any of the peer's transforms. It returns the
// transform, its policy and the proposal it came in.
func (n *Node) chooseP1(saBody []byte) (offer, Policy, isakmp.Proposal, error) {
	sa, err := isakmp.ParseSA(saBody)
	if err != nil {
		return offer{}, Policy{}, isakmp.Proposal{}, &notifyError{isakmp.NotifySituationNotSupported, err}
	}
	type cand struct {
		o offer
		p isakmp.Proposal
	}
	var offers []cand
	pd := isakmp.NewProposalDecoder(sa.Proposals)
	for pd.Next() {
		prop := pd.Proposal()
		if prop.Protocol != isakmp.ProtoISAKMP {
			continue
		}
		td := isakmp.NewTransformDecoder(prop)
		for td.Next() {
			o, err := parseOffer(td.Transform())
			if err != nil {
				n.debugf(0, "transform %d: %v", td.Transform().Num, err)
				continue
			}
			offers = append(offers, cand{o, prop})
		}
		if err := td.Err(); err != nil {
			return offer{}, Policy{}, prop, &notifyError{isakmp.NotifyBadProposalSyntax, err}
		}
	}
	if err := pd.Err(); err != nil {
		return offer{}, Policy{}, isakmp.Proposal{}, &notifyError{isakmp.NotifyBadProposalSyntax, err}
	}
	for _, pol := range n.cfg.Policies {
		for _, c := range offers {
			n.debugf(0, "Checking ISAKMP transform %d against priority %d policy", c.o.num, pol.Priority)
			n.debugf(0, "      encryption %v%s", c.o.enc, keyBitsNote(c.o.keyBits))
			n.debugf(0, "      hash %v", c.o.hash)
			n.debugf(0, "      default group %d", c.o.group)
			n.debugf(0, "      life duration (VPI) of %d", int64(c.o.life/time.Second))
			if ok, why := c.o.matches(pol); !ok {
				n.debugf(0, "%s", why)
				n.debugf(0, "atts are not acceptable. Next payload is 3")
				continue
			}
			n.debugf(0, "atts are acceptable. Next payload is 0")
			return c.o, pol, c.p, nil
		}
	}
	return offer{}, Policy{}, isakmp.Proposal{}, &notifyError{isakmp.NotifyNoProposalChosen, errors.New("no policy matches")}
}

func keyBitsNote(kb int) string {
	if kb == 0 {
		return ""
	}
	return fmt.Sprintf(" keylength of %d", kb)
}

// appendChosenSA answers an offer with the one transform chosen, its
// attributes as the peer sent them (RFC 2408 §4.2).
func appendChosenSA(b []byte, prop isakmp.Proposal, o offer, tid uint8) []byte {
	b = binary.BigEndian.AppendUint32(b, isakmp.DOIIPsec)
	b = binary.BigEndian.AppendUint32(b, isakmp.SituationIdentityOnly)
	ps := len(b)
	b = append(b, 0, 0, 0, 0, prop.Num, byte(prop.Protocol), byte(len(prop.SPI)), 1)
	b = append(b, prop.SPI...)
	ts := len(b)
	b = append(b, 0, 0, 0, 0, o.num, tid, 0, 0)
	b = append(b, o.raw...)
	binary.BigEndian.PutUint16(b[ts+2:], uint16(len(b)-ts))
	binary.BigEndian.PutUint16(b[ps+2:], uint16(len(b)-ps))
	return b
}

// ----- responder: the first message -----

// respond handles a first message (main or aggressive mode) from a peer
// we have no SA with.
func (n *Node) respond(h isakmp.Header, msg []byte, from netip.AddrPort) {
	if h.MessageID != 0 || h.Encrypted() {
		n.stats.Malformed++
		return
	}
	if h.Exchange == isakmp.ExchangeAggressive && !n.cfg.AcceptAggressive {
		n.debugf(0, " Aggressive Mode is not enabled, packet from %v dropped", from.Addr())
		n.stats.NoSA++
		return
	}
	if n.halfOpen >= n.cfg.MaxHalfOpen || n.halfOpenPeer[from.Addr()] >= n.cfg.MaxHalfOpenPerPeer {
		n.stats.HalfOpenRefused++
		n.debugf(0, " too many half-open SAs (%d, %d from %v): packet dropped", n.halfOpen, n.halfOpenPeer[from.Addr()], from.Addr())
		return
	}
	ps, err := collect(h.NextPayload, h.Body(msg))
	if err == nil && ps.sa == nil {
		err = &notifyError{isakmp.NotifyPayloadMalformed, errors.New("no SA payload")}
	}
	if err != nil {
		n.stats.Malformed++
		n.debugf(0, " IKE message from %v failed its sanity check or is malformed: %v", from.Addr(), err)
		n.plainNotify(h.ICookie, from, notifyOf(err))
		return
	}
	n.debugf(0, " received packet from %v dport %d sport %d Global (N) NEW SA", from.Addr(), n.cfg.Local.Port(), from.Port())
	o, pol, prop, err := n.chooseP1(ps.sa)
	if err != nil {
		n.debugf(0, "phase 1 SA policy not acceptable! (local %v remote %v)", n.cfg.Local.Addr(), from.Addr())
		n.plainNotify(h.ICookie, from, notifyOf(err))
		return
	}
	psk := n.cfg.Key(from.Addr(), nil)
	if h.Exchange == isakmp.ExchangeAggressive && len(ps.ids) > 0 {
		psk = n.cfg.Key(from.Addr(), ps.ids[0])
	}
	if psk == nil {
		n.debugf(0, " No pre-shared key with %v!", from.Addr())
		n.stats.AuthFailed++
		return
	}
	p := &p1{n: n, role: Responder, aggressive: h.Exchange == isakmp.ExchangeAggressive, peer: from,
		ci: h.ICookie, psk: psk, pol: pol, qms: map[uint32]*qm{}, saib: slices.Clone(ps.sa), halfOpen: true}
	for p.cr.IsZero() {
		n.random(p.cr[:])
	}
	p.lifetime = min(o.life, pol.lifetime())
	p.respLife = o.life > pol.lifetime()
	p.peerDPD = ps.hasVID(isakmp.VIDDPD)
	p.natt = ps.hasVID(isakmp.VIDNATTRFC3947)
	p.lastRecv, p.replyFor = msg, msg
	n.sas[p.ci] = p
	n.halfOpen++
	n.halfOpenPeer[from.Addr()]++
	chosen := appendChosenSA(nil, prop, o, isakmp.TransformKeyIKE)
	e := isakmp.NewEncoder(nil, p.header(h.Exchange, 0, 0))
	e.Raw(isakmp.PayloadSA, chosen)
	if !p.aggressive {
		p.setState(stRMM1)
		appendVIDs(e)
		out, err := e.Bytes()
		if err != nil {
			p.destroy("", false)
			return
		}
		p.setState(stRMM2)
		p.send(out, true)
		return
	}
	// Aggressive mode (RFC 2409 §5.4): HDR, SA, KE, Nr, IDir, HASH_R.
	p.setState(stRAM1)
	if ps.ke == nil || ps.nonce == nil || len(ps.ids) == 0 {
		p.debugf(" aggressive mode message without KE, nonce or ID")
		n.plainNotify(h.ICookie, from, isakmp.NotifyPayloadMalformed)
		p.destroy("", false)
		return
	}
	p.gxi, p.ni, p.idI = slices.Clone(ps.ke), slices.Clone(ps.nonce), slices.Clone(ps.ids[0])
	if err := p.dhAndKeys(); err != nil {
		p.debugf(" %v", err)
		n.plainNotify(h.ICookie, from, isakmp.NotifyInvalidKeyInformation)
		p.destroy("", false)
		return
	}
	p.idR = isakmp.AppendID(nil, isakmp.IDAddr(n.cfg.Local.Addr(), 17, 500))
	e.Raw(isakmp.PayloadKE, p.gxr)
	e.Raw(isakmp.PayloadNonce, p.nr)
	e.Raw(isakmp.PayloadID, p.idR)
	e.Raw(isakmp.PayloadHash, p.hashR())
	appendVIDs(e)
	p.appendNATD(e)
	out, err := e.Bytes()
	if err != nil {
		p.destroy("", false)
		return
	}
	p.setState(stRAM2)
	p.send(out, true)
}

// plainNotify sends an unauthenticated informational notification, as RFC
// 2408 §5 has a responder do before any SA exists.
func (n *Node) plainNotify(ci isakmp.Cookie, to netip.AddrPort, t isakmp.NotifyType) {
	var cr isakmp.Cookie
	n.random(cr[:])
	e := isakmp.NewEncoder(nil, isakmp.Header{ICookie: ci, RCookie: cr, Exchange: isakmp.ExchangeInformational})
	e.Raw(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec, Protocol: isakmp.ProtoISAKMP, Type: t}))
	msg, err := e.Bytes()
	if err != nil {
		return
	}
	n.debugf(0, " sending NOTIFY %v protocol 1 spi 0, message ID = 0", t)
	n.sendTo(msg, to)
}

// ----- both sides -----

// dhAndKeys makes our DH value and nonce, then g^xy and the SKEYID family
// (RFC 2409 §5), the cipher key and the first IV (Appendix B).
func (p *p1) dhAndKeys() error {
	dh, err := generateDH(p.pol.Group, p.n.cfg.Rand)
	if err != nil {
		return err
	}
	nonce := make([]byte, nonceLen)
	p.n.random(nonce)
	peerPub := p.gxi
	if p.role == Initiator {
		peerPub = p.gxr
	}
	gxy, err := dh.shared(peerPub)
	if err != nil {
		return err
	}
	p.dh = dh
	if p.role == Initiator {
		p.gxi = dh.pub
	} else {
		p.gxr, p.nr = dh.pub, nonce
	}
	p.keysFrom(gxy)
	return nil
}

func (p *p1) keysFrom(gxy []byte) {
	p.k = deriveKeys(p.pol.Hash, p.psk, p.ni, p.nr, gxy, p.ci, p.cr)
	p.key = encKey(p.pol.Hash, p.k.e, p.pol.keyLen())
	p.iv = phase1IV(p.pol.Hash, p.gxi, p.gxr, p.pol.Encryption.blockSize())
	p.id = p.n.nextConn
	p.n.nextConn++
}

// hashI and hashR are RFC 2409 §5's:
//
//	HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b )
//	HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b )
func (p *p1) hashI() []byte {
	return p.pol.Hash.prf(p.k.skeyid, p.gxi, p.gxr, p.ci[:], p.cr[:], p.saib, p.idI)
}

func (p *p1) hashR() []byte {
	return p.pol.Hash.prf(p.k.skeyid, p.gxr, p.gxi, p.cr[:], p.ci[:], p.saib, p.idR)
}

// handle dispatches a message of an existing SA.
func (p *p1) handle(h isakmp.Header, msg []byte) {
	p.lastSeen = p.n.cfg.Clock.Now()
	switch h.Exchange {
	case isakmp.ExchangeMain, isakmp.ExchangeAggressive:
		if h.MessageID != 0 || h.Exchange != exchangeOf(p.aggressive) {
			p.n.stats.Malformed++
			return
		}
		if bytes.Equal(msg, p.lastRecv) || bytes.Equal(msg, p.replyFor) {
			p.n.stats.Duplicates++
			p.debugf(" phase 1 packet is a duplicate of a previous packet.")
			if p.lastSent != nil && bytes.Equal(msg, p.replyFor) {
				p.debugf(" retransmitting due to retransmit phase 1")
				p.n.sendTo(p.lastSent, p.peer)
			}
			return
		}
		p.debugf(" received packet from %v dport %d sport %d Global (%v) %s", p.peer.Addr(), p.n.cfg.Local.Port(), p.peer.Port(), p.role, p.state.show())
		sends := p.sends
		if err := p.phase1(h, msg); err != nil {
			p.debugf(" %v", err)
			return
		}
		p.lastRecv = msg
		if p.sends != sends {
			p.replyFor = msg
		}
	case isakmp.ExchangeQuick:
		p.handleQM(h, msg)
	case isakmp.ExchangeInformational:
		p.handleInfo(h, msg)
	default:
		p.n.stats.Malformed++
		p.debugf(" unsupported exchange %v from %v", h.Exchange, p.peer.Addr())
	}
}

// phase1 runs one step of main or aggressive mode; an error leaves the
// state as it was (the message is dropped, the retransmissions go on).
func (p *p1) phase1(h isakmp.Header, msg []byte) error {
	body := h.Body(msg)
	var next []byte
	if h.Encrypted() {
		var err error
		body, next, err = p.open(h, msg, p.iv)
		if err != nil {
			p.n.stats.Decrypt++
			return err
		}
	}
	ps, err := collect(h.NextPayload, body)
	if err != nil {
		p.n.stats.Malformed++
		if h.Encrypted() {
			// A wrong key decrypts to garbage: IOS's
			// %CRYPTO-4-IKMP_BAD_MESSAGE, and the message is dropped.
			return fmt.Errorf("IKE message from %v failed its sanity check or is malformed", p.peer.Addr())
		}
		return err
	}
	switch {
	case p.state == stIMM1 && !h.Encrypted():
		return p.mm2(h, &ps)
	case p.state == stIMM3 && !h.Encrypted():
		return p.mm4(&ps)
	case p.state == stIMM5 && h.Encrypted():
		return p.mm6(&ps, next)
	case p.state == stRMM2 && !h.Encrypted():
		return p.mm3(&ps)
	case p.state == stRMM4 && h.Encrypted():
		return p.mm5(&ps, next)
	case p.state == stIAM1 && !h.Encrypted():
		return p.am2(h, &ps)
	case p.state == stRAM2:
		return p.am3(&ps, h.Encrypted(), next)
	}
	return fmt.Errorf("unexpected %v message in %v", h.Exchange, p.state)
}

// checkChosen verifies that the responder's SA names one of our offers
// and takes that policy and lifetime.
func (p *p1) checkChosen(saBody []byte) error {
	sa, err := isakmp.ParseSA(saBody)
	if err != nil {
		return err
	}
	pd := isakmp.NewProposalDecoder(sa.Proposals)
	if !pd.Next() {
		return fmt.Errorf("responder SA without a proposal: %v", pd.Err())
	}
	td := isakmp.NewTransformDecoder(pd.Proposal())
	if !td.Next() {
		return fmt.Errorf("responder SA without a transform: %v", td.Err())
	}
	o, err := parseOffer(td.Transform())
	if err != nil {
		return err
	}
	if td.Next() || pd.Next() {
		return errors.New("responder chose more than one transform")
	}
	for _, pol := range p.policies {
		if ok, _ := o.matches(pol); ok {
			p.pol = pol
			p.lifetime = min(o.life, pol.lifetime())
			return nil
		}
	}
	return errors.New("responder chose a transform we did not offer")
}

func (p *p1) mm2(h isakmp.Header, ps *payloads) error {
	if ps.sa == nil {
		return errors.New("MM2 without SA")
	}
	if err := p.checkChosen(ps.sa); err != nil {
		return err
	}
	p.cr = h.RCookie
	p.peerDPD = ps.hasVID(isakmp.VIDDPD)
	p.natt = ps.hasVID(isakmp.VIDNATTRFC3947)
	p.setState(stIMM2)
	dh, err := generateDH(p.pol.Group, p.n.cfg.Rand)
	if err != nil {
		return err
	}
	p.dh, p.gxi = dh, dh.pub
	p.ni = make([]byte, nonceLen)
	p.n.random(p.ni)
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeMain, 0, 0))
	e.Raw(isakmp.PayloadKE, p.gxi)
	e.Raw(isakmp.PayloadNonce, p.ni)
	p.appendNATD(e)
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	p.setState(stIMM3)
	p.send(out, true)
	return nil
}

func (p *p1) mm3(ps *payloads) error {
	if ps.ke == nil || ps.nonce == nil {
		return errors.New("MM3 without KE or nonce")
	}
	p.gxi, p.ni = slices.Clone(ps.ke), slices.Clone(ps.nonce)
	p.setState(stRMM3)
	if err := p.dhAndKeys(); err != nil {
		p.setState(stRMM2)
		return err
	}
	p.checkNATD(ps)
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeMain, 0, 0))
	e.Raw(isakmp.PayloadKE, p.gxr)
	e.Raw(isakmp.PayloadNonce, p.nr)
	p.appendNATD(e)
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	p.setState(stRMM4)
	p.send(out, true)
	return nil
}

func (p *p1) mm4(ps *payloads) error {
	if ps.ke == nil || ps.nonce == nil {
		return errors.New("MM4 without KE or nonce")
	}
	gxy, err := p.dh.shared(ps.ke)
	if err != nil {
		return err
	}
	p.gxr, p.nr = slices.Clone(ps.ke), slices.Clone(ps.nonce)
	p.keysFrom(gxy)
	p.checkNATD(ps)
	p.setState(stIMM4)
	p.idI = isakmp.AppendID(nil, isakmp.IDAddr(p.n.cfg.Local.Addr(), 17, 500))
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeMain, 0, 0))
	e.Raw(isakmp.PayloadID, p.idI)
	e.Raw(isakmp.PayloadHash, p.hashI())
	if p.n.phase1With(p.peer) == nil {
		// RFC 2407 §4.6.3.3: our first SA with this peer; whatever it
		// still holds of ours is stale.
		spi := append(p.ci[:len(p.ci):len(p.ci)], p.cr[:]...)
		e.Raw(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec,
			Protocol: isakmp.ProtoISAKMP, Type: isakmp.NotifyInitialContact, SPI: spi}))
	}
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	out, p.iv = p.seal(out, p.iv)
	p.setState(stIMM5)
	p.send(out, true)
	return nil
}

// verify compares a received HASH_I or HASH_R in constant time.
func (p *p1) verify(got, want []byte, what string) error {
	if !hmac.Equal(got, want) {
		p.n.stats.AuthFailed++
		return &notifyError{isakmp.NotifyAuthenticationFailed, fmt.Errorf("%s does not verify", what)}
	}
	p.debugf("SA authentication status: authenticated")
	return nil
}

func (p *p1) mm5(ps *payloads, next []byte) error {
	if len(ps.ids) == 0 || ps.hash == nil {
		return errors.New("MM5 without ID or HASH")
	}
	p.idI = slices.Clone(ps.ids[0])
	if err := p.verify(ps.hash, p.hashI(), "HASH_I"); err != nil {
		p.authFailed()
		return err
	}
	p.iv = next
	p.initialContact(ps)
	p.setState(stRMM5)
	p.idR = isakmp.AppendID(nil, isakmp.IDAddr(p.n.cfg.Local.Addr(), 17, 500))
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeMain, 0, 0))
	e.Raw(isakmp.PayloadID, p.idR)
	e.Raw(isakmp.PayloadHash, p.hashR())
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	out, p.iv = p.seal(out, p.iv)
	p.send(out, false)
	p.complete()
	return nil
}

func (p *p1) mm6(ps *payloads, next []byte) error {
	if len(ps.ids) == 0 || ps.hash == nil {
		return errors.New("MM6 without ID or HASH")
	}
	p.idR = slices.Clone(ps.ids[0])
	if err := p.verify(ps.hash, p.hashR(), "HASH_R"); err != nil {
		p.authFailed()
		return err
	}
	p.iv = next
	p.setState(stIMM6)
	p.armRetransmit(false)
	p.complete()
	return nil
}

func (p *p1) am2(h isakmp.Header, ps *payloads) error {
	if ps.sa == nil || ps.ke == nil || ps.nonce == nil || len(ps.ids) == 0 || ps.hash == nil {
		return errors.New("AM2 without SA, KE, nonce, ID or HASH")
	}
	if err := p.checkChosen(ps.sa); err != nil {
		return err
	}
	if p.pol.Group != p.dh.g {
		return errors.New("responder chose another group than our KE's")
	}
	gxy, err := p.dh.shared(ps.ke)
	if err != nil {
		return err
	}
	p.cr = h.RCookie
	p.peerDPD = ps.hasVID(isakmp.VIDDPD)
	p.natt = ps.hasVID(isakmp.VIDNATTRFC3947)
	p.gxr, p.nr, p.idR = slices.Clone(ps.ke), slices.Clone(ps.nonce), slices.Clone(ps.ids[0])
	p.keysFrom(gxy)
	if err := p.verify(ps.hash, p.hashR(), "HASH_R"); err != nil {
		p.authFailed()
		return err
	}
	p.checkNATD(ps)
	p.setState(stIAM2)
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeAggressive, 0, 0))
	e.Raw(isakmp.PayloadHash, p.hashI())
	p.appendNATD(e)
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	p.send(out, false)
	p.complete()
	return nil
}

func (p *p1) am3(ps *payloads, encrypted bool, next []byte) error {
	if ps.hash == nil {
		return errors.New("AM3 without HASH")
	}
	if err := p.verify(ps.hash, p.hashI(), "HASH_I"); err != nil {
		p.authFailed()
		return err
	}
	if encrypted {
		p.iv = next
	}
	p.initialContact(ps)
	p.checkNATD(ps)
	p.armRetransmit(false)
	p.complete()
	return nil
}

// authFailed answers a hash that does not verify: AUTHENTICATION-FAILED
// (RFC 2408 §5.4) and the SA is gone.
func (p *p1) authFailed() {
	p.debugf(" phase 1 hash verification failed with %v: sending AUTHENTICATION_FAILED", p.peer.Addr())
	p.n.plainNotify(p.ci, p.peer, isakmp.NotifyAuthenticationFailed)
	p.destroy("authentication failed", false)
}

// complete finishes phase 1: timers for the lifetime and DPD, the
// RESPONDER-LIFETIME notification, and the quick modes that waited.
func (p *p1) complete() {
	p.debugf("Input = IKE_MESG_INTERNAL, IKE_PROCESS_COMPLETE")
	p.setState(stP1Complete)
	if p.halfOpen {
		p.n.releaseHalfOpen(p)
	}
	p.established = p.n.cfg.Clock.Now()
	p.lastSeen = p.established
	gen := p.gen
	p.expire = p.n.after(p.lifetime, func() {
		if p.gen == gen && !p.dying {
			p.debugf(" phase 1 SA lifetime expired, deleting SA (peer %v)", p.peer.Addr())
			p.destroy("lifetime expired", true)
		}
	})
	p.n.emit(Event{Kind: EventPhase1Up, Peer: p.peer, ConnID: p.id})
	if p.respLife {
		life := binary.BigEndian.AppendUint16(nil, 0x8000|isakmp.AttrLifeType)
		life = binary.BigEndian.AppendUint16(life, isakmp.LifeSeconds)
		life = isakmp.AppendAttr(life, isakmp.UintAttr(isakmp.AttrLifeDur, uint64(p.lifetime/time.Second)))
		spi := append(p.ci[:len(p.ci):len(p.ci)], p.cr[:]...)
		p.sendInfo(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec,
			Protocol: isakmp.ProtoISAKMP, Type: isakmp.NotifyResponderLifetime, SPI: spi, Data: life}))
	}
	p.armDPD()
	if early := p.early; early != nil {
		p.early = nil
		if h, err := isakmp.ParseHeader(early); err == nil {
			p.handleQM(h, early)
		}
	}
	pending := p.pending
	p.pending = nil
	for _, pol := range pending {
		p.startQM(pol)
	}
}

// natdHash is RFC 3947 §3.2's HASH(CKY-I | CKY-R | IP | Port), with the
// negotiated hash.
func (p *p1) natdHash(a netip.AddrPort) []byte {
	ip := a.Addr().Unmap().AsSlice()
	return p.pol.Hash.sum(p.ci[:], p.cr[:], ip, binary.BigEndian.AppendUint16(nil, a.Port()))
}

// appendNATD adds the two NAT-D payloads when both sides speak RFC 3947:
// the peer's address first, then ours (RFC 3947 §3.2).
func (p *p1) appendNATD(e *isakmp.Encoder) {
	if !p.natt {
		return
	}
	e.Raw(isakmp.PayloadNATD, p.natdHash(p.peer))
	e.Raw(isakmp.PayloadNATD, p.natdHash(p.n.cfg.Local))
}

// checkNATD compares the peer's NAT-D payloads with the addresses of the
// datagram (RFC 3947 §3.2): the first must hash our address, one of the
// others the peer's; a mismatch says which side is behind a NAT.
func (p *p1) checkNATD(ps *payloads) {
	if !p.natt || len(ps.natd) < 2 {
		return
	}
	p.natLocal = !hmac.Equal(ps.natd[0], p.natdHash(p.n.cfg.Local))
	p.natRemote = true
	for _, h := range ps.natd[1:] {
		if hmac.Equal(h, p.natdHash(p.peer)) {
			p.natRemote = false
		}
	}
	if p.natLocal || p.natRemote {
		p.debugf(" NAT found, both nodes inside NAT (local %v, peer %v)", p.natLocal, p.natRemote)
	} else {
		p.debugf(" NAT-D: no NAT between us and %v", p.peer.Addr())
	}
}

// initialContact handles an INITIAL-CONTACT (RFC 2407 §4.6.3.3) that came
// with an authenticated MM5 or AM3: the peer has no other SA with us, so
// ours with its address are stale and go, without notifying it.
func (p *p1) initialContact(ps *payloads) {
	found := false
	for _, nt := range ps.notifies {
		found = found || nt.Type == isakmp.NotifyInitialContact
	}
	if !found {
		return
	}
	addr := p.peer.Addr()
	for _, q := range p.n.children {
		if q.p != p && q.p.peer.Addr() == addr {
			q.remove("initial contact", false)
		}
	}
	for _, o := range p.n.sas {
		if o != p && o.peer.Addr() == addr && o.state == stP1Complete {
			o.debugf(" INITIAL_CONTACT from %v: deleting the old SA", addr)
			o.destroy("initial contact", false)
		}
	}
}
