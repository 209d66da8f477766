package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// String prints the configuration in normalized IOS form: canonical
// keywords and interface names, one command per line, submodes indented,
// sections separated by "!". Parsing the output yields the same Config.
func (c *Config) String() string {
	var w printer
	if c.Hostname != "" {
		w.line(0, "hostname %s", c.Hostname)
		w.bang()
	}
	for _, s := range c.Services {
		w.line(0, "service %s", s)
	}
	if len(c.Services) > 0 {
		w.bang()
	}
	if c.AAA.NewModel || len(c.AAA.Authentication)+len(c.AAA.Authorization)+len(c.AAA.Accounting)+len(c.AAA.Login)+len(c.AAA.SystemAccounting) > 0 {
		if c.AAA.NewModel {
			w.line(0, "aaa new-model")
		}
		for _, l := range c.AAA.Authentication {
			w.line(0, "aaa authentication ppp %s %s", l.Name, strings.Join(l.Methods, " "))
		}
		for _, l := range c.AAA.Login {
			w.line(0, "aaa authentication login %s %s", l.Name, strings.Join(l.Methods, " "))
		}
		for _, l := range c.AAA.Authorization {
			w.line(0, "aaa authorization network %s %s", l.Name, strings.Join(l.Methods, " "))
		}
		for _, l := range c.AAA.Accounting {
			w.line(0, "%s", strings.TrimSpace(fmt.Sprintf("aaa accounting network %s %s %s", l.Name, l.Record, strings.Join(l.Methods, " "))))
		}
		for _, l := range c.AAA.SystemAccounting {
			w.line(0, "%s", strings.TrimSpace(fmt.Sprintf("aaa accounting system %s %s %s", l.Name, l.Record, strings.Join(l.Methods, " "))))
		}
		w.bang()
	}
	if c.AAA.LocalMaxFail > 0 {
		w.line(0, "aaa local authentication attempts max-fail %d", c.AAA.LocalMaxFail)
		w.bang()
	}
	for _, l := range c.AAA.AttrLists {
		w.line(0, "aaa attribute list %s", l.Name)
		if l.Addr.IsValid() {
			w.line(1, "attribute type addr %s service ppp protocol ip", l.Addr)
		}
		if l.Pool != "" {
			w.line(1, "attribute type addr-pool %s service ppp protocol ip", l.Pool)
		}
		if l.PrimaryDNS.IsValid() {
			w.line(1, "attribute type primary-dns %s service ppp protocol ip", l.PrimaryDNS)
		}
		if l.SecondaryDNS.IsValid() {
			w.line(1, "attribute type secondary-dns %s service ppp protocol ip", l.SecondaryDNS)
		}
		for _, r := range l.Routes {
			w.line(1, "attribute type route %s %s service ppp protocol ip", r.Addr(), maskString(r.Bits()))
		}
		if l.SessionTimeout != 0 {
			w.line(1, "attribute type session-timeout %d service ppp", l.SessionTimeout)
		}
		if l.IdleTimeout != 0 {
			w.line(1, "attribute type idletime %d service ppp", l.IdleTimeout)
		}
		w.bang()
	}
	for _, d := range c.AAA.Domains {
		w.line(0, "aaa domain %s attribute list %s", d.Name, d.AttrList)
	}
	if c.AAA.DomainStripping {
		if c.AAA.Delimiter != "" {
			w.line(0, "aaa domain-stripping delimiter %s", c.AAA.Delimiter)
		} else {
			w.line(0, "aaa domain-stripping")
		}
	}
	if len(c.AAA.Domains) > 0 || c.AAA.DomainStripping {
		w.bang()
	}
	for _, u := range c.AAA.Users {
		switch {
		case u.Password.IsZero():
		case u.Privilege != 0:
			w.line(0, "username %s privilege %d password %s", u.Name, u.Privilege, fmtSecret(u.Password))
		default:
			w.line(0, "username %s password %s", u.Name, fmtSecret(u.Password))
		}
		if u.AttrList != "" {
			w.line(0, "username %s aaa attribute list %s", u.Name, u.AttrList)
		}
	}
	if len(c.AAA.Users) > 0 {
		w.bang()
	}
	printRadius(&w, c.AAA.RADIUS)
	if c.VPDN.Enabled {
		w.line(0, "vpdn enable")
	}
	if c.VPDN.L2TPListen != "" {
		w.line(0, "vpdn l2tp listen %s", c.VPDN.L2TPListen)
	}
	if c.VPDN.SharedAccess {
		w.line(0, "vpdn virtual-access shared")
	}
	if c.VPDN.SessionLimit != 0 {
		w.line(0, "vpdn session-limit %d", c.VPDN.SessionLimit)
	}
	if c.VPDN.TunnelLimitPerPeer != 0 {
		w.line(0, "vpdn tunnel-limit per-peer %d", c.VPDN.TunnelLimitPerPeer)
	}
	if c.Metrics.Listen != "" {
		w.line(0, "vpdn metrics listen %s", c.Metrics.Listen)
	}
	if ps := c.VPDN.PoolStore; ps != nil {
		if !ps.DSN.IsZero() {
			w.line(0, "vpdn pool-store postgres %s", fmtSecret(ps.DSN))
		}
		if ps.Owner != "" {
			w.line(0, "vpdn pool-store owner %s", ps.Owner)
		}
	}
	if c.VPDN.Enabled || c.Metrics.Listen != "" || c.VPDN.L2TPListen != "" || c.VPDN.SharedAccess ||
		c.VPDN.SessionLimit != 0 || c.VPDN.TunnelLimitPerPeer != 0 || c.VPDN.PoolStore != nil {
		w.bang()
	}
	for _, g := range c.VPDN.Groups {
		printGroup(&w, g)
		w.bang()
	}
	for _, l := range c.L2TP.Classes {
		printL2TPClass(&w, l)
		w.bang()
	}
	for _, pc := range c.L2TP.PWClasses {
		printPWClass(&w, pc)
		w.bang()
	}
	printCrypto(&w, c.Crypto)
	for _, i := range c.Interfaces {
		printInterface(&w, i)
		w.bang()
	}
	for _, ct := range c.Controllers {
		w.line(0, "controller %s", ct.Name)
		if ct.EncryptionMPPE {
			w.line(1, "encryption mppe")
		}
		w.bang()
	}
	for _, p := range c.IP.Pools {
		for _, r := range p.Ranges {
			if r.Start == r.End {
				w.line(0, "ip local pool %s %s", p.Name, r.Start)
			} else {
				w.line(0, "ip local pool %s %s %s", p.Name, r.Start, r.End)
			}
		}
	}
	for _, r := range c.IP.Routes {
		s := fmt.Sprintf("ip route %s %s", r.Prefix.Addr(), maskString(r.Prefix.Bits()))
		if r.Iface != nil {
			s += " " + r.Iface.String()
		}
		if r.NextHop.IsValid() {
			s += " " + r.NextHop.String()
		}
		if r.Distance != 0 {
			s += fmt.Sprintf(" %d", r.Distance)
		}
		w.line(0, "%s", s)
	}
	for _, p := range c.IP.IPv6Pools {
		w.line(0, "ipv6 local pool %s %s %d", p.Name, p.Prefix, p.AssignLen)
	}
	if len(c.IP.Pools)+len(c.IP.Routes)+len(c.IP.IPv6Pools) > 0 {
		w.bang()
	}
	printAccessLists(&w, c.AccessLists)
	w.line(0, "end")
	return w.String()
}

type printer struct {
	strings.Builder
	lastBang bool
}

func (w *printer) line(depth int, format string, args ...any) {
	w.WriteString(strings.Repeat(" ", depth))
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
	w.lastBang = false
}

// opt prints `prefix v` at depth when v is set.
func (w *printer) opt(depth int, prefix, v string) {
	if v != "" {
		w.line(depth, "%s %s", prefix, v)
	}
}

func (w *printer) bang() {
	if !w.lastBang {
		w.WriteString("!\n")
		w.lastBang = true
	}
}

func fmtSecret(s Secret) string { return fmt.Sprintf("%d %s", s.Type, s.Value) }

func maskString(bits int) string {
	var m uint32
	if bits > 0 {
		m = ^uint32(0) << (32 - bits)
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

func printGroup(w *printer, g *VPDNGroup) {
	w.line(0, "vpdn-group %s", g.Name)
	if g.Description != "" {
		w.line(1, "description %s", g.Description)
	}
	if a := g.Accept; a != nil {
		w.line(1, "accept-dialin")
		if a.Protocol != "" {
			w.line(2, "protocol %s", a.Protocol)
		}
		if a.VirtualTemplate != 0 {
			w.line(2, "virtual-template %d", a.VirtualTemplate)
		}
	}
	if r := g.Request; r != nil {
		w.line(1, "request-dialin")
		if r.Protocol != "" {
			w.line(2, "protocol %s", r.Protocol)
		}
		if r.PoolMember != 0 {
			w.line(2, "pool-member %d", r.PoolMember)
		}
		for _, d := range r.Domains {
			w.line(2, "domain %s", d)
		}
		for _, d := range r.DNIS {
			w.line(2, "dnis %s", d)
		}
	}
	for _, t := range g.InitiateTo {
		if t.Priority != 0 {
			w.line(1, "initiate-to ip %s priority %d", t.Addr, t.Priority)
		} else {
			w.line(1, "initiate-to ip %s", t.Addr)
		}
	}
	if g.SourceIP.IsValid() {
		w.line(1, "source-ip %s", g.SourceIP)
	}
	if g.LocalName != "" {
		w.line(1, "local name %s", g.LocalName)
	}
	if g.TerminateFrom != "" {
		w.line(1, "terminate-from hostname %s", g.TerminateFrom)
	}
	if g.LCPRenegotiation != "" {
		w.line(1, "lcp renegotiation %s", g.LCPRenegotiation)
	}
	if !g.TunnelPassword.IsZero() {
		w.line(1, "l2tp tunnel password %s", fmtSecret(g.TunnelPassword))
	}
	if g.TunnelAuth != nil {
		if *g.TunnelAuth {
			w.line(1, "l2tp tunnel authentication")
		} else {
			w.line(1, "no l2tp tunnel authentication")
		}
	}
	if g.TunnelHello != 0 {
		w.line(1, "l2tp tunnel hello %d", g.TunnelHello)
	}
	if g.TunnelRecvWindow != 0 {
		w.line(1, "l2tp tunnel receive-window %d", g.TunnelRecvWindow)
	}
	switch {
	case g.TunnelTimeoutNoSession < 0:
		w.line(1, "l2tp tunnel timeout no-session never")
	case g.TunnelTimeoutNoSession > 0:
		w.line(1, "l2tp tunnel timeout no-session %d", g.TunnelTimeoutNoSession)
	}
	if g.SessionTimeoutSetup != 0 {
		w.line(1, "l2tp session timeout setup %d", g.SessionTimeoutSetup)
	}
	if g.IPPMTU {
		w.line(1, "ip pmtu")
	}
	if g.PPTPRecvWindow != 0 {
		w.line(1, "pptp flow-control receive-window %d", g.PPTPRecvWindow)
	}
	if g.PPTPStaticRTT != 0 {
		w.line(1, "pptp flow-control static-rtt %d", g.PPTPStaticRTT)
	}
	if g.PPTPEcho != 0 {
		w.line(1, "pptp tunnel echo %d", g.PPTPEcho)
	}
}

func printL2TPClass(w *printer, c *L2TPClass) {
	w.line(0, "l2tp-class %s", c.Name)
	if c.ReceiveWindow != 0 {
		w.line(1, "receive-window %d", c.ReceiveWindow)
	}
	if c.RetransInitial != 0 {
		w.line(1, "retransmit initial retries %d", c.RetransInitial)
	}
	if c.RetransRetries != 0 {
		w.line(1, "retransmit retries %d", c.RetransRetries)
	}
	if c.RetransTimeoutMax != 0 {
		w.line(1, "retransmit timeout max %d", c.RetransTimeoutMax)
	}
	if c.RetransTimeoutMin != 0 {
		w.line(1, "retransmit timeout min %d", c.RetransTimeoutMin)
	}
	if c.TimeoutSetup != 0 {
		w.line(1, "timeout setup %d", c.TimeoutSetup)
	}
	if c.Authentication {
		w.line(1, "authentication")
	}
	if c.Hostname != "" {
		w.line(1, "hostname %s", c.Hostname)
	}
	if c.Hidden {
		w.line(1, "hidden")
	}
	if !c.Password.IsZero() {
		w.line(1, "password %s", fmtSecret(c.Password))
	}
	if c.Hello != 0 {
		w.line(1, "hello %d", c.Hello)
	}
	if !c.DigestSecret.IsZero() {
		w.line(1, "digest secret %s", fmtSecret(c.DigestSecret))
	}
}

func printPWClass(w *printer, c *PWClass) {
	w.line(0, "pseudowire-class %s", c.Name)
	if c.Encapsulation != "" {
		w.line(1, "encapsulation %s", c.Encapsulation)
	}
	if c.Protocol != "" {
		if c.L2TPClass != "" {
			w.line(1, "protocol %s %s", c.Protocol, c.L2TPClass)
		} else {
			w.line(1, "protocol %s", c.Protocol)
		}
	}
	if c.LocalIf != nil {
		w.line(1, "ip local interface %s", c.LocalIf)
	}
	if c.IPPMTU {
		w.line(1, "ip pmtu")
	}
	if c.TOSValue != nil {
		w.line(1, "ip tos value %d", *c.TOSValue)
	}
	if c.TOSReflect {
		w.line(1, "ip tos reflect")
	}
	if c.DFBitSet {
		w.line(1, "ip dfbit set")
	}
	if c.TTL != 0 {
		w.line(1, "ip ttl %d", c.TTL)
	}
	if c.IPProtocol != "" {
		w.line(1, "ip protocol %s", c.IPProtocol)
	}
	if c.Sequencing != "" {
		w.line(1, "sequencing %s", c.Sequencing)
	}
}

func printInterface(w *printer, i *Interface) {
	w.line(0, "interface %s", i.Name)
	if i.Description != "" {
		w.line(1, "description %s", i.Description)
	}
	if i.Dot1Q != 0 {
		w.line(1, "encapsulation dot1Q %d", i.Dot1Q)
	}
	if i.LinuxDevice != "" && i.LinuxTAP {
		w.line(1, "linux-device %s tap", i.LinuxDevice)
	} else if i.LinuxDevice != "" {
		w.line(1, "linux-device %s", i.LinuxDevice)
	}
	switch {
	case i.Address.IsValid():
		w.line(1, "ip address %s %s", i.Address.Addr(), maskString(i.Address.Bits()))
	case i.Negotiated:
		w.line(1, "ip address negotiated")
	case i.Unnumbered != nil:
		w.line(1, "ip unnumbered %s", i.Unnumbered)
	case i.NoAddress:
		w.line(1, "no ip address")
	}
	if i.CryptoMap != "" {
		w.line(1, "crypto map %s", i.CryptoMap)
	}
	if i.IPNat != "" {
		w.line(1, "ip nat %s", i.IPNat)
	}
	if i.EzVPN != "" {
		if i.EzVPNInside {
			w.line(1, "crypto ipsec client ezvpn %s inside", i.EzVPN)
		} else {
			w.line(1, "crypto ipsec client ezvpn %s", i.EzVPN)
		}
	}
	if i.MTU != 0 {
		w.line(1, "ip mtu %d", i.MTU)
	}
	if i.TCPAdjustMSS != 0 {
		w.line(1, "ip tcp adjust-mss %d", i.TCPAdjustMSS)
	}
	switch i.VerifyUnicast {
	case "rx", "any":
		w.line(1, "ip verify unicast source reachable-via %s", i.VerifyUnicast)
	case "none":
		w.line(1, "no ip verify unicast source reachable-via rx")
	}
	if i.Encapsulation != "" {
		w.line(1, "encapsulation %s", i.Encapsulation)
	}
	if i.AutodetectPPP {
		w.line(1, "autodetect encapsulation ppp")
	}
	if d := i.Dialer; d.Pool != 0 || d.IdleTimeout != nil || len(d.Strings) > 0 || d.VPDN || d.Group != 0 {
		if d.Pool != 0 {
			w.line(1, "dialer pool %d", d.Pool)
		}
		if d.IdleTimeout != nil {
			w.line(1, "dialer idle-timeout %d", *d.IdleTimeout)
		}
		for _, s := range d.Strings {
			w.line(1, "dialer string %s", s)
		}
		if d.VPDN {
			w.line(1, "dialer vpdn")
		}
		if d.Group != 0 {
			w.line(1, "dialer-group %d", d.Group)
		}
	}
	if pd := i.PeerDefault; pd.Set {
		switch {
		case pd.None:
			w.line(1, "no peer default ip address")
		case pd.DHCP:
			w.line(1, "peer default ip address dhcp")
		case pd.PoolDefault:
			w.line(1, "peer default ip address pool")
		case pd.Pool != "":
			w.line(1, "peer default ip address pool %s", pd.Pool)
		case pd.Addr.IsValid():
			w.line(1, "peer default ip address %s", pd.Addr)
		}
	}
	printIPv6(w, &i.IPv6)
	if e := i.MPPE; e != nil {
		s := "ppp encrypt mppe " + e.Bits
		if e.Passive {
			s += " passive"
		}
		if e.Required {
			s += " required"
		}
		if e.Stateful {
			s += " stateful"
		}
		w.line(1, "%s", s)
	}
	if i.PPPAcctList != "" {
		w.line(1, "ppp accounting %s", i.PPPAcctList)
	}
	if a := i.PPPAuth; a != nil {
		s := "ppp authentication " + strings.Join(a.Protocols, " ")
		if a.IfNeeded {
			s += " if-needed"
		}
		if a.List != "" {
			s += " " + a.List
		}
		if a.Callin {
			s += " callin"
		}
		if a.OneTime {
			s += " one-time"
		}
		if a.Optional {
			s += " optional"
		}
		w.line(1, "%s", s)
	}
	if i.CHAPHostname != "" {
		w.line(1, "ppp chap hostname %s", i.CHAPHostname)
	}
	if !i.CHAPPassword.IsZero() {
		w.line(1, "ppp chap password %s", fmtSecret(i.CHAPPassword))
	}
	for _, r := range i.PPPRefuse {
		w.line(1, "ppp %s refuse", r)
	}
	if i.MaxBadAuth > 0 {
		w.line(1, "ppp max-bad-auth %d", i.MaxBadAuth)
	}
	if i.PAPSentUser != "" {
		w.line(1, "ppp pap sent-username %s password %s", i.PAPSentUser, fmtSecret(i.PAPSentPass))
	}
	if i.KeepaliveSet {
		if i.KeepaliveSecs == 0 {
			w.line(1, "no keepalive")
		} else {
			w.line(1, "keepalive %d", i.KeepaliveSecs)
		}
	}
	if i.NoCDP {
		w.line(1, "no cdp enable")
	}
	if pw := i.Pseudowire; pw != nil {
		s := fmt.Sprintf("pseudowire %s %d pw-class %s", pw.Peer, pw.VCID, pw.PWClass)
		if pw.Sequencing != "" {
			s += " sequencing " + pw.Sequencing
		}
		w.line(1, "%s", s)
	}
	if x := i.Xconnect; x != nil {
		s := fmt.Sprintf("xconnect %s %d encapsulation l2tpv3", x.Peer, x.VCID)
		if x.Manual {
			s += " manual"
		}
		w.line(1, "%s pw-class %s", s, x.PWClass)
		if x.LocalSession != 0 || x.RemoteSession != 0 {
			w.line(2, "l2tp id %d %d", x.LocalSession, x.RemoteSession)
		}
		for _, ck := range []struct {
			dir string
			c   *Cookie
		}{{"local", x.LocalCookie}, {"remote", x.RemoteCookie}} {
			if ck.c == nil {
				continue
			}
			if ck.c.Size == 8 {
				w.line(2, "l2tp cookie %s 8 %d %d", ck.dir, ck.c.Low, ck.c.High)
			} else {
				w.line(2, "l2tp cookie %s 4 %d", ck.dir, ck.c.Low)
			}
		}
		if x.HelloClass != "" {
			w.line(2, "l2tp hello %s", x.HelloClass)
		}
	}
	if i.Shutdown {
		w.line(1, "shutdown")
	}
}

func printIPv6(w *printer, v *IPv6Interface) {
	if v.Enable {
		w.line(1, "ipv6 enable")
	}
	if v.AutoconfigDefault {
		w.line(1, "ipv6 address autoconfig default")
	} else if v.Autoconfig {
		w.line(1, "ipv6 address autoconfig")
	}
	if v.PDName != "" {
		s := "ipv6 dhcp client pd " + v.PDName
		if v.PDRapidCommit {
			s += " rapid-commit"
		}
		w.line(1, "%s", s)
	}
	if v.RAInterval != 0 {
		w.line(1, "ipv6 nd ra interval %d", v.RAInterval)
	}
	if v.RALifetime != nil {
		w.line(1, "ipv6 nd ra lifetime %d", *v.RALifetime)
	}
	if v.RASuppress {
		w.line(1, "ipv6 nd ra suppress")
	}
	if v.Valid != nil {
		w.line(1, "ipv6 nd prefix default %d %d", *v.Valid, *v.Preferred)
	}
	if v.Prefix.IsValid() {
		w.line(1, "ipv6 nd prefix %s", v.Prefix)
	}
	if v.PeerPool != "" {
		w.line(1, "peer default ipv6 pool %s", v.PeerPool)
	}
}
