// Package show renders the show commands of vpdn from protocol-neutral
// snapshots: one `show vpdn`, `show vpdn session`, `show caller user` and
// `show users` over every carrier (L2TP and PPTP today; L2F and L2TPv3 as
// they come), `show ppp mppe`, in the layouts of IOS, and the same
// snapshots as JSON with a stable schema (docs/show-json.md): snake_case
// names, enumerations as their IOS words, lists always present ([] when
// empty).
//
// It knows no protocol: the daemon fills the snapshots from its carriers
// and the access layer.
package show

import (
	"fmt"
	"strings"
	"time"
)

// Protocols in the order IOS prints their sections.
const (
	L2TP   = "L2TP"
	L2F    = "L2F"
	PPTP   = "PPTP"
	L2TPv3 = "L2TPv3"
)

// Tunnel is one tunnel (control connection) of a carrier.
type Tunnel struct {
	Protocol string `json:"protocol"`
	LocalID  uint32 `json:"local_id"`
	RemoteID uint32 `json:"remote_id"`
	// LocalName and RemoteName are the host names the ends announced.
	LocalName  string `json:"local_name"`
	RemoteName string `json:"remote_name"`
	// RemoteVendor is the peer's Vendor Name, if it sent one.
	RemoteVendor string `json:"remote_vendor,omitempty"`
	// State is the IOS word of the state column ("est", "wait-ctl-reply");
	// StateName its long form ("established").
	State     string `json:"state"`
	StateName string `json:"state_name"`
	// RemoteAddress and RemotePort are the peer's underlay address.
	RemoteAddress string `json:"remote_address"`
	RemotePort    uint16 `json:"remote_port"`
	Sessions      int    `json:"sessions"`
	// Group is the L2TP class or VPDN group of the tunnel.
	Group string `json:"group,omitempty"`
	// Role is "LNS" or "LAC" (L2TP), "PNS" or "PAC" (PPTP).
	Role string `json:"role"`
	// LastChange is when the state last changed.
	LastChange time.Time `json:"last_change"`
	// Control are the control channel's counters. For PPTP, Sent and
	// Received count control messages on the TCP connection and
	// HellosSent the Echo-Requests (RFC 2637 §2.8); the L2TP-only
	// counters stay zero.
	Control ControlCounters `json:"control"`

	// The fields below are for carriers other than L2TP, which leaves
	// them zero and so out of its JSON.

	// NoRemoteID says the tunnel has no ID given by the peer: a PPTP
	// control connection is known by its TCP connection alone (RFC 2637
	// §1.3), so show prints "N/A" and remote_id stays 0.
	NoRemoteID bool `json:"no_remote_id,omitzero"`
	// LocalAddress is our underlay address of the tunnel.
	LocalAddress string `json:"local_address,omitempty"`
	// Created is when the tunnel's connection was opened: its uptime.
	Created time.Time `json:"created,omitzero"`
	// Version is 3 for an L2TPv3 control connection (32-bit IDs, RFC
	// 3931), 0 otherwise; RouterID is then the peer's Router ID AVP
	// (dotted) and Digest the control message authentication ("md5",
	// "sha1", or "off").
	Version  int    `json:"version,omitzero"`
	RouterID string `json:"router_id,omitempty"`
	Digest   string `json:"digest,omitempty"`
}

// ControlCounters are a tunnel's control-channel counters.
type ControlCounters struct {
	Sent          uint64 `json:"sent"`
	Received      uint64 `json:"received"`
	Retransmitted uint64 `json:"retransmitted"`
	Duplicates    uint64 `json:"duplicates"`
	OutOfOrder    uint64 `json:"out_of_order"`
	ZLBSent       uint64 `json:"zlb_sent"`
	ZLBReceived   uint64 `json:"zlb_received"`
	HellosSent    uint64 `json:"hellos_sent"`
	CWND          int    `json:"cwnd"`
	PeerWindow    int    `json:"peer_window"`
}

// Session is one session (call) of a carrier, with what the access layer
// and the data plane know of it.
type Session struct {
	Protocol string `json:"protocol"`
	LocalID  uint32 `json:"local_id"`
	RemoteID uint32 `json:"remote_id"`
	TunnelID uint32 `json:"tunnel_id"`
	// RemoteTunnelID is the peer's ID of the tunnel.
	RemoteTunnelID uint32 `json:"remote_tunnel_id"`
	RemoteName     string `json:"remote_name"`
	RemoteAddress  string `json:"remote_address"`
	// User is the PPP user (or the LAC's proxy authentication name).
	User string `json:"user"`
	// Interface is the virtual interface (IOS short name, "Vi3"), VCID the
	// pseudowire's VC ID on a LAC.
	Interface string `json:"interface"`
	VCID      uint32 `json:"vcid,omitempty"`
	// State is the IOS word ("est", "wait-icrp"); StateName the long form.
	State      string    `json:"state"`
	StateName  string    `json:"state_name"`
	LastChange time.Time `json:"last_change"`
	UniqueID   uint32    `json:"unique_id"`
	Sequencing bool      `json:"sequencing"`
	// CallingNumber and CalledNumber of the call.
	CallingNumber string `json:"calling_number,omitempty"`
	CalledNumber  string `json:"called_number,omitempty"`
	// Counters are the session's data channel: every frame, PPP control
	// frames included.
	Counters Counters `json:"counters"`
	// Flow is a PPTP call's enhanced GRE flow control (RFC 2637 §4.2,
	// §4.4); nil for carriers without it, and then out of the JSON.
	Flow *FlowControl `json:"flow_control,omitempty"`
}

// Counters are a session's data counters.
type Counters struct {
	PacketsIn  uint64 `json:"packets_in"`
	BytesIn    uint64 `json:"bytes_in"`
	PacketsOut uint64 `json:"packets_out"`
	BytesOut   uint64 `json:"bytes_out"`
	// OutOfOrder and Spoofed count received packets dropped: behind the
	// sequence, and IP from a source the session does not own.
	OutOfOrder uint64 `json:"out_of_order"`
	Spoofed    uint64 `json:"spoofed_source"`
}

// VPDN is the snapshot of every carrier's tunnels and sessions.
type VPDN struct {
	Tunnels  []Tunnel  `json:"tunnels"`
	Sessions []Session `json:"sessions"`
}

// Normalize makes the lists non-nil, for JSON.
func (v *VPDN) Normalize() {
	if v.Tunnels == nil {
		v.Tunnels = []Tunnel{}
	}
	if v.Sessions == nil {
		v.Sessions = []Session{}
	}
}

func (v *VPDN) of(proto string) (ts []Tunnel, ss []Session) {
	for _, t := range v.Tunnels {
		if t.Protocol == proto {
			ts = append(ts, t)
		}
	}
	for _, s := range v.Sessions {
		if s.Protocol == proto {
			ss = append(ss, s)
		}
	}
	return
}

// Filter returns the snapshot of one protocol.
func (v VPDN) Filter(proto string) VPDN {
	ts, ss := v.of(proto)
	out := VPDN{Tunnels: ts, Sessions: ss}
	out.Normalize()
	return out
}

// Now is the time the renderers measure "time since change" against.
var Now = time.Now

// HMS renders the time since t as IOS does, hh:mm:ss.
func HMS(t time.Time) string {
	s := 0
	if !t.IsZero() {
		s = int(Now().Sub(t).Seconds())
	}
	return hmsSeconds(s)
}

func hmsSeconds(s int) string {
	if s < 0 {
		s = 0
	}
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// others are the protocols after L2TP, in IOS's order.
var others = []string{L2F, PPTP, L2TPv3}

// sections writes one section per carrier, as IOS does: L2TP's first (or
// what none says when L2TP has nothing to show), then each other carrier
// that has tunnels (or what none says of it: "% No active PPTP sessions").
// title is what follows the protocol in the section's heading ("Tunnel and
// Session Information"); body writes its tables.
//
// Document 004's PPTP hub prints "% No active L2TP tunnels" and then its
// PPTP section, and an L2TP-only LNS says nothing of PPTP: so a carrier
// other than L2TP without tunnels prints nothing, not "% No active PPTP
// tunnels". (Document 001's older IOS also printed "% No active L2F
// tunnels"; the layout of 004 is the one followed.)
func sections(b *strings.Builder, v VPDN, title string, none func(proto string, ts []Tunnel, ss []Session) string,
	body func(b *strings.Builder, proto string, ts []Tunnel, ss []Session)) {
	for i, p := range append([]string{L2TP}, others...) {
		ts, ss := v.of(p)
		if i > 0 {
			if len(ts) == 0 {
				continue
			}
			b.WriteString("\n")
		}
		if msg := none(p, ts, ss); msg != "" {
			b.WriteString(msg)
			continue
		}
		fmt.Fprintf(b, "%s %s Total tunnels %d sessions %d\n\n", p, title, len(ts), len(ss))
		body(b, p, ts, ss)
	}
}

// noTunnels is IOS's line for a carrier without tunnels ("% No active
// L2TP tunnels").
func noTunnels(proto string, ts []Tunnel, _ []Session) string {
	if len(ts) == 0 {
		return "% No active " + proto + " tunnels\n"
	}
	return ""
}

// WriteVPDN renders `show vpdn`: the carriers' tunnel and session tables.
func WriteVPDN(b *strings.Builder, v VPDN) {
	v = v.escaped()
	sections(b, v, "Tunnel and Session Information", noTunnels, func(b *strings.Builder, p string, ts []Tunnel, ss []Session) {
		writeTunnelTable(b, p, ts)
		if len(ss) > 0 {
			b.WriteString("\n")
			writeSessionTable(b, p, ss)
		}
	})
}

// WriteTunnels renders `show vpdn tunnel [all]`.
func WriteTunnels(b *strings.Builder, v VPDN, all bool) {
	v = v.escaped()
	sections(b, v, "Tunnel Information", noTunnels, func(b *strings.Builder, p string, ts []Tunnel, _ []Session) {
		if !all {
			writeTunnelTable(b, p, ts)
			return
		}
		for _, t := range ts {
			if p == PPTP {
				writePPTPTunnelDetail(b, t)
			} else {
				writeTunnelDetail(b, t)
			}
		}
	})
}

// WriteSessions renders `show vpdn session [all]`. A carrier with tunnels
// but no sessions says so in one line, as IOS does for L2TP ("% No active
// L2TP sessions"; the PPTP line is inferred from it).
func WriteSessions(b *strings.Builder, v VPDN, all bool) {
	v = v.escaped()
	none := func(p string, ts []Tunnel, ss []Session) string {
		if len(ts) > 0 && len(ss) == 0 {
			return "% No active " + p + " sessions\n"
		}
		return noTunnels(p, ts, ss)
	}
	sections(b, v, "Session Information", none, func(b *strings.Builder, p string, _ []Tunnel, ss []Session) {
		if !all {
			writeSessionTable(b, p, ss)
			return
		}
		for _, s := range ss {
			if p == PPTP {
				writePPTPSessionDetail(b, s)
			} else {
				writeSessionDetail(b, s)
			}
		}
	})
}

func writeTunnelTable(b *strings.Builder, p string, ts []Tunnel) {
	if p == L2TP {
		writeL2TPTunnels(b, ts)
	} else {
		writeOtherTunnels(b, ts)
	}
}

func writeSessionTable(b *strings.Builder, p string, ss []Session) {
	if p == L2TP {
		writeL2TPSessions(b, ss)
	} else {
		writeOtherSessions(b, ss)
	}
}

// WriteL2TunTunnels and WriteL2TunSessions render `show l2tun tunnel
// [all]` and `show l2tun session [all]`: L2TP only. WriteL2Tun renders bare
// `show l2tun`: both summaries.
func WriteL2TunTunnels(b *strings.Builder, v VPDN, all bool) { WriteTunnels(b, v.Filter(L2TP), all) }
func WriteL2TunSessions(b *strings.Builder, v VPDN, all bool) {
	WriteSessions(b, v.Filter(L2TP), all)
}
func WriteL2Tun(b *strings.Builder, v VPDN) {
	l := v.Filter(L2TP)
	if len(l.Tunnels) == 0 {
		b.WriteString("% No active L2TP tunnels\n")
		return
	}
	WriteTunnels(b, l, false)
	b.WriteString("\n")
	WriteSessions(b, l, false)
}

// L2TPTunnelHeader and L2TPSessionHeader head the L2TP summary tables.
const L2TPTunnelHeader = "LocTunID   RemTunID   Remote Name   State  Remote Address  Sessn L2TP Class/\n" +
	"                                                           Count VPDN Group\n"

const L2TPSessionHeader = "LocID      RemID      TunID      Username, Intf/      State  Last Chg Uniq ID\n" +
	"                                 Vcid, Circuit\n"

func writeL2TPTunnels(b *strings.Builder, ts []Tunnel) {
	b.WriteString(L2TPTunnelHeader)
	for _, t := range ts {
		fmt.Fprintf(b, "%-10d %-10d %-13s %-6s %-15s %-5d %s\n", t.LocalID, t.RemoteID, trunc(t.RemoteName, 13),
			t.State, t.RemoteAddress, t.Sessions, trunc(t.Group, 15))
	}
}

// label is the "Username, Intf/Vcid, Circuit" column.
func label(s Session) string {
	switch {
	case s.VCID != 0:
		return fmt.Sprintf("%d, %s", s.VCID, s.Interface)
	case s.Interface != "":
		u := s.User
		if u == "" {
			u = "-"
		}
		return u + ", " + s.Interface
	case s.User != "":
		return s.User
	}
	return "-"
}

func writeL2TPSessions(b *strings.Builder, ss []Session) {
	b.WriteString(L2TPSessionHeader)
	for _, s := range ss {
		fmt.Fprintf(b, "%-10d %-10d %-10d %-20s %-6s %s %d\n", s.LocalID, s.RemoteID, s.TunnelID,
			trunc(label(s), 20), s.State, HMS(s.LastChange), s.UniqueID)
	}
}

func writeTunnelDetail(b *strings.Builder, t Tunnel) {
	up := "down"
	if t.State == "est" || t.State == "estabd" {
		up = "up"
	}
	fmt.Fprintf(b, "Tunnel id %d is %s, remote id is %d, %d active sessions\n", t.LocalID, up, t.RemoteID, t.Sessions)
	fmt.Fprintf(b, "  Tunnel state is %s, time since change %s\n", t.StateName, HMS(t.LastChange))
	fmt.Fprintf(b, "  Remote tunnel name is %s\n", t.RemoteName)
	fmt.Fprintf(b, "    Internet Address %s, port %d\n", t.RemoteAddress, t.RemotePort)
	if t.RemoteVendor != "" {
		fmt.Fprintf(b, "    Remote vendor name is %s\n", t.RemoteVendor)
	}
	fmt.Fprintf(b, "  Local tunnel name is %s\n", t.LocalName)
	if t.Version == 3 {
		fmt.Fprintf(b, "  Protocol version 3 (L2TPv3), remote router ID %s\n", t.RouterID)
		fmt.Fprintf(b, "  Control message authentication is %s\n", t.Digest)
	}
	fmt.Fprintf(b, "  Tunnel role is %s\n", t.Role)
	if t.Group != "" {
		fmt.Fprintf(b, "  VPDN group for tunnel is %s\n", t.Group)
	}
	c := t.Control
	fmt.Fprintf(b, "  Control messages: %d sent, %d received, %d retransmitted, %d duplicates, %d out of order\n", c.Sent, c.Received, c.Retransmitted, c.Duplicates, c.OutOfOrder)
	fmt.Fprintf(b, "  ZLB ACKs: %d sent, %d received; HELLOs sent %d\n", c.ZLBSent, c.ZLBReceived, c.HellosSent)
	fmt.Fprintf(b, "  Congestion window %d, remote receive window %d\n\n", c.CWND, c.PeerWindow)
}

func writeSessionDetail(b *strings.Builder, s Session) {
	up := "down"
	if s.State == "est" || s.State == "estabd" {
		up = "up"
	}
	fmt.Fprintf(b, "Session id %d is %s, tunnel id %d\n", s.LocalID, up, s.TunnelID)
	fmt.Fprintf(b, "Remote session id is %d, remote tunnel id %d\n", s.RemoteID, s.RemoteTunnelID)
	fmt.Fprintf(b, "Remote tunnel name is %s\n", s.RemoteName)
	fmt.Fprintf(b, "  Internet address is %s\n", s.RemoteAddress)
	fmt.Fprintf(b, "  Session state is %s, time since change %s\n", s.StateName, HMS(s.LastChange))
	if s.Interface != "" {
		fmt.Fprintf(b, "  Interface %s\n", s.Interface)
	}
	c := s.Counters
	fmt.Fprintf(b, "    %d Packets sent, %d received\n", c.PacketsOut, c.PacketsIn)
	fmt.Fprintf(b, "    %d Bytes sent, %d received\n", c.BytesOut, c.BytesIn)
	b.WriteString("  Receive packets dropped:\n")
	fmt.Fprintf(b, "    out-of-order:             %d\n", c.OutOfOrder)
	fmt.Fprintf(b, "    spoofed source:           %d\n", c.Spoofed)
	fmt.Fprintf(b, "    total:                    %d\n", c.OutOfOrder+c.Spoofed)
	if s.User != "" {
		fmt.Fprintf(b, "  Session username is %s\n", s.User)
	}
	if s.CallingNumber != "" {
		fmt.Fprintf(b, "  Calling number is %s\n", s.CallingNumber)
	}
	if s.Sequencing {
		b.WriteString("  Sequencing is on\n\n")
	} else {
		b.WriteString("  Sequencing is off\n\n")
	}
}
