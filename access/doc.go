// Package access is the life of one PPP session, whatever carries it: an
// L2TPv2 session today; a PPTP call, a PPPoE session, an L2F MID or an
// L2TPv3 PPP pseudowire tomorrow. A carrier (a Bearer) brings its frames'
// encapsulation and its way of ending a call; the access layer does the
// rest, in order:
//
//	Open     name the interface (clone a Virtual-Access unit, or the
//	         Virtual-PPP/Dialer the profile names), install the session in
//	         the data plane with the carrier's encapsulation, make the PPP
//	         link (not started)
//	LowerUp  the carrier's call is up: LCP starts (or at the peer's first
//	         frame, whichever comes first)
//	PPP      authentication through aaa, an address leased from a pool,
//	         IPCP up ─▶ the interface (vif) and the data plane attachment,
//	         with the session's own sources only
//	end      once, whatever ended it (a typed Cause): interface down, data
//	         plane out, PPP down (the address goes back to its pool), the
//	         carrier's call cleared with its code for the cause, unit
//	         freed, the owner told
//
// Causes are typed: each carrier maps a Cause to its own codes (RFC 2661
// §4.4.2 CDN result codes, RFC 2637 Call-Disconnect-Notify, RFC 2866 §5.10
// Acct-Terminate-Cause); nothing here reads the text of an error.
//
// Dependencies are injected (Config): the data plane, the interface
// manager, the authenticator and the address pools, the clock. Nothing
// refers back to the daemon.
package access
