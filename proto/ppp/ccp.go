package ppp

import (
	"bytes"
	"errors"
	"time"

	"github.com/vpdn/vpdn/wire/mppe"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// MPPEConfig is `ppp encrypt mppe {auto | 40 | 128} [passive | required]
// [stateful]`: MPPE (RFC 3078) negotiated by CCP (RFC 1962). The zero
// value runs no MPPE: CCP is never started and every option a peer
// proposes is rejected.
type MPPEConfig struct {
	// Strengths are the key strengths this end allows, as the strength
	// bits of the CCP option (mppe.Opt40, mppe.Opt56, mppe.Opt128); IOS
	// `auto` is MPPEAuto. Zero: no MPPE.
	Strengths mppe.Options
	// Passive waits for the peer's CCP Configure-Request instead of
	// sending the first one (RFC 1661 §4.2, the passive option).
	Passive bool
	// Required terminates the link when MPPE is not negotiated in both
	// directions (RFC 3078 §2: "If MPPE negotiation is attempted and
	// fails, the link SHOULD be terminated"), when the peer authenticated
	// with a method that yields no keys, or when CCP has not opened within
	// MaxConfigure × Restart of the Network phase (both ends passive, a
	// peer that never answers). Until then no plain IP datagram passes
	// the link in either direction.
	Required bool
	// Stateful offers stateful mode (no H bit). The negotiation ends
	// stateless when either end asks for it, as Windows and pppd do;
	// without Stateful this end asks for it.
	Stateful bool
}

// MPPEAuto is `ppp encrypt mppe auto`: 40- and 128-bit keys, the
// strongest the peer accepts. Windows also offers 56 bits; IOS does not.
const MPPEAuto = mppe.Opt40 | mppe.Opt128

const strengthBits = mppe.Opt40 | mppe.Opt56 | mppe.Opt128

func (c *MPPEConfig) enabled() bool { return c.Strengths&strengthBits != 0 }

func (c *MPPEConfig) check() error {
	if c.Strengths&^strengthBits != 0 {
		return errors.New("ppp: MPPE.Strengths holds bits other than 40, 56 and 128 bits")
	}
	if !c.enabled() && (c.Passive || c.Required || c.Stateful) {
		return errors.New("ppp: MPPE options without a key strength")
	}
	return nil
}

// MPPEInfo is what CCP negotiated, for the owner to build a
// mppe.Encrypter from SendKey and a mppe.Decrypter from RecvKey.
type MPPEInfo struct {
	Strength  mppe.Strength
	Stateless bool
	// SendKey and RecvKey are this end's start keys (RFC 3079 §3.3): on
	// the authenticator, MS-MPPE-Send-Key and MS-MPPE-Recv-Key; on the
	// peer, the same keys crossed.
	SendKey, RecvKey []byte
}

// ResetHandler is implemented by a Handler that runs MPPE. ResetRequested
// is called, synchronously from Input, when the peer's CCP Reset-Request
// arrives (RFC 1962 §2.2, RFC 3078 §8): the owner calls
// mppe.Encrypter.ResetRequested, which is safe from any goroutine. The
// link has already answered with Reset-Ack.
type ResetHandler interface {
	ResetRequested()
}

// ErrEncryptionRequired is returned by SendPacket for a plain IPv4 or IPv6
// datagram while MPPE is open or required: the owner must encrypt it and
// send it as wire.ProtoCompressed.
var ErrEncryptionRequired = errors.New("ppp: MPPE required: datagram not encrypted")

// ccpOptions is the CCP option handler (RFC 1962) with MPPE (RFC 3078 §2)
// as the only algorithm: option 18 with encryption bits only, never MPPC.
type ccpOptions struct {
	l *Link

	want    bool         // MPPE configured and keys available
	sendOpt bool         // option 18 in our request
	req     mppe.Options // our request's bits
	peer    mppe.Options // the peer's request as we judged it
	peerOK  bool         // the peer's last request carried an acceptable option 18

	open *MPPEInfo // set while CCP is Opened with MPPE
	// held: CCP left Opened with MPPE to renegotiate, and has neither
	// opened again nor ended: IP is refused as while MPPE is open.
	held bool
	// stateless: this end insists on stateless mode from now on
	// (FallBackToStateless), whatever Stateful says.
	stateless bool
	guard     ltimer // Required: CCP must open in time

	resetID      uint8
	resetPending bool // our Reset-Request awaits its Reset-Ack
	resetRepeat  bool // another was asked for meanwhile
	resetTimer   ltimer
}

func newCCPOptions(l *Link) *ccpOptions {
	o := &ccpOptions{l: l}
	o.guard.init(l, o.guardExpired)
	o.resetTimer.init(l, o.resetTimeout)
	return o
}

func (o *ccpOptions) cfg() *MPPEConfig { return &o.l.cfg.MPPE }

// haveKeys reports whether authentication left MPPE start keys. RFC 3079:
// they come from MS-CHAP; PAP, CHAP and EAP-MD5 give none.
func (o *ccpOptions) haveKeys() bool {
	k := o.l.auth.keys
	return k != nil && len(k.Send) >= 16 && len(k.Recv) >= 16
}

// precheck runs as the Network phase begins, before any NCP starts: when
// MPPE is required and there are no keys, it closes the link and reports
// false.
func (o *ccpOptions) precheck() bool {
	c := o.cfg()
	if c.enabled() && c.Required && !o.haveKeys() {
		var m string
		if a := o.l.lcpo.local.auth; a != 0 {
			m = " (authenticated with " + a.String() + ")"
		}
		o.l.closeWith(CauseEncryption, "MPPE required but no MS-CHAP keys"+m)
		return false
	}
	return true
}

// start runs at the Network phase (RFC 1661 §3.5), after precheck.
func (o *ccpOptions) start() {
	l, c := o.l, o.cfg()
	o.want = false
	if !c.enabled() || !o.haveKeys() {
		if c.enabled() {
			l.debugCCP("CCP: no MPPE keys (no MS-CHAP), MPPE not offered")
		}
		l.ccp.passive()
		return
	}
	o.want = true
	if c.Required {
		o.guard.start(time.Duration(l.cfg.MaxConfigure) * l.cfg.Restart)
	}
	if c.Passive {
		l.ccp.passive()
	} else {
		l.startNCP(l.ccp)
	}
}

// blocksPlain reports whether plain IP datagrams are refused: MPPE is open,
// or required and not yet open.
func (o *ccpOptions) blocksPlain() bool {
	return o.open != nil || o.held || (o.cfg().Required && o.cfg().enabled())
}

func (o *ccpOptions) guardExpired() {
	if o.open == nil && o.l.phase == PhaseNetwork {
		o.l.closeWith(CauseEncryption, "MPPE required but CCP did not open in time")
	}
}

// refuse gives up on MPPE: with Required the link goes, else CCP closes
// and the link carries plain datagrams.
func (o *ccpOptions) refuse(why string) {
	l := o.l
	l.debugCCP("CCP: MPPE not negotiated: %s", why)
	o.want, o.sendOpt = false, false
	if o.cfg().Required {
		l.closeWith(CauseEncryption, "MPPE required: "+why)
		return
	}
	l.ccp.close(CauseEncryption, "MPPE not negotiated: "+why)
}

func (o *ccpOptions) baseRequest() mppe.Options {
	r := o.cfg().Strengths & strengthBits
	if !o.cfg().Stateful || o.stateless {
		r |= mppe.OptStateless
	}
	return r
}

func (o *ccpOptions) resetOptions() {
	o.sendOpt = o.want
	o.req = o.baseRequest()
	o.peer, o.peerOK = 0, false
}

func (o *ccpOptions) appendRequest(b []byte) []byte {
	if o.sendOpt {
		b = o.req.AppendOption(b)
	}
	return b
}

func (o *ccpOptions) gotAck([]byte) {}

// gotNak takes the peer's suggestion when it names a strength we allow
// (RFC 3078 §2: the peer Naks with the one strength it wants); stateless
// stays once either end asked for it.
func (o *ccpOptions) gotNak(opts []byte) {
	if !o.sendOpt {
		return
	}
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		if op.Type != mppe.OptionType {
			continue // a solicitation of something we do not do
		}
		n, err := mppe.ParseOptionValue(op.Value)
		if err != nil {
			continue
		}
		s, ok := (n & o.cfg().Strengths).Strongest()
		if !ok {
			o.refuse("no common key strength (peer suggests " + n.String() + ")")
			return
		}
		o.req = o.req.WithStrength(s)
		if n&mppe.OptStateless != 0 {
			o.req |= mppe.OptStateless
		}
	}
}

func (o *ccpOptions) gotReject(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		if it.Option().Type == mppe.OptionType && o.sendOpt {
			o.refuse("peer rejected MPPE")
			return
		}
	}
}

// judge examines the peer's request (RFC 3078 §2). Every option but 18 is
// rejected; option 18 converges on one strength, the strongest both allow,
// and on stateless mode if either end wants it. MPPC (C), the obsolete D
// bit and unknown bits are Nak'd away; a request without option 18 is
// Nak'd to solicit it.
func (o *ccpOptions) judge(opts []byte, j *judgement) {
	o.peer, o.peerOK = 0, false
	saw := false
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		if op.Type != mppe.OptionType || !o.want || saw {
			j.reject(op)
			continue
		}
		p, err := mppe.ParseOptionValue(op.Value)
		if err != nil {
			j.reject(op)
			continue
		}
		saw = true
		offered := p & strengthBits
		s, ok := (offered & o.cfg().Strengths).Strongest()
		if offered != 0 && !ok {
			// No strength in common: nothing to suggest.
			j.reject(op)
			continue
		}
		if !ok {
			s, _ = o.cfg().Strengths.Strongest()
		}
		want := mppe.Options(0).WithStrength(s)
		if p&mppe.OptStateless != 0 || !o.cfg().Stateful || o.stateless {
			want |= mppe.OptStateless
		}
		if p != want {
			j.nakWith(op, want.AppendOption(nil))
			continue
		}
		o.peer, o.peerOK = p, true
	}
	if o.want && !saw {
		// Solicit MPPE (RFC 1661 §5.3): both directions must encrypt.
		want := o.req
		if s, ok := want.Strongest(); ok {
			want = want.WithStrength(s)
		}
		j.nakWith(wire.Option{}, want.AppendOption(nil))
	}
}

// up checks that both directions agreed on the same strength and mode
// before reporting MPPE to the owner.
func (o *ccpOptions) up() {
	if !o.want {
		return // an empty CCP, as a peer may open it; nothing runs
	}
	mine, ok1 := o.req.Strongest()
	theirs, ok2 := o.peer.Strongest()
	switch {
	case !o.sendOpt || !o.peerOK || !ok1 || !ok2:
		o.refuse("MPPE not agreed in both directions")
		return
	case mine != theirs || o.req&mppe.OptStateless != o.peer&mppe.OptStateless:
		o.refuse("directions disagree (" + o.req.String() + " / " + o.peer.String() + ")")
		return
	}
	k := o.l.auth.keys
	o.open = &MPPEInfo{Strength: mine, Stateless: o.req&mppe.OptStateless != 0,
		SendKey: bytes.Clone(k.Send), RecvKey: bytes.Clone(k.Recv)}
	o.held = false
	o.guard.stop()
	o.l.debugCCP("CCP: MPPE %s", mppeText(o.req))
	o.l.ncpUp(wire.ProtoCCP)
}

func (o *ccpOptions) down() {
	o.resetTimer.stop()
	o.resetPending, o.resetRepeat = false, false
	if o.open == nil {
		return
	}
	o.open = nil
	// Leaving Opened for Req-Sent, Ack-Rcvd or Ack-Sent is a new
	// negotiation (a Configure-Request in Opened, either end's): the
	// ciphers stop but IP stays held until it ends.
	f := o.l.ccp
	o.held = f.next == ReqSent || f.next == AckRcvd || f.next == AckSent
	o.l.notifyDown(DownEvent{Protocol: f.proto, Reason: f.reason, Cause: f.cause, Renegotiating: o.held})
}

func (o *ccpOptions) started() {}

// finished: CCP ended without opening, or closed. MPPE that is required
// takes the link with it.
func (o *ccpOptions) finished() {
	l := o.l
	if o.held {
		// A renegotiation that failed: the hold ends as CCP does.
		o.held = false
		l.notifyDown(DownEvent{Protocol: wire.ProtoCCP, Reason: l.ccp.reason, Cause: l.ccp.cause})
	}
	if o.cfg().Required && o.cfg().enabled() && l.phase == PhaseNetwork {
		reason := l.ccp.reason
		if reason == "" {
			reason = "CCP closed"
		}
		l.closeWith(CauseEncryption, "MPPE required: "+reason)
	}
}

// code handles Reset-Request and Reset-Ack (RFC 1962 §2.2, RFC 3078 §8).
func (o *ccpOptions) code(p wire.Packet) (event, bool) {
	switch p.Code {
	case wire.ResetReq:
		if o.open != nil && o.l.ccp.state == Opened {
			// RFC 1962 §2.2: the compressor resets and answers Reset-Ack
			// with the Identifier of the request.
			o.l.debugMPPE("MPPE: Reset-Request id %d from the peer: our sender flushes (RFC 3078 §8)", p.ID)
			o.l.ccp.send(Opened, wire.ResetAck, p.ID, nil)
			if h, ok := o.l.cfg.Handler.(ResetHandler); ok {
				h.ResetRequested()
			}
		}
		return 0, false
	case wire.ResetAck:
		if o.resetPending && p.ID == o.resetID {
			o.l.debugMPPE("MPPE: Reset-Ack id %d: resynchronised", p.ID)
			o.resetPending, o.resetRepeat = false, false
			o.resetTimer.stop()
		}
		return 0, false
	}
	return evRUC, true
}

func (o *ccpOptions) optionName(t uint8) string {
	if t == mppe.OptionType {
		return "MS-PPC supported bits"
	}
	return "Type" + itoa(int(t))
}

// FallBackToStateless is the fallback of document 001's PPTP flow-control
// alarm: when CCP is Opened with stateful MPPE, this end insists on
// stateless mode from now on and renegotiates CCP with a Configure-Request
// carrying the H bit. RFC 3078 §2.1: stateless mode is one for both
// directions, and a peer that asked for stateful takes the H bit from our
// Nak (as judge and gotNak here, Windows and pppd do). The link refuses
// plain IP until CCP opens again (DownEvent.Renegotiating); the new
// ciphers start from the start keys, as after any CCP negotiation. It
// reports whether it did: at most once per link, and never with MPPE
// stateless or not open. On the link's goroutine.
func (l *Link) FallBackToStateless(why string) bool {
	o := l.ccpo
	if l.dead || o.stateless || o.open == nil || o.open.Stateless || l.ccp.state != Opened {
		return false
	}
	o.stateless = true
	o.req |= mppe.OptStateless
	l.debugMPPE("MPPE: %s: falling back from stateful to stateless mode, CCP renegotiates", why)
	l.ccp.renegotiate()
	return true
}

// SendResetRequest asks the peer to flush its MPPE sender (RFC 3078 §8):
// the owner calls it, on the link's goroutine, when its mppe.Decrypter
// returns mppe.ErrResync. One Reset-Request is outstanding at a time
// (RFC 1962 §2.2, as pppd): a call while one awaits its Reset-Ack is
// remembered, and when no Reset-Ack has come within Restart the request
// is sent again with a new Identifier. A lost request that nobody asks
// for again is not retransmitted: a stateful Decrypter keeps returning
// ErrResync until the flushed packet comes. Without MPPE open it does
// nothing.
func (l *Link) SendResetRequest() {
	o := l.ccpo
	if l.dead || o.open == nil || l.ccp.state != Opened {
		return
	}
	if o.resetPending {
		o.resetRepeat = true
		return
	}
	o.sendReset()
}

func (o *ccpOptions) sendReset() {
	f := o.l.ccp
	o.resetID = f.newID()
	o.resetPending, o.resetRepeat = true, false
	o.l.debugMPPE("MPPE: packets lost on a stateful link: Reset-Request id %d (RFC 3078 §8)", o.resetID)
	f.send(Opened, wire.ResetReq, o.resetID, nil)
	o.resetTimer.start(o.l.cfg.Restart)
}

func (o *ccpOptions) resetTimeout() {
	if !o.resetPending {
		return
	}
	if o.resetRepeat && o.open != nil && o.l.ccp.state == Opened {
		o.sendReset()
		return
	}
	o.resetPending = false
}

// mppeText is the option as IOS prints it: "128 bit, stateless".
func mppeText(o mppe.Options) string {
	var b []byte
	for _, s := range []struct {
		bit  mppe.Options
		name string
	}{{mppe.Opt40, "40"}, {mppe.Opt56, "56"}, {mppe.Opt128, "128"}} {
		if o&s.bit != 0 {
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, s.name...)
			b = append(b, " bit"...)
		}
	}
	if len(b) == 0 {
		b = append(b, "no key"...)
	}
	if o&mppe.OptStateless != 0 {
		b = append(b, ", stateless"...)
	} else {
		b = append(b, ", stateful"...)
	}
	if o&mppe.OptMPPC != 0 {
		b = append(b, ", MPPC"...)
	}
	return string(b)
}
