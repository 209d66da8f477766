// Package dataplane moves packets between tunnels and interfaces, whatever
// the tunnel: it is the only data path of vpdn. It never imports the
// control plane; the control plane (the access layer and the carriers)
// installs and removes sessions through a narrow API.
//
// A packet's path, in four stages:
//
//	receive (underlay ─▶ interface), on the bind's reader goroutine:
//
//	Bind.ServeBatch ─▶ Port ─▶ demux: Decoder.Decode ─┬─▶ control ─▶ the carrier's control plane
//	                                                  └─▶ Key ─▶ session table ─▶ peer check
//	     ─▶ Encap.Accept (sequence numbers) ─▶ payload stage:
//	            PPP:      [MPPE 0x00FD ─▶ decrypt in place (mppe.go)] ─▶
//	                      IPv4/IPv6 ─▶ source check ─▶ [MSS clamp] ─▶ Device.Write (GRO: offload.go)
//	                      ICMPv6 RS/RA, DHCPv6      ─▶ Session.OnLink6 (the access layer's ND and DHCPv6-PD)
//	                      LCP, IPCP, auth, ...      ─▶ Session.OnFrame (the access layer's PPP link)
//	            Ethernet: ─▶ Device.Write (a TAP)
//	            IP:       ─▶ source check ─▶ Device.Write
//
//	transmit (interface ─▶ underlay), on a poller worker (no goroutine per device):
//
//	Device readable ─▶ TryRead into buf[Headroom:] ─▶ session: the device's own, or by
//	destination address on the shared device ─▶ [MTU, MSS clamp] ─▶ payload header (PPP)
//	written into the headroom [MPPE: encrypted in place behind PPP 0x00FD]
//	─▶ Encap.Put writes the carrier's header in front
//	─▶ Bind.WriteTo (a TCP super-packet: a train of segments, one UDP_SEGMENT send)
//
//	control frames (the PPP link's LCP, IPCP, ...) take the same encapsulation
//	through Session.WriteFrame: one sequence-number space per session; the
//	access layer's Router Advertisements the IP path (Session.SendControlIP).
//
// A carrier (L2TPv2, and PPTP's enhanced GRE in pptp.go; L2TPv3, GRE and
// PPPoE later)
// brings a Decoder for the datagrams of its bind and an Encap per session;
// everything else is shared. ESP tunnel mode (esp.go) is the crypto stage
// of crypto maps: a crypto TUN read and written by an ESP stage with its
// SPD and its SAs by SPI (Key kind KindESP), over raw IP 50 or UDP 4500;
// transport mode (L2TP/IPsec) will be an ESP-protected bind under a
// carrier's Port.
//
// Neither path allocates per packet; bad packets are dropped and counted
// by reason (Drops), and per session where the session is known.
package dataplane
