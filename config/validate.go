package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// validate runs the semantic checks that need the whole file: references
// between sections, conflicts and duplicates.
func (p *parser) validate() {
	c := p.cfg
	p.validateRadius()
	p.validateCrypto()
	lineOr := func(l, fallback int) int {
		if l != 0 {
			return l
		}
		return fallback
	}

	// vpdn-groups.
	type acceptKey struct {
		proto Protocol
		from  string
	}
	accepting := map[acceptKey]*VPDNGroup{}
	poolMembers := map[int]*VPDNGroup{}
	for _, g := range c.VPDN.Groups {
		if g.Accept == nil && g.Request == nil {
			p.errf(g.Line, "vpdn-group %s has neither accept-dialin nor request-dialin; expected one of them", g.Name)
			continue
		}
		if g.Accept != nil && g.Request != nil {
			p.errf(g.Line, "vpdn-group %s has both accept-dialin and request-dialin; expected one role per group", g.Name)
		}
		if a := g.Accept; a != nil {
			if a.Protocol == "" {
				p.errf(lineOr(a.Line, g.Line), "vpdn-group %s accept-dialin has no protocol; expected protocol l2tp, pptp, l2tpv3, l2f or any", g.Name)
			}
			if a.VirtualTemplate == 0 {
				p.errf(lineOr(a.Line, g.Line), "vpdn-group %s accept-dialin has no virtual-template; expected virtual-template N", g.Name)
			} else if c.Interface(IfName{Kind: IfVirtualTemplate, Number: fmt.Sprint(a.VirtualTemplate)}) == nil {
				p.errf(lineOr(a.Line, g.Line), "vpdn-group %s: virtual-template %d names no interface; expected an \"interface Virtual-Template%d\" section", g.Name, a.VirtualTemplate, a.VirtualTemplate)
			}
			protos := []Protocol{a.Protocol}
			if a.Protocol == ProtoAny {
				protos = []Protocol{ProtoL2TP, ProtoPPTP, ProtoL2TPv3, ProtoL2F}
			}
			for _, pr := range protos {
				k := acceptKey{pr, strings.ToLower(g.TerminateFrom)}
				if o := accepting[k]; o != nil {
					from := "any host"
					if g.TerminateFrom != "" {
						from = "hostname " + g.TerminateFrom
					}
					p.errf(g.Line, "vpdn-group %s accepts %s tunnels from %s, as vpdn-group %s (line %d) already does; expected distinct terminate-from hostnames", g.Name, pr, from, o.Name, o.Line)
				}
				accepting[k] = g
			}
		}
		if r := g.Request; r != nil {
			if r.Protocol == "" {
				p.errf(g.Line, "vpdn-group %s request-dialin has no protocol; expected protocol l2tp, pptp or l2f", g.Name)
			}
			if len(g.InitiateTo) == 0 {
				p.errf(g.Line, "vpdn-group %s request-dialin has no tunnel server; expected initiate-to ip ADDRESS", g.Name)
			}
			if r.PoolMember != 0 {
				if o := poolMembers[r.PoolMember]; o != nil {
					p.errf(g.Line, "vpdn-group %s: pool-member %d is already used by vpdn-group %s (line %d); expected a distinct pool", g.Name, r.PoolMember, o.Name, o.Line)
				}
				poolMembers[r.PoolMember] = g
			}
		}
		if g.TunnelAuth != nil && *g.TunnelAuth && g.TunnelPassword.IsZero() && c.User(g.TerminateFrom) == nil {
			p.errf(g.Line, "vpdn-group %s: l2tp tunnel authentication needs a secret; expected l2tp tunnel password P (or a username entry for the peer's host name)", g.Name)
		}
	}

	// l2tp-class and pseudowire-class.
	for _, lc := range c.L2TP.Classes {
		if lc.Hidden && lc.Password.IsZero() {
			p.errf(lc.Line, "l2tp-class %s: hidden needs a password to hide AVPs with; expected password P", lc.Name)
		}
		if lc.RetransTimeoutMin != 0 && lc.RetransTimeoutMax != 0 && lc.RetransTimeoutMin > lc.RetransTimeoutMax {
			p.errf(lc.Line, "l2tp-class %s: retransmit timeout min %d is above max %d; expected min <= max", lc.Name, lc.RetransTimeoutMin, lc.RetransTimeoutMax)
		}
	}
	for _, pc := range c.L2TP.PWClasses {
		if pc.L2TPClass != "" && c.L2TPClassByName(pc.L2TPClass) == nil {
			p.warnAt(lineOr(pc.ProtocolLine, pc.Line), "pseudowire-class %s: l2tp-class %q is not defined; its tunnels use the default control-channel parameters", pc.Name, pc.L2TPClass)
		}
		if pc.Encapsulation != "" && pc.Protocol != "" && pc.Protocol != "none" && pc.Encapsulation != pc.Protocol {
			p.errf(lineOr(pc.ProtocolLine, pc.Line), "pseudowire-class %s: encapsulation %s with protocol %s; expected the same version for both", pc.Name, pc.Encapsulation, pc.Protocol)
		}
	}

	// Pools: no overlap across pools either.
	type span struct {
		pool *Pool
		r    PoolRange
	}
	var spans []span
	for _, pl := range c.IP.Pools {
		for _, r := range pl.Ranges {
			for _, s := range spans {
				if s.pool != pl && !(r.End.Less(s.r.Start) || s.r.End.Less(r.Start)) {
					p.errf(r.Line, "ip local pool %s: range %s-%s overlaps pool %s (line %d); expected disjoint pools", pl.Name, r.Start, r.End, s.pool.Name, s.r.Line)
				}
			}
			spans = append(spans, span{pl, r})
		}
	}

	// Interfaces.
	type pwKey struct {
		peer netip.Addr
		vcid uint32
	}
	pws := map[pwKey]*Interface{}
	for _, ifc := range c.Interfaces {
		if u := ifc.Unnumbered; u != nil && !u.Physical() && c.Interface(*u) == nil {
			p.warnAt(lineOr(ifc.AddrLine, ifc.Line), "interface %s: ip unnumbered %s names no configured interface; sessions get no local address until \"interface %s\" is configured", ifc.Name, u, u)
		}
		if u := ifc.Unnumbered; u != nil && *u == ifc.Name {
			p.errf(lineOr(ifc.AddrLine, ifc.Line), "interface %s: ip unnumbered names itself; expected another interface", ifc.Name)
		}
		if ifc.Negotiated && ifc.Name.Physical() {
			// Document 004's dynamic-address spoke: the host gives the
			// interface its address (DHCP, PPPoE); vpdn reads it.
			p.warnAt(lineOr(ifc.AddrLine, ifc.Line), "interface %s: ip address negotiated on a physical interface: vpdn reads the address the host assigns; it does not negotiate one", ifc.Name)
		} else if ifc.Negotiated && ifc.Name.Kind != IfVirtualPPP && ifc.Name.Kind != IfDialer {
			p.errf(lineOr(ifc.AddrLine, ifc.Line), "interface %s: ip address negotiated needs a PPP interface; expected Virtual-PPP or Dialer", ifc.Name)
		}
		if ifc.Address.IsValid() && ifc.Name.Kind == IfVirtualTemplate {
			p.warnf("interface %s has its own address; Virtual-Access interfaces usually use ip unnumbered", ifc.Name)
		}
		if v := ifc.IPv6; v.PeerPool != "" && c.IPv6PoolByName(v.PeerPool) == nil {
			p.errf(lineOr(v.PeerPoolLine, ifc.Line), "interface %s: peer default ipv6 pool %s: no such pool; expected the name of an \"ipv6 local pool\"", ifc.Name, v.PeerPool)
		}
		if v := ifc.IPv6; v != (IPv6Interface{}) {
			vt := ifc.Name.Kind == IfVirtualTemplate
			client := ifc.Name.Kind == IfVirtualPPP || ifc.Name.Kind == IfDialer
			server := v.PeerPool != "" || v.RAInterval != 0 || v.RALifetime != nil || v.RASuppress || v.Prefix.IsValid() || v.Valid != nil
			switch {
			case !vt && !client:
				p.errf(lineOr(v.Line, ifc.Line), "interface %s: IPv6 is supported on Virtual-Template, Virtual-PPP and Dialer interfaces only (IPv6 on PPP sessions), not yet here", ifc.Name)
			case client && server:
				p.errf(lineOr(v.Line, ifc.Line), "interface %s: ipv6 nd and peer default ipv6 pool apply to Virtual-Template interfaces (the server side); expected ipv6 enable and ipv6 address autoconfig here", ifc.Name)
			case vt && v.Enable && c.VPDN.SharedAccess:
				p.errf(lineOr(v.Line, ifc.Line), "interface %s: ipv6 enable with vpdn virtual-access shared is not supported yet (the shared vpdn0 tells sessions apart by their IPv4 address); expected one Virtual-Access per session", ifc.Name)
			case vt && (v.Autoconfig || v.PDName != ""):
				p.errf(lineOr(v.Line, ifc.Line), "interface %s: ipv6 address autoconfig and ipv6 dhcp client pd apply to Virtual-PPP and Dialer interfaces (a client); a Virtual-Template advertises prefixes (ipv6 nd prefix, peer default ipv6 pool) and delegates the authorization's", ifc.Name)
			}
		}
		if pd := ifc.PeerDefault; pd.Pool != "" && c.PoolByName(pd.Pool) == nil {
			p.warnAt(lineOr(pd.Line, ifc.Line), "interface %s: ip local pool %q is not defined; sessions will be refused an address until \"ip local pool %s START END\" is configured", ifc.Name, pd.Pool, pd.Pool)
		}
		if pw := ifc.Pseudowire; pw != nil {
			if c.PWClassByName(pw.PWClass) == nil {
				p.errf(lineOr(pw.Line, ifc.Line), "interface %s: pw-class %q does not exist; expected one of: %s", ifc.Name, pw.PWClass, names(c.L2TP.PWClasses, func(x *PWClass) string { return x.Name }))
			}
			k := pwKey{pw.Peer, pw.VCID}
			if o := pws[k]; o != nil {
				p.errf(lineOr(pw.Line, ifc.Line), "interface %s: pseudowire %s %d is already used by %s (line %d); expected a distinct VC ID", ifc.Name, pw.Peer, pw.VCID, o.Name, o.Line)
			}
			pws[k] = ifc
		}
		if x := ifc.Xconnect; x != nil {
			if c.PWClassByName(x.PWClass) == nil {
				p.errf(ifc.Line, "interface %s: xconnect pw-class %q does not exist; expected one of: %s", ifc.Name, x.PWClass, names(c.L2TP.PWClasses, func(x *PWClass) string { return x.Name }))
			}
			if x.Manual && (x.LocalSession == 0 || x.RemoteSession == 0) {
				p.errf(ifc.Line, "interface %s: xconnect manual needs session IDs; expected l2tp id LOCAL REMOTE", ifc.Name)
			}
			validateXconnect(p, c, ifc, x)
		}
		if a := ifc.PPPAuth; a != nil && a.List != "" && a.List != "default" && c.AAA.NewModel {
			found := slices.ContainsFunc(c.AAA.Authentication, func(l MethodList) bool { return l.Name == a.List })
			if !found {
				p.errf(lineOr(a.Line, ifc.Line), "interface %s: ppp authentication list %q is not defined; expected \"aaa authentication ppp %s METHOD\"", ifc.Name, a.List, a.List)
			}
		}
		if d := ifc.Dialer; d.Pool != 0 && d.VPDN && poolMembers[d.Pool] == nil {
			p.errf(lineOr(d.PoolLine, ifc.Line), "interface %s: dialer pool %d has no vpdn-group with request-dialin pool-member %d", ifc.Name, d.Pool, d.Pool)
		}
		if ifc.MPPE != nil && ifc.Name.Kind != IfVirtualTemplate && ifc.Name.Kind != IfDialer {
			p.errf(ifc.Line, "interface %s: ppp encrypt mppe applies to Virtual-Template interfaces (the sessions of a tunnel server) and Dialer interfaces (a PPTP client)", ifc.Name)
		}
	}

	// Local users and attribute lists.
	for _, u := range c.AAA.Users {
		if u.Password.IsZero() {
			p.errf(u.Line, "username %s has no password; expected username %s password PASSWORD", u.Name, u.Name)
		}
		if u.AttrList != "" && c.AttrListByName(u.AttrList) == nil {
			p.errf(lineOr(u.AttrListLine, u.Line), "username %s: aaa attribute list %q does not exist; expected an \"aaa attribute list %s\" section", u.Name, u.AttrList, u.AttrList)
		}
	}
	for _, d := range c.AAA.Domains {
		if c.AttrListByName(d.AttrList) == nil {
			p.errf(d.Line, "aaa domain %s: aaa attribute list %q does not exist; expected an \"aaa attribute list %s\" section", d.Name, d.AttrList, d.AttrList)
		}
	}
	for _, l := range c.AAA.AttrLists {
		if l.Pool != "" && c.PoolByName(l.Pool) == nil {
			p.warnAt(l.Line, "aaa attribute list %s: ip local pool %q is not defined; users of the list will be refused an address", l.Name, l.Pool)
		}
		if l.Addr.IsValid() && l.Pool != "" {
			p.errf(l.Line, "aaa attribute list %s has both addr and addr-pool; expected one of them", l.Name)
		}
	}

	// Static routes through our own virtual interfaces need the interface.
	for _, r := range c.IP.Routes {
		if r.Iface != nil && !r.Iface.Physical() && c.Interface(*r.Iface) == nil {
			p.warnAt(r.Line, "ip route %s via %s: no such interface is configured; the route is installed only once it exists", r.Prefix, r.Iface)
		}
	}

	if len(c.VPDN.Groups) > 0 && !c.VPDN.Enabled {
		hasVPPP := slices.ContainsFunc(c.Interfaces, func(i *Interface) bool { return i.Pseudowire != nil })
		if !hasVPPP {
			p.warnAt(c.VPDN.Groups[0].Line, "vpdn-groups are configured but \"vpdn enable\" is not: no tunnel will be accepted or requested")
		}
	}
}

func names[T any](xs []T, f func(T) string) string {
	if len(xs) == 0 {
		return "(none defined)"
	}
	var out []string
	for _, x := range xs {
		out = append(out, f(x))
	}
	return strings.Join(out, ", ")
}

// validateXconnect checks what an L2TPv3 Ethernet pseudowire needs to run:
// an attachment circuit vpdn can open, a manual session (dynamic ones
// come with the L2TPv3 control connection), and a pseudowire-class whose
// settings vpdn applies.
func validateXconnect(p *parser, c *Config, ifc *Interface, x *Xconnect) {
	if !ifc.Name.Physical() {
		p.errf(ifc.Line, "interface %s: xconnect needs an Ethernet attachment circuit; expected a physical interface (a Linux device, or an IOS name with linux-device)", ifc.Name)
	} else if sub := strings.Contains(ifc.Name.Number, "."); sub && ifc.Dot1Q == 0 {
		p.errf(ifc.Line, "interface %s: xconnect on a subinterface carries one VLAN; expected encapsulation dot1Q VLAN", ifc.Name)
	} else if dev, _ := c.LinuxDeviceOf(ifc); dev == "" {
		p.warnAt(ifc.Line, "interface %s: xconnect has no attachment circuit until linux-device DEV (a host device) or linux-device DEV tap (a TAP vpdn creates) says which Linux device %s is", ifc.Name, ifc.Name)
	}
	if i := strings.LastIndexByte(ifc.Name.Number, '.'); i > 0 {
		parent := ifc.Name
		parent.Number = parent.Number[:i]
		if pi := c.Interface(parent); pi != nil && pi.Xconnect != nil {
			p.errf(ifc.Line, "interface %s: its parent %s has an xconnect of the whole port, which carries this VLAN too; expected xconnects on the port or on its subinterfaces, not both", ifc.Name, parent)
		}
	}
	if x.HelloClass != "" && c.L2TPClassByName(x.HelloClass) == nil {
		p.errf(ifc.Line, "interface %s: l2tp hello %s: no such l2tp-class; expected one of: %s", ifc.Name, x.HelloClass, names(c.L2TP.Classes, func(x *L2TPClass) string { return x.Name }))
	}
	pc := c.PWClassByName(x.PWClass)
	if pc == nil {
		return
	}
	if pc.Encapsulation != "l2tpv3" {
		p.errf(pc.Line, "pseudowire-class %s: used by xconnect on %s; expected encapsulation l2tpv3", pc.Name, ifc.Name)
	}
	if x.Manual && pc.Protocol == "l2tpv3" {
		p.errf(max(pc.ProtocolLine, pc.Line), "pseudowire-class %s: protocol l2tpv3 signals sessions with a control connection, the manual xconnect on %s has static ones; expected protocol none", pc.Name, ifc.Name)
	}
	if !x.Manual {
		switch {
		case pc.Protocol == "none":
			p.errf(max(pc.ProtocolLine, pc.Line), "pseudowire-class %s: protocol none has static sessions only; expected protocol l2tpv3 [CLASS] for the dynamic xconnect on %s, or xconnect ... manual", pc.Name, ifc.Name)
		case pc.Protocol == "l2tpv2":
			p.errf(max(pc.ProtocolLine, pc.Line), "pseudowire-class %s: protocol l2tpv2 carries no Ethernet pseudowire; expected protocol l2tpv3 [CLASS] for the xconnect on %s", pc.Name, ifc.Name)
		case pc.L2TPClass != "" && c.L2TPClassByName(pc.L2TPClass) == nil:
			p.errf(max(pc.ProtocolLine, pc.Line), "pseudowire-class %s: l2tp-class %q does not exist; expected one of: %s", pc.Name, pc.L2TPClass, names(c.L2TP.Classes, func(x *L2TPClass) string { return x.Name }))
		}
	}
	if pc.LocalIf != nil {
		li := c.Interface(*pc.LocalIf)
		if li == nil && pc.LocalIf.Kind != IfLinux {
			p.warnAt(pc.Line, "pseudowire-class %s: ip local interface %s names no configured interface: its sessions use any local address until interface %s has an ip address or a linux-device", pc.Name, pc.LocalIf, pc.LocalIf)
		}
	}
	if x.Peer.IsValid() && !x.Peer.Is4() {
		p.errf(ifc.Line, "interface %s: xconnect peer %s: expected an IPv4 address", ifc.Name, x.Peer)
	}
}

// LinuxDeviceOf returns the Linux device an interface stands for: its own
// name for a Linux-named one, its linux-device (and whether vpdn creates
// it as a TAP), or, for an Ethernet subinterface without one, its parent
// interface's ("" when none says).
func (c *Config) LinuxDeviceOf(ifc *Interface) (dev string, tap bool) {
	switch {
	case ifc.Name.Kind == IfLinux:
		return ifc.Name.Linux, false
	case ifc.LinuxDevice != "":
		return ifc.LinuxDevice, ifc.LinuxTAP
	}
	if i := strings.LastIndexByte(ifc.Name.Number, '.'); i > 0 {
		parent := ifc.Name
		parent.Number = parent.Number[:i]
		if pi := c.Interface(parent); pi != nil && pi.LinuxDevice != "" {
			return pi.LinuxDevice, pi.LinuxTAP
		}
	}
	return "", false
}
