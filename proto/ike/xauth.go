package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// XAuth (draft-beaulieu-ike-xauth-02) and mode-config
// (draft-dukes-ike-mode-cfg-02) run in Transaction exchanges (type 6)
// under an established phase-1 SA. Each request and its answer share a
// message ID of their own; the IV starts from the last phase-1 block and
// that message ID like a quick mode's (RFC 2409 Appendix B), and every
// message carries HASH = prf(SKEYID_a, M-ID | ATTR) first (mode-cfg §3.5).
//
// Server: IKE_P1_COMPLETE → CFG_REQUEST(XAUTH_TYPE, USER_NAME,
// USER_PASSWORD) IKE_XAUTH_REQ_SENT → CFG_REPLY → Authenticate
// IKE_XAUTH_AAA_START_LOGIN_AWAIT → CFG_SET(XAUTH_STATUS)
// IKE_XAUTH_SET_SENT → CFG_ACK → IKE_P1_COMPLETE (or the SA is deleted);
// then the client's CFG_REQUEST is answered with a CFG_REPLY (respond), or
// a CFG_SET is sent (initiate, IKE_CONFIG_MODE_SET_SENT). The client
// mirrors it: IKE_XAUTH_REPLY_AWAIT, IKE_XAUTH_REPLY_SENT,
// IKE_CONFIG_MODE_REQ_SENT.

// xstate is the XAuth / mode-config state of a phase-1 SA, with the names
// IOS's debug gives them.
type xstate uint8

const (
	xsNone xstate = iota
	xsReqSent
	xsAAAWait
	xsSetSent
	xsConfigSetSent
	xsReplyAwait
	xsReplySent
	xsConfigReqSent
	xsDone
)

var xsNames = [...]string{"IKE_P1_COMPLETE", "IKE_XAUTH_REQ_SENT", "IKE_XAUTH_AAA_START_LOGIN_AWAIT", "IKE_XAUTH_SET_SENT",
	"IKE_CONFIG_MODE_SET_SENT", "IKE_XAUTH_REPLY_AWAIT", "IKE_XAUTH_REPLY_SENT", "IKE_CONFIG_MODE_REQ_SENT", "IKE_P1_COMPLETE"}

func (s xstate) String() string { return xsNames[s] }

// show is the state in `show crypto isakmp sa` while it lasts.
func (s xstate) show() string {
	switch s {
	case xsReqSent, xsAAAWait, xsSetSent, xsReplyAwait, xsReplySent:
		return "CONF_XAUTH"
	case xsConfigSetSent, xsConfigReqSent:
		return "CONF_ADDR"
	}
	return ""
}

const defaultXAuthTimeout = 60 * time.Second

// ezvpn is a phase-1 SA's XAuth and mode-config.
type ezvpn struct {
	server, client bool // our XAuth role on this SA
	push, pull     bool // mode-config: we send CFG_SET (server) / we ask (client)
	xs             xstate
	user           string
	xauthOK        bool // XAuth passed (or none was asked for)
	waiting        bool // client: our quick modes wait for ezDone
	verdict        bool // server: the status we sent
	cfg            *ModeConfig

	// Our outstanding request: its message ID, identifier, CBC state and
	// the message for retransmission.
	mid      uint32
	ident    uint16
	iv       []byte
	lastSent []byte
	retries  int
	rtx      clock.Timer
	gen      uint64
	doneMID  uint32 // the last exchange we initiated that is answered

	// The last request we answered, to answer its duplicates alike.
	ansMID           uint32
	ansReq, ansReply []byte

	deadline clock.Timer
	early    []byte // a request that overtook MM6
}

func (e *ezvpn) stop() {
	e.gen++
	for _, t := range []clock.Timer{e.rtx, e.deadline} {
		if t != nil {
			t.Stop()
		}
	}
}

// xauthInit reports whether we offer the XAuth variants of the
// authentication methods (an Easy VPN client).
func (p *p1) xauthInit() bool {
	return p.n.cfg.XAuthCredentials != nil && p.role == Initiator
}

// localID is our phase-1 identity as initiator: the profile's, the
// group's (an Easy VPN remote), else under rsa-sig sigID's, else our
// address.
func (p *p1) localID(sig bool) []byte {
	n := p.n
	if p.prof.ID != nil {
		return slices.Clone(p.prof.ID)
	}
	if n.cfg.GroupID != "" {
		return isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDKeyID, Data: []byte(n.cfg.GroupID)})
	}
	if sig {
		return n.sigID()
	}
	return isakmp.AppendID(nil, isakmp.IDAddr(n.cfg.Local.Addr(), 17, 500))
}

// IDString renders a phase-1 ID payload body: the name for KEY_ID, FQDN
// and USER_FQDN, the address for addresses.
func IDString(body []byte) string {
	id, err := isakmp.ParseID(body)
	if err != nil {
		return ""
	}
	switch id.Type {
	case isakmp.IDFQDN, isakmp.IDUserFQDN, isakmp.IDKeyID:
		return string(id.Data)
	case isakmp.IDDERASN1DN:
		if s := dnString(id.Data); s != "" {
			return s
		}
	}
	if pfx, err := id.Prefix(); err == nil {
		if pfx.IsSingleIP() {
			return pfx.Addr().String()
		}
		return pfx.String()
	}
	return id.Type.String()
}

func (p *p1) peerID() []byte {
	if p.role == Initiator {
		return p.idR
	}
	return p.idI
}

func (p *p1) setXS(s xstate) {
	p.debugf("Old State = %v  New State = %v", p.ez.xs, s)
	p.ez.xs = s
}

func (p *p1) xauthTimeout() time.Duration {
	if p.n.cfg.XAuthTimeout > 0 {
		return p.n.cfg.XAuthTimeout
	}
	return defaultXAuthTimeout
}

// ezReady reports whether quick modes may run: XAuth, when this SA has
// it, has passed.
func (p *p1) ezReady() bool {
	return !(p.ez.server || p.ez.client) || p.ez.xauthOK
}

// ezStart begins XAuth / mode-config once phase 1 completes. It reports
// whether our own quick modes must wait (ezDone starts them).
func (p *p1) ezStart() bool {
	e := &p.ez
	if early := e.early; early != nil {
		// A transaction that overtook the end of phase 1 is handled
		// once what ezStart begins is under way.
		e.early = nil
		defer func() {
			if h, err := isakmp.ParseHeader(early); err == nil && !p.dying {
				p.handleTxn(h, early)
			}
		}()
	}
	switch {
	case e.server:
		p.debugf(" Need XAUTH")
		p.armDeadline("XAuth")
		p.xauthRequest()
		return false
	case e.push:
		p.pushConfig()
		return false
	case e.client:
		e.waiting = true
		p.setXS(xsReplyAwait)
		p.armDeadline("XAuth")
		return true
	case e.pull:
		e.waiting = true
		p.armDeadline("mode-config")
		p.configRequest()
		return true
	}
	return false
}

// armDeadline bounds the whole XAuth / mode-config phase: a peer that
// never starts or finishes it loses its phase-1 SA.
func (p *p1) armDeadline(what string) {
	gen := p.gen
	if p.ez.deadline != nil {
		p.ez.deadline.Stop()
	}
	p.ez.deadline = p.n.after(p.xauthTimeout(), func() {
		if p.gen != gen || p.dying || p.ez.xs == xsDone {
			return
		}
		p.n.stats.XAuthTimeout++
		p.debugf(" %s with %v timed out in %v, deleting SA", what, p.peer.Addr(), p.ez.xs)
		p.destroy(what+" timeout", true)
	})
}

// ezDone ends XAuth / mode-config: our waiting quick modes start.
func (p *p1) ezDone() {
	p.ez.waiting = false
	p.setXS(xsDone)
	if p.ez.deadline != nil {
		p.ez.deadline.Stop()
	}
	for i, pol := range p.pending {
		p.pending[i] = p.withConfigAddr(pol)
	}
	p.runQueued()
}

// withConfigAddr returns pol with its Local selector, when unset, the
// address mode-config gave us.
func (p *p1) withConfigAddr(pol *Phase2Policy) *Phase2Policy {
	if a := p.ez.cfgAddr(); a.IsValid() && !pol.Local.Prefix.IsValid() {
		c := *pol
		c.Local = Selector{Prefix: netip.PrefixFrom(a, a.BitLen())}
		return &c
	}
	return pol
}

func (e *ezvpn) cfgAddr() netip.Addr {
	if e.cfg == nil {
		return netip.Addr{}
	}
	return e.cfg.Address
}

// txMessage builds HDR*, HASH, ATTR with its hash filled in (not yet
// encrypted).
func (p *p1) txMessage(mid uint32, t isakmp.CfgType, ident uint16, attrs []isakmp.Attr) ([]byte, error) {
	e := isakmp.NewEncoder(nil, p.header(isakmp.ExchangeTransaction, mid, 0))
	hs := p.pol.Hash.Size()
	hoff := hashPlaceholder(e, hs)
	e.Raw(isakmp.PayloadAttr, isakmp.AppendCfgAttrs(nil, t, ident, attrs...))
	msg, err := e.Bytes()
	if err != nil {
		return nil, err
	}
	copy(msg[hoff:], p.pol.Hash.prf(p.k.a, be32(mid), msg[hoff+hs:]))
	return msg, nil
}

// txRequest begins a transaction exchange of ours (a CFG_REQUEST or
// CFG_SET) and retransmits it until answered.
func (p *p1) txRequest(t isakmp.CfgType, attrs []isakmp.Attr) {
	e := &p.ez
	e.mid = p.newMID()
	var b [2]byte
	p.n.random(b[:])
	e.ident = binary.BigEndian.Uint16(b[:])
	msg, err := p.txMessage(e.mid, t, e.ident, attrs)
	if err != nil {
		p.debugf(" %v", err)
		return
	}
	msg, e.iv = p.seal(msg, phase2IV(p.pol.Hash, p.iv, e.mid, p.pol.Encryption.blockSize()))
	e.lastSent, e.retries = msg, 0
	p.debugf(" sending packet to %v my_port %d peer_port %d (%v) %s", p.peer.Addr(), p.n.cfg.Local.Port(), p.peer.Port(), p.role, p.showState())
	p.n.sendTo(msg, p.peer)
	p.armTxRetransmit()
}

func (p *p1) armTxRetransmit() {
	e := &p.ez
	if e.rtx != nil {
		e.rtx.Stop()
	}
	e.gen++
	gen := e.gen
	e.rtx = p.n.after(p.n.cfg.Retransmit, func() {
		if e.gen != gen || p.dying || e.lastSent == nil {
			return
		}
		if e.retries >= p.n.cfg.MaxRetransmits {
			p.n.stats.XAuthTimeout++
			p.debugf(" deleting SA reason \"Death by retransmission %v\" state (%v) %s (peer %v)", e.xs, p.role, p.showState(), p.peer.Addr())
			p.destroy("no answer to "+e.xs.String(), true)
			return
		}
		e.retries++
		p.debugf(" retransmitting %v %d ...", e.xs, e.mid)
		p.debugf(" incrementing error counter on sa, attempt %d of %d: retransmit %v", e.retries, p.n.cfg.MaxRetransmits, e.xs)
		p.n.sendTo(e.lastSent, p.peer)
		r := e.retries
		p.armTxRetransmit()
		e.retries = r
	})
}

// txAnswer answers the peer's request mid (received as req, its last
// block iv) with a reply or acknowledgement.
func (p *p1) txAnswer(mid uint32, req, iv []byte, t isakmp.CfgType, ident uint16, attrs []isakmp.Attr) {
	msg, err := p.txMessage(mid, t, ident, attrs)
	if err != nil {
		p.debugf(" %v", err)
		return
	}
	msg, _ = p.seal(msg, iv)
	e := &p.ez
	e.ansMID, e.ansReq, e.ansReply = mid, req, msg
	p.debugf(" sending packet to %v my_port %d peer_port %d (%v) %s", p.peer.Addr(), p.n.cfg.Local.Port(), p.peer.Port(), p.role, p.showState())
	p.n.sendTo(msg, p.peer)
}

func (p *p1) showState() string {
	if s := p.ez.xs.show(); s != "" {
		return s
	}
	return p.state.show()
}

// handleTxn handles a Transaction exchange message.
func (p *p1) handleTxn(h isakmp.Header, msg []byte) {
	e := &p.ez
	if !h.Encrypted() || h.MessageID == 0 {
		p.n.stats.Malformed++
		p.debugf(" transaction exchange from %v not encrypted or without message ID, dropped", p.peer.Addr())
		return
	}
	if p.state != stP1Complete {
		if e.early == nil && (p.role == Initiator && p.state == stIMM5 || p.role == Responder && p.state == stRAM2) {
			// The responder is done after MM6 and asks for XAuth at
			// once: its request can overtake MM6; in aggressive mode
			// the initiator is done first, and its mode-config request
			// can overtake AM3. Keep one.
			p.debugf(" transaction exchange from %v overtook phase 1 (%v): kept until it completes", p.peer.Addr(), p.state)
			e.early = msg
			return
		}
		p.n.stats.Malformed++
		p.debugf(" transaction exchange in %v dropped", p.state)
		return
	}
	if h.MessageID == e.ansMID && bytes.Equal(msg, e.ansReq) {
		p.n.stats.Duplicates++
		p.debugf(" transaction packet is a duplicate of a previous packet.")
		p.n.sendTo(e.ansReply, p.peer)
		return
	}
	if h.MessageID == e.doneMID || (h.MessageID == e.ansMID && e.ansReq != nil) {
		p.n.stats.Duplicates++
		return
	}
	reply := e.lastSent != nil && h.MessageID == e.mid
	iv := phase2IV(p.pol.Hash, p.iv, h.MessageID, p.pol.Encryption.blockSize())
	if reply {
		iv = e.iv
	}
	body, next, err := p.open(h, msg, iv)
	if err != nil {
		p.n.stats.Decrypt++
		return
	}
	ps, err := collect(h.NextPayload, body)
	if err != nil {
		p.n.stats.Malformed++
		p.debugf(" transaction %d from %v: %v", h.MessageID, p.peer.Addr(), err)
		return
	}
	if !ps.firstHash || !hmacEqual(ps.hash, p.pol.Hash.prf(p.k.a, be32(h.MessageID), ps.afterHash)) {
		p.n.stats.AuthFailed++
		p.debugf(" transaction %d from %v: hash does not verify, dropped", h.MessageID, p.peer.Addr())
		return
	}
	if ps.attr == nil {
		p.n.stats.Malformed++
		p.debugf(" transaction %d from %v without attribute payload", h.MessageID, p.peer.Addr())
		return
	}
	c, err := isakmp.ParseCfgAttrs(ps.attr)
	if err != nil {
		p.n.stats.Malformed++
		p.debugf(" transaction %d from %v: %v", h.MessageID, p.peer.Addr(), err)
		return
	}
	p.debugf(" processing transaction payload from %v. message ID = %d", p.peer.Addr(), h.MessageID)
	p.debugf(" Config payload %v", c.Type)
	if reply {
		if c.Type != isakmp.CfgReply && c.Type != isakmp.CfgAck {
			p.n.stats.Malformed++
			return
		}
		e.rtx.Stop()
		e.lastSent, e.doneMID = nil, e.mid
		p.txReplied(c)
		return
	}
	if c.Type != isakmp.CfgRequest && c.Type != isakmp.CfgSet {
		p.n.stats.Malformed++
		p.debugf(" unexpected %v from %v, dropped", c.Type, p.peer.Addr())
		return
	}
	p.txRequested(h.MessageID, msg, next, c)
}

// xauthRequest asks the client for its user name and password (server).
func (p *p1) xauthRequest() {
	p.debugf(" sending XAUTH request to %v", p.peer.Addr())
	p.setXS(xsReqSent)
	p.txRequest(isakmp.CfgRequest, []isakmp.Attr{
		isakmp.BasicAttr(isakmp.XAuthType, 0), // generic (draft-beaulieu §6.2)
		isakmp.VarAttr(isakmp.XAuthUserName, nil),
		isakmp.VarAttr(isakmp.XAuthPassword, nil),
	})
}

// configRequest asks the server for our configuration (client, pull).
func (p *p1) configRequest() {
	p.setXS(xsConfigReqSent)
	p.txRequest(isakmp.CfgRequest, []isakmp.Attr{
		isakmp.VarAttr(isakmp.CfgInternalIP4Address, nil),
		isakmp.VarAttr(isakmp.CfgInternalIP4Netmask, nil),
		isakmp.VarAttr(isakmp.CfgInternalIP4DNS, nil),
		isakmp.VarAttr(isakmp.CfgInternalIP4NBNS, nil),
		isakmp.VarAttr(isakmp.UnityBanner, nil),
		isakmp.VarAttr(isakmp.UnityDefDomain, nil),
		isakmp.VarAttr(isakmp.UnitySplitInclude, nil),
		isakmp.VarAttr(isakmp.UnitySavePasswd, nil),
	})
}

// modeConfig asks the owner for the client's configuration; nil with the
// SA deleted when it refuses.
func (p *p1) modeConfig() *ModeConfig {
	if p.n.cfg.ModeConfig == nil {
		return &ModeConfig{}
	}
	mc, err := p.n.cfg.ModeConfig(ConfigRequest{Peer: p.peer, ConnID: p.id, ID: IDString(p.peerID()), User: p.ez.user, Profile: p.prof.Name})
	if err != nil || mc == nil {
		p.n.stats.ModeConfigFailed++
		p.debugf(" mode-config for %v (user %q) failed: %v", p.peer.Addr(), p.ez.user, err)
		p.destroy(fmt.Sprintf("mode-config failed: %v", err), true)
		return nil
	}
	if mc.Address.IsValid() {
		p.debugf(" Sending private address: %v", mc.Address)
	}
	if mc.Netmask.IsValid() {
		p.debugf(" Sending subnet mask: %v", mc.Netmask)
	}
	for _, d := range mc.DNS {
		p.debugf(" Sending IP4_DNS server address: %v", d)
	}
	for _, d := range mc.NBNS {
		p.debugf(" Sending IP4_NBNS server address: %v", d)
	}
	for _, s := range mc.SplitInclude {
		p.debugf(" Sending split include name  network %v mask %v", s.Addr(), netip.AddrFrom4(be4(maskHigh(s.Bits()))))
	}
	return mc
}

func be4(v uint32) [4]byte { return [4]byte(be32(v)) }

// pushConfig sends the client its configuration (configuration address
// initiate).
func (p *p1) pushConfig() {
	mc := p.modeConfig()
	if mc == nil {
		return
	}
	p.ez.cfg = mc
	p.setXS(xsConfigSetSent)
	p.txRequest(isakmp.CfgSet, appendModeConfig(nil, mc))
}

// txReplied handles the answer to our own request.
func (p *p1) txReplied(c isakmp.CfgAttrs) {
	e := &p.ez
	switch {
	case e.xs == xsReqSent && c.Type == isakmp.CfgReply:
		x, err := parseXAuth(c.Attrs)
		if err != nil || !x.hasUser || !x.hasPass {
			p.debugf(" peer %v did not answer the XAUTH request (%v)", p.peer.Addr(), err)
			p.xauthVerdict(false)
			return
		}
		e.user = x.user
		p.setXS(xsAAAWait)
		p.startAuthenticate(x.user, x.password)
	case e.xs == xsSetSent && c.Type == isakmp.CfgAck:
		if !e.verdict {
			p.debugf(" deleting SA reason \"XAUTH failed\" state (R) CONF_XAUTH (peer %v)", p.peer.Addr())
			p.destroy("XAuth failed", true)
			return
		}
		p.xauthPassed()
		if e.push {
			p.pushConfig()
		}
	case e.xs == xsConfigSetSent && c.Type == isakmp.CfgAck:
		p.setXS(xsDone)
		p.n.emit(Event{Kind: EventModeConfig, Peer: p.peer, ConnID: p.id, User: e.user, Config: e.cfg})
	case e.xs == xsConfigReqSent && c.Type == isakmp.CfgReply:
		mc, err := parseModeConfig(c.Attrs)
		if err == nil && !mc.Address.IsValid() {
			err = fmt.Errorf("ike: mode-config reply from %v without an address", p.peer.Addr())
		}
		if err != nil {
			p.n.stats.ModeConfigFailed++
			p.debugf(" %v", err)
			p.destroy("mode-config failed", true)
			return
		}
		e.cfg = mc
		p.debugf(" received mode-config from %v: %v", p.peer.Addr(), mc)
		p.n.emit(Event{Kind: EventModeConfig, Peer: p.peer, ConnID: p.id, User: e.user, Config: mc})
		p.ezDone()
	default:
		p.debugf(" unexpected %v in %v, dropped", c.Type, e.xs)
	}
}

// startAuthenticate hands the user to the owner, outside the lock; its
// verdict comes back through done.
func (p *p1) startAuthenticate(user, password string) {
	n, e := p.n, &p.ez
	gen := p.gen
	req := XAuthRequest{Peer: p.peer, ConnID: p.id, ID: IDString(p.peerID()), User: user, Password: password, Profile: p.prof.Name}
	if n.cfg.Authenticate == nil {
		p.xauthVerdict(false)
		return
	}
	var answered bool
	done := func(ok bool) {
		n.mu.Lock()
		defer n.unlock()
		if answered || n.closed || p.dying || p.gen != gen || e.xs != xsAAAWait {
			return
		}
		answered = true
		p.xauthVerdict(ok)
	}
	n.calls = append(n.calls, func() { n.cfg.Authenticate(req, done) })
}

// xauthPassed records a successful XAuth (server).
func (p *p1) xauthPassed() {
	p.ez.xauthOK = true
	p.setXS(xsDone)
	if p.ez.deadline != nil {
		p.ez.deadline.Stop()
	}
}

// xauthVerdict sends XAUTH_STATUS (server).
func (p *p1) xauthVerdict(ok bool) {
	e := &p.ez
	e.verdict = ok
	status := uint16(0)
	reason := "rejected"
	if ok {
		status, reason = 1, "accepted"
		p.debugf(" XAUTH user %q authenticated", e.user)
	} else {
		p.n.stats.XAuthFailed++
		p.debugf(" XAUTH user %q failed authentication", e.user)
	}
	p.n.emit(Event{Kind: EventXAuth, Peer: p.peer, ConnID: p.id, User: e.user, Reason: reason})
	p.setXS(xsSetSent)
	p.txRequest(isakmp.CfgSet, []isakmp.Attr{isakmp.BasicAttr(isakmp.XAuthStatus, status)})
}

// txRequested answers the peer's CFG_REQUEST or CFG_SET (mid, received
// as msg, iv its last block).
func (p *p1) txRequested(mid uint32, msg, iv []byte, c isakmp.CfgAttrs) {
	e := &p.ez
	x, err := parseXAuth(c.Attrs)
	if err != nil {
		p.n.stats.Malformed++
		p.debugf(" %v", err)
		return
	}
	switch {
	case x.xauth && c.Type == isakmp.CfgRequest:
		if !e.client {
			p.debugf(" XAUTH request from %v, but we have no credentials: answering empty", p.peer.Addr())
			p.txAnswer(mid, msg, iv, isakmp.CfgReply, c.Identifier, nil)
			return
		}
		user, pass := p.n.cfg.XAuthCredentials(p.peer.Addr())
		e.user = user
		var attrs []isakmp.Attr
		d := isakmp.NewAttrDecoder(c.Attrs)
		for d.Next() {
			switch a := d.Attr(); a.Type {
			case isakmp.XAuthType:
				attrs = append(attrs, a)
			case isakmp.XAuthUserName:
				attrs = append(attrs, isakmp.VarAttr(isakmp.XAuthUserName, []byte(user)))
			case isakmp.XAuthPassword:
				attrs = append(attrs, isakmp.VarAttr(isakmp.XAuthPassword, []byte(pass)))
			}
		}
		p.txAnswer(mid, msg, iv, isakmp.CfgReply, c.Identifier, attrs)
		p.setXS(xsReplySent)
	case x.xauth && c.Type == isakmp.CfgSet:
		if !e.client || x.status < 0 {
			p.n.stats.Malformed++
			return
		}
		p.txAnswer(mid, msg, iv, isakmp.CfgAck, c.Identifier, []isakmp.Attr{isakmp.VarAttr(isakmp.XAuthStatus, nil)})
		ok := x.status == 1
		reason := "accepted"
		if !ok {
			reason = "rejected"
			p.n.stats.XAuthFailed++
		}
		p.debugf(" XAUTH status from %v: user %q %s", p.peer.Addr(), e.user, reason)
		p.n.emit(Event{Kind: EventXAuth, Peer: p.peer, ConnID: p.id, User: e.user, Reason: reason})
		if !ok {
			p.destroy("XAuth failed", false)
			return
		}
		e.xauthOK = true
		if e.pull {
			p.configRequest()
			return
		}
		p.ezDone()
	case c.Type == isakmp.CfgRequest:
		// The client asks for its configuration (configuration address
		// respond).
		if e.xs == xsSetSent && e.verdict {
			// Its ACK of our XAUTH_STATUS is late or lost, but the
			// request says it has it.
			e.rtx.Stop()
			e.lastSent, e.doneMID = nil, e.mid
			p.xauthPassed()
		}
		if !p.ezReady() {
			p.debugf(" mode-config request from %v before XAUTH completed, dropped", p.peer.Addr())
			return
		}
		var mc *ModeConfig
		if e.cfg != nil {
			mc = e.cfg // a new request (a rekeyed client): the same answer
		} else if mc = p.modeConfig(); mc == nil {
			return
		}
		p.txAnswer(mid, msg, iv, isakmp.CfgReply, c.Identifier, appendModeConfig(nil, mc))
		if e.cfg == nil {
			e.cfg = mc
			p.n.emit(Event{Kind: EventModeConfig, Peer: p.peer, ConnID: p.id, User: e.user, Config: mc})
		}
		if e.xs != xsConfigSetSent {
			p.setXS(xsDone) // a pushed CFG_SET still awaits its ACK
		}
	case c.Type == isakmp.CfgSet:
		// The server pushes our configuration (client).
		mc, err := parseModeConfig(c.Attrs)
		if err != nil || !e.pull && !e.client {
			p.n.stats.Malformed++
			p.debugf(" mode-config set from %v refused: %v", p.peer.Addr(), err)
			return
		}
		var ack []isakmp.Attr
		d := isakmp.NewAttrDecoder(c.Attrs)
		for d.Next() {
			ack = append(ack, isakmp.VarAttr(d.Attr().Type, nil))
		}
		p.txAnswer(mid, msg, iv, isakmp.CfgAck, c.Identifier, ack)
		if e.xs == xsConfigReqSent {
			// The server pushed while we asked: its CFG_SET answers us,
			// and a late reply to our request is a duplicate.
			e.rtx.Stop()
			e.lastSent, e.doneMID = nil, e.mid
		}
		e.cfg = mc
		p.n.emit(Event{Kind: EventModeConfig, Peer: p.peer, ConnID: p.id, User: e.user, Config: mc})
		if e.xs != xsDone {
			p.ezDone()
		}
	}
}

// ezStatus adds XAuth / mode-config to a `show crypto isakmp sa` line.
func (p *p1) ezStatus(s *Phase1Status) {
	if st := p.ez.xs.show(); st != "" && p.state == stP1Complete {
		s.State, s.Debug = st, p.ez.xs.String()
	}
	s.ID = IDString(p.peerID())
	s.Profile = p.prof.Name
	if p.ez.xauthOK {
		s.User = p.ez.user
	}
	if p.ez.cfg != nil {
		c := *p.ez.cfg
		s.Config = &c
	}
}
