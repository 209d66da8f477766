package show

// The PPTP section of show vpdn (and the tables L2F and L2TPv3 share with
// it until they get their own). The seed documents give this output with
// its line breaks and runs of spaces lost: document 004's PPTP hub (`show
// vpdn session`, IOS 15) and document 001 (`show vpdn`, `show vpdn session
// all`, an older IOS that still wrote "(Total tunnels=1 sessions=1)"). The
// columns below are rebuilt from the header words and the widths IOS uses
// in its L2TP tables; what is inferred rather than read is said where it is
// written.

import (
	"fmt"
	"strings"
)

// FlowControl is a PPTP call's enhanced GRE sliding window (RFC 2637
// §4.2, §4.4): the "Ss, Sr, Remote Nr, peer RWS" line of `show vpdn
// session all` and its flow alarm.
type FlowControl struct {
	// Sent is the last sequence number sent (Ss), Received the last one
	// received (Sr), PeerAck the last acknowledgment number the peer
	// sent (Remote Nr), all as on the wire (§4.1).
	Sent     uint32 `json:"sent_seq"`
	Received uint32 `json:"received_seq"`
	PeerAck  uint32 `json:"peer_ack"`
	// PeerWindow is the peer's Packet Recv. Window Size (RWS) from its
	// call request or reply (§2.7–§2.10): the most packets we may have
	// unacknowledged. Unacked is how many are now.
	PeerWindow int `json:"peer_window"`
	Unacked    int `json:"unacked"`
	// RTTMillis is the round-trip estimate and AckTimeoutMillis the
	// acknowledgment timeout derived from it (§4.4, Appendix A), in
	// milliseconds.
	RTTMillis        uint32 `json:"rtt_ms"`
	AckTimeoutMillis uint32 `json:"ack_timeout_ms"`
	// Alarm is whether the flow alarm is raised now (the peer's window is
	// full or acknowledgments time out); Alarms counts how often it was.
	Alarm  bool   `json:"alarm"`
	Alarms uint64 `json:"alarms"`
}

// OtherTunnelHeader and OtherSessionHeader head the tables of the PPTP
// section. The session header is document 004's. The tunnel header is
// document 001's with a "VPDN Group" column after "Sessions": IOS 15
// prints one there as it does for L2TP (inferred; 001's older IOS has
// none). Remote IDs of PPTP tunnels print "N/A" (see Tunnel.NoRemoteID).
const OtherTunnelHeader = "LocID RemID Remote Name   State  Remote Address  Port  Sessions VPDN Group\n"

const OtherSessionHeader = "LocID RemID TunID Intf    Username      State   Last Chg Uniq ID\n"

func remoteID(t Tunnel) string {
	if t.NoRemoteID {
		return "N/A"
	}
	return fmt.Sprint(t.RemoteID)
}

func writeOtherTunnels(b *strings.Builder, ts []Tunnel) {
	b.WriteString(OtherTunnelHeader)
	for _, t := range ts {
		line := fmt.Sprintf("%-5d %-5s %-13s %-6s %-15s %-5d %-8d %s", t.LocalID, remoteID(t), trunc(peerName(t.RemoteName, t.RemoteAddress), 13),
			t.State, t.RemoteAddress, t.RemotePort, t.Sessions, trunc(t.Group, 15))
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// writeOtherSessions writes the session table; an unknown user leaves the
// column blank, as document 001 shows for a call PPP has not yet
// authenticated.
func writeOtherSessions(b *strings.Builder, ss []Session) {
	b.WriteString(OtherSessionHeader)
	for _, s := range ss {
		fmt.Fprintf(b, "%-5d %-5d %-5d %-7s %-13s %-7s %s %d\n", s.LocalID, s.RemoteID, s.TunnelID, s.Interface,
			trunc(s.User, 13), s.State, HMS(s.LastChange), s.UniqueID)
	}
}

func isUp(state string) bool { return state == "est" || state == "estabd" }

// writePPTPTunnelDetail writes one control connection for `show vpdn
// tunnel all`. No seed document shows this output for PPTP: it follows
// the L2TP detail's first lines and leaves out what PPTP has not (ZLB
// acknowledgments, congestion window), with PPTP's Echo-Requests (RFC
// 2637 §2.8) where L2TP has its HELLOs.
func writePPTPTunnelDetail(b *strings.Builder, t Tunnel) {
	up := "down"
	if isUp(t.State) {
		up = "up"
	}
	fmt.Fprintf(b, "Tunnel id %d is %s, remote id is %s, %d active sessions\n", t.LocalID, up, remoteID(t), t.Sessions)
	fmt.Fprintf(b, "  Tunnel state is %s, time since change %s\n", t.StateName, HMS(t.LastChange))
	fmt.Fprintf(b, "  Remote tunnel name is %s\n", peerName(t.RemoteName, t.RemoteAddress))
	fmt.Fprintf(b, "    Internet Address %s, port %d\n", t.RemoteAddress, t.RemotePort)
	if t.RemoteVendor != "" {
		fmt.Fprintf(b, "    Remote vendor name is %s\n", t.RemoteVendor)
	}
	if t.LocalAddress != "" {
		fmt.Fprintf(b, "  Local address is %s\n", t.LocalAddress)
	}
	fmt.Fprintf(b, "  Tunnel role is %s\n", t.Role)
	if t.Group != "" {
		fmt.Fprintf(b, "  VPDN group for tunnel is %s\n", t.Group)
	}
	if !t.Created.IsZero() {
		fmt.Fprintf(b, "  Connected for %s\n", HMS(t.Created))
	}
	c := t.Control
	fmt.Fprintf(b, "  Control messages: %d sent, %d received; Echo-Requests sent %d\n\n", c.Sent, c.Received, c.HellosSent)
}

// peerName is the name a PPTP peer goes by in show: the Host Name of its
// Start-Control-Connection message, or its address when that is empty, as
// Windows leaves it (document 001: "Remote tunnel name is 10.1.2.41").
func peerName(name, addr string) string {
	if name == "" {
		return addr
	}
	return name
}

// writePPTPSessionDetail writes one call for `show vpdn session all`, in
// document 001's words. Its line breaks are lost there; they are put
// before each capitalised phrase, indented as IOS indents the L2TP detail
// (inferred). A user PPP has not authenticated is "unknown", as in 001.
func writePPTPSessionDetail(b *strings.Builder, s Session) {
	up := "down"
	if isUp(s.State) {
		up = "up"
	}
	user := s.User
	if user == "" {
		user = "unknown"
	}
	fmt.Fprintf(b, "Call id %d is %s on tunnel id %d\n", s.LocalID, up, s.TunnelID)
	fmt.Fprintf(b, "Remote tunnel name is %s\n", peerName(s.RemoteName, s.RemoteAddress))
	fmt.Fprintf(b, "  Internet Address is %s\n", s.RemoteAddress)
	fmt.Fprintf(b, "  Session username is %s, state is %s\n", user, s.State)
	fmt.Fprintf(b, "    Time since change %s, interface %s\n", HMS(s.LastChange), s.Interface)
	fmt.Fprintf(b, "    Remote call id is %d\n", s.RemoteID)
	c := s.Counters
	fmt.Fprintf(b, "    %d packets sent, %d received, %d bytes sent, %d received\n", c.PacketsOut, c.PacketsIn, c.BytesOut, c.BytesIn)
	if f := s.Flow; f != nil {
		fmt.Fprintf(b, "    Ss %d, Sr %d, Remote Nr %d, peer RWS %d\n", f.Sent, f.Received, f.PeerAck, f.PeerWindow)
	}
	fmt.Fprintf(b, "    %d out of order packets\n", c.OutOfOrder)
	if f := s.Flow; f != nil {
		// 001 shows "clear"; "set" for a raised alarm is inferred.
		alarm := "clear"
		if f.Alarm {
			alarm = "set"
		}
		fmt.Fprintf(b, "    Flow alarm is %s.\n", alarm)
	}
	b.WriteString("\n")
}
