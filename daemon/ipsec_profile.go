package daemon

// Keyrings and isakmp profiles for crypto maps. A peer's pre-shared key
// comes from the keyrings (`crypto keyring`) and the global keys (`crypto
// isakmp key`, IOS's default keyring): the longest prefix that holds the
// peer's address wins, and on a tie the keyrings come first, in
// configuration order (a host-name key wins for a peer that identifies by
// that FQDN in aggressive mode). An isakmp profile is chosen by the
// peer's identity (`match identity`): in main mode by its address at the
// first message (for the key and XAuth) and then by the authenticated ID
// of MM5, in aggressive mode by the ID it opens with. A profile that
// names keyrings accepts only a peer whose key came from one of them.
// The profile then governs the SA: its keepalive, its Easy VPN server
// settings (ipsec_ezvpn.go), and which crypto map entries its quick
// modes may match (those of that profile, or of none).

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// pskChoice is the key a peer gets and where it came from.
type pskChoice struct {
	keyring string // "" for the global keys (IOS's "default")
	prefix  netip.Prefix
	host    string
	secret  config.Secret
	noXAuth bool
}

func (k *pskChoice) value() []byte {
	if k == nil {
		return nil
	}
	v, err := clearSecret(k.secret)
	if err != nil {
		return nil
	}
	return []byte(v)
}

// peerID is a phase-1 identity as profiles match it.
type peerID struct {
	addr netip.Addr // ID_IPV4_ADDR
	name string     // ID_FQDN, ID_USER_FQDN, ID_KEY_ID (lower case but for KEY_ID)
	typ  isakmp.IDType
}

func parsePeerID(body []byte) (peerID, bool) {
	if body == nil {
		return peerID{}, false
	}
	id, err := isakmp.ParseID(body)
	if err != nil {
		return peerID{}, false
	}
	switch id.Type {
	case isakmp.IDIPv4Addr:
		return peerID{addr: netip.AddrFrom4([4]byte(id.Data)), typ: id.Type}, true
	case isakmp.IDFQDN, isakmp.IDUserFQDN:
		return peerID{name: strings.ToLower(string(id.Data)), typ: id.Type}, true
	case isakmp.IDKeyID:
		return peerID{name: string(id.Data), typ: id.Type}, true
	}
	return peerID{typ: id.Type}, true
}

// localIs reports whether a `local-address` argument (an address or an
// interface name, "" for any) names our address local.
func localIs(c *config.Config, where string, local netip.Addr) bool {
	if where == "" {
		return true
	}
	if a, err := netip.ParseAddr(where); err == nil {
		return a == local
	}
	n, err := config.ParseInterfaceName(where)
	if err != nil {
		return false
	}
	ifc := c.Interface(n)
	return ifc != nil && ifc.Address.IsValid() && ifc.Address.Addr() == local
}

// lookupKey finds the key for peer (its identity id when known) in the
// keyrings rings (all of them and the global keys when rings is empty)
// that serve our address local.
func lookupKey(c *config.Config, local, peer netip.Addr, id []byte, rings []string) *pskChoice {
	cr := c.Crypto
	if cr == nil {
		return nil
	}
	peer = peer.Unmap()
	pid, _ := parsePeerID(id)
	var best *pskChoice
	better := func(k *pskChoice) {
		if best == nil || (k.host != "" && best.host == "") || (best.host == "" && k.host == "" && k.prefix.Bits() > best.prefix.Bits()) {
			best = k
		}
	}
	for _, kr := range cr.Keyrings {
		if len(rings) > 0 && !containsFold(rings, kr.Name) {
			continue
		}
		if !localIs(c, kr.LocalAddress, local) {
			continue
		}
		for _, k := range kr.Keys {
			switch {
			case k.Hostname != "":
				if pid.typ == isakmp.IDFQDN && strings.EqualFold(pid.name, k.Hostname) {
					better(&pskChoice{keyring: kr.Name, host: k.Hostname, secret: k.Key})
				}
			case k.Prefix().Contains(peer):
				better(&pskChoice{keyring: kr.Name, prefix: k.Prefix(), secret: k.Key})
			}
		}
	}
	if len(rings) == 0 {
		for _, k := range cr.Keys {
			if k.Prefix().Contains(peer) {
				better(&pskChoice{prefix: k.Prefix(), secret: k.Key, noXAuth: k.NoXAuth})
			}
		}
	}
	return best
}

func containsFold(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// errNoProfile is a peer that no isakmp profile takes where the crypto
// map needs one.
var errNoProfile = errors.New("no isakmp profile matches")

// profileFor chooses the isakmp profile of a peer on our address local:
// by its identity when id is known (the first profile, in configuration
// order, with a match identity that fits), else by its address. nil: no
// profile.
func profileFor(c *config.Config, local, peer netip.Addr, id []byte) *config.ISAKMPProfile {
	cr := c.Crypto
	if cr == nil {
		return nil
	}
	pid, known := parsePeerID(id)
	if !known {
		pid = peerID{addr: peer.Unmap(), typ: isakmp.IDIPv4Addr}
	}
	var best *config.ISAKMPProfile
	bestBits := -1
	for _, pr := range cr.ISAKMPProfiles {
		if !localIs(c, pr.LocalAddress, local) {
			continue
		}
		for _, m := range pr.Matches {
			switch m.Kind {
			case "address":
				// The longest address match wins, the first on a tie.
				if pid.typ == isakmp.IDIPv4Addr && m.Prefix().Contains(pid.addr) && m.Prefix().Bits() > bestBits {
					best, bestBits = pr, m.Prefix().Bits()
				}
			case "host":
				if pid.typ == isakmp.IDFQDN && pid.name == m.Name && bestBits < 33 {
					best, bestBits = pr, 33
				}
			case "domain":
				if (pid.typ == isakmp.IDFQDN || pid.typ == isakmp.IDUserFQDN) && (pid.name == m.Name || strings.HasSuffix(pid.name, "."+m.Name) || strings.HasSuffix(pid.name, "@"+m.Name)) && bestBits < 0 {
					best, bestBits = pr, 0
				}
			case "group":
				if pid.typ == isakmp.IDKeyID && pid.name == m.Name && bestBits < 33 {
					best, bestBits = pr, 33
				}
			}
		}
	}
	return best
}

// ikeProfile is what the engine keeps of a profile: its name, keepalive
// and the CAs of its ca trust-points.
func ikeProfile(cr *config.Crypto, pr *config.ISAKMPProfile) ike.P1Profile {
	if pr == nil {
		return ike.P1Profile{}
	}
	p := ike.P1Profile{Name: pr.Name}
	if len(pr.TrustPoints) > 0 {
		p.Roots = cr.TrustpointCAs(pr.TrustPoints)
	}
	if ka := pr.Keepalive; ka != nil {
		p.DPD = time.Duration(ka.Seconds) * time.Second
		p.DPDRetry = time.Duration(ka.Retry) * time.Second
	}
	return p
}

// initiation is the policy an initiation of entry e toward peer carries:
// the entry's, with its isakmp profile's initiator settings (our
// identity, aggressive mode, the key from its keyrings).
func (s *ipsecService) initiation(e *cryptoEntry, peer netip.Addr) ike.Phase2Policy {
	pol := e.pol
	c := s.d.Config()
	pr := c.Crypto.ISAKMPProfileByName(e.profile)
	if pr == nil {
		return pol
	}
	pol.Profile.Aggressive = pr.InitiateAggressive
	if si := pr.SelfIdentity; si != nil {
		switch si.Kind {
		case "fqdn":
			name := c.Hostname
			if name == "" {
				name = "vpdn"
			}
			pol.Profile.ID = isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDFQDN, Data: []byte(name)})
		case "user-fqdn":
			pol.Profile.ID = isakmp.AppendID(nil, isakmp.ID{Type: isakmp.IDUserFQDN, Data: []byte(si.Value)})
		}
	}
	if len(pr.Keyrings) > 0 {
		pol.Profile.Key = lookupKey(c, s.local, peer, nil, pr.Keyrings).value()
	}
	return pol
}

// needProfiles reports whether every entry of the service names an
// isakmp profile: a peer that matches none could never have a quick
// mode, and is refused at phase 1.
func (s *ipsecService) needProfiles() bool {
	if len(s.entries) == 0 {
		return false
	}
	for _, e := range s.entries {
		if e.profile == "" {
			return false
		}
	}
	return true
}

// key is the service's ike.Config.Key: an Easy VPN group's key for a
// client that names its group, else the keyrings' and global keys (those
// of the profile the identity selects, when it names keyrings).
func (s *ipsecService) key(peer netip.Addr, id []byte) []byte {
	c := s.d.Config()
	if id != nil && c.Crypto != nil {
		if pid, ok := parsePeerID(id); ok && pid.typ == isakmp.IDKeyID {
			k, governed, pending := s.radiusGroupKey(c, peer, id, pid.name)
			switch {
			case k != nil:
				return k
			case pending:
				return nil
			}
			if g := c.Crypto.ClientGroupByName(pid.name); !governed && g != nil && !g.Key.IsZero() {
				if v, err := clearSecret(g.Key); err == nil {
					return []byte(v)
				}
			}
		}
	}
	var rings []string
	if id != nil {
		if pr := profileFor(c, s.local, peer, id); pr != nil {
			rings = pr.Keyrings
		}
	}
	return lookupKey(c, s.local, peer, id, rings).value()
}

// radiusGroupKey is the key of group name when the authorization list of
// the client's profile (or the map) names a server group (governed): the
// group's key as the list's methods find it, or pending while the
// server's answer is not in (the message is dropped: its retransmission
// finds the answer). No key and not pending: no such group (the
// keyrings' and global keys are next).
func (s *ipsecService) radiusGroupKey(c *config.Config, peer netip.Addr, id []byte, name string) (key []byte, governed, pending bool) {
	if s.ez == nil {
		return nil, false, false
	}
	profile := ""
	if pr := profileFor(c, s.local, peer, id); pr != nil {
		profile = pr.Name
	}
	methods := s.ez.authorMethods(c, profile)
	if methods == nil {
		return nil, false, false
	}
	g, pending := s.ez.lookupGroup(c, methods, peer, name)
	switch {
	case pending:
		s.ez.groups.count(func(st *ezGroupStats) { st.Waiting++ })
		s.log.Debug(fmt.Sprintf("ISAKMP: peer %v group %q: waiting for the RADIUS server; message dropped", peer, name))
		return nil, true, true
	case g != nil && !g.Key.IsZero():
		if v, err := clearSecret(g.Key); err == nil {
			return []byte(v), true, false
		}
	}
	return nil, true, false
}

// profile is the service's ike.Config.Profile.
func (s *ipsecService) profile(peer netip.Addr, id, psk []byte) (ike.P1Profile, error) {
	c := s.d.Config()
	pr := profileFor(c, s.local, peer, id)
	if pr == nil {
		if id != nil && s.needProfiles() {
			s.log.Debug(fmt.Sprintf("ISAKMP: peer %v identity %s matches no isakmp profile of crypto map %s", peer, ike.IDString(id), s.ifc.CryptoMap))
			return ike.P1Profile{}, errNoProfile
		}
		return ike.P1Profile{}, nil
	}
	if psk != nil && len(pr.Keyrings) > 0 {
		// Main mode: the key was chosen by address before the identity
		// came; the profile takes the peer only if its keyrings hold
		// that key for it.
		if k := lookupKey(c, s.local, peer, id, pr.Keyrings); k == nil || !bytes.Equal(k.value(), psk) {
			s.log.Debug(fmt.Sprintf("ISAKMP: peer %v matches isakmp profile %s, but its key is not of the profile's keyrings %v", peer, pr.Name, pr.Keyrings))
			return ike.P1Profile{}, fmt.Errorf("isakmp profile %s: the peer's key is not of its keyrings", pr.Name)
		}
	}
	if id != nil {
		s.log.Debug(fmt.Sprintf("ISAKMP: peer %v identity %s: isakmp profile %s", peer, ike.IDString(id), pr.Name))
	}
	return ikeProfile(c.Crypto, pr), nil
}
