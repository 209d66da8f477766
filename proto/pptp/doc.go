// Package pptp implements the PPTP control plane (RFC 2637): the control
// connection state machine in both of its roles, originator (§3.1.1) and
// receiver (§3.1.2), with the Echo keep-alive (§2.5, §2.6), and the call
// state machines for incoming (§3.2.2) and outgoing (§3.2.3) calls, for a
// PAC and for a PNS. It is pure: the owner opens or accepts the TCP
// connection and passes it in as a Stream, the clock is injected, and the
// package never opens a socket. The GRE data path is not here: the data
// plane carries it, with the IDs and window sizes Call.Stats gives.
//
// # Shape
//
//	Stream --reader goroutine (at most one 220-octet message buffered)--+
//	                                                                    v
//	Stream <--writer goroutine <-- send queue <-- Conn.run: connection and
//	          (while the queue is not empty)      call state, one timer
//
// A Node is one endpoint in one Role. Each control connection has two
// goroutines, and a third while it writes: a reader that cuts messages
// off the stream with wire/pptp.Split and hands them over one at a time
// (so a peer cannot make us buffer more than one message), run, which
// owns the connection's and its calls' state and selects over messages,
// API commands and a single timer, and a writer that is started when a
// message is queued and ends when the queue is empty (an idle
// connection, which a PPTP connection mostly is, has none). Calls have
// no goroutine.
//
// # Roles
//
// A concentrator answering Windows or pptp-linux clients is the PAC
// (RolePAC): the client connects (Node.Serve), and places its call with
// an Outgoing-Call-Request that the PAC answers with an Outgoing-Call-
// Reply, as pptpd does. A PNS (RolePNS) takes Incoming-Call-Requests
// from a PAC (ICRQ/ICRP/ICCN) and may ask it for outgoing calls (OCRQ).
// Either side may open the control connection (Node.Dial); when both do
// at once, the side with the higher IP address keeps its own connection
// (§3.1.3): the winner drops the loser's connection without a word, the
// loser closes it and answers the winner's SCCRQ.
//
// # API
//
//	conn, err := node.Dial(ctx, tcp, local, peer)      // SCCRQ/SCCRP
//	call, err := conn.Call(ctx, pptp.CallParams{...})  // OCRQ (PNS) or ICRQ/ICCN (PAC)
//	call.Close(0)                                      // CCRQ (PNS) or CDN (PAC)
//	conn.Close(wire.StopNone)                          // StopCCRQ
//
// Config.OnCall is offered every call the peer requests and answers with
// Call.Accept or Call.Reject, now or later; OnCallUp and OnCallDown report
// the rest. Errors are *CloseError, carrying the message and codes that
// ended a connection or call.
//
// # Bad input
//
// A framing error (Length out of bounds or not that of its type, a wrong
// Magic Cookie, a management message, a stream ending inside a message)
// closes the TCP connection at once: there is no way to send StopCCRQ on
// a stream whose framing is lost. A message of an unknown type is skipped.
// Messages out of state, from the wrong role or for an unknown call are
// dropped (an OCRQ or ICRQ before establishment is answered with §2.16
// error 1). All of it is counted per reason in NodeStats.
//
// # Logging
//
// Config.Logger gets Debug records only, in the manner of IOS `debug vpdn
// pptp-events` ("PPTP conn 3 198.18.0.2: FSM-CC ... on ..."):
// state transitions and messages carry the attribute debug=pptp-events,
// protocol errors (a message out of state, a timeout, a framing error)
// debug="pptp-events,error", so that `debug vpdn error` shows them too.
package pptp
