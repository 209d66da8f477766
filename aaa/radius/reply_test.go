package radius

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"layeh.com/radius"
)

func vsa(typ byte, v []byte) radius.Attribute {
	b := binary.BigEndian.AppendUint32(nil, vendorMicrosoft)
	return append(append(b, typ, byte(2+len(v))), v...)
}

// TestParseReplyAuthorization: the attributes of an Access-Accept become
// the Authorization.
func TestParseReplyAuthorization(t *testing.T) {
	req := radius.New(radius.CodeAccessRequest, []byte("k"))
	p := req.Response(radius.CodeAccessAccept)
	add := func(t radius.Type, v []byte) { p.Add(t, radius.Attribute(v)) }
	add(attrFramedIPAddress, []byte{198, 19, 0, 9})
	add(attrFramedIPNetmask, []byte{255, 255, 255, 255})
	add(attrFramedMTU, []byte{0, 0, 5, 0x78})
	add(attrFramedRoute, []byte("198.19.8.0/24 0.0.0.0 1"))
	add(attrFramedRoute, []byte("198.19.9.0 255.255.255.128 198.19.0.9 1"))
	add(attrFramedRoute, []byte("198.19.10.1 0.0.0.0 1"))
	add(attrClass, []byte("gold"))
	add(attrSessionTimeout, []byte{0, 0, 0x0e, 0x10})
	add(attrIdleTimeout, []byte{0, 0, 1, 0x2c})
	add(attrAcctInterimInterval, []byte{0, 0, 2, 0x58})
	add(attrFramedPool, []byte("corp"))
	add(attrFramedIPv6Prefix, []byte{0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0})
	add(attrDelegatedIPv6Prefix, []byte{0, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0})
	add(attrVendorSpecific, vsa(msPrimaryDNSServer, []byte{198, 19, 0, 53}))
	add(attrVendorSpecific, vsa(msSecondaryDNSServer, []byte{198, 19, 0, 54}))
	add(attrTunnelType, []byte{1, 0, 0, 3})
	add(attrTunnelMediumType, []byte{1, 0, 0, 1})
	add(attrTunnelServerEndpoint, []byte("\x01198.18.5.5"))
	add(attrTunnelAssignmentID, []byte("\x01lns-a"))
	add(attrTunnelPreference, []byte{1, 0, 0, 10})
	add(attrTunnelClientAuthID, []byte("\x01lac"))
	pw, _ := radius.NewTunnelPassword([]byte("tunnelpw"), []byte{0x80, 0x01}, []byte("k"), req.Authenticator[:])
	add(attrTunnelPassword, append([]byte{1}, pw...))
	add(attrTunnelServerEndpoint, []byte("198.18.6.6")) // untagged: tag 0
	r, err := parseReply(p, req)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Authz
	if a.Address != netip.MustParseAddr("198.19.0.9") || a.Netmask != netip.MustParseAddr("255.255.255.255") || a.MTU != 1400 || a.Pool != "corp" {
		t.Errorf("address %v/%v mtu %d pool %q", a.Address, a.Netmask, a.MTU, a.Pool)
	}
	wantRoutes := []netip.Prefix{netip.MustParsePrefix("198.19.8.0/24"), netip.MustParsePrefix("198.19.9.0/25"), netip.MustParsePrefix("198.19.10.1/32")}
	if !slices.Equal(a.Routes, wantRoutes) {
		t.Errorf("routes %v", a.Routes)
	}
	if a.SessionTimeout != 3600 || a.IdleTimeout != 300 || a.InterimInterval != 600 || len(a.Class) != 1 || string(a.Class[0]) != "gold" {
		t.Errorf("timeouts %d %d %d class %q", a.SessionTimeout, a.IdleTimeout, a.InterimInterval, a.Class)
	}
	if !slices.Equal(a.DNS, []netip.Addr{netip.MustParseAddr("198.19.0.53"), netip.MustParseAddr("198.19.0.54")}) {
		t.Errorf("dns %v", a.DNS)
	}
	if len(a.IPv6Prefixes) != 1 || a.IPv6Prefixes[0] != netip.MustParsePrefix("2001:db8:1::/64") ||
		len(a.DelegatedPrefix) != 1 || a.DelegatedPrefix[0] != netip.MustParsePrefix("2001:db8:2::/56") {
		t.Errorf("ipv6 %v %v", a.IPv6Prefixes, a.DelegatedPrefix)
	}
	if len(a.Tunnels) != 2 {
		t.Fatalf("tunnels %+v", a.Tunnels)
	}
	t1 := a.Tunnels[0]
	if t1.Tag != 1 || t1.Type != 3 || t1.MediumType != 1 || t1.ServerEnd != "198.18.5.5" || t1.AssignmentID != "lns-a" ||
		t1.Preference != 10 || t1.ClientAuthID != "lac" || t1.Password != "tunnelpw" {
		t.Errorf("tunnel 1 %+v", t1)
	}
	if a.Tunnels[1].Tag != 0 || a.Tunnels[1].ServerEnd != "198.18.6.6" {
		t.Errorf("tunnel 0 %+v", a.Tunnels[1])
	}
}

// TestParseReplyBad: values of the wrong size are refused.
func TestParseReplyBad(t *testing.T) {
	cases := []struct {
		name string
		typ  radius.Type
		v    []byte
	}{
		{"short address", attrFramedIPAddress, []byte{1, 2, 3}},
		{"long integer", attrSessionTimeout, []byte{0, 0, 0, 1, 2}},
		{"bad route", attrFramedRoute, []byte("nowhere")},
		{"ipv6 route", attrFramedRoute, []byte("2001:db8::/32")},
		{"v6 prefix too long", attrFramedIPv6Prefix, []byte{0, 129, 0}},
		{"v6 prefix short", attrFramedIPv6Prefix, []byte{0, 64, 0x20}},
		{"tunnel type short", attrTunnelType, []byte{1, 0, 3}},
		{"tunnel tag too big", attrTunnelType, []byte{0x20, 0, 0, 3}},
		{"tunnel password short", attrTunnelPassword, []byte{1, 0x80, 1, 2}},
		{"vsa short", attrVendorSpecific, []byte{0, 0, 1}},
		{"ms chain overrun", attrVendorSpecific, []byte{0, 0, 1, 0x37, msCHAP2Success, 9, 'S'}},
		{"ms success short", attrVendorSpecific, vsa(msCHAP2Success, []byte("\x01S=00"))},
		{"ms dns short", attrVendorSpecific, vsa(msPrimaryDNSServer, []byte{1})},
		{"mppe key not blocks", attrVendorSpecific, vsa(msMPPESendKey, make([]byte, 20))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := radius.New(radius.CodeAccessRequest, []byte("k"))
			p := req.Response(radius.CodeAccessAccept)
			p.Add(tc.typ, radius.Attribute(tc.v))
			if r, err := parseReply(p, req); err == nil {
				t.Errorf("accepted: %+v", r)
			}
		})
	}
}

// FuzzParseReply: no attribute chain panics the answer parser or the
// debug summary.
func FuzzParseReply(f *testing.F) {
	f.Add([]byte{8, 6, 198, 19, 0, 1, 26, 12, 0, 0, 1, 0x37, 28, 6, 1, 1, 1, 1})
	f.Add([]byte{69, 21, 1, 0x80, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{22, 9, '1', '.', '2', '.', '3', '.', '4'})
	// EAP-Message in two parts (an MD5-Challenge Request) and State.
	f.Add([]byte{79, 7, 1, 2, 0, 10, 4, 79, 7, 1, 0xaa, 0xbb, 0xcc, 0xdd, 24, 4, 's', '1'})
	// A Cisco-AVPair, then a Cisco chain that does not add up.
	f.Add([]byte{26, 14, 0, 0, 0, 9, 1, 8, 'i', 'p', 's', 'e', 'c', ':', 26, 9, 0, 0, 0, 9, 1, 9, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = summarize(b)
		attrs, err := radius.ParseAttributes(b)
		if err != nil {
			return
		}
		req := radius.New(radius.CodeAccessRequest, []byte("k"))
		p := req.Response(radius.CodeAccessAccept)
		p.Attributes = attrs
		_, _ = parseReply(p, req)
	})
}

// FuzzVerifyResponse: no datagram panics the checks of an answer, and
// none passes them without the secret.
func FuzzVerifyResponse(f *testing.F) {
	f.Add([]byte{2, 1, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 1, 0, 38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var auth [16]byte
		c, err := checkLength(b)
		if err != nil {
			return
		}
		if verifyResponse(c, &auth, []byte("secret"), true) == nil {
			t.Fatalf("forged answer accepted: %x", b)
		}
	})
}
