package radius

import (
	"encoding/binary"
	"errors"
	"fmt"

	"layeh.com/radius"
)

// EAP pass-through (RFC 3579): the NAS carries the peer's EAP packets to
// the server in EAP-Message attributes and the server's back, echoing
// State between the steps; every packet carries Message-Authenticator
// (RFC 3579 §3.2), which this client adds to every request and requires on
// every answer anyway.
const (
	attrState      = 24 // RFC 2865 §5.24
	attrEAPMessage = 79 // RFC 3579 §3.1

	// MaxEAPMessage bounds one relayed EAP packet. RFC 3579 §3.1 allows
	// any number of EAP-Message attributes, but a RADIUS packet is at
	// most 4096 octets (RFC 2865 §3) and PPP's MRU bounds the peer's
	// side; 3000 octets fit both with room for the other attributes.
	MaxEAPMessage = 3000
	maxAttrValue  = 253
)

var errEAPMessage = errors.New("radius: malformed EAP-Message")

// addEAPMessage splits an EAP packet over EAP-Message attributes of at
// most 253 octets each, in order (RFC 3579 §3.1).
func addEAPMessage(p *radius.Packet, eap []byte) error {
	if err := checkEAP(eap); err != nil {
		return err
	}
	for len(eap) > 0 {
		n := min(len(eap), maxAttrValue)
		p.Add(attrEAPMessage, radius.Attribute(append([]byte(nil), eap[:n]...)))
		eap = eap[n:]
	}
	return nil
}

// checkEAP checks that b is one whole EAP packet (RFC 3748 §4: Code 1-4,
// Length equal to the packet's) of at most MaxEAPMessage octets.
func checkEAP(b []byte) error {
	switch {
	case len(b) < 4:
		return fmt.Errorf("%w: %d octets", errEAPMessage, len(b))
	case len(b) > MaxEAPMessage:
		return fmt.Errorf("%w: %d octets, more than %d", errEAPMessage, len(b), MaxEAPMessage)
	case b[0] < 1 || b[0] > 4:
		return fmt.Errorf("%w: code %d", errEAPMessage, b[0])
	case int(binary.BigEndian.Uint16(b[2:4])) != len(b):
		return fmt.Errorf("%w: length field %d, packet %d octets", errEAPMessage, binary.BigEndian.Uint16(b[2:4]), len(b))
	}
	return nil
}

// addState echoes a server's State (RFC 2865 §5.24: "MUST be sent
// unmodified").
func addState(p *radius.Packet, state []byte) error {
	if len(state) == 0 {
		return nil
	}
	if len(state) > maxAttrValue {
		return errors.New("radius: State longer than 253 octets")
	}
	p.Add(attrState, radius.Attribute(append([]byte(nil), state...)))
	return nil
}
