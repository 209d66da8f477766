// Package ppp implements the PPP control plane (RFC 1661): the option
// negotiation automaton shared by LCP, IPCP, IPv6CP and CCP, and the
// authentication protocols. It is pure: frames and the clock are passed in.
//
// # The automaton
//
// fsm.go holds the state transition table of RFC 1661 §4.1 as data
// (transitions), states, events and actions with String methods, and the
// Restart timer and counters of §4.6 (Restart, Max-Terminate,
// Max-Configure, Max-Failure in Config). A protocol plugs in through the
// small layer interface: build our Configure-Request, judge the peer's
// (ack / nak / reject per option), apply an Ack, Nak or Reject, and the
// layer actions tlu/tld/tls/tlf. LCP, IPCP, IPv6CP and CCP are four such
// handlers. Max-Failure turns Naks into Rejects; a loop that outlasts twice
// Max-Failure closes the layer.
//
// # Links
//
// A Link is one PPP session. It owns no goroutine: its owner calls Start,
// Input (one frame, HDLC framing removed), Close and LowerDown, and runs
// the functions it hands to Config.Post — timer expiries (from Config.Clock)
// and AAA results come back that way. aaa.Authenticator calls run on their
// own goroutine so the owner is never blocked. Frames go out through
// Config.Output; events (network protocol Up/Down, link Down with a
// reason, received IPv4/IPv6 datagrams) through Config.Handler. Runner is a
// minimal owner for standalone use and tests: one goroutine serializing
// posted calls.
//
//	r := ppp.NewRunner()
//	l, _ := ppp.NewLink(ppp.Config{Name: "Vi3", Post: r.Post, Output: out, Handler: h, ...})
//	r.Post(l.Start)
//	r.Post(func() { l.Input(frame) })
//
// Once IPCP is open, Input hands IPv4 frames to Handler.Packet and
// SendPacket encapsulates into the buffer's headroom; neither allocates.
// Framing returns the header the data plane should write itself.
//
// # Configuration, as IOS says it
//
//	ppp authentication ms-chap-v2 chap pap [if-needed] [callin]
//	                              Auth.Methods, Auth.IfNeeded (+Preauthenticated), Auth.Callin (+Outgoing)
//	ppp chap hostname / password  Auth.Hostname, Auth.Password (this end's credentials)
//	ppp chap refuse / pap refuse  Auth.Refuse
//	ppp max-configure / max-failure / max-terminate, ppp timeout retry
//	                              MaxConfigure, MaxFailure, MaxTerminate, Restart
//	keepalive 10 5                Keepalive, KeepaliveMisses
//	peer default ip address pool  IPCP.Allocate / IPCP.Release (pool), IPCP.Peer
//	ip address negotiated         IPCP.Client (+ RequestDNS)
//	lcp renegotiation always|on-mismatch
//	                              Renegotiate, with ProxyLCP from the LAC
//	ppp encrypt mppe {auto | 40 | 128} [passive | required] [stateful]
//	                              MPPE (Strengths MPPEAuto, mppe.Opt40, mppe.Opt128;
//	                              Passive, Required, Stateful)
//
// # MPPE
//
// With MPPE configured and MS-CHAP keys from authentication, CCP (RFC 1962)
// starts with IPCP at the Network phase (or waits for the peer, Passive)
// and negotiates option 18 (RFC 3078 §2) to one key strength, the
// strongest both allow, and one mode, stateless if either end asks for it
// (as Windows and pppd); MPPC and every other CCP option are refused.
// When CCP opens in both directions alike, Handler.Up gets an UpEvent for
// wire.ProtoCCP whose Info.MPPE holds the strength, the mode and this
// end's send and receive start keys, for the owner's mppe.Encrypter and
// mppe.Decrypter. Received MPPE packets (wire.ProtoCompressed) then go to
// Handler.Packet, and SendPacket takes them; plain IP is dropped
// (Stats.DropUnencrypted) and refused (ErrEncryptionRequired).
//
// With Required, IPCP opens as usual (as pppd does, the NCPs run side by
// side) but its Info says MPPEPending and no plain datagram passes; the
// link is terminated with CauseEncryption when the keys are missing (PAP,
// CHAP), when the peer refuses MPPE or no strength is common, or when CCP
// has not opened within MaxConfigure × Restart (30 s by default).
// Without Required such failures close CCP and the link stays up in plain.
//
// Reset-Request and Reset-Ack (RFC 1962 §2.2, RFC 3078 §8): the owner
// calls Link.SendResetRequest when its Decrypter returns mppe.ErrResync; a
// Reset-Request from the peer is answered with Reset-Ack and reported to
// a Handler that implements ResetHandler, which calls
// Encrypter.ResetRequested.
//
// # Debugging
//
// With a Config.Logger, negotiation and authentication are logged at Debug
// level in the shape of IOS `debug ppp negotiation` and `debug ppp
// authentication` ("Vi3 LCP: O CONFREQ [Closed] id 1 len 14"), each record
// tagged debug="ppp negotiation" or debug="ppp authentication".
//
// # Not yet
//
// No CCP compression (MPPC, Deflate): without MPPE configured CCP rejects
// every option; MS-CHAPv1 offers no retry and derives no MPPE keys on the
// peer side; the Link does not apply ACCM itself (async owners
// encode with wire/ppp.AppendHDLC and Info.PeerACCM); proxy authentication
// (L2TP Proxy Authen AVPs) is left to the owner through Preauthenticated.
package ppp
