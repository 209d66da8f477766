package isakmp

import "bytes"

// Known Vendor ID payload bodies. Where the defining document says the VID
// is the MD5 of a string, the value is that hash (checked by the tests);
// the others are the octets the vendor published.
var (
	// VIDNATTRFC3947 is MD5("RFC 3947") (RFC 3947 §3).
	VIDNATTRFC3947 = []byte{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f}
	// VIDNATTDraft02 is MD5("draft-ietf-ipsec-nat-t-ike-02").
	VIDNATTDraft02 = []byte{0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48}
	// VIDNATTDraft02N is MD5("draft-ietf-ipsec-nat-t-ike-02\n"), the
	// value with a newline that many implementations sent.
	VIDNATTDraft02N = []byte{0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f}
	// VIDNATTDraft03 is MD5("draft-ietf-ipsec-nat-t-ike-03").
	VIDNATTDraft03 = []byte{0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56}
	// VIDDPD is RFC 3706 §4's Vendor ID (version 1.0 in its last two
	// octets).
	VIDDPD = []byte{0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00}
	// VIDXAuth is the first 8 octets of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt").
	VIDXAuth = []byte{0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12}
	// VIDCiscoUnity is the first 14 octets of MD5("CISCO-UNITY") followed
	// by version 1.0.
	VIDCiscoUnity = []byte{0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00}
	// VIDCiscoFragmentation is MD5("FRAGMENTATION"); IOS appends the
	// four octets 80 00 00 00 (see HasVID's prefix match).
	VIDCiscoFragmentation = []byte{0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3}
)

// VendorName returns a name for a known Vendor ID body, or "". A VID that
// starts with a known one (Cisco's fragmentation VID with its flags) is
// named after it.
func VendorName(vid []byte) string {
	for _, k := range []struct {
		v []byte
		n string
	}{
		{VIDNATTRFC3947, "RFC 3947 NAT-T"},
		{VIDNATTDraft02, "draft-ietf-ipsec-nat-t-ike-02"},
		{VIDNATTDraft02N, "draft-ietf-ipsec-nat-t-ike-02\\n"},
		{VIDNATTDraft03, "draft-ietf-ipsec-nat-t-ike-03"},
		{VIDDPD, "DPD"},
		{VIDXAuth, "XAUTH"},
		{VIDCiscoUnity, "Cisco Unity"},
		{VIDCiscoFragmentation, "Cisco FRAGMENTATION"},
	} {
		if bytes.HasPrefix(vid, k.v) {
			return k.n
		}
	}
	return ""
}
