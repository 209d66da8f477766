package esp

// UDP encapsulation of ESP for NAT traversal (RFC 3948). IKE and ESP
// share UDP port 4500; the first four octets tell them apart (RFC 3948
// §2.2): an ESP packet begins with its SPI, never 0, and an IKE message
// on this port is preceded by four zero octets, the non-ESP marker. A
// datagram of the single octet 0xFF is a NAT-keepalive (§2.3), sent only
// to keep a NAT binding alive and dropped by the receiver.

// EncapPort is the UDP port of IKE and UDP-encapsulated ESP after the NAT-T
// float (RFC 3947 §4, RFC 3948 §2).
const EncapPort = 4500

// NonESPMarkerLen is the length of the non-ESP marker (RFC 3948 §2.2).
const NonESPMarkerLen = 4

// NATKeepalive is the payload of a NAT-keepalive datagram (RFC 3948 §2.3).
const NATKeepalive byte = 0xFF

// Kind classifies a datagram received on port 4500.
type Kind uint8

const (
	// KindBad is too short to be anything, or a non-ESP marker with
	// nothing behind it: drop and count.
	KindBad Kind = iota
	// KindIKE is an IKE message behind the non-ESP marker; strip
	// NonESPMarkerLen octets.
	KindIKE
	// KindESP is an ESP packet, from its SPI on.
	KindESP
	// KindKeepalive is a NAT-keepalive: drop silently.
	KindKeepalive
)

func (k Kind) String() string {
	switch k {
	case KindIKE:
		return "IKE"
	case KindESP:
		return "ESP"
	case KindKeepalive:
		return "NAT-keepalive"
	}
	return "bad"
}

// Classify tells what the UDP payload b, received on port 4500, is (RFC
// 3948 §2.2, §2.3, §3.3).
func Classify(b []byte) Kind {
	switch {
	case len(b) == 1 && b[0] == NATKeepalive:
		return KindKeepalive
	case len(b) < HeaderLen:
		// Shorter than an ESP header and than a marker with an IKE
		// header (28 octets) behind it.
		return KindBad
	case b[0]|b[1]|b[2]|b[3] == 0:
		return KindIKE
	}
	return KindESP
}

// AppendNonESPMarker appends the four zero octets that precede an IKE
// message sent on port 4500.
func AppendNonESPMarker(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }
