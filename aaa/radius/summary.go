package radius

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"layeh.com/radius"
)

// attrNames names the attributes `debug radius` prints, and how: text,
// integer, address, or hidden (the value is never printed: passwords,
// CHAP and MS-CHAP responses, keys).
var attrNames = map[byte]struct {
	name string
	kind byte // 's' text, 'i' integer, 'a' IPv4 address, 'h' hidden, 'x' length only
}{
	1: {"User-Name", 's'}, 2: {"User-Password", 'h'}, 3: {"CHAP-Password", 'h'}, 4: {"NAS-IP-Address", 'a'},
	5: {"NAS-Port", 'i'}, 6: {"Service-Type", 'i'}, 7: {"Framed-Protocol", 'i'}, 8: {"Framed-IP-Address", 'a'},
	9: {"Framed-IP-Netmask", 'a'}, 12: {"Framed-MTU", 'i'}, 18: {"Reply-Message", 's'}, 22: {"Framed-Route", 's'},
	25: {"Class", 'x'}, 26: {"Vendor-Specific", 'v'}, 27: {"Session-Timeout", 'i'}, 28: {"Idle-Timeout", 'i'},
	30: {"Called-Station-Id", 's'}, 31: {"Calling-Station-Id", 's'}, 32: {"NAS-Identifier", 's'},
	44: {"Acct-Session-Id", 's'}, 60: {"CHAP-Challenge", 'x'}, 61: {"NAS-Port-Type", 'i'},
	64: {"Tunnel-Type", 'x'}, 65: {"Tunnel-Medium-Type", 'x'}, 66: {"Tunnel-Client-Endpoint", 's'},
	67: {"Tunnel-Server-Endpoint", 's'}, 69: {"Tunnel-Password", 'h'}, 79: {"EAP-Message", 'x'},
	80: {"Message-Authenticator", 'x'}, 85: {"Acct-Interim-Interval", 'i'}, 87: {"NAS-Port-Id", 's'},
	88: {"Framed-Pool", 's'}, 95: {"NAS-IPv6-Address", 'x'}, 97: {"Framed-IPv6-Prefix", 'x'}, 123: {"Delegated-IPv6-Prefix", 'x'},
}

var msNames = map[byte]string{
	msCHAPResponse: "MS-CHAP-Response", msCHAPError: "MS-CHAP-Error", msCHAPChallenge: "MS-CHAP-Challenge",
	msCHAPMPPEKeys: "MS-CHAP-MPPE-Keys", msMPPESendKey: "MS-MPPE-Send-Key", msMPPERecvKey: "MS-MPPE-Recv-Key",
	msCHAP2Response: "MS-CHAP2-Response", msCHAP2Success: "MS-CHAP2-Success",
	msPrimaryDNSServer: "MS-Primary-DNS-Server", msSecondaryDNSServer: "MS-Secondary-DNS-Server",
}

// debugPacket logs one packet for `debug radius`: direction, code, id,
// peer, length and the attributes summarised, never a secret.
func (c *Client) debugPacket(dir string, peer netip.AddrPort, b []byte, _ []byte) {
	if !c.dbg.Enabled(context.Background(), slog.LevelDebug) || len(b) < headerLen {
		return
	}
	c.dbg.Debug(fmt.Sprintf("RADIUS: %s %v id %d %s len %d", dir, radius.Code(b[0]), b[1], peer, len(b)), "attrs", summarize(b[headerLen:]))
}

// summarize prints an attribute chain as "Name=value ...".
func summarize(b []byte) string {
	var w strings.Builder
	for n := 0; len(b) >= 2 && n < 64; n++ {
		t, l := b[0], int(b[1])
		if l < 2 || l > len(b) {
			w.WriteString(" [malformed]")
			break
		}
		v := b[2:l]
		b = b[l:]
		if w.Len() > 0 {
			w.WriteByte(' ')
		}
		an, ok := attrNames[t]
		if !ok {
			fmt.Fprintf(&w, "Attr-%d(%d)", t, len(v))
			continue
		}
		switch an.kind {
		case 's':
			fmt.Fprintf(&w, "%s=%q", an.name, v)
		case 'i':
			if len(v) == 4 {
				fmt.Fprintf(&w, "%s=%d", an.name, binary.BigEndian.Uint32(v))
			} else {
				fmt.Fprintf(&w, "%s(%d)", an.name, len(v))
			}
		case 'a':
			if len(v) == 4 {
				fmt.Fprintf(&w, "%s=%s", an.name, netip.AddrFrom4([4]byte(v)))
			} else {
				fmt.Fprintf(&w, "%s(%d)", an.name, len(v))
			}
		case 'h':
			fmt.Fprintf(&w, "%s=*", an.name)
		case 'v':
			if len(v) >= 6 && binary.BigEndian.Uint32(v) == vendorMicrosoft {
				name := msNames[v[4]]
				if name == "" {
					name = fmt.Sprintf("MS-%d", v[4])
				}
				fmt.Fprintf(&w, "%s(%d)", name, len(v)-6)
			} else {
				fmt.Fprintf(&w, "%s(%d)", an.name, len(v))
			}
		default:
			fmt.Fprintf(&w, "%s(%d)", an.name, len(v))
		}
	}
	return w.String()
}
