package ppp

import (
	"slices"

	"github.com/vpdn/vpdn/aaa"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// lcpValues are the LCP options in force in one direction.
type lcpValues struct {
	mru       int
	accm      uint32
	magic     uint32
	auth      aaa.Method
	pfc, acfc bool
}

// lcpOptions is the LCP option handler (RFC 1661 §6, RFC 1662 §7.1).
type lcpOptions struct {
	l *Link

	// Our request as it stands.
	mru       int
	sendMRU   bool
	accm      uint32
	sendACCM  bool
	magic     uint32
	sendMagic bool
	pfc, acfc bool
	authIdx   int // index into Auth.Methods of the method we ask for
	sendAuth  bool
	tried     []aaa.Method
	loops     int // peer requests carrying our own magic
	// refusedAuth: we Nak'd or rejected the method the peer asked to
	// authenticate us with.
	refusedAuth bool

	local lcpValues // our request as the peer acked it
	peer  lcpValues // the peer's request as we acked it
}

func methodOf(a wire.AuthProto) aaa.Method {
	switch a.Protocol {
	case wire.ProtoPAP:
		return aaa.PAP
	case wire.ProtoEAP:
		return aaa.EAPMD5
	case wire.ProtoCHAP:
		switch a.Algorithm {
		case wire.CHAPMD5:
			return aaa.CHAP
		case wire.CHAPMSv1:
			return aaa.MSCHAPv1
		case wire.CHAPMSv2:
			return aaa.MSCHAPv2
		}
	}
	return 0
}

func authProtoOf(m aaa.Method) wire.AuthProto {
	switch m {
	case aaa.PAP:
		return wire.AuthProto{Protocol: wire.ProtoPAP}
	case aaa.CHAP:
		return wire.AuthProto{Protocol: wire.ProtoCHAP, Algorithm: wire.CHAPMD5}
	case aaa.MSCHAPv1:
		return wire.AuthProto{Protocol: wire.ProtoCHAP, Algorithm: wire.CHAPMSv1}
	case aaa.MSCHAPv2:
		return wire.AuthProto{Protocol: wire.ProtoCHAP, Algorithm: wire.CHAPMSv2}
	case aaa.EAPMD5:
		return wire.AuthProto{Protocol: wire.ProtoEAP}
	}
	return wire.AuthProto{}
}

// selfPreference is the order in which this end offers to be
// authenticated when the peer asks for something it refuses.
var selfPreference = []aaa.Method{aaa.MSCHAPv2, aaa.CHAP, aaa.MSCHAPv1, aaa.EAPMD5, aaa.PAP}

// canBeAuthenticatedWith reports whether this end will authenticate
// itself to the peer with m.
func (l *Link) canBeAuthenticatedWith(m aaa.Method) bool {
	return m != 0 && l.cfg.Auth.Hostname != "" && !slices.Contains(l.cfg.Auth.Refuse, m)
}

// wantAuthPeer reports whether this end authenticates the peer.
func (l *Link) wantAuthPeer() bool {
	a := &l.cfg.Auth
	if len(a.Methods) == 0 {
		return false
	}
	if a.Callin && l.cfg.Outgoing {
		return false // `callin`: only incoming calls are authenticated
	}
	if a.IfNeeded && a.Preauthenticated != nil && a.Preauthenticated.Accept {
		return false
	}
	return true
}

func (o *lcpOptions) resetOptions() {
	cfg := &o.l.cfg
	o.mru, o.sendMRU = cfg.MRU, cfg.MRU != wire.DefaultMRU
	o.accm, o.sendACCM = cfg.ACCM, cfg.RequestACCM
	o.sendMagic = !cfg.NoMagic
	o.magic = 0
	if o.sendMagic {
		o.magic = o.l.randomMagic()
	}
	o.pfc, o.acfc = cfg.PFC, cfg.ACFC && cfg.AddressControl
	o.authIdx, o.sendAuth = 0, o.l.wantAuthPeer()
	o.tried = o.tried[:0]
}

func (o *lcpOptions) currentAuth() aaa.Method {
	if !o.sendAuth {
		return 0
	}
	return o.l.cfg.Auth.Methods[o.authIdx]
}

func (o *lcpOptions) appendRequest(b []byte) []byte {
	if o.sendMRU {
		b = wire.AppendOptionUint16(b, wire.LCPOptMRU, uint16(o.mru))
	}
	if o.sendACCM {
		b = wire.AppendOptionUint32(b, wire.LCPOptACCM, o.accm)
	}
	if o.sendAuth {
		b = wire.AppendAuthProtoOption(b, authProtoOf(o.currentAuth()))
	}
	if o.sendMagic {
		b = wire.AppendOptionUint32(b, wire.LCPOptMagic, o.magic)
	}
	if o.pfc {
		b = wire.AppendOptionEmpty(b, wire.LCPOptPFC)
	}
	if o.acfc {
		b = wire.AppendOptionEmpty(b, wire.LCPOptACFC)
	}
	return b
}

func (o *lcpOptions) gotAck([]byte) {
	o.local = lcpValues{mru: wire.DefaultMRU, accm: wire.DefaultACCM, auth: o.currentAuth(), pfc: o.pfc, acfc: o.acfc}
	if o.sendMRU {
		o.local.mru = o.mru
	}
	if o.sendACCM {
		o.local.accm = o.accm
	}
	if o.sendMagic {
		o.local.magic = o.magic
	}
}

func (o *lcpOptions) gotNak(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		switch op.Type {
		case wire.LCPOptMRU:
			if v, err := wire.OptionUint16(op.Value); err == nil && v >= 128 {
				o.mru, o.sendMRU = int(v), true
			}
		case wire.LCPOptACCM:
			if v, err := wire.OptionUint32(op.Value); err == nil && o.sendACCM {
				o.accm |= v // escape what either side needs
			}
		case wire.LCPOptAuthProto:
			if !o.sendAuth {
				continue
			}
			a, _ := wire.ParseAuthProto(op.Value)
			o.authFallback(methodOf(a))
			if o.l.lcp.state == Closing || o.l.dead {
				return
			}
		case wire.LCPOptMagic:
			if o.sendMagic {
				// RFC 1661 §6.4: a Nak'd Magic-Number is replaced by a new
				// random one, not by the peer's suggestion.
				o.magic = o.l.randomMagic()
			}
		}
	}
}

// authFallback moves to the next method of the configured list after the
// peer Nak'd our Authentication-Protocol: the one the peer suggested if it
// is on the list and untried, else the next one (as IOS walks `ppp
// authentication ms-chap-v2 chap pap`).
func (o *lcpOptions) authFallback(suggested aaa.Method) {
	methods := o.l.cfg.Auth.Methods
	o.tried = append(o.tried, methods[o.authIdx])
	if i := slices.Index(methods, suggested); i >= 0 && !slices.Contains(o.tried, suggested) {
		o.authIdx = i
		return
	}
	for i, m := range methods {
		if !slices.Contains(o.tried, m) {
			o.authIdx = i
			return
		}
	}
	o.l.lcp.reason, o.l.lcp.cause = "No common authentication protocol", CauseAuthFailed
	o.l.debugAuth("PPP: peer refuses every configured authentication method")
	o.l.lcp.event(evClose)
}

func (o *lcpOptions) gotReject(opts []byte) {
	it := wire.Options(opts)
	for it.Next() {
		switch it.Option().Type {
		case wire.LCPOptMRU:
			o.sendMRU, o.mru = false, wire.DefaultMRU
		case wire.LCPOptACCM:
			o.sendACCM = false
		case wire.LCPOptAuthProto:
			if o.sendAuth {
				o.l.lcp.reason, o.l.lcp.cause = "Peer refused to authenticate", CauseAuthFailed
				o.l.debugAuth("PPP: peer rejected the Authentication-Protocol option")
				o.l.lcp.event(evClose)
				return
			}
		case wire.LCPOptMagic:
			o.sendMagic, o.magic = false, 0
		case wire.LCPOptPFC:
			o.pfc = false
		case wire.LCPOptACFC:
			o.acfc = false
		}
	}
}

func (o *lcpOptions) judge(opts []byte, j *judgement) {
	cfg := &o.l.cfg
	o.peer = lcpValues{mru: wire.DefaultMRU, accm: wire.DefaultACCM}
	it := wire.Options(opts)
	for it.Next() {
		op := it.Option()
		switch op.Type {
		case wire.LCPOptMRU:
			v, err := wire.OptionUint16(op.Value)
			switch {
			case err != nil:
				j.reject(op)
			case v < 128:
				j.nakWith(op, wire.AppendOptionUint16(nil, wire.LCPOptMRU, wire.DefaultMRU))
			default:
				o.peer.mru = int(v)
			}
		case wire.LCPOptACCM:
			v, err := wire.OptionUint32(op.Value)
			if err != nil {
				j.reject(op)
				continue
			}
			o.peer.accm = v
		case wire.LCPOptAuthProto:
			a, err := wire.ParseAuthProto(op.Value)
			m := methodOf(a)
			switch {
			case err == nil && o.l.canBeAuthenticatedWith(m):
				o.peer.auth = m
			default:
				o.refusedAuth = true
				if alt := o.preferredSelf(); alt != 0 {
					j.nakWith(op, wire.AppendAuthProtoOption(nil, authProtoOf(alt)))
				} else {
					j.reject(op)
				}
			}
		case wire.LCPOptMagic:
			v, err := wire.OptionUint32(op.Value)
			switch {
			case err != nil:
				j.reject(op)
			case v == 0:
				j.nakWith(op, wire.AppendOptionUint32(nil, wire.LCPOptMagic, o.l.randomMagic()))
			case o.sendMagic && v == o.magic:
				// RFC 1661 §6.4: our own magic coming back. Persisting
				// equality means the link is looped back.
				o.loops++
				if o.loops >= cfg.MaxFailure {
					o.l.lcp.reason, o.l.lcp.cause = "Loopback detected", CauseLoopback
					o.l.debugNeg("LCP: loopback detected (magic 0x%08X)", v)
					o.l.lcp.event(evClose)
					return
				}
				o.magic = o.l.randomMagic()
				j.nakWith(op, wire.AppendOptionUint32(nil, wire.LCPOptMagic, o.l.randomMagic()))
			default:
				o.peer.magic = v
			}
		case wire.LCPOptPFC:
			if cfg.PFC && len(op.Value) == 0 {
				o.peer.pfc = true
			} else {
				j.reject(op)
			}
		case wire.LCPOptACFC:
			if cfg.ACFC && cfg.AddressControl && len(op.Value) == 0 {
				o.peer.acfc = true
			} else {
				j.reject(op)
			}
		default:
			j.reject(op) // Quality-Protocol, Callback, Multilink, ...
		}
	}
}

// preferredSelf is the method we suggest when the peer asks to
// authenticate us with one we refuse; 0 when we will not be authenticated.
func (o *lcpOptions) preferredSelf() aaa.Method {
	for _, m := range selfPreference {
		if o.l.canBeAuthenticatedWith(m) {
			return m
		}
	}
	return 0
}

func (o *lcpOptions) up()       { o.l.lcpUp() }
func (o *lcpOptions) down()     { o.l.lcpDown() }
func (o *lcpOptions) started()  {}
func (o *lcpOptions) finished() { o.l.lcpFinished() }

func (o *lcpOptions) optionName(t uint8) string { return wire.LCPOptionName(t) }

// code handles the LCP-only codes (RFC 1661 §5.7-§5.9, RFC 1570).
func (o *lcpOptions) code(p wire.Packet) (event, bool) {
	l := o.l
	switch p.Code {
	case wire.ProtoRej:
		if l.lcp.state != Opened {
			return 0, false // RFC 1661 §5.7: only in the Opened state
		}
		proto, _, err := wire.ParseProtocolReject(p.Data)
		if err != nil {
			return 0, false
		}
		switch proto {
		case wire.ProtoLCP:
			l.lcp.reason, l.lcp.cause = "Peer rejected LCP", CauseNegotiation
			return evRXJm, true
		case wire.ProtoIPCP, wire.ProtoIPv6CP, wire.ProtoCCP:
			if f := l.ncp(proto); f != nil {
				f.protocolRejected()
			}
		case wire.ProtoPAP, wire.ProtoCHAP, wire.ProtoEAP:
			l.auth.rejected(proto)
		}
		return evRXJp, true
	case wire.EchoReq, wire.EchoRep, wire.DiscardReq:
		if l.lcp.state != Opened {
			return evRXR, true // the table ignores it
		}
		magic, _, err := wire.ParseMagicData(p.Data)
		if err != nil {
			return 0, false
		}
		if o.local.magic != 0 && magic == o.local.magic {
			l.debugNeg("LCP: %s carries our own magic number: link looped back?", p.Code)
			return 0, false
		}
		if p.Code == wire.EchoRep {
			l.echoMiss = 0
		}
		return evRXR, true
	case wire.Identification, wire.TimeRemaining:
		return 0, false // RFC 1570: informational, ignored
	}
	return evRUC, true
}

// startProxied starts LCP from the options a LAC negotiated (proxy LCP),
// subject to the renegotiation policy. It reports false when LCP must be
// negotiated afresh.
func (l *Link) startProxied() bool {
	p := l.cfg.ProxyLCP
	if l.cfg.Renegotiate == RenegotiateAlways {
		l.debugNeg("LCP: renegotiating (lcp renegotiation always)")
		return false
	}
	if wire.ValidateOptions(p.LastSent) != nil || wire.ValidateOptions(p.LastReceived) != nil {
		l.debugNeg("LCP: malformed proxy LCP, renegotiating")
		return false
	}
	o := l.lcpo
	o.resetOptions()
	// Our side: adopt what the LAC requested for us.
	o.sendMRU, o.sendACCM, o.sendMagic, o.pfc, o.acfc = false, false, false, false, false
	proxiedAuth := aaa.Method(0)
	it := wire.Options(p.LastSent)
	for it.Next() {
		op := it.Option()
		switch op.Type {
		case wire.LCPOptMRU:
			if v, err := wire.OptionUint16(op.Value); err == nil {
				o.mru, o.sendMRU = int(v), true
			}
		case wire.LCPOptACCM:
			if v, err := wire.OptionUint32(op.Value); err == nil {
				o.accm, o.sendACCM = v, true
			}
		case wire.LCPOptMagic:
			if v, err := wire.OptionUint32(op.Value); err == nil {
				o.magic, o.sendMagic = v, true
			}
		case wire.LCPOptAuthProto:
			if a, err := wire.ParseAuthProto(op.Value); err == nil {
				proxiedAuth = methodOf(a)
			}
		case wire.LCPOptPFC:
			o.pfc = true
		case wire.LCPOptACFC:
			o.acfc = true
		}
	}
	mismatch := ""
	idx := slices.Index(l.cfg.Auth.Methods, proxiedAuth)
	switch {
	case o.sendAuth && proxiedAuth == 0:
		mismatch = "the LAC did not ask for authentication"
	case o.sendAuth && idx < 0:
		mismatch = "the LAC agreed " + proxiedAuth.String() + ", not a configured method"
	case !o.sendAuth && proxiedAuth != 0:
		mismatch = "the LAC asked for authentication this end does not do"
	}
	if idx >= 0 {
		o.authIdx = idx
	}
	var j judgement
	o.judge(p.LastReceived, &j)
	if l.dead {
		return true
	}
	if mismatch == "" && (len(j.nak) > 0 || len(j.rej) > 0) {
		mismatch = "the client's options are not acceptable here"
	}
	if mismatch != "" {
		if l.cfg.Renegotiate == RenegotiateOnMismatch || (proxiedAuth != 0 && l.cfg.Auth.AAA == nil) {
			l.debugNeg("LCP: renegotiating: %s", mismatch)
			return false
		}
		l.debugNeg("LCP: proxy LCP mismatch ignored: %s", mismatch)
	}
	o.gotAck(nil)
	// Authenticate with what the client agreed to, whatever our list says.
	o.local.auth = proxiedAuth
	l.debugNeg("LCP: using proxy LCP options")
	l.lcp.state = Opened
	l.lcp.restart = 0
	l.debugNeg("LCP: State is Open")
	o.up()
	return true
}
