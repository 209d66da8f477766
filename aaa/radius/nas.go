package radius

import (
	"net/netip"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3162"

	"github.com/vpdn/vpdn/aaa"
)

// NAS is the identity of this NAS in every request (RFC 2865 §5.4, §5.32;
// RFC 3162 §2.1): one place for authentication, accounting and dynamic
// authorization.
type NAS struct {
	// Identifier is NAS-Identifier: the hostname.
	Identifier string
	// IP is NAS-IP-Address (IPv4) or NAS-IPv6-Address: the source
	// interface's address, or the address the sockets bind to.
	IP netip.Addr
}

// Attribute values (RFC 2865 §5.6, §5.7, §5.41).
const (
	serviceTypeFramed  = 2
	framedProtocolPPP  = 1
	nasPortTypeVirtual = 5
)

// addSession adds the NAS and session attributes of req to p: who asks and
// for which call. Calling-Station-Id is the L2TP Calling Number or, where
// the carrier has none (PPTP), the peer's address.
func (n *NAS) addSession(p *radius.Packet, req *aaa.Request) error {
	if n.IP.Is4() {
		b := n.IP.As4()
		p.Add(rfc2865.NASIPAddress_Type, radius.Attribute(b[:]))
	} else if n.IP.Is6() && !n.IP.IsUnspecified() {
		b := n.IP.As16()
		p.Add(rfc3162.NASIPv6Address_Type, radius.Attribute(b[:]))
	}
	if err := addString(p, rfc2865.NASIdentifier_Type, n.Identifier); err != nil {
		return err
	}
	if req == nil {
		return nil
	}
	p.Add(rfc2865.NASPort_Type, radius.NewInteger(req.PortNumber))
	pt := req.PortType
	if pt == 0 {
		pt = nasPortTypeVirtual
	}
	p.Add(rfc2865.NASPortType_Type, radius.NewInteger(pt))
	if err := addString(p, rfc2869.NASPortID_Type, req.NASPort); err != nil {
		return err
	}
	p.Add(rfc2865.ServiceType_Type, radius.NewInteger(serviceTypeFramed))
	p.Add(rfc2865.FramedProtocol_Type, radius.NewInteger(framedProtocolPPP))
	calling := req.CallingNumber
	if calling == "" && req.PeerAddr.IsValid() {
		calling = req.PeerAddr.Unmap().String()
	}
	if err := addString(p, rfc2865.CallingStationID_Type, calling); err != nil {
		return err
	}
	if err := addString(p, rfc2865.CalledStationID_Type, req.CalledNumber); err != nil {
		return err
	}
	return addString(p, rfc2866.AcctSessionID_Type, req.SessionID)
}

// addString adds a text attribute unless s is empty; longer than an
// attribute holds is an error.
func addString(p *radius.Packet, t radius.Type, s string) error {
	if s == "" {
		return nil
	}
	a, err := radius.NewString(s)
	if err != nil {
		return err
	}
	p.Add(t, a)
	return nil
}
