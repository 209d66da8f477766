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

	"github.com/vpdn/vpdn/wire/isakmp"
)

// initiate starts main or aggressive mode with peer.
func (n *Node) initiate(peer netip.AddrPort, pol *Phase2Policy) error {
	// A Connect has no quick mode yet, and so no profile of its own.
	var prof P1Profile
	if pol != nil {
		prof = pol.Profile
	}
	psk := prof.Key
	if psk == nil {
		psk = n.cfg.Key(peer.Addr(), nil)
	}
	aggressive := n.cfg.Aggressive || prof.Aggressive
	// We offer the rsa-sig policies when we have certificates, the
	// pre-share ones when we have a key for the peer.
	pols := slices.DeleteFunc(slices.Clone(n.cfg.Policies), func(x Policy) bool {
		if x.RSASig {
			return n.cfg.Cert == nil
		}
		return psk == nil
	})
	if len(pols) == 0 {
		return fmt.Errorf("ike: no pre-shared key for %v", peer.Addr())
	}
	p := &p1{n: n, role: Initiator, aggressive: aggressive, peer: peer, ci: n.newCookie(), psk: psk,
		qms: map[uint32]*qm{}, prof: prof}
	if pol != nil {
		p.pending = []*Phase2Policy{pol}
	}
	p.policies = pols
	if p.aggressive {
		// One KE goes out with the offer, so every proposal has its group
		// (RFC 2409 §5.4); and one ID, so every proposal has the first
		// one's authentication (our identity differs under rsa-sig).
		g, sig := p.policies[0].Group, p.policies[0].RSASig
		p.policies = slices.DeleteFunc(slices.Clone(p.policies), func(x Policy) bool { return x.Group != g || x.RSASig != sig })
	}
	n.sas[p.ci] = p
	p.ez.client = n.cfg.XAuthCredentials != nil
	p.ez.pull = n.cfg.RequestModeConfig
	p.saib = appendP1SAAuth(nil, p.policies, p.xauthInit())
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
		p.idI = p.localID(p.policies[0].RSASig)
		e.Raw(isakmp.PayloadKE, p.gxi)
		e.Raw(isakmp.PayloadNonce, p.ni)
		e.Raw(isakmp.PayloadID, p.idI)
		if p.policies[0].RSASig {
			// A peer may send its certificate only when asked
			// (strongSwan's default).
			p.appendCRs(e)
		}
	} else {
		p.debugf(" beginning Main Mode exchange")
	}
	appendVIDs(e)
	if p.ez.client {
		// An Easy VPN client says so as Cisco's do: XAuth and Unity
		// (servers send the split list and domain only to Unity clients).
		e.Raw(isakmp.PayloadVendorID, isakmp.VIDXAuth)
		e.Raw(isakmp.PayloadVendorID, isakmp.VIDCiscoUnity)
	}
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

// respond handles a first message (main or aggressive mode) from a peer
// we have no SA with.
func (n *Node) respond(h isakmp.Header, msg []byte, from netip.AddrPort) {
	if h.MessageID != 0 || h.Encrypted() {
		n.stats.Malformed++
		return
	}
	if n.sas[h.ICookie] != nil {
		// The cookie is an SA's with another peer (ours, or a copy
		// of one seen on the path): never let a newcomer take it over.
		n.stats.NoSA++
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
	var peerID []byte
	if h.Exchange == isakmp.ExchangeAggressive && len(ps.ids) > 0 {
		peerID = ps.ids[0]
	}
	var prof P1Profile
	if n.cfg.Profile != nil {
		// Main mode: the profile the peer's address points at, for now
		// (its key, XAuth); MM5's identity confirms it.
		if prof, err = n.cfg.Profile(from.Addr(), peerID, nil); err != nil {
			n.stats.NoProfile++
			n.debugf(0, " peer %v: %v: packet dropped", from.Addr(), err)
			n.plainNotify(h.ICookie, from, isakmp.NotifyInvalidIDInformation)
			return
		}
	}
	xauth := n.cfg.XAuth != nil && n.cfg.XAuth(from.Addr(), peerID)
	aggressive := h.Exchange == isakmp.ExchangeAggressive
	o, pol, prop, err := n.chooseP1(ps.sa, xauth)
	if err != nil {
		n.debugf(0, "phase 1 SA policy not acceptable! (local %v remote %v)", n.cfg.Local.Addr(), from.Addr())
		n.plainNotify(h.ICookie, from, notifyOf(err))
		return
	}
	var psk []byte
	if !pol.RSASig {
		if psk = n.cfg.Key(from.Addr(), peerID); psk == nil {
			n.debugf(0, " No pre-shared key with %v!", from.Addr())
			n.stats.AuthFailed++
			return
		}
	}
	p := &p1{n: n, role: Responder, aggressive: aggressive, peer: from,
		ci: h.ICookie, psk: psk, pol: pol, qms: map[uint32]*qm{}, saib: slices.Clone(ps.sa), halfOpen: true, prof: prof}
	p.ez.server = xauth
	p.ez.push = n.cfg.PushModeConfig && n.cfg.ModeConfig != nil
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
	if pol.RSASig {
		p.idR = n.sigID()
	}
	e.Raw(isakmp.PayloadKE, p.gxr)
	e.Raw(isakmp.PayloadNonce, p.nr)
	e.Raw(isakmp.PayloadID, p.idR)
	if pol.RSASig {
		p.appendCRs(e)
	}
	if err := p.appendAuth(e, p.hashR()); err != nil {
		p.destroy("", false)
		return
	}
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
	if p.pol.RSASig {
		p.k = deriveKeysSig(p.pol.Hash, p.ni, p.nr, gxy, p.ci, p.cr)
	} else {
		p.k = deriveKeys(p.pol.Hash, p.psk, p.ni, p.nr, gxy, p.ci, p.cr)
	}
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
	case isakmp.ExchangeTransaction:
		p.handleTxn(h, msg)
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
	if p.pol.RSASig {
		p.appendCRs(e)
	}
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
	if p.pol.RSASig {
		p.appendCRs(e)
	}
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
	p.idI = p.localID(p.pol.RSASig)
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeMain, 0, 0))
	e.Raw(isakmp.PayloadID, p.idI)
	if err := p.appendAuth(e, p.hashI()); err != nil {
		return err
	}
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
	p.floatIfNAT()
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

// appendAuth adds our proof to MM5 or MM6: the hash, or under rsa-sig
// our certificates and the signature of the hash.
func (p *p1) appendAuth(e *isakmp.Encoder, hash []byte) error {
	if p.pol.RSASig {
		return p.appendSigAuth(e, hash)
	}
	e.Raw(isakmp.PayloadHash, hash)
	return nil
}

// verifyAuth checks the peer's proof in MM5 or MM6 for identity id.
func (p *p1) verifyAuth(ps *payloads, id, want []byte, what string) error {
	if p.pol.RSASig {
		if err := p.verifySig(ps, id, want); err != nil {
			p.debugf(" %s: %v", what, err)
			return err
		}
		return nil
	}
	return p.verify(ps.hash, want, what)
}

// profileByID makes the SA's profile the one MM5's identity matches
// (Config.Profile), or ends the SA with INVALID-ID-INFORMATION.
func (p *p1) profileByID(next []byte) error {
	if p.n.cfg.Profile == nil {
		return nil
	}
	prof, err := p.n.cfg.Profile(p.peer.Addr(), p.idI, p.psk)
	if err != nil {
		p.n.stats.NoProfile++
		p.debugf(" peer %v identity %s: %v: deleting SA", p.peer.Addr(), IDString(p.idI), err)
		p.iv = next
		p.sendInfo(isakmp.PayloadNotify, isakmp.AppendNotification(nil, isakmp.Notification{DOI: isakmp.DOIIPsec,
			Protocol: isakmp.ProtoISAKMP, Type: isakmp.NotifyInvalidIDInformation}))
		p.destroy("no isakmp profile matches the peer's identity", false)
		return err
	}
	p.prof = prof
	return nil
}

func (p *p1) mm5(ps *payloads, next []byte) error {
	if len(ps.ids) == 0 || (ps.hash == nil && !p.pol.RSASig) {
		return errors.New("MM5 without ID or HASH")
	}
	p.idI = slices.Clone(ps.ids[0])
	if p.pol.RSASig {
		// Under rsa-sig the identity chooses the profile first: its ca
		// trust-points are what the certificate must chain to, and the
		// certificate then proves the identity.
		if err := p.profileByID(next); err != nil {
			return err
		}
	}
	if err := p.verifyAuth(ps, p.idI, p.hashI(), "HASH_I"); err != nil {
		p.authFailed(notifyOf(err))
		return err
	}
	p.iv = next
	if !p.pol.RSASig {
		// The identity is authenticated (the key): the SA's profile is
		// the one it matches (IOS's profile verification after MM5).
		if err := p.profileByID(next); err != nil {
			return err
		}
	}
	p.initialContact(ps)
	p.setState(stRMM5)
	p.idR = isakmp.AppendID(nil, isakmp.IDAddr(p.n.cfg.Local.Addr(), 17, 500))
	if p.pol.RSASig {
		p.idR = p.n.sigID()
	}
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeMain, 0, 0))
	e.Raw(isakmp.PayloadID, p.idR)
	if err := p.appendAuth(e, p.hashR()); err != nil {
		return err
	}
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
	if len(ps.ids) == 0 || (ps.hash == nil && !p.pol.RSASig) {
		return errors.New("MM6 without ID or HASH")
	}
	p.idR = slices.Clone(ps.ids[0])
	if err := p.verifyAuth(ps, p.idR, p.hashR(), "HASH_R"); err != nil {
		p.authFailed(notifyOf(err))
		return err
	}
	p.iv = next
	p.setState(stIMM6)
	p.armRetransmit(false)
	p.complete()
	return nil
}

func (p *p1) am2(h isakmp.Header, ps *payloads) error {
	if ps.sa == nil || ps.ke == nil || ps.nonce == nil || len(ps.ids) == 0 {
		return errors.New("AM2 without SA, KE, nonce or ID")
	}
	if err := p.checkChosen(ps.sa); err != nil {
		return err
	}
	if ps.hash == nil && !p.pol.RSASig {
		return errors.New("AM2 without HASH")
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
	if err := p.verifyAuth(ps, p.idR, p.hashR(), "HASH_R"); err != nil {
		p.authFailed(notifyOf(err))
		return err
	}
	p.checkNATD(ps)
	p.setState(stIAM2)
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeAggressive, 0, 0))
	if err := p.appendAuth(e, p.hashI()); err != nil {
		return err
	}
	p.appendNATD(e)
	out, err := e.Bytes()
	if err != nil {
		return err
	}
	p.floatIfNAT()
	p.send(out, false)
	p.complete()
	return nil
}

func (p *p1) am3(ps *payloads, encrypted bool, next []byte) error {
	if ps.hash == nil && !p.pol.RSASig {
		return errors.New("AM3 without HASH")
	}
	if err := p.verifyAuth(ps, p.idI, p.hashI(), "HASH_I"); err != nil {
		p.authFailed(notifyOf(err))
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

// authFailed answers a hash or signature that does not verify with t
// (AUTHENTICATION-FAILED, or what RFC 2408 §3.14.1 has for a
// certificate's failure) and the SA is gone.
func (p *p1) authFailed(t isakmp.NotifyType) {
	p.debugf(" phase 1 authentication failed with %v: sending %v", p.peer.Addr(), t)
	p.n.plainNotify(p.ci, p.peer, t)
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
	if p.ezStart() {
		return // quick modes wait for XAuth / mode-config (ezDone)
	}
	p.runQueued()
}

// runQueued handles a quick mode that overtook AM3 and starts the quick
// modes that waited for phase 1.
func (p *p1) runQueued() {
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
