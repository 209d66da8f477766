package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vpdn/vpdn/wire/isakmp"
)

// ModeConfig is what mode-config hands an Easy VPN client
// (draft-dukes-ike-mode-cfg-02 §3.3, with the Cisco Unity attributes IOS
// sends for a `crypto isakmp client configuration group`).
type ModeConfig struct {
	Address       netip.Addr     // INTERNAL_IP4_ADDRESS
	Netmask       netip.Addr     // INTERNAL_IP4_NETMASK
	DNS           []netip.Addr   // INTERNAL_IP4_DNS
	NBNS          []netip.Addr   // INTERNAL_IP4_NBNS (WINS)
	SplitInclude  []netip.Prefix // UNITY_SPLIT_INCLUDE: the networks behind us
	DefaultDomain string         // UNITY_DEF_DOMAIN
	SplitDNS      []string       // UNITY_SPLIT_DNS
	Banner        string         // UNITY_BANNER
	SavePassword  bool           // UNITY_SAVE_PASSWD
}

func (m *ModeConfig) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "address %v", m.Address)
	if m.Netmask.IsValid() {
		fmt.Fprintf(&b, " mask %v", m.Netmask)
	}
	for _, d := range m.DNS {
		fmt.Fprintf(&b, " dns %v", d)
	}
	for _, d := range m.NBNS {
		fmt.Fprintf(&b, " wins %v", d)
	}
	for _, p := range m.SplitInclude {
		fmt.Fprintf(&b, " split %v", p)
	}
	if m.DefaultDomain != "" {
		fmt.Fprintf(&b, " domain %s", m.DefaultDomain)
	}
	return b.String()
}

// maxModeCfgString bounds the strings a peer may hand us (banner, domain).
const maxModeCfgString = 4096

// splitEntryLen is one UNITY_SPLIT_INCLUDE entry: address, mask and six
// octets the Cisco client reads as protocol and ports (sent as zeros).
const splitEntryLen = 14

// appendModeConfig appends the attributes of m, for a CFG_REPLY or a
// CFG_SET.
func appendModeConfig(attrs []isakmp.Attr, m *ModeConfig) []isakmp.Attr {
	v4 := func(t uint16, a netip.Addr) {
		if a.Is4() {
			b := a.As4()
			attrs = append(attrs, isakmp.VarAttr(t, b[:]))
		}
	}
	v4(isakmp.CfgInternalIP4Address, m.Address)
	v4(isakmp.CfgInternalIP4Netmask, m.Netmask)
	for _, d := range m.DNS {
		v4(isakmp.CfgInternalIP4DNS, d)
	}
	for _, d := range m.NBNS {
		v4(isakmp.CfgInternalIP4NBNS, d)
	}
	if len(m.SplitInclude) > 0 {
		var b []byte
		for _, p := range m.SplitInclude {
			if !p.Addr().Is4() {
				continue
			}
			a := p.Masked().Addr().As4()
			b = append(b, a[:]...)
			b = binary.BigEndian.AppendUint32(b, maskHigh(p.Bits()))
			b = append(b, 0, 0, 0, 0, 0, 0)
		}
		if len(b) > 0 {
			attrs = append(attrs, isakmp.VarAttr(isakmp.UnitySplitInclude, b))
		}
	}
	if m.DefaultDomain != "" {
		attrs = append(attrs, isakmp.VarAttr(isakmp.UnityDefDomain, []byte(m.DefaultDomain)))
	}
	if len(m.SplitDNS) > 0 {
		attrs = append(attrs, isakmp.VarAttr(isakmp.UnitySplitDNS, []byte(strings.Join(m.SplitDNS, ","))))
	}
	if m.Banner != "" {
		attrs = append(attrs, isakmp.VarAttr(isakmp.UnityBanner, []byte(m.Banner)))
	}
	if m.SavePassword {
		attrs = append(attrs, isakmp.BasicAttr(isakmp.UnitySavePasswd, 1))
	}
	return attrs
}

// maskHigh is a 32-bit netmask of bits ones (0 for 0 bits).
func maskHigh(bits int) uint32 {
	if bits <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// parseModeConfig reads the mode-config attributes of a CFG_REPLY or
// CFG_SET; others (XAuth's, unknown ones) are skipped, as the draft lets a
// receiver ignore what it does not know (§3.3).
func parseModeConfig(attrs []byte) (*ModeConfig, error) {
	m := &ModeConfig{}
	d := isakmp.NewAttrDecoder(attrs)
	addr := func(a isakmp.Attr) (netip.Addr, error) {
		if a.Basic || len(a.Data) != 4 {
			return netip.Addr{}, fmt.Errorf("ike: mode-config attribute %d of %d octets, want an IPv4 address", a.Type, len(a.Data))
		}
		return netip.AddrFrom4([4]byte(a.Data)), nil
	}
	str := func(a isakmp.Attr) (string, error) {
		if a.Basic || len(a.Data) > maxModeCfgString {
			return "", fmt.Errorf("ike: mode-config attribute %d is not a string of at most %d octets", a.Type, maxModeCfgString)
		}
		return strings.TrimRight(string(a.Data), "\x00"), nil
	}
	for d.Next() {
		a := d.Attr()
		var err error
		switch a.Type {
		case isakmp.CfgInternalIP4Address:
			if !a.Basic && len(a.Data) == 0 {
				continue // a request's empty attribute
			}
			m.Address, err = addr(a)
		case isakmp.CfgInternalIP4Netmask:
			if !a.Basic && len(a.Data) == 0 {
				continue
			}
			m.Netmask, err = addr(a)
		case isakmp.CfgInternalIP4DNS, isakmp.CfgInternalIP4NBNS:
			if !a.Basic && len(a.Data) == 0 {
				continue
			}
			var x netip.Addr
			if x, err = addr(a); err == nil {
				if a.Type == isakmp.CfgInternalIP4DNS {
					m.DNS = append(m.DNS, x)
				} else {
					m.NBNS = append(m.NBNS, x)
				}
			}
		case isakmp.UnitySplitInclude:
			if a.Basic || len(a.Data)%splitEntryLen != 0 {
				return nil, fmt.Errorf("ike: UNITY_SPLIT_INCLUDE of %d octets is not a list of %d-octet entries", len(a.Data), splitEntryLen)
			}
			for b := a.Data; len(b) > 0; b = b[splitEntryLen:] {
				mask := binary.BigEndian.Uint32(b[4:])
				bits := 32 - trailingZeros(mask)
				if maskHigh(bits) != mask {
					return nil, fmt.Errorf("ike: UNITY_SPLIT_INCLUDE mask %#08x is not contiguous", mask)
				}
				m.SplitInclude = append(m.SplitInclude, netip.PrefixFrom(netip.AddrFrom4([4]byte(b[:4])), bits).Masked())
			}
		case isakmp.UnityDefDomain:
			m.DefaultDomain, err = str(a)
		case isakmp.UnitySplitDNS:
			var s string
			if s, err = str(a); err == nil && s != "" {
				m.SplitDNS = strings.Split(s, ",")
			}
		case isakmp.UnityBanner:
			m.Banner, err = str(a)
		case isakmp.UnitySavePasswd:
			v, _ := a.Uint()
			m.SavePassword = v != 0
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("ike: mode-config attributes: %w", err)
	}
	if m.Netmask.IsValid() {
		if b := m.Netmask.As4(); maskHigh(32-trailingZeros(binary.BigEndian.Uint32(b[:]))) != binary.BigEndian.Uint32(b[:]) {
			return nil, errors.New("ike: INTERNAL_IP4_NETMASK is not a contiguous mask")
		}
	}
	return m, nil
}

func trailingZeros(v uint32) int {
	if v == 0 {
		return 32
	}
	n := 0
	for v&1 == 0 {
		v >>= 1
		n++
	}
	return n
}

// xauthReply is what an XAuth CFG_REPLY or CFG_SET carries
// (draft-beaulieu-ike-xauth-02 §6.2).
type xauthAttrs struct {
	user, password   string
	hasUser, hasPass bool
	status           int // -1 absent, else XAUTH_STATUS
	xauth            bool
}

// parseXAuth reads the XAuth attributes of an attribute payload.
func parseXAuth(attrs []byte) (xauthAttrs, error) {
	x := xauthAttrs{status: -1}
	d := isakmp.NewAttrDecoder(attrs)
	for d.Next() {
		a := d.Attr()
		switch a.Type {
		case isakmp.XAuthType, isakmp.XAuthMessage, isakmp.XAuthPasscode, isakmp.XAuthChallenge, isakmp.XAuthDomain, isakmp.XAuthNextPin, isakmp.XAuthAnswer:
			x.xauth = true
		case isakmp.XAuthUserName, isakmp.XAuthPassword:
			x.xauth = true
			if a.Basic || len(a.Data) > 255 {
				return x, fmt.Errorf("ike: XAuth attribute %d is not a string of at most 255 octets", a.Type)
			}
			// Some clients (Android) end the password with a NUL.
			s := strings.TrimSuffix(string(a.Data), "\x00")
			if a.Type == isakmp.XAuthUserName {
				x.user, x.hasUser = s, true
			} else {
				x.password, x.hasPass = s, true
			}
		case isakmp.XAuthStatus:
			x.xauth = true
			if v, ok := a.Uint(); ok {
				x.status = int(min(v, 1<<16))
			} else {
				x.status = -2 // present without a value (an ACK)
			}
		}
	}
	if err := d.Err(); err != nil {
		return x, fmt.Errorf("ike: XAuth attributes: %w", err)
	}
	return x, nil
}
