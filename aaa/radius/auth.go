package radius

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/vpdn/vpdn/aaa"
)

// Microsoft vendor attributes (RFC 2548 §2).
const (
	vendorMicrosoft      = 311
	msCHAPResponse       = 1  // §2.3.2
	msCHAPError          = 2  // §2.1.5
	msCHAPChallenge      = 11 // §2.3.1
	msCHAPMPPEKeys       = 12 // §2.4.1
	msMPPESendKey        = 16 // §2.4.2
	msMPPERecvKey        = 17 // §2.4.3
	msCHAP2Response      = 25 // RFC 2548 errata / RFC 2759 carriage (draft-zorn)
	msCHAP2Success       = 26
	msPrimaryDNSServer   = 28
	msSecondaryDNSServer = 29
	msPrimaryNBNSServer  = 30
	msSecondaryNBNSSrv   = 31
)

// Group is a server group as an aaa.Authenticator: `group radius` or
// `group NAME` in a method list.
type Group struct {
	c    *Client
	name string
}

// Group returns the named group's backend. The group need not exist yet:
// a request to a group the configuration lacks is an error, so that the
// method list moves on to its next method.
func (c *Client) Group(name string) *Group { return &Group{c: c, name: name} }

var _ aaa.Authenticator = (*Group)(nil)

// Authenticate sends an Access-Request for req to the group's servers and
// turns the answer into the Result a local decision would give: an
// Access-Accept accepts with the authorization its attributes carry (and
// for MS-CHAP the MPPE keys and, v2, the authenticator response), an
// Access-Reject rejects with the method's failure text. An error means no
// server answered (the method list then tries its next method).
func (g *Group) Authenticate(ctx context.Context, req *aaa.Request) (*aaa.Result, error) {
	nas := g.c.NAS()
	only := ""
	if req.EAPMessage != nil {
		// RFC 3579 §2.6.1's State ties an EAP conversation to the
		// server that began it: later steps go to that server alone,
		// and fail over nowhere.
		only = req.Server
	}
	resp, err := g.c.exchange(ctx, g.name, only, AuthPort, radius.CodeAccessRequest, func(p *radius.Packet) error {
		return buildAccessRequest(p, &nas, req)
	})
	if err != nil {
		return nil, err
	}
	return resultOf(resp, req)
}

// serviceTypeAuthorizeOnly is Service-Type Authorize Only (RFC 5176 §3.1,
// value 17): an Access-Request that asks for a user's authorization and
// carries no credentials.
const serviceTypeAuthorizeOnly = 17

var _ aaa.Authorizer = (*Group)(nil)

// Authorize asks the group for the authorization of a user another method
// authenticated (`aaa authentication ppp default local` with `aaa
// authorization network default group radius`). IOS documents that RADIUS
// authorization follows RADIUS authentication only; vpdn sends instead an
// authorization-only Access-Request: User-Name, Service-Type Authorize
// Only (RFC 5176 §3.1), the NAS and session attributes, no password. An
// Access-Accept authorizes with its attributes (applied as after a RADIUS
// authentication), an Access-Reject refuses (found false), and an error
// means no server answered. The server must be set up to answer such
// requests (FreeRADIUS: Auth-Type Accept for Service-Type ==
// Authorize-Only).
func (g *Group) Authorize(ctx context.Context, req *aaa.Request) (aaa.Authorization, bool, error) {
	nas := g.c.NAS()
	resp, err := g.c.Exchange(ctx, g.name, AuthPort, radius.CodeAccessRequest, func(p *radius.Packet) error {
		if req.Username == "" {
			return errors.New("radius: empty user name")
		}
		if err := addString(p, rfc2865.UserName_Type, req.Username); err != nil {
			return fmt.Errorf("radius: User-Name: %w", err)
		}
		if err := nas.addSession(p, req); err != nil {
			return err
		}
		p.Set(rfc2865.ServiceType_Type, radius.NewInteger(serviceTypeAuthorizeOnly))
		return nil
	})
	if err != nil {
		return aaa.Authorization{}, false, err
	}
	attrs, err := resp.reply()
	if err != nil {
		return aaa.Authorization{}, false, err
	}
	switch resp.Code {
	case radius.CodeAccessAccept:
	case radius.CodeAccessReject:
		return aaa.Authorization{}, false, nil
	default:
		return aaa.Authorization{}, false, fmt.Errorf("radius: unexpected %v to an authorization-only request", resp.Code)
	}
	a := attrs.Authz
	if a.Username == "" {
		a.Username = req.Username
	}
	if i := strings.LastIndexByte(req.Username, '@'); i >= 0 && a.Domain == "" {
		a.Domain = req.Username[i+1:]
	}
	return a, true, nil
}

// buildAccessRequest adds the credentials of req (RFC 2865 §5.2, §5.3;
// RFC 2548 §2.3) and the NAS and session attributes.
func buildAccessRequest(p *radius.Packet, nas *NAS, req *aaa.Request) error {
	if req.Username == "" {
		return errors.New("radius: empty user name")
	}
	if err := addString(p, rfc2865.UserName_Type, req.Username); err != nil {
		return fmt.Errorf("radius: User-Name: %w", err)
	}
	if req.EAPMessage != nil {
		// RFC 3579 §2.1: the peer's Response goes as EAP-Message, with
		// the State of the last Access-Challenge; no other credentials.
		if err := addEAPMessage(p, req.EAPMessage); err != nil {
			return err
		}
		if err := addState(p, req.State); err != nil {
			return err
		}
		return nas.addSession(p, req)
	}
	switch req.Method {
	case aaa.PAP:
		if len(req.Password) > 128 {
			return errors.New("radius: PAP password longer than 128 octets (RFC 2865 §5.2)")
		}
		a, err := radius.NewUserPassword(req.Password, p.Secret, p.Authenticator[:])
		if err != nil {
			return fmt.Errorf("radius: User-Password: %w", err)
		}
		p.Add(rfc2865.UserPassword_Type, a)
	case aaa.CHAP, aaa.EAPMD5:
		// EAP-MD5's response is CHAP's computation (RFC 3748 §5.4), so
		// the server checks it as CHAP.
		if len(req.Response) != md5.Size || len(req.Challenge) == 0 || len(req.Challenge) > 253 {
			return errors.New("radius: malformed CHAP response")
		}
		p.Add(rfc2865.CHAPPassword_Type, append([]byte{req.ID}, req.Response...))
		p.Add(rfc2865.CHAPChallenge_Type, radius.Attribute(append([]byte(nil), req.Challenge...)))
	case aaa.MSCHAPv1:
		// RFC 2548 §2.3.2: Ident, Flags, LM-Response (24), NT-Response
		// (24); the PPP Value field (RFC 2433 §3) is LM, NT, Flags.
		if len(req.Challenge) != 8 || len(req.Response) != 49 {
			return errors.New("radius: malformed MS-CHAP response")
		}
		v := make([]byte, 0, 50)
		v = append(v, req.ID, req.Response[48])
		v = append(v, req.Response[:48]...)
		addVendor(p, msCHAPChallenge, req.Challenge)
		addVendor(p, msCHAPResponse, v)
	case aaa.MSCHAPv2:
		// MS-CHAP2-Response: Ident, Flags (0), Peer-Challenge (16),
		// Reserved (8), Response (24); the PPP Value field (RFC 2759 §4)
		// is Peer-Challenge, Reserved, NT-Response, Flags.
		if len(req.Challenge) != 16 || len(req.Response) != 49 {
			return errors.New("radius: malformed MS-CHAP-V2 response")
		}
		v := make([]byte, 0, 50)
		v = append(v, req.ID, 0)
		v = append(v, req.Response[:48]...)
		addVendor(p, msCHAPChallenge, req.Challenge)
		addVendor(p, msCHAP2Response, v)
	default:
		return fmt.Errorf("radius: method %v is not supported", req.Method)
	}
	return nas.addSession(p, req)
}

// addVendor adds a Microsoft Vendor-Specific attribute (RFC 2865 §5.26).
func addVendor(p *radius.Packet, typ byte, v []byte) {
	b := make([]byte, 0, 6+len(v))
	b = binary.BigEndian.AppendUint32(b, vendorMicrosoft)
	b = append(b, typ, byte(2+len(v)))
	b = append(b, v...)
	p.Add(rfc2865.VendorSpecific_Type, b)
}

// Reasons of a RADIUS rejection, for logs and show vpdn history failure.
const (
	ReasonReject    = "rejected by RADIUS server"
	ReasonChallenge = "RADIUS Access-Challenge to a request that was not EAP"
	ReasonEAPAccept = "RADIUS Access-Accept carried an EAP Failure"
)

// reply parses a verified answer's attributes. A malformed one is
// refused, not half-understood: counted as malformed, and the method
// list moves on.
func (resp *Response) reply() (*reply, error) {
	attrs, err := parseReply(resp.Packet, resp.Request)
	if err != nil {
		resp.srv.st.drop(dropMalformed)
		return nil, fmt.Errorf("radius: answer from %s: %w", resp.Server, err)
	}
	return attrs, nil
}

// resultOf turns a verified answer into a Result.
func resultOf(resp *Response, req *aaa.Request) (*aaa.Result, error) {
	attrs, err := resp.reply()
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case radius.CodeAccessReject:
		reason := ReasonReject + " " + resp.Server
		if attrs.ReplyMessage != "" {
			reason += ": " + attrs.ReplyMessage
		}
		r := aaa.Reject(req, reason)
		r.EAPMessage = attrs.EAPMessage
		if req.Method == aaa.MSCHAPv2 || req.Method == aaa.MSCHAPv1 {
			if e := attrs.MSCHAPError; e != "" {
				r.MSCHAPError, r.Message = e, e
			}
		}
		return r, nil
	case radius.CodeAccessChallenge:
		// RFC 3579 §2.1: an Access-Challenge carries the next EAP
		// Request; a challenge to anything else (RFC 2865 §4.4's
		// interactive challenge) is not supported.
		if req.EAPMessage == nil || attrs.EAPMessage == nil || attrs.EAPMessage[0] != 1 {
			return aaa.Reject(req, ReasonChallenge), nil
		}
		return &aaa.Result{Challenge: true, EAPMessage: attrs.EAPMessage, State: attrs.State, Server: resp.Server, Message: attrs.ReplyMessage}, nil
	case radius.CodeAccessAccept:
	default:
		return nil, fmt.Errorf("radius: unexpected %v", resp.Code)
	}
	r := &aaa.Result{Accept: true, Message: attrs.ReplyMessage, Authz: attrs.Authz}
	r.Authz.Authentic = aaa.AuthenticRADIUS
	if r.Authz.Username == "" {
		r.Authz.Username = req.Username
	}
	if i := strings.LastIndexByte(req.Username, '@'); i >= 0 && r.Authz.Domain == "" {
		r.Authz.Domain = req.Username[i+1:]
	}
	if req.EAPMessage != nil {
		// RFC 3579 §2.6.3: an Accept with an EAP Failure inside
		// contradicts itself; it is taken as a rejection.
		if attrs.EAPMessage != nil && attrs.EAPMessage[0] != 3 {
			return aaa.Reject(req, ReasonEAPAccept), nil
		}
		r.EAPMessage = attrs.EAPMessage
		// EAP methods that derive keys (EAP-MSCHAPv2, EAP-TLS) give them
		// as MS-MPPE-Send-Key and -Recv-Key (RFC 2548 §2.4.2, §2.4.3).
		r.MPPESendKey, r.MPPERecvKey = attrs.SendKey, attrs.RecvKey
		return r, nil
	}
	switch req.Method {
	case aaa.MSCHAPv2:
		// RFC 2759 §5: the client checks the server with "S=..."; a
		// server that accepts without it cannot be used for MS-CHAP-V2.
		if attrs.MSCHAP2Success == "" {
			return aaa.Reject(req, "RADIUS Access-Accept without MS-CHAP2-Success"), nil
		}
		r.MSCHAPv2Success = attrs.MSCHAP2Success
		r.MPPESendKey, r.MPPERecvKey = attrs.SendKey, attrs.RecvKey
	case aaa.MSCHAPv1:
		switch {
		case attrs.SendKey != nil:
			r.MPPESendKey, r.MPPERecvKey = attrs.SendKey, attrs.RecvKey
		case attrs.NTKey != nil:
			// RFC 3079 §2.4: one start key from NtPasswordHashHash.
			var hh [16]byte
			copy(hh[:], attrs.NTKey)
			k, err := aaa.MSCHAPv1StartKey(hh, req.Challenge)
			if err == nil {
				r.MPPESendKey, r.MPPERecvKey = k[:], append([]byte(nil), k[:]...)
			}
		}
	}
	return r, nil
}
