// Package radius is the RADIUS client of vpdn (RFC 2865, RFC 2869,
// RFC 3579): server groups with failover and deadtime, and the `group
// radius` / `group NAME` backend of the aaa method lists.
//
// Layout:
//
//	Client    the servers of the configuration, each with one socket per
//	          port (authentication; accounting later) and 256 request
//	          identifiers; Exchange is the one request/retransmit engine
//	          that authentication, accounting and dynamic authorization
//	          share.
//	Group     an aaa.Authenticator over an ordered list of servers.
//	NAS       the NAS identity attributes every request carries.
//
// The packets are layeh.com/radius's; that library neither computes nor
// checks Message-Authenticator, so this package does (msgauth.go): it is
// the first attribute of every Access-Request, and every Access-Accept,
// -Reject and -Challenge must carry a valid one or it is dropped
// (BlastRADIUS, CVE-2024-3596).
//
// Sockets come from an injected Listen function (the kernel's UDP, or
// transport/memnet in tests); time from an injected Clock.
package radius
