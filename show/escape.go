package show

import "github.com/vpdn/vpdn/internal/escape"

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
	t.LocalName, t.RemoteName, t.RemoteVendor = escape.Text(t.LocalName), escape.Text(t.RemoteName), escape.Text(t.RemoteVendor)
	t.Group = escape.Text(t.Group)
	return t
}

func (s Session) escaped() Session {
	s.RemoteName, s.User = escape.Text(s.RemoteName), escape.Text(s.User)
	s.CallingNumber, s.CalledNumber = escape.Text(s.CallingNumber), escape.Text(s.CalledNumber)
	return s
}

func escapedUsers(us []User) []User {
	out := make([]User, len(us))
	for i, u := range us {
		u.User = escape.Text(u.User)
		out[i] = u
	}
	return out
}
