package aaa

import (
	"fmt"
	"net/netip"
	"strings"
)

// User is one entry of the local user database: the `username` command,
// plus the per-user authorization a configuration may attach to it.
type User struct {
	Name string
	// Password in clear text; type 7 passwords are decoded on parsing.
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

// ParseUsername parses the IOS command
//
//	username NAME password [0|7] PASSWORD
//
// The password is the rest of the line, as IOS takes it; type 0 (or no
// type) is clear text, type 7 the reversible Cisco encoding.
func ParseUsername(line string) (User, error) {
	var u User
	rest, ok := cutWord(strings.TrimSpace(line), "username")
	if !ok {
		return u, fmt.Errorf("aaa: %q: not a username command", line)
	}
	name, rest := nextWord(rest)
	if name == "" {
		return u, fmt.Errorf("aaa: %q: missing user name", line)
	}
	if len(name) > maxNameLen {
		return u, fmt.Errorf("aaa: user name longer than %d octets", maxNameLen)
	}
	u.Name = name
	rest, ok = cutWord(rest, "password")
	if !ok {
		return u, fmt.Errorf("aaa: username %s: expected \"password\"", name)
	}
	typ, after := nextWord(rest)
	encoded := rest
	switch typ {
	case "0":
		encoded = after
	case "7":
		p, err := DecodeType7(strings.TrimSpace(after))
		if err != nil {
			return u, fmt.Errorf("aaa: username %s: %w", name, err)
		}
		u.Password = p
		return u, nil
	}
	if encoded == "" {
		return u, fmt.Errorf("aaa: username %s: missing password", name)
	}
	u.Password = encoded
	return u, nil
}

// cutWord removes the leading word w (and the spaces after it) from s.
func cutWord(s, w string) (string, bool) {
	first, rest := nextWord(s)
	if first != w {
		return s, false
	}
	return rest, true
}

// nextWord splits off the first space-separated word of s; the rest has its
// leading spaces removed but keeps its inner and trailing text.
func nextWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}
