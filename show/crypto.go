package show

import (
	"fmt"
	"slices"
	"strings"
)

// The IPsec show commands of crypto maps, in the layouts document 004
// prints: show crypto isakmp sa, show crypto ipsec sa, show crypto map,
// show crypto session.

// ISAKMPSA is a phase-1 SA: a line of show crypto isakmp sa.
type ISAKMPSA struct {
	Dst    string `json:"dst"`
	Src    string `json:"src"`
	State  string `json:"state"` // MM_NO_STATE, MM_KEY_EXCH, QM_IDLE, ...
	ConnID int    `json:"conn_id"`
	Status string `json:"status"` // ACTIVE
	// Debug is the state as debug crypto isakmp names it (IKE_I_MM1 ...).
	Debug     string `json:"debug_state"`
	Interface string `json:"interface"`
	// The detail columns: the chosen policy (encr "aes", "3des"; hash
	// "sha", "md5", ...; DH group), seconds of lifetime left, and the
	// capabilities (D: dead peer detection, N: NAT-traversal).
	Encr      string `json:"encryption"`
	Hash      string `json:"hash"`
	DH        int    `json:"dh_group"`
	Remaining int64  `json:"remaining_seconds"`
	Caps      string `json:"capabilities"`
	Initiator bool   `json:"initiator"`
	// Auth is the authentication: psk (pre-shared key) or rsig (RSA
	// signature).
	Auth string `json:"auth"`
	// Easy VPN: the peer's group (its phase-1 identity), the XAuth user
	// and the address mode-config assigned; absent otherwise.
	Group   string `json:"group,omitempty"`
	User    string `json:"xauth_user,omitempty"`
	Address string `json:"assigned_address,omitempty"`
	// Profile is the SA's isakmp profile; absent without one.
	Profile string `json:"profile,omitempty"`
}

// IPsecSA is an IPsec SA pair with the flow it protects: a block of show
// crypto ipsec sa.
type IPsecSA struct {
	Interface string `json:"interface"`
	MapTag    string `json:"crypto_map"`
	MapSeq    int    `json:"seq"`
	LocalAddr string `json:"local_addr"`
	// LocalIdent and RemoteIdent are addr/mask/prot/port as IOS prints
	// them (prot 256: any).
	LocalIdent   string `json:"local_ident"`
	RemoteIdent  string `json:"remote_ident"`
	Peer         string `json:"peer"`
	PeerPort     uint16 `json:"peer_port"`
	Encaps       uint64 `json:"pkts_encaps"`
	Encrypt      uint64 `json:"pkts_encrypt"`
	Digest       uint64 `json:"pkts_digest"`
	Decaps       uint64 `json:"pkts_decaps"`
	Decrypt      uint64 `json:"pkts_decrypt"`
	Verify       uint64 `json:"pkts_verify"`
	SendErrors   uint64 `json:"send_errors"`
	RecvErrors   uint64 `json:"recv_errors"`
	ReplayFailed uint64 `json:"replay_failed"`
	VerifyFailed uint64 `json:"verify_failed"`
	InvalidSA    uint64 `json:"invalid_sa"`
	PolicyDrops  uint64 `json:"policy_drops"`
	SPIIn        uint32 `json:"spi_in"`
	SPIOut       uint32 `json:"spi_out"`
	Transform    string `json:"transform"` // esp-256-aes esp-md5-hmac
	Settings     string `json:"in_use_settings"`
	PFSGroup     int    `json:"pfs_group"`
	ConnID       int    `json:"conn_id"`
	RemainingKB  int64  `json:"remaining_kb"`
	RemainingSec int64  `json:"remaining_seconds"`
	IVSize       int    `json:"iv_size"`
	ReplayWindow int    `json:"replay_window"`
	MTU          int    `json:"mtu"`
	// Keys are present only for `show crypto ipsec sa --json --secrets`
	// (admin role): hex, for decrypting captures (Wireshark's ESP SAs).
	Keys *IPsecKeys `json:"keys,omitempty"`
}

// IPsecKeys are an SA pair's keys: inbound (SPIIn) and outbound (SPIOut);
// an AES-GCM encryption key ends with its 4-octet salt.
type IPsecKeys struct {
	EncIn   string `json:"enc_in"`
	AuthIn  string `json:"auth_in"`
	EncOut  string `json:"enc_out"`
	AuthOut string `json:"auth_out"`
}

// CryptoMapEntry is an entry of show crypto map.
type CryptoMapEntry struct {
	Name          string   `json:"name"`
	Seq           int      `json:"seq"`
	Dynamic       string   `json:"dynamic,omitempty"` // ipsec-isakmp dynamic NAME
	Peers         []string `json:"peers"`
	ACL           string   `json:"acl"`
	ACLLines      []string `json:"acl_lines"`
	CurrentPeer   string   `json:"current_peer,omitempty"`
	LifeKB        int64    `json:"lifetime_kb"`
	LifeSec       int64    `json:"lifetime_seconds"`
	PFSGroup      int      `json:"pfs_group"`
	TransformSets []string `json:"transform_sets"` // NAME: { esp-256-aes esp-md5-hmac }
	ReverseRoute  bool     `json:"reverse_route"`
	Interfaces    []string `json:"interfaces"`
}

func ynGroup(g int) (string, string) {
	if g == 0 {
		return "N", "none"
	}
	return "Y", fmt.Sprintf("group%d", g)
}

// WriteISAKMPSA renders show crypto isakmp sa [detail].
func WriteISAKMPSA(b *strings.Builder, sas []ISAKMPSA, detail bool) {
	if detail {
		b.WriteString("Codes: C - IKE configuration mode, D - Dead Peer Detection\n")
		b.WriteString("       K - Keepalives, N - NAT-traversal\n")
		b.WriteString("       T - cTCP encapsulation, X - IKE Extended Authentication\n")
		b.WriteString("       psk - Preshared key, rsig - RSA signature\n")
		b.WriteString("       renc - RSA encryption\n")
		b.WriteString("IPv4 Crypto ISAKMP SA\n\n")
		b.WriteString("C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH Lifetime Cap.\n\n")
		for _, s := range sas {
			local, remote := s.Dst, s.Src
			if s.Initiator {
				local, remote = s.Src, s.Dst
			}
			life := ""
			if s.State == "QM_IDLE" {
				life = fmt.Sprintf("%d:%02d:%02d", s.Remaining/3600, s.Remaining/60%60, s.Remaining%60)
			}
			fmt.Fprintf(b, "%-5d %-15s %-15s        %-6s %-4s %-6s %-4s %-2d %-8s %s\n", s.ConnID, local, remote, s.Status, s.Encr, s.Hash, s.Auth, s.DH, life, s.Caps)
			fmt.Fprintf(b, "       Engine-id:Conn-id =  SW:%d\n", s.ConnID)
			fmt.Fprintf(b, "       State: %s (%s)\n", s.State, s.Debug)
			if s.Profile != "" {
				fmt.Fprintf(b, "       Profile: %s\n", s.Profile)
			}
			if s.User != "" || s.Address != "" {
				fmt.Fprintf(b, "       Group: %s, XAuth user: %s, assigned address: %s\n", dash(s.Group), dash(s.User), dash(s.Address))
			}
			b.WriteString("\n")
		}
		b.WriteString("IPv6 Crypto ISAKMP SA\n\n")
		return
	}
	b.WriteString("IPv4 Crypto ISAKMP SA\n")
	b.WriteString("dst             src             state          conn-id status\n")
	for _, s := range sas {
		fmt.Fprintf(b, "%-15s %-15s %-15s %6d %s\n", s.Dst, s.Src, s.State, s.ConnID, s.Status)
	}
	b.WriteString("\nIPv6 Crypto ISAKMP SA\n\n")
}

func writeESPSAs(b *strings.Builder, s IPsecSA, spi uint32) {
	fmt.Fprintf(b, "      spi: 0x%X(%d)\n", spi, spi)
	fmt.Fprintf(b, "        transform: %s ,\n", s.Transform)
	fmt.Fprintf(b, "        in use settings ={%s, }\n", s.Settings)
	fmt.Fprintf(b, "        conn id: %d, flow_id: SW:%d, sibling_flags 80000040, crypto map: %s\n", s.ConnID, s.ConnID, s.MapTag)
	fmt.Fprintf(b, "        sa timing: remaining key lifetime (k/sec): (%d/%d)\n", s.RemainingKB, s.RemainingSec)
	fmt.Fprintf(b, "        IV size: %d bytes\n", s.IVSize)
	b.WriteString("        replay detection support: Y\n")
	b.WriteString("        Status: ACTIVE(ACTIVE)\n\n")
}

// WriteIPsecSA renders show crypto ipsec sa: per interface, each SA pair
// with its flow, counters and the inbound and outbound ESP SAs.
func WriteIPsecSA(b *strings.Builder, sas []IPsecSA) {
	last := ""
	for _, s := range sas {
		if s.Interface != last {
			fmt.Fprintf(b, "\ninterface: %s\n", s.Interface)
			last = s.Interface
		}
		fmt.Fprintf(b, "    Crypto map tag: %s, local addr %s\n\n", s.MapTag, s.LocalAddr)
		b.WriteString("   protected vrf: (none)\n")
		fmt.Fprintf(b, "   local  ident (addr/mask/prot/port): (%s)\n", s.LocalIdent)
		fmt.Fprintf(b, "   remote ident (addr/mask/prot/port): (%s)\n", s.RemoteIdent)
		fmt.Fprintf(b, "   current_peer %s port %d\n", s.Peer, s.PeerPort)
		b.WriteString("     PERMIT, flags={origin_is_acl,}\n")
		fmt.Fprintf(b, "    #pkts encaps: %d, #pkts encrypt: %d, #pkts digest: %d\n", s.Encaps, s.Encrypt, s.Digest)
		fmt.Fprintf(b, "    #pkts decaps: %d, #pkts decrypt: %d, #pkts verify: %d\n", s.Decaps, s.Decrypt, s.Verify)
		b.WriteString("    #pkts compressed: 0, #pkts decompressed: 0\n")
		b.WriteString("    #pkts not compressed: 0, #pkts compr. failed: 0\n")
		b.WriteString("    #pkts not decompressed: 0, #pkts decompress failed: 0\n")
		fmt.Fprintf(b, "    #send errors %d, #recv errors %d\n", s.SendErrors, s.RecvErrors)
		fmt.Fprintf(b, "    #pkts replay failed (rcv): %d, #pkts verify failed: %d, #pkts invalid sa (rcv): %d\n\n", s.ReplayFailed, s.VerifyFailed, s.InvalidSA)
		fmt.Fprintf(b, "     local crypto endpt.: %s, remote crypto endpt.: %s\n", s.LocalAddr, s.Peer)
		fmt.Fprintf(b, "     path mtu 1500, ip mtu %d, ip mtu idb %s\n", s.MTU, s.Interface)
		fmt.Fprintf(b, "     current outbound spi: 0x%X(%d)\n", s.SPIOut, s.SPIOut)
		y, g := ynGroup(s.PFSGroup)
		fmt.Fprintf(b, "     PFS (Y/N): %s, DH group: %s\n\n", y, g)
		b.WriteString("     inbound esp sas:\n")
		writeESPSAs(b, s, s.SPIIn)
		b.WriteString("     inbound ah sas:\n\n     inbound pcp sas:\n\n")
		b.WriteString("     outbound esp sas:\n")
		writeESPSAs(b, s, s.SPIOut)
		b.WriteString("     outbound ah sas:\n\n     outbound pcp sas:\n")
	}
}

// WriteCryptoMap renders show crypto map.
func WriteCryptoMap(b *strings.Builder, es []CryptoMapEntry) {
	for _, e := range es {
		if e.Dynamic != "" {
			fmt.Fprintf(b, "Crypto Map \"%s\" %d ipsec-isakmp\n", e.Name, e.Seq)
			fmt.Fprintf(b, "\tDynamic map template tag: %s\n", e.Dynamic)
		} else {
			fmt.Fprintf(b, "Crypto Map \"%s\" %d ipsec-isakmp\n", e.Name, e.Seq)
		}
		for _, p := range e.Peers {
			fmt.Fprintf(b, "\tPeer = %s\n", p)
		}
		if e.ACL != "" {
			fmt.Fprintf(b, "\tExtended IP access list %s\n", e.ACL)
			for _, l := range e.ACLLines {
				fmt.Fprintf(b, "\t    access-list %s %s\n", e.ACL, l)
			}
		}
		if e.CurrentPeer != "" {
			fmt.Fprintf(b, "\tCurrent peer: %s\n", e.CurrentPeer)
		}
		fmt.Fprintf(b, "\tSecurity association lifetime: %d kilobytes/%d seconds\n", e.LifeKB, e.LifeSec)
		b.WriteString("\tResponder-Only (Y/N): ")
		if e.Dynamic != "" || len(e.Peers) == 0 {
			b.WriteString("Y\n")
		} else {
			b.WriteString("N\n")
		}
		y, g := ynGroup(e.PFSGroup)
		if y == "Y" {
			fmt.Fprintf(b, "\tPFS (Y/N): Y\n\tDH group:  %s\n", g)
		} else {
			b.WriteString("\tPFS (Y/N): N\n")
		}
		b.WriteString("\tTransform sets={ \n")
		for _, t := range e.TransformSets {
			fmt.Fprintf(b, "\t\t%s , \n", t)
		}
		b.WriteString("\t}\n")
		if e.ReverseRoute {
			b.WriteString("\tReverse Route Injection Enabled\n")
		}
		if len(e.Interfaces) > 0 {
			fmt.Fprintf(b, "\tInterfaces using crypto map %s:\n", e.Name)
			for _, i := range e.Interfaces {
				fmt.Fprintf(b, "\t\t%s\n", i)
			}
		}
		b.WriteString("\n")
	}
}

// CryptoSession is a peer's sessions: show crypto session.
type CryptoSession struct {
	Interface string     `json:"interface"`
	Status    string     `json:"status"` // UP-ACTIVE, UP-NO-IKE, DOWN-NEGOTIATING, DOWN
	Peer      string     `json:"peer"`
	PeerPort  uint16     `json:"peer_port"`
	IKE       []ISAKMPSA `json:"ike_sas"`
	Flows     []IPsecSA  `json:"flows"`
}

// WriteCryptoSession renders show crypto session [detail].
func WriteCryptoSession(b *strings.Builder, ss []CryptoSession, detail bool) {
	b.WriteString("Crypto session current status\n\n")
	if detail {
		b.WriteString("Code: C - IKE Configuration mode, D - Dead Peer Detection\n")
		b.WriteString("K - Keepalives, N - NAT-traversal, T - cTCP encapsulation\n")
		b.WriteString("X - IKE Extended Authentication, F - IKE Fragmentation\n\n")
	}
	for _, s := range ss {
		fmt.Fprintf(b, "Interface: %s\n", s.Interface)
		if i := slices.IndexFunc(s.IKE, func(k ISAKMPSA) bool { return k.Profile != "" }); i >= 0 {
			fmt.Fprintf(b, "Profile: %s\n", s.IKE[i].Profile)
		}
		for _, k := range s.IKE {
			if k.User != "" {
				fmt.Fprintf(b, "Username: %s\n", k.User)
			}
			if k.Group != "" && (k.User != "" || k.Address != "") {
				fmt.Fprintf(b, "Group: %s\n", k.Group)
			}
			if k.Address != "" {
				fmt.Fprintf(b, "Assigned address: %s\n", k.Address)
			}
		}
		fmt.Fprintf(b, "Session status: %s\n", s.Status)
		fmt.Fprintf(b, "Peer: %s port %d\n", s.Peer, s.PeerPort)
		for _, k := range s.IKE {
			local, remote := k.Dst, k.Src
			if k.Initiator {
				local, remote = k.Src, k.Dst
			}
			state := "Active"
			if k.State != "QM_IDLE" {
				state = "Inactive"
			}
			fmt.Fprintf(b, "  IKEv1 SA: local %s/500 remote %s/%d %s\n", local, remote, s.PeerPort, state)
			if detail {
				fmt.Fprintf(b, "          Conn-id:%d Status: %s State: %s\n", k.ConnID, k.Status, k.State)
			}
		}
		for _, f := range s.Flows {
			lp, la := identFlow(f.LocalIdent)
			_, ra := identFlow(f.RemoteIdent)
			fmt.Fprintf(b, "  IPSEC FLOW: permit %s %s %s\n", lp, la, ra)
			fmt.Fprintf(b, "        Active SAs: 2, origin: crypto map\n")
			if detail {
				fmt.Fprintf(b, "        Inbound:  #pkts dec'ed %d drop %d life (KB/Sec) %d/%d\n", f.Decaps, f.RecvErrors, f.RemainingKB, f.RemainingSec)
				fmt.Fprintf(b, "        Outbound: #pkts enc'ed %d drop %d life (KB/Sec) %d/%d\n", f.Encaps, f.SendErrors, f.RemainingKB, f.RemainingSec)
			}
		}
		b.WriteString("\n")
	}
}

// identFlow turns "10.0.0.0/255.255.255.0/256/0" into the flow form:
// protocol "ip" and "10.0.0.0/255.255.255.0".
func identFlow(id string) (proto, addr string) {
	parts := strings.Split(id, "/")
	if len(parts) != 4 {
		return "ip", id
	}
	proto = map[string]string{"256": "ip", "0": "ip", "1": "icmp", "6": "tcp", "17": "udp"}[parts[2]]
	if proto == "" {
		proto = parts[2]
	}
	addr = parts[0] + "/" + parts[1]
	if parts[3] != "0" {
		addr += " port " + parts[3]
	}
	return proto, addr
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ISAKMPProfile is an isakmp profile as show crypto isakmp profile
// prints it.
type ISAKMPProfile struct {
	Name       string   `json:"name"`
	Identities []string `json:"identities"` // "ip-address A M", "host H", "host domain D", "group G"
	Keyrings   []string `json:"keyrings"`
	// TrustPoints are its ca trust-points (empty: all).
	TrustPoints []string `json:"trustpoints"`
	// The Easy VPN settings, when the profile has them.
	AuthList      string `json:"authentication_list,omitempty"`
	AuthorList    string `json:"authorization_list,omitempty"`
	ConfigAddress string `json:"configuration_address,omitempty"`
	ClientGroup   string `json:"configuration_group,omitempty"`
	Keepalive     string `json:"keepalive,omitempty"` // "S retry R"
}

// WriteISAKMPProfiles renders show crypto isakmp profile in IOS's layout.
func WriteISAKMPProfiles(b *strings.Builder, ps []ISAKMPProfile) {
	for _, p := range ps {
		fmt.Fprintf(b, "ISAKMP PROFILE %s\n", p.Name)
		b.WriteString("   Identities matched are:\n")
		for _, id := range p.Identities {
			fmt.Fprintf(b, "    %s\n", id)
		}
		b.WriteString("   Certificate maps matched are:\n")
		if len(p.Keyrings) > 0 {
			fmt.Fprintf(b, "   keyring(s): %s\n", strings.Join(p.Keyrings, ", "))
		} else {
			b.WriteString("   keyring(s): <none>\n")
		}
		if len(p.TrustPoints) > 0 {
			fmt.Fprintf(b, "   trustpoint(s): %s\n", strings.Join(p.TrustPoints, ", "))
		} else {
			b.WriteString("   trustpoint(s): <all>\n")
		}
		if p.AuthList != "" {
			fmt.Fprintf(b, "   client authentication list: %s\n", p.AuthList)
		}
		if p.AuthorList != "" {
			fmt.Fprintf(b, "   isakmp authorization list: %s\n", p.AuthorList)
		}
		if p.ConfigAddress != "" {
			fmt.Fprintf(b, "   client configuration address: %s\n", p.ConfigAddress)
		}
		if p.ClientGroup != "" {
			fmt.Fprintf(b, "   client configuration group: %s\n", p.ClientGroup)
		}
		if p.Keepalive != "" {
			fmt.Fprintf(b, "   keepalive: %s\n", p.Keepalive)
		}
		b.WriteString("\n")
	}
}

// ISAKMPKey is a line of show crypto isakmp key: a pre-shared key and
// the keyring it is in ("default": crypto isakmp key).
type ISAKMPKey struct {
	Keyring string `json:"keyring"`
	Peer    string `json:"peer"` // an address, address/mask, or host name
	Key     string `json:"key"`  // masked unless secrets were asked for
}

// WriteISAKMPKeys renders show crypto isakmp key in IOS's layout.
func WriteISAKMPKeys(b *strings.Builder, ks []ISAKMPKey) {
	fmt.Fprintf(b, "%-13s%-44s%s\n\n", "Keyring", "Hostname/Address", "Preshared Key")
	for _, k := range ks {
		fmt.Fprintf(b, "%-13s%-44s%s\n", k.Keyring, k.Peer, k.Key)
	}
}
