package daemon

// The Easy VPN server of a crypto map (`crypto map NAME client
// authentication list L`, `isakmp authorization list L`, `client
// configuration address respond|initiate`): XAuth users through the aaa
// method list, the client's group (`crypto isakmp client configuration
// group`) by its phase-1 identity, its address from the group's `ip local
// pool` (released when the IKE SA ends), and per client an SPD line and a
// reverse route for its address, so that traffic to it goes into its ESP
// SA. The protocol is proto/ike's; this is the policy.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/aaa"
	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ike"
)

// loginListPrefix names `aaa authentication login L` lists inside the AAA
// service, beside PPP's lists of the same name.
const loginListPrefix = "login "

// ezLease is what a client of the Easy VPN server holds: its group, XAuth
// user and address.
type ezLease struct {
	peer  netip.AddrPort
	group string
	pool  string
	user  string
	addr  netip.Addr
	acl   string // the group's split include when the client got it
}

// ezServer is the Easy VPN server state of one crypto-map service.
type ezServer struct {
	s     *ipsecService
	mc    *config.CryptoMapClient
	entry *cryptoEntry // the dynamic entry without an ACL the clients' quick modes use
	// profiles are the isakmp profiles of the map's entries with client
	// settings of their own.
	profiles []string

	// groups are the answers of RADIUS about client groups
	// (ipsec_ezgroups.go); ctx ends their lookups when the service stops.
	groups *ezGroupCache
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	leases map[int]*ezLease // by IKE conn-id
}

// newEzServer returns the Easy VPN server of the service's crypto map, or
// nil when neither the map nor an isakmp profile of its entries has
// client settings.
func newEzServer(s *ipsecService, c *config.Config) *ezServer {
	mc := c.Crypto.MapClient(s.ifc.CryptoMap)
	if mc == nil {
		mc = &config.CryptoMapClient{Map: s.ifc.CryptoMap}
	}
	ez := &ezServer{s: s, mc: mc, leases: map[int]*ezLease{}, groups: newEzGroupCache()}
	for _, e := range s.entries {
		if pr := c.Crypto.ISAKMPProfileByName(e.profile); ezProfile(pr) && !slices.Contains(ez.profiles, pr.Name) {
			ez.profiles = append(ez.profiles, pr.Name)
		}
	}
	if mc.AuthList == "" && mc.Address == "" && len(ez.profiles) == 0 {
		return nil
	}
	for _, e := range s.entries {
		if e.dynamic && e.acl == nil {
			ez.entry = e
			break
		}
	}
	if ez.entry == nil && len(s.entries) > 0 {
		ez.entry = s.entries[0]
	}
	ez.ctx, ez.cancel = context.WithCancel(context.Background())
	return ez
}

// ezProfile reports whether an isakmp profile has Easy VPN server
// settings (then they, not the crypto map's, govern its clients).
func ezProfile(pr *config.ISAKMPProfile) bool {
	return pr != nil && (pr.AuthList != "" || pr.ConfigAddress != "")
}

// settings are the Easy VPN settings that govern a client of isakmp
// profile profile: the profile's when it has some, else the map's.
func (ez *ezServer) settings(c *config.Config, profile string) (authList, address, group string) {
	if pr := c.Crypto.ISAKMPProfileByName(profile); ezProfile(pr) {
		return pr.AuthList, pr.ConfigAddress, pr.ClientGroup
	}
	return ez.mc.AuthList, ez.mc.Address, ""
}

// configure gives the IKE node the server's callbacks.
func (ez *ezServer) configure(cfg *ike.Config) {
	d := ez.s.d
	c := d.Config()
	cr := c.Crypto
	anyAuth, anyAddr, push := ez.mc.AuthList != "", ez.mc.Address != "", ez.mc.Address == "initiate"
	for _, n := range ez.profiles {
		pr := cr.ISAKMPProfileByName(n)
		anyAuth = anyAuth || pr.AuthList != ""
		anyAddr = anyAddr || pr.ConfigAddress != ""
		push = push || pr.ConfigAddress == "initiate"
	}
	if anyAuth {
		cfg.XAuth = func(peer netip.Addr, id []byte) bool {
			c := d.Config()
			// `crypto isakmp key K address A no-xauth`: a site-to-site
			// peer of the same map is not asked.
			if k := lookupKey(c, ez.s.local, peer, id, nil); k != nil && k.noXAuth {
				return false
			}
			name := ""
			if pr := profileFor(c, ez.s.local, peer, id); pr != nil {
				name = pr.Name
			}
			auth, _, _ := ez.settings(c, name)
			return auth != ""
		}
		cfg.Authenticate = ez.authenticate
	}
	if cr.XAuthTimeout > 0 {
		cfg.XAuthTimeout = time.Duration(cr.XAuthTimeout) * time.Second
	}
	if anyAddr {
		cfg.ModeConfig = ez.modeConfig
		cfg.PushModeConfig = push
	}
}

// authenticate checks an XAuth user with `aaa authentication login L`
// (local users, RADIUS), off the IKE node's lock.
func (ez *ezServer) authenticate(r ike.XAuthRequest, done func(bool)) {
	d, s := ez.s.d, ez.s
	timeout := 60 * time.Second
	if t := d.Config().Crypto.XAuthTimeout; t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		list, _, _ := ez.settings(d.Config(), r.Profile)
		res, err := d.Authenticator(loginListPrefix+list, "").Authenticate(ctx, &aaa.Request{Method: aaa.PAP,
			Username: r.User, Password: []byte(r.Password), PeerAddr: r.Peer.Addr(), NASPort: fmt.Sprintf("IKE %d", r.ConnID)})
		ok := err == nil && res.Accept
		if ok {
			// The client's group held by RADIUS is known before its
			// mode-config.
			ez.awaitGroup(ctx, r.Profile, r.ID, r.Peer.Addr())
		}
		switch {
		case err != nil:
			s.log.Debug(fmt.Sprintf("ISAKMP/xauth: AAA for user %q from %v failed: %v", r.User, r.Peer.Addr(), err))
		case !ok:
			s.log.Debug(fmt.Sprintf("ISAKMP/xauth: user %q from %v rejected: %s", r.User, r.Peer.Addr(), res.Reason))
		}
		done(ok)
	})
}

// group finds the client's group: its isakmp profile's `client
// configuration group`, else by its phase-1 identity (the group name a
// Cisco client sends in aggressive mode), else the only group there is (a
// main-mode client identifies by address). When the authorization list
// names a server group, its methods decide (lookupGroup), by the
// profile's group or else the identity.
func (ez *ezServer) group(c *config.Config, profile, id string, peer netip.Addr) (*config.ClientGroup, error) {
	cr := c.Crypto
	if methods := ez.authorMethods(c, profile); methods != nil {
		name := id
		if _, _, pn := ez.settings(c, profile); pn != "" {
			name = pn
		}
		g, pending := ez.lookupGroup(c, methods, peer, name)
		switch {
		case g != nil:
			if g.ACL != "" && c.AccessListByName(g.ACL) == nil {
				return nil, fmt.Errorf("group %s: split-include ACL %s is not configured", g.Name, g.ACL)
			}
			return g, nil
		case pending:
			return nil, fmt.Errorf("group %q: waiting for the RADIUS server", name)
		}
		return nil, fmt.Errorf("no client configuration group %q (authorization methods %s)", name, strings.Join(methods, ", "))
	}
	if _, _, name := ez.settings(c, profile); name != "" {
		if g := cr.ClientGroupByName(name); g != nil {
			return g, nil
		}
	}
	if g := cr.ClientGroupByName(id); g != nil {
		return g, nil
	}
	if len(cr.ClientGroups) == 1 {
		return cr.ClientGroups[0], nil
	}
	return nil, fmt.Errorf("no client configuration group for identity %q", id)
}

// modeConfig assigns a client its configuration: the group's settings
// and an address from its pool. It runs under the IKE node's lock.
func (ez *ezServer) modeConfig(r ike.ConfigRequest) (*ike.ModeConfig, error) {
	d := ez.s.d
	c := d.Config()
	g, err := ez.group(c, r.Profile, r.ID, r.Peer.Addr())
	if err != nil {
		return nil, err
	}
	ez.mu.Lock()
	defer ez.mu.Unlock()
	if l := ez.leases[r.ConnID]; l != nil {
		return ez.config(c, g, l.addr), nil
	}
	if g.MaxUsers > 0 {
		n := 0
		for _, l := range ez.leases {
			if l.group == g.Name {
				n++
			}
		}
		if n >= g.MaxUsers {
			return nil, fmt.Errorf("group %s has its max-users %d clients", g.Name, g.MaxUsers)
		}
	}
	if g.Pool == "" {
		return nil, fmt.Errorf("group %s has no pool", g.Name)
	}
	user := r.User
	if user == "" {
		user = r.ID
	}
	a, err := d.svc.Load().pools.Allocate(g.Pool, user)
	if err != nil {
		return nil, fmt.Errorf("pool %s: %w", g.Pool, err)
	}
	ez.leases[r.ConnID] = &ezLease{peer: r.Peer, group: g.Name, pool: g.Pool, user: user, addr: a, acl: g.ACL}
	ez.s.log.Debug(fmt.Sprintf("ISAKMP: client %v (group %s, user %q) gets %v from pool %s", r.Peer.Addr(), g.Name, r.User, a, g.Pool))
	return ez.config(c, g, a), nil
}

func (ez *ezServer) config(c *config.Config, g *config.ClientGroup, a netip.Addr) *ike.ModeConfig {
	mc := &ike.ModeConfig{Address: a, DNS: slices.Clone(g.DNS), NBNS: slices.Clone(g.WINS), DefaultDomain: g.Domain,
		Banner: g.Banner, SavePassword: g.SavePassword}
	if acl := c.AccessListByName(g.ACL); acl != nil {
		for _, e := range acl.Entries {
			if e.Remark != "" || !e.Permit {
				continue
			}
			if p, ok := e.Src.Prefix(); ok && p.Addr().Is4() && !slices.Contains(mc.SplitInclude, p) {
				mc.SplitInclude = append(mc.SplitInclude, p)
			}
		}
	}
	return mc
}

// release gives back the address of the IKE SA conn-id and returns the
// lease it was (nil if none).
func (ez *ezServer) release(connID int) *ezLease {
	ez.mu.Lock()
	l := ez.leases[connID]
	delete(ez.leases, connID)
	ez.mu.Unlock()
	if l == nil {
		return nil
	}
	if err := ez.s.d.svc.Load().pools.Release(l.pool, l.addr, l.user); err != nil {
		ez.s.log.Debug(fmt.Sprintf("ISAKMP: releasing %v to pool %s: %v", l.addr, l.pool, err))
		return l
	}
	ez.s.log.Debug(fmt.Sprintf("ISAKMP: client %v (user %q) released %v to pool %s", l.peer.Addr(), l.user, l.addr, l.pool))
	return l
}

func (ez *ezServer) releaseAll() {
	ez.mu.Lock()
	ids := make([]int, 0, len(ez.leases))
	for id := range ez.leases {
		ids = append(ids, id)
	}
	ez.mu.Unlock()
	for _, id := range ids {
		ez.release(id)
	}
}

// addrs lists the addresses the clients hold (nil-safe).
func (ez *ezServer) addrs() []netip.Addr {
	if ez == nil {
		return nil
	}
	ez.mu.Lock()
	defer ez.mu.Unlock()
	var out []netip.Addr
	for _, l := range ez.leases {
		out = append(out, l.addr)
	}
	return out
}

// leaseFor returns the lease of a client at peer holding address a.
func (ez *ezServer) leaseFor(peer netip.Addr, a netip.Addr) *ezLease {
	ez.mu.Lock()
	defer ez.mu.Unlock()
	for _, l := range ez.leases {
		if l.peer.Addr() == peer && l.addr == a {
			return l
		}
	}
	return nil
}

// minNEMBits bounds the network a network-extension client may claim.
const minNEMBits = 8

// leaseForFlow returns the lease of a client whose quick mode protects
// remote: its assigned address alone (mode client), or a network of its
// own behind it (network extension: a /8 or longer that holds no other
// client's address), or nil.
func (ez *ezServer) leaseForFlow(peer netip.Addr, remote netip.Prefix) *ezLease {
	if remote.IsSingleIP() {
		if l := ez.leaseFor(peer, remote.Addr()); l != nil {
			return l
		}
	}
	if remote.Bits() < minNEMBits {
		return nil
	}
	ez.mu.Lock()
	defer ez.mu.Unlock()
	var mine *ezLease
	for _, l := range ez.leases {
		switch {
		case l.peer.Addr() == peer:
			mine = l
		case remote.Contains(l.addr):
			return nil // another client's address
		}
	}
	return mine
}

// phase2 accepts a client's quick mode for its assigned address (or, in
// network extension, its inside network): and ours, when the group splits
// the tunnel (acl), inside one of its split networks.
func (ez *ezServer) phase2(peer netip.AddrPort, profile string, local, remote ike.Selector) *ike.Phase2Policy {
	if ez.entry == nil || (ez.entry.profile != "" && ez.entry.profile != profile) {
		return nil
	}
	l := ez.leaseForFlow(peer.Addr(), remote.Prefix)
	if l == nil {
		return nil
	}
	c := ez.s.d.Config()
	// The split include of the group's configuration in force (a local
	// group), else the one the client was given (a RADIUS group).
	acl := l.acl
	if g := c.Crypto.ClientGroupByName(l.group); g != nil {
		acl = g.ACL
	}
	if acl != "" {
		split := ez.config(c, &config.ClientGroup{ACL: acl}, l.addr).SplitInclude
		if !slices.ContainsFunc(split, func(p netip.Prefix) bool { return p.Bits() <= local.Prefix.Bits() && p.Contains(local.Prefix.Addr()) }) {
			ez.s.log.Debug(fmt.Sprintf("IPSEC(validate_proposal_request): client %v asks for %v, outside group %s's split networks %v", peer.Addr(), local.Prefix, l.group, split))
			return nil
		}
	}
	pol := ez.entry.pol
	pol.Local, pol.Remote = local, remote
	return &pol
}

// errNoEzLine says a child SA is not a client's.
var errNoEzLine = errors.New("not an Easy VPN client's SA")

// clientLine (s.mu held) returns the SPD line of a client's flow, adding
// it (in a free slot, or at the end, so that the other lines keep their
// index and SAs) when it is new.
func (s *ipsecService) clientLine(c *ike.ChildSA) (int, error) {
	if s.ez == nil || s.ez.entry == nil || s.ez.leaseForFlow(c.Peer.Addr(), c.Remote.Prefix) == nil {
		return -1, errNoEzLine
	}
	want := dataplane.ESPPolicy{Permit: true, Proto: c.Local.Proto, Src: c.Local.Prefix, Dst: c.Remote.Prefix, SrcPort: c.Local.Port, DstPort: c.Remote.Port}
	free := -1
	for i, p := range s.pols {
		if p == want {
			return i, nil
		}
		if free < 0 && p == (dataplane.ESPPolicy{}) && s.polOf[i] == s.ez.entry {
			free = i
		}
	}
	if free < 0 {
		s.pols = append(s.pols, want)
		s.polOf = append(s.polOf, s.ez.entry)
		free = len(s.pols) - 1
	} else {
		s.pols[free] = want
	}
	s.esp.SetPolicies(s.pols)
	return free, nil
}

// clientGone (s.mu held) frees the SPD line i of a client when no SA uses
// it any more.
func (s *ipsecService) clientGone(i int) {
	for _, o := range s.sas {
		if o.policy == i {
			return
		}
	}
	if i >= 0 && i < len(s.pols) && s.polOf[i] == s.ez.entry && s.ez.entry.acl == nil {
		s.pols[i] = dataplane.ESPPolicy{}
		s.esp.SetPolicies(s.pols)
	}
}

// clientRoute is the reverse route of a client's address into the crypto
// TUN while its SA is up.
func (s *ipsecService) clientRoute(p netip.Prefix, add bool) {
	if add {
		if err := s.host.AddRoute(s.tun, netif.Route{Dst: p}); err != nil {
			s.log.Debug(fmt.Sprintf("IPSEC: reverse route %v into %s: %v", p, s.tun, err))
		}
		return
	}
	s.host.DelRoute(s.tun, netif.Route{Dst: p})
}
