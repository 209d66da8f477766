// Package loadgen is an L2TP/PPP load generator: it emulates LACs that
// open tunnels to an LNS and, in each, sessions that run PPP as a client
// (LCP, authentication, IPCP), and measures how many come up and how fast
// (issue 6: 100,000 sessions per instance).
//
//	dispatcher ──(rate, in-flight cap)──▶ Dial goroutine (ICRQ/ICRP/ICCN)
//	     │                                    │ session established
//	     │                                    ▼
//	one Node + socket per emulated LAC    ppp.Link (client) on one of a
//	(Config.Socket feeds HandlePacket)    few shared ppp.Runners: LCP,
//	                                      PAP/CHAP/MS-CHAPv2, IPCP
//	                                          │ IPCP opened with an address
//	                                          ▼
//	                                      established: latency recorded,
//	                                      held, then CDN; tunnels StopCCN
//
// Each emulated LAC is its own l2tp.Node on its own socket: the LNS sees
// T distinct peers (address and port), as it would T real LACs, and the
// tunnels share no lock or map on our side. A goroutine exists only for a
// session whose L2TP call is being placed (Dial blocks), so at most
// Config.MaxInFlight of them; once the call is up, the session is a
// struct, a ppp.Link and a timer, driven by the runners.
//
// With Config.Protocol "pptp" (issue 10) the sessions are PC-style PPTP
// clients instead (RFC 2637): each opens a TCP control connection of its
// own to the server, places one Outgoing-Call-Request on it and runs PPP
// (MS-CHAPv2, MPPE per Config.MPPE) over the call's enhanced GRE; the GRE
// of every call shares one raw IP protocol 47 bind, demultiplexed by call
// ID in the data plane (see pptp.go).
//
// Run does no socket I/O itself: Config.Socket opens one (a UDP socket in
// cmd/vpdn, a transport/memnet connection in tests).
package loadgen
