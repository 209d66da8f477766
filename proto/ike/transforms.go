package ike

import (
	"errors"
	"fmt"
	"time"

	"github.com/vpdn/vpdn/wire/isakmp"
)

func encapFor(ts TransformSet, udp bool) uint16 {
	switch {
	case ts.Transport && udp:
		return isakmp.EncapUDPTransport
	case ts.Transport:
		return isakmp.EncapTransport
	case udp:
		return isakmp.EncapUDPTunnel
	}
	return isakmp.EncapTunnel
}

// appendP2SA encodes our quick-mode offer: one ESP proposal with our SPI
// and a transform per transform set (RFC 2407 §4.5 attributes).
func appendP2SA(b []byte, pol *Phase2Policy, spi uint32) []byte {
	prop := isakmp.ProposalSpec{Num: 1, Protocol: isakmp.ProtoESP, SPI: be32(spi)}
	for i, ts := range pol.TransformSets {
		attrs := []isakmp.Attr{
			isakmp.BasicAttr(isakmp.IPsecAttrLifeType, isakmp.LifeSeconds),
			isakmp.UintAttr(isakmp.IPsecAttrLifeDur, uint64(pol.lifetime()/time.Second)),
			isakmp.BasicAttr(isakmp.IPsecAttrLifeType, isakmp.LifeKilobytes),
			isakmp.UintAttr(isakmp.IPsecAttrLifeDur, pol.lifeKB()),
			isakmp.BasicAttr(isakmp.IPsecAttrEncapMode, encapFor(ts, pol.UDPEncap)),
		}
		// AES-GCM has no authenticator attribute (RFC 4106 §8.4: its ICV
		// is the cipher's own).
		if ts.Auth != 0 {
			attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecAttrAuthAlg, ts.Auth))
		}
		if keyedAES(ts.ESP) {
			kb := ts.KeyBits
			if kb == 0 {
				kb = 128
			}
			attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecAttrKeyLength, uint16(kb)))
		}
		if pol.PFS != 0 {
			attrs = append(attrs, isakmp.BasicAttr(isakmp.IPsecAttrGroupDesc, uint16(pol.PFS)))
		}
		prop.Transforms = append(prop.Transforms, isakmp.TransformSpec{Num: uint8(i + 1), ID: ts.ESP, Attrs: attrs})
	}
	return isakmp.AppendSA(b, []isakmp.ProposalSpec{prop})
}

// p2offer is a phase-2 transform as proposed.
type p2offer struct {
	num, tid uint8
	keyBits  int
	auth     uint16
	encap    uint16
	group    Group
	life     time.Duration
	lifeKB   uint64
	raw      []byte
}

func parseP2Offer(t isakmp.Transform) (p2offer, error) {
	o := p2offer{num: t.Num, tid: t.ID, raw: t.Attrs}
	d := isakmp.NewAttrDecoder(t.Attrs)
	lifeType := uint64(0)
	for d.Next() {
		a := d.Attr()
		v, ok := a.Uint()
		if !ok {
			return o, fmt.Errorf("attribute %d of %d octets", a.Type, len(a.Data))
		}
		switch a.Type {
		case isakmp.IPsecAttrLifeType:
			lifeType = v
		case isakmp.IPsecAttrLifeDur:
			switch lifeType {
			case isakmp.LifeSeconds:
				o.life = time.Duration(min(v, 1<<31)) * time.Second
			case isakmp.LifeKilobytes:
				o.lifeKB = v
			}
		case isakmp.IPsecAttrGroupDesc:
			o.group = Group(v)
		case isakmp.IPsecAttrEncapMode:
			o.encap = uint16(v)
		case isakmp.IPsecAttrAuthAlg:
			o.auth = uint16(v)
		case isakmp.IPsecAttrKeyLength:
			o.keyBits = int(v)
		default:
			return o, fmt.Errorf("unsupported attribute %d", a.Type)
		}
	}
	if err := d.Err(); err != nil {
		return o, err
	}
	if keyedAES(o.tid) && o.keyBits == 0 {
		o.keyBits = 128
	}
	if o.encap == 0 {
		o.encap = isakmp.EncapTunnel
	}
	if o.life == 0 {
		o.life = 28800 * time.Second // RFC 2407 §4.5 default
	}
	return o, nil
}

func transportEncap(e uint16) bool {
	return e == isakmp.EncapTransport || e == isakmp.EncapUDPTransport || e == isakmp.EncapUDPTransportDraft
}

func (o p2offer) matches(ts TransformSet) bool {
	kb := ts.KeyBits
	if keyedAES(ts.ESP) && kb == 0 {
		kb = 128
	}
	if !keyedAES(ts.ESP) {
		kb = o.keyBits // 3DES carries no key length
	}
	return o.tid == ts.ESP && o.keyBits == kb && o.auth == ts.Auth && transportEncap(o.encap) == ts.Transport
}

var encapNames = map[uint16]string{1: "Tunnel", 2: "Transport", 3: "UDP-Encapsulated-Tunnel", 4: "UDP-Encapsulated-Transport",
	61443: "UDP-Encapsulated-Tunnel (draft)", 61444: "UDP-Encapsulated-Transport (draft)"}

var authNames = map[uint16]string{1: "HMAC-MD5", 2: "HMAC-SHA", 5: "HMAC-SHA256", 6: "HMAC-SHA384", 7: "HMAC-SHA512"}

// authKeyLen is the integrity key length of an ESP authenticator.
func authKeyLen(a uint16) int {
	switch a {
	case isakmp.AuthAlgHMACMD5:
		return 16
	case isakmp.AuthAlgHMACSHA1:
		return 20
	case isakmp.AuthAlgHMACSHA256:
		return 32
	case isakmp.AuthAlgHMACSHA384:
		return 48
	case isakmp.AuthAlgHMACSHA512:
		return 64
	}
	return 0
}

func encKeyLen(tid uint8, keyBits int) int {
	switch {
	case tid == isakmp.ESP3DES:
		return 24
	case isGCM(tid):
		return keyBits/8 + 4 // the key and its salt (RFC 4106 §8.1)
	}
	return keyBits / 8
}

// keyedAES reports whether the ESP transform carries a key length: AES-CBC
// (RFC 3602 §5.1) and AES-GCM (RFC 4106 §8.4).
func keyedAES(tid uint8) bool { return tid == isakmp.ESPAES || isGCM(tid) }

func isGCM(tid uint8) bool {
	return tid == isakmp.ESPAESGCM8 || tid == isakmp.ESPAESGCM12 || tid == isakmp.ESPAESGCM16
}

// acceptableP2 reports whether an offered ESP transform is one vpdn
// implements: AES-CBC or 3DES with an HMAC, or AES-GCM-16 without one.
func acceptableP2(o p2offer) bool {
	if o.tid == isakmp.ESPAESGCM16 {
		return o.auth == 0 && (o.keyBits == 128 || o.keyBits == 256)
	}
	return authKeyLen(o.auth) != 0 && (o.tid == isakmp.ESPAES || o.tid == isakmp.ESP3DES)
}

func nz(v uint64) uint64 {
	if v == 0 {
		return ^uint64(0)
	}
	return v
}

// chooseP2 picks the first peer transform that one of our transform sets
// accepts, with the PFS group we require.
func (q *qm) chooseP2(saBody []byte) (p2offer, isakmp.Proposal, error) {
	sa, err := isakmp.ParseSA(saBody)
	if err != nil {
		return p2offer{}, isakmp.Proposal{}, err
	}
	var last isakmp.Proposal
	pd := isakmp.NewProposalDecoder(sa.Proposals)
	for pd.Next() {
		prop := pd.Proposal()
		last = prop
		q.debugf("Checking IPSec proposal %d", prop.Num)
		if prop.Protocol != isakmp.ProtoESP || len(prop.SPI) != 4 {
			continue
		}
		td := isakmp.NewTransformDecoder(prop)
		for td.Next() {
			t := td.Transform()
			o, err := parseP2Offer(t)
			q.n.debugf(0, "transform %d, %s", t.Num, isakmp.ESPTransformName(t.ID))
			if err != nil {
				q.debugf("atts are not acceptable: %v", err)
				continue
			}
			q.n.debugf(0, "   attributes in transform:")
			q.n.debugf(0, "      encaps is %d (%s)", o.encap, encapNames[o.encap])
			q.n.debugf(0, "      SA life type in seconds")
			q.n.debugf(0, "      SA life duration (basic) of %d", int64(o.life/time.Second))
			if o.auth != 0 {
				q.n.debugf(0, "      authenticator is %s", authNames[o.auth])
			}
			if o.keyBits != 0 {
				q.n.debugf(0, "      key length is %d", o.keyBits)
			}
			if o.group != 0 {
				q.n.debugf(0, "      group is %d", o.group)
			}
			if !acceptableP2(o) {
				q.debugf("atts are not acceptable.")
				continue
			}
			q.debugf("atts are acceptable.")
			if q.pol.PFS != 0 && o.group != q.pol.PFS {
				continue
			}
			if o.group != 0 && !o.group.Supported() {
				continue
			}
			for _, ts := range q.pol.TransformSets {
				if o.matches(ts) {
					return o, prop, nil
				}
			}
		}
		if err := td.Err(); err != nil {
			return p2offer{}, prop, err
		}
	}
	if err := pd.Err(); err != nil {
		return p2offer{}, last, err
	}
	return p2offer{}, last, errors.New("no transform set matches")
}

func parseLifeAttrs(b []byte) (time.Duration, uint64) {
	var life time.Duration
	var kb uint64
	d := isakmp.NewAttrDecoder(b)
	lt := uint64(0)
	for d.Next() {
		a := d.Attr()
		v, _ := a.Uint()
		switch a.Type {
		case isakmp.IPsecAttrLifeType:
			lt = v
		case isakmp.IPsecAttrLifeDur:
			if lt == isakmp.LifeSeconds {
				life = time.Duration(min(v, 1<<31)) * time.Second
			} else if lt == isakmp.LifeKilobytes {
				kb = v
			}
		}
	}
	return life, kb
}

// transport reports whether the offer's encapsulation is a transport mode.
func (o p2offer) transport() bool {
	return o.encap == isakmp.EncapTransport || o.encap == isakmp.EncapUDPTransport || o.encap == isakmp.EncapUDPTransportDraft
}
