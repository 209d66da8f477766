package ike

import (
	"crypto/x509"
	"errors"
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

	ez ezvpn // XAuth and mode-config (xauth.go)

	prof P1Profile // the isakmp profile (Config.Profile, Phase2Policy.Profile)

	peerCert *x509.Certificate // rsa-sig: the peer's verified certificate
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
	p.ez.stop()
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
			if c := q.failedChild(); c != nil {
				p.n.emit(Event{Kind: EventChildFailed, Peer: p.peer, ConnID: p.id, Reason: ReasonPhase1Gone, Child: c})
			}
		}
	}
	if p.halfOpen {
		p.n.releaseHalfOpen(p)
	}
	old := p.state
	p.setState(stDestSA)
	delete(p.n.sas, p.ci)
	if old == stP1Complete || reason != "" {
		p.n.emit(Event{Kind: EventPhase1Down, Peer: p.peer, ConnID: p.id, Reason: reason, User: p.ez.user, Config: p.ez.cfg, State: old.show()})
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

func (n *Node) newCookie() isakmp.Cookie {
	var c isakmp.Cookie
	for c.IsZero() || n.sas[c] != nil {
		n.random(c[:])
	}
	return c
}
