package dataplane

import (
	"net/netip"
)

// Sources is the set of source addresses a session owns: the address its
// network layer negotiated and the networks routed to it (framed routes,
// `ip route ... Virtual-AccessN`). An IP packet the session sends from any
// other source is dropped, so one subscriber cannot send as another, or as
// the server itself, and receive the replies meant for them.
type Sources struct {
	addrs    []netip.Addr
	prefixes []netip.Prefix
}

// NewSources returns the set of the given addresses and prefixes. Invalid
// entries are ignored.
func NewSources(addrs []netip.Addr, prefixes []netip.Prefix) *Sources {
	s := &Sources{}
	for _, a := range addrs {
		if a.IsValid() {
			s.addrs = append(s.addrs, a.Unmap())
		}
	}
	for _, p := range prefixes {
		if p.IsValid() {
			s.prefixes = append(s.prefixes, p.Masked())
		}
	}
	return s
}

// Allows reports whether the IP packet pkt has a source in the set. A
// packet too short to have one is not allowed. It does not allocate.
func (s *Sources) Allows(pkt []byte) bool {
	var src netip.Addr
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		src = netip.AddrFrom4([4]byte(pkt[12:16]))
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		src = netip.AddrFrom16([16]byte(pkt[8:24]))
	default:
		return false
	}
	for _, a := range s.addrs {
		if a == src {
			return true
		}
	}
	for _, p := range s.prefixes {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Addrs and Prefixes return the set's members (for show commands).
func (s *Sources) Addrs() []netip.Addr      { return s.addrs }
func (s *Sources) Prefixes() []netip.Prefix { return s.prefixes }
