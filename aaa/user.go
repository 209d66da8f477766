package aaa

import "net/netip"

// User is one entry of the local user database: the `username` command,
// plus the per-user authorization a configuration may attach to it. The
// daemon builds it from the typed model of package config, which parses
// the command.
type User struct {
	Name string
	// Password in clear text; the daemon decodes a `password 7` secret
	// with type7.Decode before building the User.
	Password string
	// Address is a static peer address; zero if none.
	Address netip.Addr
	// Pool names the `ip local pool` to allocate from; empty for the
	// domain's or the interface's pool.
	Pool string
	// Authz holds further attributes (routes, DNS, NBNS, timeouts).
	// Its Username, Domain, Address and Pool fields are ignored.
	Authz Authorization
}

// maxNameLen bounds user and domain names; PPP's Name fields are at most a
// packet, RADIUS User-Name at most 253 octets (RFC 2865 §5.1).
const maxNameLen = 253
