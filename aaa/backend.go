package aaa

import "github.com/vpdn/vpdn/aaa/mschap"

// Helpers for backends outside this package (aaa/radius): they must give
// PPP the same Result a local decision gives.

// Reject builds a rejection of req with the peer-facing texts of its
// method: the generic failure message, and for MS-CHAP the failure packet
// text of RFC 2433 §3 / RFC 2759 §6. reason is for logs only.
func Reject(req *Request, reason string) *Result { return rejectFor(req, reason) }

// MSCHAPv1StartKey is the 128-bit MPPE start key of an MS-CHAPv1 exchange
// (RFC 3079 §2.4) from NtPasswordHashHash, which a RADIUS server returns in
// MS-CHAP-MPPE-Keys (RFC 2548 §2.4.1), and the 8-octet challenge.
func MSCHAPv1StartKey(ntHashHash [16]byte, challenge []byte) ([16]byte, error) {
	return mschap.V1StartKey(mschap.PasswordHash(ntHashHash), challenge)
}

// Tunnel is one tagged group of RFC 2868 tunnel attributes from an
// Access-Accept, which a LAC uses to choose the LNS of a NAS-initiated
// tunnel. Tag 0 is the untagged group.
type Tunnel struct {
	Tag          uint8
	Type         uint32 // Tunnel-Type (§3.1): 3 L2TP
	MediumType   uint32 // Tunnel-Medium-Type (§3.2): 1 IPv4
	ServerEnd    string // Tunnel-Server-Endpoint (§3.4)
	ClientEnd    string // Tunnel-Client-Endpoint (§3.3)
	Password     string // Tunnel-Password (§3.5), decrypted
	AssignmentID string // Tunnel-Assignment-Id (§3.7)
	Preference   uint32 // Tunnel-Preference (§3.8)
	ClientAuthID string // Tunnel-Client-Auth-Id (§3.9)
	ServerAuthID string // Tunnel-Server-Auth-Id (§3.10)
}
