package ppp

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"

	"github.com/vpdn/vpdn/wire/mppe"
	wire "github.com/vpdn/vpdn/wire/ppp"
)

// Debug lines follow IOS `debug ppp negotiation` and `debug ppp
// authentication`:
//
//	Vi3 LCP: O CONFREQ [Closed] id 1 len 14
//	Vi3 LCP:    AuthProto CHAP (0x0305C22305)
//	Vi3 LCP: State is Open
//	Vi3 CHAP: O CHALLENGE id 1 len 26 from "LNS"
//
// They are logged at Debug level with a "debug" attribute naming the
// switch ("ppp negotiation", "ppp authentication"), so a handler can filter
// per switch. CCP's lines, which negotiate MPPE (RFC 3078 §2), belong to
// both `debug ppp negotiation` and `debug ppp mppe` and name both; MPPE's
// resynchronisation (CCP Reset-Request and Reset-Ack, RFC 3078 §8) is
// `debug ppp mppe`'s alone.

const (
	debugNegotiation    = "ppp negotiation"
	debugAuthentication = "ppp authentication"
	debugMPPE           = "ppp mppe"
	debugNegMPPE        = debugNegotiation + "," + debugMPPE
)

func (l *Link) enabled() bool {
	return l.log != nil && l.log.Enabled(context.Background(), slog.LevelDebug)
}

func (l *Link) negEnabled() bool  { return l.enabled() }
func (l *Link) authEnabled() bool { return l.enabled() }

func (l *Link) emit(sw, msg string) {
	if l.cfg.Name != "" {
		msg = l.cfg.Name + " " + msg
	}
	l.log.LogAttrs(context.Background(), slog.LevelDebug, msg, slog.String("debug", sw))
}

func (l *Link) debugNeg(format string, args ...any) {
	if l.negEnabled() {
		l.emit(debugNegotiation, fmt.Sprintf(format, args...))
	}
}

// debugCCP is a line of CCP's MPPE negotiation.
func (l *Link) debugCCP(format string, args ...any) {
	if l.negEnabled() {
		l.emit(debugNegMPPE, fmt.Sprintf(format, args...))
	}
}

// debugMPPE is an MPPE event outside negotiation (a resynchronisation).
func (l *Link) debugMPPE(format string, args ...any) {
	if l.enabled() {
		l.emit(debugMPPE, fmt.Sprintf(format, args...))
	}
}

func (l *Link) debugAuth(format string, args ...any) {
	if l.authEnabled() {
		l.emit(debugAuthentication, fmt.Sprintf(format, args...))
	}
}

// logPacket prints a control packet and, for Configure packets, one line
// per option.
func (l *Link) logPacket(proto wire.Protocol, dir string, st State, p wire.Packet, optName func(uint8) string) {
	switch proto {
	case wire.ProtoPAP, wire.ProtoCHAP, wire.ProtoEAP:
		l.logAuthPacket(proto, dir, p)
		return
	}
	sw := debugNegotiation
	if proto == wire.ProtoCCP {
		sw = debugNegMPPE
	}
	l.emit(sw, fmt.Sprintf("%s: %s %s [%s] id %d len %d", proto, dir, p.Code, st, p.ID, p.Len()))
	switch p.Code {
	case wire.ConfReq, wire.ConfAck, wire.ConfNak, wire.ConfRej:
	case wire.ProtoRej:
		if rp, _, err := wire.ParseProtocolReject(p.Data); err == nil {
			l.emit(sw, fmt.Sprintf("%s:    rejected protocol %s", proto, rp))
		}
		return
	default:
		return
	}
	it := wire.Options(p.Data)
	for it.Next() {
		o := it.Option()
		name := fmt.Sprintf("Type%d", o.Type)
		if optName != nil {
			name = optName(o.Type)
		}
		l.emit(sw, fmt.Sprintf("%s:    %s%s (0x%s)", proto, name, optionValueText(proto, o), strings.ToUpper(hex.EncodeToString(o.Raw))))
		if proto == wire.ProtoCCP && o.Type == mppe.OptionType {
			if v, err := mppe.ParseOptionValue(o.Value); err == nil {
				l.emit(sw, fmt.Sprintf("%s:    MPPE %s", proto, mppeText(v)))
			}
		}
	}
	if it.Err() != nil {
		l.emit(sw, fmt.Sprintf("%s:    malformed options: %v", proto, it.Err()))
	}
}

func optionValueText(proto wire.Protocol, o wire.Option) string {
	switch proto {
	case wire.ProtoLCP:
		switch o.Type {
		case wire.LCPOptMRU:
			if v, err := wire.OptionUint16(o.Value); err == nil {
				return fmt.Sprintf(" %d", v)
			}
		case wire.LCPOptACCM, wire.LCPOptMagic:
			if v, err := wire.OptionUint32(o.Value); err == nil {
				return fmt.Sprintf(" 0x%08X", v)
			}
		case wire.LCPOptAuthProto:
			if a, err := wire.ParseAuthProto(o.Value); err == nil {
				return " " + a.String()
			}
		}
	case wire.ProtoIPCP:
		if a, err := wire.OptionAddr(o.Value); err == nil {
			return " " + a.String()
		}
	case wire.ProtoCCP:
		if v, err := mppe.ParseOptionValue(o.Value); err == nil && o.Type == mppe.OptionType {
			return fmt.Sprintf(" 0x%08X", uint32(v))
		}
	case wire.ProtoIPv6CP:
		if id, err := wire.OptionInterfaceID(o.Value); err == nil {
			return " " + id.String()
		}
	}
	return ""
}

func (l *Link) logAuthPacket(proto wire.Protocol, dir string, p wire.Packet) {
	var name, from string
	switch proto {
	case wire.ProtoPAP:
		name = wire.PAPCodeName(p.Code)
		if p.Code == wire.PAPRequest {
			if id, _, err := wire.ParsePAPRequest(p.Data); err == nil {
				from = fmt.Sprintf(" from %q", id)
			}
		}
	case wire.ProtoCHAP:
		name = wire.CHAPCodeName(p.Code)
		if p.Code == wire.CHAPChallenge || p.Code == wire.CHAPResponse {
			if _, n, err := wire.ParseCHAPValue(p.Data); err == nil {
				from = fmt.Sprintf(" from %q", n)
			}
		}
	case wire.ProtoEAP:
		name = wire.EAPCodeName(p.Code)
		if len(p.Data) > 0 && (p.Code == wire.EAPRequest || p.Code == wire.EAPResponse) {
			from = fmt.Sprintf(" type %d", p.Data[0])
		}
	}
	l.emit(debugAuthentication, fmt.Sprintf("%s: %s %s id %d len %d%s", proto, dir, name, p.ID, p.Len(), from))
}
