package show

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s as it may be written to a terminal or a log line:
// printable UTF-8 is kept, a backslash is doubled, and every other octet —
// control characters (ESC, newline, carriage return), DEL, the C1 range
// and invalid UTF-8 — becomes \n, \r, \t or \xNN. A name a peer chose
// (PAP Peer-ID, CHAP Name, RFC 1334 §2.2.1, RFC 1994 §4.1) can then not
// move the cursor, clear the screen or start a fake line. Package aaa
// has the same rule (aaa.Printable); show may import nothing of ours.
func Escape(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || r == '\\' || !strconv.IsPrint(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case !strconv.IsPrint(r):
			for j := range n {
				c := s[i+j]
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escaped returns v with every string a peer could choose escaped: host
// and vendor names (L2TP Host Name and Vendor Name AVPs, RFC 2661 §4.4.3;
// PPTP Host Name and Vendor Strings, RFC 2637 §2.1), calling and called
// numbers (and their sub-addresses), user names. Text renderers write the
// escaped copy; JSON keeps the raw strings, which encoding/json escapes.
func (v VPDN) escaped() VPDN {
	out := VPDN{Tunnels: make([]Tunnel, len(v.Tunnels)), Sessions: make([]Session, len(v.Sessions))}
	for i, t := range v.Tunnels {
		out.Tunnels[i] = t.escaped()
	}
	for i, s := range v.Sessions {
		out.Sessions[i] = s.escaped()
	}
	return out
}

func (t Tunnel) escaped() Tunnel {
	t.LocalName, t.RemoteName, t.RemoteVendor = Escape(t.LocalName), Escape(t.RemoteName), Escape(t.RemoteVendor)
	t.Group = Escape(t.Group)
	return t
}

func (s Session) escaped() Session {
	s.RemoteName, s.User = Escape(s.RemoteName), Escape(s.User)
	s.CallingNumber, s.CalledNumber = Escape(s.CallingNumber), Escape(s.CalledNumber)
	return s
}

func escapedUsers(us []User) []User {
	out := make([]User, len(us))
	for i, u := range us {
		u.User = Escape(u.User)
		out[i] = u
	}
	return out
}
