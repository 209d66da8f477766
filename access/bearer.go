package access

import (
	"net/netip"

	"github.com/vpdn/vpdn/dataplane"
	"github.com/vpdn/vpdn/transport"
)

// Bearer is a carrier's side of one PPP session: an L2TPv2 session, a PPTP
// call, a PPPoE session, an L2F MID, an L2TPv3 PPP pseudowire. Its frames
// travel through the data plane with the encapsulation of its Data; the
// access layer sends the PPP link's frames there too, so control frames
// and IP share one sequence-number space.
type Bearer interface {
	// Close ends the carrier's call with its code for c (a CDN, a
	// Call-Disconnect-Notify, ...). It must not block and may be called
	// after the carrier ended the call itself (then it does nothing).
	Close(c Cause)
	// Info describes the carrier's side, for AAA requests and show
	// commands. It may be called from any goroutine.
	Info() BearerInfo
}

// BearerInfo describes a bearer.
type BearerInfo struct {
	// Protocol is the carrier's name as show vpdn prints it: "L2TP",
	// "PPTP", "L2F", "L2TPv3", "PPPoE".
	Protocol string
	// LocalID and RemoteID identify the session within its tunnel (L2TP
	// session IDs, PPTP call IDs); TunnelID is the local tunnel's.
	LocalID, RemoteID, TunnelID uint32
	// Peer is the carrier's peer (a LAC, a PNS, a client).
	Peer netip.AddrPort
	// TunnelName is the peer's host name (L2TP Host Name AVP).
	TunnelName string
	// CallingNumber and CalledNumber of the call, when the carrier has
	// them (Calling/Called Number AVPs).
	CallingNumber, CalledNumber string
	// NASPortType is the RFC 2865 §5.41 NAS-Port-Type: 5 Virtual for
	// tunnels, 15 Ethernet for PPPoE.
	NASPortType uint32
}

// DataSpec is how a bearer's frames travel: what the data plane keys the
// session by, its peer, the bind they leave through and the carrier's
// encapsulation.
type DataSpec struct {
	Key   dataplane.Key
	Peer  netip.AddrPort
	Bind  transport.Bind
	Encap dataplane.Encap
	// AddressControl: PPP frames carry the 0xFF03 address and control
	// fields on this medium (L2TP, PPTP; not PPPoE).
	AddressControl bool
	// HoldEarly keeps the PPP frames that arrive before LowerUp (at most
	// a few) for the link to take at LowerUp, instead of starting PPP on
	// them: for a carrier that installs the session before it can send
	// on it (a PPTP client: the peer's LCP may overtake its call reply).
	HoldEarly bool
}
