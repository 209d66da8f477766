package ppp

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// Authentication phase, RFC 1661 §3.4, in both roles at once: the server
// side checks the peer with the method LCP agreed in our request (through
// aaa.Authenticator, off the owner's goroutine); the client side answers the
// peer with the method agreed in the peer's request. The Network phase
// starts when both are done.

// authServer is this end authenticating the peer.
type authServer struct {
	method    aaa.Method
	done      bool
	id        uint8
	challenge []byte
	pending   bool // an AAA call is in flight
	cancel    func()
	gen       uint64 // invalidates AAA results of a stopped attempt
	retries   int    // MS-CHAPv2 retries used
	eapStage  int    // 0: Identity requested, 1: MD5-Challenge sent (or relaying)
	identity  string
	// EAP pass-through (RFC 3579): relay is set when the authenticator
	// relays EAP to a server; state is the server's last State and
	// server the server that sent it (aaa.Result.Server), rounds
	// and relayed count the steps and the octets relayed, against
	// maxEAPRounds and maxEAPOctets; reqRaw says req is a whole EAP
	// packet from the server, resent as it is.
	relay     bool
	state     []byte
	server    string
	rounds    int
	relayed   int
	reqRaw    bool
	req       []byte // last request sent (challenge), for retransmission
	reqProto  wire.Protocol
	reqCode   wire.Code
	tries     int
	reply     []byte // last final reply, resent on a duplicate
	replyCode wire.Code
	timer     ltimer
	// hold delays the answer to a rejection by the Result's Hold (the
	// AAA throttle); held is the rejection waiting for it.
	hold    ltimer
	held    *aaa.Result
	heldReq *aaa.Request
	badAuth int // failures so far, against MaxBadAuth
}

// authClient is this end being authenticated by the peer.
type authClient struct {
	method   aaa.Method
	done     bool
	id       uint8  // PAP request / last answered challenge
	answered bool   // a Response went out for id
	resp     []byte // last Response data, resent for a repeated challenge
	password string
	// MS-CHAPv2: what the Success message must prove.
	authResp string
	nt       []byte
	tries    int
	timer    ltimer
}

type authState struct {
	l        *Link
	srv      authServer
	cli      authClient
	phase    ltimer // bounds the whole phase
	username string
	authz    *aaa.Authorization
	keys     *MPPEKeys
}

func (a *authState) init(l *Link) {
	a.l = l
	a.phase.init(l, func() { a.fail("Authentication timeout") })
	a.srv.timer.init(l, a.srvRetransmit)
	a.srv.hold.init(l, a.srvHeld)
	a.cli.timer.init(l, a.cliRetransmit)
}

// start begins the phase once LCP is open.
func (a *authState) start() {
	l := a.l
	a.stop()
	a.srv = authServer{method: l.lcpo.local.auth, timer: a.srv.timer, hold: a.srv.hold, gen: a.srv.gen + 1}
	a.cli = authClient{method: l.lcpo.peer.auth, timer: a.cli.timer, password: l.cfg.Auth.Password}
	if pre := l.cfg.Auth.Preauthenticated; a.srv.method == 0 && l.cfg.Auth.IfNeeded && pre != nil && pre.Accept {
		a.username, a.authz = pre.Authz.Username, &pre.Authz
		a.keys = keysOf(pre)
		l.debugAuth("PPP: authentication skipped (if-needed): %q already authenticated", a.username)
	}
	if a.srv.method == 0 && a.cli.method == 0 {
		l.networkPhase()
		return
	}
	var by []string
	if a.srv.method != 0 {
		by = append(by, "by this end")
	}
	if a.cli.method != 0 {
		by = append(by, "by the peer")
	}
	l.debugAuth("PPP: Phase is AUTHENTICATING, %s", strings.Join(by, " and "))
	a.phase.start(l.cfg.Auth.Timeout)
	if a.srv.method != 0 {
		a.srvStart()
	}
	if a.cli.method != 0 {
		a.cliStart()
	}
}

// stop abandons any authentication in progress (LCP went down).
func (a *authState) stop() {
	a.phase.stop()
	a.srv.timer.stop()
	a.srv.hold.stop()
	a.srv.held, a.srv.heldReq = nil, nil
	a.cli.timer.stop()
	if a.srv.cancel != nil {
		a.srv.cancel()
		a.srv.cancel = nil
	}
	a.srv.gen++
	a.srv.pending = false
}

func (a *authState) fail(reason string) {
	a.stop()
	a.l.debugAuth("PPP: authentication failed: %s", reason)
	a.l.closeWith(CauseAuthFailed, reason)
}

// check moves on to the Network phase when both directions are done.
func (a *authState) check() {
	if (a.srv.method == 0 || a.srv.done) && (a.cli.method == 0 || a.cli.done) {
		a.phase.stop()
		a.l.networkPhase()
	}
}

// rejected handles a Protocol-Reject of an authentication protocol: the
// peer does not speak what it agreed to.
func (a *authState) rejected(p wire.Protocol) {
	if a.l.phase == PhaseAuthenticate {
		a.fail("Peer rejected " + p.String())
	}
}

func (a *authState) input(proto wire.Protocol, payload []byte) {
	l := a.l
	var p wire.Packet
	var eap wire.EAPPacket
	var err error
	if proto == wire.ProtoEAP {
		eap, err = wire.ParseEAP(payload)
		p = wire.Packet{Code: eap.Code, ID: eap.ID}
		if err == nil {
			p, _ = wire.ParsePacket(payload)
		}
	} else {
		p, err = wire.ParsePacket(payload)
	}
	if err != nil {
		l.stats.DropMalformed++
		l.debugAuth("%s: dropping malformed packet: %v", proto, err)
		return
	}
	if l.authEnabled() {
		l.logAuthPacket(proto, "I", p)
	}
	switch proto {
	case wire.ProtoPAP:
		if p.Code == wire.PAPRequest {
			a.srvPAP(p)
		} else {
			a.cliPAP(p)
		}
	case wire.ProtoCHAP:
		switch p.Code {
		case wire.CHAPResponse, wire.MSCHAPv1ChangePassword1, wire.MSCHAPv1ChangePassword2, wire.MSCHAPv2ChangePassword:
			a.srvCHAP(p)
		default:
			a.cliCHAP(p)
		}
	case wire.ProtoEAP:
		if eap.Code == wire.EAPResponse {
			a.srvEAP(eap, payload)
		} else {
			a.cliEAP(eap)
		}
	}
}

func (a *authState) send(proto wire.Protocol, code wire.Code, id uint8, data []byte) {
	a.l.sendControl(proto, a.l.lcp.state, code, id, data, nil)
}

func (a *authState) sendEAP(code wire.Code, id, typ uint8, data []byte) {
	// EAP's header is the control packet header with Type first in Data.
	if code == wire.EAPRequest || code == wire.EAPResponse {
		b := append(a.l.scratch[:0], typ)
		b = append(b, data...)
		a.l.scratch = b
		data = b
	} else {
		data = nil
	}
	a.send(wire.ProtoEAP, code, id, data)
}

func challengeLen(m aaa.Method) int {
	switch m {
	case aaa.MSCHAPv1:
		return wire.MSCHAPv1ChallengeLen
	}
	return 16
}

// ---- Server side: we authenticate the peer. ----

// Bounds of an EAP pass-through conversation (RFC 3579): EAP-TLS with a
// certificate chain takes a dozen steps and some 10 kB; a server or peer
// that goes on past these is cut off. The phase timer bounds its time.
const (
	maxEAPRounds = 40
	maxEAPOctets = 64 << 10
)

func (a *authState) srvStart() {
	s := &a.srv
	l := a.l
	switch s.method {
	case aaa.PAP:
		l.debugAuth("PAP: waiting for the peer's Authenticate-Request")
	case aaa.CHAP, aaa.MSCHAPv1, aaa.MSCHAPv2:
		a.srvChallenge(s.id + 1)
	case aaa.EAPMD5:
		// RFC 3579 §2.1 lets the NAS send the first Identity Request
		// itself or leave it to the server: this end sends it, so that
		// the server is asked with the peer's identity as User-Name from
		// the first step, and the method list has a user to name.
		if r, ok := l.cfg.Auth.AAA.(aaa.EAPRelay); ok && r.RelaysEAP() {
			s.relay = true
		}
		s.id++
		s.eapStage = 0
		s.reqProto, s.reqCode = wire.ProtoEAP, wire.EAPRequest
		s.req = append(s.req[:0], wire.EAPTypeIdentity)
		a.srvSendRequest()
	}
}

// srvChallenge sends a fresh CHAP challenge with identifier id.
func (a *authState) srvChallenge(id uint8) {
	s := &a.srv
	s.id = id
	s.challenge = make([]byte, challengeLen(s.method))
	a.l.random(s.challenge)
	s.reqProto, s.reqCode = wire.ProtoCHAP, wire.CHAPChallenge
	s.req = wire.AppendCHAPValue(s.req[:0], s.challenge, []byte(a.l.cfg.Auth.Hostname))
	s.tries = 0
	a.srvSendRequest()
}

func (a *authState) srvSendRequest() {
	s := &a.srv
	s.tries++
	if s.reqRaw {
		a.send(wire.ProtoEAP, wire.Code(s.req[0]), s.req[1], s.req[4:])
	} else if s.reqProto == wire.ProtoEAP {
		a.sendEAP(wire.EAPRequest, s.id, s.req[0], s.req[1:])
	} else {
		a.send(s.reqProto, s.reqCode, s.id, s.req)
	}
	s.timer.start(a.l.cfg.Restart)
}

// srvRetransmit repeats a challenge the peer did not answer (RFC 1994 §4.1:
// retransmitted on a timer, the same Identifier).
func (a *authState) srvRetransmit() {
	s := &a.srv
	if s.done || s.pending {
		return
	}
	if s.tries >= a.l.cfg.MaxConfigure {
		a.fail(s.method.String() + ": no response from the peer")
		return
	}
	a.srvSendRequest()
}

func (a *authState) srvPAP(p wire.Packet) {
	s := &a.srv
	if s.method != aaa.PAP {
		return
	}
	if s.done || (s.reply != nil && p.ID == s.id) {
		if p.ID == s.id && s.reply != nil {
			a.send(wire.ProtoPAP, s.replyCode, s.id, s.reply) // the Ack was lost
		}
		return
	}
	if s.pending {
		return
	}
	user, pw, err := wire.ParsePAPRequest(p.Data)
	if err != nil {
		a.l.stats.DropMalformed++
		return
	}
	s.id = p.ID
	req := a.l.aaaRequest(aaa.PAP, string(user))
	req.Password = bytes.Clone(pw)
	a.srvAsk(req, string(user))
}

func (a *authState) srvCHAP(p wire.Packet) {
	s := &a.srv
	l := a.l
	switch s.method {
	case aaa.CHAP, aaa.MSCHAPv1, aaa.MSCHAPv2:
	default:
		return
	}
	if p.ID != s.id {
		l.debugAuth("CHAP: ignoring %s id %d, expected %d", wire.CHAPCodeName(p.Code), p.ID, s.id)
		return
	}
	if s.done || s.reply != nil {
		if s.reply != nil {
			a.send(wire.ProtoCHAP, s.replyCode, s.id, s.reply) // the result was lost
		}
		return
	}
	if s.pending {
		return
	}
	if p.Code != wire.CHAPResponse {
		// RFC 2433 §5/§6, RFC 2759 §7: Change-Password is not supported.
		a.srvFinal(wire.ProtoCHAP, wire.CHAPFailure, []byte("E=709 R=0 V=3 M=Password change not supported"))
		a.fail("Password change requested and not supported")
		return
	}
	value, name, err := wire.ParseCHAPValue(p.Data)
	want := 16
	if s.method != aaa.CHAP {
		want = wire.MSCHAPResponseLen
	}
	if err != nil || len(value) != want {
		l.stats.DropMalformed++
		l.debugAuth("CHAP: malformed Response id %d", p.ID)
		return
	}
	s.timer.stop()
	req := l.aaaRequest(s.method, string(name))
	req.ID = p.ID
	req.Challenge = bytes.Clone(s.challenge)
	req.Response = bytes.Clone(value)
	a.srvAsk(req, string(name))
}

func (a *authState) srvEAP(p wire.EAPPacket, raw []byte) {
	s := &a.srv
	l := a.l
	if s.method != aaa.EAPMD5 || p.ID != s.id || s.pending {
		return
	}
	if s.done || s.reply != nil {
		if s.reply != nil {
			a.sendEAP(s.replyCode, s.id, 0, nil)
		}
		return
	}
	if s.relay {
		if s.eapStage == 0 {
			if p.Type != wire.EAPTypeIdentity {
				return
			}
			s.identity = string(p.Data)
			s.eapStage = 1
		}
		a.srvRelay(raw[:5+len(p.Data)])
		return
	}
	switch {
	case p.Type == wire.EAPTypeIdentity && s.eapStage == 0:
		s.identity = string(p.Data)
		s.eapStage = 1
		s.id++
		s.challenge = make([]byte, 16)
		l.random(s.challenge)
		s.req = append(s.req[:0], wire.EAPTypeMD5)
		s.req = wire.AppendCHAPValue(s.req, s.challenge, []byte(l.cfg.Auth.Hostname))
		s.tries = 0
		a.srvSendRequest()
	case p.Type == wire.EAPTypeNak:
		// RFC 3748 §5.3.1: the peer wants another type; MD5-Challenge is
		// all this end offers.
		a.srvFinal(wire.ProtoEAP, wire.EAPFailure, nil)
		a.fail("EAP: peer refused MD5-Challenge")
	case p.Type == wire.EAPTypeMD5 && s.eapStage == 1:
		value, _, err := wire.ParseCHAPValue(p.Data)
		if err != nil || len(value) != 16 {
			l.stats.DropMalformed++
			return
		}
		s.timer.stop()
		req := l.aaaRequest(aaa.EAPMD5, s.identity)
		req.ID = p.ID
		req.Challenge = bytes.Clone(s.challenge)
		req.Response = bytes.Clone(value)
		a.srvAsk(req, s.identity)
	}
}

// srvRelay passes the peer's EAP Response to the server (RFC 3579 §2.1),
// within the conversation's bounds.
func (a *authState) srvRelay(raw []byte) {
	s := &a.srv
	l := a.l
	s.rounds++
	s.relayed += len(raw)
	if s.rounds > maxEAPRounds || s.relayed > maxEAPOctets {
		a.srvFinal(wire.ProtoEAP, wire.EAPFailure, nil)
		a.fail(fmt.Sprintf("EAP: conversation over %d round trips or %d octets", maxEAPRounds, maxEAPOctets))
		return
	}
	s.timer.stop()
	req := l.aaaRequest(aaa.EAPMD5, s.identity)
	req.EAPMessage = bytes.Clone(raw)
	req.State, req.Server = s.state, s.server
	a.srvAsk(req, s.identity)
}

// srvRelayChallenge sends the peer the EAP Request of the server's
// Access-Challenge, as it is, and keeps it for retransmission.
func (a *authState) srvRelayChallenge(res *aaa.Result) {
	s := &a.srv
	p, err := wire.ParseEAP(res.EAPMessage)
	if err != nil || p.Code != wire.EAPRequest {
		a.srvFinal(wire.ProtoEAP, wire.EAPFailure, nil)
		a.fail("EAP: server challenge without an EAP Request")
		return
	}
	a.l.debugAuth("EAP: relaying the server's Request id %d type %d", p.ID, p.Type)
	s.state, s.server = bytes.Clone(res.State), res.Server
	s.id = p.ID
	s.req = append(s.req[:0], res.EAPMessage...)
	s.reqRaw = true
	s.tries = 0
	a.srvSendRequest()
}

// srvAsk hands the request to AAA; the result comes back on the owner's
// goroutine.
func (a *authState) srvAsk(req *aaa.Request, name string) {
	s := &a.srv
	s.pending = true
	gen := s.gen
	a.l.debugAuth("PPP: Sent %s LOGIN Request for %q", req.Method, name)
	s.cancel = a.l.runAAA(req, func(res *aaa.Result, err error) {
		if gen != a.srv.gen {
			return // the attempt was abandoned
		}
		a.srv.pending, a.srv.cancel = false, nil
		a.srvResult(req, res, err)
	})
}

func (a *authState) srvResult(req *aaa.Request, res *aaa.Result, err error) {
	s := &a.srv
	l := a.l
	if err != nil || res == nil {
		reason := "AAA error"
		if err != nil {
			reason += ": " + err.Error()
		}
		res = &aaa.Result{Reason: reason}
	}
	if res.Challenge {
		if s.relay {
			a.srvRelayChallenge(res)
			return
		}
		res = &aaa.Result{Reason: "AAA challenge to a request that was not EAP pass-through"}
	}
	if res.Accept {
		l.debugAuth("PPP: Received LOGIN Response PASS")
	} else {
		l.debugAuth("PPP: Received LOGIN Response FAIL: %s", res.Reason)
		if res.Hold > 0 {
			// The throttle's delay: the peer hears of the failure (and
			// may try again) only once it has passed. The link waits
			// on its timer; nothing sleeps.
			s.pending, s.held, s.heldReq = true, res, req
			l.debugAuth("PPP: failure held for %v", res.Hold)
			s.hold.start(res.Hold)
			return
		}
	}
	a.srvAnswer(req, res)
}

// srvHeld answers a rejection whose hold has passed.
func (a *authState) srvHeld() {
	s := &a.srv
	req, res := s.heldReq, s.held
	s.pending, s.held, s.heldReq = false, nil, nil
	if res != nil {
		a.srvAnswer(req, res)
	}
}

// srvRetry answers a rejection that `ppp max-bad-auth` lets the peer
// retry: PAP's Nak leaves the peer to send another Authenticate-Request
// (RFC 1334 §2.2.1); CHAP's Failure is followed by a new Challenge with
// the next Identifier (RFC 1994 §4.1: a fresh challenge value for each
// attempt). It reports false when no retry is left, or the method has
// none.
func (a *authState) srvRetry(res *aaa.Result) bool {
	s := &a.srv
	l := a.l
	if s.badAuth >= l.cfg.Auth.MaxBadAuth {
		return false
	}
	switch s.method {
	case aaa.PAP:
		msg := res.Message
		if msg == "" {
			msg = "Authentication failed"
		}
		s.badAuth++
		a.send(wire.ProtoPAP, wire.PAPNak, s.id, wire.AppendPAPMessage(nil, []byte(msg)))
	case aaa.CHAP, aaa.MSCHAPv1:
		msg := res.Message
		switch {
		case s.method == aaa.MSCHAPv1 && res.MSCHAPError != "":
			msg = res.MSCHAPError
		case s.method == aaa.MSCHAPv1:
			msg = "E=691 R=0 V=1"
		case msg == "":
			msg = "Authentication failed"
		}
		s.badAuth++
		a.send(wire.ProtoCHAP, wire.CHAPFailure, s.id, []byte(msg))
		a.srvChallenge(s.id + 1)
	default:
		return false
	}
	l.debugAuth("PPP: authentication retry %d of %d allowed (ppp max-bad-auth)", s.badAuth, l.cfg.Auth.MaxBadAuth)
	return true
}

// srvAnswer tells the peer the result.
func (a *authState) srvAnswer(req *aaa.Request, res *aaa.Result) {
	s := &a.srv
	l := a.l
	if !res.Accept && s.method != aaa.MSCHAPv2 && a.srvRetry(res) {
		return
	}
	switch s.method {
	case aaa.PAP:
		msg := res.Message
		if res.Accept {
			a.srvFinal(wire.ProtoPAP, wire.PAPAck, wire.AppendPAPMessage(nil, []byte(msg)))
		} else {
			if msg == "" {
				msg = "Authentication failed"
			}
			a.srvFinal(wire.ProtoPAP, wire.PAPNak, wire.AppendPAPMessage(nil, []byte(msg)))
		}
	case aaa.CHAP, aaa.MSCHAPv1:
		msg := res.Message
		if !res.Accept {
			switch {
			case s.method == aaa.MSCHAPv1 && res.MSCHAPError != "":
				msg = res.MSCHAPError
			case s.method == aaa.MSCHAPv1:
				msg = "E=691 R=0 V=1"
			case msg == "":
				msg = "Authentication failed"
			}
		}
		code := wire.CHAPSuccess
		if !res.Accept {
			code = wire.CHAPFailure
		}
		a.srvFinal(wire.ProtoCHAP, code, []byte(msg))
	case aaa.MSCHAPv2:
		if res.Accept {
			if res.MSCHAPv2Success == "" {
				l.debugAuth("MS-CHAP-V2: the authenticator gave no S= response; the peer will reject us")
			}
			msg := res.MSCHAPv2Success
			if res.Message != "" {
				msg += " M=" + res.Message
			}
			a.srvFinal(wire.ProtoCHAP, wire.CHAPSuccess, []byte(msg))
		} else if a.srvMSCHAPv2Failure(res) {
			return // retry allowed: wait for the next Response
		}
	case aaa.EAPMD5:
		code := wire.EAPSuccess
		if !res.Accept {
			code = wire.EAPFailure
		}
		if s.relay && len(res.EAPMessage) >= 4 {
			// The server's Success or Failure, with its Identifier
			// (RFC 3579 §2.1); without one, this end's own.
			s.id = res.EAPMessage[1]
		}
		a.srvFinal(wire.ProtoEAP, code, nil)
	}
	if !res.Accept {
		reason := "Authentication failed"
		if res.Reason != "" {
			reason += ": " + res.Reason
		}
		a.fail(reason)
		return
	}
	s.done = true
	s.timer.stop()
	a.username = res.Authz.Username
	if a.username == "" {
		a.username = req.Username
	}
	authz := res.Authz
	if authz.Username == "" {
		authz.Username = a.username
	}
	a.authz = &authz
	if k := keysOf(res); k != nil {
		a.keys = k
	}
	a.check()
}

func keysOf(res *aaa.Result) *MPPEKeys {
	if len(res.MPPESendKey) == 0 && len(res.MPPERecvKey) == 0 {
		return nil
	}
	return &MPPEKeys{Send: bytes.Clone(res.MPPESendKey), Recv: bytes.Clone(res.MPPERecvKey)}
}

// srvMSCHAPv2Failure sends the Failure packet of RFC 2759 §6. When retries
// remain it sets R=1 with a new challenge C and reports true: the peer's
// next Response comes with the Identifier one above the Failure's.
func (a *authState) srvMSCHAPv2Failure(res *aaa.Result) bool {
	s := &a.srv
	f, err := wire.ParseMSCHAPFailure(res.MSCHAPError)
	if err != nil {
		f = wire.MSCHAPFailure{Error: wire.MSCHAPErrAuthenticationFailure, Version: 3}
	}
	if f.Message == "" {
		f.Message = res.Message
	}
	if f.Message == "" {
		f.Message = "Authentication failed"
	}
	retry := f.Error == wire.MSCHAPErrAuthenticationFailure && s.retries < a.l.cfg.Auth.MSCHAPv2Retries
	f.Retry = retry
	if retry {
		s.retries++
		s.challenge = make([]byte, wire.MSCHAPv2ChallengeLen)
		a.l.random(s.challenge)
		f.Challenge = s.challenge
		f.Version = 3
		a.send(wire.ProtoCHAP, wire.CHAPFailure, s.id, []byte(f.String()))
		s.id++
		a.l.debugAuth("MS-CHAP-V2: retry %d of %d allowed", s.retries, a.l.cfg.Auth.MSCHAPv2Retries)
		return true
	}
	if len(f.Challenge) == 0 {
		f.Challenge = s.challenge
	}
	if f.Version == 0 {
		f.Version = 3
	}
	a.srvFinal(wire.ProtoCHAP, wire.CHAPFailure, []byte(f.String()))
	return false
}

// srvFinal sends a final result and keeps it for a peer that repeats its
// request because the result was lost.
func (a *authState) srvFinal(proto wire.Protocol, code wire.Code, data []byte) {
	s := &a.srv
	s.reply, s.replyCode = append([]byte{}, data...), code
	if proto == wire.ProtoEAP {
		a.sendEAP(code, s.id, 0, nil)
		return
	}
	a.send(proto, code, s.id, data)
}

// ---- Client side: the peer authenticates us. ----

func (a *authState) cliStart() {
	c := &a.cli
	if c.method == aaa.PAP {
		c.id++
		c.tries = 0
		a.cliSendPAP()
	}
}

func (a *authState) cliSendPAP() {
	c := &a.cli
	c.tries++
	c.resp = wire.AppendPAPRequest(c.resp[:0], []byte(a.l.cfg.Auth.Hostname), []byte(c.password))
	a.send(wire.ProtoPAP, wire.PAPRequest, c.id, c.resp)
	c.timer.start(a.l.cfg.Restart)
}

// cliRetransmit repeats an unanswered Authenticate-Request (RFC 1334
// §2.2.1: "MUST be repeated until a valid reply packet is received, or an
// optional retry counter expires").
func (a *authState) cliRetransmit() {
	c := &a.cli
	if c.done || c.method != aaa.PAP {
		return
	}
	if c.tries >= a.l.cfg.MaxConfigure {
		a.fail("PAP: no reply from the authenticator")
		return
	}
	a.cliSendPAP()
}

func (a *authState) cliPAP(p wire.Packet) {
	c := &a.cli
	if c.method != aaa.PAP || c.done || p.ID != c.id {
		return
	}
	msg, _ := wire.ParsePAPMessage(p.Data)
	c.timer.stop()
	switch p.Code {
	case wire.PAPAck:
		c.done = true
		a.l.debugAuth("PAP: authenticated by the peer")
		a.check()
	case wire.PAPNak:
		a.fail("PAP authentication failed: " + string(msg))
	}
}

func (a *authState) cliCHAP(p wire.Packet) {
	c := &a.cli
	l := a.l
	switch c.method {
	case aaa.CHAP, aaa.MSCHAPv1, aaa.MSCHAPv2:
	default:
		return
	}
	switch p.Code {
	case wire.CHAPChallenge:
		value, peerName, err := wire.ParseCHAPValue(p.Data)
		if err != nil {
			l.stats.DropMalformed++
			return
		}
		if l.cfg.Auth.Password == "" && l.cfg.Auth.SecretFor != nil {
			c.password = l.cfg.Auth.SecretFor(string(peerName))
		}
		if c.answered && p.ID == c.id && c.resp != nil {
			a.send(wire.ProtoCHAP, wire.CHAPResponse, c.id, c.resp) // our Response was lost
			return
		}
		a.cliRespond(p.ID, value)
	case wire.CHAPSuccess:
		if !c.answered || p.ID != c.id {
			return
		}
		if c.method == aaa.MSCHAPv2 {
			got, _, err := wire.ParseMSCHAPv2Success(string(p.Data))
			if err != nil || got != c.authResp {
				// RFC 2759 §5: the authenticator failed to prove it knows
				// the password.
				a.fail("MS-CHAP-V2: authenticator response invalid")
				return
			}
			if k, err := mppeClientKeys(c.password, c.nt); err == nil {
				a.keys = k
			}
		}
		if !c.done {
			c.done = true
			l.debugAuth("CHAP: authenticated by the peer")
			a.check()
		}
	case wire.CHAPFailure:
		if !c.answered || p.ID != c.id {
			return
		}
		msg := string(p.Data)
		if c.method == aaa.MSCHAPv2 {
			if f, err := wire.ParseMSCHAPFailure(msg); err == nil && f.Retry && len(f.Challenge) == wire.MSCHAPv2ChallengeLen && l.cfg.Auth.RetryPassword != nil {
				if pw := l.cfg.Auth.RetryPassword(); pw != "" {
					c.password = pw
					c.answered = false
					l.debugAuth("MS-CHAP-V2: retrying with a new password")
					a.cliRespond(p.ID+1, f.Challenge)
					return
				}
			}
		}
		a.fail("CHAP authentication failed: " + msg)
	}
}

// cliRespond answers a challenge (RFC 1994 §4.1, RFC 2433 §4, RFC 2759 §4).
func (a *authState) cliRespond(id uint8, challenge []byte) {
	c := &a.cli
	l := a.l
	name := l.cfg.Auth.Hostname
	var value []byte
	switch c.method {
	case aaa.CHAP:
		value = chapMD5Response(id, c.password, challenge)
	case aaa.MSCHAPv1:
		if len(challenge) != wire.MSCHAPv1ChallengeLen {
			l.debugAuth("MS-CHAP: challenge of %d octets ignored", len(challenge))
			return
		}
		r := wire.MSCHAPv1Response{NTResponse: mschapv1NTResponse(challenge, c.password), UseNT: 1}
		value = r.Append(nil)
	case aaa.MSCHAPv2:
		if len(challenge) != wire.MSCHAPv2ChallengeLen {
			l.debugAuth("MS-CHAP-V2: challenge of %d octets ignored", len(challenge))
			return
		}
		var r wire.MSCHAPv2Response
		l.random(r.PeerChallenge[:])
		nt, authResp, err := mschapv2Response(challenge, r.PeerChallenge[:], name, c.password)
		if err != nil {
			a.fail("MS-CHAP-V2: " + err.Error())
			return
		}
		copy(r.NTResponse[:], nt)
		c.nt, c.authResp = nt, authResp
		value = r.Append(nil)
	}
	c.id, c.answered = id, true
	c.resp = wire.AppendCHAPValue(c.resp[:0], value, []byte(name))
	a.send(wire.ProtoCHAP, wire.CHAPResponse, id, c.resp)
}

func (a *authState) cliEAP(p wire.EAPPacket) {
	c := &a.cli
	l := a.l
	if c.method != aaa.EAPMD5 {
		return
	}
	switch p.Code {
	case wire.EAPRequest:
		switch p.Type {
		case wire.EAPTypeIdentity:
			a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeIdentity, []byte(l.cfg.Auth.Hostname))
		case wire.EAPTypeNotification:
			a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeNotification, nil)
		case wire.EAPTypeMD5:
			if l.cfg.MPPE.Required {
				// MD5-Challenge gives no MPPE keys, and MPPE is
				// required: Nak it for EAP-MSCHAPv2, which does (RFC
				// 3748 §5.3.1).
				a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeNak, []byte{wire.EAPTypeMSCHAPv2})
				return
			}
			value, _, err := wire.ParseCHAPValue(p.Data)
			if err != nil {
				l.stats.DropMalformed++
				return
			}
			c.id, c.answered = p.ID, true
			v := chapMD5Response(p.ID, c.password, value)
			a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeMD5, wire.AppendCHAPValue(nil, v, []byte(l.cfg.Auth.Hostname)))
		case wire.EAPTypeMSCHAPv2:
			a.cliEAPMSCHAPv2(p)
		default:
			// RFC 3748 §5.3.1: Nak, proposing the types this end speaks.
			a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeNak, []byte{wire.EAPTypeMD5, wire.EAPTypeMSCHAPv2})
		}
	case wire.EAPSuccess:
		if c.answered && !c.done && (c.authResp == "" || a.keys != nil) {
			c.done = true
			l.debugAuth("EAP: authenticated by the peer")
			a.check()
		}
	case wire.EAPFailure:
		a.fail("EAP authentication failed")
	}
}

// cliEAPMSCHAPv2 answers an EAP-MSCHAPv2 Request
// (draft-kamath-pppext-eap-mschapv2-02): a Challenge with an MS-CHAPv2
// Response (RFC 2759 §4); a Success Request, once its "S=" proves that the
// server knows the password (RFC 2759 §5), with a Success Response, which
// makes the MPPE keys (RFC 3079 §3.3); a Failure Request with a Failure
// Response, after which EAP-Failure ends the phase.
func (a *authState) cliEAPMSCHAPv2(p wire.EAPPacket) {
	c := &a.cli
	l := a.l
	m, err := wire.ParseEAPMSCHAPv2(p.Data)
	if err != nil {
		l.stats.DropMalformed++
		return
	}
	name := l.cfg.Auth.Hostname
	switch m.OpCode {
	case wire.EAPMSCHAPv2Challenge:
		if len(m.Value) != wire.MSCHAPv2ChallengeLen {
			l.stats.DropMalformed++
			return
		}
		if c.answered && p.ID == c.id && c.resp != nil {
			a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeMSCHAPv2, c.resp) // our Response was lost
			return
		}
		if l.cfg.Auth.Password == "" && l.cfg.Auth.SecretFor != nil {
			c.password = l.cfg.Auth.SecretFor(string(m.Name))
		}
		var r wire.MSCHAPv2Response
		l.random(r.PeerChallenge[:])
		nt, authResp, err := mschapv2Response(m.Value, r.PeerChallenge[:], name, c.password)
		if err != nil {
			a.fail("EAP-MSCHAPv2: " + err.Error())
			return
		}
		copy(r.NTResponse[:], nt)
		c.nt, c.authResp = nt, authResp
		c.id, c.answered = p.ID, true
		c.resp = wire.AppendEAPMSCHAPv2(c.resp[:0], wire.EAPMSCHAPv2{OpCode: wire.EAPMSCHAPv2Response, ID: m.ID, Value: r.Append(nil), Name: []byte(name)})
		a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeMSCHAPv2, c.resp)
	case wire.EAPMSCHAPv2Success:
		if !c.answered || c.authResp == "" {
			return
		}
		got, _, err := wire.ParseMSCHAPv2Success(string(m.Message))
		if err != nil || got != c.authResp {
			a.fail("EAP-MSCHAPv2: authenticator response invalid")
			return
		}
		if k, err := mppeClientKeys(c.password, c.nt); err == nil {
			a.keys = k
		}
		c.id = p.ID
		a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeMSCHAPv2, []byte{wire.EAPMSCHAPv2Success})
	case wire.EAPMSCHAPv2Failure:
		c.id = p.ID
		a.sendEAP(wire.EAPResponse, p.ID, wire.EAPTypeMSCHAPv2, []byte{wire.EAPMSCHAPv2Failure})
		l.debugAuth("EAP-MSCHAPv2: failure: %s", m.Message)
	}
}
