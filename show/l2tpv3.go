package show

import (
	"fmt"
	"strings"
	"time"

	"github.com/vpdn/vpdn/internal/escape"
)

// PWSession is an L2TPv3 pseudowire session (RFC 3931) as `show l2tp
// session` shows it: a manual (static) one, an xconnect's, has no tunnel
// ("tunnel id n/a", document 004).
type PWSession struct {
	LocalID  uint32 `json:"local_id"`
	RemoteID uint32 `json:"remote_id"`
	// TunnelID is 0 for a manual session (shown "n/a"); for a signalled
	// one our Control Connection ID, RemoteTunnelID the peer's.
	TunnelID       uint32 `json:"tunnel_id"`
	RemoteTunnelID uint32 `json:"remote_tunnel_id,omitzero"`
	VCID           uint32 `json:"vcid"`
	// Interface is the attachment circuit's short IOS name ("Gi0/0"),
	// CircuitName its long one, CircuitType "Ethernet" or "Ethernet VLAN".
	Interface   string `json:"interface"`
	CircuitName string `json:"circuit_name"`
	CircuitType string `json:"circuit_type"`
	// Device is the Linux device of the attachment circuit; VLAN its
	// dot1Q VLAN for an Ethernet VLAN pseudowire (a subinterface's).
	Device string `json:"device"`
	VLAN   int    `json:"vlan,omitempty"`
	// State is the IOS word ("est", "down"); StateName its long form.
	State      string    `json:"state"`
	StateName  string    `json:"state_name"`
	LastChange time.Time `json:"last_change"`
	UniqueID   uint32    `json:"unique_id"`
	// CircuitUp is the pseudowire's circuit state; LocalCircuitUp the
	// attachment circuit's and RemoteCircuitUp the peer's (a manual
	// session has no signalling: it is taken to be up).
	CircuitUp       bool   `json:"circuit_up"`
	LocalCircuitUp  bool   `json:"local_circuit_up"`
	RemoteCircuitUp bool   `json:"remote_circuit_up"`
	RemoteAddress   string `json:"remote_address"`
	LocalAddress    string `json:"local_address"`
	// Transport is "IP protocol 115" or "UDP".
	Transport string `json:"transport"`
	Manual    bool   `json:"manual"`
	Locally   bool   `json:"locally_initiated"`
	// DF, TOS and TTL are what the session's packets carry (TOS -1 and
	// TTL 0: the kernel's default).
	DF bool `json:"df_bit"`
	// TOSReflect: each packet's ToS is the inner packet's (ip tos
	// reflect); TOS is then the socket's, for what carries no IP.
	TOSReflect bool `json:"tos_reflect,omitempty"`
	TOS        int  `json:"tos"`
	TTL        int  `json:"ttl"`
	// LocalCookie and RemoteCookie are the cookies' octets in IOS's hex
	// ("00 00 D7 47"), empty when none.
	LocalCookie  string `json:"local_cookie"`
	RemoteCookie string `json:"remote_cookie"`
	// Sequencing: "off", "transmit", "receive" or "both".
	Sequencing string   `json:"sequencing"`
	Counters   Counters `json:"counters"`
	// CookieDrops counts data messages dropped for a wrong cookie.
	CookieDrops uint64 `json:"cookie_drops"`
	// Error says why the session is down (its device could not be
	// opened, its socket not bound).
	Error string `json:"error,omitempty"`
}

// PWSessionsJSON is the JSON of `show l2tp session`.
type PWSessionsJSON struct {
	L2TPv2 []Session   `json:"l2tpv2"`
	L2TPv3 []PWSession `json:"l2tpv3"`
}

func cookieSize(c string) int {
	if c == "" {
		return 0
	}
	return (len(c) + 1) / 3
}

// WriteL2TPSessions renders `show l2tp session [all]` and `show l2tun
// session [all]`: the L2TPv2 sessions of v and the L2TPv3 pseudowires, in
// one table as IOS does (document 004's R5: "Total tunnels 0 sessions 1",
// TunID "n/a", "1, Gi0/0").
func WriteL2TPSessions(b *strings.Builder, v VPDN, pws []PWSession, all bool) {
	if len(pws) == 0 {
		WriteL2TunSessions(b, v, all)
		return
	}
	l := v.Filter(L2TP).escaped()
	fmt.Fprintf(b, "L2TP Session Information Total tunnels %d sessions %d\n\n", len(l.Tunnels), len(l.Sessions)+len(pws))
	if !all {
		b.WriteString(L2TPSessionHeader)
		for _, s := range l.Sessions {
			fmt.Fprintf(b, "%-10d %-10d %-10d %-20s %-6s %s %d\n", s.LocalID, s.RemoteID, s.TunnelID,
				trunc(label(s), 20), s.State, HMS(s.LastChange), s.UniqueID)
		}
		for _, s := range pws {
			tun := "n/a"
			if s.TunnelID != 0 {
				tun = fmt.Sprint(s.TunnelID)
			}
			fmt.Fprintf(b, "%-10d %-10d %-10s %-20s %-6s %s %d\n", s.LocalID, s.RemoteID, tun,
				trunc(fmt.Sprintf("%d, %s", s.VCID, escape.Text(s.Interface)), 20), s.State, HMS(s.LastChange), s.UniqueID)
		}
		return
	}
	for _, s := range l.Sessions {
		writeSessionDetail(b, s)
	}
	for _, s := range pws {
		writePWDetail(b, s)
	}
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// writePWDetail is one L2TPv3 session of `show l2tp session all`, in the
// layout of document 004 (R5) and document 001 ("DF bit off, ToS reflect
// disabled, ToS value 0, TTL value 255", "Session cookie information").
func writePWDetail(b *strings.Builder, s PWSession) {
	up := "down"
	if s.State == "est" {
		up = "up"
	}
	tun := "n/a"
	if s.TunnelID != 0 {
		tun = fmt.Sprint(s.TunnelID)
	}
	fmt.Fprintf(b, "Session id %d is %s, logical session id %d, tunnel id %s\n", s.LocalID, up, s.UniqueID, tun)
	rtun := "n/a"
	if s.RemoteTunnelID != 0 {
		rtun = fmt.Sprint(s.RemoteTunnelID)
	}
	fmt.Fprintf(b, "  Remote session id is %d, remote tunnel id %s\n", s.RemoteID, rtun)
	if s.Locally {
		b.WriteString("  Locally initiated session\n")
	}
	fmt.Fprintf(b, "  Unique ID is %d\n", s.UniqueID)
	fmt.Fprintf(b, "Session Layer 2 circuit, type is %s, name is %s\n", s.CircuitType, escape.Text(s.CircuitName))
	fmt.Fprintf(b, "Session vcid is %d\n", s.VCID)
	fmt.Fprintf(b, "  Circuit state is %s\n", upDown(s.CircuitUp))
	fmt.Fprintf(b, "    Local circuit state is %s\n", upDown(s.LocalCircuitUp))
	fmt.Fprintf(b, "    Remote circuit state is %s\n", upDown(s.RemoteCircuitUp))
	b.WriteString("  Call serial number is 0\n")
	b.WriteString("  Remote tunnel name is \n")
	fmt.Fprintf(b, "    Internet address is %s\n", s.RemoteAddress)
	b.WriteString("  Local tunnel name is \n")
	fmt.Fprintf(b, "    Internet address is %s\n", s.LocalAddress)
	fmt.Fprintf(b, "  %s\n", s.Transport)
	if s.Manual {
		b.WriteString("  Session is manually signaled\n")
	} else {
		b.WriteString("  Session is L2TP signaled\n")
	}
	fmt.Fprintf(b, "  Session state is %s, time since change %s\n", s.StateName, HMS(s.LastChange))
	c := s.Counters
	fmt.Fprintf(b, "    %d Packets sent, %d received\n", c.PacketsOut, c.PacketsIn)
	fmt.Fprintf(b, "    %d Bytes sent, %d received\n", c.BytesOut, c.BytesIn)
	b.WriteString("  Last clearing of counters never\n")
	b.WriteString("  Receive packets dropped:\n")
	fmt.Fprintf(b, "    out-of-order:             %d\n", c.OutOfOrder)
	fmt.Fprintf(b, "    wrong cookie:             %d\n", s.CookieDrops)
	fmt.Fprintf(b, "    total:                    %d\n", c.OutOfOrder+s.CookieDrops)
	df, tos, ttl := "off", 0, 255
	if s.DF {
		df = "on"
	}
	if s.TOS >= 0 {
		tos = s.TOS
	}
	if s.TTL != 0 {
		ttl = s.TTL
	}
	reflect := "disabled"
	if s.TOSReflect {
		reflect = "enabled"
	}
	fmt.Fprintf(b, "  DF bit %s, ToS reflect %s, ToS value %d, TTL value %d\n", df, reflect, tos, ttl)
	b.WriteString("  Session cookie information:\n")
	for _, c := range []struct{ which, v string }{{"local", s.LocalCookie}, {"remote", s.RemoteCookie}} {
		if c.v == "" {
			fmt.Fprintf(b, "    %s cookie, size 0 bytes\n", c.which)
			continue
		}
		fmt.Fprintf(b, "    %s cookie, size %d bytes, value %s\n", c.which, cookieSize(c.v), c.v)
	}
	if s.Error != "" {
		fmt.Fprintf(b, "  Last error: %s\n", escape.Text(s.Error))
	}
	if s.Sequencing == "" || s.Sequencing == "off" {
		b.WriteString("  Sequencing is off\n\n")
	} else {
		fmt.Fprintf(b, "  Sequencing is on (%s)\n\n", s.Sequencing)
	}
}

// WriteXconnect renders `show xconnect all` in IOS's layout: one line per
// xconnect with its two segments, the attachment circuit and the
// pseudowire ("mpls"/"l2tp" peer:VCID).
func WriteXconnect(b *strings.Builder, pws []PWSession) {
	b.WriteString("Legend:    XC ST=Xconnect State  S1=Segment1 State  S2=Segment2 State\n")
	b.WriteString("  UP=Up       DN=Down            AD=Admin Down      IA=Inactive\n")
	b.WriteString("  SB=Standby  HS=Hot Standby     RV=Recovering      NH=No Hardware\n\n")
	b.WriteString("XC ST  Segment 1                         S1 Segment 2                         S2\n")
	b.WriteString("------+---------------------------------+--+---------------------------------+--\n")
	for _, s := range pws {
		st := func(up bool) string {
			if up {
				return "UP"
			}
			return "DN"
		}
		xc := st(s.State == "est" && s.LocalCircuitUp)
		seg1 := fmt.Sprintf("%s:%s(%s)", "pri", escape.Text(s.Interface), s.CircuitType)
		seg2 := fmt.Sprintf("l2tp %s:%d", s.RemoteAddress, s.VCID)
		fmt.Fprintf(b, "%-6s %-33s %-2s %-33s %-2s\n", xc, trunc(seg1, 33), st(s.LocalCircuitUp), trunc(seg2, 33), st(s.State == "est"))
	}
}

// WriteL2TunTunnelsV3 renders `show l2tun tunnel [all]` with the L2TPv3
// sessions counted: manual ones have no control connection, so no tunnel.
func WriteL2TunTunnelsV3(b *strings.Builder, v VPDN, pws []PWSession, all bool) {
	l := v.Filter(L2TP)
	if len(l.Tunnels) == 0 && len(pws) > 0 {
		fmt.Fprintf(b, "L2TP Tunnel Information Total tunnels 0 sessions %d\n", len(l.Sessions)+len(pws))
		return
	}
	if len(pws) == 0 {
		WriteL2TunTunnels(b, v, all)
		return
	}
	// The L2TPv3 control connections are among the tunnels; their
	// pseudowires count as sessions in the title, as IOS counts them.
	var t strings.Builder
	WriteL2TunTunnels(&t, v, all)
	old := fmt.Sprintf("Total tunnels %d sessions %d\n", len(l.Tunnels), len(l.Sessions))
	nw := fmt.Sprintf("Total tunnels %d sessions %d\n", len(l.Tunnels), len(l.Sessions)+len(pws))
	b.WriteString(strings.Replace(t.String(), old, nw, 1))
}
