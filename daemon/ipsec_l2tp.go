package daemon

// L2TP/IPsec (document 004's "L2TPv2 over IPSec", RFC 3193): crypto map
// entries whose transform sets say `mode transport` protect vpdn's own
// UDP 1701 traffic. L2TP's bind is then a dataplane.ESPBind: what L2TP
// sends to a peer with a transport-mode SA leaves as ESP (raw IP 50, or
// UDP 4500 after NAT-T), what arrives for such an SA is handed to L2TP
// as from the peer, and clear-text L2TP from a peer the entries protect
// is dropped and counted. L2TPv3 pseudowires over UDP share that socket
// (xconnect.go's v3Bind): SoftEther's "L2TPv3 over IPsec" is L2TPv3 in
// ESP transport mode.
//
//	crypto map entry, mode transport ─▶ transportPol (its ACL's lines, or any for a dynamic map without one)
//	   ├─ ESPBind's protect: which peers must use ESP
//	   ├─ phase2: a peer's quick mode for udp 1701 ─▶ accepted
//	   └─ ESPBind's Acquire: L2TP to a protected peer ─▶ quick mode with the entry's peer
//	child SA up, transport ─▶ ESPBind.Install (L2TP knows the peer by its NAT-T address and port when
//	                          it is a responder's peer behind a NAT: clients behind one NAT stay apart)

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/vpdn/vpdn/config"
	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/proto/ike"
)

// l2tpPort is L2TP's UDP port (RFC 2661 §8.1).
const l2tpPort = 1701

// l2tpIPsecMTU is the session MTU under L2TP/IPsec: a full-sized PPP
// packet with L2TP (8), UDP (8), ESP with AES-CBC and HMAC-SHA1 (8 + 16 IV
// + at most 17 padding and trailer + 12 ICV), UDP 4500 (8) and IP (20)
// stays within 1500 octets.
const l2tpIPsecMTU = 1400

// transportPol is one line of a transport-mode entry's ACL, from our
// side, or (any) a dynamic entry without an ACL, which accepts what the
// peer proposes.
type transportPol struct {
	entry         *cryptoEntry
	permit, any   bool
	local, remote ike.Selector
}

// hasTransport reports whether an entry's transform sets are in
// transport mode.
func (e *cryptoEntry) hasTransport() bool {
	return slices.ContainsFunc(e.pol.TransformSets, func(t ike.TransformSet) bool { return t.Transport })
}

// transportPols lists the transport-mode lines of entries.
func transportPols(entries []*cryptoEntry) []transportPol {
	var out []transportPol
	for _, e := range entries {
		if !e.hasTransport() {
			continue
		}
		if e.acl == nil {
			out = append(out, transportPol{entry: e, permit: true, any: true})
			continue
		}
		for _, a := range e.acl.Entries {
			if a.Remark != "" {
				continue
			}
			l, r, ok := aclSelectors(a)
			if !ok || (a.Proto != 0 && a.Proto != 17) {
				continue // only UDP (L2TP) can be in transport mode here
			}
			out = append(out, transportPol{entry: e, permit: a.Permit, local: l, remote: r})
		}
	}
	return out
}

// l2tpIPsecWanted reports whether a crypto-map interface has an entry in
// transport mode: L2TP's bind must then be ESP-protected.
func l2tpIPsecWanted(c *config.Config) bool {
	if c.Crypto == nil {
		return false
	}
	for _, ifc := range cryptoInterfaces(c) {
		for _, e := range resolveEntries(c, ifc.CryptoMap) {
			if e.hasTransport() {
				return true
			}
		}
	}
	return false
}

// protects reports whether the first of the lines that covers peer
// address a permits (the crypto ACL's first match, RFC 4301 §4.4.1).
func protects(pols []transportPol, a netip.Addr) bool {
	for _, p := range pols {
		if p.any || p.remote.Prefix.Contains(a) {
			return p.permit
		}
	}
	return false
}

// transportWithin is selectorWithin for transport mode: a peer that sent
// no IDs (RFC 2409 §5.5: the addresses are the selectors) proposes its
// host with any protocol and port, which the data plane narrows to UDP
// to our L2TP port anyway.
func transportWithin(in, pol ike.Selector) bool {
	if in.Proto == 0 && in.Port == 0 && in.Prefix.IsSingleIP() && pol.Prefix.Contains(in.Prefix.Addr()) {
		return true
	}
	return selectorWithin(in, pol.Prefix, pol.Proto, pol.Port)
}

// matchTransport finds the transport line a peer's quick mode falls in:
// of an entry that lists the peer, or of a dynamic map.
func (s *ipsecService) matchTransport(peer netip.Addr, local, remote ike.Selector) *cryptoEntry {
	for _, p := range s.tpols {
		e := p.entry
		if !e.dynamic && !slices.Contains(e.cfg.Peers, peer.Unmap()) {
			continue
		}
		if p.any {
			return e
		}
		// Our own side may be named by the address the peer dialled: an
		// LNS behind a port-forward is known by its public address
		// (RFC 3947 §5.2: transport-mode selectors behind a NAT are the
		// NAT's; the data plane only takes UDP to our L2TP socket).
		ours := transportWithin(local, p.local) || (local.Prefix.IsSingleIP() && p.local.Prefix.IsSingleIP() && (local.Proto == 0 || local.Proto == 17) && (local.Port == 0 || p.local.Port == 0 || local.Port == p.local.Port))
		if !ours || !transportWithin(remote, p.remote) {
			continue
		}
		if !p.permit {
			return nil
		}
		return e
	}
	return nil
}

// transportPhase2 is the responder's policy for a transport-mode quick
// mode: the entry's transform sets in transport mode only.
func (s *ipsecService) transportPhase2(peer netip.AddrPort, local, remote ike.Selector) *ike.Phase2Policy {
	e := s.matchTransport(peer.Addr(), local, remote)
	if e == nil {
		return nil
	}
	pol := e.pol
	pol.TransformSets = slices.DeleteFunc(slices.Clone(pol.TransformSets), func(t ike.TransformSet) bool { return !t.Transport })
	pol.Local, pol.Remote = local, remote
	return &pol
}

// acquireTransport starts quick mode for L2TP to peer, which a static
// transport-mode entry protects and which has no SA: with the entry's
// current `set peer`, selectors udp 1701 between the two addresses.
func (s *ipsecService) acquireTransport(peer netip.AddrPort) bool {
	for _, p := range s.tpols {
		e := p.entry
		if e.dynamic || !p.permit || !(p.any || p.remote.Prefix.Contains(peer.Addr())) {
			continue
		}
		pol := e.pol
		pol.TransformSets = slices.DeleteFunc(slices.Clone(pol.TransformSets), func(t ike.TransformSet) bool { return !t.Transport })
		lport := s.l2tp.LocalAddr().Port()
		pol.Local = ike.Selector{Prefix: netip.PrefixFrom(s.local, 32), Proto: 17, Port: lport}
		pol.Remote = ike.Selector{Prefix: netip.PrefixFrom(peer.Addr(), 32), Proto: 17, Port: peer.Port()}
		s.mu.Lock()
		to := netip.AddrPortFrom(e.cfg.Peers[s.peerIdx[e]%len(e.cfg.Peers)], 500)
		s.mu.Unlock()
		s.log.Debug(fmt.Sprintf("IPSEC(sa_request): , (key eng. msg.) OUTBOUND local= %v:0, remote= %v:0, local_proxy= %v, remote_proxy= %v, protocol= ESP, transform= NONE (Transport)",
			s.local, to.Addr(), pol.Local, pol.Remote))
		go func() {
			if err := s.node.Initiate(to, &pol); err != nil {
				s.log.Debug("IPSEC: initiate failed", "peer", to.String(), "err", err.Error())
			}
		}()
		return true
	}
	return false
}

// espReader is the handler of one ESP reader (raw IP 50 or UDP 4500) and
// its flush: a transport-mode SA's ESP goes to L2TP through the reader's
// own Receiver (TCP segments of a batch coalesced, as on UDP 1701), the
// rest to the tunnel-mode stage.
func (s *ipsecService) espReader() (func([]byte, netip.AddrPort), func()) {
	tun := s.esp.NewReceiver()
	if s.l2tp == nil || s.port == nil {
		return tun.HandlePacket, tun.Flush
	}
	r := s.port.NewReceiver()
	return func(b []byte, from netip.AddrPort) {
			if !s.l2tp.Input(b, r.HandlePacket) {
				tun.HandlePacket(b, from)
			}
		}, func() {
			r.Flush()
			tun.Flush()
		}
}

// transportUp installs a transport-mode child SA under L2TP's bind.
func (s *ipsecService) transportUp(c *ike.ChildSA) {
	if s.l2tp != nil {
		if t := s.l2tp.Activate(c.SPIIn); t != nil {
			// Installed inbound-only at our QM2: now it sends too.
			s.transportInfo(c, t)
			return
		}
	}
	if t := s.transportInstall(c, false); t != nil {
		s.transportInfo(c, t)
	}
}

// transportInstall installs the transport-mode child c under L2TP's
// ESPBind (only its inbound half with inboundOnly).
func (s *ipsecService) transportInstall(c *ike.ChildSA, inboundOnly bool) *dataplane.TransportSA {
	if s.l2tp == nil || s.port == nil {
		if !inboundOnly { // said once, when the SA is complete
			s.d.log.Warn("transport-mode IPsec SA not installed: L2TP is not served", "peer", c.Peer.String())
		}
		return nil
	}
	in, out, err := espConfigs(c)
	if err != nil {
		s.d.log.Warn("IPsec SA not installed", "peer", c.Peer.String(), "err", err.Error())
		return nil
	}
	udp := udpEncap(c.Encap)
	peer := c.Peer
	if udp && peer.Port() == 500 {
		peer = netip.AddrPortFrom(peer.Addr(), 4500)
	}
	// How L2TP knows the peer: a responder's peer behind a NAT by its
	// NAT-T address and port (clients behind one NAT all speak from
	// their own 1701 inside ESP); otherwise by its address and L2TP port,
	// which is where our L2TP sends (an LAC or client dials port 1701).
	port := c.Remote.Port
	if port == 0 {
		port = l2tpPort
	}
	l2tpPeer := netip.AddrPortFrom(peer.Addr(), port)
	if udp && c.PeerBehindNAT && !c.Initiator {
		l2tpPeer = peer
	}
	t, err := s.l2tp.Install(dataplane.TransportSAConfig{
		ESPSAConfig: dataplane.ESPSAConfig{In: in, Out: out, Peer: peer, UDP: udp,
			Local:  dataplane.ESPSelector{Prefix: c.Local.Prefix, Proto: c.Local.Proto, Port: c.Local.Port},
			Remote: dataplane.ESPSelector{Prefix: c.Remote.Prefix, Proto: c.Remote.Proto, Port: c.Remote.Port}},
		L2TPPeer: l2tpPeer, Raw: s.raw, UDPBind: s.b4500, InboundOnly: inboundOnly})
	if err != nil {
		s.d.log.Warn("IPsec SA not installed", "peer", c.Peer.String(), "err", err.Error())
		return nil
	}
	return t
}

// transportInfo records the installed transport-mode child c.
func (s *ipsecService) transportInfo(c *ike.ChildSA, t *dataplane.TransportSA) {
	l2tpPeer := t.L2TPPeer()
	info := &saInfo{child: *c, sa: t.ESPSA, policy: -1, entry: s.matchTransport(c.Peer.Addr(), c.Local, c.Remote)}
	s.mu.Lock()
	s.sas[c.SPIIn] = info
	s.mu.Unlock()
	for _, x := range []struct {
		dst netip.Addr
		spi uint32
	}{{c.Peer.Addr(), c.SPIOut}, {s.local, c.SPIIn}} {
		s.log.Debug(fmt.Sprintf("IPSEC(create_sa): sa created, (sa) sa_dest= %v, sa_proto= 50, sa_spi= %#X(%d), sa_trans= %s , sa_conn_id= %d (Transport, L2TP peer %v)",
			x.dst, x.spi, x.spi, t.Transform(), c.SPIIn%10000, l2tpPeer))
	}
}

// setL2TPProtect tells L2TP's ESPBind which peers the crypto maps'
// transport-mode entries protect, and where to ask for SAs (rt.ipsecMu
// held).
func (rt *runtime) setL2TPProtect() {
	if rt.l2tpESP == nil {
		return
	}
	var pols []transportPol
	for _, s := range rt.ipsec {
		pols = append(pols, s.tpols...)
	}
	if len(pols) == 0 {
		rt.l2tpESP.SetProtect(nil)
		return
	}
	rt.l2tpESP.SetProtect(func(a netip.Addr) bool { return protects(pols, a) })
}

// acquireL2TP is the ESPBind's Acquire: the first service with a static
// transport entry for the peer negotiates.
func (d *Daemon) acquireL2TP(peer netip.AddrPort) {
	go func() {
		for _, s := range d.ipsecServices() {
			if s.acquireTransport(peer) {
				return
			}
		}
	}()
}
