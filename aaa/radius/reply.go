package radius

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"layeh.com/radius"

	"github.com/vpdn/vpdn/aaa"
)

// RADIUS attribute types read from answers (RFC 2865 §5, RFC 2868 §3,
// RFC 2869 §5, RFC 3162 §2, RFC 4818 §3).
const (
	attrFramedIPAddress      = 8
	attrFramedIPNetmask      = 9
	attrFramedMTU            = 12
	attrReplyMessage         = 18
	attrFramedRoute          = 22
	attrClass                = 25
	attrVendorSpecific       = 26
	attrSessionTimeout       = 27
	attrIdleTimeout          = 28
	attrTunnelType           = 64
	attrTunnelMediumType     = 65
	attrTunnelClientEndpoint = 66
	attrTunnelServerEndpoint = 67
	attrTunnelPassword       = 69
	attrAcctInterimInterval  = 85
	attrTunnelAssignmentID   = 82
	attrTunnelPreference     = 83
	attrFramedPool           = 88
	attrTunnelClientAuthID   = 90
	attrTunnelServerAuthID   = 91
	attrFramedIPv6Prefix     = 97
	attrDelegatedIPv6Prefix  = 123
)

// reply is what an Access-Accept or -Reject says, parsed and decrypted.
type reply struct {
	Authz          aaa.Authorization
	ReplyMessage   string
	MSCHAP2Success string // "S=..." without the Ident octet
	MSCHAPError    string // "E=..." without the Ident octet
	// MPPE keys: MS-MPPE-Send-Key and -Recv-Key (RFC 2548 §2.4.2,
	// §2.4.3), or the NT key of MS-CHAP-MPPE-Keys (§2.4.1).
	SendKey, RecvKey, NTKey []byte
	// EAPMessage is the EAP-Message attributes concatenated in order
	// (RFC 3579 §3.1), State the State attribute (RFC 2865 §5.24).
	EAPMessage, State []byte
	// CiscoAVPairs are the Cisco-AVPair values (vendor 9, type 1), at
	// most maxAVPairs of them.
	CiscoAVPairs []string
	// CiscoMalformed counts Cisco Vendor-Specific attributes whose
	// sub-attributes do not add up (ignored: PPP's answers did not read
	// Cisco's attributes before, and a group lookup counts them).
	CiscoMalformed int
}

var errAttr = errors.New("radius: malformed attribute in answer")

// parseReply reads an answer's attributes. Values of the wrong size are an
// error: a server that sends them is refused, not half-understood.
func parseReply(p, req *radius.Packet) (*reply, error) {
	r := &reply{}
	a := &r.Authz
	tunnels := map[uint8]*aaa.Tunnel{}
	var order []uint8 // tags in order of first appearance
	tunnel := func(tag uint8) *aaa.Tunnel {
		t := tunnels[tag]
		if t == nil {
			t = &aaa.Tunnel{Tag: tag}
			tunnels[tag] = t
			order = append(order, tag)
		}
		return t
	}
	for _, avp := range p.Attributes {
		v := []byte(avp.Attribute)
		var err error
		switch avp.Type {
		case attrFramedIPAddress:
			var ip netip.Addr
			if ip, err = ipv4(v); err == nil {
				// RFC 2865 §5.8: 255.255.255.255 lets the user choose,
				// 255.255.255.254 the NAS (a pool): neither is an address.
				if ip != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && ip != netip.AddrFrom4([4]byte{255, 255, 255, 254}) {
					a.Address = ip
				}
			}
		case attrFramedIPNetmask:
			a.Netmask, err = ipv4(v)
		case attrFramedMTU:
			a.MTU, err = integer(v)
		case attrReplyMessage:
			r.ReplyMessage = string(v)
		case attrFramedRoute:
			var pfx netip.Prefix
			if pfx, err = framedRoute(string(v)); err == nil {
				a.Routes = append(a.Routes, pfx)
			}
		case attrClass:
			a.Class = append(a.Class, append([]byte(nil), v...))
		case attrSessionTimeout:
			a.SessionTimeout, err = integer(v)
		case attrIdleTimeout:
			a.IdleTimeout, err = integer(v)
		case attrAcctInterimInterval:
			a.InterimInterval, err = integer(v)
		case attrFramedPool:
			a.Pool = string(v)
		case attrFramedIPv6Prefix, attrDelegatedIPv6Prefix:
			var pfx netip.Prefix
			if pfx, err = ipv6Prefix(v); err == nil {
				if avp.Type == attrFramedIPv6Prefix {
					a.IPv6Prefixes = append(a.IPv6Prefixes, pfx)
				} else {
					a.DelegatedPrefix = append(a.DelegatedPrefix, pfx)
				}
			}
		case attrTunnelType, attrTunnelMediumType, attrTunnelPreference:
			// RFC 2868 §3.1, §3.2, §3.8: Tag then a 24-bit value.
			if len(v) != 4 || v[0] > 0x1F {
				err = errAttr
				break
			}
			t := tunnel(v[0])
			n := uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
			switch avp.Type {
			case attrTunnelType:
				t.Type = n
			case attrTunnelMediumType:
				t.MediumType = n
			default:
				t.Preference = n
			}
		case attrTunnelClientEndpoint, attrTunnelServerEndpoint, attrTunnelAssignmentID, attrTunnelClientAuthID, attrTunnelServerAuthID:
			// RFC 2868 §3.3: an optional Tag (0x01-0x1F) before the text.
			var tag uint8
			if len(v) > 0 && v[0] <= 0x1F {
				tag, v = v[0], v[1:]
			}
			t := tunnel(tag)
			switch avp.Type {
			case attrTunnelClientEndpoint:
				t.ClientEnd = string(v)
			case attrTunnelServerEndpoint:
				t.ServerEnd = string(v)
			case attrTunnelAssignmentID:
				t.AssignmentID = string(v)
			case attrTunnelClientAuthID:
				t.ClientAuthID = string(v)
			default:
				t.ServerAuthID = string(v)
			}
		case attrTunnelPassword:
			// RFC 2868 §3.5: Tag, Salt, hidden string.
			if len(v) < 1 || v[0] > 0x1F {
				err = errAttr
				break
			}
			var pw []byte
			if pw, err = unhideSalted(v[1:], p.Secret, req.Authenticator[:]); err == nil {
				tunnel(v[0]).Password = string(pw)
			}
		case attrVendorSpecific:
			err = r.vendor(v, p.Secret, req.Authenticator[:])
		case attrEAPMessage:
			if len(r.EAPMessage)+len(v) > MaxEAPMessage {
				err = fmt.Errorf("EAP-Message over %d octets", MaxEAPMessage)
				break
			}
			r.EAPMessage = append(r.EAPMessage, v...)
		case attrState:
			r.State = append([]byte(nil), v...)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: type %d: %v", errAttr, avp.Type, err)
		}
	}
	for _, tag := range order {
		a.Tunnels = append(a.Tunnels, *tunnels[tag])
	}
	if r.EAPMessage != nil {
		if err := checkEAP(r.EAPMessage); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// vendor reads a Vendor-Specific attribute (RFC 2865 §5.26): Vendor-Id,
// then for Microsoft's (RFC 2548) a chain of Vendor-Type, Length, Value.
func (r *reply) vendor(v, secret, reqAuth []byte) error {
	if len(v) < 4 {
		return errAttr
	}
	switch binary.BigEndian.Uint32(v) {
	case vendorMicrosoft:
	case vendorCisco:
		return r.cisco(v[4:])
	default:
		return nil // other vendors: ignored
	}
	for v = v[4:]; len(v) > 0; {
		if len(v) < 2 || int(v[1]) < 2 || int(v[1]) > len(v) {
			return errAttr
		}
		t, val := v[0], v[2:v[1]]
		v = v[v[1]:]
		var err error
		switch t {
		case msCHAP2Success:
			// RFC 2548 §2.3.3 (as in FreeRADIUS): Ident, "S=" 40 hex.
			if len(val) != 43 || string(val[1:3]) != "S=" {
				return errAttr
			}
			r.MSCHAP2Success = string(val[1:])
		case msCHAPError:
			if len(val) < 1 {
				return errAttr
			}
			r.MSCHAPError = string(val[1:])
		case msMPPESendKey:
			r.SendKey, err = mppeKey(val, secret, reqAuth)
		case msMPPERecvKey:
			r.RecvKey, err = mppeKey(val, secret, reqAuth)
		case msCHAPMPPEKeys:
			// RFC 2548 §2.4.1: 32 octets hidden as User-Password: LM-Key
			// (8), NT-Key (16), padding.
			var pt []byte
			if pt, err = unhide(val, secret, reqAuth); err == nil {
				if len(pt) < 24 {
					return errAttr
				}
				r.NTKey = append([]byte(nil), pt[8:24]...)
			}
		case msPrimaryDNSServer, msSecondaryDNSServer, msPrimaryNBNSServer, msSecondaryNBNSSrv:
			var ip netip.Addr
			if ip, err = ipv4(val); err == nil {
				if t == msPrimaryDNSServer || t == msSecondaryDNSServer {
					r.Authz.DNS = append(r.Authz.DNS, ip)
				} else {
					r.Authz.NBNS = append(r.Authz.NBNS, ip)
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cisco reads Cisco's sub-attributes: Cisco-AVPair (type 1) is kept,
// the others ignored. A chain that does not add up is counted and its
// remainder ignored.
func (r *reply) cisco(v []byte) error {
	for len(v) > 0 {
		if len(v) < 2 || int(v[1]) < 2 || int(v[1]) > len(v) {
			r.CiscoMalformed++
			return nil
		}
		t, val := v[0], v[2:v[1]]
		v = v[v[1]:]
		if t == ciscoAVPair && len(r.CiscoAVPairs) < maxAVPairs+1 {
			// One beyond the bound, so that the parser says "too many".
			r.CiscoAVPairs = append(r.CiscoAVPairs, string(val))
		}
	}
	return nil
}

// mppeKey reveals an MS-MPPE-Send-Key or -Recv-Key: a salted hidden string
// whose first octet is the key's length (RFC 2548 §2.4.2).
func mppeKey(v, secret, reqAuth []byte) ([]byte, error) {
	k, err := unhideSalted(v, secret, reqAuth)
	if err != nil {
		return nil, err
	}
	if len(k) != 16 && len(k) != 8 && len(k) != 32 {
		return nil, fmt.Errorf("MPPE key of %d octets", len(k))
	}
	if len(k) == 32 {
		k = k[:16] // some servers send the 32-octet form; the key is first
	}
	return k, nil
}

// unhideSalted reverses the salted hiding of RFC 2548 §2.4.2 and RFC 2868
// §3.5: Salt (2 octets, high bit set), then C(i) = P(i) xor b(i), with
// b(1) = MD5(S + R + A), b(i) = MD5(S + C(i-1)). The plaintext starts with
// its length.
func unhideSalted(v, secret, reqAuth []byte) ([]byte, error) {
	if len(v) < 2+16 || (len(v)-2)%16 != 0 {
		return nil, errors.New("hidden value not a salt and whole blocks")
	}
	if v[0]&0x80 == 0 {
		return nil, errors.New("salt without its high bit")
	}
	pt := xorChain(v[2:], secret, append(append([]byte(nil), reqAuth...), v[:2]...))
	n := int(pt[0])
	if n > len(pt)-1 {
		return nil, errors.New("hidden length beyond the value")
	}
	return pt[1 : 1+n], nil
}

// unhide reverses the hiding of RFC 2865 §5.2 (User-Password), used by
// MS-CHAP-MPPE-Keys: b(1) = MD5(S + RA), b(i) = MD5(S + C(i-1)).
func unhide(v, secret, reqAuth []byte) ([]byte, error) {
	if len(v) < 16 || len(v)%16 != 0 {
		return nil, errors.New("hidden value not whole blocks")
	}
	return xorChain(v, secret, reqAuth), nil
}

func xorChain(c, secret, first []byte) []byte {
	pt := make([]byte, len(c))
	prev := first
	var b [md5.Size]byte
	for i := 0; i < len(c); i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		h.Sum(b[:0])
		for j := range 16 {
			pt[i+j] = c[i+j] ^ b[j]
		}
		prev = c[i : i+16]
	}
	return pt
}

func ipv4(v []byte) (netip.Addr, error) {
	if len(v) != 4 {
		return netip.Addr{}, errAttr
	}
	return netip.AddrFrom4([4]byte(v)), nil
}

func integer(v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, errAttr
	}
	return binary.BigEndian.Uint32(v), nil
}

// ipv6Prefix reads Framed-IPv6-Prefix (RFC 3162 §2.3) and
// Delegated-IPv6-Prefix (RFC 4818 §3): Reserved, Prefix-Length, Prefix
// (only the octets the length needs, up to 16).
func ipv6Prefix(v []byte) (netip.Prefix, error) {
	if len(v) < 2 || len(v) > 18 || v[1] > 128 || len(v)-2 < (int(v[1])+7)/8 {
		return netip.Prefix{}, errAttr
	}
	var b [16]byte
	copy(b[:], v[2:])
	p := netip.PrefixFrom(netip.AddrFrom16(b), int(v[1]))
	return p.Masked(), nil
}

// framedRoute reads the text of Framed-Route (RFC 2865 §5.22): a
// destination "A.B.C.D/NN" (or "A.B.C.D" then a mask), then a gateway and
// metrics, which are ignored: the route goes through the session.
func framedRoute(s string) (netip.Prefix, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return netip.Prefix{}, errors.New("empty Framed-Route")
	}
	if strings.Contains(f[0], "/") {
		p, err := netip.ParsePrefix(f[0])
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, fmt.Errorf("Framed-Route %q: bad destination", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(f[0])
	if err != nil || !a.Is4() {
		return netip.Prefix{}, fmt.Errorf("Framed-Route %q: bad destination", s)
	}
	bits := 32
	if len(f) > 1 {
		if m, err := netip.ParseAddr(f[1]); err == nil && m.Is4() {
			// A mask, not a gateway: contiguous and starting 255.
			if n, ok := maskLen(m); ok && m.As4()[0] == 255 {
				bits = n
			}
		}
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// maskLen returns the length of a contiguous netmask.
func maskLen(m netip.Addr) (int, bool) {
	v := binary.BigEndian.Uint32(m.AsSlice())
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}
