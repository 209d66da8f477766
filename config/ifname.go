package config

import (
	"fmt"
	"strings"
)

// IfKind is the type of an interface.
type IfKind uint8

const (
	IfLinux IfKind = iota // a host device written by its Linux name: eth0, veth-lns
	IfEthernet
	IfFastEthernet
	IfGigabitEthernet
	IfTenGigabitEthernet
	IfLoopback
	IfVirtualTemplate
	IfVirtualAccess
	IfVirtualPPP
	IfDialer
	IfTunnel
)

type ifType struct {
	kind  IfKind
	name  string // canonical IOS spelling
	short string // the two-letter form IOS prints in tables
	// abbreviable: any unambiguous prefix is accepted (IOS does the same).
	// Physical types accept only the full name or the short form, so that
	// Linux names such as "eth0" stay Linux names.
	abbreviable bool
	// physical interfaces exist on the host; vpdn never creates them.
	physical bool
	// slash: the number may have the slot/port form.
	slash bool
}

var ifTypes = []ifType{
	{IfEthernet, "Ethernet", "Et", false, true, true},
	{IfFastEthernet, "FastEthernet", "Fa", false, true, true},
	{IfGigabitEthernet, "GigabitEthernet", "Gi", false, true, true},
	{IfTenGigabitEthernet, "TenGigabitEthernet", "Te", false, true, true},
	{IfLoopback, "Loopback", "Lo", true, false, false},
	{IfVirtualTemplate, "Virtual-Template", "Vt", true, false, false},
	{IfVirtualAccess, "Virtual-Access", "Vi", true, false, false},
	{IfVirtualPPP, "Virtual-PPP", "Vp", true, false, false},
	{IfDialer, "Dialer", "Di", true, false, false},
	{IfTunnel, "Tunnel", "Tu", true, false, false},
}

// IfName is a parsed interface name.
type IfName struct {
	Kind IfKind
	// Number is the unit in IOS form: "1", "0/0", "1/0.100"; for Linux
	// names it is empty and Linux holds the device name.
	Number string
	Linux  string
}

// String returns the canonical spelling: "GigabitEthernet0/0", "Virtual-PPP1", "eth0".
func (n IfName) String() string {
	if n.Kind == IfLinux {
		return n.Linux
	}
	return n.typ().name + n.Number
}

// Short returns the abbreviated spelling IOS uses in tables: "Vi3", "Gi0/0".
func (n IfName) Short() string {
	if n.Kind == IfLinux {
		return n.Linux
	}
	return n.typ().short + n.Number
}

// Physical reports whether the interface is a host device (vpdn reads its
// addresses but never creates, deletes or changes it).
func (n IfName) Physical() bool {
	return n.Kind == IfLinux || n.typ().physical
}

func (n IfName) typ() ifType {
	for _, t := range ifTypes {
		if t.kind == n.Kind {
			return t
		}
	}
	return ifType{name: "?"}
}

// Unit returns the interface number for single-number types (Loopback1 -> 1).
func (n IfName) Unit() int {
	u := 0
	for _, c := range n.Number {
		if c < '0' || c > '9' {
			return -1
		}
		u = u*10 + int(c-'0')
		if u > 1<<20 {
			return -1
		}
	}
	if n.Number == "" {
		return -1
	}
	return u
}

// ParseInterfaceName parses an interface name as written in a configuration
// or on the command line. IOS names may be abbreviated where IOS allows it
// and may have spaces before the number and around slashes
// ("FastEthernet 0/0", "Ethernet0 / 0", "virtual-PPP 1", "lo0"). Anything
// that is not an IOS name is taken as a Linux device name, which must be a
// single token that Linux would accept (at most 15 bytes, no '/', no space).
func ParseInterfaceName(s string) (IfName, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return IfName{}, fmt.Errorf("empty interface name")
	}
	compact := strings.ReplaceAll(s, " ", "")
	// Split the alphabetic type prefix from the unit number.
	i := 0
	for i < len(compact) && (isLetter(compact[i]) || compact[i] == '-') {
		i++
	}
	prefix, number := compact[:i], compact[i:]
	if prefix != "" && number != "" && validNumber(number) {
		if t, ok := lookupIfType(prefix); ok {
			if !t.slash && strings.ContainsAny(number, "/") {
				return IfName{}, fmt.Errorf("interface %s takes a single number, not %q", t.name, number)
			}
			return IfName{Kind: t.kind, Number: number}, nil
		}
	}
	// A bare IOS type word ("virtual-PPP", "Loopback") lacks its number.
	if number == "" {
		lp := strings.ToLower(prefix)
		for _, t := range ifTypes {
			full := strings.ToLower(t.name)
			if lp == full || (t.abbreviable && len(lp) >= 4 && strings.HasPrefix(full, lp)) {
				return IfName{}, fmt.Errorf("interface %s needs a number, e.g. %s1", t.name, t.name)
			}
		}
	}
	// A Linux name: one token.
	if strings.ContainsAny(s, " \t/") || len(s) > 15 {
		return IfName{}, fmt.Errorf("%q is neither an IOS interface name nor a Linux device name", s)
	}
	if !isLetter(s[0]) {
		return IfName{}, fmt.Errorf("%q is not a device name; expected a name that starts with a letter", s)
	}
	for j := 0; j < len(s); j++ {
		c := s[j]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@' || c == ':') {
			return IfName{}, fmt.Errorf("%q is not a valid device name", s)
		}
	}
	return IfName{Kind: IfLinux, Linux: s}, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// validNumber accepts "1", "0/0", "1/0/2", "0/0.100".
func validNumber(s string) bool {
	main, sub, hasSub := strings.Cut(s, ".")
	if hasSub && !allDigits(sub) {
		return false
	}
	for _, part := range strings.Split(main, "/") {
		if !allDigits(part) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" || len(s) > 7 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func lookupIfType(prefix string) (ifType, bool) {
	p := strings.ToLower(prefix)
	var cands []ifType
	for _, t := range ifTypes {
		full := strings.ToLower(t.name)
		switch {
		case p == full || p == strings.ToLower(t.short):
			return t, true
		case t.abbreviable && len(p) >= 2 && strings.HasPrefix(full, p):
			cands = append(cands, t)
		}
	}
	if len(cands) == 1 {
		return cands[0], true
	}
	return ifType{}, false
}
