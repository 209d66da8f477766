package ike

import (
	"net/netip"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// childSA derives KEYMAT for both SPIs (RFC 2409 §5.5) and describes the
// child SA the quick mode makes.
func (q *qm) childSA() *ChildSA {
	p, o := q.p, q.chosen
	ni, nr := q.ni, q.nr
	ek, ak := encKeyLen(o.tid, o.keyBits), authKeyLen(o.auth)
	in := keymat(p.pol.Hash, p.k.d, q.gqm, isakmp.ProtoESP, q.spiIn, ni, nr, ek+ak)
	out := keymat(p.pol.Hash, p.k.d, q.gqm, isakmp.ProtoESP, q.spiOut, ni, nr, ek+ak)
	kb := o.keyBits
	if o.tid == isakmp.ESP3DES {
		kb = 192
	}
	c := &ChildSA{Profile: p.prof.Name, Peer: p.peer, MessageID: q.mid, Initiator: q.role == Initiator, SPIIn: q.spiIn, SPIOut: q.spiOut,
		Transform: o.tid, KeyBits: kb, Auth: o.auth, Encap: o.encap,
		EncKeyIn: in[:ek], AuthKeyIn: in[ek:], EncKeyOut: out[:ek], AuthKeyOut: out[ek:],
		Lifetime: o.life, LifeKB: o.lifeKB, PFS: q.group, Local: q.local, Remote: q.remote, Established: q.n.cfg.Clock.Now(),
		PeerBehindNAT: p.natt && p.natRemote, PeerOriginal: q.origPeer}
	if c.LifeKB == ^uint64(0) {
		c.LifeKB = 0
	}
	return c
}

// announceInbound (responder, QM2 about to leave) hands out the child SA
// so that its inbound half is in place before the initiator can use it
// (EventChildInbound).
func (q *qm) announceInbound() {
	q.inbound = q.childSA()
	child := *q.inbound
	q.n.emitEarly(Event{Kind: EventChildInbound, Peer: q.p.peer, ConnID: q.p.id, Child: &child})
}

// failedChild is, for EventChildFailed, the child whose inbound half was
// announced and must go.
func (q *qm) failedChild() *ChildSA {
	if q.inbound == nil {
		return nil
	}
	child := *q.inbound
	q.inbound = nil
	return &child
}

// install hands the child SA out: both halves in use.
func (q *qm) install() {
	p, o := q.p, q.chosen
	q.setState(qmInstallAwait)
	q.child = q.childSA()
	q.inbound = nil
	q.setState(qmComplete)
	q.n.children[q.spiIn] = q
	q.gen++
	gen := q.gen
	// A rekey event at 90% of the lifetime (IOS's soft lifetime), then
	// the SA expires.
	q.rekey = q.n.after(o.life*9/10, func() {
		if q.gen == gen && !q.rekeyed {
			q.rekeyed = true
			child := *q.child
			q.n.emit(Event{Kind: EventChildRekey, Peer: p.peer, ConnID: p.id, Child: &child})
		}
	})
	q.expire = q.n.after(o.life, func() {
		if q.gen == gen {
			q.debugf(" IPSEC(delete_sa): lifetime expired, deleting SA spi %#x", q.spiIn)
			q.remove("lifetime expired", true)
		}
	})
	child := *q.child
	q.n.emit(Event{Kind: EventChildUp, Peer: p.peer, ConnID: p.id, Child: &child})
}

// countBytes applies the kilobyte lifetime.
func (q *qm) countBytes(octets uint64) {
	q.octets += octets
	lim := q.child.LifeKB * 1024
	if lim == 0 {
		return
	}
	if q.octets >= lim {
		q.debugf(" IPSEC(delete_sa): kilobyte lifetime expired, deleting SA spi %#x", q.spiIn)
		q.remove("kilobyte lifetime expired", true)
		return
	}
	if !q.rekeyed && q.octets >= lim/10*9 {
		q.rekeyed = true
		child := *q.child
		q.n.emit(Event{Kind: EventChildRekey, Peer: q.p.peer, ConnID: q.p.id, Child: &child})
	}
}

// remove deletes an installed child SA; with notify, the peer gets a
// Delete with our inbound SPI over an established phase-1 SA.
func (q *qm) remove(reason string, notify bool) {
	if q.n.children[q.spiIn] != q {
		return
	}
	q.stopTimers()
	delete(q.n.children, q.spiIn)
	delete(q.p.qms, q.mid)
	if notify {
		if p := q.n.phase1With(q.p.peer); p != nil {
			p.sendInfo(isakmp.PayloadDelete, isakmp.AppendDelete(nil, isakmp.ProtoESP, be32(q.spiIn)))
		}
	}
	child := *q.child
	q.n.emit(Event{Kind: EventChildDown, Peer: q.p.peer, ConnID: q.p.id, Child: &child, Reason: reason})
}

// phase1With returns an established phase-1 SA with peer: the one with
// its address and port (several peers behind one NAT share the address),
// else one with its address (a NAT-T peer may have moved to 4500).
func (n *Node) phase1With(peer netip.AddrPort) *p1 {
	for _, p := range n.sas {
		if p.peer == peer && p.state == stP1Complete && !p.dying {
			return p
		}
	}
	for _, p := range n.sas {
		if p.peer.Addr() == peer.Addr() && p.state == stP1Complete && !p.dying {
			return p
		}
	}
	return nil
}
