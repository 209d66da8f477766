package ike

import (
	"crypto/hmac"
	"encoding/binary"
	"net/netip"

	"github.com/vpdn/vpdn/wire/isakmp"
)

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
// ours with its address are stale and go, without notifying it. A peer
// behind a NAT is its address and NAT-T port: other clients behind the
// same NAT share the address, and one client's INITIAL-CONTACT must not
// end the others' SAs (xl2tpd #82, libreswan #322).
func (p *p1) initialContact(ps *payloads) {
	found := false
	for _, nt := range ps.notifies {
		found = found || nt.Type == isakmp.NotifyInitialContact
	}
	if !found {
		return
	}
	addr := p.peer.Addr()
	same := func(o *p1) bool {
		if p.natt && p.natRemote {
			return o.peer == p.peer
		}
		return o.peer.Addr() == addr
	}
	for _, q := range p.n.children {
		if q.p != p && same(q.p) {
			q.remove("initial contact", false)
		}
	}
	for _, o := range p.n.sas {
		if o != p && same(o) && o.state == stP1Complete {
			o.debugf(" INITIAL_CONTACT from %v: deleting the old SA", addr)
			o.destroy("initial contact", false)
		}
	}
}

// floatIfNAT moves an initiator that NAT-D found behind (or facing) a NAT
// to port 4500 before it sends its ID (RFC 3947 §4: MM5 or AM3), where
// IKE carries the non-ESP marker and ESP will be UDP-encapsulated. The
// owner's Send tells the ports apart.
func (p *p1) floatIfNAT() {
	if !p.natt || !(p.natLocal || p.natRemote) || p.peer.Port() != 500 {
		return
	}
	p.peer = netip.AddrPortFrom(p.peer.Addr(), 4500)
	p.debugf(" NAT-T: floating to port 4500 of %v", p.peer.Addr())
}

// natOA reports whether a quick mode in transport mode carries NAT-OA
// payloads: NAT-D found a NAT (RFC 3947 §5.2: the original addresses
// let a transport-mode peer fix the TCP and UDP checksums the NAT
// invalidated).
func (p *p1) natOA(transport bool) bool {
	return transport && p.natt && (p.natLocal || p.natRemote)
}

// appendNATOA adds NAT-OAi and NAT-OAr (RFC 3947 §5.2): the initiator's
// and the responder's addresses as each end knows them. The body is an
// ID payload's with the protocol and port octets reserved.
func appendNATOA(e *isakmp.Encoder, initiator, responder netip.Addr) {
	for _, a := range []netip.Addr{initiator, responder} {
		e.Raw(isakmp.PayloadNATOA, isakmp.AppendID(nil, isakmp.IDAddr(a.Unmap(), 0, 0)))
	}
}

// parseNATOA reads a NAT-OA body: an IPv4 or IPv6 address, reserved
// octets zero.
func parseNATOA(body []byte) (netip.Addr, bool) {
	id, err := isakmp.ParseID(body)
	if err != nil || (id.Type != isakmp.IDIPv4Addr && id.Type != isakmp.IDIPv6Addr) || id.Protocol != 0 || id.Port != 0 {
		return netip.Addr{}, false
	}
	a, ok := netip.AddrFromSlice(id.Data)
	return a, ok
}

// peerOriginal is the peer's own address from the NAT-OA payloads of a
// quick-mode message (NAT-OAi from an initiator, NAT-OAr from a
// responder), or the zero Addr if absent or malformed.
func peerOriginal(natoa [][]byte, peerInitiated bool) netip.Addr {
	i := 1
	if peerInitiated {
		i = 0
	}
	if len(natoa) != 2 {
		return netip.Addr{}
	}
	a, _ := parseNATOA(natoa[i])
	return a
}
