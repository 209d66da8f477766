package dataplane

// The MPPE payload stage (RFC 3078), for PPP sessions of any carrier:
//
//	receive: PPP 0x00FD ─▶ Decrypt in place ─▶ the inner PPP frame ─┬─▶ IPv4/IPv6 ─▶ receiveIP (GRO after decryption)
//	                                                                └─▶ anything else ─▶ Session.OnFrame
//	         plain IPv4/IPv6 while MPPE is on ─▶ dropped (unencrypted)
//
//	transmit: IP ─▶ [protocol][IP] ─▶ Encrypt in place behind the MPPE header
//	          ─▶ PPP header of 0x00FD ─▶ Encap.Put ─▶ Bind.WriteTo
//
// The PPP link's own frames (WriteFrame: LCP, CCP, authentication, NCPs)
// stay plain: RFC 3078 §3 encrypts only the protocols negotiated under
// CCP, never LCP or CCP themselves. A TSO super-packet is cut into
// segments before encryption, each segment its own MPPE packet
// (sendGSO).

import (
	"sync"

	"github.com/vpdn/vpdn/wire/mppe"
	"github.com/vpdn/vpdn/wire/ppp"
)

// mppeStage is the MPPE pair of a session, replaced whole by SetMPPE.
type mppeStage struct {
	// txMu is held from encryption to the send: coherency counts must
	// leave in the order they were taken, or the peer takes the later
	// one for loss (stateful) and drops the earlier as late.
	txMu sync.Mutex
	enc  *mppe.Encrypter
	// rxMu: a Decrypter is not safe for concurrent use, and a session may
	// be reached from more than one reader.
	rxMu sync.Mutex
	dec  *mppe.Decrypter
}

// SetMPPE installs MPPE on the session's PPP payload (the PPP link's CCP
// opened with MPPE, RFC 3078 §2), replacing any pair installed before;
// SetMPPE(nil, nil) removes it. While a pair is installed, IP leaves
// encrypted and plain IP from the peer is dropped; a direction whose half
// is nil drops its IP (unencrypted, mppe-bad) rather than carry it in the
// clear. Safe to call while packets flow.
func (s *Session) SetMPPE(enc *mppe.Encrypter, dec *mppe.Decrypter) {
	if enc == nil && dec == nil {
		s.mppe.Store(nil)
		return
	}
	s.mppe.Store(&mppeStage{enc: enc, dec: dec})
}

// HoldMPPE drops the session's IP in both directions (unencrypted,
// mppe-bad) until SetMPPE: CCP is renegotiating MPPE (a new Configure-
// Request in Opened, RFC 1661 §4.1), the old ciphers are gone and the new
// ones not yet agreed, and IP must not go plain meanwhile. Safe to call
// while packets flow.
func (s *Session) HoldMPPE() { s.mppe.Store(new(mppeStage)) }

// MPPE returns the installed pair, nil and nil when there is none.
func (s *Session) MPPE() (*mppe.Encrypter, *mppe.Decrypter) {
	if m := s.mppe.Load(); m != nil {
		return m.enc, m.dec
	}
	return nil, nil
}

// receiveMPPE decrypts the information field of a PPP frame of protocol
// 0x00FD (the frame: payload) in place and delivers the inner frame.
func (p *Plane) receiveMPPE(s *Session, m *mppeStage, payload, info []byte, r *Receiver) {
	if m.dec == nil {
		p.drop(DropMPPEBad)
		return
	}
	m.rxMu.Lock()
	plain, err := m.dec.Decrypt(info[:0], info)
	m.rxMu.Unlock()
	if err != nil {
		switch err {
		case mppe.ErrResync:
			p.drop(DropMPPEResync)
			if s.OnResync != nil {
				s.OnResync()
			}
		case mppe.ErrDiscarding:
			p.drop(DropMPPEDiscarding)
		case mppe.ErrLate:
			p.drop(DropMPPELate)
		default:
			p.drop(DropMPPEBad)
		}
		return
	}
	// The decrypted data is the protocol field and information of the
	// packet carried (RFC 3078 §3), a PPP frame without address and
	// control; its protocol field may be compressed.
	proto, inner, err := ppp.ParseFrame(plain)
	if err != nil || proto == mppe.Protocol {
		p.drop(DropBadPPP)
		return
	}
	if proto == ppp.ProtoIPv4 || proto == ppp.ProtoIPv6 {
		p.receiveIP(s, inner, len(payload), r)
		return
	}
	if s.OnFrame == nil {
		p.drop(DropUnhandledPPP)
		return
	}
	s.rxPkts.Add(1)
	s.rxBytes.Add(uint64(len(payload)))
	s.OnFrame(plain)
}

// mppeOverhead is what MPPE puts between the PPP header of 0x00FD and the
// packet: its header and the (uncompressed) protocol field of the packet.
const mppeOverhead = mppe.HeaderLen + 2

// sendMPPE is sendPacket's PPP framing under MPPE: the IP packet at
// buf[Headroom:Headroom+n] is encrypted in place with its protocol field,
// framed as PPP 0x00FD and sent.
func (p *Plane) sendMPPE(s *Session, att *attachment, m *mppeStage, buf []byte, n int, proto ppp.Protocol) {
	if m.enc == nil {
		p.drop(DropUnencrypted)
		return
	}
	// The inner protocol field is written uncompressed: every receiver
	// takes it (RFC 1661 §6.5).
	buf[Headroom-2], buf[Headroom-1] = byte(proto>>8), byte(proto)
	hdr := Headroom - mppeOverhead
	m.txMu.Lock()
	m.enc.Encrypt(buf[hdr:hdr], buf[Headroom-2:Headroom+n])
	start, err := att.Framing.Prepend(buf, hdr, mppe.Protocol)
	if err != nil {
		m.txMu.Unlock()
		p.drop(DropTooBig)
		return
	}
	p.send(s, buf, start, Headroom+n)
	m.txMu.Unlock()
}
