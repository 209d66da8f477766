package show

import (
	"fmt"
	"strings"

	"github.com/vpdn/vpdn/internal/escape"
)

// EzVPNRemote is an Easy VPN remote's state: a block of show crypto ipsec
// client ezvpn.
type EzVPNRemote struct {
	Name string `json:"name"`
	// Mode is "client" or "network-extension".
	Mode    string   `json:"mode"`
	Inside  []string `json:"inside_interfaces,omitempty"`
	Outside string   `json:"outside_interface"`
	// State is IOS's: CONNECT_REQUIRED, IKE_PENDING, XAUTH_REQ, SS_OPEN,
	// IPSEC_ACTIVE; LastEvent what moved it there.
	State     string `json:"state"`
	LastEvent string `json:"last_event"`
	// Address is the mode-config address (mode client), AppliedOn the
	// interface IOS shows it on (Loopback10000), Device the Linux device
	// that holds it (vpdn's crypto TUN).
	Address   string       `json:"address,omitempty"`
	Mask      string       `json:"mask,omitempty"`
	AppliedOn string       `json:"applied_on,omitempty"`
	Device    string       `json:"linux_device"`
	DNS       []string     `json:"dns,omitempty"`
	Domain    string       `json:"default_domain,omitempty"`
	Banner    string       `json:"banner,omitempty"`
	Split     []EzVPNSplit `json:"split_tunnel,omitempty"`
	Peer      string       `json:"current_peer,omitempty"`
	Peers     []string     `json:"peers"`
}

// EzVPNSplit is a network of the split tunnel list.
type EzVPNSplit struct {
	Address string `json:"address"`
	Mask    string `json:"mask"`
}

// WriteEzVPNRemote writes show crypto ipsec client ezvpn.
func WriteEzVPNRemote(b *strings.Builder, rs []EzVPNRemote) {
	if len(rs) == 0 {
		return
	}
	b.WriteString("Easy VPN Remote Phase: 8\n\n")
	for _, r := range rs {
		fmt.Fprintf(b, "Tunnel name : %s\n", r.Name)
		if len(r.Inside) > 0 {
			fmt.Fprintf(b, "Inside interface list: %s\n", strings.Join(r.Inside, ", "))
		}
		fmt.Fprintf(b, "Outside interface: %s\n", r.Outside)
		fmt.Fprintf(b, "Current State: %s\n", r.State)
		fmt.Fprintf(b, "Last Event: %s\n", r.LastEvent)
		if r.Address != "" {
			fmt.Fprintf(b, "Address: %s (applied on %s)\n", r.Address, r.AppliedOn)
			fmt.Fprintf(b, "Mask: %s\n", r.Mask)
		}
		if len(r.DNS) > 0 {
			fmt.Fprintf(b, "DNS Primary: %s\n", r.DNS[0])
		}
		if len(r.DNS) > 1 {
			fmt.Fprintf(b, "DNS Secondary: %s\n", r.DNS[1])
		}
		if r.Domain != "" {
			fmt.Fprintf(b, "Default Domain: %s\n", escape.Text(r.Domain))
		}
		if r.State == "IPSEC_ACTIVE" || r.State == "SS_OPEN" {
			fmt.Fprintf(b, "Split Tunnel List: %d\n", len(r.Split))
			for _, s := range r.Split {
				fmt.Fprintf(b, "       Address    : %s\n       Mask       : %s\n       Protocol   : 0x0\n       Source Port: 0\n       Dest Port  : 0\n", s.Address, s.Mask)
			}
		}
		if r.Peer != "" {
			fmt.Fprintf(b, "Current EzVPN Peer: %s\n", r.Peer)
		}
		b.WriteString("\n")
	}
}
