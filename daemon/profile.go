package daemon

// PPP profiles: what a session is made from, read off the configuration in
// force when the session starts.

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/access"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/l2tp"
	"github.com/vpdn/vpdn/proto/ppp"
	"github.com/vpdn/vpdn/proto/pptp"
	"github.com/vpdn/vpdn/vif"
	"github.com/vpdn/vpdn/wire/mppe"
)

var authMethods = map[string]aaa.Method{"pap": aaa.PAP, "chap": aaa.CHAP, "ms-chap": aaa.MSCHAPv1, "ms-chap-v2": aaa.MSCHAPv2, "eap": aaa.EAPMD5}

// lnsProfile is the profile of a call a LAC opened on tunnel t: the
// Virtual-Template of the tunnel's vpdn-group.
func (d *Daemon) lnsProfile(t l2tp.TunnelStats) (*access.Profile, error) {
	c := d.Config()
	return d.groupProfile(c, c.Group(t.Class))
}

// pptpProfile is the profile of a call a PPTP client placed: the
// Virtual-Template of the vpdn-group accepting PPTP (IOS matches PPTP
// clients by protocol only: they send no host name a group could name).
func (d *Daemon) pptpProfile(pptp.ConnStats) (*access.Profile, error) {
	c := d.Config()
	return d.groupProfile(c, pptpGroup(c))
}

// pptpGroup is the vpdn-group that accepts PPTP, if any.
func pptpGroup(c *config.Config) *config.VPDNGroup {
	if !c.VPDN.Enabled {
		return nil
	}
	for _, g := range c.VPDN.Groups {
		if g.Accept != nil && (g.Accept.Protocol == config.ProtoPPTP || g.Accept.Protocol == config.ProtoAny) {
			return g
		}
	}
	return nil
}

// mppeConfig is `ppp encrypt mppe` as the PPP engine takes it.
func mppeConfig(m *config.MPPE) ppp.MPPEConfig {
	mc := ppp.MPPEConfig{Strengths: ppp.MPPEAuto, Passive: m.Passive, Required: m.Required, Stateful: m.Stateful}
	switch m.Bits {
	case "40":
		mc.Strengths = mppe.Opt40
	case "128":
		mc.Strengths = mppe.Opt128
	}
	return mc
}

// groupProfile is the profile of the Virtual-Template of vpdn-group g.
func (d *Daemon) groupProfile(c *config.Config, g *config.VPDNGroup) (*access.Profile, error) {
	var vt *config.Interface
	if g != nil && g.Accept != nil && g.Accept.VirtualTemplate != 0 {
		vt = c.Interface(config.IfName{Kind: config.IfVirtualTemplate, Number: strconv.Itoa(g.Accept.VirtualTemplate)})
	}
	if vt == nil {
		return nil, errors.New("no virtual-template for the vpdn-group")
	}
	// One profile per template and configuration: 100,000 sessions of one
	// template share it (a reload makes a new configuration, and so new
	// profiles).
	d.profMu.Lock()
	defer d.profMu.Unlock()
	if d.profCfg != c {
		d.profCfg, d.profiles = c, map[*config.Interface]*access.Profile{}
	}
	if p := d.profiles[vt]; p != nil {
		return p, nil
	}
	p, err := d.profile(c, vt, access.Server)
	if err == nil {
		d.profiles[vt] = p
	}
	return p, err
}

// profile builds the profile of interface ifc (a Virtual-Template for a
// server, a Virtual-PPP for a client).
func (d *Daemon) profile(c *config.Config, ifc *config.Interface, role access.Role) (*access.Profile, error) {
	mtu := sessionMTU(ifc)
	if ifc.MTU == 0 && l2tpIPsecWanted(c) {
		// L2TP/IPsec: ESP (and UDP 4500 after NAT-T) must fit in front of
		// L2TP inside a 1500-byte underlay, or every full-sized packet
		// leaves as two IP fragments (what Windows sets: 1400).
		mtu = l2tpIPsecMTU
	}
	p := &access.Profile{Role: role, Template: ifc.Name.String(), MTU: mtu, MSS: uint16(ifc.TCPAdjustMSS),
		Keepalive: 10 * time.Second, KeepaliveMisses: 5,
		// Strict uRPF by default on a Virtual-Template (vpdn's default;
		// IOS's is off); loose (any) checks nothing per session.
		VerifySource: role == access.Server && ifc.VerifyUnicast != "none" && ifc.VerifyUnicast != "any",
		Shared:       role == access.Server && c.VPDN.SharedAccess}
	if ifc.KeepaliveSet {
		p.Keepalive = time.Duration(ifc.KeepaliveSecs) * time.Second
	}
	if ifc.Unnumbered != nil {
		p.Unnumbered = ifc.Unnumbered.String()
	}
	if l := ifc.PPPAcctList; l != "" && l != "default" {
		p.AcctList = l
	}
	if a := ifc.PPPAuth; a != nil {
		for _, m := range a.Protocols {
			p.AuthMethods = append(p.AuthMethods, authMethods[m])
		}
		p.Callin, p.IfNeeded = a.Callin, a.IfNeeded
		p.MaxBadAuth = ifc.MaxBadAuth
		if a.List != "default" {
			p.AuthList = a.List
		}
	}
	p.Hostname = firstNonEmpty(ifc.CHAPHostname, ifc.PAPSentUser, c.Hostname, "vpdn")
	pw := ifc.CHAPPassword
	if pw.IsZero() {
		pw = ifc.PAPSentPass
	}
	if !pw.IsZero() {
		s, err := clearSecret(pw)
		if err != nil {
			return nil, err
		}
		p.Password = s
	}
	if p.Password == "" {
		// As IOS does: answer a challenge with the password of the
		// username entry named like the challenger.
		p.SecretFor = func(peer string) string {
			if u := c.User(peer); u != nil {
				if s, err := clearSecret(u.Password); err == nil {
					return s
				}
			}
			return ""
		}
	}
	if m := ifc.MPPE; m != nil {
		p.MPPE = mppeConfig(m)
	}
	local := d.ifAddr(c, ifc)
	p.Local = local
	if role == access.Client {
		n, _ := strconv.Atoi(ifc.Name.Number)
		p.Kind, p.Unit = vif.VirtualPPP, n
		if ifc.Name.Kind == config.IfDialer {
			p.Kind = vif.Dialer
		}
		// As IOS does, the client takes part in EAP only when the
		// interface names it; otherwise LCP refuses it and the server
		// falls back to CHAP, MS-CHAP or PAP.
		if ifc.PPPAuth == nil || !slices.Contains(ifc.PPPAuth.Protocols, "eap") {
			p.Refuse = append(p.Refuse, aaa.EAPMD5)
		}
		for _, r := range ifc.PPPRefuse {
			p.Refuse = append(p.Refuse, authMethods[r])
		}
		p.ClientIPCP = ifc.Negotiated || !local.IsValid()
		p.RequestDNS = true
		if v := ifc.IPv6; v.Enable || v.Autoconfig || v.PDName != "" {
			// The client side of IPv6CP: the link-local address; with
			// autoconfig, SLAAC from the server's advertisement (and
			// ::/0 with default); with dhcp client pd, delegated
			// prefixes.
			p.IPv6 = &access.IPv6Profile{Enabled: true, SLAAC: v.Autoconfig, DefaultRoute: v.AutoconfigDefault,
				PD: v.PDName != "", PDRapidCommit: v.PDRapidCommit}
		}
		// peer default ip address A on a Virtual-PPP: the address it
		// lends a peer that asks for one (a PPP pseudowire between two
		// routers, document 004, whose other end has ip address
		// negotiated).
		p.PeerAddr = ifc.PeerDefault.Addr
		for _, rt := range c.IP.Routes {
			if rt.Iface != nil && *rt.Iface == ifc.Name {
				p.Routes = append(p.Routes, vif.Route{Dst: rt.Prefix, Gateway: rt.NextHop})
			}
		}
		return p, nil
	}
	if !local.IsValid() {
		return nil, fmt.Errorf("%s has no address to lend (ip unnumbered or ip address)", ifc.Name)
	}
	p.IPv6 = ipv6Profile(&ifc.IPv6)
	pd := ifc.PeerDefault
	switch {
	case pd.Addr.IsValid():
		p.PeerAddr = pd.Addr
	case pd.None || pd.DHCP:
		p.NoPeerAddress = true
	default:
		p.Pool = pd.Pool
	}
	return p, nil
}

// ipv6Profile is a Virtual-Template's IPv6 with IOS's defaults: RA
// interval 200 s, router lifetime 1800 s, prefix lifetimes 30 and 7 days.
// A template without ipv6 commands gets them too: its sessions run IPv6
// when their authorization carries a prefix.
func ipv6Profile(v *config.IPv6Interface) *access.IPv6Profile {
	p := &access.IPv6Profile{Enabled: v.Enable, RAInterval: 200 * time.Second, RALifetime: 1800 * time.Second,
		RASuppress: v.RASuppress, Prefix: v.Prefix, Valid: 2592000, Preferred: 604800, Pool: v.PeerPool}
	if v.RAInterval != 0 {
		p.RAInterval = time.Duration(v.RAInterval) * time.Second
	}
	if v.RALifetime != nil {
		p.RALifetime = time.Duration(*v.RALifetime) * time.Second
	}
	if v.Valid != nil {
		p.Valid, p.Preferred = *v.Valid, *v.Preferred
	}
	return p
}

// ifAddr returns the address an interface of the configuration has: its
// own, or the one it borrows with ip unnumbered.
func (d *Daemon) ifAddr(c *config.Config, ifc *config.Interface) netip.Addr {
	if ifc.Address.IsValid() {
		return ifc.Address.Addr()
	}
	if ifc.Unnumbered != nil {
		if o := c.Interface(*ifc.Unnumbered); o != nil && o.Address.IsValid() {
			return o.Address.Addr()
		}
		dev := ifc.Unnumbered.String()
		if o := c.Interface(*ifc.Unnumbered); o != nil && o.LinuxDevice != "" {
			dev = o.LinuxDevice // GigabitEthernet0/0 -> eth0
		}
		if addrs, err := d.host().Addrs(dev); err == nil {
			for _, a := range addrs {
				if a.Addr().Is4() {
					return a.Addr()
				}
			}
		}
	}
	return netip.Addr{}
}

// sessionMTU is the interface MTU and the MRU LCP asks for.
func sessionMTU(ifc *config.Interface) int {
	if ifc.MTU != 0 {
		return ifc.MTU
	}
	return defaultL2TPMTU
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// host is the interface host in use: the running system's, or the kernel
// of the calling thread's namespace before it runs.
func (d *Daemon) host() netif.Host {
	if rt := d.rt.Load(); rt != nil {
		return rt.host
	}
	if d.opts.Host != nil {
		return d.opts.Host
	}
	return netif.System
}
