package show

import (
	"fmt"
	"strings"
	"time"
)

// User is a PPP session on a virtual interface, whatever carries it: what
// `show users`, `show caller user` and `show interfaces virtual-access`
// print.
type User struct {
	// Interface is the IOS short name ("Vi3", "Vp1"), LongName the full
	// one ("Virtual-Access3").
	Interface string `json:"interface"`
	LongName  string `json:"long_name"`
	// Hardware is "Virtual Access interface" or "Virtual PPP interface".
	Hardware string `json:"hardware"`
	// Template is the Virtual-Template the interface was cloned from (or
	// the configured interface a client session runs on).
	Template string `json:"template"`
	// Unnumbered is the interface whose address is borrowed, if any.
	Unnumbered string `json:"unnumbered,omitempty"`
	User       string `json:"user"`
	// Service is "PPPoVPDN" for tunnelled PPP on a Virtual-Access, "PPP"
	// on a client's Virtual-PPP or Dialer (document 004).
	Service string `json:"service"`
	// Protocol is the carrier ("L2TP", "PPTP").
	Protocol  string `json:"protocol"`
	Up        bool   `json:"up"`
	LocalAddr string `json:"local_address"`
	PeerAddr  string `json:"peer_address"`
	// Auth is how authentication went, as IOS prints it: "CHAP (<--)" (we
	// authenticated the peer), "(-->)" (it authenticated us), "<-->" both.
	Auth        string    `json:"authentication"`
	ConnectedAt time.Time `json:"connected_at"`
	Counters    Counters  `json:"counters"`
	// CCP is whether CCP is open beside IPCP: MPPE runs on the session
	// (RFC 3078), as on most PPTP calls. Out of the JSON when false.
	CCP bool `json:"ccp,omitzero"`
	// Timeouts in seconds: the Session-Timeout and Idle-Timeout limits
	// (absent: none), what is left of the session's, and how long the
	// session has been idle (known while an idle limit runs).
	SessionTimeout int `json:"session_timeout,omitzero"`
	SessionLeft    int `json:"session_timeout_left,omitzero"`
	IdleTimeout    int `json:"idle_timeout,omitzero"`
	IdleFor        int `json:"idle_for,omitzero"`
	// InterimInterval is the seconds between Interim-Update accounting
	// records (Acct-Interim-Interval, aaa accounting update periodic).
	InterimInterval int `json:"interim_interval,omitzero"`
	// From the authorization (RADIUS): the interface's MTU when
	// Framed-MTU set it (or it was configured), the routes through the
	// session (Framed-Route, Framed-IP-Netmask), and the IPv6 prefixes
	// (Framed-IPv6-Prefix, Delegated-IPv6-Prefix), applied once IPv6CP
	// is open (IPv6).
	MTU               int      `json:"mtu,omitzero"`
	FramedRoutes      []string `json:"framed_routes,omitempty"`
	IPv6Prefixes      []string `json:"framed_ipv6_prefixes,omitempty"`
	DelegatedPrefixes []string `json:"delegated_ipv6_prefixes,omitempty"`
	// IPv6 is the session's IPv6 once IPv6CP is open; absent otherwise.
	IPv6 *UserIPv6 `json:"ipv6,omitempty"`
}

// UserIPv6 is a session's IPv6: IPv6CP's interface identifiers, the
// link-local addresses, the prefix advertised (server) or learnt
// (client), the delegated prefixes routed to the client, and Neighbor
// Discovery's counts.
type UserIPv6 struct {
	LocalID       string   `json:"local_interface_id"`
	PeerID        string   `json:"peer_interface_id"`
	LinkLocal     string   `json:"link_local"`
	PeerLinkLocal string   `json:"peer_link_local"`
	Prefix        string   `json:"prefix,omitempty"`
	PrefixSource  string   `json:"prefix_source,omitempty"`
	Delegated     []string `json:"delegated,omitempty"`
	Client        bool     `json:"client,omitempty"`
	Addresses     []string `json:"addresses,omitempty"`
	Applied       bool     `json:"applied"`
	Error         string   `json:"error,omitempty"`
	RAsSent       uint64   `json:"ra_sent"`
	RSsReceived   uint64   `json:"rs_received"`
	RSsSent       uint64   `json:"rs_sent"`
	RAsReceived   uint64   `json:"ra_received"`
	NDDropped     uint64   `json:"nd_dropped"`
	DHCPIn        uint64   `json:"dhcpv6_received"`
	DHCPOut       uint64   `json:"dhcpv6_answered"`
}

// ncps are the open network (and compression) control protocols, as IOS
// lists them after LCP: "IPCP", or "IPCP, CCP" with MPPE (the order is
// inferred: CCP opens after authentication, as IPCP does, and IOS lists
// the NCPs in the order they opened).
func (u User) ncps() string {
	n := "IPCP"
	if u.IPv6 != nil {
		n += ", IPV6CP"
	}
	if u.CCP {
		n += ", CCP"
	}
	return n
}

// WriteUsers renders `show users`.
func WriteUsers(b *strings.Builder, us []User) {
	us = escapedUsers(us)
	b.WriteString("  Interface    User               Mode         Idle     Peer Address\n")
	for _, u := range us {
		user := u.User
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(b, "  %-12s %-18s %-12s %s %s\n", u.Interface, trunc(user, 18), u.Service, "00:00:00", u.PeerAddr)
	}
}

// WriteCallerUser renders `show caller user NAME` for the user's sessions.
func WriteCallerUser(b *strings.Builder, us []User) {
	us = escapedUsers(us)
	for _, u := range us {
		fmt.Fprintf(b, "  User: %s, line %s, service %s\n", u.User, u.Interface, u.Service)
		fmt.Fprintf(b, "        Connected for %s, Idle for %s\n", HMS(u.ConnectedAt), hmsSeconds(u.IdleFor))
		b.WriteString("  Timeouts:            Limit     Remaining Timer Type\n")
		if u.SessionTimeout == 0 && u.IdleTimeout == 0 && u.InterimInterval == 0 {
			b.WriteString("                       -         -         -\n")
		}
		if u.SessionTimeout > 0 {
			fmt.Fprintf(b, "                       %-9s %-9s Session timer\n", hmsSeconds(u.SessionTimeout), hmsSeconds(u.SessionLeft))
		}
		if u.IdleTimeout > 0 {
			fmt.Fprintf(b, "                       %-9s %-9s Idle timer\n", hmsSeconds(u.IdleTimeout), hmsSeconds(u.IdleTimeout-u.IdleFor))
		}
		if u.InterimInterval > 0 {
			fmt.Fprintf(b, "                       %-9s %-9s Accounting interim\n", hmsSeconds(u.InterimInterval), "-")
		}
		fmt.Fprintf(b, "  PPP: LCP Open, %s, %s\n", u.Auth, u.ncps())
		fmt.Fprintf(b, "  IP: Local %s, remote %s\n", u.LocalAddr, u.PeerAddr)
		if u.MTU > 0 || len(u.FramedRoutes) > 0 {
			routes := "none"
			if len(u.FramedRoutes) > 0 {
				routes = strings.Join(u.FramedRoutes, " ")
			}
			mtu := "default"
			if u.MTU > 0 {
				mtu = fmt.Sprint(u.MTU)
			}
			fmt.Fprintf(b, "  Framed: MTU %s, routes %s\n", mtu, routes)
		}
		writeUserIPv6(b, u)
		c := u.Counters
		fmt.Fprintf(b, "  Counts: %d packets input, %d bytes, 0 no buffer\n", c.PacketsIn, c.BytesIn)
		b.WriteString("          0 input errors, 0 CRC, 0 frame, 0 overrun\n")
		fmt.Fprintf(b, "          %d packets output, %d bytes, 0 underruns\n", c.PacketsOut, c.BytesOut)
		b.WriteString("          0 output errors, 0 collisions, 0 interface resets\n")
	}
}

// writeUserIPv6 is show caller user's IPv6 part.
func writeUserIPv6(b *strings.Builder, u User) {
	v := u.IPv6
	if v == nil {
		if len(u.IPv6Prefixes) > 0 || len(u.DelegatedPrefixes) > 0 {
			fmt.Fprintf(b, "  IPv6: prefix %s, delegated %s (not applied: IPV6CP not open)\n", orNone(u.IPv6Prefixes), orNone(u.DelegatedPrefixes))
		}
		return
	}
	fmt.Fprintf(b, "  IPv6: IPV6CP Open, interface ID %s, remote %s\n", v.LocalID, v.PeerID)
	fmt.Fprintf(b, "        Link-local %s, remote %s\n", v.LinkLocal, v.PeerLinkLocal)
	state := "applied"
	if !v.Applied {
		state = "not applied"
		if v.Error != "" {
			state += ": " + v.Error
		}
	}
	switch {
	case v.Prefix != "" && len(v.Addresses) > 0:
		fmt.Fprintf(b, "        Prefix %s (%s), address %s, %s\n", v.Prefix, v.PrefixSource, strings.Join(v.Addresses, " "), state)
	case v.Prefix != "":
		fmt.Fprintf(b, "        Prefix %s (%s), advertised and routed, %s\n", v.Prefix, v.PrefixSource, state)
	default:
		fmt.Fprintf(b, "        Prefix none, %s\n", state)
	}
	switch {
	case len(v.Delegated) > 0 && v.Client:
		fmt.Fprintf(b, "        Delegated to us by DHCPv6-PD: %s\n", strings.Join(v.Delegated, " "))
	case len(v.Delegated) > 0:
		fmt.Fprintf(b, "        Delegated %s routed via %s, applied; offered by DHCPv6-PD\n", strings.Join(v.Delegated, " "), v.PeerLinkLocal)
	}
	fmt.Fprintf(b, "        ND: %d RA sent, %d RS received, %d RS sent, %d RA received, %d dropped; DHCPv6: %d received, %d answered\n",
		v.RAsSent, v.RSsReceived, v.RSsSent, v.RAsReceived, v.NDDropped, v.DHCPIn, v.DHCPOut)
}

// WriteInterface renders `show interfaces virtual-access N` (or
// virtual-ppp N).
func WriteInterface(b *strings.Builder, u User) {
	u = escapedUsers([]User{u})[0]
	state := "down"
	if u.Up {
		state = "up"
	}
	fmt.Fprintf(b, "%s is %s, line protocol is %s\n", u.LongName, state, state)
	fmt.Fprintf(b, "  Hardware is %s\n", u.Hardware)
	switch {
	case u.Unnumbered != "":
		fmt.Fprintf(b, "  Interface is unnumbered. Using address of %s (%s)\n", u.Unnumbered, u.LocalAddr)
	case u.LocalAddr != "":
		fmt.Fprintf(b, "  Internet address is %s\n", u.LocalAddr)
	}
	fmt.Fprintf(b, "  Encapsulation PPP, LCP Open\n  Open: %s\n", u.ncps())
	if u.Hardware == "Virtual Access interface" {
		fmt.Fprintf(b, "  PPPoVPDN vaccess, cloned from %s\n", u.Template)
	}
	fmt.Fprintf(b, "  Peer address is %s\n", u.PeerAddr)
	fmt.Fprintf(b, "     %d packets input, %d bytes\n", u.Counters.PacketsIn, u.Counters.BytesIn)
	fmt.Fprintf(b, "     %d packets output, %d bytes\n", u.Counters.PacketsOut, u.Counters.BytesOut)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
