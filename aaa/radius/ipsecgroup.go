package radius

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// Cisco's vendor attribute Cisco-AVPair (vendor 9, type 1): text of the
// form "protocol:attribute=value" ('*' for an optional attribute).
const (
	vendorCisco = 9
	ciscoAVPair = 1
	// maxAVPairs bounds the Cisco-AVPairs kept from one answer (a RADIUS
	// packet of 4096 octets holds at most about 500 of them).
	maxAVPairs = 64
)

// IPsecGroupPassword is the User-Password of a group lookup, as IOS sends
// it: the group's key is not a password the server checks, so the
// request carries the fixed word "cisco" (the server's profile of the
// group must have that password).
const IPsecGroupPassword = "cisco"

// IPsecGroup is an Easy VPN client group as a RADIUS server holds it: the
// "ipsec:" Cisco-AVPairs of the group's Access-Accept.
type IPsecGroup struct {
	Key          string       // ipsec:tunnel-password
	Pool         string       // ipsec:addr-pool
	DNS          []netip.Addr // ipsec:dns-servers (at most 2)
	WINS         []netip.Addr // ipsec:wins-servers (at most 2)
	Domain       string       // ipsec:default-domain
	SplitACL     string       // ipsec:split-include (a locally configured ACL's name)
	SavePassword bool         // ipsec:save-password=1
	Banner       string       // ipsec:banner
	MaxUsers     int          // ipsec:max-users
}

// AVPairProblem is a Cisco-AVPair of a group answer that was not used:
// unknown, or with a value that does not parse.
type AVPairProblem struct {
	Pair   string
	Reason string
}

// Reasons of AVPairProblem.
const (
	AVPairUnknown   = "unknown"
	AVPairMalformed = "malformed"
	AVPairTooMany   = "too many"
)

// ParseIPsecGroup reads the Cisco-AVPairs of a group's Access-Accept into
// an IPsecGroup. Pairs of other protocols than ipsec, unknown ipsec
// attributes and malformed values are returned as problems (the caller
// logs and counts them) and otherwise ignored; ipsec:key-exchange=ike is
// understood and needs nothing.
func ParseIPsecGroup(pairs []string) (IPsecGroup, []AVPairProblem) {
	var g IPsecGroup
	var probs []AVPairProblem
	bad := func(p, why string) { probs = append(probs, AVPairProblem{Pair: p, Reason: why}) }
	for i, p := range pairs {
		if i >= maxAVPairs {
			bad(p, AVPairTooMany)
			continue
		}
		proto, rest, ok := strings.Cut(p, ":")
		if !ok || proto != "ipsec" {
			bad(p, AVPairUnknown)
			continue
		}
		sep := strings.IndexAny(rest, "=*")
		if sep <= 0 {
			bad(p, AVPairMalformed)
			continue
		}
		attr, val := rest[:sep], rest[sep+1:]
		switch attr {
		case "tunnel-password":
			if val == "" || len(val) > 128 {
				bad(p, AVPairMalformed)
				continue
			}
			g.Key = val
		case "key-exchange":
			if val != "ike" {
				bad(p, AVPairMalformed)
			}
		case "addr-pool":
			if !word(val) {
				bad(p, AVPairMalformed)
				continue
			}
			g.Pool = val
		case "dns-servers", "wins-servers":
			as, ok := addrs(val)
			if !ok {
				bad(p, AVPairMalformed)
				continue
			}
			if attr == "dns-servers" {
				g.DNS = as
			} else {
				g.WINS = as
			}
		case "default-domain":
			if !word(val) {
				bad(p, AVPairMalformed)
				continue
			}
			g.Domain = val
		case "split-include":
			if !word(val) {
				bad(p, AVPairMalformed)
				continue
			}
			g.SplitACL = val
		case "save-password":
			switch val {
			case "1":
				g.SavePassword = true
			case "0":
				g.SavePassword = false
			default:
				bad(p, AVPairMalformed)
			}
		case "banner":
			if len(val) > 200 {
				bad(p, AVPairMalformed)
				continue
			}
			g.Banner = val
		case "max-users":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 65535 {
				bad(p, AVPairMalformed)
				continue
			}
			g.MaxUsers = n
		default:
			bad(p, AVPairUnknown)
		}
	}
	return g, probs
}

// word reports whether s is a name: 1 to 64 printable characters
// without spaces.
func word(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// addrs reads one or two IPv4 addresses separated by spaces or commas.
func addrs(s string) ([]netip.Addr, bool) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(f) == 0 || len(f) > 2 {
		return nil, false
	}
	out := make([]netip.Addr, 0, len(f))
	for _, x := range f {
		a, err := netip.ParseAddr(x)
		if err != nil || !a.Is4() {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

// IPsecGroupAnswer is the answer to a group lookup.
type IPsecGroupAnswer struct {
	Found    bool // an Access-Accept (false: an Access-Reject)
	Group    IPsecGroup
	Problems []AVPairProblem
	Server   string
}

// IPsecGroup asks the server group for an Easy VPN client group, as IOS
// does for `aaa authorization network L group radius` under `isakmp
// authorization list L`: an Access-Request with User-Name the group's
// name, User-Password "cisco", Service-Type Outbound-User, the NAS's
// identity and Calling-Station-Id the client's address (peer, when
// valid). An Access-Accept carries the group's attributes as
// Cisco-AVPairs; an Access-Reject means no such group. An error means no
// server answered (or the answer was malformed).
func (g *Group) IPsecGroup(ctx context.Context, name string, peer netip.Addr) (*IPsecGroupAnswer, error) {
	nas := g.c.NAS()
	resp, err := g.c.Exchange(ctx, g.name, AuthPort, radius.CodeAccessRequest, func(p *radius.Packet) error {
		if name == "" {
			return errors.New("radius: empty group name")
		}
		if err := addString(p, rfc2865.UserName_Type, name); err != nil {
			return fmt.Errorf("radius: User-Name: %w", err)
		}
		a, err := radius.NewUserPassword([]byte(IPsecGroupPassword), p.Secret, p.Authenticator[:])
		if err != nil {
			return fmt.Errorf("radius: User-Password: %w", err)
		}
		p.Add(rfc2865.UserPassword_Type, a)
		if err := nas.addSession(p, nil); err != nil {
			return err
		}
		p.Add(rfc2865.ServiceType_Type, radius.NewInteger(uint32(rfc2865.ServiceType_Value_OutboundUser)))
		if peer.IsValid() {
			return addString(p, rfc2865.CallingStationID_Type, peer.Unmap().String())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	attrs, err := resp.reply()
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case radius.CodeAccessAccept:
	case radius.CodeAccessReject:
		return &IPsecGroupAnswer{Server: resp.Server}, nil
	default:
		return nil, fmt.Errorf("radius: unexpected %v to a group lookup", resp.Code)
	}
	a := &IPsecGroupAnswer{Found: true, Server: resp.Server}
	a.Group, a.Problems = ParseIPsecGroup(attrs.CiscoAVPairs)
	for range attrs.CiscoMalformed {
		a.Problems = append(a.Problems, AVPairProblem{Pair: "(Cisco vendor attribute)", Reason: AVPairMalformed})
	}
	return a, nil
}
