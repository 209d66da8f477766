package daemon

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/control"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/show"
)

func (d *Daemon) ipsecServices() []*ipsecService {
	if rt := d.rt.Load(); rt != nil {
		rt.ipsecMu.Lock()
		defer rt.ipsecMu.Unlock()
		return slices.Clone(rt.ipsec)
	}
	return nil
}

func (s *ipsecService) isakmpSAs() []show.ISAKMPSA {
	var out []show.ISAKMPSA
	for _, p := range s.node.Phase1() {
		k := show.ISAKMPSA{Dst: p.Dst.String(), Src: p.Src.String(), State: p.State, ConnID: p.ConnID,
			Status: p.Status, Debug: p.Debug, Interface: s.ifc.Name.String(), DH: int(p.Policy.Group),
			Remaining: int64(p.Remaining / time.Second), Initiator: p.Src == s.local}
		switch p.Policy.Encryption {
		case ike.CipherAES:
			k.Encr = "aes"
			if p.Policy.KeyBits > 128 {
				k.Encr = fmt.Sprintf("aes%d", p.Policy.KeyBits)
			}
		case ike.Cipher3DES:
			k.Encr = "3des"
		}
		k.Auth = "psk"
		if p.Policy.RSASig {
			k.Auth = "rsig" // IOS's abbreviation (the detail's legend)
		}
		k.Hash = map[ike.Hash]string{ike.HashMD5: "md5", ike.HashSHA1: "sha", ike.HashSHA256: "sha256", ike.HashSHA384: "sha384"}[p.Policy.Hash]
		if p.DPD {
			k.Caps += "D"
		}
		if p.NATT {
			k.Caps += "N"
		}
		// IOS's C (IKE configuration mode) and X (XAuth) capabilities.
		if p.Config != nil {
			k.Caps = "C" + k.Caps
			k.Address = p.Config.Address.String()
		}
		if p.User != "" {
			k.Caps += "X"
			k.User = p.User
		}
		if k.User != "" || k.Address != "" {
			k.Group = p.ID
		}
		k.Profile = p.Profile
		out = append(out, k)
	}
	return out
}

// ident is IOS's addr/mask/prot/port of a selector (prot 256: any).
func ident(sel ike.Selector) string {
	mask := maskOf(sel.Prefix.Bits())
	proto := int(sel.Proto)
	if proto == 0 {
		proto = 256
	}
	return fmt.Sprintf("%s/%s/%d/%d", sel.Prefix.Addr(), mask, proto, sel.Port)
}

func encapSettings(c *ike.ChildSA) string {
	mode := "Tunnel"
	if c.Transport() {
		mode = "Transport"
	}
	if udpEncap(c.Encap) {
		mode += " UDP-Encaps"
	}
	return mode
}

func (s *ipsecService) ipsecSAs(peer netip.Addr, withKeys bool) []show.IPsecSA {
	s.mu.Lock()
	infos := make([]*saInfo, 0, len(s.sas))
	for _, i := range s.sas {
		infos = append(infos, i)
	}
	s.mu.Unlock()
	slices.SortFunc(infos, func(a, b *saInfo) int { return a.child.Established.Compare(b.child.Established) })
	now := s.clock.Now()
	var out []show.IPsecSA
	for _, i := range infos {
		c := &i.child
		if peer.IsValid() && c.Peer.Addr() != peer {
			continue
		}
		st := i.sa.Stats()
		tag, seq := s.ifc.CryptoMap, 0
		if i.entry != nil {
			seq = i.entry.cfg.Seq
			if s.remote != nil && i.entry == s.remote.entry {
				tag = i.entry.tag // "ezvpn NAME"
			}
		}
		lifeKB := int64(c.LifeKB)
		if lifeKB == 0 {
			lifeKB = 4608000
		}
		remKB := lifeKB - int64((st.In.OctetsIn+st.Out.OctetsOut)/1024)
		remSec := int64((c.Lifetime - now.Sub(c.Established)) / time.Second)
		out = append(out, show.IPsecSA{Interface: s.ifc.Name.String(), MapTag: tag, MapSeq: seq, LocalAddr: s.local.String(),
			LocalIdent: ident(c.Local), RemoteIdent: ident(c.Remote), Peer: c.Peer.Addr().String(), PeerPort: c.Peer.Port(),
			Encaps: st.Out.Encaps, Encrypt: st.Out.Encrypt, Digest: st.Out.Digest,
			Decaps: st.In.Decaps, Decrypt: st.In.Decrypt, Verify: st.In.Verify,
			SendErrors: st.SendErrors, RecvErrors: st.RecvErrors, ReplayFailed: st.In.ReplayFailed, VerifyFailed: st.In.VerifyFailed,
			InvalidSA: st.In.InvalidSA, PolicyDrops: st.PolicyDrops,
			SPIIn: c.SPIIn, SPIOut: c.SPIOut, Transform: i.sa.Transform(), Settings: encapSettings(c), PFSGroup: int(c.PFS),
			ConnID: int(c.SPIIn % 10000), RemainingKB: max(remKB, 0), RemainingSec: max(remSec, 0), IVSize: i.sa.IVLen(),
			ReplayWindow: i.sa.ReplayWindow(), MTU: cryptoMTU})
		if withKeys {
			out[len(out)-1].Keys = &show.IPsecKeys{EncIn: hex.EncodeToString(c.EncKeyIn), AuthIn: hex.EncodeToString(c.AuthKeyIn),
				EncOut: hex.EncodeToString(c.EncKeyOut), AuthOut: hex.EncodeToString(c.AuthKeyOut)}
		}
	}
	return out
}

func (s *ipsecService) cryptoMap(c *config.Config) []show.CryptoMapEntry {
	var out []show.CryptoMapEntry
	cr := c.Crypto
	if cr == nil {
		return nil
	}
	current := map[int]string{}
	s.mu.Lock()
	for _, i := range s.sas {
		if i.entry != nil {
			current[i.entry.cfg.Seq] = i.child.Peer.Addr().String()
		}
	}
	s.mu.Unlock()
	add := func(e *config.CryptoMapEntry, name string, dyn bool) show.CryptoMapEntry {
		ce := show.CryptoMapEntry{Name: name, Seq: e.Seq, ACL: e.MatchACL, LifeKB: 4608000, LifeSec: 3600, PFSGroup: e.PFS,
			ReverseRoute: e.ReverseRoute != "", Interfaces: []string{s.ifc.Name.String()}, CurrentPeer: current[e.Seq]}
		pol, rr := entrySettings(cr, e)
		if pol.LifeKB != 0 {
			ce.LifeKB = int64(pol.LifeKB)
		}
		if pol.Lifetime != 0 {
			ce.LifeSec = int64(pol.Lifetime / time.Second)
		}
		ce.ReverseRoute = rr != ""
		ce.PFSGroup = int(pol.PFS)
		for _, p := range e.Peers {
			ce.Peers = append(ce.Peers, p.String())
		}
		if a := c.AccessListByName(e.MatchACL); a != nil {
			for _, l := range a.Entries {
				ce.ACLLines = append(ce.ACLLines, l.String())
			}
		}
		for _, ts := range pol.TransformSets {
			if t := cr.TransformSetByName(ts.Name); t != nil {
				ce.TransformSets = append(ce.TransformSets, fmt.Sprintf("%s:  { %s  }", t.Name, t.Transforms()))
			}
		}
		return ce
	}
	for _, e := range cr.MapEntries(s.ifc.CryptoMap, false) {
		if e.Dynamic != "" {
			out = append(out, show.CryptoMapEntry{Name: s.ifc.CryptoMap, Seq: e.Seq, Dynamic: e.Dynamic, Interfaces: []string{s.ifc.Name.String()}})
			for _, de := range cr.MapEntries(e.Dynamic, true) {
				out = append(out, add(de, e.Dynamic, true))
			}
			continue
		}
		out = append(out, add(e, s.ifc.CryptoMap, false))
	}
	return out
}

func (s *ipsecService) sessions() []show.CryptoSession {
	byPeer := map[string]*show.CryptoSession{}
	var order []string
	get := func(peer string) *show.CryptoSession {
		if cs := byPeer[peer]; cs != nil {
			return cs
		}
		cs := &show.CryptoSession{Interface: s.ifc.Name.String(), Peer: peer, PeerPort: 500}
		byPeer[peer] = cs
		order = append(order, peer)
		return cs
	}
	local := s.local.String()
	for _, k := range s.isakmpSAs() {
		peer := k.Dst
		if peer == local {
			peer = k.Src
		}
		cs := get(peer)
		cs.IKE = append(cs.IKE, k)
	}
	for _, f := range s.ipsecSAs(netip.Addr{}, false) {
		cs := get(f.Peer)
		cs.PeerPort = f.PeerPort
		cs.Flows = append(cs.Flows, f)
	}
	var out []show.CryptoSession
	for _, p := range order {
		cs := byPeer[p]
		ike := slices.ContainsFunc(cs.IKE, func(k show.ISAKMPSA) bool { return k.State == "QM_IDLE" })
		switch {
		case ike && len(cs.Flows) > 0:
			cs.Status = "UP-ACTIVE"
		case len(cs.Flows) > 0:
			cs.Status = "UP-NO-IKE"
		case len(cs.IKE) > 0:
			cs.Status = "DOWN-NEGOTIATING"
		default:
			cs.Status = "DOWN"
		}
		if cs.IKE == nil {
			cs.IKE = []show.ISAKMPSA{}
		}
		if cs.Flows == nil {
			cs.Flows = []show.IPsecSA{}
		}
		out = append(out, *cs)
	}
	return out
}

// isakmpProfiles lists the isakmp profiles (args: one profile's name).
func isakmpProfiles(c *config.Config, args []string) ([]show.ISAKMPProfile, error) {
	out := []show.ISAKMPProfile{}
	if c.Crypto == nil {
		if len(args) > 0 {
			return nil, fmt.Errorf("%% isakmp profile %s does not exist", args[0])
		}
		return out, nil
	}
	for _, pr := range c.Crypto.ISAKMPProfiles {
		if len(args) > 0 && pr.Name != args[0] {
			continue
		}
		p := show.ISAKMPProfile{Name: pr.Name, Identities: []string{}, Keyrings: slices.Clone(pr.Keyrings), TrustPoints: append([]string{}, pr.TrustPoints...), AuthList: pr.AuthList,
			AuthorList: pr.AuthorList, ConfigAddress: pr.ConfigAddress, ClientGroup: pr.ClientGroup}
		if p.Keyrings == nil {
			p.Keyrings = []string{}
		}
		for _, m := range pr.Matches {
			id := m.String()
			if m.Kind == "address" {
				pfx := m.Prefix()
				id = "ip-address " + pfx.Addr().String() + " " + prefixMask(pfx).String()
			}
			p.Identities = append(p.Identities, id)
		}
		if ka := pr.Keepalive; ka != nil {
			p.Keepalive = fmt.Sprintf("%d retry %d", ka.Seconds, ka.Retry)
		}
		out = append(out, p)
	}
	if len(args) > 0 && len(out) == 0 {
		return nil, fmt.Errorf("%% isakmp profile %s does not exist", args[0])
	}
	return out, nil
}

func prefixMask(p netip.Prefix) netip.Addr {
	var m uint32
	if p.Bits() > 0 {
		m = ^uint32(0) << (32 - p.Bits())
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
}

// isakmpKeys lists the pre-shared keys: the global ones (keyring
// "default", as IOS names them) and each keyring's.
func isakmpKeys(c *config.Config, reveal bool) []show.ISAKMPKey {
	out := []show.ISAKMPKey{}
	if c.Crypto == nil {
		return out
	}
	key := func(s config.Secret) string {
		if !reveal {
			return config.MaskedSecret
		}
		v, err := clearSecret(s)
		if err != nil {
			return config.MaskedSecret
		}
		return v
	}
	peer := func(p netip.Prefix) string {
		if p.Bits() == 32 {
			return p.Addr().String()
		}
		return p.Addr().String() + "/" + prefixMask(p).String()
	}
	for _, k := range c.Crypto.Keys {
		out = append(out, show.ISAKMPKey{Keyring: "default", Peer: peer(k.Prefix()), Key: key(k.Key)})
	}
	for _, kr := range c.Crypto.Keyrings {
		for _, k := range kr.Keys {
			p := k.Hostname
			if p == "" {
				p = peer(k.Prefix())
			}
			out = append(out, show.ISAKMPKey{Keyring: kr.Name, Peer: p, Key: key(k.Key)})
		}
	}
	return out
}

func peerArg(args []string) (netip.Addr, error) {
	if len(args) == 0 {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(args[0])
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("peer %q: expected an IPv4 address", args[0])
	}
	return a, nil
}

func (d *Daemon) registerCryptoShows() {
	isakmp := func(detail bool) func(context.Context, []string, []string, bool) (*control.Response, error) {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			sas := []show.ISAKMPSA{}
			for _, s := range d.ipsecServices() {
				sas = append(sas, s.isakmpSAs()...)
			}
			var b strings.Builder
			show.WriteISAKMPSA(&b, sas, detail)
			return reply(b.String(), sas, asJSON)
		}
	}
	d.shows.Add(&control.Command{Words: "crypto isakmp sa", Help: "IKE phase-1 SAs: dst, src, state, conn-id, status", Run: isakmp(false)})
	d.shows.Add(&control.Command{Words: "crypto isakmp sa detail", Help: "IKE phase-1 SAs in detail", Run: isakmp(true)})
	profiles := func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		ps, err := isakmpProfiles(d.Config(), args)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		show.WriteISAKMPProfiles(&b, ps)
		return reply(b.String(), ps, asJSON)
	}
	d.shows.Add(&control.Command{Words: "crypto isakmp profile", Help: "the isakmp profiles: identities matched, keyrings", Run: profiles})
	d.shows.Add(&control.Command{Words: "crypto isakmp profile tag", Args: 1, Help: "one isakmp profile", Run: profiles})
	d.shows.Add(&control.Command{Words: "crypto isakmp key", Help: "the pre-shared keys by keyring (default: crypto isakmp key); the keys are masked unless secrets are asked for",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			ks := isakmpKeys(d.Config(), secretsAsked(ctx))
			var b strings.Builder
			show.WriteISAKMPKeys(&b, ks)
			return reply(b.String(), ks, asJSON)
		}})
	ipsec := func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		peer, err := peerArg(args)
		if err != nil {
			return nil, err
		}
		sas := []show.IPsecSA{}
		for _, s := range d.ipsecServices() {
			// The keys only in JSON, and only when the admin asks.
			sas = append(sas, s.ipsecSAs(peer, asJSON && secretsAsked(ctx))...)
		}
		var b strings.Builder
		show.WriteIPsecSA(&b, sas)
		return reply(b.String(), sas, asJSON)
	}
	d.shows.Add(&control.Command{Words: "crypto ipsec sa", Help: "IPsec SAs with their flows, counters and SPIs", Run: ipsec})
	d.shows.Add(&control.Command{Words: "crypto ipsec sa peer", Args: 1, Help: "the IPsec SAs with one peer", Run: ipsec})
	d.shows.Add(&control.Command{Words: "crypto map", Help: "the crypto maps: peers, ACLs, transform sets, interfaces",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			es := []show.CryptoMapEntry{}
			for _, s := range d.ipsecServices() {
				es = append(es, s.cryptoMap(d.Config())...)
			}
			var b strings.Builder
			show.WriteCryptoMap(&b, es)
			return reply(b.String(), es, asJSON)
		}})
	session := func(detail bool) func(context.Context, []string, []string, bool) (*control.Response, error) {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			ss := []show.CryptoSession{}
			for _, s := range d.ipsecServices() {
				ss = append(ss, s.sessions()...)
			}
			var b strings.Builder
			show.WriteCryptoSession(&b, ss, detail)
			return reply(b.String(), ss, asJSON)
		}
	}
	d.shows.Add(&control.Command{Words: "crypto ipsec client ezvpn", Help: "the Easy VPN remotes: state, assigned address, DNS, split tunnel list, current peer",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			rs := []show.EzVPNRemote{}
			for _, r := range d.ezRemotes("") {
				rs = append(rs, r.status())
			}
			var b strings.Builder
			show.WriteEzVPNRemote(&b, rs)
			return reply(b.String(), rs, asJSON)
		}})
	d.shows.Add(&control.Command{Words: "crypto session", Help: "IPsec sessions per peer: IKE SA and flows", Run: session(false)})
	d.shows.Add(&control.Command{Words: "crypto session detail", Help: "IPsec sessions per peer with their counters", Run: session(true)})

	d.clears.Add(&control.Command{Words: "crypto isakmp", Help: "delete every IKE phase-1 SA (the peers are told)",
		Run: func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			n := 0
			for _, s := range d.ipsecServices() {
				seen := map[netip.Addr]bool{}
				for _, p := range s.node.Phase1() {
					peer := p.Dst
					if peer == s.local {
						peer = p.Src
					}
					if !seen[peer] {
						seen[peer] = true
						s.node.DeletePeer(peer)
						n++
					}
				}
			}
			return &control.Response{OK: true, Text: fmt.Sprintf("cleared the IKE SAs of %d peers\n", n)}, nil
		}})
	clearSA := func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
		peer, err := peerArg(args)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, s := range d.ipsecServices() {
			for _, c := range s.node.Children() {
				if !peer.IsValid() || c.Peer.Addr() == peer {
					s.node.DeleteChild(c.SPIIn)
					n++
				}
			}
		}
		return &control.Response{OK: true, Text: fmt.Sprintf("cleared %d IPsec SA pairs\n", n)}, nil
	}
	// eachRemote runs f on the remotes the optional NAME argument picks.
	eachRemote := func(f func(*ezRemote), done string) func(context.Context, []string, []string, bool) (*control.Response, error) {
		return func(ctx context.Context, args, opts []string, asJSON bool) (*control.Response, error) {
			name := ""
			if len(args) > 0 {
				name = args[0]
			}
			rs := d.ezRemotes(name)
			if len(rs) == 0 {
				return nil, noRemote(name)
			}
			for _, r := range rs {
				f(r)
			}
			return &control.Response{OK: true, Text: fmt.Sprintf(done+"\n", len(rs))}, nil
		}
	}
	clearRemote := eachRemote((*ezRemote).clear, "cleared %d Easy VPN remote tunnels")
	d.clears.Add(&control.Command{Words: "crypto ipsec client ezvpn", Help: "take the Easy VPN remotes' tunnels down (connect auto reconnects)", Run: clearRemote})
	d.clears.Add(&control.Command{Words: "crypto ipsec client ezvpn", Args: 1, Help: "take one Easy VPN remote's tunnel down", Run: clearRemote})
	connect := eachRemote((*ezRemote).manualConnect, "connecting %d Easy VPN remotes")
	d.execs.Add(&control.Command{Words: "ipsec client ezvpn connect", Help: "connect the Easy VPN remotes (connect manual, or after XAuth failures)", Run: connect})
	d.execs.Add(&control.Command{Words: "ipsec client ezvpn connect", Args: 1, Help: "connect one Easy VPN remote", Run: connect})
	d.clears.Add(&control.Command{Words: "crypto sa", Help: "delete every IPsec SA (the peers are told); traffic renegotiates", Run: clearSA})
	d.clears.Add(&control.Command{Words: "crypto sa peer", Args: 1, Help: "delete the IPsec SAs with one peer", Run: clearSA})
}

// ezRemotes lists the Easy VPN remotes, or the one named.
func (d *Daemon) ezRemotes(name string) []*ezRemote {
	var out []*ezRemote
	for _, s := range d.ipsecServices() {
		if s.remote != nil && (name == "" || s.remote.cfg.Name == name) {
			out = append(out, s.remote)
		}
	}
	return out
}

func noRemote(name string) error {
	if name == "" {
		return errors.New("% no Easy VPN remote is configured (crypto ipsec client ezvpn NAME on an outside interface)")
	}
	return fmt.Errorf("%% Easy VPN remote %s is not configured on an interface", name)
}
