package config

import "net/netip"

// RADIUS holds the RADIUS client commands: servers, server groups, the
// global defaults and the source interface. It is nil when the
// configuration has none.
type RADIUS struct {
	// Servers are `radius server NAME` sections.
	Servers []*RadiusServer `json:"servers"`
	// Hosts are `radius-server host A ...` lines (no name).
	Hosts []*RadiusServer `json:"hosts"`
	// Key, Timeout (seconds), Retransmit and Deadtime (minutes) are the
	// radius-server defaults; zero values are unset (IOS: no key, 5 s, 3,
	// 0). Retransmit is -1 when unset, as 0 is a setting.
	Key        Secret `json:"key,omitzero"`
	Timeout    int    `json:"timeout,omitempty"`
	Retransmit int    `json:"retransmit"`
	Deadtime   int    `json:"deadtime,omitempty"`
	// Groups are `aaa group server radius NAME` sections.
	Groups []*RadiusGroup `json:"groups"`
	// SourceInterface is `ip radius source-interface IF`.
	SourceInterface *IfName `json:"source_interface,omitempty"`
	SourceLine      int     `json:"source_line,omitempty"`
	// DynamicAuthor is `aaa server radius dynamic-author`: the RFC 5176
	// server of Disconnect and CoA requests.
	DynamicAuthor *DynamicAuthor `json:"dynamic_author,omitempty"`
	// AccountingUpdate is `aaa accounting update periodic N` (minutes):
	// the Interim-Update interval of sessions without an
	// Acct-Interim-Interval.
	AccountingUpdate int `json:"accounting_update,omitempty"`
	// AccountingNewInfo is `aaa accounting update newinfo`: an
	// Interim-Update when a session learns what its Start could not
	// tell (its IPv6 prefix, IPv6CP opening after IPCP).
	AccountingNewInfo bool `json:"accounting_newinfo,omitempty"`
}

// RadiusServer is a RADIUS server: `radius server NAME` (Name set),
// `radius-server host` or a group's `server-private` (Name empty).
type RadiusServer struct {
	Name     string     `json:"name,omitempty"`
	Line     int        `json:"line,omitempty"`
	Addr     netip.Addr `json:"addr,omitzero"`
	AuthPort int        `json:"auth_port,omitempty"` // 0: 1645 in IOS; vpdn: 1812
	AcctPort int        `json:"acct_port,omitempty"` // 0: 1646 in IOS; vpdn: 1813
	Key      Secret     `json:"key,omitzero"`
	// Timeout in seconds (0: the radius-server default); Retransmit -1:
	// the default.
	Timeout    int `json:"timeout,omitempty"`
	Retransmit int `json:"retransmit"`
}

// RadiusGroup is `aaa group server radius NAME`.
type RadiusGroup struct {
	Name    string               `json:"name"`
	Line    int                  `json:"line,omitempty"`
	Members []*RadiusGroupMember `json:"members"`
}

// RadiusGroupMember is one server of a group: `server name S` (Server),
// `server A [auth-port P] [acct-port P]` naming a radius-server host
// (Host, with its ports; 0: any), or `server-private ...` (Private).
type RadiusGroupMember struct {
	Server   string        `json:"server,omitempty"`
	Host     netip.Addr    `json:"host,omitzero"`
	AuthPort int           `json:"auth_port,omitempty"`
	AcctPort int           `json:"acct_port,omitempty"`
	Private  *RadiusServer `json:"private,omitempty"`
	Line     int           `json:"line,omitempty"`
}

// DynamicAuthor is `aaa server radius dynamic-author` with its `client A
// server-key K` and `port N` lines.
type DynamicAuthor struct {
	Line    int                    `json:"line,omitempty"`
	Clients []*DynamicAuthorClient `json:"clients"`
	Port    int                    `json:"port,omitempty"` // 0: 3799
	// Key is the mode's `server-key`, for clients without their own.
	Key Secret `json:"key,omitzero"`
}

// DynamicAuthorClient is `client A [server-key [0|7] K]`.
type DynamicAuthorClient struct {
	Addr netip.Addr `json:"addr"`
	Key  Secret     `json:"key,omitzero"`
	Line int        `json:"line,omitempty"`
}

// Radius returns the RADIUS section, making it.
func (c *Config) Radius() *RADIUS {
	if c.AAA.RADIUS == nil {
		c.AAA.RADIUS = &RADIUS{Retransmit: -1}
	}
	return c.AAA.RADIUS
}

// RadiusServerByName returns the `radius server` named name.
func (r *RADIUS) RadiusServerByName(name string) *RadiusServer {
	for _, s := range r.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// HostByAddr returns the radius-server host at a (with ports auth and acct
// when not 0).
func (r *RADIUS) HostByAddr(a netip.Addr, auth, acct int) *RadiusServer {
	for _, s := range r.Hosts {
		if s.Addr == a && (auth == 0 || auth == s.AuthPort || (s.AuthPort == 0 && auth == 1812)) &&
			(acct == 0 || acct == s.AcctPort || (s.AcctPort == 0 && acct == 1813)) {
			return s
		}
	}
	return nil
}

// GroupByName returns the `aaa group server radius` named name.
func (r *RADIUS) GroupByName(name string) *RadiusGroup {
	for _, g := range r.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}
