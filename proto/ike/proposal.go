package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// appendP1SA encodes our phase-1 offer: one proposal of KEY_IKE with a
// transform per policy, in priority order (RFC 2409 §5, Appendix A).
func appendP1SA(b []byte, pols []Policy) []byte { return appendP1SAAuth(b, pols, false) }

// appendP1SAAuth is appendP1SA with the authentication method of every
// transform: pre-shared keys, or XAUTHInitPreShared when we are an XAuth
// client (draft-beaulieu-ike-xauth-02 §5: the initiator is the one
// authenticated by XAuth).
func appendP1SAAuth(b []byte, pols []Policy, xauth bool) []byte {
	prop := isakmp.ProposalSpec{Num: 1, Protocol: isakmp.ProtoISAKMP}
	for i, pol := range pols {
		attrs := []isakmp.Attr{isakmp.BasicAttr(isakmp.AttrEncryption, uint16(pol.Encryption))}
		if pol.Encryption == CipherAES {
			attrs = append(attrs, isakmp.BasicAttr(isakmp.AttrKeyLength, uint16(pol.keyLen()*8)))
		}
		attrs = append(attrs,
			isakmp.BasicAttr(isakmp.AttrHash, uint16(pol.Hash)),
			isakmp.BasicAttr(isakmp.AttrAuthMethod, pol.authMethod(xauth)),
			isakmp.BasicAttr(isakmp.AttrGroupDesc, uint16(pol.Group)),
			isakmp.BasicAttr(isakmp.AttrLifeType, isakmp.LifeSeconds),
			isakmp.UintAttr(isakmp.AttrLifeDur, uint64(pol.lifetime()/time.Second)))
		prop.Transforms = append(prop.Transforms, isakmp.TransformSpec{Num: uint8(i + 1), ID: isakmp.TransformKeyIKE, Attrs: attrs})
	}
	return isakmp.AppendSA(b, []isakmp.ProposalSpec{prop})
}

// offer is a phase-1 transform as the peer proposed it.
type offer struct {
	num     uint8
	enc     Cipher
	keyBits int
	hash    Hash
	auth    uint16
	group   Group
	life    time.Duration
	raw     []byte // the transform's attributes as sent
}

// parseOffer decodes the attributes of a phase-1 transform (RFC 2409
// Appendix A).
func parseOffer(t isakmp.Transform) (offer, error) {
	o := offer{num: t.Num, raw: t.Attrs}
	if t.ID != isakmp.TransformKeyIKE {
		return o, fmt.Errorf("transform ID %d", t.ID)
	}
	d := isakmp.NewAttrDecoder(t.Attrs)
	lifeType := uint64(0)
	for d.Next() {
		a := d.Attr()
		v, ok := a.Uint()
		if !ok {
			return o, fmt.Errorf("attribute %d of %d octets", a.Type, len(a.Data))
		}
		switch a.Type {
		case isakmp.AttrEncryption:
			o.enc = Cipher(v)
		case isakmp.AttrKeyLength:
			o.keyBits = int(v)
		case isakmp.AttrHash:
			o.hash = Hash(v)
		case isakmp.AttrAuthMethod:
			o.auth = uint16(v)
		case isakmp.AttrGroupDesc:
			o.group = Group(v)
		case isakmp.AttrLifeType:
			lifeType = v
		case isakmp.AttrLifeDur:
			if lifeType == isakmp.LifeSeconds {
				o.life = time.Duration(min(v, 1<<31)) * time.Second
			}
		default:
			return o, fmt.Errorf("unsupported attribute %d", a.Type)
		}
	}
	if err := d.Err(); err != nil {
		return o, err
	}
	if o.enc == CipherAES && o.keyBits == 0 {
		o.keyBits = 128
	}
	if o.life == 0 {
		o.life = 86400 * time.Second
	}
	return o, nil
}

// matches reports whether o is pol's suite (the lifetime is compared by
// the caller).
func (o offer) matches(pol Policy) (bool, string) { return o.matchesAuth(pol, false) }

// matchesAuth is matches with the authentication method we accept: the
// policy's, as XAuth's variant when xauth.
func (o offer) matchesAuth(pol Policy, xauth bool) (bool, string) {
	kb := pol.keyLen() * 8
	switch {
	case o.enc != pol.Encryption || (pol.Encryption == CipherAES && o.keyBits != kb):
		return false, "Encryption algorithm offered does not match policy!"
	case o.hash != pol.Hash:
		return false, "Hash algorithm offered does not match policy!"
	case o.auth != pol.authMethod(xauth):
		return false, "Auth method offered does not match policy!"
	case o.group != pol.Group:
		return false, "Diffie-Hellman group offered does not match policy!"
	}
	return true, ""
}

// chooseP1 picks, as IOS does, the first of our policies in priority
// order that matches any of the peer's transforms. It returns the
// transform, its policy and the proposal it came in. Policies of
// rsa-sig authentication take part only with certificates configured
// (Config.Cert).
func (n *Node) chooseP1(saBody []byte, xauth bool) (offer, Policy, isakmp.Proposal, error) {
	sa, err := isakmp.ParseSA(saBody)
	if err != nil {
		return offer{}, Policy{}, isakmp.Proposal{}, &notifyError{isakmp.NotifySituationNotSupported, err}
	}
	type cand struct {
		o offer
		p isakmp.Proposal
	}
	var offers []cand
	pd := isakmp.NewProposalDecoder(sa.Proposals)
	for pd.Next() {
		prop := pd.Proposal()
		if prop.Protocol != isakmp.ProtoISAKMP {
			continue
		}
		td := isakmp.NewTransformDecoder(prop)
		for td.Next() {
			o, err := parseOffer(td.Transform())
			if err != nil {
				n.debugf(0, "transform %d: %v", td.Transform().Num, err)
				continue
			}
			offers = append(offers, cand{o, prop})
		}
		if err := td.Err(); err != nil {
			return offer{}, Policy{}, prop, &notifyError{isakmp.NotifyBadProposalSyntax, err}
		}
	}
	if err := pd.Err(); err != nil {
		return offer{}, Policy{}, isakmp.Proposal{}, &notifyError{isakmp.NotifyBadProposalSyntax, err}
	}
	for _, pol := range n.cfg.Policies {
		if pol.RSASig && n.cfg.Cert == nil {
			continue
		}
		for _, c := range offers {
			n.debugf(0, "Checking ISAKMP transform %d against priority %d policy", c.o.num, pol.Priority)
			n.debugf(0, "      encryption %v%s", c.o.enc, keyBitsNote(c.o.keyBits))
			n.debugf(0, "      hash %v", c.o.hash)
			n.debugf(0, "      default group %d", c.o.group)
			n.debugf(0, "      life duration (VPI) of %d", int64(c.o.life/time.Second))
			if ok, why := c.o.matchesAuth(pol, xauth); !ok {
				n.debugf(0, "%s", why)
				n.debugf(0, "atts are not acceptable. Next payload is 3")
				continue
			}
			n.debugf(0, "atts are acceptable. Next payload is 0")
			return c.o, pol, c.p, nil
		}
	}
	return offer{}, Policy{}, isakmp.Proposal{}, &notifyError{isakmp.NotifyNoProposalChosen, errors.New("no policy matches")}
}

func keyBitsNote(kb int) string {
	if kb == 0 {
		return ""
	}
	return fmt.Sprintf(" keylength of %d", kb)
}

// appendChosenSA answers an offer with the one transform chosen, its
// attributes as the peer sent them (RFC 2408 §4.2).
func appendChosenSA(b []byte, prop isakmp.Proposal, o offer, tid uint8) []byte {
	b = binary.BigEndian.AppendUint32(b, isakmp.DOIIPsec)
	b = binary.BigEndian.AppendUint32(b, isakmp.SituationIdentityOnly)
	ps := len(b)
	b = append(b, 0, 0, 0, 0, prop.Num, byte(prop.Protocol), byte(len(prop.SPI)), 1)
	b = append(b, prop.SPI...)
	ts := len(b)
	b = append(b, 0, 0, 0, 0, o.num, tid, 0, 0)
	b = append(b, o.raw...)
	binary.BigEndian.PutUint16(b[ts+2:], uint16(len(b)-ts))
	binary.BigEndian.PutUint16(b[ps+2:], uint16(len(b)-ps))
	return b
}

// checkChosen verifies that the responder's SA names one of our offers
// and takes that policy and lifetime.
func (p *p1) checkChosen(saBody []byte) error {
	sa, err := isakmp.ParseSA(saBody)
	if err != nil {
		return err
	}
	pd := isakmp.NewProposalDecoder(sa.Proposals)
	if !pd.Next() {
		return fmt.Errorf("responder SA without a proposal: %v", pd.Err())
	}
	td := isakmp.NewTransformDecoder(pd.Proposal())
	if !td.Next() {
		return fmt.Errorf("responder SA without a transform: %v", td.Err())
	}
	o, err := parseOffer(td.Transform())
	if err != nil {
		return err
	}
	if td.Next() || pd.Next() {
		return errors.New("responder chose more than one transform")
	}
	for _, pol := range p.policies {
		if ok, _ := o.matchesAuth(pol, p.xauthInit()); ok {
			p.pol = pol
			p.lifetime = min(o.life, pol.lifetime())
			return nil
		}
	}
	return errors.New("responder chose a transform we did not offer")
}
