package daemon

// IPsec with crypto maps (document 004's hub and spokes): one service per
// interface carrying `crypto map NAME`. It serves IKE (proto/ike) on UDP
// 500 and 4500 of the interface's address and carries the protected
// traffic through the data plane's ESP stage:
//
//	crypto TUN (routes to the crypto ACLs' destination networks)
//	   └─ dataplane.ESP: SPD from the map's ACLs ─ Sealer ─▶ raw IP 50 / UDP 4500
//	UDP 500 ─▶ ike.Node          UDP 4500 ─ esp.Classify ─┬─ IKE (after the non-ESP marker) ─▶ ike.Node
//	raw IP 50 ─▶ ESP.Input                                └─ ESP ─▶ ESP.Input
//
// A packet the ACL permits with no SA yet is dropped (as IOS drops while
// negotiating) and starts quick mode with the entry's first peer; a peer's
// quick mode is accepted when its selectors fall inside a permit line of
// the entry that lists the peer (or of a dynamic map). A completed quick
// mode installs its SA pair in the ESP stage, ahead of the SA it rekeys
// (make-before-break); deleting or expiring it removes it. Transport mode
// (L2TP/IPsec) is an ESP-protected bind under L2TP's UDP 1701
// (ipsec_l2tp.go).

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/internal/clock"
	"github.com/vpdn/vpdn/netif"
	"github.com/vpdn/vpdn/proto/ike"
	"github.com/vpdn/vpdn/transport"
	"github.com/vpdn/vpdn/wire/esp"
	"github.com/vpdn/vpdn/wire/isakmp"
)

// maxNATPeers bounds the addresses remembered as speaking IKE on port
// 4500.
const maxNATPeers = 4096

// cryptoMTU keeps an ESP-in-UDP tunnel packet inside a 1500-byte
// underlay: 1500 - 20 (IP) - 8 (UDP) - 8 (ESP) - 16 (IV) - 17 (padding,
// trailer) - 16 (ICV), rounded down.
const cryptoMTU = 1400

// cryptoEntry is a crypto map entry as the service uses it: its settings
// with the profile's filled in, and its ACL.
type cryptoEntry struct {
	cfg     *config.CryptoMapEntry
	dynamic bool   // an entry of a dynamic map: any peer, never initiated
	tag     string // the crypto map's name
	acl     *config.AccessList
	pol     ike.Phase2Policy // transform sets, PFS, lifetimes (no selectors)
	rr      string           // reverse-route: "", "dynamic", "static"
	// profile is the entry's isakmp profile ("" none): as initiator its
	// SA's, as responder the only profile whose SAs match the entry.
	profile string
	p1      ike.P1Profile
}

// saInfo is an installed SA pair with what show crypto ipsec sa prints.
type saInfo struct {
	child  ike.ChildSA
	entry  *cryptoEntry
	sa     *dataplane.ESPSA
	policy int
	octets uint64 // counted to IKE so far
	route  netip.Prefix
}

// ipsecService is IPsec on one crypto-map interface.
type ipsecService struct {
	d      *Daemon
	log    *slog.Logger // debug crypto ipsec
	clock  clock.Clock
	ifc    *config.Interface
	local  netip.Addr
	tun    string
	host   netif.Host
	node   *ike.Node
	esp    *dataplane.ESP
	dev    netif.Device
	b500   transport.Bind
	b4500  transport.Bind
	raw    transport.Bind
	natKA  time.Duration
	ticker clock.Timer

	entries []*cryptoEntry
	tpols   []transportPol // the transport-mode lines (L2TP/IPsec)
	l2tp    *dataplane.ESPBind
	port    *dataplane.Port // L2TP's, where opened L2TP/IPsec goes
	pols    []dataplane.ESPPolicy
	polOf   []*cryptoEntry // the entry of each SPD line
	routes  []netip.Prefix // installed for the ACLs' destinations
	ez      *ezServer      // the Easy VPN server of the map (ipsec_ezvpn.go), nil if none
	remote  *ezRemote      // the Easy VPN remote of the outside interface (ipsec_ezremote.go), nil if none

	mu  sync.Mutex
	sas map[uint32]*saInfo // by inbound SPI
	// peerIdx is, per entry, which of its `set peer`s the next
	// initiation goes to: IOS's backup peers, tried in order, the next
	// after a failure.
	peerIdx  map[*cryptoEntry]int
	natPeers map[netip.AddrPort]bool
	lastKA   time.Time
	closed   bool

	wg sync.WaitGroup
}

var (
	cipherOf = map[string]ike.Cipher{"": ike.Cipher3DES, "3des": ike.Cipher3DES, "aes": ike.CipherAES}
	hashOf   = map[string]ike.Hash{"": ike.HashSHA1, "sha": ike.HashSHA1, "md5": ike.HashMD5, "sha256": ike.HashSHA256, "sha384": ike.HashSHA384}
	espOf    = map[string]uint8{"esp-aes": isakmp.ESPAES, "esp-3des": isakmp.ESP3DES, "esp-gcm": isakmp.ESPAESGCM16}
	authOf   = map[string]uint16{"": 0, "esp-sha-hmac": isakmp.AuthAlgHMACSHA1, "esp-md5-hmac": isakmp.AuthAlgHMACMD5, "esp-sha256-hmac": isakmp.AuthAlgHMACSHA256}
)

// ikeCerts is the trustpoints' certificates and key for IKE's rsa-sig
// policies, nil without a router certificate.
func ikeCerts(cr *config.Crypto) (*ike.Certs, error) {
	pki, err := cr.PKI()
	if err != nil {
		return nil, err
	}
	if pki.Trustpoint == "" {
		return nil, nil
	}
	return &ike.Certs{Chain: pki.Chain, Key: pki.Key, Roots: pki.Roots, SendAddress: cr.Identity != "dn"}, nil
}

// isakmpPolicies turns the crypto isakmp policies into the engine's; with
// none, IOS's default pre-share policies (AES/SHA/group 5, 3DES/SHA/group 2).
func isakmpPolicies(c *config.Crypto) []ike.Policy {
	if c == nil || len(c.Policies) == 0 {
		return []ike.Policy{
			{Priority: 65508, Encryption: ike.CipherAES, Hash: ike.HashSHA1, Group: ike.Group5},
			{Priority: 65510, Encryption: ike.Cipher3DES, Hash: ike.HashSHA1, Group: ike.Group2},
		}
	}
	var out []ike.Policy
	for _, p := range c.Policies {
		g := ike.Group(p.Group)
		if g == 0 {
			g = ike.Group2
		}
		// No authentication line is IOS's default, rsa-sig.
		out = append(out, ike.Policy{Priority: p.Priority, Encryption: cipherOf[p.Encryption], KeyBits: p.KeyBits,
			Hash: hashOf[p.Hash], Group: g, Lifetime: time.Duration(p.Lifetime) * time.Second, RSASig: p.Auth != "pre-share"})
	}
	return out
}

// entrySettings are an entry's transform sets, PFS, lifetimes and
// reverse route, the IPsec profile's (`set profile`) and then the global
// lifetime filling what the entry leaves unset.
func entrySettings(cr *config.Crypto, e *config.CryptoMapEntry) (ike.Phase2Policy, string) {
	var pol ike.Phase2Policy
	rr := e.ReverseRoute
	ts := e.TransformSets
	life := e.Lifetime
	pfs := e.PFS
	if pr := cr.ProfileByName(e.Profile); pr != nil {
		if len(ts) == 0 {
			ts = pr.TransformSets
		}
		if life.Seconds == 0 {
			life.Seconds = pr.Lifetime.Seconds
		}
		if life.Kilobytes == 0 {
			life.Kilobytes = pr.Lifetime.Kilobytes
		}
		if pfs == 0 {
			pfs = pr.PFS
		}
		if rr == "" {
			rr = pr.ReverseRoute
		}
	}
	if life.Seconds == 0 {
		life.Seconds = cr.SALifetime.Seconds
	}
	if life.Kilobytes == 0 {
		life.Kilobytes = cr.SALifetime.Kilobytes
	}
	for _, n := range ts {
		if t := cr.TransformSetByName(n); t != nil {
			pol.TransformSets = append(pol.TransformSets, ike.TransformSet{Name: t.Name, ESP: espOf[t.ESP], KeyBits: t.KeyBits, Auth: authOf[t.Auth], Transport: t.Transport})
		}
	}
	pol.PFS = ike.Group(pfs)
	pol.Lifetime = time.Duration(life.Seconds) * time.Second
	pol.LifeKB = uint64(life.Kilobytes)
	return pol, rr
}

// resolveEntries lists the entries of crypto map name in order, each
// dynamic reference expanded into the dynamic map's entries.
func resolveEntries(c *config.Config, name string) []*cryptoEntry {
	cr := c.Crypto
	// An Easy VPN server's dynamic entry needs no ACL: its clients'
	// flows come from mode-config (ipsec_ezvpn.go).
	ez := cr.MapClient(name) != nil
	var out []*cryptoEntry
	add := func(e *config.CryptoMapEntry, dynamic bool) {
		ce := &cryptoEntry{cfg: e, dynamic: dynamic, tag: name, profile: cr.EntryISAKMPProfile(name, e)}
		ce.pol, ce.rr = entrySettings(cr, e)
		pr := cr.ISAKMPProfileByName(ce.profile)
		ce.p1 = ikeProfile(cr, pr)
		ce.pol.Profile = ce.p1
		ez := ez || ezProfile(pr)
		ce.acl = c.AccessListByName(e.MatchACL)
		// A dynamic entry in transport mode needs no ACL: it takes the
		// peer's udp 1701 proposal (ipsec_l2tp.go); nor does an Easy VPN
		// map's (each client's flow is its own SPD line).
		if (ce.acl == nil && !(dynamic && (ez || ce.hasTransport()))) || len(ce.pol.TransformSets) == 0 || (!dynamic && len(e.Peers) == 0) {
			return // IOS: the entry stays disabled
		}
		out = append(out, ce)
	}
	for _, e := range cr.MapEntries(name, false) {
		if e.Dynamic != "" {
			for _, de := range cr.MapEntries(e.Dynamic, true) {
				add(de, true)
			}
			continue
		}
		add(e, false)
	}
	return out
}

func aclSelectors(a *config.ACE) (local, remote ike.Selector, ok bool) {
	src, ok1 := a.Src.Prefix()
	dst, ok2 := a.Dst.Prefix()
	return ike.Selector{Prefix: src, Proto: uint8(a.Proto), Port: uint16(a.SrcPort)},
		ike.Selector{Prefix: dst, Proto: uint8(a.Proto), Port: uint16(a.DstPort)}, ok1 && ok2
}

// cryptoInterfaces are the interfaces with a crypto map or an Easy VPN
// remote's outside, not shut down.
func cryptoInterfaces(c *config.Config) []*config.Interface {
	var out []*config.Interface
	for _, i := range c.Interfaces {
		if (i.CryptoMap != "" || (i.EzVPN != "" && !i.EzVPNInside)) && !i.Shutdown {
			out = append(out, i)
		}
	}
	return out
}

// startIPsec brings up the service of every crypto-map interface.
func (d *Daemon) startIPsec(rt *runtime, c *config.Config) error {
	rt.ipsecMu.Lock()
	defer rt.ipsecMu.Unlock()
	return d.startIPsecLocked(rt, c)
}

func (d *Daemon) startIPsecLocked(rt *runtime, c *config.Config) error {
	// A map with a local-address is one service on that address, however
	// many interfaces carry it (IOS: redundant uplinks, one IKE identity).
	served := map[string]string{}
	for _, ifc := range cryptoInterfaces(c) {
		if ifc.CryptoMap != "" && c.Crypto.LocalAddress(ifc.CryptoMap) != nil {
			if first, ok := served[ifc.CryptoMap]; ok {
				d.log.Info("crypto map served once on its local-address", "map", ifc.CryptoMap, "interface", ifc.Name.String(), "served by", first)
				continue
			}
			served[ifc.CryptoMap] = ifc.Name.String()
		}
		s, err := d.newIPsec(rt, c, ifc, fmt.Sprintf("crypto%d", len(rt.ipsec)))
		if err != nil {
			if ifc.CryptoMap == "" {
				return fmt.Errorf("interface %s: Easy VPN remote %s: %w", ifc.Name, ifc.EzVPN, err)
			}
			return fmt.Errorf("interface %s: crypto map %s: %w", ifc.Name, ifc.CryptoMap, err)
		}
		rt.ipsec = append(rt.ipsec, s)
	}
	rt.setL2TPProtect()
	return nil
}

// cryptoFingerprint is what the IPsec services are built from: the crypto
// section, the access lists and the crypto-map interfaces, keys and
// keyrings left out (they are read at each negotiation).
func cryptoFingerprint(c *config.Config) string {
	// The printed form: no pointers, no line numbers.
	x := &config.Config{AccessLists: c.AccessLists}
	if c.Crypto != nil {
		cr := *c.Crypto
		cr.Keys, cr.Keyrings = nil, nil
		x.Crypto = &cr
	}
	var b strings.Builder
	b.WriteString(x.String())
	for _, i := range cryptoInterfaces(c) {
		fmt.Fprintf(&b, "|%s %s %s %s", i.Name, i.Address, i.LinuxDevice, i.CryptoMap)
	}
	for _, i := range c.Interfaces {
		if i.EzVPN != "" {
			fmt.Fprintf(&b, "|ezvpn %s %s %v %s %v", i.Name, i.EzVPN, i.EzVPNInside, i.Address, i.Shutdown)
		}
	}
	if c.Crypto != nil {
		for _, l := range c.Crypto.LocalAddresses {
			if i := c.Interface(l.Interface); i != nil {
				fmt.Fprintf(&b, "|local-address %s %s %s", i.Name, i.Address, i.LinuxDevice)
			}
		}
	}
	return b.String()
}

// reloadIPsec restarts the IPsec services when a reload changed what they
// are built from: their SAs go (the peers are told) and traffic
// renegotiates under the new maps.
func (d *Daemon) reloadIPsec(old, c *config.Config) error {
	rt := d.rt.Load()
	if rt == nil || cryptoFingerprint(old) == cryptoFingerprint(c) {
		return nil
	}
	rt.ipsecMu.Lock()
	defer rt.ipsecMu.Unlock()
	for _, s := range rt.ipsec {
		s.deleteAll()
		s.close()
	}
	rt.ipsec = nil
	d.log.Info("crypto configuration changed: IPsec restarted; SAs renegotiate")
	return d.startIPsecLocked(rt, c)
}

func (d *Daemon) newIPsec(rt *runtime, c *config.Config, ifc *config.Interface, tun string) (*ipsecService, error) {
	s := &ipsecService{d: d, clock: d.opts.Clock, ifc: ifc, tun: tun, host: rt.host,
		log: d.opts.Debug.Logger(d.log, "crypto ipsec"), sas: map[uint32]*saInfo{}, natPeers: map[netip.AddrPort]bool{}, peerIdx: map[*cryptoEntry]int{}}
	var err error
	if s.local, err = cryptoLocal(rt.host, c, ifc); err != nil {
		return nil, err
	}
	cr := c.Crypto
	s.entries = resolveEntries(c, ifc.CryptoMap)
	s.tpols = transportPols(s.entries)
	s.l2tp = rt.l2tpESP
	if rt.l2tp != nil {
		s.port = rt.l2tp.Port()
	}
	switch {
	case len(s.tpols) > 0 && rt.l2tp != nil && s.l2tp == nil:
		// A reload added transport mode to a running L2TP socket.
		d.log.Warn("crypto map entry in transport mode: L2TP's socket was opened without IPsec; restart vpdn for the entry to protect it", "map", ifc.CryptoMap)
	case len(s.tpols) > 0 && s.l2tp == nil:
		d.log.Warn("crypto map entry in transport mode without L2TP served (vpdn enable and an accept-dialin, a pseudowire, or an L2TPv3 xconnect over UDP): it protects nothing", "map", ifc.CryptoMap)
	}
	for _, e := range s.entries {
		if e.hasTransport() || e.acl == nil {
			continue // L2TP/IPsec (ipsec_l2tp.go)
		}
		if e.acl == nil {
			continue // an Easy VPN entry: per-client lines come later
		}
		for _, a := range e.acl.Entries {
			if a.Remark != "" {
				continue
			}
			l, r, ok := aclSelectors(a)
			if !ok {
				continue
			}
			s.pols = append(s.pols, dataplane.ESPPolicy{Permit: a.Permit, Proto: uint8(a.Proto), Src: l.Prefix, Dst: r.Prefix, SrcPort: l.Port, DstPort: r.Port})
			s.polOf = append(s.polOf, e)
		}
	}
	s.natKA = 20 * time.Second
	if cr.NATKeepalive > 0 {
		s.natKA = time.Duration(cr.NATKeepalive) * time.Second
	}
	ikeCfg := ike.Config{
		Local: netip.AddrPortFrom(s.local, 500), Clock: d.opts.Clock,
		Log:              d.opts.Debug.Logger(d.log, "crypto isakmp"),
		Send:             s.sendIKE,
		OnEvent:          s.onEvent,
		Policies:         isakmpPolicies(cr),
		Key:              s.key,
		Profile:          s.profile,
		Phase2:           s.phase2,
		AcceptAggressive: cr.AggressiveMode == "enable",
	}
	if ikeCfg.Cert, err = ikeCerts(cr); err != nil {
		return nil, err
	}
	if ka := cr.Keepalive; ka != nil {
		ikeCfg.DPD = time.Duration(ka.Seconds) * time.Second
		ikeCfg.DPDRetry = time.Duration(ka.Retry) * time.Second
		ikeCfg.DPDPeriodic = ka.Mode == "periodic"
	}
	// on-demand DPD (global or an isakmp profile's keepalive): ESP from
	// the peer is as good as an R-U-THERE-ACK; IKE reads the SAs'
	// inbound counters on its DPD timer.
	ikeCfg.InboundESP = s.inboundESP
	if s.ez = newEzServer(s, c); s.ez != nil {
		s.ez.configure(&ikeCfg)
	}
	if s.remote = newEzRemote(s, c); s.remote != nil {
		s.remote.configure(&ikeCfg, cr)
	}
	if s.node, err = ike.New(ikeCfg); err != nil {
		return nil, err
	}
	fail := func(err error) (*ipsecService, error) { s.close(); return nil, err }
	binds := d.opts.Binds
	if s.b500, err = binds.ListenUDP(netip.AddrPortFrom(s.local, 500)); err != nil {
		return fail(err)
	}
	if s.b4500, err = binds.ListenUDP(netip.AddrPortFrom(s.local, 4500)); err != nil {
		return fail(err)
	}
	if s.raw, err = binds.ListenIP(50, s.local); err != nil {
		return fail(err)
	}
	// Offloads (IFF_VNET_HDR, TSO): a TCP stream is read in super-packets
	// that the ESP stage cuts, seals and sends as trains.
	if s.dev, err = rt.host.CreateTUN(tun, true); err != nil {
		return fail(err)
	}
	if err := rt.host.SetMTU(tun, cryptoMTU); err != nil {
		return fail(err)
	}
	if err := rt.host.SetUp(tun); err != nil {
		return fail(err)
	}
	s.esp = rt.plane.NewESP(dataplane.ESPConfig{Device: s.dev, Raw: s.raw, UDP: s.b4500, Acquire: s.acquire})
	s.esp.SetPolicies(s.pols)
	// vpdn's crypto map on an egress interface: the networks the ACLs
	// protect are routed into the crypto TUN.
	for _, p := range s.pols {
		if p.Permit && p.Dst.Bits() > 0 && !slices.Contains(s.routes, p.Dst) {
			if err := rt.host.AddRoute(tun, netif.Route{Dst: p.Dst}); err != nil {
				return fail(fmt.Errorf("route %v into %s: %w", p.Dst, tun, err))
			}
			s.routes = append(s.routes, p.Dst)
		}
	}
	// One ESP reader per bind reader (espReader): a batch's TCP segments
	// of a flow reach the TUN as one super-packet, and L2TP's through a
	// transport SA reach L2TP as one.
	s.wg.Go(func() { s.b500.ServeBatch(s.recv500, nil) })
	s.wg.Go(func() {
		in, flush := s.espReader()
		s.b4500.ServeBatch(func(b []byte, from netip.AddrPort) { s.recv4500With(b, from, in) }, flush)
	})
	s.wg.Go(func() { s.raw.ServeBatch(s.espReader()) })
	s.wg.Go(s.esp.Run)
	s.mu.Lock()
	s.armTicker()
	s.mu.Unlock()
	if s.remote != nil {
		d.log.Info("Easy VPN remote", "interface", ifc.Name.String(), "ezvpn", ifc.EzVPN, "local", s.local.String(), "tun", tun, "mode", s.remote.cfg.Mode, "connect", s.remote.cfg.Connect)
		s.remote.start()
		return s, nil
	}
	d.log.Info("crypto map serving", "interface", ifc.Name.String(), "map", ifc.CryptoMap, "local", s.local.String(), "tun", tun, "entries", len(s.entries), "policies", len(s.pols))
	return s, nil
}

// inboundESP is the count of ESP packets opened on the SA with inbound
// SPI spi (ike.Config.InboundESP; called on IKE's DPD timer).
func (s *ipsecService) inboundESP(spi uint32) uint64 {
	if s.esp == nil {
		return 0
	}
	if sa := s.esp.Lookup(spi); sa != nil {
		return sa.PacketsIn()
	}
	return 0
}

// cryptoLocal is the address a crypto-map interface serves IKE and ESP
// on: the address of the interface named by the map's `crypto map NAME
// local-address IF` when it has one, else the interface's own; either
// the configured address or the first IPv4 address of the device.
func cryptoLocal(host netif.Host, c *config.Config, ifc *config.Interface) (netip.Addr, error) {
	what := "the interface"
	if n := c.Crypto.LocalAddress(ifc.CryptoMap); n != nil {
		what = "local-address " + n.String()
		if li := c.Interface(*n); li != nil {
			ifc = li
		} else {
			ifc = &config.Interface{Name: *n}
		}
	}
	if ifc.Address.IsValid() {
		return ifc.Address.Addr(), nil
	}
	dev := ifc.LinuxDevice
	if dev == "" {
		dev = ifc.Name.String()
	}
	if addrs, err := host.Addrs(dev); err == nil {
		for _, a := range addrs {
			if a.Addr().Is4() {
				return a.Addr(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv4 address to serve IKE on", what)
}

func (s *ipsecService) recv500(b []byte, from netip.AddrPort) { s.node.HandlePacket(b, from) }

// recv4500 demultiplexes port 4500 (RFC 3948 §2.2): IKE behind the
// non-ESP marker, ESP, or a NAT keepalive.
func (s *ipsecService) recv4500(b []byte, from netip.AddrPort) { s.recv4500With(b, from, s.esp.Input) }

// recv4500With is recv4500 with ESP going to espIn.
func (s *ipsecService) recv4500With(b []byte, from netip.AddrPort, espIn func([]byte, netip.AddrPort)) {
	switch esp.Classify(b) {
	case esp.KindIKE:
		s.mu.Lock()
		if !s.natPeers[from] {
			// Bounded: spoofed sources cannot grow it without end; a
			// peer forgotten here is answered on 4500 again as soon as
			// it sends there.
			if len(s.natPeers) >= maxNATPeers {
				for k := range s.natPeers {
					delete(s.natPeers, k)
					break
				}
			}
			s.natPeers[from] = true
		}
		s.mu.Unlock()
		s.node.HandlePacket(b[4:], from)
	case esp.KindESP:
		espIn(b, from)
	}
}

// sendIKE sends an IKE message: on port 4500 with the non-ESP marker to a
// peer that moved there (NAT-T), on port 500 otherwise.
func (s *ipsecService) sendIKE(b []byte, to netip.AddrPort) {
	s.mu.Lock()
	natt := s.natPeers[to] || to.Port() == 4500
	s.mu.Unlock()
	if natt {
		s.b4500.WriteTo(append(esp.AppendNonESPMarker(make([]byte, 0, len(b)+4)), b...), to)
		return
	}
	s.b500.WriteTo(b, to)
}

// acquire starts quick mode for SPD line i: the data plane found a
// packet to protect and no SA.
func (s *ipsecService) acquire(i int, src, dst netip.Addr) {
	s.mu.Lock()
	e, line := s.polOf[i], s.pols[i]
	s.mu.Unlock()
	if e.dynamic {
		return // a dynamic map waits for its peers
	}
	s.mu.Lock()
	peer := netip.AddrPortFrom(e.cfg.Peers[s.peerIdx[e]%len(e.cfg.Peers)], 500)
	s.mu.Unlock()
	if s.remote != nil && e == s.remote.entry {
		// The Easy VPN remote's line: the peer it is connected to.
		s.remote.mu.Lock()
		peer = s.remote.peer
		s.remote.mu.Unlock()
	}
	pol := s.initiation(e, peer.Addr())
	pol.Local = ike.Selector{Prefix: line.Src, Proto: line.Proto, Port: line.SrcPort}
	pol.Remote = ike.Selector{Prefix: line.Dst, Proto: line.Proto, Port: line.DstPort}
	s.log.Debug(fmt.Sprintf("IPSEC(sa_request): , (key eng. msg.) OUTBOUND local= %v:0, remote= %v:0, local_proxy= %v, remote_proxy= %v, protocol= ESP, transform= NONE (Tunnel)",
		s.local, peer.Addr(), pol.Local, pol.Remote))
	go func() {
		if err := s.node.Initiate(peer, &pol); err != nil {
			s.log.Debug("IPSEC: initiate failed", "peer", peer.String(), "err", err.Error())
		}
	}()
}

func selectorWithin(in ike.Selector, pol netip.Prefix, proto uint8, port uint16) bool {
	if in.Prefix.Bits() < pol.Bits() || !pol.Contains(in.Prefix.Addr()) {
		return false
	}
	return (proto == 0 || in.Proto == proto) && (port == 0 || in.Port == port)
}

// match finds the SPD line a peer's selectors fall in: of an entry that
// lists the peer, or of a dynamic map, and that names the isakmp profile
// of the peer's phase-1 SA, or none.
func (s *ipsecService) match(peer netip.Addr, profile string, local, remote ike.Selector) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.pols {
		e := s.polOf[i]
		if !p.Permit || (!e.dynamic && !slices.Contains(e.cfg.Peers, peer.Unmap())) || (e.profile != "" && e.profile != profile) {
			continue
		}
		if selectorWithin(local, p.Src, p.Proto, p.SrcPort) && selectorWithin(remote, p.Dst, p.Proto, p.DstPort) {
			return i
		}
	}
	return -1
}

// phase2 is the crypto map playing responder: a peer's quick mode.
func (s *ipsecService) phase2(peer netip.AddrPort, profile string, local, remote ike.Selector) *ike.Phase2Policy {
	i := s.match(peer.Addr(), profile, local, remote)
	if i < 0 && s.ez != nil {
		if pol := s.ez.phase2(peer, profile, local, remote); pol != nil {
			return pol
		}
	}
	if i < 0 {
		if pol := s.transportPhase2(peer, local, remote); pol != nil {
			return pol
		}
		s.log.Debug(fmt.Sprintf("IPSEC(validate_transform_proposal): proxy identities not supported (local %v remote %v, peer %v, isakmp profile %q)", local, remote, peer.Addr(), profile))
		return nil
	}
	pol := s.polOf[i].pol
	pol.Local, pol.Remote = local, remote
	return &pol
}

// espConfigs turns a child SA's algorithms and keys into the data
// plane's two directions.
func espConfigs(c *ike.ChildSA) (in, out esp.Config, err error) {
	in = esp.Config{SPI: c.SPIIn, EncKey: c.EncKeyIn, AuthKey: c.AuthKeyIn}
	out = esp.Config{SPI: c.SPIOut, EncKey: c.EncKeyOut, AuthKey: c.AuthKeyOut}
	var ci esp.Cipher
	var ig esp.Integrity
	switch c.Transform {
	case isakmp.ESPAES:
		ci = esp.CipherAESCBC
	case isakmp.ESP3DES:
		ci = esp.Cipher3DES
	case isakmp.ESPAESGCM16:
		ci = esp.CipherAESGCM
		in.AuthKey, out.AuthKey = nil, nil
	default:
		return in, out, fmt.Errorf("ESP transform %d", c.Transform)
	}
	switch c.Auth {
	case 0:
	case isakmp.AuthAlgHMACSHA1:
		ig = esp.HMACSHA196
	case isakmp.AuthAlgHMACMD5:
		ig = esp.HMACMD596
	case isakmp.AuthAlgHMACSHA256:
		ig = esp.HMACSHA256128
	default:
		return in, out, fmt.Errorf("ESP authenticator %d", c.Auth)
	}
	in.Cipher, out.Cipher = ci, ci
	in.Integrity, out.Integrity = ig, ig
	return in, out, nil
}

func udpEncap(e uint16) bool {
	return e == isakmp.EncapUDPTunnel || e == isakmp.EncapUDPTunnelDraft || e == isakmp.EncapUDPTransport || e == isakmp.EncapUDPTransportDraft
}

func (s *ipsecService) onEvent(ev ike.Event) {
	if s.remote != nil {
		defer s.remote.onEvent(ev)
	}
	switch ev.Kind {
	case ike.EventChildInbound:
		s.childInbound(ev.Child)
	case ike.EventChildUp:
		s.childUp(ev.Child)
	case ike.EventChildDown:
		s.childDown(ev.Child, ev.Reason)
	case ike.EventChildRekey:
		c := ev.Child
		if !c.Initiator {
			return // IOS: the side that initiated rekeys
		}
		var pol ike.Phase2Policy
		if i := s.match(c.Peer.Addr(), c.Profile, c.Local, c.Remote); i >= 0 {
			s.mu.Lock()
			e := s.polOf[i]
			s.mu.Unlock()
			pol = s.initiation(e, c.Peer.Addr())
		} else if tp := s.transportPhase2(c.Peer, c.Local, c.Remote); tp != nil {
			pol = *tp
		} else {
			return
		}
		pol.Local, pol.Remote = c.Local, c.Remote
		s.log.Debug(fmt.Sprintf("IPSEC(rekey): SA spi %#x nears its lifetime; negotiating its successor with %v", c.SPIIn, c.Peer.Addr()))
		go s.node.Initiate(c.Peer, &pol)
	case ike.EventChildFailed:
		if ev.Child != nil {
			s.inboundGone(ev.Child)
		}
		if ev.Reason == ike.ReasonPhase1Gone {
			return // EventPhase1Down tells the rest
		}
		s.log.Debug(fmt.Sprintf("IPSEC: quick mode with %v failed: %s (%v)", ev.Peer.Addr(), ev.Reason, ev.Notify))
		s.nextPeer(ev.Peer.Addr())
		if f := s.d.opts.OnIPsecFailure; f != nil {
			f(ev.Peer.Addr(), "QM", fmt.Sprintf("%s (%v)", ev.Reason, ev.Notify))
		}
	case ike.EventPhase1Down:
		if strings.Contains(ev.Reason, "retransmission") {
			s.nextPeer(ev.Peer.Addr())
		}
		if s.ez != nil {
			if l := s.ez.release(ev.ConnID); l != nil {
				// The client's SAs go with its address.
				for _, c := range s.node.Children() {
					// Its address's SAs, and a network-extension
					// client's network's.
					if c.Peer == l.peer || (c.Peer.Addr() == l.peer.Addr() && c.Remote.Prefix == netip.PrefixFrom(l.addr, 32)) {
						s.node.DeleteChild(c.SPIIn)
					}
				}
			}
		}
		if f := s.d.opts.OnIPsecFailure; f != nil && (strings.Contains(ev.Reason, "retransmission") || strings.Contains(ev.Reason, "authentication")) {
			f(ev.Peer.Addr(), ev.State, ev.Reason)
		}
	}
}

// nextPeer moves the entries whose current peer failed to their next
// `set peer` (backup peers, as IOS tries them).
func (s *ipsecService) nextPeer(failed netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if n := len(e.cfg.Peers); n > 1 && e.cfg.Peers[s.peerIdx[e]%n] == failed.Unmap() {
			s.peerIdx[e] = (s.peerIdx[e] + 1) % n
			s.log.Debug(fmt.Sprintf("IPSEC: crypto map %s %d: peer %v failed, trying %v next", e.tag, e.cfg.Seq, failed, e.cfg.Peers[s.peerIdx[e]]))
		}
	}
}

func (s *ipsecService) childUp(c *ike.ChildSA) {
	if c.Transport() {
		s.transportUp(c)
		return
	}
	i := s.match(c.Peer.Addr(), c.Profile, c.Local, c.Remote)
	client := false
	if i < 0 && s.ez != nil {
		// An Easy VPN client's flow: its own SPD line.
		s.mu.Lock()
		if ci, err := s.clientLine(c); err == nil {
			i, client = ci, true
		}
		s.mu.Unlock()
	}
	sa := s.esp.Lookup(c.SPIIn)
	if sa != nil {
		// Installed inbound-only at our QM2 (EventChildInbound): now it
		// sends too.
		err := s.esp.Activate(c.SPIIn, i)
		if err != nil {
			s.d.log.Warn("IPsec SA not installed", "peer", c.Peer.String(), "err", err.Error())
			return
		}
	} else {
		var err error
		if sa, err = tunnelSA(c); err == nil {
			err = s.esp.Install(sa, i)
		}
		if err != nil {
			s.d.log.Warn("IPsec SA not installed", "peer", c.Peer.String(), "err", err.Error())
			return
		}
	}
	info := &saInfo{child: *c, sa: sa, policy: i}
	if i >= 0 {
		s.mu.Lock()
		info.entry = s.polOf[i]
		s.mu.Unlock()
	}
	if client && !slices.Contains(s.routes, c.Remote.Prefix) {
		// Reverse route for the client's address: traffic to it goes
		// into the crypto TUN and its SA.
		s.mu.Lock()
		shared := false
		for _, o := range s.sas {
			shared = shared || o.route == c.Remote.Prefix
		}
		s.mu.Unlock()
		if !shared {
			s.clientRoute(c.Remote.Prefix, true)
		}
		info.route = c.Remote.Prefix
	}
	// Reverse route injection: the remote network into the crypto TUN
	// while the SA is up.
	if !client && info.entry != nil && info.entry.rr == "dynamic" && c.Remote.Prefix.Bits() > 0 && !slices.Contains(s.routes, c.Remote.Prefix) {
		if err := s.host.AddRoute(s.tun, netif.Route{Dst: c.Remote.Prefix}); err == nil {
			info.route = c.Remote.Prefix
		}
	}
	s.mu.Lock()
	s.sas[c.SPIIn] = info
	s.mu.Unlock()
	if s.remote != nil {
		s.remote.childUp(info.entry)
	}
	s.log.Debug(fmt.Sprintf("IPSEC(create_sa): sa created, (sa) sa_dest= %v, sa_proto= 50, sa_spi= %#X(%d), sa_trans= %s, sa_conn_id= %d",
		c.Peer.Addr(), c.SPIOut, c.SPIOut, sa.Transform(), c.SPIIn%10000))
	s.log.Debug(fmt.Sprintf("IPSEC(create_sa): sa created, (sa) sa_dest= %v, sa_proto= 50, sa_spi= %#X(%d), sa_trans= %s, sa_conn_id= %d",
		s.local, c.SPIIn, c.SPIIn, sa.Transform(), c.SPIIn%10000))
}

// tunnelSA makes the data plane's SA pair for the tunnel-mode child c.
func tunnelSA(c *ike.ChildSA) (*dataplane.ESPSA, error) {
	in, out, err := espConfigs(c)
	if err != nil {
		return nil, err
	}
	peer := c.Peer
	udp := udpEncap(c.Encap)
	if udp && peer.Port() == 500 {
		peer = netip.AddrPortFrom(peer.Addr(), 4500)
	}
	return dataplane.NewESPSA(dataplane.ESPSAConfig{In: in, Out: out, Peer: peer, UDP: udp,
		Local:  dataplane.ESPSelector{Prefix: c.Local.Prefix, Proto: c.Local.Proto, Port: c.Local.Port},
		Remote: dataplane.ESPSelector{Prefix: c.Remote.Prefix, Proto: c.Remote.Proto, Port: c.Remote.Port}})
}

// childInbound installs the inbound half of a child SA we answered with
// QM2 (EventChildInbound): the initiator may send on it before our QM3
// handler runs. Its outbound half waits for childUp.
func (s *ipsecService) childInbound(c *ike.ChildSA) {
	if c.Transport() {
		s.transportInstall(c, true)
		return
	}
	sa, err := tunnelSA(c)
	if err == nil {
		err = s.esp.Install(sa, -1)
	}
	if err != nil {
		s.d.log.Warn("IPsec inbound SA not installed", "peer", c.Peer.String(), "err", err.Error())
	}
}

// inboundGone uninstalls the inbound half of a quick mode that failed
// after our QM2.
func (s *ipsecService) inboundGone(c *ike.ChildSA) {
	s.esp.Remove(c.SPIIn)
	if s.l2tp != nil {
		s.l2tp.Remove(c.SPIIn)
	}
}

func (s *ipsecService) childDown(c *ike.ChildSA, reason string) {
	s.esp.Remove(c.SPIIn)
	if s.l2tp != nil {
		s.l2tp.Remove(c.SPIIn)
	}
	s.mu.Lock()
	info := s.sas[c.SPIIn]
	delete(s.sas, c.SPIIn)
	keep := false
	if info != nil && info.route.IsValid() {
		for _, o := range s.sas {
			keep = keep || o.route == info.route
		}
	}
	if info != nil && s.ez != nil && info.entry == s.ez.entry {
		s.clientGone(info.policy)
	}
	s.mu.Unlock()
	if info != nil && info.route.IsValid() && !keep {
		s.host.DelRoute(s.tun, netif.Route{Dst: info.route})
	}
	s.log.Debug(fmt.Sprintf("IPSEC(delete_sa): deleting SA, (sa) sa_dest= %v, sa_proto= 50, sa_spi= %#X(%d) (%s)", c.Peer.Addr(), c.SPIOut, c.SPIOut, reason))
}

// ipsecTick is how often byte counts go to IKE (kilobyte lifetimes) and
// NAT keepalives are considered.
const ipsecTick = 5 * time.Second

// armTicker (s.mu held) schedules the next tick.
func (s *ipsecService) armTicker() {
	if s.closed {
		return
	}
	s.ticker = s.clock.AfterFunc(ipsecTick, s.tick)
}

func (s *ipsecService) tick() {
	type count struct {
		spi uint32
		n   uint64
	}
	var counts []count
	var ka []netip.AddrPort
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for spi, info := range s.sas {
		st := info.sa.Stats()
		total := st.In.OctetsIn + st.Out.OctetsOut
		if total > info.octets {
			counts = append(counts, count{spi, total - info.octets})
			info.octets = total
		}
		if info.sa.Peer().Port() != 500 && udpEncap(info.child.Encap) && !slices.Contains(ka, info.sa.Peer()) {
			ka = append(ka, info.sa.Peer())
		}
	}
	now := s.clock.Now()
	sendKA := now.Sub(s.lastKA) >= s.natKA
	if sendKA {
		s.lastKA = now
	}
	s.armTicker()
	s.mu.Unlock()
	for _, c := range counts {
		s.node.CountBytes(c.spi, c.n)
	}
	if sendKA {
		for _, p := range ka {
			s.b4500.WriteTo([]byte{esp.NATKeepalive}, p) // RFC 3948 §2.3
		}
	}
}

// deleteAll deletes every SA, telling the peers (Delete payloads, RFC 2408
// §3.15), so that they renegotiate instead of sending into SAs that are
// gone.
func (s *ipsecService) deleteAll() {
	for _, c := range s.node.Children() {
		s.node.DeleteChild(c.SPIIn)
	}
	seen := map[netip.Addr]bool{}
	for _, p := range s.node.Phase1() {
		peer := p.Dst
		if peer == s.local {
			peer = p.Src
		}
		if !seen[peer] {
			seen[peer] = true
			s.node.DeletePeer(peer)
		}
	}
}

// close stops the service: IKE, the binds, the TUN and its routes.
func (s *ipsecService) close() {
	s.mu.Lock()
	s.closed = true
	if s.ticker != nil {
		s.ticker.Stop()
	}
	s.mu.Unlock()
	if s.remote != nil && s.node != nil && s.esp != nil {
		s.remote.close()
	}
	if s.node != nil {
		s.node.Close()
	}
	if s.ez != nil {
		s.ez.cancel()
		s.ez.releaseAll()
	}
	for _, b := range []transport.Bind{s.b500, s.b4500, s.raw} {
		if b != nil {
			b.Close()
		}
	}
	if s.dev != nil {
		for _, r := range s.routes {
			s.host.DelRoute(s.tun, netif.Route{Dst: r})
		}
		s.dev.Close()
	}
	s.wg.Wait()
}
