// Package l2tp implements the L2TP control planes: L2TPv3's (RFC 3931,
// V3Node, see v3node.go) on the machinery described here, and L2TPv2's
// (RFC 2661): reliable
// delivery of control messages (§5.8, Appendix A), the control connection
// state machine (§7.2) and the incoming and outgoing call state machines
// (§7.3, §7.4), for both the LAC and the LNS role. It is pure: the network
// and the clock are passed in, and it never opens a socket.
//
// # Shape
//
//	bind (transport, memnet) --control messages--> Node.HandlePacket
//	   ^                                                |
//	   |                                                v
//	   +---- Conn.WriteTo <--- Tunnel goroutine (one per tunnel: state,
//	                           timers, reliable delivery, its sessions)
//
// A Node is one endpoint on one socket. The owner reads the socket and
// hands every control message to Node.HandlePacket; the node sends through
// the Conn given in Config (anything with WriteTo(b, netip.AddrPort)).
// Each tunnel has one goroutine that owns its state and its sessions'
// state and selects over received control messages, API commands and a
// single timer. Sessions have no goroutine: 100,000 of them cost a map
// entry and a small struct each.
//
// L2TPv2 and L2TPv3 share one driver: the control connection machine
// (ccn.go), the node's connection table (conntable.go), the session core
// (sess.go), reliable delivery and the goroutine loop; Tunnel, Node and
// Session, and V3Conn, V3Node and Pseudowire, add their version's
// messages and rules (ARCHITECTURE.md, "proto/l2tp: one driver for v2
// and v3").
//
// # LAC: placing a call
//
//	s, err := node.Dial(ctx, lns, l2tp.TunnelParams{LocalName: "LAC", Secret: pw},
//		l2tp.CallParams{CallingNumber: "5551234", Proxy: proxyLCPAndAuth})
//
// Dial reuses an established (or establishing) tunnel to the same peer
// with the same TunnelParams, or opens one (SCCRQ/SCCRP/SCCCN), then runs
// ICRQ/ICRP/ICCN. DialOutgoing is the LNS asking a LAC to place a call
// (OCRQ/OCRP/OCCN). A failure is a *CloseError carrying the StopCCN or CDN
// result code (§4.4.2), or ErrSetupTimeout / ErrPeerUnreachable.
//
// # LNS: answering
//
// Config.Incoming maps the SCCRQ's Host Name to TunnelParams (the
// vpdn-group "terminate-from hostname"), or refuses (StopCCN result 4).
// Config.OnCall is offered each ICRQ (or OCRQ on a LAC) and answers with
// Call.Accept or Call.Reject(result) — a CDN. Config.OnSessionUp reports
// the session once ICCN arrived, with the proxy LCP and authentication
// AVPs in Session.Info().Call.Proxy.
//
// # Data
//
// The data messages (T=0) are not this package's: the data plane
// (package dataplane) demultiplexes them by tunnel and session ID and
// carries the PPP frames; a datagram with T=0 that reaches
// Node.HandlePacket is counted (NodeStats.DataMessages) and dropped.
// SessionInfo gives the IDs and the peer the data plane needs, and
// CallParams.Ready lets a LAC install the session there before its ICCN,
// so that none of the LNS's first frames is lost.
//
// # Teardown and state
//
// Session.Close sends CDN, Tunnel.Close sends StopCCN and holds the tunnel
// for a full retransmission cycle (§5.7) before it is gone; Node.Close
// does that for every tunnel. Tunnel.Stats, Session.Stats and
// Node.Snapshot return plain structs for the show commands.
//
// # Logging
//
// With a Logger at Debug level, tunnels and sessions log the lines of IOS
// `debug vpdn l2x-events` ("L2TP tnl 08287:00003073: FSM-CC Idle->Proc-SCCRQ",
// "L2TP 00005:08287:0000754C: FSM-Sn ev Rx-ICRQ"), with the attribute
// debug=l2x-events, and protocol errors with debug=l2x-errors. In the
// tunnel prefix the first field is our tunnel ID (decimal) and the second
// the peer's (hex); in the session prefix, our session ID, our tunnel ID
// and the peer's session ID.
package l2tp
